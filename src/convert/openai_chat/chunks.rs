//! `chat.completion.chunk` events as OpenAI streams them: `data: {...}\n\n`, one choice, and
//! `data: [DONE]` last. Both upstream streams write through this one writer.
use super::upstream_error;
use super::usage::ChatUsage;
use bytes::BytesMut;
use serde_json::{Value, json};

#[derive(Debug)]
pub struct ChunkWriter {
    pub id: String,
    pub model: String,
    created: u64,
    include_usage: bool,
    started: bool,
    over: bool,
}

impl ChunkWriter {
    pub fn new(created: u64, model: String, include_usage: bool) -> Self {
        ChunkWriter {
            id: format!("chatcmpl-{created}"),
            model,
            created,
            include_usage,
            started: false,
            over: false,
        }
    }

    /// The stream has ended (finished or failed): nothing more is written.
    pub fn is_over(&self) -> bool {
        self.over
    }

    fn write(&self, out: &mut BytesMut, choices: Value, usage: Value) {
        let mut chunk = json!({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created,
            "model": self.model, "choices": choices,
        });
        // With include_usage every chunk carries `usage`, null until the last one.
        if self.include_usage {
            chunk["usage"] = usage;
        }
        event(out, &chunk);
    }

    fn delta(&self, out: &mut BytesMut, delta: Value) {
        let choice = json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": null}]);
        self.write(out, choice, Value::Null);
    }

    /// The role chunk, once, before anything else.
    pub fn start(&mut self, out: &mut BytesMut) {
        if !self.started {
            self.started = true;
            self.delta(out, json!({"role": "assistant", "content": ""}));
        }
    }

    pub fn content(&self, out: &mut BytesMut, text: &str) {
        self.delta(out, json!({"content": text}));
    }

    /// Thinking text, in the `reasoning_content` field OpenAI-compatible clients read.
    pub fn reasoning(&self, out: &mut BytesMut, text: &str) {
        self.delta(out, json!({"reasoning_content": text}));
    }

    /// A tool call's first chunk: its index, id and name, with the arguments so far.
    pub fn tool_call_start(&self, out: &mut BytesMut, index: usize, id: &str, name: &str, arguments: &str) {
        let call = json!({"index": index, "id": id, "type": "function",
            "function": {"name": name, "arguments": arguments}});
        self.delta(out, json!({"tool_calls": [call]}));
    }

    pub fn tool_call_arguments(&self, out: &mut BytesMut, index: usize, fragment: &str) {
        self.delta(
            out,
            json!({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]}),
        );
    }

    /// The finish_reason chunk, then (with include_usage) the usage chunk, then `[DONE]`.
    pub fn end(&mut self, out: &mut BytesMut, finish_reason: &str, usage: ChatUsage) {
        self.start(out);
        let choice = json!([{"index": 0, "delta": {}, "logprobs": null, "finish_reason": finish_reason}]);
        self.write(out, choice, Value::Null);
        if self.include_usage {
            self.write(out, json!([]), usage.to_json());
        }
        done(out);
        self.over = true;
    }

    /// An error mid-stream: a data object with an `error` key (OpenAI's SDK raises it), then
    /// the end.
    pub fn fail(&mut self, out: &mut BytesMut, error: &Value) {
        event(out, error);
        done(out);
        self.over = true;
    }

    /// The upstream stream broke off or made no sense.
    pub fn broken(&mut self, out: &mut BytesMut, message: &str) {
        let e = upstream_error::error(message.to_owned(), "server_error", "upstream_stream_broken");
        self.fail(out, &e);
    }
}

fn event(out: &mut BytesMut, v: &Value) {
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(v.to_string().as_bytes());
    out.extend_from_slice(b"\n\n");
}

fn done(out: &mut BytesMut) {
    out.extend_from_slice(b"data: [DONE]\n\n");
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::upstream::BodyAdapter;

    /// Runs `adapter` over `input` cut at `cuts` (byte offsets, any order), then finishes it.
    pub fn run_split(adapter: &mut dyn BodyAdapter, input: &[u8], cuts: &[usize]) -> String {
        let mut cuts: Vec<usize> = cuts.iter().map(|c| (*c).min(input.len())).collect();
        cuts.sort_unstable();
        let mut out = BytesMut::new();
        let mut from = 0;
        for cut in cuts.into_iter().chain([input.len()]) {
            adapter.chunk(&input[from..cut], &mut out);
            from = cut;
        }
        adapter.finish(&mut out);
        String::from_utf8(out.to_vec()).unwrap()
    }

    /// The JSON of each `data:` event before `[DONE]`, checking the framing on the way.
    pub fn chunks_of(sse: &str) -> Vec<Value> {
        let events: Vec<&str> = sse.split_terminator("\n\n").collect();
        assert_eq!(events.last(), Some(&"data: [DONE]"), "ends with [DONE]: {sse}");
        assert_eq!(events.iter().filter(|e| **e == "data: [DONE]").count(), 1);
        events[..events.len() - 1]
            .iter()
            .map(|e| serde_json::from_str(e.strip_prefix("data: ").unwrap()).unwrap())
            .collect()
    }
}
