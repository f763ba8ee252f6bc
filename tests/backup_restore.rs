//! `switchyard export` / `switchyard import switchyard` over real HTTP, from the embedded store
//! to a real `redis-server` and back: accounts, groups, keys with limits and bindings, usage and
//! limit counters populated by requests relayed to the mock upstream come out the same on the
//! other backend — the same requests give the same answers and the same usage, a key whose
//! lifetime cost limit was reached is still refused — and a second import changes nothing. A
//! file that is cut short, edited, of an unknown version or sealed with another key writes
//! nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "support/redis_server.rs"]
mod redis_server;
mod support;

use mock_upstream::MockUsage;
use redis_server::RedisServer;
use reqwest::Method;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::sync::LazyLock;
use support::*;
use switchyard::settings::{Settings, StoreBackend, StoreSettings};
use switchyard::startup::Backends;
use switchyard::store::open_with_env_key;

const KEY_HEX: &str = "3f9a1c7e5b2d8046a1e3c5b7d9f20486ac4e6b8d0f1a3c5e7092b4d6f8a1c3e5";
const BIN: &str = env!("CARGO_BIN_EXE_switchyard");

static SERVER: LazyLock<RedisServer> = LazyLock::new(RedisServer::launch);

fn embedded(dir: &Path) -> StoreSettings {
    StoreSettings {
        backend: StoreBackend::Embedded,
        data_dir: dir.to_owned(),
        ..StoreSettings::default()
    }
}

fn fresh_redis(name: &str) -> StoreSettings {
    StoreSettings {
        backend: StoreBackend::Redis,
        redis_url: SERVER.url(),
        redis_prefix: format!("backup{}-{name}:", std::process::id()),
        ..StoreSettings::default()
    }
}

/// An app on `store` (sealed with [`KEY_HEX`]).
async fn app_on(store: StoreSettings) -> TestApp {
    let backends: Backends = open_with_env_key(&store, Some(KEY_HEX))
        .await
        .expect("store opens");
    spawn_app_on(backends, move |s: &mut Settings| {
        let data_dir = s.store.data_dir.clone();
        s.store = store;
        if s.store.backend == StoreBackend::Redis {
            s.store.data_dir = data_dir;
        }
    })
    .await
}

/// $0.027 per request on claude-sonnet-5.
fn priced_usage() -> MockUsage {
    MockUsage {
        input_tokens: 1_000,
        output_tokens: 500,
        cache_creation_5m: 2_000,
        cache_creation_1h: 1_000,
        cache_read: 10_000,
    }
}

/// Runs the CLI binary against `app`; returns (exit code, stdout, stderr).
async fn cli(app: &TestApp, args: &[&str]) -> (i32, String, String) {
    let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    all.extend([
        "--url".into(),
        app.base.clone(),
        "--token".into(),
        ADMIN_TOKEN.into(),
    ]);
    tokio::task::spawn_blocking(move || {
        let out = Command::new(BIN)
            .args(&all)
            .env_remove("SWITCHYARD_URL")
            .env_remove("SWITCHYARD_ADMIN_TOKEN")
            .current_dir(std::env::temp_dir())
            .output()
            .expect("binary runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .expect("joined")
}

/// The keys a test populates, with their plaintext secrets.
struct Keys {
    capped: (String, String),
    dedicated: (String, String),
    grouped: (String, String),
    disabled: (String, String),
}

/// Two accounts (one shared in a group, one dedicated), four keys (a lifetime cost cap of
/// three requests with a window, one bound to the dedicated account, one to the group, one
/// disabled), then requests: the capped key up to its cap, two on the dedicated key, one on
/// the grouped key.
async fn populate(app: &TestApp) -> Keys {
    app.mock.set_usage("sk-ant-shared", priced_usage());
    app.mock.set_usage("sk-ant-dedicated", priced_usage());
    let shared = app
        .add_account(json!({"name": "shared", "api_key": "sk-ant-shared", "priority": 10}))
        .await;
    let dedicated = app
        .add_account(json!({"name": "dedicated", "api_key": "sk-ant-dedicated", "sharing": "dedicated"}))
        .await;
    let (status, group) = app
        .admin(
            Method::POST,
            "/admin/groups",
            Some(json!({"name": "team", "platform": "claude", "members": [shared]})),
        )
        .await;
    assert_eq!(status, 201, "{group}");
    let gid = group["id"].as_str().unwrap().to_owned();
    let keys = Keys {
        capped: app
            .create_key(json!({"name": "capped", "limits": {
                "window_minutes": 60, "window_requests": 50, "daily_cost_usd": "5",
                "total_cost_usd": "0.081"}}))
            .await,
        dedicated: app
            .create_key(json!({"name": "dedicated", "bindings": {"claude": dedicated}, "tags": ["t1"]}))
            .await,
        grouped: app
            .create_key(json!({"name": "grouped", "bindings": {"claude": format!("group:{gid}")}}))
            .await,
        disabled: app.create_key(json!({"name": "disabled"})).await,
    };
    let (status, v) = app
        .admin(
            Method::PATCH,
            &format!("/admin/keys/{}", keys.disabled.0),
            Some(json!({"active": false})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    for (key, n) in [(&keys.capped, 3), (&keys.dedicated, 2), (&keys.grouped, 1)] {
        for _ in 0..n {
            assert_eq!(app.post_messages(&key.1, &claude_body(false)).await.status(), 200);
        }
    }
    assert_eq!(
        app.mock.requests_for("sk-ant-dedicated").len(),
        2,
        "bound key served by its account"
    );
    app.wait_for_usage(&keys.capped.0, 3).await;
    app.wait_for_usage(&keys.grouped.0, 1).await;
    keys
}

/// Everything an operator and a client can see: records, usage by key / account / model
/// (all time and today), and each key's own usage view with its limit counters.
async fn observe(app: &TestApp, keys: &Keys) -> Value {
    let mut seen = json!({});
    for path in [
        "/admin/accounts",
        "/admin/groups",
        "/admin/keys",
        "/admin/usage?by=key&period=total",
        "/admin/usage?by=account&period=total",
        "/admin/usage?by=model&period=total",
        "/admin/usage?by=key&period=day",
        "/admin/usage?by=key&period=hour",
    ] {
        let (status, v) = app.admin(Method::GET, path, None).await;
        assert_eq!(status, 200, "{path}: {v}");
        seen[path] = v;
    }
    // Last-used times are written behind, in batches, and each backend lists in its own
    // order: neither is part of what must match.
    for (path, list) in [
        ("/admin/accounts", "accounts"),
        ("/admin/keys", "keys"),
        ("/admin/groups", "groups"),
    ] {
        let items = seen[path][list].as_array_mut().unwrap();
        for item in items.iter_mut() {
            item.as_object_mut().unwrap().remove("last_used_at");
        }
        items.sort_by_key(|item| item["id"].as_str().unwrap_or_default().to_owned());
    }
    for key in [&keys.capped, &keys.dedicated, &keys.grouped] {
        let v: Value = app
            .http
            .get(app.url("/v1/usage"))
            .header("x-api-key", &key.1)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        seen[format!("/v1/usage {}", key.0)] = v;
        let (_, recent) = app
            .admin(Method::GET, &format!("/admin/keys/{}/requests", key.0), None)
            .await;
        seen[format!("recent {}", key.0)] = recent;
    }
    seen
}

/// `seen` without the instants of recent requests.
fn without_request_times(mut seen: Value) -> Value {
    for (name, v) in seen.as_object_mut().unwrap() {
        if name.starts_with("recent ") {
            for r in v["requests"].as_array_mut().unwrap() {
                r.as_object_mut().unwrap().remove("at");
            }
        }
    }
    seen
}

/// The answer to one request: status and error body, or the reply's content.
async fn answer(app: &TestApp, key: &str) -> (u16, Value) {
    let resp = app.post_messages(key, &claude_body(false)).await;
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    let shown = match status {
        200 => body["content"].clone(),
        _ => body["error"].clone(),
    };
    (status, shown)
}

/// The same requests on both apps: the same answers.
async fn same_answers(a: &TestApp, b: &TestApp, keys: &Keys) {
    for key in [&keys.capped, &keys.dedicated, &keys.grouped, &keys.disabled] {
        let (on_a, on_b) = (answer(a, &key.1).await, answer(b, &key.1).await);
        assert_eq!(on_a, on_b, "key {}", key.0);
    }
    let capped = answer(b, &keys.capped.1).await;
    assert_eq!(capped.0, 402, "the lifetime cost cap still holds: {capped:?}");
    assert_eq!(answer(b, &keys.disabled.1).await.0, 401);
}

#[actix_web::test]
async fn embedded_to_redis_and_back_keeps_every_record_answer_and_count() {
    let dir = tempfile::tempdir().unwrap();
    let source = app_on(embedded(&dir.path().join("source"))).await;
    let keys = populate(&source).await;
    let before = observe(&source, &keys).await;

    let file = dir.path().join("installation.backup");
    let file_arg = file.to_str().unwrap();
    let (code, out, err) = cli(&source, &["export", "--out", file_arg]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("2 accounts, 1 groups, 4 keys"), "{out}");
    let text = std::fs::read_to_string(&file).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    for secret in [
        "sk-ant-shared",
        "sk-ant-dedicated",
        &keys.capped.1,
        &keys.dedicated.1,
    ] {
        assert!(!text.contains(secret), "a secret in plaintext in the backup");
    }

    let redis = app_on(fresh_redis("roundtrip")).await;
    let (code, out, err) = cli(&redis, &["import", "switchyard", "--file", file_arg]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("accounts") && !out.contains("nothing to import"),
        "{out}"
    );
    assert_eq!(
        observe(&redis, &keys).await,
        before,
        "Redis holds what the embedded store held"
    );

    let (code, out, err) = cli(&redis, &["import", "switchyard", "--file", file_arg, "--json"]).await;
    assert_eq!(code, 0, "{out}{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        report["changed"], false,
        "a second import writes nothing: {report}"
    );
    assert_eq!(report["accounts"]["unchanged"], 2);
    assert_eq!(report["keys"]["unchanged"], 4);
    assert_eq!(observe(&redis, &keys).await, before);

    same_answers(&source, &redis, &keys).await;
    assert_eq!(
        source.mock.requests_for("sk-ant-dedicated").len(),
        4,
        "the imported dedicated account served"
    );
    source.wait_for_usage(&keys.grouped.0, 2).await;
    redis.wait_for_usage(&keys.grouped.0, 2).await;
    // Each app served the new requests at its own instant; everything else must match.
    let after = without_request_times(observe(&source, &keys).await);
    let after_redis = without_request_times(observe(&redis, &keys).await);
    assert_eq!(after_redis, after, "the same requests gave the same usage");

    // And back: Redis to a new embedded store, through the admin API.
    let (status, file) = redis.admin(Method::GET, "/admin/export", None).await;
    assert_eq!(status, 200);
    let back = app_on(embedded(&dir.path().join("back"))).await;
    let (status, report) = back
        .admin(Method::POST, "/admin/import/switchyard", Some(file.clone()))
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["changed"], true);
    assert_eq!(observe(&back, &keys).await, observe(&redis, &keys).await);
    let (_, again) = back
        .admin(Method::POST, "/admin/import/switchyard", Some(file))
        .await;
    assert_eq!(again["changed"], false, "{again}");
    assert_eq!(answer(&back, &keys.capped.1).await.0, 402);
}

/// Nothing on `app` but what it started with.
async fn assert_empty(app: &TestApp) {
    for (path, list) in [
        ("/admin/accounts", "accounts"),
        ("/admin/keys", "keys"),
        ("/admin/groups", "groups"),
    ] {
        let (_, v) = app.admin(Method::GET, path, None).await;
        assert_eq!(v[list], json!([]), "{path}: {v}");
    }
    let (_, v) = app
        .admin(Method::GET, "/admin/usage?by=key&period=total", None)
        .await;
    assert_eq!(v["rows"], json!([]), "{v}");
}

#[actix_web::test]
async fn a_damaged_foreign_or_wrongly_sealed_file_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let source = app_on(embedded(&dir.path().join("source"))).await;
    let keys = populate(&source).await;
    let (_, file) = source.admin(Method::GET, "/admin/export", None).await;
    let target = app_on(fresh_redis("refusals")).await;
    let text = file.to_string();

    let import = |body: String| {
        let req = target
            .http
            .post(target.url("/admin/import/switchyard"))
            .bearer_auth(ADMIN_TOKEN)
            .header("content-type", "application/json")
            .body(body);
        async move {
            let resp = req.send().await.unwrap();
            (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
        }
    };
    let mut newer = file.clone();
    newer["version"] = json!(2);
    let edited = text.replacen("\"requests\":3", "\"requests\":30", 1);
    assert_ne!(edited, text);
    for (body, says) in [
        (text[..text.len() - 100].to_owned(), "truncated"),
        (newer.to_string(), "version 2 is not supported"),
        (edited, "checksum does not match"),
        (json!({"format": "other"}).to_string(), "not a switchyard backup"),
    ] {
        let (status, v) = import(body).await;
        assert_eq!(status, 400, "{v}");
        let message = v["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{says}: {v}");
        assert_empty(&target).await;
    }

    // Sealed with another installation's key: refused, unless exported for this one's.
    let other_key = "9c4e2a7b1d8f3065b2a4c6e8f0d1b3a5c7e9f2046d8b0a1c3e5f7092b4d6e8a1";
    let (status, foreign) = source
        .admin(
            Method::POST,
            "/admin/export",
            Some(json!({"reencrypt_for": other_key})),
        )
        .await;
    assert_eq!(status, 200, "{foreign}");
    let (status, v) = import(foreign.to_string()).await;
    assert_eq!(status, 400, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("another encryption key"),
        "{v}"
    );
    assert_empty(&target).await;
    let (status, v) = source
        .admin(
            Method::POST,
            "/admin/export",
            Some(json!({"reencrypt_for": "00"})),
        )
        .await;
    assert_eq!(status, 400, "{v}");

    let (status, ours) = source
        .admin(
            Method::POST,
            "/admin/export",
            Some(json!({"reencrypt_for": KEY_HEX})),
        )
        .await;
    assert_eq!(status, 200);
    // A key on the target already answering to one of the backup's secrets keeps it.
    let mut squatter = source
        .state
        .keys
        .store()
        .get_key(&keys.disabled.0)
        .await
        .unwrap()
        .unwrap();
    squatter.id = "squatter".into();
    target.state.keys.store().put_key(&squatter).await.unwrap();
    let (status, report) = import(ours.to_string()).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["keys"]["created"], 3, "{report}");
    assert_eq!(
        report["skipped"],
        json!([{"kind": "key", "id": keys.disabled.0, "reason": "key squatter already answers to the same secret"}])
    );
    assert_eq!(answer(&target, &keys.dedicated.1).await.0, 200);
}
