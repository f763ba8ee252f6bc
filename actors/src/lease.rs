//! A held concurrency slot. Dropping the [`Lease`] releases the slot exactly once, whichever
//! way the request ended (finished, failed, client gone, task panicked).
use crate::domain::AccountId;
use crate::pool::{AccountPool, FlushReleases, PoolView};
use actix::Addr;
use rand::Rng;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Unique across instances: a random per-process prefix and a counter.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LeaseId(Arc<str>);

impl LeaseId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn from_string(s: impl AsRef<str>) -> Self {
        Self(Arc::from(s.as_ref()))
    }
}

impl fmt::Debug for LeaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for LeaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Hands out lease ids; one per process.
#[derive(Debug)]
pub struct LeaseIds {
    instance: u64,
    next: AtomicU64,
}

impl Default for LeaseIds {
    fn default() -> Self {
        Self {
            instance: rand::rng().random(),
            next: AtomicU64::new(1),
        }
    }
}

impl LeaseIds {
    /// Whether `id` was handed out by this process (its releases wake waiters directly).
    pub fn is_own(&self, id: &LeaseId) -> bool {
        id.as_str()
            .split_once('-')
            .and_then(|(instance, _)| u64::from_str_radix(instance, 16).ok())
            == Some(self.instance)
    }

    pub fn next(&self) -> LeaseId {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        LeaseId(Arc::from(format!("{:016x}-{n:x}", self.instance)))
    }
}

/// RAII guard for one slot of one account.
pub struct Lease {
    account: AccountId,
    id: LeaseId,
    pool: Addr<AccountPool>,
    view: Arc<PoolView>,
}

impl Lease {
    /// Registers the lease as live (so the pool renews it) and returns its guard.
    pub(crate) fn held(
        account: AccountId,
        id: LeaseId,
        pool: Addr<AccountPool>,
        view: Arc<PoolView>,
    ) -> Self {
        view.live_leases.insert(id.clone(), account.clone());
        Lease {
            account,
            id,
            pool,
            view,
        }
    }

    pub fn account(&self) -> &AccountId {
        &self.account
    }

    pub fn id(&self) -> &LeaseId {
        &self.id
    }
}

impl fmt::Debug for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lease")
            .field("account", &self.account)
            .field("id", &self.id)
            .finish()
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // Stop renewing at once; the store release follows through the pool.
        self.view.live_leases.remove(&self.id);
        let (account, lease) = (self.account.clone(), self.id.clone());
        if !self.pool.connected() {
            // The actor system is gone (shutdown): release straight through the store.
            self.view.release_directly(account, lease);
        } else if self.view.queue_release(account, lease) {
            // `do_send` ignores the mailbox bound on purpose: a release must never be dropped.
            self.pool.do_send(FlushReleases);
        }
    }
}
