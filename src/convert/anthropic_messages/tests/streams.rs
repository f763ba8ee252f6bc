//! Upstream streams (shaped as in the providers' documentation) to Anthropic SSE, read back by
//! the strict reader the way the anthropic SDK and Claude Code read it.
use super::super::stream_gemini::GeminiStream;
use super::super::stream_responses::ResponsesStream;
use super::{Outcome, read, read_strict, run, sse_of};
use crate::upstream::BodyAdapter;
use serde_json::{Value, json};

pub(super) fn gemini_events() -> Vec<Value> {
    vec![
        json!({ "candidates": [{ "content": { "role": "model", "parts": [{ "text": "Let me think", "thought": true }] }, "index": 0 }],
                "usageMetadata": { "promptTokenCount": 50, "cachedContentTokenCount": 30, "totalTokenCount": 50 },
                "modelVersion": "gemini-2.5-pro", "responseId": "gem1" }),
        json!({ "candidates": [{ "content": { "role": "model", "parts": [{ "text": "Hello" }] }, "index": 0 }],
                "modelVersion": "gemini-2.5-pro", "responseId": "gem1" }),
        json!({ "candidates": [{ "content": { "role": "model", "parts": [
                    { "text": " world" },
                    { "functionCall": { "name": "lookup", "args": { "q": "x" } }, "thoughtSignature": "sig" },
                ] }, "index": 0 }],
                "modelVersion": "gemini-2.5-pro", "responseId": "gem1" }),
        json!({ "candidates": [{ "content": { "role": "model", "parts": [{ "text": "" }] }, "finishReason": "STOP", "index": 0 }],
                "usageMetadata": { "promptTokenCount": 50, "cachedContentTokenCount": 30, "candidatesTokenCount": 9, "thoughtsTokenCount": 4, "totalTokenCount": 63 },
                "modelVersion": "gemini-2.5-pro", "responseId": "gem1" }),
    ]
}

fn events_of(sse: &str) -> Vec<(String, Value)> {
    sse.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            let (name, data) = e.split_once('\n').expect("two lines");
            let data = data.strip_prefix("data: ").expect("data line");
            (
                name.trim_start_matches("event: ").to_owned(),
                serde_json::from_str(data).expect("JSON"),
            )
        })
        .collect()
}

#[test]
fn gemini_stream_in_anthropic_order_and_shape() {
    let sse = run(
        &mut GeminiStream::new("gemini-asked"),
        &[sse_of(&gemini_events(), false).as_bytes()],
    );
    let events = events_of(&sse);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
    );
    assert_eq!(
        events[0].1["message"]["usage"],
        json!({ "input_tokens": 20, "output_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 30 })
    );
    assert_eq!(
        events[8].1["content_block"],
        json!({ "type": "tool_use", "id": "toolu_gem1_2", "name": "lookup", "input": {} })
    );
    assert_eq!(
        events[9].1["delta"],
        json!({ "type": "input_json_delta", "partial_json": "{\"q\":\"x\"}" })
    );
    assert_eq!(
        events[11].1,
        json!({ "type": "message_delta", "delta": { "stop_reason": "tool_use", "stop_sequence": null },
                "usage": { "input_tokens": 20, "output_tokens": 13, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 30 } })
    );
    let Outcome::Message(m) = read(&sse) else {
        panic!("an error")
    };
    assert_eq!(m["id"], "msg_gem1");
    assert_eq!(m["model"], "gemini-2.5-pro");
    assert_eq!(
        m["content"],
        json!([
            { "type": "thinking", "thinking": "Let me think", "signature": "" },
            { "type": "text", "text": "Hello world" },
            { "type": "tool_use", "id": "toolu_gem1_2", "name": "lookup", "input": { "q": "x" } },
        ])
    );
}

/// The Responses documentation's streamed function call, after a reasoning summary and text.
pub(super) fn responses_events() -> Vec<Value> {
    let response = |status: &str| json!({ "id": "resp_abc", "object": "response", "status": status, "model": "gpt-5-2025-08-07", "output": [], "usage": null });
    let mut completed = response("completed");
    completed["usage"] = json!({ "input_tokens": 100, "input_tokens_details": { "cached_tokens": 64 }, "output_tokens": 25, "output_tokens_details": { "reasoning_tokens": 10 }, "total_tokens": 125 });
    vec![
        json!({ "type": "response.created", "sequence_number": 0, "response": response("in_progress") }),
        json!({ "type": "response.in_progress", "sequence_number": 1, "response": response("in_progress") }),
        json!({ "type": "response.output_item.added", "sequence_number": 2, "output_index": 0, "item": { "type": "reasoning", "id": "rs_1", "summary": [] } }),
        json!({ "type": "response.reasoning_summary_part.added", "sequence_number": 3, "output_index": 0, "summary_index": 0, "item_id": "rs_1", "part": { "type": "summary_text", "text": "" } }),
        json!({ "type": "response.reasoning_summary_text.delta", "sequence_number": 4, "output_index": 0, "summary_index": 0, "item_id": "rs_1", "delta": "Plan." }),
        json!({ "type": "response.reasoning_summary_part.added", "sequence_number": 5, "output_index": 0, "summary_index": 1, "item_id": "rs_1", "part": { "type": "summary_text", "text": "" } }),
        json!({ "type": "response.reasoning_summary_text.delta", "sequence_number": 6, "output_index": 0, "summary_index": 1, "item_id": "rs_1", "delta": "Act." }),
        json!({ "type": "response.output_item.done", "sequence_number": 7, "output_index": 0, "item": { "type": "reasoning", "id": "rs_1" } }),
        json!({ "type": "response.output_item.added", "sequence_number": 8, "output_index": 1, "item": { "type": "message", "id": "msg_1", "role": "assistant", "content": [] } }),
        json!({ "type": "response.content_part.added", "sequence_number": 9, "output_index": 1, "content_index": 0, "item_id": "msg_1", "part": { "type": "output_text", "text": "" } }),
        json!({ "type": "response.output_text.delta", "sequence_number": 10, "output_index": 1, "content_index": 0, "item_id": "msg_1", "delta": "On" }),
        json!({ "type": "response.output_text.delta", "sequence_number": 11, "output_index": 1, "content_index": 0, "item_id": "msg_1", "delta": " it." }),
        json!({ "type": "response.output_text.done", "sequence_number": 12, "output_index": 1, "content_index": 0, "item_id": "msg_1", "text": "On it." }),
        json!({ "type": "response.output_item.done", "sequence_number": 13, "output_index": 1, "item": { "type": "message", "id": "msg_1" } }),
        json!({ "type": "response.output_item.added", "sequence_number": 14, "output_index": 2, "item": { "type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather", "arguments": "" } }),
        json!({ "type": "response.function_call_arguments.delta", "sequence_number": 15, "output_index": 2, "item_id": "fc_1", "delta": "{\"location\":" }),
        json!({ "type": "response.function_call_arguments.delta", "sequence_number": 16, "output_index": 2, "item_id": "fc_1", "delta": "\"Paris\"}" }),
        json!({ "type": "response.function_call_arguments.done", "sequence_number": 17, "output_index": 2, "item_id": "fc_1", "arguments": "{\"location\":\"Paris\"}" }),
        json!({ "type": "response.output_item.done", "sequence_number": 18, "output_index": 2, "item": { "type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather", "arguments": "{\"location\":\"Paris\"}" } }),
        json!({ "type": "response.completed", "sequence_number": 19, "response": completed }),
    ]
}

#[test]
fn responses_stream_in_anthropic_order_and_shape() {
    let sse = run(
        &mut ResponsesStream::new("gpt-asked"),
        &[sse_of(&responses_events(), true).as_bytes()],
    );
    let events = events_of(&sse);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
    );
    assert_eq!(events[0].1["message"]["id"], "msg_abc");
    assert_eq!(
        events[10].1["content_block"],
        json!({ "type": "tool_use", "id": "call_1", "name": "get_weather", "input": {} })
    );
    assert_eq!(
        events[11].1["delta"],
        json!({ "type": "input_json_delta", "partial_json": "{\"location\":" })
    );
    assert_eq!(
        events[14].1["usage"],
        json!({ "input_tokens": 36, "output_tokens": 25, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 64 })
    );
    let Outcome::Message(m) = read(&sse) else {
        panic!("an error")
    };
    assert_eq!(m["stop_reason"], "tool_use");
    assert_eq!(
        m["content"],
        json!([
            { "type": "thinking", "thinking": "Plan.\n\nAct.", "signature": "" },
            { "type": "text", "text": "On it." },
            { "type": "tool_use", "id": "call_1", "name": "get_weather", "input": { "location": "Paris" } },
        ])
    );
}

#[test]
fn arguments_given_only_at_the_end_still_arrive() {
    let events: Vec<Value> = responses_events()
        .into_iter()
        .filter(|e| e["type"] != "response.function_call_arguments.delta")
        .collect();
    let sse = run(
        &mut ResponsesStream::new("g"),
        &[sse_of(&events, true).as_bytes()],
    );
    let Outcome::Message(m) = read(&sse) else {
        panic!("an error")
    };
    assert_eq!(m["content"][2]["input"], json!({ "location": "Paris" }));
}

fn ends_in_error(adapter: &mut dyn BodyAdapter, input: &str) -> Value {
    match read(&run(adapter, &[input.as_bytes()])) {
        Outcome::Error(e) => e,
        Outcome::Message(m) => panic!("a message: {m}"),
    }
}

#[test]
fn upstream_errors_become_anthropic_error_events() {
    // Gemini: an error object in place of the next chunk.
    let mut events = gemini_events();
    events.truncate(2);
    events.push(
        json!({ "error": { "code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE" } }),
    );
    events.push(gemini_events()[3].clone());
    let e = ends_in_error(&mut GeminiStream::new("g"), &sse_of(&events, false));
    assert_eq!(
        e,
        json!({ "type": "overloaded_error", "message": "The model is overloaded." })
    );

    // Responses: an `error` event, and a failed response.
    let mut events = responses_events();
    events.truncate(11);
    events.push(json!({ "type": "error", "sequence_number": 11, "code": "rate_limit_exceeded", "message": "Slow down", "param": null }));
    let e = ends_in_error(&mut ResponsesStream::new("g"), &sse_of(&events, true));
    assert_eq!(e, json!({ "type": "rate_limit_error", "message": "Slow down" }));

    events.truncate(11);
    events.push(json!({ "type": "response.failed", "sequence_number": 11, "response": { "id": "resp_abc", "status": "failed", "error": { "code": "server_error", "message": "Internal" } } }));
    let e = ends_in_error(&mut ResponsesStream::new("g"), &sse_of(&events, true));
    assert_eq!(e, json!({ "type": "api_error", "message": "Internal" }));
}

#[test]
fn a_cut_stream_ends_in_an_error_not_a_message() {
    let mut events = gemini_events();
    events.pop();
    let e = ends_in_error(&mut GeminiStream::new("g"), &sse_of(&events, false));
    assert_eq!(e["type"], "api_error");
    let mut events = responses_events();
    events.pop();
    let e = ends_in_error(&mut ResponsesStream::new("g"), &sse_of(&events, true));
    assert_eq!(e["type"], "api_error");
    // Nothing at all.
    assert_eq!(
        ends_in_error(&mut GeminiStream::new("g"), "")["type"],
        "api_error"
    );
}

#[test]
fn max_tokens_and_incomplete_stop_reasons() {
    let mut events = gemini_events();
    events[3]["candidates"][0]["finishReason"] = json!("MAX_TOKENS");
    events[2]["candidates"][0]["content"]["parts"] = json!([{ "text": " world" }]);
    let Outcome::Message(m) = read(&run(
        &mut GeminiStream::new("g"),
        &[sse_of(&events, false).as_bytes()],
    )) else {
        panic!("an error")
    };
    assert_eq!(m["stop_reason"], "max_tokens");

    let mut events = responses_events();
    events.truncate(14);
    events.push(
        json!({ "type": "response.incomplete", "sequence_number": 14, "response": {
        "id": "resp_abc", "status": "incomplete", "incomplete_details": { "reason": "max_output_tokens" },
        "usage": { "input_tokens": 10, "output_tokens": 5 } } }),
    );
    let Outcome::Message(m) = read(&run(
        &mut ResponsesStream::new("g"),
        &[sse_of(&events, true).as_bytes()],
    )) else {
        panic!("an error")
    };
    assert_eq!(m["stop_reason"], "max_tokens");
    assert_eq!(m["usage"]["output_tokens"], 5);
}

#[test]
fn the_strict_reader_rejects_what_the_sdk_would_not_take() {
    let ok = run(
        &mut GeminiStream::new("g"),
        &[sse_of(&gemini_events(), false).as_bytes()],
    );
    assert!(read_strict(&ok).is_ok());
    let events: Vec<&str> = ok.split_inclusive("\n\n").collect();
    // A block's stop moved before its delta; a missing message_start; data without event line.
    let mut swapped = events.clone();
    swapped.swap(2, 3);
    assert!(read_strict(&swapped.concat()).is_err());
    assert!(read_strict(&events[1..].concat()).is_err());
    assert!(read_strict(&ok.replace("event: content_block_delta\n", "")).is_err());
    assert!(
        read_strict(&events[..events.len() - 1].concat()).is_err(),
        "no message_stop"
    );
}

#[test]
fn content_type_is_event_stream() {
    assert_eq!(GeminiStream::new("g").content_type(), Some("text/event-stream"));
    assert_eq!(
        ResponsesStream::new("g").content_type(),
        Some("text/event-stream")
    );
}
