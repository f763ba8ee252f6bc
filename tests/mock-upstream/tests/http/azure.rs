//! Azure OpenAI: deployment paths with `api-version`, the v1 Responses API, `api-key` or an
//! Entra bearer.

use mock_upstream::{Fault, MockUpstream};
use serde_json::{Value, json};

use crate::common::{events, json_ok, post};

const API_KEY: (&str, &str) = ("api-key", "azure-key");
const CHAT: &str = "/openai/deployments/dep-4o/chat/completions?api-version=2024-10-21";

fn chat(stream: bool) -> Value {
    json!({"messages": [{"role": "user", "content": "hi"}], "stream": stream,
        "stream_options": {"include_usage": stream}})
}

#[tokio::test]
async fn a_deployment_answers_chat_json_and_stream_with_usage() {
    let mock = MockUpstream::start();
    let body = json_ok(post(&mock, CHAT, API_KEY, chat(false)).await).await;
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["usage"]["prompt_tokens"], 25);
    let text = post(&mock, CHAT, ("authorization", "Bearer eyJ.entra"), chat(true))
        .await
        .text()
        .await
        .unwrap();
    let chunks = events(&text);
    let usage = chunks.iter().rev().find(|e| e.data != "[DONE]").unwrap().json();
    assert_eq!(usage["usage"]["completion_tokens"], 12);
    assert_eq!(mock.requests()[0].credential.as_deref(), Some("azure-key"));
}

#[tokio::test]
async fn the_v1_responses_api_answers_without_api_version() {
    let mock = MockUpstream::start();
    let body = json_ok(
        post(
            &mock,
            "/openai/v1/responses",
            API_KEY,
            json!({"model": "dep-5", "input": "hi"}),
        )
        .await,
    )
    .await;
    assert_eq!(body["object"], "response");
}

#[tokio::test]
async fn azure_refuses_a_missing_api_version_or_credential() {
    let mock = MockUpstream::start();
    let path = "/openai/deployments/dep-4o/chat/completions";
    let missing = post(&mock, path, API_KEY, chat(false)).await;
    assert_eq!(missing.status(), 400);
    let v: Value = missing.json().await.unwrap();
    assert_eq!(v["error"]["code"], "MissingApiVersionParameter");
    let anonymous = post(&mock, CHAT, ("x-other", "1"), chat(false)).await;
    assert_eq!(anonymous.status(), 401);
    let v: Value = anonymous.json().await.unwrap();
    assert_eq!(v["error"]["code"], "401");
}

#[tokio::test]
async fn scripted_faults_apply_to_the_api_key() {
    let mock = MockUpstream::start();
    mock.enqueue(
        "azure-key",
        Fault::openai_error(429, "429", "Rate limit is exceeded.").with_header("retry-after-ms", "1500"),
    );
    let limited = post(&mock, CHAT, API_KEY, chat(false)).await;
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after-ms"], "1500");
    assert_eq!(post(&mock, CHAT, API_KEY, chat(false)).await.status(), 200);
}
