//! A complete, versioned backup of switchyard's state that restores onto either backend, so an
//! installation moves from the embedded store to Redis (or back) with nothing lost: accounts
//! (secrets sealed for the file, [`seal`]), groups, API keys (hashes only) and the legacy
//! verifiers of imported ones (sealed), usage aggregates, the limit counters each key is
//! measured against, and each key's recent requests.
//!
//! Left out on purpose, because they describe the moment rather than the installation and are
//! rebuilt by the running server: slot leases, account health and cooldowns, sticky session
//! bindings, pacing turns, applied-batch markers. The admin token and the encryption key
//! belong to each installation's configuration, not to its state. See `docs/backup.md`.
mod error;
pub mod export;
pub mod format;
pub mod restore;
pub mod seal;

pub use error::BackupError;
pub use export::{Sources, export};
pub use format::{Backup, FORMAT, VERSION};
pub use restore::{Report, Targets, Verified, restore, verify};
