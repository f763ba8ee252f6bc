//! Properties: what both formats can express survives the trip there and back, a stream gives
//! the same message as the JSON answer, and chunk boundaries never change the output.
use super::super::answer::{from_gemini, from_responses};
use super::super::stream_gemini::GeminiStream;
use super::super::stream_responses::ResponsesStream;
use super::super::{Request, to_gemini, to_responses};
use super::streams::{gemini_events, responses_events};
use super::{Outcome, read, run, sse_of};
use crate::upstream::BodyAdapter;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Text with the characters JSON and SSE framing care about (no `:` so that no text starts
/// like the `Error:` a failed tool result gets on OpenAI).
fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 {}\\[\\]\"\\\\\n\r\u{e9}\u{4e16}]{1,16}"
}

fn args() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(
        "[a-z]{1,6}",
        prop_oneof![text().prop_map(Value::from), any::<i32>().prop_map(Value::from)],
        0..4,
    )
    .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>()))
}

/// One user turn and the assistant's reply, whose calls are answered in the next user turn.
#[derive(Debug, Clone)]
struct Exchange {
    user: String,
    reply: Option<String>,
    calls: Vec<(String, Value, String, bool)>,
}

fn exchange() -> impl Strategy<Value = Exchange> {
    (
        text(),
        prop::option::of(text()),
        prop::collection::vec(("[a-z_]{1,8}", args(), text(), any::<bool>()), 0..3),
    )
        .prop_map(|(user, reply, calls)| Exchange { user, reply, calls })
}

/// The conversation as Anthropic messages (tool results carry `is_error` always, as the
/// decoders below give it back).
fn messages(exchanges: &[Exchange]) -> Vec<Value> {
    let mut out = Vec::new();
    let mut pending: Vec<Value> = Vec::new();
    for (k, ex) in exchanges.iter().enumerate() {
        let mut user = std::mem::take(&mut pending);
        user.push(json!({ "type": "text", "text": ex.user }));
        out.push(json!({ "role": "user", "content": user }));
        let mut reply = Vec::new();
        if let Some(t) = &ex.reply {
            reply.push(json!({ "type": "text", "text": t }));
        }
        for (i, (name, input, result, is_error)) in ex.calls.iter().enumerate() {
            let id = format!("toolu_{k}_{i}");
            reply.push(json!({ "type": "tool_use", "id": id, "name": name, "input": input }));
            pending.push(
                json!({ "type": "tool_result", "tool_use_id": id, "content": result, "is_error": is_error }),
            );
        }
        if reply.is_empty() {
            reply.push(json!({ "type": "text", "text": "ok" }));
        }
        out.push(json!({ "role": "assistant", "content": reply }));
    }
    if !pending.is_empty() {
        out.push(json!({ "role": "user", "content": pending }));
    }
    out
}

fn request(exchanges: &[Exchange]) -> Request {
    let body = json!({ "model": "m", "max_tokens": 64, "messages": messages(exchanges) });
    Request::parse(&body).expect("a generated request parses")
}

/// Gemini → what both formats say: per turn, texts, calls by name and results by name.
fn from_gemini_contents(contents: &Value) -> Vec<(String, Vec<Value>)> {
    contents
        .as_array()
        .expect("contents")
        .iter()
        .map(|c| {
            let role = if c["role"] == "model" { "assistant" } else { "user" };
            let items = c["parts"]
                .as_array()
                .expect("parts")
                .iter()
                .map(|p| {
                    if let Some(call) = p.get("functionCall") {
                        json!({ "call": call["name"], "input": call["args"] })
                    } else if let Some(r) = p.get("functionResponse") {
                        let (text, is_error) = match r["response"].get("error") {
                            Some(e) => (e.clone(), true),
                            None => (r["response"]["output"].clone(), false),
                        };
                        json!({ "result": r["name"], "text": text, "is_error": is_error })
                    } else {
                        json!({ "text": p["text"] })
                    }
                })
                .collect();
            (role.to_owned(), items)
        })
        .collect()
}

/// The same projection of the Anthropic messages (ids are Anthropic's alone).
fn projected(messages: &[Value]) -> Vec<(String, Vec<Value>)> {
    let names: std::collections::HashMap<String, Value> = messages
        .iter()
        .flat_map(|m| m["content"].as_array().cloned().unwrap_or_default())
        .filter(|b| b["type"] == "tool_use")
        .map(|b| (b["id"].as_str().unwrap_or_default().to_owned(), b["name"].clone()))
        .collect();
    messages
        .iter()
        .map(|m| {
            let items = m["content"]
                .as_array()
                .expect("blocks")
                .iter()
                .map(|b| match b["type"].as_str() {
                    Some("tool_use") => json!({ "call": b["name"], "input": b["input"] }),
                    Some("tool_result") => json!({
                        "result": names[b["tool_use_id"].as_str().unwrap_or_default()],
                        "text": b["content"], "is_error": b["is_error"],
                    }),
                    _ => json!({ "text": b["text"] }),
                })
                .collect();
            (m["role"].as_str().unwrap_or_default().to_owned(), items)
        })
        .collect()
}

/// Responses input items → Anthropic messages (ids survive on OpenAI).
fn from_responses_input(input: &Value) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for item in input.as_array().expect("input") {
        let (role, block) = match item["type"].as_str() {
            Some("function_call") => (
                "assistant",
                vec![json!({
                    "type": "tool_use", "id": item["call_id"], "name": item["name"],
                    "input": serde_json::from_str::<Value>(item["arguments"].as_str().unwrap_or_default()).expect("JSON arguments"),
                })],
            ),
            Some("function_call_output") => {
                let output = item["output"].as_str().expect("text output");
                let (text, is_error) = match output.strip_prefix("Error: ") {
                    Some(t) => (t, true),
                    None => (output, false),
                };
                (
                    "user",
                    vec![
                        json!({ "type": "tool_result", "tool_use_id": item["call_id"], "content": text, "is_error": is_error }),
                    ],
                )
            }
            _ => (
                item["role"].as_str().unwrap_or_default(),
                item["content"]
                    .as_array()
                    .expect("parts")
                    .iter()
                    .map(|p| json!({ "type": "text", "text": p["text"] }))
                    .collect(),
            ),
        };
        match out.last_mut() {
            Some(last) if last["role"] == role => {
                last["content"].as_array_mut().expect("blocks").extend(block)
            }
            _ => out.push(json!({ "role": role, "content": block })),
        }
    }
    out
}

/// An answer's content, generated: text, thought, or a call.
#[derive(Debug, Clone)]
enum Piece {
    Text(String),
    Thought(String),
    Call(String, Value),
}

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        text().prop_map(Piece::Text),
        text().prop_map(Piece::Thought),
        ("[a-z_]{1,8}", args()).prop_map(|(n, a)| Piece::Call(n, a)),
    ]
}

fn gemini_part(p: &Piece) -> Value {
    match p {
        Piece::Text(t) => json!({ "text": t }),
        Piece::Thought(t) => json!({ "text": t, "thought": true }),
        Piece::Call(name, args) => json!({ "functionCall": { "name": name, "args": args } }),
    }
}

fn gemini_usage() -> Value {
    json!({ "promptTokenCount": 40, "cachedContentTokenCount": 8, "candidatesTokenCount": 11, "thoughtsTokenCount": 2 })
}

/// Responses output items and the stream that gives them, calls' arguments cut at `cut`.
fn responses_output(pieces: &[Piece], cut: usize) -> (Vec<Value>, Vec<Value>) {
    let mut items = Vec::new();
    let mut events = vec![
        json!({ "type": "response.created", "response": { "id": "resp_p", "model": "gpt-p", "status": "in_progress" } }),
    ];
    for (i, p) in pieces.iter().enumerate() {
        let (item, deltas): (Value, Vec<Value>) = match p {
            Piece::Text(t) => (
                json!({ "type": "message", "role": "assistant", "content": [{ "type": "output_text", "text": t }] }),
                vec![
                    json!({ "type": "response.output_text.delta", "output_index": i, "content_index": 0, "delta": t }),
                ],
            ),
            Piece::Thought(t) => (
                json!({ "type": "reasoning", "summary": [{ "type": "summary_text", "text": t }] }),
                vec![
                    json!({ "type": "response.reasoning_summary_part.added", "output_index": i, "summary_index": 0 }),
                    json!({ "type": "response.reasoning_summary_text.delta", "output_index": i, "summary_index": 0, "delta": t }),
                ],
            ),
            Piece::Call(name, args) => {
                let arguments = args.to_string();
                let at = arguments
                    .char_indices()
                    .map(|(k, _)| k)
                    .nth(cut % arguments.chars().count())
                    .unwrap_or(0);
                let (a, b) = arguments.split_at(at);
                (
                    json!({ "type": "function_call", "call_id": format!("call_{i}"), "name": name, "arguments": arguments }),
                    [a, b]
                        .iter()
                        .filter(|s| !s.is_empty())
                        .map(|s| json!({ "type": "response.function_call_arguments.delta", "output_index": i, "delta": s }))
                        .collect(),
                )
            }
        };
        let mut added = item.clone();
        if added["type"] == "function_call" {
            added["arguments"] = json!("");
        }
        events.push(json!({ "type": "response.output_item.added", "output_index": i, "item": added }));
        events.extend(deltas);
        events.push(json!({ "type": "response.output_item.done", "output_index": i, "item": item }));
        items.push(item);
    }
    (items, events)
}

fn responses_usage() -> Value {
    json!({ "input_tokens": 90, "input_tokens_details": { "cached_tokens": 30 }, "output_tokens": 17 })
}

fn split_run(make: &dyn Fn() -> Box<dyn BodyAdapter>, input: &[u8], cuts: &[usize]) -> String {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    points.sort_unstable();
    let mut pieces = Vec::new();
    let mut from = 0;
    for p in points {
        pieces.push(&input[from..p]);
        from = p;
    }
    pieces.push(&input[from..]);
    run(make().as_mut(), &pieces)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn conversations_survive_a_trip_through_gemini(exchanges in prop::collection::vec(exchange(), 1..4)) {
        let req = request(&exchanges);
        let g = to_gemini::convert(&req).expect("converts").body;
        prop_assert_eq!(from_gemini_contents(&g["contents"]), projected(&messages(&exchanges)));
    }

    #[test]
    fn conversations_survive_a_trip_through_responses(exchanges in prop::collection::vec(exchange(), 1..4)) {
        let req = request(&exchanges);
        let r = to_responses::convert(&req).expect("converts").body;
        prop_assert_eq!(from_responses_input(&r["input"]), messages(&exchanges));
    }

    #[test]
    fn a_gemini_stream_gives_the_json_answers_message(pieces in prop::collection::vec(piece(), 0..6)) {
        let parts: Vec<Value> = pieces.iter().map(gemini_part).collect();
        let answer = json!({
            "candidates": [{ "content": { "role": "model", "parts": parts }, "finishReason": "STOP" }],
            "usageMetadata": gemini_usage(), "modelVersion": "gemini-p", "responseId": "p1",
        });
        let mut events: Vec<Value> = parts
            .iter()
            .map(|p| json!({ "candidates": [{ "content": { "role": "model", "parts": [p] } }], "modelVersion": "gemini-p", "responseId": "p1" }))
            .collect();
        events.push(json!({ "candidates": [{ "content": { "parts": [] }, "finishReason": "STOP" }], "usageMetadata": gemini_usage(), "modelVersion": "gemini-p", "responseId": "p1" }));
        let streamed = read(&run(&mut GeminiStream::new("g"), &[sse_of(&events, false).as_bytes()]));
        prop_assert_eq!(streamed, Outcome::Message(from_gemini(&answer, "g").expect("converts")));
    }

    #[test]
    fn a_responses_stream_gives_the_json_answers_message(pieces in prop::collection::vec(piece(), 0..6), cut in 0usize..64) {
        let (items, mut events) = responses_output(&pieces, cut);
        let answer = json!({ "id": "resp_p", "model": "gpt-p", "status": "completed", "output": items, "usage": responses_usage() });
        events.push(json!({ "type": "response.completed", "response": answer }));
        let streamed = read(&run(&mut ResponsesStream::new("g"), &[sse_of(&events, true).as_bytes()]));
        prop_assert_eq!(streamed, Outcome::Message(from_responses(&answer, "g").expect("converts")));
    }

    #[test]
    fn gemini_chunk_boundaries_change_nothing(cuts in prop::collection::vec(any::<usize>(), 0..24)) {
        let input = sse_of(&gemini_events(), false);
        let make = || Box::new(GeminiStream::new("g")) as Box<dyn BodyAdapter>;
        let whole = run(make().as_mut(), &[input.as_bytes()]);
        prop_assert_eq!(split_run(&make, input.as_bytes(), &cuts), whole);
    }

    #[test]
    fn responses_chunk_boundaries_change_nothing(cuts in prop::collection::vec(any::<usize>(), 0..24)) {
        let input = sse_of(&responses_events(), true);
        let make = || Box::new(ResponsesStream::new("g")) as Box<dyn BodyAdapter>;
        let whole = run(make().as_mut(), &[input.as_bytes()]);
        prop_assert_eq!(split_run(&make, input.as_bytes(), &cuts), whole);
    }

    #[test]
    fn generated_streams_split_anywhere_read_the_same(pieces in prop::collection::vec(piece(), 0..5), cuts in prop::collection::vec(any::<usize>(), 1..12)) {
        let (_, mut events) = responses_output(&pieces, 3);
        events.push(json!({ "type": "response.completed", "response": { "status": "completed", "usage": responses_usage() } }));
        let input = sse_of(&events, true);
        let make = || Box::new(ResponsesStream::new("g")) as Box<dyn BodyAdapter>;
        let whole = run(make().as_mut(), &[input.as_bytes()]);
        prop_assert_eq!(split_run(&make, input.as_bytes(), &cuts), whole);
    }
}
