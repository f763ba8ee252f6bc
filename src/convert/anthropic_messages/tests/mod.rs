//! Tests of the Anthropic Messages conversions, with a strict reader of the Anthropic event
//! stream that checks the order the SDKs rely on and rebuilds the message as they do.
mod answers;
mod fixtures;
mod properties;
mod requests;
mod streams;

use crate::upstream::BodyAdapter;
use bytes::BytesMut;
use serde_json::{Map, Value, json};

/// Feeds `chunks` through `adapter`, then finishes it.
pub(super) fn run(adapter: &mut dyn BodyAdapter, chunks: &[&[u8]]) -> String {
    let mut out = BytesMut::new();
    for c in chunks {
        adapter.chunk(c, &mut out);
    }
    adapter.finish(&mut out);
    String::from_utf8(out.to_vec()).expect("the adapter writes UTF-8")
}

/// How a converted stream ended.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Outcome {
    /// The message as the SDK accumulates it.
    Message(Value),
    /// The `error` event's `error` object.
    Error(Value),
}

/// Reads Anthropic SSE strictly: every event is `event: NAME` then one `data:` line whose
/// `type` is NAME; `message_start` first; blocks opened, fed and closed one at a time with
/// indices 0, 1, ...; deltas of the open block's kind; `message_delta` once with no block
/// open; `message_stop` last; or `error`, after which nothing. `ping` may come after the start.
pub(super) fn read_strict(sse: &str) -> Result<Outcome, String> {
    let mut message: Option<Value> = None;
    let mut open: Option<(usize, String, String)> = None; // index, kind, gathered text/json
    let mut delta_seen = false;
    let mut stopped = false;
    let mut outcome = None;
    let events: Vec<&str> = sse.split("\n\n").filter(|e| !e.is_empty()).collect();
    if !sse.is_empty() && !sse.ends_with("\n\n") {
        return Err("the stream does not end with a blank line".into());
    }
    for raw in events {
        if outcome.is_some() {
            return Err(format!("event after the end: {raw}"));
        }
        let mut lines = raw.split('\n');
        let (Some(name_line), Some(data_line), None) = (lines.next(), lines.next(), lines.next()) else {
            return Err(format!("not one event line and one data line: {raw:?}"));
        };
        let name = name_line
            .strip_prefix("event: ")
            .ok_or_else(|| format!("no event line: {raw:?}"))?;
        let data: Value = data_line
            .strip_prefix("data: ")
            .and_then(|d| serde_json::from_str(d).ok())
            .ok_or_else(|| format!("data is not JSON: {raw:?}"))?;
        if data["type"] != name {
            return Err(format!("event {name} carries type {}", data["type"]));
        }
        match name {
            "error" => outcome = Some(Outcome::Error(data["error"].clone())),
            "message_start" if message.is_none() => {
                let m = data["message"].clone();
                for key in ["id", "model", "usage"] {
                    if m.get(key).is_none() {
                        return Err(format!("message_start without {key}"));
                    }
                }
                if m["content"] != json!([]) || m["type"] != "message" || m["role"] != "assistant" {
                    return Err(format!("message_start malformed: {m}"));
                }
                message = Some(m);
            }
            _ if message.is_none() => return Err(format!("{name} before message_start")),
            "ping" => {}
            "content_block_start" if open.is_none() && !delta_seen => {
                let m = message.as_mut().expect("started");
                let index = m["content"].as_array().map_or(0, Vec::len);
                if data["index"] != index {
                    return Err(format!("block {} opened, {index} expected", data["index"]));
                }
                let block = data["content_block"].clone();
                let kind = block["type"].as_str().unwrap_or_default().to_owned();
                if !["text", "thinking", "tool_use"].contains(&kind.as_str()) {
                    return Err(format!("unknown block {block}"));
                }
                m["content"].as_array_mut().expect("array").push(block);
                open = Some((index, kind, String::new()));
            }
            "content_block_delta" => {
                let Some((index, kind, gathered)) = open.as_mut() else {
                    return Err("delta with no block open".into());
                };
                if data["index"] != *index {
                    return Err(format!("delta for {} while {index} is open", data["index"]));
                }
                let d = &data["delta"];
                let piece = match (kind.as_str(), d["type"].as_str()) {
                    ("text", Some("text_delta")) => d["text"].as_str(),
                    ("thinking", Some("thinking_delta")) => d["thinking"].as_str(),
                    ("thinking", Some("signature_delta")) => Some(""),
                    ("tool_use", Some("input_json_delta")) => d["partial_json"].as_str(),
                    _ => None,
                };
                gathered.push_str(piece.ok_or_else(|| format!("{} in a {kind} block", d["type"]))?);
            }
            "content_block_stop" => {
                let Some((index, kind, gathered)) = open.take() else {
                    return Err("stop with no block open".into());
                };
                if data["index"] != index {
                    return Err(format!("stop for {} while {index} is open", data["index"]));
                }
                let block = &mut message.as_mut().expect("started")["content"][index];
                match kind.as_str() {
                    "tool_use" => {
                        let json = if gathered.is_empty() { "{}" } else { &gathered };
                        block["input"] = serde_json::from_str(json)
                            .map_err(|e| format!("tool input {json:?} is not JSON: {e}"))?;
                    }
                    _ => block[kind.as_str()] = json!(gathered),
                }
            }
            "message_delta" if open.is_none() && !delta_seen => {
                delta_seen = true;
                let m = message.as_mut().expect("started");
                m["stop_reason"] = data["delta"]["stop_reason"].clone();
                if data["usage"].get("output_tokens").is_none() {
                    return Err("message_delta without usage.output_tokens".into());
                }
                // The SDK's rule: present counts overwrite message_start's.
                let usage: &Map<String, Value> = data["usage"].as_object().ok_or("usage")?;
                for (k, v) in usage {
                    m["usage"][k] = v.clone();
                }
            }
            "message_stop" if delta_seen => {
                stopped = true;
                outcome = message.take().map(Outcome::Message);
            }
            other => return Err(format!("{other} out of order")),
        }
    }
    match outcome {
        Some(o) if stopped || matches!(o, Outcome::Error(_)) => Ok(o),
        _ => Err("the stream ended without message_stop or error".into()),
    }
}

/// `read_strict` that must succeed.
pub(super) fn read(sse: &str) -> Outcome {
    read_strict(sse).unwrap_or_else(|e| panic!("{e}\n--- stream ---\n{sse}"))
}

/// Upstream SSE text: `data: JSON` events (with `event:` names when given).
pub(super) fn sse_of(events: &[Value], named: bool) -> String {
    let mut s = String::new();
    for e in events {
        if named {
            s.push_str(&format!("event: {}\n", e["type"].as_str().unwrap_or_default()));
        }
        s.push_str(&format!("data: {e}\r\n\r\n"));
    }
    s
}
