//! State backends behind the `switchyard_actors::Store` contract.
//!
//! - [`embedded`] (`store.backend = "embedded"`, the default): redb under `store.data_dir` for
//!   durable records, memory for transient scheduling state. No external service.
//! - [`redis`] (`store.backend = "redis"`): several instances share one pool; check-then-act
//!   steps are Lua scripts, see `docs/redis-keys.md`.
//!
//! Both keep upstream credentials encrypted at rest ([`crypto`]) with the key found by [`key`],
//! and both write accounts and API keys field by field ([`record`], [`api_key_record`]). Each
//! backend also implements the API key, limit-counter and usage contracts
//! ([`KeyStore`](crate::keys::KeyStore), [`LimitStore`](crate::limits::LimitStore),
//! [`UsageStore`](crate::usage::UsageStore)); [`open`] picks the backend and returns all four
//! views of it. `conformance_records` is the suite every backend of those three passes.
pub mod api_key_record;
#[doc(hidden)]
pub mod conformance_records;
pub mod crypto;
pub mod embedded;
pub mod encryption_key;
pub mod private;
pub mod record;
pub mod redis;

use crate::settings::{StoreBackend, StoreSettings};
use encryption_key::{
    ENCRYPTION_KEY_ENV, EncryptionKeyError, EncryptionKeyInputs, EncryptionKeySource, GENERATED_KEY_FILE,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use embedded::EmbeddedStore;
pub use encryption_key::EncryptionKey;
pub use redis::{RedisOptions, RedisStore};

/// The state backends the application runs on: with `store.backend` set, one store behind
/// all four contracts.
pub struct Backends {
    pub store: Arc<dyn switchyard_actors::Store>,
    pub keys: Arc<dyn crate::keys::KeyStore>,
    pub usage: Arc<dyn crate::usage::UsageStore>,
    pub limits: Arc<dyn crate::limits::LimitStore>,
    /// The store's own operation counts (none for memory).
    pub stats: Arc<StoreStats>,
    /// The key the store seals credentials with, which backups are sealed with by default
    /// (memory: a fresh one per process, since nothing is sealed there).
    pub encryption_key: Arc<EncryptionKey>,
}

impl Backends {
    /// Everything in process memory (tests, benchmarks).
    pub fn in_memory() -> Self {
        Backends {
            store: Arc::new(switchyard_actors::store::MemoryStore::new()),
            keys: Arc::new(crate::keys::MemoryKeyStore::new()),
            usage: Arc::new(crate::usage::MemoryUsageStore::new()),
            limits: Arc::new(crate::limits::MemoryLimitStore::new()),
            stats: Arc::default(),
            encryption_key: Arc::new(EncryptionKey::generate()),
        }
    }
}

/// Why the state store could not be opened at start-up. Never contains a secret.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot create the data directory {}: {source}", dir.display())]
    DataDir { dir: PathBuf, source: std::io::Error },
    #[error(
        "the data directory {} is in use by another switchyard process (its database is locked); \
         stop that process or give this one another store.data_dir",
        dir.display()
    )]
    DataDirInUse { dir: PathBuf },
    #[error("cannot open the database {}: {reason}", path.display())]
    Database { path: PathBuf, reason: String },
    #[error(
        "the encryption key does not match the key {store} was written with; \
         set the original SWITCHYARD_ENCRYPTION_KEY / store.encryption_key_file"
    )]
    WrongKey { store: String },
    #[error(transparent)]
    Key(#[from] EncryptionKeyError),
    #[error("cannot use Redis at {target}: {reason}")]
    Redis { target: String, reason: String },
}

/// Operations a store made on its backing service (Redis round trips, database transactions)
/// and how many failed, for `/metrics`. Counted by each store where the operation happens.
#[derive(Debug, Default)]
pub struct StoreStats {
    pub ops: std::sync::atomic::AtomicU64,
    pub errors: std::sync::atomic::AtomicU64,
}

impl StoreStats {
    pub(crate) fn record<T>(&self, result: &switchyard_actors::store::StoreResult<T>) {
        use std::sync::atomic::Ordering::Relaxed;
        self.ops.fetch_add(1, Relaxed);
        if result.is_err() {
            self.errors.fetch_add(1, Relaxed);
        }
    }
}

/// The same store behind all four contracts (scheduling, API keys, usage, limits).
fn backends<S>(store: Arc<S>, stats: Arc<StoreStats>, key: EncryptionKey) -> Backends
where
    S: switchyard_actors::Store
        + crate::keys::KeyStore
        + crate::usage::UsageStore
        + crate::limits::LimitStore,
{
    Backends {
        store: store.clone(),
        keys: store.clone(),
        usage: store.clone(),
        limits: store,
        stats,
        encryption_key: Arc::new(key),
    }
}

/// Opens the configured backend. The encryption key comes from `SWITCHYARD_ENCRYPTION_KEY`,
/// else `store.encryption_key_file`, else (embedded only) `data_dir/encryption-key`, generated
/// on first start. Redis mode refuses to start without a key.
pub async fn open(settings: &StoreSettings) -> Result<Backends, OpenError> {
    let env = std::env::var(ENCRYPTION_KEY_ENV).ok();
    open_with_env_key(settings, env.as_deref()).await
}

/// [`open`] with the value of `SWITCHYARD_ENCRYPTION_KEY` passed in (tests, embedding).
pub async fn open_with_env_key(
    settings: &StoreSettings,
    env_key: Option<&str>,
) -> Result<Backends, OpenError> {
    let key_file = Some(settings.encryption_key_file.trim())
        .filter(|f| !f.is_empty())
        .map(Path::new);
    match settings.backend {
        StoreBackend::Embedded => {
            // Before the key file is written into it.
            private::private_dir(&settings.data_dir).map_err(|source| OpenError::DataDir {
                dir: settings.data_dir.clone(),
                source,
            })?;
            let generated = settings.data_dir.join(GENERATED_KEY_FILE);
            let (key, source) = encryption_key::resolve(EncryptionKeyInputs {
                env: env_key,
                key_file,
                generate_at: Some(&generated),
            })?;
            log_source(&source);
            let store = EmbeddedStore::open(&settings.data_dir, &key)?;
            tracing::info!(data_dir = %settings.data_dir.display(), "embedded state store open");
            let stats = store.stats.clone();
            Ok(backends(Arc::new(store), stats, key))
        }
        StoreBackend::Redis => {
            let (key, source) = encryption_key::resolve(EncryptionKeyInputs {
                env: env_key,
                key_file,
                generate_at: None,
            })?;
            log_source(&source);
            let store = RedisStore::connect(&RedisOptions::from_settings(settings), &key).await?;
            tracing::info!(prefix = %settings.redis_prefix, "redis state store connected");
            let stats = store.stats.clone();
            Ok(backends(Arc::new(store), stats, key))
        }
    }
}

fn log_source(source: &EncryptionKeySource) {
    match source {
        EncryptionKeySource::Environment => {
            tracing::info!("credential encryption key from {ENCRYPTION_KEY_ENV}")
        }
        EncryptionKeySource::File(p) | EncryptionKeySource::Generated(p) => {
            tracing::info!(file = %p.display(), "credential encryption key from file")
        }
    }
}
