//! Anthropic Messages API wire format.

use mock_upstream::{MockUpstream, MockUsage};
use serde_json::{Value, json};

use crate::common::{events, get, json_ok, names, post};

fn hello(stream: bool) -> Value {
    json!({"model": "claude-sonnet-4-6", "max_tokens": 64, "stream": stream,
        "messages": [{"role": "user", "content": "Say hello"}]})
}

#[tokio::test]
async fn json_answer_echoes_model_and_reports_usage() {
    let mock = MockUpstream::start();
    let response = post(&mock, "/v1/messages", ("x-api-key", "acct"), hello(false)).await;
    assert_eq!(response.headers()["content-type"], "application/json");
    assert!(
        response.headers()["request-id"]
            .to_str()
            .unwrap()
            .starts_with("req_mock_")
    );
    let body = json_ok(response).await;
    assert!(body["id"].as_str().unwrap().starts_with("msg_mock_"));
    assert_eq!(body["type"], "message");
    assert_eq!(body["role"], "assistant");
    assert_eq!(body["model"], "claude-sonnet-4-6");
    assert_eq!(body["content"][0]["type"], "text");
    assert!(
        body["content"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("MOCK_OK")
    );
    assert_eq!(body["stop_reason"], "end_turn");
    assert_eq!(
        body["usage"],
        json!({"input_tokens": 25, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
            "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
            "output_tokens": 12, "service_tier": "standard"})
    );
}

#[tokio::test]
async fn stream_has_the_event_sequence_clients_parse() {
    let mock = MockUpstream::start();
    let response = post(
        &mock,
        "/api/v1/messages?beta=true",
        ("authorization", "Bearer acct"),
        hello(true),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["transfer-encoding"], "chunked");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let events = events(&response.text().await.unwrap());
    assert_eq!(
        names(&events),
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    for event in &events {
        assert_eq!(
            event.json()["type"],
            event.name.as_deref().unwrap(),
            "data type matches event name"
        );
    }
    let start = events[0].json();
    assert_eq!(start["message"]["model"], "claude-sonnet-4-6");
    assert_eq!(start["message"]["content"], json!([]));
    assert_eq!(start["message"]["usage"]["input_tokens"], 25);
    assert_eq!(
        start["message"]["usage"]["cache_creation"]["ephemeral_1h_input_tokens"],
        0
    );
    let text: String = events[3..6]
        .iter()
        .map(|e| e.json()["delta"]["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(text, "MOCK_OK hello from the mock upstream.");
    let delta = events[7].json();
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert_eq!(delta["usage"]["output_tokens"], 12);
}

#[tokio::test]
async fn thinking_comes_first_with_a_signature() {
    let mock = MockUpstream::start();
    for kind in ["enabled", "adaptive"] {
        let mut body = hello(true);
        body["thinking"] = json!({"type": kind, "budget_tokens": 1024});
        let response = post(&mock, "/v1/messages", ("x-api-key", "acct"), body).await;
        let events = events(&response.text().await.unwrap());
        let data: Vec<Value> = events.iter().map(|e| e.json()).collect();
        assert_eq!(
            names(&events)[..3],
            ["message_start", "content_block_start", "ping"]
        );
        assert_eq!(
            data[1]["content_block"],
            json!({"type": "thinking", "thinking": "", "signature": ""})
        );
        assert_eq!(data[3]["delta"]["type"], "thinking_delta");
        assert_eq!(data[4]["delta"]["type"], "signature_delta");
        assert!(data[4]["delta"]["signature"].as_str().unwrap().len() > 4);
        assert_eq!(data[5]["type"], "content_block_stop");
        assert_eq!(data[6]["content_block"]["type"], "text");
        assert_eq!(data[6]["index"], 1);
    }
    let mut json_body = hello(false);
    json_body["thinking"] = json!({"type": "adaptive"});
    let body = json_ok(post(&mock, "/v1/messages", ("x-api-key", "acct"), json_body).await).await;
    assert_eq!(body["content"][0]["type"], "thinking");
    assert_eq!(body["content"][1]["type"], "text");
}

#[tokio::test]
async fn mock_tool_call_gives_a_tool_use_block() {
    let mock = MockUpstream::start();
    let body = json!({"model": "claude-opus-4-8", "max_tokens": 64, "stream": true,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "MOCK_TOOL_CALL:Read the note"}]}],
        "tools": [{"name": "Bash", "input_schema": {"type": "object"}},
                  {"name": "Read", "input_schema": {"type": "object",
                      "properties": {"file_path": {"type": "string"}}, "required": ["file_path"]}}]});
    let response = post(&mock, "/v1/messages", ("x-api-key", "acct"), body.clone()).await;
    let data: Vec<Value> = events(&response.text().await.unwrap())
        .iter()
        .map(|e| e.json())
        .collect();
    let start = data
        .iter()
        .find(|d| d["content_block"]["type"] == "tool_use")
        .expect("tool_use block");
    assert_eq!(start["content_block"]["name"], "Read");
    assert_eq!(start["content_block"]["input"], json!({}));
    let args = data
        .iter()
        .find(|d| d["delta"]["type"] == "input_json_delta")
        .expect("input_json_delta");
    let input: Value = serde_json::from_str(args["delta"]["partial_json"].as_str().unwrap()).unwrap();
    assert_eq!(input, json!({"file_path": "mock"}));
    assert_eq!(data[data.len() - 2]["delta"]["stop_reason"], "tool_use");

    let mut plain = body;
    plain["stream"] = json!(false);
    let answer = json_ok(post(&mock, "/v1/messages", ("x-api-key", "acct"), plain).await).await;
    assert_eq!(answer["stop_reason"], "tool_use");
    assert_eq!(answer["content"][1]["type"], "tool_use");
    assert_eq!(answer["content"][1]["input"], json!({"file_path": "mock"}));
}

#[tokio::test]
async fn usage_override_shows_in_every_usage_field() {
    let mock = MockUpstream::start();
    let usage = MockUsage {
        input_tokens: 7,
        output_tokens: 99,
        cache_creation_5m: 100,
        cache_creation_1h: 20,
        cache_read: 3000,
    };
    mock.set_usage("cached", usage);
    let body = json_ok(post(&mock, "/v1/messages", ("x-api-key", "cached"), hello(false)).await).await;
    assert_eq!(body["usage"]["input_tokens"], 7);
    assert_eq!(body["usage"]["output_tokens"], 99);
    assert_eq!(body["usage"]["cache_creation_input_tokens"], 120);
    assert_eq!(body["usage"]["cache_read_input_tokens"], 3000);
    assert_eq!(
        body["usage"]["cache_creation"],
        json!({"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 20})
    );

    let response = post(&mock, "/v1/messages", ("x-api-key", "cached"), hello(true)).await;
    let data: Vec<Value> = events(&response.text().await.unwrap())
        .iter()
        .map(|e| e.json())
        .collect();
    assert_eq!(data[0]["message"]["usage"]["cache_creation_input_tokens"], 120);
    assert_eq!(data[0]["message"]["usage"]["cache_read_input_tokens"], 3000);
    let delta = &data[data.len() - 2];
    assert_eq!(delta["usage"]["output_tokens"], 99);
    assert_eq!(delta["usage"]["cache_read_input_tokens"], 3000);

    // Other credentials keep the default.
    let body = json_ok(post(&mock, "/v1/messages", ("x-api-key", "other"), hello(false)).await).await;
    assert_eq!(body["usage"]["input_tokens"], 25);
}

#[tokio::test]
async fn count_tokens_and_models() {
    let mock = MockUpstream::start();
    mock.set_usage(
        "acct",
        MockUsage {
            input_tokens: 321,
            ..MockUsage::default()
        },
    );
    let body = json!({"model": "claude-sonnet-4-6", "messages": [{"role": "user", "content": "hi"}]});
    let count = json_ok(post(&mock, "/v1/messages/count_tokens", ("x-api-key", "acct"), body).await).await;
    assert_eq!(count, json!({"input_tokens": 321}));

    let list = json_ok(
        get(
            &mock,
            "/v1/models",
            &[("anthropic-version", "2023-06-01"), ("x-api-key", "acct")],
        )
        .await,
    )
    .await;
    let data = list["data"].as_array().unwrap();
    assert!(!data.is_empty());
    assert_eq!(data[0]["type"], "model");
    assert_eq!(list["has_more"], false);
    assert_eq!(list["first_id"], data[0]["id"]);
    assert_eq!(list["last_id"], data[data.len() - 1]["id"]);
    let one = json_ok(
        get(
            &mock,
            "/v1/models/claude-x",
            &[("anthropic-version", "2023-06-01")],
        )
        .await,
    )
    .await;
    assert_eq!(one["id"], "claude-x");
}

#[tokio::test]
async fn invalid_json_is_an_anthropic_400() {
    let mock = MockUpstream::start();
    let response = crate::common::client()
        .post(format!("{}/v1/messages", mock.url()))
        .header("x-api-key", "acct")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "invalid_request_error");
}
