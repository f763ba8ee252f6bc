//! The AWS event-stream binary framing (`application/vnd.amazon.eventstream`): frames cut out
//! of a byte stream that arrives in arbitrary pieces, each checked against its two CRC32s.
//!
//! A frame is `total length (u32 BE) | headers length (u32 BE) | prelude CRC | headers |
//! payload | message CRC`; the prelude CRC covers the first 8 bytes, the message CRC everything
//! before it. A header is `name length (u8) | name | type (u8) | value`.

use bytes::{Buf, Bytes, BytesMut};

const PRELUDE: usize = 12;
const MIN_FRAME: usize = PRELUDE + 4;
/// Bedrock frames carry one model event each; AWS caps a message at 16 MB plus headers.
const MAX_FRAME: usize = 16 * 1024 * 1024 + 128 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("event-stream frame length {0} is out of range")]
    Length(usize),
    #[error("event-stream prelude CRC mismatch")]
    PreludeCrc,
    #[error("event-stream message CRC mismatch")]
    MessageCrc,
    #[error("event-stream frame headers are malformed")]
    Headers,
}

/// One decoded frame: its string headers (other header types are skipped) and its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub headers: Vec<(String, String)>,
    pub payload: Bytes,
}

impl Frame {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Buffers input until whole frames are there.
#[derive(Default)]
pub struct FrameDecoder {
    buf: BytesMut,
}

impl FrameDecoder {
    pub fn push(&mut self, input: &[u8]) {
        self.buf.extend_from_slice(input);
    }

    /// Bytes of an incomplete frame still waiting for the rest.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// The next whole frame, `None` until one has arrived. After an error the stream cannot be
    /// resynchronised (lengths are untrustworthy); stop reading it.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        if self.buf.len() < PRELUDE {
            return Ok(None);
        }
        let total = u32_at(&self.buf, 0) as usize;
        let headers_len = u32_at(&self.buf, 4) as usize;
        if crc32fast::hash(&self.buf[..8]) != u32_at(&self.buf, 8) {
            return Err(FrameError::PreludeCrc);
        }
        if !(MIN_FRAME..=MAX_FRAME).contains(&total) || headers_len > total - MIN_FRAME {
            return Err(FrameError::Length(total));
        }
        if self.buf.len() < total {
            return Ok(None);
        }
        let frame = self.buf.split_to(total).freeze();
        if crc32fast::hash(&frame[..total - 4]) != u32_at(&frame, total - 4) {
            return Err(FrameError::MessageCrc);
        }
        let headers = parse_headers(&frame[PRELUDE..PRELUDE + headers_len])?;
        Ok(Some(Frame {
            headers,
            payload: frame.slice(PRELUDE + headers_len..total - 4),
        }))
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn parse_headers(mut b: &[u8]) -> Result<Vec<(String, String)>, FrameError> {
    let mut headers = Vec::new();
    while b.has_remaining() {
        let name_len = b.get_u8() as usize;
        if b.remaining() < name_len + 1 {
            return Err(FrameError::Headers);
        }
        let name = std::str::from_utf8(&b[..name_len])
            .map_err(|_| FrameError::Headers)?
            .to_owned();
        b.advance(name_len);
        let fixed = match b.get_u8() {
            0 | 1 => 0,
            2 => 1,
            3 => 2,
            4 => 4,
            5 | 8 => 8,
            9 => 16,
            kind @ (6 | 7) => {
                if b.remaining() < 2 {
                    return Err(FrameError::Headers);
                }
                let len = b.get_u16() as usize;
                if b.remaining() < len {
                    return Err(FrameError::Headers);
                }
                if kind == 7 {
                    let value = std::str::from_utf8(&b[..len]).map_err(|_| FrameError::Headers)?;
                    headers.push((name, value.to_owned()));
                }
                b.advance(len);
                continue;
            }
            _ => return Err(FrameError::Headers),
        };
        if b.remaining() < fixed {
            return Err(FrameError::Headers);
        }
        b.advance(fixed);
    }
    Ok(headers)
}

/// Encodes a frame with string headers (tests, and anything that must speak the format).
pub fn encode_frame(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::new();
    for (name, value) in headers {
        h.push(name.len() as u8);
        h.extend_from_slice(name.as_bytes());
        h.push(7);
        h.extend_from_slice(&(value.len() as u16).to_be_bytes());
        h.extend_from_slice(value.as_bytes());
    }
    let total = PRELUDE + h.len() + payload.len() + 4;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&(h.len() as u32).to_be_bytes());
    let prelude_crc = crc32fast::hash(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk_frame(payload: &[u8]) -> Vec<u8> {
        encode_frame(
            &[
                (":event-type", "chunk"),
                (":content-type", "application/json"),
                (":message-type", "event"),
            ],
            payload,
        )
    }

    #[test]
    fn frames_survive_every_split_point() {
        let mut wire = chunk_frame(br#"{"bytes":"eyJ0eXBlIjoicGluZyJ9"}"#);
        wire.extend(chunk_frame(b"{}"));
        for cut in 0..=wire.len() {
            let mut d = FrameDecoder::default();
            let mut frames = Vec::new();
            for part in [&wire[..cut], &wire[cut..]] {
                d.push(part);
                while let Some(f) = d.next_frame().unwrap() {
                    frames.push(f);
                }
            }
            assert_eq!(frames.len(), 2, "cut at {cut}");
            assert_eq!(frames[0].header(":event-type"), Some("chunk"));
            assert_eq!(&frames[0].payload[..], br#"{"bytes":"eyJ0eXBlIjoicGluZyJ9"}"#);
            assert_eq!(&frames[1].payload[..], b"{}");
            assert_eq!(d.pending(), 0);
        }
    }

    #[test]
    fn byte_at_a_time_and_non_string_headers() {
        // A frame as the AWS SDK test data has it: a bool, a byte, an int and a timestamp
        // header beside the string one.
        let mut h = Vec::new();
        for (name, kind, value) in [
            ("t", 0u8, &[][..]),
            ("b", 2, &[7][..]),
            ("i", 4, &[0, 0, 1, 0][..]),
            ("ts", 8, &[0; 8][..]),
        ] {
            h.push(name.len() as u8);
            h.extend_from_slice(name.as_bytes());
            h.push(kind);
            h.extend_from_slice(value);
        }
        let mut wire = encode_frame(&[(":message-type", "event")], b"x");
        // Rebuild with the extra headers in front.
        let headers_len = u32_at(&wire, 4) as usize;
        let mut all_headers = h.clone();
        all_headers.extend_from_slice(&wire[PRELUDE..PRELUDE + headers_len]);
        let total = PRELUDE + all_headers.len() + 1 + 4;
        let mut rebuilt = Vec::new();
        rebuilt.extend_from_slice(&(total as u32).to_be_bytes());
        rebuilt.extend_from_slice(&(all_headers.len() as u32).to_be_bytes());
        rebuilt.extend_from_slice(&crc32fast::hash(&rebuilt).to_be_bytes());
        rebuilt.extend_from_slice(&all_headers);
        rebuilt.push(b'x');
        rebuilt.extend_from_slice(&crc32fast::hash(&rebuilt).to_be_bytes());
        wire = rebuilt;

        let mut d = FrameDecoder::default();
        let mut got = None;
        for b in &wire {
            d.push(std::slice::from_ref(b));
            if let Some(f) = d.next_frame().unwrap() {
                got = Some(f);
            }
        }
        let f = got.unwrap();
        assert_eq!(f.headers, vec![(":message-type".to_owned(), "event".to_owned())]);
        assert_eq!(&f.payload[..], b"x");
    }

    #[test]
    fn corrupted_frames_are_errors() {
        let good = chunk_frame(b"{\"bytes\":\"\"}");
        let mut payload_flip = good.clone();
        let at = good.len() - 6;
        payload_flip[at] ^= 1;
        let mut d = FrameDecoder::default();
        d.push(&payload_flip);
        assert_eq!(d.next_frame(), Err(FrameError::MessageCrc));

        let mut prelude_flip = good.clone();
        prelude_flip[3] ^= 1;
        let mut d = FrameDecoder::default();
        d.push(&prelude_flip);
        assert_eq!(d.next_frame(), Err(FrameError::PreludeCrc));

        // A consistent prelude announcing an absurd length.
        let mut huge = Vec::new();
        huge.extend_from_slice(&(u32::MAX).to_be_bytes());
        huge.extend_from_slice(&0u32.to_be_bytes());
        huge.extend_from_slice(&crc32fast::hash(&huge).to_be_bytes());
        let mut d = FrameDecoder::default();
        d.push(&huge);
        assert_eq!(d.next_frame(), Err(FrameError::Length(u32::MAX as usize)));
    }
}
