//! OpenAI chat completions and Responses wire formats.

use mock_upstream::{MockUpstream, MockUsage};
use serde_json::{Value, json};

use crate::common::{events, get, json_ok, names, post};

const BEARER: (&str, &str) = ("authorization", "Bearer sk-acct");

fn chat(stream: bool, include_usage: bool) -> Value {
    let mut body = json!({"model": "gpt-4o-mini", "stream": stream,
        "messages": [{"role": "user", "content": "Say hello"}]});
    if include_usage {
        body["stream_options"] = json!({"include_usage": true});
    }
    body
}

#[tokio::test]
async fn chat_json() {
    let mock = MockUpstream::start();
    let response = post(&mock, "/v1/chat/completions", BEARER, chat(false, false)).await;
    assert!(
        response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .starts_with("req_mock_")
    );
    let body = json_ok(response).await;
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "gpt-4o-mini");
    assert_eq!(body["choices"][0]["message"]["role"], "assistant");
    assert!(
        body["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .starts_with("MOCK_OK")
    );
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(body["usage"]["prompt_tokens"], 25);
    assert_eq!(body["usage"]["completion_tokens"], 12);
    assert_eq!(body["usage"]["total_tokens"], 37);
}

#[tokio::test]
async fn chat_stream_without_include_usage_has_no_usage_key() {
    let mock = MockUpstream::start();
    let response = post(&mock, "/v1/chat/completions", BEARER, chat(true, false)).await;
    assert_eq!(response.headers()["transfer-encoding"], "chunked");
    let events = events(&response.text().await.unwrap());
    assert!(events.iter().all(|e| e.name.is_none()));
    assert_eq!(events.last().unwrap().data, "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(|e| e.json()).collect();
    assert!(chunks.iter().all(|c| c.get("usage").is_none()));
    assert!(chunks.iter().all(|c| c["object"] == "chat.completion.chunk"));
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect::<Vec<_>>()
        .concat();
    assert_eq!(text, "MOCK_OK hello from the mock upstream.");
    assert_eq!(chunks.last().unwrap()["choices"][0]["finish_reason"], "stop");
}

#[tokio::test]
async fn chat_stream_with_include_usage_sends_the_usage_chunk_before_done() {
    let mock = MockUpstream::start();
    mock.set_usage(
        "sk-acct",
        MockUsage {
            input_tokens: 10,
            cache_read: 90,
            output_tokens: 5,
            ..MockUsage::default()
        },
    );
    let response = post(&mock, "/v1/chat/completions", BEARER, chat(true, true)).await;
    let events = events(&response.text().await.unwrap());
    let n = events.len();
    assert_eq!(events[n - 1].data, "[DONE]");
    let usage_chunk = events[n - 2].json();
    assert_eq!(usage_chunk["choices"], json!([]));
    assert_eq!(usage_chunk["usage"]["prompt_tokens"], 100);
    assert_eq!(usage_chunk["usage"]["prompt_tokens_details"]["cached_tokens"], 90);
    assert_eq!(usage_chunk["usage"]["completion_tokens"], 5);
    assert_eq!(usage_chunk["usage"]["total_tokens"], 105);
    for event in &events[..n - 2] {
        let chunk = event.json();
        assert_eq!(chunk["usage"], Value::Null);
        assert!(
            chunk.as_object().unwrap().contains_key("usage"),
            "usage: null present"
        );
    }
    assert_eq!(events[n - 3].json()["choices"][0]["finish_reason"], "stop");
}

#[tokio::test]
async fn chat_tool_call() {
    let mock = MockUpstream::start();
    let body = json!({"model": "gpt-4o-mini", "stream": true,
        "messages": [{"role": "user", "content": "MOCK_TOOL_CALL Paris"}],
        "tools": [{"type": "function", "function": {"name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]});
    let response = post(&mock, "/v1/chat/completions", BEARER, body.clone()).await;
    let events = events(&response.text().await.unwrap());
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(|e| e.json()).collect();
    let calls: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"].get("tool_calls"))
        .collect();
    assert_eq!(calls[0][0]["function"]["name"], "get_weather");
    assert_eq!(calls[0][0]["type"], "function");
    let args: String = calls
        .iter()
        .map(|c| c[0]["function"]["arguments"].as_str().unwrap())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&args).unwrap(),
        json!({"city": "mock"})
    );
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );

    let mut plain = body;
    plain["stream"] = json!(false);
    let answer = json_ok(post(&mock, "/v1/chat/completions", BEARER, plain).await).await;
    let call = &answer["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(answer["choices"][0]["finish_reason"], "tool_calls");
}

#[tokio::test]
async fn responses_json_with_usage() {
    let mock = MockUpstream::start();
    mock.set_usage(
        "sk-acct",
        MockUsage {
            input_tokens: 100,
            cache_read: 40,
            output_tokens: 7,
            ..MockUsage::default()
        },
    );
    let body = json!({"model": "gpt-5", "input": "Say hello", "instructions": "Be brief."});
    let answer = json_ok(post(&mock, "/v1/responses", BEARER, body).await).await;
    assert_eq!(answer["object"], "response");
    assert_eq!(answer["status"], "completed");
    assert_eq!(answer["model"], "gpt-5");
    assert_eq!(answer["instructions"], "Be brief.");
    assert_eq!(answer["output"][0]["type"], "message");
    assert_eq!(answer["output"][0]["content"][0]["type"], "output_text");
    assert_eq!(
        answer["usage"],
        json!({"input_tokens": 140, "input_tokens_details": {"cached_tokens": 40}, "output_tokens": 7,
            "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 147})
    );
}

#[tokio::test]
async fn responses_stream_sequence() {
    let mock = MockUpstream::start();
    let body = json!({"model": "gpt-5-codex", "stream": true, "store": false,
        "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}]});
    let response = post(&mock, "/backend-api/codex/responses", BEARER, body).await;
    assert_eq!(response.headers()["transfer-encoding"], "chunked");
    let events = events(&response.text().await.unwrap());
    assert_eq!(
        names(&events),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed"
        ]
    );
    for (i, event) in events.iter().enumerate() {
        let data = event.json();
        assert_eq!(data["type"], event.name.as_deref().unwrap());
        assert_eq!(data["sequence_number"], i, "sequence_number on {:?}", event.name);
    }
    let created = events[0].json();
    assert_eq!(created["response"]["status"], "in_progress");
    assert_eq!(created["response"]["model"], "gpt-5-codex");
    assert_eq!(created["response"]["output"], json!([]));
    assert_eq!(created["response"]["store"], false);
    let completed = events.last().unwrap().json();
    assert_eq!(completed["response"]["status"], "completed");
    assert_eq!(completed["response"]["id"], created["response"]["id"]);
    assert_eq!(completed["response"]["usage"]["input_tokens"], 25);
    assert_eq!(completed["response"]["usage"]["output_tokens"], 12);
    assert_eq!(completed["response"]["usage"]["total_tokens"], 37);
    let text = events[7].json()["text"].as_str().unwrap().to_owned();
    assert_eq!(
        completed["response"]["output"][0]["content"][0]["text"],
        text.as_str()
    );
    assert!(created["response"].get("usage").is_some_and(Value::is_null));
}

#[tokio::test]
async fn responses_stream_tool_call() {
    let mock = MockUpstream::start();
    let body = json!({"model": "gpt-5", "stream": true,
        "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "MOCK_TOOL_CALL:exec_command go"}]}],
        "tools": [{"type": "function", "name": "exec_command",
            "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]}}]});
    let response = post(&mock, "/v1/responses", BEARER, body).await;
    let events = events(&response.text().await.unwrap());
    let names = names(&events);
    let first = names.len() - 5;
    assert_eq!(
        names[first..],
        [
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed"
        ]
    );
    let added = events[first].json();
    assert_eq!(added["output_index"], 1);
    assert_eq!(added["item"]["type"], "function_call");
    assert_eq!(added["item"]["name"], "exec_command");
    let done = events[first + 3].json();
    assert_eq!(
        serde_json::from_str::<Value>(done["item"]["arguments"].as_str().unwrap()).unwrap(),
        json!({"cmd": "mock"})
    );
    let completed = events[first + 4].json();
    assert_eq!(
        completed["response"]["output"][1]["call_id"],
        done["item"]["call_id"]
    );
}

#[tokio::test]
async fn structured_output_is_json() {
    let mock = MockUpstream::start();
    let body = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "rate"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "r",
            "schema": {"type": "object", "properties": {"score": {"type": "integer"}}}}}});
    let answer = json_ok(post(&mock, "/v1/chat/completions", BEARER, body).await).await;
    let text = answer["choices"][0]["message"]["content"].as_str().unwrap();
    assert_eq!(serde_json::from_str::<Value>(text).unwrap(), json!({"score": 1}));
}

#[tokio::test]
async fn models_in_openai_shape() {
    let mock = MockUpstream::start();
    let list = json_ok(get(&mock, "/v1/models", &[("authorization", "Bearer sk-acct")]).await).await;
    assert_eq!(list["object"], "list");
    assert_eq!(list["data"][0]["object"], "model");
    assert!(list["data"][0]["owned_by"].is_string());
    let one = json_ok(get(&mock, "/v1/models/gpt-4o", &[]).await).await;
    assert_eq!(one["id"], "gpt-4o");
}
