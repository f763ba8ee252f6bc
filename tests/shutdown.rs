//! Restarting without cutting users off: the real binary, a slow stream in flight, SIGTERM.
//! The stream completes, new connections are refused, leases are all released, usage is
//! written, exit 0.
mod binary;

use binary::Binary;
use futures::StreamExt;
use mock_upstream::{Fault, MockUpstream};
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

fn start(mock: &MockUpstream, data: &Path, env: &[(&str, &str)]) -> Binary {
    binary::start(mock, data, env)
}

/// An API-key account on the mock and a client key; returns the key.
async fn setup(server: &Binary, mock: &MockUpstream) -> String {
    server
        .add_account(
            json!({"name": "a", "kind": "claude-console", "base_url": mock.url(), "api_key": "sk-ant-a"}),
        )
        .await;
    server.create_key("k").await.1
}

fn body() -> Value {
    json!({"model": "claude-sonnet-5", "max_tokens": 32, "stream": true, "messages": [{"role": "user", "content": "slow"}]})
}

#[tokio::test]
async fn sigterm_lets_a_slow_stream_finish_refuses_new_connections_and_releases_every_lease() {
    let mock = MockUpstream::start();
    let data = tempfile::tempdir().unwrap();
    let mut server = start(
        &mock,
        data.path(),
        &[("SWITCHYARD__SERVER__SHUTDOWN_GRACE_SECS", "20")],
    );
    let http = reqwest::Client::new();
    let key = setup(&server, &mock).await;
    mock.enqueue("sk-ant-a", Fault::SlowStream { ms: 300 });
    let resp = http
        .post(format!("{}/v1/messages", server.base))
        .header("x-api-key", &key)
        .json(&body())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut stream = resp.bytes_stream();
    let mut text = String::from_utf8(stream.next().await.unwrap().unwrap().to_vec()).unwrap();

    server.signal("-TERM");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fresh = reqwest::Client::new()
        .get(format!("{}/health", server.base))
        .send()
        .await;
    assert!(fresh.is_err(), "a new connection is refused during shutdown");

    while let Some(chunk) = stream.next().await {
        text.push_str(&String::from_utf8_lossy(
            &chunk.expect("the in-flight stream is not cut"),
        ));
    }
    assert!(
        text.contains("event: message_stop"),
        "the stream completed: {text}"
    );
    let status = server.wait_exit(Duration::from_secs(15));
    assert_eq!(status.code(), Some(0));
    let logs = server.lines();
    let done = logs
        .iter()
        .find(|l| l.contains("shutdown complete"))
        .unwrap_or_else(|| panic!("{logs:#?}"));
    let line: Value = serde_json::from_str(done).unwrap();
    assert_eq!(
        (line["live_leases"].as_u64(), line["slots_held"].as_u64()),
        (Some(0), Some(0)),
        "{line}"
    );
}

#[tokio::test]
async fn a_second_signal_exits_at_once() {
    let mock = MockUpstream::start();
    let data = tempfile::tempdir().unwrap();
    let mut server = start(
        &mock,
        data.path(),
        &[("SWITCHYARD__SERVER__SHUTDOWN_GRACE_SECS", "60")],
    );
    let http = reqwest::Client::new();
    let key = setup(&server, &mock).await;
    mock.enqueue("sk-ant-a", Fault::SlowStream { ms: 2_000 });
    let resp = http
        .post(format!("{}/v1/messages", server.base))
        .header("x-api-key", &key)
        .json(&body())
        .send()
        .await
        .unwrap();
    let mut stream = resp.bytes_stream();
    stream.next().await.unwrap().unwrap();
    server.signal("-TERM");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the first signal waits for the stream"
    );
    let started = Instant::now();
    server.signal("-INT");
    let status = server.wait_exit(Duration::from_secs(5));
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(status.code(), Some(130));
}

/// The usage of requests served since the last periodic flush is written at shutdown: with a
/// flush interval far longer than the test, only the shutdown flush can have written it, and a
/// second process on the same data dir reads it back.
#[tokio::test]
async fn sigterm_writes_the_usage_no_periodic_flush_has_written_yet() {
    let mock = MockUpstream::start();
    let data = tempfile::tempdir().unwrap();
    let no_periodic_flush = [("SWITCHYARD__STORE__FLUSH_INTERVAL_MS", "600000")];
    let mut server = start(&mock, data.path(), &no_periodic_flush);
    let key = setup(&server, &mock).await;
    let http = reqwest::Client::new();
    for stream in [false, true, false] {
        let mut b = body();
        b["stream"] = json!(stream);
        b["messages"][0]["content"] = json!("hello");
        let resp = http
            .post(server.url("/v1/messages"))
            .header("x-api-key", &key)
            .json(&b)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        resp.bytes().await.unwrap();
    }
    assert_eq!(server.terminate().code(), Some(0));

    let restarted = start(&mock, data.path(), &no_periodic_flush);
    let (status, v) = restarted
        .admin(reqwest::Method::GET, "/admin/usage?by=key&period=total", None)
        .await;
    assert_eq!(status, 200, "{v}");
    let rows = v["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 1, "{v}");
    assert_eq!(rows[0]["requests"], 3, "{v}");
}
