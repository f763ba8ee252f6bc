//! The `StickySessions` actor: owns session → account bindings and their TTL policy.
//!
//! On the hot path a binding is read, honoured or rebound inside the slot acquisition itself
//! (one atomic store operation, one round trip in Redis); this actor serves the explicit
//! operations (look up, bind, unbind) and sweeps expired bindings.
use crate::clock::SharedClock;
use crate::domain::{AccountId, Platform};
use crate::session::SessionId;
use crate::settings::SchedulingSettings;
use crate::store::{Store, StoreError};
use crate::supervise::{ActorFault, InjectPanic, Ping, RestartCounter, guarded};
use actix::prelude::*;
use std::sync::Arc;
use std::time::Duration;

pub(crate) const NAME: &str = "StickySessions";

/// The store key of a session binding: `<platform>:<API key id>:<session id>`. Bindings are
/// per API key as well as per platform and session: session ids come from clients, so without
/// the key one key's client could read or move another key's binding by sending its session id.
/// `%` and `:` in the key id are escaped, so no (key, session) pair spells another pair's key.
/// Without a key (scheduling used directly, as in tests) the key id part is empty.
pub fn sticky_key(platform: Platform, api_key: Option<&str>, session: &SessionId) -> String {
    let api_key = api_key
        .unwrap_or_default()
        .replace('%', "%25")
        .replace(':', "%3A");
    format!("{platform}:{api_key}:{session}")
}

pub struct StickySessions {
    store: Arc<dyn Store>,
    clock: SharedClock,
    settings: Arc<SchedulingSettings>,
    restarts: Arc<RestartCounter>,
}

impl StickySessions {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        clock: SharedClock,
        settings: Arc<SchedulingSettings>,
        restarts: Arc<RestartCounter>,
    ) -> Self {
        StickySessions {
            store,
            clock,
            settings,
            restarts,
        }
    }
}

impl Actor for StickySessions {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(self.settings.actors.sticky.mailbox_capacity);
        let every = Duration::from_secs(self.settings.scheduler.sweep_secs.max(1));
        ctx.run_interval(every, |act, _| {
            let (store, now) = (act.store.clone(), act.clock.now_ms());
            actix::spawn(async move {
                if let Err(e) = store.sweep_sticky(now).await {
                    tracing::warn!(error = %e, "sticky binding sweep failed");
                }
            });
        });
    }
}

impl Supervised for StickySessions {
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        // All state is in the store; nothing local to rebuild.
        self.restarts.record(NAME);
    }
}

/// The account a session is bound to, if any.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Option<AccountId>, StickyError>")]
pub struct Lookup {
    pub platform: Platform,
    /// The API key whose binding this is (see [`sticky_key`]).
    pub api_key: Option<String>,
    pub session: SessionId,
}

/// Binds (or rebinds) a session to an account for the configured TTL.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<(), StickyError>")]
pub struct Bind {
    pub platform: Platform,
    /// The API key whose binding this is (see [`sticky_key`]).
    pub api_key: Option<String>,
    pub session: SessionId,
    pub account: AccountId,
}

/// Forgets a session's binding; answers whether there was one.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<bool, StickyError>")]
pub struct Unbind {
    pub platform: Platform,
    /// The API key whose binding this is (see [`sticky_key`]).
    pub api_key: Option<String>,
    pub session: SessionId,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StickyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Actor(#[from] ActorFault),
}

impl Handler<Lookup> for StickySessions {
    type Result = ResponseFuture<Result<Option<AccountId>, StickyError>>;

    fn handle(&mut self, msg: Lookup, ctx: &mut Context<Self>) -> Self::Result {
        let (store, now) = (self.store.clone(), self.clock.now_ms());
        match guarded(ctx, NAME, || {
            sticky_key(msg.platform, msg.api_key.as_deref(), &msg.session)
        }) {
            Ok(key) => Box::pin(async move { Ok(store.sticky_get(&key, now).await?) }),
            Err(f) => Box::pin(async move { Err(f.into()) }),
        }
    }
}

impl Handler<Bind> for StickySessions {
    type Result = ResponseFuture<Result<(), StickyError>>;

    fn handle(&mut self, msg: Bind, ctx: &mut Context<Self>) -> Self::Result {
        let (store, now) = (self.store.clone(), self.clock.now_ms());
        let policy = self.settings.scheduler.sticky_policy();
        match guarded(ctx, NAME, || {
            sticky_key(msg.platform, msg.api_key.as_deref(), &msg.session)
        }) {
            Ok(key) => Box::pin(async move { Ok(store.sticky_set(&key, &msg.account, policy, now).await?) }),
            Err(f) => Box::pin(async move { Err(f.into()) }),
        }
    }
}

impl Handler<Unbind> for StickySessions {
    type Result = ResponseFuture<Result<bool, StickyError>>;

    fn handle(&mut self, msg: Unbind, ctx: &mut Context<Self>) -> Self::Result {
        let store = self.store.clone();
        match guarded(ctx, NAME, || {
            sticky_key(msg.platform, msg.api_key.as_deref(), &msg.session)
        }) {
            Ok(key) => Box::pin(async move { Ok(store.sticky_delete(&key).await?) }),
            Err(f) => Box::pin(async move { Err(f.into()) }),
        }
    }
}

impl Handler<Ping> for StickySessions {
    type Result = ();
    fn handle(&mut self, _: Ping, _ctx: &mut Context<Self>) {}
}

impl Handler<InjectPanic> for StickySessions {
    type Result = Result<(), ActorFault>;

    fn handle(&mut self, _: InjectPanic, ctx: &mut Context<Self>) -> Self::Result {
        guarded(ctx, NAME, || panic!("fault injected into {NAME}"))
    }
}
