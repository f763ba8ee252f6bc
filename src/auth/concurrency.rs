//! Per-key concurrency (§3): a key with a limit holds one slot per request in flight, through
//! the same lease machinery as accounts (renewed while the request lives, expiring if the
//! instance dies, released exactly once). Over the limit the request either fails at once with
//! 429, or — with `keys.queue_enabled` — waits in a bounded per-key queue.
use crate::error::ApiError;
use crate::keys::ApiKey;
use crate::settings::KeySettings;
use dashmap::DashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use switchyard_actors::{Lease, Scheduling};

/// Requests waiting per key on this instance.
#[derive(Default)]
pub struct KeyQueues {
    waiting: DashMap<String, Arc<AtomicU32>>,
}

impl KeyQueues {
    /// How many requests of `key_id` wait right now.
    pub fn waiting(&self, key_id: &str) -> u32 {
        self.waiting.get(key_id).map_or(0, |c| c.load(Ordering::SeqCst))
    }

    fn join(&self, key_id: &str, max: u32) -> Option<QueuePlace> {
        let counter = self.waiting.entry(key_id.to_owned()).or_default().clone();
        if counter.fetch_add(1, Ordering::SeqCst) >= max {
            counter.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(QueuePlace { counter })
    }
}

/// A place in a key's queue; leaving (served, timed out, client gone) frees it exactly once.
struct QueuePlace {
    counter: Arc<AtomicU32>,
}

impl Drop for QueuePlace {
    fn drop(&mut self) {
        self.counter.fetch_sub(1, Ordering::SeqCst);
    }
}

pub fn holder(key: &ApiKey) -> String {
    format!("key:{}", key.id)
}

/// A slot for one request of `key`, or the reason there is none. `Ok(None)`: no limit.
pub async fn acquire(
    scheduling: &Scheduling,
    queues: &KeyQueues,
    settings: &KeySettings,
    key: &ApiKey,
) -> Result<Option<Lease>, ApiError> {
    let limit = key.concurrency_limit;
    if limit == 0 {
        return Ok(None);
    }
    let holder = holder(key);
    if let Some(lease) = scheduling.hold_slot(&holder, limit).await? {
        return Ok(Some(lease));
    }
    if !settings.queue_enabled {
        return Err(ApiError::ConcurrencyLimit { limit });
    }
    let timeout = Duration::from_millis(settings.queue_timeout_ms);
    let max_queue = limit
        .saturating_mul(settings.queue_size_multiplier)
        .max(settings.queue_max);
    let Some(_place) = queues.join(&key.id, max_queue) else {
        return Err(ApiError::QueueFull {
            limit,
            retry_after_secs: timeout.as_secs().max(1),
        });
    };
    match scheduling
        .hold_slot_until(&holder, limit, Instant::now() + timeout)
        .await?
    {
        Some(lease) => Ok(Some(lease)),
        None => Err(ApiError::QueueTimeout {
            limit,
            retry_after_secs: timeout.as_secs().div_ceil(2).clamp(5, 30),
        }),
    }
}
