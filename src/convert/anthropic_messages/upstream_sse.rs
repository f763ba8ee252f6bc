//! Gathers an upstream event stream into whole events (the `data:` lines of one event, joined),
//! whatever the chunk boundaries; `event:` names are not needed, both upstreams name the kind
//! in the data.
use crate::upstream::wire::sse::{LineSplitter, data_payload};

#[derive(Debug, Default)]
pub struct UpstreamEvents {
    lines: LineSplitter,
    data: Vec<u8>,
}

impl UpstreamEvents {
    /// Calls `on_event` with the data of each event completed by `chunk`.
    pub fn feed(&mut self, chunk: &[u8], mut on_event: impl FnMut(&[u8])) {
        let data = &mut self.data;
        self.lines
            .feed(chunk, |line| Self::line(data, line, &mut on_event));
    }

    /// The last event when the stream ended without its blank line.
    pub fn flush(&mut self, mut on_event: impl FnMut(&[u8])) {
        let data = &mut self.data;
        self.lines.flush(|line| Self::line(data, line, &mut on_event));
        if !self.data.is_empty() {
            on_event(&std::mem::take(&mut self.data));
        }
    }

    fn line(data: &mut Vec<u8>, line: &[u8], on_event: &mut impl FnMut(&[u8])) {
        if line.is_empty() {
            if !data.is_empty() {
                on_event(&std::mem::take(data));
            }
        } else if let Some(payload) = data_payload(line) {
            if !data.is_empty() {
                data.push(b'\n');
            }
            data.extend_from_slice(payload);
        }
    }
}
