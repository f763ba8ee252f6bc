//! A pooled upstream connection that the upstream closes just as a request goes out on it (its
//! keep-alive ran out) is no fault of the account's: the request is sent again on a connection
//! of its own, the client gets its answer, and the account does not rest.
mod support;

use serde_json::json;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use support::{claude_body, spawn_app};

const ANSWER: &str = r#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-5","content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}"#;

/// Reads one request (head and `content-length` body); `false` when the peer closed first.
fn read_request(reader: &mut BufReader<TcpStream>) -> bool {
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return false,
            Ok(_) => {}
        }
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).is_ok()
}

/// An upstream that answers the first request on each connection and keeps it open, then
/// closes it as soon as a second request has arrived on it, without answering.
fn closes_reused_connections() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let closed = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = closed.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let counter = counter.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut writer = conn;
                if !read_request(&mut reader) {
                    return;
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                    ANSWER.len()
                );
                writer.write_all(head.as_bytes()).unwrap();
                writer.write_all(ANSWER.as_bytes()).unwrap();
                if read_request(&mut reader) {
                    counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                let _ = writer.shutdown(std::net::Shutdown::Both);
            });
        }
    });
    (url, closed)
}

#[actix_web::test]
async fn a_pooled_connection_closed_under_a_request_is_retried_without_resting_the_account() {
    let app = spawn_app().await;
    let (url, closed) = closes_reused_connections();
    let id = app
        .add_account(json!({"name": "keepalive", "api_key": "sk-ant-keepalive", "base_url": url}))
        .await;
    let key = app.key().await;
    for n in 1..=3 {
        let resp = app.post_messages(&key, &claude_body(false)).await;
        assert_eq!(resp.status(), 200, "request {n}: {}", resp.text().await.unwrap());
    }
    assert!(
        closed.load(std::sync::atomic::Ordering::SeqCst) >= 1,
        "a reused connection was closed under a request (the case under test happened)"
    );
    assert!(
        app.account(&id).await["cooldown"].is_null(),
        "the account does not rest"
    );
    app.assert_slots_released().await;
}
