//! Key look-up on the hot path: hash the presented key, answer from an in-memory cache, fall
//! back to the store on a miss. The cache is dropped whenever the store's key version moves
//! (local admin writes, or another instance's, seen by a periodic check).
use super::model::ApiKey;
use super::secret::{hash_key, looks_like_key};
use super::store::KeyStore;
use crate::error::ApiError;
use dashmap::DashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use switchyard_actors::clock::{Millis, SharedClock};

pub struct KeyService {
    store: Arc<dyn KeyStore>,
    clock: SharedClock,
    by_hash: DashMap<String, Arc<ApiKey>>,
    seen_version: AtomicU64,
    /// Bumped by every invalidation: a look-up that started before one must not cache what it
    /// read (it may be the record an operator just disabled).
    epoch: AtomicU64,
    /// Last-used times not yet written (one write per key per flush, not per request).
    unflushed_use: DashMap<String, Millis>,
}

impl KeyService {
    pub fn new(store: Arc<dyn KeyStore>, clock: SharedClock) -> Self {
        KeyService {
            store,
            clock,
            by_hash: DashMap::new(),
            seen_version: AtomicU64::new(u64::MAX),
            epoch: AtomicU64::new(0),
            unflushed_use: DashMap::new(),
        }
    }

    pub fn store(&self) -> &Arc<dyn KeyStore> {
        &self.store
    }

    /// Validates a presented key: format, existence, active, expiry (§4.1 order).
    pub async fn authenticate(&self, presented: &str) -> Result<Arc<ApiKey>, ApiError> {
        if !looks_like_key(presented) {
            return Err(ApiError::InvalidKeyFormat);
        }
        let hash = hash_key(presented);
        let key = match self.by_hash.get(&hash) {
            Some(k) => k.clone(),
            None => {
                let epoch = self.epoch.load(Ordering::SeqCst);
                let found = self
                    .store
                    .key_by_hash(&hash)
                    .await?
                    .ok_or(ApiError::InvalidKey("API key not found"))?;
                let found = Arc::new(found);
                if self.epoch.load(Ordering::SeqCst) == epoch {
                    self.by_hash.insert(hash, found.clone());
                }
                found
            }
        };
        if !key.active {
            return Err(ApiError::InvalidKey("API key is disabled"));
        }
        let now = self.clock.now_ms();
        if key.expires_at.is_some_and(|at| at <= now) {
            return Err(ApiError::InvalidKey("API key has expired"));
        }
        self.unflushed_use.insert(key.id.clone(), now);
        Ok(key)
    }

    /// Drops cached keys (after a local write).
    pub fn invalidate(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.by_hash.clear();
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
