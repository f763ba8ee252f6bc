//! An answer whose client left is read on, off the request path, so the usage recorded is what
//! the upstream bills: it keeps generating (and charging for) the answer after the client is
//! gone. Bounded in time and bytes; the account's slot and the key's are released when the
//! read ends, not when the client left, so the account's concurrency shows its real load.
use super::body::UpstreamStream;
use super::finish::{Ending, Finish};
use futures::StreamExt;
use std::time::Duration;
use tokio::time::Instant;

/// How much of an answer is read after its client left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub time: Duration,
    pub bytes: usize,
}

impl Bounds {
    /// The configured bounds; `None` when draining is off (a zero time or size).
    pub fn from_settings(relay: &crate::settings::RelaySettings) -> Option<Bounds> {
        let bounds = Bounds {
            time: Duration::from_millis(relay.drain_after_disconnect_ms),
            bytes: relay.drain_max_mb.saturating_mul(1024 * 1024),
        };
        (!bounds.time.is_zero() && bounds.bytes > 0).then_some(bounds)
    }
}

/// How a drain ended (the `result` label of `switchyard_disconnect_drains_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The upstream finished its answer.
    Complete,
    /// The time bound ran out first.
    TimeBound,
    /// The size bound ran out first.
    SizeBound,
    /// The upstream went silent for the idle timeout.
    Idle,
    UpstreamError,
}

impl End {
    fn as_str(self) -> &'static str {
        match self {
            End::Complete => "complete",
            End::TimeBound => "time_bound",
            End::SizeBound => "size_bound",
            End::Idle => "idle_timeout",
            End::UpstreamError => "upstream_error",
        }
    }
}

/// Closes out a request whose client left with `upstream` unfinished: reads the rest on a
/// task of its own when the provider bills it and draining is on, else cuts it at once. Either
/// way the request is recorded with its client disconnected.
pub fn after_disconnect(upstream: UpstreamStream, mut finish: Finish, idle: Duration) {
    if finish.is_done() {
        return;
    }
    let (Some(bounds), Ok(rt)) = (finish.drain.take(), tokio::runtime::Handle::try_current()) else {
        // Dropping the stream closes the upstream connection.
        finish.complete(Ending::ClientGone);
        return;
    };
    rt.spawn(async move {
        let end = read_rest(upstream, &mut finish, bounds, idle).await;
        finish
            .metrics
            .disconnect_drains
            .with_label_values(&[end.as_str()])
            .inc();
        finish.complete(Ending::ClientGone);
    });
}

/// Feeds the rest of `upstream` to the usage tap, within `bounds` and the idle timeout.
async fn read_rest(mut upstream: UpstreamStream, finish: &mut Finish, bounds: Bounds, idle: Duration) -> End {
    let deadline = Instant::now() + bounds.time;
    let mut read = 0usize;
    loop {
        let until = deadline.min(Instant::now() + idle);
        match tokio::time::timeout_at(until, upstream.next()).await {
            Err(_) if Instant::now() >= deadline => return End::TimeBound,
            Err(_) => return End::Idle,
            Ok(None) => return End::Complete,
            Ok(Some(Err(_))) => return End::UpstreamError,
            Ok(Some(Ok(chunk))) => {
                read += chunk.len();
                finish.feed(&chunk);
                if read >= bounds.bytes {
                    return End::SizeBound;
                }
            }
        }
    }
}

/// An answer being read on the request path (its first bytes awaited, or a JSON answer read
/// whole) with the request's close-out. Actix drops a request's handler when its client
/// leaves: dropped before [`Guard::release`], the guard drains the rest as
/// [`after_disconnect`] does, so a client that gives up before the answer's head still leaves
/// the usage the upstream bills.
pub struct Guard {
    parts: Option<(UpstreamStream, Finish)>,
    idle: Duration,
}

impl Guard {
    pub fn new(upstream: UpstreamStream, finish: Finish, idle: Duration) -> Self {
        Guard {
            parts: Some((upstream, finish)),
            idle,
        }
    }

    /// The answer's next chunk, as the stream gives it (not fed to the usage tap).
    pub async fn next(&mut self) -> Option<Result<bytes::Bytes, super::client::BoxError>> {
        self.parts.as_mut()?.0.next().await
    }

    /// Reads the whole answer, feeding it to the usage tap as it comes (what was read is then
    /// counted if the read is cut short), with the idle timeout between chunks.
    pub(super) async fn read_to_end(&mut self) -> Result<bytes::Bytes, super::ReadError> {
        let mut buf = bytes::BytesMut::new();
        let Some((upstream, finish)) = self.parts.as_mut() else {
            return Ok(buf.freeze());
        };
        loop {
            match tokio::time::timeout(self.idle, upstream.next()).await {
                Err(_) => return Err(super::ReadError::Timeout),
                Ok(None) => return Ok(buf.freeze()),
                Ok(Some(Err(e))) => {
                    return Err(super::ReadError::Broken(super::client::Unreachable::new(&*e)));
                }
                Ok(Some(Ok(chunk))) => {
                    finish.feed(&chunk);
                    buf.extend_from_slice(&chunk);
                }
            }
        }
    }

    /// The request is still being served: the caller takes the answer and its close-out back.
    pub fn release(mut self) -> Option<(UpstreamStream, Finish)> {
        self.parts.take()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some((upstream, finish)) = self.parts.take() {
            after_disconnect(upstream, finish, self.idle);
        }
    }
}
