//! Per-account pacing of real user turns (issue #13 item 4): on a paced account one user turn
//! at a time (the next reaches the upstream only after the previous one's answer), a least gap
//! after the previous turn, tool-result turns pass, a bounded wait ends in Anthropic's 529, a
//! client that leaves while waiting leaves the queue, off by default, per-account override.
//! Real HTTP to switchyard, the mock upstream holding answers with delays; on Redis, two
//! instances share one account's gate. Every rule on both backends (embedded and Redis).
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

/// A real user turn (its last message is the user's own text).
fn user_turn(tag: &str) -> Value {
    let mut b = claude_body(false);
    b["messages"][0]["content"] = json!(tag);
    b
}

/// A tool loop's turn: the last user message carries a `tool_result` block.
fn tool_turn(tag: &str) -> Value {
    json!({
        "model": "claude-sonnet-5",
        "max_tokens": 64,
        "messages": [
            {"role": "user", "content": tag},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "calc", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "42"}]},
        ],
    })
}

/// Sends a request in the background; its status, body and when it ended arrive on the handle.
fn send(app: &TestApp, key: &str, body: Value) -> tokio::task::JoinHandle<(u16, Value, Instant)> {
    let req = app
        .http
        .post(app.url("/v1/messages"))
        .header("x-api-key", key)
        .header("anthropic-version", "2023-06-01")
        .json(&body);
    tokio::spawn(async move {
        let resp = req.send().await.expect("request sent");
        let status = resp.status().as_u16();
        let retry_after = resp.headers().contains_key("retry-after");
        let mut v: Value = resp.json().await.unwrap_or(Value::Null);
        if retry_after {
            v["retry_after_header"] = json!(true);
        }
        (status, v, Instant::now())
    })
}

fn seen(app: &TestApp, credential: &str) -> usize {
    app.mock.requests_for(credential).len()
}

fn pacing_waits(app: &TestApp, result: &str) -> u64 {
    app.state.metrics.pacing_waits.with_label_values(&[result]).get()
}

async fn paced_app(
    backend: Backend,
    tweak: impl FnOnce(&mut switchyard::settings::Settings),
) -> (TestApp, String) {
    let app = spawn_app_backed(backend, |s| {
        s.pacing.user_turns = true;
        tweak(s);
    })
    .await;
    app.add_account(json!({"name": "a", "api_key": "sk-ant-a"})).await;
    let key = app.key().await;
    (app, key)
}

on_both_backends!(
    two_user_turns_on_a_paced_account_run_one_after_the_other,
    a_stream_releases_the_turn_when_its_headers_arrive,
    a_tool_result_turn_passes_while_a_user_turn_holds_the_gate,
    the_next_turn_starts_at_least_min_gap_after_the_previous_one,
    a_turn_that_waits_too_long_gets_529_overloaded,
    a_client_that_leaves_while_waiting_leaves_the_queue,
    pacing_is_off_by_default,
    an_account_s_override_paces_it_and_can_be_changed,
    a_turn_held_past_lock_ttl_lets_the_next_one_through,
);

async fn two_user_turns_on_a_paced_account_run_one_after_the_other(backend: Backend) {
    let (app, key) = paced_app(backend, |_| {}).await;
    app.mock.enqueue("sk-ant-a", Fault::Delay { ms: 2_000 });
    let first = send(&app, &key, user_turn("first"));
    poll_until("the first turn is upstream", || app.mock.in_flight() == 1).await;
    let second = send(&app, &key, user_turn("second"));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(!first.is_finished(), "the first turn is still held upstream");
    assert_eq!(
        seen(&app, "sk-ant-a"),
        1,
        "the second turn waits for the first's answer"
    );
    let (s1, _, _) = first.await.unwrap();
    let (s2, _, _) = second.await.unwrap();
    assert_eq!((s1, s2), (200, 200));
    // Which client task notes its answer first is up to the scheduler (the second answer can
    // come back within a millisecond of the first): the order upstream was checked above.
    assert_eq!(seen(&app, "sk-ant-a"), 2);
    assert_eq!(pacing_waits(&app, "waited"), 1);
    assert_eq!(pacing_waits(&app, "immediate"), 1);
    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("switchyard_pacing_waits_total{result=\"waited\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("switchyard_pacing_wait_seconds_count 2"),
        "{metrics}"
    );
    app.assert_slots_released().await;
}

async fn a_stream_releases_the_turn_when_its_headers_arrive(backend: Backend) {
    let (app, key) = paced_app(backend, |_| {}).await;
    // Headers at once, then a slow body: the next turn need not wait for the whole stream.
    app.mock.enqueue("sk-ant-a", Fault::SlowStream { ms: 1_500 });
    let first = send(&app, &key, {
        let mut b = claude_body(true);
        b["messages"][0]["content"] = json!("streamed");
        b
    });
    poll_until("the stream is upstream", || app.mock.in_flight() == 1).await;
    let second = send(&app, &key, user_turn("next"));
    let (s2, _, second_done) = second.await.unwrap();
    let (s1, _, first_done) = first.await.unwrap();
    assert_eq!((s1, s2), (200, 200));
    assert!(
        second_done < first_done,
        "the second turn ended while the first still streamed"
    );
}

async fn a_tool_result_turn_passes_while_a_user_turn_holds_the_gate(backend: Backend) {
    let (app, key) = paced_app(backend, |_| {}).await;
    app.mock.enqueue("sk-ant-a", Fault::Delay { ms: 2_500 });
    let first = send(&app, &key, user_turn("holder"));
    poll_until("the user turn is upstream", || app.mock.in_flight() == 1).await;
    let (status, body, _) = send(&app, &key, tool_turn("tools")).await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(
        !first.is_finished(),
        "the tool turn did not wait for the user turn"
    );
    assert_eq!(first.await.unwrap().0, 200);
}

async fn the_next_turn_starts_at_least_min_gap_after_the_previous_one(backend: Backend) {
    let (app, key) = paced_app(backend, |s| s.pacing.min_gap_ms = 1_000).await;
    let (s1, _, first_done) = send(&app, &key, user_turn("one")).await.unwrap();
    let (s2, _, second_done) = send(&app, &key, user_turn("two")).await.unwrap();
    assert_eq!((s1, s2), (200, 200));
    // A lower bound only: the gap runs from the first's release, which precedes its end.
    assert!(
        second_done.duration_since(first_done) >= Duration::from_millis(900),
        "the second turn waited out the gap ({:?})",
        second_done.duration_since(first_done)
    );
}

async fn a_turn_that_waits_too_long_gets_529_overloaded(backend: Backend) {
    let (app, key) = paced_app(backend, |s| s.pacing.wait_ms = 300).await;
    app.mock.enqueue("sk-ant-a", Fault::Delay { ms: 2_500 });
    let first = send(&app, &key, user_turn("holder"));
    poll_until("the holder is upstream", || app.mock.in_flight() == 1).await;
    let (status, body, _) = send(&app, &key, user_turn("late")).await.unwrap();
    assert_eq!(status, 529, "{body}");
    assert_eq!(body["error"]["type"], "overloaded_error", "{body}");
    assert_eq!(body["retry_after_header"], true, "{body}");
    assert!(!first.is_finished());
    assert_eq!(first.await.unwrap().0, 200);
    assert_eq!(
        seen(&app, "sk-ant-a"),
        1,
        "the refused turn never reached the upstream"
    );
    assert_eq!(pacing_waits(&app, "timeout"), 1);
    app.assert_slots_released().await;
}

async fn a_client_that_leaves_while_waiting_leaves_the_queue(backend: Backend) {
    let (app, key) = paced_app(backend, |_| {}).await;
    app.mock.enqueue("sk-ant-a", Fault::Delay { ms: 2_000 });
    let first = send(&app, &key, user_turn("holder"));
    poll_until("the holder is upstream", || app.mock.in_flight() == 1).await;
    // This client gives up after 300 ms, while it waits behind the holder.
    let leaver = app
        .http
        .post(app.url("/v1/messages"))
        .header("x-api-key", &key)
        .header("anthropic-version", "2023-06-01")
        .timeout(Duration::from_millis(300))
        .json(&user_turn("leaver"))
        .send()
        .await;
    assert!(leaver.is_err(), "the client timed out");
    poll_until("the server saw it leave", || pacing_waits(&app, "left") == 1).await;
    assert_eq!(first.await.unwrap().0, 200);
    let (status, _, _) = send(&app, &key, user_turn("after")).await.unwrap();
    assert_eq!(status, 200);
    let texts: Vec<String> = app
        .mock
        .requests_for("sk-ant-a")
        .iter()
        .map(|r| {
            r.json()["messages"][0]["content"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    assert_eq!(
        texts,
        ["holder", "after"],
        "the leaver never reached the upstream"
    );
    app.assert_slots_released().await;
}

async fn pacing_is_off_by_default(backend: Backend) {
    let app = spawn_app_backed(backend, |_| {}).await;
    app.add_account(json!({"name": "a", "api_key": "sk-ant-a"})).await;
    let key = app.key().await;
    app.mock.enqueue("sk-ant-a", Fault::Delay { ms: 2_500 });
    let first = send(&app, &key, user_turn("first"));
    poll_until("the first turn is upstream", || app.mock.in_flight() == 1).await;
    let second = send(&app, &key, user_turn("second"));
    poll_until("both turns are upstream at once", || seen(&app, "sk-ant-a") == 2).await;
    assert!(!first.is_finished());
    assert_eq!(first.await.unwrap().0, 200);
    assert_eq!(second.await.unwrap().0, 200);
}

async fn an_account_s_override_paces_it_and_can_be_changed(backend: Backend) {
    let app = spawn_app_backed(backend, |_| {}).await;
    let id = app
        .add_account(json!({"name": "a", "api_key": "sk-ant-a", "pacing": {"user_turns": true}}))
        .await;
    assert_eq!(app.account(&id).await["pacing"], json!({"user_turns": true}));
    let key = app.key().await;

    app.mock.enqueue("sk-ant-a", Fault::Delay { ms: 2_000 });
    let first = send(&app, &key, user_turn("first"));
    poll_until("the first turn is upstream", || app.mock.in_flight() == 1).await;
    let second = send(&app, &key, user_turn("second"));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(!first.is_finished());
    assert_eq!(seen(&app, "sk-ant-a"), 1, "the overridden account paces");
    assert_eq!(first.await.unwrap().0, 200);
    assert_eq!(second.await.unwrap().0, 200);

    let (status, v) = app
        .admin(
            reqwest::Method::PATCH,
            &format!("/admin/accounts/{id}"),
            Some(json!({"pacing": {"user_turns": false}})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(app.account(&id).await["pacing"], json!({"user_turns": false}));
    app.mock.clear();
    app.mock.enqueue("sk-ant-a", Fault::Delay { ms: 2_500 });
    let first = send(&app, &key, user_turn("third"));
    poll_until("the third turn is upstream", || app.mock.in_flight() == 1).await;
    let second = send(&app, &key, user_turn("fourth"));
    poll_until("both turns are upstream at once", || seen(&app, "sk-ant-a") == 2).await;
    assert!(!first.is_finished());
    assert_eq!(first.await.unwrap().0, 200);
    assert_eq!(second.await.unwrap().0, 200);
}

async fn a_turn_held_past_lock_ttl_lets_the_next_one_through(backend: Backend) {
    let (app, key) = paced_app(backend, |s| s.pacing.lock_ttl_ms = 300).await;
    app.mock.enqueue("sk-ant-a", Fault::Delay { ms: 2_500 });
    let first = send(&app, &key, user_turn("stuck"));
    poll_until("the first turn is upstream", || app.mock.in_flight() == 1).await;
    let (status, _, _) = send(&app, &key, user_turn("next")).await.unwrap();
    assert_eq!(status, 200);
    assert!(
        !first.is_finished(),
        "the next turn did not wait for the stuck one's answer"
    );
    assert_eq!(first.await.unwrap().0, 200);
}

/// Two instances on one Redis (a fresh prefix), pacing on.
async fn two_instances_on_redis() -> (TestApp, TestApp) {
    let store = fresh_redis();
    let on = |s: &mut switchyard::settings::Settings| {
        with_store(s, &store);
        s.pacing.user_turns = true;
    };
    let a = spawn_app_on(open(&store).await, on).await;
    let b = spawn_app_on(open(&store).await, on).await;
    (a, b)
}

#[actix_web::test]
async fn on_redis_a_user_turn_on_one_instance_waits_for_one_on_another() {
    let (a, b) = two_instances_on_redis().await;
    let account = a
        .add_account(json!({"name": "shared", "api_key": "sk-ant-a"}))
        .await;
    let key = a.key().await;
    poll_until("B sees the account", || {
        b.state
            .scheduling
            .snapshot()
            .all()
            .any(|e| e.account.id.as_str() == account)
    })
    .await;
    a.mock.enqueue("sk-ant-a", Fault::Delay { ms: 2_000 });
    let first = send(&a, &key, user_turn("on A"));
    poll_until("A's turn is upstream", || a.mock.in_flight() == 1).await;
    let second = send(&b, &key, user_turn("on B"));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(!first.is_finished(), "A's turn is still held upstream");
    assert_eq!(seen(&a, "sk-ant-a"), 1, "B's turn waits for A's answer");
    let (s1, _, _) = first.await.unwrap();
    let (s2, _, _) = second.await.unwrap();
    assert_eq!((s1, s2), (200, 200));
    // The order upstream was checked above; which client notes its answer first is the
    // scheduler's choice.
    assert_eq!(seen(&a, "sk-ant-a"), 2);
    // A tool-result turn on B passes while a user turn holds the gate on A.
    a.mock.enqueue("sk-ant-a", Fault::Delay { ms: 2_000 });
    let held = send(&a, &key, user_turn("again on A"));
    poll_until("A's turn is upstream", || a.mock.in_flight() == 1).await;
    let (status, body, _) = send(&b, &key, tool_turn("tools on B")).await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(!held.is_finished());
    assert_eq!(held.await.unwrap().0, 200);
}
