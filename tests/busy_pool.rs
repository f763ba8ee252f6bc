//! A busy pool waits instead of failing (issue #13): requests queue for a slot when every
//! eligible account is full, in arrival order, bounded in time and count, leave the queue when
//! their client goes, and a failover waits for a busy account rather than answering the failed
//! one's error. Real HTTP to switchyard, the mock upstream holding slots with delayed answers;
//! every rule on both backends (embedded and Redis), and a slot freed on one instance waking a
//! waiter on another through Redis.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "support/redis_server.rs"]
mod redis_server;
mod support;
#[path = "support/backend.rs"]
#[macro_use]
mod backend;

use backend::*;
use mock_upstream::Fault;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::*;
use switchyard_actors::Platform;

fn tagged(tag: &str) -> Value {
    let mut b = claude_body(false);
    b["messages"][0]["content"] = json!(tag);
    b
}

/// Sends a request in the background; its status arrives on the handle.
fn send(app: &TestApp, key: &str, body: Value) -> tokio::task::JoinHandle<(u16, Value)> {
    let req = app
        .http
        .post(app.url("/v1/messages"))
        .header("x-api-key", key)
        .header("anthropic-version", "2023-06-01")
        .json(&body);
    tokio::spawn(async move {
        let resp = req.send().await.expect("request sent");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    })
}

fn waiters(app: &TestApp) -> usize {
    app.state.scheduling.waiters(Platform::Claude)
}

/// The text of the user message of each request the mock saw for `credential`, in arrival order.
fn seen(app: &TestApp, credential: &str) -> Vec<String> {
    app.mock
        .requests_for(credential)
        .iter()
        .map(|r| {
            let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
            body["messages"][0]["content"].as_str().unwrap_or("").to_owned()
        })
        .collect()
}

on_both_backends!(
    a_request_waits_for_a_slot_and_is_served_when_it_frees,
    waiters_are_served_in_arrival_order,
    a_wait_past_slot_wait_ms_is_the_apis_overload_error_with_retry_after,
    a_full_queue_answers_overloaded_at_once,
    a_client_that_leaves_while_waiting_leaves_the_queue,
    a_failover_waits_for_a_busy_account_instead_of_answering_the_error,
    when_every_account_cools_down_the_answer_comes_at_once_with_the_earliest_recovery,
    a_session_waits_for_its_own_busy_account_rather_than_moving,
    a_session_moves_after_sticky_wait_ms,
    a_session_leaves_a_cooling_account_at_once,
);

async fn a_request_waits_for_a_slot_and_is_served_when_it_frees(backend: Backend) {
    let app = spawn_app_backed(backend, |_| {}).await;
    app.add_account(json!({"name": "a", "api_key": "sk-ant-a", "max_concurrency": 1}))
        .await;
    let key = app.key().await;
    app.mock.enqueue("sk-ant-a", Fault::Delay { ms: 1_000 });
    let holder = send(&app, &key, tagged("holder"));
    poll_until("the holder is upstream", || app.mock.in_flight() == 1).await;
    let waiter = send(&app, &key, tagged("waiter"));
    poll_until("the second request waits", || waiters(&app) == 1).await;
    // Visible while it waits: the admin API (what `switchyard status` prints) and /metrics.
    let (_, accounts) = app.admin(reqwest::Method::GET, "/admin/accounts", None).await;
    assert_eq!(accounts["waiters"]["claude"], 1, "{accounts}");
    assert_eq!(accounts["accounts"][0]["slots_in_use"], 1, "{accounts}");
    let text = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("switchyard_slot_waiters{platform=\"claude\"} 1"),
        "{text}"
    );
    assert_eq!(holder.await.unwrap().0, 200);
    assert_eq!(waiter.await.unwrap().0, 200, "served once the slot freed");
    assert_eq!(waiters(&app), 0);
    assert_eq!(seen(&app, "sk-ant-a"), ["holder", "waiter"]);
    let metrics = app.http.get(app.url("/metrics")).send().await.unwrap();
    let text = metrics.text().await.unwrap();
    assert!(
        text.contains("switchyard_slot_wait_seconds_count{platform=\"claude\"} 1"),
        "one wait observed: {text}"
    );
    app.assert_slots_released().await;
}

async fn waiters_are_served_in_arrival_order(backend: Backend) {
    let app = spawn_app_backed(backend, |_| {}).await;
    app.add_account(json!({"name": "a", "api_key": "sk-ant-a", "max_concurrency": 1}))
        .await;
    let key = app.key().await;
    app.mock.enqueue("sk-ant-a", Fault::Delay { ms: 500 });
    let holder = send(&app, &key, tagged("holder"));
    poll_until("the holder is upstream", || app.mock.in_flight() == 1).await;
    let mut queued = Vec::new();
    for i in 1..=3 {
        queued.push(send(&app, &key, tagged(&format!("waiter {i}"))));
        poll_until("the waiter has joined", || waiters(&app) == i).await;
    }
    assert_eq!(holder.await.unwrap().0, 200);
    for w in queued {
        assert_eq!(w.await.unwrap().0, 200);
    }
    assert_eq!(
        seen(&app, "sk-ant-a"),
        ["holder", "waiter 1", "waiter 2", "waiter 3"]
    );
    app.assert_slots_released().await;
}

async fn a_wait_past_slot_wait_ms_is_the_apis_overload_error_with_retry_after(backend: Backend) {
    let app = spawn_app_backed(backend, |s| s.scheduler.slot_wait_ms = 300).await;
    app.add_account(json!({"name": "a", "api_key": "sk-ant-a", "max_concurrency": 1}))
        .await;
    let key = app.key().await;
    app.mock.enqueue("sk-ant-a", Fault::Delay { ms: 2_000 });
    let holder = send(&app, &key, tagged("holder"));
    poll_until("the holder is upstream", || app.mock.in_flight() == 1).await;
    let resp = app.post_messages(&key, &tagged("late")).await;
    assert_eq!(resp.status(), 529);
    assert!(resp.headers().contains_key("retry-after"));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["type"], "overloaded_error");
    assert_eq!(body["reason"], "slot_wait_timeout");
    assert_eq!(waiters(&app), 0);
    assert_eq!(holder.await.unwrap().0, 200);
    assert_eq!(
        seen(&app, "sk-ant-a"),
        ["holder"],
        "the late one never went upstream"
    );
    let text = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("switchyard_slot_wait_timeouts_total{platform=\"claude\",reason=\"timeout\"} 1"),
        "{text}"
    );
    app.assert_slots_released().await;
}

async fn a_full_queue_answers_overloaded_at_once(backend: Backend) {
    let app = spawn_app_backed(backend, |s| s.scheduler.max_waiters = 1).await;
    app.add_account(json!({"name": "a", "api_key": "sk-ant-a", "max_concurrency": 1}))
        .await;
    let key = app.key().await;
    app.mock.enqueue("sk-ant-a", Fault::Delay { ms: 1_500 });
    let holder = send(&app, &key, tagged("holder"));
    poll_until("the holder is upstream", || app.mock.in_flight() == 1).await;
    let waiter = send(&app, &key, tagged("waiter"));
    poll_until("the second request waits", || waiters(&app) == 1).await;
    let resp = app.post_messages(&key, &tagged("third")).await;
    assert_eq!(resp.status(), 529);
    assert!(resp.headers().contains_key("retry-after"));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["reason"], "slot_queue_full");
    assert_eq!(waiters(&app), 1, "answered while the other still waited");
    assert_eq!(holder.await.unwrap().0, 200);
    assert_eq!(waiter.await.unwrap().0, 200);
    app.assert_slots_released().await;
}

async fn a_client_that_leaves_while_waiting_leaves_the_queue(backend: Backend) {
    let app = spawn_app_backed(backend, |s| s.relay.idle_timeout_ms = 30_000).await;
    app.add_account(json!({"name": "a", "api_key": "sk-ant-a", "max_concurrency": 1}))
        .await;
    let key = app.key().await;
    app.mock.enqueue("sk-ant-a", Fault::Delay { ms: 3_000 });
    let holder = send(&app, &key, tagged("holder"));
    poll_until("the holder is upstream", || app.mock.in_flight() == 1).await;
    let leaving = send(&app, &key, tagged("leaving"));
    poll_until("the second request waits", || waiters(&app) == 1).await;
    leaving.abort();
    poll_until("the waiter has left", || waiters(&app) == 0).await;
    assert!(
        app.mock.in_flight() == 1,
        "left while the holder still held the slot"
    );
    assert_eq!(holder.await.unwrap().0, 200);
    // A slot freed after it left goes to the next request, not to the departed one.
    assert_eq!(app.post_messages(&key, &tagged("next")).await.status(), 200);
    assert_eq!(seen(&app, "sk-ant-a"), ["holder", "next"]);
    app.assert_slots_released().await;
}

async fn a_failover_waits_for_a_busy_account_instead_of_answering_the_error(backend: Backend) {
    let app = spawn_app_backed(backend, |_| {}).await;
    app.add_account(json!({"name": "b", "api_key": "sk-ant-b", "priority": 2, "max_concurrency": 1}))
        .await;
    let key = app.key().await;
    app.mock.enqueue("sk-ant-b", Fault::Delay { ms: 1_000 });
    let holder = send(&app, &key, tagged("holder"));
    poll_until("the holder is upstream", || app.mock.in_flight() == 1).await;
    app.add_account(json!({"name": "a", "api_key": "sk-ant-a", "priority": 1, "max_concurrency": 1}))
        .await;
    app.mock
        .enqueue("sk-ant-a", Fault::anthropic_error(500, "api_error", "boom"));
    let resp = app.post_messages(&key, &tagged("moved")).await;
    assert_eq!(resp.status(), 200, "waited for b rather than answering a's 500");
    assert_eq!(holder.await.unwrap().0, 200);
    assert_eq!(seen(&app, "sk-ant-a"), ["moved"]);
    assert_eq!(seen(&app, "sk-ant-b"), ["holder", "moved"]);
    app.assert_slots_released().await;
}

async fn when_every_account_cools_down_the_answer_comes_at_once_with_the_earliest_recovery(backend: Backend) {
    let app = spawn_app_backed(backend, |_| {}).await;
    app.add_account(json!({"name": "a", "api_key": "sk-ant-a", "max_concurrency": 1}))
        .await;
    let key = app.key().await;
    app.mock.enqueue(
        "sk-ant-a",
        Fault::anthropic_error(429, "rate_limit_error", "slow down").with_header("retry-after", "40"),
    );
    assert_eq!(app.post_messages(&key, &tagged("first")).await.status(), 429);
    let started = Instant::now();
    let resp = app.post_messages(&key, &tagged("second")).await;
    assert_eq!(resp.status(), 503);
    let retry_after: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((30..=40).contains(&retry_after), "retry-after {retry_after}");
    assert_eq!(resp.json::<Value>().await.unwrap()["reason"], "all_cooling_down");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "nothing waits on a cooling account"
    );
    assert_eq!(waiters(&app), 0);
    app.assert_slots_released().await;
}

/// Two accounts, `a` preferred; the session `"session"` is bound to `a` by a first request.
async fn session_bound_to_a(app: &TestApp) -> String {
    app.add_account(json!({"name": "a", "api_key": "sk-ant-a", "priority": 1, "max_concurrency": 1}))
        .await;
    app.add_account(json!({"name": "b", "api_key": "sk-ant-b", "priority": 2, "max_concurrency": 1}))
        .await;
    let key = app.key().await;
    assert_eq!(app.post_messages(&key, &tagged("session")).await.status(), 200);
    assert_eq!(seen(app, "sk-ant-a"), ["session"]);
    key
}

async fn a_session_waits_for_its_own_busy_account_rather_than_moving(backend: Backend) {
    let app = spawn_app_backed(backend, |s| s.scheduler.sticky_wait_ms = 20_000).await;
    let key = session_bound_to_a(&app).await;
    app.mock.enqueue("sk-ant-a", Fault::Delay { ms: 800 });
    let holder = send(&app, &key, tagged("holder"));
    poll_until("the holder is upstream on a", || app.mock.in_flight() == 1).await;
    let resp = app.post_messages(&key, &tagged("session")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(holder.await.unwrap().0, 200);
    assert_eq!(seen(&app, "sk-ant-a"), ["session", "holder", "session"]);
    assert!(
        seen(&app, "sk-ant-b").is_empty(),
        "b was free, but the session waited for a"
    );
    app.assert_slots_released().await;
}

async fn a_session_moves_after_sticky_wait_ms(backend: Backend) {
    let app = spawn_app_backed(backend, |s| {
        s.scheduler.sticky_wait_ms = 300;
        s.relay.idle_timeout_ms = 30_000;
    })
    .await;
    let key = session_bound_to_a(&app).await;
    app.mock.enqueue("sk-ant-a", Fault::Delay { ms: 3_000 });
    let holder = send(&app, &key, tagged("holder"));
    poll_until("the holder is upstream on a", || app.mock.in_flight() == 1).await;
    let started = Instant::now();
    assert_eq!(app.post_messages(&key, &tagged("session")).await.status(), 200);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "it waited for a first"
    );
    assert_eq!(seen(&app, "sk-ant-b"), ["session"], "then moved to b");
    assert_eq!(holder.await.unwrap().0, 200);
    app.assert_slots_released().await;
}

async fn a_session_leaves_a_cooling_account_at_once(backend: Backend) {
    let app = spawn_app_backed(backend, |s| s.scheduler.sticky_wait_ms = 20_000).await;
    let key = session_bound_to_a(&app).await;
    app.mock.enqueue(
        "sk-ant-a",
        Fault::anthropic_error(429, "rate_limit_error", "slow down").with_header("retry-after", "60"),
    );
    // a answers 429 (and cools down); the request fails over to b.
    assert_eq!(app.post_messages(&key, &tagged("other")).await.status(), 200);
    let started = Instant::now();
    assert_eq!(app.post_messages(&key, &tagged("session")).await.status(), 200);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "nothing waits on a cooling account"
    );
    assert_eq!(seen(&app, "sk-ant-b"), ["other", "session"]);
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn a_slot_freed_on_one_instance_wakes_a_waiter_on_another() {
    // Two instances on one Redis; a re-check so slow that only the slot notice (pub/sub) can
    // wake B's waiter in time.
    let store = fresh_redis();
    let on_store = |s: &mut switchyard::settings::Settings| {
        with_store(s, &store);
        s.scheduler.wait_recheck_ms = 60_000;
        s.scheduler.slot_wait_ms = 30_000;
        s.relay.idle_timeout_ms = 30_000;
    };
    let a = spawn_app_on(open(&store).await, on_store).await;
    let account = a
        .add_account(json!({"name": "shared", "api_key": "sk-ant-a", "max_concurrency": 1}))
        .await;
    let key = a.key().await;
    let b = spawn_app_on(open(&store).await, on_store).await;
    poll_until("B sees the account", || {
        b.state
            .scheduling
            .snapshot()
            .all()
            .any(|e| e.account.id.as_str() == account)
    })
    .await;

    a.mock.enqueue("sk-ant-a", Fault::Delay { ms: 1_000 });
    let holder = send(&a, &key, tagged("holder on A"));
    poll_until("the holder is upstream", || a.mock.in_flight() == 1).await;
    let waiter = send(&b, &key, tagged("waiter on B"));
    poll_until("B's request waits", || waiters(&b) == 1).await;

    assert_eq!(holder.await.unwrap().0, 200);
    let freed = Instant::now();
    assert_eq!(waiter.await.unwrap().0, 200);
    // The re-check is a minute away: only the notice from A can have woken B this soon.
    assert!(
        freed.elapsed() < Duration::from_secs(2),
        "B was served {:?} after A freed the slot",
        freed.elapsed()
    );
    assert_eq!(seen(&a, "sk-ant-a"), ["holder on A", "waiter on B"]);
    a.assert_slots_released().await;
    b.assert_slots_released().await;
}
