//! AWS event-stream framing (`application/vnd.amazon.eventstream`), as Bedrock's
//! `InvokeModelWithResponseStream` sends it: `total length | headers length | prelude CRC32 |
//! headers | payload | message CRC32`, all integers big-endian, string headers (type 7).
//!
//! Written from the format description, independently of switchyard's decoder, so the two
//! check each other.

use base64::Engine as _;
use bytes::Bytes;
use serde::Serialize;

pub(crate) const CONTENT_TYPE: &str = "application/vnd.amazon.eventstream";

/// One frame with string headers.
pub(crate) fn frame(headers: &[(&str, &str)], payload: &[u8]) -> Bytes {
    let mut encoded_headers = Vec::with_capacity(96);
    for (name, value) in headers {
        encoded_headers.push(name.len() as u8);
        encoded_headers.extend_from_slice(name.as_bytes());
        encoded_headers.push(7);
        encoded_headers.extend_from_slice(&(value.len() as u16).to_be_bytes());
        encoded_headers.extend_from_slice(value.as_bytes());
    }
    let total = 12 + encoded_headers.len() + payload.len() + 4;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&(encoded_headers.len() as u32).to_be_bytes());
    let prelude_crc = crc32fast::hash(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(&encoded_headers);
    out.extend_from_slice(payload);
    let message_crc = crc32fast::hash(&out);
    out.extend_from_slice(&message_crc.to_be_bytes());
    Bytes::from(out)
}

/// A `chunk` event carrying one Anthropic stream event: `{"bytes": "<base64 of its JSON>"}`.
pub(crate) fn chunk(event: &impl Serialize) -> Bytes {
    let json = crate::sse::json(event);
    let bytes = base64::engine::general_purpose::STANDARD.encode(&json);
    let payload = crate::faults::to_json(&serde_json::json!({ "bytes": bytes }));
    frame(
        &[
            (":event-type", "chunk"),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        payload.as_bytes(),
    )
}

/// An exception frame such as `throttlingException`; Bedrock ends the stream after it.
pub(crate) fn exception(exception_type: &str, message: &str) -> Bytes {
    let payload = crate::faults::to_json(&serde_json::json!({ "message": message }));
    frame(
        &[
            (":exception-type", exception_type),
            (":content-type", "application/json"),
            (":message-type", "exception"),
        ],
        payload.as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_lengths_and_crcs_follow_the_format() {
        let f = frame(&[(":message-type", "event")], b"{}");
        let total = u32::from_be_bytes([f[0], f[1], f[2], f[3]]) as usize;
        let headers = u32::from_be_bytes([f[4], f[5], f[6], f[7]]) as usize;
        assert_eq!(total, f.len());
        assert_eq!(headers, 1 + 13 + 1 + 2 + 5);
        assert_eq!(&f[8..12], &crc32fast::hash(&f[..8]).to_be_bytes());
        assert_eq!(&f[total - 4..], &crc32fast::hash(&f[..total - 4]).to_be_bytes());
        assert_eq!(&f[12 + headers..total - 4], b"{}");
    }

    #[test]
    fn known_crc32_value() {
        // The IEEE CRC32 of "123456789" is the standard check value.
        assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
    }
}
