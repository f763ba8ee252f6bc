//! Bounds on request-body bytes held in memory: over all requests, and per client key. A body
//! claims its bytes before they are read (its declared length up front, the rest as chunks
//! arrive) and gives them back when its [`HeldBytes`] is dropped, after the relay has sent it.
use crate::error::ApiError;
use dashmap::DashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

const MB: usize = 1 << 20;

/// The instance's body-memory account, shared by every worker.
pub struct BodyMemory {
    total: Arc<AtomicUsize>,
    total_limit: usize,
    per_key: DashMap<String, Arc<AtomicUsize>>,
    key_limit: usize,
}

impl BodyMemory {
    pub fn new(total_limit_mb: usize, key_limit_mb: usize) -> Self {
        BodyMemory {
            total: Arc::default(),
            total_limit: total_limit_mb.saturating_mul(MB),
            per_key: DashMap::new(),
            key_limit: key_limit_mb.saturating_mul(MB),
        }
    }

    /// Bytes held right now over all requests.
    pub fn held(&self) -> usize {
        self.total.load(Ordering::Relaxed)
    }

    /// An empty claim for one body of `key_id`. A key with a concurrency limit may hold at most
    /// `concurrency` bodies of `body_limit` bytes (so a key limited to one request holds one body).
    pub fn claim(&self, key_id: &str, concurrency: u32, body_limit: usize) -> HeldBytes {
        let by_concurrency = match concurrency {
            0 => usize::MAX,
            n => body_limit.saturating_mul(n as usize),
        };
        HeldBytes {
            total: self.total.clone(),
            total_limit: self.total_limit,
            key: self.per_key.entry(key_id.to_owned()).or_default().clone(),
            key_limit: self.key_limit.min(by_concurrency),
            bytes: 0,
        }
    }
}

/// Bytes one request body holds; given back on drop.
pub struct HeldBytes {
    total: Arc<AtomicUsize>,
    total_limit: usize,
    key: Arc<AtomicUsize>,
    key_limit: usize,
    bytes: usize,
}

impl HeldBytes {
    /// Claims room for the body to reach `size` bytes in all, or says which bound is full (and
    /// claims nothing more).
    pub fn grow_to(&mut self, size: usize) -> Result<(), ApiError> {
        let Some(more) = size.checked_sub(self.bytes).filter(|m| *m > 0) else {
            return Ok(());
        };
        if !take(&self.key, more, self.key_limit) {
            return Err(ApiError::KeyBodyMemoryFull {
                limit_mb: self.key_limit.div_ceil(MB),
            });
        }
        if !take(&self.total, more, self.total_limit) {
            self.key.fetch_sub(more, Ordering::AcqRel);
            return Err(ApiError::BodyMemoryFull);
        }
        self.bytes = size;
        Ok(())
    }
}

/// Adds `n` to `counter` unless that would pass `limit`.
fn take(counter: &AtomicUsize, n: usize, limit: usize) -> bool {
    counter
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
            held.checked_add(n).filter(|after| *after <= limit)
        })
        .is_ok()
}

impl Drop for HeldBytes {
    fn drop(&mut self) {
        self.key.fetch_sub(self.bytes, Ordering::AcqRel);
        self.total.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_limited_to_one_request_holds_one_body() {
        let memory = BodyMemory::new(100, 64);
        let mut first = memory.claim("k", 1, 10 * MB);
        first.grow_to(10 * MB).unwrap();
        let mut second = memory.claim("k", 1, 10 * MB);
        assert!(matches!(
            second.grow_to(1),
            Err(ApiError::KeyBodyMemoryFull { limit_mb: 10 })
        ));
        drop(first);
        second.grow_to(10 * MB).unwrap();
        assert_eq!(memory.held(), 10 * MB);
    }

    #[test]
    fn the_total_bound_spans_keys_and_is_given_back_on_drop() {
        let memory = BodyMemory::new(3, 64);
        let mut a = memory.claim("a", 0, 32 * MB);
        a.grow_to(2 * MB).unwrap();
        let mut b = memory.claim("b", 0, 32 * MB);
        assert!(matches!(b.grow_to(2 * MB), Err(ApiError::BodyMemoryFull)));
        b.grow_to(MB).unwrap();
        drop(a);
        drop(b);
        assert_eq!(memory.held(), 0);
        let mut c = memory.claim("b", 0, 32 * MB);
        c.grow_to(3 * MB).unwrap();
    }
}
