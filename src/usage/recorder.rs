//! Turns finished requests into cost and counters. `record` is synchronous and never waits on
//! a store: cost is computed at once, aggregates are summed in memory and written in one batch
//! per flush interval, and limit settlements queue to one background task, which applies
//! whatever is queued (up to [`SETTLE_BATCH_MAX`]) in one store call. Reads add what is not yet
//! flushed, so a key holder sees their last request at once.
//!
//! Nothing is counted twice when a store's answer is lost (it applied the batch, the caller
//! saw a timeout): every usage batch and settlement batch carries an id the store applies at
//! most once, and a failed batch is retried as it was, under its id. A failed usage batch is
//! kept and retried before anything newer is sent; newer deltas wait in a new batch (merging
//! them into one that may already have landed would lose them).
use super::UsageRecord;
use super::counters::{Bucket, Dimension, RecentRequest, UsageCounters};
use super::store::{UsageBatch, UsageDelta, UsageStore};
use crate::batch::BatchId;
use crate::calendar::Calendar;
use crate::limits::{LimitStore, SettleBatch, Settlement};
use crate::pricing::{Cost, Pricing, cost_of};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use switchyard_actors::store::StoreResult;
use tokio::sync::mpsc;

type Key = (Dimension, String, String);

/// Pending aggregates, looked up by borrowed names: a request adds to twelve of them, and
/// owning the names for each lookup allocated 24 strings per request.
type Counters = hashbrown::HashMap<Key, UsageCounters>;

/// A [`Key`] made of borrowed names; hashes as the key does (tuple fields in order, `str`
/// hashing as `String`).
#[derive(Hash)]
struct KeyRef<'a>(Dimension, &'a str, &'a str);

impl hashbrown::Equivalent<Key> for KeyRef<'_> {
    fn equivalent(&self, key: &Key) -> bool {
        self.0 == key.0 && self.1 == key.1 && self.2 == key.2
    }
}

/// The most settlements the accounting task applies in one store call.
pub const SETTLE_BATCH_MAX: usize = 256;

/// How long the accounting task lets settlements gather before it applies them: how far a
/// key's limit counters may lag behind its finished requests.
const SETTLE_GATHER: Duration = Duration::from_millis(2);

#[derive(Default)]
struct Pending {
    counters: Counters,
    recent: HashMap<String, Vec<RecentRequest>>,
    /// The batch handed to the store and not yet acknowledged (in flight, or failed): retried
    /// under its id before anything newer is sent.
    unconfirmed: Option<Unconfirmed>,
}

struct Unconfirmed {
    id: BatchId,
    /// `None` once the store acknowledged them.
    counters: Option<Counters>,
    /// Per key, recent requests not yet pushed.
    recent: HashMap<String, Vec<RecentRequest>>,
}

fn deltas(counters: &Counters) -> Vec<UsageDelta> {
    counters
        .iter()
        .map(|((dimension, id, bucket), c)| UsageDelta {
            dimension: *dimension,
            id: id.clone(),
            bucket: bucket.clone(),
            counters: *c,
        })
        .collect()
}

pub struct UsageRecorder {
    store: Arc<dyn UsageStore>,
    limits: Arc<dyn LimitStore>,
    pricing: Arc<Pricing>,
    calendar: Calendar,
    recent_keep: usize,
    /// Weekly buckets follow each key's reset day; the recorder needs them for settlements.
    pending: Mutex<Pending>,
    /// One flush at a time: a batch is acknowledged before the next is built.
    flushing: tokio::sync::Mutex<()>,
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
            flushing: tokio::sync::Mutex::new(()),
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

    /// The aggregates as stored, for writes that bypass the per-request path (restores and
    /// imports add to them directly).
    pub fn store(&self) -> &Arc<dyn UsageStore> {
        &self.store
    }

    pub fn limits(&self) -> &Arc<dyn LimitStore> {
        &self.limits
    }

    /// Records one finished request; `week` is the key's current weekly bucket.
    pub fn record(&self, rec: &UsageRecord, week: String) -> Cost {
        let price = self.pricing.book().price(&rec.model);
        let cost = cost_of(&price, &rec.model, &rec.usage, rec.cost_multiplier_ppm);
        let one = UsageCounters::one(&rec.usage, cost.real, cost.rated);
        let stamps = self.calendar.stamps(rec.at);
        let buckets = Bucket::all(&stamps);
        {
            let mut p = self.pending.lock();
            for (dim, id) in [
                (Dimension::Key, rec.key_id.as_str()),
                (Dimension::Account, rec.account_id.as_str()),
                (Dimension::Model, rec.model.as_str()),
            ] {
                for b in &buckets {
                    match p.counters.get_mut(&KeyRef(dim, id, b)) {
                        Some(c) => c.add(&one),
                        None => {
                            p.counters.insert((dim, id.to_owned(), b.clone()), one);
                        }
                    }
                }
            }
            let recent = p.recent.entry(rec.key_id.clone()).or_default();
            recent.push(RecentRequest {
                at: rec.at,
                account_id: rec.account_id.to_string(),
                model: rec.model.clone(),
                usage: rec.usage,
                cost: cost.real,
                rated_cost: cost.rated,
                client_disconnected: rec.client_disconnected,
            });
            // Only a key's newest `recent_keep` are ever kept: without this, a busy key would
            // hold (and the next flush encode and write) every request of the interval.
            // Trimmed in steps, not on every request.
            if recent.len() >= 2 * self.recent_keep.max(1) {
                let older = recent.len() - self.recent_keep;
                recent.drain(..older);
            }
        }
        let settlement = Settlement {
            key_id: rec.key_id.clone(),
            window_start: rec.window_start,
            tokens: rec.usage.total(),
            cost: cost.rated,
            day: stamps.day,
            week,
        };
        self.queued.fetch_add(1, Ordering::SeqCst);
        if self.settlements.send(settlement).is_err() {
            self.queued.fetch_sub(1, Ordering::SeqCst);
            tracing::error!(key_id = %rec.key_id, "limit settlement dropped: the accounting task is gone");
        }
        cost
    }

    /// Writes pending aggregates in one batch. A batch that fails is kept, with its id, and
    /// sent again by the next flush before a new batch is built from what came since.
    ///
    /// Recent requests go per key after the counters; a push whose answer was lost is sent
    /// again and may show the same request twice in that key's capped recent list (counters
    /// never double).
    pub async fn flush(&self) -> StoreResult<()> {
        let _one_at_a_time = self.flushing.lock().await;
        // The unconfirmed batch first (if any), then what is pending now.
        for _ in 0..2 {
            let (batch, recent) = {
                let mut p = self.pending.lock();
                if p.unconfirmed.is_none() {
                    if p.counters.is_empty() && p.recent.is_empty() {
                        return Ok(());
                    }
                    let counters = std::mem::take(&mut p.counters);
                    let recent = std::mem::take(&mut p.recent);
                    p.unconfirmed = Some(Unconfirmed {
                        id: BatchId::fresh(),
                        counters: (!counters.is_empty()).then_some(counters),
                        recent,
                    });
                }
                let Some(u) = p.unconfirmed.as_ref() else {
                    return Ok(());
                };
                let batch = u.counters.as_ref().map(|c| UsageBatch {
                    id: u.id.clone(),
                    deltas: deltas(c),
                });
                (batch, u.recent.clone())
            };
            if let Some(batch) = batch {
                self.store.add_usage(&batch).await?;
                if let Some(u) = self.pending.lock().unconfirmed.as_mut() {
                    u.counters = None;
                }
            }
            for (key, reqs) in recent {
                self.store.push_recent(&key, &reqs, self.recent_keep).await?;
                if let Some(u) = self.pending.lock().unconfirmed.as_mut() {
                    u.recent.remove(&key);
                }
            }
            self.pending.lock().unconfirmed = None;
        }
        Ok(())
    }

    /// Stored plus not yet flushed.
    pub async fn usage_of(&self, dimension: Dimension, id: &str, bucket: &str) -> StoreResult<UsageCounters> {
        let mut c = self.store.usage_of(dimension, id, bucket).await?;
        let key = KeyRef(dimension, id, bucket);
        let p = self.pending.lock();
        let unconfirmed = p.unconfirmed.as_ref().and_then(|u| u.counters.as_ref());
        for more in [p.counters.get(&key), unconfirmed.and_then(|u| u.get(&key))]
            .into_iter()
            .flatten()
        {
            c.add(more);
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
        let p = self.pending.lock();
        let unconfirmed = p.unconfirmed.as_ref().and_then(|u| u.counters.as_ref());
        for ((d, id, b), c) in p.counters.iter().chain(unconfirmed.into_iter().flatten()) {
            if *d == dimension && b == bucket {
                rows.entry(id.clone()).or_default().add(c);
            }
        }
        drop(p);
        let mut out: Vec<_> = rows.into_iter().collect();
        out.sort_by(|a, b| b.1.rated_cost.cmp(&a.1.rated_cost).then_with(|| a.0.cmp(&b.0)));
        Ok(out)
    }

    pub async fn recent(&self, key_id: &str, limit: usize) -> StoreResult<Vec<RecentRequest>> {
        // Newest first: pending, then the unconfirmed batch, then the store.
        let mut out: Vec<RecentRequest> = {
            let p = self.pending.lock();
            let unconfirmed = p.unconfirmed.as_ref().and_then(|u| u.recent.get(key_id));
            [p.recent.get(key_id), unconfirmed]
                .into_iter()
                .flatten()
                .flat_map(|r| r.iter().rev().cloned())
                .collect()
        };
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

    /// The accounting task: applies settlements as they come — everything queued, up to
    /// [`SETTLE_BATCH_MAX`], in one `settle_many` — and flushes every `interval`. Runs until
    /// the process ends.
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
                        let Some(first) = s else { break };
                        // A send to a task that is not waiting on the channel wakes nobody: while
                        // this one sleeps, the request threads queue settlements without waking
                        // its thread, once per batch instead of once per request under load.
                        tokio::time::sleep(SETTLE_GATHER).await;
                        let mut settlements = vec![first];
                        while settlements.len() < SETTLE_BATCH_MAX {
                            match rx.try_recv() {
                                Ok(s) => settlements.push(s),
                                Err(_) => break,
                            }
                        }
                        let n = settlements.len() as u64;
                        let batch = SettleBatch::new(settlements);
                        // Retry a failed batch (under its id: the store applies it once) a few
                        // times: limits must not lose spend.
                        let mut tries = 0;
                        while let Err(e) = this.limits.settle_many(&batch).await {
                            tries += 1;
                            if tries >= 5 {
                                let keys: std::collections::BTreeSet<&str> =
                                    batch.settlements.iter().map(|s| s.key_id.as_str()).collect();
                                tracing::error!(
                                    batch = %batch.id, settlements = n, keys = ?keys, error = %e,
                                    "limit settlements lost after retries"
                                );
                                break;
                            }
                            tokio::time::sleep(Duration::from_millis(200 * tries)).await;
                        }
                        this.queued.fetch_sub(n, Ordering::SeqCst);
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::limits::{Admission, KeyCounters, MemoryLimitStore, Refusal};
    use crate::money::Money;
    use crate::usage::{MemoryUsageStore, TokenUsage};
    use async_trait::async_trait;
    use std::sync::atomic::AtomicU32;
    use switchyard_actors::clock::Millis;
    use switchyard_actors::store::StoreError;
    use switchyard_actors::{AccountId, Platform};

    const AT: Millis = 1_700_000_000_000;
    const WEEK: &str = "2023-11-13";

    /// Applies every write to the inner store, then answers the first `lose` of them with an
    /// error, as if the answer had been lost on the way back.
    struct LostAnswers<T> {
        inner: T,
        lose: AtomicU32,
        writes: AtomicU32,
        sizes: parking_lot::Mutex<Vec<usize>>,
    }

    impl<T> LostAnswers<T> {
        fn new(inner: T, lose: u32) -> Arc<Self> {
            Arc::new(LostAnswers {
                inner,
                lose: AtomicU32::new(lose),
                writes: AtomicU32::new(0),
                sizes: parking_lot::Mutex::default(),
            })
        }

        fn answer(&self, size: usize) -> StoreResult<()> {
            self.writes.fetch_add(1, Ordering::SeqCst);
            self.sizes.lock().push(size);
            let lost = self
                .lose
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if lost {
                return Err(StoreError::Unavailable("the answer was lost".into()));
            }
            Ok(())
        }
    }

    #[async_trait]
    impl UsageStore for LostAnswers<MemoryUsageStore> {
        async fn add_usage(&self, batch: &UsageBatch) -> StoreResult<()> {
            self.inner.add_usage(batch).await?;
            self.answer(batch.deltas.len())
        }
        async fn usage_of(&self, d: Dimension, id: &str, bucket: &str) -> StoreResult<UsageCounters> {
            self.inner.usage_of(d, id, bucket).await
        }
        async fn usage_by(&self, d: Dimension, bucket: &str) -> StoreResult<Vec<(String, UsageCounters)>> {
            self.inner.usage_by(d, bucket).await
        }
        async fn push_recent(&self, key_id: &str, r: &[RecentRequest], keep: usize) -> StoreResult<()> {
            self.inner.push_recent(key_id, r, keep).await
        }
        async fn recent(&self, key_id: &str, limit: usize) -> StoreResult<Vec<RecentRequest>> {
            self.inner.recent(key_id, limit).await
        }
    }

    #[async_trait]
    impl LimitStore for LostAnswers<MemoryLimitStore> {
        async fn admit(&self, req: &Admission<'_>) -> StoreResult<Result<Option<Millis>, Refusal>> {
            self.inner.admit(req).await
        }
        async fn settle_many(&self, batch: &SettleBatch) -> StoreResult<()> {
            self.inner.settle_many(batch).await?;
            self.answer(batch.settlements.len())
        }
        async fn counters(
            &self,
            key_id: &str,
            now: Millis,
            window_ms: i64,
            day: &str,
            week: &str,
        ) -> StoreResult<KeyCounters> {
            self.inner.counters(key_id, now, window_ms, day, week).await
        }
        async fn raise_counters(
            &self,
            key_id: &str,
            day: &str,
            week: &str,
            to: &KeyCounters,
        ) -> StoreResult<bool> {
            self.inner.raise_counters(key_id, day, week, to).await
        }
    }

    fn record(n: u64) -> UsageRecord {
        UsageRecord {
            key_id: "k".into(),
            account_id: AccountId::new("acct"),
            platform: Platform::Claude,
            model: "claude-sonnet-4-5".into(),
            usage: TokenUsage {
                input_tokens: 1_000 + n,
                output_tokens: 100,
                ..TokenUsage::default()
            },
            at: AT,
            client_disconnected: false,
            cost_multiplier_ppm: 1_000_000,
            window_start: None,
        }
    }

    fn recorder(usage: Arc<dyn UsageStore>, limits: Arc<dyn LimitStore>) -> Arc<UsageRecorder> {
        UsageRecorder::new(
            usage,
            limits,
            Arc::new(Pricing::builtin()),
            Calendar::default(),
            10,
        )
    }

    #[actix_rt::test]
    async fn pending_requests_add_up_per_key_account_model_and_bucket() {
        let store = Arc::new(MemoryUsageStore::new());
        let r = recorder(store.clone(), Arc::new(MemoryLimitStore::new()));
        r.record(&record(1), WEEK.into());
        r.record(&record(2), WEEK.into());
        // Two requests share every aggregate: 3 dimensions x 4 buckets, each counting both.
        assert_eq!(r.pending.lock().counters.len(), 12);
        let day = Bucket::day(&Calendar::default(), AT);
        for (dimension, id) in [
            (Dimension::Key, "k"),
            (Dimension::Account, "acct"),
            (Dimension::Model, "claude-sonnet-4-5"),
        ] {
            for bucket in [Bucket::TOTAL, day.as_str()] {
                let c = r.usage_of(dimension, id, bucket).await.unwrap();
                assert_eq!((c.requests, c.input_tokens), (2, 2_003), "{dimension:?} {bucket}");
            }
        }
        r.flush().await.unwrap();
        let stored = store
            .usage_of(Dimension::Model, "claude-sonnet-4-5", &day)
            .await
            .unwrap();
        assert_eq!(stored.requests, 2);
    }

    #[actix_rt::test]
    async fn a_flush_whose_answer_was_lost_counts_once() {
        let store = LostAnswers::new(MemoryUsageStore::new(), 1);
        let r = recorder(store.clone(), Arc::new(MemoryLimitStore::new()));
        r.record(&record(1), WEEK.into());
        assert!(r.flush().await.is_err(), "the first answer is lost");
        // Recorded after the failure: a batch of its own, never merged into the first.
        r.record(&record(2), WEEK.into());
        r.flush().await.expect("the retry and the new batch land");
        assert_eq!(store.writes.load(Ordering::SeqCst), 3, "lost, retried, new");
        let stored = store.usage_of(Dimension::Key, "k", Bucket::TOTAL).await.unwrap();
        assert_eq!(stored.requests, 2, "each request counted once");
        assert_eq!(stored.input_tokens, 2_003);
        assert_eq!(
            r.usage_of(Dimension::Key, "k", Bucket::TOTAL).await.unwrap(),
            stored,
            "nothing left pending"
        );
        assert_eq!(r.recent("k", 10).await.unwrap().len(), 2);
        r.flush().await.unwrap();
        assert_eq!(store.writes.load(Ordering::SeqCst), 3, "nothing more to write");
    }

    #[actix_rt::test]
    async fn queued_settlements_go_in_batches_and_a_lost_answer_counts_once() {
        let limits = LostAnswers::new(MemoryLimitStore::new(), 1);
        let r = recorder(Arc::new(MemoryUsageStore::new()), limits.clone());
        r.spawn(Duration::from_secs(3_600));
        // Queued before the accounting task first runs (this runtime has one thread).
        let mut want = Money::ZERO;
        for n in 0..300 {
            want += r.record(&record(n), WEEK.into()).rated;
        }
        assert!(want > Money::ZERO);
        r.drain().await.unwrap();
        assert_eq!(
            *limits.sizes.lock(),
            [SETTLE_BATCH_MAX, SETTLE_BATCH_MAX, 300 - SETTLE_BATCH_MAX],
            "256 (answer lost), the same 256 again, the rest"
        );
        let day = Calendar::default().day(AT);
        let c = limits.counters("k", AT, 0, &day, WEEK).await.unwrap();
        assert_eq!(
            (c.total_cost, c.daily_cost, c.weekly_cost),
            (want, want, want),
            "each settlement counted once"
        );
    }
}
