//! The Claude relay end to end: real HTTP to switchyard on 127.0.0.1, a mock Anthropic
//! upstream behind it.
mod support;

use futures::StreamExt;
use mock_upstream::{Fault, MockUsage};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::*;

#[actix_web::test]
async fn a_json_answer_is_relayed_with_usage_recorded() {
    let app = spawn_app().await;
    app.add_console("a", "sk-ant-a").await;
    let (key_id, key) = app.create_key(json!({})).await;
    let resp = app.post_messages(&key, &claude_body(false)).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["type"], "message");
    assert_eq!(body["model"], "claude-sonnet-5");
    let usage = app.wait_for_usage(&key_id, 1).await;
    assert_eq!((usage.input_tokens, usage.output_tokens), (25, 12));
    let seen = app.mock.requests_for("sk-ant-a");
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/v1/messages");
    assert_eq!(
        seen[0].header("x-api-key"),
        Some("sk-ant-a"),
        "sk-ant- keys go in x-api-key"
    );
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn client_credentials_and_cookies_never_reach_the_upstream() {
    let app = spawn_app().await;
    app.add_console("a", "console-key-not-sk-ant").await;
    let key = app.key().await;
    let resp = app
        .http
        .post(app.url("/claude/v1/messages?beta=true"))
        .header("authorization", format!("Bearer {key}"))
        .header("cookie", "session=abc")
        .header("x-stainless-os", "Linux")
        .header("anthropic-beta", "context-1m-2025-08-07")
        .header("x-unknown-header", "dropped")
        .json(&claude_body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let r = &app.mock.requests()[0];
    assert_eq!(r.query, "beta=true", "query strings pass through");
    assert_eq!(
        r.header("authorization"),
        Some("Bearer console-key-not-sk-ant"),
        "other keys go as Bearer"
    );
    assert_eq!(r.header("x-stainless-os"), Some("Linux"));
    assert_eq!(r.header("anthropic-beta"), Some("context-1m-2025-08-07"));
    assert_eq!(
        r.header("anthropic-version"),
        Some("2023-06-01"),
        "a default version is added"
    );
    assert!(r.header("cookie").is_none() && r.header("x-unknown-header").is_none());
    assert!(
        r.headers.iter().all(|(_, v)| !v.contains(&key)),
        "the switchyard key never goes upstream"
    );
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn the_client_key_never_reaches_the_upstream_wherever_the_client_put_it() {
    let app = spawn_app().await;
    app.add_console("a", "sk-ant-a").await;
    let key = app.key().await;
    for path in ["/v1/messages?beta=true", "/v1/messages/count_tokens?beta=true"] {
        for place in KeyPlace::ALL {
            let resp = place
                .post(&app, path, &key, claude_body(false).to_string())
                .header("anthropic-version", "2023-06-01")
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200, "{path} with the key in {place:?}");
            let r = app.mock.requests().last().unwrap().clone();
            assert_eq!(
                r.query, "beta=true",
                "{path}, {place:?}: the rest of the query is kept"
            );
            assert_client_key_withheld(&r, &key, ("x-api-key", "sk-ant-a"));
        }
    }
    assert_eq!(app.mock.requests().len(), 10);
    app.assert_slots_released().await;
}

/// A valid but unusual JSON body: odd whitespace and key order, escapes a re-serialiser would
/// rewrite (`\u00e9`, a surrogate pair, `\/`), numbers beyond `u64` and `f64` precision, a
/// trailing newline.
const ODD_CLAUDE_BODY: &str = concat!(
    "{ \"messages\" :[ {\"content\":\"caf\\u00e9 \\ud83d\\ude00 a\\/b \\\"q\\\"\",\"role\":\"user\"} ],\n",
    "\t\"model\":\"claude-sonnet-5\" , \"max_tokens\":64,\r\n",
    "  \"metadata\": {\"user_id\": \"u-1\", \"n\": 123456789012345678901234567890, \"x\": 0.10000000000000000000001, \"e\": 1E+2},",
    "\"temperature\" : 0.70 ,\"stream\":false}\n"
);

#[actix_web::test]
async fn the_upstream_gets_the_clients_body_byte_for_byte() {
    let app = spawn_app().await;
    app.add_console("a", "sk-ant-a").await;
    let key = app.key().await;
    let stream_body = ODD_CLAUDE_BODY.replace("\"stream\":false", "\"stream\" : true");
    for (path, body) in [
        ("/v1/messages", ODD_CLAUDE_BODY.to_owned()),
        ("/api/v1/messages", stream_body),
        ("/v1/messages/count_tokens", ODD_CLAUDE_BODY.to_owned()),
    ] {
        let resp = KeyPlace::XApiKey
            .post(&app, path, &key, body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        resp.bytes().await.unwrap();
        let r = app.mock.requests().last().unwrap().clone();
        assert_eq!(
            String::from_utf8_lossy(&r.body),
            body,
            "{path}: no model mapping applies, so the bytes pass untouched"
        );
    }
    app.assert_slots_released().await;
}

/// Streams the same request straight from the mock and through switchyard.
async fn direct_stream(app: &TestApp, credential: &str, body: &Value) -> Vec<u8> {
    let resp = app
        .http
        .post(format!("{}/v1/messages", app.mock.url()))
        .header("x-api-key", credential)
        .json(body)
        .send()
        .await
        .unwrap();
    resp.bytes().await.unwrap().to_vec()
}

/// Message ids count up in the mock: compare streams with digits blanked.
fn shape(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .map(|c| if c.is_ascii_digit() { '0' } else { c })
        .collect()
}

#[actix_web::test]
async fn a_stream_is_passed_through_byte_for_byte() {
    let app = spawn_app().await;
    app.add_console("a", "sk-ant-a").await;
    let (key_id, key) = app.create_key(json!({})).await;
    app.mock.set_usage(
        "sk-ant-a",
        MockUsage {
            input_tokens: 11,
            output_tokens: 7,
            cache_creation_5m: 100,
            cache_creation_1h: 200,
            cache_read: 300,
        },
    );
    let mut body = claude_body(true);
    body["thinking"] = json!({"type": "adaptive"});
    let resp = app.post_messages(&key, &body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    assert_eq!(resp.headers()["cache-control"], "no-cache");
    assert_eq!(resp.headers()["x-accel-buffering"], "no");
    let relayed = resp.bytes().await.unwrap();
    let direct = direct_stream(&app, "sk-ant-a", &body).await;
    assert_eq!(shape(&relayed), shape(&direct));
    let text = String::from_utf8_lossy(&relayed);
    assert!(text.contains("event: message_start") && text.contains("event: message_stop"));
    let usage = app.wait_for_usage(&key_id, 1).await;
    assert_eq!(usage.input_tokens, 11);
    assert_eq!(usage.output_tokens, 7);
    assert_eq!(usage.cache_creation_5m_tokens, 100);
    assert_eq!(usage.cache_creation_1h_tokens, 200);
    assert_eq!(usage.cache_read_tokens, 300);
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn stream_bytes_reach_the_client_as_they_arrive() {
    let app = spawn_app().await;
    app.add_console("a", "sk-ant-a").await;
    let key = app.key().await;
    const GAP: Duration = Duration::from_millis(500);
    app.mock.enqueue(
        "sk-ant-a",
        Fault::SlowStream {
            ms: GAP.as_millis() as u64,
        },
    );
    let started = Instant::now();
    let resp = app.post_messages(&key, &claude_body(true)).await;
    let mut stream = resp.bytes_stream();
    let first = stream.next().await.unwrap().unwrap();
    let first_at = started.elapsed();
    assert!(String::from_utf8_lossy(&first).contains("message_start"));
    while let Some(chunk) = stream.next().await {
        chunk.unwrap();
    }
    let total = started.elapsed();
    assert!(total >= GAP * 5, "the slow stream took {total:?}");
    // Measured from the first bytes, so a slow start on a loaded machine does not count: a
    // buffering relay would deliver them with the rest, at the end.
    assert!(
        total - first_at >= GAP * 3,
        "first bytes after {first_at:?} of {total:?}: buffered"
    );
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn requests_of_one_claude_code_session_stay_on_one_account() {
    let app = spawn_app().await;
    for (n, k) in [("a", "sk-ant-a"), ("b", "sk-ant-b"), ("c", "sk-ant-c")] {
        app.add_console(n, k).await;
    }
    let key = app.key().await;
    let posts: Vec<Value> = fixture("claude_code")
        .into_iter()
        .filter(|r| r["method"] == "POST")
        .collect();
    let session_of = |r: &Value| -> String {
        let uid: Value = serde_json::from_str(r["body"]["metadata"]["user_id"].as_str().unwrap()).unwrap();
        uid["session_id"].as_str().unwrap().to_owned()
    };
    let mut sessions: Vec<String> = posts.iter().map(session_of).collect();
    sessions.dedup();
    let repeated = sessions
        .iter()
        .find(|s| posts.iter().filter(|r| &&session_of(r) == s).count() >= 2)
        .unwrap();
    let mut served_by = std::collections::HashMap::<String, Vec<String>>::new();
    for r in &posts {
        let mut req = app
            .http
            .post(app.url("/v1/messages?beta=true"))
            .header("x-api-key", &key);
        for (name, value) in r["headers"].as_object().unwrap() {
            let skip = [
                "x-api-key",
                "authorization",
                "host",
                "content-length",
                "connection",
                "accept-encoding",
            ];
            if !skip.contains(&name.as_str()) {
                req = req.header(name, value.as_str().unwrap());
            }
        }
        let resp = req.json(&r["body"]).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        resp.bytes().await.unwrap();
        let last = app.mock.requests().last().unwrap().clone();
        assert_eq!(
            last.header("anthropic-beta"),
            r["headers"]["anthropic-beta"].as_str()
        );
        assert_eq!(last.header("x-stainless-package-version"), Some("0.94.0"));
        assert!(!last.headers.iter().any(|(_, v)| v.contains(&key)));
        served_by
            .entry(session_of(r))
            .or_default()
            .push(last.credential.clone().unwrap());
    }
    let repeated_accounts = &served_by[repeated];
    assert!(repeated_accounts.len() >= 2);
    assert!(
        repeated_accounts.iter().all(|a| a == &repeated_accounts[0]),
        "one session, one account: {served_by:?}"
    );
    let distinct: std::collections::HashSet<_> = served_by.values().map(|v| v[0].clone()).collect();
    assert!(
        distinct.len() >= 2,
        "different sessions spread over accounts: {served_by:?}"
    );
    app.assert_slots_released().await;
}

/// Account `a` fails with `fault`, `b` serves: the client gets b's answer, `a` cools down.
async fn failover_case(fault: Fault, expected_reason: &str) {
    failover_after(fault, 1, expected_reason).await;
}

/// As [`failover_case`], where `a` is asked `sends` times before the failover.
async fn failover_after(fault: Fault, sends: usize, expected_reason: &str) {
    let app = spawn_app().await;
    let a = app
        .add_account(json!({"name": "a", "api_key": "sk-ant-a", "priority": 1}))
        .await;
    app.add_account(json!({"name": "b", "api_key": "sk-ant-b", "priority": 2}))
        .await;
    let key = app.key().await;
    for _ in 0..sends {
        app.mock.enqueue("sk-ant-a", fault.clone());
    }
    let resp = app.post_messages(&key, &claude_body(true)).await;
    assert_eq!(resp.status(), 200, "failed over for {expected_reason}");
    let text = resp.text().await.unwrap();
    assert!(text.contains("message_stop"));
    assert_eq!(app.mock.requests_for("sk-ant-a").len(), sends);
    assert_eq!(app.mock.requests_for("sk-ant-b").len(), 1);
    let view = app.account(&a).await;
    assert_eq!(view["cooldown"]["reason"], expected_reason, "{view}");
    // The cooling account is skipped by the next request.
    let resp = app.post_messages(&key, &claude_body(false)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(app.mock.requests_for("sk-ant-a").len(), sends);
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn fails_over_on_429() {
    failover_case(
        Fault::anthropic_error(429, "rate_limit_error", "slow down").with_header("retry-after", "20"),
        "rate_limit",
    )
    .await;
}

#[actix_web::test]
async fn fails_over_on_529() {
    failover_case(
        Fault::anthropic_error(529, "overloaded_error", "Overloaded"),
        "overload",
    )
    .await;
}

#[actix_web::test]
async fn fails_over_on_500_and_503() {
    failover_case(Fault::anthropic_error(500, "api_error", "boom"), "server_error").await;
    failover_case(
        Fault::anthropic_error(503, "api_error", "unavailable"),
        "service_unavailable",
    )
    .await;
}

#[actix_web::test]
async fn fails_over_on_401_and_403() {
    failover_case(
        Fault::anthropic_error(401, "authentication_error", "bad key"),
        "auth_error",
    )
    .await;
    failover_case(
        Fault::anthropic_error(403, "permission_error", "forbidden"),
        "auth_error",
    )
    .await;
}

#[actix_web::test]
async fn fails_over_when_the_connection_drops_before_an_answer() {
    // A connection closed under the request is first sent once more on a connection of its own
    // (it may have been a pooled one whose keep-alive ran out); closed again, the account rests.
    failover_after(Fault::Drop, 2, "connect_error").await;
}

#[actix_web::test]
async fn fails_over_when_the_upstream_is_silent_too_long() {
    failover_case(Fault::Delay { ms: 5_000 }, "timeout").await;
}

#[actix_web::test]
async fn fails_over_when_an_account_cannot_be_reached() {
    let app = spawn_app().await;
    let dead = app
        .add_account(json!({"name": "dead", "base_url": "http://127.0.0.1:1", "priority": 1}))
        .await;
    app.add_account(json!({"name": "b", "api_key": "sk-ant-b", "priority": 2}))
        .await;
    let key = app.key().await;
    let resp = app.post_messages(&key, &claude_body(false)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(app.account(&dead).await["cooldown"]["reason"], "connect_error");
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn accounts_behind_a_proxy_are_relayed_through_it() {
    let app = spawn_app().await;
    // A proxy that refuses connections makes its account unreachable, not direct.
    let dead = app
        .add_account(
            json!({"name": "dead", "api_key": "sk-ant-d", "proxy": "http://127.0.0.1:1", "priority": 1}),
        )
        .await;
    // This host does not resolve: only a request sent through the proxy (the mock, which
    // answers an absolute-form request by its path) reaches an upstream.
    app.add_account(json!({
        "name": "p", "api_key": "sk-ant-p", "priority": 2,
        "base_url": "http://upstream.invalid", "proxy": app.mock.url(),
    }))
    .await;
    let key = app.key().await;
    let resp = app.post_messages(&key, &claude_body(false)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["type"], "message");
    assert_eq!(app.account(&dead).await["cooldown"]["reason"], "connect_error");

    let resp = app.post_messages(&key, &claude_body(true)).await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert!(
        text.contains("event: message_start") && text.contains("event: message_stop"),
        "{text}"
    );
    assert_eq!(app.mock.requests_for("sk-ant-p").len(), 2);
    assert_eq!(app.mock.requests_for("sk-ant-d").len(), 0);
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn retry_after_sets_the_cooldown_length() {
    let app = spawn_app().await;
    let a = app
        .add_account(json!({"name": "a", "api_key": "sk-ant-a", "priority": 1}))
        .await;
    app.add_account(json!({"name": "b", "api_key": "sk-ant-b", "priority": 2}))
        .await;
    let key = app.key().await;
    app.mock.enqueue(
        "sk-ant-a",
        Fault::anthropic_error(429, "rate_limit_error", "x").with_header("retry-after", "42"),
    );
    let before = now_ms();
    app.post_messages(&key, &claude_body(false)).await;
    let until = app.account(&a).await["cooldown"]["until"].as_i64().unwrap();
    assert!(
        (before + 41_000..=now_ms() + 42_000).contains(&until),
        "until {until}"
    );
    app.assert_slots_released().await;
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[actix_web::test]
async fn a_429_with_a_reset_time_limits_only_that_model_family() {
    let app = spawn_app().await;
    let a = app
        .add_account(json!({"name": "a", "api_key": "sk-ant-a", "priority": 1}))
        .await;
    app.add_account(json!({"name": "b", "api_key": "sk-ant-b", "priority": 2}))
        .await;
    let key = app.key().await;
    let reset = (now_ms() / 1000 + 3_600).to_string();
    app.mock.enqueue(
        "sk-ant-a",
        Fault::anthropic_error(429, "rate_limit_error", "weekly")
            .with_header("anthropic-ratelimit-unified-reset", &reset),
    );
    let mut opus = claude_body(false);
    opus["model"] = json!("claude-opus-4-8");
    assert_eq!(app.post_messages(&key, &opus).await.status(), 200);
    let view = app.account(&a).await;
    assert!(view["cooldown"].is_null(), "{view}");
    assert_eq!(view["family_limits"][0]["family"], "opus");
    // Opus now goes to b; sonnet (a new session: the first one was rebound to b) still goes to a.
    app.post_messages(&key, &opus).await;
    assert_eq!(app.mock.requests_for("sk-ant-a").len(), 1);
    let mut other_session = claude_body(false);
    other_session["messages"][0]["content"] = json!("a new conversation");
    app.post_messages(&key, &other_session).await;
    assert_eq!(app.mock.requests_for("sk-ant-a").len(), 2);
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn when_every_account_fails_the_client_gets_the_last_upstream_error() {
    let app = spawn_app().await;
    for (n, k, p) in [
        ("a", "sk-ant-a", 1),
        ("b", "sk-ant-b", 2),
        ("c", "sk-ant-c", 3),
        ("d", "sk-ant-d", 4),
    ] {
        app.add_account(json!({"name": n, "api_key": k, "priority": p}))
            .await;
    }
    let key = app.key().await;
    // Failures that could be the request's own count towards relay.max_attempts (3).
    app.mock
        .enqueue("sk-ant-a", Fault::anthropic_error(500, "api_error", "first"));
    app.mock
        .enqueue("sk-ant-b", Fault::anthropic_error(502, "api_error", "second"));
    app.mock
        .enqueue("sk-ant-c", Fault::anthropic_error(503, "api_error", "third"));
    let resp = app.post_messages(&key, &claude_body(false)).await;
    assert_eq!(resp.status(), 503);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["message"], "third");
    assert_eq!(
        app.mock.requests_for("sk-ant-d").len(),
        0,
        "relay.max_attempts = 3"
    );
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn accounts_that_only_cannot_serve_now_do_not_use_up_the_attempts() {
    let app = spawn_app().await;
    for (n, k, p) in [
        ("a", "sk-ant-a", 1),
        ("b", "sk-ant-b", 2),
        ("c", "sk-ant-c", 3),
        ("d", "sk-ant-d", 4),
        ("e", "sk-ant-e", 5),
    ] {
        app.add_account(json!({"name": n, "api_key": k, "priority": p}))
            .await;
    }
    let key = app.key().await;
    // Rate limited, overloaded, refused credential, refused connection: none is the request's
    // doing, so the healthy fifth account serves although relay.max_attempts is 3.
    app.mock.enqueue(
        "sk-ant-a",
        Fault::anthropic_error(429, "rate_limit_error", "limited"),
    );
    app.mock.enqueue(
        "sk-ant-b",
        Fault::anthropic_error(529, "overloaded_error", "overloaded"),
    );
    app.mock.enqueue(
        "sk-ant-c",
        Fault::anthropic_error(401, "authentication_error", "refused"),
    );
    app.mock
        .enqueue("sk-ant-d", Fault::anthropic_error(500, "api_error", "boom"));
    let resp = app.post_messages(&key, &claude_body(false)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(app.mock.requests_for("sk-ant-e").len(), 1);
    // Each failed account was asked once and rests.
    for k in ["sk-ant-a", "sk-ant-b", "sk-ant-c", "sk-ant-d"] {
        assert_eq!(app.mock.requests_for(k).len(), 1, "{k}");
    }
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn no_eligible_account_is_a_503_with_a_reason() {
    let app = spawn_app().await;
    let key = app.key().await;
    let resp = app.post_messages(&key, &claude_body(false)).await;
    assert_eq!(resp.status(), 503);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["reason"], "no_accounts");

    app.add_account(json!({"name": "a", "api_key": "sk-ant-a", "models": ["claude-opus-4-8"]}))
        .await;
    let resp = app.post_messages(&key, &claude_body(false)).await;
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.json::<Value>().await.unwrap()["reason"], "model_unsupported");

    // Cooling down: the answer says when to come back.
    app.mock
        .enqueue("sk-ant-a", Fault::anthropic_error(529, "overloaded_error", "x"));
    let mut opus = claude_body(false);
    opus["model"] = json!("claude-opus-4-8");
    assert_eq!(app.post_messages(&key, &opus).await.status(), 529);
    let resp = app.post_messages(&key, &opus).await;
    assert_eq!(resp.status(), 503);
    let retry_after: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((590..=600).contains(&retry_after), "retry-after {retry_after}");
    assert_eq!(resp.json::<Value>().await.unwrap()["reason"], "all_cooling_down");
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn a_full_pool_past_the_slot_wait_is_a_529_overloaded() {
    // Waiting itself is covered in tests/busy_pool.rs; here only the bound.
    let app = spawn_app_with(|s| s.scheduler.slot_wait_ms = 200).await;
    app.add_account(json!({"name": "a", "api_key": "sk-ant-a", "max_concurrency": 1}))
        .await;
    let key = app.key().await;
    app.mock.enqueue("sk-ant-a", Fault::SlowStream { ms: 200 });
    let first = app.post_messages(&key, &claude_body(true)).await;
    assert_eq!(first.status(), 200);
    let second = app.post_messages(&key, &claude_body(false)).await;
    assert_eq!(second.status(), 529);
    assert_eq!(
        second.json::<Value>().await.unwrap()["reason"],
        "slot_wait_timeout"
    );
    first.bytes().await.unwrap();
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn a_client_that_disconnects_mid_stream_releases_its_slot_and_the_upstream() {
    // The stream would run for a minute: only the abort ends it within the deadline below.
    // Draining off: the upstream is cut when the client leaves (tests/disconnect_billing.rs
    // covers reading it on).
    let app = spawn_app_with(|s| {
        s.relay.idle_timeout_ms = 60_000;
        s.relay.drain_after_disconnect_ms = 0;
    })
    .await;
    app.add_console("a", "sk-ant-a").await;
    let (key_id, key) = app.create_key(json!({})).await;
    app.mock.enqueue("sk-ant-a", Fault::SlowStream { ms: 10_000 });
    let resp = app.post_messages(&key, &claude_body(true)).await;
    let mut stream = resp.bytes_stream();
    stream.next().await.unwrap().unwrap();
    assert_eq!(app.slots_in_use().await, 1);
    drop(stream);
    app.assert_slots_released().await;
    let deadline = Instant::now() + Duration::from_secs(8);
    while app.mock.in_flight() > 0 {
        assert!(Instant::now() < deadline, "the upstream request was not aborted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let usage = app.wait_for_usage(&key_id, 1).await;
    assert_eq!(
        usage.input_tokens, 25,
        "usage seen before the disconnect is recorded"
    );
}

#[actix_web::test]
async fn after_the_first_byte_upstream_errors_pass_through() {
    let app = spawn_app().await;
    app.add_account(json!({"name": "a", "api_key": "sk-ant-a", "priority": 1}))
        .await;
    app.add_account(json!({"name": "b", "api_key": "sk-ant-b", "priority": 2}))
        .await;
    let key = app.key().await;
    app.mock
        .enqueue("sk-ant-a", Fault::InBandError { after_events: 2 });
    let text = app
        .post_messages(&key, &claude_body(true))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("event: error") && text.contains("overloaded_error"),
        "{text}"
    );
    assert_eq!(
        app.mock.requests_for("sk-ant-b").len(),
        0,
        "no failover after the first byte"
    );

    app.mock.enqueue("sk-ant-a", Fault::CutStream { after_events: 2 });
    let resp = app.post_messages(&key, &claude_body(true)).await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.bytes().await.is_err(),
        "a cut upstream stream is cut for the client too"
    );
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn upstream_client_errors_are_passed_through_without_failover() {
    let app = spawn_app().await;
    let a = app
        .add_account(json!({"name": "a", "api_key": "sk-ant-a", "priority": 1}))
        .await;
    app.add_account(json!({"name": "b", "api_key": "sk-ant-b", "priority": 2}))
        .await;
    let key = app.key().await;
    app.mock.enqueue(
        "sk-ant-a",
        Fault::anthropic_error(400, "invalid_request_error", "max_tokens: too big"),
    );
    let resp = app.post_messages(&key, &claude_body(false)).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["message"],
        "max_tokens: too big"
    );
    assert_eq!(app.mock.requests_for("sk-ant-b").len(), 0);
    assert!(app.account(&a).await["cooldown"].is_null());
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn bad_requests_get_anthropic_errors_before_any_account_is_used() {
    let app = spawn_app_with(|s| s.server.body_limit_mb = 1).await;
    app.add_console("a", "sk-ant-a").await;
    let key = app.key().await;
    let send = |body: Vec<u8>| {
        app.http
            .post(app.url("/v1/messages"))
            .header("x-api-key", &key)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (b"{not json".to_vec(), 400, "invalid_request_error"),
        (br#"{"messages":[]}"#.to_vec(), 400, "invalid_request_error"),
        (
            br#"{"model":"claude-sonnet-5"}"#.to_vec(),
            400,
            "invalid_request_error",
        ),
        (
            br#"{"model":"","messages":[]}"#.to_vec(),
            400,
            "invalid_request_error",
        ),
        (vec![b' '; 2 << 20], 413, "request_too_large"),
    ];
    for (body, status, kind) in cases {
        let resp = send(body).await.unwrap();
        assert_eq!(resp.status(), status);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(
            (v["type"].as_str(), v["error"]["type"].as_str()),
            (Some("error"), Some(kind)),
            "{v}"
        );
    }
    assert!(app.mock.requests().is_empty(), "no account was used");
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn bad_keys_get_401_and_403() {
    let app = spawn_app().await;
    app.add_console("a", "sk-ant-a").await;
    let (_, gemini_only) = app.create_key(json!({"permissions": ["gemini"]})).await;
    let (disabled_id, disabled) = app.create_key(json!({})).await;
    app.admin(
        Method::PATCH,
        &format!("/admin/keys/{disabled_id}"),
        Some(json!({"active": false})),
    )
    .await;
    let (_, expired) = app.create_key(json!({"expires_at": now_ms() - 1})).await;
    let missing = app
        .http
        .post(app.url("/v1/messages"))
        .json(&claude_body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 401);
    let v: Value = missing.json().await.unwrap();
    assert_eq!(v["error"]["type"], "authentication_error");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Missing API key")
    );
    for (key, status, needle) in [
        ("short", 401, "Invalid API key format"),
        ("sk-ant-not-a-switchyard-key", 401, "Invalid API key format"),
        (&format!("cr_{}", "0".repeat(64)), 401, "not found"),
        (disabled.as_str(), 401, "disabled"),
        (expired.as_str(), 401, "expired"),
        (gemini_only.as_str(), 403, "permission"),
    ] {
        let resp = app.post_messages(key, &claude_body(false)).await;
        assert_eq!(resp.status(), status, "{key}");
        let v: Value = resp.json().await.unwrap();
        assert!(v["error"]["message"].as_str().unwrap().contains(needle), "{v}");
    }
    assert!(app.mock.requests().is_empty());
}

#[actix_web::test]
async fn count_tokens_and_models_work_under_every_prefix() {
    let app = spawn_app().await;
    app.add_console("a", "sk-ant-a").await;
    let key = app.key().await;
    for prefix in ["", "/api", "/claude"] {
        let resp = app
            .http
            .post(app.url(&format!("{prefix}/v1/messages/count_tokens")))
            .header("x-api-key", &key)
            .json(&json!({"model": "claude-sonnet-5", "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.json::<Value>().await.unwrap()["input_tokens"], 25);
        let models: Value = app
            .http
            .get(app.url(&format!("{prefix}/v1/models")))
            .header("x-api-key", &key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(
            models["data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["id"] == "claude-sonnet-5")
        );
        assert_eq!(models["has_more"], false);
    }
    assert!(
        app.mock
            .requests()
            .iter()
            .all(|r| r.path == "/v1/messages/count_tokens")
    );
    let missing = app.http.get(app.url("/v1/nothing")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.json::<Value>().await.unwrap()["error"]["type"],
        "not_found_error"
    );
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn model_mappings_rewrite_the_upstream_model() {
    let app = spawn_app().await;
    app.add_account(json!({"name": "a", "api_key": "sk-ant-a", "models": {"claude-sonnet-5": "glm-4.6"}}))
        .await;
    let key = app.key().await;
    assert_eq!(app.post_messages(&key, &claude_body(false)).await.status(), 200);
    assert_eq!(app.mock.requests()[0].json()["model"], "glm-4.6");
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn oauth_accounts_use_bearer_tokens_and_merged_betas() {
    let app = spawn_app().await;
    app.add_account(json!({
        "name": "sub", "kind": "claude-official", "base_url": null, "api_key": null,
        "oauth": {"access_token": "at-live", "refresh_token": "rt-1", "expires_at": now_ms() + 3_600_000}
    }))
    .await;
    let key = app.key().await;
    let resp = app
        .http
        .post(app.url("/v1/messages"))
        .header("x-api-key", &key)
        .header("anthropic-beta", "oauth-2025-04-20,context-1m-2025-08-07")
        .json(&claude_body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let r = &app.mock.requests()[0];
    assert_eq!(r.header("authorization"), Some("Bearer at-live"));
    assert!(r.header("x-api-key").is_none());
    assert_eq!(
        r.header("anthropic-beta"),
        Some(
            "claude-code-20250219,oauth-2025-04-20,interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14,context-1m-2025-08-07"
        )
    );
    assert!(
        app.mock.token_requests().is_empty(),
        "a fresh token is not refreshed"
    );
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn expiring_tokens_are_refreshed_once_for_concurrent_requests() {
    let app = spawn_app().await;
    let id = app
        .add_account(json!({
            "name": "sub", "kind": "claude-official", "base_url": null, "api_key": null,
            "oauth": {"access_token": "at-old", "refresh_token": "rt-1", "expires_at": now_ms() + 30_000}
        }))
        .await;
    let key = app.key().await;
    let body = claude_body(false);
    let all = futures::future::join_all((0..5).map(|_| app.post_messages(&key, &body))).await;
    assert!(all.iter().all(|r| r.status() == 200));
    assert_eq!(
        app.mock.token_requests().len(),
        1,
        "one refresh per account at a time"
    );
    let tr = app.mock.token_requests()[0].json();
    assert_eq!(
        (tr["grant_type"].as_str(), tr["refresh_token"].as_str()),
        (Some("refresh_token"), Some("rt-1"))
    );
    let used: Vec<_> = app
        .mock
        .requests()
        .iter()
        .map(|r| r.header("authorization").unwrap().to_owned())
        .collect();
    assert!(used.iter().all(|a| a.starts_with("Bearer mock-at-")), "{used:?}");
    let view = app.account(&id).await;
    assert!(view["token_expires_at"].as_i64().unwrap() > now_ms() + 3_000_000);
    assert!(
        !view.to_string().contains("mock-at-"),
        "tokens never come back out"
    );
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn a_failed_refresh_rests_the_account_and_another_serves() {
    let app = spawn_app().await;
    let sub = app
        .add_account(json!({
            "name": "sub", "kind": "claude-official", "base_url": null, "api_key": null, "priority": 1,
            "oauth": {"access_token": "at-old", "refresh_token": "rt-1", "expires_at": now_ms() - 1}
        }))
        .await;
    app.add_account(json!({"name": "b", "api_key": "sk-ant-b", "priority": 2}))
        .await;
    let key = app.key().await;
    app.mock.fail_next_token_refreshes(1);
    let resp = app.post_messages(&key, &claude_body(false)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(app.mock.requests_for("sk-ant-b").len(), 1);
    assert_eq!(app.account(&sub).await["cooldown"]["reason"], "auth_error");
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn the_admin_api_manages_accounts_and_keys_without_leaking_secrets() {
    let app = spawn_app().await;
    let unauth = app.http.get(app.url("/admin/accounts")).send().await.unwrap();
    assert_eq!(unauth.status(), 401);
    let wrong = app
        .http
        .get(app.url("/admin/accounts"))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);

    let (status, v) = app
        .admin(
            Method::POST,
            "/admin/accounts",
            Some(json!({"name": "x", "kind": "claude-console", "api_key": "sk-ant-x"})),
        )
        .await;
    assert_eq!(status, 400, "console accounts need a base_url: {v}");
    let (status, _) = app
        .admin(
            Method::POST,
            "/admin/accounts",
            Some(json!({"name": "x", "kind": "nope"})),
        )
        .await;
    assert_eq!(status, 400);

    let id = app
        .add_account(json!({"name": "a", "api_key": "sk-ant-secret-value"}))
        .await;
    let (_, list) = app.admin(Method::GET, "/admin/accounts", None).await;
    assert_eq!(list["accounts"].as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains("sk-ant-secret-value"));
    assert_eq!(list["accounts"][0]["credential"], "api_key");

    let (status, v) = app
        .admin(
            Method::PATCH,
            &format!("/admin/accounts/{id}"),
            Some(json!({"priority": 5, "schedulable": false})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        (v["priority"].as_u64(), v["schedulable"].as_bool()),
        (Some(5), Some(false))
    );
    let key = app.key().await;
    let resp = app.post_messages(&key, &claude_body(false)).await;
    assert_eq!(
        resp.status(),
        503,
        "an unschedulable account is not used, at once"
    );
    app.admin(
        Method::PATCH,
        &format!("/admin/accounts/{id}"),
        Some(json!({"schedulable": true})),
    )
    .await;
    assert_eq!(app.post_messages(&key, &claude_body(false)).await.status(), 200);

    let (key_id, plain) = app.create_key(json!({"name": "k"})).await;
    assert!(plain.starts_with("cr_") && plain.len() == 67);
    let (_, keys) = app.admin(Method::GET, "/admin/keys", None).await;
    assert!(
        !keys.to_string().contains(&plain),
        "the plaintext key is shown once"
    );
    assert!(!keys.to_string().contains("\"hash\""));
    let (status, _) = app
        .admin(Method::DELETE, &format!("/admin/keys/{key_id}"), None)
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        app.post_messages(&plain, &claude_body(false)).await.status(),
        401,
        "a revoked key stops at once"
    );

    let (status, _) = app
        .admin(Method::DELETE, &format!("/admin/accounts/{id}"), None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = app
        .admin(Method::GET, &format!("/admin/accounts/{id}"), None)
        .await;
    assert_eq!(status, 404);
    assert_eq!(app.post_messages(&key, &claude_body(false)).await.status(), 503);
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn a_stream_that_goes_silent_is_cut_after_the_idle_timeout_not_before() {
    // Gaps a quarter of the timeout and three times it: a loaded machine may stretch a gap by
    // some hundreds of milliseconds, not by a second and a half.
    let app = spawn_app_with(|s| s.relay.idle_timeout_ms = 2_000).await;
    let a = app.add_console("a", "sk-ant-a").await;
    let key = app.key().await;
    // Gaps under the idle timeout: a stream longer than it in total is never cut.
    app.mock.enqueue("sk-ant-a", Fault::SlowStream { ms: 500 });
    let started = Instant::now();
    let resp = app.post_messages(&key, &claude_body(true)).await;
    let text = String::from_utf8(resp.bytes().await.unwrap().to_vec()).unwrap();
    assert!(text.contains("message_stop"));
    assert!(
        started.elapsed() > Duration::from_millis(2_000),
        "longer than the timeout"
    );
    // Gaps over it: the stream ends with an error and the account rests.
    app.mock.enqueue("sk-ant-a", Fault::SlowStream { ms: 6_000 });
    let resp = app.post_messages(&key, &claude_body(true)).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.bytes().await.is_err());
    app.assert_slots_released().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.account(&a).await["cooldown"]["reason"] != "timeout" {
        assert!(Instant::now() < deadline, "no timeout cooldown");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[actix_web::test]
async fn a_client_that_gives_up_before_the_answer_aborts_the_upstream_call() {
    // The upstream would answer after 30 s: only the abort ends its call within the deadline.
    // Draining off: the upstream is cut when the client leaves (tests/disconnect_billing.rs
    // covers reading it on).
    let app = spawn_app_with(|s| {
        s.relay.idle_timeout_ms = 60_000;
        s.relay.drain_after_disconnect_ms = 0;
    })
    .await;
    app.add_console("a", "sk-ant-a").await;
    let key = app.key().await;
    app.mock.enqueue("sk-ant-a", Fault::Delay { ms: 30_000 });
    let request = app
        .http
        .post(app.url("/v1/messages"))
        .header("x-api-key", &key)
        .json(&claude_body(false));
    let client = actix_web::rt::spawn(async move {
        let _ = request.send().await;
    });
    // The client gives up once its request is with the upstream (earlier, it would prove
    // nothing): aborting the task closes its connection.
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.mock.in_flight() == 0 {
        assert!(
            Instant::now() < deadline,
            "the request never reached the upstream"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    client.abort();
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.mock.in_flight() > 0 || app.slots_in_use().await > 0 {
        assert!(Instant::now() < deadline, "the upstream call outlived its client");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn upstream_ids_and_error_pages_reach_the_client_in_a_usable_form() {
    let app = spawn_app_with(|s| s.relay.max_attempts = 1).await;
    app.add_console("a", "sk-ant-a").await;
    let key = app.key().await;
    let ok = app.post_messages(&key, &claude_body(false)).await;
    assert!(
        ok.headers()["request-id"].to_str().unwrap().starts_with("req_"),
        "switchyard's own id"
    );
    assert!(
        ok.headers().contains_key("upstream-request-id"),
        "the upstream's id is kept too"
    );
    let html = Fault::Status {
        status: 502,
        headers: vec![("content-type".into(), "text/html".into())],
        body: "<html><body>Bad gateway</body></html>".into(),
    };
    app.mock.enqueue("sk-ant-a", html);
    let resp = app.post_messages(&key, &claude_body(false)).await;
    assert_eq!(resp.status(), 502);
    assert_eq!(
        resp.headers()["content-type"],
        "application/json",
        "a re-wrapped body is labelled JSON"
    );
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "error");
    assert!(v["error"]["message"].as_str().unwrap().contains("Bad gateway"));
    app.assert_slots_released().await;
}
