//! Usage aggregates in Redis, under the `{usage}` hash tag. A (dimension, bucket, id) is a hash
//! with one integer field per counter (costs in picodollars); an index set per (dimension,
//! bucket) lists its ids for `usage_by`. One `add_usage` batch — one flush interval of the
//! recorder — is one `ADD_USAGE` script: one round trip, applied whole or not at all, and at
//! most once per batch id (a marker `{usage}:batch:<id>` set NX in the same script, kept
//! [`USAGE_BATCH_TTL_SECS`]). Buckets expire by kind ([`ttl_secs`]); recent requests are a
//! capped list.
use super::RedisStore;
use crate::usage::{
    Bucket, Dimension, RecentRequest, USAGE_BATCH_MEMORY, UsageBatch, UsageCounters, UsageStore,
};
use ::redis::AsyncCommands;
use async_trait::async_trait;
use std::collections::HashMap;
use switchyard_actors::store::{StoreError, StoreResult};

/// A usage batch marker's TTL.
pub const USAGE_BATCH_TTL_SECS: u64 = USAGE_BATCH_MEMORY.as_secs();

/// A dated bucket's TTL ([`Bucket::RETENTION_DAYS`]); `None` for totals, kept for ever.
pub fn ttl_secs(bucket: &str) -> Option<u64> {
    Bucket::retention_days(bucket).map(|days| u64::from(days) * 86_400)
}

fn decode(hash: &HashMap<String, String>) -> StoreResult<UsageCounters> {
    let mut v = [0u64; 8];
    for (slot, name) in v.iter_mut().zip(UsageCounters::FIELDS) {
        if let Some(text) = hash.get(name) {
            *slot = text.parse().map_err(|_| {
                StoreError::Corrupt(format!("usage counter {name} is not an integer: {text:?}"))
            })?;
        }
    }
    Ok(UsageCounters::from_array(v))
}

#[async_trait]
impl UsageStore for RedisStore {
    async fn add_usage(&self, batch: &UsageBatch) -> StoreResult<()> {
        if batch.deltas.is_empty() {
            return Ok(());
        }
        let k = &self.keyspace;
        let mut inv = self.scripts.add_usage.prepare_invoke();
        inv.key(k.usage_batch(batch.id.as_str()))
            .arg(USAGE_BATCH_TTL_SECS);
        for d in &batch.deltas {
            let dim = d.dimension.as_str();
            inv.key(k.usage(dim, &d.bucket, &d.id))
                .key(k.usage_index(dim, &d.bucket))
                .arg(&d.id)
                .arg(ttl_secs(&d.bucket).unwrap_or(0));
            for v in d.counters.to_array() {
                inv.arg(v);
            }
        }
        let mut c = self.conn();
        self.timed("add_usage", async { inv.invoke_async::<i64>(&mut c).await })
            .await
            .map(drop)
    }

    async fn usage_of(&self, dimension: Dimension, id: &str, bucket: &str) -> StoreResult<UsageCounters> {
        let mut c = self.conn();
        let key = self.keyspace.usage(dimension.as_str(), bucket, id);
        let hash: HashMap<String, String> = self.timed("usage_of", async { c.hgetall(&key).await }).await?;
        decode(&hash)
    }

    /// SMEMBERS of the index, then one pipeline of HGETALL.
    async fn usage_by(
        &self,
        dimension: Dimension,
        bucket: &str,
    ) -> StoreResult<Vec<(String, UsageCounters)>> {
        let mut c = self.conn();
        let dim = dimension.as_str();
        let index = self.keyspace.usage_index(dim, bucket);
        let mut ids: Vec<String> = self.timed("usage_by", async { c.smembers(&index).await }).await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        ids.sort();
        let mut pipe = ::redis::pipe();
        for id in &ids {
            pipe.hgetall(self.keyspace.usage(dim, bucket, id));
        }
        let hashes: Vec<HashMap<String, String>> = self
            .timed("usage_by", async { pipe.query_async(&mut c).await })
            .await?;
        ids.into_iter()
            .zip(hashes)
            .filter(|(_, h)| !h.is_empty())
            .map(|(id, h)| Ok((id, decode(&h)?)))
            .collect()
    }

    /// LPUSH (oldest of the batch first, so the newest ends at the head) + LTRIM, in MULTI.
    async fn push_recent(&self, key_id: &str, requests: &[RecentRequest], keep: usize) -> StoreResult<()> {
        let key = self.keyspace.recent(key_id);
        let mut pipe = ::redis::pipe();
        pipe.atomic();
        if keep == 0 {
            pipe.del(&key).ignore();
        } else {
            if requests.is_empty() {
                return Ok(());
            }
            let encoded = requests
                .iter()
                .map(serde_json::to_string)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| StoreError::Corrupt(format!("cannot encode a recent request: {e}")))?;
            pipe.lpush(&key, encoded).ignore();
            pipe.ltrim(&key, 0, keep as isize - 1).ignore();
        }
        let mut c = self.conn();
        self.timed("push_recent", async { pipe.query_async::<()>(&mut c).await })
            .await
    }

    async fn recent(&self, key_id: &str, limit: usize) -> StoreResult<Vec<RecentRequest>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut c = self.conn();
        let key = self.keyspace.recent(key_id);
        let items: Vec<String> = self
            .timed("recent", async { c.lrange(&key, 0, limit as isize - 1).await })
            .await?;
        items
            .iter()
            .map(|s| {
                serde_json::from_str(s).map_err(|e| {
                    StoreError::Corrupt(format!("a recent request of key {key_id} does not parse: {e}"))
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_expire_by_kind() {
        assert_eq!(ttl_secs("h:2026-11-27T10"), Some(7 * 86_400));
        assert_eq!(ttl_secs("d:2026-11-27"), Some(32 * 86_400));
        assert_eq!(ttl_secs("m:2026-11"), Some(400 * 86_400));
        assert_eq!(ttl_secs("total"), None);
    }
}
