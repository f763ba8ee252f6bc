//! Shared by the integration tests: `spawn_app()` starts the real server on 127.0.0.1:0 with a
//! mock upstream, plus helpers to add accounts and keys through the admin API.
#![allow(dead_code)]

use actix_web::web;
use mock_upstream::MockUpstream;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use switchyard::settings::Settings;
use switchyard::startup::{Application, Backends};
use switchyard::state::AppState;

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789abcdef0123";

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub mock: MockUpstream,
    pub state: web::Data<AppState>,
    pub settings: Settings,
    _data: tempfile::TempDir,
}

/// Settings every test starts from: port 0, a temp data dir, upstreams on the mock, short
/// timeouts so failure tests stay fast.
pub fn test_settings(mock: &MockUpstream, data: &std::path::Path) -> Settings {
    let mut s = Settings::default();
    s.server.port = 0;
    s.server.workers = 2;
    s.store.data_dir = data.to_path_buf();
    s.admin.token = ADMIN_TOKEN.into();
    s.upstream.claude.api_base_url = mock.url();
    s.upstream.claude.token_url = format!("{}/v1/oauth/token", mock.url());
    s.upstream.gemini.api_base_url = mock.url();
    s.upstream.gemini.code_assist_base_url = mock.url();
    s.upstream.gemini.token_url = format!("{}/token", mock.url());
    s.upstream.openai.codex_base_url = format!("{}/backend-api/codex", mock.url());
    s.upstream.openai.token_url = format!("{}/oauth/token", mock.url());
    s.relay.connect_timeout_ms = 1_000;
    s.relay.idle_timeout_ms = 3_000;
    s.log.level = "warn".into();
    s
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_on(Backends::in_memory(), tweak).await
}

pub async fn spawn_app_on(backends: Backends, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_in(tempfile::tempdir().expect("temp dir"), backends, tweak).await
}

/// Like [`spawn_app_on`], with `data` as the app's data dir (an embedded store opened in it
/// lives exactly as long as the app).
pub async fn spawn_app_in(
    data: tempfile::TempDir,
    backends: Backends,
    tweak: impl FnOnce(&mut Settings),
) -> TestApp {
    let mock = MockUpstream::start();
    let mut settings = test_settings(&mock, data.path());
    tweak(&mut settings);
    let app = Application::build_with(settings.clone(), backends)
        .await
        .expect("app builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    let state = app.state();
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        base,
        http: reqwest::Client::new(),
        mock,
        state,
        settings,
        _data: data,
    }
}

/// An app on its own thread, with its own runtime: [`AppThread::stop`] ends the server and
/// drops that runtime, and with it every task and actor that holds the backends (so an
/// embedded store's file lock is released and the data dir can be opened again).
pub struct AppThread {
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Like [`spawn_app_on`], but the app runs on a thread of its own (see [`AppThread`]).
pub fn spawn_app_on_thread(backends: Backends, tweak: impl FnOnce(&mut Settings)) -> (TestApp, AppThread) {
    let mock = MockUpstream::start();
    let data = tempfile::tempdir().expect("temp dir");
    let mut settings = test_settings(&mock, data.path());
    tweak(&mut settings);
    let (tx, rx) = std::sync::mpsc::channel();
    let app_settings = settings.clone();
    let thread = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let app = Application::build_with(app_settings, backends)
                .await
                .expect("app builds");
            tx.send((app.port(), app.state(), app.handle()))
                .expect("the test waits for the app");
            let _ = app.run_until_stopped().await;
        });
    });
    let (port, state, handle) = rx.recv().expect("the app thread starts the app");
    let app = TestApp {
        base: format!("http://127.0.0.1:{port}"),
        http: reqwest::Client::new(),
        mock,
        state,
        settings,
        _data: data,
    };
    (
        app,
        AppThread {
            handle,
            thread: Some(thread),
        },
    )
}

impl AppThread {
    /// Stops the server gracefully and waits until the app's thread and runtime are gone.
    /// Drop every `TestApp::state` clone first: it holds the backends too.
    pub async fn stop(mut self) {
        self.handle.stop(true).await;
        if let Some(thread) = self.thread.take() {
            tokio::task::spawn_blocking(move || thread.join())
                .await
                .expect("joined")
                .expect("the app thread did not panic");
        }
    }
}

pub fn claude_body(stream: bool) -> Value {
    json!({
        "model": "claude-sonnet-5",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "Hello"}],
        "stream": stream,
    })
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, self.url(path)).bearer_auth(ADMIN_TOKEN);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("admin request");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// Adds an account through the admin API; `fields` are merged over a console default whose
    /// base URL is the mock.
    pub async fn add_account(&self, fields: Value) -> String {
        let mut body = json!({
            "name": "acct",
            "kind": "claude-console",
            "base_url": self.mock.url(),
            "api_key": "sk-ant-default",
        });
        merge(&mut body, fields);
        let (status, v) = self
            .admin(reqwest::Method::POST, "/admin/accounts", Some(body))
            .await;
        assert_eq!(status, 201, "account created: {v}");
        v["id"].as_str().expect("id").to_owned()
    }

    /// A console account answering with credential `api_key`.
    pub async fn add_console(&self, name: &str, api_key: &str) -> String {
        self.add_account(json!({"name": name, "api_key": api_key})).await
    }

    pub async fn account(&self, id: &str) -> Value {
        let (status, v) = self
            .admin(reqwest::Method::GET, &format!("/admin/accounts/{id}"), None)
            .await;
        assert_eq!(status, 200, "{v}");
        v
    }

    /// Creates a key; returns (id, plaintext key).
    pub async fn create_key(&self, fields: Value) -> (String, String) {
        let mut body = json!({"name": "test key"});
        merge(&mut body, fields);
        let (status, v) = self.admin(reqwest::Method::POST, "/admin/keys", Some(body)).await;
        assert_eq!(status, 201, "key created: {v}");
        (
            v["id"].as_str().unwrap().to_owned(),
            v["key"].as_str().unwrap().to_owned(),
        )
    }

    pub async fn key(&self) -> String {
        self.create_key(json!({})).await.1
    }

    pub async fn post_messages(&self, key: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url("/v1/messages"))
            .header("x-api-key", key)
            .header("anthropic-version", "2023-06-01")
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    /// Sends `n` concurrent `/v1/messages` requests (message text `"{tag} {i}"`, so each is its
    /// own session) from a thread and runtime of their own, like outside clients: the test's
    /// runtime, which also runs the app's actors and store connection, does not generate the
    /// load. Returns the statuses.
    pub async fn post_many(&self, key: &str, n: usize, tag: &str) -> Vec<u16> {
        let (url, key, tag) = (self.url("/v1/messages"), key.to_owned(), tag.to_owned());
        let load = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let http = reqwest::Client::new();
                futures::future::join_all((0..n).map(|i| {
                    let mut b = claude_body(false);
                    b["messages"][0]["content"] = json!(format!("{tag} {i}"));
                    let req = http
                        .post(&url)
                        .header("x-api-key", &key)
                        .header("anthropic-version", "2023-06-01")
                        .json(&b);
                    async move {
                        let resp = req.send().await.expect("request sent");
                        let status = resp.status().as_u16();
                        if status != 200 {
                            eprintln!("{status}: {}", resp.text().await.unwrap_or_default());
                        }
                        status
                    }
                }))
                .await
            })
        });
        tokio::task::spawn_blocking(move || load.join().expect("load thread"))
            .await
            .expect("joined")
    }

    /// Live leases per account, as the store counts them.
    pub async fn slots_in_use(&self) -> u32 {
        self.state
            .scheduling
            .slot_counts()
            .await
            .expect("slot counts")
            .values()
            .sum()
    }

    /// Waits until every slot is released (releases travel through the pool's mailbox).
    pub async fn assert_slots_released(&self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let n = self.slots_in_use().await;
            if n == 0 && self.state.scheduling.live_leases() == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{n} slots still held after the requests ended"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the recorded usage of `key_id` reaches `requests` requests.
    pub async fn wait_for_usage(&self, key_id: &str, requests: u64) -> switchyard::usage::UsageCounters {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let t = self
                .state
                .usage
                .usage_of(
                    switchyard::usage::Dimension::Key,
                    key_id,
                    switchyard::usage::Bucket::TOTAL,
                )
                .await
                .expect("usage readable");
            if t.requests >= requests {
                return t;
            }
            assert!(
                Instant::now() < deadline,
                "usage for {key_id} stuck at {} requests",
                t.requests
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Shallow-merges `extra`'s fields into `base`.
/// Polls `cond` until it holds (a generous 10 s deadline: the CI box is loaded).
pub async fn poll_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub fn merge(base: &mut Value, extra: Value) {
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        b.extend(e);
    }
}

/// Requests captured from a real client (`tests/fixtures/clients/<name>.jsonl`).
pub fn fixture(name: &str) -> Vec<Value> {
    let path = format!(
        "{}/tests/fixtures/clients/{name}.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("fixture line is JSON"))
        .collect()
}

/// Every place a client may present its switchyard key (README: "Client keys are accepted in
/// ...").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyPlace {
    XApiKey,
    Bearer,
    XGoogApiKey,
    ApiKey,
    Query,
}

impl KeyPlace {
    pub const ALL: [KeyPlace; 5] = [
        KeyPlace::XApiKey,
        KeyPlace::Bearer,
        KeyPlace::XGoogApiKey,
        KeyPlace::ApiKey,
        KeyPlace::Query,
    ];

    /// `url` (which may carry a query already) with the key added when this place is the query;
    /// the key goes first, so the test also sees that the parameters after it survive.
    pub fn url(self, url: &str, key: &str) -> String {
        match (self, url.split_once('?')) {
            (KeyPlace::Query, Some((path, query))) => format!("{path}?key={key}&{query}"),
            (KeyPlace::Query, None) => format!("{url}?key={key}"),
            _ => url.to_owned(),
        }
    }

    /// `req` with the key in this place's header (nothing for the query).
    pub fn header(self, req: reqwest::RequestBuilder, key: &str) -> reqwest::RequestBuilder {
        match self {
            KeyPlace::XApiKey => req.header("x-api-key", key),
            KeyPlace::Bearer => req.header("authorization", format!("Bearer {key}")),
            KeyPlace::XGoogApiKey => req.header("x-goog-api-key", key),
            KeyPlace::ApiKey => req.header("api-key", key),
            KeyPlace::Query => req,
        }
    }

    /// A POST of `body` (sent as these exact bytes, labelled JSON) to `path` with the key here.
    pub fn post(
        self,
        app: &TestApp,
        path: &str,
        key: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::RequestBuilder {
        let req = app
            .http
            .post(self.url(&app.url(path), key))
            .header("content-type", "application/json")
            .body(body);
        self.header(req, key)
    }
}

/// The headers an upstream may authenticate with. A forwarded request carries exactly one of
/// them: the account's own credential.
const CREDENTIAL_HEADERS: [&str; 4] = ["x-api-key", "authorization", "x-goog-api-key", "api-key"];

/// Asserts that the upstream request `r` carries no trace of the client's switchyard key `key`:
/// not in the query (no `key=` parameter at all), not in any header value, and that of the
/// credential headers only `account` (name, value) is there.
pub fn assert_client_key_withheld(r: &mock_upstream::RecordedRequest, key: &str, account: (&str, &str)) {
    let context = format!("{} {}?{}", r.method, r.path, r.query);
    assert!(
        !r.query.contains(key),
        "{context}: the client key is in the query"
    );
    assert!(
        r.query.split('&').all(|p| p.split('=').next() != Some("key")),
        "{context}: a key= parameter reached the upstream"
    );
    for (name, value) in &r.headers {
        assert!(
            !value.contains(key),
            "{context}: the client key reached the upstream in {name}"
        );
    }
    for name in CREDENTIAL_HEADERS {
        let values: Vec<&str> = r
            .headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect();
        let want: Vec<&str> = if name == account.0 {
            vec![account.1]
        } else {
            vec![]
        };
        assert_eq!(values, want, "{context}: {name}");
    }
}
