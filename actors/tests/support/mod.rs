//! Shared harness for the scheduling-core integration tests: a real [`Scheduling`] over a
//! [`MemoryStore`] with a [`ManualClock`], accounts written through the store then reloaded,
//! plus a store wrapper with hooks (chunk size, a gate on loads, a panic on acquisition) for the
//! tests that need a backend to misbehave.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use switchyard_actors::clock::Millis;
use switchyard_actors::pool::MarkOutcome;
use switchyard_actors::pool::{HealthChange, Outcome};
use switchyard_actors::settings::SchedulingSettings;
use switchyard_actors::store::MemoryStore;
use switchyard_actors::store::{
    AccountPatch, AccountStore, HealthStore, SlotGrant, SlotRequest, SlotStore, StickyPolicy, StickyStore,
    StoreResult,
};
use switchyard_actors::{
    Account, AccountId, AccountKind, Clock, Credentials, Group, GroupId, Health, LeaseId, ManualClock,
    NoAccount, Platform, Scheduling, SelectAccount, SelectError, Selection, Store,
};

/// How long a test waits for something asynchronous (a release through the pool's mailbox, a
/// restart) before it fails.
pub const SETTLE: Duration = Duration::from_secs(5);

pub struct Harness {
    pub scheduling: Scheduling,
    pub store: Arc<dyn Store>,
    pub clock: Arc<ManualClock>,
}

/// Settings for tests: the defaults, but no background refresh from the store during a test
/// (every store change a test makes is followed by an explicit reload, or by a restart when the
/// test is about rebuilding state).
pub fn quiet_settings() -> SchedulingSettings {
    let mut s = SchedulingSettings::default();
    s.scheduler.refresh_ms = 3_600_000;
    s
}

pub async fn start() -> Harness {
    start_with(quiet_settings()).await
}

pub async fn start_with(settings: SchedulingSettings) -> Harness {
    start_on(Arc::new(MemoryStore::new()), settings, None).await
}

pub async fn start_on(
    store: Arc<dyn Store>,
    settings: SchedulingSettings,
    arbiter: Option<&actix::ArbiterHandle>,
) -> Harness {
    let clock = ManualClock::new();
    let scheduling = Scheduling::start(store.clone(), clock.clone(), settings, arbiter)
        .await
        .expect("scheduling starts");
    Harness {
        scheduling,
        store,
        clock,
    }
}

/// A shared, active, unlimited Claude Console account created at `created_at`.
pub fn claude(id: &str, created_at: Millis) -> Account {
    account(id, AccountKind::ClaudeConsole, created_at)
}

pub fn claude_oauth(id: &str, created_at: Millis) -> Account {
    account(id, AccountKind::ClaudeOfficial, created_at)
}

pub fn gemini(id: &str, created_at: Millis) -> Account {
    account(id, AccountKind::GeminiApi, created_at)
}

pub fn openai(id: &str, created_at: Millis) -> Account {
    account(id, AccountKind::OpenAiResponses, created_at)
}

pub fn account(id: &str, kind: AccountKind, created_at: Millis) -> Account {
    let mut a = Account::new(id, kind, created_at);
    a.credentials = Credentials::ApiKey {
        key: switchyard_actors::Secret::new(format!("key-{id}")),
    };
    a
}

pub fn id(s: &str) -> AccountId {
    AccountId::new(s)
}

pub fn session(s: &str) -> switchyard_actors::session::SessionId {
    switchyard_actors::session::SessionId::new(s)
}

impl Harness {
    pub fn now(&self) -> Millis {
        self.clock.now_ms()
    }

    /// Writes the accounts to the store and has the pool republish.
    pub async fn add(&self, accounts: impl IntoIterator<Item = Account>) {
        for a in accounts {
            self.store.put_account(&a).await.unwrap();
        }
        self.scheduling.reload().await.unwrap();
    }

    pub async fn add_group(&self, group: Group) {
        self.store.put_group(&group).await.unwrap();
        self.scheduling.reload().await.unwrap();
    }

    pub async fn patch(&self, id: &str, patch: AccountPatch) {
        self.store
            .patch_account(&AccountId::new(id), &patch)
            .await
            .unwrap();
        self.scheduling.reload().await.unwrap();
    }

    pub async fn select(&self, req: SelectAccount) -> Result<Selection, SelectError> {
        self.scheduling.select(req).await
    }

    /// Selects, releases the slot at once, and answers with the chosen account's id.
    pub async fn pick(&self, req: SelectAccount) -> String {
        let s = self.scheduling.select(req).await.expect("an account is selected");
        s.account.id.as_str().to_owned()
    }

    /// The reason no account was selected; fails the test if one was.
    pub async fn refused(&self, req: SelectAccount) -> NoAccount {
        match self.scheduling.select(req).await {
            Err(SelectError::NoAccount(no)) => no,
            Ok(s) => panic!("expected no account, got {}", s.account.id),
            Err(other) => panic!("expected a NoAccount reason, got {other:?}"),
        }
    }

    pub async fn mark(&self, account: &str, outcome: Outcome, model: Option<&str>) -> HealthChange {
        self.scheduling
            .mark_outcome(MarkOutcome {
                account: AccountId::new(account),
                outcome,
                model: model.map(str::to_owned),
            })
            .await
            .expect("mark_outcome answers")
    }

    /// Live leases per account, with zero counts dropped and ids as strings.
    pub async fn counts(&self) -> HashMap<String, u32> {
        self.scheduling
            .slot_counts()
            .await
            .expect("slot counts")
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(a, n)| (a.as_str().to_owned(), n))
            .collect()
    }

    /// Polls the slot counts (releases travel through the pool's mailbox) until they equal
    /// `expected`, or fails after [`SETTLE`].
    pub async fn settle_counts(&self, expected: &[(&str, u32)]) {
        let expected: HashMap<String, u32> = expected
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(a, n)| (a.to_string(), *n))
            .collect();
        let deadline = Instant::now() + SETTLE;
        loop {
            let now = self.counts().await;
            if now == expected {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "slot counts did not settle: have {now:?}, want {expected:?}"
            );
            actix_rt::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// The account's health as the store holds it.
    pub async fn stored_health(&self, account: &str) -> Option<Health> {
        self.store.load_health().await.unwrap().remove(account)
    }
}

pub fn status(code: u16) -> Outcome {
    Outcome::Status {
        status: code,
        retry_after_ms: None,
        reset_at: None,
    }
}

pub fn claude_req() -> SelectAccount {
    SelectAccount::new(Platform::Claude)
}

/// Waits until `cond` holds, or fails with `what` after [`SETTLE`].
pub async fn eventually(what: &str, mut cond: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + SETTLE;
    while !cond().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        actix_rt::time::sleep(Duration::from_millis(1)).await;
    }
}

/// A [`MemoryStore`] with hooks: a smaller acquisition chunk (as a Redis backend has), gates
/// that hold account loads or health writes (a slow backend), and a one-shot panic inside
/// `acquire_slot`.
pub struct HookedStore {
    inner: MemoryStore,
    per_call: usize,
    gate: tokio::sync::watch::Sender<bool>,
    health_gate: tokio::sync::watch::Sender<bool>,
    panic_next_acquire: AtomicBool,
}

impl HookedStore {
    pub fn new(per_call: usize) -> Arc<Self> {
        Arc::new(HookedStore {
            inner: MemoryStore::new(),
            per_call,
            gate: tokio::sync::watch::Sender::new(true),
            health_gate: tokio::sync::watch::Sender::new(true),
            panic_next_acquire: AtomicBool::new(false),
        })
    }

    /// From now on `load_accounts` waits until [`HookedStore::open_loads`].
    pub fn hold_loads(&self) {
        self.gate.send_replace(false);
    }

    pub fn open_loads(&self) {
        self.gate.send_replace(true);
    }

    /// From now on `put_health` waits until [`HookedStore::open_health_writes`] (a slow write).
    pub fn hold_health_writes(&self) {
        self.health_gate.send_replace(false);
    }

    pub fn open_health_writes(&self) {
        self.health_gate.send_replace(true);
    }

    /// The next `acquire_slot` panics (a backend bug), inside the selection's future.
    pub fn panic_on_next_acquire(&self) {
        self.panic_next_acquire.store(true, Ordering::SeqCst);
    }
}

#[async_trait]
impl AccountStore for HookedStore {
    async fn load_accounts(&self) -> StoreResult<Vec<Account>> {
        let mut open = self.gate.subscribe();
        let _ = open.wait_for(|open| *open).await;
        self.inner.load_accounts().await
    }
    async fn get_account(&self, id: &AccountId) -> StoreResult<Option<Account>> {
        self.inner.get_account(id).await
    }
    async fn put_account(&self, account: &Account) -> StoreResult<()> {
        self.inner.put_account(account).await
    }
    async fn patch_account(&self, id: &AccountId, patch: &AccountPatch) -> StoreResult<Option<Account>> {
        self.inner.patch_account(id, patch).await
    }
    async fn delete_account(&self, id: &AccountId) -> StoreResult<bool> {
        self.inner.delete_account(id).await
    }
    async fn set_credentials(&self, id: &AccountId, credentials: &Credentials) -> StoreResult<()> {
        self.inner.set_credentials(id, credentials).await
    }
    async fn touch_last_used(&self, used: &[(AccountId, Millis)]) -> StoreResult<()> {
        self.inner.touch_last_used(used).await
    }
    async fn load_groups(&self) -> StoreResult<Vec<Group>> {
        self.inner.load_groups().await
    }
    async fn put_group(&self, group: &Group) -> StoreResult<()> {
        self.inner.put_group(group).await
    }
    async fn delete_group(&self, id: &GroupId) -> StoreResult<bool> {
        self.inner.delete_group(id).await
    }
    async fn records_version(&self) -> StoreResult<u64> {
        self.inner.records_version().await
    }
}

#[async_trait]
impl HealthStore for HookedStore {
    async fn load_health(&self) -> StoreResult<HashMap<AccountId, Health>> {
        self.inner.load_health().await
    }
    async fn put_health(&self, id: &AccountId, health: &Health) -> StoreResult<()> {
        let mut open = self.health_gate.subscribe();
        let _ = open.wait_for(|open| *open).await;
        self.inner.put_health(id, health).await
    }
}

#[async_trait]
impl StickyStore for HookedStore {
    async fn sticky_get(&self, key: &str, now: Millis) -> StoreResult<Option<AccountId>> {
        self.inner.sticky_get(key, now).await
    }
    async fn sticky_set(
        &self,
        key: &str,
        account: &AccountId,
        policy: StickyPolicy,
        now: Millis,
    ) -> StoreResult<()> {
        self.inner.sticky_set(key, account, policy, now).await
    }
    async fn sticky_delete(&self, key: &str) -> StoreResult<bool> {
        self.inner.sticky_delete(key).await
    }
    async fn sweep_sticky(&self, now: Millis) -> StoreResult<u64> {
        self.inner.sweep_sticky(now).await
    }
}

#[async_trait]
impl SlotStore for HookedStore {
    async fn acquire_slot(&self, req: &SlotRequest<'_>) -> StoreResult<Option<SlotGrant>> {
        assert!(
            req.candidates.len() <= self.per_call,
            "the scheduler offered {} candidates in one call, more than the store's {}",
            req.candidates.len(),
            self.per_call
        );
        if self.panic_next_acquire.swap(false, Ordering::SeqCst) {
            panic!("store fault injected into acquire_slot");
        }
        self.inner.acquire_slot(req).await
    }
    fn candidates_per_call(&self) -> usize {
        self.per_call
    }
    async fn renew_leases(
        &self,
        leases: &[(AccountId, LeaseId)],
        ttl_ms: i64,
        now: Millis,
    ) -> StoreResult<()> {
        self.inner.renew_leases(leases, ttl_ms, now).await
    }
    async fn release_lease(&self, account: &AccountId, lease: &LeaseId) -> StoreResult<()> {
        self.inner.release_lease(account, lease).await
    }
    async fn slot_counts(&self, now: Millis) -> StoreResult<HashMap<AccountId, u32>> {
        self.inner.slot_counts(now).await
    }
    async fn sweep_leases(&self, now: Millis) -> StoreResult<u64> {
        self.inner.sweep_leases(now).await
    }
}

/// Runs `f` on `arbiter`'s thread (its future stays there), starting now, and answers with its
/// result. Fails the test if the task panicked.
pub fn on_arbiter<F, Fut, T>(
    arbiter: &actix::ArbiterHandle,
    f: F,
) -> impl std::future::Future<Output = T> + use<F, Fut, T>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = T> + 'static,
    T: Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    assert!(
        arbiter.spawn_fn(move || {
            actix_rt::spawn(async move {
                let _ = tx.send(f().await);
            });
        }),
        "the arbiter is running"
    );
    async move {
        rx.await
            .expect("the task on the arbiter finished without panicking")
    }
}

/// Settings with short leases, so a test can watch renewal and expiry: leases live
/// `ttl_secs`, the pool renews every second.
pub fn short_lease_settings(ttl_secs: u64) -> SchedulingSettings {
    let mut s = quiet_settings();
    s.scheduler.lease_ttl_secs = ttl_secs;
    s.scheduler.lease_renew_secs = 1;
    s
}
