//! API keys in Redis, under the `{keys}` hash tag: a hash per key with one field per attribute
//! (like accounts), a `hash → id` index for the look-up of a presented key, a set of ids, and
//! the keys version every write bumps in the same script, so other instances drop their caches.
//! A recorded use writes `last_used_at` only and bumps nothing.
use super::RedisStore;
use crate::keys::{ApiKey, KeyPatch, KeyStore, LegacyVerifier};
use crate::store::api_key_record;
use ::redis::AsyncCommands;
use async_trait::async_trait;
use std::collections::HashMap;
use switchyard_actors::clock::Millis;
use switchyard_actors::store::{StoreError, StoreResult};

fn decode(hash: &HashMap<String, String>) -> StoreResult<ApiKey> {
    api_key_record::decode_key(hash.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

impl RedisStore {
    async fn key_hash(&self, op: &'static str, id: &str) -> StoreResult<Option<ApiKey>> {
        let mut c = self.conn();
        let key = self.keyspace.api_key(id);
        let hash: HashMap<String, String> = self.timed(op, async { c.hgetall(&key).await }).await?;
        if hash.is_empty() {
            return Ok(None);
        }
        decode(&hash).map(Some)
    }
}

#[async_trait]
impl KeyStore for RedisStore {
    async fn put_key(&self, key: &ApiKey) -> StoreResult<()> {
        let fields = api_key_record::encode_key(key)?;
        let k = &self.keyspace;
        let mut inv = self.scripts.put_key.prepare_invoke();
        inv.key(k.api_key(&key.id))
            .key(k.api_key_hashes())
            .key(k.api_key_index())
            .key(k.keys_version())
            .arg(&key.id)
            .arg(&key.hash);
        for (field, value) in &fields {
            inv.arg(field).arg(value);
        }
        let mut c = self.conn();
        self.timed("put_key", async { inv.invoke_async::<i64>(&mut c).await })
            .await
            .map(drop)
    }

    async fn get_key(&self, id: &str) -> StoreResult<Option<ApiKey>> {
        self.key_hash("get_key", id).await
    }

    /// HGET on the index, then HGETALL (a cache miss of the key service only).
    async fn key_by_hash(&self, hash: &str) -> StoreResult<Option<ApiKey>> {
        let mut c = self.conn();
        let index = self.keyspace.api_key_hashes();
        let id: Option<String> = self
            .timed("key_by_hash", async { c.hget(&index, hash).await })
            .await?;
        let Some(id) = id else { return Ok(None) };
        // A key re-created with another hash in between: the record decides.
        Ok(self
            .key_hash("key_by_hash", &id)
            .await?
            .filter(|k| k.hash == hash))
    }

    async fn list_keys(&self) -> StoreResult<Vec<ApiKey>> {
        let mut c = self.conn();
        let index = self.keyspace.api_key_index();
        let ids: Vec<String> = self
            .timed("list_keys", async { c.smembers(&index).await })
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = ::redis::pipe();
        for id in &ids {
            pipe.hgetall(self.keyspace.api_key(id));
        }
        let hashes: Vec<HashMap<String, String>> = self
            .timed("list_keys", async { pipe.query_async(&mut c).await })
            .await?;
        let mut keys = hashes
            .iter()
            .filter(|h| !h.is_empty())
            .map(decode)
            .collect::<StoreResult<Vec<_>>>()?;
        keys.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.id.cmp(&b.id)));
        Ok(keys)
    }

    async fn patch_key(&self, id: &str, patch: &KeyPatch) -> StoreResult<Option<ApiKey>> {
        let changes = api_key_record::encode_patch(patch)?;
        let mut inv = self.scripts.patch_record.prepare_invoke();
        inv.key(self.keyspace.api_key(id))
            .key(self.keyspace.keys_version())
            .arg(changes.set.len());
        for (field, value) in &changes.set {
            inv.arg(*field).arg(value);
        }
        for field in &changes.delete {
            inv.arg(*field);
        }
        let mut c = self.conn();
        let flat: Option<Vec<String>> = self
            .timed("patch_key", async { inv.invoke_async(&mut c).await })
            .await?;
        let Some(flat) = flat else { return Ok(None) };
        let hash: HashMap<String, String> = flat
            .chunks_exact(2)
            .map(|kv| (kv[0].clone(), kv[1].clone()))
            .collect();
        decode(&hash).map(Some)
    }

    async fn delete_key(&self, id: &str) -> StoreResult<bool> {
        let k = &self.keyspace;
        let mut inv = self.scripts.delete_key.prepare_invoke();
        inv.key(k.api_key(id))
            .key(k.api_key_hashes())
            .key(k.api_key_index())
            .key(k.keys_version())
            .arg(id);
        let mut c = self.conn();
        let existed: i64 = self
            .timed("delete_key", async { inv.invoke_async(&mut c).await })
            .await?;
        Ok(existed > 0)
    }

    /// One `TOUCH_LAST_USED` over every key: they all share the `{keys}` tag.
    async fn touch_keys(&self, used: &[(String, Millis)]) -> StoreResult<()> {
        self.touch(
            "touch_keys",
            used.iter().map(|(id, at)| (self.keyspace.api_key(id), *at)),
        )
        .await
    }

    async fn keys_version(&self) -> StoreResult<u64> {
        let mut c = self.conn();
        let key = self.keyspace.keys_version();
        let v: Option<u64> = self.timed("keys_version", async { c.get(&key).await }).await?;
        Ok(v.unwrap_or(0))
    }

    /// HSET and INCR of the version in one transaction (same `{keys}` slot).
    async fn put_legacy_verifier(&self, verifier: &LegacyVerifier) -> StoreResult<()> {
        let sealed = self
            .secrets
            .seal(
                verifier.secret.expose().as_bytes(),
                &api_key_record::verifier_aad(&verifier.name),
            )
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut pipe = ::redis::pipe();
        pipe.atomic()
            .hset(self.keyspace.legacy_verifiers(), &verifier.name, sealed)
            .ignore()
            .incr(self.keyspace.keys_version(), 1)
            .ignore();
        let mut c = self.conn();
        self.timed("put_legacy_verifier", async {
            pipe.query_async::<()>(&mut c).await
        })
        .await
    }

    async fn legacy_verifiers(&self) -> StoreResult<Vec<LegacyVerifier>> {
        let mut c = self.conn();
        let key = self.keyspace.legacy_verifiers();
        let sealed: HashMap<String, String> = self
            .timed("legacy_verifiers", async { c.hgetall(&key).await })
            .await?;
        sealed
            .into_iter()
            .map(|(name, sealed)| {
                let plain = self
                    .secrets
                    .open(&sealed, &api_key_record::verifier_aad(&name))
                    .map_err(|e| StoreError::Corrupt(format!("legacy verifier {name}: {e}")))?;
                let secret = String::from_utf8(plain)
                    .map_err(|_| StoreError::Corrupt(format!("legacy verifier {name} is not text")))?;
                Ok(LegacyVerifier {
                    name,
                    secret: switchyard_actors::Secret::new(secret),
                })
            })
            .collect()
    }
}
