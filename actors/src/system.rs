//! Starts the scheduling actors under `actix::Supervisor` and gives callers one handle with
//! typed, time-bounded calls.
use crate::clock::SharedClock;
use crate::domain::{AccountId, Platform};
use crate::pool::{
    AccountPool, HealthChange, MarkOutcome, PoolSnapshot, PoolView, ReloadAccounts, SlotCounts,
};
use crate::scheduler::{
    ClaudeScheduler, GeminiScheduler, OpenAiScheduler, SelectAccount, SelectError, Selection,
};
use crate::settings::{ActorKnobs, SchedulingSettings};
use crate::sticky::{Bind, Lookup, StickyError, StickySessions, Unbind};
use crate::store::{Store, StoreError};
use crate::supervise::{ActorFault, InjectPanic, Ping, RestartCounter};
use actix::dev::{MessageResponse, ToEnvelope};
use actix::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;

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

#[derive(Default)]
struct Restarts {
    pool: Arc<RestartCounter>,
    sticky: Arc<RestartCounter>,
    claude: Arc<RestartCounter>,
    gemini: Arc<RestartCounter>,
    openai: Arc<RestartCounter>,
}

/// Handle to the running scheduling core. Cheap to clone.
#[derive(Clone)]
pub struct Scheduling {
    pool: Addr<AccountPool>,
    sticky: Addr<StickySessions>,
    claude: Addr<ClaudeScheduler>,
    gemini: Addr<GeminiScheduler>,
    openai: Addr<OpenAiScheduler>,
    view: Arc<PoolView>,
    settings: Arc<SchedulingSettings>,
    restarts: Arc<Restarts>,
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
        let restarts = Arc::new(Restarts::default());
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
        macro_rules! scheduler {
            ($counter:ident) => {{
                let (s, c, st, v, p, r) = (
                    store.clone(),
                    clock.clone(),
                    settings.clone(),
                    view.clone(),
                    pool.clone(),
                    restarts.$counter.clone(),
                );
                Supervisor::start_in_arbiter(arbiter, move |_| {
                    crate::scheduler::Scheduler::new(s, c, st, v, p, r)
                })
            }};
        }
        let (claude, gemini, openai) = (scheduler!(claude), scheduler!(gemini), scheduler!(openai));
        let this = Scheduling {
            pool,
            sticky,
            claude,
            gemini,
            openai,
            view,
            settings,
            restarts,
        };
        this.reload().await.map_err(|e| match e {
            SelectError::Store(e) => e,
            other => StoreError::Unavailable(other.to_string()),
        })?;
        Ok(this)
    }

    /// Selects an account of `req.platform` and takes a slot on it.
    pub async fn select(&self, req: SelectAccount) -> Result<Selection, SelectError> {
        let a = &self.settings.actors;
        match req.platform {
            Platform::Claude => call(&self.claude, req, a.claude, "ClaudeScheduler").await?,
            Platform::Gemini => call(&self.gemini, req, a.gemini, "GeminiScheduler").await?,
            Platform::OpenAi => call(&self.openai, req, a.openai, "OpenAiScheduler").await?,
        }
    }

    /// Reports how a request to an account went (cooldowns, §7.1).
    pub async fn mark_outcome(&self, msg: MarkOutcome) -> Result<HealthChange, SelectError> {
        Ok(call(&self.pool, msg, self.settings.actors.pool, "AccountPool").await??)
    }

    /// Accounts or groups changed in the store: republish now. Returns the account count.
    pub async fn reload(&self) -> Result<usize, SelectError> {
        Ok(call(
            &self.pool,
            ReloadAccounts,
            self.settings.actors.pool,
            "AccountPool",
        )
        .await??)
    }

    /// Live leases per account across all instances sharing the store.
    pub async fn slot_counts(&self) -> Result<HashMap<AccountId, u32>, SelectError> {
        Ok(call(&self.pool, SlotCounts, self.settings.actors.pool, "AccountPool").await??)
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
            &self.sticky,
            msg,
            self.settings.actors.sticky,
            crate::sticky::NAME,
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
        self.view.snapshot()
    }

    /// Leases held by requests of this process right now.
    pub fn live_leases(&self) -> usize {
        self.view.live_lease_count()
    }

    /// Answers when `actor` processes its mailbox within its send timeout.
    pub async fn ping(&self, actor: ActorName) -> Result<(), SelectError> {
        let a = &self.settings.actors;
        match actor {
            ActorName::AccountPool => call(&self.pool, Ping, a.pool, actor.as_str()).await,
            ActorName::StickySessions => call(&self.sticky, Ping, a.sticky, actor.as_str()).await,
            ActorName::ClaudeScheduler => call(&self.claude, Ping, a.claude, actor.as_str()).await,
            ActorName::GeminiScheduler => call(&self.gemini, Ping, a.gemini, actor.as_str()).await,
            ActorName::OpenAiScheduler => call(&self.openai, Ping, a.openai, actor.as_str()).await,
        }
    }

    /// Makes `actor` panic inside a handler (supervision drills and tests).
    pub async fn inject_panic(&self, actor: ActorName) -> Result<(), SelectError> {
        let a = &self.settings.actors;
        let r = match actor {
            ActorName::AccountPool => call(&self.pool, InjectPanic, a.pool, actor.as_str()).await,
            ActorName::StickySessions => call(&self.sticky, InjectPanic, a.sticky, actor.as_str()).await,
            ActorName::ClaudeScheduler => call(&self.claude, InjectPanic, a.claude, actor.as_str()).await,
            ActorName::GeminiScheduler => call(&self.gemini, InjectPanic, a.gemini, actor.as_str()).await,
            ActorName::OpenAiScheduler => call(&self.openai, InjectPanic, a.openai, actor.as_str()).await,
        };
        Ok(r??)
    }

    /// How many times the supervisor restarted `actor`.
    pub fn restarts(&self, actor: ActorName) -> u64 {
        let r = &self.restarts;
        match actor {
            ActorName::AccountPool => r.pool.get(),
            ActorName::StickySessions => r.sticky.get(),
            ActorName::ClaudeScheduler => r.claude.get(),
            ActorName::GeminiScheduler => r.gemini.get(),
            ActorName::OpenAiScheduler => r.openai.get(),
        }
    }

    pub fn settings(&self) -> &SchedulingSettings {
        &self.settings
    }
}

/// Sends with the actor's timeout; a lost message (actor restarting after a panic) and a
/// timeout become typed errors instead of a hang.
async fn call<A, M>(
    addr: &Addr<A>,
    msg: M,
    knobs: ActorKnobs,
    actor: &'static str,
) -> Result<M::Result, SelectError>
where
    A: Actor + Handler<M>,
    A::Context: ToEnvelope<A, M>,
    M: Message + Send + 'static,
    M::Result: Send + MessageResponse<A, M>,
{
    match addr.send(msg).timeout(knobs.send_timeout()).await {
        Ok(r) => Ok(r),
        Err(MailboxError::Timeout) => Err(SelectError::ActorTimeout {
            actor,
            timeout_ms: knobs.send_timeout_ms,
        }),
        Err(MailboxError::Closed) => Err(SelectError::ActorFailed(ActorFault { actor })),
    }
}
