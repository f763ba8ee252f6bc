//! switchyard's scheduling core.
//!
//! Supervised actix actors pick an upstream account for a request and hold one of its concurrency
//! slots until the request ends: [`pool::AccountPool`] owns accounts, health and slot leases,
//! [`sticky::StickySessions`] owns session bindings, and one [`scheduler::Scheduler`] per platform
//! applies the selection rules. State goes through the [`store::Store`] contract so the same actors
//! run on the embedded store or on Redis. Nothing here speaks HTTP.
//!
//! [`Scheduling`] is the handle callers use. [`Scheduling::local`] gives a worker thread its own
//! scheduler actors (selections then stay on that thread) over the one shared pool, and
//! [`Scheduling::hold_slot`] takes concurrency slots for holders other than accounts (the
//! server's per-key limit) through the same leases.
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]

pub mod clock;
pub mod domain;
pub mod lease;
pub mod pool;
pub mod scheduler;
pub mod session;
pub mod settings;
pub mod sticky;
pub mod store;
mod supervise;
pub mod system;
pub mod wait_queue;

pub use clock::{Clock, ManualClock, SystemClock};
pub use domain::*;
pub use lease::{Lease, LeaseId};
pub use scheduler::{NoAccount, SelectAccount, SelectError, Selection};
pub use settings::ActorsSettings;
pub use store::{Store, StoreError};
pub use system::Scheduling;
pub use wait_queue::{SlotWaiters, WaitRefusal};
