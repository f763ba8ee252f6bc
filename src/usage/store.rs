//! The usage-aggregate contract (memory here; embedded and Redis in `crate::store`).
use super::counters::{Dimension, RecentRequest, UsageCounters};
use async_trait::async_trait;
use switchyard_actors::store::StoreResult;

/// Counters to add to one (dimension, id, bucket).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageDelta {
    pub dimension: Dimension,
    pub id: String,
    pub bucket: String,
    pub counters: UsageCounters,
}

#[async_trait]
pub trait UsageStore: Send + Sync + 'static {
    /// Adds every delta (one batch per flush interval, not per request).
    async fn add_usage(&self, deltas: &[UsageDelta]) -> StoreResult<()>;
    async fn usage_of(&self, dimension: Dimension, id: &str, bucket: &str) -> StoreResult<UsageCounters>;
    /// Every id of `dimension` with usage in `bucket`.
    async fn usage_by(&self, dimension: Dimension, bucket: &str)
    -> StoreResult<Vec<(String, UsageCounters)>>;
    /// Appends requests to a key's recent list, keeping the newest `keep`.
    async fn push_recent(&self, key_id: &str, requests: &[RecentRequest], keep: usize) -> StoreResult<()>;
    /// Newest first.
    async fn recent(&self, key_id: &str, limit: usize) -> StoreResult<Vec<RecentRequest>>;
}
