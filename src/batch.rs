//! Ids of write batches. A store applies a batch id at most once, so a writer that saw no
//! answer (the batch may or may not have landed: a timeout, a dropped connection) sends the
//! same batch, under the same id, again — and nothing is counted twice.
use parking_lot::Mutex;
use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// `<writer>-<sequence>`: 128 random bits drawn once per process, then a counter. Unique across
/// instances and restarts without coordination; short enough for a Redis key name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BatchId(String);

struct Writer {
    id: String,
    next: AtomicU64,
}

static WRITER: LazyLock<Writer> = LazyLock::new(|| Writer {
    id: format!("{:032x}", rand::random::<u128>()),
    next: AtomicU64::new(1),
});

impl BatchId {
    /// A new id, never handed out before.
    pub fn fresh() -> Self {
        let seq = WRITER.next.fetch_add(1, Ordering::Relaxed);
        BatchId(format!("{}-{seq}", WRITER.id))
    }

    /// An id named by its writer for a write that must count once however often it is sent
    /// (an import's usage, named after the imported record).
    pub fn named(name: &str) -> Self {
        BatchId(name.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BatchId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The batch ids an in-process store has applied, remembered for `keep` (then forgotten, oldest
/// first): `first_time` answers whether a batch is new.
pub(crate) struct AppliedBatches {
    keep: Duration,
    inner: Mutex<Applied>,
}

#[derive(Default)]
struct Applied {
    ids: HashSet<BatchId>,
    order: VecDeque<(Instant, BatchId)>,
}

impl AppliedBatches {
    pub(crate) fn new(keep: Duration) -> Self {
        AppliedBatches {
            keep,
            inner: Mutex::default(),
        }
    }

    /// True, and the id is remembered, when `id` was not applied within `keep`.
    pub(crate) fn first_time(&self, id: &BatchId) -> bool {
        let now = Instant::now();
        let mut a = self.inner.lock();
        while let Some((at, _)) = a.order.front() {
            if now.duration_since(*at) < self.keep {
                break;
            }
            if let Some((_, old)) = a.order.pop_front() {
                a.ids.remove(&old);
            }
        }
        if !a.ids.insert(id.clone()) {
            return false;
        }
        a.order.push_back((now, id.clone()));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_applied_once() {
        let (a, b) = (BatchId::fresh(), BatchId::fresh());
        assert_ne!(a, b);
        assert_eq!(a.as_str().split_once('-').map(|(w, _)| w.len()), Some(32));
        let applied = AppliedBatches::new(Duration::from_secs(60));
        assert!(applied.first_time(&a));
        assert!(!applied.first_time(&a), "a second time is refused");
        assert!(applied.first_time(&b));
        let forgetful = AppliedBatches::new(Duration::ZERO);
        assert!(forgetful.first_time(&a));
        assert!(forgetful.first_time(&a), "forgotten after `keep`");
    }
}
