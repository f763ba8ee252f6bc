//! The two state backends a test can run the whole app on: the embedded store (redb in the
//! app's temp data dir) and Redis (one real `redis-server` per test binary, a fresh key prefix
//! per app). [`on_both_backends!`] turns `async fn case(backend: Backend)` into one test per
//! backend, so a rule is asserted with the same code on both.
//!
//! Include with `#[path = "support/redis_server.rs"] mod redis_server;` and
//! `#[path = "support/backend.rs"] #[macro_use] mod backend;` after `mod support;`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use crate::redis_server::RedisServer;
use crate::support::{TestApp, spawn_app_in};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU32, Ordering};
use switchyard::settings::{Settings, StoreBackend, StoreSettings};
use switchyard::startup::Backends;
use switchyard::store::open_with_env_key;

/// The store encryption key every test store is opened with.
pub const KEY_HEX: &str = "3f9a1c7e5b2d8046a1e3c5b7d9f20486ac4e6b8d0f1a3c5e7092b4d6f8a1c3e5";

static SERVER: LazyLock<RedisServer> = LazyLock::new(RedisServer::launch);
static NEXT_PREFIX: AtomicU32 = AtomicU32::new(0);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Embedded,
    Redis,
}

/// Settings of a Redis store no other app of this process has used.
pub fn fresh_redis() -> StoreSettings {
    StoreSettings {
        backend: StoreBackend::Redis,
        redis_url: SERVER.url(),
        redis_prefix: format!(
            "t{}-{}:",
            std::process::id(),
            NEXT_PREFIX.fetch_add(1, Ordering::Relaxed)
        ),
        ..StoreSettings::default()
    }
}

pub async fn open(store: &StoreSettings) -> Backends {
    open_with_env_key(store, Some(KEY_HEX))
        .await
        .expect("store opens")
}

/// Settings that name `store` as the app's store (keeping the app's own data dir).
pub fn with_store(s: &mut Settings, store: &StoreSettings) {
    let data_dir = s.store.data_dir.clone();
    s.store = store.clone();
    s.store.data_dir = data_dir;
}

/// The app on a fresh store of `backend`, with `tweak` applied to the test settings.
pub async fn spawn_app_backed(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let data = tempfile::tempdir().expect("temp dir");
    let store = match backend {
        Backend::Embedded => StoreSettings {
            backend: StoreBackend::Embedded,
            data_dir: data.path().to_owned(),
            ..StoreSettings::default()
        },
        Backend::Redis => fresh_redis(),
    };
    let backends = open(&store).await;
    spawn_app_in(data, backends, |s| {
        with_store(s, &store);
        tweak(s);
    })
    .await
}

/// `on_both_backends!(case_a, case_b)`: for each `async fn case(backend: Backend)`, a module
/// `case` with the tests `embedded` and `redis`.
macro_rules! on_both_backends {
    ($($case:ident),+ $(,)?) => {$(
        mod $case {
            use super::*;
            #[actix_web::test]
            async fn embedded() {
                super::$case(Backend::Embedded).await
            }
            #[actix_web::test]
            async fn redis() {
                super::$case(Backend::Redis).await
            }
        }
    )+};
}
