//! A Gemini `alt=sse` stream (one GenerateContentResponse per event) as a chat completions
//! chunk stream. Gemini sends each function call whole, so a tool call is one chunk; the
//! finish reason and usage come with the last event, so the end is written when the stream ends.
use super::AnswerContext;
use super::chunks::ChunkWriter;
use super::events::{ChunkStream, EventReader, EventTranslator};
use super::from_gemini::{Piece, finish_reason};
use super::upstream_error::gemini_error_to_openai;
use super::usage::ChatUsage;
use bytes::BytesMut;
use serde_json::Value;

/// The stream adapter: `GeminiToChunks::new(ctx)` is the relay's `BodyAdapter`.
pub type GeminiToChunks = ChunkStream<GeminiEvents>;

impl GeminiToChunks {
    pub fn new(ctx: &AnswerContext) -> Self {
        ChunkStream {
            events: EventReader::default(),
            translator: GeminiEvents {
                writer: ChunkWriter::new(ctx.created, ctx.requested_model.clone(), ctx.include_usage),
                response_id: String::new(),
                usage: ChatUsage::default(),
                last: None,
                tool_calls: 0,
                seen: false,
            },
        }
    }
}

pub struct GeminiEvents {
    writer: ChunkWriter,
    response_id: String,
    usage: ChatUsage,
    /// The last event that said why the generation stopped.
    last: Option<Value>,
    tool_calls: usize,
    /// An event arrived (its id and model name the stream).
    seen: bool,
}

impl EventTranslator for GeminiEvents {
    fn event(&mut self, data: &[u8], out: &mut BytesMut) {
        if self.writer.is_over() {
            return;
        }
        let Ok(mut answer) = serde_json::from_slice::<Value>(data) else {
            return self
                .writer
                .broken(out, "The upstream sent an event that is not JSON");
        };
        if answer.get("error").is_some() {
            return self.writer.fail(out, &gemini_error_to_openai(data));
        }
        if !self.seen {
            self.seen = true;
            if let Some(id) = answer["responseId"].as_str() {
                self.response_id = id.to_owned();
                self.writer.id = format!("chatcmpl-{id}");
            }
            if let Some(model) = answer["modelVersion"].as_str() {
                self.writer.model = model.to_owned();
            }
        }
        self.writer.start(out);
        for part in answer["candidates"][0]["content"]["parts"]
            .as_array()
            .into_iter()
            .flatten()
        {
            match Piece::of(part) {
                Piece::Text(t) if !t.is_empty() => self.writer.content(out, t),
                Piece::Thought(t) if !t.is_empty() => self.writer.reasoning(out, t),
                Piece::Call(call) => {
                    let index = self.tool_calls;
                    let id = call.id(&self.response_id, index);
                    self.writer
                        .tool_call_start(out, index, &id, call.name, &call.args);
                    self.tool_calls += 1;
                }
                _ => {}
            }
        }
        if answer.get("usageMetadata").is_some() {
            self.usage = ChatUsage::from_gemini(&answer["usageMetadata"]);
        }
        if finish_reason(&answer, false).is_some() {
            answer.as_object_mut().map(|a| a.remove("usageMetadata"));
            self.last = Some(answer);
        }
    }

    fn end(&mut self, out: &mut BytesMut) {
        if self.writer.is_over() {
            return;
        }
        match self
            .last
            .as_ref()
            .and_then(|a| finish_reason(a, self.tool_calls > 0))
        {
            Some(reason) => self.writer.end(out, reason, self.usage),
            None => self
                .writer
                .broken(out, "The upstream stream ended before a finish reason"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::openai_chat::chunks::tests::{chunks_of, run_split};
    use proptest::prelude::*;
    use serde_json::json;

    /// A Gemini `alt=sse` stream as the API frames it (`\r\n\r\n`): two text events, a
    /// function call, usage on the last event.
    const STREAM: &str = concat!(
        "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Checking\"}],\"role\": \"model\"},\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 30,\"totalTokenCount\": 30},\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": \"r-9\"}\r\n\r\n",
        "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"plan\", \"thought\": true}, {\"text\": \" now.\"}],\"role\": \"model\"},\"index\": 0}],\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": \"r-9\"}\r\n\r\n",
        "data: {\"candidates\": [{\"content\": {\"parts\": [{\"functionCall\": {\"name\": \"get_weather\",\"args\": {\"city\": \"Paris\"}}}],\"role\": \"model\"},\"finishReason\": \"STOP\",\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 30,\"cachedContentTokenCount\": 16,\"candidatesTokenCount\": 12,\"thoughtsTokenCount\": 4,\"totalTokenCount\": 46},\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": \"r-9\"}\r\n\r\n",
    );

    fn ctx(include_usage: bool) -> AnswerContext {
        AnswerContext {
            created: 5,
            requested_model: "gemini-flash-latest".into(),
            include_usage,
        }
    }

    fn convert(stream: &str, include_usage: bool) -> String {
        run_split(
            &mut GeminiToChunks::new(&ctx(include_usage)),
            stream.as_bytes(),
            &[],
        )
    }

    #[test]
    fn text_thoughts_and_a_call_become_chunks_ending_in_tool_calls_and_usage() {
        let chunks = chunks_of(&convert(STREAM, true));
        let deltas: Vec<Value> = chunks.iter().map(|c| c["choices"][0]["delta"].clone()).collect();
        assert_eq!(deltas[0], json!({"role": "assistant", "content": ""}));
        assert_eq!(deltas[1], json!({"content": "Checking"}));
        assert_eq!(deltas[2], json!({"reasoning_content": "plan"}));
        assert_eq!(deltas[3], json!({"content": " now."}));
        assert_eq!(
            deltas[4],
            json!({"tool_calls": [{"index": 0, "id": "call_r-9_0", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]})
        );
        assert_eq!(chunks[5]["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(
            chunks[6]["usage"],
            json!({"prompt_tokens": 30, "completion_tokens": 16, "total_tokens": 46,
                "prompt_tokens_details": {"cached_tokens": 16},
                "completion_tokens_details": {"reasoning_tokens": 4}})
        );
        assert_eq!(chunks.len(), 7);
        assert!(
            chunks
                .iter()
                .all(|c| c["model"] == "gemini-2.5-flash" && c["id"] == "chatcmpl-r-9")
        );
    }

    #[test]
    fn an_error_event_is_an_openai_error_chunk() {
        let stream = format!(
            "{}data: {{\"error\": {{\"code\": 503, \"message\": \"The model is overloaded.\", \"status\": \"UNAVAILABLE\"}}}}\r\n\r\n",
            STREAM.split_inclusive("\r\n\r\n").next().unwrap()
        );
        let chunks = chunks_of(&convert(&stream, false));
        assert_eq!(
            chunks.last().unwrap()["error"]["message"],
            "The model is overloaded."
        );
        assert_eq!(chunks.len(), 3);
    }

    #[test]
    fn a_stream_without_a_finish_reason_ends_in_an_error() {
        let first = STREAM.split_inclusive("\r\n\r\n").next().unwrap();
        let chunks = chunks_of(&convert(first, true));
        assert_eq!(chunks.last().unwrap()["error"]["code"], "upstream_stream_broken");
        assert!(chunks.iter().all(|c| c["choices"][0]["finish_reason"].is_null()));
    }

    #[test]
    fn max_tokens_is_length() {
        let stream = "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"a\"}]},\"finishReason\": \"MAX_TOKENS\"}]}\n\n";
        let chunks = chunks_of(&convert(stream, false));
        assert_eq!(chunks[2]["choices"][0]["finish_reason"], "length");
        assert_eq!(chunks[2]["model"], "gemini-flash-latest");
    }

    proptest! {
        #[test]
        fn any_chunking_gives_the_same_stream(cuts in proptest::collection::vec(0..STREAM.len(), 0..12)) {
            let whole = convert(STREAM, true);
            let split = run_split(&mut GeminiToChunks::new(&ctx(true)), STREAM.as_bytes(), &cuts);
            prop_assert_eq!(whole, split);
        }
    }
}
