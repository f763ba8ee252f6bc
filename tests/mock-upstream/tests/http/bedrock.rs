//! Bedrock's runtime API: event-stream framing with valid CRCs, authentication, throttling.

use base64::Engine as _;
use mock_upstream::{Fault, MockUpstream};
use serde_json::{Value, json};

use crate::common::client;

const PATH: &str = "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0";

fn invoke_body() -> Value {
    json!({
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 32,
        "messages": [{"role": "user", "content": "hi"}],
    })
}

async fn post(mock: &MockUpstream, operation: &str, authorization: &str) -> reqwest::Response {
    client()
        .post(format!("{}{PATH}/{operation}", mock.url()))
        .header("authorization", authorization)
        .json(&invoke_body())
        .send()
        .await
        .expect("request")
}

/// A frame's string headers and payload.
type Frame = (Vec<(String, String)>, Vec<u8>);

/// Splits an event-stream body into frames, checking both CRCs.
fn frames(mut body: &[u8]) -> Vec<Frame> {
    let mut out = Vec::new();
    while !body.is_empty() {
        let u32_at = |b: &[u8], at: usize| u32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes"));
        let total = u32_at(body, 0) as usize;
        let headers_len = u32_at(body, 4) as usize;
        assert_eq!(u32_at(body, 8), crc32fast::hash(&body[..8]), "prelude CRC");
        assert_eq!(
            u32_at(body, total - 4),
            crc32fast::hash(&body[..total - 4]),
            "message CRC"
        );
        let mut h = &body[12..12 + headers_len];
        let mut headers = Vec::new();
        while !h.is_empty() {
            let n = h[0] as usize;
            let name = String::from_utf8(h[1..1 + n].to_vec()).expect("name");
            assert_eq!(h[1 + n], 7, "string header");
            let len = u16::from_be_bytes([h[2 + n], h[3 + n]]) as usize;
            headers.push((
                name,
                String::from_utf8(h[4 + n..4 + n + len].to_vec()).expect("value"),
            ));
            h = &h[4 + n + len..];
        }
        out.push((headers, body[12 + headers_len..total - 4].to_vec()));
        body = &body[total..];
    }
    out
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn stream_is_event_stream_chunks_of_anthropic_events() {
    let mock = MockUpstream::start();
    let response = post(&mock, "invoke-with-response-stream", "Bearer ABSKmock").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/vnd.amazon.eventstream"
    );
    let body = response.bytes().await.expect("body");
    let events: Vec<Value> = frames(&body)
        .into_iter()
        .map(|(headers, payload)| {
            assert_eq!(header(&headers, ":message-type"), Some("event"));
            assert_eq!(header(&headers, ":event-type"), Some("chunk"));
            let chunk: Value = serde_json::from_slice(&payload).expect("chunk JSON");
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(chunk["bytes"].as_str().expect("bytes"))
                .expect("base64");
            serde_json::from_slice(&bytes).expect("event JSON")
        })
        .collect();
    assert_eq!(events[0]["type"], "message_start");
    assert_eq!(events[0]["message"]["model"], "claude-sonnet-4-5-20250929");
    let last = events.last().expect("events");
    assert_eq!(last["type"], "message_stop");
    assert_eq!(last["amazon-bedrock-invocationMetrics"]["outputTokenCount"], 12);
}

#[tokio::test]
async fn unsigned_or_badly_signed_requests_get_bedrocks_403() {
    let mock = MockUpstream::start();
    let response = post(&mock, "invoke", "").await;
    assert_eq!(response.status(), 403);
    assert!(
        response.headers()["x-amzn-errortype"]
            .to_str()
            .expect("ascii")
            .starts_with("UnrecognizedClientException:")
    );

    let forged = "AWS4-HMAC-SHA256 Credential=AKIAMOCK000000000001/20250101/us-east-1/bedrock/aws4_request, \
                  SignedHeaders=host;x-amz-date, Signature=00";
    let response = client()
        .post(format!("{}{PATH}/invoke", mock.url()))
        .header("authorization", forged)
        .header("x-amz-date", "20250101T000000Z")
        .json(&invoke_body())
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 403);
    assert!(
        response.headers()["x-amzn-errortype"]
            .to_str()
            .expect("ascii")
            .starts_with("InvalidSignatureException:")
    );
    let body: Value = response.json().await.expect("json");
    assert!(body["message"].as_str().expect("message").contains("signature"));
}

#[tokio::test]
async fn throttles_on_demand_with_a_status_or_a_mid_stream_exception() {
    let mock = MockUpstream::start();
    mock.enqueue(
        "ABSKmock",
        Fault::bedrock_error(429, "ThrottlingException", "Too many requests"),
    );
    let response = post(&mock, "invoke", "Bearer ABSKmock").await;
    assert_eq!(response.status(), 429);
    assert!(
        response.headers()["x-amzn-errortype"]
            .to_str()
            .expect("ascii")
            .starts_with("ThrottlingException:")
    );

    mock.enqueue("ABSKmock", Fault::InBandError { after_events: 2 });
    let body = post(&mock, "invoke-with-response-stream", "Bearer ABSKmock")
        .await
        .bytes()
        .await
        .expect("body");
    let frames = frames(&body);
    assert_eq!(frames.len(), 3);
    let (headers, payload) = frames.last().expect("frames");
    assert_eq!(header(headers, ":message-type"), Some("exception"));
    assert_eq!(header(headers, ":exception-type"), Some("throttlingException"));
    assert!(String::from_utf8_lossy(payload).contains("Too many tokens"));

    mock.enqueue("ABSKmock", Fault::InBandError { after_events: 2 });
    assert_eq!(post(&mock, "invoke", "Bearer ABSKmock").await.status(), 429);
}
