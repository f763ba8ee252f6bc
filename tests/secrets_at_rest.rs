//! Secrets at rest, on both backends: an account's proxy password, the password in its base URL,
//! its upstream API key and a client key created over HTTP never appear in plaintext in the
//! redb file or in any Redis value; the data directory is 0700 and the files in it 0600.
//! Each scan also finds a plaintext it should (the account's name), so an empty or unreadable
//! scan cannot pass.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "support/backend.rs"]
#[allow(unused_macros)]
mod backend;
#[path = "support/redis_server.rs"]
mod redis_server;
mod support;

use backend::{fresh_redis, open, with_store};
use reqwest::Method;
use serde_json::json;
use std::path::Path;
use support::*;
use switchyard::settings::{Settings, StoreBackend, StoreSettings};
use switchyard::store::open_with_env_key;

const NAME: &str = "visible-account-name-77";
const PROXY_PASSWORD: &str = "PROXYPASSWORD42";
const BASE_PASSWORD: &str = "BASEPASS42";
const UPSTREAM_KEY: &str = "sk-ant-UPSTREAMKEY42";

/// The app settings name the store the backends come from (Redis keeps the temp data dir).
fn on(store: &StoreSettings) -> impl FnOnce(&mut Settings) + use<> {
    let store = store.clone();
    move |s: &mut Settings| {
        let data_dir = s.store.data_dir.clone();
        s.store = store;
        if s.store.backend == StoreBackend::Redis {
            s.store.data_dir = data_dir;
        }
    }
}

/// Creates the account and a client key over HTTP, uses the key once, and returns the
/// plaintexts that must not be stored.
async fn store_secrets(app: &TestApp) -> Vec<String> {
    let id = app
        .add_account(json!({
            "name": NAME,
            "api_key": UPSTREAM_KEY,
            "base_url": format!("http://user:{BASE_PASSWORD}@127.0.0.1:{}", app.mock.port()),
            "proxy": format!("http://user:{PROXY_PASSWORD}@127.0.0.1:1/"),
        }))
        .await;
    let (_, client_key) = app.create_key(json!({"name": "k"})).await;
    // Through the dead proxy: it fails, but the request, its key and its account were handled.
    let _ = app.post_messages(&client_key, &claude_body(false)).await;
    // The admin API shows neither password either.
    for path in [format!("/admin/accounts/{id}"), "/admin/accounts".to_owned()] {
        let (status, v) = app.admin(Method::GET, &path, None).await;
        assert_eq!(status, 200, "{v}");
        let text = v.to_string();
        assert!(
            text.contains(NAME) && !text.contains(PROXY_PASSWORD) && !text.contains(BASE_PASSWORD),
            "{text}"
        );
    }
    assert!(app.mock.requests().is_empty(), "nothing went around the proxy");
    vec![
        PROXY_PASSWORD.into(),
        BASE_PASSWORD.into(),
        UPSTREAM_KEY.into(),
        client_key,
    ]
}

fn assert_absent(what: &str, haystack: &[u8], secrets: &[String]) {
    let contains = |needle: &[u8]| haystack.windows(needle.len()).any(|w| w == needle);
    assert!(contains(NAME.as_bytes()), "the scan of {what} sees the records");
    for secret in secrets {
        assert!(
            !contains(secret.as_bytes()),
            "{secret} is stored in plaintext in {what}"
        );
    }
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[actix_web::test]
async fn the_embedded_store_keeps_secrets_sealed_in_a_private_directory() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let store = StoreSettings {
        backend: StoreBackend::Embedded,
        data_dir: dir.clone(),
        ..StoreSettings::default()
    };
    // No key given: the store generates its key file in the data directory.
    let backends = open_with_env_key(&store, None).await.expect("store opens");
    let app = spawn_app_on(backends, on(&store)).await;
    let secrets = store_secrets(&app).await;
    let file = dir.join(switchyard::store::embedded::DB_FILE);
    assert_absent("the redb file", &std::fs::read(&file).unwrap(), &secrets);
    #[cfg(unix)]
    {
        assert_eq!(mode(&dir), 0o700, "data directory");
        assert_eq!(mode(&file), 0o600, "database");
        assert_eq!(mode(&dir.join("encryption-key")), 0o600, "key file");
    }
}

/// Every key under `prefix` with its value, whatever its type, as one byte string.
async fn dump_prefix(url: &str, prefix: &str) -> Vec<u8> {
    let client = redis::Client::open(url).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(!keys.is_empty(), "the pool wrote keys under {prefix}");
    let mut out = Vec::new();
    for key in keys {
        let kind: String = redis::cmd("TYPE").arg(&key).query_async(&mut c).await.unwrap();
        let values: Vec<Vec<u8>> = match kind.as_str() {
            "string" => vec![redis::cmd("GET").arg(&key).query_async(&mut c).await.unwrap()],
            "hash" => redis::cmd("HGETALL").arg(&key).query_async(&mut c).await.unwrap(),
            "set" => redis::cmd("SMEMBERS")
                .arg(&key)
                .query_async(&mut c)
                .await
                .unwrap(),
            "zset" => redis::cmd("ZRANGE")
                .arg(&key)
                .arg(0)
                .arg(-1)
                .arg("WITHSCORES")
                .query_async(&mut c)
                .await
                .unwrap(),
            "list" => redis::cmd("LRANGE")
                .arg(&key)
                .arg(0)
                .arg(-1)
                .query_async(&mut c)
                .await
                .unwrap(),
            other => panic!("key {key} has type {other}, which this scan cannot read"),
        };
        out.extend_from_slice(key.as_bytes());
        for v in values {
            out.push(b'\n');
            out.extend(v);
        }
        out.push(b'\n');
    }
    out
}

#[actix_web::test]
async fn redis_keeps_secrets_sealed() {
    let store = fresh_redis();
    let prefix = store.redis_prefix.clone();
    let app = spawn_app_on(open(&store).await, |s| with_store(s, &store)).await;
    let secrets = store_secrets(&app).await;
    assert_absent("Redis", &dump_prefix(&store.redis_url, &prefix).await, &secrets);
}

#[actix_web::test]
async fn redis_seals_urls_an_older_version_stored_in_plaintext_when_it_connects() {
    let store = fresh_redis();
    let prefix = store.redis_prefix.clone();
    let app = spawn_app_on(open(&store).await, |s| with_store(s, &store)).await;
    let id = app
        .add_account(json!({"name": NAME, "proxy": "http://127.0.0.1:1/"}))
        .await;
    // As an older version wrote it: the field's JSON text.
    let legacy = json!(format!("http://user:{PROXY_PASSWORD}@127.0.0.1:1/")).to_string();
    let client = redis::Client::open(store.redis_url.as_str()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*{id}*"))
        .query_async(&mut c)
        .await
        .unwrap();
    let hash = keys
        .iter()
        .find(|k| k.ends_with(&id))
        .unwrap_or_else(|| panic!("the account's hash among {keys:?}"));
    let () = redis::cmd("HSET")
        .arg(hash)
        .arg("proxy")
        .arg(&legacy)
        .query_async(&mut c)
        .await
        .unwrap();
    let (_, v) = app
        .admin(Method::GET, &format!("/admin/accounts/{id}"), None)
        .await;
    assert_eq!(v["has_proxy"], true, "the plaintext still reads: {v}");

    // The next instance to connect seals it; the account reads the same.
    let again = open(&store).await;
    let stored: String = redis::cmd("HGET")
        .arg(hash)
        .arg("proxy")
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(
        stored.starts_with("v1:") && !stored.contains(PROXY_PASSWORD),
        "{stored}"
    );
    let account = again
        .store
        .get_account(&switchyard_actors::AccountId::new(&id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        account.proxy.as_deref(),
        Some(format!("http://user:{PROXY_PASSWORD}@127.0.0.1:1/").as_str())
    );
}

#[actix_web::test]
async fn the_embedded_store_seals_urls_an_older_version_stored_in_plaintext_when_it_opens() {
    use redb::{ReadableDatabase, TableDefinition};
    use switchyard_actors::{Account, AccountId, AccountKind};
    const FIELDS: TableDefinition<'_, (&str, &str), &str> = TableDefinition::new("account_fields");
    let dir = tempfile::tempdir().unwrap();
    let store = StoreSettings {
        backend: StoreBackend::Embedded,
        data_dir: dir.path().to_owned(),
        ..StoreSettings::default()
    };
    let proxy = format!("http://user:{PROXY_PASSWORD}@127.0.0.1:1/");
    let mut account = Account::new("legacy-1", AccountKind::ClaudeConsole, 1);
    account.name = NAME.into();
    account.proxy = Some(proxy.clone());
    {
        let backends = open(&store).await;
        backends.store.put_account(&account).await.unwrap();
    }
    // As an older version wrote it: the field's JSON text.
    let file = dir.path().join(switchyard::store::embedded::DB_FILE);
    let read_proxy = |db: &redb::Database| -> String {
        let txn = db.begin_read().unwrap();
        let table = txn.open_table(FIELDS).unwrap();
        table
            .get(("legacy-1", "proxy"))
            .unwrap()
            .unwrap()
            .value()
            .to_owned()
    };
    {
        let db = redb::Database::create(&file).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(FIELDS)
            .unwrap()
            .insert(("legacy-1", "proxy"), json!(proxy).to_string().as_str())
            .unwrap();
        txn.commit().unwrap();
        assert_eq!(read_proxy(&db), json!(proxy).to_string());
    }
    {
        let backends = open(&store).await;
        let got = backends
            .store
            .get_account(&AccountId::new("legacy-1"))
            .await
            .unwrap();
        assert_eq!(got.unwrap().proxy.as_deref(), Some(proxy.as_str()));
    }
    let stored = read_proxy(&redb::Database::create(&file).unwrap());
    assert!(
        stored.starts_with("v1:") && !stored.contains(PROXY_PASSWORD),
        "{stored}"
    );
}
