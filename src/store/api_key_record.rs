//! An API key as a set of fields, one per attribute, like [`record`](super::record) does for
//! accounts: an operator patch writes the patched fields, a recorded use the last-used field.
//! Field names are [`ApiKey`]'s serde names; each value is that attribute's JSON text. Only the
//! SHA-256 of the key (`hash`) is ever stored.
use super::record::FieldChanges;
use crate::keys::{ApiKey, KeyPatch};
use serde_json::{Map, Value};
use switchyard_actors::store::StoreError;

/// Present in every stored key; doubles as the "record exists" marker.
pub const ID: &str = "id";
/// The SHA-256 hex of the plaintext key, indexed `hash → id`.
pub const HASH: &str = "hash";
/// Written on its own (batched by the key service), never bumps the keys version.
pub const LAST_USED: &str = "last_used_at";

/// The fields this version writes; a damaged value of one of these is reported, a field
/// outside the list that does not hold JSON is skipped.
pub const KNOWN_FIELDS: &[&str] = &[
    "id",
    "name",
    "hash",
    "active",
    "created_at",
    "last_used_at",
    "permissions",
    "concurrency_limit",
    "bindings",
    "expires_at",
    "tags",
    "limits",
    "blocked_models",
    "allowed_clients",
    "activation_days",
    "activated_at",
    "cost_multiplier_ppm",
    "legacy_verifier",
    "deleted_at",
];

/// Associated data a sealed legacy verifier secret is bound to (its name), so a sealed value
/// copied onto another verifier does not open.
pub fn verifier_aad(name: &str) -> Vec<u8> {
    [b"legacy_verifier\0".as_slice(), name.as_bytes()].concat()
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

fn json_text<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| corrupt(format!("cannot encode an API key field: {e}")))
}

/// Every field of a whole key (fields serde leaves out, such as an absent expiry, are absent).
pub fn encode_key(k: &ApiKey) -> Result<Vec<(String, String)>, StoreError> {
    let Value::Object(map) =
        serde_json::to_value(k).map_err(|e| corrupt(format!("cannot encode API key: {e}")))?
    else {
        return Err(corrupt("an API key did not encode as an object"));
    };
    Ok(map.into_iter().map(|(name, v)| (name, v.to_string())).collect())
}

/// The fields a patch changes; clearing an optional field (`expires_at: null`) deletes it.
pub fn encode_patch(p: &KeyPatch) -> Result<FieldChanges, StoreError> {
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
        permissions,
        concurrency_limit,
        bindings,
        tags,
        limits,
        blocked_models,
        allowed_clients,
        cost_multiplier_ppm
    );
    macro_rules! set_or_clear {
        ($($f:ident),*) => {$(
            match &p.$f {
                None => {}
                Some(None) => c.delete.push(stringify!($f)),
                Some(Some(v)) => c.set.push((stringify!($f), json_text(v)?)),
            }
        )*};
    }
    set_or_clear!(expires_at, activation_days);
    if let Some(at) = p.activated_at {
        c.set.push(("activated_at", json_text(&at)?));
    }
    Ok(c)
}

/// Rebuilds a key from its stored fields.
pub fn decode_key<'a>(fields: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<ApiKey, StoreError> {
    let mut map = Map::new();
    for (name, text) in fields {
        match serde_json::from_str::<Value>(text) {
            Ok(v) => {
                map.insert(name.to_owned(), v);
            }
            Err(e) if KNOWN_FIELDS.contains(&name) => {
                return Err(corrupt(format!("API key field `{name}` is not valid JSON: {e}")));
            }
            Err(_) => {}
        }
    }
    let id = match map.get(ID) {
        Some(Value::String(id)) => id.clone(),
        _ => return Err(corrupt("a stored API key has no id")),
    };
    serde_json::from_value(Value::Object(map))
        .map_err(|e| corrupt(format!("API key {id} does not parse: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{ClientKind, KeyLimits};
    use crate::money::Money;
    use std::collections::BTreeMap;
    use switchyard_actors::{KeyBindings, Platform};

    fn full_key() -> ApiKey {
        ApiKey {
            id: "k1".into(),
            name: "full".into(),
            hash: "ab".repeat(32),
            active: true,
            created_at: 1_000,
            last_used_at: Some(2_000),
            permissions: vec![Platform::Claude],
            concurrency_limit: 3,
            bindings: KeyBindings::default(),
            expires_at: Some(9_000),
            tags: vec!["t".into()],
            limits: KeyLimits {
                window_minutes: 5,
                window_requests: 10,
                daily_cost_usd: Money::from_micros(1_500_000),
                ..KeyLimits::default()
            },
            blocked_models: vec!["m".into()],
            allowed_clients: vec![ClientKind::ClaudeCode],
            activation_days: Some(7),
            activated_at: Some(1_500),
            cost_multiplier_ppm: 1_500_000,
            legacy_verifier: Some("crs-0123456789abcdef".into()),
            deleted_at: Some(3_000),
        }
    }

    #[test]
    fn every_field_round_trips_and_is_listed() {
        let k = full_key();
        let fields = encode_key(&k).unwrap();
        for (name, _) in &fields {
            assert!(
                KNOWN_FIELDS.contains(&name.as_str()),
                "{name} not in KNOWN_FIELDS"
            );
        }
        let extra = [("operator-note", "not json"), ("future_field", "1")];
        let all = fields.iter().map(|(a, b)| (a.as_str(), b.as_str())).chain(extra);
        assert_eq!(decode_key(all).unwrap(), k);
        let broken = fields
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .chain([("limits", "{")]);
        assert!(decode_key(broken).is_err());
    }

    #[test]
    fn patches_write_exactly_what_apply_changes() {
        let patches = [
            KeyPatch {
                name: Some("n".into()),
                active: Some(false),
                permissions: Some(vec![]),
                concurrency_limit: Some(0),
                bindings: Some(KeyBindings::default()),
                expires_at: Some(None),
                tags: Some(vec![]),
                limits: Some(KeyLimits::default()),
                blocked_models: Some(vec!["x".into()]),
                allowed_clients: Some(vec![]),
                activation_days: Some(None),
                cost_multiplier_ppm: Some(1_000_000),
                activated_at: Some(5),
            },
            KeyPatch {
                expires_at: Some(Some(77)),
                activation_days: Some(Some(3)),
                ..Default::default()
            },
            KeyPatch::default(),
        ];
        for p in patches {
            let k = full_key();
            let mut fields: BTreeMap<String, String> = encode_key(&k).unwrap().into_iter().collect();
            let changes = encode_patch(&p).unwrap();
            for (f, v) in &changes.set {
                fields.insert((*f).to_owned(), v.clone());
            }
            for f in &changes.delete {
                fields.remove(*f);
            }
            let got = decode_key(fields.iter().map(|(a, b)| (a.as_str(), b.as_str()))).unwrap();
            let mut want = k.clone();
            p.apply(&mut want);
            assert_eq!(got, want, "{p:?}");
        }
    }
}
