//! Limit counters in Redis: one `ADMIT` script before a request and one `SETTLE` script after
//! it — one round trip each — over the key's `{key:<id>}` keys (its limits hash and its day and
//! week buckets). Money travels and is stored as integer picodollars, compared as decimal
//! strings inside Lua (exact for any u64) and added with HINCRBY / INCRBY (exact).
use super::RedisStore;
use crate::limits::{Admission, KeyCounters, LimitStore, Refusal, Settlement};
use crate::money::Money;
use async_trait::async_trait;
use switchyard_actors::clock::Millis;
use switchyard_actors::store::{StoreError, StoreResult};

/// Day buckets outlive their day (in any time zone) with a margin; week buckets their week.
pub const DAY_TTL_SECS: u64 = 3 * 86_400;
pub const WEEK_TTL_SECS: u64 = 15 * 86_400;

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
        let k = &self.keys;
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

    async fn settle(&self, s: &Settlement) -> StoreResult<()> {
        let k = &self.keys;
        let mut inv = self.scripts.settle.prepare_invoke();
        inv.key(k.limits(&s.key_id))
            .key(k.limit_day(&s.key_id, &s.day))
            .key(k.limit_week(&s.key_id, &s.week))
            .arg(s.window_start.map(|w| w.to_string()).unwrap_or_default())
            .arg(s.tokens)
            .arg(s.cost.picos())
            .arg(DAY_TTL_SECS)
            .arg(WEEK_TTL_SECS);
        let mut c = self.conn();
        self.timed("settle", async { inv.invoke_async::<i64>(&mut c).await })
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
        let k = &self.keys;
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
        let start: Option<Millis> = get(0).map(|s| int("a window start", &s)).transpose()?;
        // The memory store's rule: the stored window counts only while it has not ended.
        let live = window_ms > 0 && start.is_some_and(|s| now - s < window_ms);
        Ok(KeyCounters {
            window_start: start.filter(|_| live),
            window_requests: if live { num(get(1))? } else { 0 },
            window_tokens: if live { num(get(2))? } else { 0 },
            window_cost: Money::from_picos(if live { num(get(3))? } else { 0 }),
            daily_cost: Money::from_picos(num(daily)?),
            weekly_cost: Money::from_picos(num(weekly)?),
            total_cost: Money::from_picos(num(get(4))?),
        })
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
