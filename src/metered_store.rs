//! Counts the state store's operations (each one a round trip in Redis) and failures, for
//! `/metrics`, by wrapping any [`Store`].
use crate::metrics::StoreStats;
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use switchyard_actors::clock::Millis;
use switchyard_actors::store::{
    AccountPatch, AccountStore, HealthStore, SlotGrant, SlotRequest, SlotStore, StickyStore, StoreResult,
};
use switchyard_actors::{Account, AccountId, Credentials, Group, GroupId, Health, LeaseId, Store};

pub struct MeteredStore {
    inner: Arc<dyn Store>,
    stats: Arc<StoreStats>,
}

impl MeteredStore {
    pub fn wrap(inner: Arc<dyn Store>, stats: Arc<StoreStats>) -> Arc<dyn Store> {
        Arc::new(MeteredStore { inner, stats })
    }

    fn count<T>(&self, r: StoreResult<T>) -> StoreResult<T> {
        self.stats.ops.fetch_add(1, Ordering::Relaxed);
        if r.is_err() {
            self.stats.errors.fetch_add(1, Ordering::Relaxed);
        }
        r
    }
}

#[async_trait]
impl AccountStore for MeteredStore {
    async fn load_accounts(&self) -> StoreResult<Vec<Account>> {
        self.count(self.inner.load_accounts().await)
    }
    async fn get_account(&self, id: &AccountId) -> StoreResult<Option<Account>> {
        self.count(self.inner.get_account(id).await)
    }
    async fn put_account(&self, account: &Account) -> StoreResult<()> {
        self.count(self.inner.put_account(account).await)
    }
    async fn patch_account(&self, id: &AccountId, patch: &AccountPatch) -> StoreResult<Option<Account>> {
        self.count(self.inner.patch_account(id, patch).await)
    }
    async fn delete_account(&self, id: &AccountId) -> StoreResult<bool> {
        self.count(self.inner.delete_account(id).await)
    }
    async fn set_credentials(&self, id: &AccountId, credentials: &Credentials) -> StoreResult<()> {
        self.count(self.inner.set_credentials(id, credentials).await)
    }
    async fn touch_last_used(&self, used: &[(AccountId, Millis)]) -> StoreResult<()> {
        self.count(self.inner.touch_last_used(used).await)
    }
    async fn load_groups(&self) -> StoreResult<Vec<Group>> {
        self.count(self.inner.load_groups().await)
    }
    async fn put_group(&self, group: &Group) -> StoreResult<()> {
        self.count(self.inner.put_group(group).await)
    }
    async fn delete_group(&self, id: &GroupId) -> StoreResult<bool> {
        self.count(self.inner.delete_group(id).await)
    }
    async fn records_version(&self) -> StoreResult<u64> {
        self.count(self.inner.records_version().await)
    }
}

#[async_trait]
impl HealthStore for MeteredStore {
    async fn load_health(&self) -> StoreResult<HashMap<AccountId, Health>> {
        self.count(self.inner.load_health().await)
    }
    async fn put_health(&self, id: &AccountId, health: &Health) -> StoreResult<()> {
        self.count(self.inner.put_health(id, health).await)
    }
}

#[async_trait]
impl StickyStore for MeteredStore {
    async fn sticky_get(&self, key: &str, now: Millis) -> StoreResult<Option<AccountId>> {
        self.count(self.inner.sticky_get(key, now).await)
    }
    async fn sticky_set(&self, key: &str, account: &AccountId, ttl_ms: i64, now: Millis) -> StoreResult<()> {
        self.count(self.inner.sticky_set(key, account, ttl_ms, now).await)
    }
    async fn sticky_delete(&self, key: &str) -> StoreResult<bool> {
        self.count(self.inner.sticky_delete(key).await)
    }
    async fn sweep_sticky(&self, now: Millis) -> StoreResult<u64> {
        self.count(self.inner.sweep_sticky(now).await)
    }
}

#[async_trait]
impl SlotStore for MeteredStore {
    async fn acquire_slot(&self, req: &SlotRequest<'_>) -> StoreResult<Option<SlotGrant>> {
        self.count(self.inner.acquire_slot(req).await)
    }
    fn candidates_per_call(&self) -> usize {
        self.inner.candidates_per_call()
    }
    async fn renew_leases(
        &self,
        leases: &[(AccountId, LeaseId)],
        ttl_ms: i64,
        now: Millis,
    ) -> StoreResult<()> {
        self.count(self.inner.renew_leases(leases, ttl_ms, now).await)
    }
    async fn release_lease(&self, account: &AccountId, lease: &LeaseId) -> StoreResult<()> {
        self.count(self.inner.release_lease(account, lease).await)
    }
    async fn slot_counts(&self, now: Millis) -> StoreResult<HashMap<AccountId, u32>> {
        self.count(self.inner.slot_counts(now).await)
    }
    async fn release_leases(&self, leases: &[(AccountId, LeaseId)]) -> StoreResult<()> {
        self.count(self.inner.release_leases(leases).await)
    }
    async fn slot_count(&self, holder: &AccountId, now: Millis) -> StoreResult<u32> {
        self.count(self.inner.slot_count(holder, now).await)
    }
    async fn sweep_leases(&self, now: Millis) -> StoreResult<u64> {
        self.count(self.inner.sweep_leases(now).await)
    }
}
