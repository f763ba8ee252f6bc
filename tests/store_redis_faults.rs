//! Redis going away and coming back under a running instance: selections fail fast with
//! `StoreError::Unavailable` (no hang, no panic), recover by themselves once Redis is back on
//! the same port, and a release lost during the outage is made good by the lease TTL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/redis_server.rs"]
mod redis_server;

use redis_server::RedisServer;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchyard::store::{EncryptionKey, RedisOptions, RedisStore};
use switchyard_actors::domain::{Account, AccountKind, Credentials, Secret};
use switchyard_actors::settings::SchedulingSettings;
use switchyard_actors::system::ActorName;
use switchyard_actors::{
    Clock, Platform, Scheduling, SelectAccount, SelectError, Store, StoreError, SystemClock,
};

const KEY_HEX: &str = "3f9a1c7e5b2d8046a1e3c5b7d9f20486ac4e6b8d0f1a3c5e7092b4d6f8a1c3e5";
/// Short leases so a lost release frees its slot within the test.
const LEASE_TTL_SECS: u64 = 3;
/// An outage answer must come at least this fast.
const FAIL_FAST: Duration = Duration::from_millis(1_500);

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
        RedisStore::connect(&RedisOptions::new(server.url(), "faults:"), &key)
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
        assert!(started.elapsed() < FAIL_FAST, "failed in {:?}", started.elapsed());
    }
    let started = Instant::now();
    let direct = store.slot_counts(SystemClock.now_ms()).await;
    assert!(matches!(direct, Err(StoreError::Unavailable(_))), "{direct:?}");
    let release = store.release_lease(&first.id, held.lease.id()).await;
    assert!(matches!(release, Err(StoreError::Unavailable(_))), "{release:?}");
    assert!(started.elapsed() < FAIL_FAST * 2);
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
        RedisStore::connect(&RedisOptions::new(server.url(), "hung:"), &key)
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
    assert!(took < Duration::from_millis(1_800), "answered in {took:?}");

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
