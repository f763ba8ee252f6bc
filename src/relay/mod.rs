//! The relay loop shared by every platform: select an account → forward → classify the answer
//! → fail over (before any byte reached the client) → stream → finish.
pub mod body;
pub mod client;
pub mod client_gone;
pub mod drain;
pub mod finish;
pub mod headers;
pub mod local_fault;
pub mod pacing;

use crate::error::{ApiError, ApiFormat, error_body};
use crate::keys::ApiKey;
use crate::oauth::TokenEndpoint;
use crate::state::AppState;
use crate::upstream::{ClientApi, ErrorVerdict, Inbound, UsageTap, registry};
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use body::RelayBody;
use bytes::{Bytes, BytesMut};
use client::{SendError, Unreachable, UpstreamClients, UpstreamResponse};
use finish::{Ending, Finish};
use futures::StreamExt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchyard_actors::pool::{HealthChange, MarkOutcome, Outcome};
use switchyard_actors::scheduler::{SelectAccount, SelectError, Selection};
use switchyard_actors::{Account, AccountId, Credentials};

/// One client request to relay.
pub struct RelayRequest {
    pub key: Arc<ApiKey>,
    /// The rate-limit window the request was admitted in.
    pub window_start: Option<switchyard_actors::clock::Millis>,
    /// The key's concurrency slot, released when the request ends.
    pub key_slot: Option<switchyard_actors::Lease>,
    pub inbound: Inbound,
    /// The body's claim on body memory, given back when the relay has sent it (with `inbound`).
    pub body_memory: Option<crate::http::body_memory::HeldBytes>,
    /// Resolves when the client has left: ends a wait for a slot or a pacing turn.
    pub client_gone: client_gone::ClientGone,
    /// Where this provider's OAuth accounts refresh their tokens.
    pub token_endpoint: Option<TokenEndpoint>,
    /// Account kinds able to serve this request (`None`: any of the platform).
    pub kinds: Option<Vec<switchyard_actors::AccountKind>>,
    /// For the request's log line.
    pub request_id: String,
    /// When switchyard received the request (added-latency metric).
    pub received: Instant,
}

/// Why one attempt on one account did not produce an answer for the client.
#[derive(Debug)]
enum Failure {
    /// The upstream answered with an error status worth trying elsewhere.
    Http {
        status: StatusCode,
        headers: reqwest::header::HeaderMap,
        body: Bytes,
    },
    Unreachable(Unreachable),
    Timeout,
    /// The account could not be used at all (credentials, proxy, configuration).
    Unusable(String),
    /// Switchyard ran out of its own resources: not the account's fault, and no other account
    /// would fare better.
    Local(local_fault::Shortage),
    /// The account paces user turns and its gate stayed busy for `pacing.wait_ms`.
    Paced,
    /// The client left while the request waited for its pacing turn.
    ClientGone,
}

impl Failure {
    /// Whether another account may serve the request.
    fn try_another_account(&self) -> bool {
        // A paced account's wait is the request's whole budget (like a busy pool's).
        !matches!(self, Failure::Local(_) | Failure::Paced | Failure::ClientGone)
    }

    /// Whether the failure could be the request's own doing (a 5xx, a silence, an unusable
    /// account setting): such failures count towards `relay.max_attempts`, which keeps one
    /// poisonous request from resting the whole pool. A rate limit, an overload, a refused
    /// credential or a refused connection says only that this account cannot serve now, so the
    /// request goes on to every other eligible account (#13: the upstream's error reaches the
    /// client only when no other eligible account exists).
    fn counts_as_attempt(&self) -> bool {
        match self {
            Failure::Http { status, .. } => !matches!(status.as_u16(), 401 | 403 | 429 | 529),
            Failure::Unreachable(_) => false,
            Failure::Timeout
            | Failure::Unusable(_)
            | Failure::Local(_)
            | Failure::Paced
            | Failure::ClientGone => true,
        }
    }

    /// What the client gets: switchyard's own errors as such (logged with their code), an
    /// upstream's answer as the upstream gave it.
    fn into_outcome(self, format: ApiFormat) -> Result<HttpResponse, ApiError> {
        match self {
            Failure::Local(s) => Err(ApiError::LocalResources { kind: s.as_str() }),
            Failure::Paced => Err(ApiError::PacingTimeout),
            Failure::ClientGone => Err(ApiError::ClientGone),
            other => Ok(other.into_response(format)),
        }
    }

    fn into_response(self, format: ApiFormat) -> HttpResponse {
        match self {
            Failure::Http {
                status,
                headers,
                body,
            } => {
                let mut resp = HttpResponse::build(status);
                let json = serde_json::from_slice::<serde_json::Value>(&body).is_ok();
                // A re-wrapped body (an HTML error page, say) must not keep its old content type.
                for (n, v) in headers::client_visible(&headers).filter(|(n, _)| json || *n != "content-type")
                {
                    resp.append_header((n, v));
                }
                if json {
                    resp.body(body)
                } else {
                    let msg = String::from_utf8_lossy(&body)
                        .chars()
                        .take(500)
                        .collect::<String>();
                    resp.json(error_body(
                        format,
                        status,
                        &msg,
                        "upstream_error",
                        serde_json::json!({}),
                    ))
                }
            }
            Failure::Unreachable(u) => failure_body(format, ApiError::UpstreamUnreachable(u.public)),
            Failure::Timeout => failure_body(format, ApiError::UpstreamTimeout),
            Failure::Unusable(m) => failure_body(format, ApiError::UpstreamUnreachable(m)),
            Failure::Local(s) => failure_body(format, ApiError::LocalResources { kind: s.as_str() }),
            Failure::Paced => failure_body(format, ApiError::PacingTimeout),
            Failure::ClientGone => failure_body(format, ApiError::ClientGone),
        }
    }
}

fn failure_body(format: ApiFormat, e: ApiError) -> HttpResponse {
    actix_web::ResponseError::error_response(&e.in_format(format))
}

enum Attempt {
    Answered(HttpResponse),
    Failed(Failure),
}

pub async fn relay(
    state: &AppState,
    clients: &UpstreamClients,
    api: ClientApi,
    mut req: RelayRequest,
) -> Result<HttpResponse, ApiError> {
    let started = Instant::now();
    let mut key_slot = req.key_slot.take();
    let max = state.settings.relay.max_attempts as usize;
    let mut tried: Vec<AccountId> = Vec::new();
    let mut counted = 0usize;
    let mut last: Option<Failure> = None;
    while counted < max {
        let select = SelectAccount {
            platform: api.platform,
            bindings: Arc::new(req.key.bindings.clone()),
            session: req.inbound.session.clone(),
            api_key: Some(req.key.id.clone()),
            model: Some(req.inbound.model.clone()),
            exclude: tried.clone(),
            kinds: req.kinds.clone(),
            hold_session: false,
        };
        // Every eligible account full: wait for a slot (failover included), never for a
        // cooling account; the last upstream error is answered only when no other exists.
        let platform_label = api.platform.as_str();
        let selected = tokio::select! {
            selected = state.scheduling.select_waiting(select) => selected,
            // Nobody to answer: leave the queue at once.
            () = req.client_gone.wait() => {
                let outcome = Err(ApiError::ClientGone);
                log_unanswered(&req, api, &outcome, tried.len(), started);
                return outcome;
            }
        };
        let selection = match selected {
            Ok(s) => {
                if let Some(waited) = s.waited {
                    state
                        .metrics
                        .slot_wait_seconds
                        .with_label_values(&[platform_label])
                        .observe(waited.as_secs_f64());
                }
                s
            }
            Err(SelectError::Busy { refusal }) => {
                state
                    .metrics
                    .slot_wait_refusals
                    .with_label_values(&[platform_label, refusal.as_str()])
                    .inc();
                let outcome = Err(ApiError::Overloaded(refusal));
                log_unanswered(&req, api, &outcome, tried.len(), started);
                return outcome;
            }
            Err(SelectError::NoAccount(reason)) => {
                let outcome = match last {
                    Some(f) => Ok(f.into_response(api.format)),
                    None => Err(reason.into()),
                };
                log_unanswered(&req, api, &outcome, tried.len(), started);
                return outcome;
            }
            Err(e) => {
                let outcome = Err(e.into());
                log_unanswered(&req, api, &outcome, tried.len(), started);
                return outcome;
            }
        };
        if !tried.is_empty() {
            state
                .metrics
                .failovers
                .with_label_values(&[api.platform.as_str()])
                .inc();
        }
        tried.push(selection.account.id.clone());
        match attempt(
            state,
            clients,
            api,
            &req,
            &mut key_slot,
            selection,
            tried.len(),
            started,
        )
        .await
        {
            Attempt::Answered(resp) => return Ok(resp),
            Attempt::Failed(f) if !f.try_another_account() => {
                let outcome = f.into_outcome(api.format);
                log_unanswered(&req, api, &outcome, tried.len(), started);
                return outcome;
            }
            Attempt::Failed(f) => {
                tracing::info!(attempt = tried.len(), account = %tried[tried.len() - 1], failure = %crate::telemetry::LogText(&format!("{:?}", FailureKind(&f))), "upstream attempt failed");
                counted += usize::from(f.counts_as_attempt());
                last = Some(f);
            }
        }
    }
    let outcome = Ok(last
        .map(|f| f.into_response(api.format))
        .unwrap_or_else(|| failure_body(api.format, ApiError::Internal("no attempt was made".into()))));
    log_unanswered(&req, api, &outcome, tried.len(), started);
    outcome
}

/// The request's log line when no upstream answer reached the client (no account, or every
/// attempt failed); answered requests are logged when they finish.
fn log_unanswered(
    req: &RelayRequest,
    api: ClientApi,
    outcome: &Result<HttpResponse, ApiError>,
    attempts: usize,
    started: Instant,
) {
    let (status, reason) = match outcome {
        Ok(resp) => (resp.status().as_u16(), "all_attempts_failed"),
        Err(e) => (e.status().as_u16(), e.code()),
    };
    tracing::info!(
        request_id = %req.request_id,
        key_id = %req.key.id,
        platform = %api.platform,
        model = %crate::telemetry::LogText(&req.inbound.model),
        status,
        reason,
        attempts,
        duration_ms = started.elapsed().as_millis() as u64,
        "request finished"
    );
}

/// Compact failure description for logs (never bodies: they may echo prompts).
struct FailureKind<'a>(&'a Failure);

impl std::fmt::Debug for FailureKind<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Failure::Http { status, .. } => write!(f, "status {}", status.as_u16()),
            Failure::Unreachable(u) => write!(f, "unreachable: {}", u.detail),
            Failure::Timeout => f.write_str("timeout"),
            Failure::Unusable(m) => write!(f, "unusable: {m}"),
            Failure::Local(s) => write!(f, "local resources: {}", s.as_str()),
            Failure::Paced => f.write_str("pacing wait timed out"),
            Failure::ClientGone => f.write_str("client gone"),
        }
    }
}

async fn mark(state: &AppState, account: &Account, outcome: Outcome, model: &str) {
    let msg = MarkOutcome {
        account: account.id.clone(),
        outcome,
        model: Some(model.to_owned()),
    };
    report_outcome(&state.scheduling, &state.metrics, msg).await;
}

/// Hands an upstream outcome to the pool and counts the cooldown it starts, if any: every
/// outcome goes through here, so the cooldown metric misses none.
pub(crate) async fn report_outcome(
    scheduling: &switchyard_actors::Scheduling,
    metrics: &crate::metrics::Metrics,
    msg: MarkOutcome,
) {
    let account = msg.account.clone();
    match scheduling.mark_outcome(msg).await {
        Ok(HealthChange::CooledDown { reason, .. }) => {
            metrics.cooldowns.with_label_values(&[reason.as_str()]).inc();
        }
        Ok(HealthChange::FamilyLimited { .. }) => {
            metrics.cooldowns.with_label_values(&["family_limit"]).inc();
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(account = %account, error = %e, "recording an upstream outcome failed"),
    }
}

/// A misconfigured account (no project id, a proxy that cannot be built) would take one of
/// every request's attempts: rest it like an auth failure and say why in the log.
async fn misconfigured(state: &AppState, account: &Account, model: &str, e: String) -> Attempt {
    tracing::error!(account = %account.id, error = %e, "account cannot be used as configured");
    let outcome = Outcome::Status {
        status: 401,
        retry_after_ms: None,
        reset_at: None,
    };
    mark(state, account, outcome, model).await;
    Attempt::Failed(Failure::Unusable(e))
}

/// Why an account's credential could not be produced, and how the account should rest.
struct CredentialError {
    message: String,
    outcome: Outcome,
}

async fn credential(
    state: &AppState,
    account: &Account,
    endpoint: Option<&TokenEndpoint>,
) -> Result<String, CredentialError> {
    let auth_failure = |message: String| CredentialError {
        message,
        outcome: Outcome::Status {
            status: 401,
            retry_after_ms: None,
            reset_at: None,
        },
    };
    match &account.credentials {
        Credentials::ApiKey { key } => Ok(key.expose().to_owned()),
        Credentials::OAuth(_) => {
            let endpoint =
                endpoint.ok_or_else(|| auth_failure("this platform has no token endpoint".into()))?;
            state
                .oauth
                .access_token(account, endpoint)
                .await
                .map(|s| s.expose().to_owned())
                .map_err(|e| {
                    // A token endpoint that cannot be reached says nothing about the account's grant.
                    let outcome = match e {
                        crate::oauth::RefreshError::Unreachable(_) => Outcome::ConnectError,
                        _ => Outcome::Status {
                            status: 401,
                            retry_after_ms: None,
                            reset_at: None,
                        },
                    };
                    CredentialError {
                        message: e.to_string(),
                        outcome,
                    }
                })
        }
        Credentials::None => Err(auth_failure("the account has no credentials".into())),
    }
}

#[allow(clippy::too_many_arguments)]
async fn attempt(
    state: &AppState,
    clients: &UpstreamClients,
    api: ClientApi,
    req: &RelayRequest,
    key_slot: &mut Option<switchyard_actors::Lease>,
    selection: Selection,
    attempt_no: usize,
    started: Instant,
) -> Attempt {
    let Selection { account, lease, .. } = selection;
    let inbound = &req.inbound;
    let relay = &state.settings.relay;
    let idle = Duration::from_millis(relay.idle_timeout_ms);

    let secret = match credential(state, &account, req.token_endpoint.as_ref()).await {
        Ok(s) => s,
        Err(why) => {
            mark(state, &account, why.outcome, &inbound.model).await;
            return Attempt::Failed(Failure::Unusable(why.message));
        }
    };
    let kind = registry::kind(account.kind);
    let call = match kind.upstream_call(&state.settings.upstream, &account, &secret, inbound) {
        Ok(c) => c,
        Err(e) => return misconfigured(state, &account, &inbound.model, e.to_string()).await,
    };
    let client = match clients.for_proxy(account.proxy.as_deref()) {
        Ok(c) => c,
        Err(e) => return misconfigured(state, &account, &inbound.model, e.to_string()).await,
    };
    let platform_label = api.platform.as_str();
    state
        .metrics
        .added_seconds
        .with_label_values(&[platform_label])
        .observe(req.received.elapsed().as_secs_f64());
    // A real user turn on a paced account waits here for the account's gate, keeping the
    // account's slot (its lease) meanwhile: the request is committed to this account, as in
    // the reference, and the slot counts it so the pool does not overfill the account.
    let mut turn = match pacing::Rules::for_account(&account, &state.settings.pacing) {
        Some(rules) if inbound.user_turn => {
            let take = state.pacing.take(state, &account.id, rules);
            match tokio::select! {
                taken = take => taken,
                () = req.client_gone.wait() => return Attempt::Failed(Failure::ClientGone),
            } {
                Ok(t) => Some(t),
                Err(pacing::TimedOut) => return Attempt::Failed(Failure::Paced),
            }
        }
        _ => None,
    };
    let sent_at = Instant::now();
    let send = client.post(&call.url, call.headers, call.body);
    let mut resp = match tokio::time::timeout(idle, send).await {
        Err(_) => {
            mark(state, &account, Outcome::Timeout, &inbound.model).await;
            return Attempt::Failed(Failure::Timeout);
        }
        Ok(Err(e)) => {
            if let Some(outcome) = e.account_outcome() {
                mark(state, &account, outcome, &inbound.model).await;
            }
            return Attempt::Failed(match e {
                SendError::Timeout => Failure::Timeout,
                SendError::Unreachable(why) | SendError::StaleConnection(why) => Failure::Unreachable(why),
                SendError::Local(shortage) => {
                    local_fault::report(shortage, &state.metrics);
                    Failure::Local(shortage)
                }
            });
        }
        Ok(Ok(r)) => r,
    };
    state
        .metrics
        .upstream_ttfb_seconds
        .with_label_values(&[platform_label])
        .observe(sent_at.elapsed().as_secs_f64());
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    // The body is read through the response afterwards; its headers are not needed there.
    let headers = std::mem::take(resp.headers_mut());

    let verdict = if status.is_success() {
        ErrorVerdict::ReturnToClient
    } else {
        kind.on_error_status(status.as_u16(), &headers, state.clock.now_ms())
    };
    if let ErrorVerdict::TryAnotherAccount(hints) = verdict {
        let outcome = Outcome::Status {
            status: status.as_u16(),
            retry_after_ms: hints.retry_after_ms,
            reset_at: hints.reset_at,
        };
        mark(state, &account, outcome, &inbound.model).await;
        let body = read_limited(resp, relay.error_body_limit_kb * 1024, idle)
            .await
            .unwrap_or_default();
        return Attempt::Failed(Failure::Http {
            status,
            headers,
            body,
        });
    }
    if status.is_success() {
        clear_expired_health(state, &account, &inbound.model);
    }

    let is_sse = kind.is_event_stream(&headers);
    // Streams (SSE, or a JSON array streamed by Gemini) pass through as they arrive.
    let streaming = status.is_success() && (is_sse || inbound.stream);
    if streaming {
        // A stream's turn ends when its headers arrive; a whole answer's when it is read.
        turn = None;
    }
    let mut adapter = if status.is_success() {
        kind.adapter(&account, inbound)
    } else {
        None
    };
    let finish = Finish {
        lease: Some(lease),
        key_slot: key_slot.take(),
        key: req.key.clone(),
        window_start: req.window_start,
        tap: if status.is_success() {
            kind.usage_tap(is_sse)
        } else {
            Box::new(NoUsage)
        },
        usage: state.usage.clone(),
        scheduling: state.scheduling.clone(),
        clock: state.clock.clone(),
        account_id: account.id.clone(),
        platform: api.platform,
        model: inbound.model.clone(),
        status: status.as_u16(),
        attempts: attempt_no,
        started,
        upstream_sent: sent_at,
        request_id: req.request_id.clone(),
        metrics: state.metrics.clone(),
        drain: kind
            .bills_after_disconnect()
            .then(|| drain::Bounds::from_settings(relay))
            .flatten(),
        done: false,
    };

    let mut builder = HttpResponse::build(status);
    for (n, v) in headers::client_visible(&headers) {
        builder.append_header((n, v));
    }

    if let Some(ct) = adapter.as_ref().and_then(|a| a.content_type()) {
        builder.insert_header(("content-type", ct));
    }

    if streaming {
        // Wait for the first bytes before committing: until then another account may still serve.
        // A client that leaves meanwhile does not stop the answer's bill (drain::Guard).
        let mut reading = drain::Guard::new(body_stream(resp), finish, idle);
        let first = tokio::time::timeout(idle, reading.next()).await;
        let Some((upstream, finish)) = reading.release() else {
            return Attempt::Failed(Failure::Unusable(HANDED_OVER.into()));
        };
        let first = match first {
            Err(_) => {
                mark(state, &account, Outcome::Timeout, &inbound.model).await;
                *key_slot = finish.discard();
                return Attempt::Failed(Failure::Timeout);
            }
            Ok(Some(Err(e))) => {
                mark(state, &account, Outcome::ConnectError, &inbound.model).await;
                *key_slot = finish.discard();
                return Attempt::Failed(Failure::Unreachable(Unreachable::new(&*e)));
            }
            Ok(None) => None,
            Ok(Some(Ok(b))) => Some(b),
        };
        let upstream = body::read_ahead(first, upstream).await;
        if is_sse && adapter.as_ref().and_then(|a| a.content_type()).is_none() {
            builder.insert_header(("content-type", "text/event-stream"));
        }
        builder
            .insert_header(("cache-control", "no-cache"))
            .insert_header(("x-accel-buffering", "no"));
        return Attempt::Answered(builder.streaming(RelayBody::new(upstream, idle, adapter, finish)));
    }

    // A JSON (or other) answer: read it whole (fed to the usage tap as it comes), then pass it
    // on. A client that leaves meanwhile does not stop the answer's bill (drain::Guard).
    let mut reading = drain::Guard::new(body_stream(resp), finish, idle);
    let read = reading.read_to_end().await;
    drop(turn.take());
    let Some((_, mut finish)) = reading.release() else {
        return Attempt::Failed(Failure::Unusable(HANDED_OVER.into()));
    };
    match read {
        Ok(body) => {
            let body = match adapter.as_mut() {
                None => body,
                Some(a) => {
                    let mut out = BytesMut::new();
                    a.chunk(&body, &mut out);
                    a.finish(&mut out);
                    out.freeze()
                }
            };
            // Read whole for a client that has left meanwhile: billed, and marked as such.
            let ending = if req.client_gone.has_gone() {
                Ending::ClientGone
            } else {
                Ending::Complete
            };
            finish.complete(ending);
            Attempt::Answered(builder.body(body))
        }
        Err(ReadError::Timeout) => {
            mark(state, &account, Outcome::Timeout, &inbound.model).await;
            *key_slot = finish.discard();
            Attempt::Failed(Failure::Timeout)
        }
        Err(ReadError::Broken(m)) => {
            mark(state, &account, Outcome::ConnectError, &inbound.model).await;
            *key_slot = finish.discard();
            Attempt::Failed(Failure::Unreachable(m))
        }
    }
}

/// A guard's answer taken twice: cannot happen (`release` consumes the guard).
const HANDED_OVER: &str = "the upstream answer was already handed over";

/// After a success, let the pool drop expired health state (only when there is some, so the
/// common request sends no extra message).
fn clear_expired_health(state: &AppState, account: &Account, model: &str) {
    let snapshot = state.scheduling.snapshot();
    let has_state = snapshot.get(&account.id).is_some_and(|e| !e.health.is_clear());
    if has_state {
        let msg = MarkOutcome {
            account: account.id.clone(),
            outcome: Outcome::Success,
            model: Some(model.to_owned()),
        };
        let (scheduling, metrics) = (state.scheduling.clone(), state.metrics.clone());
        actix_web::rt::spawn(async move { report_outcome(&scheduling, &metrics, msg).await });
    }
}

impl Finish {
    /// Ends an attempt that produced nothing for the client: release the account's slot, record
    /// nothing, and hand the key's slot back for the next attempt.
    fn discard(mut self) -> Option<switchyard_actors::Lease> {
        self.tap = Box::new(NoUsage);
        self.done = true;
        drop(self.lease.take());
        self.key_slot.take()
    }
}

struct NoUsage;

impl UsageTap for NoUsage {
    fn feed(&mut self, _: &[u8]) {}
    fn finish(&mut self) -> Option<(crate::usage::TokenUsage, Option<String>)> {
        None
    }
}

enum ReadError {
    Timeout,
    Broken(Unreachable),
}

/// Reads a whole body (up to `limit` bytes; the rest is dropped), with the idle timeout
/// between chunks.
async fn read_limited(resp: UpstreamResponse, limit: usize, idle: Duration) -> Result<Bytes, ReadError> {
    let mut stream = body_stream(resp);
    let mut buf = BytesMut::new();
    loop {
        match tokio::time::timeout(idle, stream.next()).await {
            Err(_) => return Err(ReadError::Timeout),
            Ok(None) => return Ok(buf.freeze()),
            Ok(Some(Err(e))) => return Err(ReadError::Broken(Unreachable::new(&*e))),
            Ok(Some(Ok(chunk))) => {
                let room = limit.saturating_sub(buf.len());
                buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if room <= chunk.len() && limit != usize::MAX {
                    return Ok(buf.freeze());
                }
            }
        }
    }
}

/// An answer's body as a stream of its data chunks.
fn body_stream(resp: UpstreamResponse) -> body::UpstreamStream {
    http_body_util::BodyDataStream::new(resp.into_body()).boxed()
}
