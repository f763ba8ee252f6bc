//! A backup carries the legacy verifiers of keys imported from claude-relay-service: the
//! reference's installation (the fixture in `tests/fixtures/crs-redis`, restored into a real
//! `redis-server`) is imported by the real binary onto a switchyard on the embedded store, that
//! switchyard is exported by the binary with its secrets sealed for another key, and the file
//! is imported into a switchyard on Redis running with that key: over real HTTP, every live
//! `cr_` key of the fixture authenticates there as it did before the move, the verifier's
//! secret is never in the file in plaintext, and a second import changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "support/backend.rs"]
#[allow(unused_macros)]
mod backend;
#[path = "support/redis_server.rs"]
mod redis_server;
mod support;

use backend::{Backend, fresh_redis, spawn_app_backed, with_store};
use redis_server::RedisServer;
use serde_json::Value;
use std::process::{Command, Stdio};
use std::sync::LazyLock;
use support::*;
use switchyard::store::open_with_env_key;

const BIN: &str = env!("CARGO_BIN_EXE_switchyard");
const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/crs-redis");
/// The target installation's encryption key: not the one the exporting server runs with.
const TARGET_KEY_HEX: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";

/// The reference's Redis, restored once from the fixture; only read.
static CRS: LazyLock<RedisServer> = LazyLock::new(|| {
    let server = RedisServer::launch();
    let out = Command::new("python3")
        .arg(format!("{FIXTURE}/restore.py"))
        .arg(format!("{FIXTURE}/redis-dump.json"))
        .args(["--host", "127.0.0.1", "--port", &server.port().to_string()])
        .args(["--flush", "--ttl", "none"])
        .output()
        .expect("python3 runs restore.py");
    assert!(
        out.status.success(),
        "restore.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    server
});

static META: LazyLock<Value> = LazyLock::new(|| {
    serde_json::from_str(&std::fs::read_to_string(format!("{FIXTURE}/meta.json")).unwrap()).unwrap()
});

fn crs_encryption_key() -> &'static str {
    META["crs_env"]["ENCRYPTION_KEY"].as_str().unwrap()
}

fn api_key(slug: &str) -> &'static str {
    META["api_keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["slug"] == slug)
        .unwrap()["key"]
        .as_str()
        .unwrap()
}

/// The fixture's keys that authenticate on the reference.
const LIVE_KEYS: [&str; 6] = [
    "unlimited",
    "limited",
    "restricted",
    "bound",
    "grouped",
    "activation",
];

/// `switchyard ARGS --url … --token … --json` against `app`, off the test's thread (the app's
/// actors live on it); its JSON answer.
async fn cli(app: &TestApp, args: &[&str]) -> Value {
    let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    all.extend(["--url".into(), app.base.clone()]);
    all.extend(["--token".into(), ADMIN_TOKEN.into(), "--json".into()]);
    let out = actix_web::rt::task::spawn_blocking(move || {
        Command::new(BIN)
            .args(&all)
            .env_remove("SWITCHYARD_URL")
            .env_remove("SWITCHYARD_ADMIN_TOKEN")
            .env_remove("CRS_ENCRYPTION_KEY")
            .current_dir(std::env::temp_dir())
            .stdin(Stdio::null())
            .output()
            .expect("the binary runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

/// The status `GET /v1/usage` answers `key` with.
async fn usage_status(app: &TestApp, key: &str) -> u16 {
    app.http
        .get(app.url("/v1/usage"))
        .header("x-api-key", key)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[actix_web::test]
async fn imported_cr_keys_keep_working_after_a_move_to_redis() {
    let source = spawn_app_backed(Backend::Embedded, |_| {}).await;
    let imported = cli(
        &source,
        &[
            "import",
            "crs",
            "--redis-url",
            &CRS.url(),
            "--encryption-key",
            crs_encryption_key(),
        ],
    )
    .await;
    assert!(
        imported["summary"]["imported"].as_u64().unwrap() > 0,
        "{imported:#}"
    );
    for slug in LIVE_KEYS {
        assert_eq!(
            usage_status(&source, api_key(slug)).await,
            200,
            "{slug} on the source"
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("target.key");
    std::fs::write(&key_file, TARGET_KEY_HEX).unwrap();
    let file = dir.path().join("backup.json");
    let (file_arg, key_arg) = (file.to_str().unwrap(), key_file.to_str().unwrap());
    let exported = cli(
        &source,
        &["export", "--out", file_arg, "--reencrypt-for-key-file", key_arg],
    )
    .await;
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        !text.contains(crs_encryption_key()),
        "the verifier's secret is in the file in plaintext"
    );

    let store = fresh_redis();
    let backends = open_with_env_key(&store, Some(TARGET_KEY_HEX))
        .await
        .expect("store opens");
    let target = spawn_app_in(tempfile::tempdir().unwrap(), backends, |s| with_store(s, &store)).await;
    let first = cli(&target, &["import", "switchyard", "--file", file_arg]).await;
    for slug in LIVE_KEYS {
        assert_eq!(
            usage_status(&target, api_key(slug)).await,
            200,
            "{slug} after the move"
        );
    }
    assert_eq!(exported["legacy_verifiers"], 1, "{exported:#}");
    assert_eq!(first["legacy_verifiers"]["created"], 1, "{first:#}");
    let made_up = format!("cr_{}", "0".repeat(64));
    assert_eq!(
        usage_status(&target, &made_up).await,
        401,
        "an unknown key stays unknown"
    );

    let second = cli(&target, &["import", "switchyard", "--file", file_arg]).await;
    assert_eq!(second["changed"], false, "{second:#}");
    assert_eq!(second["legacy_verifiers"]["unchanged"], 1, "{second:#}");
}
