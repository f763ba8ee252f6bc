//! In-memory limit counters (tests, and a single embedded instance between flushes).
use super::store::{
    Admission, KeyCounters, LimitStore, Refusal, SETTLE_BATCH_MEMORY, SettleBatch, Settlement,
};
use crate::batch::AppliedBatches;
use crate::money::Money;
use async_trait::async_trait;
use parking_lot::Mutex;
use std::collections::HashMap;
use switchyard_actors::clock::Millis;
use switchyard_actors::store::StoreResult;

/// One key's counters. Stored as is by the embedded backend (money as integer picodollars).
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub(crate) struct KeyState {
    pub window_start: Option<Millis>,
    pub window_requests: u64,
    pub window_tokens: u64,
    pub window_cost: Money,
    pub total: Money,
    pub daily: HashMap<String, Money>,
    pub weekly: HashMap<String, Money>,
}

impl KeyState {
    /// The admission rules, shared by every backend that keeps state in process.
    pub(crate) fn admit(&mut self, req: &Admission<'_>) -> Result<Option<Millis>, Refusal> {
        if let Some(w) = req.window {
            let ended = self.window_start.is_none_or(|s| req.now - s >= w.length_ms);
            if ended {
                self.window_start = Some(req.now);
                self.window_requests = 0;
                self.window_tokens = 0;
                self.window_cost = Money::ZERO;
            }
            let reset_at = self.window_start.unwrap_or(req.now) + w.length_ms;
            if w.max_requests > 0 && self.window_requests >= w.max_requests {
                return Err(Refusal::Requests {
                    current: self.window_requests,
                    limit: w.max_requests,
                    reset_at,
                });
            }
            // A token limit takes precedence over a window cost limit (§4.3).
            if w.max_tokens > 0 {
                if self.window_tokens >= w.max_tokens {
                    return Err(Refusal::Tokens {
                        current: self.window_tokens,
                        limit: w.max_tokens,
                        reset_at,
                    });
                }
            } else if w.max_cost > Money::ZERO && self.window_cost >= w.max_cost {
                return Err(Refusal::WindowCost {
                    current: self.window_cost,
                    limit: w.max_cost,
                    reset_at,
                });
            }
        }
        let daily = self.daily.get(req.day).copied().unwrap_or_default();
        if req.max_daily > Money::ZERO && daily >= req.max_daily {
            return Err(Refusal::Daily {
                current: daily,
                limit: req.max_daily,
            });
        }
        if req.max_total > Money::ZERO && self.total >= req.max_total {
            return Err(Refusal::Total {
                current: self.total,
                limit: req.max_total,
            });
        }
        let weekly = self.weekly.get(req.week).copied().unwrap_or_default();
        if req.max_weekly > Money::ZERO && weekly >= req.max_weekly {
            return Err(Refusal::Weekly {
                current: weekly,
                limit: req.max_weekly,
            });
        }
        if req.window.is_some() {
            self.window_requests += 1;
            return Ok(self.window_start);
        }
        Ok(None)
    }

    pub(crate) fn settle(&mut self, s: &Settlement) {
        if s.window_start.is_some() && s.window_start == self.window_start {
            self.window_tokens += s.tokens;
            self.window_cost += s.cost;
        }
        self.total += s.cost;
        *self.daily.entry(s.day.clone()).or_default() += s.cost;
        *self.weekly.entry(s.week.clone()).or_default() += s.cost;
        // Old buckets are never read again.
        if self.daily.len() > 8 {
            self.daily.retain(|d, _| d == &s.day);
        }
        if self.weekly.len() > 4 {
            self.weekly.retain(|w, _| w == &s.week);
        }
    }

    /// [`LimitStore::raise_counters`] on this key's state; true when anything changed.
    pub(crate) fn raise(&mut self, day: &str, week: &str, to: &KeyCounters) -> bool {
        let before = (
            self.window_start,
            self.window_requests,
            self.window_tokens,
            self.window_cost,
            self.total,
        );
        match (to.window_start, self.window_start) {
            (Some(theirs), ours) if ours.is_none_or(|o| o < theirs) => {
                self.window_start = Some(theirs);
                self.window_requests = to.window_requests;
                self.window_tokens = to.window_tokens;
                self.window_cost = to.window_cost;
            }
            (Some(theirs), Some(ours)) if ours == theirs => {
                self.window_requests = self.window_requests.max(to.window_requests);
                self.window_tokens = self.window_tokens.max(to.window_tokens);
                self.window_cost = self.window_cost.max(to.window_cost);
            }
            _ => {}
        }
        self.total = self.total.max(to.total_cost);
        let mut changed = before
            != (
                self.window_start,
                self.window_requests,
                self.window_tokens,
                self.window_cost,
                self.total,
            );
        for (buckets, name, value) in [
            (&mut self.daily, day, to.daily_cost),
            (&mut self.weekly, week, to.weekly_cost),
        ] {
            let held = buckets.entry(name.to_owned()).or_default();
            if *held < value {
                *held = value;
                changed = true;
            }
        }
        changed
    }

    pub(crate) fn counters(&self, now: Millis, window_ms: i64, day: &str, week: &str) -> KeyCounters {
        let live = window_ms > 0 && self.window_start.is_some_and(|s| now - s < window_ms);
        KeyCounters {
            window_start: self.window_start.filter(|_| live),
            window_requests: if live { self.window_requests } else { 0 },
            window_tokens: if live { self.window_tokens } else { 0 },
            window_cost: if live { self.window_cost } else { Money::ZERO },
            daily_cost: self.daily.get(day).copied().unwrap_or_default(),
            weekly_cost: self.weekly.get(week).copied().unwrap_or_default(),
            total_cost: self.total,
        }
    }
}

pub struct MemoryLimitStore {
    keys: Mutex<HashMap<String, KeyState>>,
    applied: AppliedBatches,
}

impl Default for MemoryLimitStore {
    fn default() -> Self {
        MemoryLimitStore {
            keys: Mutex::default(),
            applied: AppliedBatches::new(SETTLE_BATCH_MEMORY),
        }
    }
}

impl MemoryLimitStore {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl LimitStore for MemoryLimitStore {
    async fn admit(&self, req: &Admission<'_>) -> StoreResult<Result<Option<Millis>, Refusal>> {
        Ok(self
            .keys
            .lock()
            .entry(req.key_id.to_owned())
            .or_default()
            .admit(req))
    }

    async fn settle_many(&self, batch: &SettleBatch) -> StoreResult<()> {
        let mut keys = self.keys.lock();
        if !self.applied.first_time(&batch.id) {
            return Ok(());
        }
        for s in &batch.settlements {
            keys.entry(s.key_id.clone()).or_default().settle(s);
        }
        Ok(())
    }

    async fn counters(
        &self,
        key_id: &str,
        now: Millis,
        window_ms: i64,
        day: &str,
        week: &str,
    ) -> StoreResult<KeyCounters> {
        Ok(self
            .keys
            .lock()
            .get(key_id)
            .map(|k| k.counters(now, window_ms, day, week))
            .unwrap_or_default())
    }

    async fn raise_counters(
        &self,
        key_id: &str,
        day: &str,
        week: &str,
        to: &KeyCounters,
    ) -> StoreResult<bool> {
        Ok(self
            .keys
            .lock()
            .entry(key_id.to_owned())
            .or_default()
            .raise(day, week, to))
    }
}
