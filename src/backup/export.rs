//! Collects a backup from the running server's stores. Usage aggregates are read bucket by
//! bucket: every bucket retention can still hold (hours of the last 8 days, days of the last
//! 33, months of the last 401, and the totals; a day beyond each retention period covers
//! the embedded store's time-zone slack), named by the server's calendar.
use super::format::{Backup, FORMAT, LimitRow, RecentRow, UsageRow, VERSION};
use super::{BackupError, seal};
use crate::calendar::Calendar;
use crate::keys::{ApiKey, KeyStore};
use crate::store::crypto::SecretBox;
use crate::usage::{Bucket, Dimension, UsageRecorder};
use std::collections::BTreeSet;
use std::time::Duration;
use switchyard_actors::clock::Millis;
use switchyard_actors::store::AccountStore;

const HOUR_MS: Millis = 3_600_000;
const DAY_MS: Millis = 24 * HOUR_MS;
/// How long an export waits for queued usage to reach the store before it reads anyway.
const DRAIN_WAIT: Duration = Duration::from_secs(5);

/// What an export reads.
pub struct Sources<'a> {
    pub accounts: &'a dyn AccountStore,
    pub keys: &'a dyn KeyStore,
    pub usage: &'a UsageRecorder,
    /// Recent requests kept per key (`usage.recent_requests`).
    pub recent_keep: usize,
    pub now: Millis,
}

/// The backup of everything [`Sources`] holds, its secrets sealed with `secrets`.
pub async fn export(src: &Sources<'_>, secrets: &SecretBox) -> Result<Backup, BackupError> {
    // Queued settlements and unflushed usage first, so counters and aggregates agree.
    if tokio::time::timeout(DRAIN_WAIT, src.usage.drain()).await.is_err() {
        tracing::warn!("export: usage still queued after {DRAIN_WAIT:?}; reading what is stored");
    }
    let accounts = src
        .accounts
        .load_accounts()
        .await?
        .iter()
        .map(|a| seal::seal_account(a, secrets))
        .collect::<Result<Vec<_>, _>>()?;
    let groups = src.accounts.load_groups().await?;
    let keys = src.keys.list_keys().await?;
    let legacy_verifiers = src
        .keys
        .legacy_verifiers()
        .await?
        .iter()
        .map(|v| seal::seal_verifier(v, secrets))
        .collect::<Result<Vec<_>, _>>()?;
    let mut limits = Vec::new();
    let mut recent = Vec::new();
    for key in &keys {
        limits.extend(limit_row(src, key).await?);
        let requests = src.usage.recent(&key.id, src.recent_keep).await?;
        if !requests.is_empty() {
            recent.push(RecentRow {
                key_id: key.id.clone(),
                requests,
            });
        }
    }
    Ok(Backup {
        format: FORMAT.into(),
        version: VERSION,
        checksum: String::new(),
        created_at: src.now,
        key_check: seal::key_check(secrets)?,
        accounts,
        groups,
        keys,
        legacy_verifiers,
        usage: usage_rows(src.usage, src.now).await?,
        limits,
        recent,
    })
}

/// The key's counters for today and its current week, unless it has none.
async fn limit_row(src: &Sources<'_>, key: &ApiKey) -> Result<Option<LimitRow>, BackupError> {
    let cal = src.usage.calendar();
    let l = &key.limits;
    let window_ms = match l.has_window() {
        true => i64::from(l.window_minutes) * 60_000,
        false => 0,
    };
    let day = cal.day(src.now);
    let week = cal.week(src.now, l.reset_day(), l.weekly_reset_hour).bucket;
    let counters = src
        .usage
        .limits()
        .counters(&key.id, src.now, window_ms, &day, &week)
        .await?;
    Ok((counters != Default::default()).then(|| LimitRow {
        key_id: key.id.clone(),
        day,
        week,
        counters,
    }))
}

/// Every bucket name retention can still hold at `now`, oldest kinds first.
pub fn live_buckets(cal: &Calendar, now: Millis) -> BTreeSet<String> {
    let mut out = BTreeSet::from([Bucket::TOTAL.to_owned()]);
    let back = |days: i64, step: Millis| (0..=days * DAY_MS / step).map(move |i| now - i * step);
    out.extend(back(8, HOUR_MS).map(|at| Bucket::hour(cal, at)));
    out.extend(back(33, HOUR_MS).map(|at| Bucket::day(cal, at)));
    out.extend(back(401, DAY_MS).map(|at| Bucket::month(cal, at)));
    out
}

async fn usage_rows(usage: &UsageRecorder, now: Millis) -> Result<Vec<UsageRow>, BackupError> {
    let mut rows = Vec::new();
    for bucket in live_buckets(usage.calendar(), now) {
        for dimension in [Dimension::Key, Dimension::Account, Dimension::Model] {
            let mut found = usage.usage_by(dimension, &bucket).await?;
            found.sort_by(|a, b| a.0.cmp(&b.0));
            rows.extend(found.into_iter().map(|(id, counters)| UsageRow {
                dimension,
                bucket: bucket.clone(),
                id,
                counters,
            }));
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_buckets_cover_each_retention_period() {
        let cal = Calendar::new("UTC").unwrap();
        let now = 1_764_547_200_000; // 2025-12-01T00:00Z
        let b = live_buckets(&cal, now);
        assert!(b.contains("total"));
        assert!(b.contains("h:2025-12-01T00") && b.contains("h:2025-11-23T00"));
        assert!(b.contains("d:2025-10-29") && !b.contains("d:2025-10-28"));
        assert!(b.contains("m:2024-10") && !b.contains("m:2024-09"));
        let hours = b.iter().filter(|n| n.starts_with("h:")).count();
        assert_eq!(hours, 8 * 24 + 1);
    }
}
