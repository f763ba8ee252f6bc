//! The operator CLI, run as the real binary against a server spawned on a free port with the
//! mock upstream: accounts, keys, groups, usage, status, reset, errors, the PKCE logins (Claude,
//! OpenAI / Codex, Gemini), imports from provider CLIs' token files and `config check`.
mod support;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mock_upstream::Fault;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{ADMIN_TOKEN, TestApp, claude_body, spawn_app, spawn_app_with};
use switchyard_actors::{AccountId, Credentials};

const BIN: &str = env!("CARGO_BIN_EXE_switchyard");

#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "the command failed: {self:?}");
        &self.stdout
    }

    fn json(&self) -> Value {
        serde_json::from_str(self.ok()).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }
}

/// The binary with a clean environment: no address or token from the test's own environment,
/// and a working directory without a settings.toml.
fn command(args: &[String]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .env_remove("SWITCHYARD_URL")
        .env_remove("SWITCHYARD_ADMIN_TOKEN")
        .current_dir(std::env::temp_dir());
    c
}

/// Runs the binary off the test's thread (the server's actors live on it) and collects output.
async fn run_raw(args: Vec<String>, stdin: Option<String>) -> Run {
    actix_web::rt::task::spawn_blocking(move || {
        let mut child = command(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("binary starts");
        {
            let mut input = child.stdin.take().expect("stdin");
            if let Some(s) = stdin {
                input.write_all(s.as_bytes()).expect("stdin written");
            }
        }
        let out = child.wait_with_output().expect("binary ends");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    })
    .await
    .expect("runner thread")
}

fn with_target(app: &TestApp, args: &[&str]) -> Vec<String> {
    let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    all.extend([
        "--url".into(),
        app.base.clone(),
        "--token".into(),
        ADMIN_TOKEN.into(),
    ]);
    all
}

async fn cli(app: &TestApp, args: &[&str]) -> Run {
    run_raw(with_target(app, args), None).await
}

async fn cli_stdin(app: &TestApp, args: &[&str], stdin: &str) -> Run {
    run_raw(with_target(app, args), Some(stdin.to_owned())).await
}

/// `switchyard account login <provider>`, answering the printed URL with `answer(url)`.
async fn login(
    app: &TestApp,
    provider: &str,
    extra: &[&str],
    answer: fn(&reqwest::Url) -> String,
) -> (reqwest::Url, Run) {
    let mut args = vec!["account", "login", provider];
    args.extend(extra);
    let args = with_target(app, &args);
    actix_web::rt::task::spawn_blocking(move || {
        let mut child = command(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("binary starts");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut first = String::new();
        stdout.read_line(&mut first).expect("URL line");
        let url = reqwest::Url::parse(first.trim()).unwrap_or_else(|e| panic!("{e}: {first:?}"));
        let mut input = child.stdin.take().expect("stdin");
        writeln!(input, "{}", answer(&url)).expect("code written");
        drop(input);
        let mut rest = String::new();
        stdout.read_to_string(&mut rest).expect("stdout");
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut stderr)
            .expect("stderr");
        let code = child.wait().expect("binary ends").code().unwrap_or(-1);
        (
            url,
            Run {
                code,
                stdout: format!("{first}{rest}"),
                stderr,
            },
        )
    })
    .await
    .expect("runner thread")
}

fn query(url: &reqwest::Url, name: &str) -> String {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no {name} in {url}"))
}

/// A request with its own first message, so no sticky session ties it to an earlier account.
fn unsticky(tag: &str) -> Value {
    let mut body = claude_body(false);
    body["messages"][0]["content"] = json!(format!("Hello from {tag}"));
    body
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[actix_web::test]
async fn accounts_are_added_listed_shown_updated_and_removed() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("key");
    std::fs::write(&key_file, "sk-ant-from-file\n").unwrap();
    let mock = app.mock.url();

    let added = cli(
        &app,
        &[
            "account",
            "add",
            "--kind",
            "claude-console",
            "--name",
            "alpha",
            "--base-url",
            &mock,
            "--api-key-file",
            key_file.to_str().unwrap(),
            "--priority",
            "5",
            "--max-concurrency",
            "3",
        ],
    )
    .await;
    assert!(
        added.ok().starts_with("Added claude-console account alpha ("),
        "{added:?}"
    );
    let from_stdin = cli_stdin(
        &app,
        &[
            "account",
            "add",
            "--kind",
            "claude-console",
            "--name",
            "beta",
            "--base-url",
            &mock,
            "--api-key",
            "-",
            "--model-map",
            "claude-sonnet-5=upstream-sonnet",
            "--sharing",
            "dedicated",
            "--json",
        ],
        "sk-ant-from-stdin\n",
    )
    .await
    .json();
    assert_eq!(
        from_stdin["models"],
        json!({"claude-sonnet-5": "upstream-sonnet"})
    );
    assert_eq!(from_stdin["sharing"], "dedicated");
    let beta = from_stdin["id"].as_str().unwrap().to_owned();

    let list = cli(&app, &["account", "list"]).await;
    let text = list.ok();
    let header = text.lines().next().unwrap();
    assert!(
        header.starts_with("ID") && header.contains("NAME") && header.contains("STATE"),
        "{text}"
    );
    let alpha_line = text.lines().find(|l| l.contains("alpha")).expect("alpha listed");
    assert!(
        alpha_line.contains("claude-console") && alpha_line.contains("ready") && alpha_line.contains("0/3")
    );
    assert!(text.contains("claude-sonnet-5=>upstream-sonnet"), "{text}");
    assert!(!text.contains("sk-ant-from"), "no secret in the list");

    let show = cli(&app, &["account", "show", "alpha"]).await;
    let shown = show.ok();
    assert!(
        shown.contains("name:") && shown.contains("alpha") && shown.contains("credential:"),
        "{shown}"
    );
    assert!(shown.contains("api_key") && !shown.contains("sk-ant-from-file"));

    let updated = cli(
        &app,
        &[
            "account",
            "update",
            "alpha",
            "--priority",
            "7",
            "--models",
            "claude-sonnet-5,claude-opus-4",
            "--json",
        ],
    )
    .await
    .json();
    assert_eq!(updated["priority"], 7);
    assert_eq!(updated["models"], json!(["claude-sonnet-5", "claude-opus-4"]));
    let paused = cli(&app, &["account", "update", &beta, "--schedulable", "false"]).await;
    assert!(paused.ok().contains("paused"), "{paused:?}");
    let nothing = cli(&app, &["account", "update", "alpha"]).await;
    assert_eq!(nothing.code, 2);
    assert!(nothing.stderr.contains("nothing to change"), "{nothing:?}");

    // The key read from the file is the one sent upstream.
    let key = app.key().await;
    assert_eq!(app.post_messages(&key, &claude_body(false)).await.status(), 200);
    assert_eq!(app.mock.requests_for("sk-ant-from-file").len(), 1);

    let removed = cli(&app, &["account", "remove", "alpha"]).await;
    assert!(removed.ok().starts_with("Removed account "));
    let gone = cli(&app, &["account", "show", "alpha"]).await;
    assert_eq!(gone.code, 1);
    assert!(gone.stderr.contains("account alpha not found"), "{gone:?}");
    let listed = cli(&app, &["account", "list", "--json"]).await.json();
    assert_eq!(listed["accounts"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn keys_are_created_once_listed_updated_and_revoked() {
    let app = spawn_app().await;
    app.add_console("a", "sk-ant-a").await;
    let created = cli(
        &app,
        &[
            "key",
            "create",
            "--name",
            "ci",
            "--permissions",
            "claude",
            "--daily-cost",
            "5",
            "--tags",
            "team-a",
        ],
    )
    .await;
    let out = created.ok();
    assert!(out.contains("shown this once"), "{out}");
    let key = out
        .lines()
        .find(|l| l.starts_with("  ") && !l.trim().is_empty())
        .expect("the key is printed")
        .trim()
        .to_owned();
    assert_eq!(app.post_messages(&key, &claude_body(false)).await.status(), 200);

    let list = cli(&app, &["key", "list"]).await;
    let text = list.ok();
    assert!(text.contains("ci") && text.contains("claude"), "{text}");
    assert!(!text.contains(&key), "the key is not shown again");
    let json = cli(&app, &["key", "list", "--json"]).await.json();
    let k = &json["keys"][0];
    assert_eq!(k["limits"]["daily_cost_usd"], "5.000000");
    assert!(k.get("key").is_none());
    let id = k["id"].as_str().unwrap().to_owned();

    let updated = cli(
        &app,
        &[
            "key",
            "update",
            "ci",
            "--concurrency-limit",
            "2",
            "--weekly-cost",
            "20",
            "--json",
        ],
    )
    .await
    .json();
    assert_eq!(updated["concurrency_limit"], 2);
    assert_eq!(updated["limits"]["weekly_cost_usd"], "20.000000");
    assert_eq!(
        updated["limits"]["daily_cost_usd"], "5.000000",
        "other limits are kept"
    );

    let revoked = cli(&app, &["key", "revoke", &id]).await;
    assert_eq!(revoked.ok(), format!("Revoked key {id}.\n"));
    // Keys are cached for a moment; the revocation reaches the relay at once all the same.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let status = app.post_messages(&key, &claude_body(false)).await.status();
        if status == 401 {
            break;
        }
        assert!(Instant::now() < deadline, "the revoked key still works: {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[actix_web::test]
async fn groups_are_created_filled_emptied_listed_and_serve_bound_keys() {
    let app = spawn_app().await;
    let a = app.add_console("a", "sk-ant-a").await;
    app.add_account(json!({"name": "b", "api_key": "sk-ant-b", "priority": 1}))
        .await;
    let g = app
        .add_account(json!({"name": "gem", "kind": "gemini-api", "api_key": "g-key", "base_url": null}))
        .await;

    let created = cli(
        &app,
        &[
            "group",
            "create",
            "--name",
            "team",
            "--platform",
            "claude",
            "--members",
            "a",
            "--json",
        ],
    )
    .await
    .json();
    assert_eq!(created["members"], json!([a]));
    let gid = created["id"].as_str().unwrap().to_owned();
    let added = cli(&app, &["group", "add", "team", "b"]).await;
    assert!(added.ok().contains("to group team"), "{added:?}");
    let wrong = cli(&app, &["group", "add", "team", &g]).await;
    assert_eq!(wrong.code, 1);
    assert!(
        wrong
            .stderr
            .contains("is a gemini account; this group is for claude"),
        "{wrong:?}"
    );
    let missing = cli(&app, &["group", "add", "team", "no-such-account"]).await;
    assert!(
        missing.stderr.contains("no account no-such-account"),
        "{missing:?}"
    );

    let removed = cli(&app, &["group", "remove", "team", "b"]).await;
    assert!(removed.ok().contains("from group team"));
    let list = cli(&app, &["group", "list"]).await;
    let text = list.ok();
    let line = text.lines().find(|l| l.contains("team")).expect("group listed");
    assert!(
        line.contains("claude") && line.contains(&format!("a ({a})")) && !line.contains("b ("),
        "{text}"
    );

    // A key bound to the group is served by its member even though `b` has the better priority.
    let (_, key) = app
        .create_key(json!({"bindings": {"claude": format!("group:{gid}")}}))
        .await;
    assert_eq!(app.post_messages(&key, &claude_body(false)).await.status(), 200);
    assert_eq!(app.mock.requests_for("sk-ant-a").len(), 1);
    assert!(app.mock.requests_for("sk-ant-b").is_empty());

    let refused = cli(&app, &["group", "delete", "team"]).await;
    assert!(refused.stderr.contains("unbind it first"), "{refused:?}");
    let other = cli(
        &app,
        &["group", "create", "--name", "spare", "--platform", "gemini"],
    )
    .await;
    assert!(other.ok().contains("Created gemini group spare"));
    assert!(
        cli(&app, &["group", "delete", "spare"])
            .await
            .ok()
            .starts_with("Deleted group")
    );
    let groups = cli(&app, &["group", "list", "--json"]).await.json();
    assert_eq!(groups["groups"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn usage_is_a_table_per_key_account_or_model_and_json_for_scripts() {
    let app = spawn_app().await;
    app.add_console("main", "sk-ant-main").await;
    let (key_id, key) = app.create_key(json!({"name": "reporting"})).await;
    for _ in 0..2 {
        assert_eq!(app.post_messages(&key, &claude_body(false)).await.status(), 200);
    }
    app.wait_for_usage(&key_id, 2).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    let rows = loop {
        let v = cli(&app, &["usage", "--by", "key", "--period", "day", "--json"])
            .await
            .json();
        if v["rows"][0]["requests"] == 2 {
            break v;
        }
        assert!(Instant::now() < deadline, "usage not reported: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(rows["rows"][0]["id"], key_id.as_str());
    assert_eq!(rows["period"], "day");

    let table = cli(&app, &["usage"]).await;
    let text = table.ok();
    assert!(text.starts_with("Usage by key, day "), "{text}");
    let header = text.lines().nth(1).unwrap();
    assert!(header.starts_with("KEY") && header.contains("REQUESTS") && header.contains("COST USD"));
    let row = text.lines().find(|l| l.contains("reporting")).expect("key row");
    assert!(row.split_whitespace().any(|c| c == "2"), "{row}");

    let by_model = cli(&app, &["usage", "--by", "model", "--period", "total"]).await;
    assert!(by_model.ok().contains("claude-sonnet-5"), "{by_model:?}");
    assert!(by_model.stdout.starts_with("Usage by model, all time"));
    let by_account = cli(&app, &["usage", "--by", "account", "--period", "month"]).await;
    assert!(
        by_account.ok().lines().any(|l| l.contains("main")),
        "{by_account:?}"
    );
    let bad = cli(&app, &["usage", "--period", "day", "--at", "2026"]).await;
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("does not name a day"), "{bad:?}");
}

#[actix_web::test]
async fn status_shows_a_cooldown_and_reset_puts_the_account_back_at_once() {
    let app = spawn_app().await;
    app.add_account(json!({"name": "first", "api_key": "sk-ant-first", "priority": 1, "max_concurrency": 4}))
        .await;
    app.add_account(json!({"name": "second", "api_key": "sk-ant-second", "priority": 2}))
        .await;
    let key = app.key().await;
    app.mock.enqueue(
        "sk-ant-first",
        Fault::anthropic_error(529, "overloaded_error", "Overloaded"),
    );
    assert_eq!(app.post_messages(&key, &unsticky("one")).await.status(), 200);
    assert_eq!(app.mock.requests_for("sk-ant-second").len(), 1, "failed over");
    app.assert_slots_released().await;

    let status = cli(&app, &["status"]).await;
    let text = status.ok();
    let first = text
        .lines()
        .find(|l| l.starts_with("first"))
        .expect("first listed");
    assert!(
        first.contains("cooling (overload)") && first.contains("0/4") && first.contains("(in "),
        "{text}"
    );
    let second = text
        .lines()
        .find(|l| l.starts_with("second"))
        .expect("second listed");
    assert!(second.contains("ready") && second.contains("0/-"), "{text}");
    assert!(text.contains("2 accounts: 1 ready, 1 not serving"), "{text}");

    // Still cooling: the next request goes to `second`.
    assert_eq!(app.post_messages(&key, &unsticky("two")).await.status(), 200);
    assert_eq!(app.mock.requests_for("sk-ant-first").len(), 1);

    let reset = cli(&app, &["account", "reset", "first"]).await;
    assert!(reset.ok().contains("cooldowns cleared, now ready"), "{reset:?}");
    assert_eq!(app.post_messages(&key, &unsticky("three")).await.status(), 200);
    assert_eq!(
        app.mock.requests_for("sk-ant-first").len(),
        2,
        "served by the reset account"
    );
    let status = cli(&app, &["status", "--json"]).await.json();
    assert!(
        status["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a.get("cooldown").is_none())
    );
}

#[actix_web::test]
async fn errors_say_what_went_wrong_and_exit_non_zero() {
    let app = spawn_app().await;
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    let down = run_raw(
        vec![
            "status".into(),
            "--url".into(),
            url.clone(),
            "--token".into(),
            "t".into(),
        ],
        None,
    )
    .await;
    assert_eq!(down.code, 1);
    assert!(
        down.stderr.contains(&format!("cannot reach switchyard at {url}")),
        "{down:?}"
    );

    let bad_token = run_raw(
        vec![
            "account".into(),
            "list".into(),
            "--url".into(),
            app.base.clone(),
            "--token".into(),
            "wrong".into(),
        ],
        None,
    )
    .await;
    assert_eq!(bad_token.code, 1);
    assert!(bad_token.stderr.contains("admin token rejected"), "{bad_token:?}");

    let missing = cli(&app, &["key", "revoke", "no-such-key"]).await;
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("key no-such-key not found (HTTP 404)"),
        "{missing:?}"
    );
    let invalid = cli(
        &app,
        &[
            "account",
            "add",
            "--kind",
            "claude-console",
            "--name",
            "x",
            "--api-key",
            "k",
        ],
    )
    .await;
    assert!(
        invalid.stderr.contains("claude-console accounts need a base_url"),
        "{invalid:?}"
    );
    let usage = cli(&app, &["account", "add", "--kind", "nope"]).await;
    assert_eq!(usage.code, 2, "clap rejects bad flags");
}

#[actix_web::test]
async fn the_address_and_token_come_from_the_settings_and_the_token_file() {
    let app = spawn_app().await;
    app.add_console("from-settings", "sk-ant-x").await;
    let dir = tempfile::tempdir().unwrap();
    let port = app.base.rsplit(':').next().unwrap();
    std::fs::write(dir.path().join("admin-token"), format!("{ADMIN_TOKEN}\n")).unwrap();
    let config = dir.path().join("settings.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nhost = \"0.0.0.0\"\nport = {port}\n[store]\ndata_dir = \"{}\"\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let run = run_raw(
        vec!["status".into(), "--config".into(), config.display().to_string()],
        None,
    )
    .await;
    assert!(run.ok().contains("from-settings"), "{run:?}");
}

/// The authorize URL's challenge is S256 of the verifier the server sends with the code.
fn check_pkce(app: &TestApp, url: &reqwest::Url) -> Value {
    let tokens = app.mock.token_requests();
    assert_eq!(tokens.len(), 1, "one code exchange");
    let t = tokens[0].json();
    assert_eq!(t["grant_type"], "authorization_code");
    assert_eq!(t["code"], "the-code");
    assert_eq!(t["state"].as_str(), Some(query(url, "state").as_str()));
    assert_eq!(t["client_id"], "9d1c250a-e61b-44d9-88ed-5944d1962f5e");
    assert_eq!(
        t["redirect_uri"],
        "https://console.anthropic.com/oauth/code/callback"
    );
    let verifier = t["code_verifier"].as_str().expect("verifier sent");
    assert!((43..=128).contains(&verifier.len()));
    assert_eq!(
        URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
        query(url, "code_challenge")
    );
    t
}

#[actix_web::test]
async fn claude_login_exchanges_the_code_with_pkce_stores_the_tokens_and_refreshes_later() {
    let app = spawn_app().await;
    let (url, run) = login(&app, "claude", &["--name", "sub", "--priority", "3"], |u| {
        format!("the-code#{}", query(u, "state"))
    })
    .await;
    assert_eq!(
        url.as_str().split('?').next(),
        Some("https://claude.ai/oauth/authorize")
    );
    assert_eq!(query(&url, "code"), "true");
    assert_eq!(query(&url, "response_type"), "code");
    assert_eq!(query(&url, "code_challenge_method"), "S256");
    assert_eq!(
        query(&url, "scope"),
        "org:create_api_key user:profile user:inference"
    );
    assert_eq!(
        query(&url, "redirect_uri"),
        "https://console.anthropic.com/oauth/code/callback"
    );
    assert!(
        run.ok().contains("Added claude-official account sub ("),
        "{run:?}"
    );
    assert!(
        !run.stdout.contains("mock-at-") && !run.stdout.contains("mock-rt-"),
        "no token printed"
    );
    check_pkce(&app, &url);

    let accounts = cli(&app, &["account", "list", "--json"]).await.json();
    let view = &accounts["accounts"][0];
    assert_eq!(
        (view["kind"].as_str(), view["credential"].as_str()),
        (Some("claude-official"), Some("oauth"))
    );
    assert_eq!(view["priority"], 3);
    assert_eq!(view["extra"]["email"], "mock@example.com");
    assert!(!view.to_string().contains("mock-at-"), "no secret in views");
    let id = view["id"].as_str().unwrap().to_owned();

    // The stored tokens serve requests.
    let key = app.key().await;
    assert_eq!(app.post_messages(&key, &claude_body(false)).await.status(), 200);
    let bearer = app.mock.requests()[0].header("authorization").unwrap().to_owned();
    assert!(bearer.starts_with("Bearer mock-at-"), "{bearer}");
    let n = bearer.trim_start_matches("Bearer mock-at-").to_owned();

    // Once the access token has expired, one refresh with the stored refresh token.
    let aid = AccountId::new(&id);
    let account = app.state.store.get_account(&aid).await.unwrap().unwrap();
    let Credentials::OAuth(mut tokens) = account.credentials else {
        panic!("oauth credentials stored")
    };
    tokens.expires_at = Some(now_ms() - 1_000);
    app.state
        .store
        .set_credentials(&aid, &Credentials::OAuth(tokens))
        .await
        .unwrap();
    app.state.scheduling.reload().await.unwrap();
    assert_eq!(app.post_messages(&key, &claude_body(false)).await.status(), 200);
    let token_requests = app.mock.token_requests();
    assert_eq!(token_requests.len(), 2, "the exchange and one refresh");
    assert_eq!(
        token_requests[1].param("grant_type").as_deref(),
        Some("refresh_token")
    );
    assert_eq!(
        token_requests[1].param("refresh_token"),
        Some(format!("mock-rt-{n}"))
    );
    let used = app.mock.requests()[1].header("authorization").unwrap().to_owned();
    assert!(used.starts_with("Bearer mock-at-") && used != bearer, "{used}");
}

#[actix_web::test]
async fn claude_login_accepts_a_bare_code_and_rejects_a_wrong_state() {
    let app = spawn_app().await;
    let (_, wrong) = login(&app, "claude", &[], |_| "the-code#not-the-state".into()).await;
    assert_eq!(wrong.code, 1);
    assert!(wrong.stderr.contains("state mismatch"), "{wrong:?}");
    assert!(app.mock.token_requests().is_empty(), "the code was not exchanged");
    assert!(app.state.store.load_accounts().await.unwrap().is_empty());

    let (url, bare) = login(&app, "claude", &[], |_| "the-code".into()).await;
    assert!(
        bare.ok()
            .contains("Added claude-official account mock@example.com"),
        "{bare:?}"
    );
    check_pkce(&app, &url);

    // The API never hands out the verifier, and a session is good for one exchange.
    let (status, start) = app
        .admin(
            reqwest::Method::POST,
            "/admin/oauth/claude/start",
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200);
    assert!(start.get("code_verifier").is_none() && start.get("verifier").is_none());
    let body = json!({"session_id": start["session_id"], "code": "c", "state": "nope"});
    let (status, v) = app
        .admin(
            reqwest::Method::POST,
            "/admin/oauth/claude/exchange",
            Some(body.clone()),
        )
        .await;
    assert_eq!(status, 400, "{v}");
    let (status, v) = app
        .admin(reqwest::Method::POST, "/admin/oauth/claude/exchange", Some(body))
        .await;
    assert_eq!(status, 400);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown or expired"),
        "{v}"
    );
}

/// The authorize URL goes to `base` with exactly `expected`, a fresh S256 challenge and a state.
fn check_authorize_url(url: &reqwest::Url, base: &str, expected: &[(&str, &str)]) {
    assert_eq!(url.as_str().split('?').next(), Some(base));
    let challenge = query(url, "code_challenge");
    let state = query(url, "state");
    assert_eq!(challenge.len(), 43, "base64url of a SHA-256");
    assert!(state.len() >= 32, "{state}");
    let mut want: Vec<(String, String)> = expected
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    want.extend([
        ("code_challenge".into(), challenge),
        ("code_challenge_method".into(), "S256".into()),
        ("state".into(), state),
    ]);
    want.sort();
    let mut got: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    got.sort();
    assert_eq!(got, want);
}

/// A form-encoded code exchange (OpenAI, Google) at `path`: every field, no state, and a verifier
/// that hashes (S256) to the authorize URL's challenge.
fn check_form_exchange(
    app: &TestApp,
    url: &reqwest::Url,
    path: &str,
    code: &str,
    client_secret: Option<&str>,
) {
    let tokens = app.mock.token_requests();
    assert_eq!(tokens.len(), 1, "one code exchange");
    let t = &tokens[0];
    assert_eq!(t.path, path);
    assert_eq!(
        t.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(t.param("grant_type").as_deref(), Some("authorization_code"));
    assert_eq!(t.param("code").as_deref(), Some(code));
    assert_eq!(t.param("client_id"), Some(query(url, "client_id")));
    assert_eq!(t.param("redirect_uri"), Some(query(url, "redirect_uri")));
    assert_eq!(t.param("client_secret").as_deref(), client_secret);
    assert_eq!(
        t.param("state"),
        None,
        "the state stays between browser and server"
    );
    let verifier = t.param("code_verifier").expect("verifier sent");
    assert!((43..=128).contains(&verifier.len()));
    assert_eq!(
        URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
        query(url, "code_challenge")
    );
}

/// The one account `GET /admin/accounts` lists, with no token anywhere in the answer.
async fn only_account(app: &TestApp) -> Value {
    let (status, list) = app.admin(reqwest::Method::GET, "/admin/accounts", None).await;
    assert_eq!(status, 200, "{list}");
    let text = list.to_string();
    assert!(
        !text.contains("mock-at-") && !text.contains("mock-rt-"),
        "no secret in views: {text}"
    );
    assert_eq!(list["accounts"].as_array().map(Vec::len), Some(1), "{list}");
    list["accounts"][0].clone()
}

#[actix_web::test]
async fn openai_login_takes_the_pasted_redirect_url_and_stores_a_codex_account() {
    let app = spawn_app().await;
    let (url, run) = login(&app, "openai", &["--priority", "2"], |u| {
        format!(
            "http://localhost:1455/auth/callback?code=the-code&scope=openid+profile+email+offline_access&state={}",
            query(u, "state")
        )
    })
    .await;
    check_authorize_url(
        &url,
        "https://auth.openai.com/oauth/authorize",
        &[
            ("response_type", "code"),
            ("client_id", "app_EMoamEEZ73f0CkXaXp7hrann"),
            ("redirect_uri", "http://localhost:1455/auth/callback"),
            ("scope", "openid profile email offline_access"),
            ("id_token_add_organizations", "true"),
            ("codex_cli_simplified_flow", "true"),
        ],
    );
    assert!(
        run.ok().contains("Added openai account mock@example.com ("),
        "{run:?}"
    );
    assert!(run.stderr.contains("whole URL"), "{run:?}");
    assert!(
        !run.stdout.contains("mock-at-") && !run.stdout.contains("mock-rt-"),
        "no token printed"
    );
    check_form_exchange(&app, &url, "/oauth/token", "the-code", None);

    let view = only_account(&app).await;
    assert_eq!(
        (view["kind"].as_str(), view["credential"].as_str()),
        (Some("openai"), Some("oauth"))
    );
    assert_eq!(view["priority"], 2);
    assert_eq!(
        view["extra"]["chatgpt_account_id"], "mock-account",
        "from the id_token"
    );
    assert_eq!(view["extra"]["email"], "mock@example.com");

    // The stored tokens serve Codex, with the ChatGPT account the backend asks for.
    let key = app.key().await;
    let resp = app
        .http
        .post(app.url("/openai/v1/responses"))
        .bearer_auth(&key)
        .json(&json!({"model": "gpt-5", "input": "Say hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let up = app.mock.requests().last().unwrap().clone();
    assert_eq!(up.path, "/backend-api/codex/responses");
    assert_eq!(up.header("chatgpt-account-id"), Some("mock-account"));
    assert!(
        up.header("authorization").unwrap().starts_with("Bearer mock-at-"),
        "{up:?}"
    );
}

#[actix_web::test]
async fn gemini_login_sends_the_client_secret_and_stores_the_project() {
    let app = spawn_app().await;
    let needs_project = cli(&app, &["account", "login", "gemini"]).await;
    assert_eq!(needs_project.code, 2);
    assert!(needs_project.stderr.contains("--project-id"), "{needs_project:?}");
    assert!(needs_project.stdout.is_empty(), "no sign-in started");

    let (url, run) = login(&app, "gemini", &["--project-id", "proj-9", "--json"], |_| {
        "4/0the-code".into()
    })
    .await;
    check_authorize_url(
        &url,
        "https://accounts.google.com/o/oauth2/v2/auth",
        &[
            (
                "client_id",
                "681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com",
            ),
            ("redirect_uri", "https://codeassist.google.com/authcode"),
            ("response_type", "code"),
            (
                "scope",
                "https://www.googleapis.com/auth/cloud-platform \
                 https://www.googleapis.com/auth/userinfo.email \
                 https://www.googleapis.com/auth/userinfo.profile",
            ),
            ("access_type", "offline"),
            ("prompt", "consent"),
        ],
    );
    let (_, printed) = run.ok().split_once('\n').expect("URL, then the account");
    let created: Value = serde_json::from_str(printed).unwrap_or_else(|e| panic!("{e}: {printed}"));
    assert_eq!(
        (created["kind"].as_str(), created["name"].as_str()),
        (Some("gemini"), Some("mock@example.com"))
    );
    assert_eq!(created["extra"]["project_id"], "proj-9");
    assert!(!printed.contains("mock-at-") && !printed.contains("mock-rt-"));
    check_form_exchange(
        &app,
        &url,
        "/token",
        "4/0the-code",
        Some("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"),
    );
    let view = only_account(&app).await;
    assert_eq!(view["id"], created["id"]);
    assert_eq!(view["credential"], "oauth");

    // The stored tokens serve Code Assist for the project given at login.
    let key = app.key().await;
    let resp = app
        .http
        .post(app.url("/gemini/v1beta/models/gemini-2.5-pro:generateContent"))
        .header("x-goog-api-key", &key)
        .json(&json!({"contents": [{"role": "user", "parts": [{"text": "Hello"}]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let up = app.mock.requests().last().unwrap().clone();
    assert_eq!(up.path, "/v1internal:generateContent");
    assert!(up.header("authorization").unwrap().starts_with("Bearer mock-at-"));
    assert_eq!(up.json()["project"], "proj-9");
}

#[actix_web::test]
async fn openai_and_gemini_logins_refuse_wrong_states_refused_codes_and_unknown_providers() {
    let app = spawn_app().await;
    let post = |path: String, body: Value| {
        let app = &app;
        async move { app.admin(reqwest::Method::POST, &path, Some(body)).await }
    };
    let message = |v: &Value| v["error"]["message"].as_str().unwrap_or_default().to_owned();
    for provider in ["openai", "gemini"] {
        let start = format!("/admin/oauth/{provider}/start");
        let exchange = format!("/admin/oauth/{provider}/exchange");
        // Gemini logins name their Code Assist project; the others have none.
        let project = if provider == "gemini" {
            json!("proj-1")
        } else {
            Value::Null
        };

        // A pasted URL whose state is another login's: refused, not exchanged, session gone.
        let (status, s) = post(start.clone(), json!({})).await;
        assert_eq!(status, 200, "{s}");
        assert_eq!(s["expires_in"], 600);
        assert!(s.get("code_verifier").is_none() && s.get("verifier").is_none());
        let before = app.mock.token_requests().len();
        let body = json!({"session_id": s["session_id"], "project_id": project,
            "code": "http://localhost:1455/auth/callback?code=c&state=not-the-state"});
        let (status, v) = post(exchange.clone(), body.clone()).await;
        assert_eq!(
            (status, v["error"]["type"].as_str()),
            (400, Some("invalid_request")),
            "{v}"
        );
        assert!(message(&v).contains("state mismatch"), "{v}");
        assert_eq!(
            app.mock.token_requests().len(),
            before,
            "the code was not exchanged"
        );
        let (status, v) = post(exchange.clone(), body).await;
        assert_eq!(status, 400);
        assert!(message(&v).contains("unknown or expired"), "{v}");

        // A code the endpoint refuses (and echoes, percent-encoded as it was sent): its error
        // name, and neither the code nor tokens in the answer.
        let (_, s) = post(start.clone(), json!({})).await;
        app.mock.fail_next_token_refreshes(1);
        let refused = json!({"session_id": s["session_id"], "project_id": project,
            "code": "4/secret-code-123"});
        let (status, v) = post(exchange.clone(), refused.clone()).await;
        assert_eq!(status, 400, "{v}");
        assert!(
            message(&v).contains("refused the code (status 400): invalid_grant"),
            "{v}"
        );
        assert!(
            message(&v).contains("(code [code])"),
            "the echo was scrubbed: {v}"
        );
        assert!(!v.to_string().contains("secret-code-123"), "{v}");
        assert_eq!(app.mock.token_requests().len(), before + 1);
        let (status, _) = post(exchange.clone(), refused).await;
        assert_eq!(status, 400, "one attempt per session");
    }

    // A session belongs to the provider it was started for; project_id is Gemini's alone.
    let (_, s) = post("/admin/oauth/openai/start".into(), json!({})).await;
    let (status, v) = post(
        "/admin/oauth/openai/exchange".into(),
        json!({"session_id": s["session_id"], "code": "c", "project_id": "p"}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(message(&v).contains("gemini logins only"), "{v}");
    let (status, v) = post(
        "/admin/oauth/gemini/exchange".into(),
        json!({"session_id": s["session_id"], "code": "c", "project_id": "p"}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(message(&v).contains("unknown or expired"), "{v}");

    // A Gemini login without its project is refused before the session or the code is used:
    // such an account could never serve. The same session then completes with one.
    let (_, s) = post("/admin/oauth/gemini/start".into(), json!({})).await;
    let before = app.mock.token_requests().len();
    let (status, v) = post(
        "/admin/oauth/gemini/exchange".into(),
        json!({"session_id": s["session_id"], "code": "c", "project_id": " "}),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert!(message(&v).contains("needs project_id"), "{v}");
    assert_eq!(
        app.mock.token_requests().len(),
        before,
        "the code was not exchanged"
    );
    let (status, v) = post(
        "/admin/oauth/gemini/exchange".into(),
        json!({"session_id": s["session_id"], "code": "c", "project_id": "proj-2"}),
    )
    .await;
    assert_eq!(status, 201, "{v}");

    // Unknown providers are a 404 in the admin API's error shape; Claude's paths still work.
    for path in ["/admin/oauth/github/start", "/admin/oauth/github/exchange"] {
        let (status, v) = post(path.into(), json!({"session_id": "x", "code": "c"})).await;
        assert_eq!(
            (status, v["error"]["type"].as_str()),
            (404, Some("not_found")),
            "{v}"
        );
        assert!(message(&v).contains("claude, openai or gemini"), "{v}");
    }
    let (status, _) = post("/admin/oauth/claude/start".into(), json!({})).await;
    assert_eq!(status, 200);
    // Only the Gemini login that named its project created an account.
    let accounts = app.state.store.load_accounts().await.unwrap();
    assert_eq!(accounts.len(), 1, "{accounts:?}");
    assert_eq!(accounts[0].kind.as_str(), "gemini");
}

#[actix_web::test]
async fn an_unreachable_token_endpoint_is_a_502_that_shows_no_code() {
    let app = spawn_app_with(|s| s.upstream.gemini.token_url = "http://127.0.0.1:1/token".into()).await;
    let (_, s) = app
        .admin(
            reqwest::Method::POST,
            "/admin/oauth/gemini/start",
            Some(json!({})),
        )
        .await;
    let (status, v) = app
        .admin(
            reqwest::Method::POST,
            "/admin/oauth/gemini/exchange",
            Some(json!({"session_id": s["session_id"], "code": "secret-code-456", "project_id": "p"})),
        )
        .await;
    assert_eq!(
        (status, v["error"]["type"].as_str()),
        (502, Some("upstream_unreachable")),
        "{v}"
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("could not be reached"),
        "{v}"
    );
    assert!(!v.to_string().contains("secret-code-456"), "{v}");
}

#[actix_web::test]
async fn a_claude_code_credentials_file_is_imported_and_its_expired_token_refreshed() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(".credentials.json");
    let creds = json!({"claudeAiOauth": {
        "accessToken": "sk-ant-oat01-imported", "refreshToken": "sk-ant-ort01-imported",
        "expiresAt": now_ms() - 60_000, "scopes": ["user:inference", "user:profile"],
        "subscriptionType": "max",
    }});
    std::fs::write(&file, creds.to_string()).unwrap();
    let run = cli(
        &app,
        &[
            "account",
            "import",
            "claude",
            "--file",
            file.to_str().unwrap(),
            "--name",
            "laptop",
        ],
    )
    .await;
    assert!(
        run.ok().contains("Added claude-official account laptop"),
        "{run:?}"
    );
    let key = app.key().await;
    assert_eq!(app.post_messages(&key, &claude_body(false)).await.status(), 200);
    let tokens = app.mock.token_requests();
    assert_eq!(tokens.len(), 1, "one refresh");
    assert_eq!(
        tokens[0].param("refresh_token").as_deref(),
        Some("sk-ant-ort01-imported")
    );
    let bearer = app.mock.requests()[0].header("authorization").unwrap().to_owned();
    assert!(bearer.starts_with("Bearer mock-at-"), "{bearer}");
    let view = cli(&app, &["account", "show", "laptop", "--json"]).await.json();
    assert_eq!(view["extra"]["subscription_type"], "max");

    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{}").unwrap();
    let bad = cli(
        &app,
        &["account", "import", "claude", "--file", broken.to_str().unwrap()],
    )
    .await;
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr.contains("broken.json") && bad.stderr.contains("claudeAiOauth"),
        "{bad:?}"
    );
}

#[actix_web::test]
async fn codex_and_gemini_token_files_are_imported() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let codex = dir.path().join("auth.json");
    let claims = URL_SAFE_NO_PAD.encode(json!({"exp": 2_000_000_000}).to_string());
    std::fs::write(
        &codex,
        json!({"tokens": {"access_token": format!("h.{claims}.s"), "refresh_token": "rt",
            "id_token": "x.y.z", "account_id": "acc-123"}})
        .to_string(),
    )
    .unwrap();
    let v = cli(
        &app,
        &[
            "account",
            "import",
            "codex",
            "--file",
            codex.to_str().unwrap(),
            "--json",
        ],
    )
    .await
    .json();
    assert_eq!(v["kind"], "openai");
    assert_eq!(v["extra"]["chatgpt_account_id"], "acc-123");
    assert_eq!(v["token_expires_at"], 2_000_000_000_000i64);

    let gemini = dir.path().join("oauth_creds.json");
    std::fs::write(
        &gemini,
        json!({"access_token": "ya29.x", "refresh_token": "1//r", "expiry_date": 1_900_000_000_000i64})
            .to_string(),
    )
    .unwrap();
    let needs_project = cli(
        &app,
        &["account", "import", "gemini", "--file", gemini.to_str().unwrap()],
    )
    .await;
    assert_eq!(needs_project.code, 2);
    assert!(needs_project.stderr.contains("--project-id"), "{needs_project:?}");
    let v = cli(
        &app,
        &[
            "account",
            "import",
            "gemini",
            "--file",
            gemini.to_str().unwrap(),
            "--project-id",
            "proj-1",
            "--json",
        ],
    )
    .await
    .json();
    assert_eq!(
        (v["kind"].as_str(), v["extra"]["project_id"].as_str()),
        (Some("gemini"), Some("proj-1"))
    );
}

#[actix_web::test]
async fn config_check_prints_masked_settings_and_rejects_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        "[server]\nport = 3999\n[admin]\ntoken = \"sya_very-secret-admin-token-0000000000009876\"\n\
         [upstream.gemini]\noauth_client_secret = \"GOCSPX-not-for-your-eyes\"\n",
    )
    .unwrap();
    let run = run_raw(
        vec![
            "config".into(),
            "check".into(),
            "--config".into(),
            good.display().to_string(),
        ],
        None,
    )
    .await;
    let out = run.ok();
    assert!(out.contains("server.port = 3999"), "{out}");
    assert!(out.contains("admin.token = \"****9876\""), "{out}");
    assert!(
        !out.contains("very-secret") && !out.contains("not-for-your-eyes"),
        "{out}"
    );
    assert!(out.contains("upstream.claude.authorize_url = \"https://claude.ai/oauth/authorize\""));

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[relay]\nmax_attempts = 0\n").unwrap();
    let run = run_raw(
        vec![
            "config".into(),
            "check".into(),
            "--config".into(),
            bad.display().to_string(),
        ],
        None,
    )
    .await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("relay.max_attempts"), "{run:?}");
    std::fs::write(&bad, "[server]\nprot = 1\n").unwrap();
    let run = run_raw(
        vec![
            "config".into(),
            "check".into(),
            "--config".into(),
            bad.display().to_string(),
        ],
        None,
    )
    .await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("prot"), "{run:?}");
}
