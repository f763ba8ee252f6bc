//! The whole application over real HTTP on both configured backends — the embedded store in a
//! temp dir and Redis (a real `redis-server`): counters that add up exactly over 1,000
//! concurrent requests, a key's concurrency limit, API keys shared by two instances, keys and
//! usage kept across a restart, and readiness that follows the store.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "support/backend.rs"]
#[allow(unused_macros)]
mod backend;
#[path = "support/redis_server.rs"]
mod redis_server;
mod support;

use backend::{KEY_HEX, fresh_redis, open};
use mock_upstream::MockUsage;
use redis_server::RedisServer;
use reqwest::Method;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::*;
use switchyard::settings::{Settings, StoreBackend, StoreSettings};
use switchyard::startup::Backends;
use switchyard::store::{OpenError, open_with_env_key};

fn embedded_settings(dir: &Path) -> StoreSettings {
    StoreSettings {
        backend: StoreBackend::Embedded,
        data_dir: dir.to_owned(),
        ..StoreSettings::default()
    }
}

fn redis_settings(url: &str, prefix: &str) -> StoreSettings {
    StoreSettings {
        backend: StoreBackend::Redis,
        redis_url: url.to_owned(),
        redis_prefix: prefix.to_owned(),
        ..StoreSettings::default()
    }
}

fn scratch_dir() -> PathBuf {
    tempfile::Builder::new()
        .prefix("e2e-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
        .keep()
}

/// The app settings name the store the backends come from.
fn on(store: &StoreSettings) -> impl FnOnce(&mut Settings) + use<> {
    let store = store.clone();
    move |s: &mut Settings| {
        let data_dir = s.store.data_dir.clone();
        s.store = store;
        if s.store.backend == StoreBackend::Redis {
            s.store.data_dir = data_dir;
        }
    }
}

/// 1,000 in, 500 out, 2,000 written for 5 min, 1,000 for 1 h, 10,000 read from cache:
/// $0.027 per request on claude-sonnet-5.
fn priced_usage() -> MockUsage {
    MockUsage {
        input_tokens: 1_000,
        output_tokens: 500,
        cache_creation_5m: 2_000,
        cache_creation_1h: 1_000,
        cache_read: 10_000,
    }
}

async fn usage_view(app: &TestApp, key: &str) -> Value {
    let resp = app
        .http
        .get(app.url("/v1/usage"))
        .header("x-api-key", key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

async fn post_all(app: &TestApp, key: &str, n: usize, tag: &str) -> Vec<u16> {
    app.post_many(key, n, tag).await
}

/// Checks `GET /v1/usage` after `n` priced requests: lifetime, window and spent counters.
fn assert_usage(v: &Value, n: u64) {
    let dollars = format!("{}.{:06}", n * 27 / 1_000, (n * 27 % 1_000) * 1_000);
    assert_eq!(v["requests"], n, "{v}");
    assert_eq!(v["input_tokens"], n * 1_000);
    assert_eq!(v["output_tokens"], n * 500);
    assert_eq!(v["cache_creation_5m_input_tokens"], n * 2_000);
    assert_eq!(v["cache_creation_1h_input_tokens"], n * 1_000);
    assert_eq!(v["cache_read_input_tokens"], n * 10_000);
    assert_eq!(v["cost_usd"], dollars);
    assert_eq!(v["today"]["usage"]["requests"], n);
    assert_eq!(v["window"]["requests"], n);
    assert_eq!(v["window"]["tokens"], n * 14_500);
    assert_eq!(v["window"]["cost_usd"], dollars);
    assert_eq!(v["spent"]["daily_cost_usd"], dollars);
    assert_eq!(v["spent"]["weekly_cost_usd"], dollars);
    assert_eq!(v["spent"]["total_cost_usd"], dollars);
}

/// `GET /admin/usage` by key, account and model (all time): one row each, `n` requests.
async fn assert_breakdown(app: &TestApp, key_id: &str, n: u64) {
    for by in ["key", "account", "model"] {
        let (status, v) = app
            .admin(Method::GET, &format!("/admin/usage?by={by}&period=total"), None)
            .await;
        assert_eq!(status, 200, "{v}");
        let rows = v["rows"].as_array().expect("rows");
        assert_eq!(rows.len(), 1, "{by}: {v}");
        assert_eq!(rows[0]["requests"], n, "{by}: {v}");
        if by == "key" {
            assert_eq!(rows[0]["id"], key_id);
        }
    }
}

/// 1,000 concurrent requests on one key: every counter adds up exactly. Returns the key.
async fn thousand_requests_add_up(app: &TestApp) -> (String, String) {
    app.add_console("a", "sk-ant-a").await;
    app.mock.set_usage("sk-ant-a", priced_usage());
    let (key_id, key) = app
        .create_key(json!({"limits": {
            "window_minutes": 60, "window_requests": 100000, "daily_cost_usd": 1000,
            "weekly_cost_usd": 1000, "total_cost_usd": 1000
        }}))
        .await;
    let statuses = post_all(app, &key, 1_000, "request").await;
    let failed: Vec<&u16> = statuses.iter().filter(|s| **s != 200).collect();
    assert!(
        failed.is_empty(),
        "{} failed: {:?}",
        failed.len(),
        &failed[..failed.len().min(10)]
    );
    app.state.usage.drain().await.expect("usage drains");
    assert_usage(&usage_view(app, &key).await, 1_000);
    let t = app.wait_for_usage(&key_id, 1_000).await;
    assert_eq!(t.rated_cost.usd_string(), "27.000000");
    assert_eq!(t.cost.picos(), 27_000_000_000_000, "every picodollar");
    assert_breakdown(app, &key_id, 1_000).await;
    app.assert_slots_released().await;
    (key_id, key)
}

#[actix_web::test]
async fn a_thousand_concurrent_requests_add_up_exactly_on_the_embedded_store() {
    let store = embedded_settings(&scratch_dir());
    let app = spawn_app_on(open(&store).await, on(&store)).await;
    thousand_requests_add_up(&app).await;
}

#[actix_web::test]
async fn a_thousand_concurrent_requests_add_up_exactly_on_redis() {
    // 1,000 requests at once on a debug build, sharing the cores with the other tests: an
    // admission may wait over the default second for its answer. What this test checks is
    // the counts, not the latency, so the store gets a bound that load cannot reach.
    let store = StoreSettings {
        redis_op_timeout_ms: 15_000,
        ..fresh_redis()
    };
    let app = spawn_app_on(open(&store).await, on(&store)).await;
    thousand_requests_add_up(&app).await;
}

/// 60 requests queue for a key allowed 3 at a time: sampled from the store, never more than 3.
async fn key_concurrency_holds(app: &TestApp) {
    app.add_console("a", "sk-ant-a").await;
    let (id, key) = app.create_key(json!({"concurrency_limit": 3})).await;
    for _ in 0..60 {
        app.mock
            .enqueue("sk-ant-a", mock_upstream::Fault::Delay { ms: 40 });
    }
    let peak = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (peak, done, state) = (peak.clone(), done.clone(), app.state.clone());
        let holder = format!("key:{id}");
        actix_web::rt::spawn(async move {
            while !done.load(Ordering::SeqCst) {
                let n = state.scheduling.slot_count(&holder).await.unwrap_or(0) as usize;
                peak.fetch_max(n, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
        })
    };
    let statuses = post_all(app, &key, 60, "queued").await;
    done.store(true, Ordering::SeqCst);
    watcher.await.unwrap();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let peak = peak.load(Ordering::SeqCst);
    assert!((1..=3).contains(&peak), "peak {peak} slots for a limit of 3");
    app.assert_slots_released().await;
}

fn with_queue(store: &StoreSettings) -> impl FnOnce(&mut Settings) + use<> {
    let tweak = on(store);
    move |s: &mut Settings| {
        tweak(s);
        s.keys.queue_enabled = true;
        s.keys.queue_max = 100;
        s.keys.queue_timeout_ms = 20_000;
    }
}

#[actix_web::test]
async fn a_key_never_holds_more_than_its_concurrency_limit_on_the_embedded_store() {
    let store = embedded_settings(&scratch_dir());
    let app = spawn_app_on(open(&store).await, with_queue(&store)).await;
    key_concurrency_holds(&app).await;
}

#[actix_web::test]
async fn a_key_never_holds_more_than_its_concurrency_limit_on_redis() {
    let store = fresh_redis();
    let app = spawn_app_on(open(&store).await, with_queue(&store)).await;
    key_concurrency_holds(&app).await;
}

async fn status_of(app: &TestApp, key: &str) -> u16 {
    app.post_messages(key, &claude_body(false))
        .await
        .status()
        .as_u16()
}

/// Waits until `key` gets `want` from `app` (the other instance's cache follows the keys
/// version, checked every second).
async fn eventually_status(app: &TestApp, key: &str, want: u16) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let got = status_of(app, key).await;
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "still {got}, want {want}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[actix_web::test]
async fn keys_written_on_one_instance_take_effect_on_another() {
    let store = fresh_redis();
    let a = spawn_app_on(open(&store).await, on(&store)).await;
    a.add_console("a", "sk-ant-a").await;
    a.mock.set_usage("sk-ant-a", priced_usage());
    let b = spawn_app_on(open(&store).await, on(&store)).await;
    let (id, key) = a
        .create_key(json!({"limits": {"window_minutes": 60, "window_requests": 5}}))
        .await;
    assert_eq!(
        status_of(&b, &key).await,
        200,
        "a key created on A authenticates on B"
    );
    assert_eq!(status_of(&a, &key).await, 200);

    // Usage and the shared window add up across instances.
    for app in [&a, &b] {
        app.state.usage.drain().await.unwrap();
    }
    for app in [&a, &b] {
        let v = usage_view(app, &key).await;
        assert_eq!(
            (v["requests"].as_u64(), v["window"]["requests"].as_u64()),
            (Some(2), Some(2))
        );
        assert_eq!(v["cost_usd"], "0.054000");
    }
    for _ in 0..3 {
        assert_eq!(status_of(&a, &key).await, 200);
    }
    assert_eq!(
        status_of(&b, &key).await,
        429,
        "the window is shared: 5 requests in all"
    );

    // B has the key cached; A disables it: B follows the keys version.
    let (status, _) = a
        .admin(
            Method::PATCH,
            &format!("/admin/keys/{id}"),
            Some(json!({"active": false})),
        )
        .await;
    assert_eq!(status, 200);
    eventually_status(&b, &key, 401).await;
    let (status, _) = a
        .admin(
            Method::PATCH,
            &format!("/admin/keys/{id}"),
            Some(json!({"active": true})),
        )
        .await;
    assert_eq!(status, 200);
    eventually_status(&b, &key, 429).await;

    let (status, _) = a.admin(Method::DELETE, &format!("/admin/keys/{id}"), None).await;
    assert_eq!(status, 204);
    eventually_status(&b, &key, 401).await;
    let (status, listed) = b.admin(Method::GET, "/admin/keys", None).await;
    assert_eq!(status, 200);
    assert_eq!(listed["keys"], json!([]), "{listed}");
}

/// The ways an operator takes a key away through the admin API.
#[derive(Clone, Copy, Debug)]
enum Withdrawal {
    Revoke,
    Disable,
    ExpireByPatch,
}

impl Withdrawal {
    const ALL: [Withdrawal; 3] = [Withdrawal::Revoke, Withdrawal::Disable, Withdrawal::ExpireByPatch];

    async fn apply(self, app: &TestApp, id: &str) {
        let path = format!("/admin/keys/{id}");
        let expired = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
            - 1_000;
        let (status, v) = match self {
            Withdrawal::Revoke => app.admin(Method::DELETE, &path, None).await,
            Withdrawal::Disable => {
                app.admin(Method::PATCH, &path, Some(json!({"active": false})))
                    .await
            }
            Withdrawal::ExpireByPatch => {
                app.admin(Method::PATCH, &path, Some(json!({"expires_at": expired})))
                    .await
            }
        };
        let want = if matches!(self, Withdrawal::Revoke) {
            204
        } else {
            200
        };
        assert_eq!(status, want, "{self:?}: {v}");
    }

    /// What the refusal's message says.
    fn reason(self) -> &'static str {
        match self {
            Withdrawal::Revoke => "not found",
            Withdrawal::Disable => "disabled",
            Withdrawal::ExpireByPatch => "expired",
        }
    }
}

/// The relayed API families, each refusing in its own error format.
#[derive(Clone, Copy, Debug)]
enum Family {
    Claude,
    Gemini,
    OpenAi,
}

impl Family {
    const ALL: [Family; 3] = [Family::Claude, Family::Gemini, Family::OpenAi];

    /// Accounts that serve every family.
    async fn add_accounts(app: &TestApp) {
        app.add_console("a", "sk-ant-a").await;
        app.add_account(json!({"name": "g", "kind": "gemini-api", "base_url": null, "api_key": "AIza-g"}))
            .await;
        app.add_account(json!({
            "name": "r", "kind": "openai-responses",
            "base_url": format!("{}/v1", app.mock.url()), "api_key": "sk-r",
        }))
        .await;
    }

    async fn send(self, app: &TestApp, key: &str) -> reqwest::Response {
        let (path, body) = match self {
            Family::Claude => ("/v1/messages", claude_body(false)),
            Family::Gemini => (
                "/gemini/v1beta/models/gemini-2.5-flash:generateContent",
                json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
            ),
            Family::OpenAi => ("/openai/v1/responses", json!({"model": "gpt-5", "input": "hi"})),
        };
        app.http
            .post(app.url(path))
            .header("x-api-key", key)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Asserts `resp` is a 401 in this family's error format whose message names `reason`.
    async fn assert_refused(self, resp: reqwest::Response, reason: &str) {
        assert_eq!(resp.status(), 401, "{self:?}");
        let v: Value = resp.json().await.unwrap();
        let kind = match self {
            Family::Claude => {
                assert_eq!(v["type"], "error", "{v}");
                &v["error"]["type"]
            }
            Family::Gemini => {
                assert_eq!(v["error"]["code"], 401, "{v}");
                &v["error"]["status"]
            }
            Family::OpenAi => &v["error"]["type"],
        };
        let want = match self {
            Family::Gemini => "UNAUTHENTICATED",
            Family::Claude | Family::OpenAi => "authentication_error",
        };
        assert_eq!(kind, want, "{self:?}: {v}");
        let message = v["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(reason), "{self:?}: {v}");
    }
}

/// A key served (so its record is cached) and then revoked, disabled or expired through the
/// admin API is refused on the very next request, in the format of the route it came to. No
/// sleep in between: the periodic key sync must not be what refuses it.
async fn a_used_key_is_refused_on_the_very_next_request(app: &TestApp) {
    Family::add_accounts(app).await;
    for how in Withdrawal::ALL {
        for family in Family::ALL {
            let (id, key) = app.create_key(json!({})).await;
            // The first look-up fills the cache; the second is answered from it.
            for _ in 0..2 {
                assert_eq!(family.send(app, &key).await.status(), 200, "{how:?} {family:?}");
            }
            how.apply(app, &id).await;
            family
                .assert_refused(family.send(app, &key).await, how.reason())
                .await;
        }
    }
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn a_used_key_is_refused_at_once_after_a_withdrawal_on_the_embedded_store() {
    let store = embedded_settings(&scratch_dir());
    let app = spawn_app_on(open(&store).await, on(&store)).await;
    a_used_key_is_refused_on_the_very_next_request(&app).await;
}

#[actix_web::test]
async fn a_used_key_is_refused_at_once_after_a_withdrawal_on_redis() {
    let store = fresh_redis();
    let app = spawn_app_on(open(&store).await, on(&store)).await;
    a_used_key_is_refused_on_the_very_next_request(&app).await;
}

#[actix_web::test]
async fn a_key_withdrawn_on_one_instance_is_refused_by_another_that_served_it() {
    let store = fresh_redis();
    let a = spawn_app_on(open(&store).await, on(&store)).await;
    a.add_console("a", "sk-ant-a").await;
    // Started after the account exists, so B loads it at start-up.
    let b = spawn_app_on(open(&store).await, on(&store)).await;
    for how in Withdrawal::ALL {
        let (id, key) = a.create_key(json!({})).await;
        // B serves it (and caches it) before the withdrawal.
        for _ in 0..2 {
            assert_eq!(status_of(&b, &key).await, 200, "{how:?}");
        }
        how.apply(&a, &id).await;
        Family::Claude
            .assert_refused(Family::Claude.send(&a, &key).await, how.reason())
            .await;
        // B learns of it from the keys version it checks every second; the deadline leaves
        // a loaded machine room for a few late ticks.
        eventually_status(&b, &key, 401).await;
        Family::Claude
            .assert_refused(Family::Claude.send(&b, &key).await, how.reason())
            .await;
    }
}

/// Opens the embedded store once the previous owner let go of its file lock.
async fn reopen(store: &StoreSettings) -> Backends {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match open_with_env_key(store, Some(KEY_HEX)).await {
            Ok(b) => return b,
            Err(OpenError::DataDirInUse { .. }) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("the embedded store does not reopen: {e}"),
        }
    }
}

#[actix_web::test]
async fn the_embedded_store_keeps_keys_usage_and_limits_across_a_restart() {
    let store = embedded_settings(&scratch_dir());
    let (first, thread) = spawn_app_on_thread(open(&store).await, on(&store));
    let (key_id, key) = thousand_requests_add_up(&first).await;
    // What `serve` does at a clean stop: apply settlements, flush usage and last-used times.
    first.state.usage.drain().await.unwrap();
    first.state.keys.sync().await;
    // Keep the upstream the stored account points at; drop the rest (its state holds the store).
    let TestApp { mock, state, .. } = first;
    drop(state);
    thread.stop().await;

    let second = spawn_app_on(reopen(&store).await, on(&store)).await;
    let (status, listed) = second.admin(Method::GET, "/admin/keys", None).await;
    assert_eq!(status, 200);
    assert_eq!(listed["keys"][0]["id"], key_id.as_str(), "{listed}");
    assert_usage(&usage_view(&second, &key).await, 1_000);
    assert_breakdown(&second, &key_id, 1_000).await;

    // And it keeps counting from there.
    mock.set_usage("sk-ant-a", priced_usage());
    assert_eq!(status_of(&second, &key).await, 200);
    second.state.usage.drain().await.unwrap();
    assert_usage(&usage_view(&second, &key).await, 1_001);
}

async fn ready_status(app: &TestApp) -> u16 {
    app.http
        .get(app.url("/ready"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn eventually_ready(app: &TestApp, want: u16) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let got = ready_status(app).await;
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "/ready still {got}, want {want}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[actix_web::test]
async fn readiness_follows_redis_down_and_back() {
    // Its own server: stopping it must not disturb the other tests.
    let mut server = RedisServer::launch();
    let store = redis_settings(&server.url(), "ready:");
    let app = spawn_app_on(open(&store).await, on(&store)).await;
    assert_eq!(ready_status(&app).await, 200);
    server.stop();
    let started = Instant::now();
    eventually_ready(&app, 503).await;
    let resp = app.http.get(app.url("/ready")).send().await.unwrap();
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["components"]["store"]["ok"], false, "{v}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "noticed in {:?}",
        started.elapsed()
    );
    server.start();
    eventually_ready(&app, 200).await;
}
