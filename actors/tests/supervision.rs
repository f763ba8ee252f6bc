//! Supervision and time bounds: a panicking actor answers with a typed error, is restarted by
//! its supervisor and rebuilds its state from the store; held slots survive a pool restart; no
//! caller waits longer than the actor's send timeout.
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};
use support::*;
use switchyard_actors::pool::HealthChange;
use switchyard_actors::scheduler::StickyOutcome;
use switchyard_actors::sticky::{Lookup, StickyError};
use switchyard_actors::system::ActorName;
use switchyard_actors::{
    Cooldown, CooldownReason, Health, NoAccount, Platform, SelectAccount, SelectError, Store,
};

async fn three_platforms() -> Harness {
    let h = start().await;
    let t = h.now();
    let mut a = claude("a", t - 2);
    a.max_concurrency = 3;
    h.add([a, claude("b", t - 1), gemini("g", t), openai("o", t)])
        .await;
    h
}

async fn wait_for_restart(h: &Harness, actor: ActorName, n: u64) {
    eventually(&format!("{} restarted {n} time(s)", actor.as_str()), async || {
        h.scheduling.restarts(actor) == n
    })
    .await;
    h.scheduling.ping(actor).await.expect("answers after the restart");
}

#[actix_rt::test]
async fn every_actor_answers_a_panic_with_a_typed_error_and_is_restarted() {
    let h = three_platforms().await;
    // A session bound before any panic, to check bindings survive restarts.
    let bound = h.select(claude_req().session(session("s1"))).await.unwrap();
    assert_eq!(bound.account.id.as_str(), "a");
    drop(bound);
    for (i, actor) in ActorName::ALL.into_iter().enumerate() {
        match h.scheduling.inject_panic(actor).await {
            Err(SelectError::ActorFailed(fault)) => assert_eq!(fault.actor, actor.as_str()),
            other => panic!("{}: expected ActorFailed, got {other:?}", actor.as_str()),
        }
        wait_for_restart(&h, actor, 1).await;
        for (j, other) in ActorName::ALL.into_iter().enumerate() {
            let expected = u64::from(j <= i);
            assert_eq!(
                h.scheduling.restarts(other),
                expected,
                "{} after the panic of {}",
                other.as_str(),
                actor.as_str()
            );
        }
        // The whole system still serves.
        h.clock.advance_ms(10);
        let s = h.select(claude_req().session(session("s1"))).await.unwrap();
        assert_eq!(
            (s.account.id.as_str(), s.sticky),
            ("a", StickyOutcome::Hit),
            "after {}",
            actor.as_str()
        );
        drop(s);
        for (platform, expected) in [(Platform::Gemini, "g"), (Platform::OpenAi, "o")] {
            assert_eq!(h.pick(SelectAccount::new(platform)).await, expected);
        }
        let looked_up = h
            .scheduling
            .sticky_lookup(Lookup {
                platform: Platform::Claude,
                api_key: None,
                session: session("s1"),
            })
            .await
            .unwrap();
        assert_eq!(looked_up, Some(id("a")));
        h.settle_counts(&[]).await;
    }
}

#[actix_rt::test]
async fn leases_held_across_a_pool_restart_are_released_correctly() {
    let h = three_platforms().await;
    let only_a = || claude_req().exclude(vec![id("b")]);
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(h.select(only_a()).await.unwrap());
    }
    assert_eq!(h.refused(only_a()).await, NoAccount::AllFull);
    let on_b = h.select(claude_req()).await.unwrap();
    assert_eq!(on_b.account.id.as_str(), "b");

    let panicked = h.scheduling.inject_panic(ActorName::AccountPool).await;
    assert!(matches!(panicked, Err(SelectError::ActorFailed(_))));
    // Released while the pool is going down and coming back: the message waits in the mailbox.
    drop(held.pop());
    wait_for_restart(&h, ActorName::AccountPool, 1).await;
    h.settle_counts(&[("a", 2), ("b", 1)]).await;
    assert_eq!(h.scheduling.live_leases(), 3);

    // The limit still holds after the restart: one free slot on `a`, then full again.
    let refill = h.select(only_a()).await.unwrap();
    assert_eq!(refill.account.id.as_str(), "a");
    assert_eq!(h.refused(only_a()).await, NoAccount::AllFull);

    drop(held);
    drop(on_b);
    h.settle_counts(&[("a", 1)]).await;
    drop(refill);
    h.settle_counts(&[]).await;
    assert_eq!(h.scheduling.live_leases(), 0);
}

#[actix_rt::test]
async fn a_restarted_pool_rebuilds_accounts_and_health_from_the_store() {
    let h = start().await;
    let t = h.now();
    let mut a = claude("a", t);
    a.priority = 1;
    let mut b = claude("b", t);
    b.priority = 2;
    h.add([a, b]).await;

    let HealthChange::CooledDown { until: a_until, .. } = h.mark("a", status(529), None).await else {
        panic!("529 cools down");
    };
    eventually("the cooldown of `a` reaches the store", async || {
        h.stored_health("a").await.is_some()
    })
    .await;
    // Written behind the pool's back (another instance, an operator): unseen until a rebuild.
    let mut c = claude("c", t);
    c.priority = 0;
    h.store.put_account(&c).await.unwrap();
    let b_until = t + 30_000;
    let cooling = Health {
        cooldown: Some(Cooldown {
            until: b_until,
            reason: CooldownReason::ServerError,
            status: 500,
        }),
        family_limits: vec![],
    };
    h.store.put_health(&id("b"), &cooling).await.unwrap();
    assert_eq!(h.pick(claude_req()).await, "b", "before the restart: stale view");

    assert!(h.scheduling.inject_panic(ActorName::AccountPool).await.is_err());
    wait_for_restart(&h, ActorName::AccountPool, 1).await;

    assert_eq!(h.pick(claude_req()).await, "c", "the new account is known");
    assert_eq!(
        h.refused(claude_req().exclude(vec![id("c")])).await,
        NoAccount::AllCoolingDown { retry_at: b_until },
        "the cooldown of `b` from the store applies"
    );
    h.clock.advance_ms(b_until - h.now());
    assert_eq!(h.pick(claude_req().exclude(vec![id("c")])).await, "b");
    assert_eq!(
        h.refused(claude_req().exclude(vec![id("b"), id("c")])).await,
        NoAccount::AllCoolingDown { retry_at: a_until },
        "the cooldown marked before the panic still applies"
    );
}

#[actix_rt::test]
async fn a_selection_whose_future_panics_fails_fast_with_a_typed_error() {
    let store = HookedStore::new(usize::MAX);
    let mut settings = quiet_settings();
    // Far above what an answer takes even on a loaded machine: a caller that waited for the
    // timeout instead of hearing of the panic shows.
    settings.actors.claude.send_timeout_ms = 10_000;
    let h = start_on(store.clone() as Arc<dyn Store>, settings, None).await;
    h.add([claude("a", h.now())]).await;
    store.panic_on_next_acquire();
    let started = Instant::now();
    let lost = h.select(claude_req()).await;
    assert!(
        matches!(&lost, Err(SelectError::ActorFailed(f)) if f.actor == "ClaudeScheduler"),
        "{lost:?}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(5_000),
        "answered before the send timeout"
    );
    assert_eq!(h.pick(claude_req()).await, "a");
    h.settle_counts(&[]).await;
}

#[actix_rt::test]
async fn messages_racing_a_panic_all_get_an_answer_within_the_send_timeout() {
    let mut settings = quiet_settings();
    for knobs in [
        &mut settings.actors.pool,
        &mut settings.actors.sticky,
        &mut settings.actors.claude,
    ] {
        knobs.send_timeout_ms = 1_000;
    }
    let h = start_with(settings).await;
    h.add([claude("a", h.now())]).await;
    let started = Instant::now();
    let selects = futures::future::join_all((0..200).map(|i| {
        let req = claude_req().session(session(&format!("s{}", i % 10)));
        h.select(req)
    }));
    let counts = futures::future::join_all((0..50).map(|_| h.scheduling.slot_counts()));
    let lookups = futures::future::join_all((0..50).map(|_| {
        h.scheduling.sticky_lookup(Lookup {
            platform: Platform::Claude,
            api_key: None,
            session: session("s1"),
        })
    }));
    let panics = futures::future::join_all(
        [
            ActorName::ClaudeScheduler,
            ActorName::AccountPool,
            ActorName::StickySessions,
        ]
        .map(|a| h.scheduling.inject_panic(a)),
    );
    // The send timeout plus what a loaded 2-core machine needs for 300 messages and three
    // restarts; a caller left without an answer waits forever.
    let bound = Duration::from_millis(1_000 + 4_000);
    let (selects, counts, lookups, panics) =
        actix_rt::time::timeout(bound, async { futures::join!(selects, counts, lookups, panics) })
            .await
            .expect("every caller got an answer");
    assert!(started.elapsed() < bound);
    assert!(
        panics
            .iter()
            .all(|r| matches!(r, Err(SelectError::ActorFailed(_))))
    );
    for r in selects {
        assert!(matches!(r, Ok(_) | Err(SelectError::ActorFailed(_))), "{r:?}");
    }
    assert!(
        counts
            .iter()
            .all(|r| r.is_ok() || matches!(r, Err(SelectError::ActorFailed(_))))
    );
    assert!(
        lookups
            .iter()
            .all(|r| matches!(r, Ok(_) | Err(StickyError::Actor(_))))
    );
    h.settle_counts(&[]).await;
    assert_eq!(h.pick(claude_req()).await, "a");
}

#[actix_rt::test]
async fn a_pool_held_by_a_slow_store_times_out_with_a_typed_error() {
    let store = HookedStore::new(usize::MAX);
    let mut settings = quiet_settings();
    // Short, but not so short that the set-up's calls time out on a loaded machine.
    settings.actors.pool.send_timeout_ms = 500;
    let h = start_on(store.clone() as Arc<dyn Store>, settings, None).await;
    h.add([claude("a", h.now())]).await;

    store.hold_loads();
    // A reload holds the pool's mailbox until the store answers.
    let reload = h.scheduling.reload().await;
    assert_eq!(
        reload,
        Err(SelectError::ActorTimeout {
            actor: "AccountPool",
            timeout_ms: 500
        })
    );
    let started = Instant::now();
    assert_eq!(
        h.scheduling.ping(ActorName::AccountPool).await,
        Err(SelectError::ActorTimeout {
            actor: "AccountPool",
            timeout_ms: 500
        })
    );
    // The store holds the pool until the test opens it: any finite bound shows no wait for it.
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(matches!(
        h.scheduling.slot_counts().await,
        Err(SelectError::ActorTimeout { .. })
    ));
    // Selection does not go through the pool: it still works, and its release waits in line.
    let s = h.select(claude_req()).await.unwrap();
    assert_eq!(s.account.id.as_str(), "a");
    drop(s);

    store.open_loads();
    eventually("the pool answers again", async || {
        h.scheduling.ping(ActorName::AccountPool).await.is_ok()
    })
    .await;
    h.settle_counts(&[]).await;
    assert_eq!(h.scheduling.restarts(ActorName::AccountPool), 0);
}

#[actix_rt::test]
async fn actors_on_a_blocked_arbiter_time_out_with_a_typed_error() {
    let arbiter = actix_rt::Arbiter::new();
    let mut settings = quiet_settings();
    for knobs in [
        &mut settings.actors.pool,
        &mut settings.actors.sticky,
        &mut settings.actors.claude,
        &mut settings.actors.gemini,
        &mut settings.actors.openai,
    ] {
        // Short, but not so short that the calls before the block time out on a loaded
        // machine.
        knobs.send_timeout_ms = 300;
    }
    let h = start_on(
        Arc::new(switchyard_actors::store::MemoryStore::new()),
        settings,
        Some(&arbiter.handle()),
    )
    .await;
    h.add([claude("a", h.now())]).await;
    assert_eq!(h.pick(claude_req()).await, "a");

    // Something hogs the actors' thread (a blocking call where it should not be).
    let (unblock, blocked) = std::sync::mpsc::channel::<()>();
    let (hogging, is_hogging) = std::sync::mpsc::channel::<()>();
    assert!(arbiter.spawn_fn(move || {
        hogging.send(()).unwrap();
        let _ = blocked.recv();
    }));
    is_hogging.recv().unwrap();
    let started = Instant::now();
    match h.select(claude_req()).await {
        Err(SelectError::ActorTimeout { actor, timeout_ms }) => {
            assert_eq!((actor, timeout_ms), ("ClaudeScheduler", 300))
        }
        other => panic!("expected ActorTimeout, got {other:?}"),
    }
    for actor in ActorName::ALL {
        assert_eq!(
            h.scheduling.ping(actor).await,
            Err(SelectError::ActorTimeout {
                actor: actor.as_str(),
                timeout_ms: 300
            })
        );
    }
    // The arbiter stays blocked until the test lets go: any finite bound shows no wait for it.
    assert!(started.elapsed() < Duration::from_secs(10));

    unblock.send(()).unwrap();
    eventually("the scheduler answers again", async || {
        h.select(claude_req()).await.is_ok()
    })
    .await;
    h.settle_counts(&[]).await;
    drop(h);
    arbiter.stop();
    arbiter.join().unwrap();
}
