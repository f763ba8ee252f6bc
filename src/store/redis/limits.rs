//! Limit counters in Redis: one `ADMIT` script before a request — one round trip — over the
//! key's `{key:<id>}` keys (its limits hash and its day and week buckets), and settlements in
//! batches: one pipeline per batch (on a Cluster, one per key, sent at once, since a pipeline
//! must keep to one slot) with one `SETTLE_BATCH` script per key in it, each applying that
//! key's share at most once (a marker `{key:<id>}:settled:<batch id>` with a TTL, set in the
//! same script). Money travels and is stored as integer picodollars, compared as decimal
//! strings inside Lua (exact for any u64) and added with HINCRBY / INCRBY (exact).
//!
//! Why a retried batch cannot count twice: each key's share is one atomic script that sets
//! its marker and adds, or finds the marker and adds nothing. A pipeline whose answer was
//! lost may have run for some keys and not others; the retry (same id) adds exactly the
//! missing shares. The marker outlives every retry ([`SETTLE_BATCH_TTL_SECS`] against the
//! accounting task's ~7 s of retries).
use super::RedisStore;
use crate::limits::KeyState;
use crate::limits::{
    Admission, KeyCounters, LimitStore, Refusal, SETTLE_BATCH_MEMORY, SettleBatch, Settlement,
};
use crate::money::Money;
use async_trait::async_trait;
use std::collections::HashMap;
use switchyard_actors::clock::Millis;
use switchyard_actors::store::{StoreError, StoreResult};

/// Day buckets outlive their day (in any time zone) with a margin; week buckets their week.
pub const DAY_TTL_SECS: u64 = 3 * 86_400;
pub const WEEK_TTL_SECS: u64 = 15 * 86_400;
/// A settlement batch marker's TTL.
pub const SETTLE_BATCH_TTL_SECS: u64 = SETTLE_BATCH_MEMORY.as_secs();

/// One key's share of a settlement batch, summed (exact integer sums; see `SETTLE_BATCH`).
#[derive(Default)]
struct KeyShare<'a> {
    total: u64,
    /// (admitted window start, tokens, cost)
    windows: Vec<(Millis, u64, u64)>,
    days: Vec<(&'a str, u64)>,
    weeks: Vec<(&'a str, u64)>,
}

fn add_to<'a>(list: &mut Vec<(&'a str, u64)>, bucket: &'a str, cost: u64) {
    match list.iter_mut().find(|(b, _)| *b == bucket) {
        Some((_, sum)) => *sum = sum.saturating_add(cost),
        None => list.push((bucket, cost)),
    }
}

impl<'a> KeyShare<'a> {
    fn add(&mut self, s: &'a Settlement) {
        let cost = s.cost.picos();
        self.total = self.total.saturating_add(cost);
        if let Some(start) = s.window_start {
            match self.windows.iter_mut().find(|(w, _, _)| *w == start) {
                Some((_, tokens, sum)) => {
                    *tokens = tokens.saturating_add(s.tokens);
                    *sum = sum.saturating_add(cost);
                }
                None => self.windows.push((start, s.tokens, cost)),
            }
        }
        add_to(&mut self.days, &s.day, cost);
        add_to(&mut self.weeks, &s.week, cost);
    }
}

/// Each key's share of a batch, keys in first-seen order.
fn shares(batch: &SettleBatch) -> Vec<(&str, KeyShare<'_>)> {
    let mut out: Vec<(&str, KeyShare<'_>)> = Vec::new();
    let mut at: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for s in &batch.settlements {
        let i = *at.entry(s.key_id.as_str()).or_insert_with(|| {
            out.push((s.key_id.as_str(), KeyShare::default()));
            out.len() - 1
        });
        out[i].1.add(s);
    }
    out
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("redis limits: {what}"))
}

fn int<T: std::str::FromStr>(what: &str, s: &str) -> StoreResult<T> {
    s.parse()
        .map_err(|_| corrupt(format!("{what} is not an integer: {s:?}")))
}

/// The `ADMIT` answer as the contract's result.
fn admission_result(answer: &[String], length_ms: i64) -> StoreResult<Result<Option<Millis>, Refusal>> {
    let field = |i: usize| {
        answer
            .get(i)
            .map(String::as_str)
            .ok_or_else(|| corrupt(format!("short admission answer {answer:?}")))
    };
    let money = |i: usize| -> StoreResult<Money> { Ok(Money::from_picos(int("a cost", field(i)?)?)) };
    let count = |i: usize| -> StoreResult<u64> { int("a count", field(i)?) };
    let reset_at = || -> StoreResult<Millis> { Ok(int::<Millis>("a window start", field(3)?)? + length_ms) };
    Ok(match field(0)? {
        "ok" => Ok(match answer.get(1) {
            Some(start) => Some(int("a window start", start)?),
            None => None,
        }),
        "requests" => Err(Refusal::Requests {
            current: count(1)?,
            limit: count(2)?,
            reset_at: reset_at()?,
        }),
        "tokens" => Err(Refusal::Tokens {
            current: count(1)?,
            limit: count(2)?,
            reset_at: reset_at()?,
        }),
        "window_cost" => Err(Refusal::WindowCost {
            current: money(1)?,
            limit: money(2)?,
            reset_at: reset_at()?,
        }),
        "daily" => Err(Refusal::Daily {
            current: money(1)?,
            limit: money(2)?,
        }),
        "total" => Err(Refusal::Total {
            current: money(1)?,
            limit: money(2)?,
        }),
        "weekly" => Err(Refusal::Weekly {
            current: money(1)?,
            limit: money(2)?,
        }),
        other => return Err(corrupt(format!("unknown admission answer {other:?}"))),
    })
}

#[async_trait]
impl LimitStore for RedisStore {
    async fn admit(&self, req: &Admission<'_>) -> StoreResult<Result<Option<Millis>, Refusal>> {
        // No window and no cost limit: nothing to check or count, no round trip.
        if req.window.is_none()
            && [req.max_daily, req.max_total, req.max_weekly]
                .iter()
                .all(|m| *m == Money::ZERO)
        {
            return Ok(Ok(None));
        }
        let k = &self.keyspace;
        let mut inv = self.scripts.admit.prepare_invoke();
        inv.key(k.limits(req.key_id))
            .key(k.limit_day(req.key_id, req.day))
            .key(k.limit_week(req.key_id, req.week))
            .arg(req.now);
        match req.window {
            Some(w) => inv
                .arg(w.length_ms)
                .arg(w.max_requests)
                .arg(w.max_tokens)
                .arg(w.max_cost.picos()),
            None => inv.arg("").arg(0).arg(0).arg(0),
        };
        inv.arg(req.max_daily.picos())
            .arg(req.max_total.picos())
            .arg(req.max_weekly.picos());
        let mut c = self.conn();
        let answer: Vec<String> = self
            .timed("admit", async { inv.invoke_async(&mut c).await })
            .await?;
        admission_result(&answer, req.window.map_or(0, |w| w.length_ms))
    }

    /// One pipeline: one `SETTLE_BATCH` per key of the batch (so one EVALSHA for a batch of one
    /// key). On a Cluster the keys' slots differ and a pipeline must keep to one slot, so each
    /// key's script goes in its own pipeline, all sent at once. On NOSCRIPT (a restarted Redis)
    /// the script is loaded and the pipeline sent again: the markers make that safe.
    async fn settle_many(&self, batch: &SettleBatch) -> StoreResult<()> {
        if batch.settlements.is_empty() {
            return Ok(());
        }
        let k = &self.keyspace;
        let script = &self.scripts.settle_batch;
        let per_key = self.conn.is_cluster();
        let mut pipes: Vec<::redis::Pipeline> = Vec::new();
        for (key_id, share) in shares(batch) {
            let mut inv = script.prepare_invoke();
            inv.key(k.limits(key_id))
                .key(k.settled(key_id, batch.id.as_str()));
            for (day, _) in &share.days {
                inv.key(k.limit_day(key_id, day));
            }
            for (week, _) in &share.weeks {
                inv.key(k.limit_week(key_id, week));
            }
            inv.arg(SETTLE_BATCH_TTL_SECS)
                .arg(DAY_TTL_SECS)
                .arg(WEEK_TTL_SECS)
                .arg(share.total)
                .arg(share.days.len())
                .arg(share.windows.len());
            for (start, tokens, cost) in &share.windows {
                inv.arg(start.to_string()).arg(*tokens).arg(*cost);
            }
            for (_, cost) in share.days.iter().chain(&share.weeks) {
                inv.arg(*cost);
            }
            if per_key || pipes.is_empty() {
                pipes.push(::redis::pipe());
            }
            if let Some(pipe) = pipes.last_mut() {
                pipe.invoke_script(&inv).ignore();
            }
        }
        let sends = pipes.iter().map(|pipe| {
            let mut c = self.conn();
            async move {
                match pipe.query_async::<()>(&mut c).await {
                    Err(e) if e.kind() == ::redis::ErrorKind::Server(::redis::ServerErrorKind::NoScript) => {
                        script.prepare_invoke().load_async(&mut c).await?;
                        pipe.query_async::<()>(&mut c).await
                    }
                    other => other,
                }
            }
        });
        self.timed("settle", futures::future::try_join_all(sends))
            .await
            .map(drop)
    }

    /// One pipeline: HMGET of the limits hash, GET of the day and week buckets.
    async fn counters(
        &self,
        key_id: &str,
        now: Millis,
        window_ms: i64,
        day: &str,
        week: &str,
    ) -> StoreResult<KeyCounters> {
        let k = &self.keyspace;
        let mut pipe = ::redis::pipe();
        pipe.cmd("HMGET")
            .arg(k.limits(key_id))
            .arg("window_start")
            .arg("window_requests")
            .arg("window_tokens")
            .arg("window_cost")
            .arg("total_cost")
            .get(k.limit_day(key_id, day))
            .get(k.limit_week(key_id, week));
        let mut c = self.conn();
        type Answer = (Vec<Option<String>>, Option<String>, Option<String>);
        let (limits, daily, weekly): Answer = self
            .timed("limit counters", async { pipe.query_async(&mut c).await })
            .await?;
        let get = |i: usize| limits.get(i).cloned().flatten();
        let num = |v: Option<String>| -> StoreResult<u64> { v.map_or(Ok(0), |s| int("a counter", &s)) };
        let money = |v: Option<String>| num(v).map(Money::from_picos);
        let state = KeyState {
            window_start: get(0).map(|s| int("a window start", &s)).transpose()?,
            window_requests: num(get(1))?,
            window_tokens: num(get(2))?,
            window_cost: money(get(3))?,
            total: money(get(4))?,
            daily: HashMap::from([(day.to_owned(), money(daily)?)]),
            weekly: HashMap::from([(week.to_owned(), money(weekly)?)]),
        };
        // The memory store's rules (a stored window counts only while it has not ended).
        Ok(state.counters(now, window_ms, day, week))
    }

    /// One `RAISE_COUNTERS` script over the key's limits hash and its day and week buckets.
    async fn raise_counters(
        &self,
        key_id: &str,
        day: &str,
        week: &str,
        to: &KeyCounters,
    ) -> StoreResult<bool> {
        let k = &self.keyspace;
        let mut inv = self.scripts.raise_counters.prepare_invoke();
        inv.key(k.limits(key_id))
            .key(k.limit_day(key_id, day))
            .key(k.limit_week(key_id, week))
            .arg(to.window_start.map(|s| s.to_string()).unwrap_or_default())
            .arg(to.window_requests)
            .arg(to.window_tokens)
            .arg(to.window_cost.picos())
            .arg(to.total_cost.picos())
            .arg(to.daily_cost.picos())
            .arg(to.weekly_cost.picos())
            .arg(DAY_TTL_SECS)
            .arg(WEEK_TTL_SECS);
        let mut c = self.conn();
        let changed: i64 = self
            .timed("raise counters", async { inv.invoke_async(&mut c).await })
            .await?;
        Ok(changed == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| (*x).to_owned()).collect()
    }

    #[test]
    fn answers_map_to_the_contract() {
        assert_eq!(admission_result(&s(&["ok"]), 0).unwrap(), Ok(None));
        assert_eq!(
            admission_result(&s(&["ok", "1000"]), 60).unwrap(),
            Ok(Some(1_000))
        );
        assert_eq!(
            admission_result(&s(&["requests", "3", "3", "1000"]), 60).unwrap(),
            Err(Refusal::Requests {
                current: 3,
                limit: 3,
                reset_at: 1_060
            })
        );
        assert_eq!(
            admission_result(&s(&["total", "18446744073709551615", "9007199254740993"]), 0).unwrap(),
            Err(Refusal::Total {
                current: Money::from_picos(u64::MAX),
                limit: Money::from_picos(9_007_199_254_740_993)
            })
        );
        assert!(admission_result(&s(&["weird"]), 0).is_err());
        assert!(admission_result(&s(&["daily", "1"]), 0).is_err());
    }
}
