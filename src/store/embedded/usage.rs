//! Usage aggregates in redb. One `add_usage` batch (one flush interval of the recorder) is one
//! transaction committed with `Durability::Immediate`: a crash loses at most the batch being
//! written, never half of it, and never corrupts the file. The batch id is written in the same
//! transaction, so a batch sent again is skipped.
//!
//! | table             | key                          | value                          |
//! |-------------------|------------------------------|--------------------------------|
//! | `usage_counters`  | (dimension, bucket, id)      | `[u64; 8]`: requests, input, output, cache 5m, cache 1h, cache read tokens, cost, rated cost (picodollars) |
//! | `usage_batches`   | batch id                     | unix ms it was applied; kept [`USAGE_BATCH_MEMORY`] |
//! | `recent_requests` | (key id, sequence)           | request JSON; the newest `keep` per key |
//!
//! `usage_by(dimension, bucket)` is a range scan over the first two key parts. Recent requests
//! are committed without waiting for the disk (`Durability::None`): the next immediate commit
//! (the next usage batch or limit write, or the store's drop) makes them durable.
//!
//! Retention ([`prune`]): dated buckets go as they do in Redis — hourly after 7 days, daily
//! after 32, monthly after 400; totals stay. The store runs the pass itself, inside the first
//! `add_usage` after opening and then at most once per [`PRUNE_EVERY`]. Bucket names are in
//! the configured time zone and the cut-off is taken in UTC, so a bucket may go up to 14 hours
//! early or late: retention bounds the file, it is not a report boundary.
use super::tables::{failed, write};
use crate::usage::{Bucket, Dimension, RecentRequest, USAGE_BATCH_MEMORY, UsageBatch, UsageCounters};
use chrono::{TimeZone, Utc};
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use std::time::Duration;
use switchyard_actors::clock::{Clock, Millis, SystemClock};
use switchyard_actors::store::{StoreError, StoreResult};

type Row = [u64; 8];

const COUNTERS: TableDefinition<'_, (&str, &str, &str), Row> = TableDefinition::new("usage_counters");
const RECENT: TableDefinition<'_, (&str, u64), &str> = TableDefinition::new("recent_requests");
const BATCHES: TableDefinition<'_, &str, i64> = TableDefinition::new("usage_batches");

/// How often the embedded store runs its retention pass.
pub const PRUNE_EVERY: Duration = Duration::from_secs(3_600);

const DAY_MS: i64 = 86_400_000;

pub(super) fn create_tables(txn: &WriteTransaction) -> StoreResult<()> {
    txn.open_table(COUNTERS).map_err(failed)?;
    txn.open_table(RECENT).map_err(failed)?;
    txn.open_table(BATCHES).map_err(failed)?;
    Ok(())
}

/// Applies a batch unless its id was applied before; with `prune_at`, runs the retention pass
/// for that time in the same transaction first.
pub(super) fn add_usage(db: &Database, batch: &UsageBatch, now: Millis, prune_at: bool) -> StoreResult<()> {
    write(db, |txn| {
        if prune_at {
            let removed = prune(txn, now)?;
            tracing::debug!(removed, "usage retention pass");
        }
        let mut applied = txn.open_table(BATCHES).map_err(failed)?;
        if applied.insert(batch.id.as_str(), now).map_err(failed)?.is_some() {
            // Applied before: the insert only refreshed its time.
            return Ok(());
        }
        let mut table = txn.open_table(COUNTERS).map_err(failed)?;
        for d in &batch.deltas {
            let key = (d.dimension.as_str(), d.bucket.as_str(), d.id.as_str());
            let mut sum = table
                .get(key)
                .map_err(failed)?
                .map(|v| UsageCounters::from_array(v.value()))
                .unwrap_or_default();
            sum.add(&d.counters);
            table.insert(key, sum.to_array()).map_err(failed)?;
        }
        Ok(())
    })
}

pub(super) fn usage_of(
    db: &Database,
    dimension: Dimension,
    id: &str,
    bucket: &str,
) -> StoreResult<UsageCounters> {
    let txn = db.begin_read().map_err(failed)?;
    let table = txn.open_table(COUNTERS).map_err(failed)?;
    Ok(table
        .get((dimension.as_str(), bucket, id))
        .map_err(failed)?
        .map(|v| UsageCounters::from_array(v.value()))
        .unwrap_or_default())
}

/// Every id of `dimension` with usage in `bucket`, by id.
pub(super) fn usage_by(
    db: &Database,
    dimension: Dimension,
    bucket: &str,
) -> StoreResult<Vec<(String, UsageCounters)>> {
    let txn = db.begin_read().map_err(failed)?;
    let table = txn.open_table(COUNTERS).map_err(failed)?;
    let dim = dimension.as_str();
    let mut out = Vec::new();
    for entry in table.range((dim, bucket, "")..).map_err(failed)? {
        let (k, v) = entry.map_err(failed)?;
        let (d, b, id) = k.value();
        if d != dim || b != bucket {
            break;
        }
        out.push((id.to_owned(), UsageCounters::from_array(v.value())));
    }
    Ok(out)
}

pub(super) fn push_recent(
    db: &Database,
    key_id: &str,
    requests: &[RecentRequest],
    keep: usize,
) -> StoreResult<()> {
    let encoded = requests
        .iter()
        .map(serde_json::to_string)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| StoreError::Corrupt(format!("cannot encode a recent request: {e}")))?;
    let mut txn = db.begin_write().map_err(failed)?;
    txn.set_durability(Durability::None)
        .map_err(|e| StoreError::Unavailable(format!("embedded database: {e}")))?;
    {
        let mut table = txn.open_table(RECENT).map_err(failed)?;
        let last = table
            .range((key_id, 0)..=(key_id, u64::MAX))
            .map_err(failed)?
            .next_back()
            .transpose()
            .map_err(failed)?
            .map(|(k, _)| k.value().1);
        for (seq, json) in (last.map_or(0, |s| s + 1)..).zip(&encoded) {
            table.insert((key_id, seq), json.as_str()).map_err(failed)?;
        }
        let held = table
            .range((key_id, 0)..=(key_id, u64::MAX))
            .map_err(failed)?
            .count();
        if held > keep {
            let mut drop_below = 0;
            for entry in table
                .range((key_id, 0)..=(key_id, u64::MAX))
                .map_err(failed)?
                .take(held - keep)
            {
                drop_below = entry.map_err(failed)?.0.value().1 + 1;
            }
            table
                .retain_in((key_id, 0)..(key_id, drop_below), |_, _| false)
                .map_err(failed)?;
        }
    }
    txn.commit().map_err(failed)
}

/// Newest first.
pub(super) fn recent(db: &Database, key_id: &str, limit: usize) -> StoreResult<Vec<RecentRequest>> {
    let txn = db.begin_read().map_err(failed)?;
    let table = txn.open_table(RECENT).map_err(failed)?;
    let mut out = Vec::new();
    for entry in table
        .range((key_id, 0)..=(key_id, u64::MAX))
        .map_err(failed)?
        .rev()
        .take(limit)
    {
        let (_, v) = entry.map_err(failed)?;
        out.push(serde_json::from_str(v.value()).map_err(|e| {
            StoreError::Corrupt(format!("a recent request of key {key_id} does not parse: {e}"))
        })?);
    }
    Ok(out)
}

/// The first bucket name of a kind that is kept at `now`: `h:` / `d:` / `m:` and the UTC hour,
/// day or month `days` before.
fn cutoff(kind: &str, now: Millis, days: i64) -> String {
    let at = Utc
        .timestamp_millis_opt(now - days * DAY_MS)
        .single()
        .unwrap_or_default();
    let format = match kind {
        "h" => "%Y-%m-%dT%H",
        "d" => "%Y-%m-%d",
        _ => "%Y-%m",
    };
    format!("{kind}:{}", at.format(format))
}

/// The retention pass at `now`: removes hourly, daily and monthly rows whose period lies more
/// than 7, 32 and 400 days back (totals never), and applied batch ids older than
/// [`USAGE_BATCH_MEMORY`]. Bucket names of one kind sort by time, so each kind is one range
/// delete per dimension. Returns how many counter rows went.
pub(super) fn prune(txn: &WriteTransaction, now: Millis) -> StoreResult<u64> {
    let mut removed = 0u64;
    let mut table = txn.open_table(COUNTERS).map_err(failed)?;
    for (kind, days) in Bucket::RETENTION_DAYS {
        let (first, keep_from) = (format!("{kind}:"), cutoff(kind, now, i64::from(days)));
        for dim in [Dimension::Key, Dimension::Account, Dimension::Model] {
            let dim = dim.as_str();
            table
                .retain_in(
                    (dim, first.as_str(), "")..(dim, keep_from.as_str(), ""),
                    |_, _| {
                        removed += 1;
                        false
                    },
                )
                .map_err(failed)?;
        }
    }
    let oldest = now - USAGE_BATCH_MEMORY.as_millis() as i64;
    txn.open_table(BATCHES)
        .map_err(failed)?
        .retain(|_, at| at >= oldest)
        .map_err(failed)?;
    Ok(removed)
}

/// Runs the retention pass at `now` in a transaction of its own.
pub(super) fn prune_now(db: &Database, now: Millis) -> StoreResult<u64> {
    write(db, |txn| prune(txn, now))
}

/// An empty commit that waits for the disk: makes earlier `Durability::None` commits durable.
pub(super) fn sync(db: &Database) -> StoreResult<()> {
    write(db, |_| Ok(()))
}

#[async_trait::async_trait]
impl crate::usage::UsageStore for super::EmbeddedStore {
    async fn add_usage(&self, batch: &UsageBatch) -> StoreResult<()> {
        if batch.deltas.is_empty() {
            return Ok(());
        }
        let batch = batch.clone();
        let prune = self.usage_prune_due();
        let now = SystemClock.now_ms();
        self.blocking(move |db, _| add_usage(db, &batch, now, prune))
            .await
    }

    async fn usage_of(&self, dimension: Dimension, id: &str, bucket: &str) -> StoreResult<UsageCounters> {
        let (id, bucket) = (id.to_owned(), bucket.to_owned());
        self.blocking(move |db, _| usage_of(db, dimension, &id, &bucket))
            .await
    }

    async fn usage_by(
        &self,
        dimension: Dimension,
        bucket: &str,
    ) -> StoreResult<Vec<(String, UsageCounters)>> {
        let bucket = bucket.to_owned();
        self.blocking(move |db, _| usage_by(db, dimension, &bucket)).await
    }

    async fn push_recent(&self, key_id: &str, requests: &[RecentRequest], keep: usize) -> StoreResult<()> {
        if requests.is_empty() && keep > 0 {
            return Ok(());
        }
        let (key_id, requests) = (key_id.to_owned(), requests.to_vec());
        self.blocking(move |db, _| push_recent(db, &key_id, &requests, keep))
            .await
    }

    async fn recent(&self, key_id: &str, limit: usize) -> StoreResult<Vec<RecentRequest>> {
        let key_id = key_id.to_owned();
        self.blocking(move |db, _| recent(db, &key_id, limit)).await
    }
}
