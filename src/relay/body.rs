//! The streamed answer: upstream bytes go to the client as they arrive (no re-framing unless
//! the account's API differs from the client's), usage is read on the side, silence longer than
//! the idle timeout ends the stream, and dropping the body (client gone) hands the unfinished
//! upstream answer to [`super::drain`], which reads it on to record what the upstream bills.
use super::client::{BoxError, error_text};
use super::finish::{Ending, Finish};
use crate::upstream::BodyAdapter;
use bytes::{Bytes, BytesMut};
use futures::stream::{self, BoxStream};
use futures::{FutureExt, Stream, StreamExt};
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

/// An upstream answer's body, chunk by chunk.
pub type UpstreamStream = BoxStream<'static, Result<Bytes, BoxError>>;

/// Most bytes handed to the server in one piece.
const MAX_BATCH: usize = 64 * 1024;

/// Longest held bytes wait for more: an upstream that delivers a chunk every scheduler round
/// (a busy proxy gathering) is still forwarded at this pace, not only once `MAX_BATCH` is full.
/// Counting rounds instead would cut the gathering short exactly when it saves the most writes.
const MAX_HOLD: Duration = Duration::from_millis(20);

/// `upstream` with what it has already received read ahead. The server writes out the response
/// head as soon as the body is first pending; a short stream (often whole by now) then leaves
/// with its head in one write instead of two. The connection task hands over one chunk per run,
/// so this yields while each run brings one, for at most `MAX_HOLD`: a steady trickle under
/// load must not hold back the head and first bytes.
/// `first` is the chunk already received (`None`: the answer ended without a byte).
pub async fn read_ahead(first: Option<Bytes>, upstream: UpstreamStream) -> UpstreamStream {
    read_ahead_for(first, upstream, MAX_HOLD).await
}

async fn read_ahead_for(
    first: Option<Bytes>,
    mut upstream: UpstreamStream,
    hold: Duration,
) -> UpstreamStream {
    let Some(first) = first else {
        return stream::empty().boxed();
    };
    let started = Instant::now();
    let mut ready_len = first.len();
    let mut ready = vec![Ok(first)];
    while ready_len < MAX_BATCH {
        tokio::task::yield_now().await;
        let before = ready.len();
        while ready_len < MAX_BATCH {
            match upstream.next().now_or_never() {
                Some(Some(Ok(chunk))) => {
                    ready_len += chunk.len();
                    ready.push(Ok(chunk));
                }
                Some(Some(Err(e))) => {
                    ready.push(Err(e));
                    return stream::iter(ready).boxed();
                }
                Some(None) => return stream::iter(ready).boxed(),
                None => break,
            }
        }
        if ready.len() == before || started.elapsed() >= hold {
            break;
        }
    }
    stream::iter(ready).chain(upstream).boxed()
}

pub struct RelayBody {
    upstream: UpstreamStream,
    idle: Duration,
    /// Ends the stream after `idle` of silence; armed only once the upstream is first
    /// pending with nothing held (a short stream, read ahead whole, never needs it).
    timer: Option<Pin<Box<Sleep>>>,
    /// When the upstream last delivered, as of the last check.
    last_chunk: Instant,
    /// Chunks arrived since `last_chunk` was read (the clock is read once per batch).
    fresh: bool,
    adapter: Option<Box<dyn BodyAdapter>>,
    /// Taken only when the body is dropped.
    finish: Option<Finish>,
    /// Client bytes received but not handed to the server yet.
    held: Vec<Bytes>,
    held_len: usize,
    /// Whether the stream already yielded once since it last received a chunk.
    yielded: bool,
    /// The pending yield: `tokio::task::yield_now` defers the wake-up until the runtime has run
    /// its other tasks (the upstream connection's among them); a plain self-wake would be
    /// polled again before them.
    pause: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    /// When the oldest held bytes arrived.
    held_since: Option<Instant>,
    /// How the stream ends once the held bytes are out (`None`: the upstream has not ended).
    end: Option<Option<StreamError>>,
    /// Whether the server got a chance to write its buffer before the stream's error.
    error_deferred: bool,
    ended: bool,
}

impl RelayBody {
    pub fn new(
        upstream: UpstreamStream,
        idle: Duration,
        adapter: Option<Box<dyn BodyAdapter>>,
        finish: Finish,
    ) -> Self {
        RelayBody {
            upstream,
            idle,
            timer: None,
            last_chunk: Instant::now(),
            fresh: false,
            adapter,
            finish: Some(finish),
            held: Vec::new(),
            held_len: 0,
            yielded: false,
            pause: None,
            held_since: None,
            end: None,
            error_deferred: false,
            ended: false,
        }
    }

    /// Holds what the client gets for `chunk` (adapted when needed). Usage is read from the
    /// upstream's own bytes: an adapter may drop what carries it.
    fn pass(&mut self, chunk: Bytes) {
        if let Some(f) = self.finish.as_mut() {
            f.feed(&chunk);
        }
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
            self.held_since.get_or_insert_with(Instant::now);
            self.held_len += out.len();
            self.held.push(out);
        }
    }

    /// The held bytes, as one piece.
    fn take_held(&mut self) -> Bytes {
        self.held_len = 0;
        self.yielded = false;
        self.held_since = None;
        if self.held.len() == 1 {
            return self.held.pop().unwrap_or_default();
        }
        let mut buf = BytesMut::with_capacity(self.held.iter().map(Bytes::len).sum());
        for b in self.held.drain(..) {
            buf.extend_from_slice(&b);
        }
        buf.freeze()
    }

    /// The idle timer, armed for `idle` after the last chunk.
    fn idle_timer(&mut self) -> Pin<&mut Sleep> {
        if std::mem::take(&mut self.fresh) {
            self.last_chunk = Instant::now();
        }
        let deadline = self.last_chunk + self.idle;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if timer.deadline() != deadline {
            timer.as_mut().reset(deadline);
        }
        timer.as_mut()
    }

    /// The upstream ended: hold the adapter's closing bytes and close out the request.
    fn close(&mut self, ending: Ending, error: Option<StreamError>) {
        if let Some(mut a) = self.adapter.take().filter(|_| ending == Ending::Complete) {
            let mut buf = BytesMut::new();
            a.finish(&mut buf);
            self.hold(buf.freeze());
        }
        self.complete(ending);
        self.end = Some(error);
    }

    fn complete(&mut self, ending: Ending) {
        if let Some(f) = self.finish.as_mut() {
            f.complete(ending);
        }
    }
}

/// The client left before the answer ended (an answer that ended was closed out already).
impl Drop for RelayBody {
    fn drop(&mut self) {
        if let Some(finish) = self.finish.take() {
            let upstream = std::mem::replace(&mut self.upstream, stream::empty().boxed());
            super::drain::after_disconnect(upstream, finish, self.idle);
        }
    }
}

impl Stream for RelayBody {
    type Item = Result<Bytes, StreamError>;

    /// Hands over what the upstream delivered, coalescing the chunks that are ready: a burst
    /// of events (one chunk each) goes out in fewer writes. A trickling upstream costs one
    /// extra poll per chunk and no wait.
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        // Whatever woke us, the pause is over.
        this.pause = None;
        if this.ended {
            return Poll::Ready(None);
        }
        while this.end.is_none() && this.held_len < MAX_BATCH {
            match this.upstream.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    this.fresh = true;
                    this.yielded = false;
                    this.pass(chunk);
                }
                // Past the first byte there is no failover: cut the client's stream the same way
                // (after what was received).
                Poll::Ready(Some(Err(e))) => {
                    let error = StreamError::Upstream(error_text(&*e));
                    this.close(Ending::UpstreamError, Some(error));
                }
                Poll::Ready(None) => this.close(Ending::Complete, None),
                Poll::Pending if this.held.is_empty() => {
                    return match this.idle_timer().poll(cx) {
                        Poll::Ready(()) => {
                            this.ended = true;
                            this.complete(Ending::IdleTimeout);
                            Poll::Ready(Some(Err(StreamError::Idle)))
                        }
                        Poll::Pending => Poll::Pending,
                    };
                }
                Poll::Pending if !this.yielded && this.held_since.is_some_and(|t| t.elapsed() < MAX_HOLD) => {
                    // Yield once before handing the held bytes over: the server writes out its
                    // buffer whenever the body is pending, and the tasks that run meanwhile
                    // (under load, the upstream connection's among them) often deliver the
                    // next chunks, which then go out in the same write.
                    this.yielded = true;
                    let mut pause: Pin<Box<dyn Future<Output = ()> + Send>> =
                        Box::pin(tokio::task::yield_now());
                    if pause.as_mut().poll(cx).is_pending() {
                        this.pause = Some(pause);
                        return Poll::Pending;
                    }
                }
                Poll::Pending => break,
            }
        }
        if !this.held.is_empty() {
            return Poll::Ready(Some(Ok(this.take_held())));
        }
        if matches!(this.end, Some(Some(_))) && !this.error_deferred {
            // The server drops the connection on a body error without writing what it has
            // buffered: let it write the head and the bytes received so far first.
            this.error_deferred = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        this.ended = true;
        match this.end.take().flatten() {
            Some(e) => Poll::Ready(Some(Err(e))),
            None => Poll::Ready(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn chunks(parts: &[&'static str]) -> Vec<Result<Bytes, BoxError>> {
        parts
            .iter()
            .map(|p| Ok(Bytes::from_static(p.as_bytes())))
            .collect()
    }

    fn text(items: Vec<Result<Bytes, BoxError>>) -> Vec<String> {
        items
            .into_iter()
            .map(|i| String::from_utf8(i.unwrap().to_vec()).unwrap())
            .collect()
    }

    /// `read_ahead` as the relay calls it: with the first chunk already taken.
    async fn ahead_of(mut upstream: UpstreamStream) -> UpstreamStream {
        let first = upstream.next().await.map(|c| c.expect("a first chunk"));
        read_ahead(first, upstream).await
    }

    #[tokio::test]
    async fn read_ahead_keeps_every_chunk_and_the_end() {
        let upstream = stream::iter(chunks(&["a", "b", "c"])).boxed();
        let ahead = ahead_of(upstream).await;
        assert_eq!(text(ahead.collect().await), ["a", "b", "c"]);
    }

    #[tokio::test]
    async fn read_ahead_stops_at_the_first_chunk_not_there_yet() {
        let upstream = stream::iter(chunks(&["a", "b"])).chain(stream::pending()).boxed();
        let mut ahead = ahead_of(upstream).await;
        assert_eq!(
            text(vec![ahead.next().await.unwrap(), ahead.next().await.unwrap()]),
            ["a", "b"]
        );
        assert!(
            ahead.next().now_or_never().is_none(),
            "still waiting on the upstream"
        );
    }

    /// One byte per chunk, each after a pending poll, for ever: like a connection task that
    /// delivers a chunk per run. `delivered` counts the chunks handed over.
    fn trickle(delivered: Arc<AtomicUsize>) -> UpstreamStream {
        let mut pending = true;
        stream::poll_fn(move |cx| {
            pending = !pending;
            if pending {
                cx.waker().wake_by_ref();
                Poll::Pending
            } else {
                delivered.fetch_add(1, Ordering::Relaxed);
                Poll::Ready(Some(Ok(Bytes::from_static(b"x"))))
            }
        })
        .boxed()
    }

    #[tokio::test]
    async fn read_ahead_of_a_steady_trickle_stops_at_the_hold_time() {
        let delivered = Arc::new(AtomicUsize::new(0));
        let _ahead = read_ahead_for(Some(Bytes::new()), trickle(delivered.clone()), Duration::ZERO).await;
        assert_eq!(
            delivered.load(Ordering::Relaxed),
            1,
            "one round, then the head goes out"
        );

        let delivered = Arc::new(AtomicUsize::new(0));
        let mut ahead = read_ahead_for(
            Some(Bytes::new()),
            trickle(delivered.clone()),
            Duration::from_secs(3600),
        )
        .await;
        assert_eq!(
            delivered.load(Ordering::Relaxed),
            MAX_BATCH,
            "else the size bound stops it"
        );
        for _ in 0..MAX_BATCH + 1 {
            assert!(
                ahead.next().await.unwrap().is_ok(),
                "every chunk, then the live stream"
            );
        }
    }

    #[tokio::test]
    async fn read_ahead_passes_an_error_on_in_place() {
        let error: BoxError = "connection reset".into();
        let upstream = stream::iter(chunks(&["a"]))
            .chain(stream::iter([Err(error)]))
            .chain(stream::iter(chunks(&["never"])))
            .boxed();
        let items: Vec<_> = ahead_of(upstream).await.collect().await;
        assert_eq!(items.len(), 2, "nothing after the error");
        assert!(items[0].is_ok() && items[1].is_err());
    }
}
