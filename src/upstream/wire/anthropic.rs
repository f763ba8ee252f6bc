//! The Anthropic Messages wire format: the headers every call carries, the model rename, usage
//! from `message_start` / `message_delta` events or the JSON body's `usage`, and the
//! `anthropic-ratelimit-unified-reset` hint. Claude OAuth and Claude console accounts use it.
use super::json_object;
use super::sse::{LineSplitter, data_payload};
use super::{reset_time_ms, retry_after_ms};
use crate::relay::headers::{ANTHROPIC_ALLOW, forwardable_headers, set_header};
use crate::upstream::{BuildError, Hints, Inbound, UsageTap};
use crate::usage::TokenUsage;
use bytes::Bytes;
use memchr::memmem;
use reqwest::header::HeaderMap;
use serde::Deserialize;
use std::sync::LazyLock;
use switchyard_actors::Account;
use switchyard_actors::clock::Millis;

const DEFAULT_VERSION: &str = "2023-06-01";
pub const RESET_HEADER: &str = "anthropic-ratelimit-unified-reset";

/// The client's allowed headers plus the ones every Anthropic call needs (no authentication).
pub fn request_headers(inbound: &Inbound) -> HeaderMap {
    let mut headers = forwardable_headers(&inbound.headers, ANTHROPIC_ALLOW);
    if !headers.contains_key("anthropic-version") {
        set_header(&mut headers, "anthropic-version", DEFAULT_VERSION);
    }
    set_header(&mut headers, "accept-encoding", "identity");
    set_header(&mut headers, "content-type", "application/json");
    headers
}

/// The client's body, with `model` renamed when the account's model mapping says so.
pub fn request_body(account: &Account, inbound: &Inbound) -> Result<Bytes, BuildError> {
    request_body_for(account, &inbound.model, inbound)
}

/// As [`request_body`], for a kind that reads the client's model as `model` (CCR drops its
/// `ccr,` prefix): the body says the mapped name, else `model`.
pub fn request_body_for(account: &Account, model: &str, inbound: &Inbound) -> Result<Bytes, BuildError> {
    let target = account.models.upstream_name(model).unwrap_or(model);
    if target == inbound.model {
        return Ok(inbound.body.clone());
    }
    json_object::with_member(&inbound.body, "model", &json_object::string_literal(target))
        .map(Bytes::from)
        .map_err(|e| BuildError::ClientInput(format!("invalid JSON body: {e}")))
}

pub static FORMAT: super::WireFormat = super::WireFormat {
    name: "Anthropic Messages",
    hints,
    usage_tap,
};

pub fn hints(headers: &HeaderMap, now: Millis) -> Hints {
    Hints {
        retry_after_ms: retry_after_ms(headers, now),
        reset_at: headers
            .get(RESET_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(reset_time_ms),
    }
}

pub fn usage_tap(event_stream: bool) -> Box<dyn UsageTap> {
    if event_stream {
        Box::new(SseUsage::default())
    } else {
        Box::new(JsonUsage::default())
    }
}

#[derive(Debug, Default, Deserialize)]
struct WireUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
    cache_creation: Option<CacheCreation>,
}

#[derive(Debug, Default, Deserialize)]
struct CacheCreation {
    ephemeral_5m_input_tokens: Option<u64>,
    ephemeral_1h_input_tokens: Option<u64>,
}

impl WireUsage {
    /// Overwrites the counts present in `self` (message_delta counts are cumulative).
    fn apply_to(&self, u: &mut TokenUsage) {
        if let Some(v) = self.input_tokens {
            u.input_tokens = v;
        }
        if let Some(v) = self.output_tokens {
            u.output_tokens = v;
        }
        if let Some(v) = self.cache_read_input_tokens {
            u.cache_read_tokens = v;
        }
        match &self.cache_creation {
            // With a 5m / 1h breakdown the total is their sum.
            Some(c) if c.ephemeral_5m_input_tokens.is_some() || c.ephemeral_1h_input_tokens.is_some() => {
                u.cache_creation_5m_tokens = c.ephemeral_5m_input_tokens.unwrap_or(0);
                u.cache_creation_1h_tokens = c.ephemeral_1h_input_tokens.unwrap_or(0);
            }
            // A bare total (message_delta repeats it without the breakdown): keep the split seen
            // so far, putting any difference on the 5-minute side.
            _ => {
                if let Some(total) = self.cache_creation_input_tokens {
                    u.cache_creation_1h_tokens = u.cache_creation_1h_tokens.min(total);
                    u.cache_creation_5m_tokens = total - u.cache_creation_1h_tokens;
                }
            }
        }
    }
}

#[derive(Deserialize)]
struct StreamEvent {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    message: Option<StartMessage>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct StartMessage {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

/// Sums `message_start` + `message_delta` pairs; an unfinished pair counts what it has.
#[derive(Default)]
struct SseUsage {
    lines: LineSplitter,
    done: TokenUsage,
    current: Option<TokenUsage>,
    model: Option<String>,
}

impl SseUsage {
    fn on_line(&mut self, line: &[u8]) {
        let Some(data) = data_payload(line) else { return };
        // Only two event types carry usage; skip the JSON parse for every other delta.
        static MESSAGE: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new("message_"));
        let interesting = MESSAGE.find_iter(data).any(|at| {
            let kind = &data[at + "message_".len()..];
            kind.starts_with(b"start") || kind.starts_with(b"delta")
        });
        if !interesting {
            return;
        }
        let Ok(ev) = serde_json::from_slice::<StreamEvent>(data) else {
            return;
        };
        match ev.kind.as_str() {
            "message_start" => {
                if let Some(prev) = self.current.take() {
                    self.done.add(&prev);
                }
                let mut u = TokenUsage::default();
                if let Some(m) = ev.message {
                    if let Some(w) = m.usage {
                        w.apply_to(&mut u);
                    }
                    if m.model.is_some() {
                        self.model = m.model;
                    }
                }
                self.current = Some(u);
            }
            "message_delta" => {
                if let Some(w) = ev.usage {
                    w.apply_to(self.current.get_or_insert_with(TokenUsage::default));
                }
            }
            _ => {}
        }
    }
}

impl UsageTap for SseUsage {
    fn feed(&mut self, chunk: &[u8]) {
        let mut lines = std::mem::take(&mut self.lines);
        lines.feed(chunk, |l| self.on_line(l));
        self.lines = lines;
    }

    fn finish(&mut self) -> Option<(TokenUsage, Option<String>)> {
        let mut lines = std::mem::take(&mut self.lines);
        lines.flush(|l| self.on_line(l));
        let mut total = self.done;
        let seen = self.current.is_some() || total != TokenUsage::default();
        if let Some(c) = self.current.take() {
            total.add(&c);
        }
        self.done = TokenUsage::default();
        seen.then(|| (total, self.model.clone()))
    }
}

/// Collects a JSON answer and reads its `usage` at the end.
#[derive(Default)]
struct JsonUsage {
    body: Vec<u8>,
}

#[derive(Deserialize)]
struct JsonAnswer {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

impl UsageTap for JsonUsage {
    fn feed(&mut self, chunk: &[u8]) {
        self.body.extend_from_slice(chunk);
    }

    fn finish(&mut self) -> Option<(TokenUsage, Option<String>)> {
        let answer: JsonAnswer = serde_json::from_slice(&std::mem::take(&mut self.body)).ok()?;
        let mut u = TokenUsage::default();
        answer.usage?.apply_to(&mut u);
        Some((u, answer.model))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_usage_sums_start_and_delta_with_cache_breakdown() {
        let stream = concat!(
            "event: message_start\n",
            "data: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-x\",\"usage\":{\"input_tokens\":10,",
            "\"cache_creation_input_tokens\":7,\"cache_read_input_tokens\":3,",
            "\"cache_creation\":{\"ephemeral_5m_input_tokens\":2,\"ephemeral_1h_input_tokens\":4},\"output_tokens\":1}}}\n\n",
            "event: content_block_delta\n",
            "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"message_delta\"}}\n\n",
            "event: message_delta\n",
            "data: {\"type\":\"message_delta\",\"delta\":{},\"usage\":{\"output_tokens\":42,",
            "\"cache_creation_input_tokens\":6}}\n\n",
        );
        let mut tap = SseUsage::default();
        for chunk in stream.as_bytes().chunks(7) {
            tap.feed(chunk);
        }
        let (u, model) = tap.finish().unwrap();
        assert_eq!(model.as_deref(), Some("claude-x"));
        assert_eq!(
            u,
            TokenUsage {
                input_tokens: 10,
                output_tokens: 42,
                cache_creation_5m_tokens: 2,
                cache_creation_1h_tokens: 4,
                cache_read_tokens: 3
            }
        );
    }

    #[test]
    fn json_usage_without_breakdown_counts_cache_writes_as_5m() {
        let mut tap = JsonUsage::default();
        tap.feed(
            br#"{"model":"m","usage":{"input_tokens":5,"output_tokens":6,"cache_creation_input_tokens":9}}"#,
        );
        let (u, _) = tap.finish().unwrap();
        assert_eq!(
            (u.input_tokens, u.output_tokens, u.cache_creation_5m_tokens),
            (5, 6, 9)
        );
    }
}
