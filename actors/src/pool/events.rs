//! Account state changes the pool decides (a cooldown starts, a model family is limited, a
//! cooldown ends, an operator or the upstream takes an account out of service), handed to one
//! sink the server registers (alerts). The sink must not block: the pool actor calls it inline.
use crate::clock::Millis;
use crate::domain::{Account, AccountId, AccountStatus, CooldownReason, ModelFamily, Platform};
use std::sync::{Arc, OnceLock};

/// One change of an account's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountEvent {
    pub account: AccountId,
    pub name: String,
    pub platform: Platform,
    /// When the pool decided it (unix ms).
    pub at: Millis,
    pub change: AccountChange,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountChange {
    /// The whole account rests until `until`; `status` is the upstream status (0: network).
    CooledDown {
        reason: CooldownReason,
        status: u16,
        until: Millis,
    },
    /// Claude: one model family is limited until its reset time.
    FamilyLimited { family: ModelFamily, until: Millis },
    /// A cooldown or family limit announced earlier has ended.
    Recovered,
    /// An operator made the account inactive or unschedulable.
    Disabled,
    /// The account's lasting status left `active` (a refused credential, a blocked account).
    StatusChanged { status: AccountStatus },
}

impl AccountEvent {
    pub fn new(account: &Account, at: Millis, change: AccountChange) -> Self {
        AccountEvent {
            account: account.id.clone(),
            name: account.name.clone(),
            platform: account.platform(),
            at,
            change,
        }
    }
}

/// Receives account events. Called on the pool actor's thread: hand the event on (a bounded
/// queue) and return.
pub trait AccountEventSink: Send + Sync {
    fn account_event(&self, event: AccountEvent);
}

/// The registered sink, if any (set once, at start-up).
#[derive(Default)]
pub(crate) struct EventSinkSlot(OnceLock<Arc<dyn AccountEventSink>>);

impl EventSinkSlot {
    /// False when a sink was already set.
    pub(crate) fn set(&self, sink: Arc<dyn AccountEventSink>) -> bool {
        self.0.set(sink).is_ok()
    }

    pub(crate) fn emit(&self, event: AccountEvent) {
        if let Some(sink) = self.0.get() {
            sink.account_event(event);
        }
    }
}

/// What an operator or the upstream changed between two versions of an account record.
pub(crate) fn record_change(before: &Account, after: &Account) -> Option<AccountChange> {
    let in_service = |a: &Account| a.active && a.schedulable;
    if before.status.is_usable() && !after.status.is_usable() {
        return Some(AccountChange::StatusChanged { status: after.status });
    }
    if in_service(before) && !in_service(after) {
        return Some(AccountChange::Disabled);
    }
    None
}
