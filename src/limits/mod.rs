//! Per-key limits that must be exact across instances: the fixed rate-limit window (requests,
//! tokens, cost) and the daily / weekly / total cost counters. Checked before any upstream
//! account is used (`admit`), settled after the answer with the real usage (`settle`).
mod memory;
mod store;

pub use memory::MemoryLimitStore;
pub use store::{
    Admission, KeyCounters, LimitStore, Refusal, SETTLE_BATCH_MEMORY, SettleBatch, Settlement, WindowSpec,
};

/// The in-process admission rules, shared with the embedded store.
pub(crate) use memory::KeyState;
