//! A client that walks away mid-stream does not stop the upstream's bill: switchyard reads the
//! rest of the answer off the request path and records the usage the upstream reported at its
//! end, marked `client_disconnected`, for Claude, OpenAI Responses and Gemini — also when it left
//! before the answer's head; a drain past its time bound records what it read and ends,
//! releasing the slots. Every case on both backends (embedded and Redis).
#![allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "support/redis_server.rs"]
mod redis_server;
mod support;
#[path = "support/backend.rs"]
#[macro_use]
mod backend;

use backend::*;
use futures::StreamExt;
use mock_upstream::{Fault, MockUsage};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::*;

/// Token counts no partial event carries: only the answer's last usage event has them all.
fn usage() -> MockUsage {
    MockUsage {
        input_tokens: 1_234,
        output_tokens: 567,
        ..Default::default()
    }
}

/// Sends `req`, reads the first bytes of the streamed answer and drops the connection.
async fn walk_away_after_first_bytes(req: reqwest::RequestBuilder) {
    let resp = req.send().await.expect("request sent");
    assert_eq!(resp.status(), 200);
    let mut stream = resp.bytes_stream();
    stream.next().await.expect("first bytes").expect("first bytes");
    drop(stream);
}

/// The key's recent requests as the admin API shows them.
async fn recent(app: &TestApp, key_id: &str) -> Vec<Value> {
    let (status, v) = app
        .admin(
            reqwest::Method::GET,
            &format!("/admin/keys/{key_id}/requests"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{v}");
    v["requests"].as_array().cloned().unwrap_or_default()
}

/// Waits for the key's one request to be recorded; checks it against the full answer's usage.
async fn assert_billed_in_full(app: &TestApp, key_id: &str, input: u64, output: u64) {
    let usage = app.wait_for_usage(key_id, 1).await;
    assert_eq!(
        (usage.input_tokens, usage.output_tokens),
        (input, output),
        "the usage of the whole answer, as the upstream bills it"
    );
    app.state.usage.drain().await.unwrap();
    let recent = recent(app, key_id).await;
    assert_eq!(recent.len(), 1, "{recent:?}");
    assert_eq!(recent[0]["client_disconnected"], true, "{:?}", recent[0]);
    assert_eq!(recent[0]["output_tokens"], output, "{:?}", recent[0]);
    app.assert_slots_released().await;
}

on_both_backends!(
    a_claude_stream_left_by_its_client_is_billed_in_full,
    an_openai_responses_stream_left_by_its_client_is_billed_in_full,
    a_gemini_stream_left_by_its_client_is_billed_in_full,
    a_client_that_gives_up_before_a_json_answer_still_leaves_its_usage,
    a_client_that_leaves_before_the_answers_head_still_leaves_its_usage,
    a_drain_past_its_time_bound_records_what_it_read_and_releases_the_slots,
);

async fn a_claude_stream_left_by_its_client_is_billed_in_full(backend: Backend) {
    let app = spawn_app_backed(backend, |_| {}).await;
    app.add_console("a", "sk-ant-a").await;
    app.mock.set_usage("sk-ant-a", usage());
    app.mock.enqueue("sk-ant-a", Fault::SlowStream { ms: 150 });
    let (key_id, key) = app.create_key(json!({})).await;
    let req = app
        .http
        .post(app.url("/v1/messages"))
        .header("x-api-key", &key)
        .json(&claude_body(true));
    walk_away_after_first_bytes(req).await;
    assert_billed_in_full(&app, &key_id, 1_234, 567).await;
}

async fn an_openai_responses_stream_left_by_its_client_is_billed_in_full(backend: Backend) {
    let app = spawn_app_backed(backend, |_| {}).await;
    app.add_account(json!({"name": "r", "kind": "openai-responses", "base_url": format!("{}/v1", app.mock.url()), "api_key": "sk-proj-r"}))
        .await;
    app.mock.set_usage("sk-proj-r", usage());
    app.mock.enqueue("sk-proj-r", Fault::SlowStream { ms: 150 });
    let (key_id, key) = app.create_key(json!({})).await;
    let req = app
        .http
        .post(app.url("/openai/v1/responses"))
        .bearer_auth(&key)
        .json(&json!({"model": "gpt-5", "input": "Say hi", "stream": true}));
    walk_away_after_first_bytes(req).await;
    assert_billed_in_full(&app, &key_id, 1_234, 567).await;
}

async fn a_gemini_stream_left_by_its_client_is_billed_in_full(backend: Backend) {
    let app = spawn_app_backed(backend, |_| {}).await;
    app.add_account(json!({"name": "g", "kind": "gemini-api", "base_url": null, "api_key": "AIza-g"}))
        .await;
    app.mock.set_usage("AIza-g", usage());
    app.mock.enqueue("AIza-g", Fault::SlowStream { ms: 150 });
    let (key_id, key) = app.create_key(json!({})).await;
    let req = app
        .http
        .post(app.url("/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"))
        .header("x-goog-api-key", &key)
        .json(&json!({"contents": [{"role": "user", "parts": [{"text": "Hello Gemini"}]}]}));
    walk_away_after_first_bytes(req).await;
    assert_billed_in_full(&app, &key_id, 1_234, 567).await;
}

/// A non-stream Claude request whose client gives up after 300 ms while the mock answers with
/// `fault`; checks it was billed in full. Returns the app.
async fn give_up_on_a_json_answer(backend: Backend, fault: Fault) -> TestApp {
    let app = spawn_app_backed(backend, |_| {}).await;
    app.add_console("a", "sk-ant-a").await;
    app.mock.set_usage("sk-ant-a", usage());
    app.mock.enqueue("sk-ant-a", fault);
    let (key_id, key) = app.create_key(json!({})).await;
    let gave_up = app
        .http
        .post(app.url("/v1/messages"))
        .header("x-api-key", &key)
        .timeout(Duration::from_millis(300))
        .json(&claude_body(false))
        .send()
        .await;
    assert!(gave_up.unwrap_err().is_timeout());
    assert_billed_in_full(&app, &key_id, 1_234, 567).await;
    app
}

async fn a_client_that_gives_up_before_a_json_answer_still_leaves_its_usage(backend: Backend) {
    // The mock sends the answer's head and first half, then the rest a second later: the
    // client has left by then, before switchyard sent it any byte.
    give_up_on_a_json_answer(backend, Fault::SlowStream { ms: 1_000 }).await;
}

async fn a_client_that_leaves_before_the_answers_head_still_leaves_its_usage(backend: Backend) {
    // A non-stream answer's head comes only when the whole answer is ready: here after 1 s,
    // long after the client gave up (300 ms). The upstream was asked; it bills the answer.
    let app = give_up_on_a_json_answer(backend, Fault::Delay { ms: 1_000 }).await;
    assert_eq!(
        app.mock.requests_for("sk-ant-a").len(),
        1,
        "asked once, not cancelled and resent"
    );
}

async fn a_drain_past_its_time_bound_records_what_it_read_and_releases_the_slots(backend: Backend) {
    let app = spawn_app_backed(backend, |s| {
        s.relay.drain_after_disconnect_ms = 300;
        // The mock's pauses must not count as the upstream going silent.
        s.relay.idle_timeout_ms = 30_000;
    })
    .await;
    app.add_console("a", "sk-ant-a").await;
    app.mock.set_usage("sk-ant-a", usage());
    // Several seconds per answer: far past the bound, and past the slot check's own deadline.
    app.mock.enqueue("sk-ant-a", Fault::SlowStream { ms: 1_500 });
    let (key_id, key) = app.create_key(json!({})).await;
    let req = app
        .http
        .post(app.url("/v1/messages"))
        .header("x-api-key", &key)
        .json(&claude_body(true));
    let left = Instant::now();
    walk_away_after_first_bytes(req).await;
    app.assert_slots_released().await;
    assert!(
        left.elapsed() < Duration::from_secs(6),
        "released at the bound, not at the answer's end"
    );
    let usage = app.wait_for_usage(&key_id, 1).await;
    assert_eq!(
        usage.input_tokens, 1_234,
        "what was read (message_start) is recorded"
    );
    assert!(usage.output_tokens < 567, "the answer's end was never read");
    app.state.usage.drain().await.unwrap();
    assert_eq!(recent(&app, &key_id).await[0]["client_disconnected"], true);
    let metrics = app
        .http
        .get(app.url("/metrics"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("switchyard_disconnect_drains_total{result=\"time_bound\"} 1"),
        "{metrics}"
    );
}
