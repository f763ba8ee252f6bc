//! Reading usage from Bedrock answers.
//!
//! An `InvokeModel` answer is Anthropic's message JSON, `usage` included: the Anthropic JSON
//! usage reader serves it unchanged. A stream carries Anthropic's `message_start` /
//! `message_delta` usage inside its chunks, and Bedrock adds `amazon-bedrock-invocationMetrics`
//! to the last one; [`StreamUsage`] decodes the frames and hands the SSE to the Anthropic SSE
//! usage reader, with the metrics as the fallback when the events carried no usage.

use bytes::BytesMut;
use memchr::memmem;
use serde::Deserialize;

use super::errors::Failure;
use super::stream::EventStreamToSse;
use crate::upstream::{Hints, UsageTap};
use crate::usage::TokenUsage;

const METRICS_KEY: &str = "amazon-bedrock-invocationMetrics";

/// Bedrock's own count of a streamed invocation (in the last chunk).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct InvocationMetrics {
    pub input_token_count: u64,
    pub output_token_count: u64,
    pub cache_read_input_token_count: u64,
    pub cache_write_input_token_count: u64,
    /// Milliseconds.
    pub invocation_latency: u64,
    /// Milliseconds.
    pub first_byte_latency: u64,
}

impl InvocationMetrics {
    /// The metrics in one Anthropic event's JSON, if it has them.
    pub fn from_event(event_json: &[u8]) -> Option<InvocationMetrics> {
        #[derive(Deserialize)]
        struct Holder {
            #[serde(rename = "amazon-bedrock-invocationMetrics")]
            metrics: Option<InvocationMetrics>,
        }
        serde_json::from_slice::<Holder>(event_json).ok()?.metrics
    }

    /// As token usage; Bedrock does not split cache writes by TTL, so they count as 5-minute
    /// writes (the cheaper price; the events' own usage is preferred where present).
    pub fn token_usage(&self) -> TokenUsage {
        TokenUsage {
            input_tokens: self.input_token_count,
            output_tokens: self.output_token_count,
            cache_creation_5m_tokens: self.cache_write_input_token_count,
            cache_creation_1h_tokens: 0,
            cache_read_tokens: self.cache_read_input_token_count,
        }
    }
}

/// Usage of a Bedrock stream: `inner` is the Anthropic SSE usage reader, fed with the stream
/// decoded to SSE.
pub struct StreamUsage {
    decoder: EventStreamToSse,
    inner: Box<dyn UsageTap>,
    metrics: Option<InvocationMetrics>,
    sse: BytesMut,
}

impl StreamUsage {
    pub fn new(inner: Box<dyn UsageTap>) -> Self {
        StreamUsage {
            decoder: EventStreamToSse::default(),
            inner,
            metrics: None,
            sse: BytesMut::new(),
        }
    }

    /// Bedrock's metrics, once the last chunk has been read.
    pub fn metrics(&self) -> Option<InvocationMetrics> {
        self.metrics
    }

    fn take_metrics(&mut self) {
        if memmem::find(&self.sse, METRICS_KEY.as_bytes()).is_none() {
            return;
        }
        for line in self.sse[..].split(|b| *b == b'\n') {
            if let Some(data) = line.strip_prefix(b"data: ")
                && let Some(m) = InvocationMetrics::from_event(data)
            {
                self.metrics = Some(m);
            }
        }
    }
}

impl UsageTap for StreamUsage {
    fn feed(&mut self, chunk: &[u8]) {
        self.sse.clear();
        self.decoder.chunk(chunk, &mut self.sse);
        self.take_metrics();
        self.inner.feed(&self.sse);
    }

    fn finish(&mut self) -> Option<(TokenUsage, Option<String>)> {
        self.sse.clear();
        self.decoder.finish(&mut self.sse);
        self.inner.feed(&self.sse);
        match self.inner.finish() {
            Some((usage, model)) if usage != TokenUsage::default() => Some((usage, model)),
            other => match self.metrics {
                Some(m) => Some((m.token_usage(), other.and_then(|(_, model)| model))),
                None => other,
            },
        }
    }

    /// A throttling or quota exception inside the stream rests the account like a 429 would.
    fn limit_reached(&self) -> Option<Hints> {
        let limited = self
            .decoder
            .failure()
            .is_some_and(|e| matches!(e.failure, Failure::RateLimited | Failure::UsageLimit));
        if limited {
            return Some(Hints::default());
        }
        self.inner.limit_reached()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bedrock::stream::tests::chunk_frame;

    /// A stand-in for the Anthropic SSE reader that records what it was fed.
    #[derive(Default)]
    struct Recorder {
        fed: std::sync::Arc<parking_lot::Mutex<Vec<u8>>>,
        usage: Option<TokenUsage>,
    }

    impl UsageTap for Recorder {
        fn feed(&mut self, chunk: &[u8]) {
            self.fed.lock().extend_from_slice(chunk);
        }
        fn finish(&mut self) -> Option<(TokenUsage, Option<String>)> {
            self.usage.map(|u| (u, Some("claude-x".into())))
        }
    }

    const LAST: &str = r#"{"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":25,"outputTokenCount":12,"invocationLatency":100,"firstByteLatency":50,"cacheReadInputTokenCount":7}}"#;

    #[test]
    fn metrics_are_read_from_the_last_chunk() {
        let m = InvocationMetrics::from_event(LAST.as_bytes()).unwrap();
        assert_eq!(m.input_token_count, 25);
        assert_eq!(m.output_token_count, 12);
        assert_eq!(m.cache_read_input_token_count, 7);
        assert_eq!(m.first_byte_latency, 50);
        assert_eq!(InvocationMetrics::from_event(br#"{"type":"ping"}"#), None);
    }

    #[test]
    fn the_inner_reader_gets_sse_and_metrics_fill_in_when_it_saw_nothing() {
        let rec = Recorder::default();
        let fed = rec.fed.clone();
        let mut tap = StreamUsage::new(Box::new(rec));
        let wire = chunk_frame(LAST);
        let (a, b) = wire.split_at(10);
        tap.feed(a);
        tap.feed(b);
        assert_eq!(
            &fed.lock()[..],
            format!("event: message_stop\ndata: {LAST}\n\n").as_bytes()
        );
        let (usage, model) = tap.finish().unwrap();
        assert_eq!(usage.input_tokens, 25);
        assert_eq!(usage.output_tokens, 12);
        assert_eq!(usage.cache_read_tokens, 7);
        assert_eq!(model, None);

        let events_usage = TokenUsage {
            input_tokens: 3,
            output_tokens: 4,
            ..TokenUsage::default()
        };
        let mut tap = StreamUsage::new(Box::new(Recorder {
            usage: Some(events_usage),
            ..Recorder::default()
        }));
        tap.feed(&wire);
        assert_eq!(tap.finish().unwrap().0, events_usage);
        assert_eq!(tap.metrics().unwrap().input_token_count, 25);
    }
}
