//! Slot leases and sticky bindings in Redis, all under the `{sched}` hash tag. A selection is
//! one `acquire_slot` script (one round trip); a release is one ZREM; renewals are one pipeline
//! per renew interval. Leases are sorted-set members scored by expiry, so a crashed instance's
//! leases stop counting when they expire and are removed by any instance's sweep. Session
//! bindings are one hash plus a sorted set of their expiries, so their number can be bounded
//! (see `scripts::STICKY`); any instance's sweep drops the expired ones.
use super::RedisStore;
use ::redis::AsyncCommands;
use async_trait::async_trait;
use std::collections::HashMap;
use switchyard_actors::clock::Millis;
use switchyard_actors::domain::AccountId;
use switchyard_actors::lease::LeaseId;
use switchyard_actors::store::{
    PacingTake, SlotGrant, SlotRequest, SlotStore, StickyPolicy, StickyStore, StoreResult,
};

/// Candidates per `acquire_slot` script: bounds the script's keys and arguments (about 100 bytes
/// per candidate, a few KB per call) while typical pools still fit in one call.
const CANDIDATES_PER_CALL: usize = 64;

impl RedisStore {
    /// The accounts that may have a slot sorted set.
    async fn slot_accounts(&self, op: &'static str) -> StoreResult<Vec<String>> {
        let mut c = self.conn();
        let index = self.keyspace.slot_index();
        self.timed(op, async { c.smembers(&index).await }).await
    }
}

#[async_trait]
impl StickyStore for RedisStore {
    /// One MULTI: the bound account and its expiry.
    async fn sticky_get(&self, key: &str, now: Millis) -> StoreResult<Option<AccountId>> {
        let mut pipe = ::redis::pipe();
        pipe.atomic()
            .hget(self.keyspace.sticky_bindings(), key)
            .zscore(self.keyspace.sticky_expiry(), key);
        let mut c = self.conn();
        let (bound, until): (Option<String>, Option<f64>) = self
            .timed("sticky_get", async { pipe.query_async(&mut c).await })
            .await?;
        Ok(bound
            .filter(|_| until.is_some_and(|u| u > now as f64))
            .map(AccountId::new))
    }

    async fn sticky_set(
        &self,
        key: &str,
        account: &AccountId,
        policy: StickyPolicy,
        now: Millis,
    ) -> StoreResult<()> {
        if policy.ttl_ms <= 0 {
            return self.sticky_delete(key).await.map(|_| ());
        }
        let mut inv = self.scripts.sticky_set.prepare_invoke();
        inv.key(self.keyspace.sticky_bindings())
            .key(self.keyspace.sticky_expiry())
            .arg(key)
            .arg(account.as_str())
            .arg(now + policy.ttl_ms)
            .arg(now)
            .arg(policy.max_bindings);
        let mut c = self.conn();
        self.timed("sticky_set", async { inv.invoke_async::<()>(&mut c).await })
            .await
    }

    /// One MULTI over the binding and its expiry.
    async fn sticky_delete(&self, key: &str) -> StoreResult<bool> {
        let mut pipe = ::redis::pipe();
        pipe.atomic()
            .hdel(self.keyspace.sticky_bindings(), key)
            .zrem(self.keyspace.sticky_expiry(), key)
            .ignore();
        let mut c = self.conn();
        let (n,): (i64,) = self
            .timed("sticky_delete", async { pipe.query_async(&mut c).await })
            .await?;
        Ok(n > 0)
    }

    async fn sweep_sticky(&self, now: Millis) -> StoreResult<u64> {
        let mut inv = self.scripts.sticky_sweep.prepare_invoke();
        inv.key(self.keyspace.sticky_bindings())
            .key(self.keyspace.sticky_expiry())
            .arg(now);
        let mut c = self.conn();
        self.timed("sweep_sticky", async { inv.invoke_async(&mut c).await })
            .await
    }
}

#[async_trait]
impl SlotStore for RedisStore {
    async fn acquire_slot(&self, req: &SlotRequest<'_>) -> StoreResult<Option<SlotGrant>> {
        if req.candidates.is_empty() {
            return Ok(None);
        }
        let k = &self.keyspace;
        let mut inv = self.scripts.acquire_slot.prepare_invoke();
        inv.key(k.slot_index());
        let (sticky_until, field, max_bindings) = match req.sticky {
            Some(st) if st.policy.ttl_ms > 0 => {
                inv.key(k.sticky_bindings()).key(k.sticky_expiry());
                (req.now + st.policy.ttl_ms, st.key, st.policy.max_bindings)
            }
            _ => (0, "", 0),
        };
        inv.arg(req.now)
            .arg(req.lease.as_str())
            .arg(req.now + req.lease_ttl_ms)
            .arg(sticky_until)
            .arg(field)
            .arg(max_bindings);
        for c in req.candidates {
            inv.key(k.slots(c.account.as_str()))
                .arg(c.account.as_str())
                .arg(c.limit);
        }
        let mut c = self.conn();
        let granted: Option<(String, i64)> = self
            .timed("acquire_slot", async { inv.invoke_async(&mut c).await })
            .await?;
        Ok(granted.map(|(account, hit)| SlotGrant {
            account: AccountId::new(account),
            sticky_hit: hit == 1,
        }))
    }

    fn candidates_per_call(&self) -> usize {
        CANDIDATES_PER_CALL
    }

    /// One pipeline of `ZADD XX` (only leases still present are renewed).
    async fn renew_leases(
        &self,
        leases: &[(AccountId, LeaseId)],
        ttl_ms: i64,
        now: Millis,
    ) -> StoreResult<()> {
        if leases.is_empty() {
            return Ok(());
        }
        let expiry = now + ttl_ms;
        let mut pipe = ::redis::pipe();
        for (account, lease) in leases {
            pipe.cmd("ZADD")
                .arg(self.keyspace.slots(account.as_str()))
                .arg("XX")
                .arg(expiry)
                .arg(lease.as_str())
                .ignore();
        }
        let mut c = self.conn();
        self.timed("renew_leases", async { pipe.query_async::<()>(&mut c).await })
            .await
    }

    async fn release_lease(&self, account: &AccountId, lease: &LeaseId) -> StoreResult<()> {
        self.release_leases(&[(account.clone(), lease.clone())]).await
    }

    /// One pipeline for a batch of releases (the pool releases dropped leases in batches), with
    /// one PUBLISH per freed account slot so waiters on other instances wake (`notices.rs`).
    /// A Cluster pipeline keeps to the `{sched}` slot: the notices follow as their own pipeline.
    async fn release_leases(&self, leases: &[(AccountId, LeaseId)]) -> StoreResult<()> {
        if leases.is_empty() {
            return Ok(());
        }
        let mut pipe = ::redis::pipe();
        for (account, lease) in leases {
            pipe.zrem(self.keyspace.slots(account.as_str()), lease.as_str())
                .ignore();
        }
        let channel = self.keyspace.slot_freed_channel();
        // Holders other than accounts (`key:{id}`) have no waiters to wake.
        let notices: Vec<String> = leases
            .iter()
            .filter(|(a, _)| !a.as_str().contains(':'))
            .map(|(account, lease)| super::notices::notice(account, lease))
            .collect();
        let mut c = self.conn();
        if self.conn.is_cluster() {
            self.timed("release_leases", async { pipe.query_async::<()>(&mut c).await })
                .await?;
            if notices.is_empty() {
                return Ok(());
            }
            let mut publish = ::redis::pipe();
            for n in &notices {
                publish.publish(&channel, n).ignore();
            }
            self.timed("slot_notices", async { publish.query_async::<()>(&mut c).await })
                .await
        } else {
            for n in &notices {
                pipe.publish(&channel, n).ignore();
            }
            self.timed("release_leases", async { pipe.query_async::<()>(&mut c).await })
                .await
        }
    }

    fn slot_notices(&self) -> Option<futures::stream::BoxStream<'static, (AccountId, LeaseId)>> {
        Some(super::notices::subscribe(
            self.url.clone(),
            self.keyspace.slot_freed_channel(),
        ))
    }

    async fn slot_counts(&self, now: Millis) -> StoreResult<HashMap<AccountId, u32>> {
        let accounts = self.slot_accounts("slot_counts").await?;
        if accounts.is_empty() {
            return Ok(HashMap::new());
        }
        let mut pipe = ::redis::pipe();
        let live_from = format!("({now}");
        for a in &accounts {
            pipe.zcount(self.keyspace.slots(a), &live_from, "+inf");
        }
        let mut c = self.conn();
        let counts: Vec<u32> = self
            .timed("slot_counts", async { pipe.query_async(&mut c).await })
            .await?;
        Ok(accounts
            .into_iter()
            .zip(counts)
            .filter(|(_, n)| *n > 0)
            .map(|(a, n)| (AccountId::new(a), n))
            .collect())
    }

    /// One ZCOUNT on the holder's sorted set.
    async fn slot_count(&self, holder: &AccountId, now: Millis) -> StoreResult<u32> {
        let mut c = self.conn();
        let key = self.keyspace.slots(holder.as_str());
        let live_from = format!("({now}");
        self.timed("slot_count", async { c.zcount(&key, &live_from, "+inf").await })
            .await
    }

    async fn sweep_leases(&self, now: Millis) -> StoreResult<u64> {
        let accounts = self.slot_accounts("sweep_leases").await?;
        if accounts.is_empty() {
            return Ok(0);
        }
        let mut inv = self.scripts.sweep_leases.prepare_invoke();
        inv.key(self.keyspace.slot_index()).arg(now);
        for a in &accounts {
            inv.key(self.keyspace.slots(a)).arg(a.as_str());
        }
        let mut c = self.conn();
        let removed: u64 = self
            .timed("sweep_leases", async { inv.invoke_async(&mut c).await })
            .await?;
        Ok(removed)
    }

    async fn pacing_take(
        &self,
        account: &AccountId,
        holder: &str,
        min_gap_ms: i64,
        ttl_ms: i64,
        now: Millis,
    ) -> StoreResult<PacingTake> {
        let mut inv = self.scripts.pacing_take.prepare_invoke();
        inv.key(self.keyspace.pacing_gate(account.as_str()))
            .key(self.keyspace.pacing_released(account.as_str()))
            .arg(holder)
            .arg(min_gap_ms)
            .arg(ttl_ms.max(1))
            .arg(now);
        let mut c = self.conn();
        let wait: i64 = self
            .timed("pacing_take", async { inv.invoke_async(&mut c).await })
            .await?;
        Ok(match wait {
            0 => PacingTake::Taken,
            ms => PacingTake::Busy { retry_in_ms: ms },
        })
    }

    async fn pacing_release(
        &self,
        account: &AccountId,
        holder: &str,
        keep_ms: i64,
        now: Millis,
    ) -> StoreResult<()> {
        let mut inv = self.scripts.pacing_release.prepare_invoke();
        inv.key(self.keyspace.pacing_gate(account.as_str()))
            .key(self.keyspace.pacing_released(account.as_str()))
            .arg(holder)
            .arg(now)
            .arg(keep_ms.max(1));
        let mut c = self.conn();
        self.timed("pacing_release", async { inv.invoke_async::<()>(&mut c).await })
            .await
    }
}
