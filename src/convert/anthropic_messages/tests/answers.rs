//! JSON answers (shaped as in the providers' documentation) back to Anthropic messages.
use super::super::answer::{JsonAnswer, Upstream, from_gemini, from_responses, upstream_error};
use super::run;
use actix_web::http::StatusCode;
use serde_json::{Value, json};

#[test]
fn gemini_answer_with_thoughts_text_and_a_call() {
    let answer = json!({
        "candidates": [{
            "content": { "role": "model", "parts": [
                { "text": "Thinking it over", "thought": true },
                { "text": "The weather" },
                { "text": " in Boston:" },
                { "functionCall": { "name": "get_weather", "args": { "city": "Boston" } }, "thoughtSignature": "abc" },
            ]},
            "finishReason": "STOP",
            "index": 0,
        }],
        "usageMetadata": {
            "promptTokenCount": 120, "cachedContentTokenCount": 100,
            "candidatesTokenCount": 30, "thoughtsTokenCount": 12, "totalTokenCount": 162,
        },
        "modelVersion": "gemini-2.5-flash",
        "responseId": "abc123",
    });
    let m = from_gemini(&answer, "gemini-asked").expect("converts");
    assert_eq!(
        m,
        json!({
            "id": "msg_abc123",
            "type": "message",
            "role": "assistant",
            "model": "gemini-2.5-flash",
            "content": [
                { "type": "thinking", "thinking": "Thinking it over", "signature": "" },
                { "type": "text", "text": "The weather in Boston:" },
                { "type": "tool_use", "id": "toolu_abc123_2", "name": "get_weather", "input": { "city": "Boston" } },
            ],
            "stop_reason": "tool_use",
            "stop_sequence": null,
            "usage": { "input_tokens": 20, "output_tokens": 42, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 100 },
        })
    );
}

#[test]
fn gemini_stop_reasons() {
    for (finish, stop) in [
        ("STOP", "end_turn"),
        ("MAX_TOKENS", "max_tokens"),
        ("SAFETY", "refusal"),
    ] {
        let answer =
            json!({ "candidates": [{ "content": { "parts": [{ "text": "x" }] }, "finishReason": finish }] });
        assert_eq!(
            from_gemini(&answer, "g").expect("converts")["stop_reason"],
            stop,
            "{finish}"
        );
    }
    // A blocked prompt has no candidate at all.
    let blocked =
        json!({ "promptFeedback": { "blockReason": "SAFETY" }, "usageMetadata": { "promptTokenCount": 7 } });
    let m = from_gemini(&blocked, "gemini-asked").expect("converts");
    assert_eq!(m["stop_reason"], "refusal");
    assert_eq!(m["content"], json!([]));
    assert_eq!(m["model"], "gemini-asked");
    assert_eq!(m["usage"]["input_tokens"], 7);
}

/// The Responses documentation's function-calling answer, with reasoning and cached input.
fn responses_answer() -> Value {
    json!({
        "id": "resp_67ccd2bed1ec8190b14f964abc054267",
        "object": "response",
        "created_at": 1741476542,
        "status": "completed",
        "error": null,
        "incomplete_details": null,
        "model": "gpt-5-2025-08-07",
        "output": [
            { "type": "reasoning", "id": "rs_1", "summary": [
                { "type": "summary_text", "text": "First idea." },
                { "type": "summary_text", "text": "Second idea." },
            ]},
            { "type": "message", "id": "msg_1", "status": "completed", "role": "assistant", "content": [
                { "type": "output_text", "text": "Checking.", "annotations": [] },
            ]},
            { "type": "function_call", "id": "fc_1", "call_id": "call_12345xyz", "name": "get_weather", "arguments": "{\"location\":\"Paris, France\"}" },
        ],
        "usage": {
            "input_tokens": 328, "input_tokens_details": { "cached_tokens": 256 },
            "output_tokens": 52, "output_tokens_details": { "reasoning_tokens": 20 }, "total_tokens": 380,
        },
    })
}

#[test]
fn responses_answer_with_reasoning_text_and_a_call() {
    let m = from_responses(&responses_answer(), "gpt-asked").expect("converts");
    assert_eq!(
        m,
        json!({
            "id": "msg_67ccd2bed1ec8190b14f964abc054267",
            "type": "message",
            "role": "assistant",
            "model": "gpt-5-2025-08-07",
            "content": [
                { "type": "thinking", "thinking": "First idea.\n\nSecond idea.", "signature": "" },
                { "type": "text", "text": "Checking." },
                { "type": "tool_use", "id": "call_12345xyz", "name": "get_weather", "input": { "location": "Paris, France" } },
            ],
            "stop_reason": "tool_use",
            "stop_sequence": null,
            "usage": { "input_tokens": 72, "output_tokens": 52, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 256 },
        })
    );
}

#[test]
fn responses_incomplete_failed_and_refused() {
    let mut a = responses_answer();
    a["status"] = json!("incomplete");
    a["incomplete_details"] = json!({ "reason": "max_output_tokens" });
    a["output"] = json!([{ "type": "message", "content": [{ "type": "output_text", "text": "Par" }] }]);
    assert_eq!(
        from_responses(&a, "g").expect("converts")["stop_reason"],
        "max_tokens"
    );

    a["output"] = json!([{ "type": "message", "content": [{ "type": "refusal", "refusal": "I can't help with that." }] }]);
    a["status"] = json!("completed");
    let m = from_responses(&a, "g").expect("converts");
    assert_eq!(m["stop_reason"], "refusal");
    assert_eq!(
        m["content"],
        json!([{ "type": "text", "text": "I can't help with that." }])
    );

    a["status"] = json!("failed");
    a["error"] = json!({ "code": "server_error", "message": "The model crashed" });
    assert!(from_responses(&a, "g").is_err());

    a["status"] = json!("completed");
    a["output"] = json!([{ "type": "function_call", "call_id": "c", "name": "f", "arguments": "{oops" }]);
    assert!(from_responses(&a, "g").is_err(), "arguments that are not JSON");
}

#[test]
fn upstream_errors_in_anthropic_shape() {
    let gemini = json!({ "error": { "code": 429, "message": "Resource has been exhausted", "status": "RESOURCE_EXHAUSTED" } });
    assert_eq!(
        upstream_error(&gemini, None),
        json!({ "type": "error", "error": { "type": "rate_limit_error", "message": "Resource has been exhausted" } })
    );
    let openai = json!({ "error": { "message": "Invalid 'input[0]'", "type": "invalid_request_error", "param": "input", "code": null } });
    assert_eq!(
        upstream_error(&openai, Some(StatusCode::BAD_REQUEST))["error"]["type"],
        "invalid_request_error"
    );
    let bare = json!({ "error": { "message": "boom" } });
    assert_eq!(
        upstream_error(&bare, Some(StatusCode::SERVICE_UNAVAILABLE))["error"]["type"],
        "overloaded_error"
    );
}

#[test]
fn json_answer_adapter_converts_the_whole_body_in_any_pieces() {
    let body = serde_json::to_vec(&responses_answer()).expect("JSON");
    let whole = run(&mut JsonAnswer::new(Upstream::Responses, "gpt"), &[&body]);
    let (a, b) = body.split_at(37);
    let split = run(&mut JsonAnswer::new(Upstream::Responses, "gpt"), &[a, b]);
    assert_eq!(whole, split);
    let m: Value = serde_json::from_str(&whole).expect("JSON");
    assert_eq!(m["type"], "message");
    assert_eq!(m["content"][2]["type"], "tool_use");

    let err = br#"{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}"#;
    let out: Value =
        serde_json::from_str(&run(&mut JsonAnswer::new(Upstream::Gemini, "g"), &[err])).expect("JSON");
    assert_eq!(out["error"]["type"], "overloaded_error");

    let out: Value =
        serde_json::from_str(&run(&mut JsonAnswer::new(Upstream::Gemini, "g"), &[b"{cut"])).expect("JSON");
    assert_eq!(out["type"], "error");
    assert_eq!(out["error"]["type"], "api_error");
}
