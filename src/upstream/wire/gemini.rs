//! The Gemini wire format (`…/models/{model}:{action}`) and its Code Assist envelope
//! (`/v1internal:{method}`, the request wrapped with a project, answers in `{"response": …}`):
//! the allowed headers, the envelope both ways, and usage from the last `usageMetadata`. Gemini
//! API and Gemini Code Assist accounts use it.
use super::json_object;
use super::retry_after_ms;
use super::sse::{LineSplitter, data_payload};
use crate::relay::headers::{forwardable_headers, set_header};
use crate::upstream::{BodyAdapter, BuildError, Hints, Inbound, UsageTap};
use crate::usage::TokenUsage;
use bytes::{Bytes, BytesMut};
use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde_json::Value;
use switchyard_actors::clock::Millis;

/// Client headers the Gemini APIs may see.
pub const GEMINI_ALLOW: &[&str] = &[
    "accept",
    "accept-language",
    "content-type",
    "user-agent",
    "x-goog-api-client",
    "x-server-timeout",
    "sec-fetch-mode",
];

pub const INTERNAL_PREFIX: &str = "/v1internal:";

/// The client's allowed headers plus the ones every Gemini call needs (no authentication).
pub fn request_headers(inbound: &Inbound) -> HeaderMap {
    let mut headers = forwardable_headers(&inbound.headers, GEMINI_ALLOW);
    set_header(&mut headers, "content-type", "application/json");
    set_header(&mut headers, "accept-encoding", "identity");
    headers
}

/// What a client asked for, read back from the inbound path.
pub enum Call<'a> {
    /// `/{version}/models/{model}:{action}`.
    Standard { action: &'a str },
    /// `/v1internal:{method}` (Gemini CLI with OAuth).
    Internal,
}

pub fn call_of(path: &str) -> Call<'_> {
    if path.starts_with(INTERNAL_PREFIX) {
        return Call::Internal;
    }
    Call::Standard {
        action: path.rsplit_once(':').map_or("generateContent", |(_, a)| a),
    }
}

pub fn wants_sse(query: &str) -> bool {
    query.split('&').any(|p| p == "alt=sse")
}

pub fn invalid_body(e: json_object::Error) -> BuildError {
    BuildError::ClientInput(format!("invalid JSON body: {e}"))
}

/// `{"model": M, "project": P, "request": <the client's body as sent>}`: Code Assist's envelope,
/// written around the body's bytes (a checked JSON object) instead of through a tree of it.
pub fn code_assist_envelope(model: &str, project: &str, body: &[u8]) -> Result<Bytes, BuildError> {
    json_object::for_each_member(body, |_, _| {}).map_err(invalid_body)?;
    let (model, project) = (
        json_object::string_literal(model),
        json_object::string_literal(project),
    );
    let mut out = BytesMut::with_capacity(body.len() + model.len() + project.len() + 40);
    out.extend_from_slice(b"{\"model\":");
    out.extend_from_slice(model.as_bytes());
    out.extend_from_slice(b",\"project\":");
    out.extend_from_slice(project.as_bytes());
    out.extend_from_slice(b",\"request\":");
    out.extend_from_slice(body);
    out.extend_from_slice(b"}");
    Ok(out.freeze())
}

pub static FORMAT: super::WireFormat = super::WireFormat {
    name: "Gemini",
    hints,
    usage_tap,
};

pub fn hints(headers: &HeaderMap, now: Millis) -> Hints {
    Hints {
        retry_after_ms: retry_after_ms(headers, now),
        reset_at: None,
    }
}

/// Usage from SSE lines, a JSON array or a JSON object (the tap notices SSE by itself too).
pub fn usage_tap(event_stream: bool) -> Box<dyn UsageTap> {
    Box::new(GeminiUsage {
        sse: event_stream,
        ..Default::default()
    })
}

/// The adapter serving a Gemini-API client from Code Assist: unwraps `{"response": X}` and, for
/// a client that did not ask for `alt=sse`, turns the stream into a JSON array.
pub fn code_assist_unwrap(inbound: &Inbound) -> Option<Box<dyn BodyAdapter>> {
    let Call::Standard { action } = call_of(&inbound.upstream_path) else {
        return None;
    };
    let mode = match (action, wants_sse(&inbound.query)) {
        ("streamGenerateContent", true) => Mode::Sse,
        ("streamGenerateContent", false) => Mode::SseToArray,
        _ => Mode::Json,
    };
    Some(Box::new(Unwrap {
        mode,
        lines: LineSplitter::default(),
        items: 0,
        json: Vec::new(),
    }))
}

/// What the Code Assist answer is, and what the client wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// One JSON object, unwrapped whole at the end.
    Json,
    /// SSE in, SSE out.
    Sse,
    /// SSE in, a JSON array out (the client did not ask for `alt=sse`).
    SseToArray,
}

/// Code Assist → Gemini: every `{"response": X}` becomes `X`.
struct Unwrap {
    mode: Mode,
    lines: LineSplitter,
    items: usize,
    json: Vec<u8>,
}

fn unwrap_response(payload: &[u8]) -> Option<Vec<u8>> {
    let mut v: Value = serde_json::from_slice(payload).ok()?;
    let inner = v.as_object_mut()?.remove("response")?;
    serde_json::to_vec(&inner).ok()
}

impl BodyAdapter for Unwrap {
    fn chunk(&mut self, input: &[u8], out: &mut BytesMut) {
        if self.mode == Mode::Json {
            self.json.extend_from_slice(input);
            return;
        }
        let mut lines = std::mem::take(&mut self.lines);
        lines.feed(input, |line| self.line(line, out));
        self.lines = lines;
    }

    fn finish(&mut self, out: &mut BytesMut) {
        if self.mode == Mode::Json {
            let body = std::mem::take(&mut self.json);
            out.extend_from_slice(&unwrap_response(&body).unwrap_or(body));
            return;
        }
        let mut lines = std::mem::take(&mut self.lines);
        lines.flush(|line| self.line(line, out));
        if self.mode == Mode::SseToArray {
            out.extend_from_slice(if self.items == 0 { b"[]" } else { b"]" });
        }
    }

    fn content_type(&self) -> Option<&'static str> {
        (self.mode == Mode::SseToArray).then_some("application/json")
    }
}

impl Unwrap {
    fn line(&mut self, line: &[u8], out: &mut BytesMut) {
        let Some(data) = data_payload(line) else { return };
        let inner = unwrap_response(data).unwrap_or_else(|| data.to_vec());
        if self.mode == Mode::SseToArray {
            out.extend_from_slice(if self.items == 0 { b"[" } else { b",\r\n" });
            out.extend_from_slice(&inner);
        } else {
            out.extend_from_slice(b"data: ");
            out.extend_from_slice(&inner);
            out.extend_from_slice(b"\r\n\r\n");
        }
        self.items += 1;
    }
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "camelCase")]
struct UsageMetadata {
    #[serde(default)]
    prompt_token_count: u64,
    #[serde(default)]
    candidates_token_count: u64,
    #[serde(default)]
    cached_content_token_count: u64,
    #[serde(default)]
    thoughts_token_count: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Chunk {
    #[serde(default)]
    usage_metadata: Option<UsageMetadata>,
    #[serde(default)]
    model_version: Option<String>,
    #[serde(default)]
    response: Option<Box<Chunk>>,
}

impl Chunk {
    fn inner(self) -> Chunk {
        match self.response {
            Some(r) => *r,
            None => self,
        }
    }
}

/// Keeps the last `usageMetadata` seen, in SSE lines, a JSON array or a JSON object, wrapped in
/// Code Assist's `response` or not.
#[derive(Default)]
struct GeminiUsage {
    lines: LineSplitter,
    sse: bool,
    raw: Vec<u8>,
    last: Option<UsageMetadata>,
    model: Option<String>,
}

const RAW_LIMIT: usize = 16 << 20;

impl GeminiUsage {
    fn take(&mut self, c: Chunk) {
        let c = c.inner();
        if let Some(u) = c.usage_metadata {
            self.last = Some(u);
        }
        if c.model_version.is_some() {
            self.model = c.model_version;
        }
    }
}

impl UsageTap for GeminiUsage {
    fn feed(&mut self, chunk: &[u8]) {
        if !self.sse && self.raw.is_empty() && chunk.starts_with(b"data:") {
            self.sse = true;
        }
        if self.sse {
            let mut lines = std::mem::take(&mut self.lines);
            lines.feed(chunk, |l| {
                if let Some(c) = data_payload(l).and_then(|d| serde_json::from_slice::<Chunk>(d).ok()) {
                    self.take(c);
                }
            });
            self.lines = lines;
        } else if self.raw.len() + chunk.len() <= RAW_LIMIT {
            self.raw.extend_from_slice(chunk);
        }
    }

    fn finish(&mut self) -> Option<(TokenUsage, Option<String>)> {
        if !self.sse {
            let raw = std::mem::take(&mut self.raw);
            if let Ok(chunks) = serde_json::from_slice::<Vec<Chunk>>(&raw) {
                chunks.into_iter().for_each(|c| self.take(c));
            } else if let Ok(c) = serde_json::from_slice::<Chunk>(&raw) {
                self.take(c);
            }
        } else {
            let mut lines = std::mem::take(&mut self.lines);
            lines.flush(|l| {
                if let Some(c) = data_payload(l).and_then(|d| serde_json::from_slice::<Chunk>(d).ok()) {
                    self.take(c);
                }
            });
        }
        let u = self.last.take()?;
        let cached = u.cached_content_token_count.min(u.prompt_token_count);
        Some((
            TokenUsage {
                input_tokens: u.prompt_token_count - cached,
                output_tokens: u.candidates_token_count + u.thoughts_token_count,
                cache_read_tokens: cached,
                ..Default::default()
            },
            self.model.take(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(adapter: &mut dyn BodyAdapter, chunks: &[&[u8]]) -> String {
        let mut out = BytesMut::new();
        for c in chunks {
            adapter.chunk(c, &mut out);
        }
        adapter.finish(&mut out);
        String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn code_assist_sse_is_unwrapped_into_gemini_sse_or_an_array() {
        let sse: &[&[u8]] = &[
            b"data: {\"response\":{\"candidates\":[1]},\"traceId\":\"t\"}\r\n\r\n",
            b"data: {\"response\":{\"c",
            b"andidates\":[2]}}\r\n\r\n",
        ];
        let new = |mode| Unwrap {
            mode,
            lines: LineSplitter::default(),
            items: 0,
            json: Vec::new(),
        };
        let mut a = new(Mode::Sse);
        assert_eq!(
            run(&mut a, sse),
            "data: {\"candidates\":[1]}\r\n\r\ndata: {\"candidates\":[2]}\r\n\r\n"
        );
        let mut a = new(Mode::SseToArray);
        assert_eq!(
            run(&mut a, sse),
            "[{\"candidates\":[1]},\r\n{\"candidates\":[2]}]"
        );
        let mut a = new(Mode::Json);
        assert_eq!(
            run(&mut a, &[b"{\"response\":", b"{\"candidates\":[3]}}"]),
            "{\"candidates\":[3]}"
        );
    }

    #[test]
    fn usage_comes_from_the_last_metadata_in_any_shape() {
        let meta = r#"{"promptTokenCount":100,"candidatesTokenCount":20,"cachedContentTokenCount":30,"thoughtsTokenCount":5}"#;
        let sse = format!(
            "data: {{\"candidates\":[]}}\r\n\r\ndata: {{\"usageMetadata\":{meta},\"modelVersion\":\"gemini-x\"}}\r\n\r\n"
        );
        let mut t = GeminiUsage::default();
        t.feed(sse.as_bytes());
        let (u, m) = t.finish().unwrap();
        assert_eq!(
            (u.input_tokens, u.output_tokens, u.cache_read_tokens),
            (70, 25, 30)
        );
        assert_eq!(m.as_deref(), Some("gemini-x"));
        let array = format!("[{{\"candidates\":[]}},{{\"response\":{{\"usageMetadata\":{meta}}}}}]");
        let mut t = GeminiUsage::default();
        t.feed(array.as_bytes());
        assert_eq!(t.finish().unwrap().0.input_tokens, 70);
    }
}
