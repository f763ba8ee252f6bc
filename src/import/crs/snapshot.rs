//! The part of the reference's Redis an import reads, held in memory: hashes, strings and
//! sets by key name. Read from a live Redis ([`super::reader`]) or from a `crs-redis-dump/1`
//! JSON file (the fixture format), so the mapping is one pure function over either.
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Hash(BTreeMap<String, String>),
    Text(String),
    Set(Vec<String>),
}

#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub entries: BTreeMap<String, Value>,
}

/// The key families an import reads (SCAN patterns).
pub const FAMILIES: &[&str] = &[
    "claude:account:*",
    "claude_console_account:*",
    "bedrock_account:*",
    "ccr_account:*",
    "gemini_account:*",
    "gemini_api_account:*",
    "openai:account:*",
    "openai_responses_account:*",
    "azure_openai:account:*",
    "droid:account:*",
    "account_group:*",
    "account_group_members:*",
    "apikey:*",
    "usage:*",
    "account_usage:*",
];

impl Snapshot {
    pub fn hash(&self, key: &str) -> Option<&BTreeMap<String, String>> {
        match self.entries.get(key) {
            Some(Value::Hash(h)) => Some(h),
            _ => None,
        }
    }

    pub fn text(&self, key: &str) -> Option<&str> {
        match self.entries.get(key) {
            Some(Value::Text(t)) => Some(t),
            _ => None,
        }
    }

    pub fn set(&self, key: &str) -> &[String] {
        match self.entries.get(key) {
            Some(Value::Set(s)) => s,
            _ => &[],
        }
    }

    /// Entries whose name starts with `prefix`, with the rest of the name.
    pub fn with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a Value)> + 'a {
        self.entries
            .range(prefix.to_owned()..)
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(move |(k, v)| (&k[prefix.len()..], v))
    }

    /// From a `crs-redis-dump/1` document (`{keys: [{key, type, value}]}`); other types skipped.
    pub fn from_dump(dump: &serde_json::Value) -> Self {
        let mut entries = BTreeMap::new();
        for k in dump["keys"].as_array().into_iter().flatten() {
            let Some(name) = k["key"].as_str() else { continue };
            let value = match (k["type"].as_str(), &k["value"]) {
                (Some("hash"), serde_json::Value::Object(m)) => Value::Hash(
                    m.iter()
                        .filter_map(|(f, v)| Some((f.clone(), v.as_str()?.to_owned())))
                        .collect(),
                ),
                (Some("string"), serde_json::Value::String(s)) => Value::Text(s.clone()),
                (Some("set"), serde_json::Value::Array(a)) => {
                    Value::Set(a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
                }
                _ => continue,
            };
            entries.insert(name.to_owned(), value);
        }
        Snapshot { entries }
    }
}
