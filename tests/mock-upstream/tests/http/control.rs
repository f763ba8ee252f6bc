//! Recording, credentials, the token endpoints, unknown routes, the control API and the binary.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use mock_upstream::{Fault, MockUpstream};
use serde_json::{Value, json};

use crate::common::{client, json_ok, post};

#[tokio::test]
async fn credential_comes_from_each_header_and_the_key_query() {
    let mock = MockUpstream::start();
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
    let cases = [
        ("x-api-key", "cred-x", "/v1/messages"),
        ("authorization", "Bearer cred-bearer", "/v1/chat/completions"),
        ("x-goog-api-key", "cred-goog", "/v1/models/g:generateContent"),
        (
            "api-key",
            "cred-azure",
            "/openai/deployments/d/chat/completions?api-version=2024-10-21",
        ),
    ];
    for (header, value, path) in cases {
        assert_eq!(
            post(&mock, path, (header, value), body.clone()).await.status(),
            200
        );
    }
    let response = client()
        .post(format!(
            "{}/v1beta/models/g:generateContent?key=cred-query",
            mock.url()
        ))
        .json(&json!({"contents": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    for cred in ["cred-x", "cred-bearer", "cred-goog", "cred-azure", "cred-query"] {
        let recorded = mock.requests_for(cred);
        assert_eq!(recorded.len(), 1, "{cred}");
        assert_eq!(recorded[0].credential.as_deref(), Some(cred));
    }
    // x-api-key wins over a bearer token.
    let response = client()
        .post(format!("{}/v1/messages", mock.url()))
        .header("authorization", "Bearer second")
        .header("x-api-key", "first")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        mock.requests().last().unwrap().credential.as_deref(),
        Some("first")
    );
}

#[tokio::test]
async fn requests_are_recorded_in_order_before_faults_apply() {
    let mock = MockUpstream::start();
    mock.enqueue(
        "acct",
        Fault::anthropic_error(529, "overloaded_error", "Overloaded"),
    );
    let first = json!({"model": "m1", "messages": []});
    let response = client()
        .post(format!("{}/v1/messages?beta=true", mock.url()))
        .header("x-api-key", "acct")
        .header("Anthropic-Beta", "oauth-2025-04-20")
        .json(&first)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 529);
    post(
        &mock,
        "/v1/chat/completions",
        ("authorization", "Bearer acct"),
        json!({"model": "m2"}),
    )
    .await;
    post(
        &mock,
        "/v1/messages",
        ("x-api-key", "other"),
        json!({"model": "m3"}),
    )
    .await;

    let all = mock.requests();
    assert_eq!(
        all.iter().map(|r| r.path.as_str()).collect::<Vec<_>>(),
        ["/v1/messages", "/v1/chat/completions", "/v1/messages"]
    );
    let r = &all[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.query, "beta=true");
    assert_eq!(r.query_param("beta").as_deref(), Some("true"));
    assert_eq!(r.header("anthropic-beta"), Some("oauth-2025-04-20"));
    assert_eq!(r.header("ANTHROPIC-BETA"), Some("oauth-2025-04-20"));
    assert!(
        r.headers
            .iter()
            .all(|(name, _)| *name == name.to_ascii_lowercase())
    );
    assert_eq!(r.json(), first);
    assert_eq!(r.body, first.to_string().as_bytes());
    assert_eq!(mock.requests_for("acct").len(), 2);

    mock.clear();
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn token_endpoint_refresh_exchange_and_failures() {
    let mock = MockUpstream::start();
    // Anthropic: JSON refresh.
    let refresh =
        json!({"grant_type": "refresh_token", "refresh_token": "rt-old", "client_id": "claude-client"});
    let answer = json_ok(post(&mock, "/v1/oauth/token", ("user-agent", "relay"), refresh).await).await;
    assert_eq!(answer["access_token"], "mock-at-1");
    assert_eq!(answer["refresh_token"], "mock-rt-1");
    assert_eq!(answer["expires_in"], 3600);
    assert_eq!(answer["token_type"], "Bearer");

    // OpenAI: form-encoded, with an id_token.
    let response = client()
        .post(format!("{}/oauth/token", mock.url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=refresh_token&refresh_token=rt-openai&client_id=app_x")
        .send()
        .await
        .unwrap();
    let answer = json_ok(response).await;
    assert_eq!(answer["access_token"], "mock-at-2");
    assert_eq!(answer["id_token"].as_str().unwrap().split('.').count(), 3);

    // Google: `/token`, an authorization-code exchange with PKCE.
    let form = "grant_type=authorization_code&code=the-code&code_verifier=verif&redirect_uri=http%3A%2F%2Flocalhost%2Fcb&state=st";
    let response = client()
        .post(format!("{}/token", mock.url()))
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(json_ok(response).await["access_token"], "mock-at-3");

    mock.fail_next_token_refreshes(2);
    for _ in 0..2 {
        let response = client()
            .post(format!("{}/token", mock.url()))
            .body("grant_type=refresh_token")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        assert_eq!(response.json::<Value>().await.unwrap()["error"], "invalid_grant");
    }
    let response = client()
        .post(format!("{}/token", mock.url()))
        .body("grant_type=refresh_token")
        .send()
        .await
        .unwrap();
    assert_eq!(json_ok(response).await["access_token"], "mock-at-4");

    let tokens = mock.token_requests();
    assert_eq!(tokens.len(), 6);
    assert_eq!(tokens[0].json()["refresh_token"], "rt-old");
    assert_eq!(tokens[0].param("client_id").as_deref(), Some("claude-client"));
    assert_eq!(tokens[1].param("refresh_token").as_deref(), Some("rt-openai"));
    let exchange = &tokens[2];
    assert_eq!(exchange.path, "/token");
    assert_eq!(exchange.param("code").as_deref(), Some("the-code"));
    assert_eq!(exchange.param("code_verifier").as_deref(), Some("verif"));
    assert_eq!(
        exchange.param("redirect_uri").as_deref(),
        Some("http://localhost/cb")
    );
    assert_eq!(exchange.param("state").as_deref(), Some("st"));
    assert!(mock.requests().is_empty(), "token requests are kept apart");
}

#[tokio::test]
async fn unknown_routes_are_json_404s() {
    let mock = MockUpstream::start();
    let response = client().head(format!("{}/", mock.url())).send().await.unwrap();
    assert_eq!(response.status(), 404);
    let response = client()
        .post(format!("{}/v1/nothing", mock.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert!(response.json::<Value>().await.unwrap()["error"]["message"].is_string());
    assert_eq!(mock.requests().len(), 2, "unknown requests are recorded too");
}

#[tokio::test]
async fn scripted_response_headers() {
    let mock = MockUpstream::start();
    mock.set_response_headers("acct", &[("anthropic-ratelimit-unified-5h-utilization", "0.42")]);
    let response = post(
        &mock,
        "/v1/messages",
        ("x-api-key", "acct"),
        json!({"messages": [], "stream": true}),
    )
    .await;
    assert_eq!(
        response.headers()["anthropic-ratelimit-unified-5h-utilization"],
        "0.42"
    );
}

#[tokio::test]
async fn control_api_drives_the_mock_over_http() {
    let mock = MockUpstream::start();
    let control = |path: &str| format!("{}/__mock/{path}", mock.url());
    let http = client();
    let fault = json!({"credential": "py", "fault": {"kind": "status", "status": 429, "headers": [["retry-after", "2"]], "body": "{}"}});
    assert_eq!(
        http.post(control("enqueue"))
            .json(&fault)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let usage = json!({"credential": "py", "usage": {"input_tokens": 1, "output_tokens": 2}});
    assert_eq!(
        http.post(control("usage"))
            .json(&usage)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let response = post(
        &mock,
        "/v1/messages",
        ("x-api-key", "py"),
        json!({"messages": []}),
    )
    .await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "2");
    let answer = json_ok(
        post(
            &mock,
            "/v1/messages",
            ("x-api-key", "py"),
            json!({"messages": []}),
        )
        .await,
    )
    .await;
    assert_eq!(answer["usage"]["output_tokens"], 2);

    let recorded: Value = http
        .get(control("requests?credential=py"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(recorded.as_array().unwrap().len(), 2);
    assert_eq!(recorded[0]["path"], "/v1/messages");
    assert_eq!(recorded[0]["json"], json!({"messages": []}));
    let in_flight: Value = http
        .get(control("in_flight"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(in_flight, json!({"in_flight": 0}));

    let persistent = json!({"credential": "py", "fault": {"kind": "drop"}});
    http.post(control("persistent"))
        .json(&persistent)
        .send()
        .await
        .unwrap();
    assert_eq!(mock.requests().len(), 2, "control requests are not recorded");
    http.post(control("clear")).send().await.unwrap();
    assert!(mock.requests().is_empty());
    assert_eq!(
        post(
            &mock,
            "/v1/messages",
            ("x-api-key", "py"),
            json!({"messages": []})
        )
        .await
        .status(),
        200
    );
    let bad = http.post(control("enqueue")).body("{").send().await.unwrap();
    assert_eq!(bad.status(), 400);
}

/// Works without any async runtime in the test, and keeps the connection alive across answers.
#[test]
fn plain_test_and_keep_alive() {
    let mock = MockUpstream::start();
    let mut stream = TcpStream::connect(("127.0.0.1", mock.port())).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let body = r#"{"model":"m","stream":true,"messages":[]}"#;
    let request = format!(
        "POST /v1/messages HTTP/1.1\r\nHost: m\r\nx-api-key: k\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    for _ in 0..2 {
        stream.write_all(request.as_bytes()).unwrap();
        let mut received = Vec::new();
        let mut buf = [0u8; 8192];
        while !received.ends_with(b"0\r\n\r\n") {
            let n = stream.read(&mut buf).unwrap();
            assert!(n > 0, "connection kept alive");
            received.extend_from_slice(&buf[..n]);
        }
        let text = String::from_utf8_lossy(&received);
        assert!(text.starts_with("HTTP/1.1 200 OK"));
        assert!(text.contains("message_stop"));
    }
    assert_eq!(mock.requests().len(), 2);
}

#[test]
fn dropping_the_handle_stops_the_server() {
    let mock = MockUpstream::start();
    let port = mock.port();
    assert!(mock.url().ends_with(&format!(":{port}")));
    assert!(TcpStream::connect(("127.0.0.1", port)).is_ok());
    drop(mock);
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn dropping_the_handle_does_not_wait_for_hanging_requests() {
    let mock = MockUpstream::start();
    mock.set_persistent("k", Some(Fault::Hang));
    let mut stream = TcpStream::connect(("127.0.0.1", mock.port())).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let body = r#"{"messages":[]}"#;
    let request = format!(
        "POST /v1/messages HTTP/1.1\r\nHost: m\r\nx-api-key: k\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while mock.in_flight() == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(mock.in_flight(), 1);
    let started = std::time::Instant::now();
    drop(mock);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "stopped in {:?}",
        started.elapsed()
    );
    let mut rest = Vec::new();
    assert!(
        matches!(stream.read_to_end(&mut rest), Ok(0) | Err(_)),
        "the connection is closed without an answer"
    );
}

#[test]
fn binary_prints_its_address_and_serves() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mock-upstream"))
        .args(["--port", "0", "--workers", "1"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn mock-upstream");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .expect("first line")
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:"));
    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    stream
        .write_all(b"GET /v1/models HTTP/1.1\r\nHost: m\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"object\":\"list\""));
}
