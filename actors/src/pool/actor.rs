//! The `AccountPool` actor: the only writer of the account snapshot and of health; releases
//! and renews slot leases; keeps last-used times flowing to the store in batches.
use super::events::{AccountChange, AccountEvent, record_change};
use super::outcome::{HealthChange, Outcome, apply_outcome};
use super::snapshot::PoolSnapshot;
use super::view::PoolView;
use crate::clock::{Millis, SharedClock};
use crate::domain::{Account, AccountId, Group, Health};
use crate::lease::LeaseId;
use crate::settings::SchedulingSettings;
use crate::store::{Store, StoreError};
use crate::supervise::{ActorFault, InjectPanic, Ping, RestartCounter, guarded};
use actix::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) const NAME: &str = "AccountPool";

pub struct AccountPool {
    store: Arc<dyn Store>,
    clock: SharedClock,
    settings: Arc<SchedulingSettings>,
    view: Arc<PoolView>,
    restarts: Arc<RestartCounter>,
    accounts: Vec<Arc<Account>>,
    groups: Vec<Group>,
    health: HashMap<AccountId, Health>,
    records_version: Option<u64>,
    /// Bumped by every local health change, so a store refresh started before it is discarded.
    health_epoch: u64,
    /// Health writes sent to the store and not yet done: until they land, the store's health
    /// is older than ours and a refresh must not replace ours with it.
    health_writes_in_flight: u32,
    /// When queued releases were last handed to the store.
    last_release_flush: Option<Instant>,
    /// A flush is scheduled for later (see [`FlushReleases`]).
    release_flush_deferred: bool,
    /// Accounts whose cooldown or family limit was announced as an event, with the change and
    /// when it ends: a timer per entry announces the recovery (no polling of the store).
    resting: HashMap<AccountId, Resting>,
}

#[derive(Debug, Clone, Copy)]
struct Resting {
    change: AccountChange,
    until: Millis,
}

/// Queued releases are handed to the store at most once per this gap while releases keep
/// coming; after a quiet gap, at once. See [`FlushReleases`].
pub(crate) const RELEASE_FLUSH_GAP: Duration = Duration::from_millis(1);

impl AccountPool {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        clock: SharedClock,
        settings: Arc<SchedulingSettings>,
        view: Arc<PoolView>,
        restarts: Arc<RestartCounter>,
    ) -> Self {
        AccountPool {
            store,
            clock,
            settings,
            view,
            restarts,
            accounts: Vec::new(),
            groups: Vec::new(),
            health: HashMap::new(),
            records_version: None,
            health_epoch: 0,
            health_writes_in_flight: 0,
            last_release_flush: None,
            release_flush_deferred: false,
            resting: HashMap::new(),
        }
    }

    /// Takes a new set of account records, announcing accounts an operator or the upstream
    /// took out of service since the last set (none on the first load).
    fn replace_accounts(&mut self, accounts: Vec<Account>) {
        let now = self.clock.now_ms();
        let before: HashMap<&AccountId, &Account> = self.accounts.iter().map(|a| (&a.id, &**a)).collect();
        for after in &accounts {
            let Some(before) = before.get(&after.id) else {
                continue;
            };
            if let Some(change) = record_change(before, after) {
                self.view.events.emit(AccountEvent::new(after, now, change));
            }
        }
        drop(before);
        self.accounts = accounts.into_iter().map(Arc::new).collect();
    }

    /// Announces a cooldown or family limit unless the same one is already announced, and
    /// arms the timer that announces its end.
    fn announce_rest(&mut self, account: &Account, change: HealthChange, me: Addr<Self>) {
        let now = self.clock.now_ms();
        let (event, until) = match change {
            HealthChange::CooledDown { reason, until } => {
                let status = self
                    .health
                    .get(&account.id)
                    .and_then(|h| h.cooldown)
                    .map_or(0, |c| c.status);
                (
                    AccountChange::CooledDown {
                        reason,
                        status,
                        until,
                    },
                    until,
                )
            }
            HealthChange::FamilyLimited { family, until } => {
                (AccountChange::FamilyLimited { family, until }, until)
            }
            HealthChange::Unchanged | HealthChange::Cleared => return,
        };
        let known = self
            .resting
            .get(&account.id)
            .is_some_and(|r| same_rest(r.change, event));
        let until = self
            .resting
            .get(&account.id)
            .map_or(until, |r| r.until.max(until));
        self.resting
            .insert(account.id.clone(), Resting { change: event, until });
        if known {
            return;
        }
        self.view.events.emit(AccountEvent::new(account, now, event));
        check_recovery_at(me, account.id.clone(), until - now);
    }

    /// The end of an announced rest: announce the recovery, or wait on if the account is
    /// still blocked (a later cooldown, another instance's, took over).
    fn check_recovery(&mut self, id: &AccountId, me: Addr<Self>) {
        let Some(resting) = self.resting.get(id).copied() else {
            return;
        };
        let now = self.clock.now_ms();
        let blocked = self.health.get(id).and_then(|h| blocked_until(h, now));
        match blocked {
            Some(until) => {
                self.resting.insert(id.clone(), Resting { until, ..resting });
                check_recovery_at(me, id.clone(), until - now);
            }
            None => {
                self.resting.remove(id);
                if let Some(account) = self.accounts.iter().find(|a| &a.id == id) {
                    let event = AccountEvent::new(account, now, AccountChange::Recovered);
                    self.view.events.emit(event);
                }
            }
        }
    }

    /// Hands every queued release to the store.
    fn flush_releases(&mut self) {
        self.last_release_flush = Some(Instant::now());
        let batch = self.view.take_releases();
        if batch.is_empty() {
            return;
        }
        let view = self.view.clone();
        let mut releasing = Box::pin(async move { view.release(&batch).await });
        // A store that answers at once (the memory store) is done here, so no acquisition can
        // fall between taking the batch and the slots being free; a networked one goes on in
        // a task (polled again there, with a real waker).
        let mut cx = std::task::Context::from_waker(futures::task::noop_waker_ref());
        if releasing.as_mut().poll(&mut cx).is_pending() {
            actix::spawn(releasing);
        }
    }

    fn publish(&mut self) {
        let mut runtimes = self.view.runtimes.lock();
        let snap = PoolSnapshot::build(&self.accounts, &self.groups, &self.health, &mut runtimes);
        drop(runtimes);
        self.view.publish(snap);
    }

    /// Reads accounts, groups and health from the store, then publishes them.
    fn reload(&mut self) -> impl ActorFuture<Self, Output = Result<usize, StoreError>> + use<> {
        let store = self.store.clone();
        let epoch = self.health_epoch;
        async move {
            let version = store.records_version().await?;
            let accounts = store.load_accounts().await?;
            let groups = store.load_groups().await?;
            let health = store.load_health().await?;
            Ok((version, accounts, groups, health))
        }
        .into_actor(self)
        .map(move |res, act, _ctx| {
            let (version, accounts, groups, health) = res?;
            act.records_version = Some(version);
            act.replace_accounts(accounts);
            act.groups = groups;
            if act.health_epoch == epoch {
                act.health = health;
            }
            act.publish();
            Ok(act.accounts.len())
        })
    }

    /// Picks up other instances' writes: account records when their version moved, health always.
    fn refresh(&mut self, ctx: &mut Context<Self>) {
        let store = self.store.clone();
        let epoch = self.health_epoch;
        let known = self.records_version;
        let fut = async move {
            let version = store.records_version().await?;
            let records = if Some(version) != known {
                Some((version, store.load_accounts().await?, store.load_groups().await?))
            } else {
                None
            };
            Ok::<_, StoreError>((records, store.load_health().await?))
        }
        .into_actor(self)
        .map(move |res, act, _ctx| match res {
            Ok((records, health)) => {
                let mut changed = false;
                if let Some((version, accounts, groups)) = records {
                    act.records_version = Some(version);
                    act.replace_accounts(accounts);
                    act.groups = groups;
                    changed = true;
                }
                let current = act.health_epoch == epoch && act.health_writes_in_flight == 0;
                if current && act.health != health {
                    act.health = health;
                    changed = true;
                }
                if changed {
                    act.publish();
                }
            }
            Err(e) => tracing::warn!(error = %e, "pool refresh from the store failed"),
        });
        ctx.spawn(fut);
    }

    fn renew_leases(&self) {
        let leases: Vec<(AccountId, LeaseId)> = self
            .view
            .live_leases
            .iter()
            .map(|e| (e.value().clone(), e.key().clone()))
            .collect();
        if leases.is_empty() {
            return;
        }
        let (store, now) = (self.store.clone(), self.clock.now_ms());
        let ttl = self.settings.scheduler.lease_ttl_ms();
        actix::spawn(async move {
            if let Err(e) = store.renew_leases(&leases, ttl, now).await {
                tracing::warn!(error = %e, leases = leases.len(), "lease renewal failed");
            }
        });
    }

    fn flush_last_used(&self) {
        let used: Vec<(AccountId, Millis)> = self.view.unflushed_use.lock().drain().collect();
        if used.is_empty() {
            return;
        }
        let store = self.store.clone();
        actix::spawn(async move {
            if let Err(e) = store.touch_last_used(&used).await {
                tracing::warn!(error = %e, "writing last-used times failed");
            }
        });
    }

    fn sweep(&self) {
        let (store, now) = (self.store.clone(), self.clock.now_ms());
        actix::spawn(async move {
            match store.sweep_leases(now).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(swept = n, "expired leases swept"),
                Err(e) => tracing::warn!(error = %e, "lease sweep failed"),
            }
        });
    }

    fn mark(&mut self, msg: &MarkOutcome, me: Addr<Self>) -> HealthChange {
        let Some(account) = self.accounts.iter().find(|a| a.id == msg.account).cloned() else {
            return HealthChange::Unchanged;
        };
        let platform = account.platform();
        let now = self.clock.now_ms();
        let health = self.health.entry(msg.account.clone()).or_default();
        let change = apply_outcome(
            health,
            platform,
            msg.outcome,
            msg.model.as_deref(),
            now,
            &self.settings.cooldowns,
        );
        if change == HealthChange::Unchanged {
            return change;
        }
        let stored = health.clone();
        if stored.is_clear() {
            self.health.remove(&msg.account);
        }
        self.health_epoch += 1;
        self.publish();
        if let HealthChange::CooledDown { reason, until } = change {
            tracing::info!(account = %msg.account, reason = reason.as_str(), until, "account cooling down");
        }
        self.announce_rest(&account, change, me.clone());
        let (store, id) = (self.store.clone(), msg.account.clone());
        self.health_writes_in_flight += 1;
        actix::spawn(async move {
            if let Err(e) = store.put_health(&id, &stored).await {
                tracing::warn!(account = %id, error = %e, "writing account health failed");
            }
            me.do_send(HealthWritten);
        });
        change
    }
}

impl Actor for AccountPool {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(self.settings.actors.pool.mailbox_capacity);
        // After a restart: a deferred flush died with the old context, and no lease sends
        // another while one is marked on its way. Release whatever is queued now.
        self.release_flush_deferred = false;
        self.flush_releases();
        // Hold the mailbox until state is rebuilt: no selection sees a half-loaded pool.
        ctx.wait(self.reload().map(|res, _act, _ctx| {
            if let Err(e) = res {
                tracing::error!(error = %e, "loading the account pool failed; retrying on refresh");
            }
        }));
        let s = &self.settings.scheduler;
        ctx.run_interval(Duration::from_secs(s.lease_renew_secs.max(1)), |act, _| {
            act.renew_leases()
        });
        ctx.run_interval(Duration::from_millis(s.last_used_flush_ms.max(10)), |act, _| {
            act.flush_last_used()
        });
        ctx.run_interval(Duration::from_millis(s.refresh_ms.max(10)), |act, ctx| {
            act.refresh(ctx)
        });
        ctx.run_interval(Duration::from_secs(s.sweep_secs.max(1)), |act, _| act.sweep());
    }
}

impl Supervised for AccountPool {
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        self.restarts.record(NAME);
        // Forget everything derived; `started` rebuilds it from the store. Live leases stay in
        // the shared view: they belong to requests still running.
        self.accounts.clear();
        self.groups.clear();
        self.health.clear();
        // Their timers died with the old context.
        self.resting.clear();
        self.records_version = None;
        self.health_epoch += 1;
    }
}

/// Gives back one slot in the store. A dropped [`crate::Lease`] queues its slot in the pool view
/// and sends [`FlushReleases`]; this message releases one slot directly.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct ReleaseSlot {
    pub account: AccountId,
    pub lease: LeaseId,
}

impl Handler<ReleaseSlot> for AccountPool {
    type Result = ();

    fn handle(&mut self, msg: ReleaseSlot, ctx: &mut Context<Self>) {
        let view = self.view.clone();
        let _ = guarded(ctx, NAME, || {
            actix::spawn(async move {
                if let Err(e) = view.store.release_lease(&msg.account, &msg.lease).await {
                    // The lease's TTL frees the slot anyway; nothing is lost for good.
                    tracing::warn!(account = %msg.account, error = %e, "slot release failed; it will expire");
                }
                view.slots_freed(std::iter::once(&msg.account));
            });
        });
    }
}

/// Releases, in the store, every slot queued by dropped leases. Sent by a [`crate::Lease`]'s
/// `Drop` when no flush is on its way yet, so one message serves every lease dropped meanwhile,
/// on any thread. Each message from another thread costs that thread a wake-up of the pool's
/// arbiter (a syscall and often a context switch): while releases keep coming, the pool
/// therefore flushes at most once per millisecond, and leases dropped in between
/// ride along without a message. After a quiet gap a release is handed on at once.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct FlushReleases;

impl Handler<FlushReleases> for AccountPool {
    type Result = ();

    fn handle(&mut self, _: FlushReleases, ctx: &mut Context<Self>) {
        if self.release_flush_deferred {
            return;
        }
        let since = self.last_release_flush.map(|at| at.elapsed());
        match since {
            Some(since) if since < RELEASE_FLUSH_GAP => {
                self.release_flush_deferred = true;
                ctx.run_later(RELEASE_FLUSH_GAP - since, |act, _| {
                    act.release_flush_deferred = false;
                    act.flush_releases();
                });
            }
            _ => self.flush_releases(),
        }
    }
}

/// Reports how a request to an account went, so its health follows (§7.1).
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<HealthChange, ActorFault>")]
pub struct MarkOutcome {
    pub account: AccountId,
    pub outcome: Outcome,
    /// The requested model (the Claude family rule needs it).
    pub model: Option<String>,
}

impl Handler<MarkOutcome> for AccountPool {
    type Result = Result<HealthChange, ActorFault>;

    fn handle(&mut self, msg: MarkOutcome, ctx: &mut Context<Self>) -> Self::Result {
        let me = ctx.address();
        guarded(ctx, NAME, || self.mark(&msg, me))
    }
}

/// An announced rest may have ended (see [`AccountPool::check_recovery`]).
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
struct CheckRecovery(AccountId);

impl Handler<CheckRecovery> for AccountPool {
    type Result = ();

    fn handle(&mut self, msg: CheckRecovery, ctx: &mut Context<Self>) {
        let me = ctx.address();
        let _ = guarded(ctx, NAME, || self.check_recovery(&msg.0, me));
    }
}

/// Sends [`CheckRecovery`] once `in_ms` have passed: one sleeping task per announced rest.
fn check_recovery_at(me: Addr<AccountPool>, id: AccountId, in_ms: Millis) {
    let wait = Duration::from_millis(u64::try_from(in_ms).unwrap_or(0) + 1);
    actix::spawn(async move {
        tokio::time::sleep(wait).await;
        me.do_send(CheckRecovery(id));
    });
}

/// Until when the account is blocked for any model: its cooldown or a family limit.
fn blocked_until(health: &Health, now: Millis) -> Option<Millis> {
    let family = health
        .family_limits
        .iter()
        .filter(|l| l.until > now)
        .map(|l| l.until)
        .max();
    health.active_cooldown(now).map(|c| c.until).max(family)
}

/// Whether two rests are the same news (the same cooldown reason, the same limited family).
fn same_rest(a: AccountChange, b: AccountChange) -> bool {
    match (a, b) {
        (AccountChange::CooledDown { reason: x, .. }, AccountChange::CooledDown { reason: y, .. }) => x == y,
        (AccountChange::FamilyLimited { family: x, .. }, AccountChange::FamilyLimited { family: y, .. }) => {
            x == y
        }
        _ => false,
    }
}

/// A health write from [`MarkOutcome`] finished (or failed): refreshes may read health again.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
struct HealthWritten;

impl Handler<HealthWritten> for AccountPool {
    type Result = ();

    fn handle(&mut self, _: HealthWritten, _ctx: &mut Context<Self>) {
        self.health_writes_in_flight = self.health_writes_in_flight.saturating_sub(1);
        // A refresh that read the store before the write landed is stale too.
        self.health_epoch += 1;
    }
}

/// Accounts or groups changed in the store: reload and republish. Answers with the number of
/// accounts now known.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "Result<usize, StoreError>")]
pub struct ReloadAccounts;

impl Handler<ReloadAccounts> for AccountPool {
    type Result = AtomicResponse<Self, Result<usize, StoreError>>;

    fn handle(&mut self, _: ReloadAccounts, _ctx: &mut Context<Self>) -> Self::Result {
        AtomicResponse::new(Box::pin(self.reload()))
    }
}

/// Live leases per account, as the store counts them (all instances).
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "Result<HashMap<AccountId, u32>, StoreError>")]
pub struct SlotCounts;

impl Handler<SlotCounts> for AccountPool {
    type Result = ResponseFuture<Result<HashMap<AccountId, u32>, StoreError>>;

    fn handle(&mut self, _: SlotCounts, _ctx: &mut Context<Self>) -> Self::Result {
        let (store, now) = (self.store.clone(), self.clock.now_ms());
        Box::pin(async move { store.slot_counts(now).await })
    }
}

impl Handler<Ping> for AccountPool {
    type Result = ();
    fn handle(&mut self, _: Ping, _ctx: &mut Context<Self>) {}
}

impl Handler<InjectPanic> for AccountPool {
    type Result = Result<(), ActorFault>;

    fn handle(&mut self, _: InjectPanic, ctx: &mut Context<Self>) -> Self::Result {
        guarded(ctx, NAME, || panic!("fault injected into {NAME}"))
    }
}
