//! Import from claude-relay-service (the reference): read its Redis ([`reader`], read-only),
//! decrypt its secrets ([`decrypt`]), map its accounts, groups, keys and usage to switchyard's
//! model ([`map`]). The result is an [`ImportBundle`] for `POST /admin/import/crs`; nothing
//! here writes anywhere.
pub mod accounts;
mod decrypt;
mod fields;
mod keys;
pub mod reader;
pub mod snapshot;
mod usage;

use crate::import::bundle::{ImportBundle, Skipped};
use fields::Fields;
use snapshot::{Snapshot, Value};
use switchyard_actors::clock::Millis;
use switchyard_actors::{AccountId, Group, Platform};

pub use decrypt::{CrsCipher, DecryptError};
pub use usage::CrsZone;

/// Why the reference's data cannot be imported at all (nothing is written).
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    #[error(
        "the encryption key does not decrypt the reference's account secrets ({failed} \
         accounts tried, none decrypted; first: {example}): give the ENCRYPTION_KEY the \
         reference runs with"
    )]
    WrongKey { failed: usize, example: String },
    #[error("no account or API key of the reference found in this Redis (another database?)")]
    Empty,
}

pub struct MapOptions {
    /// Names the source in the report (no secret).
    pub source: String,
    pub now: Millis,
    pub zone: CrsZone,
}

/// The reference's state as switchyard would hold it. Refuses (`WrongKey`) when no account
/// secret decrypts with `cipher`'s key while some were tried.
pub fn map(s: &Snapshot, cipher: &CrsCipher, opts: &MapOptions) -> Result<ImportBundle, MapError> {
    let mut bundle = ImportBundle {
        source: opts.source.clone(),
        legacy_secret: Some(cipher.encryption_key().clone()),
        ..ImportBundle::default()
    };
    // Records whose secrets decrypted with the key, and records whose did not.
    let (mut decrypted, mut failed, mut example) = (0usize, 0usize, None);
    for (prefix, crs_type) in accounts::FAMILIES {
        for (id, value) in s.with_prefix(prefix) {
            if id == "index" || id.contains(':') {
                continue;
            }
            // Bedrock records are JSON strings: read as the fields a hash would hold.
            let flattened;
            let map = match value {
                Value::Hash(map) => map,
                other => match json_fields(other) {
                    Some(fields) => {
                        flattened = fields;
                        &flattened
                    }
                    None => {
                        bundle.skipped.push(accounts::skipped(
                            crs_type,
                            id,
                            id,
                            &accounts::Unmapped::Invalid("not a JSON object".into()),
                        ));
                        continue;
                    }
                },
            };
            let f = Fields::new(id, map);
            match accounts::map_account(crs_type, id, &f, cipher) {
                Ok(mut a) => {
                    decrypted += 1;
                    a.usage = usage::of_account(s, id);
                    bundle.accounts.push(a);
                }
                Err(why) => {
                    // A kind not served is still decrypted once, to check the key.
                    let decrypts = match &why {
                        accounts::Unmapped::NotServed => accounts::check_key(crs_type, &f, cipher),
                        accounts::Unmapped::Secret(field, e) => Some(Err((*field, e.clone()))),
                        accounts::Unmapped::Invalid(_) => Some(Ok(())),
                    };
                    match decrypts {
                        Some(Ok(())) => decrypted += 1,
                        Some(Err((field, e))) => {
                            failed += 1;
                            example.get_or_insert_with(|| format!("{crs_type} {id} {field}: {e}"));
                        }
                        None => {}
                    }
                    bundle
                        .skipped
                        .push(accounts::skipped(crs_type, id, &f.name(), &why));
                }
            }
        }
    }
    if decrypted == 0 && failed > 0 {
        return Err(MapError::WrongKey {
            failed,
            example: example.unwrap_or_default(),
        });
    }
    groups(s, &mut bundle);
    let targets = keys::Targets {
        accounts: bundle
            .accounts
            .iter()
            .map(|a| (a.account.id.to_string(), a.account.platform()))
            .collect(),
        groups: bundle.groups.iter().map(|g| (g.id.clone(), g.platform)).collect(),
    };
    for (id, value) in s.with_prefix("apikey:") {
        let Value::Hash(map) = value else { continue };
        if id.contains(':') || !map.contains_key("apiKey") {
            continue;
        }
        let f = Fields::new(id, map);
        let (key, skipped_fields) = keys::map_key(&f, id, &targets, opts.now);
        if key.hash.len() != 64 || !key.hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            bundle.skipped.push(Skipped {
                what: "key".into(),
                id: id.to_owned(),
                name: key.name,
                kind: None,
                reason: "apiKey is not a SHA-256 hash".into(),
            });
            continue;
        }
        bundle.keys.push(crate::import::bundle::KeyImport {
            usage: usage::of_key(s, id),
            spent: usage::spent(s, id, &opts.zone, opts.now),
            key,
            skipped_fields,
        });
    }
    if bundle.accounts.is_empty() && bundle.keys.is_empty() && bundle.skipped.is_empty() {
        return Err(MapError::Empty);
    }
    Ok(bundle)
}

/// A JSON object record as the reference's hash fields: strings as they are, booleans and
/// numbers as text, null as `""`, arrays and objects as JSON text.
fn json_fields(value: &Value) -> Option<std::collections::BTreeMap<String, String>> {
    let Value::Text(text) = value else { return None };
    let serde_json::Value::Object(object) = serde_json::from_str(text).ok()? else {
        return None;
    };
    Some(
        object
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    serde_json::Value::String(s) => s,
                    serde_json::Value::Null => String::new(),
                    other => other.to_string(),
                };
                (k, v)
            })
            .collect(),
    )
}

/// Groups of the platforms served, with the members imported on that platform.
fn groups(s: &Snapshot, bundle: &mut ImportBundle) {
    for (id, value) in s.with_prefix("account_group:") {
        let Value::Hash(map) = value else { continue };
        let f = Fields::new(id, map);
        let Ok(platform) = f.text("platform").parse::<Platform>() else {
            bundle.skipped.push(Skipped {
                what: "group".into(),
                id: id.to_owned(),
                name: f.name(),
                kind: Some(f.text("platform").to_owned()),
                reason: accounts::NOT_SERVED.into(),
            });
            continue;
        };
        let members: Vec<AccountId> = s
            .set(&format!("account_group_members:{id}"))
            .iter()
            .filter(|m| {
                bundle
                    .accounts
                    .iter()
                    .any(|a| a.account.id.as_str() == m.as_str() && a.account.platform() == platform)
            })
            .map(AccountId::new)
            .collect();
        bundle.groups.push(Group {
            id: id.to_owned(),
            name: f.name(),
            platform,
            members,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::ClientKind;
    use switchyard_actors::{AccountKind, Binding, Credentials, Sharing};

    fn fixture() -> (Snapshot, serde_json::Value) {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/crs-redis");
        let read = |f: &str| -> serde_json::Value {
            serde_json::from_str(&std::fs::read_to_string(format!("{dir}/{f}")).unwrap()).unwrap()
        };
        (Snapshot::from_dump(&read("redis-dump.json")), read("meta.json"))
    }

    fn options() -> MapOptions {
        MapOptions {
            source: "fixture".into(),
            // 2026-12-06T01:00Z: the day and week the fixture's usage was recorded in.
            now: 1_796_518_800_000,
            zone: CrsZone::new(8).unwrap(),
        }
    }

    #[test]
    fn maps_every_served_account_key_and_group_of_the_fixture() {
        let (snapshot, meta) = fixture();
        let key = meta["crs_env"]["ENCRYPTION_KEY"].as_str().unwrap();
        let b = map(&snapshot, &CrsCipher::new(key), &options()).unwrap();
        assert_eq!(b.accounts.len(), 10, "{:?}", b.skipped);
        // Bedrock: its own encryption (sha256 key, {encrypted, iv}) undone, the region kept.
        let bedrock = b
            .accounts
            .iter()
            .find(|a| a.account.kind == AccountKind::Bedrock)
            .expect("the bedrock account is imported");
        let switchyard_actors::Credentials::ApiKey { key } = &bedrock.account.credentials else {
            panic!("bedrock credentials")
        };
        let creds = crate::bedrock::BedrockCredentials::from_json(key.expose()).unwrap();
        assert_eq!(creds.region.as_str(), "us-east-1");
        assert_eq!(creds.public_label(), "AKIAFAKEA39CEB0B59928");
        assert!(
            key.expose()
                .contains("fakeA/fcfa3f79937edabba6f293f97c3e357789f9")
        );
        let skipped: Vec<&str> = b.skipped.iter().filter_map(|s| s.kind.as_deref()).collect();
        assert!(skipped.contains(&"droid"), "droid listed as skipped: {skipped:?}");
        assert!(b.skipped.iter().all(|s| s.reason == accounts::NOT_SERVED));

        let console = b
            .accounts
            .iter()
            .find(|a| a.account.kind == AccountKind::ClaudeConsole)
            .unwrap();
        let want = meta["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["type"] == "claude-console")
            .unwrap();
        let Credentials::ApiKey { key: k } = &console.account.credentials else {
            panic!()
        };
        assert_eq!(k.expose(), want["secrets_entered"]["apiKey"].as_str().unwrap());
        assert_eq!(console.account.priority, 20);
        assert_eq!(console.account.max_concurrency, 3);
        assert!(
            console
                .account
                .models
                .upstream_name("claude-3-5-haiku-20241022")
                .is_some()
                || console.account.models.is_restricted()
        );
        let dedicated = b
            .accounts
            .iter()
            .find(|a| a.account.name == "A-claude-oauth-dedicated")
            .unwrap();
        assert_eq!(dedicated.account.sharing, Sharing::Dedicated);
        let proxied = b
            .accounts
            .iter()
            .find(|a| a.account.name == "A-claude-oauth-proxy")
            .unwrap();
        assert!(proxied.account.proxy.as_deref().unwrap().starts_with("socks5://"));
        let gemini = b
            .accounts
            .iter()
            .find(|a| a.account.kind == AccountKind::GeminiOAuth)
            .unwrap();
        assert_eq!(gemini.account.extra["project_id"], "fake-project-a-122445");
        let of_kind = |kind| b.accounts.iter().find(|a| a.account.kind == kind).unwrap();
        let ccr = &of_kind(AccountKind::Ccr).account;
        assert_eq!(ccr.base_url.as_deref(), Some("http://127.0.0.1:9100"));
        assert_eq!(
            ccr.models.upstream_name("claude-sonnet-4-20250514"),
            Some("deepseek-chat")
        );
        let azure = &of_kind(AccountKind::AzureOpenAi).account;
        assert_eq!(
            azure.base_url.as_deref(),
            Some("https://fixture-a-res.openai.azure.com")
        );
        assert_eq!(azure.extra["deployment"], "gpt-4o-fixture-a");
        assert_eq!(azure.extra["api_version"], "2024-02-01");
        for imported in [ccr, azure] {
            let Credentials::ApiKey { key } = &imported.credentials else {
                panic!("{} has no API key", imported.name)
            };
            assert!(!key.expose().is_empty());
        }

        assert_eq!(b.groups.len(), 3, "droid group skipped");
        assert!(b.groups.iter().all(|g| g.members.len() == 2));

        assert_eq!(b.keys.len(), 9);
        let by_slug = |slug: &str| {
            let id = meta["api_keys"]
                .as_array()
                .unwrap()
                .iter()
                .find(|k| k["slug"] == slug)
                .unwrap()["id"]
                .as_str()
                .unwrap();
            b.keys.iter().find(|k| k.key.id == id).unwrap()
        };
        let limited = by_slug("limited");
        assert_eq!(limited.key.concurrency_limit, 2);
        assert_eq!(limited.key.limits.window_minutes, 60);
        assert_eq!(limited.key.limits.window_requests, 100);
        assert_eq!(limited.key.limits.window_tokens, 1_000_000);
        assert_eq!(limited.key.limits.daily_cost_usd.usd_string(), "5.000000");
        assert!(limited.spent.total > crate::money::Money::ZERO);
        assert_eq!(limited.spent.total, limited.spent.today);
        assert!(limited.spent.this_week > crate::money::Money::ZERO);
        assert!(
            limited
                .usage
                .iter()
                .any(|u| u.bucket == "total" && u.counters.requests == 4)
        );
        let restricted = by_slug("restricted");
        assert_eq!(
            restricted.key.allowed_clients,
            vec![ClientKind::ClaudeCode, ClientKind::GeminiCli]
        );
        assert_eq!(restricted.key.blocked_models.len(), 2);
        let bound = by_slug("bound");
        assert!(
            matches!(&bound.key.bindings.claude, Some(Binding::Account(a)) if a.as_str() == dedicated.account.id.as_str())
        );
        assert!(matches!(bound.key.bindings.gemini, Some(Binding::Group(_))));
        assert!(
            bound
                .skipped_fields
                .iter()
                .any(|n| n.starts_with("droidAccountId"))
        );
        assert!(!by_slug("disabled").key.active);
        assert!(by_slug("expired").key.expires_at.unwrap() < options().now);
        let activation = by_slug("activation");
        assert_eq!(
            (activation.key.activation_days, activation.key.activated_at),
            (Some(30), None)
        );
        assert!(by_slug("deleted").key.deleted_at.is_some());
        for k in &b.keys {
            let want = meta["api_keys"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["id"] == k.key.id.as_str())
                .unwrap();
            assert_eq!(
                k.key.hash,
                want["sha256_key_plus_encryption_key"].as_str().unwrap()
            );
        }
    }

    #[test]
    fn a_wrong_encryption_key_is_refused() {
        let (snapshot, _) = fixture();
        let err = map(
            &snapshot,
            &CrsCipher::new("0123456789abcdef0123456789abcdef"),
            &options(),
        )
        .unwrap_err();
        assert!(matches!(err, MapError::WrongKey { failed: 11, .. }), "{err}");
    }
}
