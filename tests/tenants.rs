//! Tenants stay apart, over real HTTP: one key's client cannot reach another key's session
//! binding; made-up keys cost the store (almost) nothing and a guessing address is held back
//! with 429 in the route's own format; `/metrics` and `/ready` can require a token; the `model`
//! label is bounded; a short admin token stops start-up.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod support;

use async_trait::async_trait;
use mock_upstream::MockUpstream;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use support::*;
use switchyard::keys::{ApiKey, KeyPatch, KeyStore, LegacyVerifier, MemoryKeyStore, hash_key};
use switchyard::startup::{Application, Backends};
use switchyard_actors::clock::Millis;
use switchyard_actors::store::StoreResult;

/// A key store that counts look-ups by hash (the read every unknown presented key costs).
struct CountingKeys {
    inner: MemoryKeyStore,
    by_hash: AtomicU64,
}

impl CountingKeys {
    fn reads(&self) -> u64 {
        self.by_hash.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl KeyStore for CountingKeys {
    async fn put_key(&self, key: &ApiKey) -> StoreResult<()> {
        self.inner.put_key(key).await
    }
    async fn get_key(&self, id: &str) -> StoreResult<Option<ApiKey>> {
        self.inner.get_key(id).await
    }
    async fn key_by_hash(&self, hash: &str) -> StoreResult<Option<ApiKey>> {
        self.by_hash.fetch_add(1, Ordering::SeqCst);
        self.inner.key_by_hash(hash).await
    }
    async fn list_keys(&self) -> StoreResult<Vec<ApiKey>> {
        self.inner.list_keys().await
    }
    async fn patch_key(&self, id: &str, patch: &KeyPatch) -> StoreResult<Option<ApiKey>> {
        self.inner.patch_key(id, patch).await
    }
    async fn delete_key(&self, id: &str) -> StoreResult<bool> {
        self.inner.delete_key(id).await
    }
    async fn touch_keys(&self, used: &[(String, Millis)]) -> StoreResult<()> {
        self.inner.touch_keys(used).await
    }
    async fn keys_version(&self) -> StoreResult<u64> {
        self.inner.keys_version().await
    }
    async fn put_legacy_verifier(&self, verifier: &LegacyVerifier) -> StoreResult<()> {
        self.inner.put_legacy_verifier(verifier).await
    }
    async fn legacy_verifiers(&self) -> StoreResult<Vec<LegacyVerifier>> {
        self.inner.legacy_verifiers().await
    }
}

async fn app_with_counted_keys(
    tweak: impl FnOnce(&mut switchyard::settings::Settings),
) -> (TestApp, Arc<CountingKeys>) {
    let keys = Arc::new(CountingKeys {
        inner: MemoryKeyStore::new(),
        by_hash: AtomicU64::new(0),
    });
    let mut backends = Backends::in_memory();
    backends.keys = keys.clone();
    (spawn_app_on(backends, tweak).await, keys)
}

fn made_up(i: usize) -> String {
    format!("cr_{i:064x}")
}

async fn body(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[actix_web::test]
async fn two_keys_sending_one_session_id_keep_their_own_bindings() {
    let app = spawn_app().await;
    app.add_console("a", "sk-ant-a").await;
    app.add_console("b", "sk-ant-b").await;
    let (key_a, key_b) = (app.key().await, app.key().await);
    // The same body is the same Claude session id, whoever sends it.
    let session = claude_body(false);
    let served = |app: &TestApp| {
        (
            app.mock.requests_for("sk-ant-a").len(),
            app.mock.requests_for("sk-ant-b").len(),
        )
    };
    assert_eq!(app.post_messages(&key_a, &session).await.status(), 200);
    let first = served(&app);
    let (a_account, b_account) = if first == (1, 0) {
        ((1, 0), (0, 1))
    } else {
        ((0, 1), (1, 0))
    };
    // Key B's request is a new session for key B: it goes to the least recently used account,
    // not to the one key A's session is bound to.
    assert_eq!(app.post_messages(&key_b, &session).await.status(), 200);
    assert_eq!(served(&app), (1, 1), "key B did not follow key A's binding");
    for _ in 0..2 {
        assert_eq!(app.post_messages(&key_a, &session).await.status(), 200);
        assert_eq!(app.post_messages(&key_b, &session).await.status(), 200);
    }
    let expect = (
        1 + 2 * a_account.0 + 2 * b_account.0,
        1 + 2 * a_account.1 + 2 * b_account.1,
    );
    assert_eq!(served(&app), expect, "each key stays on its own account");
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn a_repeated_made_up_key_costs_one_store_read() {
    let (app, keys) = app_with_counted_keys(|s| {
        // Long enough that only the cache, not the clock, can explain the reads.
        s.auth.unknown_key_cache_secs = 600;
    })
    .await;
    let before = keys.reads();
    for _ in 0..20 {
        let (status, v) = body(app.post_messages(&made_up(1), &claude_body(false)).await).await;
        assert_eq!(status, 401, "{v}");
        assert_eq!(v["error"]["type"], "authentication_error", "{v}");
    }
    // One read, plus at most one more if the periodic key-version check dropped the cache.
    let reads = keys.reads() - before;
    assert!(
        reads <= 2,
        "{reads} store reads for 20 requests with one made-up key"
    );
}

#[actix_web::test]
async fn a_key_written_after_a_failed_look_up_of_it_works_at_once() {
    let (app, keys) = app_with_counted_keys(|s| s.auth.unknown_key_cache_secs = 600).await;
    app.add_console("a", "sk-ant-a").await;
    let plain = made_up(7);
    let resp = app.post_messages(&plain, &claude_body(false)).await;
    assert_eq!(resp.status(), 401);
    // Written straight to the store, as another instance (or an import) would: the key
    // version moves and every instance drops its caches, the unknown-key cache included.
    let key: ApiKey = serde_json::from_value(json!({
        "id": "written-later",
        "name": "written later",
        "hash": hash_key(&plain),
        "created_at": 0,
    }))
    .unwrap();
    keys.put_key(&key).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = app.post_messages(&plain, &claude_body(false)).await.status();
        if status == 200 {
            break;
        }
        assert_eq!(status, 401);
        assert!(
            Instant::now() < deadline,
            "the new key still refused (cache is 600 s)"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Through the admin API the write clears the cache in the same instance before it answers.
    let (_, created) = app.create_key(json!({})).await;
    assert_eq!(
        app.post_messages(&created, &claude_body(false)).await.status(),
        200
    );
}

#[actix_web::test]
async fn an_address_with_too_many_failures_gets_429_in_each_apis_format() {
    let (app, keys) = app_with_counted_keys(|s| {
        s.auth.max_failures_per_ip = 5;
        s.auth.failure_window_secs = 600;
    })
    .await;
    app.add_console("a", "sk-ant-a").await;
    let good = app.key().await;
    assert_eq!(app.post_messages(&good, &claude_body(false)).await.status(), 200);
    for i in 0..5 {
        let resp = app.post_messages(&made_up(100 + i), &claude_body(false)).await;
        assert_eq!(resp.status(), 401);
    }
    let reads = keys.reads();
    let resp = app.post_messages(&made_up(200), &claude_body(false)).await;
    assert!(resp.headers().get("retry-after").is_some());
    let (status, v) = body(resp).await;
    assert_eq!(status, 429, "{v}");
    assert_eq!(
        (v["type"].as_str(), v["error"]["type"].as_str()),
        (Some("error"), Some("rate_limit_error")),
        "Anthropic format: {v}"
    );
    assert_eq!(v["error"]["code"], "too_many_failed_authentications");
    let (status, v) = body(
        app.http
            .post(app.url("/v1/chat/completions"))
            .bearer_auth(made_up(201))
            .json(&json!({"model": "gpt-5", "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 429, "{v}");
    assert_eq!(v["error"]["type"], "rate_limit_error", "OpenAI format: {v}");
    let (status, v) = body(
        app.http
            .post(app.url("/gemini/v1beta/models/gemini-2.5-pro:generateContent"))
            .header("x-goog-api-key", made_up(202))
            .json(&json!({"contents": [{"parts": [{"text": "hi"}]}]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 429, "{v}");
    assert_eq!(v["error"]["status"], "RESOURCE_EXHAUSTED", "Gemini format: {v}");
    assert_eq!(keys.reads(), reads, "a held-back address costs no store reads");
    // A key already known here still works from the same address.
    assert_eq!(app.post_messages(&good, &claude_body(false)).await.status(), 200);
}

#[actix_web::test]
async fn operations_routes_take_an_optional_token() {
    let open = spawn_app().await;
    for path in ["/metrics", "/ready", "/health"] {
        let resp = open.http.get(open.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{path} is open without operations.token");
    }
    const TOKEN: &str = "ops-token-0123456789abcdef0123456789";
    let closed = spawn_app_with(|s| s.operations.token = TOKEN.into()).await;
    for path in ["/metrics", "/ready"] {
        let (status, v) = body(closed.http.get(closed.url(path)).send().await.unwrap()).await;
        assert_eq!(status, 401, "{path}: {v}");
        assert_eq!(v["error"]["type"], "operations_unauthorized");
        let wrong = closed
            .http
            .get(closed.url(path))
            .bearer_auth("ops-token-wrong")
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401, "{path} with a wrong token");
        let right = closed
            .http
            .get(closed.url(path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(right.status(), 200, "{path} with the token");
    }
    let health = closed.http.get(closed.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200, "liveness stays open");
}

#[actix_web::test]
async fn a_thousand_model_names_do_not_grow_the_metrics_beyond_the_bound() {
    let app = spawn_app().await;
    app.add_console("a", "sk-ant-a").await;
    let key = app.key().await;
    for chunk in (0..1_000).collect::<Vec<_>>().chunks(50) {
        let sent = chunk.iter().map(|i| {
            let mut b = claude_body(false);
            b["model"] = json!(format!("claude-made-up-{i}"));
            b["messages"][0]["content"] = json!(format!("conversation {i}"));
            let app = &app;
            let key = &key;
            async move { app.post_messages(key, &b).await.status().as_u16() }
        });
        let statuses = futures::future::join_all(sent).await;
        assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    }
    let text = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let models: HashSet<&str> = text
        .lines()
        .filter(|l| {
            l.starts_with("switchyard_tokens_total{") || l.starts_with("switchyard_cost_micro_usd_total{")
        })
        .filter_map(|l| l.split("model=\"").nth(1)?.split('"').next())
        .collect();
    assert!(
        models.len() <= switchyard::metrics::MAX_MODEL_LABELS + 1,
        "{} model label values",
        models.len()
    );
    assert!(models.contains(switchyard::metrics::OTHER_MODEL), "{models:?}");
    assert!(text.len() < 400_000, "{} bytes of metrics", text.len());
}

#[actix_web::test]
async fn a_short_admin_token_stops_start_up() {
    let mock = MockUpstream::start();
    let data = tempfile::tempdir().unwrap();
    let mut settings = test_settings(&mock, data.path());
    settings.admin.token = "only-twenty-chars-xx".into();
    let err = Application::build_with(settings, Backends::in_memory())
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains("admin.token") && err.contains("at least 32"),
        "{err}"
    );
}
