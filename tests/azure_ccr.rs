//! CCR and Azure OpenAI accounts end to end: real HTTP to switchyard on 127.0.0.1, the mock
//! upstream speaking Anthropic (CCR) and Azure OpenAI (deployment paths, api-version, api-key).
mod support;

use mock_upstream::{Fault, MockUsage};
use reqwest::Method;
use serde_json::{Value, json};
use support::*;

async fn add_ccr(app: &TestApp, name: &str, key: &str, priority: u32) -> String {
    app.add_account(json!({
        "name": name, "kind": "ccr", "api_key": key, "priority": priority,
        "models": {"claude-sonnet-5": "deepseek,deepseek-chat"},
    }))
    .await
}

async fn add_azure(app: &TestApp, name: &str, key: &str, extra: Value) -> String {
    app.add_account(json!({
        "name": name, "kind": "azure-openai", "api_key": key,
        "base_url": format!("{}/", app.mock.url()),
        "models": {"gpt-4o": "dep-4o", "gpt-5": "dep-5"},
        "extra": extra,
    }))
    .await
}

async fn openai_post(app: &TestApp, key: &str, path: &str, body: &Value) -> reqwest::Response {
    app.http
        .post(app.url(path))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .unwrap()
}

fn chat_body(stream: bool) -> Value {
    json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "stream": stream})
}

#[actix_web::test]
async fn ccr_accounts_serve_messages_with_their_model_mapping_and_usage_recorded() {
    let app = spawn_app().await;
    add_ccr(&app, "ccr", "ccr-key", 50).await;
    let (key_id, key) = app.create_key(json!({})).await;
    let resp = app.post_messages(&key, &claude_body(false)).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "message");
    let resp = app.post_messages(&key, &claude_body(true)).await;
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let text = resp.text().await.unwrap();
    assert!(text.contains("event: message_stop"), "{text}");
    let seen = app.mock.requests_for("ccr-key");
    assert_eq!(seen.len(), 2);
    for r in &seen {
        assert_eq!(r.path, "/v1/messages");
        assert_eq!(
            r.json()["model"],
            "deepseek,deepseek-chat",
            "the account's mapping applies"
        );
        assert_eq!(r.header("authorization"), Some("Bearer ccr-key"));
        assert!(r.headers.iter().all(|(_, v)| !v.contains(&key)));
    }
    let usage = app.wait_for_usage(&key_id, 2).await;
    assert_eq!((usage.input_tokens, usage.output_tokens), (50, 24));
    let tokens = app
        .http
        .post(app.url("/v1/messages/count_tokens"))
        .header("x-api-key", &key)
        .json(&json!({"model": "claude-sonnet-5", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(tokens.status(), 200, "count_tokens goes to the CCR endpoint");
    let r = app.mock.requests().last().unwrap().clone();
    assert_eq!(r.path, "/v1/messages/count_tokens");
    assert_eq!(r.json()["model"], "deepseek,deepseek-chat");
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn a_failing_ccr_account_fails_over_to_a_console_account_before_the_first_byte() {
    let app = spawn_app().await;
    let ccr = add_ccr(&app, "ccr", "ccr-key", 1).await;
    app.add_account(json!({"name": "console", "api_key": "sk-ant-c", "priority": 90}))
        .await;
    app.mock.enqueue(
        "ccr-key",
        Fault::anthropic_error(529, "overloaded_error", "Overloaded"),
    );
    let (key_id, key) = app.create_key(json!({})).await;
    let resp = app.post_messages(&key, &claude_body(true)).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("message_stop"));
    assert_eq!(
        app.mock.requests_for("ccr-key").len(),
        1,
        "the CCR account was tried first"
    );
    assert_eq!(
        app.mock.requests_for("sk-ant-c").len(),
        1,
        "then the console account"
    );
    let usage = app.wait_for_usage(&key_id, 1).await;
    assert_eq!((usage.input_tokens, usage.output_tokens), (25, 12));
    let account = app.account(&ccr).await;
    assert!(
        account["cooldown"].is_object(),
        "the overloaded CCR account rests: {account}"
    );
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn azure_chat_completions_go_to_the_deployment_with_api_version_and_api_key() {
    let app = spawn_app().await;
    let id = add_azure(&app, "az", "azure-key-1", json!({})).await;
    let shown = app.account(&id).await;
    assert!(
        !shown.to_string().contains("azure-key-1"),
        "the key is never echoed: {shown}"
    );
    app.mock.set_usage(
        "azure-key-1",
        MockUsage {
            input_tokens: 30,
            output_tokens: 5,
            cache_read: 10,
            ..Default::default()
        },
    );
    let (key_id, key) = app.create_key(json!({})).await;
    for path in ["/azure/chat/completions", "/azure/v1/chat/completions"] {
        let v: Value = openai_post(&app, &key, path, &chat_body(false))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(v["object"], "chat.completion", "{v}");
    }
    // A stream without include_usage: switchyard asks for usage and hides the extra chunk.
    let text = openai_post(&app, &key, "/azure/chat/completions", &chat_body(true))
        .await
        .text()
        .await
        .unwrap();
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    assert!(
        !text.contains("\"choices\":[]"),
        "the usage chunk is hidden: {text}"
    );
    for r in app.mock.requests_for("azure-key-1") {
        assert_eq!(r.path, "/openai/deployments/dep-4o/chat/completions");
        assert_eq!(r.query, "api-version=2024-10-21");
        assert_eq!(r.header("api-key"), Some("azure-key-1"));
        assert!(r.header("authorization").is_none(), "the client's key stays here");
    }
    app.state.usage.drain().await.unwrap();
    let u = app.wait_for_usage(&key_id, 3).await;
    assert_eq!(
        (u.input_tokens, u.cache_read_tokens, u.output_tokens),
        (90, 30, 15)
    );
    assert!(u.cost.micros() > 0, "Azure is billed at the model's price");
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn azure_serves_responses_on_the_v1_api_and_takes_entra_tokens() {
    let app = spawn_app().await;
    add_azure(&app, "az", "eyJ0eXAiOiJKV1QifQ.entra.token", json!({})).await;
    let (key_id, key) = app.create_key(json!({})).await;
    let body = json!({"model": "gpt-5", "input": "Say hi"});
    for path in ["/azure/responses", "/openai/v1/responses", "/v1/responses"] {
        let resp = openai_post(&app, &key, path, &body).await;
        assert_eq!(resp.status(), 200, "{path}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["object"], "response");
    }
    let stream = json!({"model": "gpt-5", "input": "Say hi", "stream": true});
    let text = openai_post(&app, &key, "/azure/v1/responses", &stream)
        .await
        .text()
        .await
        .unwrap();
    assert!(text.contains("response.completed"), "{text}");
    for r in app.mock.requests() {
        assert_eq!(r.path, "/openai/v1/responses");
        assert_eq!(r.json()["model"], "dep-5", "the deployment goes in the body");
        assert_eq!(
            r.header("authorization"),
            Some("Bearer eyJ0eXAiOiJKV1QifQ.entra.token")
        );
        assert!(r.header("api-key").is_none());
    }
    let u = app.wait_for_usage(&key_id, 4).await;
    assert_eq!((u.input_tokens, u.output_tokens), (100, 48));
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn azure_throttling_fails_over_and_a_content_filter_answer_reaches_the_client() {
    let app = spawn_app().await;
    let first = add_azure(
        &app,
        "az-1",
        "azure-key-1",
        json!({"api_version": "2025-04-01-preview"}),
    )
    .await;
    app.add_account(json!({
        "name": "az-2", "kind": "azure-openai", "api_key": "azure-key-2", "priority": 90,
        "base_url": app.mock.url(), "extra": {"deployment": "shared"},
    }))
    .await;
    app.mock.enqueue(
        "azure-key-1",
        Fault::openai_error(
            429,
            "429",
            "Requests to the ChatCompletions_Create Operation have exceeded the rate limit",
        )
        .with_header("retry-after-ms", "30000")
        .with_header("retry-after", "90"),
    );
    let key = app.key().await;
    let before = now_ms();
    let resp = openai_post(&app, &key, "/azure/chat/completions", &chat_body(false)).await;
    assert_eq!(resp.status(), 200);
    let to_second = app.mock.requests_for("azure-key-2");
    assert_eq!(to_second.len(), 1);
    assert_eq!(to_second[0].path, "/openai/deployments/shared/chat/completions");
    let rested = app.account(&first).await;
    let until = rested["cooldown"]["until"].as_i64().unwrap_or_default();
    assert!(
        (before + 29_000..=now_ms() + 30_000).contains(&until),
        "Azure's retry-after-ms sets the rest: {rested}"
    );
    let first_call = &app.mock.requests_for("azure-key-1")[0];
    assert_eq!(first_call.query, "api-version=2025-04-01-preview");

    app.mock.enqueue(
        "azure-key-2",
        Fault::openai_error(
            400,
            "content_filter",
            "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.",
        ),
    );
    let resp = openai_post(&app, &key, "/azure/chat/completions", &chat_body(false)).await;
    assert_eq!(resp.status(), 400, "the request's own fault goes back");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "content_filter", "{v}");
    assert_eq!(
        app.mock.requests_for("azure-key-2").len(),
        2,
        "not retried elsewhere"
    );
    let (status, v) = app.admin(Method::GET, "/admin/accounts", None).await;
    assert_eq!(status, 200);
    assert!(
        !v.to_string().contains("azure-key-"),
        "no key in the listing: {v}"
    );
    app.assert_slots_released().await;
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// `switchyard …` (the real binary) against `app`, `stdin` fed to it, off the test's thread
/// (the server's actors live on it).
async fn cli(app: &TestApp, command: &str, stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut args: Vec<String> = command.split(' ').map(str::to_owned).collect();
    args.extend([
        "--url".into(),
        app.base.clone(),
        "--token".into(),
        ADMIN_TOKEN.into(),
    ]);
    let stdin = stdin.to_owned();
    actix_web::rt::task::spawn_blocking(move || {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .args(&args)
            .env_remove("SWITCHYARD_URL")
            .env_remove("SWITCHYARD_ADMIN_TOKEN")
            .current_dir(std::env::temp_dir())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("binary starts");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("stdin written");
        child.wait_with_output().expect("binary ends")
    })
    .await
    .expect("runner thread")
}

/// [`cli`], which must succeed: its standard output.
async fn cli_ok(app: &TestApp, command: &str, stdin: &str) -> String {
    let out = cli(app, command, stdin).await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{command}: {stdout} {stderr}");
    stdout
}

#[actix_web::test]
async fn the_cli_adds_both_kinds_with_their_settings_and_never_prints_a_key() {
    let app = spawn_app().await;
    let base = app.mock.url();
    let azure = cli_ok(
        &app,
        &format!(
            "account add --kind azure-openai --name az --base-url {base} --api-key - \
             --model-map gpt-4o=dep-4o --extra api_version=2025-04-01-preview --json"
        ),
        "azure-cli-key\n",
    )
    .await;
    let ccr = cli_ok(
        &app,
        &format!("account add --kind ccr --name router --base-url {base} --api-key - --json"),
        "ccr-cli-key\n",
    )
    .await;
    let status = cli_ok(&app, "status", "").await;
    let listing = cli_ok(&app, "account list", "").await;
    for text in [&status, &listing, &azure, &ccr] {
        assert!(!text.contains("cli-key"), "a key was printed: {text}");
    }
    for text in [&status, &listing] {
        assert!(text.contains("az") && text.contains("router"), "{text}");
    }
    let azure: Value = serde_json::from_str(&azure).unwrap();
    let ccr: Value = serde_json::from_str(&ccr).unwrap();
    assert_eq!(
        (azure["kind"].as_str(), azure["platform"].as_str()),
        (Some("azure-openai"), Some("openai"))
    );
    assert_eq!(azure["extra"]["api_version"], "2025-04-01-preview");
    assert_eq!(
        (ccr["kind"].as_str(), ccr["platform"].as_str()),
        (Some("ccr"), Some("claude"))
    );
    let key = app.key().await;
    let resp = openai_post(&app, &key, "/azure/chat/completions", &chat_body(false)).await;
    assert_eq!(resp.status(), 200);
    let r = app.mock.requests_for("azure-cli-key");
    assert_eq!(r[0].path, "/openai/deployments/dep-4o/chat/completions");
    assert_eq!(r[0].query, "api-version=2025-04-01-preview");
    let bad = cli(
        &app,
        &format!("account add --kind azure-openai --name bad --base-url {base} --api-key k --extra novalue"),
        "",
    )
    .await;
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("expected key=value"));
}
