//! The streamed answer: upstream bytes go to the client as they arrive (no re-framing unless
//! the account's API differs from the client's), usage is read on the side, silence longer than
//! the idle timeout ends the stream, and dropping the body (client gone) aborts the upstream
//! request and closes out the request.
use super::finish::{Ending, Finish};
use crate::providers::BodyAdapter;
use bytes::{Bytes, BytesMut};
use futures::Stream;
use futures::stream::BoxStream;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("upstream stream failed: {0}")]
    Upstream(String),
    #[error("upstream went silent for longer than the idle timeout")]
    Idle,
}

/// Most bytes handed to the server in one piece.
const MAX_BATCH: usize = 64 * 1024;

pub struct RelayBody {
    upstream: BoxStream<'static, reqwest::Result<Bytes>>,
    first: Option<Bytes>,
    idle: Duration,
    timer: Pin<Box<Sleep>>,
    adapter: Option<Box<dyn BodyAdapter>>,
    finish: Finish,
    /// Client bytes received but not handed to the server yet.
    held: Vec<Bytes>,
    held_len: usize,
    /// Whether the stream already yielded once since it last received a chunk.
    yielded: bool,
    /// How the stream ends once the held bytes are out (`None`: the upstream has not ended).
    end: Option<Option<StreamError>>,
    ended: bool,
}

impl RelayBody {
    pub fn new(
        upstream: BoxStream<'static, reqwest::Result<Bytes>>,
        first: Option<Bytes>,
        idle: Duration,
        adapter: Option<Box<dyn BodyAdapter>>,
        finish: Finish,
    ) -> Self {
        RelayBody {
            upstream,
            first,
            idle,
            timer: Box::pin(tokio::time::sleep(idle)),
            adapter,
            finish,
            held: Vec::new(),
            held_len: 0,
            yielded: false,
            end: None,
            ended: false,
        }
    }

    /// Holds what the client gets for `chunk` (adapted when needed). Usage is read from the
    /// upstream's own bytes: an adapter may drop what carries it.
    fn pass(&mut self, chunk: Bytes) {
        self.finish.feed(&chunk);
        let out = match self.adapter.as_mut() {
            None => chunk,
            Some(a) => {
                let mut buf = BytesMut::new();
                a.chunk(&chunk, &mut buf);
                buf.freeze()
            }
        };
        self.hold(out);
    }

    fn hold(&mut self, out: Bytes) {
        if !out.is_empty() {
            self.held_len += out.len();
            self.held.push(out);
        }
    }

    /// The held bytes, as one piece.
    fn take_held(&mut self) -> Bytes {
        self.held_len = 0;
        self.yielded = false;
        if self.held.len() == 1 {
            return self.held.pop().unwrap_or_default();
        }
        let mut buf = BytesMut::with_capacity(self.held.iter().map(Bytes::len).sum());
        for b in self.held.drain(..) {
            buf.extend_from_slice(&b);
        }
        buf.freeze()
    }

    /// The upstream ended: hold the adapter's closing bytes and close out the request.
    fn close(&mut self, ending: Ending, error: Option<StreamError>) {
        if let Some(mut a) = self.adapter.take().filter(|_| ending == Ending::Complete) {
            let mut buf = BytesMut::new();
            a.finish(&mut buf);
            self.hold(buf.freeze());
        }
        self.finish.complete(ending);
        self.end = Some(error);
    }
}

impl Stream for RelayBody {
    type Item = Result<Bytes, StreamError>;

    /// Hands over what the upstream delivered, coalescing the chunks that are ready: a burst
    /// of events (one chunk each) goes out in fewer writes. A trickling upstream costs one
    /// extra poll per chunk and no wait.
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        if let Some(first) = this.first.take() {
            this.pass(first);
        }
        while this.end.is_none() && this.held_len < MAX_BATCH {
            match this.upstream.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    this.timer.as_mut().reset(Instant::now() + this.idle);
                    this.yielded = false;
                    this.pass(chunk);
                }
                // Past the first byte there is no failover: cut the client's stream the same way
                // (after what was received).
                Poll::Ready(Some(Err(e))) => {
                    let error = StreamError::Upstream(e.without_url().to_string());
                    this.close(Ending::UpstreamError, Some(error));
                }
                Poll::Ready(None) => this.close(Ending::Complete, None),
                Poll::Pending if this.held.is_empty() => {
                    return match this.timer.as_mut().poll(cx) {
                        Poll::Ready(()) => {
                            this.ended = true;
                            this.finish.complete(Ending::IdleTimeout);
                            Poll::Ready(Some(Err(StreamError::Idle)))
                        }
                        Poll::Pending => Poll::Pending,
                    };
                }
                Poll::Pending if !this.yielded => {
                    // Yield once before handing the held bytes over: the server writes out its
                    // buffer whenever the body is pending, and the tasks that run meanwhile
                    // (under load, the upstream connection's among them) often deliver the
                    // next chunks, which then go out in the same write.
                    this.yielded = true;
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                Poll::Pending => break,
            }
        }
        if !this.held.is_empty() {
            return Poll::Ready(Some(Ok(this.take_held())));
        }
        this.ended = true;
        match this.end.take().flatten() {
            Some(e) => Poll::Ready(Some(Err(e))),
            None => Poll::Ready(None),
        }
    }
}
