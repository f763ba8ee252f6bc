//! An account as a set of fields, one per attribute, so every backend can write only what
//! changed: an operator patch touches the patched fields, a token refresh the credential field,
//! a recorded use the last-used field. Field names are the account's serde names; each value is
//! that attribute's JSON text, except `credentials`, which is sealed with [`SecretBox`].
use super::crypto::SecretBox;
use serde_json::{Map, Value};
use switchyard_actors::domain::{Account, Credentials};
use switchyard_actors::store::{AccountPatch, StoreError};

/// The credential field: encrypted, never plaintext.
pub const CREDENTIALS: &str = "credentials";
/// The last-used field: written on its own, batched, by the pool.
pub const LAST_USED: &str = "last_used_at";
/// Present in every stored account; doubles as the "record exists" marker.
pub const ID: &str = "id";

/// The fields this version writes. A field outside this list that does not hold JSON (an
/// operator's note) is skipped on read; one that does is handed to serde, which ignores names
/// it does not know. A field added to `Account` is therefore stored and read without a change
/// here; list it so a damaged value is reported instead of skipped.
pub const KNOWN_FIELDS: &[&str] = &[
    "id",
    "name",
    "kind",
    "active",
    "schedulable",
    "status",
    "sharing",
    "priority",
    "max_concurrency",
    "models",
    "created_at",
    "last_used_at",
    "base_url",
    "credentials",
    "proxy",
    "extra",
];

/// The fields to set and to delete for one write.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FieldChanges {
    pub set: Vec<(&'static str, String)>,
    pub delete: Vec<&'static str>,
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

fn json_text<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| corrupt(format!("cannot encode an account field: {e}")))
}

fn known(name: &str) -> Option<&'static str> {
    KNOWN_FIELDS.iter().copied().find(|f| *f == name)
}

/// The sealed credential field for account `id` (the id is bound in as associated data).
pub fn seal_credentials(
    id: &str,
    credentials: &Credentials,
    secrets: &SecretBox,
) -> Result<String, StoreError> {
    let plain = Zeroing(json_text(credentials)?);
    secrets.seal(plain.0.as_bytes(), id.as_bytes()).map_err(corrupt)
}

/// Every field of a whole record except `last_used_at`, which each backend writes on its own
/// (the embedded store in a separate table, Redis in a field only last-used batches touch).
pub fn encode_account(a: &Account, secrets: &SecretBox) -> Result<Vec<(String, String)>, StoreError> {
    let Value::Object(map) =
        serde_json::to_value(a).map_err(|e| corrupt(format!("cannot encode account: {e}")))?
    else {
        return Err(corrupt("an account did not encode as an object"));
    };
    let mut out = Vec::with_capacity(map.len());
    for (name, value) in map {
        match name.as_str() {
            LAST_USED => {}
            CREDENTIALS => {
                let sealed = seal_credentials(a.id.as_str(), &a.credentials, secrets)?;
                out.push((name, sealed));
            }
            _ => {
                let text = value.to_string();
                out.push((name, text));
            }
        }
    }
    Ok(out)
}

/// The fields an operator patch changes. An empty `base_url` / `proxy` deletes the field.
pub fn encode_patch(p: &AccountPatch) -> Result<FieldChanges, StoreError> {
    let mut c = FieldChanges::default();
    macro_rules! set {
        ($($f:ident),*) => {$(
            if let Some(v) = &p.$f {
                c.set.push((stringify!($f), json_text(v)?));
            }
        )*};
    }
    set!(
        name,
        active,
        schedulable,
        status,
        sharing,
        priority,
        max_concurrency,
        models
    );
    macro_rules! set_or_clear {
        ($($f:ident),*) => {$(
            match p.$f.as_deref() {
                None => {}
                Some("") => c.delete.push(stringify!($f)),
                Some(v) => c.set.push((stringify!($f), json_text(&v)?)),
            }
        )*};
    }
    set_or_clear!(base_url, proxy);
    Ok(c)
}

/// Rebuilds an account from its stored fields (see [`KNOWN_FIELDS`] for fields it does not
/// know). A credential that does not decrypt is [`StoreError::Corrupt`] with a message naming
/// the key mismatch.
pub fn decode_account<'a>(
    fields: impl IntoIterator<Item = (&'a str, &'a str)>,
    secrets: &SecretBox,
) -> Result<Account, StoreError> {
    let mut map = Map::new();
    let mut sealed = None;
    for (name, text) in fields {
        if name == CREDENTIALS {
            sealed = Some(text);
            continue;
        }
        match serde_json::from_str::<Value>(text) {
            Ok(value) => {
                map.insert(name.to_owned(), value);
            }
            Err(e) if known(name).is_some() => {
                return Err(corrupt(format!("account field `{name}` is not valid JSON: {e}")));
            }
            Err(_) => {}
        }
    }
    let id = match map.get(ID) {
        Some(Value::String(id)) => id.clone(),
        _ => return Err(corrupt("a stored account has no id")),
    };
    if let Some(sealed) = sealed {
        let plain = Zeroing(
            String::from_utf8(
                secrets
                    .open(sealed, id.as_bytes())
                    .map_err(|e| corrupt(format!("account {id}: {e}")))?,
            )
            .map_err(|_| corrupt(format!("account {id}: credentials are not text")))?,
        );
        let creds: Value = serde_json::from_str(&plain.0)
            .map_err(|_| corrupt(format!("account {id}: credentials do not parse")))?;
        map.insert(CREDENTIALS.to_owned(), creds);
    }
    serde_json::from_value(Value::Object(map))
        .map_err(|e| corrupt(format!("account {id} does not parse: {e}")))
}

/// Overwrites a plaintext secret's bytes when it goes out of scope (best effort: serde may have
/// made copies on the way).
struct Zeroing(String);

impl Drop for Zeroing {
    fn drop(&mut self) {
        let len = self.0.len();
        self.0.clear();
        self.0.extend(std::iter::repeat_n('\0', len));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::key::EncryptionKey;
    use std::collections::BTreeMap;
    use switchyard_actors::domain::{AccountKind, AccountStatus, ModelSupport, OAuthTokens, Secret, Sharing};

    fn secrets() -> SecretBox {
        SecretBox::new(&EncryptionKey::generate())
    }

    fn full_account() -> Account {
        let mut a = Account::new("acct-1", AccountKind::ClaudeOfficial, 1_000);
        a.last_used_at = Some(2_000);
        a.base_url = Some("https://example.test".into());
        a.proxy = Some("socks5://127.0.0.1:1080".into());
        a.models = ModelSupport::Map(BTreeMap::from([("a".into(), "b".into())]));
        a.extra = BTreeMap::from([("project_id".into(), "p".into())]);
        a.credentials = Credentials::OAuth(OAuthTokens {
            access_token: Secret::new("at-very-secret"),
            refresh_token: Some(Secret::new("rt-very-secret")),
            expires_at: Some(3),
        });
        a
    }

    fn decode(fields: &[(String, String)], extra: &[(&str, &str)], s: &SecretBox) -> Account {
        let all = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain(extra.iter().copied());
        decode_account(all, s).unwrap()
    }

    #[test]
    fn every_field_round_trips_and_the_secret_is_sealed() {
        let s = secrets();
        let a = full_account();
        let fields = encode_account(&a, &s).unwrap();
        assert!(
            fields.iter().all(|(k, _)| *k != LAST_USED),
            "last-used is written on its own"
        );
        let names: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
        assert!(
            names.iter().all(|n| known(n).is_some()),
            "KNOWN_FIELDS lists every field: {names:?}"
        );
        let creds = &fields.iter().find(|(k, _)| *k == CREDENTIALS).unwrap().1;
        assert!(creds.starts_with("v1:") && !creds.contains("very-secret"));
        let extra = [
            (LAST_USED, "2000"),
            ("operator-note", "not json"),
            ("future_field", "1"),
        ];
        assert_eq!(
            decode(&fields, &extra, &s),
            a,
            "unknown fields are skipped or ignored"
        );
        let broken = [("priority", "not json")];
        let all = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).chain(broken);
        assert!(
            decode_account(all, &s).is_err(),
            "a damaged known field is reported"
        );
    }

    #[test]
    fn patches_write_exactly_what_apply_changes() {
        let s = secrets();
        let a = full_account();
        let patches = [
            AccountPatch {
                name: Some("n".into()),
                active: Some(false),
                schedulable: Some(false),
                status: Some(AccountStatus::Blocked),
                sharing: Some(Sharing::Dedicated),
                priority: Some(1),
                max_concurrency: Some(3),
                models: Some(ModelSupport::Any),
                base_url: Some(String::new()),
                proxy: Some("http://p".into()),
            },
            AccountPatch {
                proxy: Some(String::new()),
                models: Some(ModelSupport::List(vec!["m".into()])),
                ..Default::default()
            },
            AccountPatch::default(),
        ];
        for p in patches {
            let mut fields: BTreeMap<String, String> = encode_account(&a, &s).unwrap().into_iter().collect();
            let changes = encode_patch(&p).unwrap();
            for (k, v) in &changes.set {
                fields.insert(k.to_string(), v.clone());
            }
            for k in &changes.delete {
                fields.remove(*k);
            }
            let all = fields.iter().map(|(k, v)| (k.as_str(), v.as_str()));
            let got = decode_account(all.chain([(LAST_USED, "2000")]), &s).unwrap();
            let mut want = a.clone();
            p.apply(&mut want);
            assert_eq!(got, want, "{p:?}");
        }
    }

    #[test]
    fn a_wrong_key_is_reported_as_such() {
        let fields = encode_account(&full_account(), &secrets()).unwrap();
        let all = fields.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        let err = decode_account(all, &secrets()).unwrap_err();
        let StoreError::Corrupt(msg) = err else {
            panic!("{err:?}")
        };
        assert!(msg.contains("encryption key does not match"), "{msg}");
        assert!(!msg.contains("very-secret"));
    }
}
