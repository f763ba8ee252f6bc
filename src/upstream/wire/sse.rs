//! Server-sent events: recognising them, and splitting a byte stream into lines across chunk
//! boundaries for reading `data:` lines on the side while the bytes pass through untouched.

/// Whether an answer's headers announce an event stream.
pub fn is_event_stream(headers: &reqwest::header::HeaderMap) -> bool {
    headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/event-stream"))
}

/// Longest line kept; longer ones are skipped (usage lines are short).
const MAX_LINE: usize = 4 << 20;

#[derive(Debug, Default)]
pub struct LineSplitter {
    partial: Vec<u8>,
    skipping: bool,
}

impl LineSplitter {
    /// Calls `on_line` for each complete line in `chunk` (without the line ending).
    pub fn feed(&mut self, mut chunk: &[u8], mut on_line: impl FnMut(&[u8])) {
        while let Some(nl) = memchr_newline(chunk) {
            let (line, rest) = (&chunk[..nl], &chunk[nl + 1..]);
            if self.skipping {
                self.skipping = false;
            } else if self.partial.is_empty() {
                on_line(trim_cr(line));
            } else {
                self.partial.extend_from_slice(line);
                let whole = std::mem::take(&mut self.partial);
                on_line(trim_cr(&whole));
            }
            chunk = rest;
        }
        if !chunk.is_empty() && !self.skipping {
            if self.partial.len() + chunk.len() > MAX_LINE {
                self.partial.clear();
                self.skipping = true;
            } else {
                self.partial.extend_from_slice(chunk);
            }
        }
    }

    /// The last line when the stream ended without a newline.
    pub fn flush(&mut self, mut on_line: impl FnMut(&[u8])) {
        if !self.partial.is_empty() && !self.skipping {
            let whole = std::mem::take(&mut self.partial);
            on_line(trim_cr(&whole));
        }
    }
}

fn memchr_newline(s: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', s)
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The payload of an SSE `data:` line (with or without the space).
pub fn data_payload(line: &[u8]) -> Option<&[u8]> {
    let rest = line.strip_prefix(b"data:")?;
    Some(rest.strip_prefix(b" ").unwrap_or(rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_survive_any_chunking() {
        let text = b"event: a\r\ndata: {\"x\":1}\r\n\r\ndata:{\"y\":2}\n";
        for split in 0..text.len() {
            let mut s = LineSplitter::default();
            let mut lines = Vec::new();
            s.feed(&text[..split], |l| lines.push(l.to_vec()));
            s.feed(&text[split..], |l| lines.push(l.to_vec()));
            s.flush(|l| lines.push(l.to_vec()));
            let datas: Vec<_> = lines.iter().filter_map(|l| data_payload(l)).collect();
            assert_eq!(
                datas,
                vec![&b"{\"x\":1}"[..], &b"{\"y\":2}"[..]],
                "split at {split}"
            );
        }
    }
}
