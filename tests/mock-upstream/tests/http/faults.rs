//! Every fault kind, seen from a real HTTP client.

use std::time::{Duration, Instant};

use futures::StreamExt;
use mock_upstream::{Fault, MockUpstream};
use serde_json::{Value, json};

use crate::common::{client, events, eventually, names, post, raw_exchange, raw_post};

const ACCT: (&str, &str) = ("x-api-key", "acct");

fn anthropic(stream: bool) -> Value {
    json!({"model": "claude-sonnet-4-6", "max_tokens": 64, "stream": stream,
        "messages": [{"role": "user", "content": "Say hello"}]})
}

/// Reads a body to its end; returns what arrived and whether the read failed.
async fn read_body(response: reqwest::Response) -> (String, bool) {
    let mut stream = response.bytes_stream();
    let mut received = Vec::new();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(bytes) => received.extend_from_slice(&bytes),
            Err(_) => return (String::from_utf8_lossy(&received).into_owned(), true),
        }
    }
    (String::from_utf8_lossy(&received).into_owned(), false)
}

#[tokio::test]
async fn status_faults_carry_the_provider_error_and_headers() {
    let mock = MockUpstream::start();
    mock.enqueue(
        "acct",
        Fault::anthropic_error(429, "rate_limit_error", "slow down")
            .with_header("retry-after", "1")
            .with_header("anthropic-ratelimit-unified-reset", "1790000000"),
    );
    let response = post(&mock, "/v1/messages", ACCT, anthropic(false)).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(
        response.headers()["anthropic-ratelimit-unified-reset"],
        "1790000000"
    );
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}})
    );
    // One-shot: the next request succeeds.
    assert_eq!(
        post(&mock, "/v1/messages", ACCT, anthropic(false)).await.status(),
        200
    );

    mock.enqueue(
        "acct",
        Fault::openai_error(401, "invalid_api_key", "Incorrect API key"),
    );
    let response = post(&mock, "/v1/chat/completions", ACCT, json!({"messages": []})).await;
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_api_key");
    assert_eq!(body["error"]["message"], "Incorrect API key");
    assert!(body["error"]["type"].is_string());

    mock.enqueue("acct", Fault::gemini_error(503, "UNAVAILABLE", "busy"));
    let response = post(
        &mock,
        "/v1/models/g:generateContent",
        ACCT,
        json!({"contents": []}),
    )
    .await;
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"error": {"code": 503, "message": "busy", "status": "UNAVAILABLE"}})
    );

    mock.enqueue(
        "acct",
        Fault::Status {
            status: 502,
            headers: vec![("content-type".into(), "text/html".into())],
            body: "<html>".into(),
        },
    );
    let response = post(&mock, "/v1/messages", ACCT, anthropic(false)).await;
    assert_eq!(response.status(), 502);
    assert_eq!(response.headers()["content-type"], "text/html");
    assert_eq!(response.text().await.unwrap(), "<html>");
}

#[tokio::test]
async fn queued_faults_are_fifo_per_credential_and_persistent_ones_stay() {
    let mock = MockUpstream::start();
    mock.enqueue("a", Fault::anthropic_error(500, "api_error", "first"));
    mock.enqueue("a", Fault::anthropic_error(529, "overloaded_error", "second"));
    let status = |cred: &'static str| {
        let mock = &mock;
        async move {
            post(mock, "/v1/messages", ("x-api-key", cred), anthropic(false))
                .await
                .status()
                .as_u16()
        }
    };
    assert_eq!(status("a").await, 500);
    assert_eq!(status("b").await, 200);
    assert_eq!(status("a").await, 529);
    assert_eq!(status("a").await, 200);

    mock.set_persistent(
        "down",
        Some(Fault::anthropic_error(
            401,
            "authentication_error",
            "invalid x-api-key",
        )),
    );
    for _ in 0..3 {
        assert_eq!(status("down").await, 401);
    }
    mock.set_persistent("down", None);
    assert_eq!(status("down").await, 200);

    mock.set_persistent("down", Some(Fault::anthropic_error(503, "api_error", "down")));
    mock.clear();
    assert_eq!(status("down").await, 200);
}

#[tokio::test]
async fn delay_holds_back_the_first_byte() {
    let mock = MockUpstream::start();
    mock.enqueue("acct", Fault::Delay { ms: 250 });
    let started = Instant::now();
    let response = post(&mock, "/v1/messages", ACCT, anthropic(true)).await;
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("message_stop"));
}

#[tokio::test]
async fn slow_stream_delivers_the_first_event_before_the_end() {
    let mock = MockUpstream::start();
    mock.enqueue("acct", Fault::SlowStream { ms: 60 });
    let started = Instant::now();
    let response = post(&mock, "/v1/messages", ACCT, anthropic(true)).await;
    let mut stream = response.bytes_stream();
    let first = stream.next().await.expect("first chunk").expect("first chunk ok");
    let first_at = started.elapsed();
    let first = String::from_utf8_lossy(&first).into_owned();
    assert!(first.starts_with("event: message_start"), "{first}");
    assert!(!first.contains("message_stop"));
    let mut rest = Vec::new();
    while let Some(chunk) = stream.next().await {
        rest.extend_from_slice(&chunk.expect("chunk"));
    }
    let end_at = started.elapsed();
    assert!(String::from_utf8_lossy(&rest).contains("message_stop"));
    // Nine events, eight pauses of 60 ms.
    assert!(
        end_at - first_at >= Duration::from_millis(400),
        "first {first_at:?}, end {end_at:?}"
    );
}

#[tokio::test]
async fn slow_non_streaming_answer_is_still_whole() {
    let mock = MockUpstream::start();
    mock.enqueue("acct", Fault::SlowStream { ms: 150 });
    let started = Instant::now();
    let response = post(&mock, "/v1/messages", ACCT, anthropic(false)).await;
    let body: Value = response.json().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(body["type"], "message");
}

#[tokio::test]
async fn cut_stream_is_an_incomplete_body() {
    let mock = MockUpstream::start();
    mock.enqueue("acct", Fault::CutStream { after_events: 2 });
    let response = post(&mock, "/v1/messages", ACCT, anthropic(true)).await;
    assert_eq!(response.status(), 200);
    let (received, errored) = read_body(response).await;
    assert!(errored, "the client sees a body error");
    assert_eq!(
        names(&events(&received)),
        ["message_start", "content_block_start"]
    );

    // A non-streaming answer is cut mid-JSON.
    mock.enqueue("acct", Fault::CutStream { after_events: 0 });
    let response = post(&mock, "/v1/messages", ACCT, anthropic(false)).await;
    let (received, errored) = read_body(response).await;
    assert!(errored);
    assert!(serde_json::from_str::<Value>(&received).is_err());
}

#[tokio::test]
async fn cut_stream_lacks_the_terminating_chunk_on_the_wire() {
    let mock = MockUpstream::start();
    let body = anthropic(true).to_string();
    let (complete, _) = raw_exchange(&mock, &raw_post("/v1/messages", "acct", &body));
    assert!(
        complete
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
    );
    assert!(
        complete.ends_with("0\r\n\r\n"),
        "a normal stream ends with the last chunk"
    );

    mock.enqueue("acct", Fault::CutStream { after_events: 3 });
    let (cut, _) = raw_exchange(&mock, &raw_post("/v1/messages", "acct", &body));
    assert!(cut.starts_with("HTTP/1.1 200"));
    assert!(cut.contains("event: ping"));
    assert!(!cut.contains("content_block_delta"));
    assert!(!cut.ends_with("0\r\n\r\n"));
}

#[tokio::test]
async fn in_band_errors_in_each_provider_format() {
    let mock = MockUpstream::start();

    mock.enqueue("acct", Fault::InBandError { after_events: 3 });
    let response = post(&mock, "/v1/messages", ACCT, anthropic(true)).await;
    let (text, errored) = read_body(response).await;
    assert!(!errored, "the stream ends cleanly");
    let evs = events(&text);
    assert_eq!(
        names(&evs),
        ["message_start", "content_block_start", "ping", "error"]
    );
    assert_eq!(
        evs[3].json(),
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    );

    mock.enqueue("acct", Fault::InBandError { after_events: 2 });
    let response = post(
        &mock,
        "/v1/responses",
        ACCT,
        json!({"model": "gpt-5", "stream": true, "input": "hi"}),
    )
    .await;
    let evs = events(&response.text().await.unwrap());
    assert_eq!(
        names(&evs),
        [
            "response.created",
            "response.in_progress",
            "error",
            "response.failed"
        ]
    );
    let seqs: Vec<Value> = evs.iter().map(|e| e.json()["sequence_number"].clone()).collect();
    assert_eq!(seqs, [json!(0), json!(1), json!(2), json!(3)]);
    let failed = evs[3].json();
    assert_eq!(failed["response"]["status"], "failed");
    assert_eq!(failed["response"]["error"]["code"], "server_error");

    mock.enqueue("acct", Fault::InBandError { after_events: 1 });
    let body = json!({"model": "gpt-4o", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let response = post(&mock, "/v1/chat/completions", ACCT, body).await;
    let evs = events(&response.text().await.unwrap());
    assert_eq!(evs.len(), 2);
    assert!(evs[1].json()["error"]["message"].is_string());
    assert!(evs.iter().all(|e| e.data != "[DONE]"));

    mock.enqueue("acct", Fault::InBandError { after_events: 1 });
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
    let response = post(
        &mock,
        "/v1beta/models/g:streamGenerateContent?alt=sse",
        ACCT,
        body,
    )
    .await;
    let evs = events(&response.text().await.unwrap());
    assert_eq!(evs.len(), 2);
    assert_eq!(evs[1].json()["error"]["status"], "UNAVAILABLE");

    // No stream to carry it: the provider's overloaded status instead.
    mock.enqueue("acct", Fault::InBandError { after_events: 1 });
    let response = post(&mock, "/v1/messages", ACCT, anthropic(false)).await;
    assert_eq!(response.status(), 529);
}

#[tokio::test]
async fn drop_closes_the_connection_without_a_response() {
    let mock = MockUpstream::start();
    mock.enqueue("acct", Fault::Drop);
    let result = client()
        .post(format!("{}/v1/messages", mock.url()))
        .header("x-api-key", "acct")
        .json(&anthropic(false))
        .send()
        .await;
    let err = result.expect_err("no response");
    assert!(!err.is_timeout());

    mock.enqueue("acct", Fault::Drop);
    let (received, _) = raw_exchange(
        &mock,
        &raw_post("/v1/messages", "acct", &anthropic(true).to_string()),
    );
    assert_eq!(received, "", "not even a status line");
    assert_eq!(
        mock.requests_for("acct").len(),
        2,
        "dropped requests are recorded"
    );
    assert!(eventually(|| mock.in_flight() == 0).await);
}

#[tokio::test]
async fn hang_waits_until_the_client_gives_up() {
    let mock = MockUpstream::start();
    mock.enqueue("acct", Fault::Hang);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let started = Instant::now();
    let result = client
        .post(format!("{}/v1/messages", mock.url()))
        .header("x-api-key", "acct")
        .json(&anthropic(false))
        .send()
        .await;
    assert!(result.expect_err("no answer").is_timeout());
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(
        eventually(|| mock.in_flight() == 0).await,
        "the hanging request ends when the client leaves"
    );
}

#[tokio::test]
async fn in_flight_counts_a_stream_until_the_client_goes_away() {
    let mock = MockUpstream::start();
    assert_eq!(mock.in_flight(), 0);
    mock.enqueue("acct", Fault::SlowStream { ms: 300 });
    let response = post(&mock, "/v1/messages", ACCT, anthropic(true)).await;
    let mut stream = response.bytes_stream();
    stream.next().await.expect("first chunk").expect("ok");
    assert_eq!(mock.in_flight(), 1);
    drop(stream);
    assert!(
        eventually(|| mock.in_flight() == 0).await,
        "aborted stream is no longer in flight"
    );

    // A completed stream is not in flight either.
    let response = post(&mock, "/v1/messages", ACCT, anthropic(true)).await;
    response.text().await.unwrap();
    assert!(eventually(|| mock.in_flight() == 0).await);
}
