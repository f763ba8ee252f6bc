//! The streamed answer: upstream bytes go to the client as they arrive (no re-framing), usage
//! is read on the side, silence longer than the idle timeout ends the stream, and dropping the
//! body (client gone) aborts the upstream request and closes out the request.
use super::finish::{Ending, Finish};
use bytes::Bytes;
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
    finish: Finish,
    ended: bool,
}

impl RelayBody {
    pub fn new(
        upstream: BoxStream<'static, reqwest::Result<Bytes>>,
        first: Option<Bytes>,
        idle: Duration,
        finish: Finish,
    ) -> Self {
        RelayBody {
            upstream,
            first,
            idle,
            timer: Box::pin(tokio::time::sleep(idle)),
            finish,
            ended: false,
        }
    }
}

impl Stream for RelayBody {
    type Item = Result<Bytes, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(first) = this.first.take() {
            this.finish.feed(&first);
            return Poll::Ready(Some(Ok(first)));
        }
        if this.ended {
            return Poll::Ready(None);
        }
        match this.upstream.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.timer.as_mut().reset(Instant::now() + this.idle);
                this.finish.feed(&chunk);
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => {
                // Past the first byte there is no failover: cut the client's stream the same way.
                this.ended = true;
                this.finish.complete(Ending::UpstreamError);
                Poll::Ready(Some(Err(StreamError::Upstream(e.to_string()))))
            }
            Poll::Ready(None) => {
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
        }
    }
}
