//! OpenAI wire formats: the Responses API (Codex CLI, `responses.*`) and chat completions,
//! used by OpenAI Responses API-key and Codex OAuth accounts. Usage comes from `response.completed` or the chat `usage` (with `include_usage`, the last
//! chunk before `[DONE]`); `usage_limit_reached` in a stream rests the account afterwards.
use super::json_object;
use super::retry_after_ms;
use super::sse::{LineSplitter, data_payload};
use crate::error::ApiError;
use crate::relay::headers::{forwardable_headers, set_header};
use crate::upstream::{BodyAdapter, Hints, Inbound, UsageTap};
use crate::usage::TokenUsage;
use reqwest::header::HeaderMap;
use serde::Deserialize;
use switchyard_actors::clock::Millis;

/// Client headers OpenAI-compatible upstreams may see.
pub const OPENAI_ALLOW: &[&str] = &[
    "accept",
    "accept-language",
    "content-type",
    "user-agent",
    "openai-beta",
    "version",
    "originator",
    "session_id",
    "session-id",
    "conversation_id",
    "thread-id",
    "x-client-request-id",
    "x-codex-*",
    "x-stainless-*",
];

pub const RESPONSES_PATH: &str = "/v1/responses";
pub const CHAT_PATH: &str = "/v1/chat/completions";

/// The client's allowed headers plus the ones every OpenAI call needs, with a bearer credential.
pub fn request_headers(inbound: &Inbound, bearer: &str) -> HeaderMap {
    let mut headers = forwardable_headers(&inbound.headers, OPENAI_ALLOW);
    set_header(&mut headers, "content-type", "application/json");
    set_header(&mut headers, "accept-encoding", "identity");
    set_header(&mut headers, "authorization", &format!("Bearer {bearer}"));
    headers
}

/// Hides the usage chunk switchyard asked for on the client's behalf (`Inbound::hide_usage_chunk`).
pub fn usage_chunk_filter(inbound: &Inbound) -> Option<Box<dyn BodyAdapter>> {
    inbound
        .hide_usage_chunk
        .then(|| Box::new(DropUsageChunk::default()) as Box<dyn BodyAdapter>)
}

/// Usage from SSE events or a JSON answer (the tap notices SSE by itself too).
pub fn usage_tap(event_stream: bool) -> Box<dyn UsageTap> {
    Box::new(OpenAiUsage {
        sse: event_stream,
        ..Default::default()
    })
}

/// `retry-after`, else Codex's `x-codex-primary-reset-after-seconds`, else OpenAI's
/// `x-ratelimit-reset-requests`.
pub static FORMAT: super::WireFormat = super::WireFormat {
    name: "OpenAI Responses / chat completions",
    hints,
    usage_tap,
};

pub fn hints(headers: &HeaderMap, now: Millis) -> Hints {
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let retry_after_ms = retry_after_ms(headers, now)
        .or_else(|| {
            header("x-codex-primary-reset-after-seconds")
                .and_then(|v| v.trim().parse::<f64>().ok())
                .map(|s| (s * 1_000.0) as i64)
        })
        .or_else(|| header("x-ratelimit-reset-requests").and_then(go_duration_ms))
        .filter(|ms| *ms > 0);
    Hints {
        retry_after_ms,
        reset_at: None,
    }
}

/// `body` with `stream_options.include_usage` set: streamed chat completions carry usage only
/// when asked for it, and switchyard always needs it.
pub fn with_include_usage(body: &bytes::Bytes) -> Result<bytes::Bytes, ApiError> {
    let invalid = |e: json_object::Error| ApiError::BadRequest(format!("invalid JSON body: {e}"));
    let options = json_object::member(body, "stream_options").map_err(invalid)?;
    // Other stream options stay as the client wrote them; one that is not an object is replaced.
    let options = options
        .and_then(|o| json_object::with_member(o.get().as_bytes(), "include_usage", "true").ok())
        .unwrap_or_else(|| br#"{"include_usage":true}"#.to_vec());
    let options = String::from_utf8(options).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    json_object::with_member(body, "stream_options", &options)
        .map(bytes::Bytes::from)
        .map_err(invalid)
}

/// Removes the usage-only chunk (`"choices": []` with a `usage`) the client did not ask for.
#[derive(Default)]
struct DropUsageChunk {
    lines: LineSplitter,
    /// The blank line that ends a dropped event goes too.
    skip_blank: bool,
}

impl DropUsageChunk {
    fn line(&mut self, line: &[u8], out: &mut bytes::BytesMut) {
        if line.is_empty() && std::mem::take(&mut self.skip_blank) {
            return;
        }
        // Only the shape matters: the choices' and usage's contents are skipped, not built.
        #[derive(Deserialize)]
        struct Shape {
            #[serde(default)]
            choices: Option<Vec<serde::de::IgnoredAny>>,
            #[serde(default)]
            usage: Option<serde::de::IgnoredAny>,
        }
        let usage_only = data_payload(line)
            .and_then(|d| serde_json::from_slice::<Shape>(d).ok())
            .is_some_and(|v| v.choices.is_some_and(|c| c.is_empty()) && v.usage.is_some());
        if usage_only {
            self.skip_blank = true;
            return;
        }
        out.extend_from_slice(line);
        out.extend_from_slice(b"\n");
    }
}

impl BodyAdapter for DropUsageChunk {
    fn chunk(&mut self, input: &[u8], out: &mut bytes::BytesMut) {
        let mut lines = std::mem::take(&mut self.lines);
        lines.feed(input, |l| self.line(l, out));
        self.lines = lines;
    }

    fn finish(&mut self, out: &mut bytes::BytesMut) {
        let mut lines = std::mem::take(&mut self.lines);
        lines.flush(|l| self.line(l, out));
    }
}

/// Go-style durations as OpenAI sends them: `1s`, `6m0s`, `1h2m3.5s`, `250ms`.
pub fn go_duration_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    let (mut total, mut rest) = (0f64, s);
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let value: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let factor = match &rest[..unit_end] {
            "h" => 3_600_000.0,
            "m" => 60_000.0,
            "s" => 1_000.0,
            "ms" => 1.0,
            "us" | "µs" => 0.001,
            "ns" => 0.000_001,
            _ => return None,
        };
        total += value * factor;
        rest = &rest[unit_end..];
    }
    Some(total.round() as i64)
}

#[derive(Deserialize, Default)]
struct Details {
    #[serde(default)]
    cached_tokens: u64,
}

/// Responses (`input_tokens`…) and chat (`prompt_tokens`…) usage in one shape.
#[derive(Deserialize, Default)]
struct WireUsage {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    input_tokens_details: Option<Details>,
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
    #[serde(default)]
    prompt_tokens_details: Option<Details>,
}

impl WireUsage {
    fn tokens(&self) -> TokenUsage {
        let prompt = self.input_tokens.or(self.prompt_tokens).unwrap_or(0);
        let cached = self
            .input_tokens_details
            .as_ref()
            .or(self.prompt_tokens_details.as_ref())
            .map_or(0, |d| d.cached_tokens)
            .min(prompt);
        TokenUsage {
            input_tokens: prompt - cached,
            output_tokens: self.output_tokens.or(self.completion_tokens).unwrap_or(0),
            cache_read_tokens: cached,
            ..Default::default()
        }
    }
}

#[derive(Deserialize)]
struct Inner {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

/// A chat answer / chunk, a Responses answer, or a Responses stream event.
#[derive(Deserialize)]
struct Event {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    response: Option<Inner>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(Default)]
struct OpenAiUsage {
    lines: LineSplitter,
    sse: bool,
    raw: Vec<u8>,
    usage: Option<TokenUsage>,
    model: Option<String>,
    limit: Option<Hints>,
}

const RAW_LIMIT: usize = 16 << 20;

impl OpenAiUsage {
    fn event(&mut self, data: &[u8]) {
        if data == b"[DONE]" {
            return;
        }
        let Ok(ev) = serde_json::from_slice::<Event>(data) else {
            return;
        };
        if let Some(m) = ev
            .model
            .clone()
            .or_else(|| ev.response.as_ref().and_then(|r| r.model.clone()))
        {
            self.model = Some(m);
        }
        if let Some(u) = ev
            .usage
            .as_ref()
            .or(ev.response.as_ref().and_then(|r| r.usage.as_ref()))
        {
            self.usage = Some(u.tokens());
        }
        let limit_hit = ev.kind.as_deref() == Some("usage_limit_reached")
            || ev.error.as_ref().is_some_and(|e| {
                e.get("type").and_then(|t| t.as_str()) == Some("usage_limit_reached")
                    || e.get("code").and_then(|t| t.as_str()) == Some("usage_limit_reached")
            });
        if limit_hit {
            let secs = ev
                .error
                .as_ref()
                .and_then(|e| e.get("resets_in_seconds"))
                .and_then(|v| v.as_f64());
            self.limit = Some(Hints {
                retry_after_ms: secs.map(|s| (s * 1_000.0) as i64),
                reset_at: None,
            });
        }
    }
}

impl UsageTap for OpenAiUsage {
    fn feed(&mut self, chunk: &[u8]) {
        if !self.sse && self.raw.is_empty() && (chunk.starts_with(b"data:") || chunk.starts_with(b"event:")) {
            self.sse = true;
        }
        if self.sse {
            let mut lines = std::mem::take(&mut self.lines);
            lines.feed(chunk, |l| {
                if let Some(d) = data_payload(l) {
                    self.event(d);
                }
            });
            self.lines = lines;
        } else if self.raw.len() + chunk.len() <= RAW_LIMIT {
            self.raw.extend_from_slice(chunk);
        }
    }

    fn finish(&mut self) -> Option<(TokenUsage, Option<String>)> {
        if self.sse {
            let mut lines = std::mem::take(&mut self.lines);
            lines.flush(|l| {
                if let Some(d) = data_payload(l) {
                    self.event(d);
                }
            });
        } else {
            let raw = std::mem::take(&mut self.raw);
            self.event(&raw);
        }
        self.usage.take().map(|u| (u, self.model.take()))
    }

    fn limit_reached(&self) -> Option<Hints> {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse() {
        assert_eq!(go_duration_ms("1s"), Some(1_000));
        assert_eq!(go_duration_ms("6m0s"), Some(360_000));
        assert_eq!(go_duration_ms("1h2m3.5s"), Some(3_723_500));
        assert_eq!(go_duration_ms("250ms"), Some(250));
        assert_eq!(go_duration_ms("soon"), None);
        assert_eq!(go_duration_ms(""), None);
    }

    #[test]
    fn responses_stream_usage_subtracts_cached_input() {
        let stream = "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"model\":\"gpt-5\"}}\n\n\
            event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"model\":\"gpt-5-codex\",\
            \"usage\":{\"input_tokens\":100,\"input_tokens_details\":{\"cached_tokens\":40},\"output_tokens\":7}}}\n\n";
        let mut t = OpenAiUsage::default();
        for c in stream.as_bytes().chunks(11) {
            t.feed(c);
        }
        let (u, m) = t.finish().unwrap();
        assert_eq!(
            (u.input_tokens, u.cache_read_tokens, u.output_tokens),
            (60, 40, 7)
        );
        assert_eq!(m.as_deref(), Some("gpt-5-codex"));
    }

    #[test]
    fn chat_usage_from_json_and_from_the_include_usage_chunk() {
        let mut t = OpenAiUsage::default();
        t.feed(br#"{"model":"gpt-4o","usage":{"prompt_tokens":9,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":4}}}"#);
        let (u, _) = t.finish().unwrap();
        assert_eq!((u.input_tokens, u.cache_read_tokens, u.output_tokens), (5, 4, 3));
        let mut t = OpenAiUsage::default();
        t.feed(b"data: {\"choices\":[{}],\"usage\":null}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":1}}\n\ndata: [DONE]\n\n");
        assert_eq!(t.finish().unwrap().0.output_tokens, 1);
    }

    #[test]
    fn usage_limit_reached_is_noticed() {
        let mut t = OpenAiUsage::default();
        t.feed(b"data: {\"type\":\"error\",\"error\":{\"type\":\"usage_limit_reached\",\"resets_in_seconds\":120}}\n\n");
        assert_eq!(
            t.limit_reached(),
            Some(Hints {
                retry_after_ms: Some(120_000),
                reset_at: None
            })
        );
    }
}
