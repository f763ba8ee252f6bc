//! An account as a set of fields, one per attribute, so every backend can write only what
//! changed: an operator patch touches the patched fields, a token refresh the credential field,
//! a recorded use the last-used field. Field names are the account's serde names; each value is
//! that attribute's JSON text, except the secret ones, sealed with [`SecretBox`]: `credentials`,
//! and the URLs an account's traffic goes by (`proxy`, `base_url`), which can carry
//! `user:password@`.
//!
//! Records written before the URLs were sealed hold them as plain JSON: they still read, and
//! each backend re-seals them when it opens ([`plaintext_urls`]).
use super::crypto::SecretBox;
use serde_json::{Map, Value};
use switchyard_actors::domain::{Account, Credentials};
use switchyard_actors::store::{AccountPatch, StoreError};

/// The credential field: encrypted, never plaintext.
pub const CREDENTIALS: &str = "credentials";
/// URL fields sealed like credentials, each bound to its field name and record.
pub const SEALED_URLS: &[&str] = &["base_url", "proxy"];
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
    "pacing",
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

/// The associated data a sealed URL field is bound to: its record and its name, so a sealed
/// value moved to another field or record does not open.
fn url_aad(id: &str, field: &str) -> Vec<u8> {
    [field.as_bytes(), b"\0", id.as_bytes()].concat()
}

/// The sealed form of URL field `field`'s JSON text for account `id`.
fn seal_url(id: &str, field: &str, json: &str, secrets: &SecretBox) -> Result<String, StoreError> {
    secrets
        .seal(json.as_bytes(), &url_aad(id, field))
        .map_err(corrupt)
}

/// A URL field's JSON text: opened when sealed, as stored when written before sealing was.
fn open_url(id: &str, field: &str, stored: &str, secrets: &SecretBox) -> Result<String, StoreError> {
    if !SecretBox::is_sealed(stored) {
        return Ok(stored.to_owned());
    }
    let plain = secrets
        .open(stored, &url_aad(id, field))
        .map_err(|e| corrupt(format!("account {id}: {field}: {e}")))?;
    String::from_utf8(plain).map_err(|_| corrupt(format!("account {id}: {field} is not text")))
}

/// The URL fields of a stored record still in plaintext, sealed: `(field, stored, sealed)`,
/// for a backend to swap in where the stored value is still the same.
pub fn plaintext_urls<'a>(
    id: &str,
    fields: impl IntoIterator<Item = (&'a str, &'a str)>,
    secrets: &SecretBox,
) -> Result<Vec<(&'static str, String, String)>, StoreError> {
    let mut out = Vec::new();
    for (name, stored) in fields {
        if let Some(field) = SEALED_URLS.iter().copied().find(|f| *f == name)
            && !SecretBox::is_sealed(stored)
        {
            out.push((field, stored.to_owned(), seal_url(id, field, stored, secrets)?));
        }
    }
    Ok(out)
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
                let text = match SEALED_URLS.contains(&name.as_str()) {
                    true => seal_url(a.id.as_str(), &name, &text, secrets)?,
                    false => text,
                };
                out.push((name, text));
            }
        }
    }
    Ok(out)
}

/// The fields an operator patch of account `id` changes. An empty `base_url` / `proxy` deletes
/// the field.
pub fn encode_patch(id: &str, p: &AccountPatch, secrets: &SecretBox) -> Result<FieldChanges, StoreError> {
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
        models,
        pacing
    );
    macro_rules! set_or_clear {
        ($($f:ident),*) => {$(
            match p.$f.as_deref() {
                None => {}
                Some("") => c.delete.push(stringify!($f)),
                Some(v) => c.set.push((
                    stringify!($f),
                    seal_url(id, stringify!($f), &json_text(&v)?, secrets)?,
                )),
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
    let mut urls = Vec::new();
    for (name, text) in fields {
        if name == CREDENTIALS {
            sealed = Some(text);
            continue;
        }
        if SEALED_URLS.contains(&name) {
            urls.push((name, text));
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
    for (name, stored) in urls {
        let text = open_url(&id, name, stored, secrets)?;
        let value = serde_json::from_str::<Value>(&text)
            .map_err(|e| corrupt(format!("account {id}: field `{name}` is not valid JSON: {e}")))?;
        map.insert(name.to_owned(), value);
    }
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
    use crate::store::encryption_key::EncryptionKey;
    use std::collections::BTreeMap;
    use switchyard_actors::domain::{AccountKind, AccountStatus, ModelSupport, OAuthTokens, Secret, Sharing};

    fn secrets() -> SecretBox {
        SecretBox::new(&EncryptionKey::generate())
    }

    fn full_account() -> Account {
        let mut a = Account::new("acct-1", AccountKind::ClaudeOfficial, 1_000);
        a.last_used_at = Some(2_000);
        a.base_url = Some("https://user:base-very-secret@example.test".into());
        a.proxy = Some("socks5://user:proxy-very-secret@127.0.0.1:1080".into());
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
        for field in [CREDENTIALS, "proxy", "base_url"] {
            let stored = &fields.iter().find(|(k, _)| *k == field).unwrap().1;
            assert!(
                stored.starts_with("v1:") && !stored.contains("very-secret"),
                "{field}"
            );
        }
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
                pacing: Some(switchyard_actors::Pacing {
                    user_turns: Some(true),
                    min_gap_ms: Some(500),
                }),
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
            let changes = encode_patch("acct-1", &p, &s).unwrap();
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
    fn patched_urls_are_sealed_and_bound_to_their_field_and_record() {
        let s = secrets();
        let p = AccountPatch {
            proxy: Some("http://u:proxy-very-secret@p:1".into()),
            ..Default::default()
        };
        let changes = encode_patch("acct-1", &p, &s).unwrap();
        let (field, sealed) = &changes.set[0];
        assert_eq!(*field, "proxy");
        assert!(sealed.starts_with("v1:") && !sealed.contains("very-secret"));
        let mut fields = encode_account(&full_account(), &s).unwrap();
        fields.retain(|(k, _)| k != "base_url");
        let moved = fields.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        assert!(
            decode_account(moved.chain([("base_url", sealed.as_str())]), &s).is_err(),
            "a sealed proxy does not open as a base URL"
        );
    }

    #[test]
    fn plaintext_urls_of_older_records_still_read_and_are_found_for_resealing() {
        let s = secrets();
        let a = full_account();
        let mut fields = encode_account(&a, &s).unwrap();
        for (k, v) in fields.iter_mut() {
            match k.as_str() {
                "proxy" => *v = json_text(&a.proxy).unwrap(),
                "base_url" => *v = json_text(&a.base_url).unwrap(),
                _ => {}
            }
        }
        assert_eq!(decode(&fields, &[(LAST_USED, "2000")], &s), a);
        let all = || fields.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        let found = plaintext_urls("acct-1", all(), &s).unwrap();
        let names: Vec<&str> = found.iter().map(|(f, _, _)| *f).collect();
        assert_eq!(names, ["base_url", "proxy"]);
        for (field, stored, sealed) in &found {
            let slot = fields.iter_mut().find(|(k, _)| k == field).unwrap();
            assert_eq!(&slot.1, stored);
            slot.1 = sealed.clone();
        }
        assert_eq!(decode(&fields, &[(LAST_USED, "2000")], &s), a, "resealed");
        let all = fields.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        assert!(plaintext_urls("acct-1", all, &s).unwrap().is_empty());
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
