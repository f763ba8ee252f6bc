//! Redis going away and coming back under a running instance: selections fail fast with
//! `StoreError::Unavailable` (no hang, no panic), recover by themselves once Redis is back on
//! the same port, and a release lost during the outage is made good by the lease TTL. A usage
//! flush or settlement batch that Redis ran but whose answer was lost is retried and counted
//! once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/redis_server.rs"]
mod redis_server;

use redis_server::RedisServer;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchyard::calendar::Calendar;
use switchyard::limits::{LimitStore, SettleBatch, Settlement};
use switchyard::money::Money;
use switchyard::pricing::Pricing;
use switchyard::store::{EncryptionKey, RedisOptions, RedisStore};
use switchyard::usage::{Bucket, Dimension, TokenUsage, UsageRecord, UsageRecorder, UsageStore};
use switchyard_actors::domain::{Account, AccountId, AccountKind, Credentials, Secret};
use switchyard_actors::settings::SchedulingSettings;
use switchyard_actors::system::ActorName;
use switchyard_actors::{
    Clock, Platform, Scheduling, SelectAccount, SelectError, Store, StoreError, SystemClock,
};

const KEY_HEX: &str = "3f9a1c7e5b2d8046a1e3c5b7d9f20486ac4e6b8d0f1a3c5e7092b4d6f8a1c3e5";
/// Short leases so a lost release frees its slot within the test.
const LEASE_TTL_SECS: u64 = 3;
/// One store operation's bound here (the store's operation and response timeouts).
const OP_TIMEOUT: Duration = Duration::from_secs(2);
/// What a loaded 2-core machine may add to a bound: less than [`OP_TIMEOUT`], so an operation
/// that spends two timeouts where one is promised still fails the test.
const SLACK: Duration = Duration::from_millis(1_500);

/// The most `n` store operations may take when Redis is down or hung: `n` timeouts, plus slack.
fn within(n: u32) -> Duration {
    OP_TIMEOUT * n + SLACK
}

fn options(url: String, prefix: &str) -> RedisOptions {
    RedisOptions {
        response_timeout: OP_TIMEOUT,
        op_timeout: OP_TIMEOUT,
        ..RedisOptions::new(url, prefix)
    }
}

fn account(id: &str, created_at: i64) -> Account {
    let mut a = Account::new(id, AccountKind::ClaudeConsole, created_at);
    a.max_concurrency = 1;
    a.credentials = Credentials::ApiKey {
        key: Secret::new("sk-fault"),
    };
    a
}

fn settings() -> SchedulingSettings {
    let mut s = SchedulingSettings::default();
    // Far above the store's timeout: an outage reaches the caller as the store's error, not as
    // an actor's timeout.
    for knobs in [
        &mut s.actors.pool,
        &mut s.actors.sticky,
        &mut s.actors.claude,
        &mut s.actors.gemini,
        &mut s.actors.openai,
    ] {
        knobs.send_timeout_ms = 30_000;
    }
    s.scheduler.lease_ttl_secs = LEASE_TTL_SECS;
    s.scheduler.lease_renew_secs = 1;
    s.scheduler.sweep_secs = 1;
    s.scheduler.refresh_ms = 100;
    s.scheduler.last_used_flush_ms = 100;
    s
}

async fn count(store: &dyn Store, id: &str) -> u32 {
    let counts = store.slot_counts(SystemClock.now_ms()).await.unwrap();
    counts.get(id).copied().unwrap_or(0)
}

#[actix_rt::test]
async fn an_outage_fails_fast_and_heals_by_itself() {
    let mut server = RedisServer::launch();
    let key = EncryptionKey::parse_hex(KEY_HEX, "test").unwrap();
    let store: Arc<dyn Store> = Arc::new(
        RedisStore::connect(&options(server.url(), "faults:"), &key)
            .await
            .unwrap(),
    );
    let (first, spare) = (account("first", 1_000), account("spare", 2_000));
    store.put_account(&first).await.unwrap();
    store.put_account(&spare).await.unwrap();
    let scheduling = Scheduling::start(store.clone(), Arc::new(SystemClock), settings(), None)
        .await
        .unwrap();
    let req = || SelectAccount::new(Platform::Claude);

    let held = scheduling.select(req()).await.expect("selects while Redis is up");
    assert_eq!(held.account.id.as_str(), "first");
    // Persist what Redis holds now (records and the live lease), as a production Redis would,
    // then crash it.
    let mut raw = redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: () = redis::cmd("SAVE").query_async(&mut raw).await.unwrap();
    server.stop();

    for _ in 0..5 {
        let started = Instant::now();
        let err = scheduling.select(req()).await.unwrap_err();
        assert!(
            matches!(err, SelectError::Store(StoreError::Unavailable(_))),
            "an outage is a store error: {err:?}"
        );
        assert!(started.elapsed() < within(1), "failed in {:?}", started.elapsed());
    }
    let started = Instant::now();
    let direct = store.slot_counts(SystemClock.now_ms()).await;
    assert!(matches!(direct, Err(StoreError::Unavailable(_))), "{direct:?}");
    let release = store.release_lease(&first.id, held.lease.id()).await;
    assert!(matches!(release, Err(StoreError::Unavailable(_))), "{release:?}");
    assert!(started.elapsed() < within(2), "{:?}", started.elapsed());
    // The request ends while Redis is down: its release is lost (logged), the TTL will free it.
    drop(held);
    tokio::time::sleep(Duration::from_millis(200)).await;

    server.start();
    let deadline = Instant::now() + Duration::from_secs(10);
    let back = loop {
        match scheduling.select(req()).await {
            Ok(sel) => break sel,
            Err(e) => {
                assert!(Instant::now() < deadline, "never recovered: {e:?}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    assert_eq!(
        back.account.id.as_str(),
        "spare",
        "`first` still carries the lease whose release was lost"
    );
    assert_eq!(count(&*store, "first").await, 1);
    drop(back);

    // The lost lease expires (it is no longer renewed) and is swept: every slot comes back.
    let deadline = Instant::now() + Duration::from_secs(LEASE_TTL_SECS + 5);
    while count(&*store, "first").await + count(&*store, "spare").await > 0 {
        assert!(Instant::now() < deadline, "a lease leaked");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let both = futures::future::join(scheduling.select(req()), scheduling.select(req())).await;
    let (one, two) = (both.0.unwrap(), both.1.unwrap());
    assert_ne!(one.account.id, two.account.id, "both slots are free again");
    for actor in ActorName::ALL {
        assert_eq!(scheduling.restarts(actor), 0, "{} panicked", actor.as_str());
    }
}

/// A Redis that accepts connections but never answers (a hung host) costs one operation
/// timeout, not a hang; when it answers again, so does the store.
#[actix_rt::test]
async fn a_hung_redis_costs_one_timeout_not_a_hang() {
    let server = RedisServer::launch();
    let key = EncryptionKey::parse_hex(KEY_HEX, "test").unwrap();
    let store: Arc<dyn Store> = Arc::new(
        RedisStore::connect(&options(server.url(), "hung:"), &key)
            .await
            .unwrap(),
    );
    store.put_account(&account("hung", 1_000)).await.unwrap();
    let scheduling = Scheduling::start(store.clone(), Arc::new(SystemClock), settings(), None)
        .await
        .unwrap();
    drop(
        scheduling
            .select(SelectAccount::new(Platform::Claude))
            .await
            .unwrap(),
    );

    server.pause();
    let started = Instant::now();
    let err = scheduling
        .select(SelectAccount::new(Platform::Claude))
        .await
        .unwrap_err();
    let took = started.elapsed();
    server.resume();
    assert!(
        matches!(err, SelectError::Store(StoreError::Unavailable(_))),
        "{err:?}"
    );
    assert!(took < within(1), "answered in {took:?}");

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match scheduling.select(SelectAccount::new(Platform::Claude)).await {
            Ok(sel) => {
                assert_eq!(sel.account.id.as_str(), "hung");
                break;
            }
            Err(e) => {
                assert!(Instant::now() < deadline, "never recovered: {e:?}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Polls `read` until it returns `want` (Redis ran what was queued while it was frozen).
async fn until<F, Fut>(what: &str, want: u64, mut read: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = u64>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = read().await;
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: {got}, want {want}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn raw_u64(url: String, cmd: redis::Cmd) -> u64 {
    let mut raw = redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let v: Option<u64> = cmd.query_async(&mut raw).await.unwrap();
    v.unwrap_or(0)
}

/// Retries `op` until it succeeds (the connection may need a moment after the freeze).
async fn until_ok<F, Fut>(what: &str, mut op: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), StoreError>>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Err(e) = op().await {
        assert!(Instant::now() < deadline, "{what} never succeeded: {e:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A flush that Redis runs while the client has already given up (frozen past the
/// operation timeout with the script queued, then thawed) is retried by the recorder under the same
/// batch id: the requests count once.
#[actix_rt::test]
async fn a_usage_flush_whose_answer_was_lost_counts_once() {
    let server = RedisServer::launch();
    let key = EncryptionKey::parse_hex(KEY_HEX, "test").unwrap();
    let store = Arc::new(
        RedisStore::connect(&options(server.url(), "lost:"), &key)
            .await
            .unwrap(),
    );
    let recorder = UsageRecorder::new(
        store.clone(),
        store.clone(),
        Arc::new(Pricing::builtin()),
        Calendar::default(),
        10,
    );
    let at = SystemClock.now_ms();
    let rec = |key_id: &str| UsageRecord {
        key_id: key_id.into(),
        account_id: AccountId::new("acct"),
        platform: Platform::Claude,
        model: "claude-sonnet-4-5".into(),
        usage: TokenUsage {
            input_tokens: 100,
            output_tokens: 10,
            ..TokenUsage::default()
        },
        at,
        client_disconnected: false,
        cost_multiplier_ppm: 1_000_000,
        window_start: None,
    };
    // Warm up: the script is loaded, so the frozen server gets a plain EVALSHA.
    recorder.record(&rec("warm-up"), "2026-11-23".into());
    recorder.flush().await.unwrap();
    let requests = || {
        raw_u64(
            server.url(),
            redis::cmd("HGET")
                .arg("lost:{usage}:counters:key:total:k")
                .arg("requests")
                .clone(),
        )
    };

    recorder.record(&rec("k"), "2026-11-23".into());
    server.pause();
    let started = Instant::now();
    let lost = recorder.flush().await;
    let took = started.elapsed();
    server.resume();
    assert!(matches!(lost, Err(StoreError::Unavailable(_))), "{lost:?}");
    assert!(took < within(1), "gave up in {took:?}");
    // The queued script runs once Redis thaws: the batch landed, its answer was lost.
    until("stored requests after the thaw", 1, requests).await;

    // Recorded meanwhile: a batch of its own, sent after the retry.
    recorder.record(&rec("k"), "2026-11-23".into());
    until_ok("the retried flush", || recorder.flush()).await;
    assert_eq!(
        requests().await,
        2,
        "the lost batch counted once, the new one once"
    );
    assert_eq!(
        store
            .usage_of(Dimension::Key, "k", Bucket::TOTAL)
            .await
            .unwrap()
            .requests,
        2
    );
    assert_eq!(
        recorder
            .usage_of(Dimension::Key, "k", Bucket::TOTAL)
            .await
            .unwrap()
            .requests,
        2,
        "nothing left pending"
    );
}

/// The same for a settlement batch sent straight to the store: run while the client timed
/// out, sent again with the same id, counted once.
#[actix_rt::test]
async fn a_settlement_batch_whose_answer_was_lost_counts_once() {
    let server = RedisServer::launch();
    let key = EncryptionKey::parse_hex(KEY_HEX, "test").unwrap();
    let store = RedisStore::connect(&options(server.url(), "lost:"), &key)
        .await
        .unwrap();
    let settlement = |key_id: &str, picos: u64| Settlement {
        key_id: key_id.into(),
        window_start: None,
        tokens: 10,
        cost: Money::from_picos(picos),
        day: "2026-11-27".into(),
        week: "2026-11-23".into(),
    };
    store.settle(&settlement("warm-up", 1)).await.unwrap();
    let batch = SettleBatch::new(vec![
        settlement("s1", 1_000),
        settlement("s2", 20_000),
        settlement("s1", 300_000),
    ]);
    let total = |key_id: &'static str| {
        raw_u64(
            server.url(),
            redis::cmd("HGET")
                .arg(format!("lost:{{key:{key_id}}}:limits"))
                .arg("total_cost")
                .clone(),
        )
    };

    server.pause();
    let lost = store.settle_many(&batch).await;
    server.resume();
    assert!(matches!(lost, Err(StoreError::Unavailable(_))), "{lost:?}");
    until("s1 after the thaw", 301_000, || total("s1")).await;
    until_ok("the retried batch", || store.settle_many(&batch)).await;
    store.settle_many(&batch).await.unwrap();
    assert_eq!((total("s1").await, total("s2").await), (301_000, 20_000));
    let c = store
        .counters("s1", SystemClock.now_ms(), 0, "2026-11-27", "2026-11-23")
        .await
        .unwrap();
    assert_eq!(
        (c.daily_cost, c.weekly_cost, c.total_cost),
        (
            Money::from_picos(301_000),
            Money::from_picos(301_000),
            Money::from_picos(301_000)
        )
    );
}
