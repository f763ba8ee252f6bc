//! The embedded store: the shared conformance suite, plus durability (an acknowledged write
//! survives `kill -9` of the writing process), the data directory lock (a second opener gets a
//! clear error), the generated key file, and encryption as seen in the raw database file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchyard::keys::{ApiKey, KeyStore};
use switchyard::limits::{Admission, LimitStore, Settlement, WindowSpec};
use switchyard::money::Money;
use switchyard::settings::{StoreBackend, StoreSettings};
use switchyard::store::embedded::{DB_FILE, LIMITS_PERSIST_DELAY};
use switchyard::store::{EmbeddedStore, EncryptionKey, OpenError, open_with_env_key};
use switchyard::usage::{
    Bucket, Dimension, RecentRequest, UsageBatch, UsageCounters, UsageDelta, UsageStore,
};
use switchyard_actors::domain::{
    Account, AccountId, AccountKind, Credentials, Group, OAuthTokens, Platform, Secret,
};
use switchyard_actors::store::{AccountPatch, AccountStore, HealthStore};
use switchyard_actors::{Clock, Store, StoreError, SystemClock};

const KEY_HEX: &str = "3f9a1c7e5b2d8046a1e3c5b7d9f20486ac4e6b8d0f1a3c5e7092b4d6f8a1c3e5";
const OTHER_KEY_HEX: &str = "9c1e7a3b5d2f80461a3e5c7b9df24068ca4e6b8d0f1a3c5e7092b4d6f8a1c3e6";
/// Set in a child process started by a test: what the child should do, and where.
const CHILD_ROLE: &str = "SWITCHYARD_TEST_EMBEDDED_CHILD";
const CHILD_DIR: &str = "SWITCHYARD_TEST_EMBEDDED_DIR";

fn key() -> EncryptionKey {
    EncryptionKey::parse_hex(KEY_HEX, "test").unwrap()
}

/// A directory under cargo's per-target temp dir (kept: stores outlive the helper).
fn scratch_dir() -> PathBuf {
    tempfile::Builder::new()
        .prefix("embedded-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
        .keep()
}

async fn fresh_store() -> Arc<dyn Store> {
    Arc::new(EmbeddedStore::open(&scratch_dir(), &key()).unwrap())
}

switchyard_actors::conformance_tests!(fresh_store());

/// All four contracts on one fresh embedded store.
async fn fresh_backends() -> switchyard::startup::Backends {
    open_with_env_key(&embedded_settings(&scratch_dir()), Some(KEY_HEX))
        .await
        .unwrap()
}

switchyard::records_conformance_tests!(fresh_backends());

fn account(id: &str) -> Account {
    let mut a = Account::new(id, AccountKind::ClaudeOfficial, 1_000);
    a.credentials = Credentials::OAuth(OAuthTokens {
        access_token: Secret::new(format!("sk-ant-oat-PLAINTEXT-ACCESS-{id}")),
        refresh_token: Some(Secret::new(format!("sk-ant-ort-PLAINTEXT-REFRESH-{id}"))),
        expires_at: Some(99),
    });
    a
}

fn group() -> Group {
    Group {
        id: "grp".into(),
        name: "team".into(),
        platform: Platform::Claude,
        members: vec![AccountId::new("durable-1"), AccountId::new("durable-2")],
    }
}

/// The writes the durability tests check after a restart.
async fn write_everything(s: &EmbeddedStore) {
    s.put_account(&account("durable-1")).await.unwrap();
    s.put_account(&account("durable-2")).await.unwrap();
    s.put_group(&group()).await.unwrap();
    s.touch_last_used(&[(AccountId::new("durable-1"), 7_777)])
        .await
        .unwrap();
    let patch = AccountPatch {
        priority: Some(5),
        ..Default::default()
    };
    s.patch_account(&AccountId::new("durable-2"), &patch)
        .await
        .unwrap();
    let refreshed = Credentials::ApiKey {
        key: Secret::new("sk-PLAINTEXT-REFRESHED"),
    };
    s.set_credentials(&AccountId::new("durable-2"), &refreshed)
        .await
        .unwrap();
}

async fn check_everything(s: &EmbeddedStore) {
    let one = s
        .get_account(&AccountId::new("durable-1"))
        .await
        .unwrap()
        .unwrap();
    let mut want = account("durable-1");
    want.last_used_at = Some(7_777);
    assert_eq!(one, want, "record, credentials and last-used survive");
    let two = s
        .get_account(&AccountId::new("durable-2"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(two.priority, 5);
    assert_eq!(
        two.credentials,
        Credentials::ApiKey {
            key: Secret::new("sk-PLAINTEXT-REFRESHED")
        }
    );
    assert_eq!(s.load_accounts().await.unwrap().len(), 2);
    assert_eq!(s.load_groups().await.unwrap(), vec![group()]);
}

/// Runs this test binary again as a child that runs only `test` (the caller itself), with
/// `role` and `dir` in its environment: there the test's first line,
/// [`play_child_role_if_asked`], does the child's part.
fn spawn_child(test: &str, role: &str, dir: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--test-threads=1", "--quiet"])
        .env(CHILD_ROLE, role)
        .env(CHILD_DIR, dir)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

fn wait_for_file(path: &Path, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !path.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("child exited early: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "child did not signal {}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The first line of every test that starts a child. In the test's own process it returns at
/// once. In the child [`spawn_child`] started it does the child's part: open the store in the
/// given directory, write what the role says, signal the parent, and wait to be killed; it
/// never returns (a child its parent forgot fails after a minute instead of passing).
fn play_child_role_if_asked() {
    let (Ok(role), Ok(dir)) = (std::env::var(CHILD_ROLE), std::env::var(CHILD_DIR)) else {
        return;
    };
    let dir = PathBuf::from(dir);
    actix_rt::System::new().block_on(async {
        let store = EmbeddedStore::open(&dir, &key()).unwrap();
        if role == "write" {
            write_everything(&store).await;
        }
        if role == "records" {
            write_records(&store).await;
            // Limit counters are written behind: give the background write its time.
            tokio::time::sleep(LIMITS_PERSIST_DELAY * 3).await;
        }
        // Every write above was acknowledged: tell the parent, then wait to be killed.
        std::fs::write(dir.join("child-ready"), role.as_bytes()).unwrap();
        tokio::time::sleep(Duration::from_secs(60)).await;
    });
    panic!("child {role}: its parent did not kill it within a minute");
}

#[test]
fn acknowledged_writes_survive_kill_9_of_the_writer() {
    play_child_role_if_asked();
    let dir = scratch_dir();
    let mut child = spawn_child("acknowledged_writes_survive_kill_9_of_the_writer", "write", &dir);
    wait_for_file(&dir.join("child-ready"), &mut child);
    child.kill().unwrap(); // SIGKILL: no destructor, no clean shutdown
    child.wait().unwrap();
    actix_rt::System::new().block_on(async {
        let store = EmbeddedStore::open(&dir, &key()).expect("reopens after a crash");
        check_everything(&store).await;
    });
}

const RECORD_KEY_HASH: &str = "5e2f7c1a9b3d4e6f8a0c2e4f6a8b0d2f4e6a8c0e2a4c6e8f0a2c4e6a8c0e2f4a";

fn record_key() -> ApiKey {
    ApiKey {
        id: "kept".into(),
        name: "kept key".into(),
        hash: RECORD_KEY_HASH.into(),
        active: true,
        created_at: 1_000,
        last_used_at: None,
        permissions: vec![Platform::Claude],
        concurrency_limit: 2,
        bindings: Default::default(),
        expires_at: Some(99_000),
        tags: vec!["t".into()],
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

const T0: i64 = 1_700_000_000_000;

fn window() -> Option<WindowSpec> {
    Some(WindowSpec {
        length_ms: 3_600_000,
        max_requests: 100,
        max_tokens: 0,
        max_cost: Money::ZERO,
    })
}

fn admission(now: i64) -> Admission<'static> {
    Admission {
        key_id: "kept",
        now,
        window: window(),
        day: "2026-11-27",
        week: "2026-11-23",
        max_daily: Money::ZERO,
        max_total: Money::ZERO,
        max_weekly: Money::ZERO,
    }
}

fn one_request() -> UsageCounters {
    UsageCounters {
        requests: 1,
        input_tokens: 10,
        output_tokens: 5,
        cost: Money::from_picos(1_000_000_000_001),
        rated_cost: Money::from_picos(2_000_000_000_003),
        ..UsageCounters::default()
    }
}

fn recent(n: i64) -> RecentRequest {
    RecentRequest {
        at: T0 + n,
        account_id: "acct".into(),
        model: "claude-sonnet-5".into(),
        usage: Default::default(),
        cost: Money::from_picos(7),
        rated_cost: Money::from_picos(7),
        client_disconnected: false,
    }
}

/// An API key (then a recorded use), two usage batches, recent requests and limit counters.
async fn write_records(s: &EmbeddedStore) {
    s.put_key(&record_key()).await.unwrap();
    s.touch_key("kept", 4_242).await.unwrap();
    for _ in 0..2 {
        s.add_usage(&UsageBatch::new(vec![UsageDelta {
            dimension: Dimension::Key,
            id: "kept".into(),
            bucket: Bucket::TOTAL.into(),
            counters: one_request(),
        }]))
        .await
        .unwrap();
    }
    s.push_recent("kept", &[recent(1), recent(2)], 10).await.unwrap();
    for i in 0..3 {
        let start = s.admit(&admission(T0 + i)).await.unwrap().unwrap();
        s.settle(&Settlement {
            key_id: "kept".into(),
            window_start: start,
            tokens: 15,
            cost: Money::from_picos(2_000_000_000_003),
            day: "2026-11-27".into(),
            week: "2026-11-23".into(),
        })
        .await
        .unwrap();
    }
}

async fn check_records(s: &EmbeddedStore) {
    let mut want = record_key();
    want.last_used_at = Some(4_242);
    assert_eq!(
        s.key_by_hash(RECORD_KEY_HASH).await.unwrap(),
        Some(want),
        "the key"
    );
    let mut two = one_request();
    two.add(&one_request());
    assert_eq!(
        s.usage_of(Dimension::Key, "kept", Bucket::TOTAL).await.unwrap(),
        two,
        "usage"
    );
    assert_eq!(
        s.recent("kept", 10).await.unwrap(),
        vec![recent(2), recent(1)],
        "recent requests"
    );
    let c = s
        .counters("kept", T0 + 10, 3_600_000, "2026-11-27", "2026-11-23")
        .await
        .unwrap();
    let spent = Money::from_picos(6_000_000_000_009);
    assert_eq!(
        (c.window_start, c.window_requests, c.window_tokens, c.window_cost),
        (Some(T0), 3, 45, spent),
        "the window"
    );
    assert_eq!(
        (c.daily_cost, c.weekly_cost, c.total_cost),
        (spent, spent, spent),
        "cost counters"
    );
    // The restored window keeps counting where it was.
    assert_eq!(s.admit(&admission(T0 + 20)).await.unwrap(), Ok(Some(T0)));
}

#[test]
fn keys_usage_and_limit_counters_survive_kill_9() {
    play_child_role_if_asked();
    let dir = scratch_dir();
    let mut child = spawn_child("keys_usage_and_limit_counters_survive_kill_9", "records", &dir);
    wait_for_file(&dir.join("child-ready"), &mut child);
    child.kill().unwrap();
    child.wait().unwrap();
    actix_rt::System::new().block_on(async {
        let store = EmbeddedStore::open(&dir, &key()).expect("reopens after a crash");
        check_records(&store).await;
    });
}

#[actix_rt::test]
async fn keys_usage_and_limit_counters_survive_a_restart_in_process() {
    let dir = scratch_dir();
    let store = EmbeddedStore::open(&dir, &key()).unwrap();
    write_records(&store).await;
    // Dropped at once: the counters not yet written behind are written on drop.
    drop(store);
    check_records(&EmbeddedStore::open(&dir, &key()).unwrap()).await;
}

#[actix_rt::test]
async fn writes_survive_a_restart_in_process() {
    let dir = scratch_dir();
    let store = EmbeddedStore::open(&dir, &key()).unwrap();
    write_everything(&store).await;
    drop(store);
    check_everything(&EmbeddedStore::open(&dir, &key()).unwrap()).await;
}

fn assert_in_use(err: OpenError, dir: &Path) {
    let msg = err.to_string();
    assert!(matches!(err, OpenError::DataDirInUse { .. }), "{msg}");
    assert!(
        msg.contains(&dir.display().to_string()),
        "names the directory: {msg}"
    );
    assert!(msg.contains("another switchyard"), "{msg}");
}

#[test]
fn a_second_opener_gets_a_clear_error() {
    play_child_role_if_asked();
    let dir = scratch_dir();
    let first = EmbeddedStore::open(&dir, &key()).unwrap();
    assert_in_use(EmbeddedStore::open(&dir, &key()).unwrap_err(), &dir);
    drop(first);
    let mut child = spawn_child("a_second_opener_gets_a_clear_error", "hold", &dir);
    wait_for_file(&dir.join("child-ready"), &mut child);
    assert_in_use(EmbeddedStore::open(&dir, &key()).unwrap_err(), &dir);
    child.kill().unwrap();
    child.wait().unwrap();
    EmbeddedStore::open(&dir, &key()).expect("free again once the holder is gone");
}

#[actix_rt::test]
async fn no_plaintext_secret_reaches_the_database_file() {
    let dir = scratch_dir();
    let store = EmbeddedStore::open(&dir, &key()).unwrap();
    write_everything(&store).await;
    drop(store);
    let bytes = std::fs::read(dir.join(DB_FILE)).unwrap();
    let find = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(find(b"durable-1"), "the file holds the records");
    assert!(find(b"v1:"), "and sealed credentials");
    assert!(!find(b"PLAINTEXT"), "but no plaintext secret");
}

/// Last-used times live in their own table; the account's fields never carry them.
#[actix_rt::test]
async fn last_used_is_kept_apart_from_the_record() {
    let dir = scratch_dir();
    let store = EmbeddedStore::open(&dir, &key()).unwrap();
    let a = account("used");
    store.put_account(&a).await.unwrap();
    let v = store.records_version().await.unwrap();
    store.touch_last_used(&[(a.id.clone(), 42)]).await.unwrap();
    store.touch_last_used(&[(a.id.clone(), 41)]).await.unwrap();
    store
        .touch_last_used(&[(AccountId::new("ghost"), 1)])
        .await
        .unwrap();
    assert_eq!(
        store.records_version().await.unwrap(),
        v,
        "a use is not a record change"
    );
    drop(store);

    const FIELDS: TableDefinition<'_, (&str, &str), &str> = TableDefinition::new("account_fields");
    const LAST_USED: TableDefinition<'_, &str, i64> = TableDefinition::new("account_last_used");
    let db = redb::Database::open(dir.join(DB_FILE)).unwrap();
    let txn = db.begin_read().unwrap();
    let fields = txn.open_table(FIELDS).unwrap();
    let names: Vec<String> = fields
        .iter()
        .unwrap()
        .map(|e| e.unwrap().0.value().1.to_owned())
        .collect();
    assert!(names.contains(&"priority".to_owned()) && !names.contains(&"last_used_at".to_owned()));
    let used = txn.open_table(LAST_USED).unwrap();
    assert_eq!(
        used.get("used").unwrap().unwrap().value(),
        42,
        "the later time wins"
    );
    assert!(used.get("ghost").unwrap().is_none());
}

#[actix_rt::test]
async fn every_record_write_moves_the_version() {
    let store = EmbeddedStore::open(&scratch_dir(), &key()).unwrap();
    let id = AccountId::new("v");
    let mut last = store.records_version().await.unwrap();
    let mut moved = |now: u64, what: &str| {
        assert!(now > last, "{what} moves the version");
        last = now;
    };
    store.put_account(&account("v")).await.unwrap();
    moved(store.records_version().await.unwrap(), "put_account");
    store.patch_account(&id, &AccountPatch::default()).await.unwrap();
    moved(store.records_version().await.unwrap(), "patch_account");
    store.set_credentials(&id, &Credentials::None).await.unwrap();
    moved(store.records_version().await.unwrap(), "set_credentials");
    store.put_group(&group()).await.unwrap();
    moved(store.records_version().await.unwrap(), "put_group");
    store.delete_group(&"grp".to_owned()).await.unwrap();
    moved(store.records_version().await.unwrap(), "delete_group");
    store.delete_account(&id).await.unwrap();
    moved(store.records_version().await.unwrap(), "delete_account");
}

#[actix_rt::test]
async fn deleting_an_account_clears_its_memberships_and_health() {
    let store = EmbeddedStore::open(&scratch_dir(), &key()).unwrap();
    store.put_account(&account("durable-1")).await.unwrap();
    store.put_group(&group()).await.unwrap();
    let id = AccountId::new("durable-1");
    let hot = switchyard_actors::Health {
        cooldown: Some(switchyard_actors::Cooldown {
            until: SystemClock.now_ms() + 60_000,
            reason: switchyard_actors::CooldownReason::Overload,
            status: 529,
        }),
        family_limits: vec![],
    };
    store.put_health(&id, &hot).await.unwrap();
    assert!(store.delete_account(&id).await.unwrap());
    assert_eq!(
        store.load_groups().await.unwrap()[0].members,
        vec![AccountId::new("durable-2")]
    );
    assert!(store.load_health().await.unwrap().is_empty());
}

fn embedded_settings(dir: &Path) -> StoreSettings {
    StoreSettings {
        backend: StoreBackend::Embedded,
        data_dir: dir.to_owned(),
        ..StoreSettings::default()
    }
}

#[actix_rt::test]
async fn a_missing_key_is_generated_into_a_0600_file_and_reused() {
    let dir = scratch_dir();
    let settings = embedded_settings(&dir);
    let store = open_with_env_key(&settings, None).await.unwrap().store;
    store.put_account(&account("k")).await.unwrap();
    drop(store);
    let file = dir.join("encryption-key");
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text.trim().len(), 64);
    assert!(text.trim().chars().all(|c| c.is_ascii_hexdigit()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "key file mode {mode:o}");
    }
    let again = open_with_env_key(&settings, None).await.unwrap().store;
    assert_eq!(
        again
            .get_account(&AccountId::new("k"))
            .await
            .unwrap()
            .unwrap()
            .credentials,
        account("k").credentials,
        "the second start reads the generated key"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text, "never regenerated");
}

#[actix_rt::test]
async fn the_environment_key_wins_and_a_weak_one_is_refused() {
    let dir = scratch_dir();
    let settings = embedded_settings(&dir);
    let store = open_with_env_key(&settings, Some(KEY_HEX)).await.unwrap();
    drop(store);
    assert!(
        !dir.join("encryption-key").exists(),
        "nothing generated when a key is given"
    );
    let Err(weak) = open_with_env_key(&settings, Some(&"0".repeat(64))).await else {
        panic!("a weak key opened the store");
    };
    assert!(weak.to_string().contains("too weak"), "{weak}");
}

#[actix_rt::test]
async fn a_different_key_is_refused_at_start_and_on_read() {
    let dir = scratch_dir();
    let store = EmbeddedStore::open(&dir, &key()).unwrap();
    store.put_account(&account("keyed")).await.unwrap();
    drop(store);
    let other = EncryptionKey::parse_hex(OTHER_KEY_HEX, "test").unwrap();
    let err = EmbeddedStore::open(&dir, &other).unwrap_err();
    assert!(matches!(err, OpenError::WrongKey { .. }), "{err}");
    assert!(err.to_string().contains("encryption key does not match"));

    // Without the start-up check (removed by hand), the mismatch shows on the first read.
    {
        const META: TableDefinition<'_, &str, &str> = TableDefinition::new("meta");
        let db = redb::Database::open(dir.join(DB_FILE)).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(META).unwrap().remove("key_check").unwrap();
        txn.commit().unwrap();
    }
    let wrong = EmbeddedStore::open(&dir, &other).unwrap();
    let err = wrong.get_account(&AccountId::new("keyed")).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StoreError::Corrupt(_)), "{msg}");
    assert!(msg.contains("encryption key does not match"), "{msg}");
    assert!(!msg.contains("PLAINTEXT"));
}

/// Retention: the store prunes dated usage buckets by itself (in the first flush after
/// opening, then at most hourly) — hourly after 7 days, daily after 32, monthly after 400 —
/// and never touches totals.
#[actix_rt::test]
async fn old_usage_buckets_are_pruned_and_totals_stay() {
    use switchyard::calendar::Calendar;
    const DAY: i64 = 86_400_000;
    let dir = scratch_dir();
    let cal = Calendar::default();
    let now = SystemClock.now_ms();
    let ago = |days: i64| now - days * DAY;
    let buckets = [
        (Bucket::TOTAL.to_owned(), true),
        (Bucket::hour(&cal, now), true),
        (Bucket::hour(&cal, ago(6)), true),
        (Bucket::hour(&cal, ago(8)), false),
        (Bucket::day(&cal, ago(31)), true),
        (Bucket::day(&cal, ago(33)), false),
        (Bucket::month(&cal, ago(370)), true),
        (Bucket::month(&cal, ago(450)), false),
    ];
    let one = UsageCounters {
        requests: 1,
        input_tokens: 7,
        rated_cost: Money::from_picos(9_007_199_254_740_993),
        ..UsageCounters::default()
    };
    let batch = |id: &str| {
        UsageBatch::new(
            buckets
                .iter()
                .flat_map(|(bucket, _)| {
                    [Dimension::Key, Dimension::Account, Dimension::Model].map(|dimension| UsageDelta {
                        dimension,
                        id: id.into(),
                        bucket: bucket.clone(),
                        counters: one,
                    })
                })
                .collect(),
        )
    };
    {
        let s = EmbeddedStore::open(&dir, &key()).unwrap();
        // The first flush after opening prunes before it writes: these rows are all still there.
        s.add_usage(&batch("old")).await.unwrap();
        for (bucket, _) in &buckets {
            assert_eq!(
                s.usage_of(Dimension::Model, "old", bucket).await.unwrap(),
                one,
                "{bucket}"
            );
        }
        // The pass runs at most once an hour: a second flush prunes nothing.
        s.add_usage(&batch("second")).await.unwrap();
        assert_eq!(
            s.usage_of(Dimension::Key, "second", &buckets[3].0).await.unwrap(),
            one
        );
    }
    let s = EmbeddedStore::open(&dir, &key()).unwrap();
    s.add_usage(&UsageBatch::new(vec![UsageDelta {
        dimension: Dimension::Key,
        id: "new".into(),
        bucket: Bucket::TOTAL.into(),
        counters: one,
    }]))
    .await
    .unwrap();
    for (bucket, kept) in &buckets {
        for dimension in [Dimension::Key, Dimension::Account, Dimension::Model] {
            for id in ["old", "second"] {
                let want = if *kept { one } else { UsageCounters::default() };
                assert_eq!(
                    s.usage_of(dimension, id, bucket).await.unwrap(),
                    want,
                    "{dimension:?} {id} {bucket}: kept {kept}"
                );
            }
            let listed: Vec<String> = s
                .usage_by(dimension, bucket)
                .await
                .unwrap()
                .into_iter()
                .map(|(id, _)| id)
                .filter(|id| id != "new")
                .collect();
            assert_eq!(listed.len(), if *kept { 2 } else { 0 }, "{bucket}: {listed:?}");
        }
    }
    // Explicitly, a week later: the 6-day-old hour goes too; totals stay.
    let removed = s.prune_usage(now + 7 * DAY).await.unwrap();
    assert!(removed >= 6, "removed {removed}");
    assert_eq!(
        s.usage_of(Dimension::Key, "old", &Bucket::hour(&cal, ago(6)))
            .await
            .unwrap(),
        UsageCounters::default()
    );
    assert_eq!(
        s.usage_of(Dimension::Key, "old", Bucket::TOTAL).await.unwrap(),
        one
    );
    assert_eq!(
        s.usage_of(Dimension::Key, "new", Bucket::TOTAL).await.unwrap(),
        one,
        "totals never go"
    );
    assert_eq!(
        s.prune_usage(now + 7 * DAY).await.unwrap(),
        0,
        "nothing left to prune"
    );
}
