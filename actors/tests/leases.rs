//! Slot leases: dropping a selection releases its slot exactly once, on every path (a task
//! that panics included), and concurrent selections never hold more slots than the limits.
mod support;

use std::collections::HashMap;
use support::*;
use switchyard_actors::NoAccount;
use switchyard_actors::SelectError;

#[actix_rt::test]
async fn dropping_a_selection_releases_its_slot_and_only_its_own() {
    let h = start().await;
    let t = h.now();
    let mut a = claude("a", t);
    a.max_concurrency = 2;
    h.add([a]).await;
    let first = h.select(claude_req()).await.unwrap();
    let second = h.select(claude_req()).await.unwrap();
    assert_ne!(first.lease.id(), second.lease.id());
    assert_eq!(first.lease.account().as_str(), "a");
    h.settle_counts(&[("a", 2)]).await;
    assert_eq!(h.scheduling.live_leases(), 2);

    drop(first);
    assert_eq!(h.scheduling.live_leases(), 1, "no longer renewed at once");
    h.settle_counts(&[("a", 1)]).await;
    // The release has been handled; give any duplicate a chance to arrive, then check again.
    h.scheduling
        .ping(switchyard_actors::system::ActorName::AccountPool)
        .await
        .unwrap();
    actix_rt::time::sleep(std::time::Duration::from_millis(20)).await;
    assert_eq!(
        h.counts().await,
        HashMap::from([("a".to_owned(), 1)]),
        "the other lease is untouched"
    );

    drop(second);
    h.settle_counts(&[]).await;
    assert_eq!(h.scheduling.live_leases(), 0);
    let third = h.select(claude_req()).await.unwrap();
    let fourth = h.select(claude_req()).await.unwrap();
    h.settle_counts(&[("a", 2)]).await;
    drop((third, fourth));
    h.settle_counts(&[]).await;
}

#[actix_rt::test]
async fn a_task_that_panics_while_holding_a_lease_still_releases_it() {
    let h = start().await;
    let t = h.now();
    let mut a = claude("a", t);
    a.max_concurrency = 1;
    h.add([a]).await;
    let scheduling = h.scheduling.clone();
    let task = actix_rt::spawn(async move {
        let held = scheduling.select(claude_req()).await.unwrap();
        assert_eq!(held.account.id.as_str(), "a");
        actix_rt::time::sleep(std::time::Duration::from_millis(5)).await;
        panic!("request handler failed while holding {:?}", held.lease.id());
    });
    let joined = task.await;
    assert!(joined.is_err_and(|e| e.is_panic()), "the task panicked");
    h.settle_counts(&[]).await;
    assert_eq!(h.scheduling.live_leases(), 0);
    assert_eq!(h.pick(claude_req()).await, "a", "the slot is usable again");
}

#[actix_rt::test]
async fn a_lease_dropped_on_another_thread_is_released() {
    let h = start().await;
    let t = h.now();
    let mut a = claude("a", t);
    a.max_concurrency = 1;
    h.add([a]).await;
    let held = h.select(claude_req()).await.unwrap();
    std::thread::spawn(move || drop(held)).join().unwrap();
    h.settle_counts(&[]).await;
}

#[actix_rt::test]
async fn a_thousand_concurrent_selections_never_hold_more_than_the_limits() {
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

    let results = futures::future::join_all((0..1_000).map(|_| h.select(claude_req()))).await;
    let mut held = Vec::new();
    let mut full = 0;
    for r in results {
        match r {
            Ok(s) => held.push(s),
            Err(SelectError::NoAccount(NoAccount::AllFull)) => full += 1,
            Err(other) => panic!("unexpected answer: {other:?}"),
        }
    }
    assert_eq!(held.len(), 30, "exactly the 10 x 3 slots are granted");
    assert_eq!(full, 970, "every other selection is told all are full");
    let mut per_account: HashMap<String, u32> = HashMap::new();
    for s in &held {
        *per_account.entry(s.account.id.as_str().to_owned()).or_default() += 1;
    }
    assert!(per_account.values().all(|n| *n == 3), "{per_account:?}");
    let counts = h.counts().await;
    assert_eq!(counts.len(), 10);
    assert!(counts.values().all(|n| *n == 3), "{counts:?}");
    assert_eq!(h.scheduling.live_leases(), 30);

    drop(held);
    h.settle_counts(&[]).await;
    assert_eq!(h.scheduling.live_leases(), 0);
}

#[actix_rt::test]
async fn slot_counts_never_exceed_the_limit_while_requests_come_and_go() {
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
    let granted = std::rc::Rc::new(std::cell::Cell::new(0u32));
    let workers = (0..64).map(|w| {
        let (scheduling, granted) = (h.scheduling.clone(), granted.clone());
        async move {
            for i in 0..20 {
                match scheduling.select(claude_req()).await {
                    Ok(s) => {
                        granted.set(granted.get() + 1);
                        // Hold for a varying number of scheduler turns, then release.
                        for _ in 0..((w + i) % 4) {
                            actix_rt::task::yield_now().await;
                        }
                        drop(s);
                    }
                    Err(SelectError::NoAccount(NoAccount::AllFull)) => actix_rt::task::yield_now().await,
                    Err(other) => panic!("unexpected answer: {other:?}"),
                }
            }
        }
    });
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
    let (_, samples) = futures::join!(futures::future::join_all(workers), watcher);
    assert_eq!(samples, 200);
    assert!(granted.get() > 0);
    h.settle_counts(&[]).await;
}

#[actix_rt::test]
async fn leases_dropped_on_many_threads_at_once_are_all_released() {
    // Drops queue their slot and wake the pool once per batch: no slot may be left behind
    // whichever way the drops and the pool's flushes interleave.
    let h = start().await;
    h.add([claude("a", h.now())]).await;
    for round in 0..20 {
        let mut held = Vec::new();
        for _ in 0..200 {
            held.push(h.select(claude_req()).await.unwrap());
        }
        h.settle_counts(&[("a", 200)]).await;
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let part: Vec<_> = held.drain(..25).collect();
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    for s in part {
                        drop(s);
                        std::thread::yield_now();
                    }
                })
            })
            .collect();
        // Keep the pool busy flushing while the threads drop.
        while !threads.iter().all(|t| t.is_finished()) {
            actix_rt::task::yield_now().await;
        }
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(h.scheduling.live_leases(), 0, "round {round}");
        h.settle_counts(&[]).await;
    }
}

#[actix_rt::test]
async fn a_slot_dropped_a_moment_ago_is_never_refused() {
    // Releases reach the store in batches (at most one flush per millisecond while they keep
    // coming); a selection that finds every candidate full first hands the queued releases on
    // itself. Here on one thread, and with the drop on another arbiter's thread.
    let h = start().await;
    let mut a = claude("a", h.now());
    a.max_concurrency = 1;
    h.add([a]).await;
    for i in 0..2_000 {
        let s = h.select(claude_req()).await;
        assert!(s.is_ok(), "selection {i}: {s:?}");
    }
    let arbiter = actix_rt::Arbiter::new();
    for i in 0..200 {
        let s = h.select(claude_req()).await;
        let s = s.unwrap_or_else(|e| panic!("selection {i} after a drop elsewhere: {e:?}"));
        on_arbiter(&arbiter.handle(), move || async move { drop(s) }).await;
    }
    h.settle_counts(&[]).await;
    arbiter.stop();
    arbiter.join().unwrap();
}
