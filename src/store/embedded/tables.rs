//! The redb tables of the embedded store and the transactions over them. Synchronous: the
//! store runs them on the blocking pool. Every write commits with `Durability::Immediate`, so a
//! write whose future resolved survives `kill -9`.
//!
//! | table              | key                 | value                          |
//! |--------------------|---------------------|--------------------------------|
//! | `account_fields`   | (account id, field) | field JSON; secrets sealed     |
//! | `account_last_used`| account id          | unix ms                        |
//! | `groups`           | group id            | group JSON                     |
//! | `meta`             | name                | text (the key check)           |
//!
//! API keys, limit counters and usage aggregates have their tables in `api_key_tables.rs`, `limits.rs`
//! and `usage.rs`; [`prepare`] creates them all.
use crate::store::crypto::SecretBox;
use crate::store::record::{self, FieldChanges};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use switchyard_actors::domain::{Account, AccountId, Group, GroupId};
use switchyard_actors::store::{StoreError, StoreResult};

const ACCOUNT_FIELDS: TableDefinition<'_, (&str, &str), &str> = TableDefinition::new("account_fields");
const LAST_USED: TableDefinition<'_, &str, i64> = TableDefinition::new("account_last_used");
const GROUPS: TableDefinition<'_, &str, &str> = TableDefinition::new("groups");
const META: TableDefinition<'_, &str, &str> = TableDefinition::new("meta");

/// A known plaintext sealed with the key on first open: a later open with another key fails at
/// start-up instead of at the first credential read.
const KEY_CHECK: &str = "key_check";
const KEY_CHECK_PLAIN: &[u8] = b"switchyard key check";

/// Upper bound for field names in a per-account range scan (field names are ASCII).
pub(super) const LAST_FIELD: &str = "\u{10FFFF}";

pub(super) fn failed(e: impl Into<redb::Error>) -> StoreError {
    match e.into() {
        redb::Error::Corrupted(msg) => StoreError::Corrupt(format!("embedded database: {msg}")),
        other => StoreError::Unavailable(format!("embedded database: {other}")),
    }
}

pub(super) fn corrupt_json(what: &str, e: serde_json::Error) -> StoreError {
    StoreError::Corrupt(format!("{what} does not parse: {e}"))
}

pub(super) fn write<T>(db: &Database, f: impl FnOnce(&WriteTransaction) -> StoreResult<T>) -> StoreResult<T> {
    let txn = db.begin_write().map_err(failed)?;
    let out = f(&txn)?;
    txn.commit().map_err(failed)?;
    Ok(out)
}

/// Creates the tables (first open) and checks the key against the stored key check.
/// `Ok(false)`: the key does not match the one the data was written with.
pub(super) fn prepare(db: &Database, secrets: &SecretBox) -> StoreResult<bool> {
    write(db, |txn| {
        txn.open_table(ACCOUNT_FIELDS).map_err(failed)?;
        txn.open_table(LAST_USED).map_err(failed)?;
        txn.open_table(GROUPS).map_err(failed)?;
        super::api_key_tables::create_tables(txn)?;
        super::limits::create_tables(txn)?;
        super::usage::create_tables(txn)?;
        let mut meta = txn.open_table(META).map_err(failed)?;
        let stored = meta.get(KEY_CHECK).map_err(failed)?.map(|g| g.value().to_owned());
        match stored {
            Some(sealed) => Ok(secrets.open(&sealed, KEY_CHECK.as_bytes()).is_ok()),
            None => {
                let sealed = secrets
                    .seal(KEY_CHECK_PLAIN, KEY_CHECK.as_bytes())
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                meta.insert(KEY_CHECK, sealed.as_str()).map_err(failed)?;
                Ok(true)
            }
        }
    })
}

/// Seals the URL fields older versions stored in plaintext (see [`record::plaintext_urls`]);
/// returns how many were sealed. The file may keep the old bytes in freed pages until redb
/// reuses them.
pub(super) fn reseal_plaintext_urls(db: &Database, secrets: &SecretBox) -> StoreResult<usize> {
    write(db, |txn| {
        let mut table = txn.open_table(ACCOUNT_FIELDS).map_err(failed)?;
        let mut found = Vec::new();
        for entry in table.iter().map_err(failed)? {
            let (k, v) = entry.map_err(failed)?;
            let (id, field) = k.value();
            if record::SEALED_URLS.contains(&field) {
                let stored = [(field, v.value())];
                for (field, _, sealed) in record::plaintext_urls(id, stored, secrets)? {
                    found.push((id.to_owned(), field, sealed));
                }
            }
        }
        for (id, field, sealed) in &found {
            table
                .insert((id.as_str(), *field), sealed.as_str())
                .map_err(failed)?;
        }
        Ok(found.len())
    })
}

pub(super) fn load_accounts(db: &Database, secrets: &SecretBox) -> StoreResult<Vec<Account>> {
    let txn = db.begin_read().map_err(failed)?;
    let fields = txn.open_table(ACCOUNT_FIELDS).map_err(failed)?;
    let last_used = txn.open_table(LAST_USED).map_err(failed)?;
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    let mut row: Vec<(String, String)> = Vec::new();
    let mut finish = |id: Option<String>, row: &mut Vec<(String, String)>| -> StoreResult<()> {
        if let Some(id) = id {
            out.push(decode(&id, row, &last_used, secrets)?);
        }
        row.clear();
        Ok(())
    };
    for entry in fields.iter().map_err(failed)? {
        let (k, v) = entry.map_err(failed)?;
        let (id, field) = k.value();
        if current.as_deref() != Some(id) {
            finish(current.replace(id.to_owned()), &mut row)?;
        }
        row.push((field.to_owned(), v.value().to_owned()));
    }
    finish(current, &mut row)?;
    Ok(out)
}

pub(super) fn get_account(db: &Database, id: &str, secrets: &SecretBox) -> StoreResult<Option<Account>> {
    let txn = db.begin_read().map_err(failed)?;
    let fields = txn.open_table(ACCOUNT_FIELDS).map_err(failed)?;
    let last_used = txn.open_table(LAST_USED).map_err(failed)?;
    let row = account_row(&fields, id)?;
    if row.is_empty() {
        return Ok(None);
    }
    decode(id, &row, &last_used, secrets).map(Some)
}

fn account_row(
    fields: &impl ReadableTable<(&'static str, &'static str), &'static str>,
    id: &str,
) -> StoreResult<Vec<(String, String)>> {
    let mut row = Vec::new();
    for entry in fields.range((id, "")..=(id, LAST_FIELD)).map_err(failed)? {
        let (k, v) = entry.map_err(failed)?;
        row.push((k.value().1.to_owned(), v.value().to_owned()));
    }
    Ok(row)
}

fn decode(
    id: &str,
    row: &[(String, String)],
    last_used: &impl ReadableTable<&'static str, i64>,
    secrets: &SecretBox,
) -> StoreResult<Account> {
    let used = last_used.get(id).map_err(failed)?.map(|g| g.value().to_string());
    let fields = row
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain(used.as_deref().map(|u| (record::LAST_USED, u)));
    record::decode_account(fields, secrets)
}

/// Replaces the whole record (operator create / import).
pub(super) fn put_account(
    db: &Database,
    id: &str,
    fields: &[(String, String)],
    last_used: Option<i64>,
) -> StoreResult<()> {
    write(db, |txn| {
        let mut table = txn.open_table(ACCOUNT_FIELDS).map_err(failed)?;
        table
            .retain_in((id, "")..=(id, LAST_FIELD), |_, _| false)
            .map_err(failed)?;
        for (field, value) in fields {
            table
                .insert((id, field.as_str()), value.as_str())
                .map_err(failed)?;
        }
        let mut used = txn.open_table(LAST_USED).map_err(failed)?;
        match last_used {
            Some(at) => used.insert(id, at).map(drop),
            None => used.remove(id).map(drop),
        }
        .map_err(failed)
    })
}

/// Writes only the changed fields; `None` when the account does not exist.
pub(super) fn patch_account(
    db: &Database,
    id: &str,
    changes: &FieldChanges,
    secrets: &SecretBox,
) -> StoreResult<Option<Account>> {
    write(db, |txn| {
        let mut table = txn.open_table(ACCOUNT_FIELDS).map_err(failed)?;
        if table.get((id, record::ID)).map_err(failed)?.is_none() {
            return Ok(None);
        }
        for (field, value) in &changes.set {
            table.insert((id, *field), value.as_str()).map_err(failed)?;
        }
        for field in &changes.delete {
            table.remove((id, *field)).map_err(failed)?;
        }
        let row = account_row(&table, id)?;
        let used = txn.open_table(LAST_USED).map_err(failed)?;
        decode(id, &row, &used, secrets).map(Some)
    })
}

/// Sets one field of an existing account; `false` when it does not exist.
pub(super) fn set_field(db: &Database, id: &str, field: &'static str, value: &str) -> StoreResult<bool> {
    write(db, |txn| {
        let mut table = txn.open_table(ACCOUNT_FIELDS).map_err(failed)?;
        if table.get((id, record::ID)).map_err(failed)?.is_none() {
            return Ok(false);
        }
        table.insert((id, field), value).map_err(failed)?;
        Ok(true)
    })
}

/// Keeps the latest time per existing account; unknown accounts are skipped.
pub(super) fn touch_last_used(db: &Database, used: &[(AccountId, i64)]) -> StoreResult<()> {
    write(db, |txn| {
        let fields = txn.open_table(ACCOUNT_FIELDS).map_err(failed)?;
        let mut table = txn.open_table(LAST_USED).map_err(failed)?;
        for (id, at) in used {
            let id = id.as_str();
            if fields.get((id, record::ID)).map_err(failed)?.is_none() {
                continue;
            }
            let before = table.get(id).map_err(failed)?.map(|g| g.value());
            if before.is_none_or(|b| b < *at) {
                table.insert(id, *at).map_err(failed)?;
            }
        }
        Ok(())
    })
}

/// Deletes the record, its last-used time and its group memberships.
pub(super) fn delete_account(db: &Database, id: &str) -> StoreResult<bool> {
    write(db, |txn| {
        let mut table = txn.open_table(ACCOUNT_FIELDS).map_err(failed)?;
        let existed = table.get((id, record::ID)).map_err(failed)?.is_some();
        table
            .retain_in((id, "")..=(id, LAST_FIELD), |_, _| false)
            .map_err(failed)?;
        txn.open_table(LAST_USED)
            .map_err(failed)?
            .remove(id)
            .map_err(failed)?;
        let mut groups = txn.open_table(GROUPS).map_err(failed)?;
        let mut changed = Vec::new();
        for entry in groups.iter().map_err(failed)? {
            let (_, v) = entry.map_err(failed)?;
            let mut g: Group = serde_json::from_str(v.value()).map_err(|e| corrupt_json("a group", e))?;
            let before = g.members.len();
            g.members.retain(|m| m.as_str() != id);
            if g.members.len() != before {
                changed.push(g);
            }
        }
        for g in changed {
            let json = serde_json::to_string(&g).map_err(|e| corrupt_json("a group", e))?;
            groups.insert(g.id.as_str(), json.as_str()).map_err(failed)?;
        }
        Ok(existed)
    })
}

pub(super) fn load_groups(db: &Database) -> StoreResult<Vec<Group>> {
    let txn = db.begin_read().map_err(failed)?;
    let table = txn.open_table(GROUPS).map_err(failed)?;
    let mut out = Vec::new();
    for entry in table.iter().map_err(failed)? {
        let (_, v) = entry.map_err(failed)?;
        out.push(serde_json::from_str(v.value()).map_err(|e| corrupt_json("a group", e))?);
    }
    Ok(out)
}

pub(super) fn put_group(db: &Database, group: &Group) -> StoreResult<()> {
    let json = serde_json::to_string(group).map_err(|e| corrupt_json("a group", e))?;
    write(db, |txn| {
        let mut table = txn.open_table(GROUPS).map_err(failed)?;
        table.insert(group.id.as_str(), json.as_str()).map_err(failed)?;
        Ok(())
    })
}

pub(super) fn delete_group(db: &Database, id: &GroupId) -> StoreResult<bool> {
    write(db, |txn| {
        let mut table = txn.open_table(GROUPS).map_err(failed)?;
        let existed = table.remove(id.as_str()).map_err(failed)?.is_some();
        Ok(existed)
    })
}
