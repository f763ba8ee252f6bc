//! The human log format's backstop: whatever a field holds (an upstream's error text, a panic
//! message, a field someone forgot to wrap in `LogText`), an event is written as one line of
//! bounded length. JSON needs none of this: its encoder escapes line breaks itself.
use std::io::{self, Write};
use tracing_subscriber::fmt::MakeWriter;

/// Longest line written; the rest of a longer event is replaced by a marker.
pub const MAX_LINE: usize = 16 * 1024;

/// Hands `tracing-subscriber` one [`EventWriter`] per event.
pub struct OneLine;

impl<'a> MakeWriter<'a> for OneLine {
    type Writer = EventWriter;

    fn make_writer(&'a self) -> EventWriter {
        EventWriter(Vec::new())
    }
}

/// Collects one formatted event and writes it to stderr, as one line, when dropped:
/// `tracing-subscriber` makes a writer per event and drops it once the event is written.
pub struct EventWriter(Vec<u8>);

impl Write for EventWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for EventWriter {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            // Nowhere to report a failed write to the log.
            let _ = io::stderr().lock().write_all(&one_line(&self.0));
        }
    }
}

/// `event` with its line breaks escaped (but the last), cut after [`MAX_LINE`] bytes at a
/// character boundary, ending with one `\n`.
fn one_line(event: &[u8]) -> Vec<u8> {
    let body = event.strip_suffix(b"\n").unwrap_or(event);
    let mut out = Vec::with_capacity(body.len().min(MAX_LINE) + 32);
    for (at, &b) in body.iter().enumerate() {
        let continuation = b & 0b1100_0000 == 0b1000_0000;
        if out.len() >= MAX_LINE && !continuation {
            let _ = write!(out, "…[{} more bytes]", body.len() - at);
            break;
        }
        match b {
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(event: &str) -> String {
        String::from_utf8(one_line(event.as_bytes())).unwrap()
    }

    #[test]
    fn an_event_is_one_line_whatever_its_fields_hold() {
        assert_eq!(shown("INFO ok status=200\n"), "INFO ok status=200\n");
        assert_eq!(
            shown("INFO failed error=bad\r\nINFO forged line\n"),
            "INFO failed error=bad\\r\\nINFO forged line\n"
        );
        assert_eq!(shown("no newline at all"), "no newline at all\n");
    }

    #[test]
    fn a_long_event_is_cut_at_a_character_boundary() {
        let event = format!("INFO x={}\n", "é".repeat(MAX_LINE));
        let line = shown(&event);
        assert!(line.len() < MAX_LINE + 64, "{}", line.len());
        assert!(line.ends_with(" more bytes]\n"), "{}", &line[line.len() - 40..]);
        assert_eq!(line.matches('\n').count(), 1);
    }
}
