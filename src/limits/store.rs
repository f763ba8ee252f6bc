//! The limit-counter contract (memory here; embedded and Redis in `crate::store`).
use crate::batch::BatchId;
use crate::money::Money;
use async_trait::async_trait;
use serde::Serialize;
use switchyard_actors::clock::Millis;
use switchyard_actors::store::StoreResult;

/// A key's fixed rate-limit window: it starts with the first request and restarts once
/// `length_ms` has passed. A zero maximum means "no limit on this measure".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowSpec {
    pub length_ms: i64,
    pub max_requests: u64,
    pub max_tokens: u64,
    pub max_cost: Money,
}

/// One admission check: everything the store needs to decide atomically.
#[derive(Debug, Clone)]
pub struct Admission<'a> {
    pub key_id: &'a str,
    pub now: Millis,
    pub window: Option<WindowSpec>,
    /// Bucket names of the current day and week (in the configured time zone).
    pub day: &'a str,
    pub week: &'a str,
    pub max_daily: Money,
    pub max_total: Money,
    pub max_weekly: Money,
}

/// Which limit stopped a request, with the values the error body reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Requests {
        current: u64,
        limit: u64,
        reset_at: Millis,
    },
    Tokens {
        current: u64,
        limit: u64,
        reset_at: Millis,
    },
    WindowCost {
        current: Money,
        limit: Money,
        reset_at: Millis,
    },
    Daily {
        current: Money,
        limit: Money,
    },
    Total {
        current: Money,
        limit: Money,
    },
    Weekly {
        current: Money,
        limit: Money,
    },
}

/// How long a store remembers an applied settlement batch id at least. The accounting task
/// gives up on a batch after 5 tries (about 7 s with 1 s timeouts); this outlasts that with a
/// wide margin, while keeping Redis' markers (one per batch and key) few.
pub const SETTLE_BATCH_MEMORY: std::time::Duration = std::time::Duration::from_secs(120);

/// Usage to add once a request's answer is known.
#[derive(Debug, Clone)]
pub struct Settlement {
    pub key_id: String,
    /// The window the request was admitted in (`None`: the key has no window); usage lands in
    /// it only if that window is still the current one.
    pub window_start: Option<Millis>,
    pub tokens: u64,
    /// Rated cost (what limits count).
    pub cost: Money,
    pub day: String,
    pub week: String,
}

/// Settlements applied together (the accounting task drains its queue into one), under an id
/// that stays the same when the batch is retried.
#[derive(Debug, Clone)]
pub struct SettleBatch {
    pub id: BatchId,
    pub settlements: Vec<Settlement>,
}

impl SettleBatch {
    /// The settlements under a fresh id.
    pub fn new(settlements: Vec<Settlement>) -> Self {
        SettleBatch {
            id: BatchId::fresh(),
            settlements,
        }
    }
}

/// Current values, for the self-service usage view (and a backup's limit rows).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct KeyCounters {
    pub window_start: Option<Millis>,
    pub window_requests: u64,
    pub window_tokens: u64,
    pub window_cost: Money,
    pub daily_cost: Money,
    pub weekly_cost: Money,
    pub total_cost: Money,
}

#[async_trait]
pub trait LimitStore: Send + Sync + 'static {
    /// Atomically: roll the window if it ended; refuse if a limit is reached (nothing counted);
    /// else count the request in the window. Returns the admitted request's window start.
    async fn admit(&self, req: &Admission<'_>) -> StoreResult<Result<Option<Millis>, Refusal>>;
    /// Applies every settlement of the batch, each in batch order, at most once per batch id: a
    /// batch retried after a lost answer counts nothing twice. A store remembers an id for at
    /// least [`SETTLE_BATCH_MEMORY`] (the recorder's retries of one batch span seconds).
    async fn settle_many(&self, batch: &SettleBatch) -> StoreResult<()>;
    /// One settlement, as a batch of its own.
    async fn settle(&self, s: &Settlement) -> StoreResult<()> {
        self.settle_many(&SettleBatch::new(vec![s.clone()])).await
    }
    /// `window_ms` = the key's window length (0: none), to tell whether the stored window ended.
    async fn counters(
        &self,
        key_id: &str,
        now: Millis,
        window_ms: i64,
        day: &str,
        week: &str,
    ) -> StoreResult<KeyCounters>;
    /// Raises a key's counters to at least `to` (a restored backup): the total and the `day` and
    /// `week` buckets each to the larger value; the window is taken over when `to`'s started
    /// later than the stored one (or none is stored), raised when it is the same window. Never
    /// lowers anything, so a second call with the same values changes nothing. Returns whether
    /// anything changed.
    async fn raise_counters(
        &self,
        key_id: &str,
        day: &str,
        week: &str,
        to: &KeyCounters,
    ) -> StoreResult<bool>;
}
