//! What an importer hands to `POST /admin/import/crs`: the source's state already mapped to
//! switchyard's model (accounts with plaintext credentials, which the store encrypts; keys
//! with the source's hash; usage in switchyard's buckets), plus what the mapping left out.
//! The admin endpoint writes it through the store contracts ([`super::apply`]).
use crate::keys::ApiKey;
use crate::money::Money;
use crate::usage::{Dimension, UsageCounters};
use serde::{Deserialize, Serialize};
use switchyard_actors::{Account, Group, Secret};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportBundle {
    /// Where it came from, for the report and the logs (never a secret).
    pub source: String,
    /// The secret that verifies the imported keys' hashes (the reference's ENCRYPTION_KEY);
    /// stored as a legacy verifier, encrypted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legacy_secret: Option<Secret>,
    #[serde(default)]
    pub accounts: Vec<AccountImport>,
    #[serde(default)]
    pub groups: Vec<Group>,
    #[serde(default)]
    pub keys: Vec<KeyImport>,
    /// Found in the source and left out, with the reason.
    #[serde(default)]
    pub skipped: Vec<Skipped>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountImport {
    pub account: Account,
    /// Added once, when the account is first imported.
    #[serde(default)]
    pub usage: Vec<UsageEntry>,
    /// Source settings with no equivalent here, as `name: why`.
    #[serde(default)]
    pub skipped_fields: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyImport {
    /// `legacy_verifier` is set by the endpoint (the bundle's secret names it).
    pub key: ApiKey,
    /// Added once, when the key is first imported (per key and per model).
    #[serde(default)]
    pub usage: Vec<UsageEntry>,
    /// What the key has spent, so its cost limits go on where they were.
    #[serde(default)]
    pub spent: Spent,
    /// Source settings with no equivalent here, as `name: why`.
    #[serde(default)]
    pub skipped_fields: Vec<String>,
}

/// Counters for one (dimension, id, bucket); buckets are switchyard's names (`total`,
/// `m:2026-12`, `d:2026-12-06`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageEntry {
    pub dimension: Dimension,
    pub id: String,
    pub bucket: String,
    pub counters: UsageCounters,
}

/// Rated cost a key has spent: in all, in the source's current day and current week (counted
/// into switchyard's current day and week).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Spent {
    #[serde(with = "crate::money::usd")]
    pub total: Money,
    #[serde(with = "crate::money::usd")]
    pub today: Money,
    #[serde(with = "crate::money::usd")]
    pub this_week: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Skipped {
    /// `account`, `group` or `key`.
    pub what: String,
    pub id: String,
    pub name: String,
    /// e.g. `bedrock`, for accounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub reason: String,
}
