//! The usage-aggregate contract (memory here; embedded and Redis in `crate::store`).
use super::counters::{Dimension, RecentRequest, UsageCounters};
use crate::batch::BatchId;
use async_trait::async_trait;
use std::time::Duration;
use switchyard_actors::store::StoreResult;

/// How long a store remembers an applied usage batch id at least: a batch sent again within
/// this time is not counted again. The recorder resends a batch until it is acknowledged, so
/// only an outage longer than this, right after a batch landed, could count it twice.
pub const USAGE_BATCH_MEMORY: Duration = Duration::from_secs(86_400);

/// Counters to add to one (dimension, id, bucket).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageDelta {
    pub dimension: Dimension,
    pub id: String,
    pub bucket: String,
    pub counters: UsageCounters,
}

/// One flush's deltas under an id that stays the same when the flush is retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageBatch {
    pub id: BatchId,
    pub deltas: Vec<UsageDelta>,
}

impl UsageBatch {
    /// The deltas under a fresh id.
    pub fn new(deltas: Vec<UsageDelta>) -> Self {
        UsageBatch {
            id: BatchId::fresh(),
            deltas,
        }
    }
}

#[async_trait]
pub trait UsageStore: Send + Sync + 'static {
    /// Adds every delta of the batch, all or none, and at most once per batch id (remembered
    /// for [`USAGE_BATCH_MEMORY`]): a batch sent again after a lost answer changes nothing.
    /// One batch per flush interval, not per request.
    async fn add_usage(&self, batch: &UsageBatch) -> StoreResult<()>;
    async fn usage_of(&self, dimension: Dimension, id: &str, bucket: &str) -> StoreResult<UsageCounters>;
    /// Every id of `dimension` with usage in `bucket`.
    async fn usage_by(&self, dimension: Dimension, bucket: &str)
    -> StoreResult<Vec<(String, UsageCounters)>>;
    /// Appends requests to a key's recent list, keeping the newest `keep`.
    async fn push_recent(&self, key_id: &str, requests: &[RecentRequest], keep: usize) -> StoreResult<()>;
    /// Newest first.
    async fn recent(&self, key_id: &str, limit: usize) -> StoreResult<Vec<RecentRequest>>;
}
