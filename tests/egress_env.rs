//! An account's traffic never leaves through a proxy the environment names: the real binary,
//! started with `HTTP_PROXY` / `HTTPS_PROXY` / `ALL_PROXY` pointing at a second mock, exchanges a
//! login code for an account without a proxy directly. (A subprocess, so the variables touch no
//! other test.)
use mock_upstream::MockUpstream;
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ADMIN: &str = "egress-env-test-admin-token-0000000000";

struct Server {
    child: Child,
    base: String,
    _data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(upstream: &MockUpstream, env_proxy: &MockUpstream) -> Server {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchyard"));
    cmd.arg("serve")
        .current_dir(data.path())
        .env("SWITCHYARD__SERVER__PORT", port.to_string())
        .env("SWITCHYARD__SERVER__WORKERS", "1")
        .env("SWITCHYARD__STORE__DATA_DIR", data.path())
        .env("SWITCHYARD__ADMIN__TOKEN", ADMIN)
        .env("SWITCHYARD__UPSTREAM__CLAUDE__API_BASE_URL", upstream.url())
        .env(
            "SWITCHYARD__UPSTREAM__CLAUDE__TOKEN_URL",
            format!("{}/v1/oauth/token", upstream.url()),
        )
        .env_remove("RUST_LOG")
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for var in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        cmd.env(var, env_proxy.url());
    }
    let child = cmd.spawn().expect("binary starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "switchyard did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
        _data: data,
    }
}

#[tokio::test]
async fn a_code_exchange_without_a_proxy_ignores_the_environments_proxy() {
    let upstream = MockUpstream::start();
    let env_proxy = MockUpstream::start();
    let server = start(&upstream, &env_proxy);
    // This process has no proxy variables, but be explicit: the test talks to switchyard directly.
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let post = |path: &str, body: Value| {
        http.post(format!("{}{path}", server.base))
            .bearer_auth(ADMIN)
            .json(&body)
            .send()
    };
    let start: Value = post("/admin/oauth/claude/start", json!({}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let body = json!({"session_id": start["session_id"], "code": "code-direct"});
    let resp = post("/admin/oauth/claude/exchange", body).await.unwrap();
    let status = resp.status();
    let created: Value = resp.json().await.unwrap();
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["has_proxy"], false);
    assert!(
        env_proxy.token_requests().is_empty() && env_proxy.requests().is_empty(),
        "nothing went through the environment's proxy"
    );
    let exchanges = upstream.token_requests();
    assert_eq!(exchanges.len(), 1, "the code went straight to the token endpoint");
    assert_eq!(exchanges[0].json()["code"], "code-direct");
}
