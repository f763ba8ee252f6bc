//! The Redis store: the shared conformance suite, plus what only Redis has to prove: field-level
//! writes (a recorded use changes one hash field), encryption at rest as seen by a raw client,
//! key checks at start-up, leases and bindings scored by expiry, and one round trip per selection.
//! One `redis-server` per test binary; every test uses its own key prefix.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/redis_server.rs"]
mod redis_server;

use redis::AsyncCommands;
use redis_server::RedisServer;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;
use switchyard::keys::{ApiKey, KeyPatch, KeyStore, hash_key};
use switchyard::limits::{Admission, LimitStore, SettleBatch, Settlement, WindowSpec};
use switchyard::money::Money;
use switchyard::settings::{StoreBackend, StoreSettings};
use switchyard::store::encryption_key::{ENCRYPTION_KEY_ENV, EncryptionKeyError};
use switchyard::store::redis::{DAY_TTL_SECS, SETTLE_BATCH_TTL_SECS, USAGE_BATCH_TTL_SECS, WEEK_TTL_SECS};
use switchyard::store::{EncryptionKey, OpenError, RedisOptions, RedisStore, open_with_env_key};
use switchyard::usage::{Dimension, RecentRequest, UsageBatch, UsageCounters, UsageDelta, UsageStore};
use switchyard_actors::domain::{
    Account, AccountId, AccountKind, AccountStatus, Cooldown, CooldownReason, Credentials, Health,
    OAuthTokens, Secret,
};
use switchyard_actors::settings::SchedulingSettings;
use switchyard_actors::store::{
    AccountPatch, AccountStore, HealthStore, SlotCandidate, SlotRequest, SlotStore, StickyPolicy,
    StickyRequest, StickyStore,
};
use switchyard_actors::{Clock, LeaseId, Platform, Scheduling, SelectAccount, Store, SystemClock};

static SERVER: LazyLock<RedisServer> = LazyLock::new(RedisServer::launch);
static NEXT_PREFIX: AtomicU32 = AtomicU32::new(0);

const KEY_HEX: &str = "3f9a1c7e5b2d8046a1e3c5b7d9f20486ac4e6b8d0f1a3c5e7092b4d6f8a1c3e5";
const OTHER_KEY_HEX: &str = "9c1e7a3b5d2f80461a3e5c7b9df24068ca4e6b8d0f1a3c5e7092b4d6f8a1c3e6";

fn key() -> EncryptionKey {
    EncryptionKey::parse_hex(KEY_HEX, "test").unwrap()
}

fn fresh_prefix() -> String {
    format!(
        "t{}-{}:",
        std::process::id(),
        NEXT_PREFIX.fetch_add(1, Ordering::Relaxed)
    )
}

fn options(prefix: &str) -> RedisOptions {
    RedisOptions::new(SERVER.url(), prefix)
}

async fn connect(prefix: &str) -> RedisStore {
    RedisStore::connect(&options(prefix), &key())
        .await
        .expect("redis store connects")
}

async fn fresh_store() -> Arc<dyn Store> {
    Arc::new(connect(&fresh_prefix()).await)
}

async fn raw() -> redis::aio::MultiplexedConnection {
    redis::Client::open(SERVER.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

fn now() -> i64 {
    SystemClock.now_ms()
}

fn account(id: &str) -> Account {
    let mut a = Account::new(id, AccountKind::ClaudeOfficial, now());
    a.max_concurrency = 2;
    a.credentials = Credentials::OAuth(OAuthTokens {
        access_token: Secret::new(format!("sk-ant-oat-PLAINTEXT-ACCESS-{id}")),
        refresh_token: Some(Secret::new(format!("sk-ant-ort-PLAINTEXT-REFRESH-{id}"))),
        expires_at: Some(1),
    });
    a
}

fn redis_settings(prefix: &str, key_file: &str) -> StoreSettings {
    StoreSettings {
        backend: StoreBackend::Redis,
        redis_url: SERVER.url(),
        redis_prefix: prefix.to_owned(),
        encryption_key_file: key_file.to_owned(),
        ..StoreSettings::default()
    }
}

switchyard_actors::conformance_tests!(fresh_store());

/// All four contracts on one Redis store under a fresh prefix.
async fn fresh_backends() -> switchyard::startup::Backends {
    open_with_env_key(&redis_settings(&fresh_prefix(), ""), Some(KEY_HEX))
        .await
        .expect("redis store connects")
}

switchyard::records_conformance_tests!(fresh_backends());

/// Fields that differ between two snapshots of a hash.
fn changed(before: &HashMap<String, String>, after: &HashMap<String, String>) -> Vec<String> {
    let mut out: Vec<String> = before
        .keys()
        .chain(after.keys())
        .filter(|k| before.get(*k) != after.get(*k))
        .cloned()
        .collect();
    out.sort();
    out.dedup();
    out
}

#[actix_rt::test]
async fn every_update_writes_only_the_fields_it_changes() {
    let prefix = fresh_prefix();
    let store = connect(&prefix).await;
    let a = account("field-level");
    store.put_account(&a).await.unwrap();
    let key = format!("{prefix}{{rec}}:account:field-level");
    let mut r = raw().await;
    // A field this version does not know: proof the record is never rewritten whole.
    let _: () = r.hset(&key, "sentinel", "left-alone").await.unwrap();
    let snapshot = |mut r: redis::aio::MultiplexedConnection, key: String| async move {
        r.hgetall::<_, HashMap<String, String>>(&key).await.unwrap()
    };

    let before = snapshot(r.clone(), key.clone()).await;
    store.touch_last_used(&[(a.id.clone(), 1_234)]).await.unwrap();
    let after = snapshot(r.clone(), key.clone()).await;
    assert_eq!(changed(&before, &after), ["last_used_at"]);
    assert_eq!(after["last_used_at"], "1234");

    store.touch_last_used(&[(a.id.clone(), 1_000)]).await.unwrap();
    assert_eq!(
        snapshot(r.clone(), key.clone()).await["last_used_at"],
        "1234",
        "an older use never moves last-used back"
    );
    store
        .touch_last_used(&[(AccountId::new("never-created"), 5)])
        .await
        .unwrap();
    let ghost: bool = r
        .exists(format!("{prefix}{{rec}}:account:never-created"))
        .await
        .unwrap();
    assert!(!ghost, "a use of an unknown account creates no record");

    let before = after;
    let patch = AccountPatch {
        priority: Some(3),
        status: Some(AccountStatus::Error),
        ..Default::default()
    };
    let patched = store.patch_account(&a.id, &patch).await.unwrap().unwrap();
    assert_eq!((patched.priority, patched.last_used_at), (3, Some(1_234)));
    let after = snapshot(r.clone(), key.clone()).await;
    assert_eq!(changed(&before, &after), ["priority", "status"]);

    let before = after;
    let creds = Credentials::ApiKey {
        key: Secret::new("sk-new-PLAINTEXT"),
    };
    store.set_credentials(&a.id, &creds).await.unwrap();
    let after = snapshot(r.clone(), key.clone()).await;
    assert_eq!(changed(&before, &after), ["credentials"]);

    let before = after;
    let health = Health {
        cooldown: Some(Cooldown {
            until: now() + 60_000,
            reason: CooldownReason::RateLimit,
            status: 429,
        }),
        family_limits: vec![],
    };
    store.put_health(&a.id, &health).await.unwrap();
    assert!(
        changed(&before, &snapshot(r.clone(), key.clone()).await).is_empty(),
        "health lives outside the account record"
    );
    let stored: Option<String> = r
        .hget(format!("{prefix}{{rec}}:health"), "field-level")
        .await
        .unwrap();
    assert!(stored.unwrap().contains("rate_limit"));
    assert_eq!(snapshot(r, key).await["sentinel"], "left-alone");
}

#[actix_rt::test]
async fn records_writes_bump_the_version_and_uses_do_not() {
    let store = connect(&fresh_prefix()).await;
    let a = account("versioned");
    let v0 = store.records_version().await.unwrap();
    store.put_account(&a).await.unwrap();
    let v1 = store.records_version().await.unwrap();
    assert!(v1 > v0);
    store.touch_last_used(&[(a.id.clone(), 1)]).await.unwrap();
    assert_eq!(
        store.records_version().await.unwrap(),
        v1,
        "a use is not a record change"
    );
    store.set_credentials(&a.id, &Credentials::None).await.unwrap();
    let v2 = store.records_version().await.unwrap();
    assert!(v2 > v1, "new tokens must reach other instances");
    store
        .patch_account(&a.id, &AccountPatch::default())
        .await
        .unwrap();
    assert!(store.records_version().await.unwrap() > v2);
}

#[actix_rt::test]
async fn credentials_are_encrypted_at_rest() {
    let prefix = fresh_prefix();
    let store = connect(&prefix).await;
    let a = account("secret-holder");
    store.put_account(&a).await.unwrap();
    let mut r = raw().await;
    let hash: HashMap<String, String> = r
        .hgetall(format!("{prefix}{{rec}}:account:secret-holder"))
        .await
        .unwrap();
    assert!(hash["credentials"].starts_with("v1:"), "{}", hash["credentials"]);
    for (field, value) in &hash {
        assert!(!value.contains("PLAINTEXT"), "plaintext secret in field {field}");
    }
    let back = store.get_account(&a.id).await.unwrap().unwrap();
    assert_eq!(back.credentials, a.credentials, "decrypted on read");
}

#[actix_rt::test]
async fn a_different_key_is_refused_at_start_and_on_read() {
    let prefix = fresh_prefix();
    let store = connect(&prefix).await;
    store.put_account(&account("keyed")).await.unwrap();
    let other = EncryptionKey::parse_hex(OTHER_KEY_HEX, "test").unwrap();

    let refused = RedisStore::connect(&options(&prefix), &other).await.unwrap_err();
    assert!(matches!(refused, OpenError::WrongKey { .. }), "{refused}");
    assert!(refused.to_string().contains("encryption key does not match"));

    // Without the key check (an operator wiped it) the mismatch shows on the first read.
    let mut r = raw().await;
    let _: () = r.del(format!("{prefix}{{rec}}:key-check")).await.unwrap();
    let wrong = RedisStore::connect(&options(&prefix), &other).await.unwrap();
    let err = wrong.get_account(&AccountId::new("keyed")).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, switchyard_actors::StoreError::Corrupt(_)), "{msg}");
    assert!(msg.contains("encryption key does not match"), "{msg}");
    assert!(!msg.contains("PLAINTEXT") && !msg.contains(KEY_HEX) && !msg.contains(OTHER_KEY_HEX));
}

fn refused(opened: Result<switchyard::startup::Backends, OpenError>) -> OpenError {
    match opened {
        Ok(_) => panic!("the store opened"),
        Err(e) => e,
    }
}

#[actix_rt::test]
async fn redis_mode_refuses_a_missing_or_weak_key() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = fresh_prefix();
    let missing = refused(open_with_env_key(&redis_settings(&prefix, ""), None).await);
    assert!(
        matches!(missing, OpenError::Key(EncryptionKeyError::Missing)),
        "{missing}"
    );
    assert!(missing.to_string().contains(ENCRYPTION_KEY_ENV));

    let weak = refused(open_with_env_key(&redis_settings(&prefix, ""), Some(&"a".repeat(64))).await);
    assert!(
        matches!(weak, OpenError::Key(EncryptionKeyError::Weak { .. })),
        "{weak}"
    );
    let short = refused(open_with_env_key(&redis_settings(&prefix, ""), Some("abcd")).await);
    assert!(
        matches!(short, OpenError::Key(EncryptionKeyError::Malformed { .. })),
        "{short}"
    );
    assert!(
        !dir.path().join("encryption-key").exists(),
        "no key is generated in Redis mode"
    );

    let file = dir.path().join("key.hex");
    std::fs::write(&file, format!("{KEY_HEX}\n")).unwrap();
    let store = open_with_env_key(&redis_settings(&prefix, file.to_str().unwrap()), None)
        .await
        .expect("a key file is enough")
        .store;
    store.put_account(&account("from-file")).await.unwrap();
}

#[actix_rt::test]
async fn an_unreachable_redis_is_a_clear_start_up_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = std::time::Instant::now();
    let err = RedisStore::connect(
        &RedisOptions::new(format!("redis://:hunter2@127.0.0.1:{port}"), "x:"),
        &key(),
    )
    .await
    .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3), "fails fast");
    let msg = err.to_string();
    assert!(matches!(err, OpenError::Redis { .. }), "{msg}");
    assert!(
        msg.contains(&format!("127.0.0.1:{port}")) && !msg.contains("hunter2"),
        "{msg}"
    );
}

#[actix_rt::test]
async fn leases_and_bindings_are_scored_by_expiry() {
    let prefix = fresh_prefix();
    let store = connect(&prefix).await;
    let cands = [SlotCandidate {
        account: AccountId::new("ttl-acct"),
        limit: 1,
    }];
    let lease = LeaseId::from_string("lease-ttl-1");
    let t = now();
    let req = SlotRequest {
        candidates: &cands,
        sticky: Some(StickyRequest {
            key: "claude:ttl-session",
            policy: StickyPolicy {
                ttl_ms: 5_000,
                max_bindings: 100,
            },
        }),
        lease: &lease,
        lease_ttl_ms: 300,
        now: t,
    };
    store.acquire_slot(&req).await.unwrap().expect("granted");

    let mut r = raw().await;
    let expiry_key = format!("{prefix}{{sched}}:sticky-expiry");
    let until: f64 = r.zscore(&expiry_key, "claude:ttl-session").await.unwrap();
    assert_eq!(until as i64, t + 5_000, "binding scored by its expiry");
    let slots_key = format!("{prefix}{{sched}}:slots:ttl-acct");
    let score: f64 = r.zscore(&slots_key, "lease-ttl-1").await.unwrap();
    assert_eq!(score as i64, t + 300, "lease scored by its expiry");

    // Lease expiry is judged at the time the caller passes: no need to wait for it.
    let later = t + 301;
    assert!(
        store.slot_counts(later).await.unwrap().is_empty(),
        "expired lease does not count"
    );
    assert_eq!(store.sweep_leases(later).await.unwrap(), 1);
    let left: usize = r.zcard(&slots_key).await.unwrap();
    let indexed: bool = r
        .sismember(format!("{prefix}{{sched}}:slot-accounts"), "ttl-acct")
        .await
        .unwrap();
    assert_eq!((left, indexed), (0, false), "swept and dropped from the index");

    let short = StickyPolicy {
        ttl_ms: 200,
        max_bindings: 100,
    };
    store
        .sticky_set("claude:short", &AccountId::new("ttl-acct"), short, now())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        store.sweep_sticky(now()).await.unwrap(),
        1,
        "only the lapsed binding"
    );
    let kept: bool = r
        .hexists(format!("{prefix}{{sched}}:sticky-bindings"), "claude:short")
        .await
        .unwrap();
    assert!(!kept, "the sweep removed the lapsed binding");
}

/// Every command clients send to a server, as `MONITOR` reports it (commands run by scripts
/// are marked `lua` and left out: they cost no round trip).
struct Monitor {
    lines: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Monitor {
    fn attach(port: u16) -> Self {
        use std::io::{BufRead, BufReader, Write};
        let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        conn.write_all(b"MONITOR\r\n").unwrap();
        // Wait for the +OK: commands sent before it would never show.
        let mut reader = BufReader::new(conn);
        let mut ok = String::new();
        reader.read_line(&mut ok).unwrap();
        assert_eq!(ok.trim_end(), "+OK", "MONITOR started");
        let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in reader.lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push(line);
            }
        });
        Monitor { lines }
    }

    /// Waits until a command containing `needle` shows after the last [`Monitor::take`],
    /// without sending anything (a command would show too). Fails after 10 s.
    async fn wait_for(&self, needle: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !self.lines.lock().unwrap().iter().any(|l| l.contains(needle)) {
            assert!(
                std::time::Instant::now() < deadline,
                "MONITOR never showed {needle}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Client commands seen since the last call (waits for the monitor stream to catch up).
    async fn take(&self, mark: &str, r: &mut redis::aio::MultiplexedConnection) -> Vec<String> {
        let _: String = redis::cmd("ECHO").arg(mark).query_async(r).await.unwrap();
        let quoted = format!("\"{mark}\"");
        for _ in 0..1_000 {
            let seen = {
                let mut lines = self.lines.lock().unwrap();
                let end = lines.iter().position(|l| l.contains(&quoted));
                end.map(|end| lines.drain(..=end).take(end).collect::<Vec<_>>())
            };
            if let Some(seen) = seen {
                return seen
                    .iter()
                    .filter(|l| l.starts_with('+') && !l.contains(" lua]") && !l.contains("\"ECHO\""))
                    .map(|l| l.split("] ").nth(1).unwrap_or(l).to_owned())
                    .collect();
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("MONITOR never showed {mark}");
    }
}

/// Counts server-side commands around a selection and its release. Background work (refresh,
/// flush, renew, sweep) is pushed out of the window by long intervals. The pool fits one
/// acquisition chunk (64 candidates), the common case.
#[actix_rt::test]
async fn a_selection_costs_one_round_trip_and_a_release_one() {
    // Its own server: the other tests' commands would show in the server-wide count.
    let server = RedisServer::launch();
    let store: Arc<dyn Store> = Arc::new(
        RedisStore::connect(&RedisOptions::new(server.url(), "rt:"), &key())
            .await
            .unwrap(),
    );
    for i in 0..60 {
        let mut a = account(&format!("rt-{i:03}"));
        a.kind = AccountKind::ClaudeConsole;
        a.credentials = Credentials::ApiKey {
            key: Secret::new("k"),
        };
        store.put_account(&a).await.unwrap();
    }
    let mut settings = SchedulingSettings::default();
    settings.scheduler.refresh_ms = 3_600_000;
    settings.scheduler.last_used_flush_ms = 3_600_000;
    let scheduling = Scheduling::start(store.clone(), Arc::new(SystemClock), settings, None)
        .await
        .unwrap();
    let session = switchyard_actors::session::SessionId::new("rt-session");
    let req = || SelectAccount::new(Platform::Claude).session(session.clone());
    let mut r = redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let monitor = Monitor::attach(server.port());
    // Warm up: the first call loads the script (NOSCRIPT → SCRIPT LOAD → EVALSHA). Its release
    // travels through the pool's mailbox: wait until Redis saw it, so it does not land in the
    // window measured below.
    drop(scheduling.select(req()).await.unwrap());
    monitor.wait_for("\"ZREM\"").await;
    monitor.take("start", &mut r).await;
    let selection = scheduling.select(req()).await.unwrap();
    assert_eq!(selection.sticky, switchyard_actors::scheduler::StickyOutcome::Hit);
    let sent = monitor.take("selected", &mut r).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].starts_with("\"EVALSHA\""), "{sent:?}");
    drop(selection);
    monitor.wait_for("\"ZREM\"").await;
    let sent = monitor.take("released", &mut r).await;
    // One pipeline: the ZREM and the slot notice that wakes other instances' waiters.
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent[0].starts_with("\"ZREM\""), "{sent:?}");
    assert!(sent[1].starts_with("\"PUBLISH\""), "{sent:?}");
}

fn api_key(id: &str) -> ApiKey {
    ApiKey {
        id: id.to_owned(),
        name: "raw".into(),
        hash: hash_key(&format!("sk-raw-{id}")),
        active: true,
        created_at: 1_000,
        last_used_at: None,
        permissions: vec![Platform::Claude],
        concurrency_limit: 0,
        bindings: Default::default(),
        expires_at: Some(5_000_000),
        tags: vec![],
        limits: Default::default(),
        blocked_models: vec![],
        allowed_clients: vec![],
        activation_days: None,
        activated_at: None,
        cost_multiplier_ppm: 1_000_000,
        legacy_verifier: None,
        deleted_at: None,
    }
}

/// As a raw client sees it: a key is a hash of JSON fields, every write changes only its
/// fields, the index maps the hash to the id, and only key changes move the version.
#[actix_rt::test]
async fn api_key_writes_touch_only_their_fields() {
    let prefix = fresh_prefix();
    let store = connect(&prefix).await;
    let k = api_key("raw-1");
    store.put_key(&k).await.unwrap();
    let key = format!("{prefix}{{keys}}:key:raw-1");
    let version_key = format!("{prefix}{{keys}}:version");
    let mut r = raw().await;
    let _: () = r.hset(&key, "sentinel", "left-alone").await.unwrap();
    let snapshot = |mut r: redis::aio::MultiplexedConnection, key: String| async move {
        r.hgetall::<_, HashMap<String, String>>(&key).await.unwrap()
    };
    let index: Option<String> = r.hget(format!("{prefix}{{keys}}:hashes"), &k.hash).await.unwrap();
    assert_eq!(index.as_deref(), Some("raw-1"));
    let first = snapshot(r.clone(), key.clone()).await;
    assert_eq!(first["name"], "\"raw\"");
    assert_eq!(
        first["hash"],
        format!("\"{}\"", k.hash),
        "only the SHA-256 is stored"
    );

    let v1: u64 = r.get(&version_key).await.unwrap();
    store.touch_key("raw-1", 4_321).await.unwrap();
    let after = snapshot(r.clone(), key.clone()).await;
    assert_eq!(changed(&first, &after), ["last_used_at"]);
    assert_eq!(after["last_used_at"], "4321");
    let v: u64 = r.get(&version_key).await.unwrap();
    assert_eq!(v, v1, "a recorded use moves no version");

    let patch = KeyPatch {
        name: Some("renamed".into()),
        expires_at: Some(None),
        ..KeyPatch::default()
    };
    store.patch_key("raw-1", &patch).await.unwrap();
    let patched = snapshot(r.clone(), key.clone()).await;
    assert_eq!(changed(&after, &patched), ["expires_at", "name"]);
    assert!(!patched.contains_key("expires_at"), "a cleared expiry is an HDEL");
    assert_eq!(patched["sentinel"], "left-alone");
    let v2: u64 = r.get(&version_key).await.unwrap();
    assert_eq!(v2, v1 + 1);

    assert!(store.delete_key("raw-1").await.unwrap());
    let index: Option<String> = r.hget(format!("{prefix}{{keys}}:hashes"), &k.hash).await.unwrap();
    assert_eq!(index, None, "the hash index entry goes with the key");
    let ids: Vec<String> = r.smembers(format!("{prefix}{{keys}}:ids")).await.unwrap();
    assert!(ids.is_empty());
    assert!(!r.exists::<_, bool>(&key).await.unwrap());
}

/// Day and week buckets of the limits, and usage buckets, expire by kind; totals never do.
/// Money is stored as integer picodollars.
#[actix_rt::test]
async fn limit_and_usage_keys_expire_by_bucket_kind() {
    let prefix = fresh_prefix();
    let store = connect(&prefix).await;
    let mut r = raw().await;
    store
        .settle(&Settlement {
            key_id: "ttl".into(),
            window_start: None,
            tokens: 3,
            cost: Money::from_picos(12_345_678_901_234_567),
            day: "2026-11-27".into(),
            week: "2026-11-23".into(),
        })
        .await
        .unwrap();
    let r2 = r.clone();
    let ttl = |key: String| {
        let mut r = r2.clone();
        async move { r.ttl::<_, i64>(key).await.unwrap() }
    };
    let day_ttl = ttl(format!("{prefix}{{key:ttl}}:day:2026-11-27")).await;
    let week_ttl = ttl(format!("{prefix}{{key:ttl}}:week:2026-11-23")).await;
    assert!(
        (DAY_TTL_SECS as i64 - 5..=DAY_TTL_SECS as i64).contains(&day_ttl),
        "day TTL {day_ttl}"
    );
    assert!(
        (WEEK_TTL_SECS as i64 - 5..=WEEK_TTL_SECS as i64).contains(&week_ttl),
        "week TTL {week_ttl}"
    );
    let limits = format!("{prefix}{{key:ttl}}:limits");
    assert_eq!(ttl(limits.clone()).await, -1, "the total never expires");
    let markers: Vec<String> = r.keys(format!("{prefix}{{key:ttl}}:settled:*")).await.unwrap();
    assert_eq!(markers.len(), 1, "one settlement batch marker: {markers:?}");
    let marker_ttl = ttl(markers[0].clone()).await;
    assert!(
        (SETTLE_BATCH_TTL_SECS as i64 - 5..=SETTLE_BATCH_TTL_SECS as i64).contains(&marker_ttl),
        "settlement marker TTL {marker_ttl}"
    );
    let total: String = r.hget(&limits, "total_cost").await.unwrap();
    assert_eq!(total, "12345678901234567");

    let counters = UsageCounters {
        requests: 1,
        rated_cost: Money::from_picos(9_007_199_254_740_993),
        ..UsageCounters::default()
    };
    let buckets = [
        ("total", -1),
        ("m:2026-11", 400 * 86_400),
        ("d:2026-11-27", 32 * 86_400),
        ("h:2026-11-27T10", 7 * 86_400),
    ];
    let deltas: Vec<UsageDelta> = buckets
        .iter()
        .map(|(b, _)| UsageDelta {
            dimension: Dimension::Model,
            id: "m".into(),
            bucket: (*b).into(),
            counters,
        })
        .collect();
    let batch = UsageBatch::new(deltas);
    store.add_usage(&batch).await.unwrap();
    let marker_ttl = ttl(format!("{prefix}{{usage}}:batch:{}", batch.id)).await;
    assert!(
        (USAGE_BATCH_TTL_SECS as i64 - 5..=USAGE_BATCH_TTL_SECS as i64).contains(&marker_ttl),
        "usage batch marker TTL {marker_ttl}"
    );
    for (bucket, want) in buckets {
        for key in [
            format!("{prefix}{{usage}}:counters:model:{bucket}:m"),
            format!("{prefix}{{usage}}:index:model:{bucket}"),
        ] {
            let got = ttl(key.clone()).await;
            assert!(
                (want - 5..=want).contains(&got) || (want == -1 && got == -1),
                "{key}: TTL {got}, want {want}"
            );
        }
    }
    let rated: String = r
        .hget(format!("{prefix}{{usage}}:counters:model:total:m"), "rated_cost")
        .await
        .unwrap();
    assert_eq!(rated, "9007199254740993");

    let req = RecentRequest {
        at: 1,
        account_id: "a".into(),
        model: "m".into(),
        usage: Default::default(),
        cost: Money::ZERO,
        rated_cost: Money::ZERO,
        client_disconnected: false,
    };
    for _ in 0..3 {
        store
            .push_recent("ttl", &[req.clone(), req.clone()], 5)
            .await
            .unwrap();
    }
    let len: usize = r.llen(format!("{prefix}{{usage}}:recent:ttl")).await.unwrap();
    assert_eq!(len, 5, "the recent list is capped");
}

/// One EVALSHA to admit, one to settle (a batch over one key); reading the counters is one
/// pipeline; a usage flush is one EVALSHA (`ADD_USAGE`); a settlement batch over three keys is
/// one pipeline of three EVALSHA.
#[actix_rt::test]
async fn admission_and_settlement_cost_one_round_trip_each() {
    let server = RedisServer::launch();
    let store = RedisStore::connect(&RedisOptions::new(server.url(), "lim:"), &key())
        .await
        .unwrap();
    let admission = |now: i64| Admission {
        key_id: "rt",
        now,
        window: Some(WindowSpec {
            length_ms: 60_000,
            max_requests: 100,
            max_tokens: 0,
            max_cost: Money::ZERO,
        }),
        day: "2026-11-27",
        week: "2026-11-23",
        max_daily: Money::from_picos(1),
        max_total: Money::ZERO,
        max_weekly: Money::ZERO,
    };
    let settlement = |start: Option<i64>| Settlement {
        key_id: "rt".into(),
        window_start: start,
        tokens: 10,
        cost: Money::ZERO,
        day: "2026-11-27".into(),
        week: "2026-11-23".into(),
    };
    let now = SystemClock.now_ms();
    let flush = || {
        UsageBatch::new(vec![UsageDelta {
            dimension: Dimension::Key,
            id: "rt".into(),
            bucket: "d:2026-11-27".into(),
            counters: UsageCounters {
                requests: 1,
                input_tokens: 2,
                ..UsageCounters::default()
            },
        }])
    };
    // Warm up: the first calls load the scripts.
    let start = store.admit(&admission(now)).await.unwrap().unwrap();
    store.settle(&settlement(start)).await.unwrap();
    store.add_usage(&flush()).await.unwrap();

    let mut r = redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let monitor = Monitor::attach(server.port());
    monitor.take("start", &mut r).await;
    let start = store.admit(&admission(now + 1)).await.unwrap().unwrap();
    let sent = monitor.take("admitted", &mut r).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].starts_with("\"EVALSHA\""), "{sent:?}");
    store.settle(&settlement(start)).await.unwrap();
    let sent = monitor.take("settled", &mut r).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].starts_with("\"EVALSHA\""), "{sent:?}");
    store
        .counters("rt", now + 2, 60_000, "2026-11-27", "2026-11-23")
        .await
        .unwrap();
    let sent = monitor.take("read", &mut r).await;
    let verbs: Vec<&str> = sent.iter().map(|c| c.split(' ').next().unwrap()).collect();
    assert_eq!(verbs, ["\"HMGET\"", "\"GET\"", "\"GET\""], "one pipeline");
    store.add_usage(&flush()).await.unwrap();
    let sent = monitor.take("flushed", &mut r).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].starts_with("\"EVALSHA\""), "{sent:?}");
    let batch = SettleBatch::new(
        ["rt", "rt-2", "rt", "rt-3", "rt-2"]
            .iter()
            .map(|k| Settlement {
                key_id: (*k).into(),
                ..settlement(start)
            })
            .collect(),
    );
    store.settle_many(&batch).await.unwrap();
    let sent = monitor.take("batch settled", &mut r).await;
    assert_eq!(sent.len(), 3, "one script per key: {sent:?}");
    assert!(sent.iter().all(|c| c.starts_with("\"EVALSHA\"")), "{sent:?}");
}

/// The accounting task on Redis: finished requests over 10 keys queued at once are all applied,
/// exactly, in batches. The expected totals are summed by hand from the inputs and the published
/// Sonnet 4.5 prices, not by the pricing code the recorder uses. Prints settlements per second
/// (`SETTLE_N=20000` for the figure in docs/redis-keys.md;
/// `cargo test --test store_redis settle_throughput -- --nocapture`).
#[actix_rt::test]
async fn settle_throughput() {
    use switchyard::calendar::Calendar;
    use switchyard::pricing::Pricing;
    use switchyard::usage::{TokenUsage, UsageRecord, UsageRecorder};
    /// claude-sonnet-4-5 under 200k tokens of prompt: $3 and $15 per million tokens, in
    /// picodollars per token.
    const INPUT_PICOS: u64 = 3_000_000;
    const OUTPUT_PICOS: u64 = 15_000_000;
    let n: usize = std::env::var("SETTLE_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    // Generous: the default run settles in about a second; a hang fails instead of blocking CI.
    let deadline = Duration::from_secs(60 + n as u64 / 100);
    let store = Arc::new(connect(&fresh_prefix()).await);
    let recorder = UsageRecorder::new(
        store.clone(),
        store.clone(),
        Arc::new(Pricing::builtin()),
        Calendar::default(),
        10,
    );
    // Flushes (usage aggregates) out of the way: only settlements are measured.
    recorder.spawn(Duration::from_secs(3_600));
    let at = now();
    // Token counts vary per request, so a lost, doubled or misattributed settlement shows.
    let usage_of = |i: usize| TokenUsage {
        input_tokens: 100 + (i % 7) as u64,
        output_tokens: 10 + (i % 3) as u64,
        ..TokenUsage::default()
    };
    let mut expected = [0u64; 10];
    let started = std::time::Instant::now();
    for i in 0..n {
        let usage = usage_of(i);
        // Rated at 1.5×: the counters hold rated cost.
        expected[i % 10] += (usage.input_tokens * INPUT_PICOS + usage.output_tokens * OUTPUT_PICOS) * 3 / 2;
        recorder.record(
            &UsageRecord {
                key_id: format!("tp-{}", i % 10),
                account_id: AccountId::new("acct"),
                platform: Platform::Claude,
                model: "claude-sonnet-4-5".into(),
                usage,
                at,
                client_disconnected: false,
                cost_multiplier_ppm: 1_500_000,
                window_start: None,
            },
            "2026-11-23".into(),
        );
    }
    let settled = async {
        while recorder.queued_settlements() > 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    };
    tokio::time::timeout(deadline, settled).await.unwrap_or_else(|_| {
        panic!(
            "{} of {n} settlements still queued after {deadline:?}",
            recorder.queued_settlements()
        )
    });
    let took = started.elapsed();
    for (k, want) in expected.iter().enumerate() {
        let c = store
            .counters(
                &format!("tp-{k}"),
                at,
                0,
                &Calendar::default().day(at),
                "2026-11-23",
            )
            .await
            .unwrap();
        let want = Money::from_picos(*want);
        assert_eq!(
            (c.total_cost, c.daily_cost, c.weekly_cost),
            (want, want, want),
            "tp-{k}: every settlement applied exactly once"
        );
    }
    println!(
        "{n} settlements in {took:?}: {:.0} settlements/s",
        n as f64 / took.as_secs_f64()
    );
}
