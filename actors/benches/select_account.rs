//! `SelectAccount` through the real actors (a `Scheduling` over a `MemoryStore`, inside an actix
//! `System` this harness drives itself): round-trip latency of select + drop-lease with 1, 100
//! and 10,000 accounts, with and without a sticky hit; throughput at 100 accounts with many
//! selections in flight, with the actors on the callers' thread, on an arbiter of their own, or
//! with local schedulers on the callers' arbiter and the pool on another (`Scheduling::local`);
//! and baselines measured the same way (an empty `Addr::send`, a
//! `ResponseFuture` handler, the store's slot acquisition alone) so figures read as ratios.
//!
//! Run with `cargo bench -p switchyard-actors`.
use actix::prelude::*;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::cell::OnceCell;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchyard_actors::clock::SystemClock;
use switchyard_actors::pool::{HealthChange, MarkOutcome, Outcome};
use switchyard_actors::session::SessionId;
use switchyard_actors::settings::SchedulingSettings;
use switchyard_actors::store::{
    AccountStore, MemoryStore, SlotCandidate, SlotRequest, SlotStore, StickyPolicy, StickyRequest,
};
use switchyard_actors::{
    Account, AccountId, AccountKind, Clock, LeaseId, Platform, Scheduling, SelectAccount,
};

const SIZES: [usize; 3] = [1, 100, 10_000];

/// What a measurement counts: wall time (default), or with `SWITCHYARD_BENCH_CLOCK=thread-cpu`
/// time spent on a CPU. In the single-thread layouts the driving thread runs the callers and
/// every actor, so its CPU time is the work done, without the time other processes held the core
/// of a shared, busy machine. The two-thread layouts then count the CPU time of every thread of
/// the process, summed (the work of both threads, wake-ups and context switches included).
#[derive(Clone, Copy)]
enum Stopwatch {
    Wall(Instant),
    ThreadCpu(Duration),
    ProcessCpu(Duration),
}

impl Stopwatch {
    /// For a measurement where the driving thread does all the work.
    fn start() -> Self {
        match std::env::var("SWITCHYARD_BENCH_CLOCK").as_deref() {
            Ok("thread-cpu") => Stopwatch::ThreadCpu(thread_cpu_time()),
            _ => Stopwatch::Wall(Instant::now()),
        }
    }

    /// For a measurement with threads besides the driving one at work.
    fn start_all_threads() -> Self {
        match std::env::var("SWITCHYARD_BENCH_CLOCK").as_deref() {
            Ok("thread-cpu") => Stopwatch::ProcessCpu(process_cpu_time()),
            _ => Stopwatch::Wall(Instant::now()),
        }
    }

    fn elapsed(self) -> Duration {
        match self {
            Stopwatch::Wall(at) => at.elapsed(),
            Stopwatch::ThreadCpu(at) => thread_cpu_time().saturating_sub(at),
            Stopwatch::ProcessCpu(at) => process_cpu_time().saturating_sub(at),
        }
    }
}

/// On-CPU time of every thread of this process, summed (`/proc/self/task/*/schedstat`).
fn process_cpu_time() -> Duration {
    let tasks = std::fs::read_dir("/proc/self/task").expect("/proc/self/task (Linux)");
    let nanos: u64 = tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(nanos)
}

/// On-CPU time of the calling thread (Linux: the first field of `/proc/thread-self/schedstat`).
fn thread_cpu_time() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map(Duration::from_nanos)
        .expect("SWITCHYARD_BENCH_CLOCK=thread-cpu needs /proc/thread-self/schedstat (Linux)")
}
/// Selections in flight at once in the throughput measurements.
const IN_FLIGHT: usize = 128;

/// Where the actors run, relative to the callers (who run on the driving thread, arbiter A).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// Every actor on A, with the callers.
    OneThread,
    /// Every actor on arbiter B: each selection crosses threads.
    ActorsOnOwnArbiter,
    /// Pool and sticky actors on B, the callers' schedulers on A (`Scheduling::local`): a
    /// selection stays on A; only the lease release crosses to B.
    LocalSchedulers,
}

struct Bench {
    system: actix_rt::SystemRunner,
    /// Where the actors run when they are not on the system thread.
    arbiter: Option<actix_rt::Arbiter>,
    scheduling: Scheduling,
}

impl Bench {
    /// `accounts` shared, unlimited Claude accounts, actors laid out as `layout` says.
    fn new(accounts: usize, layout: Layout) -> Self {
        let system = actix_rt::System::new();
        let arbiter = (layout != Layout::OneThread).then(actix_rt::Arbiter::new);
        let store = Arc::new(MemoryStore::new());
        let now = SystemClock.now_ms();
        let scheduling = system.block_on(async {
            for i in 0..accounts {
                let a = Account::new(format!("acct-{i:05}"), AccountKind::ClaudeConsole, now - i as i64);
                store.put_account(&a).await.expect("put account");
            }
            let handle = arbiter.as_ref().map(|a| a.handle());
            let s = Scheduling::start(
                store.clone(),
                Arc::new(SystemClock),
                SchedulingSettings::default(),
                handle.as_ref(),
            )
            .await
            .expect("start");
            assert_eq!(s.snapshot().len(), accounts);
            match layout {
                // Started here, on the driving thread's arbiter.
                Layout::LocalSchedulers => s.local(),
                _ => s,
            }
        });
        Bench {
            system,
            arbiter,
            scheduling,
        }
    }

    /// Sequential select + drop, `iters` times.
    fn round_trips(&self, req: &SelectAccount, iters: u64) -> Duration {
        self.system.block_on(async {
            let start = Stopwatch::start();
            for _ in 0..iters {
                let selection = self.scheduling.select(req.clone()).await.expect("selected");
                drop(selection);
            }
            start.elapsed()
        })
    }

    /// `iters` select + drop round trips spread over `IN_FLIGHT` concurrent callers.
    fn concurrent(&self, req: &SelectAccount, iters: u64) -> Duration {
        self.system.block_on(async {
            let per = iters.div_ceil(IN_FLIGHT as u64);
            let start = match self.arbiter {
                Some(_) => Stopwatch::start_all_threads(),
                None => Stopwatch::start(),
            };
            futures::future::join_all((0..IN_FLIGHT).map(|_| async {
                for _ in 0..per {
                    let selection = self.scheduling.select(req.clone()).await.expect("selected");
                    drop(selection);
                }
            }))
            .await;
            // Report per requested iteration; `per * IN_FLIGHT` may exceed `iters` slightly.
            start
                .elapsed()
                .mul_f64(iters as f64 / (per * IN_FLIGHT as u64) as f64)
        })
    }

    /// Waits until every release has gone through, so one measurement does not pay for the
    /// previous one's backlog.
    fn settle(&self) {
        self.system.block_on(async {
            while self.scheduling.live_leases() > 0
                || self
                    .scheduling
                    .slot_counts()
                    .await
                    .map(|c| c.values().sum::<u32>())
                    .unwrap_or(0)
                    > 0
            {
                actix_rt::time::sleep(Duration::from_millis(1)).await;
            }
        });
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        if let Some(a) = self.arbiter.take() {
            a.stop();
            let _ = a.join();
        }
    }
}

fn plain() -> SelectAccount {
    SelectAccount::new(Platform::Claude).model("claude-sonnet-5")
}

fn sticky() -> SelectAccount {
    plain().session(SessionId::new("0f3c2a9e-5b7d-4c1e-9a8f-1d2e3c4b5a69"))
}

fn select_round_trip(c: &mut Criterion) {
    let mut g = c.benchmark_group("select_round_trip");
    g.throughput(Throughput::Elements(1));
    for n in SIZES {
        // Built on first use, so a filtered run (`cargo bench -- sticky_hit/100`) skips the rest.
        let bench = OnceCell::new();
        let bench = || bench.get_or_init(|| Bench::new(n, Layout::OneThread));
        if n >= 10_000 {
            g.sample_size(10).measurement_time(Duration::from_secs(4));
        } else {
            g.sample_size(30).measurement_time(Duration::from_secs(3));
        }
        for (kind, req) in [("no_session", plain()), ("sticky_hit", sticky())] {
            g.bench_function(BenchmarkId::new(kind, n), |b| {
                let bench = bench();
                b.iter_custom(|iters| bench.round_trips(&req, iters));
                bench.settle();
            });
        }
    }
    g.finish();
}

fn select_throughput(c: &mut Criterion) {
    let mut g = c.benchmark_group("select_throughput_100_accounts");
    g.throughput(Throughput::Elements(1));
    g.sample_size(20).measurement_time(Duration::from_secs(4));
    for (label, layout) in [
        ("one_thread", Layout::OneThread),
        ("actors_on_own_arbiter", Layout::ActorsOnOwnArbiter),
        ("local_schedulers_pool_on_own_arbiter", Layout::LocalSchedulers),
    ] {
        let bench = OnceCell::new();
        let bench = || bench.get_or_init(|| Bench::new(100, layout));
        for (kind, req) in [("no_session", plain()), ("sticky_hit", sticky())] {
            g.bench_function(BenchmarkId::new(format!("{label}/{kind}"), IN_FLIGHT), |b| {
                let bench = bench();
                b.iter_custom(|iters| bench.concurrent(&req, iters));
                bench.settle();
            });
        }
    }
    g.finish();
}

/// Sequential select + drop at 100 accounts when the pool is on another thread: all actors
/// there, or local schedulers on the callers' thread. Two threads at work: wall time, or the
/// CPU time of both with `SWITCHYARD_BENCH_CLOCK=thread-cpu`.
fn select_round_trip_cross_thread(c: &mut Criterion) {
    let mut g = c.benchmark_group("select_round_trip_cross_thread_100_accounts");
    g.throughput(Throughput::Elements(1));
    g.sample_size(30).measurement_time(Duration::from_secs(3));
    for (label, layout) in [
        ("actors_on_own_arbiter", Layout::ActorsOnOwnArbiter),
        ("local_schedulers_pool_on_own_arbiter", Layout::LocalSchedulers),
    ] {
        let bench = OnceCell::new();
        let bench = || bench.get_or_init(|| Bench::new(100, layout));
        for (kind, req) in [("no_session", plain()), ("sticky_hit", sticky())] {
            g.bench_function(BenchmarkId::new(label, kind), |b| {
                let bench = bench();
                b.iter_custom(|iters| {
                    bench.system.block_on(async {
                        let start = Stopwatch::start_all_threads();
                        for _ in 0..iters {
                            let selection = bench.scheduling.select(req.clone()).await.expect("selected");
                            drop(selection);
                        }
                        start.elapsed()
                    })
                });
                bench.settle();
            });
        }
    }
    g.finish();
}

/// A health change republishes the pool snapshot (the pool actor is busy meanwhile).
fn mark_outcome_republish(c: &mut Criterion) {
    let mut g = c.benchmark_group("mark_outcome_republish");
    g.throughput(Throughput::Elements(1));
    for n in [100, 10_000] {
        let bench = OnceCell::new();
        let bench = || bench.get_or_init(|| Bench::new(n, Layout::OneThread));
        g.sample_size(10).measurement_time(Duration::from_secs(3));
        g.bench_function(BenchmarkId::from_parameter(n), |b| {
            let bench = bench();
            let msg = MarkOutcome {
                account: AccountId::new("acct-00000"),
                outcome: Outcome::Status {
                    status: 503,
                    retry_after_ms: None,
                    reset_at: None,
                },
                model: None,
            };
            b.iter_custom(|iters| {
                bench.system.block_on(async {
                    let start = Stopwatch::start();
                    for _ in 0..iters {
                        let change = bench.scheduling.mark_outcome(msg.clone()).await.expect("marked");
                        assert_ne!(change, HealthChange::Unchanged);
                    }
                    start.elapsed()
                })
            })
        });
    }
    g.finish();
}

/// The simplest actix round trip: an empty message, answered synchronously.
struct Echo;

impl Actor for Echo {
    type Context = Context<Self>;
}

#[derive(Message)]
#[rtype(result = "u64")]
struct Bare(u64);

impl Handler<Bare> for Echo {
    type Result = u64;
    fn handle(&mut self, msg: Bare, _: &mut Context<Self>) -> u64 {
        msg.0
    }
}

/// Answered through a `ResponseFuture`, as `SelectAccount` is (one extra spawned task).
#[derive(Message)]
#[rtype(result = "u64")]
struct Deferred(u64);

impl Handler<Deferred> for Echo {
    type Result = ResponseFuture<u64>;
    fn handle(&mut self, msg: Deferred, _: &mut Context<Self>) -> Self::Result {
        Box::pin(async move { msg.0 })
    }
}

fn baseline(c: &mut Criterion) {
    let mut g = c.benchmark_group("baseline");
    g.throughput(Throughput::Elements(1));
    g.sample_size(30).measurement_time(Duration::from_secs(3));
    let system = actix_rt::System::new();
    let echo = system.block_on(async { Echo.start() });
    g.bench_function("addr_send_empty", |b| {
        b.iter_custom(|iters| {
            system.block_on(async {
                let start = Stopwatch::start();
                for i in 0..iters {
                    std::hint::black_box(echo.send(Bare(i)).await.expect("answer"));
                }
                start.elapsed()
            })
        })
    });
    g.bench_function("addr_send_response_future", |b| {
        b.iter_custom(|iters| {
            system.block_on(async {
                let start = Stopwatch::start();
                for i in 0..iters {
                    std::hint::black_box(echo.send(Deferred(i)).await.expect("answer"));
                }
                start.elapsed()
            })
        })
    });
    g.bench_function(BenchmarkId::new("addr_send_empty_concurrent", IN_FLIGHT), |b| {
        b.iter_custom(|iters| {
            system.block_on(async {
                let per = iters.div_ceil(IN_FLIGHT as u64);
                let start = Stopwatch::start();
                futures::future::join_all((0..IN_FLIGHT).map(|_| async {
                    for i in 0..per {
                        std::hint::black_box(echo.send(Bare(i)).await.expect("answer"));
                    }
                }))
                .await;
                start
                    .elapsed()
                    .mul_f64(iters as f64 / (per * IN_FLIGHT as u64) as f64)
            })
        })
    });
    // The same with the actor on an arbiter thread of its own (what the scheduling actors see
    // from HTTP workers on other threads).
    let arbiter = actix_rt::Arbiter::new();
    let remote = system.block_on(async { Echo::start_in_arbiter(&arbiter.handle(), |_| Echo) });
    g.bench_function(
        BenchmarkId::new("addr_send_empty_concurrent_cross_thread", IN_FLIGHT),
        |b| {
            b.iter_custom(|iters| {
                system.block_on(async {
                    let per = iters.div_ceil(IN_FLIGHT as u64);
                    let start = Stopwatch::start_all_threads();
                    futures::future::join_all((0..IN_FLIGHT).map(|_| async {
                        for i in 0..per {
                            std::hint::black_box(remote.send(Bare(i)).await.expect("answer"));
                        }
                    }))
                    .await;
                    start
                        .elapsed()
                        .mul_f64(iters as f64 / (per * IN_FLIGHT as u64) as f64)
                })
            })
        },
    );
    arbiter.stop();
    let _ = arbiter.join();
    // The store's part of a selection: one atomic acquisition over 100 candidates (the first
    // has room), then the release.
    let store = MemoryStore::new();
    let candidates: Vec<SlotCandidate> = (0..100)
        .map(|i| SlotCandidate {
            account: AccountId::new(format!("acct-{i:05}")),
            limit: 0,
        })
        .collect();
    for (label, sticky) in [
        ("store_acquire_release_100", None),
        ("store_acquire_release_100_sticky", Some("claude:s")),
    ] {
        g.bench_function(label, |b| {
            b.iter_custom(|iters| {
                system.block_on(async {
                    let start = Stopwatch::start();
                    for i in 0..iters {
                        let lease = LeaseId::from_string(format!("bench-{i:x}"));
                        let req = SlotRequest {
                            candidates: &candidates,
                            sticky: sticky.map(|key| StickyRequest {
                                key,
                                policy: StickyPolicy {
                                    ttl_ms: 3_600_000,
                                    max_bindings: 100_000,
                                },
                            }),
                            lease: &lease,
                            lease_ttl_ms: 90_000,
                            now: SystemClock.now_ms(),
                        };
                        let grant = store.acquire_slot(&req).await.expect("acquire").expect("room");
                        store
                            .release_lease(&grant.account, &lease)
                            .await
                            .expect("release");
                    }
                    start.elapsed()
                })
            })
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    baseline,
    select_round_trip,
    select_throughput,
    select_round_trip_cross_thread,
    mark_outcome_republish
);
criterion_main!(benches);
