//! Writes an Anthropic Messages event stream in the order its SDKs and Claude Code parse:
//! `message_start`, then per block `content_block_start` / `content_block_delta`s /
//! `content_block_stop` (one block open at a time, indices from 0), `message_delta` with the
//! stop reason and usage, `message_stop`; or `error` once, after which nothing more is written.
use bytes::{BufMut, BytesMut};
use serde_json::{Value, json};

/// Token counts as Anthropic reports them: `input_tokens` excludes what was read from cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_input_tokens: u64,
}

impl Usage {
    pub fn json(&self) -> Value {
        json!({
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": self.cache_read_input_tokens,
        })
    }

    /// From Gemini's `usageMetadata`: the prompt count includes the cached part, and thoughts
    /// are output Anthropic bills as output too.
    pub fn of_gemini(meta: &Value) -> Usage {
        let n = |k: &str| meta.get(k).and_then(Value::as_u64).unwrap_or(0);
        let cached = n("cachedContentTokenCount");
        Usage {
            input_tokens: n("promptTokenCount").saturating_sub(cached),
            output_tokens: n("candidatesTokenCount") + n("thoughtsTokenCount"),
            cache_read_input_tokens: cached,
        }
    }

    /// From a Responses `usage`: `input_tokens` includes the cached ones, `output_tokens` the
    /// reasoning.
    pub fn of_responses(usage: &Value) -> Usage {
        let cached = usage
            .pointer("/input_tokens_details/cached_tokens")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let n = |k: &str| usage.get(k).and_then(Value::as_u64).unwrap_or(0);
        Usage {
            input_tokens: n("input_tokens").saturating_sub(cached),
            output_tokens: n("output_tokens"),
            cache_read_input_tokens: cached,
        }
    }
}

/// `msg_…` from the upstream's own answer id (stable, so a stream and its retry agree), or a
/// random one when the upstream gave none.
pub fn message_id(upstream_id: Option<&str>) -> String {
    let id: String = upstream_id
        .map(|id| id.strip_prefix("resp_").unwrap_or(id))
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    if id.is_empty() {
        format!("msg_{:024x}", rand::random::<u128>() >> 32)
    } else {
        format!("msg_{id}")
    }
}

/// A `tool_use` id for an upstream call that has none of its own (Gemini's usually have none).
pub fn tool_use_id(message_id: &str, block_index: usize) -> String {
    format!(
        "toolu_{}_{block_index}",
        message_id.strip_prefix("msg_").unwrap_or(message_id)
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    Text,
    Thinking,
    ToolUse,
}

#[derive(Debug, Default)]
pub struct EventWriter {
    started: bool,
    open: Option<BlockKind>,
    next_index: usize,
    ended: bool,
}

impl EventWriter {
    pub fn started(&self) -> bool {
        self.started
    }

    /// Whether `message_stop` or `error` was written (nothing more will be).
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// The index the next block opened will have.
    pub fn next_index(&self) -> usize {
        self.next_index
    }

    pub fn open_block(&self) -> Option<BlockKind> {
        self.open
    }

    pub fn start(&mut self, out: &mut BytesMut, id: &str, model: &str, usage: Usage) {
        if self.started || self.ended {
            return;
        }
        self.started = true;
        let message = json!({
            "id": id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": null,
            "stop_sequence": null,
            "usage": usage.json(),
        });
        event(
            out,
            "message_start",
            &json!({ "type": "message_start", "message": message }),
        );
    }

    pub fn text(&mut self, out: &mut BytesMut, text: &str) {
        if text.is_empty() || !self.continue_or_open(out, BlockKind::Text) {
            return;
        }
        self.delta(out, json!({ "type": "text_delta", "text": text }));
    }

    pub fn thinking(&mut self, out: &mut BytesMut, text: &str) {
        if text.is_empty() || !self.continue_or_open(out, BlockKind::Thinking) {
            return;
        }
        self.delta(out, json!({ "type": "thinking_delta", "thinking": text }));
    }

    /// Opens a `tool_use` block (always a new one: each call is its own block).
    pub fn tool_use(&mut self, out: &mut BytesMut, id: &str, name: &str) {
        if !self.started || self.ended {
            return;
        }
        self.close(out);
        let block = json!({ "type": "tool_use", "id": id, "name": name, "input": {} });
        self.open_with(out, BlockKind::ToolUse, block);
    }

    /// Arguments of the open `tool_use` block, as a piece of its JSON.
    pub fn tool_input(&mut self, out: &mut BytesMut, partial_json: &str) {
        if self.open == Some(BlockKind::ToolUse) && !partial_json.is_empty() {
            self.delta(
                out,
                json!({ "type": "input_json_delta", "partial_json": partial_json }),
            );
        }
    }

    pub fn close(&mut self, out: &mut BytesMut) {
        if self.open.take().is_some() {
            let index = self.next_index - 1;
            event(
                out,
                "content_block_stop",
                &json!({ "type": "content_block_stop", "index": index }),
            );
        }
    }

    /// `message_delta` with the final stop reason and usage, then `message_stop`.
    pub fn stop(&mut self, out: &mut BytesMut, stop_reason: &str, usage: Usage) {
        if !self.started || self.ended {
            return;
        }
        self.close(out);
        self.ended = true;
        let delta = json!({
            "type": "message_delta",
            "delta": { "stop_reason": stop_reason, "stop_sequence": null },
            "usage": usage.json(),
        });
        event(out, "message_delta", &delta);
        event(out, "message_stop", &json!({ "type": "message_stop" }));
    }

    /// An `error` event (`kind` is Anthropic's error type); the stream ends with it.
    pub fn error(&mut self, out: &mut BytesMut, kind: &str, message: &str) {
        if self.ended {
            return;
        }
        self.ended = true;
        let body = json!({ "type": "error", "error": { "type": kind, "message": message } });
        event(out, "error", &body);
    }

    fn continue_or_open(&mut self, out: &mut BytesMut, kind: BlockKind) -> bool {
        if !self.started || self.ended {
            return false;
        }
        if self.open != Some(kind) {
            self.close(out);
            let block = match kind {
                BlockKind::Text => json!({ "type": "text", "text": "" }),
                // Anthropic signs its thinking; a converted one has no signature to give.
                BlockKind::Thinking => json!({ "type": "thinking", "thinking": "", "signature": "" }),
                BlockKind::ToolUse => return false,
            };
            self.open_with(out, kind, block);
        }
        true
    }

    fn open_with(&mut self, out: &mut BytesMut, kind: BlockKind, block: Value) {
        let start =
            json!({ "type": "content_block_start", "index": self.next_index, "content_block": block });
        event(out, "content_block_start", &start);
        self.open = Some(kind);
        self.next_index += 1;
    }

    fn delta(&mut self, out: &mut BytesMut, delta: Value) {
        let index = self.next_index - 1;
        event(
            out,
            "content_block_delta",
            &json!({ "type": "content_block_delta", "index": index, "delta": delta }),
        );
    }
}

fn event(out: &mut BytesMut, name: &str, data: &Value) {
    out.put_slice(b"event: ");
    out.put_slice(name.as_bytes());
    out.put_slice(b"\ndata: ");
    out.put_slice(data.to_string().as_bytes());
    out.put_slice(b"\n\n");
}
