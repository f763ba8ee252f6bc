//! A Bedrock response stream rewritten as Anthropic's SSE, chunk by chunk.
//!
//! Each `chunk` event's payload is `{"bytes": "<base64 of one Anthropic stream event>"}`; the
//! event is written out byte for byte as `event: <its type>\ndata: <json>\n\n`, which is what
//! the Anthropic SDKs and Claude Code parse. An exception frame becomes an Anthropic
//! `event: error` and ends the stream; so does a frame that fails its CRC.

use base64::Engine as _;
use bytes::BytesMut;
use serde::Deserialize;

use super::errors::{BedrockError, Failure};
use super::event_stream::{Frame, FrameDecoder};

/// The content type of what [`EventStreamToSse`] produces.
pub const SSE_CONTENT_TYPE: &str = "text/event-stream; charset=utf-8";

#[derive(Default)]
pub struct EventStreamToSse {
    frames: FrameDecoder,
    /// Set once an error event was written: nothing follows it.
    ended: bool,
    /// The stream's failure, for the relay's outcome (also written as an `error` event).
    failure: Option<BedrockError>,
}

#[derive(Deserialize)]
struct Chunk<'a> {
    #[serde(borrow)]
    bytes: &'a str,
}

#[derive(Deserialize)]
struct EventType<'a> {
    #[serde(borrow, rename = "type")]
    kind: &'a str,
}

impl EventStreamToSse {
    pub fn chunk(&mut self, input: &[u8], out: &mut BytesMut) {
        if self.ended {
            return;
        }
        self.frames.push(input);
        loop {
            match self.frames.next_frame() {
                Ok(Some(frame)) => self.frame(&frame, out),
                Ok(None) => return,
                Err(e) => return self.fail(server_error(&e.to_string()), out),
            }
            if self.ended {
                return;
            }
        }
    }

    /// The upstream ended; a frame cut short is reported as an error event.
    pub fn finish(&mut self, out: &mut BytesMut) {
        if !self.ended && self.frames.pending() > 0 {
            self.fail(
                server_error("Bedrock stream ended inside an event-stream frame"),
                out,
            );
        }
        self.ended = true;
    }

    /// Why the stream failed, if it did (an exception event or a broken frame).
    pub fn failure(&self) -> Option<&BedrockError> {
        self.failure.as_ref()
    }

    fn frame(&mut self, frame: &Frame, out: &mut BytesMut) {
        match frame.header(":message-type") {
            Some("event") if frame.header(":event-type") == Some("chunk") => self.event(&frame.payload, out),
            // Other event types carry nothing for the client.
            Some("event") => {}
            Some("exception") => {
                let kind = frame
                    .header(":exception-type")
                    .unwrap_or("internalServerException");
                self.fail(BedrockError::from_exception(kind, &frame.payload), out);
            }
            _ => {
                let code = frame.header(":error-code").unwrap_or("InternalServerException");
                let message = frame.header(":error-message").unwrap_or("Bedrock stream error");
                let payload = serde_json::json!({ "message": message }).to_string();
                self.fail(BedrockError::from_exception(code, payload.as_bytes()), out);
            }
        }
    }

    fn event(&mut self, payload: &[u8], out: &mut BytesMut) {
        let Some(event) = serde_json::from_slice::<Chunk<'_>>(payload)
            .ok()
            .and_then(|c| base64::engine::general_purpose::STANDARD.decode(c.bytes).ok())
        else {
            return self.fail(server_error("Bedrock chunk is not base64 JSON"), out);
        };
        let Ok(kind) = serde_json::from_slice::<EventType<'_>>(&event).map(|e| e.kind.to_owned()) else {
            return self.fail(server_error("Bedrock chunk holds no Anthropic event"), out);
        };
        // SSE data must be one line; JSON only has raw newlines as whitespace, so compact it.
        let data = if memchr::memchr2(b'\n', b'\r', &event).is_some() {
            match serde_json::from_slice::<serde_json::Value>(&event) {
                Ok(v) => v.to_string().into_bytes(),
                Err(_) => return self.fail(server_error("Bedrock chunk holds no Anthropic event"), out),
            }
        } else {
            event
        };
        write_event(out, &kind, &data);
        if kind == "error" {
            self.ended = true;
        }
    }

    fn fail(&mut self, error: BedrockError, out: &mut BytesMut) {
        write_event(out, "error", error.anthropic_body().as_bytes());
        self.failure = Some(error);
        self.ended = true;
    }
}

fn server_error(message: &str) -> BedrockError {
    BedrockError {
        failure: Failure::ServerError,
        error_type: None,
        message: message.to_owned(),
    }
}

fn write_event(out: &mut BytesMut, name: &str, data: &[u8]) {
    out.reserve(name.len() + data.len() + 16);
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\n\n");
}

impl crate::upstream::BodyAdapter for EventStreamToSse {
    fn chunk(&mut self, input: &[u8], out: &mut BytesMut) {
        EventStreamToSse::chunk(self, input, out);
    }

    fn finish(&mut self, out: &mut BytesMut) {
        EventStreamToSse::finish(self, out);
    }

    fn content_type(&self) -> Option<&'static str> {
        Some(SSE_CONTENT_TYPE)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::bedrock::event_stream::encode_frame;

    /// A `chunk` frame carrying `event` as Bedrock sends it.
    pub(crate) fn chunk_frame(event: &str) -> Vec<u8> {
        let bytes = base64::engine::general_purpose::STANDARD.encode(event);
        encode_frame(
            &[
                (":event-type", "chunk"),
                (":content-type", "application/json"),
                (":message-type", "event"),
            ],
            format!(r#"{{"bytes":"{bytes}","p":"abcdefghij"}}"#).as_bytes(),
        )
    }

    pub(crate) fn exception_frame(kind: &str, message: &str) -> Vec<u8> {
        encode_frame(
            &[
                (":exception-type", kind),
                (":content-type", "application/json"),
                (":message-type", "exception"),
            ],
            format!(r#"{{"message":"{message}"}}"#).as_bytes(),
        )
    }

    const EVENTS: [&str; 4] = [
        r#"{"type":"message_start","message":{"id":"msg_bdrk_1","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"output_tokens":1}}}"#,
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"h\u00e9llo\n"}}"#,
        r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":12}}"#,
        r#"{"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":25,"outputTokenCount":12,"invocationLatency":100,"firstByteLatency":50}}"#,
    ];

    fn expected_sse() -> String {
        EVENTS
            .iter()
            .map(|e| {
                let kind: serde_json::Value = serde_json::from_str(e).unwrap();
                format!("event: {}\ndata: {e}\n\n", kind["type"].as_str().unwrap())
            })
            .collect()
    }

    #[test]
    fn chunks_become_byte_exact_sse_across_any_split() {
        let wire: Vec<u8> = EVENTS.iter().flat_map(|e| chunk_frame(e)).collect();
        for step in [1, 3, 7, 64, wire.len()] {
            let mut t = EventStreamToSse::default();
            let mut out = BytesMut::new();
            for piece in wire.chunks(step) {
                t.chunk(piece, &mut out);
            }
            t.finish(&mut out);
            assert_eq!(std::str::from_utf8(&out).unwrap(), expected_sse(), "step {step}");
            assert!(t.failure().is_none());
        }
    }

    #[test]
    fn exception_becomes_an_anthropic_error_event_and_ends_the_stream() {
        let mut wire = chunk_frame(EVENTS[0]);
        wire.extend(exception_frame("throttlingException", "Too many tokens"));
        wire.extend(chunk_frame(EVENTS[3]));
        let mut t = EventStreamToSse::default();
        let mut out = BytesMut::new();
        t.chunk(&wire, &mut out);
        t.finish(&mut out);
        let text = std::str::from_utf8(&out).unwrap();
        let expected_error = "event: error\ndata: {\"error\":{\"message\":\"Bedrock throttlingException: Too many tokens\",\"type\":\"rate_limit_error\"},\"type\":\"error\"}\n\n";
        assert!(text.ends_with(expected_error), "{text}");
        assert!(!text.contains("message_stop"));
        assert_eq!(t.failure().map(|f| f.failure), Some(Failure::RateLimited));
    }

    #[test]
    fn a_bad_crc_or_a_cut_frame_is_an_error_event() {
        let mut wire = chunk_frame(EVENTS[0]);
        let last = wire.len() - 1;
        wire[last] ^= 0xff;
        let mut t = EventStreamToSse::default();
        let mut out = BytesMut::new();
        t.chunk(&wire, &mut out);
        let text = std::str::from_utf8(&out).unwrap();
        assert!(
            text.starts_with("event: error\n") && text.contains("CRC mismatch"),
            "{text}"
        );
        assert_eq!(t.failure().map(|f| f.failure), Some(Failure::ServerError));

        let wire = chunk_frame(EVENTS[1]);
        let mut t = EventStreamToSse::default();
        let mut out = BytesMut::new();
        t.chunk(&wire[..wire.len() - 3], &mut out);
        assert!(out.is_empty());
        t.finish(&mut out);
        assert!(
            std::str::from_utf8(&out)
                .unwrap()
                .contains("ended inside an event-stream frame")
        );
    }

    #[test]
    fn multi_line_json_is_compacted_to_one_data_line() {
        let mut t = EventStreamToSse::default();
        let mut out = BytesMut::new();
        t.chunk(&chunk_frame("{\n  \"type\": \"ping\"\n}"), &mut out);
        assert_eq!(&out[..], b"event: ping\ndata: {\"type\":\"ping\"}\n\n");
    }
}
