//! Helpers shared by the wire tests: an HTTP client, request shortcuts and an SSE splitter.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use mock_upstream::MockUpstream;
use serde_json::Value;

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// POSTs JSON to the mock with one credential header.
pub async fn post(mock: &MockUpstream, path: &str, header: (&str, &str), body: Value) -> reqwest::Response {
    client()
        .post(format!("{}{path}", mock.url()))
        .header(header.0, header.1)
        .json(&body)
        .send()
        .await
        .expect("request")
}

pub async fn get(mock: &MockUpstream, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = client().get(format!("{}{path}", mock.url()));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("request")
}

/// One server-sent event.
#[derive(Debug, Clone)]
pub struct Event {
    pub name: Option<String>,
    pub data: String,
}

impl Event {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data)
            .unwrap_or_else(|e| panic!("event data is not JSON ({e}): {}", self.data))
    }
}

/// Splits an SSE body into events (LF or CRLF framing).
pub fn events(body: &str) -> Vec<Event> {
    let body = body.replace("\r\n", "\n");
    body.split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let mut name = None;
            let mut data = String::new();
            for line in block.lines() {
                if let Some(value) = line.strip_prefix("event: ") {
                    name = Some(value.to_owned());
                } else if let Some(value) = line.strip_prefix("data: ") {
                    data.push_str(value);
                } else {
                    panic!("unexpected SSE line {line:?}");
                }
            }
            Event { name, data }
        })
        .collect()
}

pub fn names(events: &[Event]) -> Vec<&str> {
    events.iter().map(|e| e.name.as_deref().unwrap_or("")).collect()
}

/// A JSON body of `response`, after checking its status.
pub async fn json_ok(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), 200);
    response.json().await.expect("JSON body")
}

/// Sends a raw HTTP/1.1 request and reads until the server closes the connection or the read
/// times out; returns what arrived and whether the read ended in an error.
pub fn raw_exchange(mock: &MockUpstream, request: &str) -> (String, bool) {
    let mut stream = TcpStream::connect(("127.0.0.1", mock.port())).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    stream.write_all(request.as_bytes()).expect("write");
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let errored = loop {
        match stream.read(&mut buf) {
            Ok(0) => break false,
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(_) => break true,
        }
    };
    (String::from_utf8_lossy(&received).into_owned(), errored)
}

/// A POST with `Connection: close` so the server ends the connection after a complete answer.
pub fn raw_post(path: &str, credential: &str, body: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: mock\r\nx-api-key: {credential}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// Polls `condition` for up to 3 s.
pub async fn eventually(mut condition: impl FnMut() -> bool) -> bool {
    for _ in 0..300 {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}
