//! API keys in redb: one row per (key id, field), like accounts, so a patch writes only the
//! patched fields and a recorded use only `last_used_at`; plus a `hash → id` index for the
//! look-up of a presented key.
//!
//! | table            | key             | value                       |
//! |------------------|-----------------|-----------------------------|
//! | `api_key_fields` | (key id, field) | field JSON (`api_key_record`)   |
//! | `api_key_hashes` | SHA-256 hex     | key id                      |
//! | `legacy_verifiers` | verifier name | its secret, sealed          |
use super::tables::{LAST_FIELD, failed, write};
use crate::keys::{ApiKey, LegacyVerifier};
use crate::store::api_key_record;
use crate::store::crypto::SecretBox;
use crate::store::record::FieldChanges;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use switchyard_actors::store::{StoreError, StoreResult};

const FIELDS: TableDefinition<'_, (&str, &str), &str> = TableDefinition::new("api_key_fields");
const HASHES: TableDefinition<'_, &str, &str> = TableDefinition::new("api_key_hashes");
const VERIFIERS: TableDefinition<'_, &str, &str> = TableDefinition::new("legacy_verifiers");

pub(super) fn create_tables(txn: &WriteTransaction) -> StoreResult<()> {
    txn.open_table(FIELDS).map_err(failed)?;
    txn.open_table(HASHES).map_err(failed)?;
    txn.open_table(VERIFIERS).map_err(failed)?;
    Ok(())
}

fn put_verifier(db: &Database, secrets: &SecretBox, v: &LegacyVerifier) -> StoreResult<()> {
    let sealed = secrets
        .seal(
            v.secret.expose().as_bytes(),
            &api_key_record::verifier_aad(&v.name),
        )
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    write(db, |txn| {
        let mut table = txn.open_table(VERIFIERS).map_err(failed)?;
        table.insert(v.name.as_str(), sealed.as_str()).map_err(failed)?;
        Ok(())
    })
}

fn verifiers(db: &Database, secrets: &SecretBox) -> StoreResult<Vec<LegacyVerifier>> {
    let txn = db.begin_read().map_err(failed)?;
    let table = txn.open_table(VERIFIERS).map_err(failed)?;
    let mut out = Vec::new();
    for entry in table.iter().map_err(failed)? {
        let (name, sealed) = entry.map_err(failed)?;
        let name = name.value().to_owned();
        let plain = secrets
            .open(sealed.value(), &api_key_record::verifier_aad(&name))
            .map_err(|e| StoreError::Corrupt(format!("legacy verifier {name}: {e}")))?;
        let secret = String::from_utf8(plain)
            .map_err(|_| StoreError::Corrupt(format!("legacy verifier {name} is not text")))?;
        out.push(LegacyVerifier {
            name,
            secret: switchyard_actors::Secret::new(secret),
        });
    }
    Ok(out)
}

fn row(
    fields: &impl ReadableTable<(&'static str, &'static str), &'static str>,
    id: &str,
) -> StoreResult<Vec<(String, String)>> {
    let mut out = Vec::new();
    for entry in fields.range((id, "")..=(id, LAST_FIELD)).map_err(failed)? {
        let (k, v) = entry.map_err(failed)?;
        out.push((k.value().1.to_owned(), v.value().to_owned()));
    }
    Ok(out)
}

fn decode(row: &[(String, String)]) -> StoreResult<ApiKey> {
    api_key_record::decode_key(row.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

fn stored_hash(
    fields: &impl ReadableTable<(&'static str, &'static str), &'static str>,
    id: &str,
) -> StoreResult<Option<String>> {
    match fields.get((id, api_key_record::HASH)).map_err(failed)? {
        None => Ok(None),
        Some(v) => serde_json::from_str(v.value())
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("API key {id}: hash field: {e}"))),
    }
}

/// Replaces the whole record and points the hash index at it.
pub(super) fn put_key(db: &Database, key: &ApiKey, fields: &[(String, String)]) -> StoreResult<()> {
    write(db, |txn| {
        let id = key.id.as_str();
        let mut table = txn.open_table(FIELDS).map_err(failed)?;
        let mut hashes = txn.open_table(HASHES).map_err(failed)?;
        if let Some(old) = stored_hash(&table, id)?
            && old != key.hash
            && hashes
                .get(old.as_str())
                .map_err(failed)?
                .is_some_and(|v| v.value() == id)
        {
            hashes.remove(old.as_str()).map_err(failed)?;
        }
        table
            .retain_in((id, "")..=(id, LAST_FIELD), |_, _| false)
            .map_err(failed)?;
        for (field, value) in fields {
            table
                .insert((id, field.as_str()), value.as_str())
                .map_err(failed)?;
        }
        hashes.insert(key.hash.as_str(), id).map_err(failed)?;
        Ok(())
    })
}

pub(super) fn get_key(db: &Database, id: &str) -> StoreResult<Option<ApiKey>> {
    let txn = db.begin_read().map_err(failed)?;
    let table = txn.open_table(FIELDS).map_err(failed)?;
    let row = row(&table, id)?;
    if row.is_empty() {
        return Ok(None);
    }
    decode(&row).map(Some)
}

pub(super) fn key_by_hash(db: &Database, hash: &str) -> StoreResult<Option<ApiKey>> {
    let txn = db.begin_read().map_err(failed)?;
    let hashes = txn.open_table(HASHES).map_err(failed)?;
    let Some(id) = hashes.get(hash).map_err(failed)?.map(|v| v.value().to_owned()) else {
        return Ok(None);
    };
    let table = txn.open_table(FIELDS).map_err(failed)?;
    let row = row(&table, &id)?;
    if row.is_empty() {
        return Ok(None);
    }
    decode(&row).map(Some)
}

/// Oldest first (creation time, then id), like the memory store.
pub(super) fn list_keys(db: &Database) -> StoreResult<Vec<ApiKey>> {
    let txn = db.begin_read().map_err(failed)?;
    let table = txn.open_table(FIELDS).map_err(failed)?;
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    let mut fields: Vec<(String, String)> = Vec::new();
    for entry in table.iter().map_err(failed)? {
        let (k, v) = entry.map_err(failed)?;
        let (id, field) = k.value();
        if current.as_deref() != Some(id) {
            if current.replace(id.to_owned()).is_some() {
                out.push(decode(&fields)?);
            }
            fields.clear();
        }
        fields.push((field.to_owned(), v.value().to_owned()));
    }
    if current.is_some() {
        out.push(decode(&fields)?);
    }
    out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.id.cmp(&b.id)));
    Ok(out)
}

/// Writes only the changed fields; `None` when the key does not exist.
pub(super) fn patch_key(db: &Database, id: &str, changes: &FieldChanges) -> StoreResult<Option<ApiKey>> {
    write(db, |txn| {
        let mut table = txn.open_table(FIELDS).map_err(failed)?;
        if table.get((id, api_key_record::ID)).map_err(failed)?.is_none() {
            return Ok(None);
        }
        for (field, value) in &changes.set {
            table.insert((id, *field), value.as_str()).map_err(failed)?;
        }
        for field in &changes.delete {
            table.remove((id, *field)).map_err(failed)?;
        }
        decode(&row(&table, id)?).map(Some)
    })
}

pub(super) fn delete_key(db: &Database, id: &str) -> StoreResult<bool> {
    write(db, |txn| {
        let mut table = txn.open_table(FIELDS).map_err(failed)?;
        let existed = table.get((id, api_key_record::ID)).map_err(failed)?.is_some();
        let hash = stored_hash(&table, id)?;
        table
            .retain_in((id, "")..=(id, LAST_FIELD), |_, _| false)
            .map_err(failed)?;
        if let Some(hash) = hash {
            let mut hashes = txn.open_table(HASHES).map_err(failed)?;
            if hashes
                .get(hash.as_str())
                .map_err(failed)?
                .is_some_and(|v| v.value() == id)
            {
                hashes.remove(hash.as_str()).map_err(failed)?;
            }
        }
        Ok(existed)
    })
}

/// Keeps the later of the stored and the given time, for every key in one transaction;
/// unknown keys are skipped.
pub(super) fn touch_keys(db: &Database, used: &[(String, i64)]) -> StoreResult<()> {
    write(db, |txn| {
        let mut table = txn.open_table(FIELDS).map_err(failed)?;
        for (id, at) in used {
            let id = id.as_str();
            if table.get((id, api_key_record::ID)).map_err(failed)?.is_none() {
                continue;
            }
            let before: Option<i64> = table
                .get((id, api_key_record::LAST_USED))
                .map_err(failed)?
                .and_then(|v| serde_json::from_str(v.value()).ok());
            if before.is_none_or(|b| b < *at) {
                table
                    .insert((id, api_key_record::LAST_USED), at.to_string().as_str())
                    .map_err(failed)?;
            }
        }
        Ok(())
    })
}

#[async_trait::async_trait]
impl crate::keys::KeyStore for super::EmbeddedStore {
    async fn put_key(&self, key: &ApiKey) -> StoreResult<()> {
        let fields = api_key_record::encode_key(key)?;
        let key = key.clone();
        self.blocking(move |db, _| put_key(db, &key, &fields)).await?;
        self.bump_keys();
        Ok(())
    }

    async fn get_key(&self, id: &str) -> StoreResult<Option<ApiKey>> {
        let id = id.to_owned();
        self.blocking(move |db, _| get_key(db, &id)).await
    }

    async fn key_by_hash(&self, hash: &str) -> StoreResult<Option<ApiKey>> {
        let hash = hash.to_owned();
        self.blocking(move |db, _| key_by_hash(db, &hash)).await
    }

    async fn list_keys(&self) -> StoreResult<Vec<ApiKey>> {
        self.blocking(|db, _| list_keys(db)).await
    }

    async fn patch_key(&self, id: &str, patch: &crate::keys::KeyPatch) -> StoreResult<Option<ApiKey>> {
        let changes = api_key_record::encode_patch(patch)?;
        let id = id.to_owned();
        let out = self.blocking(move |db, _| patch_key(db, &id, &changes)).await?;
        if out.is_some() {
            self.bump_keys();
        }
        Ok(out)
    }

    async fn delete_key(&self, id: &str) -> StoreResult<bool> {
        let id = id.to_owned();
        let existed = self.blocking(move |db, _| delete_key(db, &id)).await?;
        self.bump_keys();
        Ok(existed)
    }

    async fn touch_keys(&self, used: &[(String, switchyard_actors::clock::Millis)]) -> StoreResult<()> {
        if used.is_empty() {
            return Ok(());
        }
        let used = used.to_vec();
        self.blocking(move |db, _| touch_keys(db, &used)).await
    }

    async fn keys_version(&self) -> StoreResult<u64> {
        Ok(self.keys_version.load(std::sync::atomic::Ordering::Relaxed))
    }

    async fn put_legacy_verifier(&self, verifier: &LegacyVerifier) -> StoreResult<()> {
        let verifier = verifier.clone();
        self.blocking(move |db, secrets| put_verifier(db, secrets, &verifier))
            .await?;
        self.bump_keys();
        Ok(())
    }

    async fn legacy_verifiers(&self) -> StoreResult<Vec<LegacyVerifier>> {
        self.blocking(verifiers).await
    }
}
