//! The selection order among eligible accounts (§5): lower priority number first, then least
//! recently used (never used first), then oldest `created_at`.
mod support;

use support::*;

#[actix_rt::test]
async fn the_lowest_priority_number_wins_including_zero() {
    let h = start().await;
    let t = h.now();
    let mut accounts = Vec::new();
    for (name, priority) in [("p10", 10), ("p0", 0), ("p5", 5), ("p50", 50)] {
        let mut a = claude(name, t);
        a.priority = priority;
        accounts.push(a);
    }
    h.add(accounts).await;
    // Priority beats recency: the top account serves every time though it was just used.
    for _ in 0..3 {
        assert_eq!(h.pick(claude_req()).await, "p0");
        h.clock.advance_ms(1_000);
    }
    assert_eq!(h.pick(claude_req().exclude(vec![id("p0")])).await, "p5");
    assert_eq!(
        h.pick(claude_req().exclude(vec![id("p0"), id("p5")])).await,
        "p10"
    );
}

#[actix_rt::test]
async fn never_used_accounts_go_first_then_least_recently_used() {
    let h = start().await;
    let t = h.now();
    // `used` is the oldest account but was used before; `fresh` was never used.
    let mut used = claude("used", t - 10_000);
    used.last_used_at = Some(t - 5_000);
    let fresh = claude("fresh", t - 1_000);
    h.add([used, fresh]).await;
    assert_eq!(h.pick(claude_req()).await, "fresh", "never used goes first");
    h.clock.advance_ms(10);
    assert_eq!(
        h.pick(claude_req()).await,
        "used",
        "after a selection the account moves back"
    );
    h.clock.advance_ms(10);
    assert_eq!(h.pick(claude_req()).await, "fresh");
    h.clock.advance_ms(10);
    assert_eq!(h.pick(claude_req()).await, "used");
}

#[actix_rt::test]
async fn selections_rotate_through_equal_accounts_in_least_recently_used_order() {
    let h = start().await;
    let t = h.now();
    h.add([claude("a", t - 3), claude("b", t - 2), claude("c", t - 1)])
        .await;
    let mut order = Vec::new();
    for _ in 0..6 {
        order.push(h.pick(claude_req()).await);
        h.clock.advance_ms(1);
    }
    assert_eq!(order, ["a", "b", "c", "a", "b", "c"]);
}

#[actix_rt::test]
async fn among_equals_the_oldest_created_account_wins() {
    let h = start().await;
    let t = h.now();
    // Ids sort the other way round, so only `created_at` can explain the order.
    h.add([
        claude("a-newest", t - 100),
        claude("b-middle", t - 200),
        claude("c-oldest", t - 300),
    ])
    .await;
    assert_eq!(h.pick(claude_req()).await, "c-oldest");
    // Used in the same millisecond as the others below: recency ties, creation decides again.
    assert_eq!(h.pick(claude_req()).await, "b-middle");
    assert_eq!(h.pick(claude_req()).await, "a-newest");
    assert_eq!(
        h.pick(claude_req()).await,
        "c-oldest",
        "all used at the same instant: the oldest again"
    );
}

#[actix_rt::test]
async fn a_last_use_stored_by_another_instance_orders_accounts_at_start() {
    let h = start().await;
    let t = h.now();
    let mut recent = claude("recent", t - 2_000);
    recent.last_used_at = Some(t - 10);
    let mut long_ago = claude("long-ago", t - 1_000);
    long_ago.last_used_at = Some(t - 1_000_000);
    h.add([recent, long_ago]).await;
    assert_eq!(h.pick(claude_req()).await, "long-ago");
}
