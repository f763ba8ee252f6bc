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

pub struct RelayBody {
    upstream: BoxStream<'static, reqwest::Result<Bytes>>,
    first: Option<Bytes>,
    idle: Duration,
    timer: Pin<Box<Sleep>>,
    adapter: Option<Box<dyn BodyAdapter>>,
    finish: Finish,
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
            ended: false,
        }
    }

    /// What the client gets for `chunk` (adapted when needed). Usage is read from the upstream's
    /// own bytes: an adapter may drop what carries it.
    fn pass(&mut self, chunk: Bytes) -> Bytes {
        self.finish.feed(&chunk);
        match self.adapter.as_mut() {
            None => chunk,
            Some(a) => {
                let mut buf = BytesMut::new();
                a.chunk(&chunk, &mut buf);
                buf.freeze()
            }
        }
    }

    /// The adapter's closing bytes, if any.
    fn closing(&mut self) -> Option<Bytes> {
        let mut buf = BytesMut::new();
        self.adapter.as_mut()?.finish(&mut buf);
        self.adapter = None;
        (!buf.is_empty()).then(|| buf.freeze())
    }
}

impl Stream for RelayBody {
    type Item = Result<Bytes, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(first) = this.first.take() {
            return Poll::Ready(Some(Ok(this.pass(first))));
        }
        if this.ended {
            return Poll::Ready(None);
        }
        loop {
            return match this.upstream.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    this.timer.as_mut().reset(Instant::now() + this.idle);
                    let out = this.pass(chunk);
                    if out.is_empty() {
                        continue;
                    }
                    Poll::Ready(Some(Ok(out)))
                }
                Poll::Ready(Some(Err(e))) => {
                    // Past the first byte there is no failover: cut the client's stream the same way.
                    this.ended = true;
                    this.finish.complete(Ending::UpstreamError);
                    Poll::Ready(Some(Err(StreamError::Upstream(e.without_url().to_string()))))
                }
                Poll::Ready(None) => {
                    if let Some(tail) = this.closing() {
                        return Poll::Ready(Some(Ok(tail)));
                    }
                    this.ended = true;
                    this.finish.complete(Ending::Complete);
                    Poll::Ready(None)
                }
                Poll::Pending => match this.timer.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        this.ended = true;
                        this.finish.complete(Ending::IdleTimeout);
                        Poll::Ready(Some(Err(StreamError::Idle)))
                    }
                    Poll::Pending => Poll::Pending,
                },
            };
        }
    }
}
