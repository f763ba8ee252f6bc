//! One scheduler actor per platform, generic over its [`PlatformRules`]. The handler plans
//! synchronously against the published snapshot (microseconds, no I/O while holding the
//! mailbox); taking the slot is a future that runs beside the actor.
use super::plan::{Plan, plan};
use super::rules::{ClaudeRules, GeminiRules, OpenAiRules, PlatformRules};
use super::{NoAccount, SelectAccount, SelectError, Selection, StickyOutcome};
use crate::clock::SharedClock;
use crate::lease::Lease;
use crate::pool::{AccountPool, PoolView};
use crate::settings::SchedulingSettings;
use crate::store::{SlotRequest, StickyRequest, Store};
use crate::supervise::{ActorFault, InjectPanic, Ping, RestartCounter, guarded};
use actix::prelude::*;
use std::marker::PhantomData;
use std::sync::Arc;

pub type ClaudeScheduler = Scheduler<ClaudeRules>;
pub type GeminiScheduler = Scheduler<GeminiRules>;
pub type OpenAiScheduler = Scheduler<OpenAiRules>;

pub struct Scheduler<R: PlatformRules> {
    store: Arc<dyn Store>,
    clock: SharedClock,
    settings: Arc<SchedulingSettings>,
    view: Arc<PoolView>,
    pool: Addr<AccountPool>,
    restarts: Arc<RestartCounter>,
    _rules: PhantomData<R>,
}

impl<R: PlatformRules> Scheduler<R> {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        clock: SharedClock,
        settings: Arc<SchedulingSettings>,
        view: Arc<PoolView>,
        pool: Addr<AccountPool>,
        restarts: Arc<RestartCounter>,
    ) -> Self {
        Scheduler {
            store,
            clock,
            settings,
            view,
            pool,
            restarts,
            _rules: PhantomData,
        }
    }

    fn knobs(&self) -> crate::settings::ActorKnobs {
        let a = &self.settings.actors;
        match R::PLATFORM {
            crate::domain::Platform::Claude => a.claude,
            crate::domain::Platform::Gemini => a.gemini,
            crate::domain::Platform::OpenAi => a.openai,
        }
    }
}

impl<R: PlatformRules> Actor for Scheduler<R> {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(self.knobs().mailbox_capacity);
    }
}

impl<R: PlatformRules> Supervised for Scheduler<R> {
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        // Selection state is the pool's snapshot and the store; nothing local to rebuild.
        self.restarts.record(R::ACTOR);
    }
}

impl<R: PlatformRules> Handler<SelectAccount> for Scheduler<R> {
    type Result = ResponseFuture<Result<Selection, SelectError>>;

    fn handle(&mut self, msg: SelectAccount, ctx: &mut Context<Self>) -> Self::Result {
        let now = self.clock.now_ms();
        let fallback = self.settings.scheduler.dedicated_fallback;
        let view = self.view.clone();
        let planned = guarded(ctx, R::ACTOR, || plan::<R>(view.snapshot(), &msg, now, fallback));
        match planned {
            Err(fault) => Box::pin(std::future::ready(Err(fault.into()))),
            Ok(Err(no)) => Box::pin(std::future::ready(Err(no.into()))),
            Ok(Ok(plan)) => Box::pin(take_slot(
                plan,
                msg.hold_session,
                self.store.clone(),
                view,
                self.pool.clone(),
                now,
                &self.settings,
            )),
        }
    }
}

/// Offers the plan's accounts to the store, best first, until one has a free slot.
fn take_slot(
    mut plan: Plan,
    hold_session: bool,
    store: Arc<dyn Store>,
    view: Arc<PoolView>,
    pool: Addr<AccountPool>,
    now: i64,
    settings: &SchedulingSettings,
) -> impl Future<Output = Result<Selection, SelectError>> + use<> {
    let lease_ttl_ms = settings.scheduler.lease_ttl_ms();
    let sticky_policy = settings.scheduler.sticky_policy();
    async move {
        let per_call = store.candidates_per_call().max(1);
        // Soft stickiness: a session bound to an eligible account waits for that account.
        if hold_session
            && let Some(key) = &plan.sticky_key
            && let Some(bound) = store.sticky_get(key, now).await?
        {
            plan.restrict_to(&bound);
        }
        // A bound account beyond the first chunk would never be offered: look it up first.
        // (Pools that fit one chunk, the common case, need no extra round trip.)
        if plan.len() > per_call
            && let Some(key) = &plan.sticky_key
            && let Some(bound) = store.sticky_get(key, now).await?
        {
            plan.promote(&bound);
        }
        let mut chunk = plan.next_chunk(per_call);
        while !chunk.is_empty() {
            let lease = view.lease_ids.next();
            let req = SlotRequest {
                candidates: &chunk,
                sticky: plan.sticky_key.as_deref().map(|key| StickyRequest {
                    key,
                    policy: sticky_policy,
                }),
                lease: &lease,
                lease_ttl_ms,
                now,
            };
            let Some(grant) = view.acquire_slot(&req).await? else {
                chunk = plan.next_chunk(per_call);
                continue;
            };
            // From here the slot is ours: the guard releases it on every path.
            let lease = Lease::held(grant.account.clone(), lease, pool.clone(), view.clone());
            let Some(entry) = plan.snapshot.get(&grant.account) else {
                chunk = plan.next_chunk(per_call);
                continue;
            };
            let account = entry.account.clone();
            view.record_use(&plan.snapshot, &grant.account, now);
            let sticky = match (&plan.sticky_key, grant.sticky_hit) {
                (None, _) => StickyOutcome::NoSession,
                (Some(_), true) => StickyOutcome::Hit,
                (Some(_), false) => StickyOutcome::Bound,
            };
            return Ok(Selection {
                account,
                lease,
                sticky,
                waited: None,
            });
        }
        Err(match plan.strict_dedicated {
            Some(account) => NoAccount::DedicatedUnavailable {
                account,
                reason: super::DedicatedReason::Full,
                retry_at: None,
            },
            None => NoAccount::AllFull,
        }
        .into())
    }
}

impl<R: PlatformRules> Handler<Ping> for Scheduler<R> {
    type Result = ();
    fn handle(&mut self, _: Ping, _ctx: &mut Context<Self>) {}
}

impl<R: PlatformRules> Handler<InjectPanic> for Scheduler<R> {
    type Result = Result<(), ActorFault>;

    fn handle(&mut self, _: InjectPanic, ctx: &mut Context<Self>) -> Self::Result {
        guarded(ctx, R::ACTOR, || panic!("fault injected into {}", R::ACTOR))
    }
}
