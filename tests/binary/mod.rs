//! The real `switchyard` binary for integration tests: started with `serve` on port 0 and a
//! data dir of the test's choosing, upstreams on the mock, every line of its stdout and stderr
//! kept for the test to read.
#![allow(dead_code)]

use mock_upstream::MockUpstream;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const ADMIN: &str = "binary-test-admin-token-0000000000000000";

pub struct Binary {
    pub child: Child,
    pub base: String,
    lines: Arc<Mutex<Vec<String>>>,
}

/// Starts `switchyard serve` on `data` with `env` on top of the defaults here (JSON logs at
/// `info`, upstreams on `mock`), and waits until it listens.
pub fn start(mock: &MockUpstream, data: &Path, env: &[(&str, &str)]) -> Binary {
    start_with(mock, data, env, |_| {})
}

/// [`start`], with `prepare` given the command last (to set process limits, say).
pub fn start_with(
    mock: &MockUpstream,
    data: &Path,
    env: &[(&str, &str)],
    prepare: impl FnOnce(&mut Command),
) -> Binary {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchyard"));
    cmd.arg("serve")
        .current_dir(data)
        .env("SWITCHYARD__SERVER__PORT", "0")
        .env("SWITCHYARD__SERVER__WORKERS", "2")
        .env("SWITCHYARD__STORE__DATA_DIR", data)
        .env("SWITCHYARD__ADMIN__TOKEN", ADMIN)
        .env("SWITCHYARD__LOG__FORMAT", "json")
        .env("SWITCHYARD__LOG__LEVEL", "info")
        .env("SWITCHYARD__RELAY__CONNECT_TIMEOUT_MS", "1000")
        .env("SWITCHYARD__UPSTREAM__CLAUDE__API_BASE_URL", mock.url())
        .env(
            "SWITCHYARD__UPSTREAM__CLAUDE__TOKEN_URL",
            format!("{}/v1/oauth/token", mock.url()),
        )
        .env("SWITCHYARD__UPSTREAM__GEMINI__API_BASE_URL", mock.url())
        .env("SWITCHYARD__UPSTREAM__GEMINI__CODE_ASSIST_BASE_URL", mock.url())
        .env(
            "SWITCHYARD__UPSTREAM__GEMINI__TOKEN_URL",
            format!("{}/token", mock.url()),
        )
        .env(
            "SWITCHYARD__UPSTREAM__OPENAI__CODEX_BASE_URL",
            format!("{}/backend-api/codex", mock.url()),
        )
        .env(
            "SWITCHYARD__UPSTREAM__OPENAI__TOKEN_URL",
            format!("{}/oauth/token", mock.url()),
        )
        .env_remove("RUST_LOG")
        .env_remove("SWITCHYARD_ADMIN_TOKEN")
        .env_remove("SWITCHYARD_ENCRYPTION_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    prepare(&mut cmd);
    let mut child = cmd.spawn().expect("the binary starts");
    let lines = Arc::new(Mutex::new(Vec::new()));
    collect(child.stdout.take().expect("stdout"), lines.clone());
    collect(child.stderr.take().expect("stderr"), lines.clone());
    let mut binary = Binary {
        child,
        base: String::new(),
        lines,
    };
    let listening = binary.wait_for_line(Duration::from_secs(60), |l| l.contains("switchyard listening"));
    let port: String = listening
        .split("127.0.0.1:")
        .nth(1)
        .unwrap_or_else(|| panic!("no address in {listening}"))
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    binary.base = format!("http://127.0.0.1:{port}");
    binary
}

/// Reads raw bytes, not `lines()`: a line that is not UTF-8 must still be seen.
fn collect(stream: impl Read + Send + 'static, into: Arc<Mutex<Vec<String>>>) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        while reader
            .read_until(b'\n', &mut line)
            .map(|n| n > 0)
            .unwrap_or(false)
        {
            let text = String::from_utf8_lossy(&line);
            into.lock().unwrap().push(text.trim_end_matches('\n').to_owned());
            line.clear();
        }
    });
}

impl Binary {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Every line written so far, stdout and stderr together.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    pub fn wait_for_line(&self, within: Duration, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + within;
        loop {
            if let Some(l) = self.lines().into_iter().find(|l| wanted(l)) {
                return l;
            }
            if Instant::now() > deadline {
                panic!("no such line within {within:?}: {:#?}", self.lines());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .expect("kill runs")
            .success();
        assert!(ok, "kill {sig}");
    }

    pub fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                // The readers get what was written before the exit.
                std::thread::sleep(Duration::from_millis(100));
                return s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("switchyard did not exit within {within:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, then the exit status (a clean shutdown is 0).
    pub fn terminate(&mut self) -> ExitStatus {
        self.signal("-TERM");
        self.wait_exit(Duration::from_secs(30))
    }

    pub async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = reqwest::Client::new()
            .request(method, self.url(path))
            .bearer_auth(ADMIN);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("admin request");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Adds an account; returns its id.
    pub async fn add_account(&self, fields: Value) -> String {
        let (status, v) = self
            .admin(reqwest::Method::POST, "/admin/accounts", Some(fields))
            .await;
        assert_eq!(status, 201, "{v}");
        v["id"].as_str().expect("account id").to_owned()
    }

    /// Creates a client key; returns (id, key).
    pub async fn create_key(&self, name: &str) -> (String, String) {
        let (status, v) = self
            .admin(
                reqwest::Method::POST,
                "/admin/keys",
                Some(serde_json::json!({ "name": name })),
            )
            .await;
        assert_eq!(status, 201, "{v}");
        (
            v["id"].as_str().expect("key id").to_owned(),
            v["key"].as_str().expect("key").to_owned(),
        )
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
