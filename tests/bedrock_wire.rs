//! switchyard's Bedrock pieces (`src/bedrock`) against the mock's Bedrock runtime API over real
//! HTTP: requests built and signed here are accepted by the mock's own SigV4 verifier, tampered
//! ones refused, streams decoded to Anthropic SSE, errors and throttling classified.

use std::time::SystemTime;

use bytes::BytesMut;
use mock_upstream::{BEDROCK_SECRET_ACCESS_KEY, Fault, MockUpstream, MockUsage};
use serde_json::{Value, json};
use switchyard::bedrock::request::{self, anthropic_count_answer};
use switchyard::bedrock::signing::{Outgoing, authorize};
use switchyard::bedrock::usage::StreamUsage;
use switchyard::bedrock::{
    BedrockCredentials, BedrockError, Endpoint, EventStreamToSse, Failure, ModelMap, Operation,
};

const KEY_ID: &str = "AKIAMOCKBEDROCK00001";

fn access_key(key_id: &str, secret: &str, session_token: Option<&str>) -> BedrockCredentials {
    let mut stored = json!({"region": "us-east-1", "access_key_id": key_id, "secret_access_key": secret});
    if let Some(token) = session_token {
        stored["session_token"] = json!(token);
    }
    BedrockCredentials::from_json(&stored.to_string()).expect("credentials")
}

/// An upstream request as the Bedrock kind will make it.
struct Call {
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn invoke_call(
    mock: &MockUpstream,
    creds: &BedrockCredentials,
    client_body: &Value,
    beta: Option<&str>,
) -> Call {
    let invoke = request::invoke(
        client_body.to_string().as_bytes(),
        beta,
        &ModelMap::default(),
        &creds.region,
    )
    .expect("invoke body");
    let operation = if invoke.stream {
        Operation::InvokeStream
    } else {
        Operation::Invoke
    };
    let url = Endpoint::with_base(&mock.url())
        .expect("base")
        .url(&invoke.model_id, operation);
    signed(creds, url, invoke.body, invoke.stream)
}

fn signed(creds: &BedrockCredentials, url: String, body: Vec<u8>, stream: bool) -> Call {
    let accept = if stream {
        switchyard::bedrock::EVENT_STREAM_CONTENT_TYPE
    } else {
        "application/json"
    };
    let base = [("content-type", "application/json"), ("accept", accept)];
    let outgoing = Outgoing {
        method: "POST",
        url: &url,
        headers: &base,
        body: &body,
    };
    let mut headers: Vec<(String, String)> = base
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    for (name, value) in authorize(creds, &outgoing, SystemTime::now()).expect("signing") {
        headers.push((name.to_owned(), value));
    }
    Call { url, headers, body }
}

async fn send(call: &Call) -> reqwest::Response {
    let mut request = reqwest::Client::new().post(&call.url).body(call.body.clone());
    for (name, value) in &call.headers {
        request = request.header(name, value);
    }
    request.send().await.expect("mock answers")
}

/// The body streamed through the SSE transcoder (and a usage reader) as it arrives.
async fn transcode(response: reqwest::Response) -> (String, EventStreamToSse, StreamUsage) {
    let tap = switchyard::upstream::wire::anthropic::usage_tap(true);
    let mut usage = StreamUsage::new(tap);
    let mut transcoder = EventStreamToSse::default();
    let mut out = BytesMut::new();
    let mut response = response;
    while let Some(piece) = response.chunk().await.expect("body") {
        // Also split every network chunk in two, so frames cross chunk boundaries.
        let (a, b) = piece.split_at(piece.len() / 2);
        for part in [a, b] {
            transcoder.chunk(part, &mut out);
            switchyard::upstream::UsageTap::feed(&mut usage, part);
        }
    }
    transcoder.finish(&mut out);
    (
        String::from_utf8(out.to_vec()).expect("utf-8 SSE"),
        transcoder,
        usage,
    )
}

/// `(event name, data JSON)` of each SSE event; every event must be `event:` + one `data:`.
fn sse_events(text: &str) -> Vec<(String, Value)> {
    assert!(text.ends_with("\n\n"), "{text}");
    text.trim_end_matches("\n\n")
        .split("\n\n")
        .map(|block| {
            let (event, data) = block.split_once('\n').expect("two lines");
            let name = event.strip_prefix("event: ").expect("event line");
            let data: Value =
                serde_json::from_str(data.strip_prefix("data: ").expect("data line")).expect("JSON");
            assert_eq!(data["type"], name, "{block}");
            (name.to_owned(), data)
        })
        .collect()
}

fn messages_body(stream: bool, prompt: &str) -> Value {
    json!({
        "model": "claude-sonnet-4-5-20250929",
        "max_tokens": 256,
        "stream": stream,
        "messages": [{"role": "user", "content": prompt}],
    })
}

#[actix_web::test]
async fn signed_stream_is_accepted_and_decoded_to_anthropic_sse_with_tool_use_and_usage() {
    let mock = MockUpstream::start();
    mock.set_usage(
        KEY_ID,
        MockUsage {
            input_tokens: 40,
            output_tokens: 9,
            cache_read: 5,
            ..MockUsage::default()
        },
    );
    let creds = access_key(KEY_ID, BEDROCK_SECRET_ACCESS_KEY, None);
    let call = invoke_call(
        &mock,
        &creds,
        &messages_body(true, "MOCK_TOOL_CALL:get_weather"),
        Some("interleaved-thinking-2025-05-14"),
    );
    let response = send(&call).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/vnd.amazon.eventstream"
    );
    let (sse, transcoder, mut usage) = transcode(response).await;
    assert!(transcoder.failure().is_none());
    let events = sse_events(&sse);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(names.last(), Some(&"message_stop"));
    assert!(names.contains(&"ping"));
    let start = &events[0].1;
    assert_eq!(start["message"]["model"], "claude-sonnet-4-5-20250929");
    let tool_start = events
        .iter()
        .find(|(n, d)| n == "content_block_start" && d["content_block"]["type"] == "tool_use")
        .expect("a tool_use block");
    assert_eq!(tool_start.1["content_block"]["name"], "get_weather");
    assert!(
        events
            .iter()
            .any(|(_, d)| d["delta"]["type"] == "input_json_delta")
    );
    let stop = &events.last().expect("events").1;
    assert_eq!(stop["amazon-bedrock-invocationMetrics"]["inputTokenCount"], 40);

    let (tokens, model) = switchyard::upstream::UsageTap::finish(&mut usage).expect("usage");
    assert_eq!(
        (
            tokens.input_tokens,
            tokens.output_tokens,
            tokens.cache_read_tokens
        ),
        (40, 9, 5)
    );
    assert_eq!(model.as_deref(), Some("claude-sonnet-4-5-20250929"));
    assert_eq!(usage.metrics().expect("metrics").output_token_count, 9);

    // What reached Bedrock: the model in the path, the beta header in the body.
    let recorded = mock.requests_for(KEY_ID);
    assert_eq!(recorded.len(), 1);
    assert_eq!(
        recorded[0].path,
        "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream"
    );
    let sent: Value = serde_json::from_slice(&recorded[0].body).expect("json");
    assert_eq!(sent["anthropic_beta"], json!(["interleaved-thinking-2025-05-14"]));
    assert!(sent.get("model").is_none() && sent.get("stream").is_none());
}

#[actix_web::test]
async fn signed_json_invoke_with_session_token_and_bearer_api_key_are_accepted() {
    let mock = MockUpstream::start();
    let creds = access_key(
        "ASIAMOCKBEDROCK00002",
        BEDROCK_SECRET_ACCESS_KEY,
        Some("fake-session-token-mock"),
    );
    let response = send(&invoke_call(&mock, &creds, &messages_body(false, "hi"), None)).await;
    assert_eq!(response.status(), 200);
    let message: Value = response.json().await.expect("json");
    assert_eq!(message["type"], "message");
    assert_eq!(message["usage"]["input_tokens"], 25);
    let recorded = mock.requests_for("ASIAMOCKBEDROCK00002");
    assert_eq!(recorded.len(), 1, "the access key id names the account");

    let api_key = BedrockCredentials::from_json(r#"{"region":"us-east-1","api_key":"ABSKbW9jay1iZWRyb2Nr"}"#)
        .expect("creds");
    let response = send(&invoke_call(&mock, &api_key, &messages_body(false, "hi"), None)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(mock.requests_for("ABSKbW9jay1iZWRyb2Nr").len(), 1);
}

#[actix_web::test]
async fn tampered_or_wrongly_signed_requests_are_refused_as_credential_failures() {
    let mock = MockUpstream::start();
    let creds = access_key(KEY_ID, BEDROCK_SECRET_ACCESS_KEY, None);
    let mut call = invoke_call(&mock, &creds, &messages_body(false, "hi"), None);
    // The body changed after signing.
    call.body = String::from_utf8(call.body)
        .expect("utf-8")
        .replace("256", "257")
        .into_bytes();
    let refused = send(&call).await;
    assert_eq!(refused.status(), 403);
    let headers = refused.headers().clone();
    let body = refused.bytes().await.expect("body");
    let error = BedrockError::from_answer(403, &headers, &body);
    assert_eq!(error.error_type.as_deref(), Some("InvalidSignatureException"));
    assert_eq!(error.failure, Failure::CredentialRejected);
    assert!(error.failure.rests_account() && error.failure.try_another_account());

    let wrong_secret = access_key(KEY_ID, "notTheMockSecret", None);
    let refused = send(&invoke_call(
        &mock,
        &wrong_secret,
        &messages_body(false, "hi"),
        None,
    ))
    .await;
    assert_eq!(refused.status(), 403);

    let mut unsigned = invoke_call(&mock, &creds, &messages_body(false, "hi"), None);
    unsigned.headers.retain(|(n, _)| n != "authorization");
    let refused = send(&unsigned).await;
    assert_eq!(refused.status(), 403);
    assert_eq!(
        refused.headers()["x-amzn-errortype"]
            .to_str()
            .expect("ascii")
            .split(':')
            .next(),
        Some("UnrecognizedClientException")
    );
}

#[actix_web::test]
async fn throttling_is_classified_before_and_during_a_stream() {
    let mock = MockUpstream::start();
    let creds = access_key(KEY_ID, BEDROCK_SECRET_ACCESS_KEY, None);
    mock.enqueue(
        KEY_ID,
        Fault::bedrock_error(
            429,
            "ThrottlingException",
            "Too many requests, please wait before trying again.",
        ),
    );
    let response = send(&invoke_call(&mock, &creds, &messages_body(true, "hi"), None)).await;
    assert_eq!(response.status(), 429);
    let headers = response.headers().clone();
    let error = BedrockError::from_answer(429, &headers, &response.bytes().await.expect("body"));
    assert_eq!(error.failure, Failure::RateLimited);
    assert_eq!(error.failure.anthropic(), (429, "rate_limit_error"));
    let body: Value = serde_json::from_str(&error.anthropic_body()).expect("json");
    assert_eq!(body["error"]["type"], "rate_limit_error");

    mock.enqueue(KEY_ID, Fault::InBandError { after_events: 3 });
    let response = send(&invoke_call(&mock, &creds, &messages_body(true, "hi"), None)).await;
    assert_eq!(response.status(), 200);
    let (sse, transcoder, _) = transcode(response).await;
    let events = sse_events(&sse);
    assert_eq!(events.len(), 4, "{sse}");
    let (name, data) = events.last().expect("events");
    assert_eq!(name, "error");
    assert_eq!(data["error"]["type"], "rate_limit_error");
    assert_eq!(
        transcoder.failure().map(|f| f.failure),
        Some(Failure::RateLimited)
    );
}

#[actix_web::test]
async fn count_tokens_round_trip_and_invalid_bodies_come_back_as_validation_errors() {
    let mock = MockUpstream::start();
    mock.set_usage(
        KEY_ID,
        MockUsage {
            input_tokens: 77,
            ..MockUsage::default()
        },
    );
    let creds = access_key(KEY_ID, BEDROCK_SECRET_ACCESS_KEY, None);
    let (model_id, body) = request::count_tokens(
        json!({"model": "claude-haiku-4-5", "messages": [{"role": "user", "content": "hi"}]})
            .to_string()
            .as_bytes(),
        None,
        &ModelMap::default(),
        &creds.region,
    )
    .expect("count body");
    let url = Endpoint::with_base(&mock.url())
        .expect("base")
        .url(&model_id, Operation::CountTokens);
    let response = send(&signed(&creds, url, body, false)).await;
    assert_eq!(response.status(), 200);
    let answer = anthropic_count_answer(&response.bytes().await.expect("body")).expect("count");
    assert_eq!(
        serde_json::from_slice::<Value>(&answer).expect("json"),
        json!({"input_tokens": 77})
    );

    // A body Bedrock refuses (no max_tokens) is the client's error, not the account's.
    let mut client = messages_body(false, "hi");
    client.as_object_mut().expect("object").remove("max_tokens");
    let response = send(&invoke_call(&mock, &creds, &client, None)).await;
    assert_eq!(response.status(), 400);
    let headers = response.headers().clone();
    let error = BedrockError::from_answer(400, &headers, &response.bytes().await.expect("body"));
    assert_eq!(error.failure, Failure::InvalidRequest);
    assert!(!error.failure.try_another_account());
}
