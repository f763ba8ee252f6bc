//! A real Redis Cluster for tests, formed without `redis-cli`: `n` `redis-server
//! --cluster-enabled yes` on free 127.0.0.1 ports (each with its own temp dir and
//! `nodes.conf`, no persistence), joined with `CLUSTER MEET`, the 16384 slots split in `n`
//! ranges with `CLUSTER ADDSLOTSRANGE`, and ready once every node reports `cluster_state:ok`.
//! One node makes a cluster too: it owns every slot and still refuses cross-slot commands.
//!
//! Each server runs under a small `sh` watchdog that kills it when the watchdog's stdin closes
//! (on drop, or when the test process exits, even for a cluster held in a `static`), and then
//! removes the node's temp dir (a `static`'s `TempDir` is never dropped).
//!
//! Include with `#[path = "support/redis_cluster.rs"] mod redis_cluster;`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const REDIS_SERVER: &str = "/usr/bin/redis-server";
const SLOTS: u16 = 16_384;

struct Node {
    port: u16,
    _dir: tempfile::TempDir,
    watchdog: Child,
}

impl Drop for Node {
    fn drop(&mut self) {
        drop(self.watchdog.stdin.take());
        let _ = self.watchdog.wait();
    }
}

pub struct RedisCluster {
    nodes: Vec<Node>,
}

impl RedisCluster {
    /// Starts `n` nodes, forms the cluster and waits until it serves every slot.
    pub fn launch(n: usize) -> Self {
        assert!(n >= 1);
        let nodes: Vec<Node> = (0..n).map(|_| start_node()).collect();
        let cluster = RedisCluster { nodes };
        let first = cluster.nodes[0].port;
        for node in &cluster.nodes[1..] {
            cluster.ok(first, &["CLUSTER", "MEET", "127.0.0.1", &node.port.to_string()]);
        }
        for (i, node) in cluster.nodes.iter().enumerate() {
            let (lo, hi) = slot_range(i, n);
            cluster.ok(
                node.port,
                &["CLUSTER", "ADDSLOTSRANGE", &lo.to_string(), &hi.to_string()],
            );
        }
        cluster.wait_until_ok();
        cluster
    }

    /// The seed URL: the first node (the client discovers the others).
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.nodes[0].port)
    }

    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|n| n.port).collect()
    }

    /// A plain (non-cluster) connection to one node, for per-node checks.
    pub fn node(&self, port: u16) -> redis::Connection {
        redis::Client::open(format!("redis://127.0.0.1:{port}"))
            .unwrap()
            .get_connection()
            .unwrap()
    }

    fn ok(&self, port: u16, args: &[&str]) {
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        let _: () = cmd
            .query(&mut self.node(port))
            .unwrap_or_else(|e| panic!("{args:?} on {port}: {e}"));
    }

    fn wait_until_ok(&self) {
        let want_nodes = format!("cluster_known_nodes:{}", self.nodes.len());
        let deadline = Instant::now() + Duration::from_secs(20);
        for node in &self.nodes {
            loop {
                let info: String = redis::cmd("CLUSTER")
                    .arg("INFO")
                    .query(&mut self.node(node.port))
                    .unwrap();
                let has = |line: &str| info.lines().any(|l| l.trim() == line);
                if has("cluster_state:ok") && has(&want_nodes) && has("cluster_slots_ok:16384") {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "the cluster did not form; node {}: {info}",
                    node.port
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// Node `i` of `n` owns an equal share of the slots, the last one the remainder.
fn slot_range(i: usize, n: usize) -> (u16, u16) {
    let share = SLOTS as usize / n;
    let lo = i * share;
    let hi = if i + 1 == n {
        SLOTS as usize - 1
    } else {
        lo + share - 1
    };
    (lo as u16, hi as u16)
}

/// A free port whose cluster bus port (+10000) is free too.
fn free_port() -> u16 {
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        if port < 55_000 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
}

fn start_node() -> Node {
    let port = free_port();
    let dir = tempfile::tempdir().expect("temp dir");
    let script = format!(
        "{REDIS_SERVER} --port {port} --bind 127.0.0.1 --dir '{dir}' --cluster-enabled yes \
         --cluster-config-file '{dir}/nodes.conf' --cluster-announce-ip 127.0.0.1 \
         --save '' --appendonly no --logfile '' --daemonize no >/dev/null 2>&1 & r=$!; \
         cat >/dev/null; kill -9 $r; wait $r; rm -rf '{dir}'",
        dir = dir.path().display(),
    );
    let watchdog = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server starts");
    let node = Node {
        port,
        _dir: dir,
        watchdog,
    };
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while client
        .get_connection_with_timeout(Duration::from_millis(200))
        .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "redis-server did not come up on port {port}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    node
}
