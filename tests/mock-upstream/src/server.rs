//! The HTTP server and the handle tests hold.
//!
//! The server runs on its own thread with its own actix system, so it works the same from any
//! test runtime (`actix_rt::test`, `tokio::test`, plain `#[test]`). A single handler takes every
//! request: it records it, takes what its credential is scripted to get, and hands it to the
//! provider module its path names.

use std::io;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::dev::ServerHandle;
use actix_web::http::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

use crate::answer::{Answer, Ctx};
use crate::faults::{Fault, StreamFault, anthropic_error_body};
use crate::record::{RecordedRequest, Stored, request_credential};
use crate::router::{Hints, Route};
use crate::state::Shared;
use crate::usage::MockUsage;
use crate::{admin, anthropic, bedrock, gemini, models, oauth, openai_chat, openai_responses, sse};

/// Request bodies up to this size are accepted (Claude Code's first request is ~120 KB).
const MAX_BODY: usize = 64 * 1024 * 1024;
/// Longer than any client's idle pool timeout, so the mock never closes a kept-alive connection
/// under a client that is about to reuse it.
const KEEP_ALIVE: Duration = Duration::from_secs(300);

/// A running mock upstream; dropping it stops the server.
pub struct MockUpstream {
    shared: Arc<Shared>,
    port: u16,
    handle: ServerHandle,
    thread: Option<JoinHandle<()>>,
}

impl MockUpstream {
    /// Serves on 127.0.0.1 on a free port with one worker. Blocks until bound.
    pub fn start() -> MockUpstream {
        Self::start_on(0, 1)
    }

    /// Serves on 127.0.0.1:`port` (0 picks a free one) with `workers` worker threads.
    ///
    /// # Panics
    /// When the port cannot be bound; [`MockUpstream::try_start_on`] returns the error instead.
    pub fn start_on(port: u16, workers: usize) -> MockUpstream {
        match Self::try_start_on(port, workers) {
            Ok(mock) => mock,
            Err(err) => panic!("mock-upstream: cannot listen on 127.0.0.1:{port}: {err}"),
        }
    }

    /// Like [`MockUpstream::start_on`], but returns bind errors.
    pub fn try_start_on(port: u16, workers: usize) -> io::Result<MockUpstream> {
        let shared = Arc::new(Shared::new());
        let data = web::Data::from(Arc::clone(&shared));
        let (bound_tx, bound_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("mock-upstream".into())
            .spawn(move || {
                actix_web::rt::System::new().block_on(async move {
                    let server = HttpServer::new(move || {
                        App::new()
                            .app_data(data.clone())
                            .app_data(web::PayloadConfig::new(MAX_BODY))
                            .default_service(web::to(handle))
                    })
                    .workers(workers.max(1))
                    .keep_alive(KEEP_ALIVE)
                    // A client that closes its side is gone: drop its answer (and the in-flight
                    // count) instead of finishing a stream nobody reads.
                    .h1_allow_half_closed(false)
                    .disable_signals()
                    .shutdown_timeout(1)
                    .bind(("127.0.0.1", port));
                    let server = match server {
                        Ok(server) => server,
                        Err(err) => {
                            let _ = bound_tx.send(Err(err));
                            return;
                        }
                    };
                    let port = server.addrs().first().map_or(port, |addr| addr.port());
                    let server = server.run();
                    let _ = bound_tx.send(Ok((port, server.handle())));
                    let _ = server.await;
                });
            })?;
        let (port, handle) = bound_rx
            .recv()
            .map_err(|_| io::Error::other("mock-upstream: server thread died while starting"))??;
        Ok(MockUpstream {
            shared,
            port,
            handle,
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The next request authenticated with `credential` gets `fault` (FIFO per credential).
    pub fn enqueue(&self, credential: &str, fault: Fault) {
        self.shared.enqueue(credential, fault);
    }

    /// Every request for `credential` gets `fault` (after any queued ones) until cleared with
    /// `None`.
    pub fn set_persistent(&self, credential: &str, fault: Option<Fault>) {
        self.shared.set_persistent(credential, fault);
    }

    /// Token counts the success answers report for `credential`.
    pub fn set_usage(&self, credential: &str, usage: MockUsage) {
        self.shared.set_usage(credential, usage);
    }

    /// Extra headers on every answer for `credential` other than a `Fault::Status` (e.g.
    /// `anthropic-ratelimit-unified-5h-utilization`), replacing earlier ones.
    pub fn set_response_headers(&self, credential: &str, headers: &[(&str, &str)]) {
        let headers = headers
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), (*v).to_owned()))
            .collect();
        self.shared.set_response_headers(credential, headers);
    }

    /// Recorded requests (token requests excluded), in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests()
    }

    pub fn requests_for(&self, credential: &str) -> Vec<RecordedRequest> {
        self.shared.requests_for(credential)
    }

    /// Forgets recorded requests, queued and persistent faults, usage and header overrides, and
    /// pending token failures.
    pub fn clear(&self) {
        self.shared.clear();
    }

    /// Keep only the newest `limit` recorded requests (`Some(0)`: record nothing; `None`, the
    /// default: keep all). For long load runs.
    pub fn set_record_limit(&self, limit: Option<usize>) {
        self.shared.set_record_limit(limit);
    }

    /// Requests being answered now; a stream counts until it ends or the client goes away.
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight()
    }

    /// Requests to the token endpoints, in arrival order.
    pub fn token_requests(&self) -> Vec<RecordedRequest> {
        self.shared.token_requests()
    }

    /// The next `n` token requests fail with 400 `{"error":"invalid_grant"}`.
    pub fn fail_next_token_refreshes(&self, n: usize) {
        self.shared.fail_next_token_calls(n);
    }

    /// Blocks until the server stops (it only does when this handle is dropped elsewhere, so in
    /// practice: forever). For the binary.
    pub fn wait(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for MockUpstream {
    fn drop(&mut self) {
        // Not graceful: streams in progress and hanging requests are cut at once.
        futures::executor::block_on(self.handle.stop(false));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn handle(req: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let path = req.path();
    let query = req.query_string();
    let headers = req.headers();
    let hints = Hints {
        anthropic_version: headers.contains_key("anthropic-version"),
        google_key: headers.contains_key("x-goog-api-key") || query.split('&').any(|p| p.starts_with("key=")),
    };
    let route = crate::router::route(req.method(), path, &hints);
    if let Route::Control { action } = route {
        return admin::handle(&shared, action, req.method(), query, &body).into_response(None, &[], None);
    }
    let guard = shared.in_flight_guard();
    let credential = request_credential(headers, query);
    let record = || {
        Stored::new(
            req.method(),
            path,
            query,
            headers,
            body.clone(),
            credential.clone(),
        )
    };
    if route == Route::Token {
        shared.record_token_request(record());
        let fail = shared.take_token_failure();
        let n = if fail { 0 } else { shared.next_token_id() };
        return oauth::token(path, &body, n, fail).into_response(None, &[], Some(guard));
    }
    if shared.recording() {
        shared.record(record());
    }
    if let Route::Bedrock { .. } = route
        && let Err(refused) = bedrock::authenticate(req.method().as_str(), path, query, headers, &body)
    {
        return refused.into_response(None, &[], Some(guard));
    }
    let azure_deployment = crate::azure::chat_deployment(path).is_some();
    if (azure_deployment || crate::azure::is_v1_responses(path))
        && let Err(refused) = crate::azure::check(headers, query, azure_deployment)
    {
        return refused.into_response(None, &[], Some(guard));
    }
    let plan = shared.plan(credential.as_deref());
    let mut stream_fault = None;
    let mut in_band_error_after = None;
    match plan.fault {
        None => {}
        Some(Fault::Status {
            status,
            headers,
            body,
        }) => return status_response(status, &headers, body),
        Some(Fault::Delay { ms }) => tokio::time::sleep(Duration::from_millis(ms)).await,
        Some(Fault::SlowStream { ms }) => stream_fault = Some(StreamFault::Slow { ms }),
        Some(Fault::CutStream { after_events }) => stream_fault = Some(StreamFault::Cut { after_events }),
        Some(Fault::InBandError { after_events }) => in_band_error_after = Some(after_events),
        Some(Fault::Drop) => return HttpResponse::Ok().streaming(sse::aborted()),
        // The guard lives in this future, so the request counts in flight until the client
        // gives up and the server drops the future.
        Some(Fault::Hang) => return std::future::pending().await,
    }
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let ctx = Ctx {
        n: shared.next_id(),
        usage: &plan.usage,
        created,
        in_band_error_after,
        query,
    };
    provider_answer(route, req.method(), path, &body, &ctx).into_response(
        stream_fault,
        &plan.headers,
        Some(guard),
    )
}

/// The answer of the provider module `route` names (or a 404).
fn provider_answer(route: Route<'_>, method: &Method, path: &str, body: &[u8], ctx: &Ctx<'_>) -> Answer {
    match route {
        Route::AnthropicMessages => anthropic::messages(body, ctx),
        Route::AnthropicCountTokens => anthropic::count_tokens(ctx),
        Route::ChatCompletions => openai_chat::completions(body, ctx),
        Route::Responses => openai_responses::create(body, ctx),
        Route::Gemini { model, verb } => gemini::models(model, verb, body, ctx),
        Route::CodeAssist { method } => gemini::code_assist(method, body, ctx),
        Route::ModelList(shape) => models::list(shape, ctx),
        Route::Model { shape, id } => models::get(shape, id, ctx),
        Route::Bedrock { model, operation } => bedrock::answer(operation, model, body, ctx),
        Route::NotFound | Route::Token | Route::Control { .. } => not_found(method, path),
    }
}

/// A `Fault::Status` answer: JSON unless its headers say otherwise.
fn status_response(status: u16, headers: &[(String, String)], body: String) -> HttpResponse {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut map = HeaderMap::new();
    map.insert(CONTENT_TYPE, HeaderValue::from_static(crate::answer::JSON));
    let mut replaced_content_type = false;
    for (name, value) in headers {
        let (Ok(name), Ok(value)) = (HeaderName::try_from(name.as_str()), HeaderValue::from_str(value))
        else {
            continue;
        };
        if name == CONTENT_TYPE && !replaced_content_type {
            map.insert(name, value);
            replaced_content_type = true;
        } else {
            map.append(name, value);
        }
    }
    let mut response = HttpResponse::build(status).body(body);
    *response.headers_mut() = map;
    response
}

fn not_found(method: &Method, path: &str) -> Answer {
    let message = format!("mock-upstream: no route for {method} {path}");
    Answer::json(
        StatusCode::NOT_FOUND,
        sse::json(&anthropic_error_body("not_found_error", &message)),
    )
}
