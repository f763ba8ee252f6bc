//! The state contract every backend implements: accounts and groups, account health,
//! sticky session bindings and slot leases. Backends: [`memory`] (tests, and the transient half
//! of the embedded default) and, in the root crate's later modules, durable and Redis stores.
//!
//! Every update is field-level: recording a use or a cooldown never rewrites an account record.
use crate::clock::Millis;
use crate::domain::{Account, AccountId, Credentials, Group, GroupId, Health};
use crate::lease::LeaseId;
use async_trait::async_trait;
use std::collections::HashMap;

pub mod conformance;
pub mod memory;

pub use memory::MemoryStore;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The backend cannot be reached (Redis down, file locked by another process...).
    #[error("state store unavailable: {0}")]
    Unavailable(String),
    /// Stored data could not be read back.
    #[error("state store data is corrupt: {0}")]
    Corrupt(String),
    #[error("not found: {0}")]
    NotFound(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Operator-level changes to an account; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct AccountPatch {
    pub name: Option<String>,
    pub active: Option<bool>,
    pub schedulable: Option<bool>,
    pub status: Option<crate::domain::AccountStatus>,
    pub sharing: Option<crate::domain::Sharing>,
    pub priority: Option<u32>,
    pub max_concurrency: Option<u32>,
    pub models: Option<crate::domain::ModelSupport>,
    pub base_url: Option<String>,
    pub proxy: Option<String>,
    /// Replaces the account's whole pacing override (`{}` clears it).
    pub pacing: Option<crate::domain::Pacing>,
}

impl AccountPatch {
    pub fn apply(&self, a: &mut Account) {
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = &self.$f { a.$f = v.clone(); } )* };
        }
        set!(
            name,
            active,
            schedulable,
            status,
            sharing,
            priority,
            max_concurrency,
            models,
            pacing
        );
        if let Some(u) = &self.base_url {
            a.base_url = Some(u.clone()).filter(|u| !u.is_empty());
        }
        if let Some(p) = &self.proxy {
            a.proxy = Some(p.clone()).filter(|p| !p.is_empty());
        }
    }
}

#[async_trait]
pub trait AccountStore: Send + Sync {
    async fn load_accounts(&self) -> StoreResult<Vec<Account>>;
    async fn get_account(&self, id: &AccountId) -> StoreResult<Option<Account>>;
    /// Creates or replaces a whole record (operator create / import only).
    async fn put_account(&self, account: &Account) -> StoreResult<()>;
    /// Field-level operator update; `Ok(None)` when the account does not exist.
    async fn patch_account(&self, id: &AccountId, patch: &AccountPatch) -> StoreResult<Option<Account>>;
    async fn delete_account(&self, id: &AccountId) -> StoreResult<bool>;
    /// Replaces only the credential field (token refresh).
    async fn set_credentials(&self, id: &AccountId, credentials: &Credentials) -> StoreResult<()>;
    /// Writes only the last-used field of each account.
    async fn touch_last_used(&self, used: &[(AccountId, Millis)]) -> StoreResult<()>;

    async fn load_groups(&self) -> StoreResult<Vec<Group>>;
    async fn put_group(&self, group: &Group) -> StoreResult<()>;
    async fn delete_group(&self, id: &GroupId) -> StoreResult<bool>;

    /// Changes whenever an account or group record changes, so other instances know to reload.
    async fn records_version(&self) -> StoreResult<u64>;
}

#[async_trait]
pub trait HealthStore: Send + Sync {
    async fn load_health(&self) -> StoreResult<HashMap<AccountId, Health>>;
    /// Replaces one account's health (a clear health deletes it).
    async fn put_health(&self, id: &AccountId, health: &Health) -> StoreResult<()>;
    /// Claims the right to send the alert `name` (account and event kind) for `window_ms`,
    /// for every instance sharing the store: true for the first claim in the window. A store
    /// only one process uses answers true: that process deduplicates its own alerts.
    async fn claim_alert(&self, _name: &str, _window_ms: i64) -> StoreResult<bool> {
        Ok(true)
    }
}

/// How a store keeps session bindings: each lives `ttl_ms` after its last use (a TTL of 0 or
/// less deletes), and at most `max_bindings` (at least 1) are kept. Binding a new session when
/// the store is full first forgets expired bindings, then the least recently used ones: a
/// binding is a cache hint, so losing an old one costs a prompt-cache miss, never a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StickyPolicy {
    pub ttl_ms: i64,
    pub max_bindings: u64,
}

/// Session bindings by key (see `sticky::sticky_key`: platform, API key and session).
#[async_trait]
pub trait StickyStore: Send + Sync {
    async fn sticky_get(&self, key: &str, now: Millis) -> StoreResult<Option<AccountId>>;
    async fn sticky_set(
        &self,
        key: &str,
        account: &AccountId,
        policy: StickyPolicy,
        now: Millis,
    ) -> StoreResult<()>;
    async fn sticky_delete(&self, key: &str) -> StoreResult<bool>;
    /// Drops expired bindings (backends with native TTLs may do nothing); returns how many.
    async fn sweep_sticky(&self, now: Millis) -> StoreResult<u64>;
}

/// One account the scheduler would accept, with its concurrency limit (0 = unlimited).
///
/// Slots are keyed by holder id: account ids, and other holders in a `prefix:` namespace (the
/// server's API-key slots are `key:{key id}`, see `Scheduling::hold_slot`). Account ids are
/// UUIDs and never contain `:`, so the two never collide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotCandidate {
    pub account: AccountId,
    pub limit: u32,
}

/// The session binding to honour and (re)write during a slot acquisition.
#[derive(Debug, Clone, Copy)]
pub struct StickyRequest<'a> {
    pub key: &'a str,
    pub policy: StickyPolicy,
}

#[derive(Debug, Clone)]
pub struct SlotRequest<'a> {
    /// In preference order.
    pub candidates: &'a [SlotCandidate],
    pub sticky: Option<StickyRequest<'a>>,
    pub lease: &'a LeaseId,
    pub lease_ttl_ms: i64,
    pub now: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotGrant {
    pub account: AccountId,
    /// The session was already bound to this account.
    pub sticky_hit: bool,
}

/// What [`SlotStore::pacing_take`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacingTake {
    /// The caller holds the account's user-turn gate until it releases it or its TTL ends.
    Taken,
    /// Another holder has it, or the gap after the last release still runs: ask again in
    /// about this many ms.
    Busy { retry_in_ms: i64 },
}

#[async_trait]
pub trait SlotStore: Send + Sync {
    /// Atomically: read the session binding; if the bound account is among the candidates try it
    /// first, then the others in order; take a slot on the first whose live leases are below its
    /// limit; (re)bind the session to it with the TTL. `None` when every candidate is full.
    async fn acquire_slot(&self, req: &SlotRequest<'_>) -> StoreResult<Option<SlotGrant>>;
    /// How many candidates one `acquire_slot` call should carry (bounds script arguments).
    fn candidates_per_call(&self) -> usize {
        usize::MAX
    }
    /// Pushes the expiry of live leases forward; unknown leases are ignored.
    async fn renew_leases(
        &self,
        leases: &[(AccountId, LeaseId)],
        ttl_ms: i64,
        now: Millis,
    ) -> StoreResult<()>;
    /// Idempotent.
    async fn release_lease(&self, account: &AccountId, lease: &LeaseId) -> StoreResult<()>;
    /// Releases a batch of leases (the pool hands dropped leases on in batches). Idempotent.
    /// The default issues every release at once; backends should do the batch in one
    /// operation (one lock, one pipeline).
    async fn release_leases(&self, leases: &[(AccountId, LeaseId)]) -> StoreResult<()> {
        let releases = leases.iter().map(|(a, l)| self.release_lease(a, l));
        futures::future::join_all(releases).await.into_iter().collect()
    }
    /// Slots freed by any instance sharing the store, as they are freed (a notice may be lost:
    /// waiters re-check now and then anyway). `None`: nothing but this process frees slots here,
    /// and it wakes its own waiters directly.
    fn slot_notices(&self) -> Option<futures::stream::BoxStream<'static, (AccountId, LeaseId)>> {
        None
    }
    /// Live (unexpired) leases per account; accounts with none may be absent.
    async fn slot_counts(&self, now: Millis) -> StoreResult<HashMap<AccountId, u32>>;
    /// Live (unexpired) leases of one slot holder (an account, or any other holder id such as
    /// `key:{id}`). The default reads every count; backends should answer for the one holder.
    async fn slot_count(&self, holder: &AccountId, now: Millis) -> StoreResult<u32> {
        Ok(self.slot_counts(now).await?.get(holder).copied().unwrap_or(0))
    }
    /// Removes expired leases (a crashed instance's); returns how many.
    async fn sweep_leases(&self, now: Millis) -> StoreResult<u64>;

    /// Takes `account`'s user-turn gate (pacing) for `holder`, for every instance sharing the
    /// store: free when no other holder has it and `min_gap_ms` passed since the last release;
    /// held for at most `ttl_ms` (a crashed instance's turn expires). A store only one process
    /// uses answers `Taken`: that process's own gate (`relay::pacing`) already orders its turns.
    async fn pacing_take(
        &self,
        _account: &AccountId,
        _holder: &str,
        _min_gap_ms: i64,
        _ttl_ms: i64,
        _now: Millis,
    ) -> StoreResult<PacingTake> {
        Ok(PacingTake::Taken)
    }
    /// Gives the gate back if `holder` still has it and notes the release time (kept `keep_ms`,
    /// long enough for the gap). Idempotent.
    async fn pacing_release(
        &self,
        _account: &AccountId,
        _holder: &str,
        _keep_ms: i64,
        _now: Millis,
    ) -> StoreResult<()> {
        Ok(())
    }
}

/// Everything the actors need from state.
pub trait Store: AccountStore + HealthStore + StickyStore + SlotStore + Send + Sync + 'static {}

impl<T: AccountStore + HealthStore + StickyStore + SlotStore + Send + Sync + 'static> Store for T {}
