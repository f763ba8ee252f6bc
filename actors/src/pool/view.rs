//! What the pool shares with the schedulers and with live leases: the published snapshot, the
//! leases this process holds (renewed until dropped), last-used times waiting to be written, and
//! the requests waiting for a slot (woken here when a slot is given back).
use super::snapshot::{AccountRuntime, PoolSnapshot};
use crate::clock::Millis;
use crate::domain::AccountId;
use crate::lease::{LeaseId, LeaseIds};
use crate::store::{SlotGrant, SlotRequest, Store, StoreResult};
use crate::wait_queue::SlotWaiters;
use arc_swap::ArcSwap;
use dashmap::DashMap;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub struct PoolView {
    snapshot: ArcSwap<PoolSnapshot>,
    pub(crate) runtimes: Mutex<HashMap<AccountId, Arc<AccountRuntime>>>,
    pub(crate) live_leases: DashMap<LeaseId, AccountId>,
    pub(crate) lease_ids: LeaseIds,
    /// Last-used times not yet written to the store.
    pub(crate) unflushed_use: Mutex<HashMap<AccountId, Millis>>,
    /// Slots given back by dropped leases, waiting for the pool to release them in the store.
    /// Leases are dropped on every thread; queueing them and waking the pool once per batch
    /// spares each drop a cross-thread wake-up of the pool's arbiter.
    released: Mutex<Vec<(AccountId, LeaseId)>>,
    /// A [`FlushReleases`](super::actor::FlushReleases) is on its way to the pool and has not
    /// taken the queue yet.
    flush_sent: AtomicBool,
    pub(crate) store: Arc<dyn Store>,
    /// Requests waiting for a slot; woken once a release has reached the store.
    pub(crate) waiters: Arc<SlotWaiters>,
    /// Where the pool announces account state changes (alerts).
    pub(crate) events: super::events::EventSinkSlot,
}

impl PoolView {
    pub(crate) fn new(store: Arc<dyn Store>) -> Self {
        PoolView {
            snapshot: ArcSwap::from_pointee(PoolSnapshot::default()),
            runtimes: Mutex::default(),
            live_leases: DashMap::new(),
            lease_ids: LeaseIds::default(),
            unflushed_use: Mutex::default(),
            released: Mutex::default(),
            flush_sent: AtomicBool::new(false),
            store,
            waiters: Arc::default(),
            events: Default::default(),
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

    /// Queues a slot for release. Answers whether the caller must send the pool a
    /// `FlushReleases` (none is on its way yet).
    pub(crate) fn queue_release(&self, account: AccountId, lease: LeaseId) -> bool {
        self.released.lock().push((account, lease));
        !self.flush_sent.swap(true, Ordering::AcqRel)
    }

    /// Takes the queued releases (the pool, handling `FlushReleases`). The flag is cleared
    /// first: a slot queued after that sends a new flush, so none is ever left behind.
    pub(crate) fn take_releases(&self) -> Vec<(AccountId, LeaseId)> {
        self.flush_sent.store(false, Ordering::Release);
        std::mem::take(&mut *self.released.lock())
    }

    /// Takes a slot among `req`'s candidates. Releases are batched, so when every candidate
    /// is full, slots of leases dropped a moment ago may still wait for the pool's next flush:
    /// those are handed to the store now, from the caller's task, and the acquisition tried once
    /// more. A slot that is already free is never refused.
    pub(crate) async fn acquire_slot(&self, req: &SlotRequest<'_>) -> StoreResult<Option<SlotGrant>> {
        if let Some(grant) = self.store.acquire_slot(req).await? {
            return Ok(Some(grant));
        }
        let queued = self.take_releases();
        if queued.is_empty() {
            return Ok(None);
        }
        self.release(&queued).await;
        self.store.acquire_slot(req).await
    }

    /// Releases `batch` in the store, then wakes one waiter per freed slot. The wake comes
    /// after the store has the slot back, so the woken waiter's retry finds it.
    pub(crate) async fn release(&self, batch: &[(AccountId, LeaseId)]) {
        release_all(&*self.store, batch).await;
        self.slots_freed(batch.iter().map(|(account, _)| account));
    }

    /// Wakes one waiter per freed account slot (slots of other holders, such as API keys, wake
    /// nobody).
    pub(crate) fn slots_freed<'a>(&self, accounts: impl Iterator<Item = &'a AccountId>) {
        let snapshot = self.snapshot();
        for account in accounts {
            if let Some(e) = snapshot.get(account) {
                self.waiters.slot_freed(e.account.platform(), account);
            }
        }
    }

    /// Wakes local waiters for slots other instances free, as the store reports them, until
    /// the store's notice stream ends. Our own releases woke ours already.
    pub(crate) fn follow_slot_notices(self: &Arc<Self>) {
        let Some(mut notices) = self.store.slot_notices() else {
            return;
        };
        let view = Arc::downgrade(self);
        tokio::spawn(async move {
            use futures::StreamExt;
            while let Some((account, lease)) = notices.next().await {
                let Some(view) = view.upgrade() else { return };
                if !view.lease_ids.is_own(&lease) {
                    view.slots_freed(std::iter::once(&account));
                }
            }
        });
    }

    /// Release path for a lease dropped after the actor system stopped.
    pub(crate) fn release_directly(self: &Arc<Self>, account: AccountId, lease: LeaseId) {
        let view = self.clone();
        let fut = async move { view.release(&[(account, lease)]).await };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(fut);
            }
            Err(_) => futures::executor::block_on(fut),
        }
    }
}

/// Releases `batch` in the store, in one call. A failure is logged: the leases' TTL frees the
/// slots anyway.
pub(crate) async fn release_all(store: &dyn Store, batch: &[(AccountId, LeaseId)]) {
    if let Err(e) = store.release_leases(batch).await {
        tracing::warn!(leases = batch.len(), error = %e, "slot release failed; the slots will expire");
    }
}
