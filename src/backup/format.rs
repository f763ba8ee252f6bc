//! The file: one JSON object, `{"format": "switchyard-backup", "version": 1, "checksum": …,
//! …}`. The checksum is the SHA-256 of the object without its `checksum` field, written
//! compactly with keys in order, so a file that was cut short, edited or damaged is refused
//! before anything is written. Money is integer picodollars, times unix milliseconds.
use super::BackupError;
use crate::keys::ApiKey;
use crate::limits::KeyCounters;
use crate::usage::{Dimension, RecentRequest, UsageCounters};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use switchyard_actors::clock::Millis;
use switchyard_actors::domain::Group;

pub const FORMAT: &str = "switchyard-backup";
/// Bumped when a change would make an older switchyard misread the file.
pub const VERSION: u64 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Backup {
    pub format: String,
    pub version: u64,
    #[serde(default)]
    pub checksum: String,
    pub created_at: Millis,
    /// A known text sealed with the file's key: proves the key before any account is read.
    pub key_check: String,
    /// Each account's fields, its secret ones sealed (see [`super::seal`]).
    pub accounts: Vec<Map<String, Value>>,
    pub groups: Vec<Group>,
    pub keys: Vec<ApiKey>,
    /// What verifies the imported keys hashed by another installation (`cr_` keys), each
    /// secret sealed. Absent in files written before verifiers were carried: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub legacy_verifiers: Vec<SealedVerifier>,
    pub usage: Vec<UsageRow>,
    pub limits: Vec<LimitRow>,
    pub recent: Vec<RecentRow>,
}

/// A legacy key verifier ([`crate::keys::LegacyVerifier`]), its secret sealed and bound to
/// its name (see [`super::seal`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedVerifier {
    pub name: String,
    pub secret: String,
}

/// One (dimension, bucket, id) of the usage aggregates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRow {
    pub dimension: Dimension,
    pub bucket: String,
    pub id: String,
    pub counters: UsageCounters,
}

/// A key's limit counters as they stood, for the day and week bucket named.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitRow {
    pub key_id: String,
    pub day: String,
    pub week: String,
    pub counters: KeyCounters,
}

/// A key's recent requests, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentRow {
    pub key_id: String,
    pub requests: Vec<RecentRequest>,
}

fn checksum_of(object: &Map<String, Value>) -> String {
    let mut body = object.clone();
    body.remove("checksum");
    // serde_json's map is ordered by key (no `preserve_order`): the text is canonical.
    hex::encode(Sha256::digest(Value::Object(body).to_string().as_bytes()))
}

impl Backup {
    /// The file's text, with its checksum filled in.
    pub fn to_json(&self) -> Result<Value, BackupError> {
        let value = serde_json::to_value(self).map_err(|e| BackupError::Damaged(e.to_string()))?;
        let Value::Object(mut object) = value else {
            return Err(BackupError::Damaged(
                "a backup did not encode as an object".into(),
            ));
        };
        object.insert("checksum".into(), Value::String(checksum_of(&object)));
        Ok(Value::Object(object))
    }

    /// Reads a file: complete JSON, this format, a version this switchyard knows, a checksum
    /// that matches, then the typed content. Checks in that order, so the error names the
    /// first thing wrong.
    pub fn parse(bytes: &[u8]) -> Result<Backup, BackupError> {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| BackupError::NotJson(e.to_string()))?;
        let Value::Object(object) = value else {
            return Err(BackupError::NotABackup {
                found: "not an object".into(),
            });
        };
        match object.get("format") {
            Some(Value::String(f)) if f == FORMAT => {}
            other => {
                return Err(BackupError::NotABackup {
                    found: other.map_or("none".into(), |v| v.to_string()),
                });
            }
        }
        match object.get("version") {
            Some(v) if v.as_u64() == Some(VERSION) => {}
            other => {
                return Err(BackupError::UnknownVersion {
                    found: other.map_or("none".into(), |v| v.to_string()),
                });
            }
        }
        if object.get("checksum").and_then(Value::as_str) != Some(checksum_of(&object).as_str()) {
            return Err(BackupError::Checksum);
        }
        serde_json::from_value(Value::Object(object)).map_err(|e| BackupError::Damaged(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empty() -> Backup {
        Backup {
            format: FORMAT.into(),
            version: VERSION,
            checksum: String::new(),
            created_at: 1,
            key_check: "v1:x".into(),
            accounts: vec![],
            groups: vec![],
            keys: vec![],
            legacy_verifiers: vec![],
            usage: vec![UsageRow {
                dimension: Dimension::Key,
                bucket: "total".into(),
                id: "k".into(),
                counters: UsageCounters {
                    requests: 3,
                    ..UsageCounters::default()
                },
            }],
            limits: vec![],
            recent: vec![],
        }
    }

    fn text(b: &Backup) -> String {
        b.to_json().unwrap().to_string()
    }

    #[test]
    fn a_written_file_reads_back() {
        let b = empty();
        let back = Backup::parse(text(&b).as_bytes()).unwrap();
        assert_eq!(back.usage, b.usage);
        assert_eq!(back.checksum.len(), 64);
    }

    #[test]
    fn a_file_without_verifiers_reads_as_none_and_writes_none() {
        let written = empty().to_json().unwrap();
        assert!(written.get("legacy_verifiers").is_none(), "{written}");
        assert_eq!(
            Backup::parse(written.to_string().as_bytes())
                .unwrap()
                .legacy_verifiers,
            vec![]
        );
        let carried = Backup {
            legacy_verifiers: vec![SealedVerifier {
                name: "crs-0123456789abcdef".into(),
                secret: "v1:sealed".into(),
            }],
            ..empty()
        };
        let back = Backup::parse(text(&carried).as_bytes()).unwrap();
        assert_eq!(back.legacy_verifiers, carried.legacy_verifiers);
    }

    #[test]
    fn truncated_edited_foreign_or_newer_files_are_refused() {
        let t = text(&empty());
        let cut = &t[..t.len() / 2];
        assert!(matches!(
            Backup::parse(cut.as_bytes()),
            Err(BackupError::NotJson(_))
        ));
        let edited = t.replace("\"requests\":3", "\"requests\":4");
        assert_ne!(edited, t);
        assert!(matches!(
            Backup::parse(edited.as_bytes()),
            Err(BackupError::Checksum)
        ));
        let newer = Backup {
            version: 2,
            ..empty()
        };
        let err = Backup::parse(text(&newer).as_bytes()).unwrap_err();
        assert!(err.to_string().contains("version 2 is not supported"), "{err}");
        let foreign = t.replace(FORMAT, "something-else");
        assert!(matches!(
            Backup::parse(foreign.as_bytes()),
            Err(BackupError::NotABackup { .. })
        ));
    }
}
