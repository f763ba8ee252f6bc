//! OpenAI Responses SSE (`response.created`, `response.output_item.added`,
//! `response.output_text.delta`, `response.function_call_arguments.delta`,
//! `response.completed` ...) → Anthropic Messages SSE.
use super::answer::{PARAGRAPH, error_type_of_name, responses_stop};
use super::events::{BlockKind, EventWriter, Usage, message_id};
use super::upstream_sse::UpstreamEvents;
use crate::upstream::BodyAdapter;
use bytes::BytesMut;
use serde_json::Value;

pub struct ResponsesStream {
    requested_model: String,
    events: UpstreamEvents,
    writer: EventWriter,
    /// `output_index` of the function call whose block is open.
    call: Option<u64>,
    /// Whether that call's arguments came as deltas (else they come whole at its end).
    call_streamed: bool,
    has_tool: bool,
    refused: bool,
}

impl ResponsesStream {
    pub fn new(requested_model: &str) -> Self {
        ResponsesStream {
            requested_model: requested_model.to_owned(),
            events: UpstreamEvents::default(),
            writer: EventWriter::default(),
            call: None,
            call_streamed: false,
            has_tool: false,
            refused: false,
        }
    }

    fn start(&mut self, out: &mut BytesMut, response: Option<&Value>) {
        let response = response.unwrap_or(&Value::Null);
        let id = message_id(response.get("id").and_then(Value::as_str));
        let model = response
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or(&self.requested_model)
            .to_owned();
        self.writer.start(out, &id, &model, Usage::default());
    }

    fn event(&mut self, data: &[u8], out: &mut BytesMut) {
        if self.writer.ended() {
            return;
        }
        let Ok(event) = serde_json::from_slice::<Value>(data) else {
            self.writer
                .error(out, "api_error", "the upstream sent an event that is not JSON");
            return;
        };
        let kind = event.get("type").and_then(Value::as_str).unwrap_or_default();
        let text = |key: &str| event.get(key).and_then(Value::as_str).unwrap_or_default();
        if !self.writer.started() && kind != "error" && kind != "response.failed" {
            self.start(out, event.get("response"));
        }
        match kind {
            "response.output_item.added" => {
                let item = &event["item"];
                if item["type"] == "function_call" {
                    self.has_tool = true;
                    self.call = event.get("output_index").and_then(Value::as_u64);
                    self.call_streamed = false;
                    let id = item["call_id"].as_str().unwrap_or_default();
                    let name = item["name"].as_str().unwrap_or_default();
                    self.writer.tool_use(out, id, name);
                }
            }
            "response.output_text.delta" => self.writer.text(out, text("delta")),
            "response.refusal.delta" => {
                self.refused = true;
                self.writer.text(out, text("delta"));
            }
            "response.reasoning_summary_part.added"
                if event.get("summary_index").and_then(Value::as_u64) > Some(0) =>
            {
                self.writer.thinking(out, PARAGRAPH)
            }
            "response.reasoning_summary_text.delta" | "response.reasoning_text.delta" => {
                self.writer.thinking(out, text("delta"))
            }
            "response.function_call_arguments.delta" if self.is_open_call(&event) => {
                self.call_streamed = true;
                self.writer.tool_input(out, text("delta"));
            }
            "response.output_item.done" if self.is_open_call(&event) => {
                if !self.call_streamed {
                    let arguments = event["item"]["arguments"].as_str().unwrap_or_default();
                    self.writer.tool_input(out, arguments);
                }
                self.call = None;
                self.writer.close(out);
            }
            "response.completed" | "response.incomplete" => {
                let response = &event["response"];
                let usage = Usage::of_responses(response.get("usage").unwrap_or(&Value::Null));
                let stop = if self.refused {
                    "refusal"
                } else {
                    responses_stop(response, self.has_tool)
                };
                self.writer.stop(out, stop, usage);
            }
            "response.failed" => {
                let error = event.pointer("/response/error").unwrap_or(&Value::Null);
                self.error(out, error);
            }
            "error" => self.error(out, &event),
            _ => {}
        }
    }

    fn is_open_call(&self, event: &Value) -> bool {
        self.call.is_some()
            && self.call == event.get("output_index").and_then(Value::as_u64)
            && self.writer.open_block() == Some(BlockKind::ToolUse)
    }

    fn error(&mut self, out: &mut BytesMut, error: &Value) {
        let kind = error
            .get("code")
            .and_then(Value::as_str)
            .and_then(error_type_of_name)
            .unwrap_or("api_error");
        let message = error
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("the upstream response failed");
        self.writer.error(out, kind, message);
    }
}

impl BodyAdapter for ResponsesStream {
    fn chunk(&mut self, input: &[u8], out: &mut BytesMut) {
        let mut events = std::mem::take(&mut self.events);
        events.feed(input, |data| self.event(data, out));
        self.events = events;
    }

    fn finish(&mut self, out: &mut BytesMut) {
        let mut events = std::mem::take(&mut self.events);
        events.flush(|data| self.event(data, out));
        // Without `response.completed` the answer was cut, not finished.
        self.writer.error(
            out,
            "api_error",
            "the upstream stream ended before its last event",
        );
    }

    fn content_type(&self) -> Option<&'static str> {
        Some("text/event-stream")
    }
}
