//! A key holder cannot exhaust memory or connections with request bodies: the key's slot is
//! taken before its body is read, bodies are bounded in time, size (per route) and memory (per
//! key and overall), and oddly shaped bodies are relayed without building a tree of them.
mod support;

use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use support::{claude_body, spawn_app_with};

/// A request whose head and first `sent` body bytes are written, declaring `declared` bytes;
/// the connection stays open, the rest never comes.
fn start_upload(port: u16, path: &str, key: &str, declared: usize, sent: &[u8]) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nx-api-key: {key}\r\ncontent-type: application/json\r\n\
         content-length: {declared}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(sent).unwrap();
    s
}

/// Reads an HTTP/1.1 answer's status and body (the body up to `content-length`), or `None` when
/// nothing arrived within `within`.
fn read_answer(s: &mut TcpStream, within: Duration) -> Option<(u16, Value)> {
    s.set_read_timeout(Some(within)).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().to_owned())
                })
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                let status = text[9..12].parse().unwrap();
                let body = serde_json::from_slice(&buf[end + 4..end + 4 + length]).unwrap_or(Value::Null);
                return Some((status, body));
            }
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn port_of(base: &str) -> u16 {
    base.rsplit(':').next().unwrap().parse().unwrap()
}

/// Waits until the server holds at least `bytes` of request bodies: an upload's head is only
/// written by the time `start_upload` returns, not yet read.
async fn until_held(app: &support::TestApp, bytes: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.state.body_memory.held() < bytes {
        assert!(Instant::now() < deadline, "the upload's bytes were never claimed");
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    actix_web::rt::task::spawn_blocking(f).await.unwrap()
}

#[actix_web::test]
async fn a_key_at_its_concurrency_limit_is_refused_before_its_body_is_read() {
    let app = spawn_app_with(|_| {}).await;
    app.add_console("a", "sk-ant-a").await;
    let (_, key) = app.create_key(json!({"concurrency_limit": 1})).await;
    let port = port_of(&app.base);
    // The first request holds the key's only slot while its body trickles in.
    let k = key.clone();
    let first = blocking(move || start_upload(port, "/v1/messages", &k, 10 << 20, b"{\"model\":")).await;
    until_held(&app, 10 << 20).await;
    let k = key.clone();
    let started = Instant::now();
    let (status, body) = blocking(move || {
        let mut second = start_upload(port, "/v1/messages", &k, 10 << 20, b"");
        read_answer(&mut second, Duration::from_secs(20))
    })
    .await
    .expect("the second request is answered without sending its body");
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["type"], "rate_limit_error", "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered before any body byte arrived"
    );
    drop(first);
    // Once the first connection is gone its slot is free again.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let status = app.post_messages(&key, &claude_body(false)).await.status();
        if status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the abandoned upload's slot was never released: {status}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn silent_and_trickling_uploads_are_cut_with_408() {
    let app = spawn_app_with(|s| {
        s.server.body_idle_timeout_ms = 300;
        s.server.body_read_timeout_ms = 1_200;
    })
    .await;
    app.add_console("a", "sk-ant-a").await;
    let key = app.key().await;
    let port = port_of(&app.base);
    let k = key.clone();
    let (status, body) = blocking(move || {
        let mut silent = start_upload(port, "/v1/messages", &k, 1_000, b"{");
        read_answer(&mut silent, Duration::from_secs(10))
    })
    .await
    .expect("a silent upload is answered");
    assert_eq!(status, 408, "{body}");
    assert_eq!(
        (body["type"].as_str(), body["error"]["type"].as_str()),
        (Some("error"), Some("invalid_request_error"))
    );
    // One byte every 100 ms never trips the idle bound, but the whole-body bound cuts it.
    let k = key.clone();
    let (status, elapsed) = blocking(move || {
        let started = Instant::now();
        let mut s = start_upload(
            port,
            "/gemini/v1beta/models/gemini-2.5-flash:generateContent",
            &k,
            1_000,
            b"",
        );
        s.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
        for _ in 0..100 {
            if s.write_all(b" ").is_err() {
                break;
            }
            if let Some(answer) = read_answer(&mut s, Duration::from_millis(100)) {
                return (answer.0, started.elapsed());
            }
        }
        (0, started.elapsed())
    })
    .await;
    assert_eq!(status, 408);
    assert!(
        elapsed < Duration::from_secs(8),
        "cut by the whole-body bound, took {elapsed:?}"
    );
    assert!(app.mock.requests().is_empty());
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn body_memory_is_bounded_per_key_and_overall() {
    let app = spawn_app_with(|s| {
        s.server.body_memory_mb = 3;
        s.server.key_body_memory_mb = 2;
    })
    .await;
    app.add_console("a", "sk-ant-a").await;
    let (_, one) = app.create_key(json!({"name": "one"})).await;
    let (_, two) = app.create_key(json!({"name": "two"})).await;
    let (_, three) = app.create_key(json!({"name": "three"})).await;
    let port = port_of(&app.base);
    let mb = 1 << 20;
    // Token counting takes no concurrency slot, so only the byte bounds stop these.
    let path = "/v1/messages/count_tokens";
    let k = one.clone();
    let held = blocking(move || start_upload(port, path, &k, 3 * mb / 2, b"{")).await;
    until_held(&app, 3 * mb / 2).await;
    let k = one.clone();
    let (status, body) = blocking(move || {
        let mut s = start_upload(port, path, &k, 3 * mb / 2, b"");
        read_answer(&mut s, Duration::from_secs(20))
    })
    .await
    .expect("answered at once");
    assert_eq!(status, 429, "the key's own bound: {body}");
    assert_eq!(body["error"]["type"], "rate_limit_error");
    let k = two.clone();
    let held_two = blocking(move || start_upload(port, path, &k, mb, b"{")).await;
    until_held(&app, 5 * mb / 2).await;
    let k = three.clone();
    let (status, body) = blocking(move || {
        let mut s = start_upload(port, path, &k, mb, b"");
        read_answer(&mut s, Duration::from_secs(20))
    })
    .await
    .expect("answered at once");
    assert_eq!(status, 503, "the instance's bound: {body}");
    assert_eq!(body["error"]["type"], "overloaded_error");
    drop((held, held_two));
    let deadline = Instant::now() + Duration::from_secs(5);
    while app.state.body_memory.held() > 0 {
        assert!(
            Instant::now() < deadline,
            "abandoned uploads gave their bytes back"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    let resp = app
        .http
        .post(app.url(path))
        .header("x-api-key", &three)
        .json(&claude_body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[actix_web::test]
async fn a_key_limited_to_one_request_holds_one_body() {
    let app = spawn_app_with(|s| s.server.body_limit_mb = 2).await;
    app.add_console("a", "sk-ant-a").await;
    let (_, key) = app.create_key(json!({"concurrency_limit": 1})).await;
    let port = port_of(&app.base);
    let k = key.clone();
    let held = blocking(move || start_upload(port, "/v1/messages", &k, 3 << 19, b"{")).await;
    until_held(&app, 3 << 19).await;
    // A token count takes no slot, but its body would be the key's second one.
    let k = key.clone();
    let (status, body) = blocking(move || {
        let mut s = start_upload(port, "/v1/messages/count_tokens", &k, 3 << 19, b"");
        read_answer(&mut s, Duration::from_secs(20))
    })
    .await
    .expect("answered at once");
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "key_body_memory_full");
    drop(held);
}

#[actix_web::test]
async fn routes_can_have_their_own_body_limit() {
    let app = spawn_app_with(|s| {
        s.server.body_limit_mb = 4;
        s.server.body_limits_mb.insert("claude_count_tokens".into(), 1);
    })
    .await;
    app.add_console("a", "sk-ant-a").await;
    let key = app.key().await;
    let mut big = claude_body(false);
    big["system"] = json!("x".repeat(3 << 19));
    let send = |path: &'static str| {
        app.http
            .post(app.url(path))
            .header("x-api-key", &key)
            .json(&big)
            .send()
    };
    let resp = send("/v1/messages/count_tokens").await.unwrap();
    assert_eq!(resp.status(), 413);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["type"],
        "request_too_large"
    );
    assert_eq!(send("/v1/messages").await.unwrap().status(), 200);
}

#[actix_web::test]
async fn bodies_of_millions_of_tiny_items_are_relayed_as_sent() {
    let app = spawn_app_with(|_| {}).await;
    app.add_console("a", "sk-ant-a").await;
    app.add_account(json!({"kind": "gemini-api", "name": "g", "api_key": "AIza-g"}))
        .await;
    let key = app.key().await;
    let n = 2_000_000;
    let claude = format!(
        r#"{{"model":"claude-sonnet-5","max_tokens":5,"messages":[{}{{"role":"user","content":"hi"}}]}}"#,
        "{},".repeat(n)
    );
    let resp = app
        .http
        .post(app.url("/v1/messages"))
        .header("x-api-key", &key)
        .header("content-type", "application/json")
        .body(claude.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let gemini = format!(r#"{{"contents":[{}0]}}"#, "0,".repeat(n));
    let resp = app
        .http
        .post(app.url("/gemini/v1beta/models/gemini-2.5-flash:generateContent"))
        .header("x-goog-api-key", &key)
        .header("content-type", "application/json")
        .body(gemini.clone())
        .send()
        .await
        .unwrap();
    // The mock answers what it answers to an odd body; what matters is what it was sent.
    assert_ne!(resp.status(), 400, "{}", resp.text().await.unwrap());
    let received: Vec<_> = app.mock.requests().into_iter().map(|r| r.body).collect();
    assert!(
        received.iter().any(|b| b[..] == *claude.as_bytes()),
        "the Claude body arrived as sent"
    );
    assert!(
        received.iter().any(|b| b[..] == *gemini.as_bytes()),
        "the Gemini body arrived as sent"
    );
}

#[actix_web::test]
async fn long_model_names_are_refused_in_the_api_format() {
    let app = spawn_app_with(|_| {}).await;
    app.add_console("a", "sk-ant-a").await;
    let key = app.key().await;
    let mut body = claude_body(false);
    body["model"] = json!(format!("claude-{}", "x".repeat(2 << 20)));
    let resp = app.post_messages(&key, &body).await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert!(v.to_string().len() < 1_000, "the answer does not echo the name");
    let resp = app
        .http
        .post(app.url("/v1/chat/completions"))
        .header("authorization", format!("Bearer {key}"))
        .json(&json!({"model": "g".repeat(300), "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["type"],
        "invalid_request_error"
    );
    assert!(app.mock.requests().is_empty());
}

#[actix_web::test]
async fn blocked_models_cover_dated_aliased_and_prefixed_spellings() {
    let app = spawn_app_with(|_| {}).await;
    app.add_console("a", "sk-ant-a").await;
    let (_, key) = app
        .create_key(json!({"blocked_models": ["claude-opus-4-1", "claude-haiku-*"]}))
        .await;
    for model in [
        "claude-opus-4-1",
        "claude-opus-4-1-20250805",
        "anthropic/claude-opus-4-1-20250805",
        "claude-opus-4-1@20250805",
        "us.anthropic.claude-opus-4-1-20250805-v1:0",
        "claude-opus-4-1-latest",
        "claude-haiku-4-5-20251001",
    ] {
        let mut body = claude_body(false);
        body["model"] = json!(model);
        let resp = app.post_messages(&key, &body).await;
        assert_eq!(resp.status(), 403, "{model}");
    }
    let mut body = claude_body(false);
    body["model"] = json!("claude-opus-4-8");
    assert_eq!(app.post_messages(&key, &body).await.status(), 200);
    assert_eq!(app.mock.requests().len(), 1);
}
