//! An upstream's JSON answer (Gemini `generateContent`, OpenAI Responses) → an Anthropic
//! message, and an upstream error body → Anthropic's error body.
use super::ConvertError;
use super::events::{Usage, message_id, tool_use_id};
use crate::error::anthropic_type;
use crate::upstream::BodyAdapter;
use actix_web::http::StatusCode;
use bytes::{BufMut, BytesMut};
use serde_json::{Value, json};

/// Which API the answer comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upstream {
    Gemini,
    Responses,
}

pub fn from_gemini(answer: &Value, requested_model: &str) -> Result<Value, ConvertError> {
    let id = message_id(answer.get("responseId").and_then(Value::as_str));
    let model = answer
        .get("modelVersion")
        .and_then(Value::as_str)
        .unwrap_or(requested_model);
    let candidate = answer.pointer("/candidates/0");
    let mut content = Content::default();
    let parts = candidate
        .and_then(|c| c.pointer("/content/parts"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for part in parts {
        match gemini_part(part) {
            GeminiPart::Text(t) => content.text(t),
            GeminiPart::Thought(t) => content.thinking(t),
            GeminiPart::Call {
                id: call_id,
                name,
                args,
            } => {
                let call_id = call_id.map_or_else(|| tool_use_id(&id, content.blocks.len()), str::to_owned);
                content.tool_use(&call_id, name, args.clone());
            }
            GeminiPart::Other => {}
        }
    }
    let stop = gemini_stop(
        candidate
            .and_then(|c| c.get("finishReason"))
            .and_then(Value::as_str),
        content.has_tool,
        answer.pointer("/promptFeedback/blockReason").is_some(),
    );
    let usage = Usage::of_gemini(answer.get("usageMetadata").unwrap_or(&Value::Null));
    Ok(content.message(&id, model, stop, usage))
}

pub fn from_responses(answer: &Value, requested_model: &str) -> Result<Value, ConvertError> {
    if answer.get("status").and_then(Value::as_str) == Some("failed") {
        let message = answer
            .pointer("/error/message")
            .and_then(Value::as_str)
            .unwrap_or("the upstream response failed");
        return Err(ConvertError::Answer(message.to_owned()));
    }
    let id = message_id(answer.get("id").and_then(Value::as_str));
    let model = answer
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or(requested_model);
    let mut content = Content::default();
    let mut refused = false;
    for item in answer
        .get("output")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match item.get("type").and_then(Value::as_str) {
            Some("reasoning") => content.thinking(&reasoning_text(item)),
            Some("message") => {
                for part in item
                    .get("content")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    match part.get("type").and_then(Value::as_str) {
                        Some("output_text") => content.text(part["text"].as_str().unwrap_or_default()),
                        Some("refusal") => {
                            refused = true;
                            content.text(part["refusal"].as_str().unwrap_or_default());
                        }
                        _ => {}
                    }
                }
            }
            Some("function_call") => {
                let call_id = item["call_id"].as_str().unwrap_or_default();
                let name = item["name"].as_str().unwrap_or_default();
                let input = tool_input(item["arguments"].as_str().unwrap_or_default())?;
                content.tool_use(call_id, name, input);
            }
            _ => {}
        }
    }
    let stop = if refused {
        "refusal"
    } else {
        responses_stop(answer, content.has_tool)
    };
    let usage = Usage::of_responses(answer.get("usage").unwrap_or(&Value::Null));
    Ok(content.message(&id, model, stop, usage))
}

/// An upstream error body (Gemini's or OpenAI's) as Anthropic's, its type from the upstream's
/// status name or code where there is one, else from the HTTP status.
pub fn upstream_error(body: &Value, status: Option<StatusCode>) -> Value {
    let error = body.get("error").unwrap_or(body);
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("the upstream answered with an error");
    let named = error
        .get("status")
        .or_else(|| error.get("code"))
        .or_else(|| error.get("type"))
        .and_then(Value::as_str)
        .and_then(error_type_of_name);
    let numbered = status
        .or_else(|| {
            let code = error.get("code").and_then(Value::as_u64)?;
            StatusCode::from_u16(u16::try_from(code).ok()?).ok()
        })
        .map(anthropic_type);
    let kind = named.or(numbered).unwrap_or("api_error");
    json!({ "type": "error", "error": { "type": kind, "message": message } })
}

/// Anthropic's error type for a Gemini status name or an OpenAI error code.
pub(super) fn error_type_of_name(name: &str) -> Option<&'static str> {
    Some(match name {
        "RESOURCE_EXHAUSTED" | "rate_limit_exceeded" | "rate_limit_error" => "rate_limit_error",
        "UNAVAILABLE" | "server_is_overloaded" | "slow_down" => "overloaded_error",
        "INVALID_ARGUMENT"
        | "FAILED_PRECONDITION"
        | "OUT_OF_RANGE"
        | "invalid_request_error"
        | "invalid_prompt"
        | "context_length_exceeded" => "invalid_request_error",
        "UNAUTHENTICATED" | "invalid_api_key" | "authentication_error" => "authentication_error",
        "PERMISSION_DENIED" | "permission_error" => "permission_error",
        "NOT_FOUND" | "model_not_found" => "not_found_error",
        "DEADLINE_EXCEEDED" => "timeout_error",
        "INTERNAL" | "server_error" => "api_error",
        _ => return None,
    })
}

/// One Gemini part, as the converters see it.
pub(super) enum GeminiPart<'a> {
    Text(&'a str),
    Thought(&'a str),
    Call {
        id: Option<&'a str>,
        name: &'a str,
        args: &'a Value,
    },
    /// A part with nothing for an Anthropic client (a bare thought signature, code results).
    Other,
}

pub(super) fn gemini_part(part: &Value) -> GeminiPart<'_> {
    static EMPTY_ARGS: Value = Value::Null;
    if let Some(call) = part.get("functionCall") {
        return GeminiPart::Call {
            id: call.get("id").and_then(Value::as_str),
            name: call.get("name").and_then(Value::as_str).unwrap_or_default(),
            args: call.get("args").unwrap_or(&EMPTY_ARGS),
        };
    }
    match (part.get("text").and_then(Value::as_str), part.get("thought")) {
        (Some(t), Some(Value::Bool(true))) => GeminiPart::Thought(t),
        (Some(t), _) => GeminiPart::Text(t),
        _ => GeminiPart::Other,
    }
}

pub(super) fn gemini_stop(finish: Option<&str>, has_tool: bool, blocked: bool) -> &'static str {
    match finish {
        _ if blocked => "refusal",
        Some("MAX_TOKENS") => "max_tokens",
        Some("SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY") => {
            "refusal"
        }
        _ if has_tool => "tool_use",
        _ => "end_turn",
    }
}

/// From a Responses object's `status` and `incomplete_details`.
pub(super) fn responses_stop(response: &Value, has_tool: bool) -> &'static str {
    let reason = response
        .pointer("/incomplete_details/reason")
        .and_then(Value::as_str);
    match (response.get("status").and_then(Value::as_str), reason) {
        (Some("incomplete"), Some("max_output_tokens")) => "max_tokens",
        (Some("incomplete"), Some("content_filter")) => "refusal",
        _ if has_tool => "tool_use",
        _ => "end_turn",
    }
}

/// A reasoning item's readable text: its summary, else its raw reasoning where the model
/// shows it; parts apart by a blank line, as a stream gives them.
pub(super) fn reasoning_text(item: &Value) -> String {
    let texts = |key: &str| -> Vec<&str> {
        item.get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect()
    };
    let summary = texts("summary");
    if summary.is_empty() {
        texts("content").join("")
    } else {
        summary.join(PARAGRAPH)
    }
}

pub(super) const PARAGRAPH: &str = "\n\n";

/// A call's arguments as the object Anthropic's `input` is.
pub(super) fn tool_input(arguments: &str) -> Result<Value, ConvertError> {
    if arguments.trim().is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_str(arguments)
        .map_err(|e| ConvertError::Answer(format!("tool call arguments are not JSON: {e}")))
}

/// Content blocks built in order, neighbouring text (or thinking) joined as a stream gives it.
#[derive(Debug, Default)]
struct Content {
    blocks: Vec<Value>,
    has_tool: bool,
}

impl Content {
    fn text(&mut self, t: &str) {
        self.push_joined("text", t);
    }

    fn thinking(&mut self, t: &str) {
        self.push_joined("thinking", t);
    }

    fn push_joined(&mut self, kind: &str, t: &str) {
        if t.is_empty() {
            return;
        }
        match self.blocks.last_mut() {
            Some(last) if last["type"] == kind => {
                let joined = format!("{}{t}", last[kind].as_str().unwrap_or_default());
                last[kind] = json!(joined);
            }
            _ if kind == "thinking" => self
                .blocks
                .push(json!({ "type": "thinking", "thinking": t, "signature": "" })),
            _ => self.blocks.push(json!({ "type": "text", "text": t })),
        }
    }

    fn tool_use(&mut self, id: &str, name: &str, input: Value) {
        let input = if input.is_null() { json!({}) } else { input };
        self.has_tool = true;
        self.blocks
            .push(json!({ "type": "tool_use", "id": id, "name": name, "input": input }));
    }

    fn message(self, id: &str, model: &str, stop: &str, usage: Usage) -> Value {
        json!({
            "id": id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": self.blocks,
            "stop_reason": stop,
            "stop_sequence": null,
            "usage": usage.json(),
        })
    }
}

/// A whole JSON answer, converted once it is complete (an error answer becomes Anthropic's
/// error body; the status line is the upstream's).
pub struct JsonAnswer {
    upstream: Upstream,
    requested_model: String,
    body: Vec<u8>,
}

impl JsonAnswer {
    pub fn new(upstream: Upstream, requested_model: &str) -> Self {
        JsonAnswer {
            upstream,
            requested_model: requested_model.to_owned(),
            body: Vec::new(),
        }
    }

    fn convert(&self) -> Value {
        let answer: Value = match serde_json::from_slice(&self.body) {
            Ok(v) => v,
            Err(e) => return ConvertError::Answer(format!("not JSON: {e}")).anthropic_body(),
        };
        let is_error = answer.get("error").is_some_and(Value::is_object)
            && answer.get("candidates").is_none()
            && answer.get("output").is_none();
        if is_error {
            return upstream_error(&answer, None);
        }
        let message = match self.upstream {
            Upstream::Gemini => from_gemini(&answer, &self.requested_model),
            Upstream::Responses => from_responses(&answer, &self.requested_model),
        };
        message.unwrap_or_else(|e| e.anthropic_body())
    }
}

impl BodyAdapter for JsonAnswer {
    fn chunk(&mut self, input: &[u8], _out: &mut BytesMut) {
        self.body.extend_from_slice(input);
    }

    fn finish(&mut self, out: &mut BytesMut) {
        out.put_slice(self.convert().to_string().as_bytes());
    }
}
