//! Session stickiness: a session goes back to its account while that account can serve, and
//! fails over softly (elsewhere, then rebound) when it is cooling down, limited for the model's
//! family, or full. Holds for pools larger than one store acquisition chunk.
mod support;

use std::sync::Arc;
use support::*;
use switchyard_actors::pool::Outcome;
use switchyard_actors::scheduler::StickyOutcome;
use switchyard_actors::sticky::{Bind, Lookup};
use switchyard_actors::{Platform, SelectAccount, Store};

fn in_session(s: &str) -> SelectAccount {
    claude_req().session(session(s))
}

async fn two_accounts() -> Harness {
    let h = start().await;
    let t = h.now();
    h.add([claude("a", t - 2), claude("b", t - 1)]).await;
    h
}

#[actix_rt::test]
async fn a_session_returns_to_its_bound_account() {
    let h = two_accounts().await;
    let first = h.select(in_session("s1")).await.unwrap();
    assert_eq!(first.account.id.as_str(), "a");
    assert_eq!(first.sticky, StickyOutcome::Bound, "a new session is bound");
    drop(first);
    for _ in 0..3 {
        // Without the binding the least recently used account, `b`, would serve.
        h.clock.advance_ms(100);
        let again = h.select(in_session("s1")).await.unwrap();
        assert_eq!(
            (again.account.id.as_str(), again.sticky),
            ("a", StickyOutcome::Hit)
        );
    }
    let other = h.select(in_session("s2")).await.unwrap();
    assert_eq!(
        (other.account.id.as_str(), other.sticky),
        ("b", StickyOutcome::Bound)
    );
    let plain = h.select(claude_req()).await.unwrap();
    assert_eq!(plain.sticky, StickyOutcome::NoSession);
    assert_eq!(
        h.scheduling
            .sticky_lookup(Lookup {
                platform: Platform::Claude,
                api_key: None,
                session: session("s1"),
            })
            .await
            .unwrap(),
        Some(id("a"))
    );
}

#[actix_rt::test]
async fn bindings_are_per_platform() {
    let h = two_accounts().await;
    let t = h.now();
    h.add([gemini("g", t)]).await;
    assert_eq!(h.pick(in_session("s1")).await, "a");
    let g = h
        .select(SelectAccount::new(Platform::Gemini).session(session("s1")))
        .await
        .unwrap();
    assert_eq!((g.account.id.as_str(), g.sticky), ("g", StickyOutcome::Bound));
    let again = h.select(in_session("s1")).await.unwrap();
    assert_eq!(
        (again.account.id.as_str(), again.sticky),
        ("a", StickyOutcome::Hit)
    );
}

#[actix_rt::test]
async fn a_session_bound_to_a_cooling_account_fails_over_and_is_rebound() {
    let h = two_accounts().await;
    assert_eq!(h.pick(in_session("s1")).await, "a");
    let change = h.mark("a", status(529), None).await;
    let moved = h.select(in_session("s1")).await.unwrap();
    assert_eq!(
        (moved.account.id.as_str(), moved.sticky),
        ("b", StickyOutcome::Bound),
        "soft failover, not an error"
    );
    drop(moved);
    let next = h.select(in_session("s1")).await.unwrap();
    assert_eq!(
        (next.account.id.as_str(), next.sticky),
        ("b", StickyOutcome::Hit),
        "the session now lives on the new account"
    );
    drop(next);
    // The old account recovering does not pull the session back.
    let switchyard_actors::pool::HealthChange::CooledDown { until, .. } = change else {
        panic!("529 cools the account down, got {change:?}");
    };
    h.clock.advance_ms(until - h.now() + 1);
    let after = h.select(in_session("s1")).await.unwrap();
    assert_eq!(
        (after.account.id.as_str(), after.sticky),
        ("b", StickyOutcome::Hit)
    );
}

#[actix_rt::test]
async fn a_session_fails_over_when_its_account_is_limited_for_the_requested_family() {
    let h = two_accounts().await;
    let opus = |s: &str| in_session(s).model("claude-opus-4-8");
    let sonnet = |s: &str| in_session(s).model("claude-sonnet-5");
    assert_eq!(h.pick(opus("s1")).await, "a");
    assert_eq!(h.pick(sonnet("s2")).await, "b");
    h.clock.advance_ms(10);
    assert_eq!(h.pick(sonnet("s3")).await, "a");
    let limit = Outcome::Status {
        status: 429,
        retry_after_ms: None,
        reset_at: Some(h.now() + 3_600_000),
    };
    h.mark("a", limit, Some("claude-opus-4-8")).await;
    let moved = h.select(opus("s1")).await.unwrap();
    assert_eq!(
        (moved.account.id.as_str(), moved.sticky),
        ("b", StickyOutcome::Bound)
    );
    drop(moved);
    let sonnet_session = h.select(sonnet("s3")).await.unwrap();
    assert_eq!(
        (sonnet_session.account.id.as_str(), sonnet_session.sticky),
        ("a", StickyOutcome::Hit),
        "a sonnet session stays on the opus-limited account"
    );
}

#[actix_rt::test]
async fn a_session_fails_over_when_its_account_is_full() {
    let h = start().await;
    let t = h.now();
    let mut a = claude("a", t - 2);
    a.max_concurrency = 1;
    h.add([a, claude("b", t - 1)]).await;
    let held = h.select(in_session("s1")).await.unwrap();
    assert_eq!(
        (held.account.id.as_str(), held.sticky),
        ("a", StickyOutcome::Bound)
    );
    let overflow = h.select(in_session("s1")).await.unwrap();
    assert_eq!(
        (overflow.account.id.as_str(), overflow.sticky),
        ("b", StickyOutcome::Bound),
        "the full bound account is skipped for this request"
    );
    drop(held);
    drop(overflow);
    h.settle_counts(&[]).await;
    let next = h.select(in_session("s1")).await.unwrap();
    assert_eq!(
        (next.account.id.as_str(), next.sticky),
        ("b", StickyOutcome::Hit),
        "and the session was rebound"
    );
}

#[actix_rt::test]
async fn an_expired_binding_is_not_honoured() {
    let h = two_accounts().await;
    h.scheduling
        .sticky_bind(Bind {
            platform: Platform::Claude,
            api_key: None,
            session: session("s9"),
            account: id("b"),
        })
        .await
        .unwrap();
    let s = h.select(in_session("s9")).await.unwrap();
    assert_eq!(
        (s.account.id.as_str(), s.sticky),
        ("b", StickyOutcome::Hit),
        "an explicit binding is honoured over the order (`a` was never used)"
    );
    drop(s);
    let ttl_ms = h.scheduling.settings().scheduler.sticky_ttl_secs as i64 * 1_000;
    h.clock.advance_ms(ttl_ms + 1);
    let s = h.select(in_session("s9")).await.unwrap();
    assert_eq!(
        (s.account.id.as_str(), s.sticky),
        ("a", StickyOutcome::Bound),
        "a lapsed binding is a new session"
    );
}

/// 100 accounts; the session is bound to the account ranked last, far outside the first chunk
/// of candidates the store is offered.
async fn bound_beyond_the_first_chunk(h: &Harness) {
    let t = h.now();
    let mut accounts: Vec<_> = (0..100)
        .map(|i| claude(&format!("acct-{i:03}"), t - 1_000 + i))
        .collect();
    accounts[99].priority = 99;
    h.add(accounts).await;
    h.scheduling
        .sticky_bind(Bind {
            platform: Platform::Claude,
            api_key: None,
            session: session("long"),
            account: id("acct-099"),
        })
        .await
        .unwrap();
    for _ in 0..3 {
        let s = h.select(in_session("long")).await.unwrap();
        assert_eq!(
            (s.account.id.as_str(), s.sticky),
            ("acct-099", StickyOutcome::Hit)
        );
        h.clock.advance_ms(1);
    }
    assert_eq!(h.pick(claude_req()).await, "acct-000");
}

#[actix_rt::test]
async fn sessions_stay_sticky_in_pools_larger_than_one_store_chunk() {
    let store = HookedStore::new(64);
    let h = start_on(store as Arc<dyn Store>, quiet_settings(), None).await;
    bound_beyond_the_first_chunk(&h).await;
}

#[actix_rt::test]
async fn sessions_stay_sticky_in_large_pools_on_the_memory_store() {
    let h = start().await;
    bound_beyond_the_first_chunk(&h).await;
}

#[actix_rt::test]
async fn a_far_bound_account_that_is_full_fails_over_within_a_chunked_store() {
    let store = HookedStore::new(64);
    let h = start_on(store as Arc<dyn Store>, quiet_settings(), None).await;
    let t = h.now();
    let mut accounts: Vec<_> = (0..100)
        .map(|i| claude(&format!("acct-{i:03}"), t - 1_000 + i))
        .collect();
    accounts[99].priority = 99;
    accounts[99].max_concurrency = 1;
    h.add(accounts).await;
    let first = h
        .select(claude_req().exclude((0..99).map(|i| id(&format!("acct-{i:03}"))).collect()))
        .await
        .unwrap();
    assert_eq!(first.account.id.as_str(), "acct-099");
    h.scheduling
        .sticky_bind(Bind {
            platform: Platform::Claude,
            api_key: None,
            session: session("long"),
            account: id("acct-099"),
        })
        .await
        .unwrap();
    let s = h.select(in_session("long")).await.unwrap();
    assert_eq!(
        (s.account.id.as_str(), s.sticky),
        ("acct-000", StickyOutcome::Bound)
    );
}

#[actix_rt::test]
async fn a_session_bound_to_another_platforms_account_does_not_reorder_the_pool() {
    let store = HookedStore::new(64);
    let h = start_on(store as Arc<dyn Store>, quiet_settings(), None).await;
    let t = h.now();
    let mut accounts: Vec<_> = (0..100)
        .map(|i| claude(&format!("acct-{i:03}"), t - 1_000 + i))
        .collect();
    accounts.extend((0..10).map(|i| gemini(&format!("gem-{i}"), t - 1_000 + i)));
    h.add(accounts).await;
    // An operator binds a Claude session to a Gemini account id: not a Claude candidate.
    h.scheduling
        .sticky_bind(Bind {
            platform: Platform::Claude,
            api_key: None,
            session: session("odd"),
            account: id("gem-7"),
        })
        .await
        .unwrap();
    let s = h.select(in_session("odd")).await.unwrap();
    assert_eq!(
        (s.account.id.as_str(), s.sticky),
        ("acct-000", StickyOutcome::Bound),
        "the usual order, not the Claude account that shares gem-7's position"
    );
}

/// Session ids come from clients: a client of key B sending key A's session id must neither
/// land on A's account through it nor move A's binding.
#[actix_rt::test]
async fn bindings_are_per_api_key() {
    let h = two_accounts().await;
    let as_key = |key: &str| in_session("shared").api_key(key);
    let first = h.select(as_key("key-a")).await.unwrap();
    assert_eq!(
        (first.account.id.as_str(), first.sticky),
        ("a", StickyOutcome::Bound)
    );
    drop(first);
    h.clock.advance_ms(100);
    let other = h.select(as_key("key-b")).await.unwrap();
    assert_eq!(
        (other.account.id.as_str(), other.sticky),
        ("b", StickyOutcome::Bound),
        "key B's first request with the same session id is a new session (`b` is least recently used)"
    );
    drop(other);
    h.clock.advance_ms(100);
    let again = h.select(as_key("key-a")).await.unwrap();
    assert_eq!(
        (again.account.id.as_str(), again.sticky),
        ("a", StickyOutcome::Hit),
        "key A's binding was not moved"
    );
    let lookup = |api_key: Option<&str>| Lookup {
        platform: Platform::Claude,
        api_key: api_key.map(str::to_owned),
        session: session("shared"),
    };
    let (a, b, none) = (
        h.scheduling.sticky_lookup(lookup(Some("key-a"))).await.unwrap(),
        h.scheduling.sticky_lookup(lookup(Some("key-b"))).await.unwrap(),
        h.scheduling.sticky_lookup(lookup(None)).await.unwrap(),
    );
    assert_eq!((a, b, none), (Some(id("a")), Some(id("b")), None));
}

/// Key ids are escaped in binding keys: no key id and session id pair spells another pair's.
#[test]
fn binding_keys_cannot_be_forged_across_keys() {
    use switchyard_actors::sticky::sticky_key;
    let k = |key: &str, s: &str| sticky_key(Platform::Claude, Some(key), &session(s));
    assert_ne!(k("a:b", "c"), k("a", "b:c"));
    assert_ne!(k("a%3Ab", "c"), k("a:b", "c"));
}
