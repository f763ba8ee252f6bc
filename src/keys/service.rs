//! Key look-up on the hot path: hash the presented key, answer from an in-memory cache, fall
//! back to the store on a miss. Keys the store does not know are remembered briefly too, so a
//! client repeating a made-up key costs one store read per `auth.unknown_key_cache_secs`, and
//! an address with too many failed look-ups is held back (`failed_auth`). Both caches are
//! dropped whenever the store's key version moves (local admin writes, or another instance's,
//! seen by a periodic check), so a key created after a failed look-up of it works at once.
//! A key switchyard's own hash does not find is tried against the legacy verifiers (keys
//! imported from the reference keep its hash, see [`super::legacy`]): one more hash and store
//! read per verifier, for unknown keys only; a key found that way is cached under its own hash.
use super::failed_auth::FailedAuths;
use super::legacy::LegacyVerifier;
use super::model::ApiKey;
use super::secret::{hash_key, looks_like_key};
use super::store::KeyStore;
use crate::error::ApiError;
use crate::settings::AuthSettings;
use dashmap::DashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use switchyard_actors::clock::{Millis, SharedClock};

pub struct KeyService {
    store: Arc<dyn KeyStore>,
    clock: SharedClock,
    by_hash: DashMap<String, Arc<ApiKey>>,
    /// Hashes the store did not know → until when that answer is trusted.
    unknown: DashMap<String, Millis>,
    unknown_ttl_ms: i64,
    unknown_max: usize,
    failures: FailedAuths,
    seen_version: AtomicU64,
    /// Bumped by every invalidation: a look-up that started before one must not cache what it
    /// read (it may be the record an operator just disabled).
    epoch: AtomicU64,
    /// Last-used times not yet written (one write per key per flush, not per request).
    unflushed_use: DashMap<String, Millis>,
    /// The store's legacy verifiers, read on the first legacy look-up after an invalidation.
    verifiers: parking_lot::RwLock<Option<Arc<Vec<LegacyVerifier>>>>,
}

const NOT_FOUND: ApiError = ApiError::InvalidKey("API key not found");

impl KeyService {
    pub fn new(store: Arc<dyn KeyStore>, clock: SharedClock, settings: &AuthSettings) -> Self {
        KeyService {
            store,
            clock,
            by_hash: DashMap::new(),
            unknown: DashMap::new(),
            unknown_ttl_ms: (settings.unknown_key_cache_secs as i64).saturating_mul(1_000),
            unknown_max: settings.unknown_key_cache_entries,
            failures: FailedAuths::new(settings.max_failures_per_ip, settings.failure_window_secs),
            seen_version: AtomicU64::new(u64::MAX),
            epoch: AtomicU64::new(0),
            unflushed_use: DashMap::new(),
            verifiers: parking_lot::RwLock::new(None),
        }
    }

    pub fn store(&self) -> &Arc<dyn KeyStore> {
        &self.store
    }

    /// Validates a presented key: format, existence, active, expiry (§4.1 order). A failure
    /// counts against the client's address `peer`, and an address over its limit gets 429 for
    /// keys not already known here.
    pub async fn authenticate(&self, presented: &str, peer: Option<IpAddr>) -> Result<Arc<ApiKey>, ApiError> {
        let result = self.check(presented, peer).await;
        if let (Err(ApiError::InvalidKeyFormat | ApiError::InvalidKey(_)), Some(ip)) = (&result, peer) {
            self.failures.record(ip, self.clock.now_ms());
        }
        result
    }

    async fn check(&self, presented: &str, peer: Option<IpAddr>) -> Result<Arc<ApiKey>, ApiError> {
        let now = self.clock.now_ms();
        let hash = looks_like_key(presented).then(|| hash_key(presented));
        let cached = hash.as_ref().and_then(|h| self.by_hash.get(h).map(|k| k.clone()));
        if cached.is_none()
            && let Some(retry_after_secs) = peer.and_then(|ip| self.failures.blocked(ip, now))
        {
            return Err(ApiError::TooManyFailedAuths { retry_after_secs });
        }
        let Some(hash) = hash else {
            return Err(ApiError::InvalidKeyFormat);
        };
        let key = match cached {
            Some(k) => k,
            None => self.look_up(presented, hash, now).await?,
        };
        if key.deleted_at.is_some() {
            return Err(NOT_FOUND);
        }
        if !key.active {
            return Err(ApiError::InvalidKey("API key is disabled"));
        }
        if key.expires_at.is_some_and(|at| at <= now) {
            return Err(ApiError::InvalidKey("API key has expired"));
        }
        self.unflushed_use.insert(key.id.clone(), now);
        Ok(key)
    }

    /// The store's answer for a hash not in the key cache, remembering it either way (unless
    /// an invalidation ran meanwhile: the answer may predate the write that caused it).
    async fn look_up(&self, presented: &str, hash: String, now: Millis) -> Result<Arc<ApiKey>, ApiError> {
        if self.unknown.get(&hash).is_some_and(|until| *until > now) {
            return Err(NOT_FOUND);
        }
        let epoch = self.epoch.load(Ordering::SeqCst);
        let found = match self.store.key_by_hash(&hash).await? {
            Some(k) if k.legacy_verifier.is_none() => Some(k),
            _ => self.by_legacy_hash(presented, epoch).await?,
        };
        let current = self.epoch.load(Ordering::SeqCst) == epoch;
        let Some(found) = found else {
            if current && self.unknown_ttl_ms > 0 {
                self.remember_unknown(hash, now);
            }
            return Err(NOT_FOUND);
        };
        let found = Arc::new(found);
        if current {
            self.by_hash.insert(hash, found.clone());
        }
        Ok(found)
    }

    /// The key a legacy verifier's hash of `presented` finds, if that verifier is the key's.
    async fn by_legacy_hash(&self, presented: &str, epoch: u64) -> Result<Option<ApiKey>, ApiError> {
        let cached = self.verifiers.read().clone();
        let verifiers = match cached {
            Some(v) => v,
            None => {
                let loaded = Arc::new(self.store.legacy_verifiers().await?);
                if self.epoch.load(Ordering::SeqCst) == epoch {
                    *self.verifiers.write() = Some(loaded.clone());
                }
                loaded
            }
        };
        for v in verifiers.iter() {
            let found = self.store.key_by_hash(&v.hash(presented)).await?;
            if let Some(k) = found.filter(|k| k.legacy_verifier.as_deref() == Some(v.name.as_str())) {
                return Ok(Some(k));
            }
        }
        Ok(None)
    }

    /// Bounded: when full, lapsed entries go, and if none had lapsed, all of them (a flood of
    /// distinct made-up keys gains nothing from the cache anyway).
    fn remember_unknown(&self, hash: String, now: Millis) {
        if self.unknown.len() >= self.unknown_max {
            self.unknown.retain(|_, until| *until > now);
            if self.unknown.len() >= self.unknown_max {
                self.unknown.clear();
            }
        }
        if self.unknown_max > 0 {
            self.unknown.insert(hash, now + self.unknown_ttl_ms);
        }
    }

    /// Drops cached keys and cached unknown keys (after a local write).
    pub fn invalidate(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.by_hash.clear();
        self.unknown.clear();
        *self.verifiers.write() = None;
    }

    /// Periodic: drop the cache when another writer moved the version; flush last-used times.
    pub async fn sync(&self) {
        match self.store.keys_version().await {
            Ok(v) if self.seen_version.swap(v, Ordering::Relaxed) != v => self.invalidate(),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "reading the key version failed"),
        }
        let used: Vec<(String, Millis)> = self
            .unflushed_use
            .iter()
            .map(|e| (e.key().clone(), *e.value()))
            .collect();
        if used.is_empty() {
            return;
        }
        for (id, at) in &used {
            self.unflushed_use.remove_if(id, |_, v| v == at);
        }
        if let Err(e) = self.store.touch_keys(&used).await {
            tracing::warn!(keys = used.len(), error = %e, "writing key last-used times failed");
        }
    }
}
