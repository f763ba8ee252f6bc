//! Usage aggregates in redb. One `add_usage` batch (one flush interval of the recorder) is one
//! transaction committed with `Durability::Immediate`: a crash loses at most the batch being
//! written, never half of it, and never corrupts the file.
//!
//! | table             | key                          | value                          |
//! |-------------------|------------------------------|--------------------------------|
//! | `usage_counters`  | (dimension, bucket, id)      | `[u64; 8]`: requests, input, output, cache 5m, cache 1h, cache read tokens, cost, rated cost (picodollars) |
//! | `recent_requests` | (key id, sequence)           | request JSON; the newest `keep` per key |
//!
//! `usage_by(dimension, bucket)` is a range scan over the first two key parts. Recent requests
//! are committed without waiting for the disk (`Durability::None`): the next immediate commit
//! (the next usage batch or limit write, or the store's drop) makes them durable.
use super::tables::{failed, write};
use crate::money::Money;
use crate::usage::{Dimension, RecentRequest, UsageCounters, UsageDelta};
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use switchyard_actors::store::{StoreError, StoreResult};

type Row = [u64; 8];

const COUNTERS: TableDefinition<'_, (&str, &str, &str), Row> = TableDefinition::new("usage_counters");
const RECENT: TableDefinition<'_, (&str, u64), &str> = TableDefinition::new("recent_requests");

pub(super) fn create_tables(txn: &WriteTransaction) -> StoreResult<()> {
    txn.open_table(COUNTERS).map_err(failed)?;
    txn.open_table(RECENT).map_err(failed)?;
    Ok(())
}

fn to_row(c: &UsageCounters) -> Row {
    [
        c.requests,
        c.input_tokens,
        c.output_tokens,
        c.cache_creation_5m_tokens,
        c.cache_creation_1h_tokens,
        c.cache_read_tokens,
        c.cost.picos(),
        c.rated_cost.picos(),
    ]
}

fn from_row(r: Row) -> UsageCounters {
    UsageCounters {
        requests: r[0],
        input_tokens: r[1],
        output_tokens: r[2],
        cache_creation_5m_tokens: r[3],
        cache_creation_1h_tokens: r[4],
        cache_read_tokens: r[5],
        cost: Money::from_picos(r[6]),
        rated_cost: Money::from_picos(r[7]),
    }
}

pub(super) fn add_usage(db: &Database, deltas: &[UsageDelta]) -> StoreResult<()> {
    write(db, |txn| {
        let mut table = txn.open_table(COUNTERS).map_err(failed)?;
        for d in deltas {
            let key = (d.dimension.as_str(), d.bucket.as_str(), d.id.as_str());
            let mut sum = table
                .get(key)
                .map_err(failed)?
                .map(|v| from_row(v.value()))
                .unwrap_or_default();
            sum.add(&d.counters);
            table.insert(key, to_row(&sum)).map_err(failed)?;
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
        .map(|v| from_row(v.value()))
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
        out.push((id.to_owned(), from_row(v.value())));
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

/// An empty commit that waits for the disk: makes earlier `Durability::None` commits durable.
pub(super) fn sync(db: &Database) -> StoreResult<()> {
    write(db, |_| Ok(()))
}

#[async_trait::async_trait]
impl crate::usage::UsageStore for super::EmbeddedStore {
    async fn add_usage(&self, deltas: &[UsageDelta]) -> StoreResult<()> {
        if deltas.is_empty() {
            return Ok(());
        }
        let deltas = deltas.to_vec();
        self.blocking(move |db, _| add_usage(db, &deltas)).await
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
