//! Concurrency slots for arbitrary holders (`Scheduling::hold_slot`; the server's per-key limit
//! uses `key:{id}`), through the same lease machinery as account slots: the limit holds under
//! concurrency, a slot is released exactly once on drop, live holds are renewed past the lease
//! TTL while a dead instance's expire, and it works the same through a local handle.
mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use support::*;
use switchyard_actors::store::{SlotCandidate, SlotRequest};
use switchyard_actors::system::ActorName;
use switchyard_actors::{Lease, LeaseId};

/// Takes `n` slots of `holder` at once; answers with the granted leases and how many were
/// refused.
async fn hold_many(
    scheduling: &switchyard_actors::Scheduling,
    holder: &str,
    limit: u32,
    n: usize,
) -> (Vec<Lease>, usize) {
    let answers = futures::future::join_all((0..n).map(|_| scheduling.hold_slot(holder, limit))).await;
    let mut held = Vec::new();
    let mut refused = 0;
    for a in answers {
        match a.expect("the store answers") {
            Some(lease) => held.push(lease),
            None => refused += 1,
        }
    }
    (held, refused)
}

#[actix_rt::test]
async fn the_limit_holds_under_two_hundred_concurrent_holds() {
    let h = start().await;
    let t = h.now();
    let mut a = claude("acct-a", t);
    a.max_concurrency = 1;
    h.add([a]).await;

    let (held, refused) = hold_many(&h.scheduling, "key:busy", 5, 200).await;
    assert_eq!((held.len(), refused), (5, 195));
    assert!(held.iter().all(|l| l.account().as_str() == "key:busy"));
    let ids: std::collections::HashSet<_> = held.iter().map(|l| l.id().clone()).collect();
    assert_eq!(ids.len(), 5, "every lease has its own id");
    assert_eq!(h.scheduling.slot_count("key:busy").await.unwrap(), 5);
    assert_eq!(
        h.scheduling.live_leases(),
        5,
        "registered as live: the pool renews them"
    );

    // Holders are independent of each other and of account slots.
    let other = h.scheduling.hold_slot("key:other", 1).await.unwrap();
    assert!(other.is_some());
    let selection = h.select(claude_req()).await.unwrap();
    assert_eq!(selection.account.id.as_str(), "acct-a");
    assert_eq!(
        h.counts().await,
        HashMap::from([
            ("key:busy".to_owned(), 5),
            ("key:other".to_owned(), 1),
            ("acct-a".to_owned(), 1)
        ]),
        "slot_counts lists key holders beside accounts"
    );
    assert_eq!(h.scheduling.slot_count("acct-a").await.unwrap(), 1);
    assert_eq!(h.scheduling.slot_count("key:nobody").await.unwrap(), 0);

    drop((held, other, selection));
    h.settle_counts(&[]).await;
    assert_eq!(h.scheduling.live_leases(), 0);
}

#[actix_rt::test]
async fn dropping_a_key_slot_releases_it_exactly_once() {
    let h = start().await;
    let first = h.scheduling.hold_slot("key:k", 2).await.unwrap().unwrap();
    let second = h.scheduling.hold_slot("key:k", 2).await.unwrap().unwrap();
    assert!(h.scheduling.hold_slot("key:k", 2).await.unwrap().is_none());

    drop(first);
    assert_eq!(h.scheduling.live_leases(), 1, "no longer renewed at once");
    h.settle_counts(&[("key:k", 1)]).await;
    // The release has gone through; give a duplicate the chance to arrive, then look again.
    h.scheduling.ping(ActorName::AccountPool).await.unwrap();
    actix_rt::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        h.scheduling.slot_count("key:k").await.unwrap(),
        1,
        "the other stays"
    );

    let third = h.scheduling.hold_slot("key:k", 2).await.unwrap();
    assert!(third.is_some(), "the freed slot is usable again");
    assert!(h.scheduling.hold_slot("key:k", 2).await.unwrap().is_none());
    drop((second, third));
    h.settle_counts(&[]).await;
    assert_eq!(h.scheduling.live_leases(), 0);
}

#[actix_rt::test]
async fn limit_zero_counts_but_never_refuses() {
    let h = start().await;
    let (held, refused) = hold_many(&h.scheduling, "key:unlimited", 0, 50).await;
    assert_eq!((held.len(), refused), (50, 0));
    assert_eq!(h.scheduling.slot_count("key:unlimited").await.unwrap(), 50);
    drop(held);
    h.settle_counts(&[]).await;
}

#[actix_rt::test]
async fn a_hold_given_up_halfway_does_not_leak_its_slot() {
    let h = start().await;
    for _ in 0..20 {
        // Polled once, then dropped: the caller went away while the slot was being taken.
        let hold = h.scheduling.hold_slot("key:impatient", 1);
        assert!(futures::FutureExt::now_or_never(hold).is_none());
    }
    // Let the abandoned acquisitions run to their end.
    actix_rt::time::sleep(Duration::from_millis(20)).await;
    h.settle_counts(&[]).await;
    assert_eq!(h.scheduling.live_leases(), 0);
    let held = h.scheduling.hold_slot("key:impatient", 1).await.unwrap();
    assert!(held.is_some(), "no slot was leaked");
    drop(held);
    h.settle_counts(&[]).await;
}

#[actix_rt::test]
async fn a_live_hold_is_renewed_past_the_lease_ttl_and_a_dead_instances_expires() {
    let h = start_with(short_lease_settings(2)).await;
    let holder = "key:long";
    let t0 = h.now();
    let held = h.scheduling.hold_slot(holder, 2).await.unwrap().expect("a slot");
    // The other slot belongs to an instance that died: taken in the store, never renewed.
    let dead = LeaseId::from_string("dead-instance-lease");
    let candidates = [SlotCandidate {
        account: id(holder),
        limit: 2,
    }];
    let grant = h
        .store
        .acquire_slot(&SlotRequest {
            candidates: &candidates,
            sticky: None,
            lease: &dead,
            lease_ttl_ms: 2_000,
            now: t0,
        })
        .await
        .unwrap();
    assert!(grant.is_some());
    assert_eq!(h.scheduling.slot_count(holder).await.unwrap(), 2);
    assert!(
        h.scheduling.hold_slot(holder, 2).await.unwrap().is_none(),
        "at the limit"
    );

    h.clock.advance_ms(1_500);
    // The pool renews every second (real time), at the clock's time: the live lease then runs
    // to t0 + 3.5 s, the dead one still ends at t0 + 2 s.
    eventually("the live lease is renewed", async || {
        h.store.slot_count(&id(holder), t0 + 3_000).await.unwrap() == 1
    })
    .await;
    h.clock.advance_ms(1_500);
    assert_eq!(
        h.scheduling.slot_count(holder).await.unwrap(),
        1,
        "past the TTL: the live hold is still counted, the dead one expired"
    );
    let again = h.scheduling.hold_slot(holder, 2).await.unwrap();
    assert!(again.is_some(), "the dead instance's slot is free again");
    assert!(h.scheduling.hold_slot(holder, 2).await.unwrap().is_none());

    drop((held, again));
    eventually("both released", async || {
        h.scheduling.slot_count(holder).await.unwrap() == 0
    })
    .await;
}

#[actix_rt::test]
async fn key_slots_through_local_handles_share_one_limit() {
    let h = start().await;
    let (a, b) = (actix_rt::Arbiter::new(), actix_rt::Arbiter::new());
    let start = Arc::new(tokio::sync::Barrier::new(3));
    // 200 holds of one holder, limit 7, spread over three handles on three threads at once.
    let remote = |arbiter: &actix_rt::Arbiter, n: usize| {
        let (scheduling, start) = (h.scheduling.clone(), start.clone());
        on_arbiter(&arbiter.handle(), move || async move {
            let local = scheduling.local();
            assert!(local.is_local());
            start.wait().await;
            hold_many(&local, "key:shared", 7, n).await
        })
    };
    let main = async {
        start.wait().await;
        hold_many(&h.scheduling, "key:shared", 7, 66).await
    };
    let (on_a, on_b, here) = futures::join!(remote(&a, 67), remote(&b, 67), main);
    let held: usize = [&on_a, &on_b, &here].iter().map(|(l, _)| l.len()).sum();
    let refused: usize = [&on_a, &on_b, &here].iter().map(|(_, r)| r).sum();
    assert_eq!((held, refused), (7, 193));
    assert_eq!(h.scheduling.slot_count("key:shared").await.unwrap(), 7);
    assert_eq!(h.scheduling.live_leases(), 7);

    // A local handle sees the same holder, and a slot dropped on another thread is released.
    let local_count = {
        let scheduling = h.scheduling.clone();
        on_arbiter(&a.handle(), move || async move {
            scheduling.local().slot_count("key:shared").await.unwrap()
        })
        .await
    };
    assert_eq!(local_count, 7);
    drop((on_a, on_b, here));
    h.settle_counts(&[]).await;
    assert_eq!(h.scheduling.live_leases(), 0);
    for arbiter in [a, b] {
        arbiter.stop();
        arbiter.join().unwrap();
    }
}

#[actix_rt::test]
async fn a_store_that_panics_while_taking_a_key_slot_answers_with_an_error() {
    let store = HookedStore::new(32);
    let h = start_on(
        store.clone() as Arc<dyn switchyard_actors::Store>,
        quiet_settings(),
        None,
    )
    .await;
    store.panic_on_next_acquire();
    match h.scheduling.hold_slot("key:k", 1).await {
        Err(switchyard_actors::SelectError::Store(e)) => {
            assert!(e.to_string().contains("key:k"), "{e}")
        }
        other => panic!("expected a store error, got {other:?}"),
    }
    let held = h.scheduling.hold_slot("key:k", 1).await.unwrap();
    assert!(held.is_some(), "the next hold works");
    drop(held);
    h.settle_counts(&[]).await;
}

#[actix_rt::test]
async fn a_key_slot_dropped_a_moment_ago_is_never_refused() {
    // Releases reach the store in batches (at most one flush per millisecond while they keep
    // coming); a hold that finds the holder full first hands the queued releases on itself.
    let h = start().await;
    for i in 0..2_000 {
        let held = h.scheduling.hold_slot("key:serial", 1).await.unwrap();
        assert!(held.is_some(), "hold {i} refused");
    }
    h.settle_counts(&[]).await;
}
