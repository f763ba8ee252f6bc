//! An Anthropic Messages event stream as a chat completions chunk stream: role first, text and
//! thinking deltas, tool calls (id and name first, then argument fragments), the finish
//! reason, the usage chunk when asked for, `[DONE]`.
use super::AnswerContext;
use super::chunks::ChunkWriter;
use super::events::{ChunkStream, EventReader, EventTranslator};
use super::reasons;
use super::upstream_error::anthropic_error_to_openai;
use super::usage::ChatUsage;
use bytes::BytesMut;
use serde_json::{Map, Value};

/// The stream adapter: `AnthropicToChunks::new(ctx)` is the relay's `BodyAdapter`.
pub type AnthropicToChunks = ChunkStream<AnthropicEvents>;

impl AnthropicToChunks {
    pub fn new(ctx: &AnswerContext) -> Self {
        ChunkStream {
            events: EventReader::default(),
            translator: AnthropicEvents {
                writer: ChunkWriter::new(ctx.created, ctx.requested_model.clone(), ctx.include_usage),
                usage: Map::new(),
                stop_reason: None,
                tool_blocks: Vec::new(),
            },
        }
    }
}

pub struct AnthropicEvents {
    writer: ChunkWriter,
    /// message_start's usage, overwritten field by field by message_delta's (cumulative).
    usage: Map<String, Value>,
    stop_reason: Option<String>,
    /// Content block index → tool call index.
    tool_blocks: Vec<(u64, usize)>,
}

impl EventTranslator for AnthropicEvents {
    fn event(&mut self, data: &[u8], out: &mut BytesMut) {
        if self.writer.is_over() {
            return;
        }
        let Ok(event) = serde_json::from_slice::<Value>(data) else {
            return self
                .writer
                .broken(out, "The upstream sent an event that is not JSON");
        };
        match event["type"].as_str().unwrap_or_default() {
            "message_start" => {
                let message = &event["message"];
                if let Some(id) = message["id"].as_str() {
                    self.writer.id = format!("chatcmpl-{id}");
                }
                if let Some(model) = message["model"].as_str() {
                    self.writer.model = model.to_owned();
                }
                if let Some(usage) = message["usage"].as_object() {
                    self.usage = usage.clone();
                }
                self.writer.start(out);
            }
            "content_block_start" => {
                self.writer.start(out);
                let block = &event["content_block"];
                match block["type"].as_str() {
                    Some("tool_use") => {
                        let index = self.tool_blocks.len();
                        self.tool_blocks
                            .push((event["index"].as_u64().unwrap_or(0), index));
                        let id = block["id"].as_str().unwrap_or_default();
                        let name = block["name"].as_str().unwrap_or_default();
                        self.writer.tool_call_start(out, index, id, name, "");
                    }
                    Some("text") => self.text(out, &block["text"]),
                    _ => {}
                }
            }
            "content_block_delta" => {
                self.writer.start(out);
                let delta = &event["delta"];
                match delta["type"].as_str() {
                    Some("text_delta") => self.text(out, &delta["text"]),
                    Some("thinking_delta") => {
                        if let Some(t) = delta["thinking"].as_str().filter(|t| !t.is_empty()) {
                            self.writer.reasoning(out, t);
                        }
                    }
                    Some("input_json_delta") => {
                        let block = event["index"].as_u64().unwrap_or(0);
                        let fragment = delta["partial_json"].as_str().unwrap_or_default();
                        let call = self
                            .tool_blocks
                            .iter()
                            .find(|(b, _)| *b == block)
                            .map(|(_, i)| *i);
                        if let Some(index) = call.filter(|_| !fragment.is_empty()) {
                            self.writer.tool_call_arguments(out, index, fragment);
                        }
                    }
                    _ => {}
                }
            }
            "message_delta" => {
                if let Some(reason) = event["delta"]["stop_reason"].as_str() {
                    self.stop_reason = Some(reason.to_owned());
                }
                if let Some(usage) = event["usage"].as_object() {
                    self.usage.extend(
                        usage
                            .iter()
                            .filter(|(_, v)| !v.is_null())
                            .map(|(k, v)| (k.clone(), v.clone())),
                    );
                }
            }
            "message_stop" => {
                let reason = reasons::from_anthropic(self.stop_reason.as_deref().unwrap_or("end_turn"));
                let usage = ChatUsage::from_anthropic(&Value::Object(std::mem::take(&mut self.usage)));
                self.writer.end(out, reason, usage);
            }
            "error" => self.writer.fail(out, &anthropic_error_to_openai(data)),
            _ => {}
        }
    }

    fn end(&mut self, out: &mut BytesMut) {
        if !self.writer.is_over() {
            self.writer
                .broken(out, "The upstream stream ended before the answer was complete");
        }
    }
}

impl AnthropicEvents {
    fn text(&self, out: &mut BytesMut, text: &Value) {
        if let Some(t) = text.as_str().filter(|t| !t.is_empty()) {
            self.writer.content(out, t);
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::convert::openai_chat::chunks::tests::{chunks_of, run_split};
    use proptest::prelude::*;
    use serde_json::json;

    /// Anthropic's documented stream of a tool use (text, then a tool_use block whose input
    /// arrives as JSON fragments), with cache counts in message_start.
    pub const TOOL_STREAM: &str = concat!(
        "event: message_start\n",
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_014p7gG3wDgGV9EUtLvnow3U\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5-20250929\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":472,\"cache_read_input_tokens\":100,\"cache_creation_input_tokens\":0,\"output_tokens\":2},\"content\":[],\"stop_reason\":null}}\n\n",
        "event: content_block_start\n",
        "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: ping\n",
        "data: {\"type\": \"ping\"}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Okay, let's check\"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" the weather.\"}}\n\n",
        "event: content_block_stop\n",
        "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: content_block_start\n",
        "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01T1x1fJ34qAmk2tNTrN7Up6\",\"name\":\"get_weather\",\"input\":{}}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"location\\\":\"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\" \\\"San Francisco, CA\\\"}\"}}\n\n",
        "event: content_block_stop\n",
        "data: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
        "event: message_delta\n",
        "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":89}}\n\n",
        "event: message_stop\n",
        "data: {\"type\":\"message_stop\"}\n\n",
    );

    fn ctx(include_usage: bool) -> AnswerContext {
        AnswerContext {
            created: 1_700_000_000,
            requested_model: "claude-sonnet-4-5".into(),
            include_usage,
        }
    }

    fn convert(stream: &str, include_usage: bool) -> String {
        run_split(
            &mut AnthropicToChunks::new(&ctx(include_usage)),
            stream.as_bytes(),
            &[],
        )
    }

    #[test]
    fn a_tool_use_stream_becomes_role_text_tool_call_finish_usage_done() {
        let out = convert(TOOL_STREAM, true);
        let chunks = chunks_of(&out);
        let deltas: Vec<Value> = chunks.iter().map(|c| c["choices"][0]["delta"].clone()).collect();
        assert_eq!(deltas[0], json!({"role": "assistant", "content": ""}));
        assert_eq!(deltas[1], json!({"content": "Okay, let's check"}));
        assert_eq!(deltas[2], json!({"content": " the weather."}));
        assert_eq!(
            deltas[3],
            json!({"tool_calls": [{"index": 0, "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "type": "function",
                "function": {"name": "get_weather", "arguments": ""}}]})
        );
        assert_eq!(
            deltas[4],
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"location\":"}}]})
        );
        assert_eq!(
            deltas[5],
            json!({"tool_calls": [{"index": 0, "function": {"arguments": " \"San Francisco, CA\"}"}}]})
        );
        assert_eq!(chunks[6]["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(chunks[7]["choices"], json!([]));
        assert_eq!(
            chunks[7]["usage"],
            json!({"prompt_tokens": 572, "completion_tokens": 89, "total_tokens": 661,
                "prompt_tokens_details": {"cached_tokens": 100}})
        );
        assert_eq!(chunks.len(), 8);
        for c in &chunks[..7] {
            assert_eq!(c["usage"], Value::Null, "usage is null until the last chunk");
            assert_eq!(c["id"], "chatcmpl-msg_014p7gG3wDgGV9EUtLvnow3U");
            assert_eq!(c["model"], "claude-sonnet-4-5-20250929");
            assert_eq!(c["object"], "chat.completion.chunk");
        }
        assert!(out.ends_with("data: [DONE]\n\n"));
    }

    #[test]
    fn without_include_usage_there_is_no_usage_chunk_nor_usage_key() {
        let chunks = chunks_of(&convert(TOOL_STREAM, false));
        assert_eq!(chunks.len(), 7);
        assert!(chunks.iter().all(|c| c.get("usage").is_none()));
    }

    #[test]
    fn an_error_event_mid_stream_is_an_openai_error_chunk() {
        let cut = TOOL_STREAM.find("event: content_block_stop").unwrap();
        let stream = format!(
            "{}event: error\ndata: {{\"type\":\"error\",\"error\":{{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}}}\n\n",
            &TOOL_STREAM[..cut]
        );
        let out = convert(&stream, true);
        let chunks = chunks_of(&out);
        let last = chunks.last().unwrap();
        assert_eq!(last["error"]["message"], "Overloaded");
        assert_eq!(last["error"]["type"], "server_error");
        assert!(out.ends_with("data: [DONE]\n\n"));
    }

    #[test]
    fn a_stream_cut_before_message_stop_ends_in_an_error_not_a_false_finish() {
        let cut = TOOL_STREAM.find("event: message_delta").unwrap();
        let chunks = chunks_of(&convert(&TOOL_STREAM[..cut], true));
        assert!(chunks.iter().all(|c| c["choices"][0]["finish_reason"].is_null()));
        assert_eq!(chunks.last().unwrap()["error"]["code"], "upstream_stream_broken");
    }

    #[test]
    fn thinking_deltas_are_reasoning_content_and_stop_sequence_is_stop() {
        let stream = concat!(
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"c\",\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n",
            "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"hmm\"}}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"EqQ=\"}}\n\n",
            "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"stop_sequence\"},\"usage\":{\"output_tokens\":7}}\n\n",
            "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
        );
        let chunks = chunks_of(&convert(stream, false));
        assert_eq!(
            chunks[1]["choices"][0]["delta"],
            json!({"reasoning_content": "hmm"})
        );
        assert_eq!(chunks[2]["choices"][0]["finish_reason"], "stop");
        assert_eq!(chunks.len(), 3);
    }

    proptest! {
        #[test]
        fn any_chunking_gives_the_same_stream(cuts in proptest::collection::vec(0..TOOL_STREAM.len(), 0..12)) {
            let whole = convert(TOOL_STREAM, true);
            let split = run_split(&mut AnthropicToChunks::new(&ctx(true)), TOOL_STREAM.as_bytes(), &cuts);
            prop_assert_eq!(whole, split);
        }
    }
}
