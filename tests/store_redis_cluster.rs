//! The Redis store on Redis Cluster: the store finds out by itself (no setting) and runs the
//! same conformance suites as on a single node, on a one-node cluster (every slot on one node,
//! cross-slot commands still refused: proof of the key layout) and on a three-node cluster
//! (keys really on different nodes: proof of routing, per-slot pipelines and script loading on
//! every node). Plus two instances sharing limits through the three-node cluster.
//! One shared cluster of each size per test binary (every test uses its own key prefix), and
//! one of its own for the test that flushes the scripts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/redis_cluster.rs"]
mod redis_cluster;

use redis_cluster::RedisCluster;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, LazyLock};
use switchyard::limits::{Admission, LimitStore, SettleBatch, Settlement};
use switchyard::money::Money;
use switchyard::settings::{StoreBackend, StoreSettings};
use switchyard::startup::Backends;
use switchyard::store::{EncryptionKey, RedisOptions, RedisStore, open_with_env_key};
use switchyard_actors::domain::{Account, AccountKind, Credentials, Secret};
use switchyard_actors::settings::SchedulingSettings;
use switchyard_actors::{NoAccount, Platform, Scheduling, SelectAccount, SelectError, Store, SystemClock};

static ONE_NODE: LazyLock<RedisCluster> = LazyLock::new(|| RedisCluster::launch(1));
static THREE_NODES: LazyLock<RedisCluster> = LazyLock::new(|| RedisCluster::launch(3));
static NEXT_PREFIX: AtomicU32 = AtomicU32::new(0);

const KEY_HEX: &str = "3f9a1c7e5b2d8046a1e3c5b7d9f20486ac4e6b8d0f1a3c5e7092b4d6f8a1c3e5";

fn fresh_prefix() -> String {
    format!(
        "c{}-{}:",
        std::process::id(),
        NEXT_PREFIX.fetch_add(1, Ordering::Relaxed)
    )
}

async fn connect(cluster: &RedisCluster, prefix: &str) -> RedisStore {
    let key = EncryptionKey::parse_hex(KEY_HEX, "test").unwrap();
    RedisStore::connect(&RedisOptions::new(cluster.url(), prefix), &key)
        .await
        .expect("redis store connects to the cluster")
}

async fn fresh_store(cluster: &RedisCluster) -> Arc<dyn Store> {
    Arc::new(connect(cluster, &fresh_prefix()).await)
}

/// All four contracts through the start-up path (`store.backend = "redis"`).
async fn fresh_backends(cluster: &RedisCluster) -> Backends {
    let settings = StoreSettings {
        backend: StoreBackend::Redis,
        redis_url: cluster.url(),
        redis_prefix: fresh_prefix(),
        ..StoreSettings::default()
    };
    open_with_env_key(&settings, Some(KEY_HEX))
        .await
        .expect("redis store connects to the cluster")
}

mod one_node {
    use super::*;
    switchyard_actors::conformance_tests!(fresh_store(&ONE_NODE));
    switchyard::records_conformance_tests!(fresh_backends(&ONE_NODE));
}

mod three_nodes {
    use super::*;
    switchyard_actors::conformance_tests!(fresh_store(&THREE_NODES));
    switchyard::records_conformance_tests!(fresh_backends(&THREE_NODES));
}

/// The guard the suites rely on: the test cluster refuses a script over two hash tags.
#[test]
fn the_test_cluster_refuses_cross_slot_scripts() {
    let mut c = ONE_NODE.node(ONE_NODE.ports()[0]);
    let err = redis::cmd("EVAL")
        .arg("return redis.call('MGET', KEYS[1], KEYS[2])")
        .arg(2)
        .arg("{a}x")
        .arg("{b}y")
        .query::<redis::Value>(&mut c)
        .unwrap_err();
    assert_eq!(
        err.kind(),
        redis::ErrorKind::Server(redis::ServerErrorKind::CrossSlot),
        "{err}"
    );
}

fn settlement(key_id: &str, cost: u64) -> Settlement {
    Settlement {
        key_id: key_id.into(),
        window_start: None,
        tokens: 1,
        cost: Money::from_picos(cost),
        day: "2026-11-27".into(),
        week: "2026-11-23".into(),
    }
}

/// One settlement batch over 30 API keys, whose `{key:<id>}` slots lie on all three nodes,
/// lands whole (one pipeline per key on a cluster), once, also after every node forgot the
/// scripts (NOSCRIPT: loaded on every node, sent again).
#[actix_rt::test]
async fn a_settlement_batch_over_keys_on_every_node_lands_once() {
    // A cluster of its own: its SCRIPT FLUSH would fail the suites running on the shared one
    // (a NOSCRIPT retry racing the flush).
    let cluster = RedisCluster::launch(3);
    let prefix = fresh_prefix();
    let store = connect(&cluster, &prefix).await;
    let ids: Vec<String> = (0..30).map(|i| format!("k{i}")).collect();

    // Where the keys live: the node that has each limits hash after the batch.
    let owner = |key: &str| -> u16 {
        let owners: Vec<u16> = cluster
            .ports()
            .into_iter()
            .filter(|p| {
                redis::cmd("EXISTS")
                    .arg(key)
                    .query::<i64>(&mut cluster.node(*p))
                    .is_ok_and(|n| n == 1)
            })
            .collect();
        assert_eq!(owners.len(), 1, "{key} on {owners:?}");
        owners[0]
    };

    for round in 0..2 {
        if round == 1 {
            for p in cluster.ports() {
                let _: () = redis::cmd("SCRIPT")
                    .arg("FLUSH")
                    .query(&mut cluster.node(p))
                    .unwrap();
            }
        }
        let batch = SettleBatch::new(ids.iter().chain(&ids).map(|id| settlement(id, 1_000)).collect());
        store.settle_many(&batch).await.unwrap();
        store.settle_many(&batch).await.unwrap();
        for id in &ids {
            let c = store
                .counters(id, 0, 0, "2026-11-27", "2026-11-23")
                .await
                .unwrap();
            let want = Money::from_picos(2_000 * (round + 1));
            assert_eq!(
                (c.total_cost, c.daily_cost, c.weekly_cost),
                (want, want, want),
                "{id}"
            );
        }
    }
    let nodes: HashSet<u16> = ids
        .iter()
        .map(|id| owner(&format!("{prefix}{{key:{id}}}:limits")))
        .collect();
    assert_eq!(nodes.len(), 3, "the keys spread over every node");

    // Admission after the flush loads the script where the key lives.
    let admitted = store
        .admit(&Admission {
            key_id: "k7",
            now: 1,
            window: None,
            day: "2026-11-27",
            week: "2026-11-23",
            max_daily: Money::from_picos(1_000_000),
            max_total: Money::ZERO,
            max_weekly: Money::ZERO,
        })
        .await
        .unwrap();
    assert_eq!(admitted, Ok(None));
}

const ACCOUNTS: usize = 5;
const LIMIT: u32 = 2;

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

/// Two instances, each with its own store and connection to the three-node cluster: 200
/// selections at once, half on each, take exactly every slot of the pool.
#[actix_rt::test]
async fn two_instances_share_the_pool_through_the_cluster() {
    let prefix = fresh_prefix();
    let store_a: Arc<dyn Store> = Arc::new(connect(&THREE_NODES, &prefix).await);
    let store_b: Arc<dyn Store> = Arc::new(connect(&THREE_NODES, &prefix).await);
    for i in 0..ACCOUNTS {
        store_a.put_account(&account(i)).await.unwrap();
    }
    let mut settings = SchedulingSettings::default();
    settings.scheduler.refresh_ms = 100;
    let a = Scheduling::start(store_a, Arc::new(SystemClock), settings.clone(), None)
        .await
        .unwrap();
    let arbiter = actix_rt::Arbiter::new();
    let b = Scheduling::start(store_b, Arc::new(SystemClock), settings, Some(&arbiter.handle()))
        .await
        .unwrap();

    let attempts = (0..200).map(|i| {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        async move { s.select(SelectAccount::new(Platform::Claude)).await }
    });
    let mut held = Vec::new();
    for r in futures::future::join_all(attempts).await {
        match r {
            Ok(sel) => held.push(sel),
            Err(SelectError::NoAccount(NoAccount::AllFull)) => {}
            Err(other) => panic!("unexpected: {other:?}"),
        }
    }
    assert_eq!(held.len(), ACCOUNTS * LIMIT as usize, "exactly every slot");
    for view in [&a, &b] {
        let counts = view.slot_counts().await.unwrap();
        assert_eq!(counts.len(), ACCOUNTS, "{counts:?}");
        assert!(counts.values().all(|n| *n == LIMIT), "{counts:?}");
    }
    drop(held);
    arbiter.stop();
}
