//! Starts the scheduling actors under `actix::Supervisor` and gives callers one handle with
//! typed, time-bounded calls.
use crate::clock::SharedClock;
use crate::domain::{AccountId, Platform};
use crate::lease::Lease;
use crate::pool::{
    AccountPool, HealthChange, MarkOutcome, PoolSnapshot, PoolView, ReloadAccounts, SlotCounts,
};
use crate::scheduler::{
    ClaudeScheduler, GeminiScheduler, OpenAiScheduler, SelectAccount, SelectError, Selection,
};
use crate::settings::{ActorKnobs, SchedulingSettings};
use crate::sticky::{Bind, Lookup, StickyError, StickySessions, Unbind};
use crate::store::{SlotCandidate, SlotRequest, Store, StoreError};
use crate::supervise::{ActorFault, InjectPanic, Ping, RestartCounter};
use actix::dev::{MessageResponse, ToEnvelope};
use actix::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

mod waiting;

/// The actors by name, for supervision drills and readiness checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActorName {
    AccountPool,
    StickySessions,
    ClaudeScheduler,
    GeminiScheduler,
    OpenAiScheduler,
}

impl ActorName {
    pub const ALL: [ActorName; 5] = [
        ActorName::AccountPool,
        ActorName::StickySessions,
        ActorName::ClaudeScheduler,
        ActorName::GeminiScheduler,
        ActorName::OpenAiScheduler,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ActorName::AccountPool => crate::pool::actor_name(),
            ActorName::StickySessions => crate::sticky::NAME,
            ActorName::ClaudeScheduler => "ClaudeScheduler",
            ActorName::GeminiScheduler => "GeminiScheduler",
            ActorName::OpenAiScheduler => "OpenAiScheduler",
        }
    }
}

/// Restart totals of one scheduling core: the pool and sticky actors (one of each), and each
/// scheduler kind summed over every set (the core's own and every local set).
#[derive(Default)]
struct Restarts {
    pool: Arc<RestartCounter>,
    sticky: Arc<RestartCounter>,
    claude: Arc<RestartCounter>,
    gemini: Arc<RestartCounter>,
    openai: Arc<RestartCounter>,
}

/// What every handle of one scheduling core shares: the single pool and sticky actors, the
/// published pool view (snapshot, live leases, lease ids), the store, the clock and settings.
struct Core {
    pool: Addr<AccountPool>,
    sticky: Addr<StickySessions>,
    view: Arc<PoolView>,
    store: Arc<dyn Store>,
    clock: SharedClock,
    settings: Arc<SchedulingSettings>,
    restarts: Restarts,
    calls: CallStats,
}

/// Messages sent to each actor through this core's handles, and how many timed out.
/// Indexed by `ActorName as usize` (its declaration order).
#[derive(Default)]
struct CallStats {
    sent: [AtomicU64; ActorName::ALL.len()],
    timed_out: [AtomicU64; ActorName::ALL.len()],
}

/// Counts of [`Scheduling::call_stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ActorCalls {
    pub sent: u64,
    pub timed_out: u64,
}

impl CallStats {
    fn record(&self, actor: ActorName, timed_out: bool) {
        let i = actor as usize;
        self.sent[i].fetch_add(1, Ordering::Relaxed);
        if timed_out {
            self.timed_out[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    fn get(&self, actor: ActorName) -> ActorCalls {
        let i = actor as usize;
        ActorCalls {
            sent: self.sent[i].load(Ordering::Relaxed),
            timed_out: self.timed_out[i].load(Ordering::Relaxed),
        }
    }
}

/// One set of scheduler actors, each under its own `Supervisor`: the core's own set (on the
/// arbiter given to [`Scheduling::start`]) or a local set (see [`Scheduling::local`]).
struct Schedulers {
    claude: Addr<ClaudeScheduler>,
    gemini: Addr<GeminiScheduler>,
    openai: Addr<OpenAiScheduler>,
    /// This set's own restarts; each also adds to the core's totals.
    claude_restarts: Arc<RestartCounter>,
    gemini_restarts: Arc<RestartCounter>,
    openai_restarts: Arc<RestartCounter>,
    local: bool,
}

impl Schedulers {
    fn start(core: &Core, arbiter: &actix::ArbiterHandle, local: bool) -> Self {
        let counter = |total: &Arc<RestartCounter>| Arc::new(RestartCounter::rolling_up_into(total.clone()));
        let (claude_restarts, gemini_restarts, openai_restarts) = (
            counter(&core.restarts.claude),
            counter(&core.restarts.gemini),
            counter(&core.restarts.openai),
        );
        macro_rules! scheduler {
            ($counter:ident) => {{
                let (s, c, st, v, p, r) = (
                    core.store.clone(),
                    core.clock.clone(),
                    core.settings.clone(),
                    core.view.clone(),
                    core.pool.clone(),
                    $counter.clone(),
                );
                Supervisor::start_in_arbiter(arbiter, move |_| {
                    crate::scheduler::Scheduler::new(s, c, st, v, p, r)
                })
            }};
        }
        Schedulers {
            claude: scheduler!(claude_restarts),
            gemini: scheduler!(gemini_restarts),
            openai: scheduler!(openai_restarts),
            claude_restarts,
            gemini_restarts,
            openai_restarts,
            local,
        }
    }
}

/// Handle to the running scheduling core. Cheap to clone (two `Arc`s).
///
/// A handle selects through one set of scheduler actors: the core's own (from
/// [`Scheduling::start`]) or a local set on another arbiter (from [`Scheduling::local`]).
/// Everything else (outcomes, reloads, slot counts, sticky bindings, key slots, lease release and
/// renewal) goes to the one pool and sticky actors every handle shares.
#[derive(Clone)]
pub struct Scheduling {
    core: Arc<Core>,
    schedulers: Arc<Schedulers>,
}

impl Scheduling {
    /// Starts every actor on `arbiter` (or the current one) and waits until the pool has loaded
    /// its accounts.
    pub async fn start(
        store: Arc<dyn Store>,
        clock: SharedClock,
        settings: SchedulingSettings,
        arbiter: Option<&actix::ArbiterHandle>,
    ) -> Result<Self, StoreError> {
        let settings = Arc::new(settings);
        let view = Arc::new(PoolView::new(store.clone()));
        view.follow_slot_notices();
        let restarts = Restarts::default();
        let current = actix::Arbiter::current();
        let arbiter = arbiter.unwrap_or(&current);

        let pool = {
            let (s, c, st, v, r) = (
                store.clone(),
                clock.clone(),
                settings.clone(),
                view.clone(),
                restarts.pool.clone(),
            );
            Supervisor::start_in_arbiter(arbiter, move |_| AccountPool::new(s, c, st, v, r))
        };
        let sticky = {
            let (s, c, st, r) = (
                store.clone(),
                clock.clone(),
                settings.clone(),
                restarts.sticky.clone(),
            );
            Supervisor::start_in_arbiter(arbiter, move |_| StickySessions::new(s, c, st, r))
        };
        let core = Arc::new(Core {
            pool,
            sticky,
            view,
            store,
            clock,
            settings,
            restarts,
            calls: CallStats::default(),
        });
        let schedulers = Arc::new(Schedulers::start(&core, arbiter, false));
        let this = Scheduling { core, schedulers };
        this.reload().await.map_err(|e| match e {
            SelectError::Store(e) => e,
            other => StoreError::Unavailable(other.to_string()),
        })?;
        Ok(this)
    }

    /// A handle whose selections go to scheduler actors on the *current* arbiter (an actix-web
    /// worker thread, say), so a `select` from that thread never crosses threads. The new
    /// `ClaudeScheduler`, `GeminiScheduler` and `OpenAiScheduler` each run under their own
    /// `Supervisor` and share this core's pool view, store, clock, settings and pool actor:
    /// they see the same accounts and limits, and their leases are renewed and released by the
    /// shared pool like any other. Everything but `select`, `ping`/`inject_panic` of a scheduler
    /// and [`Scheduling::own_restarts`] behaves exactly as on `self`.
    ///
    /// Call it once per thread and keep the handle (e.g. inside the `HttpServer::new` app
    /// factory, which runs on each worker): every call starts a new set. The local actors stop
    /// when every clone of the returned handle is dropped, or when their arbiter stops.
    ///
    /// Outside an actix arbiter (a plain tokio thread) there is nowhere to start actors: it then
    /// logs a warning and returns a clone of `self`.
    pub fn local(&self) -> Scheduling {
        match actix::Arbiter::try_current() {
            Some(current) => self.local_on(&current),
            None => {
                tracing::warn!(
                    "Scheduling::local called outside an actix arbiter; selections use the shared schedulers"
                );
                self.clone()
            }
        }
    }

    /// [`Scheduling::local`] on a given arbiter.
    pub fn local_on(&self, arbiter: &actix::ArbiterHandle) -> Scheduling {
        Scheduling {
            core: self.core.clone(),
            schedulers: Arc::new(Schedulers::start(&self.core, arbiter, true)),
        }
    }

    /// Whether this handle selects through a local set of schedulers.
    pub fn is_local(&self) -> bool {
        self.schedulers.local
    }

    /// Selects an account of `req.platform` and takes a slot on it.
    pub async fn select(&self, req: SelectAccount) -> Result<Selection, SelectError> {
        let a = &self.core.settings.actors;
        let s = &self.schedulers;
        match req.platform {
            Platform::Claude => {
                call(
                    &self.core.calls,
                    &s.claude,
                    req,
                    a.claude,
                    ActorName::ClaudeScheduler,
                )
                .await?
            }
            Platform::Gemini => {
                call(
                    &self.core.calls,
                    &s.gemini,
                    req,
                    a.gemini,
                    ActorName::GeminiScheduler,
                )
                .await?
            }
            Platform::OpenAi => {
                call(
                    &self.core.calls,
                    &s.openai,
                    req,
                    a.openai,
                    ActorName::OpenAiScheduler,
                )
                .await?
            }
        }
    }

    /// After a [`Scheduling::hold_slot`] that found the holder full: tries again until
    /// `deadline`, waiting first each time, with a jittered backoff growing from 20 ms to
    /// 500 ms (so many waiters do not retry in lockstep). `Ok(None)`: still full at the deadline.
    pub async fn hold_slot_until(
        &self,
        holder: &str,
        limit: u32,
        deadline: std::time::Instant,
    ) -> Result<Option<Lease>, SelectError> {
        use rand::Rng;
        let mut wait = std::time::Duration::from_millis(20);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            let jitter = rand::rng().random_range(0.8..1.2);
            tokio::time::sleep(wait.mul_f64(jitter).min(left)).await;
            wait = wait.mul_f64(1.5).min(std::time::Duration::from_millis(500));
            if let Some(lease) = self.hold_slot(holder, limit).await? {
                return Ok(Some(lease));
            }
        }
    }

    /// Takes one concurrency slot for an arbitrary `holder` (an API key, say) through the same
    /// lease machinery as account slots: the lease is renewed by the pool while the returned
    /// [`Lease`] lives, expires after `lease_ttl_secs` if this instance dies, and is released
    /// exactly once when it is dropped. `limit` is the holder's concurrency limit (0 =
    /// unlimited: the slot is counted but never refused). `Ok(None)` when the holder already
    /// holds `limit` live slots (across every instance sharing the store).
    ///
    /// Holder ids share the store's slot namespace with account ids, so a holder that is not an
    /// account must be prefixed: the server uses `key:{key id}`. Account ids are UUIDs and never
    /// contain `:`. [`Lease::account`] of the returned guard is the holder id, and the holder
    /// shows up in [`Scheduling::slot_counts`] and [`Scheduling::live_leases`].
    ///
    /// One store call from the caller's task (no actor on the way). The acquisition runs as a
    /// task of its own, so a caller that gives up halfway cannot leak the slot: the guard is
    /// then dropped, and the slot released, when the acquisition completes.
    pub async fn hold_slot(&self, holder: &str, limit: u32) -> Result<Option<Lease>, SelectError> {
        let core = self.core.clone();
        let holder = AccountId::new(holder);
        let name = holder.clone();
        let acquisition = tokio::task::spawn(async move {
            let lease = core.view.lease_ids.next();
            let candidates = [SlotCandidate {
                account: holder,
                limit,
            }];
            let req = SlotRequest {
                candidates: &candidates,
                sticky: None,
                lease: &lease,
                lease_ttl_ms: core.settings.scheduler.lease_ttl_ms(),
                now: core.clock.now_ms(),
            };
            let Some(grant) = core.view.acquire_slot(&req).await? else {
                return Ok(None);
            };
            Ok(Some(Lease::held(
                grant.account,
                lease,
                core.pool.clone(),
                core.view.clone(),
            )))
        });
        match acquisition.await {
            Ok(held) => held,
            Err(e) => Err(StoreError::Unavailable(format!(
                "taking a slot for {name} failed inside the store: {e}"
            ))
            .into()),
        }
    }

    /// Live slots of one holder (an account, or a holder of [`Scheduling::hold_slot`]) across
    /// every instance sharing the store. One store call, no actor on the way.
    pub async fn slot_count(&self, holder: &str) -> Result<u32, SelectError> {
        let now = self.core.clock.now_ms();
        Ok(self.core.store.slot_count(&AccountId::new(holder), now).await?)
    }

    /// Registers where the pool announces account state changes (cooldowns, recoveries,
    /// accounts taken out of service). One sink per core; false when one was already set.
    pub fn on_account_events(&self, sink: Arc<dyn crate::pool::AccountEventSink>) -> bool {
        self.core.view.events.set(sink)
    }

    /// Reports how a request to an account went (cooldowns, §7.1).
    pub async fn mark_outcome(&self, msg: MarkOutcome) -> Result<HealthChange, SelectError> {
        Ok(call(
            &self.core.calls,
            &self.core.pool,
            msg,
            self.core.settings.actors.pool,
            ActorName::AccountPool,
        )
        .await??)
    }

    /// Accounts or groups changed in the store: republish now. Returns the account count.
    pub async fn reload(&self) -> Result<usize, SelectError> {
        Ok(call(
            &self.core.calls,
            &self.core.pool,
            ReloadAccounts,
            self.core.settings.actors.pool,
            ActorName::AccountPool,
        )
        .await??)
    }

    /// Live leases per holder (accounts, and `key:*` holders of [`Scheduling::hold_slot`])
    /// across all instances sharing the store.
    pub async fn slot_counts(&self) -> Result<HashMap<AccountId, u32>, SelectError> {
        Ok(call(
            &self.core.calls,
            &self.core.pool,
            SlotCounts,
            self.core.settings.actors.pool,
            ActorName::AccountPool,
        )
        .await??)
    }

    pub async fn sticky_lookup(&self, msg: Lookup) -> Result<Option<AccountId>, StickyError> {
        self.sticky_call(msg).await
    }

    pub async fn sticky_bind(&self, msg: Bind) -> Result<(), StickyError> {
        self.sticky_call(msg).await
    }

    pub async fn sticky_unbind(&self, msg: Unbind) -> Result<bool, StickyError> {
        self.sticky_call(msg).await
    }

    async fn sticky_call<M, T>(&self, msg: M) -> Result<T, StickyError>
    where
        M: Message<Result = Result<T, StickyError>> + Send + 'static,
        T: Send + 'static,
        StickySessions: Handler<M>,
        <StickySessions as Actor>::Context: ToEnvelope<StickySessions, M>,
    {
        match call(
            &self.core.calls,
            &self.core.sticky,
            msg,
            self.core.settings.actors.sticky,
            ActorName::StickySessions,
        )
        .await
        {
            Ok(r) => r,
            Err(SelectError::ActorFailed(f)) => Err(StickyError::Actor(f)),
            Err(other) => Err(StickyError::Store(StoreError::Unavailable(other.to_string()))),
        }
    }

    /// The current account snapshot (accounts, health, groups).
    pub fn snapshot(&self) -> Arc<PoolSnapshot> {
        self.core.view.snapshot()
    }

    /// Leases held by requests of this process right now (account slots and
    /// [`Scheduling::hold_slot`] slots, through every handle).
    pub fn live_leases(&self) -> usize {
        self.core.view.live_lease_count()
    }

    /// Answers when `actor` processes its mailbox within its send timeout. A scheduler means
    /// this handle's scheduler (local or not).
    pub async fn ping(&self, actor: ActorName) -> Result<(), SelectError> {
        let a = &self.core.settings.actors;
        let (c, s) = (&self.core, &self.schedulers);
        match actor {
            ActorName::AccountPool => call(&self.core.calls, &c.pool, Ping, a.pool, actor).await,
            ActorName::StickySessions => call(&self.core.calls, &c.sticky, Ping, a.sticky, actor).await,
            ActorName::ClaudeScheduler => call(&self.core.calls, &s.claude, Ping, a.claude, actor).await,
            ActorName::GeminiScheduler => call(&self.core.calls, &s.gemini, Ping, a.gemini, actor).await,
            ActorName::OpenAiScheduler => call(&self.core.calls, &s.openai, Ping, a.openai, actor).await,
        }
    }

    /// Makes `actor` panic inside a handler (supervision drills and tests). A scheduler means
    /// this handle's scheduler (local or not).
    pub async fn inject_panic(&self, actor: ActorName) -> Result<(), SelectError> {
        let a = &self.core.settings.actors;
        let (c, s) = (&self.core, &self.schedulers);
        let r = match actor {
            ActorName::AccountPool => call(&self.core.calls, &c.pool, InjectPanic, a.pool, actor).await,
            ActorName::StickySessions => {
                call(&self.core.calls, &c.sticky, InjectPanic, a.sticky, actor).await
            }
            ActorName::ClaudeScheduler => {
                call(&self.core.calls, &s.claude, InjectPanic, a.claude, actor).await
            }
            ActorName::GeminiScheduler => {
                call(&self.core.calls, &s.gemini, InjectPanic, a.gemini, actor).await
            }
            ActorName::OpenAiScheduler => {
                call(&self.core.calls, &s.openai, InjectPanic, a.openai, actor).await
            }
        };
        Ok(r??)
    }

    /// Messages sent to `actor` through this scheduling core (all handles) and how many timed out.
    pub fn call_stats(&self, actor: ActorName) -> ActorCalls {
        self.core.calls.get(actor)
    }

    /// How many times the supervisors restarted `actor`. For a scheduler, the total over every
    /// set of this core (its own and every local set), so every handle answers the same; see
    /// [`Scheduling::own_restarts`] for this handle's scheduler alone.
    pub fn restarts(&self, actor: ActorName) -> u64 {
        let r = &self.core.restarts;
        match actor {
            ActorName::AccountPool => r.pool.get(),
            ActorName::StickySessions => r.sticky.get(),
            ActorName::ClaudeScheduler => r.claude.get(),
            ActorName::GeminiScheduler => r.gemini.get(),
            ActorName::OpenAiScheduler => r.openai.get(),
        }
    }

    /// How many times the supervisor restarted the `actor` this handle talks to: for a
    /// scheduler, this handle's own (local or not); for the pool and sticky actors, the shared
    /// ones (the same as [`Scheduling::restarts`]).
    pub fn own_restarts(&self, actor: ActorName) -> u64 {
        let s = &self.schedulers;
        match actor {
            ActorName::AccountPool | ActorName::StickySessions => self.restarts(actor),
            ActorName::ClaudeScheduler => s.claude_restarts.get(),
            ActorName::GeminiScheduler => s.gemini_restarts.get(),
            ActorName::OpenAiScheduler => s.openai_restarts.get(),
        }
    }

    pub fn settings(&self) -> &SchedulingSettings {
        &self.core.settings
    }
}

/// Sends with the actor's timeout; a lost message (actor restarting after a panic) and a
/// timeout become typed errors instead of a hang.
async fn call<A, M>(
    stats: &CallStats,
    addr: &Addr<A>,
    msg: M,
    knobs: ActorKnobs,
    actor: ActorName,
) -> Result<M::Result, SelectError>
where
    A: Actor + Handler<M>,
    A::Context: ToEnvelope<A, M>,
    M: Message + Send + 'static,
    M::Result: Send + MessageResponse<A, M>,
{
    let result = addr.send(msg).timeout(knobs.send_timeout()).await;
    stats.record(actor, matches!(result, Err(MailboxError::Timeout)));
    match result {
        Ok(r) => Ok(r),
        Err(MailboxError::Timeout) => Err(SelectError::ActorTimeout {
            actor: actor.as_str(),
            timeout_ms: knobs.send_timeout_ms,
        }),
        Err(MailboxError::Closed) => Err(SelectError::ActorFailed(ActorFault {
            actor: actor.as_str(),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::ActorName;

    #[test]
    fn all_lists_the_actors_in_declaration_order() {
        // Per-actor statistics are indexed by `ActorName as usize`.
        for (i, actor) in ActorName::ALL.iter().enumerate() {
            assert_eq!(*actor as usize, i, "{actor:?}");
        }
    }
}
