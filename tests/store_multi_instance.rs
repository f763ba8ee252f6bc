//! Two switchyard instances (two independent scheduling systems, each with its own Redis store
//! and connection) share one pool: concurrency limits hold across both, a session bound on one
//! is honoured on the other, and a record written through one reaches the other.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/redis_server.rs"]
mod redis_server;

use parking_lot::Mutex;
use redis_server::RedisServer;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchyard::store::{EncryptionKey, RedisOptions, RedisStore};
use switchyard_actors::domain::{Account, AccountId, AccountKind, Credentials, Secret};
use switchyard_actors::scheduler::StickyOutcome;
use switchyard_actors::session::SessionId;
use switchyard_actors::settings::SchedulingSettings;
use switchyard_actors::{NoAccount, Platform, Scheduling, SelectAccount, SelectError, Store, SystemClock};

const KEY_HEX: &str = "3f9a1c7e5b2d8046a1e3c5b7d9f20486ac4e6b8d0f1a3c5e7092b4d6f8a1c3e5";
const ACCOUNTS: usize = 5;
const LIMIT: u32 = 2;

struct Pair {
    _server: RedisServer,
    a: Scheduling,
    b: Scheduling,
    store_a: Arc<dyn Store>,
}

async fn store(url: &str) -> Arc<dyn Store> {
    let key = EncryptionKey::parse_hex(KEY_HEX, "test").unwrap();
    Arc::new(
        RedisStore::connect(&RedisOptions::new(url, "multi:"), &key)
            .await
            .unwrap(),
    )
}

fn account(i: usize) -> Account {
    let mut a = Account::new(
        format!("shared-{i}"),
        AccountKind::ClaudeConsole,
        1_000 + i as i64,
    );
    a.max_concurrency = LIMIT;
    a.credentials = Credentials::ApiKey {
        key: Secret::new(format!("sk-{i}")),
    };
    a
}

/// Instance B runs its actors on another thread (arbiter), so the two really run side by side.
async fn two_instances() -> Pair {
    let server = RedisServer::launch();
    let (store_a, store_b) = (store(&server.url()).await, store(&server.url()).await);
    for i in 0..ACCOUNTS {
        store_a.put_account(&account(i)).await.unwrap();
    }
    let mut settings = SchedulingSettings::default();
    settings.scheduler.refresh_ms = 100;
    let a = Scheduling::start(store_a.clone(), Arc::new(SystemClock), settings.clone(), None)
        .await
        .unwrap();
    let arbiter = actix_rt::Arbiter::new();
    let b = Scheduling::start(store_b, Arc::new(SystemClock), settings, Some(&arbiter.handle()))
        .await
        .unwrap();
    Pair {
        _server: server,
        a,
        b,
        store_a,
    }
}

fn req() -> SelectAccount {
    SelectAccount::new(Platform::Claude)
}

async fn settle_to_zero(s: &Scheduling) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let counts = s.slot_counts().await.unwrap();
        if counts.values().all(|n| *n == 0) {
            return;
        }
        assert!(Instant::now() < deadline, "leases left: {counts:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[actix_rt::test]
async fn limits_hold_across_instances() {
    let p = two_instances().await;

    // 200 selections at once, half on each instance, every granted lease held.
    let attempts = (0..200).map(|i| {
        let s = if i % 2 == 0 { p.a.clone() } else { p.b.clone() };
        async move { s.select(req()).await }
    });
    let results = futures::future::join_all(attempts).await;
    let mut held = Vec::new();
    for r in results {
        match r {
            Ok(sel) => held.push(sel),
            Err(SelectError::NoAccount(NoAccount::AllFull)) => {}
            Err(other) => panic!("unexpected: {other:?}"),
        }
    }
    assert_eq!(
        held.len(),
        ACCOUNTS * LIMIT as usize,
        "exactly every slot of the pool"
    );
    for view in [&p.a, &p.b] {
        let counts = view.slot_counts().await.unwrap();
        assert_eq!(counts.len(), ACCOUNTS, "{counts:?}");
        assert!(counts.values().all(|n| *n == LIMIT), "{counts:?}");
    }
    drop(held);
    settle_to_zero(&p.a).await;

    // Churn: 200 requests that wait for a slot, hold it briefly and let go, on both instances.
    // Track how many each account serves at once, and sample the store's counts meanwhile.
    let live: Arc<Mutex<HashMap<AccountId, (u32, u32)>>> = Arc::default();
    let sampler = {
        let a = p.a.clone();
        actix_rt::spawn(async move {
            let mut worst = 0;
            for _ in 0..200 {
                if let Ok(counts) = a.slot_counts().await {
                    worst = worst.max(counts.values().copied().max().unwrap_or(0));
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            worst
        })
    };
    let requests = (0..200u64).map(|i| {
        let s = if i % 2 == 0 { p.a.clone() } else { p.b.clone() };
        let live = live.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(20);
            let sel = loop {
                match s.select(req()).await {
                    Ok(sel) => break sel,
                    Err(SelectError::NoAccount(NoAccount::AllFull)) => {
                        assert!(Instant::now() < deadline, "starved");
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    Err(other) => panic!("unexpected: {other:?}"),
                }
            };
            let id = sel.account.id.clone();
            {
                let mut l = live.lock();
                let e = l.entry(id.clone()).or_default();
                e.0 += 1;
                e.1 = e.1.max(e.0);
            }
            tokio::time::sleep(Duration::from_millis(2 + i % 5)).await;
            live.lock().get_mut(&id).unwrap().0 -= 1;
            drop(sel);
        }
    });
    futures::future::join_all(requests).await;
    let worst_sampled = sampler.await.unwrap();
    let live = live.lock().clone();
    assert_eq!(live.len(), ACCOUNTS, "every account served: {live:?}");
    for (id, (_, max)) in live.iter() {
        assert!(*max <= LIMIT, "{id} served {max} at once");
    }
    assert!(
        worst_sampled <= LIMIT,
        "the store counted {worst_sampled} leases on one account"
    );
    settle_to_zero(&p.a).await;
    settle_to_zero(&p.b).await;
}

#[actix_rt::test]
async fn a_session_bound_on_one_instance_is_honoured_on_the_other() {
    let p = two_instances().await;
    let session = SessionId::new("multi-instance-session");
    let first = p.a.select(req().session(session.clone())).await.unwrap();
    assert_eq!(first.sticky, StickyOutcome::Bound);
    let bound = first.account.id.clone();
    drop(first);
    for _ in 0..3 {
        // Each lease is given back before the next selection, so the bound account always has
        // room (a full one would be failed over, softly, by design).
        for (name, instance) in [("B", &p.b), ("A", &p.a)] {
            settle_to_zero(&p.a).await;
            let sel = instance.select(req().session(session.clone())).await.unwrap();
            assert_eq!(
                (&sel.account.id, sel.sticky),
                (&bound, StickyOutcome::Hit),
                "on instance {name}"
            );
        }
    }
}

#[actix_rt::test]
async fn a_record_written_through_one_instance_reaches_the_other() {
    let p = two_instances().await;
    let mut new = account(99);
    new.max_concurrency = 0;
    p.store_a.put_account(&new).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while p.b.snapshot().get(&new.id).is_none() {
        assert!(Instant::now() < deadline, "instance B never saw the new account");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
