//! Whole SSE events out of a byte stream split anywhere: an event is its `event:` name and its
//! `data:` lines joined, complete at the blank line that ends it.
use crate::upstream::BodyAdapter;
use crate::upstream::wire::sse::{LineSplitter, data_payload};
use bytes::BytesMut;

/// One upstream's stream format, read event by event into chat chunks.
pub trait EventTranslator: Send {
    fn event(&mut self, data: &[u8], out: &mut BytesMut);
    /// The upstream stream is over (its last event already passed to `event`).
    fn end(&mut self, out: &mut BytesMut);
}

/// A [`BodyAdapter`] that hands an [`EventTranslator`] whole events, however the bytes came.
pub struct ChunkStream<T> {
    pub(super) events: EventReader,
    pub(super) translator: T,
}

impl<T: EventTranslator> BodyAdapter for ChunkStream<T> {
    fn chunk(&mut self, input: &[u8], out: &mut BytesMut) {
        let translator = &mut self.translator;
        self.events.feed(input, |_, data| translator.event(data, out));
    }

    fn finish(&mut self, out: &mut BytesMut) {
        let translator = &mut self.translator;
        self.events.flush(|_, data| translator.event(data, out));
        translator.end(out);
    }
}

#[derive(Debug, Default)]
pub struct EventReader {
    lines: LineSplitter,
    name: String,
    data: Vec<u8>,
    has_data: bool,
}

impl EventReader {
    /// Calls `on_event(name, data)` for each event completed by `input`.
    pub fn feed(&mut self, input: &[u8], mut on_event: impl FnMut(&str, &[u8])) {
        let mut lines = std::mem::take(&mut self.lines);
        lines.feed(input, |line| self.line(line, &mut on_event));
        self.lines = lines;
    }

    /// The last event when the stream ended without its blank line.
    pub fn flush(&mut self, mut on_event: impl FnMut(&str, &[u8])) {
        let mut lines = std::mem::take(&mut self.lines);
        lines.flush(|line| self.line(line, &mut on_event));
        self.lines = lines;
        self.dispatch(&mut on_event);
    }

    fn line(&mut self, line: &[u8], on_event: &mut impl FnMut(&str, &[u8])) {
        if line.is_empty() {
            self.dispatch(on_event);
        } else if let Some(data) = data_payload(line) {
            if self.has_data {
                self.data.push(b'\n');
            }
            self.data.extend_from_slice(data);
            self.has_data = true;
        } else if let Some(name) = line.strip_prefix(b"event:") {
            self.name = String::from_utf8_lossy(name).trim().to_owned();
        }
    }

    fn dispatch(&mut self, on_event: &mut impl FnMut(&str, &[u8])) {
        if self.has_data {
            on_event(&self.name, &self.data);
        }
        self.name.clear();
        self.data.clear();
        self.has_data = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_whole_whatever_the_split() {
        let text = b"event: ping\ndata: {}\n\nevent: message_stop\r\ndata: {\"a\":\r\ndata: 1}\r\n\r\ndata: {\"b\":2}";
        for split in 0..=text.len() {
            let mut r = EventReader::default();
            let mut got = Vec::new();
            let mut push =
                |n: &str, d: &[u8]| got.push((n.to_owned(), String::from_utf8_lossy(d).into_owned()));
            r.feed(&text[..split], &mut push);
            r.feed(&text[split..], &mut push);
            r.flush(&mut push);
            assert_eq!(
                got,
                [
                    ("ping".into(), "{}".into()),
                    ("message_stop".into(), "{\"a\":\n1}".into()),
                    (String::new(), "{\"b\":2}".into())
                ],
                "split at {split}"
            );
        }
    }
}
