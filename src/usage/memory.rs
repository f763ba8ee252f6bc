//! In-memory usage aggregates.
use super::counters::{Dimension, RecentRequest, UsageCounters};
use super::store::{USAGE_BATCH_MEMORY, UsageBatch, UsageStore};
use crate::batch::AppliedBatches;
use async_trait::async_trait;
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use switchyard_actors::store::StoreResult;

pub struct MemoryUsageStore {
    counters: Mutex<HashMap<(Dimension, String, String), UsageCounters>>,
    recent: Mutex<HashMap<String, VecDeque<RecentRequest>>>,
    applied: AppliedBatches,
}

impl Default for MemoryUsageStore {
    fn default() -> Self {
        MemoryUsageStore {
            counters: Mutex::default(),
            recent: Mutex::default(),
            applied: AppliedBatches::new(USAGE_BATCH_MEMORY),
        }
    }
}

impl MemoryUsageStore {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl UsageStore for MemoryUsageStore {
    async fn add_usage(&self, batch: &UsageBatch) -> StoreResult<()> {
        let mut c = self.counters.lock();
        if batch.deltas.is_empty() || !self.applied.first_time(&batch.id) {
            return Ok(());
        }
        for d in &batch.deltas {
            c.entry((d.dimension, d.id.clone(), d.bucket.clone()))
                .or_default()
                .add(&d.counters);
        }
        Ok(())
    }

    async fn usage_of(&self, dimension: Dimension, id: &str, bucket: &str) -> StoreResult<UsageCounters> {
        Ok(self
            .counters
            .lock()
            .get(&(dimension, id.to_owned(), bucket.to_owned()))
            .copied()
            .unwrap_or_default())
    }

    async fn usage_by(
        &self,
        dimension: Dimension,
        bucket: &str,
    ) -> StoreResult<Vec<(String, UsageCounters)>> {
        let mut out: Vec<_> = self
            .counters
            .lock()
            .iter()
            .filter(|((d, _, b), _)| *d == dimension && b == bucket)
            .map(|((_, id, _), c)| (id.clone(), *c))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    async fn push_recent(&self, key_id: &str, requests: &[RecentRequest], keep: usize) -> StoreResult<()> {
        let mut r = self.recent.lock();
        let list = r.entry(key_id.to_owned()).or_default();
        for req in requests {
            list.push_front(req.clone());
        }
        list.truncate(keep);
        Ok(())
    }

    async fn recent(&self, key_id: &str, limit: usize) -> StoreResult<Vec<RecentRequest>> {
        Ok(self
            .recent
            .lock()
            .get(key_id)
            .map(|l| l.iter().take(limit).cloned().collect())
            .unwrap_or_default())
    }
}
