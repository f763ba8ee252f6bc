//! Panic containment for actor handlers. actix does not restart an actor because a handler
//! panicked; we catch the panic at the handler boundary, answer the caller with a typed error,
//! and stop the context so `actix::Supervisor` restarts the actor, which then rebuilds its state.
use actix::{Actor, ActorContext, Context};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};

/// A handler panicked; the actor is being restarted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the {actor} actor failed while handling the request and is restarting")]
pub struct ActorFault {
    pub actor: &'static str,
}

pub(crate) fn guarded<A, R>(
    ctx: &mut Context<A>,
    actor: &'static str,
    f: impl FnOnce() -> R,
) -> Result<R, ActorFault>
where
    A: Actor<Context = Context<A>>,
{
    catch_unwind(AssertUnwindSafe(f)).map_err(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        tracing::error!(actor, panic = %what, "actor handler panicked; restarting the actor");
        ctx.stop();
        ActorFault { actor }
    })
}

/// Restart counters, for metrics and tests. A counter may roll up into a total: the schedulers
/// of each local set count their own restarts and the total across every set of the core.
#[derive(Debug, Default)]
pub struct RestartCounter {
    n: AtomicU64,
    total: Option<std::sync::Arc<RestartCounter>>,
}

impl RestartCounter {
    /// A counter whose restarts are also added to `total`.
    pub(crate) fn rolling_up_into(total: std::sync::Arc<RestartCounter>) -> Self {
        RestartCounter {
            n: AtomicU64::new(0),
            total: Some(total),
        }
    }

    pub(crate) fn record(&self, actor: &'static str) {
        let n = self.n.fetch_add(1, Ordering::Relaxed) + 1;
        let total = self
            .total
            .as_ref()
            .map_or(n, |t| t.n.fetch_add(1, Ordering::Relaxed) + 1);
        tracing::warn!(actor, restarts = n, total, "actor restarted by its supervisor");
    }

    pub fn get(&self) -> u64 {
        self.n.load(Ordering::Relaxed)
    }
}

/// Asks an actor to panic inside a handler, for supervision tests and drills.
#[derive(Debug, Clone, Copy, actix::Message)]
#[rtype(result = "Result<(), ActorFault>")]
pub struct InjectPanic;

/// Answers when the actor is processing its mailbox (readiness checks).
#[derive(Debug, Clone, Copy, actix::Message)]
#[rtype(result = "()")]
pub struct Ping;
