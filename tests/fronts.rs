//! The OpenAI chat front over real HTTP: chat completions served by Claude and Gemini accounts
//! (the mock upstream speaking their own formats), routing by model, errors in OpenAI's format,
//! usage of the upstream that served, failover through the front.
mod support;

use mock_upstream::{Fault, MockUsage};
use serde_json::{Value, json};
use support::*;

fn chat(model: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "stream": stream,
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}],
    })
}

async fn post(app: &TestApp, key: &str, path: &str, body: &Value) -> reqwest::Response {
    app.http
        .post(app.url(path))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn add_gemini_api(app: &TestApp, name: &str, key: &str) -> String {
    app.add_account(json!({"name": name, "kind": "gemini-api", "base_url": null, "api_key": key}))
        .await
}

/// The `data:` payloads of an SSE answer, `[DONE]` included.
fn data_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(str::to_owned)
        .collect()
}

#[actix_web::test]
async fn claude_accounts_answer_chat_completions_with_exact_usage() {
    let app = spawn_app().await;
    app.add_console("c", "sk-ant-c").await;
    app.mock.set_usage(
        "sk-ant-c",
        MockUsage {
            input_tokens: 11,
            output_tokens: 7,
            cache_read: 5,
            ..Default::default()
        },
    );
    let (key_id, key) = app.create_key(json!({})).await;
    for path in [
        "/openai/claude/v1/chat/completions",
        "/v1/chat/completions",
        "/api/v1/chat/completions",
        "/openai/v1/chat/completions",
    ] {
        let resp = post(&app, &key, path, &chat("claude-sonnet-4-5", false)).await;
        assert_eq!(resp.status(), 200, "{path}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["object"], "chat.completion", "{v}");
        assert!(v["choices"][0]["message"]["content"].is_string(), "{v}");
        assert_eq!(v["choices"][0]["finish_reason"], "stop");
        // OpenAI counts cached tokens in the prompt and shows them apart.
        assert_eq!(v["usage"]["prompt_tokens"], 16, "{v}");
        assert_eq!(v["usage"]["prompt_tokens_details"]["cached_tokens"], 5);
        assert_eq!(v["usage"]["completion_tokens"], 7);
        let sent = app.mock.requests_for("sk-ant-c");
        let last = sent.last().unwrap();
        assert_eq!(last.path, "/v1/messages");
        let body: Value = serde_json::from_slice(&last.body).unwrap();
        assert_eq!(body["system"][0]["text"], "Be brief.", "{body}");
        assert_eq!(body["messages"][0]["role"], "user");
        assert_client_key_withheld(last, &key, ("x-api-key", "sk-ant-c"));
    }
    let usage = app.wait_for_usage(&key_id, 4).await;
    assert_eq!(
        (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens),
        (44, 28, 20)
    );
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn a_claude_stream_is_chat_chunks_with_usage_when_asked() {
    let app = spawn_app().await;
    app.add_console("c", "sk-ant-c").await;
    let (key_id, key) = app.create_key(json!({})).await;
    let mut body = chat("claude-sonnet-4-5", true);
    body["stream_options"] = json!({"include_usage": true});
    let resp = post(&app, &key, "/v1/chat/completions", &body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let lines = data_lines(&resp.text().await.unwrap());
    assert_eq!(lines.last().map(String::as_str), Some("[DONE]"), "{lines:?}");
    let chunks: Vec<Value> = lines[..lines.len() - 1]
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(chunks.iter().all(|c| c["object"] == "chat.completion.chunk"));
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert!(!text.is_empty());
    let usage = &chunks.last().unwrap()["usage"];
    assert_eq!(
        (
            usage["prompt_tokens"].as_u64(),
            usage["completion_tokens"].as_u64()
        ),
        (Some(25), Some(12))
    );
    // Without include_usage no usage chunk, but the usage is recorded all the same.
    let resp = post(
        &app,
        &key,
        "/v1/chat/completions",
        &chat("claude-sonnet-4-5", true),
    )
    .await;
    let text = resp.text().await.unwrap();
    assert!(!text.contains("\"usage\":{"), "{text}");
    let usage = app.wait_for_usage(&key_id, 2).await;
    assert_eq!((usage.input_tokens, usage.output_tokens), (50, 24));
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn gemini_accounts_answer_chat_completions_json_and_stream() {
    let app = spawn_app().await;
    add_gemini_api(&app, "g", "AIza-g").await;
    app.mock.set_usage(
        "AIza-g",
        MockUsage {
            input_tokens: 100,
            output_tokens: 10,
            cache_read: 40,
            ..Default::default()
        },
    );
    let (key_id, key) = app.create_key(json!({})).await;
    let resp = post(
        &app,
        &key,
        "/openai/gemini/v1/chat/completions",
        &chat("gemini-2.5-flash", false),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion", "{v}");
    assert!(v["choices"][0]["message"]["content"].is_string(), "{v}");
    assert_eq!(v["usage"]["completion_tokens"], 10, "{v}");
    assert_eq!(v["usage"]["prompt_tokens_details"]["cached_tokens"], 40, "{v}");
    let last = app.mock.requests_for("AIza-g").pop().unwrap();
    assert_eq!(last.path, "/v1beta/models/gemini-2.5-flash:generateContent");
    let sent: Value = serde_json::from_slice(&last.body).unwrap();
    assert!(
        sent["contents"].is_array() && sent["systemInstruction"].is_object(),
        "{sent}"
    );

    let mut body = chat("gemini-2.5-flash", true);
    body["stream_options"] = json!({"include_usage": true});
    let resp = post(&app, &key, "/v1/chat/completions", &body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let lines = data_lines(&resp.text().await.unwrap());
    assert_eq!(lines.last().map(String::as_str), Some("[DONE]"));
    let last_chunk: Value = serde_json::from_str(&lines[lines.len() - 2]).unwrap();
    assert_eq!(last_chunk["usage"]["completion_tokens"], 10, "{lines:?}");
    let streamed = app.mock.requests_for("AIza-g").pop().unwrap();
    assert_eq!(
        streamed.path,
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    );
    assert_eq!(streamed.query, "alt=sse");
    let usage = app.wait_for_usage(&key_id, 2).await;
    assert_eq!((usage.output_tokens, usage.cache_read_tokens), (20, 80));
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn bad_input_gets_openai_400s_naming_the_field() {
    let app = spawn_app().await;
    app.add_console("c", "sk-ant-c").await;
    add_gemini_api(&app, "g", "AIza-g").await;
    let (_, key) = app.create_key(json!({})).await;
    let error = |v: &Value| (v["error"]["type"].clone(), v["error"]["param"].clone());

    let resp = post(&app, &key, "/v1/chat/completions", &chat("llama-3-70b", false)).await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(error(&v), (json!("invalid_request_error"), json!("model")));
    assert!(
        v["error"]["message"].as_str().unwrap().contains("llama-3-70b"),
        "{v}"
    );

    let mut two = chat("claude-sonnet-4-5", false);
    two["n"] = json!(2);
    let resp = post(&app, &key, "/v1/chat/completions", &two).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(error(&resp.json().await.unwrap()).1, json!("n"));

    // Gemini cannot fetch an image URL: refused, naming where it stands.
    let url_image = json!({"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "what is this"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}]});
    let resp = post(&app, &key, "/v1/chat/completions", &url_image).await;
    assert_eq!(resp.status(), 400);
    let param = error(&resp.json().await.unwrap()).1;
    assert!(
        param.as_str().unwrap().starts_with("messages[0].content[1]"),
        "{param}"
    );

    let resp = post(&app, &key, "/v1/chat/completions", &json!({"messages": []})).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(error(&resp.json().await.unwrap()).1, json!("model"));
    assert!(
        app.mock.requests().is_empty(),
        "nothing refused reached an upstream"
    );
}

#[actix_web::test]
async fn upstream_errors_and_missing_accounts_come_in_openai_format() {
    let app = spawn_app().await;
    app.add_console("c", "sk-ant-c").await;
    let (_, key) = app.create_key(json!({})).await;
    app.mock.enqueue(
        "sk-ant-c",
        Fault::anthropic_error(400, "invalid_request_error", "prompt is too long"),
    );
    let resp = post(
        &app,
        &key,
        "/v1/chat/completions",
        &chat("claude-sonnet-4-5", false),
    )
    .await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error", "{v}");
    assert_eq!(v["error"]["message"], "prompt is too long");

    app.mock.set_persistent(
        "sk-ant-c",
        Some(Fault::anthropic_error(529, "overloaded_error", "Overloaded").with_header("retry-after", "7")),
    );
    let resp = post(
        &app,
        &key,
        "/v1/chat/completions",
        &chat("claude-sonnet-4-5", false),
    )
    .await;
    assert_eq!(resp.status(), 503);
    assert_eq!(
        resp.headers().get("retry-after").map(|v| v.to_str().unwrap()),
        Some("7"),
        "when to retry survives the conversion"
    );
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        (v["error"]["type"].as_str(), v["error"]["code"].as_str()),
        (Some("server_error"), Some("overloaded_error")),
        "{v}"
    );

    // No Gemini account at all: switchyard's own error, in OpenAI's format.
    let resp = post(
        &app,
        &key,
        "/v1/chat/completions",
        &chat("gemini-2.5-flash", false),
    )
    .await;
    assert!(
        resp.status().is_server_error() || resp.status() == 429,
        "{}",
        resp.status()
    );
    let v: Value = resp.json().await.unwrap();
    assert!(
        v["error"]["message"].is_string() && v["error"]["type"].is_string(),
        "{v}"
    );
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn a_key_limited_to_one_platform_is_refused_the_others_models() {
    let app = spawn_app().await;
    app.add_console("c", "sk-ant-c").await;
    add_gemini_api(&app, "g", "AIza-g").await;
    let (_, key) = app.create_key(json!({"permissions": ["gemini"]})).await;
    let resp = post(
        &app,
        &key,
        "/v1/chat/completions",
        &chat("claude-sonnet-4-5", false),
    )
    .await;
    assert_eq!(resp.status(), 403);
    let v: Value = resp.json().await.unwrap();
    assert!(v["error"]["message"].is_string(), "{v}");
    let resp = post(
        &app,
        &key,
        "/v1/chat/completions",
        &chat("gemini-2.5-flash", false),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert!(app.mock.requests_for("sk-ant-c").is_empty());
}

#[actix_web::test]
async fn one_conversation_sticks_to_one_account_through_the_front() {
    let app = spawn_app().await;
    app.add_console("a", "sk-ant-a").await;
    app.add_console("b", "sk-ant-b").await;
    let (_, key) = app.create_key(json!({})).await;
    for _ in 0..4 {
        let resp = post(
            &app,
            &key,
            "/v1/chat/completions",
            &chat("claude-sonnet-4-5", false),
        )
        .await;
        assert_eq!(resp.status(), 200);
    }
    let served = (
        app.mock.requests_for("sk-ant-a").len(),
        app.mock.requests_for("sk-ant-b").len(),
    );
    assert!(served == (4, 0) || served == (0, 4), "{served:?}");
}

#[actix_web::test]
async fn a_failing_account_fails_over_through_the_front() {
    let app = spawn_app().await;
    app.add_console("a", "sk-ant-a").await;
    app.add_console("b", "sk-ant-b").await;
    let (_, key) = app.create_key(json!({})).await;
    app.mock
        .set_persistent("sk-ant-a", Some(Fault::anthropic_error(500, "api_error", "boom")));
    // Distinct conversations until one was sent to the failing account first.
    for i in 0..20 {
        let mut body = chat("claude-sonnet-4-5", false);
        body["messages"][0]["content"] = json!(format!("conversation {i}"));
        let resp = post(&app, &key, "/v1/chat/completions", &body).await;
        assert_eq!(resp.status(), 200, "served by the other account");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["object"], "chat.completion");
        if !app.mock.requests_for("sk-ant-a").is_empty() {
            break;
        }
    }
    assert!(
        !app.mock.requests_for("sk-ant-a").is_empty(),
        "the failing account was tried"
    );
    app.mock
        .set_persistent("sk-ant-b", Some(Fault::anthropic_error(500, "api_error", "boom")));
    app.mock
        .set_persistent("sk-ant-a", Some(Fault::anthropic_error(500, "api_error", "boom")));
    // Nobody left: the last upstream error, in OpenAI's format.
    let mut body = chat("claude-sonnet-4-5", false);
    body["messages"][0]["content"] = json!("last");
    let resp = post(&app, &key, "/v1/chat/completions", &body).await;
    assert!(resp.status().is_server_error(), "{}", resp.status());
    let v: Value = resp.json().await.unwrap();
    assert!(
        v["error"]["message"].is_string() && v["error"]["type"].is_string(),
        "{v}"
    );
    assert!(v.get("type").is_none(), "not Anthropic's error shape: {v}");
    app.assert_slots_released().await;
}

fn messages(model: &str, stream: bool) -> Value {
    json!({"model": model, "max_tokens": 256, "stream": stream, "system": "Be brief.",
        "messages": [{"role": "user", "content": "Hello"}]})
}

async fn post_messages(app: &TestApp, key: &str, path: &str, body: &Value) -> reqwest::Response {
    app.http
        .post(app.url(path))
        .header("x-api-key", key)
        .header("anthropic-version", "2023-06-01")
        .json(body)
        .send()
        .await
        .unwrap()
}

#[actix_web::test]
async fn messages_for_gemini_and_openai_models_are_served_by_those_accounts() {
    let app = spawn_app().await;
    app.add_console("c", "sk-ant-c").await;
    add_gemini_api(&app, "g", "AIza-g").await;
    app.add_account(
        json!({"name": "r", "kind": "openai-responses", "base_url": app.mock.url(), "api_key": "sk-r"}),
    )
    .await;
    app.mock.set_usage(
        "AIza-g",
        MockUsage {
            input_tokens: 100,
            output_tokens: 10,
            ..Default::default()
        },
    );
    let (key_id, key) = app.create_key(json!({})).await;
    for path in ["/v1/messages", "/api/v1/messages", "/claude/v1/messages"] {
        let resp = post_messages(&app, &key, path, &messages("gemini-2.5-flash", false)).await;
        assert_eq!(resp.status(), 200, "{path}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(
            (v["type"].as_str(), v["role"].as_str()),
            (Some("message"), Some("assistant")),
            "{v}"
        );
        assert_eq!(v["usage"]["output_tokens"], 10, "{v}");
    }
    let sent = app.mock.requests_for("AIza-g").pop().unwrap();
    assert_eq!(sent.path, "/v1beta/models/gemini-2.5-flash:generateContent");
    let resp = post_messages(&app, &key, "/v1/messages", &messages("gemini-2.5-flash", true)).await;
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let text = resp.text().await.unwrap();
    let events: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("event: ")).collect();
    assert_eq!(events.first(), Some(&"message_start"), "{text}");
    assert_eq!(
        &events[events.len() - 2..],
        ["message_delta", "message_stop"],
        "{text}"
    );

    let resp = post_messages(&app, &key, "/v1/messages", &messages("gpt-5", false)).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "message", "{v}");
    assert_eq!(app.mock.requests_for("sk-r").pop().unwrap().path, "/v1/responses");
    // Claude models stay on Claude accounts.
    let resp = post_messages(&app, &key, "/v1/messages", &messages("claude-sonnet-4-5", false)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(app.mock.requests_for("sk-ant-c").len(), 1);
    let usage = app.wait_for_usage(&key_id, 6).await;
    assert_eq!(usage.output_tokens, 4 * 10 + 12 + 12);
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn the_messages_front_refuses_in_anthropic_format() {
    let app = spawn_app().await;
    add_gemini_api(&app, "g", "AIza-g").await;
    app.add_account(
        json!({"name": "r", "kind": "openai-responses", "base_url": app.mock.url(), "api_key": "sk-r"}),
    )
    .await;
    let (_, claude_only) = app.create_key(json!({"permissions": ["claude"]})).await;
    let resp = post_messages(
        &app,
        &claude_only,
        "/v1/messages",
        &messages("gemini-2.5-flash", false),
    )
    .await;
    assert_eq!(resp.status(), 403);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "error", "{v}");

    let (_, key) = app.create_key(json!({})).await;
    let mut stops = messages("gpt-5", false);
    stops["stop_sequences"] = json!(["END"]);
    let resp = post_messages(&app, &key, "/v1/messages", &stops).await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error", "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("stop_sequences"),
        "{v}"
    );
    assert!(
        app.mock.requests().is_empty(),
        "nothing refused reached an upstream"
    );

    app.mock.enqueue(
        "AIza-g",
        Fault::gemini_error(400, "INVALID_ARGUMENT", "contents are empty"),
    );
    let resp = post_messages(&app, &key, "/v1/messages", &messages("gemini-2.5-flash", false)).await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        (v["type"].as_str(), v["error"]["type"].as_str()),
        (Some("error"), Some("invalid_request_error")),
        "{v}"
    );
    assert_eq!(v["error"]["message"], "contents are empty");
    app.assert_slots_released().await;
}
