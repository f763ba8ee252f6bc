//! The key store contract (backends: memory here; embedded and Redis in `crate::store`).
use super::legacy::LegacyVerifier;
use super::model::{ApiKey, KeyPatch};
use async_trait::async_trait;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use switchyard_actors::clock::Millis;
use switchyard_actors::store::StoreResult;

#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    async fn put_key(&self, key: &ApiKey) -> StoreResult<()>;
    async fn get_key(&self, id: &str) -> StoreResult<Option<ApiKey>>;
    async fn key_by_hash(&self, hash: &str) -> StoreResult<Option<ApiKey>>;
    async fn list_keys(&self) -> StoreResult<Vec<ApiKey>>;
    /// Field-level update; `Ok(None)` when the key does not exist.
    async fn patch_key(&self, id: &str, patch: &KeyPatch) -> StoreResult<Option<ApiKey>>;
    async fn delete_key(&self, id: &str) -> StoreResult<bool>;
    /// Writes only the last-used field of each key (the later of the stored time and the given
    /// one), in one store operation; unknown keys are skipped.
    async fn touch_keys(&self, used: &[(String, Millis)]) -> StoreResult<()>;
    /// One key's [`KeyStore::touch_keys`].
    async fn touch_key(&self, id: &str, at: Millis) -> StoreResult<()> {
        self.touch_keys(&[(id.to_owned(), at)]).await
    }
    /// Moves on every key write, so other instances drop their caches.
    async fn keys_version(&self) -> StoreResult<u64>;
    /// Stores (or replaces, by name) a verifier of imported keys, its secret encrypted at
    /// rest; moves the keys version like a key write.
    async fn put_legacy_verifier(&self, verifier: &LegacyVerifier) -> StoreResult<()>;
    /// Every stored verifier, by name.
    async fn legacy_verifiers(&self) -> StoreResult<Vec<LegacyVerifier>>;
}

#[derive(Default)]
pub struct MemoryKeyStore {
    keys: RwLock<HashMap<String, ApiKey>>,
    verifiers: RwLock<std::collections::BTreeMap<String, LegacyVerifier>>,
    version: AtomicU64,
}

impl MemoryKeyStore {
    pub fn new() -> Self {
        Self::default()
    }
    fn bump(&self) {
        self.version.fetch_add(1, Ordering::Relaxed);
    }
}

#[async_trait]
impl KeyStore for MemoryKeyStore {
    async fn put_key(&self, key: &ApiKey) -> StoreResult<()> {
        self.keys.write().insert(key.id.clone(), key.clone());
        self.bump();
        Ok(())
    }

    async fn get_key(&self, id: &str) -> StoreResult<Option<ApiKey>> {
        Ok(self.keys.read().get(id).cloned())
    }

    async fn key_by_hash(&self, hash: &str) -> StoreResult<Option<ApiKey>> {
        Ok(self.keys.read().values().find(|k| k.hash == hash).cloned())
    }

    async fn list_keys(&self) -> StoreResult<Vec<ApiKey>> {
        let mut keys: Vec<ApiKey> = self.keys.read().values().cloned().collect();
        keys.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.id.cmp(&b.id)));
        Ok(keys)
    }

    async fn patch_key(&self, id: &str, patch: &KeyPatch) -> StoreResult<Option<ApiKey>> {
        let out = self.keys.write().get_mut(id).map(|k| {
            patch.apply(k);
            k.clone()
        });
        self.bump();
        Ok(out)
    }

    async fn delete_key(&self, id: &str) -> StoreResult<bool> {
        let existed = self.keys.write().remove(id).is_some();
        self.bump();
        Ok(existed)
    }

    async fn touch_keys(&self, used: &[(String, Millis)]) -> StoreResult<()> {
        let mut keys = self.keys.write();
        for (id, at) in used {
            if let Some(k) = keys.get_mut(id) {
                k.last_used_at = Some(k.last_used_at.unwrap_or(0).max(*at));
            }
        }
        Ok(())
    }

    async fn keys_version(&self) -> StoreResult<u64> {
        Ok(self.version.load(Ordering::Relaxed))
    }

    async fn put_legacy_verifier(&self, verifier: &LegacyVerifier) -> StoreResult<()> {
        self.verifiers
            .write()
            .insert(verifier.name.clone(), verifier.clone());
        self.bump();
        Ok(())
    }

    async fn legacy_verifiers(&self) -> StoreResult<Vec<LegacyVerifier>> {
        Ok(self.verifiers.read().values().cloned().collect())
    }
}
