//! Timed benchmark of the Redis store's hot path, against a private `redis-server` on
//! 127.0.0.1, with a plain `PING` round trip measured in the same run as the baseline:
//!
//! - `acquire_slot` + `release_lease` straight through `RedisStore` (one EVALSHA + one ZREM),
//! - `Scheduling::select` + dropping the lease with the Redis backend over 100 accounts,
//!   without and with a session (a pool larger than one 64-candidate chunk adds a binding
//!   lookup for session requests), and the same over the in-memory store for reference.
//!
//! Sequential latency (one caller) and throughput with 32 callers in flight.
//!
//!     cargo run --release --example redis_store_bench [-- iterations]
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/redis_server.rs"]
mod redis_server;

use std::future::Future;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchyard::store::{EncryptionKey, RedisOptions, RedisStore};
use switchyard_actors::domain::{Account, AccountId, AccountKind, Credentials, Secret};
use switchyard_actors::lease::LeaseId;
use switchyard_actors::session::SessionId;
use switchyard_actors::settings::SchedulingSettings;
use switchyard_actors::store::{
    MemoryStore, SlotCandidate, SlotRequest, SlotStore, StickyPolicy, StickyRequest,
};
use switchyard_actors::{Clock, Platform, Scheduling, SelectAccount, Store, SystemClock};

const KEY_HEX: &str = "3f9a1c7e5b2d8046a1e3c5b7d9f20486ac4e6b8d0f1a3c5e7092b4d6f8a1c3e5";
const ACCOUNTS: usize = 100;
const IN_FLIGHT: usize = 32;

struct Figure {
    name: &'static str,
    per_op: Duration,
    per_sec: f64,
    /// Time Redis spent executing commands (scripts included) per operation.
    server_per_op: Duration,
}

/// Redis' own command time since the last reset (`INFO commandstats`), then resets it.
async fn server_time(raw: &mut redis::aio::MultiplexedConnection) -> Duration {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(raw)
        .await
        .unwrap();
    let usec: u64 = info
        .lines()
        .filter(|l| {
            l.starts_with("cmdstat_") && !l.starts_with("cmdstat_info") && !l.starts_with("cmdstat_config")
        })
        .filter_map(|l| l.split("usec=").nth(1)?.split(',').next()?.parse::<u64>().ok())
        .sum();
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async(raw)
        .await
        .unwrap();
    Duration::from_micros(usec)
}

/// Runs `op` `n` times one after another, then `n` times with [`IN_FLIGHT`] callers.
async fn measure<F, Fut>(name: &'static str, n: usize, op: F) -> Figure
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = ()>,
{
    for i in 0..n / 10 {
        op(i).await;
    }
    let started = Instant::now();
    for i in 0..n {
        op(i).await;
    }
    let per_op = started.elapsed() / n as u32;
    let started = Instant::now();
    let op = &op;
    let callers = (0..IN_FLIGHT).map(|c| async move {
        for i in (c..n).step_by(IN_FLIGHT) {
            op(n + i).await;
        }
    });
    futures::future::join_all(callers).await;
    let per_sec = n as f64 / started.elapsed().as_secs_f64();
    Figure {
        name,
        per_op,
        per_sec,
        server_per_op: Duration::ZERO,
    }
}

/// [`measure`], plus Redis' command time per operation over all of its runs.
async fn measure_redis<F, Fut>(
    raw: &mut redis::aio::MultiplexedConnection,
    name: &'static str,
    n: usize,
    op: F,
) -> Figure
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = ()>,
{
    server_time(raw).await;
    let mut f = measure(name, n, op).await;
    // Warm-up, sequential and concurrent runs: n / 10 + 2 n operations.
    f.server_per_op = server_time(raw).await / (n / 10 + 2 * n) as u32;
    f
}

fn account(i: usize) -> Account {
    let mut a = Account::new(format!("bench-{i:03}"), AccountKind::ClaudeConsole, i as i64);
    a.max_concurrency = 0;
    a.credentials = Credentials::ApiKey {
        key: Secret::new("sk-bench"),
    };
    a
}

async fn scheduling_over(store: Arc<dyn Store>) -> Scheduling {
    for i in 0..ACCOUNTS {
        store.put_account(&account(i)).await.unwrap();
    }
    Scheduling::start(store, Arc::new(SystemClock), SchedulingSettings::default(), None)
        .await
        .unwrap()
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let server = redis_server::RedisServer::launch();
    let figures = actix_rt::System::new().block_on(async move {
        let key = EncryptionKey::parse_hex(KEY_HEX, "bench").unwrap();
        let store = Arc::new(
            RedisStore::connect(&RedisOptions::new(server.url(), "bench:"), &key)
                .await
                .unwrap(),
        );
        let raw = redis::Client::open(server.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let mut stats = raw.clone();
        let mut figures = Vec::new();

        figures.push(
            measure_redis(&mut stats, "PING round trip (baseline)", n, |_| {
                let mut c = raw.clone();
                async move {
                    let _: String = redis::cmd("PING").query_async(&mut c).await.unwrap();
                }
            })
            .await,
        );

        let one = [SlotCandidate {
            account: AccountId::new("bench-one"),
            limit: 1_000,
        }];
        let one = &one;
        let direct: &RedisStore = &store;
        figures.push(
            measure_redis(
                &mut stats,
                "store: acquire_slot + release_lease (1 candidate, no session)",
                n,
                |i| async move {
                    let lease = LeaseId::from_string(format!("bench-one-{i}"));
                    let req = SlotRequest {
                        candidates: one,
                        sticky: None,
                        lease: &lease,
                        lease_ttl_ms: 90_000,
                        now: SystemClock.now_ms(),
                    };
                    let grant = direct.acquire_slot(&req).await.unwrap().unwrap();
                    direct.release_lease(&grant.account, &lease).await.unwrap();
                },
            )
            .await,
        );

        let candidates: Vec<SlotCandidate> = (0..64)
            .map(|i| SlotCandidate {
                account: AccountId::new(format!("bench-{i:03}")),
                limit: 1_000,
            })
            .collect();
        let candidates = &candidates;
        figures.push(
            measure_redis(
                &mut stats,
                "store: acquire_slot + release_lease (64 candidates, session)",
                n,
                |i| async move {
                    let lease = LeaseId::from_string(format!("bench-lease-{i}"));
                    let session = format!("claude:bench-{}", i % 1_000);
                    let req = SlotRequest {
                        candidates,
                        sticky: Some(StickyRequest {
                            key: &session,
                            policy: StickyPolicy {
                                ttl_ms: 3_600_000,
                                max_bindings: 100_000,
                            },
                        }),
                        lease: &lease,
                        lease_ttl_ms: 90_000,
                        now: SystemClock.now_ms(),
                    };
                    let grant = direct.acquire_slot(&req).await.unwrap().unwrap();
                    direct.release_lease(&grant.account, &lease).await.unwrap();
                },
            )
            .await,
        );

        let redis_sched = scheduling_over(store.clone()).await;
        let s = &redis_sched;
        figures.push(
            measure_redis(
                &mut stats,
                "Scheduling::select + drop, Redis, 100 accounts",
                n,
                |_| async move {
                    drop(s.select(SelectAccount::new(Platform::Claude)).await.unwrap());
                },
            )
            .await,
        );
        figures.push(
            measure_redis(
                &mut stats,
                "Scheduling::select + drop, Redis, 100 accounts, session",
                n,
                |i| async move {
                    let req = SelectAccount::new(Platform::Claude)
                        .session(SessionId::new(format!("s{}", i % 1_000)));
                    drop(s.select(req).await.unwrap());
                },
            )
            .await,
        );

        let memory_sched = scheduling_over(Arc::new(MemoryStore::new())).await;
        let m = &memory_sched;
        figures.push(
            measure(
                "Scheduling::select + drop, memory, 100 accounts (reference)",
                n,
                |_| async move {
                    drop(m.select(SelectAccount::new(Platform::Claude)).await.unwrap());
                },
            )
            .await,
        );
        figures
    });

    let ping = figures[0].per_op.as_secs_f64();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{n} iterations; throughput with {IN_FLIGHT} callers in flight"
    )
    .unwrap();
    writeln!(
        out,
        "| operation | latency (1 caller) | × PING | ops/s ({IN_FLIGHT} in flight) | Redis CPU / op |"
    )
    .unwrap();
    writeln!(out, "|---|---|---|---|---|").unwrap();
    for f in &figures {
        writeln!(
            out,
            "| {} | {:.1} µs | {:.2} | {:.0} | {:.1} µs |",
            f.name,
            f.per_op.as_secs_f64() * 1e6,
            f.per_op.as_secs_f64() / ping,
            f.per_sec,
            f.server_per_op.as_secs_f64() * 1e6,
        )
        .unwrap();
    }
}
