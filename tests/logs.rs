//! What the real binary writes to its logs when clients are hostile: one line per request
//! whatever the model name holds, no line longer than a few KB, and never a key or credential.
mod binary;

use binary::Binary;
use mock_upstream::{Fault, MockUpstream};
use serde_json::{Value, json};
use std::path::Path;

/// A line break followed by something shaped like a whole log line of each format.
const FORGED_HUMAN: &str = "claude-sonnet-5\n2026-01-01T00:00:00.000000Z  INFO switchyard::relay::finish: request finished request_id=req_forged0000 key_id=admin status=200";
const FORGED_JSON: &str = "claude-sonnet-5\n{\"timestamp\":\"2026-01-01T00:00:00.000000Z\",\"level\":\"INFO\",\"message\":\"request finished\",\"request_id\":\"req_forged0000\"}";

fn start(mock: &MockUpstream, data: &Path, format: &str) -> Binary {
    binary::start(mock, data, &[("SWITCHYARD__LOG__FORMAT", format)])
}

/// Sends a Claude request with `model`; returns the `request-id` switchyard answered with.
async fn send(server: &Binary, key: &str, model: &str) -> String {
    let resp = reqwest::Client::new()
        .post(server.url("/v1/messages"))
        .header("x-api-key", key)
        .json(&json!({"model": model, "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    let id = resp.headers()["request-id"].to_str().unwrap().to_owned();
    resp.bytes().await.unwrap();
    id
}

async fn one_line_per_request_whatever_the_model_says(format: &str, forged: &str) {
    let mock = MockUpstream::start();
    let data = tempfile::tempdir().unwrap();
    let mut server = start(&mock, data.path(), format);
    server
        .add_account(
            json!({"name": "a", "kind": "claude-console", "base_url": mock.url(), "api_key": "sk-ant-a"}),
        )
        .await;
    let (_, key) = server.create_key("k").await;
    let request_id = send(&server, &key, forged).await;
    assert_eq!(server.terminate().code(), Some(0));

    let lines = server.lines();
    let ours: Vec<&String> = lines.iter().filter(|l| l.contains(&request_id)).collect();
    assert_eq!(ours.len(), 1, "one line for the request: {lines:#?}");
    for l in &lines {
        assert!(
            !l.contains("req_forged0000") || l.contains(&request_id),
            "the forged text is a line of its own: {l}"
        );
        assert!(!l.starts_with("2026-01-01T00:00:00"), "forged line: {l}");
        if format == "json" {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            assert_ne!(v["request_id"], "req_forged0000", "{l}");
        }
    }
}

#[tokio::test]
async fn a_model_name_with_a_line_break_cannot_forge_a_human_log_line() {
    one_line_per_request_whatever_the_model_says("human", FORGED_HUMAN).await;
}

#[tokio::test]
async fn a_model_name_with_a_line_break_cannot_forge_a_json_log_line() {
    one_line_per_request_whatever_the_model_says("json", FORGED_JSON).await;
}

#[tokio::test]
async fn a_two_megabyte_model_name_does_not_make_a_two_megabyte_log_line() {
    let mock = MockUpstream::start();
    for format in ["human", "json"] {
        let data = tempfile::tempdir().unwrap();
        let mut server = start(&mock, data.path(), format);
        server
            .add_account(
                json!({"name": "a", "kind": "claude-console", "base_url": mock.url(), "api_key": "sk-ant-a"}),
            )
            .await;
        let (_, key) = server.create_key("k").await;
        let huge = format!("claude-{}", "x".repeat(2 * 1024 * 1024));
        let request_id = send(&server, &key, &huge).await;
        assert_eq!(server.terminate().code(), Some(0));

        let lines = server.lines();
        assert!(
            lines.iter().any(|l| l.contains(&request_id)),
            "{format}: the request was logged"
        );
        let longest = lines.iter().map(String::len).max().unwrap_or(0);
        assert!(longest < 4 * 1024, "{format}: a log line of {longest} bytes");
    }
}

/// Every secret of the test: upstream API keys, a proxy password, OAuth tokens (the ones
/// configured and the ones a refresh hands out), client keys good and bad, the admin token
/// and the store's encryption key.
struct Secrets(Vec<String>);

impl Secrets {
    fn assert_absent_from(&self, lines: &[String]) {
        for secret in &self.0 {
            for l in lines {
                assert!(!l.contains(secret.as_str()), "{secret} is logged: {l}");
            }
        }
    }
}

#[tokio::test]
async fn keys_and_credentials_never_appear_in_the_logs() {
    let mock = MockUpstream::start();
    let data = tempfile::tempdir().unwrap();
    let mut server = start(&mock, data.path(), "human");
    // A proxy nobody listens on: the attempt fails and is logged with its cause.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = format!(
        "http://proxy-user:proxy-pass-5ecret@127.0.0.1:{}",
        closed.local_addr().unwrap().port()
    );
    drop(closed);
    server
        .add_account(
            json!({"name": "proxied", "kind": "claude-console", "base_url": mock.url(),
            "api_key": "sk-ant-proxied-5ecret", "proxy": proxy, "priority": 1}),
        )
        .await;
    server
        .add_account(json!({"name": "sub", "kind": "claude-official", "base_url": null, "api_key": null, "priority": 2,
            "oauth": {"access_token": "at-expired-5ecret", "refresh_token": "rt-first-5ecret", "expires_at": 1}}))
        .await;
    server
        .add_account(json!({"name": "sub2", "kind": "claude-official", "base_url": null, "api_key": null, "priority": 3,
            "oauth": {"access_token": "at-other-5ecret", "refresh_token": "rt-second-5ecret", "expires_at": 1}}))
        .await;
    server
        .add_account(
            json!({"name": "console", "kind": "claude-console", "base_url": mock.url(),
            "api_key": "sk-ant-console-5ecret", "priority": 4}),
        )
        .await;
    let (_, key) = server.create_key("k").await;
    let http = reqwest::Client::new();
    let body = json!({"model": "claude-sonnet-5", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]});
    let post = |path: &str| http.post(server.url(path)).json(&body);

    // Served: the proxied account fails, the first subscription refreshes its token and answers.
    let served = [
        post("/v1/messages").header("x-api-key", &key),
        post("/v1/messages").bearer_auth(&key),
        post("/v1/messages").header("api-key", &key),
        post(&format!("/v1/messages?key={key}")),
    ];
    for req in served {
        assert_eq!(req.send().await.unwrap().status(), 200);
    }
    let refreshed: Vec<String> = mock
        .requests()
        .iter()
        .filter_map(|r| {
            r.header("authorization")
                .map(|a| a.trim_start_matches("Bearer ").to_owned())
        })
        .collect();
    assert!(!refreshed.is_empty(), "the subscription served");

    // Failing: the live token and the console key answer 401, the second refresh fails.
    for token in &refreshed {
        mock.enqueue(
            token,
            Fault::anthropic_error(401, "authentication_error", "invalid x-api-key"),
        );
    }
    mock.enqueue(
        "sk-ant-console-5ecret",
        Fault::anthropic_error(401, "authentication_error", "invalid x-api-key"),
    );
    mock.fail_next_token_refreshes(1);
    let failed = post("/v1/messages")
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    assert!(failed.status().is_client_error() || failed.status().is_server_error());
    assert!(mock.token_requests().len() >= 2, "both refreshes were tried");

    // Refused: a wrong key in every place a key may be.
    let bad = "cr_wrong-client-key-5ecret";
    let refused = [
        post("/v1/messages").header("x-api-key", bad),
        post("/v1/messages").bearer_auth(bad),
        post("/v1/messages").header("api-key", bad),
        post("/v1/messages").header("x-goog-api-key", bad),
        post(&format!("/v1/messages?key={bad}")),
        http.post(server.url(&format!(
            "/gemini/v1beta/models/gemini-2.5-pro:generateContent?key={bad}"
        )))
        .json(&body),
        http.post(server.url(&format!(
            "/gemini/v1beta/models/gemini-2.5-pro:generateContent?key={key}"
        )))
        .json(&body),
    ];
    for req in refused {
        let status = req.send().await.unwrap().status();
        assert!(status.is_client_error() || status.is_server_error(), "{status}");
    }
    assert_eq!(server.terminate().code(), Some(0));

    let lines = server.lines();
    assert!(
        lines
            .iter()
            .filter(|l| l.contains("upstream attempt failed"))
            .count()
            >= 3,
        "the failures were logged: {lines:#?}"
    );
    assert!(
        lines.iter().filter(|l| l.contains("request finished")).count() >= 5,
        "{lines:#?}"
    );
    let mut secrets = vec![
        key.clone(),
        bad.to_owned(),
        binary::ADMIN.to_owned(),
        "sk-ant-proxied-5ecret".into(),
        "proxy-pass-5ecret".into(),
        "at-expired-5ecret".into(),
        "rt-first-5ecret".into(),
        "at-other-5ecret".into(),
        "rt-second-5ecret".into(),
        "sk-ant-console-5ecret".into(),
    ];
    secrets.extend(refreshed);
    let encryption_key = std::fs::read_to_string(data.path().join("encryption-key")).unwrap();
    secrets.push(encryption_key.trim().to_owned());
    Secrets(secrets).assert_absent_from(&lines);
}
