//! Local schedulers (`Scheduling::local`): a worker thread gets its own scheduler actors on its
//! own arbiter, sharing the pool view, store and pool actor. Selections through a local handle
//! do not cross threads, limits hold across every handle at once, leases taken locally are
//! renewed and released by the shared pool, and a panic in a local scheduler restarts only that
//! actor.
mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::*;
use switchyard_actors::system::ActorName;
use switchyard_actors::{NoAccount, Platform, Scheduling, SelectAccount, SelectError, Selection};

fn stop(arbiters: impl IntoIterator<Item = actix_rt::Arbiter>) {
    for a in arbiters {
        a.stop();
        a.join().unwrap();
    }
}

async fn three_platforms() -> Harness {
    let h = start().await;
    let t = h.now();
    let mut a = claude("a", t - 2);
    a.max_concurrency = 2;
    h.add([a, claude("b", t - 1), gemini("g", t), openai("o", t)])
        .await;
    h
}

#[actix_rt::test]
async fn a_local_handle_on_another_arbiter_selects_through_the_shared_pool() {
    let h = three_platforms().await;
    let a = actix_rt::Arbiter::new();
    let scheduling = h.scheduling.clone();
    let (is_local, held) = on_arbiter(&a.handle(), move || async move {
        let local = scheduling.local();
        let mut held = Vec::new();
        for platform in Platform::ALL {
            held.push(local.select(SelectAccount::new(platform)).await.unwrap());
        }
        (local.is_local(), held)
    })
    .await;
    assert!(is_local);
    assert!(!h.scheduling.is_local());
    let picked: Vec<&str> = held.iter().map(|s| s.account.id.as_str()).collect();
    assert_eq!(picked, ["a", "g", "o"]);
    // The shared pool counts the local leases, and this process renews them.
    h.settle_counts(&[("a", 1), ("g", 1), ("o", 1)]).await;
    assert_eq!(h.scheduling.live_leases(), 3);
    // Last-used times are shared too: the main handle goes to `b`, the least recently used.
    assert_eq!(h.pick(claude_req()).await, "b");

    // Outcomes reported through a local handle reach the one pool.
    let scheduling = h.scheduling.clone();
    let on_a = on_arbiter(&a.handle(), move || async move {
        let local = scheduling.local();
        local
            .mark_outcome(switchyard_actors::pool::MarkOutcome {
                account: id("b"),
                outcome: status(503),
                model: None,
            })
            .await
            .unwrap();
        local.select(claude_req()).await.unwrap()
    });
    let second_on_a = on_a.await;
    assert_eq!(second_on_a.account.id.as_str(), "a", "`b` is cooling down");
    assert_eq!(
        h.refused(claude_req()).await,
        NoAccount::AllFull,
        "`a` is full (2 held through the local handle), `b` cools down"
    );

    // Leases taken on A, dropped here: released by the shared pool.
    drop(held);
    drop(second_on_a);
    h.settle_counts(&[]).await;
    assert_eq!(h.scheduling.live_leases(), 0);
    stop([a]);
}

#[actix_rt::test]
async fn a_local_select_does_not_wait_for_the_arbiter_of_the_pool() {
    let b = actix_rt::Arbiter::new();
    let mut settings = quiet_settings();
    // Long enough that a loaded machine does not time out the local select; the core's own
    // scheduler, stuck behind B, takes this long to give up.
    settings.actors.claude.send_timeout_ms = 2_000;
    let h = start_on(
        Arc::new(switchyard_actors::store::MemoryStore::new()),
        settings,
        Some(&b.handle()),
    )
    .await;
    h.add([claude("a", h.now())]).await;
    let a = actix_rt::Arbiter::new();
    let local = h.scheduling.local_on(&a.handle());
    assert_eq!(local.pick_on(&a, claude_req()).await, "a", "warm up");

    // Block B, where the pool and the core's own schedulers live.
    let (blocked_tx, blocked_rx) = std::sync::mpsc::channel::<()>();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    b.spawn_fn(move || {
        blocked_tx.send(()).unwrap();
        release_rx.recv().unwrap();
    });
    blocked_rx.recv().unwrap();

    let started = Instant::now();
    let held = local
        .select_on(&a, claude_req())
        .await
        .expect("selected while B is blocked");
    assert_eq!(held.account.id.as_str(), "a");
    assert!(
        started.elapsed() < Duration::from_millis(2_000),
        "answered, not timed out"
    );
    // The core's own scheduler is stuck behind B.
    let stuck = h.select(claude_req()).await;
    assert!(
        matches!(
            stuck,
            Err(SelectError::ActorTimeout {
                actor: "ClaudeScheduler",
                timeout_ms: 2_000
            })
        ),
        "{stuck:?}"
    );
    drop(held);
    release_tx.send(()).unwrap();
    h.settle_counts(&[]).await;
    assert_eq!(h.pick(claude_req()).await, "a");
    drop(local);
    stop([a, b]);
}

#[actix_rt::test]
async fn a_thousand_selections_over_three_handles_on_three_arbiters_hold_at_most_the_limits() {
    let h = start().await;
    let t = h.now();
    let accounts: Vec<_> = (0..10)
        .map(|i| {
            let mut a = claude(&format!("acct-{i}"), t + i);
            a.max_concurrency = 3;
            a
        })
        .collect();
    h.add(accounts).await;
    let (a, b) = (actix_rt::Arbiter::new(), actix_rt::Arbiter::new());
    let start = Arc::new(tokio::sync::Barrier::new(3));
    let burst = |scheduling: Scheduling, n: usize| async move {
        let results = futures::future::join_all((0..n).map(|_| scheduling.select(claude_req()))).await;
        let mut held = Vec::new();
        let mut full = 0;
        for r in results {
            match r {
                Ok(s) => held.push(s),
                Err(SelectError::NoAccount(NoAccount::AllFull)) => full += 1,
                Err(other) => panic!("unexpected answer: {other:?}"),
            }
        }
        (held, full)
    };
    let remote = |arbiter: &actix_rt::Arbiter, n: usize| {
        let (scheduling, start) = (h.scheduling.clone(), start.clone());
        on_arbiter(&arbiter.handle(), move || async move {
            let local = scheduling.local();
            start.wait().await;
            burst(local, n).await
        })
    };
    let main = async {
        start.wait().await;
        burst(h.scheduling.clone(), 334).await
    };
    let (on_a, on_b, here) = futures::join!(remote(&a, 333), remote(&b, 333), main);
    let held: Vec<Selection> = [on_a.0, on_b.0, here.0].into_iter().flatten().collect();
    let full = on_a.1 + on_b.1 + here.1;
    assert_eq!(held.len(), 30, "exactly the 10 x 3 slots are granted");
    assert_eq!(full, 970, "every other selection is told all are full");
    let mut per_account: HashMap<String, u32> = HashMap::new();
    for s in &held {
        *per_account.entry(s.account.id.as_str().to_owned()).or_default() += 1;
    }
    assert_eq!(per_account.len(), 10);
    assert!(per_account.values().all(|n| *n == 3), "{per_account:?}");
    let counts = h.counts().await;
    assert_eq!(counts.len(), 10);
    assert!(counts.values().all(|n| *n == 3), "{counts:?}");
    assert_eq!(h.scheduling.live_leases(), 30);
    drop(held);
    h.settle_counts(&[]).await;
    assert_eq!(h.scheduling.live_leases(), 0);
    stop([a, b]);
}

#[actix_rt::test]
async fn limits_hold_while_requests_come_and_go_on_three_threads() {
    let h = start().await;
    let t = h.now();
    let accounts: Vec<_> = (0..4)
        .map(|i| {
            let mut a = claude(&format!("acct-{i}"), t + i);
            a.max_concurrency = 2;
            a
        })
        .collect();
    h.add(accounts).await;
    let (a, b) = (actix_rt::Arbiter::new(), actix_rt::Arbiter::new());
    // 32 workers per handle, 20 selections each, holding for a few scheduler turns.
    let workers = |scheduling: Scheduling| async move {
        let granted = futures::future::join_all((0..32u32).map(|w| {
            let scheduling = scheduling.clone();
            async move {
                let mut granted = 0u32;
                for i in 0..20 {
                    match scheduling.select(claude_req()).await {
                        Ok(s) => {
                            granted += 1;
                            for _ in 0..((w + i) % 4) {
                                actix_rt::task::yield_now().await;
                            }
                            drop(s);
                        }
                        Err(SelectError::NoAccount(NoAccount::AllFull)) => actix_rt::task::yield_now().await,
                        Err(other) => panic!("unexpected answer: {other:?}"),
                    }
                }
                granted
            }
        }))
        .await;
        granted.into_iter().sum::<u32>()
    };
    let remote = |arbiter: &actix_rt::Arbiter| {
        let scheduling = h.scheduling.clone();
        on_arbiter(&arbiter.handle(), move || async move {
            workers(scheduling.local()).await
        })
    };
    let watcher = async {
        let mut samples = 0;
        for _ in 0..200 {
            let counts = h.counts().await;
            assert!(counts.values().all(|n| *n <= 2), "over the limit: {counts:?}");
            samples += 1;
            actix_rt::task::yield_now().await;
        }
        samples
    };
    let (on_a, on_b, here, samples) =
        futures::join!(remote(&a), remote(&b), workers(h.scheduling.clone()), watcher);
    assert_eq!(samples, 200);
    // Which thread wins how many is a race; that some selections were granted is not.
    assert!(on_a + on_b + here > 0);
    h.settle_counts(&[]).await;
    stop([a, b]);
}

#[actix_rt::test]
async fn a_panic_in_a_local_scheduler_restarts_only_that_actor() {
    let h = three_platforms().await;
    let (a, b) = (actix_rt::Arbiter::new(), actix_rt::Arbiter::new());
    let (on_a, on_b) = (
        h.scheduling.local_on(&a.handle()),
        h.scheduling.local_on(&b.handle()),
    );
    // Held through A's scheduler across its restart.
    let before = on_a.select_on(&a, claude_req()).await.unwrap();
    assert_eq!(before.account.id.as_str(), "a");

    match on_a.inject_panic(ActorName::ClaudeScheduler).await {
        Err(SelectError::ActorFailed(f)) => assert_eq!(f.actor, "ClaudeScheduler"),
        other => panic!("expected ActorFailed, got {other:?}"),
    }
    eventually("A's Claude scheduler restarted", async || {
        on_a.own_restarts(ActorName::ClaudeScheduler) == 1
    })
    .await;
    on_a.ping(ActorName::ClaudeScheduler).await.unwrap();
    for handle in [&h.scheduling, &on_a, &on_b] {
        assert_eq!(
            handle.restarts(ActorName::ClaudeScheduler),
            1,
            "the total, the same from every handle"
        );
        for other in ActorName::ALL {
            if other != ActorName::ClaudeScheduler {
                assert_eq!(handle.restarts(other), 0, "{}", other.as_str());
            }
        }
    }
    assert_eq!(h.scheduling.own_restarts(ActorName::ClaudeScheduler), 0);
    assert_eq!(on_b.own_restarts(ActorName::ClaudeScheduler), 0);

    // Everything still serves, A's scheduler included, and the held lease is intact.
    h.settle_counts(&[("a", 1)]).await;
    for (handle, arbiter) in [(&on_a, Some(&a)), (&on_b, Some(&b)), (&h.scheduling, None)] {
        for platform in Platform::ALL {
            let req = SelectAccount::new(platform);
            let s = match arbiter {
                Some(arbiter) => handle.select_on(arbiter, req).await,
                None => handle.select(req).await,
            };
            drop(s.expect("selected"));
        }
        h.clock.advance_ms(10);
    }
    h.settle_counts(&[("a", 1)]).await;
    drop(before);
    h.settle_counts(&[]).await;

    // The other way round: a panic in the core's own scheduler leaves the local ones alone.
    assert!(
        h.scheduling
            .inject_panic(ActorName::ClaudeScheduler)
            .await
            .is_err()
    );
    eventually("the core's Claude scheduler restarted", async || {
        h.scheduling.own_restarts(ActorName::ClaudeScheduler) == 1
    })
    .await;
    assert_eq!(h.scheduling.restarts(ActorName::ClaudeScheduler), 2);
    assert_eq!(on_a.own_restarts(ActorName::ClaudeScheduler), 1);
    assert_eq!(on_b.own_restarts(ActorName::ClaudeScheduler), 0);
    on_b.select_on(&b, claude_req()).await.expect("B still serves");
    on_a.select_on(&a, claude_req()).await.expect("A still serves");
    drop((on_a, on_b));
    stop([a, b]);
}

#[actix_rt::test]
async fn a_lease_taken_through_a_local_scheduler_is_renewed_by_the_shared_pool() {
    let h = start_with(short_lease_settings(2)).await;
    let t0 = h.now();
    let mut a = claude("a", t0);
    a.max_concurrency = 1;
    h.add([a]).await;
    let arbiter = actix_rt::Arbiter::new();
    let local = h.scheduling.local_on(&arbiter.handle());
    let held = local.select_on(&arbiter, claude_req()).await.unwrap();
    h.clock.advance_ms(1_500);
    eventually("the local lease is renewed", async || {
        h.store.slot_count(&id("a"), t0 + 3_000).await.unwrap() == 1
    })
    .await;
    h.clock.advance_ms(1_500);
    assert_eq!(
        h.scheduling.slot_count("a").await.unwrap(),
        1,
        "alive past its TTL"
    );
    assert_eq!(h.refused(claude_req()).await, NoAccount::AllFull);
    drop(held);
    h.settle_counts(&[]).await;
    assert_eq!(h.pick(claude_req()).await, "a");
    drop(local);
    stop([arbiter]);
}

#[actix_rt::test]
async fn local_outside_an_arbiter_falls_back_to_the_shared_schedulers() {
    let h = three_platforms().await;
    let scheduling = h.scheduling.clone();
    let handle = std::thread::spawn(move || scheduling.local()).join().unwrap();
    assert!(!handle.is_local());
    assert_eq!(
        handle.select(claude_req()).await.unwrap().account.id.as_str(),
        "a"
    );
    h.settle_counts(&[]).await;
}

/// Selecting through a local handle from the thread of its arbiter, as a worker does.
trait OnArbiter {
    async fn select_on(
        &self,
        arbiter: &actix_rt::Arbiter,
        req: SelectAccount,
    ) -> Result<Selection, SelectError>;

    async fn pick_on(&self, arbiter: &actix_rt::Arbiter, req: SelectAccount) -> String {
        let s = self.select_on(arbiter, req).await.expect("selected");
        s.account.id.as_str().to_owned()
    }
}

impl OnArbiter for Scheduling {
    async fn select_on(
        &self,
        arbiter: &actix_rt::Arbiter,
        req: SelectAccount,
    ) -> Result<Selection, SelectError> {
        let local = self.clone();
        on_arbiter(&arbiter.handle(), move || async move { local.select(req).await }).await
    }
}
