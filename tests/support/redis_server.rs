//! A real `redis-server` for tests: a free 127.0.0.1 port, a temp dir, no persistence
//! (`--save "" --appendonly no`). [`stop`](RedisServer::stop) kills it (like a crash) and
//! [`start`](RedisServer::start) brings it back on the same port. Killed on drop.
//!
//! The server runs under a small `sh` watchdog that kills it when the watchdog's stdin closes,
//! so even a server held in a `static` (which is never dropped) dies with the test process.
//!
//! Include with `#[path = "support/redis_server.rs"] mod redis_server;`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const REDIS_SERVER: &str = "/usr/bin/redis-server";

pub struct RedisServer {
    port: u16,
    dir: tempfile::TempDir,
    watchdog: Option<Child>,
}

impl RedisServer {
    /// Starts a server on a free port and waits until it answers PING.
    pub fn launch() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut s = RedisServer {
            port,
            dir: tempfile::tempdir().expect("temp dir"),
            watchdog: None,
        };
        s.start();
        s
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn is_running(&self) -> bool {
        self.watchdog.is_some()
    }

    /// (Re)starts the server on its port; no-op when it runs.
    pub fn start(&mut self) {
        if self.watchdog.is_some() {
            return;
        }
        let script = format!(
            "{REDIS_SERVER} --port {port} --bind 127.0.0.1 --dir '{dir}' --save '' --appendonly no \
             --logfile '' --daemonize no >/dev/null 2>&1 & r=$!; echo $r > '{dir}/pid'; \
             cat >/dev/null; kill -9 $r; wait $r",
            port = self.port,
            dir = self.dir.path().display(),
        );
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.watchdog = Some(child);
        // Generous: on a loaded 2-core CI machine a fork + exec can take seconds.
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.answers_ping() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not come up on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Freezes the server (SIGSTOP): connections stay open but nothing answers, like a hung host.
    pub fn pause(&self) {
        self.signal("STOP");
    }

    /// Thaws a [`pause`](Self::pause)d server.
    pub fn resume(&self) {
        self.signal("CONT");
    }

    fn signal(&self, sig: &str) {
        let pid = std::fs::read_to_string(self.dir.path().join("pid")).expect("server pid");
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(pid.trim())
            .status()
            .expect("kill runs")
            .success();
        assert!(ok, "kill -{sig} failed");
    }

    /// Kills the server (SIGKILL, like a crash) and waits until it is gone.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.watchdog.take() {
            drop(child.stdin.take());
            let _ = child.wait();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
            assert!(
                Instant::now() < deadline,
                "redis-server on port {} did not stop",
                self.port
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn answers_ping(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
        if s.write_all(b"PING\r\n").is_err() {
            return false;
        }
        let mut buf = [0u8; 7];
        s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.watchdog.take() {
            drop(child.stdin.take());
            let _ = child.wait();
        }
    }
}
