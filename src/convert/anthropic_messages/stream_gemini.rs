//! Gemini `streamGenerateContent?alt=sse` → Anthropic Messages SSE. Each Gemini event is a
//! whole `GenerateContentResponse` with the next parts; the last one carries `finishReason`
//! and the complete `usageMetadata`.
use super::answer::{GeminiPart, error_type_of_name, gemini_part, gemini_stop};
use super::events::{EventWriter, Usage, message_id, tool_use_id};
use super::upstream_sse::UpstreamEvents;
use crate::upstream::BodyAdapter;
use bytes::BytesMut;
use serde_json::Value;

pub struct GeminiStream {
    requested_model: String,
    events: UpstreamEvents,
    writer: EventWriter,
    id: String,
    finish_reason: Option<String>,
    blocked: bool,
    has_tool: bool,
    usage: Usage,
}

impl GeminiStream {
    pub fn new(requested_model: &str) -> Self {
        GeminiStream {
            requested_model: requested_model.to_owned(),
            events: UpstreamEvents::default(),
            writer: EventWriter::default(),
            id: String::new(),
            finish_reason: None,
            blocked: false,
            has_tool: false,
            usage: Usage::default(),
        }
    }

    fn event(&mut self, data: &[u8], out: &mut BytesMut) {
        if self.writer.ended() {
            return;
        }
        let Ok(chunk) = serde_json::from_slice::<Value>(data) else {
            self.writer
                .error(out, "api_error", "the upstream sent an event that is not JSON");
            return;
        };
        if let Some(error) = chunk.get("error").filter(|e| e.is_object()) {
            let kind = error
                .get("status")
                .and_then(Value::as_str)
                .and_then(error_type_of_name)
                .unwrap_or("api_error");
            let message = error
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("the upstream failed");
            self.writer.error(out, kind, message);
            return;
        }
        if let Some(meta) = chunk.get("usageMetadata") {
            self.usage = Usage::of_gemini(meta);
        }
        if !self.writer.started() {
            self.id = message_id(chunk.get("responseId").and_then(Value::as_str));
            let model = chunk
                .get("modelVersion")
                .and_then(Value::as_str)
                .unwrap_or(&self.requested_model)
                .to_owned();
            // Output so far is none; the prompt's counts are known from the first event.
            let start = Usage {
                output_tokens: 0,
                ..self.usage
            };
            self.writer.start(out, &self.id, &model, start);
        }
        self.blocked |= chunk.pointer("/promptFeedback/blockReason").is_some();
        let candidate = chunk.pointer("/candidates/0");
        let parts = candidate
            .and_then(|c| c.pointer("/content/parts"))
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for part in parts {
            match gemini_part(part) {
                GeminiPart::Text(t) => self.writer.text(out, t),
                GeminiPart::Thought(t) => self.writer.thinking(out, t),
                GeminiPart::Call { id, name, args } => {
                    // Gemini sends a call whole: one block with its input in one piece.
                    self.has_tool = true;
                    let id =
                        id.map_or_else(|| tool_use_id(&self.id, self.writer.next_index()), str::to_owned);
                    self.writer.tool_use(out, &id, name);
                    let input = if args.is_null() {
                        "{}".to_owned()
                    } else {
                        args.to_string()
                    };
                    self.writer.tool_input(out, &input);
                    self.writer.close(out);
                }
                GeminiPart::Other => {}
            }
        }
        if let Some(reason) = candidate
            .and_then(|c| c.get("finishReason"))
            .and_then(Value::as_str)
        {
            self.finish_reason = Some(reason.to_owned());
        }
    }
}

impl BodyAdapter for GeminiStream {
    fn chunk(&mut self, input: &[u8], out: &mut BytesMut) {
        let mut events = std::mem::take(&mut self.events);
        events.feed(input, |data| self.event(data, out));
        self.events = events;
    }

    fn finish(&mut self, out: &mut BytesMut) {
        let mut events = std::mem::take(&mut self.events);
        events.flush(|data| self.event(data, out));
        if self.writer.ended() {
            return;
        }
        if self.finish_reason.is_none() && !self.blocked {
            // A stream that stops before its last event is cut, not finished: say so rather
            // than let the client take a partial answer as whole.
            self.writer.error(
                out,
                "api_error",
                "the upstream stream ended before its last event",
            );
            return;
        }
        let stop = gemini_stop(self.finish_reason.as_deref(), self.has_tool, self.blocked);
        self.writer.stop(out, stop, self.usage);
    }

    fn content_type(&self) -> Option<&'static str> {
        Some("text/event-stream")
    }
}
