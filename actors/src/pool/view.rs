//! What the pool shares with the schedulers and with live leases: the published snapshot, the
//! leases this process holds (renewed until dropped) and last-used times waiting to be written.
use super::actor::ReleaseSlot;
use super::snapshot::{AccountRuntime, PoolSnapshot};
use crate::clock::Millis;
use crate::domain::AccountId;
use crate::lease::{LeaseId, LeaseIds};
use crate::store::Store;
use arc_swap::ArcSwap;
use dashmap::DashMap;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;

pub struct PoolView {
    snapshot: ArcSwap<PoolSnapshot>,
    pub(crate) runtimes: Mutex<HashMap<AccountId, Arc<AccountRuntime>>>,
    pub(crate) live_leases: DashMap<LeaseId, AccountId>,
    pub(crate) lease_ids: LeaseIds,
    /// Last-used times not yet written to the store.
    pub(crate) unflushed_use: Mutex<HashMap<AccountId, Millis>>,
    pub(crate) store: Arc<dyn Store>,
}

impl PoolView {
    pub(crate) fn new(store: Arc<dyn Store>) -> Self {
        PoolView {
            snapshot: ArcSwap::from_pointee(PoolSnapshot::default()),
            runtimes: Mutex::default(),
            live_leases: DashMap::new(),
            lease_ids: LeaseIds::default(),
            unflushed_use: Mutex::default(),
            store,
        }
    }

    pub fn snapshot(&self) -> Arc<PoolSnapshot> {
        self.snapshot.load_full()
    }

    pub(crate) fn publish(&self, snapshot: PoolSnapshot) {
        self.snapshot.store(Arc::new(snapshot));
    }

    /// Leases this process holds right now.
    pub fn live_lease_count(&self) -> usize {
        self.live_leases.len()
    }

    pub(crate) fn record_use(&self, snapshot: &PoolSnapshot, account: &AccountId, now: Millis) {
        if let Some(e) = snapshot.get(account) {
            e.runtime.touch(now);
        }
        self.unflushed_use.lock().insert(account.clone(), now);
    }

    /// Release path for a lease dropped after the actor system stopped.
    pub(crate) fn release_directly(&self, msg: ReleaseSlot) {
        let store = self.store.clone();
        let fut = async move {
            if let Err(e) = store.release_lease(&msg.account, &msg.lease).await {
                tracing::warn!(account = %msg.account, error = %e, "lease release failed; it will expire");
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(fut);
            }
            Err(_) => futures::executor::block_on(fut),
        }
    }
}
