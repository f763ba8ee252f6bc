//! A busy pool waits instead of failing, on Redis (issue #13): waiting and arrival order on one
//! instance, and two instances on one Redis sharing one account's slot, where a slot freed on
//! one wakes a waiter on the other through the slot notice (pub/sub), not the slow re-check.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "support/redis_server.rs"]
mod redis_server;
mod support;

use mock_upstream::Fault;
use redis_server::RedisServer;
use serde_json::{Value, json};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use support::*;
use switchyard::settings::{Settings, StoreBackend, StoreSettings};
use switchyard::startup::Backends;
use switchyard::store::open_with_env_key;
use switchyard_actors::Platform;

const KEY_HEX: &str = "3f9a1c7e5b2d8046a1e3c5b7d9f20486ac4e6b8d0f1a3c5e7092b4d6f8a1c3e5";

static SERVER: LazyLock<RedisServer> = LazyLock::new(RedisServer::launch);
static NEXT_PREFIX: AtomicU32 = AtomicU32::new(0);

fn fresh_redis() -> StoreSettings {
    StoreSettings {
        backend: StoreBackend::Redis,
        redis_url: SERVER.url(),
        redis_prefix: format!(
            "busy{}-{}:",
            std::process::id(),
            NEXT_PREFIX.fetch_add(1, Ordering::Relaxed)
        ),
        ..StoreSettings::default()
    }
}

async fn open(store: &StoreSettings) -> Backends {
    open_with_env_key(store, Some(KEY_HEX))
        .await
        .expect("store opens")
}

/// On `store`, with a re-check so slow that only a slot notice can wake a waiter in time.
fn on(store: &StoreSettings) -> impl FnOnce(&mut Settings) + use<> {
    let store = store.clone();
    move |s: &mut Settings| {
        let data_dir = s.store.data_dir.clone();
        s.store = store;
        s.store.data_dir = data_dir;
        s.scheduler.wait_recheck_ms = 60_000;
        s.scheduler.slot_wait_ms = 30_000;
        s.relay.idle_timeout_ms = 30_000;
    }
}

fn tagged(tag: &str) -> Value {
    let mut b = claude_body(false);
    b["messages"][0]["content"] = json!(tag);
    b
}

fn send(app: &TestApp, key: &str, body: Value) -> tokio::task::JoinHandle<u16> {
    let req = app
        .http
        .post(app.url("/v1/messages"))
        .header("x-api-key", key)
        .header("anthropic-version", "2023-06-01")
        .json(&body);
    tokio::spawn(async move { req.send().await.expect("request sent").status().as_u16() })
}

fn waiters(app: &TestApp) -> usize {
    app.state.scheduling.waiters(Platform::Claude)
}

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

#[actix_web::test]
async fn waiters_on_redis_are_served_in_arrival_order() {
    let store = fresh_redis();
    let app = spawn_app_on(open(&store).await, on(&store)).await;
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
    assert_eq!(holder.await.unwrap(), 200);
    for w in queued {
        assert_eq!(w.await.unwrap(), 200);
    }
    assert_eq!(
        seen(&app, "sk-ant-a"),
        ["holder", "waiter 1", "waiter 2", "waiter 3"]
    );
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn a_slot_freed_on_one_instance_wakes_a_waiter_on_another() {
    let store = fresh_redis();
    let a = spawn_app_on(open(&store).await, on(&store)).await;
    let account = a
        .add_account(json!({"name": "shared", "api_key": "sk-ant-a", "max_concurrency": 1}))
        .await;
    let key = a.key().await;
    let b = spawn_app_on(open(&store).await, on(&store)).await;
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

    assert_eq!(holder.await.unwrap(), 200);
    let freed = Instant::now();
    assert_eq!(waiter.await.unwrap(), 200);
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

#[actix_web::test]
async fn a_client_that_leaves_while_waiting_leaves_the_queue_on_redis() {
    let store = fresh_redis();
    let app = spawn_app_on(open(&store).await, on(&store)).await;
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
    assert_eq!(
        app.mock.in_flight(),
        1,
        "left while the holder still held the slot"
    );
    assert_eq!(holder.await.unwrap(), 200);
    assert_eq!(app.post_messages(&key, &tagged("next")).await.status(), 200);
    assert_eq!(seen(&app, "sk-ant-a"), ["holder", "next"]);
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn a_failover_waits_for_a_busy_account_on_redis() {
    let store = fresh_redis();
    let app = spawn_app_on(open(&store).await, on(&store)).await;
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
    assert_eq!(holder.await.unwrap(), 200);
    assert_eq!(seen(&app, "sk-ant-b"), ["holder", "moved"]);
    app.assert_slots_released().await;
}
