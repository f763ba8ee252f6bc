//! Restarting without cutting users off: the real binary, a slow stream in flight, SIGTERM.
//! The stream completes, new connections are refused, leases are all released, exit 0.
use futures::StreamExt;
use mock_upstream::{Fault, MockUpstream};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ADMIN: &str = "shutdown-test-admin-token-000000000000";

struct Server {
    child: Child,
    base: String,
    logs: std::sync::mpsc::Receiver<String>,
    _data: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(mock: &MockUpstream, grace_secs: u64) -> Server {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .arg("serve")
        .current_dir(data.path())
        .env("SWITCHYARD__SERVER__PORT", port.to_string())
        .env("SWITCHYARD__SERVER__WORKERS", "2")
        .env("SWITCHYARD__SERVER__SHUTDOWN_GRACE_SECS", grace_secs.to_string())
        .env("SWITCHYARD__STORE__DATA_DIR", data.path())
        .env("SWITCHYARD__ADMIN__TOKEN", ADMIN)
        .env("SWITCHYARD__LOG__FORMAT", "json")
        .env("SWITCHYARD__UPSTREAM__CLAUDE__API_BASE_URL", mock.url())
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let stderr = child.stderr.take().unwrap();
    let (tx, logs) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "switchyard did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Server {
        child,
        base,
        logs,
        _data: data,
    }
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig}");
}

async fn setup(http: &reqwest::Client, server: &Server, mock: &MockUpstream) -> String {
    let account =
        json!({"name": "a", "kind": "claude-console", "base_url": mock.url(), "api_key": "sk-ant-a"});
    let r = http
        .post(format!("{}/admin/accounts", server.base))
        .bearer_auth(ADMIN)
        .json(&account)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let k: Value = http
        .post(format!("{}/admin/keys", server.base))
        .bearer_auth(ADMIN)
        .json(&json!({"name": "k"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    k["key"].as_str().unwrap().to_owned()
}

fn body() -> Value {
    json!({"model": "claude-sonnet-5", "max_tokens": 32, "stream": true, "messages": [{"role": "user", "content": "slow"}]})
}

#[tokio::test]
async fn sigterm_lets_a_slow_stream_finish_refuses_new_connections_and_releases_every_lease() {
    let mock = MockUpstream::start();
    let mut server = start(&mock, 20);
    let http = reqwest::Client::new();
    let key = setup(&http, &server, &mock).await;
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

    signal(&server.child, "-TERM");
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
    let status = wait_exit(&mut server.child, Duration::from_secs(15));
    assert_eq!(status.code(), Some(0));
    let logs: Vec<String> = server.logs.try_iter().collect();
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
    let mut server = start(&mock, 60);
    let http = reqwest::Client::new();
    let key = setup(&http, &server, &mock).await;
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
    signal(&server.child, "-TERM");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the first signal waits for the stream"
    );
    let started = Instant::now();
    signal(&server.child, "-INT");
    let status = wait_exit(&mut server.child, Duration::from_secs(5));
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(status.code(), Some(130));
}

fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("switchyard did not exit within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
