//! Server-sent-event framing, and the response body that hands events to the server one at a
//! time with the pauses and cuts the stream faults ask for.
//!
//! actix-web writes a streaming body with chunked transfer encoding and flushes whenever the body
//! has nothing ready, so an event followed by a pause reaches the client at once. A body that
//! yields an error makes actix drop the connection without the terminating chunk: that is how a
//! cut stream (and, with an error before any byte, a dropped request) looks to the client.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use serde::Serialize;
use tokio::time::{Instant, Sleep};

use crate::state::InFlightGuard;

/// The OpenAI chat stream's last event.
pub(crate) const DONE: &[u8] = b"data: [DONE]\n\n";

/// `event: <name>\ndata: <json>\n\n`: Anthropic's and OpenAI Responses' framing (the Anthropic
/// SDK drops events without an `event:` line).
pub(crate) fn event(name: &str, data: &impl Serialize) -> Bytes {
    let mut buf = Vec::with_capacity(256);
    buf.extend_from_slice(b"event: ");
    buf.extend_from_slice(name.as_bytes());
    buf.extend_from_slice(b"\ndata: ");
    write_json(&mut buf, data);
    buf.extend_from_slice(b"\n\n");
    Bytes::from(buf)
}

/// `data: <json>\n\n`: OpenAI chat completions' framing.
pub(crate) fn data(data: &impl Serialize) -> Bytes {
    framed(data, b"\n\n")
}

/// `data: <json>\r\n\r\n`: Gemini's framing (google-genai needs the space after `data:`).
pub(crate) fn data_crlf(data: &impl Serialize) -> Bytes {
    framed(data, b"\r\n\r\n")
}

fn framed(data: &impl Serialize, end: &[u8]) -> Bytes {
    let mut buf = Vec::with_capacity(256);
    buf.extend_from_slice(b"data: ");
    write_json(&mut buf, data);
    buf.extend_from_slice(end);
    Bytes::from(buf)
}

/// Appends `value` as JSON. The mock's answer types hold only strings, numbers and JSON values,
/// which always serialise; should one not, `null` keeps the output well-formed.
pub(crate) fn write_json(buf: &mut Vec<u8>, value: &impl Serialize) {
    let start = buf.len();
    if serde_json::to_writer(&mut *buf, value).is_err() {
        buf.truncate(start);
        buf.extend_from_slice(b"null");
    }
}

/// `value` as a JSON body.
pub(crate) fn json(value: &impl Serialize) -> Bytes {
    let mut buf = Vec::with_capacity(512);
    write_json(&mut buf, value);
    Bytes::from(buf)
}

/// A response body made of prepared pieces (events, or the halves of a JSON body).
pub(crate) struct EventStream {
    events: std::vec::IntoIter<Bytes>,
    /// Pause before every piece but the first.
    pause: Option<Duration>,
    timer: Option<Pin<Box<Sleep>>>,
    /// Whether `timer` is set for the pause before the next piece.
    armed: bool,
    /// Abort the connection once this many pieces are out.
    cut_after: Option<usize>,
    /// Whether the server has had a chance to flush before the cut.
    flushed: bool,
    sent: usize,
    _guard: Option<InFlightGuard>,
}

impl EventStream {
    pub fn new(events: Vec<Bytes>, guard: Option<InFlightGuard>) -> Self {
        EventStream {
            events: events.into_iter(),
            pause: None,
            timer: None,
            armed: false,
            cut_after: None,
            flushed: false,
            sent: 0,
            _guard: guard,
        }
    }

    pub fn pause(mut self, pause: Duration) -> Self {
        self.pause = Some(pause);
        self
    }

    pub fn cut_after(mut self, events: usize) -> Self {
        self.cut_after = Some(events);
        self
    }

    /// Waits out the pause before the next piece; `Ready` once it is over.
    fn poll_pause(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(pause) = self.pause.filter(|_| self.sent > 0) else {
            return Poll::Ready(());
        };
        if !self.armed {
            let deadline = Instant::now() + pause;
            match &mut self.timer {
                Some(timer) => timer.as_mut().reset(deadline),
                None => self.timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
            }
            self.armed = true;
        }
        match &mut self.timer {
            Some(timer) => timer.as_mut().poll(cx),
            None => Poll::Ready(()),
        }
    }
}

impl Stream for EventStream {
    type Item = Result<Bytes, io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.cut_after.is_some_and(|limit| this.sent >= limit) {
            if !this.flushed {
                // Returning Pending once makes actix flush what it has buffered, so the events
                // before the cut really reach the client; the error then drops the connection.
                this.flushed = true;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            return Poll::Ready(Some(Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "mock-upstream: stream cut by fault",
            ))));
        }
        if this.poll_pause(cx).is_pending() {
            return Poll::Pending;
        }
        this.armed = false;
        match this.events.next() {
            Some(event) => {
                this.sent += 1;
                Poll::Ready(Some(Ok(event)))
            }
            None => Poll::Ready(None),
        }
    }
}

/// A body that fails before its first byte, so actix closes the connection without sending even
/// the response head (the `Drop` fault).
pub(crate) fn aborted() -> impl Stream<Item = Result<Bytes, io::Error>> {
    futures::stream::once(async {
        Err(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "mock-upstream: request dropped by fault",
        ))
    })
}
