//! The embedded store (`store.backend = "embedded"`, the default): no external service.
//! Durable records (accounts, groups, last-used times, API keys, usage aggregates, limit
//! counters) live in one redb file under `store.data_dir`; transient state (health, sticky
//! bindings, slot leases) lives in a [`MemoryStore`], which is what a single process needs and
//! loses nothing worth keeping.
//!
//! Limit counters are decided in memory and written behind (`limits.rs`): `admit` never
//! waits for the disk, and the counters survive a restart.
//!
//! The directory is created 0700 and the file 0600 (looser ones are tightened at open), and
//! secrets in it are sealed ([`record`](super::record)).
//!
//! redb locks the file: a second process (or a second open in this one) gets
//! [`OpenError::DataDirInUse`](super::OpenError::DataDirInUse) instead of a corrupted file.
mod api_key_tables;
mod limits;
mod tables;
mod usage;

pub use limits::PERSIST_DELAY as LIMITS_PERSIST_DELAY;
pub use usage::PRUNE_EVERY as USAGE_PRUNE_EVERY;

use super::OpenError;
use super::crypto::SecretBox;
use super::encryption_key::EncryptionKey;
use super::record;
use async_trait::async_trait;
use redb::{Builder, Database, DatabaseError};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use switchyard_actors::clock::Millis;
use switchyard_actors::domain::{Account, AccountId, Credentials, Group, GroupId, Health};
use switchyard_actors::lease::LeaseId;
use switchyard_actors::store::{
    AccountPatch, AccountStore, HealthStore, MemoryStore, SlotGrant, SlotRequest, SlotStore, StickyPolicy,
    StickyStore, StoreError, StoreResult,
};

/// The database file inside `data_dir`.
pub const DB_FILE: &str = "switchyard.redb";
/// redb's page cache: records are small, a few MB covers thousands of accounts.
const CACHE_BYTES: usize = 64 * 1024 * 1024;

pub struct EmbeddedStore {
    db: Arc<Database>,
    secrets: Arc<SecretBox>,
    /// Bumped after every committed record write; one process owns the file, so memory suffices.
    version: AtomicU64,
    /// Bumped after every committed API key write (not by a recorded use).
    keys_version: AtomicU64,
    limits: limits::Limits,
    /// When the usage retention pass last ran (`None`: not since opening).
    usage_pruned: parking_lot::Mutex<Option<Instant>>,
    transient: MemoryStore,
    dir: PathBuf,
    /// Database transactions run for callers (the in-memory parts count nothing).
    pub(crate) stats: Arc<crate::store::StoreStats>,
}

impl Drop for EmbeddedStore {
    /// A clean stop: write the limit counters not yet written, and make the recent-request
    /// lists (committed without waiting for the disk) durable.
    fn drop(&mut self) {
        self.limits.write_now(&self.db);
        if let Err(e) = usage::sync(&self.db) {
            tracing::warn!(error = %e, "final embedded database sync failed");
        }
    }
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl EmbeddedStore {
    /// Opens (creating if needed) the database under `dir`. Blocking: call at start-up.
    pub fn open(dir: &Path, key: &EncryptionKey) -> Result<Self, OpenError> {
        let data_dir_error = |source| OpenError::DataDir {
            dir: dir.to_owned(),
            source,
        };
        super::private::private_dir(dir).map_err(data_dir_error)?;
        let path = dir.join(DB_FILE);
        super::private::private_file(&path).map_err(data_dir_error)?;
        let db = Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create(&path)
            .map_err(|e| match e {
                DatabaseError::DatabaseAlreadyOpen | DatabaseError::LockProtocolMismatch => {
                    OpenError::DataDirInUse { dir: dir.to_owned() }
                }
                other => OpenError::Database {
                    path: path.clone(),
                    reason: other.to_string(),
                },
            })?;
        let secrets = SecretBox::new(key);
        let key_matches = tables::prepare(&db, &secrets).map_err(|e| OpenError::Database {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        if !key_matches {
            return Err(OpenError::WrongKey {
                store: format!("the embedded database {}", path.display()),
            });
        }
        let resealed = tables::reseal_plaintext_urls(&db, &secrets).map_err(|e| OpenError::Database {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        if resealed > 0 {
            tracing::warn!(
                fields = resealed,
                "encrypted account URLs an older version stored in plaintext"
            );
        }
        let limits = limits::Limits::load(&db).map_err(|e| OpenError::Database {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        Ok(EmbeddedStore {
            db: Arc::new(db),
            secrets: Arc::new(secrets),
            version: AtomicU64::new(1),
            keys_version: AtomicU64::new(1),
            limits,
            usage_pruned: parking_lot::Mutex::new(None),
            transient: MemoryStore::new(),
            dir: dir.to_owned(),
            stats: Arc::default(),
        })
    }

    pub fn data_dir(&self) -> &Path {
        &self.dir
    }

    /// The usage retention pass as of `now` (unix ms), in a transaction of its own: removes
    /// hourly, daily and monthly usage rows older than 7, 32 and 400 days (totals stay). The
    /// store runs it by itself with usage flushes (at most once per [`USAGE_PRUNE_EVERY`]).
    /// Returns how many rows went.
    pub async fn prune_usage(&self, now: Millis) -> StoreResult<u64> {
        self.blocking(move |db, _| usage::prune_now(db, now)).await
    }

    /// True (and the pass counts as run) when the retention pass is due.
    fn usage_prune_due(&self) -> bool {
        let mut last = self.usage_pruned.lock();
        if last.is_some_and(|at| at.elapsed() < USAGE_PRUNE_EVERY) {
            return false;
        }
        *last = Some(Instant::now());
        true
    }

    /// Runs a database transaction off the async threads (commits wait for `fsync`).
    async fn blocking<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Database, &SecretBox) -> StoreResult<T> + Send + 'static,
    {
        let (db, secrets) = (self.db.clone(), self.secrets.clone());
        let result = match tokio::runtime::Handle::try_current() {
            Ok(handle) => handle
                .spawn_blocking(move || f(&db, &secrets))
                .await
                .map_err(|e| StoreError::Unavailable(format!("embedded database task failed: {e}")))
                .and_then(|r| r),
            // No runtime (a lease dropped after shutdown): just run it here.
            Err(_) => f(&db, &secrets),
        };
        self.stats.record(&result);
        result
    }

    fn bump(&self) {
        self.version.fetch_add(1, Ordering::Relaxed);
    }

    fn bump_keys(&self) {
        self.keys_version.fetch_add(1, Ordering::Relaxed);
    }
}

#[async_trait]
impl AccountStore for EmbeddedStore {
    async fn load_accounts(&self) -> StoreResult<Vec<Account>> {
        self.blocking(tables::load_accounts).await
    }

    async fn get_account(&self, id: &AccountId) -> StoreResult<Option<Account>> {
        let id = id.clone();
        self.blocking(move |db, s| tables::get_account(db, id.as_str(), s))
            .await
    }

    async fn put_account(&self, account: &Account) -> StoreResult<()> {
        let fields = record::encode_account(account, &self.secrets)?;
        let (id, used) = (account.id.clone(), account.last_used_at);
        self.blocking(move |db, _| tables::put_account(db, id.as_str(), &fields, used))
            .await?;
        self.bump();
        Ok(())
    }

    async fn patch_account(&self, id: &AccountId, patch: &AccountPatch) -> StoreResult<Option<Account>> {
        let changes = record::encode_patch(id.as_str(), patch, &self.secrets)?;
        let id = id.clone();
        let out = self
            .blocking(move |db, s| tables::patch_account(db, id.as_str(), &changes, s))
            .await?;
        if out.is_some() {
            self.bump();
        }
        Ok(out)
    }

    async fn delete_account(&self, id: &AccountId) -> StoreResult<bool> {
        let owned = id.clone();
        let existed = self
            .blocking(move |db, _| tables::delete_account(db, owned.as_str()))
            .await?;
        self.transient.put_health(id, &Health::default()).await?;
        self.bump();
        Ok(existed)
    }

    async fn set_credentials(&self, id: &AccountId, credentials: &Credentials) -> StoreResult<()> {
        let sealed = record::seal_credentials(id.as_str(), credentials, &self.secrets)?;
        let owned = id.clone();
        let found = self
            .blocking(move |db, _| tables::set_field(db, owned.as_str(), record::CREDENTIALS, &sealed))
            .await?;
        if !found {
            return Err(StoreError::NotFound(format!("account {id}")));
        }
        self.bump();
        Ok(())
    }

    async fn touch_last_used(&self, used: &[(AccountId, Millis)]) -> StoreResult<()> {
        if used.is_empty() {
            return Ok(());
        }
        let used = used.to_vec();
        self.blocking(move |db, _| tables::touch_last_used(db, &used))
            .await
    }

    async fn load_groups(&self) -> StoreResult<Vec<Group>> {
        self.blocking(|db, _| tables::load_groups(db)).await
    }

    async fn put_group(&self, group: &Group) -> StoreResult<()> {
        let group = group.clone();
        self.blocking(move |db, _| tables::put_group(db, &group)).await?;
        self.bump();
        Ok(())
    }

    async fn delete_group(&self, id: &GroupId) -> StoreResult<bool> {
        let id = id.clone();
        let existed = self.blocking(move |db, _| tables::delete_group(db, &id)).await?;
        self.bump();
        Ok(existed)
    }

    async fn records_version(&self) -> StoreResult<u64> {
        Ok(self.version.load(Ordering::Relaxed))
    }
}

#[async_trait]
impl HealthStore for EmbeddedStore {
    async fn load_health(&self) -> StoreResult<HashMap<AccountId, Health>> {
        self.transient.load_health().await
    }

    async fn put_health(&self, id: &AccountId, health: &Health) -> StoreResult<()> {
        self.transient.put_health(id, health).await
    }
}

#[async_trait]
impl StickyStore for EmbeddedStore {
    async fn sticky_get(&self, key: &str, now: Millis) -> StoreResult<Option<AccountId>> {
        self.transient.sticky_get(key, now).await
    }

    async fn sticky_set(
        &self,
        key: &str,
        account: &AccountId,
        policy: StickyPolicy,
        now: Millis,
    ) -> StoreResult<()> {
        self.transient.sticky_set(key, account, policy, now).await
    }

    async fn sticky_delete(&self, key: &str) -> StoreResult<bool> {
        self.transient.sticky_delete(key).await
    }

    async fn sweep_sticky(&self, now: Millis) -> StoreResult<u64> {
        self.transient.sweep_sticky(now).await
    }
}

#[async_trait]
impl SlotStore for EmbeddedStore {
    async fn acquire_slot(&self, req: &SlotRequest<'_>) -> StoreResult<Option<SlotGrant>> {
        self.transient.acquire_slot(req).await
    }

    fn candidates_per_call(&self) -> usize {
        self.transient.candidates_per_call()
    }

    async fn renew_leases(
        &self,
        leases: &[(AccountId, LeaseId)],
        ttl_ms: i64,
        now: Millis,
    ) -> StoreResult<()> {
        self.transient.renew_leases(leases, ttl_ms, now).await
    }

    async fn release_lease(&self, account: &AccountId, lease: &LeaseId) -> StoreResult<()> {
        self.transient.release_lease(account, lease).await
    }

    async fn release_leases(&self, leases: &[(AccountId, LeaseId)]) -> StoreResult<()> {
        self.transient.release_leases(leases).await
    }

    async fn slot_counts(&self, now: Millis) -> StoreResult<HashMap<AccountId, u32>> {
        self.transient.slot_counts(now).await
    }

    async fn slot_count(&self, holder: &AccountId, now: Millis) -> StoreResult<u32> {
        self.transient.slot_count(holder, now).await
    }

    async fn sweep_leases(&self, now: Millis) -> StoreResult<u64> {
        self.transient.sweep_leases(now).await
    }
}
