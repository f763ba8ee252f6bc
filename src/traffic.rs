//! Requests and errors per minute over the last hour, for the dashboard's live overview: a ring
//! of per-minute counters (Prometheus keeps totals only).
use std::sync::atomic::{AtomicU64, Ordering};

/// Minutes kept.
pub const MINUTES: usize = 60;

#[derive(Default)]
struct Slot {
    /// Minutes since the epoch this slot counts for.
    minute: AtomicU64,
    requests: AtomicU64,
    errors: AtomicU64,
}

/// One request and error count per minute; a slot is reused an hour later.
pub struct MinuteRing {
    slots: [Slot; MINUTES],
}

/// A minute's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MinuteCount {
    pub minute: u64,
    pub requests: u64,
    pub errors: u64,
}

impl Default for MinuteRing {
    fn default() -> Self {
        MinuteRing {
            slots: std::array::from_fn(|_| Slot::default()),
        }
    }
}

impl MinuteRing {
    /// Counts one answered request at `now_ms`; `error` for 5xx and upstream failures.
    pub fn record(&self, now_ms: i64, error: bool) {
        let minute = (now_ms.max(0) / 60_000) as u64;
        let slot = &self.slots[(minute % MINUTES as u64) as usize];
        let seen = slot.minute.load(Ordering::Acquire);
        // The first request of a new minute clears the hour-old counts (a request racing it may
        // be lost: these figures are for reading, not billing).
        if seen != minute
            && slot
                .minute
                .compare_exchange(seen, minute, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            slot.requests.store(0, Ordering::Release);
            slot.errors.store(0, Ordering::Release);
        }
        slot.requests.fetch_add(1, Ordering::AcqRel);
        if error {
            slot.errors.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// The last `n` minutes up to `now_ms`, oldest first (minutes without requests as zeros).
    pub fn last(&self, now_ms: i64, n: usize) -> Vec<MinuteCount> {
        let now = (now_ms.max(0) / 60_000) as u64;
        let n = n.min(MINUTES) as u64;
        (0..n)
            .rev()
            .map(|back| {
                let minute = now.saturating_sub(back);
                let slot = &self.slots[(minute % MINUTES as u64) as usize];
                if slot.minute.load(Ordering::Acquire) == minute {
                    MinuteCount {
                        minute,
                        requests: slot.requests.load(Ordering::Acquire),
                        errors: slot.errors.load(Ordering::Acquire),
                    }
                } else {
                    MinuteCount {
                        minute,
                        ..Default::default()
                    }
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_minute_and_forgets_after_an_hour() {
        let ring = MinuteRing::default();
        let t0 = 1_000 * 60_000;
        ring.record(t0, false);
        ring.record(t0 + 59_999, true);
        ring.record(t0 + 60_000, false);
        let last = ring.last(t0 + 60_000, 3);
        let counts: Vec<_> = last.iter().map(|m| (m.requests, m.errors)).collect();
        assert_eq!(counts, [(0, 0), (2, 1), (1, 0)]);
        // An hour later the same slot counts afresh.
        let later = t0 + 60 * 60_000;
        ring.record(later, false);
        assert_eq!(ring.last(later, 1)[0].requests, 1);
        assert_eq!(
            ring.last(later, 60)[0].requests,
            1,
            "t0 + 1 min, still in the hour"
        );
        assert!(ring.last(later, 60).iter().all(|m| m.minute > 1_000));
    }
}
