//! Turns finished requests into cost and counters. `record` is synchronous and never waits on
//! a store: cost is computed at once, aggregates are summed in memory and written in one batch
//! per flush interval, and limit settlements queue to one background task. Reads add what is
//! not yet flushed, so a key holder sees their last request at once.
use super::UsageRecord;
use super::counters::{Bucket, Dimension, RecentRequest, UsageCounters};
use super::store::{UsageDelta, UsageStore};
use crate::calendar::Calendar;
use crate::limits::{LimitStore, Settlement};
use crate::pricing::{Cost, Pricing, cost_of};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use switchyard_actors::store::StoreResult;
use tokio::sync::mpsc;

type Key = (Dimension, String, String);

#[derive(Default)]
struct Pending {
    counters: HashMap<Key, UsageCounters>,
    recent: HashMap<String, Vec<RecentRequest>>,
}

pub struct UsageRecorder {
    store: Arc<dyn UsageStore>,
    limits: Arc<dyn LimitStore>,
    pricing: Arc<Pricing>,
    calendar: Calendar,
    recent_keep: usize,
    /// Weekly buckets follow each key's reset day; the recorder needs them for settlements.
    pending: Mutex<Pending>,
    settlements: mpsc::UnboundedSender<Settlement>,
    queued: AtomicU64,
    receiver: Mutex<Option<mpsc::UnboundedReceiver<Settlement>>>,
}

impl UsageRecorder {
    pub fn new(
        store: Arc<dyn UsageStore>,
        limits: Arc<dyn LimitStore>,
        pricing: Arc<Pricing>,
        calendar: Calendar,
        recent_keep: usize,
    ) -> Arc<Self> {
        let (tx, rx) = mpsc::unbounded_channel();
        Arc::new(UsageRecorder {
            store,
            limits,
            pricing,
            calendar,
            recent_keep,
            pending: Mutex::default(),
            settlements: tx,
            queued: AtomicU64::new(0),
            receiver: Mutex::new(Some(rx)),
        })
    }

    pub fn calendar(&self) -> &Calendar {
        &self.calendar
    }

    pub fn pricing(&self) -> &Pricing {
        &self.pricing
    }

    pub fn limits(&self) -> &Arc<dyn LimitStore> {
        &self.limits
    }

    /// Records one finished request; `week` is the key's current weekly bucket.
    pub fn record(&self, rec: &UsageRecord, week: String) -> Cost {
        let price = self.pricing.book().price(&rec.model);
        let cost = cost_of(&price, &rec.model, &rec.usage, rec.cost_multiplier_ppm);
        let one = UsageCounters::one(&rec.usage, cost.real, cost.rated);
        let buckets = Bucket::all(&self.calendar, rec.at);
        {
            let mut p = self.pending.lock();
            for (dim, id) in [
                (Dimension::Key, rec.key_id.as_str()),
                (Dimension::Account, rec.account_id.as_str()),
                (Dimension::Model, rec.model.as_str()),
            ] {
                for b in &buckets {
                    p.counters
                        .entry((dim, id.to_owned(), b.clone()))
                        .or_default()
                        .add(&one);
                }
            }
            p.recent
                .entry(rec.key_id.clone())
                .or_default()
                .push(RecentRequest {
                    at: rec.at,
                    account_id: rec.account_id.to_string(),
                    model: rec.model.clone(),
                    usage: rec.usage,
                    cost: cost.real,
                    rated_cost: cost.rated,
                    client_disconnected: rec.client_disconnected,
                });
        }
        let settlement = Settlement {
            key_id: rec.key_id.clone(),
            window_start: rec.window_start,
            tokens: rec.usage.total(),
            cost: cost.rated,
            day: self.calendar.day(rec.at),
            week,
        };
        self.queued.fetch_add(1, Ordering::SeqCst);
        if self.settlements.send(settlement).is_err() {
            self.queued.fetch_sub(1, Ordering::SeqCst);
            tracing::error!(key_id = %rec.key_id, "limit settlement dropped: the accounting task is gone");
        }
        cost
    }

    /// Writes pending aggregates in one batch; on failure they are kept for the next try.
    pub async fn flush(&self) -> StoreResult<()> {
        let taken = std::mem::take(&mut *self.pending.lock());
        if taken.counters.is_empty() && taken.recent.is_empty() {
            return Ok(());
        }
        let deltas: Vec<UsageDelta> = taken
            .counters
            .iter()
            .map(|((dimension, id, bucket), c)| UsageDelta {
                dimension: *dimension,
                id: id.clone(),
                bucket: bucket.clone(),
                counters: *c,
            })
            .collect();
        let result = async {
            self.store.add_usage(&deltas).await?;
            for (key, reqs) in &taken.recent {
                self.store.push_recent(key, reqs, self.recent_keep).await?;
            }
            Ok(())
        }
        .await;
        if result.is_err() {
            let mut p = self.pending.lock();
            for (k, c) in taken.counters {
                p.counters.entry(k).or_default().add(&c);
            }
            for (k, mut r) in taken.recent {
                let list = p.recent.entry(k).or_default();
                r.append(list);
                *list = r;
            }
        }
        result
    }

    /// Stored plus not yet flushed.
    pub async fn usage_of(&self, dimension: Dimension, id: &str, bucket: &str) -> StoreResult<UsageCounters> {
        let mut c = self.store.usage_of(dimension, id, bucket).await?;
        if let Some(p) = self
            .pending
            .lock()
            .counters
            .get(&(dimension, id.to_owned(), bucket.to_owned()))
        {
            c.add(p);
        }
        Ok(c)
    }

    pub async fn usage_by(
        &self,
        dimension: Dimension,
        bucket: &str,
    ) -> StoreResult<Vec<(String, UsageCounters)>> {
        let mut rows: HashMap<String, UsageCounters> = self
            .store
            .usage_by(dimension, bucket)
            .await?
            .into_iter()
            .collect();
        for ((d, id, b), c) in self.pending.lock().counters.iter() {
            if *d == dimension && b == bucket {
                rows.entry(id.clone()).or_default().add(c);
            }
        }
        let mut out: Vec<_> = rows.into_iter().collect();
        out.sort_by(|a, b| b.1.rated_cost.cmp(&a.1.rated_cost).then_with(|| a.0.cmp(&b.0)));
        Ok(out)
    }

    pub async fn recent(&self, key_id: &str, limit: usize) -> StoreResult<Vec<RecentRequest>> {
        let mut out: Vec<RecentRequest> = self
            .pending
            .lock()
            .recent
            .get(key_id)
            .map(|r| r.iter().rev().cloned().collect())
            .unwrap_or_default();
        out.extend(self.store.recent(key_id, limit).await?);
        out.truncate(limit);
        Ok(out)
    }

    /// Settlements not yet applied to the limit counters.
    pub fn queued_settlements(&self) -> u64 {
        self.queued.load(Ordering::SeqCst)
    }

    /// Waits until every queued settlement is applied and aggregates are flushed.
    pub async fn drain(&self) -> StoreResult<()> {
        while self.queued_settlements() > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.flush().await
    }

    /// The accounting task: applies settlements as they come and flushes every `interval`.
    /// Runs until the process ends.
    pub fn spawn(self: &Arc<Self>, interval: Duration) {
        let Some(mut rx) = self.receiver.lock().take() else {
            return;
        };
        let this = self.clone();
        actix_web::rt::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            loop {
                tokio::select! {
                    s = rx.recv() => {
                        let Some(s) = s else { break };
                        // Retry a failed settlement a few times: limits must not lose spend.
                        let mut tries = 0;
                        while let Err(e) = this.limits.settle(&s).await {
                            tries += 1;
                            if tries >= 5 {
                                tracing::error!(key_id = %s.key_id, error = %e, "limit settlement lost after retries");
                                break;
                            }
                            tokio::time::sleep(Duration::from_millis(200 * tries)).await;
                        }
                        this.queued.fetch_sub(1, Ordering::SeqCst);
                    }
                    _ = tick.tick() => {
                        if let Err(e) = this.flush().await {
                            tracing::warn!(error = %e, "usage flush failed; retrying next interval");
                        }
                    }
                }
            }
        });
    }
}
