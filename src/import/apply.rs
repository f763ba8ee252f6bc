//! Writes an [`ImportBundle`] through the store contracts (so it works on every backend, while
//! serving), and reports what it did per record: imported, updated, unchanged or skipped.
//!
//! Everything is checked before the first write. Records keep their source ids, so a second
//! run finds them and changes only what changed in the source; usage and spent cost are
//! added once, with the record's first import (under batch ids named after the record, so a
//! retried first import does not count them twice either). Credentials already imported are
//! kept: switchyard may have refreshed the tokens since.
use super::bundle::{AccountImport, ImportBundle, KeyImport, Skipped, UsageEntry};
use crate::batch::BatchId;
use crate::error::ApiError;
use crate::keys::{ApiKey, LegacyVerifier};
use crate::limits::{SettleBatch, Settlement};
use crate::money::Money;
use crate::state::AppState;
use crate::usage::{UsageBatch, UsageDelta};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use switchyard_actors::{Group, Platform};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Imported,
    Updated,
    Unchanged,
    Skipped,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReportItem {
    /// `account`, `group`, `key` or `verifier`.
    pub what: String,
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Source settings with no equivalent here.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped_fields: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    pub source: String,
    pub dry_run: bool,
    /// Outcome → how many records.
    pub summary: BTreeMap<Outcome, usize>,
    pub items: Vec<ReportItem>,
}

impl ImportReport {
    fn push(&mut self, item: ReportItem) {
        *self.summary.entry(item.outcome).or_default() += 1;
        self.items.push(item);
    }
}

fn item(what: &str, id: &str, name: &str, outcome: Outcome) -> ReportItem {
    ReportItem {
        what: what.into(),
        id: id.into(),
        name: name.into(),
        kind: None,
        outcome,
        reason: None,
        skipped_fields: Vec::new(),
    }
}

fn bad(what: String) -> ApiError {
    ApiError::BadRequest(what)
}

/// Refuses a bundle that could not be written whole: an account the admin API would refuse, a
/// key without a usable hash or with invalid limits, a group member that does not exist.
async fn check(state: &AppState, b: &ImportBundle) -> Result<(), ApiError> {
    let mut platforms: HashMap<&str, Platform> = HashMap::new();
    for a in &b.accounts {
        crate::routes::admin::validate_account(&a.account)
            .map_err(|e| bad(format!("account {}: {}", a.account.id, e)))?;
        platforms.insert(a.account.id.as_str(), a.account.platform());
    }
    for g in &b.groups {
        for m in &g.members {
            let platform = match platforms.get(m.as_str()) {
                Some(p) => Some(*p),
                None => state.store.get_account(m).await?.map(|a| a.platform()),
            };
            if platform != Some(g.platform) {
                return Err(bad(format!(
                    "group {}: member {m} is no {} account",
                    g.id, g.platform
                )));
            }
        }
    }
    for k in &b.keys {
        let key = &k.key;
        if key.hash.len() != 64 || !key.hash.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(bad(format!("key {}: hash must be 64 hex characters", key.id)));
        }
        if key.id.trim().is_empty() || key.name.trim().is_empty() {
            return Err(bad(format!("key {}: id and name must not be empty", key.id)));
        }
        key.limits
            .validate()
            .map_err(|e| bad(format!("key {}: {e}", key.id)))?;
    }
    if !b.keys.is_empty() && b.legacy_secret.as_ref().is_none_or(|s| s.expose().is_empty()) {
        return Err(bad(
            "keys need legacy_secret, the secret their hashes were made with".into(),
        ));
    }
    Ok(())
}

/// Imports `b` (or, with `dry_run`, only reports what an import would do).
pub async fn apply(state: &AppState, mut b: ImportBundle, dry_run: bool) -> Result<ImportReport, ApiError> {
    check(state, &b).await?;
    let mut report = ImportReport {
        source: b.source.clone(),
        dry_run,
        summary: BTreeMap::new(),
        items: Vec::new(),
    };
    let verifier = b
        .legacy_secret
        .take()
        .map(|s| LegacyVerifier::for_crs(s.expose()));
    if let Some(v) = &verifier {
        let known = state.keys.store().legacy_verifiers().await?;
        let mut it = item("verifier", &v.name, "legacy key verifier", Outcome::Unchanged);
        if !known.contains(v) {
            it.outcome = Outcome::Imported;
            if !dry_run {
                state.keys.store().put_legacy_verifier(v).await?;
            }
        }
        report.push(it);
    }
    for a in b.accounts {
        report.push(account(state, a, dry_run).await?);
    }
    let mut groups: HashMap<String, Group> = state
        .store
        .load_groups()
        .await?
        .into_iter()
        .map(|g| (g.id.clone(), g))
        .collect();
    for g in b.groups {
        let outcome = match groups.remove(&g.id) {
            None => Outcome::Imported,
            Some(old) if old == g => Outcome::Unchanged,
            Some(_) => Outcome::Updated,
        };
        if outcome != Outcome::Unchanged && !dry_run {
            state.store.put_group(&g).await?;
        }
        report.push(item("group", &g.id, &g.name, outcome));
    }
    if !dry_run {
        crate::routes::admin::republish(state).await?;
    }
    for mut k in b.keys {
        k.key.legacy_verifier = verifier.as_ref().map(|v| v.name.clone());
        report.push(key(state, k, dry_run).await?);
    }
    if !dry_run {
        state.keys.invalidate();
    }
    for s in b.skipped {
        report.push(skipped(s));
    }
    tracing::info!(
        source = %report.source,
        dry_run,
        summary = ?report.summary,
        "import applied"
    );
    Ok(report)
}

fn skipped(s: Skipped) -> ReportItem {
    ReportItem {
        kind: s.kind,
        reason: Some(s.reason),
        ..item(&s.what, &s.id, &s.name, Outcome::Skipped)
    }
}

async fn account(state: &AppState, a: AccountImport, dry_run: bool) -> Result<ReportItem, ApiError> {
    let AccountImport {
        account: mut new,
        usage,
        skipped_fields,
    } = a;
    let old = state.store.get_account(&new.id).await?;
    let mut reason = None;
    let outcome = match &old {
        None => Outcome::Imported,
        Some(old) => {
            if old.credentials != new.credentials {
                reason = Some("credentials kept: switchyard's may be newer (refreshed tokens)".to_owned());
            }
            new.credentials = old.credentials.clone();
            new.last_used_at = new.last_used_at.max(old.last_used_at);
            if *old == new {
                Outcome::Unchanged
            } else {
                Outcome::Updated
            }
        }
    };
    if !dry_run {
        if outcome == Outcome::Imported {
            add_usage(state, &format!("crs-import:account:{}", new.id), &usage).await?;
        }
        if outcome != Outcome::Unchanged {
            state.store.put_account(&new).await?;
        }
    }
    Ok(ReportItem {
        kind: Some(new.kind.as_str().to_owned()),
        reason,
        skipped_fields,
        ..item("account", new.id.as_str(), &new.name, outcome)
    })
}

async fn key(state: &AppState, k: KeyImport, dry_run: bool) -> Result<ReportItem, ApiError> {
    let KeyImport {
        key: mut new,
        usage,
        spent,
        skipped_fields,
    } = k;
    let old = state.keys.store().get_key(&new.id).await?;
    let outcome = match &old {
        None => Outcome::Imported,
        Some(old) => {
            merge_use(&mut new, old);
            if *old == new {
                Outcome::Unchanged
            } else {
                Outcome::Updated
            }
        }
    };
    if !dry_run {
        if outcome == Outcome::Imported {
            add_usage(state, &format!("crs-import:key:{}", new.id), &usage).await?;
            settle_spent(state, &new, spent).await?;
        }
        if outcome != Outcome::Unchanged {
            state.keys.store().put_key(&new).await?;
        }
    }
    let mut it = item("key", &new.id, &new.name, outcome);
    it.skipped_fields = skipped_fields;
    it.reason = state_note(&new, state.clock.now_ms());
    Ok(it)
}

/// What switchyard learnt since the first import stays: the last use, and an activation.
fn merge_use(new: &mut ApiKey, old: &ApiKey) {
    new.last_used_at = new.last_used_at.max(old.last_used_at);
    if old.activated_at.is_some() && new.activated_at.is_none() {
        new.activated_at = old.activated_at;
        new.expires_at = old.expires_at;
    }
}

/// Why an imported key will be refused, for the report.
fn state_note(k: &ApiKey, now: i64) -> Option<String> {
    if k.deleted_at.is_some() {
        Some("deleted in the source: refused as not found".into())
    } else if !k.active {
        Some("disabled".into())
    } else if k.expires_at.is_some_and(|t| t <= now) {
        Some("expired".into())
    } else {
        None
    }
}

async fn add_usage(state: &AppState, batch: &str, usage: &[UsageEntry]) -> Result<(), ApiError> {
    if usage.is_empty() {
        return Ok(());
    }
    let deltas = usage
        .iter()
        .map(|u| UsageDelta {
            dimension: u.dimension,
            id: u.id.clone(),
            bucket: u.bucket.clone(),
            counters: u.counters,
        })
        .collect();
    let batch = UsageBatch {
        id: BatchId::named(batch),
        deltas,
    };
    state.usage.store().add_usage(&batch).await?;
    Ok(())
}

/// Counts what the key spent into its limit counters: today's share into today, this week's
/// into this week, the rest into the total only (under a long-past day and week).
async fn settle_spent(state: &AppState, key: &ApiKey, spent: super::bundle::Spent) -> Result<(), ApiError> {
    let now = state.clock.now_ms();
    let cal = state.usage.calendar();
    let (reset_day, reset_hour) = (key.limits.reset_day(), key.limits.weekly_reset_hour);
    let (day, week) = (cal.day(now), cal.week(now, reset_day, reset_hour).bucket);
    let (past_day, past_week) = (cal.day(0), cal.week(0, reset_day, reset_hour).bucket);
    let minus = |a: Money, b: Money| Money::from_picos(a.picos().saturating_sub(b.picos()));
    let both = spent.today.min(spent.this_week);
    let parts = [
        (both, day.clone(), week.clone()),
        (minus(spent.today, both), day, past_week.clone()),
        (minus(spent.this_week, both), past_day.clone(), week),
        (
            minus(spent.total, spent.today.max(spent.this_week)),
            past_day,
            past_week,
        ),
    ];
    let settlements: Vec<Settlement> = parts
        .into_iter()
        .filter(|(cost, _, _)| *cost > Money::ZERO)
        .map(|(cost, day, week)| Settlement {
            key_id: key.id.clone(),
            window_start: None,
            tokens: 0,
            cost,
            day,
            week,
        })
        .collect();
    if settlements.is_empty() {
        return Ok(());
    }
    let batch = SettleBatch {
        id: BatchId::named(&format!("crs-import:spent:{}", key.id)),
        settlements,
    };
    state.usage.limits().settle_many(&batch).await?;
    Ok(())
}
