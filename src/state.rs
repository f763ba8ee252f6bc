//! What every handler shares.
use crate::admin_token::AdminToken;
use crate::keys::KeyService;
use crate::oauth::TokenRefresher;
use crate::settings::Settings;
use crate::usage::UsageRecorder;
use std::sync::Arc;
use switchyard_actors::clock::SharedClock;
use switchyard_actors::{Scheduling, Store};

/// Cheap to clone (handles and `Arc`s): each HTTP worker holds its own copy, whose
/// `scheduling` selects through scheduler actors on the worker's thread (see `startup`).
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub scheduling: Scheduling,
    pub store: Arc<dyn Store>,
    pub keys: Arc<KeyService>,
    pub usage: Arc<UsageRecorder>,
    pub oauth: Arc<TokenRefresher>,
    pub admin: AdminToken,
    pub clock: SharedClock,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Shared by every worker's copy: a key's queue spans the instance.
    pub key_queues: Arc<crate::auth::concurrency::KeyQueues>,
    /// Request-body bytes held in memory, bounded over all requests and per key.
    pub body_memory: Arc<crate::http::body_memory::BodyMemory>,
    pub started: std::time::Instant,
    /// Per-account gates for real user turns, shared by every worker's copy.
    pub pacing: Arc<crate::relay::pacing::PacingGates>,
    /// The store's credential key: backups are sealed with it unless told otherwise.
    pub encryption_key: Arc<crate::store::EncryptionKey>,
    /// Account alerts (`[alerts]`): `send_test` for the admin API and the dashboard.
    pub alerts: crate::alerts::Alerts,
}
