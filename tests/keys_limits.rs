//! Per-key limits, usage and cost over real HTTP: every limit and its error, expiry modes,
//! hand-computed costs, the self-service usage view and the admin usage report.
mod support;

use mock_upstream::MockUsage;
use reqwest::Method;
use serde_json::{Value, json};
use support::*;

async fn settled(app: &TestApp) {
    app.state.usage.drain().await.expect("usage drains");
}

async fn usage_of(app: &TestApp, key: &str) -> Value {
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

/// 1,000 in, 500 out, 2,000 written for 5 min, 1,000 for 1 h, 10,000 read from cache.
fn priced_usage() -> MockUsage {
    MockUsage {
        input_tokens: 1_000,
        output_tokens: 500,
        cache_creation_5m: 2_000,
        cache_creation_1h: 1_000,
        cache_read: 10_000,
    }
}

#[actix_web::test]
async fn the_request_window_refuses_with_429_and_a_reset_time() {
    let app = spawn_app().await;
    app.add_console("a", "sk-ant-a").await;
    let (_, key) = app
        .create_key(json!({"limits": {"window_minutes": 1, "window_requests": 2}}))
        .await;
    for _ in 0..2 {
        assert_eq!(app.post_messages(&key, &claude_body(false)).await.status(), 200);
    }
    let resp = app.post_messages(&key, &claude_body(false)).await;
    assert_eq!(resp.status(), 429);
    let retry: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((55..=60).contains(&retry), "retry-after {retry}");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "rate_limit_error");
    assert_eq!(
        (v["currentRequests"].as_u64(), v["requestLimit"].as_u64()),
        (Some(2), Some(2))
    );
    assert!(v["resetAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(app.mock.requests().len(), 2, "a refused request uses no account");
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn the_token_window_counts_every_token_class() {
    let app = spawn_app().await;
    app.add_console("a", "sk-ant-a").await;
    let (_, key) = app
        .create_key(json!({"limits": {"window_minutes": 5, "window_tokens": 40}}))
        .await;
    assert_eq!(app.post_messages(&key, &claude_body(false)).await.status(), 200); // 37 tokens
    settled(&app).await;
    assert_eq!(app.post_messages(&key, &claude_body(false)).await.status(), 200); // 37 < 40 before it
    settled(&app).await;
    let resp = app.post_messages(&key, &claude_body(false)).await;
    assert_eq!(resp.status(), 429);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        (v["currentTokens"].as_u64(), v["tokenLimit"].as_u64()),
        (Some(74), Some(40))
    );
}

#[actix_web::test]
async fn the_cost_window_and_the_cost_limits_refuse_in_order() {
    let app = spawn_app().await;
    app.add_console("a", "sk-ant-a").await;
    app.mock.set_usage("sk-ant-a", priced_usage()); // $0.027 per request on claude-sonnet-5
    let (_, window) = app
        .create_key(json!({"limits": {"window_minutes": 10, "window_cost_usd": "0.05"}}))
        .await;
    for expected in [200, 200, 429] {
        assert_eq!(
            app.post_messages(&window, &claude_body(false)).await.status(),
            expected
        );
        settled(&app).await;
    }
    let (_, daily) = app.create_key(json!({"limits": {"daily_cost_usd": 0.03}})).await;
    for expected in [200, 200, 402] {
        let resp = app.post_messages(&daily, &claude_body(false)).await;
        assert_eq!(resp.status(), expected);
        if expected == 402 {
            let v: Value = resp.json().await.unwrap();
            assert_eq!(v["error"]["type"], "insufficient_quota");
            assert_eq!(v["error"]["code"], "daily_cost_limit_exceeded");
            assert_eq!(
                (v["currentCost"].as_str(), v["costLimit"].as_str()),
                (Some("0.054000"), Some("0.030000"))
            );
            assert!(
                v["resetAt"].as_str().unwrap().ends_with("T00:00:00Z"),
                "next UTC midnight: {v}"
            );
        }
        settled(&app).await;
    }
    let (_, total) = app
        .create_key(json!({"limits": {"total_cost_usd": "0.027"}}))
        .await;
    assert_eq!(app.post_messages(&total, &claude_body(false)).await.status(), 200);
    settled(&app).await;
    let resp = app.post_messages(&total, &claude_body(false)).await;
    assert_eq!(resp.status(), 402);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "total_cost_limit_exceeded");
    assert!(v["resetAt"].is_null(), "a total limit never resets");
    let (_, weekly) = app
        .create_key(
            json!({"limits": {"weekly_cost_usd": "0.01", "weekly_reset_day": 3, "weekly_reset_hour": 6}}),
        )
        .await;
    assert_eq!(
        app.post_messages(&weekly, &claude_body(false)).await.status(),
        200
    );
    settled(&app).await;
    let resp = app.post_messages(&weekly, &claude_body(false)).await;
    assert_eq!(resp.status(), 402);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "weekly_cost_limit_exceeded");
    assert!(v["resetAt"].as_str().unwrap().ends_with("T06:00:00Z"), "{v}");
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn costs_match_a_hand_computation_for_every_token_class() {
    let app = spawn_app().await;
    app.add_console("a", "sk-ant-a").await;
    app.mock.set_usage("sk-ant-a", priced_usage());
    let (key_id, key) = app.create_key(json!({})).await;
    let (doubled_id, doubled) = app.create_key(json!({"cost_multiplier": 2})).await;
    // JSON answer, then a stream whose usage arrives in message_start + message_delta.
    assert_eq!(app.post_messages(&key, &claude_body(false)).await.status(), 200);
    let text = app
        .post_messages(&key, &claude_body(true))
        .await
        .text()
        .await
        .unwrap();
    assert!(text.contains("message_delta"));
    app.post_messages(&doubled, &claude_body(false)).await;
    settled(&app).await;
    // 1000 × $3/M + 500 × $15/M + 2000 × $3.75/M + 1000 × $6/M + 10000 × $0.30/M = $0.027
    let v = usage_of(&app, &key).await;
    assert_eq!(v["requests"], 2);
    assert_eq!(v["input_tokens"], 2_000);
    assert_eq!(v["output_tokens"], 1_000);
    assert_eq!(v["cache_creation_input_tokens"], 6_000);
    assert_eq!(v["cache_creation_1h_input_tokens"], 2_000);
    assert_eq!(v["cache_read_input_tokens"], 20_000);
    assert_eq!(v["cost_usd"], "0.054000");
    assert_eq!(v["today"]["usage"]["cost_usd"], "0.054000");
    assert_eq!(v["spent"]["total_cost_usd"], "0.054000");
    let d = usage_of(&app, &doubled).await;
    assert_eq!(d["cost_usd"], "0.054000", "one request at ×2");
    let (_, report) = app
        .admin(Method::GET, "/admin/usage?by=key&period=total", None)
        .await;
    let rows = report["rows"].as_array().unwrap();
    let row = |id: &str| rows.iter().find(|r| r["id"] == id).unwrap().clone();
    assert_eq!(row(&key_id)["real_cost_usd"], "0.054000");
    assert_eq!(row(&doubled_id)["real_cost_usd"], "0.027000");
    assert_eq!(row(&doubled_id)["rated_cost_usd"], "0.054000");
    let (_, by_model) = app
        .admin(Method::GET, "/admin/usage?by=model&period=day", None)
        .await;
    assert_eq!(by_model["rows"][0]["id"], "claude-sonnet-5");
    assert_eq!(by_model["rows"][0]["requests"], 3);
    assert_eq!(by_model["rows"][0]["real_cost_usd"], "0.081000");
    let (_, by_account) = app
        .admin(Method::GET, "/admin/usage?by=account&period=month", None)
        .await;
    assert_eq!(by_account["rows"][0]["requests"], 3);
    let (status, _) = app.admin(Method::GET, "/admin/usage?by=planet", None).await;
    assert_eq!(status, 400);
    let (status, _) = app.admin(Method::GET, "/admin/usage?period=year", None).await;
    assert_eq!(status, 400);
    let (_, recent) = app
        .admin(Method::GET, &format!("/admin/keys/{key_id}/requests"), None)
        .await;
    assert_eq!(recent["requests"].as_array().unwrap().len(), 2);
    assert_eq!(recent["requests"][0]["cost_usd"], "0.027000");
}

#[actix_web::test]
async fn the_usage_view_reports_limits_and_what_remains() {
    let app = spawn_app().await;
    app.add_console("a", "sk-ant-a").await;
    app.mock.set_usage("sk-ant-a", priced_usage());
    let (_, key) = app
        .create_key(json!({"concurrency_limit": 4, "limits": {
            "window_minutes": 60, "window_requests": 10, "daily_cost_usd": "1", "total_cost_usd": "5"}}))
        .await;
    app.post_messages(&key, &claude_body(false)).await;
    settled(&app).await;
    for prefix in ["", "/api", "/claude"] {
        let v: Value = app
            .http
            .get(app.url(&format!("{prefix}/v1/usage")))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["window"]["requests"], 1);
        assert_eq!(v["window"]["remaining"]["requests"], 9);
        assert_eq!(v["window"]["cost_usd"], "0.027000");
        assert_eq!(v["limits"]["concurrency"], 4);
        assert_eq!(v["remaining"]["daily_cost_usd"], "0.973000");
        assert_eq!(v["remaining"]["total_cost_usd"], "4.973000");
        assert!(v["remaining"]["weekly_cost_usd"].is_null(), "no weekly limit");
    }
    let resp = app.http.get(app.url("/v1/usage")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let resp = app
        .http
        .get(app.url("/v1/usage"))
        .header("x-api-key", format!("cr_{}", "1".repeat(64)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

#[actix_web::test]
async fn blocked_models_and_client_restrictions_are_403() {
    let app = spawn_app().await;
    app.add_console("a", "sk-ant-a").await;
    let (_, key) = app
        .create_key(json!({"blocked_models": ["anthropic/claude-opus-4-8"]}))
        .await;
    let mut opus = claude_body(false);
    opus["model"] = json!("claude-opus-4-8");
    let resp = app.post_messages(&key, &opus).await;
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.json::<Value>().await.unwrap()["error"]["type"], "forbidden");
    assert_eq!(
        app.post_messages(&key, &claude_body(false)).await.status(),
        200,
        "other models pass"
    );

    let (_, cc_only) = app.create_key(json!({"allowed_clients": ["claude_code"]})).await;
    let resp = app.post_messages(&cc_only, &claude_body(false)).await;
    assert_eq!(resp.status(), 403);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["allowedClients"], json!(["claude_code"]));
    let resp = app
        .http
        .post(app.url("/v1/messages"))
        .header("x-api-key", &cc_only)
        .header("user-agent", "claude-cli/2.1.197 (external, sdk-cli)")
        .json(&claude_body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[actix_web::test]
async fn keys_expire_on_a_date_or_days_after_first_use() {
    let app = spawn_app().await;
    app.add_console("a", "sk-ant-a").await;
    let (id, key) = app.create_key(json!({"activation_days": 3})).await;
    let (_, before) = app.admin(Method::GET, &format!("/admin/keys/{id}"), None).await;
    assert!(before["expires_at"].is_null() && before["activated_at"].is_null());
    let t0 = now();
    assert_eq!(app.post_messages(&key, &claude_body(false)).await.status(), 200);
    let (_, after) = app.admin(Method::GET, &format!("/admin/keys/{id}"), None).await;
    let expires = after["expires_at"].as_i64().unwrap();
    assert!(
        (t0 + 3 * 86_400_000..=now() + 3 * 86_400_000).contains(&expires),
        "{after}"
    );
    // Expire it by hand: the next request is refused at once.
    app.admin(
        Method::PATCH,
        &format!("/admin/keys/{id}"),
        Some(json!({"expires_at": now() - 1})),
    )
    .await;
    let resp = app.post_messages(&key, &claude_body(false)).await;
    assert_eq!(resp.status(), 401);
    assert!(
        resp.json::<Value>().await.unwrap()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
}

#[actix_web::test]
async fn bad_key_settings_are_refused_with_400() {
    let app = spawn_app().await;
    for body in [
        json!({"name": "x", "limits": {"daily_cost_usd": "-1"}}),
        json!({"name": "x", "limits": {"daily_cost_usd": "ten"}}),
        json!({"name": "x", "limits": {"window_requests": 5}}),
        json!({"name": "x", "limits": {"weekly_reset_day": 9}}),
        json!({"name": "x", "allowed_clients": ["netscape"]}),
        json!({"name": "x", "cost_multiplier": "-2"}),
        json!({"name": "x", "unknown_field": 1}),
        json!({"name": ""}),
        json!({"name": "x", "bindings": {"claude": "no-such-account"}}),
    ] {
        let (status, v) = app.admin(Method::POST, "/admin/keys", Some(body.clone())).await;
        assert_eq!(status, 400, "{body} → {v}");
        assert!(v["error"]["message"].is_string());
    }
}

#[actix_web::test]
async fn counters_add_up_exactly_over_a_thousand_concurrent_requests() {
    let app = spawn_app().await;
    app.add_console("a", "sk-ant-a").await;
    app.mock.set_usage("sk-ant-a", priced_usage());
    let (key_id, key) = app
        .create_key(json!({"limits": {"window_minutes": 60, "window_requests": 100000}}))
        .await;
    let results = app.post_many(&key, 1_000, "request").await;
    assert!(
        results.iter().all(|s| *s == 200),
        "{} failed",
        results.iter().filter(|s| **s != 200).count()
    );
    settled(&app).await;
    let v = usage_of(&app, &key).await;
    assert_eq!(v["requests"], 1_000);
    assert_eq!(v["input_tokens"], 1_000_000);
    assert_eq!(v["cost_usd"], "27.000000");
    assert_eq!(v["window"]["requests"], 1_000);
    assert_eq!(v["window"]["tokens"], 14_500_000);
    assert_eq!(v["window"]["cost_usd"], "27.000000");
    assert_eq!(v["spent"]["total_cost_usd"], "27.000000");
    let t = app.wait_for_usage(&key_id, 1_000).await;
    assert_eq!(t.cost.usd_string(), "27.000000");
    app.assert_slots_released().await;
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Holds `n` slow streams of `key` open; returns them (drop to end them).
async fn hold_streams(app: &TestApp, key: &str, n: usize) -> Vec<reqwest::Response> {
    let mut held = Vec::new();
    for i in 0..n {
        app.mock
            .enqueue("sk-ant-a", mock_upstream::Fault::SlowStream { ms: 300 });
        let mut body = claude_body(true);
        body["messages"][0]["content"] = json!(format!("held {i}"));
        let resp = app.post_messages(key, &body).await;
        assert_eq!(resp.status(), 200);
        held.push(resp);
    }
    held
}

#[actix_web::test]
async fn over_the_concurrency_limit_without_a_queue_is_429_at_once() {
    let app = spawn_app().await;
    app.add_console("a", "sk-ant-a").await;
    let (id, key) = app.create_key(json!({"concurrency_limit": 2})).await;
    let held = hold_streams(&app, &key, 2).await;
    assert_eq!(
        app.state
            .scheduling
            .slot_count(&format!("key:{id}"))
            .await
            .unwrap(),
        2
    );
    let resp = app.post_messages(&key, &claude_body(false)).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "1");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        (v["error"]["code"].as_str(), v["concurrencyLimit"].as_u64()),
        (Some("concurrency_limit_exceeded"), Some(2))
    );
    // Token counting does not take a slot.
    let count = app
        .http
        .post(app.url("/v1/messages/count_tokens"))
        .header("x-api-key", &key)
        .json(&json!({"model": "claude-sonnet-5", "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(count.status(), 200);
    for r in held {
        r.bytes().await.unwrap();
    }
    app.assert_slots_released().await;
    assert_eq!(app.post_messages(&key, &claude_body(false)).await.status(), 200);
}

#[actix_web::test]
async fn queued_requests_never_exceed_the_key_limit_and_all_get_served() {
    let app = spawn_app_with(|s| {
        s.keys.queue_enabled = true;
        s.keys.queue_max = 100;
        s.keys.queue_timeout_ms = 20_000;
    })
    .await;
    app.add_console("a", "sk-ant-a").await;
    let (id, key) = app.create_key(json!({"concurrency_limit": 3})).await;
    for _ in 0..60 {
        app.mock
            .enqueue("sk-ant-a", mock_upstream::Fault::Delay { ms: 40 });
    }
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (peak, done, mock_url) = (peak.clone(), done.clone(), app.mock.url());
        let _ = mock_url;
        let state = app.state.clone();
        let holder = format!("key:{id}");
        actix_web::rt::spawn(async move {
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                let n = state.scheduling.slot_count(&holder).await.unwrap_or(0) as usize;
                peak.fetch_max(n, std::sync::atomic::Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(3)).await;
            }
        })
    };
    let statuses = futures::future::join_all((0..60).map(|i| {
        let mut b = claude_body(false);
        b["messages"][0]["content"] = json!(format!("queued {i}"));
        let (app, key) = (&app, &key);
        async move { app.post_messages(key, &b).await.status().as_u16() }
    }))
    .await;
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    watcher.await.unwrap();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let peak = peak.load(std::sync::atomic::Ordering::SeqCst);
    assert!((1..=3).contains(&peak), "peak {peak} slots for a limit of 3");
    assert_eq!(
        app.state.key_queues.waiting(&id),
        0,
        "the queue counter is back to zero"
    );
    app.assert_slots_released().await;
}

/// Holds one of `key`'s slots with a request the upstream never answers (the app must run with
/// an idle timeout longer than the test) until the returned task is aborted, which closes its
/// connection and so frees the slot.
async fn hold_a_slot(app: &TestApp, id: &str, key: &str) -> actix_web::rt::task::JoinHandle<()> {
    app.mock.enqueue("sk-ant-a", mock_upstream::Fault::Hang);
    let held = send_in_background(app, key);
    let holder = format!("key:{id}");
    eventually(&format!("{holder} holds a slot"), async || {
        app.state.scheduling.slot_count(&holder).await.unwrap() == 1
    })
    .await;
    held
}

/// A `/v1/messages` request sent from a task of its own; dropping or aborting the task closes
/// its connection.
fn send_in_background(app: &TestApp, key: &str) -> actix_web::rt::task::JoinHandle<()> {
    let req = app
        .http
        .post(app.url("/v1/messages"))
        .header("x-api-key", key)
        .json(&claude_body(false));
    actix_web::rt::spawn(async move {
        let _ = req.send().await;
    })
}

/// Polls `ready` every 10 ms until it holds; fails after 10 s (a loaded machine's worth of
/// slack: the conditions this waits for take milliseconds).
async fn eventually(what: &str, mut ready: impl AsyncFnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !ready().await {
        assert!(std::time::Instant::now() < deadline, "{what}: not after 10 s");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

#[actix_web::test]
async fn the_queue_times_out_and_fills_up() {
    // 2 s of queueing: long enough that the second request of the "full" case surely arrives
    // while the first still waits, even on a loaded machine; short enough for a quick test.
    const QUEUE_TIMEOUT_MS: u64 = 2_000;
    let app = spawn_app_with(|s| {
        s.keys.queue_enabled = true;
        s.keys.queue_max = 1;
        s.keys.queue_timeout_ms = QUEUE_TIMEOUT_MS;
        s.relay.idle_timeout_ms = 120_000;
        // The slot holder is let go by closing its client: cut the upstream call then (read on,
        // the never-answered call would hold the slot for the idle timeout).
        s.relay.drain_after_disconnect_ms = 0;
    })
    .await;
    app.add_console("a", "sk-ant-a").await;
    let (id, key) = app.create_key(json!({"concurrency_limit": 1})).await;
    let held = hold_a_slot(&app, &id, &key).await;
    // One waits and times out, not before its time.
    let t0 = std::time::Instant::now();
    let resp = app.post_messages(&key, &claude_body(false)).await;
    assert_eq!(resp.status(), 429);
    assert!(t0.elapsed() >= std::time::Duration::from_millis(QUEUE_TIMEOUT_MS));
    assert_eq!(resp.headers()["retry-after"], "5");
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["code"],
        "concurrency_queue_timeout"
    );
    // While one waits, the next finds the queue full.
    let waiting = {
        let (app_url, key) = (app.url("/v1/messages"), key.clone());
        actix_web::rt::spawn(async move {
            reqwest::Client::new()
                .post(app_url)
                .header("x-api-key", key)
                .json(&claude_body(false))
                .send()
                .await
                .map(|r| r.status().as_u16())
        })
    };
    eventually("one request queued", async || {
        app.state.key_queues.waiting(&id) == 1
    })
    .await;
    let full = app.post_messages(&key, &claude_body(false)).await;
    assert_eq!(full.status(), 429);
    assert_eq!(
        full.json::<Value>().await.unwrap()["error"]["code"],
        "concurrency_queue_full"
    );
    assert_eq!(waiting.await.unwrap().unwrap(), 429, "the waiting one timed out");
    assert_eq!(app.state.key_queues.waiting(&id), 0);
    held.abort();
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn a_client_that_leaves_the_queue_is_forgotten_long_before_its_timeout() {
    const QUEUE_TIMEOUT_MS: u64 = 60_000;
    let app = spawn_app_with(|s| {
        s.keys.queue_enabled = true;
        s.keys.queue_max = 1;
        s.keys.queue_timeout_ms = QUEUE_TIMEOUT_MS;
        s.relay.idle_timeout_ms = 120_000;
        // The slot holder is let go by closing its client: cut the upstream call then (read on,
        // the never-answered call would hold the slot for the idle timeout).
        s.relay.drain_after_disconnect_ms = 0;
    })
    .await;
    app.add_console("a", "sk-ant-a").await;
    let (id, key) = app.create_key(json!({"concurrency_limit": 1})).await;
    let held = hold_a_slot(&app, &id, &key).await;
    let impatient = send_in_background(&app, &key);
    eventually("the impatient request queued", async || {
        app.state.key_queues.waiting(&id) == 1
    })
    .await;
    impatient.abort();
    // The deadline of `eventually` (10 s) is far below the queue timeout (60 s): only noticing
    // the departure empties the queue in time.
    eventually("the departed client leaves the queue", async || {
        app.state.key_queues.waiting(&id) == 0
    })
    .await;
    // Its place is free: the next request queues instead of finding the queue full.
    let next = send_in_background(&app, &key);
    eventually("the next request queued", async || {
        app.state.key_queues.waiting(&id) == 1
    })
    .await;
    next.abort();
    held.abort();
    app.assert_slots_released().await;
    eventually("the queue is empty", async || {
        app.state.key_queues.waiting(&id) == 0
    })
    .await;
}
