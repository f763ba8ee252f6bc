//! Accounts, groups and health in Redis. An account is a hash with one field per attribute;
//! every write sends only the fields it changes, and every account or group write bumps the
//! records version in the same atomic step.
use super::RedisStore;
use crate::store::record;
use ::redis::AsyncCommands;
use async_trait::async_trait;
use std::collections::HashMap;
use switchyard_actors::clock::Millis;
use switchyard_actors::domain::{Account, AccountId, Credentials, Group, GroupId, Health};
use switchyard_actors::store::{AccountPatch, AccountStore, HealthStore, StoreError, StoreResult};

fn decode_hash(hash: &HashMap<String, String>, store: &RedisStore) -> StoreResult<Account> {
    record::decode_account(hash.iter().map(|(k, v)| (k.as_str(), v.as_str())), &store.secrets)
}

fn json<T: serde::Serialize>(what: &str, v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(format!("cannot encode {what}: {e}")))
}

fn parse<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what} does not parse: {e}")))
}

impl RedisStore {
    /// Seals the URL fields older versions stored in plaintext (see [`record::plaintext_urls`]);
    /// returns how many were sealed. Each swap is conditional, so instances starting together,
    /// or an operator's write meanwhile, lose nothing.
    pub(super) async fn reseal_plaintext_urls(&self) -> StoreResult<usize> {
        let mut c = self.conn();
        let index = self.keyspace.account_index();
        let ids: Vec<String> = self
            .timed("reseal_urls", async { c.smembers(&index).await })
            .await?;
        let mut sealed = 0;
        for id in ids {
            let key = self.keyspace.account(&id);
            let hash: HashMap<String, String> =
                self.timed("reseal_urls", async { c.hgetall(&key).await }).await?;
            let fields = hash.iter().map(|(k, v)| (k.as_str(), v.as_str()));
            for (field, plain, seal) in record::plaintext_urls(&id, fields, &self.secrets)? {
                let mut inv = self.scripts.reseal_field.prepare_invoke();
                inv.key(&key).arg(field).arg(plain).arg(seal);
                let swapped: i64 = self
                    .timed("reseal_urls", async { inv.invoke_async(&mut c).await })
                    .await?;
                sealed += usize::try_from(swapped).unwrap_or(0);
            }
        }
        Ok(sealed)
    }
}

#[async_trait]
impl AccountStore for RedisStore {
    async fn load_accounts(&self) -> StoreResult<Vec<Account>> {
        let mut c = self.conn();
        let index = self.keyspace.account_index();
        let ids: Vec<String> = self
            .timed("load_accounts", async { c.smembers(&index).await })
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = ::redis::pipe();
        for id in &ids {
            pipe.hgetall(self.keyspace.account(id));
        }
        let hashes: Vec<HashMap<String, String>> = self
            .timed("load_accounts", async { pipe.query_async(&mut c).await })
            .await?;
        // A hash deleted between the two reads comes back empty: skip it.
        hashes
            .iter()
            .filter(|h| !h.is_empty())
            .map(|h| decode_hash(h, self))
            .collect()
    }

    async fn get_account(&self, id: &AccountId) -> StoreResult<Option<Account>> {
        let mut c = self.conn();
        let key = self.keyspace.account(id.as_str());
        let hash: HashMap<String, String> =
            self.timed("get_account", async { c.hgetall(&key).await }).await?;
        if hash.is_empty() {
            return Ok(None);
        }
        decode_hash(&hash, self).map(Some)
    }

    async fn put_account(&self, account: &Account) -> StoreResult<()> {
        let mut fields = record::encode_account(account, &self.secrets)?;
        if let Some(at) = account.last_used_at {
            fields.push((record::LAST_USED.to_owned(), at.to_string()));
        }
        let key = self.keyspace.account(account.id.as_str());
        let mut pipe = ::redis::pipe();
        pipe.atomic()
            .del(&key)
            .ignore()
            .hset_multiple(&key, &fields)
            .ignore()
            .sadd(self.keyspace.account_index(), account.id.as_str())
            .ignore()
            .incr(self.keyspace.records_version(), 1)
            .ignore();
        let mut c = self.conn();
        self.timed("put_account", async { pipe.query_async::<()>(&mut c).await })
            .await
    }

    async fn patch_account(&self, id: &AccountId, patch: &AccountPatch) -> StoreResult<Option<Account>> {
        let changes = record::encode_patch(id.as_str(), patch, &self.secrets)?;
        let mut inv = self.scripts.patch_record.prepare_invoke();
        inv.key(self.keyspace.account(id.as_str()))
            .key(self.keyspace.records_version())
            .arg(changes.set.len());
        for (field, value) in &changes.set {
            inv.arg(*field).arg(value);
        }
        for field in &changes.delete {
            inv.arg(*field);
        }
        let mut c = self.conn();
        let flat: Option<Vec<String>> = self
            .timed("patch_account", async { inv.invoke_async(&mut c).await })
            .await?;
        let Some(flat) = flat else { return Ok(None) };
        let hash: HashMap<String, String> = flat
            .chunks_exact(2)
            .map(|kv| (kv[0].clone(), kv[1].clone()))
            .collect();
        decode_hash(&hash, self).map(Some)
    }

    async fn delete_account(&self, id: &AccountId) -> StoreResult<bool> {
        let k = &self.keyspace;
        let mut inv = self.scripts.delete_account.prepare_invoke();
        inv.key(k.account(id.as_str()))
            .key(k.account_index())
            .key(k.health())
            .key(k.groups())
            .key(k.records_version())
            .arg(id.as_str());
        let mut c = self.conn();
        let existed: i64 = self
            .timed("delete_account", async { inv.invoke_async(&mut c).await })
            .await?;
        Ok(existed > 0)
    }

    async fn set_credentials(&self, id: &AccountId, credentials: &Credentials) -> StoreResult<()> {
        let sealed = record::seal_credentials(id.as_str(), credentials, &self.secrets)?;
        let mut inv = self.scripts.set_field.prepare_invoke();
        inv.key(self.keyspace.account(id.as_str()))
            .key(self.keyspace.records_version())
            .arg(record::CREDENTIALS)
            .arg(sealed);
        let mut c = self.conn();
        let found: i64 = self
            .timed("set_credentials", async { inv.invoke_async(&mut c).await })
            .await?;
        if found == 0 {
            return Err(StoreError::NotFound(format!("account {id}")));
        }
        Ok(())
    }

    async fn touch_last_used(&self, used: &[(AccountId, Millis)]) -> StoreResult<()> {
        self.touch(
            "touch_last_used",
            used.iter()
                .map(|(id, at)| (self.keyspace.account(id.as_str()), *at)),
        )
        .await
    }

    async fn load_groups(&self) -> StoreResult<Vec<Group>> {
        let mut c = self.conn();
        let key = self.keyspace.groups();
        let all: HashMap<String, String> = self.timed("load_groups", async { c.hgetall(&key).await }).await?;
        all.values().map(|v| parse("a group", v)).collect()
    }

    async fn put_group(&self, group: &Group) -> StoreResult<()> {
        let value = json("a group", group)?;
        let mut pipe = ::redis::pipe();
        pipe.atomic()
            .hset(self.keyspace.groups(), group.id.as_str(), value)
            .ignore()
            .incr(self.keyspace.records_version(), 1)
            .ignore();
        let mut c = self.conn();
        self.timed("put_group", async { pipe.query_async::<()>(&mut c).await })
            .await
    }

    async fn delete_group(&self, id: &GroupId) -> StoreResult<bool> {
        let mut pipe = ::redis::pipe();
        pipe.atomic()
            .hdel(self.keyspace.groups(), id.as_str())
            .incr(self.keyspace.records_version(), 1)
            .ignore();
        let mut c = self.conn();
        let (removed,): (i64,) = self
            .timed("delete_group", async { pipe.query_async(&mut c).await })
            .await?;
        Ok(removed > 0)
    }

    async fn records_version(&self) -> StoreResult<u64> {
        self.version().await
    }
}

#[async_trait]
impl HealthStore for RedisStore {
    async fn load_health(&self) -> StoreResult<HashMap<AccountId, Health>> {
        let mut c = self.conn();
        let key = self.keyspace.health();
        let all: HashMap<String, String> = self.timed("load_health", async { c.hgetall(&key).await }).await?;
        all.iter()
            .map(|(id, v)| Ok((AccountId::new(id), parse("account health", v)?)))
            .collect()
    }

    async fn put_health(&self, id: &AccountId, health: &Health) -> StoreResult<()> {
        let mut c = self.conn();
        let key = self.keyspace.health();
        if health.is_clear() {
            self.timed("put_health", async {
                c.hdel::<_, _, ()>(&key, id.as_str()).await
            })
            .await
        } else {
            let value = json("account health", health)?;
            self.timed("put_health", async {
                c.hset::<_, _, _, ()>(&key, id.as_str(), value).await
            })
            .await
        }
    }

    /// `SET NX PX`: the first instance to claim the alert in the window sends it.
    async fn claim_alert(&self, name: &str, window_ms: i64) -> StoreResult<bool> {
        let mut c = self.conn();
        let key = self.keyspace.alert_claim(name);
        let set: Option<String> = self
            .timed("claim_alert", async {
                ::redis::cmd("SET")
                    .arg(&key)
                    .arg(1)
                    .arg("NX")
                    .arg("PX")
                    .arg(window_ms.max(1))
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(set.is_some())
    }
}
