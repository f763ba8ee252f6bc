//! The reference's usage aggregates, as switchyard usage entries: per key (all-time, monthly,
//! daily; tokens from `usage:*`, cost from `usage:cost:*`), per key and model (added to the
//! model dimension) and per account. Hourly aggregates are not carried: they live a week and
//! their hours are in the reference's time zone.
//!
//! Period names are the reference's own (its `TIMEZONE_OFFSET`, UTC+8 by default) and are
//! kept as bucket names: a day there is the same calendar day here, shifted by the zones'
//! difference. The *current* day and week of the cost limits are found in the reference's zone.
use super::snapshot::{Snapshot, Value};
use crate::calendar::Calendar;
use crate::import::bundle::{Spent, UsageEntry};
use crate::money::Money;
use crate::usage::{Bucket, Dimension, UsageCounters};
use std::collections::BTreeMap;
use switchyard_actors::clock::Millis;

const WEEK_MS: i64 = 7 * 86_400_000;

/// The reference's time zone, from its `TIMEZONE_OFFSET` in hours.
pub struct CrsZone {
    offset_hours: i32,
    calendar: Calendar,
}

impl CrsZone {
    pub fn new(offset_hours: i32) -> Option<Self> {
        // POSIX names count the other way: UTC+8 is Etc/GMT-8.
        let name = match offset_hours {
            0 => "UTC".to_owned(),
            h if h > 0 => format!("Etc/GMT-{h}"),
            h => format!("Etc/GMT+{}", -h),
        };
        Calendar::new(&name).ok().map(|calendar| CrsZone {
            offset_hours,
            calendar,
        })
    }

    fn day(&self, at: Millis) -> String {
        self.calendar.day(at)
    }

    /// `2026-11-30T00` (a weekly period's start, in the reference's zone) as unix ms.
    fn instant(&self, local: &str) -> Option<Millis> {
        let t = chrono::NaiveDateTime::parse_from_str(&format!("{local}:00:00"), "%Y-%m-%dT%H:%M:%S").ok()?;
        Some(t.and_utc().timestamp_millis() - i64::from(self.offset_hours) * 3_600_000)
    }
}

/// Token counters of one aggregate hash; `total` names carry a `total` prefix
/// (`totalInputTokens`). Cache writes not split by TTL count as 5-minute writes.
fn tokens(h: &BTreeMap<String, String>, total: bool) -> UsageCounters {
    let get = |name: &str| -> u64 {
        let field = if total {
            let mut c = name.chars();
            c.next()
                .map(|f| format!("total{}{}", f.to_ascii_uppercase(), c.as_str()))
                .unwrap_or_default()
        } else {
            name.to_owned()
        };
        h.get(&field).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
    };
    let one_hour = get("ephemeral1hTokens");
    let cache_writes = get("cacheCreateTokens").max(get("ephemeral5mTokens") + one_hour);
    UsageCounters {
        requests: get("requests"),
        input_tokens: get("inputTokens"),
        output_tokens: get("outputTokens"),
        cache_creation_5m_tokens: cache_writes - one_hour,
        cache_creation_1h_tokens: one_hour,
        cache_read_tokens: get("cacheReadTokens"),
        cost: Money::ZERO,
        rated_cost: Money::ZERO,
    }
}

/// An `INCRBYFLOAT` dollar string.
fn dollars(s: &Snapshot, key: &str) -> Option<Money> {
    let v: f64 = s.text(key)?.trim().parse().ok()?;
    Money::from_usd_f64(v.max(0.0))
}

fn micros(h: &BTreeMap<String, String>, field: &str) -> Money {
    Money::from_micros(h.get(field).and_then(|v| v.trim().parse().ok()).unwrap_or(0))
}

fn entry(dimension: Dimension, id: &str, bucket: String, counters: UsageCounters) -> UsageEntry {
    UsageEntry {
        dimension,
        id: id.to_owned(),
        bucket,
        counters,
    }
}

fn hashes<'a>(
    s: &'a Snapshot,
    prefix: &'a str,
) -> impl Iterator<Item = (&'a str, &'a BTreeMap<String, String>)> {
    s.with_prefix(prefix).filter_map(|(rest, v)| match v {
        Value::Hash(h) => Some((rest, h)),
        _ => None,
    })
}

/// A key's usage: its own totals and periods, and its per-model usage (model dimension).
pub fn of_key(s: &Snapshot, id: &str) -> Vec<UsageEntry> {
    let mut out = Vec::new();
    if let Some(h) = s.hash(&format!("usage:{id}")) {
        let mut c = tokens(h, true);
        c.rated_cost = dollars(s, &format!("usage:cost:total:{id}")).unwrap_or_default();
        c.cost = dollars(s, &format!("usage:cost:real:total:{id}")).unwrap_or(c.rated_cost);
        out.push(entry(Dimension::Key, id, Bucket::TOTAL.to_owned(), c));
    }
    for (month, h) in hashes(s, &format!("usage:monthly:{id}:")) {
        let mut c = tokens(h, false);
        c.rated_cost = dollars(s, &format!("usage:cost:monthly:{id}:{month}")).unwrap_or_default();
        c.cost = c.rated_cost;
        out.push(entry(Dimension::Key, id, format!("m:{month}"), c));
    }
    for (day, h) in hashes(s, &format!("usage:daily:{id}:")) {
        let mut c = tokens(h, false);
        c.rated_cost = dollars(s, &format!("usage:cost:daily:{id}:{day}")).unwrap_or_default();
        c.cost = dollars(s, &format!("usage:cost:real:daily:{id}:{day}")).unwrap_or(c.rated_cost);
        out.push(entry(Dimension::Key, id, format!("d:{day}"), c));
    }
    let with_cost = |h: &BTreeMap<String, String>| {
        let mut c = tokens(h, false);
        c.cost = micros(h, "realCostMicro");
        c.rated_cost = micros(h, "ratedCostMicro");
        c
    };
    for (model, h) in hashes(s, &format!("usage:{id}:model:alltime:")) {
        out.push(entry(
            Dimension::Model,
            model,
            Bucket::TOTAL.to_owned(),
            with_cost(h),
        ));
    }
    for (kind, prefix) in [("m", "monthly"), ("d", "daily")] {
        for (rest, h) in hashes(s, &format!("usage:{id}:model:{prefix}:")) {
            if let Some((model, period)) = rest.rsplit_once(':') {
                out.push(entry(
                    Dimension::Model,
                    model,
                    format!("{kind}:{period}"),
                    with_cost(h),
                ));
            }
        }
    }
    out
}

/// An upstream account's token usage (the reference keeps no cost per account).
pub fn of_account(s: &Snapshot, id: &str) -> Vec<UsageEntry> {
    let mut out = Vec::new();
    if let Some(h) = s.hash(&format!("account_usage:{id}")) {
        out.push(entry(
            Dimension::Account,
            id,
            Bucket::TOTAL.to_owned(),
            tokens(h, true),
        ));
    }
    for (kind, prefix) in [("m", "monthly"), ("d", "daily")] {
        for (period, h) in hashes(s, &format!("account_usage:{prefix}:{id}:")) {
            out.push(entry(
                Dimension::Account,
                id,
                format!("{kind}:{period}"),
                tokens(h, false),
            ));
        }
    }
    out
}

/// What a key has spent toward its cost limits: in all, today and this week (the weekly
/// period whose start, in the reference's zone, is within the last 7 days).
pub fn spent(s: &Snapshot, id: &str, zone: &CrsZone, now: Millis) -> Spent {
    let today = zone.day(now);
    let this_week = s
        .with_prefix(&format!("usage:opus:weekly:{id}:"))
        .filter(|(start, _)| zone.instant(start).is_some_and(|t| t <= now && now < t + WEEK_MS))
        .filter_map(|(start, _)| dollars(s, &format!("usage:opus:weekly:{id}:{start}")))
        .fold(Money::ZERO, |a, b| a + b);
    Spent {
        total: dollars(s, &format!("usage:cost:total:{id}")).unwrap_or_default(),
        today: dollars(s, &format!("usage:cost:daily:{id}:{today}")).unwrap_or_default(),
        this_week,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_zone_names_its_days_and_weeks() {
        let z = CrsZone::new(8).unwrap();
        // 2026-12-05T20:00Z is already the 6th in UTC+8.
        assert_eq!(z.day(1_796_500_800_000), "2026-12-06");
        // 2026-11-30T00 in UTC+8 is 2026-11-29T16:00Z.
        assert_eq!(z.instant("2026-11-30T00"), Some(1_795_968_000_000));
        assert!(CrsZone::new(-5).is_some());
    }
}
