//! `switchyard import crs` end to end: a real claude-relay-service installation (the fixture
//! in `tests/fixtures/crs-redis`, restored into a real `redis-server` with its own
//! `restore.py`) imported by the real binary into a running switchyard on the embedded store
//! and on Redis; then, over real HTTP, every `cr_` key of the fixture behaves as the
//! reference says it does, imported accounts serve on the mock upstream, usage totals carry
//! over; a second run changes nothing, a dry run and a wrong encryption key write nothing,
//! and the reference's Redis is byte for byte what it was.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "support/redis_server.rs"]
mod redis_server;
mod support;

use redis_server::RedisServer;
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::process::{Command, Stdio};
use std::sync::LazyLock;
use support::*;
use switchyard::settings::{StoreBackend, StoreSettings};
use switchyard::startup::Backends;
use switchyard::store::open_with_env_key;

const BIN: &str = env!("CARGO_BIN_EXE_switchyard");
const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/crs-redis");
const KEY_HEX: &str = "5e0c2b9a7d3f4186b2c4e6a8f0d1b3c5e7f9a2b4c6d8e0f1a3b5c7d9e1f2a4b6";

/// The reference's Redis, restored once from the fixture; every test only reads it.
static CRS: LazyLock<RedisServer> = LazyLock::new(|| {
    let server = RedisServer::launch();
    let out = Command::new("python3")
        .arg(format!("{FIXTURE}/restore.py"))
        .arg(format!("{FIXTURE}/redis-dump.json"))
        .args(["--host", "127.0.0.1", "--port", &server.port().to_string()])
        .args(["--flush", "--ttl", "none"])
        .output()
        .expect("python3 runs restore.py");
    assert!(
        out.status.success(),
        "restore.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    server
});

/// Where switchyard's own Redis backend lives (never the reference's server).
static STORE: LazyLock<RedisServer> = LazyLock::new(RedisServer::launch);

static META: LazyLock<Value> = LazyLock::new(|| {
    serde_json::from_str(&std::fs::read_to_string(format!("{FIXTURE}/meta.json")).unwrap()).unwrap()
});

fn encryption_key() -> &'static str {
    META["crs_env"]["ENCRYPTION_KEY"].as_str().unwrap()
}

fn api_key(slug: &str) -> (&'static str, &'static str) {
    let k = META["api_keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["slug"] == slug)
        .unwrap();
    (k["id"].as_str().unwrap(), k["key"].as_str().unwrap())
}

fn account(name: &str) -> &'static Value {
    META["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
        .unwrap()
}

/// DBSIZE and a SHA-256 over every key's name, `DUMP` and TTL: any write shows.
async fn crs_digest() -> (usize, String) {
    let client = redis::Client::open(CRS.url()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let size: usize = redis::cmd("DBSIZE").query_async(&mut c).await.unwrap();
    let mut names: Vec<String> = redis::cmd("KEYS").arg("*").query_async(&mut c).await.unwrap();
    names.sort();
    let mut h = Sha256::new();
    for n in &names {
        let dumped: Vec<u8> = redis::cmd("DUMP").arg(n).query_async(&mut c).await.unwrap();
        let ttl: i64 = redis::cmd("PTTL").arg(n).query_async(&mut c).await.unwrap();
        h.update(n.as_bytes());
        h.update(&dumped);
        h.update(ttl.to_le_bytes());
    }
    (size, hex::encode(h.finalize()))
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// `switchyard import crs …` against `app`, off the test's thread (the app's actors live on it).
async fn import(app: &TestApp, redis_url: &str, key: &str, extra: &[&str]) -> Run {
    let mut args: Vec<String> = [
        "import",
        "crs",
        "--redis-url",
        redis_url,
        "--encryption-key",
        key,
        "--url",
        &app.base,
        "--token",
        ADMIN_TOKEN,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    actix_web::rt::task::spawn_blocking(move || {
        let out = Command::new(BIN)
            .args(&args)
            .env_remove("SWITCHYARD_URL")
            .env_remove("SWITCHYARD_ADMIN_TOKEN")
            .env_remove("CRS_ENCRYPTION_KEY")
            .current_dir(std::env::temp_dir())
            .stdin(Stdio::null())
            .output()
            .expect("the binary runs");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    })
    .await
    .unwrap()
}

async fn import_json(app: &TestApp, extra: &[&str]) -> Value {
    let mut args = vec!["--json"];
    args.extend_from_slice(extra);
    let run = import(app, &CRS.url(), encryption_key(), &args).await;
    assert_eq!(run.code, 0, "import failed: {}", run.stderr);
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", run.stdout))
}

fn summary(report: &Value, outcome: &str) -> u64 {
    report["summary"][outcome].as_u64().unwrap_or(0)
}

async fn embedded() -> Backends {
    let dir = tempfile::Builder::new()
        .prefix("crs-import-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
        .keep();
    let settings = StoreSettings {
        backend: StoreBackend::Embedded,
        data_dir: dir,
        ..StoreSettings::default()
    };
    open_with_env_key(&settings, Some(KEY_HEX)).await.unwrap()
}

async fn on_redis() -> Backends {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let settings = StoreSettings {
        backend: StoreBackend::Redis,
        redis_url: STORE.url(),
        redis_prefix: format!(
            "crs{}-{}:",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ),
        ..StoreSettings::default()
    };
    open_with_env_key(&settings, Some(KEY_HEX)).await.unwrap()
}

async fn usage(app: &TestApp, key: &str) -> (u16, Value) {
    let resp = app
        .http
        .get(app.url("/v1/usage"))
        .header("x-api-key", key)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn messages(app: &TestApp, key: &str, model: &str, user_agent: &str) -> (u16, Value) {
    let mut body = claude_body(false);
    body["model"] = json!(model);
    let resp = app
        .http
        .post(app.url("/v1/messages"))
        .header("x-api-key", key)
        .header("anthropic-version", "2023-06-01")
        .header("user-agent", user_agent)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// A POST of `body` to `path` with `key`; the status and the JSON answer.
async fn post(app: &TestApp, path: &str, key: &str, body: Value) -> (u16, Value) {
    let resp = app
        .http
        .post(app.url(path))
        .header("x-api-key", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

const GEMINI: &str = "/v1beta/models/gemini-2.5-flash:generateContent";

fn gemini_body() -> Value {
    json!({"contents": [{"role": "user", "parts": [{"text": "Hello"}]}]})
}

fn responses_body() -> Value {
    json!({"model": "gpt-5", "input": "Say hi"})
}

/// The outcome of the report item named `name`.
fn outcome_of(report: &Value, name: &str) -> String {
    report["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|i| i["name"] == name)
        .and_then(|i| i["outcome"].as_str())
        .unwrap_or("absent")
        .to_owned()
}

/// How many upstream requests carried `credential`.
fn served(app: &TestApp, credential: &str) -> usize {
    app.mock.requests_for(credential).len()
}

const CLAUDE_CODE: &str = "claude-cli/2.1.197 (external, cli)";

/// The whole story on one backend.
async fn imports_and_serves(backends: Backends) {
    let before = crs_digest().await;
    let app = spawn_app_on(backends, |_| {}).await;

    // First run: 9 accounts (CCR and Azure OpenAI among them), 3 groups, 9 keys and the key
    // verifier; 2 kinds (bedrock, droid) and the droid group are not served here.
    let first = import_json(&app, &[]).await;
    // Per kind, so the kinds other engineers add change only their own lines.
    assert_eq!(outcome_of(&first, "A-bedrock"), "imported", "{first:#}");
    assert_eq!(summary(&first, "imported"), 23, "{first:#}");
    assert_eq!(
        summary(&first, "updated") + summary(&first, "unchanged"),
        0,
        "{first:#}"
    );
    assert_eq!(summary(&first, "skipped"), 3, "{first:#}");
    for item in first["items"].as_array().unwrap() {
        if item["outcome"] == "skipped" {
            assert_eq!(item["reason"], "kind not served by this switchyard", "{item}");
        }
    }
    let report_text = first.to_string();
    for secret in [
        encryption_key(),
        api_key("limited").1,
        "fakeA/fcfa3f79937edabba6f293f97c3e357789f9",
    ] {
        assert!(!report_text.contains(secret), "a secret in the report");
    }

    // Second run: nothing new, nothing counted twice.
    let second = import_json(&app, &[]).await;
    assert_eq!(summary(&second, "unchanged"), 23, "{second:#}");
    assert_eq!(
        summary(&second, "imported") + summary(&second, "updated"),
        0,
        "{second:#}"
    );
    let table = import(&app, &CRS.url(), encryption_key(), &[]).await;
    assert_eq!(table.code, 0, "{}", table.stderr);
    assert!(table.stdout.contains("Nothing new"), "{}", table.stdout);

    // Usage totals of the `limited` key, and the lifetime cost its limits count.
    let (status, u) = usage(&app, api_key("limited").1).await;
    assert_eq!(status, 200, "{u}");
    assert_eq!(u["requests"], 4, "{u}");
    assert_eq!(u["input_tokens"], 2967, "{u}");
    assert_eq!(u["output_tokens"], 49, "{u}");
    assert_eq!(u["spent"]["total_cost_usd"], "0.004256", "{u}");
    assert_eq!(u["limits"]["total_cost_usd"], "100.000000", "{u}");
    assert_eq!(u["limits"]["concurrency"], 2, "{u}");
    assert_eq!(u["window"]["limits"]["requests"], 100, "{u}");
    assert_eq!(u["remaining"]["total_cost_usd"], "99.995744", "{u}");

    // Per account and per model too.
    let (_, by_account) = app
        .admin(Method::GET, "/admin/usage?by=account&period=total", None)
        .await;
    let rows = by_account["rows"].as_array().unwrap();
    let requests_of =
        |rows: &[Value], id: &str| rows.iter().find(|r| r["id"] == id).map(|r| r["requests"].clone());
    assert_eq!(
        requests_of(rows, account("A-claude-console")["id"].as_str().unwrap()),
        Some(json!(3))
    );
    assert_eq!(
        requests_of(rows, account("A-openai-responses")["id"].as_str().unwrap()),
        Some(json!(1))
    );
    let (_, by_model) = app
        .admin(Method::GET, "/admin/usage?by=model&period=total", None)
        .await;
    let rows = by_model["rows"].as_array().unwrap();
    assert_eq!(
        requests_of(rows, "claude-sonnet-4-20250514"),
        Some(json!(2)),
        "{by_model}"
    );
    assert_eq!(requests_of(rows, "gpt-5"), Some(json!(1)), "{by_model}");

    // Every key as the reference answers it.
    for slug in [
        "unlimited",
        "limited",
        "restricted",
        "bound",
        "grouped",
        "activation",
    ] {
        let (status, v) = usage(&app, api_key(slug).1).await;
        assert_eq!(status, 200, "{slug}: {v}");
    }
    for (slug, message) in [
        ("expired", "API key has expired"),
        ("disabled", "API key is disabled"),
        ("deleted", "API key not found"),
    ] {
        let (status, v) = usage(&app, api_key(slug).1).await;
        assert_eq!(status, 401, "{slug}: {v}");
        assert!(v.to_string().contains(message), "{slug}: {v}");
    }
    let (_, deleted) = app
        .admin(
            Method::GET,
            &format!("/admin/keys/{}", api_key("deleted").0),
            None,
        )
        .await;
    assert!(
        deleted["deleted_at"].is_i64() && deleted["active"] == false,
        "{deleted}"
    );
    let (status, _) = usage(&app, &format!("cr_{}", "0".repeat(64))).await;
    assert_eq!(status, 401, "an unknown key stays unknown");

    // The API-key accounts pointed at the mock (the fixture's point at the reference's mock);
    // the console account also shared, so unbound keys have an account to use.
    let console = account("A-claude-console")["id"].as_str().unwrap();
    for name in ["A-claude-console", "A-gemini-api", "A-openai-responses"] {
        let id = account(name)["id"].as_str().unwrap();
        let mut patch = json!({"base_url": app.mock.url()});
        if id == console {
            patch["sharing"] = json!("shared");
        }
        let (status, v) = app
            .admin(Method::PATCH, &format!("/admin/accounts/{id}"), Some(patch))
            .await;
        assert_eq!(status, 200, "{v}");
    }

    // `limited` is bound to the console account: served by it, with its decrypted API key.
    let (status, v) = messages(&app, api_key("limited").1, "claude-sonnet-4-20250514", "curl/8").await;
    assert_eq!(status, 200, "{v}");
    let console_key = account("A-claude-console")["secrets_entered"]["apiKey"]
        .as_str()
        .unwrap();
    assert_eq!(app.mock.requests_for(console_key).len(), 1);

    // `bound` is bound to the dedicated OAuth account: served by it, with its access token.
    let (status, v) = messages(&app, api_key("bound").1, "claude-sonnet-4-20250514", "curl/8").await;
    assert_eq!(status, 200, "{v}");
    let token = account("A-claude-oauth-dedicated")["secrets_entered"]["claudeAiOauth"]["accessToken"]
        .as_str()
        .unwrap();
    let seen = app.mock.requests_for(token);
    assert_eq!(seen.len(), 1, "the dedicated account served the bound key");
    assert_client_key_withheld(
        &seen[0],
        api_key("bound").1,
        ("authorization", &format!("Bearer {token}")),
    );

    // `bound`'s gemini group: its OAuth account goes first (priority 30), with its project.
    let gemini_token = account("A-gemini-oauth")["secrets_entered"]["geminiOauth"]["access_token"]
        .as_str()
        .unwrap();
    let (status, v) = post(&app, GEMINI, api_key("bound").1, gemini_body()).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        served(&app, gemini_token),
        1,
        "the gemini OAuth account served it"
    );
    // `grouped`: gemini bound to the gemini-api account (`api:<id>`).
    let (status, v) = post(&app, GEMINI, api_key("grouped").1, gemini_body()).await;
    assert_eq!(status, 200, "{v}");
    let gemini_key = account("A-gemini-api")["secrets_entered"]["apiKey"]
        .as_str()
        .unwrap();
    assert_eq!(served(&app, gemini_key), 1, "the gemini-api account served it");
    // `limited`'s openai binding (`responses:<id>`).
    let (status, v) = post(&app, "/v1/responses", api_key("limited").1, responses_body()).await;
    assert_eq!(status, 200, "{v}");
    let responses_key = account("A-openai-responses")["secrets_entered"]["apiKey"]
        .as_str()
        .unwrap();
    assert_eq!(served(&app, responses_key), 1, "the responses account served it");
    // `bound`'s openai group with the responses account held back: the Codex OAuth account.
    let responses_id = account("A-openai-responses")["id"].as_str().unwrap();
    let (status, v) = app
        .admin(
            Method::PATCH,
            &format!("/admin/accounts/{responses_id}"),
            Some(json!({"schedulable": false})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = post(&app, "/v1/responses", api_key("bound").1, responses_body()).await;
    assert_eq!(status, 200, "{v}");
    let codex_token = account("A-openai-oauth")["secrets_entered"]["openaiOauth"]["accessToken"]
        .as_str()
        .unwrap();
    assert_eq!(served(&app, codex_token), 1, "the Codex OAuth account served it");

    // `restricted`: Claude Code only, and its blacklisted models refused.
    let restricted = api_key("restricted").1;
    let (status, v) = messages(&app, restricted, "claude-sonnet-4-20250514", "curl/8").await;
    assert_eq!(status, 403, "another client: {v}");
    let (status, v) = messages(&app, restricted, "claude-opus-4-1-20250805", CLAUDE_CODE).await;
    assert_eq!(status, 403, "a blacklisted model: {v}");
    let (status, v) = messages(&app, restricted, "claude-sonnet-4-20250514", CLAUDE_CODE).await;
    assert_eq!(status, 200, "Claude Code and an allowed model: {v}");

    // `activation`: its 30 days start with its first use.
    let (id, key) = api_key("activation");
    let (_, before_use) = app.admin(Method::GET, &format!("/admin/keys/{id}"), None).await;
    assert!(
        before_use["activated_at"].is_null() && before_use["expires_at"].is_null(),
        "{before_use}"
    );
    let (status, v) = messages(&app, key, "claude-sonnet-4-20250514", "curl/8").await;
    assert_eq!(status, 200, "{v}");
    let (_, after_use) = app.admin(Method::GET, &format!("/admin/keys/{id}"), None).await;
    let activated = after_use["activated_at"]
        .as_i64()
        .expect("activated on first use");
    assert_eq!(
        after_use["expires_at"].as_i64(),
        Some(activated + 30 * 86_400_000)
    );

    // A later run brings back what changed here against the source (the three accounts
    // edited above) and keeps what switchyard learnt since (the activation); usage is not
    // imported again: 4 from the source, 2 relayed here.
    let third = import_json(&app, &[]).await;
    assert_eq!(summary(&third, "updated"), 3, "{third:#}");
    assert_eq!(summary(&third, "imported"), 0, "{third:#}");
    let (_, after_third) = app.admin(Method::GET, &format!("/admin/keys/{id}"), None).await;
    assert_eq!(
        after_third["activated_at"].as_i64(),
        Some(activated),
        "{after_third}"
    );
    let limited = app.wait_for_usage(api_key("limited").0, 6).await;
    assert_eq!(limited.requests, 6);

    // The reference's Redis is exactly as it was.
    assert_eq!(
        crs_digest().await,
        before,
        "the import wrote to the reference's Redis"
    );
}

#[actix_rt::test]
async fn every_key_and_account_works_after_an_import_onto_the_embedded_store() {
    imports_and_serves(embedded().await).await;
}

#[actix_rt::test]
async fn every_key_and_account_works_after_an_import_onto_redis() {
    imports_and_serves(on_redis().await).await;
}

/// Nothing in the store: no account, group, key or usage.
async fn assert_empty(app: &TestApp) {
    for (path, field) in [
        ("/admin/accounts", "accounts"),
        ("/admin/groups", "groups"),
        ("/admin/keys", "keys"),
    ] {
        let (status, v) = app.admin(Method::GET, path, None).await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(v[field].as_array().map(Vec::len), Some(0), "{path}: {v}");
    }
    let (status, _) = usage(app, api_key("limited").1).await;
    assert_eq!(status, 401);
}

#[actix_rt::test]
async fn a_dry_run_a_wrong_key_and_an_unreadable_redis_write_nothing() {
    let before = crs_digest().await;
    let app = spawn_app_on(embedded().await, |_| {}).await;

    let dry = import_json(&app, &["--dry-run"]).await;
    assert_eq!(dry["dry_run"], true);
    assert_eq!(summary(&dry, "imported"), 23, "{dry:#}");
    assert_empty(&app).await;

    let wrong = import(&app, &CRS.url(), "0123456789abcdef0123456789abcdef", &[]).await;
    assert_eq!(wrong.code, 1, "{}", wrong.stdout);
    assert!(wrong.stderr.contains("encryption key"), "{}", wrong.stderr);
    assert!(wrong.stderr.contains("nothing was imported"), "{}", wrong.stderr);
    assert_empty(&app).await;

    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let unreachable = import(
        &app,
        &format!("redis://127.0.0.1:{closed}"),
        encryption_key(),
        &[],
    )
    .await;
    assert_eq!(unreachable.code, 1, "{}", unreachable.stdout);
    assert!(
        unreachable.stderr.contains("cannot reach"),
        "{}",
        unreachable.stderr
    );
    assert_empty(&app).await;

    assert_eq!(crs_digest().await, before);
}
