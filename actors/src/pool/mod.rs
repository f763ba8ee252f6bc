//! The account pool: the published account snapshot, per-account health and slot leases.
mod actor;
mod events;
mod outcome;
mod snapshot;
mod view;

pub use actor::{AccountPool, FlushReleases, MarkOutcome, ReleaseSlot, ReloadAccounts, SlotCounts};

pub(crate) fn actor_name() -> &'static str {
    actor::NAME
}
pub use events::{AccountChange, AccountEvent, AccountEventSink};
pub use outcome::{HealthChange, Outcome, apply_outcome};
pub use snapshot::{AccountRuntime, Entry, PoolSnapshot};
pub use view::PoolView;
