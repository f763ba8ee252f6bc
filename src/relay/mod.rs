//! The relay loop shared by every platform: select an account → forward → classify the answer
//! → fail over (before any byte reached the client) → stream → finish.
pub mod body;
pub mod client;
pub mod client_gone;
pub mod drain;
pub mod finish;
pub mod front;
pub mod headers;
pub mod local_fault;
pub mod pacing;

use crate::error::{ApiError, ApiFormat, error_body};
use crate::keys::ApiKey;
use crate::oauth::TokenEndpoint;
use crate::state::AppState;
use crate::upstream::{
    BodyAdapter, BuildError, ClientApi, ErrorVerdict, Inbound, Kind, UpstreamCall, UsageTap, registry,
};
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
use switchyard_actors::scheduler::{SelectAccount, SelectError};
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
    /// The client's own format, when it differs from the call relayed (a format front).
    pub front: Option<Arc<dyn front::Front>>,
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
    /// The client's request cannot be sent upstream as it is (the kind said so).
    ClientInput(String),
    /// This account cannot serve this request (the kind said so); another may. Nothing is
    /// wrong with the account, so it is not rested.
    Unfit(String),
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
        !matches!(
            self,
            Failure::Local(_) | Failure::Paced | Failure::ClientGone | Failure::ClientInput(_)
        )
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
            Failure::Unfit(_) => false,
            Failure::Unreachable(_) => false,
            Failure::Timeout
            | Failure::Unusable(_)
            | Failure::ClientInput(_)
            | Failure::Local(_)
            | Failure::Paced
            | Failure::ClientGone => true,
        }
    }

    /// What the client gets: switchyard's own errors as such (logged with their code), an
    /// upstream's answer as the upstream gave it.
    fn into_outcome(
        self,
        format: ApiFormat,
        front: Option<&dyn front::Front>,
    ) -> Result<HttpResponse, ApiError> {
        match self {
            Failure::Local(s) => Err(ApiError::LocalResources { kind: s.as_str() }),
            Failure::Paced => Err(ApiError::PacingTimeout),
            Failure::ClientGone => Err(ApiError::ClientGone),
            Failure::ClientInput(m) => Err(ApiError::BadRequest(m)),
            other => Ok(other.into_response(format, front)),
        }
    }

    fn into_response(self, format: ApiFormat, front: Option<&dyn front::Front>) -> HttpResponse {
        match (self, front) {
            (
                Failure::Http {
                    status,
                    headers,
                    body,
                },
                Some(front),
            ) => {
                // The upstream's headers describe its own format's body, so none pass but when
                // to retry, which holds in any format (SDKs honour it).
                let (status, body) = front.error(status, &body);
                let mut answer = HttpResponse::build(status);
                if let Some(after) = headers
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| actix_web::http::header::HeaderValue::from_bytes(v.as_bytes()).ok())
                {
                    answer.insert_header((actix_web::http::header::RETRY_AFTER, after));
                }
                answer.json(body)
            }
            (other, _) => other.into_response_as(format),
        }
    }

    fn into_response_as(self, format: ApiFormat) -> HttpResponse {
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
            Failure::ClientInput(m) | Failure::Unfit(m) => failure_body(format, ApiError::BadRequest(m)),
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
                    Some(f) => Ok(f.into_response(api.format, req.front.as_deref())),
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
        let cx = AttemptContext::new(
            (state, clients, api, &req),
            selection.account,
            tried.len(),
            started,
        );
        match attempt(cx, selection.lease, &mut key_slot).await {
            Attempt::Answered(resp) => return Ok(resp),
            Attempt::Failed(f) if !f.try_another_account() => {
                let outcome = f.into_outcome(api.format, req.front.as_deref());
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
        .map(|f| f.into_response(api.format, req.front.as_deref()))
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
            Failure::ClientInput(_) => f.write_str("client input"),
            Failure::Unfit(m) => write!(f, "unfit: {m}"),
            Failure::Local(s) => write!(f, "local resources: {}", s.as_str()),
            Failure::Paced => f.write_str("pacing wait timed out"),
            Failure::ClientGone => f.write_str("client gone"),
        }
    }
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

/// One attempt on one account: what every step of it needs.
struct AttemptContext<'a> {
    state: &'a AppState,
    clients: &'a UpstreamClients,
    api: ClientApi,
    req: &'a RelayRequest,
    account: Arc<Account>,
    /// The account's kind: builds the request and reads the answer.
    kind: &'static dyn Kind,
    /// 1 for the request's first attempt.
    number: usize,
    /// When the request started (its duration in the log line).
    started: Instant,
    idle: Duration,
}

/// What an attempt sends, and through which client.
struct Prepared<'c> {
    call: UpstreamCall,
    client: client::UpstreamClient<'c>,
}

impl<'a> AttemptContext<'a> {
    fn new(
        relay: (&'a AppState, &'a UpstreamClients, ClientApi, &'a RelayRequest),
        account: Arc<Account>,
        number: usize,
        started: Instant,
    ) -> Self {
        let (state, clients, api, req) = relay;
        AttemptContext {
            state,
            clients,
            api,
            req,
            kind: registry::kind(account.kind),
            account,
            number,
            started,
            idle: Duration::from_millis(state.settings.relay.idle_timeout_ms),
        }
    }

    fn model(&self) -> &str {
        &self.req.inbound.model
    }

    /// Tells the pool how the account fared.
    async fn mark(&self, outcome: Outcome) {
        let msg = MarkOutcome {
            account: self.account.id.clone(),
            outcome,
            model: Some(self.model().to_owned()),
        };
        report_outcome(&self.state.scheduling, &self.state.metrics, msg).await;
    }

    /// A misconfigured account (no project id, a proxy that cannot be built) would take one of
    /// every request's attempts: rest it and say why in the log.
    async fn misconfigured(&self, why: String) -> Failure {
        tracing::error!(account = %self.account.id, error = %why, "account cannot be used as configured");
        self.mark(Outcome::Misconfigured).await;
        Failure::Unusable(why)
    }

    /// The account's secret: its API key, or its current OAuth access token.
    async fn secret(&self) -> Result<String, Failure> {
        let endpoint = self.req.token_endpoint.as_ref();
        match &self.account.credentials {
            Credentials::ApiKey { key } => Ok(key.expose().to_owned()),
            Credentials::OAuth(_) => {
                let Some(endpoint) = endpoint else {
                    return Err(self
                        .misconfigured("this platform has no token endpoint".into())
                        .await);
                };
                match self.state.oauth.access_token(&self.account, endpoint).await {
                    Ok(token) => Ok(token.expose().to_owned()),
                    Err(e) => {
                        // A token endpoint that cannot be reached says nothing about the grant.
                        let outcome = match e {
                            crate::oauth::RefreshError::Unreachable(_) => Outcome::ConnectError,
                            _ => Outcome::CredentialRejected,
                        };
                        self.mark(outcome).await;
                        Err(Failure::Unusable(e.to_string()))
                    }
                }
            }
            Credentials::None => Err(self.misconfigured("the account has no credentials".into()).await),
        }
    }

    /// Credential → the kind's request → the account's client.
    async fn prepare(&self) -> Result<Prepared<'a>, Failure> {
        let secret = self.secret().await?;
        let settings = &self.state.settings.upstream;
        let call = match self
            .kind
            .upstream_call(settings, &self.account, &secret, &self.req.inbound)
        {
            Ok(call) => call,
            Err(BuildError::ClientInput(why)) => return Err(Failure::ClientInput(why)),
            Err(BuildError::Unfit(why)) => return Err(Failure::Unfit(why)),
            Err(BuildError::Misconfigured(why)) => return Err(self.misconfigured(why).await),
        };
        match self.clients.for_proxy(self.account.proxy.as_deref()) {
            Ok(client) => Ok(Prepared { call, client }),
            Err(e) => Err(self.misconfigured(e.to_string()).await),
        }
    }

    /// A real user turn on a paced account waits here for the account's gate, keeping the
    /// account's slot (its lease) meanwhile: the request is committed to this account, as in
    /// the reference, and the slot counts it so the pool does not overfill the account.
    async fn pacing_turn(&self) -> Result<Option<pacing::Turn>, Failure> {
        let state = self.state;
        let Some(rules) = pacing::Rules::for_account(&self.account, &state.settings.pacing)
            .filter(|_| self.req.inbound.user_turn)
        else {
            return Ok(None);
        };
        let take = state.pacing.take(state, &self.account.id, rules);
        tokio::select! {
            taken = take => taken.map(Some).map_err(|pacing::TimedOut| Failure::Paced),
            () = self.req.client_gone.wait() => Err(Failure::ClientGone),
        }
    }

    /// Sends the request; a failure rests the account where it is the account's (or its
    /// upstream's) doing.
    async fn send(&self, prepared: Prepared<'_>) -> Result<UpstreamResponse, Failure> {
        let Prepared { call, client } = prepared;
        let send = client.post(&call.url, call.headers, call.body);
        match tokio::time::timeout(self.idle, send).await {
            Err(_) => {
                self.mark(Outcome::Timeout).await;
                Err(Failure::Timeout)
            }
            Ok(Err(e)) => {
                if let Some(outcome) = e.account_outcome() {
                    self.mark(outcome).await;
                }
                Err(match e {
                    SendError::Timeout => Failure::Timeout,
                    SendError::Unreachable(why) | SendError::StaleConnection(why) => {
                        Failure::Unreachable(why)
                    }
                    SendError::Local(shortage) => {
                        local_fault::report(shortage, &self.state.metrics);
                        Failure::Local(shortage)
                    }
                })
            }
            Ok(Ok(resp)) => Ok(resp),
        }
    }

    /// An error status the kind says is the account's: rest it, keep the answer for the client
    /// in case no other account serves.
    async fn refused(
        &self,
        status: StatusCode,
        headers: reqwest::header::HeaderMap,
        resp: UpstreamResponse,
    ) -> Result<(reqwest::header::HeaderMap, UpstreamResponse), Failure> {
        if status.is_success() {
            return Ok((headers, resp));
        }
        let now = self.state.clock.now_ms();
        let ErrorVerdict::TryAnotherAccount(hints) =
            self.kind.on_error_status(status.as_u16(), &headers, now)
        else {
            return Ok((headers, resp));
        };
        let limit = self.state.settings.relay.error_body_limit_kb * 1024;
        let body = read_limited(resp, limit, self.idle).await.unwrap_or_default();
        let (status, headers, body) = match self.kind.restate_error(status.as_u16(), &headers, &body) {
            Some(restated) => restated_answer(restated, headers),
            None => (status, headers, body),
        };
        self.mark(Outcome::Status {
            status: status.as_u16(),
            retry_after_ms: hints.retry_after_ms,
            reset_at: hints.reset_at,
        })
        .await;
        Err(Failure::Http {
            status,
            headers,
            body,
        })
    }

    /// The guard that records the answer's usage and frees its slots on every path.
    fn finish(
        &self,
        lease: switchyard_actors::Lease,
        key_slot: Option<switchyard_actors::Lease>,
        status: StatusCode,
        event_stream: bool,
        sent_at: Instant,
    ) -> Finish {
        let state = self.state;
        Finish {
            lease: Some(lease),
            key_slot,
            key: self.req.key.clone(),
            window_start: self.req.window_start,
            tap: if status.is_success() {
                self.kind.usage_tap(event_stream)
            } else {
                Box::new(NoUsage)
            },
            usage: state.usage.clone(),
            scheduling: state.scheduling.clone(),
            clock: state.clock.clone(),
            account_id: self.account.id.clone(),
            platform: self.api.platform,
            model: self.model().to_owned(),
            status: status.as_u16(),
            attempts: self.number,
            started: self.started,
            upstream_sent: sent_at,
            request_id: self.req.request_id.clone(),
            metrics: state.metrics.clone(),
            drain: self
                .kind
                .bills_after_disconnect()
                .then(|| drain::Bounds::from_settings(&state.settings.relay))
                .flatten(),
            done: false,
        }
    }

    /// Streams the answer once its first bytes arrived: until then another account may still
    /// serve. A client that leaves meanwhile does not stop the answer's bill (drain::Guard).
    async fn stream(
        &self,
        resp: UpstreamResponse,
        finish: Finish,
        mut answer: AnswerHead,
        key_slot: &mut Option<switchyard_actors::Lease>,
    ) -> Attempt {
        let mut reading = drain::Guard::new(body_stream(resp), finish, self.idle);
        let first = tokio::time::timeout(self.idle, reading.next()).await;
        let Some((upstream, finish)) = reading.release() else {
            return Attempt::Failed(Failure::Unusable(HANDED_OVER.into()));
        };
        let first = match first {
            Err(_) => {
                self.mark(Outcome::Timeout).await;
                *key_slot = finish.discard();
                return Attempt::Failed(Failure::Timeout);
            }
            Ok(Some(Err(e))) => {
                self.mark(Outcome::ConnectError).await;
                *key_slot = finish.discard();
                return Attempt::Failed(Failure::Unreachable(Unreachable::new(&*e)));
            }
            Ok(None) => None,
            Ok(Some(Ok(b))) => Some(b),
        };
        let upstream = body::read_ahead(first, upstream).await;
        if answer.event_stream && answer.adapter.as_ref().and_then(|a| a.content_type()).is_none() {
            answer
                .builder
                .insert_header(("content-type", "text/event-stream"));
        }
        answer
            .builder
            .insert_header(("cache-control", "no-cache"))
            .insert_header(("x-accel-buffering", "no"));
        let body = RelayBody::new(upstream, self.idle, answer.adapter, finish);
        Attempt::Answered(answer.builder.streaming(body))
    }

    /// A JSON (or other) answer: read it whole (fed to the usage tap as it comes), then pass it
    /// on. A client that leaves meanwhile does not stop the answer's bill (drain::Guard).
    async fn whole(
        &self,
        resp: UpstreamResponse,
        finish: Finish,
        mut answer: AnswerHead,
        turn: Option<pacing::Turn>,
        key_slot: &mut Option<switchyard_actors::Lease>,
    ) -> Attempt {
        let mut reading = drain::Guard::new(body_stream(resp), finish, self.idle);
        let read = reading.read_to_end().await;
        drop(turn);
        let Some((_, mut finish)) = reading.release() else {
            return Attempt::Failed(Failure::Unusable(HANDED_OVER.into()));
        };
        match read {
            Ok(body) => {
                let restated = answer
                    .error_headers
                    .as_ref()
                    .and_then(|(status, headers)| self.kind.restate_error(status.as_u16(), headers, &body));
                let body = match (restated, answer.adapter.as_mut()) {
                    (Some(restated), _) => {
                        let (status, _, body) = restated_answer(restated, Default::default());
                        answer
                            .builder
                            .status(status)
                            .insert_header(("content-type", "application/json"));
                        body
                    }
                    (None, None) => body,
                    (None, Some(a)) => {
                        let mut out = BytesMut::new();
                        a.chunk(&body, &mut out);
                        a.finish(&mut out);
                        out.freeze()
                    }
                };
                // Read whole for a client that has left meanwhile: billed, and marked as such.
                let ending = if self.req.client_gone.has_gone() {
                    Ending::ClientGone
                } else {
                    Ending::Complete
                };
                finish.complete(ending);
                Attempt::Answered(answer.builder.body(body))
            }
            Err(ReadError::Timeout) => {
                self.mark(Outcome::Timeout).await;
                *key_slot = finish.discard();
                Attempt::Failed(Failure::Timeout)
            }
            Err(ReadError::Broken(m)) => {
                self.mark(Outcome::ConnectError).await;
                *key_slot = finish.discard();
                Attempt::Failed(Failure::Unreachable(m))
            }
        }
    }
}

/// The client's answer before its body: status and headers, and how the body is read.
struct AnswerHead {
    builder: actix_web::HttpResponseBuilder,
    adapter: Option<Box<dyn BodyAdapter>>,
    event_stream: bool,
    /// An error answer's status and headers, for the kind's `restate_error`.
    error_headers: Option<(StatusCode, reqwest::header::HeaderMap)>,
}

/// A restated error answer as the relay passes it on: JSON, with the restated status.
fn restated_answer(
    restated: crate::upstream::kind::RestatedError,
    mut headers: reqwest::header::HeaderMap,
) -> (StatusCode, reqwest::header::HeaderMap, Bytes) {
    headers.insert(
        reqwest::header::CONTENT_TYPE,
        reqwest::header::HeaderValue::from_static("application/json"),
    );
    let status = StatusCode::from_u16(restated.status).unwrap_or(StatusCode::BAD_GATEWAY);
    (status, headers, restated.body)
}

/// One attempt: prepare → pacing turn → send → the kind's verdict on an error → the answer,
/// streamed or read whole.
async fn attempt(
    cx: AttemptContext<'_>,
    lease: switchyard_actors::Lease,
    key_slot: &mut Option<switchyard_actors::Lease>,
) -> Attempt {
    let prepared = match cx.prepare().await {
        Ok(p) => p,
        Err(f) => return Attempt::Failed(f),
    };
    let metrics = &cx.state.metrics;
    let platform_label = cx.api.platform.as_str();
    metrics
        .added_seconds
        .with_label_values(&[platform_label])
        .observe(cx.req.received.elapsed().as_secs_f64());
    let turn = match cx.pacing_turn().await {
        Ok(t) => t,
        Err(f) => return Attempt::Failed(f),
    };
    let sent_at = Instant::now();
    let mut resp = match cx.send(prepared).await {
        Ok(r) => r,
        Err(f) => return Attempt::Failed(f),
    };
    metrics
        .upstream_ttfb_seconds
        .with_label_values(&[platform_label])
        .observe(sent_at.elapsed().as_secs_f64());
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    // The body is read through the response afterwards; its headers are not needed there.
    let headers = std::mem::take(resp.headers_mut());
    let (headers, resp) = match cx.refused(status, headers, resp).await {
        Ok(answer) => answer,
        Err(f) => return Attempt::Failed(f),
    };
    if status.is_success() {
        clear_expired_health(cx.state, &cx.account, cx.model());
    }

    let event_stream = cx.kind.is_event_stream(&headers);
    // Streams (SSE, or a JSON array streamed by Gemini) pass through as they arrive.
    let streaming = status.is_success() && (event_stream || cx.req.inbound.stream);
    let adapter = match (&cx.req.front, status.is_success()) {
        (None, true) => cx.kind.adapter(&cx.account, &cx.req.inbound),
        (None, false) => None,
        (Some(f), true) => Some(front::compose(
            cx.kind.adapter(&cx.account, &cx.req.inbound),
            f.answer(cx.req.inbound.stream),
        )),
        (Some(f), false) => Some(front::error_adapter(f.clone(), status)),
    };
    let finish = cx.finish(lease, key_slot.take(), status, event_stream, sent_at);
    let mut builder = HttpResponse::build(status);
    for (n, v) in headers::client_visible(&headers) {
        builder.append_header((n, v));
    }
    if let Some(ct) = adapter.as_ref().and_then(|a| a.content_type()) {
        builder.insert_header(("content-type", ct));
    }
    let answer = AnswerHead {
        builder,
        adapter,
        event_stream,
        error_headers: (!status.is_success()).then(|| (status, headers.clone())),
    };
    if streaming {
        // A stream's turn ends when its headers arrive; a whole answer's when it is read.
        drop(turn);
        cx.stream(resp, finish, answer, key_slot).await
    } else {
        cx.whole(resp, finish, answer, turn, key_slot).await
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
