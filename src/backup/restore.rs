//! Restores a backup onto the running server's stores, whichever backend they are. A file is
//! first verified whole ([`verify`]: format, version, checksum, key, every account opened), so
//! a bad file writes nothing. Then records are matched by id: missing ones are created,
//! different ones replaced by the backup's, equal ones left alone; nothing on the target is
//! deleted. Counters only ever rise to the backup's values (usage adds the difference, limit
//! counters are raised), so a second restore of the same file changes nothing and says so.
use super::format::{Backup, LimitRow, RecentRow, UsageRow};
use super::{BackupError, seal};
use crate::keys::{ApiKey, KeyStore, LegacyVerifier};
use crate::store::crypto::SecretBox;
use crate::usage::{UsageBatch, UsageCounters, UsageDelta, UsageRecorder};
use serde::Serialize;
use switchyard_actors::domain::{Account, Group};
use switchyard_actors::store::AccountStore;

/// Usage deltas per store batch (one Redis script each).
const USAGE_CHUNK: usize = 200;

/// A backup that passed every check, its accounts opened.
pub struct Verified {
    accounts: Vec<Account>,
    groups: Vec<Group>,
    keys: Vec<ApiKey>,
    legacy_verifiers: Vec<LegacyVerifier>,
    usage: Vec<UsageRow>,
    limits: Vec<LimitRow>,
    recent: Vec<RecentRow>,
}

/// Reads and checks a whole file; nothing is written.
pub fn verify(bytes: &[u8], secrets: &SecretBox) -> Result<Verified, BackupError> {
    let b = Backup::parse(bytes)?;
    seal::verify_key(secrets, &b.key_check)?;
    let accounts = b
        .accounts
        .iter()
        .map(|fields| seal::open_account(fields, secrets))
        .collect::<Result<_, _>>()?;
    let legacy_verifiers = b
        .legacy_verifiers
        .iter()
        .map(|v| seal::open_verifier(v, secrets))
        .collect::<Result<_, _>>()?;
    Ok(Verified {
        accounts,
        groups: b.groups,
        keys: b.keys,
        legacy_verifiers,
        usage: b.usage,
        limits: b.limits,
        recent: b.recent,
    })
}

/// What a restore writes to.
pub struct Targets<'a> {
    pub accounts: &'a dyn AccountStore,
    pub keys: &'a dyn KeyStore,
    pub usage: &'a UsageRecorder,
    /// Recent requests kept per key (`usage.recent_requests`).
    pub recent_keep: usize,
}

/// Records of one kind: how many were created, replaced, or already as in the backup.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
}

impl Tally {
    fn count(&mut self, existed: bool, equal: bool) {
        match (existed, equal) {
            (false, _) => self.created += 1,
            (true, false) => self.updated += 1,
            (true, true) => self.unchanged += 1,
        }
    }

    /// Whether any record of this kind was written.
    pub fn wrote(&self) -> bool {
        self.created + self.updated > 0
    }
}

/// A record left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub kind: &'static str,
    pub id: String,
    pub reason: String,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub accounts: Tally,
    pub groups: Tally,
    pub keys: Tally,
    pub legacy_verifiers: Tally,
    pub usage: Tally,
    pub limits: Tally,
    pub recent: Tally,
    pub skipped: Vec<Skipped>,
    /// Whether anything was written (false: the target already held the whole backup).
    pub changed: bool,
}

/// Equal but for the last use, which the target may have seen later than the backup.
fn same_but_later_use<T: Clone + PartialEq>(
    target: &T,
    backup: &T,
    last_used: impl Fn(&mut T) -> &mut Option<i64>,
) -> bool {
    let mut t = target.clone();
    let mut b = backup.clone();
    let later = last_used(&mut t).unwrap_or(0) >= last_used(&mut b).unwrap_or(0);
    *last_used(&mut t) = None;
    *last_used(&mut b) = None;
    later && t == b
}

/// Writes a verified backup; see the module comment for what is written when.
pub async fn restore(v: Verified, t: &Targets<'_>) -> Result<Report, BackupError> {
    let mut r = Report::default();
    for a in &v.accounts {
        let held = t.accounts.get_account(&a.id).await?;
        let equal = held
            .as_ref()
            .is_some_and(|h| same_but_later_use(h, a, |x| &mut x.last_used_at));
        r.accounts.count(held.is_some(), equal);
        if !equal {
            t.accounts.put_account(a).await?;
            if let Some(at) = a.last_used_at {
                t.accounts.touch_last_used(&[(a.id.clone(), at)]).await?;
            }
        }
    }
    let groups = t.accounts.load_groups().await?;
    for g in &v.groups {
        let held = groups.iter().find(|h| h.id == g.id);
        r.groups.count(held.is_some(), held == Some(g));
        if held != Some(g) {
            t.accounts.put_group(g).await?;
        }
    }
    // Verifiers before the keys they verify: a restored `cr_` key works as soon as it exists.
    let verifiers = t.keys.legacy_verifiers().await?;
    for lv in &v.legacy_verifiers {
        let held = verifiers.iter().find(|h| h.name == lv.name);
        r.legacy_verifiers.count(held.is_some(), held == Some(lv));
        if held != Some(lv) {
            t.keys.put_legacy_verifier(lv).await?;
        }
    }
    for k in &v.keys {
        restore_key(k, t, &mut r).await?;
    }
    restore_usage(&v.usage, t, &mut r).await?;
    for row in &v.limits {
        let raised = t
            .usage
            .limits()
            .raise_counters(&row.key_id, &row.day, &row.week, &row.counters)
            .await?;
        r.limits.count(true, !raised);
    }
    for row in &v.recent {
        let held = !t.usage.recent(&row.key_id, 1).await?.is_empty();
        r.recent.count(held, held);
        if !held {
            let oldest_first: Vec<_> = row.requests.iter().rev().cloned().collect();
            t.usage
                .store()
                .push_recent(&row.key_id, &oldest_first, t.recent_keep)
                .await?;
        }
    }
    r.changed = [
        r.accounts,
        r.groups,
        r.keys,
        r.legacy_verifiers,
        r.usage,
        r.limits,
        r.recent,
    ]
    .iter()
    .any(Tally::wrote);
    Ok(r)
}

/// A key by id; one whose hash another key already holds is skipped (two keys cannot answer
/// to the same secret).
async fn restore_key(k: &ApiKey, t: &Targets<'_>, r: &mut Report) -> Result<(), BackupError> {
    if let Some(other) = t.keys.key_by_hash(&k.hash).await?
        && other.id != k.id
    {
        r.skipped.push(Skipped {
            kind: "key",
            id: k.id.clone(),
            reason: format!("key {} already answers to the same secret", other.id),
        });
        return Ok(());
    }
    let held = t.keys.get_key(&k.id).await?;
    let equal = held
        .as_ref()
        .is_some_and(|h| same_but_later_use(h, k, |x| &mut x.last_used_at));
    r.keys.count(held.is_some(), equal);
    if !equal {
        t.keys.put_key(k).await?;
    }
    Ok(())
}

/// Adds to each (dimension, bucket, id) what the target lacks of the backup's counters.
async fn restore_usage(rows: &[UsageRow], t: &Targets<'_>, r: &mut Report) -> Result<(), BackupError> {
    let mut deltas = Vec::new();
    for row in rows {
        let held = t.usage.usage_of(row.dimension, &row.id, &row.bucket).await?;
        let (want, have) = (row.counters.to_array(), held.to_array());
        let mut lack = [0u64; 8];
        for (i, slot) in lack.iter_mut().enumerate() {
            *slot = want[i].saturating_sub(have[i]);
        }
        let missing = lack != [0; 8];
        r.usage.count(held != UsageCounters::default(), !missing);
        if missing {
            deltas.push(UsageDelta {
                dimension: row.dimension,
                id: row.id.clone(),
                bucket: row.bucket.clone(),
                counters: UsageCounters::from_array(lack),
            });
        }
    }
    for chunk in deltas.chunks(USAGE_CHUNK) {
        t.usage
            .store()
            .add_usage(&UsageBatch::new(chunk.to_vec()))
            .await?;
    }
    Ok(())
}
