//! The `bedrock` account kind through a real switchyard: Anthropic Messages clients served by
//! the mock's Bedrock runtime API (SigV4 verified by the mock), with usage and cost recorded,
//! Bedrock's error classes resting the account or going back as Anthropic errors, and failover
//! between a Bedrock and a console account before the first byte.

mod support;

use mock_upstream::{BEDROCK_SECRET_ACCESS_KEY, Fault, MockUsage};
use serde_json::{Value, json};
use support::{TestApp, spawn_app};
use switchyard::pricing::cost_of;
use switchyard::usage::TokenUsage;

const KEY_ID: &str = "AKIAMOCKBEDROCK00001";
const MODEL: &str = "claude-sonnet-4-5-20250929";

fn stored_secret(secret: &str) -> String {
    json!({"region": "us-east-1", "access_key_id": KEY_ID, "secret_access_key": secret}).to_string()
}

async fn add_bedrock(app: &TestApp, secret: &str, priority: u32) -> String {
    app.add_account(json!({
        "name": "bedrock",
        "kind": "bedrock",
        "api_key": stored_secret(secret),
        "priority": priority,
    }))
    .await
}

fn body(stream: bool, prompt: &str) -> Value {
    json!({
        "model": MODEL,
        "max_tokens": 64,
        "stream": stream,
        "messages": [{"role": "user", "content": prompt}],
    })
}

#[actix_web::test]
async fn stream_and_json_are_served_by_bedrock_with_usage_and_anthropic_price() {
    let app = spawn_app().await;
    let id = add_bedrock(&app, BEDROCK_SECRET_ACCESS_KEY, 1).await;
    let usage = MockUsage {
        input_tokens: 40,
        output_tokens: 9,
        cache_read: 5,
        ..MockUsage::default()
    };
    app.mock.set_usage(KEY_ID, usage);
    let (key_id, key) = app.create_key(json!({})).await;

    let resp = app
        .post_messages(&key, &body(true, "MOCK_TOOL_CALL:get_weather"))
        .await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let text = resp.text().await.unwrap();
    assert!(text.starts_with("event: message_start\ndata: "), "{text}");
    assert!(
        text.contains("\"tool_use\"") && text.contains("get_weather"),
        "{text}"
    );
    assert!(text.contains("event: message_stop"), "{text}");

    let resp = app.post_messages(&key, &body(false, "hi")).await;
    assert_eq!(resp.status(), 200);
    let message: Value = resp.json().await.unwrap();
    assert_eq!(message["type"], "message");
    assert_eq!(message["usage"]["output_tokens"], 9);

    let sent = app.mock.requests_for(KEY_ID);
    assert_eq!(sent.len(), 2);
    assert!(
        sent[0].path.ends_with("/invoke-with-response-stream"),
        "{}",
        sent[0].path
    );
    assert!(sent[1].path.ends_with("/invoke"), "{}", sent[1].path);
    for r in &sent {
        assert!(
            r.headers.iter().all(|(_, v)| !v.contains(&key)),
            "client key forwarded"
        );
        assert!(r.headers.iter().all(|(n, _)| n != "x-api-key"));
    }

    let counted = app.wait_for_usage(&key_id, 2).await;
    assert_eq!(
        (
            counted.input_tokens,
            counted.output_tokens,
            counted.cache_read_tokens
        ),
        (80, 18, 10)
    );
    // Priced as the Anthropic model the Bedrock id stands for (Bedrock's list prices for
    // Claude are Anthropic's), twice.
    let one = TokenUsage {
        input_tokens: 40,
        output_tokens: 9,
        cache_read_tokens: 5,
        ..TokenUsage::default()
    };
    let price = app.state.usage.pricing().book().price(MODEL);
    let expected = cost_of(&price, MODEL, &one, 1_000_000).real;
    assert!(expected.picos() > 0);
    assert_eq!(counted.cost.picos(), 2 * expected.picos());

    // The secret is never shown back.
    let view = app.account(&id).await;
    let (_, list) = app.admin(reqwest::Method::GET, "/admin/accounts", None).await;
    for shown in [view.to_string(), list.to_string()] {
        assert!(!shown.contains(BEDROCK_SECRET_ACCESS_KEY), "{shown}");
    }
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn count_tokens_goes_to_bedrock_count_tokens_and_answers_in_anthropics_shape() {
    let app = spawn_app().await;
    add_bedrock(&app, BEDROCK_SECRET_ACCESS_KEY, 1).await;
    let key = app.key().await;
    let resp = app
        .http
        .post(app.url("/v1/messages/count_tokens"))
        .header("x-api-key", &key)
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": MODEL, "messages": [{"role": "user", "content": "count me"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let answer: Value = resp.json().await.unwrap();
    assert!(answer["input_tokens"].as_u64().is_some_and(|n| n > 0), "{answer}");
    let sent = app.mock.requests_for(KEY_ID);
    assert!(sent[0].path.ends_with("/count-tokens"), "{}", sent[0].path);
}

/// Bedrock account (priority 1) fails with `fault`; the console account serves; the Bedrock
/// account rests with `reason`.
async fn bedrock_fails_over_to_console(secret: &str, fault: Option<Fault>, reason: &str) {
    let app = spawn_app().await;
    let bedrock = add_bedrock(&app, secret, 1).await;
    app.add_account(json!({"name": "console", "api_key": "sk-ant-b", "priority": 2}))
        .await;
    let key = app.key().await;
    if let Some(f) = fault {
        app.mock.enqueue(KEY_ID, f);
    }
    let resp = app.post_messages(&key, &body(true, "hi")).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("message_stop"));
    assert_eq!(app.mock.requests_for("sk-ant-b").len(), 1);
    let view = app.account(&bedrock).await;
    assert_eq!(view["cooldown"]["reason"], reason, "{view}");
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn throttling_rests_the_bedrock_account_and_the_console_account_serves() {
    let throttled = Fault::bedrock_error(429, "ThrottlingException", "Too many requests");
    bedrock_fails_over_to_console(BEDROCK_SECRET_ACCESS_KEY, Some(throttled), "rate_limit").await;
}

#[actix_web::test]
async fn a_quota_answer_rests_the_account_like_a_rate_limit() {
    let quota = Fault::bedrock_error(400, "ServiceQuotaExceededException", "quota");
    bedrock_fails_over_to_console(BEDROCK_SECRET_ACCESS_KEY, Some(quota), "rate_limit").await;
}

#[actix_web::test]
async fn a_wrong_secret_is_a_rejected_credential_and_another_account_serves() {
    bedrock_fails_over_to_console("not-the-mocks-secret", None, "auth_error").await;
}

#[actix_web::test]
async fn a_failing_console_account_fails_over_to_bedrock() {
    let app = spawn_app().await;
    let console = app
        .add_account(json!({"name": "console", "api_key": "sk-ant-a", "priority": 1}))
        .await;
    add_bedrock(&app, BEDROCK_SECRET_ACCESS_KEY, 2).await;
    let key = app.key().await;
    app.mock.enqueue(
        "sk-ant-a",
        Fault::anthropic_error(529, "overloaded_error", "busy"),
    );
    let resp = app.post_messages(&key, &body(true, "hi")).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("message_stop"));
    assert_eq!(app.mock.requests_for(KEY_ID).len(), 1);
    assert!(!app.account(&console).await["cooldown"].is_null());
}

#[actix_web::test]
async fn validation_errors_go_back_as_anthropic_invalid_request_without_failover() {
    let app = spawn_app().await;
    let bedrock = add_bedrock(&app, BEDROCK_SECRET_ACCESS_KEY, 1).await;
    app.add_account(json!({"name": "console", "api_key": "sk-ant-b", "priority": 2}))
        .await;
    let key = app.key().await;
    app.mock.enqueue(
        KEY_ID,
        Fault::bedrock_error(400, "ValidationException", "max_tokens: too big"),
    );
    let resp = app.post_messages(&key, &body(false, "hi")).await;
    assert_eq!(resp.status(), 400);
    let error: Value = resp.json().await.unwrap();
    assert_eq!(error["type"], "error");
    assert_eq!(error["error"]["type"], "invalid_request_error");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_tokens: too big")
    );
    assert_eq!(app.mock.requests_for("sk-ant-b").len(), 0);
    assert!(app.account(&bedrock).await["cooldown"].is_null());
}

#[actix_web::test]
async fn the_last_accounts_error_reaches_the_client_in_anthropics_format() {
    let app = spawn_app().await;
    add_bedrock(&app, BEDROCK_SECRET_ACCESS_KEY, 1).await;
    let key = app.key().await;
    app.mock.enqueue(
        KEY_ID,
        Fault::bedrock_error(503, "ServiceUnavailableException", "try later"),
    );
    let resp = app.post_messages(&key, &body(false, "hi")).await;
    assert_eq!(resp.status(), 529);
    let error: Value = resp.json().await.unwrap();
    assert_eq!(error["error"]["type"], "overloaded_error", "{error}");
}

#[actix_web::test]
async fn mid_stream_throttling_reaches_the_client_as_an_error_event_and_rests_the_account() {
    let app = spawn_app().await;
    let bedrock = add_bedrock(&app, BEDROCK_SECRET_ACCESS_KEY, 1).await;
    app.add_account(json!({"name": "console", "api_key": "sk-ant-b", "priority": 2}))
        .await;
    let key = app.key().await;
    app.mock.enqueue(KEY_ID, Fault::InBandError { after_events: 2 });
    let resp = app.post_messages(&key, &body(true, "hi")).await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert!(text.contains("event: message_start"), "{text}");
    assert!(
        text.contains("event: error") && text.contains("rate_limit_error"),
        "{text}"
    );
    assert_eq!(
        app.mock.requests_for("sk-ant-b").len(),
        0,
        "no failover after the first byte"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while app.account(&bedrock).await["cooldown"].is_null() {
        assert!(std::time::Instant::now() < deadline, "the account did not rest");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(app.account(&bedrock).await["cooldown"]["reason"], "rate_limit");
}

/// Runs the real binary against `app` with `envs` set (no secret on its command line), off the
/// test's thread (the server's actors live on it).
async fn switchyard_cli(app: &TestApp, args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"));
    c.args(args)
        .args(["--url", &app.base, "--token", support::ADMIN_TOKEN])
        .env_remove("SWITCHYARD_URL")
        .env_remove("SWITCHYARD_ADMIN_TOKEN")
        .current_dir(std::env::temp_dir());
    for var in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_BEARER_TOKEN_BEDROCK",
    ] {
        c.env_remove(var);
    }
    c.envs(envs.iter().copied());
    actix_web::rt::task::spawn_blocking(move || c.output().expect("the binary runs"))
        .await
        .expect("runner thread")
}

#[actix_web::test]
async fn the_cli_adds_bedrock_accounts_from_an_aws_profile_and_the_environment_without_echoing_secrets() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("credentials");
    let config = dir.path().join("config");
    std::fs::write(
        &creds,
        format!("[default]\naws_access_key_id = AKIADEFAULT000000001\n\n[work]\naws_access_key_id = {KEY_ID}\naws_secret_access_key = {BEDROCK_SECRET_ACCESS_KEY}\n"),
    )
    .unwrap();
    std::fs::write(&config, "[profile work]\nregion = eu-west-1\n").unwrap();
    let files = [
        ("AWS_SHARED_CREDENTIALS_FILE", creds.to_str().unwrap()),
        ("AWS_CONFIG_FILE", config.to_str().unwrap()),
    ];
    let mock = app.mock.url();
    let base = ["account", "add", "--kind", "bedrock", "--base-url", mock.as_str()];

    let added = app_cli(
        &app,
        &[&base[..], &["--name", "from-profile", "--aws-profile", "work"]].concat(),
        &files,
    )
    .await;
    let env = [
        ("AWS_ACCESS_KEY_ID", "ASIAMOCKBEDROCK00002"),
        ("AWS_SECRET_ACCESS_KEY", BEDROCK_SECRET_ACCESS_KEY),
        ("AWS_SESSION_TOKEN", "fake-session-token-mock"),
        ("AWS_REGION", "us-west-2"),
    ];
    let from_env = app_cli(
        &app,
        &[&base[..], &["--name", "from-env", "--aws-env"]].concat(),
        &env,
    )
    .await;
    let missing = switchyard_cli(
        &app,
        &[&base[..], &["--name", "x", "--aws-profile", "nope"]].concat(),
        &files,
    )
    .await;
    assert_ne!(missing.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("nope"));

    let list = switchyard_cli(&app, &["account", "list", "--json"], &[]).await;
    let shown = [
        added,
        from_env,
        String::from_utf8_lossy(&list.stdout).into_owned(),
        app.admin(reqwest::Method::GET, "/admin/accounts", None)
            .await
            .1
            .to_string(),
    ];
    for text in &shown {
        assert!(
            !text.contains(BEDROCK_SECRET_ACCESS_KEY) && !text.contains("fake-session-token-mock"),
            "{text}"
        );
    }
    assert!(
        shown[2].contains("from-profile") && shown[2].contains("from-env"),
        "{}",
        shown[2]
    );

    // Both accounts serve (the mock verifies each signature).
    let key = app.key().await;
    for _ in 0..2 {
        assert_eq!(app.post_messages(&key, &body(false, "hi")).await.status(), 200);
    }
    let served = app.mock.requests_for(KEY_ID).len() + app.mock.requests_for("ASIAMOCKBEDROCK00002").len();
    assert_eq!(served, 2);
}

async fn app_cli(app: &TestApp, args: &[&str], envs: &[(&str, &str)]) -> String {
    let out = switchyard_cli(app, args, envs).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[actix_web::test]
async fn admin_refuses_bedrock_credentials_of_the_wrong_shape_without_echoing_them() {
    let app = spawn_app().await;
    let (status, answer) = app
        .admin(
            reqwest::Method::POST,
            "/admin/accounts",
            Some(json!({"name": "b", "kind": "bedrock", "api_key": r#"{"access_key_id":"AKIAMOCKBEDROCK00001","secret_access_key":"s3cr3tValue"}"#})),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    let text = answer.to_string();
    assert!(text.contains("region") && !text.contains("s3cr3tValue"), "{text}");
}

/// A model Bedrock has no id for is this account's unfitness, not the client's fault: in a pool
/// that mixes Bedrock and Anthropic accounts the request goes on to the Anthropic account,
/// and Bedrock is not rested. Alone, Bedrock answers 400 naming the model.
#[actix_web::test]
async fn a_model_bedrock_does_not_know_goes_to_another_account_without_resting_bedrock() {
    let app = spawn_app().await;
    let bedrock = add_bedrock(&app, BEDROCK_SECRET_ACCESS_KEY, 1).await;
    let key = app.key().await;
    let mut unknown = body(false, "hi");
    unknown["model"] = json!("claude-unknown-9");
    let alone = app.post_messages(&key, &unknown).await;
    assert_eq!(alone.status(), 400);
    let error: Value = alone.json().await.unwrap();
    assert_eq!(error["error"]["type"], "invalid_request_error", "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("claude-unknown-9"),
        "{error}"
    );

    app.add_account(json!({"name": "console", "api_key": "sk-ant-b", "priority": 2}))
        .await;
    let mixed = app.post_messages(&key, &unknown).await;
    assert_eq!(mixed.status(), 200, "served by the console account");
    assert_eq!(app.mock.requests_for("sk-ant-b").len(), 1);
    assert_eq!(
        app.mock.requests_for(KEY_ID).len(),
        0,
        "nothing was sent to Bedrock"
    );
    assert!(
        app.account(&bedrock).await["cooldown"].is_null(),
        "Bedrock is not rested"
    );
    // And Bedrock still serves the models it knows, first by priority (a new conversation: the
    // first one now sticks to the console account).
    assert_eq!(
        app.post_messages(&key, &body(false, "another conversation"))
            .await
            .status(),
        200
    );
    assert_eq!(app.mock.requests_for(KEY_ID).len(), 1);
    app.assert_slots_released().await;
}
