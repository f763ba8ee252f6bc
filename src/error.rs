//! One error type for what a client can get back from switchyard itself (upstream answers are
//! passed through, not wrapped), rendered in one place in the API's own error format.
use crate::keys::ClientKind;
use crate::limits::Refusal;
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderValue, RETRY_AFTER};
use actix_web::{HttpResponse, ResponseError};
use serde_json::{Value, json};
use std::fmt;
use switchyard_actors::clock::Millis;
use switchyard_actors::scheduler::SelectError;
use switchyard_actors::{Clock, NoAccount, Platform, StoreError, SystemClock, WaitRefusal};

/// `retry-after` of an overload answer (a slot wait that timed out, a full slot queue).
const OVERLOADED_RETRY_AFTER_SECS: u64 = 5;

/// Which wire format an error body takes: each route family answers like the API it fronts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiFormat {
    Anthropic,
    OpenAi,
    Gemini,
    Admin,
}

/// Whose fault an error is (for logs and metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Client,
    Upstream,
    Ours,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("Missing API key: provide it in the x-api-key, x-goog-api-key, or Authorization header")]
    MissingKey,
    #[error("Invalid API key format")]
    InvalidKeyFormat,
    #[error("Invalid API key: {0}")]
    InvalidKey(&'static str),
    #[error("This API key does not have permission to access {0}")]
    NoPermission(Platform),
    #[error("Your client is not authorized to use this API key")]
    ClientNotAllowed {
        allowed: Vec<ClientKind>,
        user_agent: String,
    },
    #[error("This API key may not use the model `{0}`")]
    ModelNotAllowed(String),
    #[error("Too many concurrent requests. Limit: {limit} concurrent requests")]
    ConcurrencyLimit { limit: u32 },
    #[error("The concurrency queue of this API key is full")]
    QueueFull { limit: u32, retry_after_secs: u64 },
    #[error("Timed out waiting for a free concurrency slot of this API key")]
    QueueTimeout { limit: u32, retry_after_secs: u64 },
    #[error("{}", limit_message(refusal))]
    LimitReached {
        refusal: Refusal,
        reset_at: Option<Millis>,
    },
    #[error("{0}")]
    BadRequest(String),
    /// A request field the serving account's API cannot express; `param` names it.
    #[error("{message}")]
    Unconvertible {
        param: String,
        code: &'static str,
        message: String,
    },
    #[error("Request body size exceeds the limit of {limit_mb} MB")]
    PayloadTooLarge { limit_mb: usize },
    #[error("The request body did not arrive in time ({received} bytes received)")]
    BodyTimeout { received: usize },
    #[error(
        "This API key has too many request bytes in flight (at most {limit_mb} MB); retry when its earlier requests have finished"
    )]
    KeyBodyMemoryFull { limit_mb: usize },
    #[error("The server is holding too many request bodies; retry shortly")]
    BodyMemoryFull,
    /// The client left before the request was sent upstream (logged, never answered).
    #[error("The client closed the request")]
    ClientGone,
    #[error("Route {method} {path} not found")]
    RouteNotFound { method: String, path: String },
    /// A known route asked with a method it does not answer; `allowed` is the `Allow` value.
    #[error("Method {method} is not allowed on {path}; allowed: {allowed}")]
    MethodNotAllowed {
        method: String,
        path: String,
        allowed: String,
    },
    #[error("{0} not found")]
    NotFound(String),
    #[error("No account is available: {0}")]
    NoAccount(#[from] NoAccount),
    #[error("Scheduling is temporarily unavailable: {0}")]
    Scheduling(SelectError),
    /// Every eligible account stayed at its concurrency limit for `scheduler.slot_wait_ms`, or
    /// `scheduler.max_waiters` requests already waited: the API's own overload answer.
    #[error("Every upstream account is busy ({}); retry shortly", .0.as_str())]
    Overloaded(WaitRefusal),
    /// A real user turn waited `pacing.wait_ms` for its paced account's gate: the API's own
    /// overload answer, like a busy pool.
    #[error("This account is pacing user turns and stayed busy; retry shortly")]
    PacingTimeout,
    #[error("The state store is unavailable")]
    Store(#[from] StoreError),
    #[error("Upstream could not be reached: {0}")]
    UpstreamUnreachable(String),
    #[error("Upstream did not answer in time")]
    UpstreamTimeout,
    /// Switchyard ran out of its own resources (`kind`: file descriptors, memory, local ports).
    #[error("The server is overloaded; retry shortly")]
    LocalResources { kind: &'static str },
    #[error("Admin authentication required: send Authorization: Bearer <admin token>")]
    AdminUnauthorized,
    #[error("This route requires the operations token: send Authorization: Bearer <operations.token>")]
    OperationsUnauthorized,
    #[error("Too many failed authentications from this address; try again later")]
    TooManyFailedAuths { retry_after_secs: u64 },
    #[error("{0}")]
    Internal(String),
}

impl From<SelectError> for ApiError {
    fn from(e: SelectError) -> Self {
        match e {
            SelectError::NoAccount(n) => ApiError::NoAccount(n),
            SelectError::Store(s) => ApiError::Store(s),
            SelectError::Busy { refusal } => ApiError::Overloaded(refusal),
            other => ApiError::Scheduling(other),
        }
    }
}

/// A bad backup file or target key is the operator's to fix (400, nothing was written); a
/// store failure is the store's.
impl From<crate::backup::BackupError> for ApiError {
    fn from(e: crate::backup::BackupError) -> Self {
        match e {
            crate::backup::BackupError::Store(s) => ApiError::Store(s),
            other => ApiError::BadRequest(other.to_string()),
        }
    }
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::MissingKey | ApiError::InvalidKeyFormat | ApiError::InvalidKey(_) => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::AdminUnauthorized | ApiError::OperationsUnauthorized => StatusCode::UNAUTHORIZED,
            ApiError::NoPermission(_) | ApiError::ClientNotAllowed { .. } | ApiError::ModelNotAllowed(_) => {
                StatusCode::FORBIDDEN
            }
            ApiError::ConcurrencyLimit { .. }
            | ApiError::QueueFull { .. }
            | ApiError::QueueTimeout { .. }
            | ApiError::TooManyFailedAuths { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::LimitReached { refusal, .. } => match refusal {
                Refusal::Requests { .. } | Refusal::Tokens { .. } | Refusal::WindowCost { .. } => {
                    StatusCode::TOO_MANY_REQUESTS
                }
                _ => StatusCode::PAYMENT_REQUIRED,
            },
            ApiError::BadRequest(_) | ApiError::Unconvertible { .. } => StatusCode::BAD_REQUEST,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            ApiError::KeyBodyMemoryFull { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::BodyMemoryFull => StatusCode::SERVICE_UNAVAILABLE,
            // nginx's "client closed request": nobody reads it, the log line shows it.
            ApiError::ClientGone => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
            ApiError::RouteNotFound { .. } | ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::NoAccount(_)
            | ApiError::Scheduling(_)
            | ApiError::Store(_)
            | ApiError::Overloaded(_)
            | ApiError::PacingTimeout => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::UpstreamUnreachable(_) => StatusCode::BAD_GATEWAY,
            ApiError::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            ApiError::LocalResources { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn fault(&self) -> Fault {
        match self {
            ApiError::NoAccount(_)
            | ApiError::Overloaded(_)
            | ApiError::PacingTimeout
            | ApiError::UpstreamUnreachable(_)
            | ApiError::UpstreamTimeout => Fault::Upstream,
            ApiError::Scheduling(_)
            | ApiError::Store(_)
            | ApiError::Internal(_)
            | ApiError::LocalResources { .. } => Fault::Ours,
            _ => Fault::Client,
        }
    }

    /// Stable machine-readable code, for bodies, logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::MissingKey => "missing_api_key",
            ApiError::InvalidKeyFormat => "invalid_api_key_format",
            ApiError::InvalidKey(_) => "invalid_api_key",
            ApiError::NoPermission(_) => "permission_denied",
            ApiError::ClientNotAllowed { .. } => "client_not_allowed",
            ApiError::ModelNotAllowed(_) => "model_not_allowed",
            ApiError::ConcurrencyLimit { .. } => "concurrency_limit_exceeded",
            ApiError::QueueFull { .. } => "concurrency_queue_full",
            ApiError::QueueTimeout { .. } => "concurrency_queue_timeout",
            ApiError::LimitReached { refusal, .. } => match refusal {
                Refusal::Requests { .. } | Refusal::Tokens { .. } | Refusal::WindowCost { .. } => {
                    "rate_limit_exceeded"
                }
                Refusal::Daily { .. } => "daily_cost_limit_exceeded",
                Refusal::Total { .. } => "total_cost_limit_exceeded",
                Refusal::Weekly { .. } => "weekly_cost_limit_exceeded",
            },
            ApiError::BadRequest(_) => "invalid_request",
            ApiError::Unconvertible { code, .. } => code,
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::BodyTimeout { .. } => "request_body_timeout",
            ApiError::KeyBodyMemoryFull { .. } => "key_body_memory_full",
            ApiError::BodyMemoryFull => "body_memory_full",
            ApiError::ClientGone => "client_closed_request",
            ApiError::RouteNotFound { .. } | ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::NoAccount(n) => n.code(),
            ApiError::Scheduling(_) => "scheduler_unavailable",
            ApiError::Overloaded(WaitRefusal::Timeout) => "slot_wait_timeout",
            ApiError::Overloaded(WaitRefusal::QueueFull) => "slot_queue_full",
            ApiError::PacingTimeout => "pacing_wait_timeout",
            ApiError::Store(_) => "store_unavailable",
            ApiError::UpstreamUnreachable(_) => "upstream_unreachable",
            ApiError::UpstreamTimeout => "upstream_timeout",
            ApiError::LocalResources { .. } => "overloaded",
            ApiError::AdminUnauthorized => "admin_unauthorized",
            ApiError::TooManyFailedAuths { .. } => "too_many_failed_authentications",
            ApiError::OperationsUnauthorized => "operations_unauthorized",
            ApiError::Internal(_) => "internal_error",
        }
    }

    /// Seconds the client should wait, when we know.
    fn retry_after_secs(&self) -> Option<u64> {
        match self {
            ApiError::NoAccount(NoAccount::AllFull) => Some(1),
            // Nothing says when a slot frees; a few seconds spreads the clients' retries.
            ApiError::Overloaded(_) | ApiError::PacingTimeout => Some(OVERLOADED_RETRY_AFTER_SECS),
            ApiError::NoAccount(n) => {
                let now = SystemClock.now_ms();
                n.retry_at()
                    .map(|at| ((at - now).max(0) as u64).div_ceil(1_000).max(1))
            }
            ApiError::Scheduling(_)
            | ApiError::Store(_)
            | ApiError::ConcurrencyLimit { .. }
            | ApiError::KeyBodyMemoryFull { .. }
            | ApiError::BodyMemoryFull
            | ApiError::LocalResources { .. } => Some(1),
            ApiError::QueueFull { retry_after_secs, .. }
            | ApiError::QueueTimeout { retry_after_secs, .. }
            | ApiError::TooManyFailedAuths { retry_after_secs } => Some(*retry_after_secs),
            ApiError::LimitReached {
                reset_at: Some(at), ..
            } => {
                let now = SystemClock.now_ms();
                Some(((at - now).max(0) as u64).div_ceil(1_000).max(1))
            }
            _ => None,
        }
    }

    /// The error `type` when it is more specific than the status's default.
    fn type_override(&self) -> Option<&'static str> {
        match self {
            ApiError::LimitReached {
                refusal: Refusal::Daily { .. } | Refusal::Total { .. } | Refusal::Weekly { .. },
                ..
            } => Some("insufficient_quota"),
            ApiError::ModelNotAllowed(_) => Some("forbidden"),
            ApiError::ClientNotAllowed { .. } => Some("client_not_allowed"),
            _ => None,
        }
    }

    /// Extra top-level fields of the error body (the original's contract for limits).
    fn extra(&self) -> Value {
        let iso = |ms: Millis| {
            let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
            humantime::format_rfc3339_seconds(t).to_string()
        };
        match self {
            ApiError::NoAccount(_) | ApiError::Overloaded(_) => json!({ "reason": self.code() }),
            ApiError::ClientNotAllowed { allowed, user_agent } => json!({
                "allowedClients": allowed.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
                "userAgent": user_agent,
            }),
            ApiError::ConcurrencyLimit { limit } => json!({ "concurrencyLimit": limit }),
            ApiError::QueueFull { limit, .. } | ApiError::QueueTimeout { limit, .. } => {
                json!({ "concurrencyLimit": limit })
            }
            ApiError::LimitReached { refusal, reset_at } => {
                let reset = reset_at.map(iso);
                let minutes = reset_at.map(|at| ((at - SystemClock.now_ms()).max(0) as u64).div_ceil(60_000));
                match refusal {
                    Refusal::Requests { current, limit, .. } => json!({
                        "currentRequests": current, "requestLimit": limit, "resetAt": reset, "remainingMinutes": minutes,
                    }),
                    Refusal::Tokens { current, limit, .. } => json!({
                        "currentTokens": current, "tokenLimit": limit, "resetAt": reset, "remainingMinutes": minutes,
                    }),
                    Refusal::WindowCost { current, limit, .. } => json!({
                        "currentCost": current.usd_string(), "costLimit": limit.usd_string(),
                        "resetAt": reset, "remainingMinutes": minutes,
                    }),
                    Refusal::Daily { current, limit }
                    | Refusal::Total { current, limit }
                    | Refusal::Weekly { current, limit } => {
                        json!({ "currentCost": current.usd_string(), "costLimit": limit.usd_string(), "resetAt": reset })
                    }
                }
            }
            _ => json!({}),
        }
    }

    /// The message shown to clients: never a secret, never internals beyond a reason.
    pub(crate) fn public_message(&self) -> String {
        match self {
            ApiError::Store(_) => "The state store is unavailable; try again shortly".into(),
            other => other.to_string(),
        }
    }

    pub fn in_format(self, format: ApiFormat) -> ApiFailure {
        ApiFailure { format, error: self }
    }
}

pub fn anthropic_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 405 | 408 | 422 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        504 => "timeout_error",
        _ => "api_error",
    }
}

fn openai_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 404 | 405 | 408 | 413 | 422 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        429 => "rate_limit_error",
        _ => "server_error",
    }
}

/// Google RPC status names used in Gemini error bodies.
pub fn gemini_status(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 405 | 413 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        408 => "DEADLINE_EXCEEDED",
        429 => "RESOURCE_EXHAUSTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    }
}

/// Builds an error body in `format` for `status` and `message`, with extra top-level fields.
pub fn error_body(format: ApiFormat, status: StatusCode, message: &str, code: &str, extra: Value) -> Value {
    typed_error_body(format, status, None, message, code, extra)
}

fn typed_error_body(
    format: ApiFormat,
    status: StatusCode,
    kind: Option<&str>,
    message: &str,
    code: &str,
    extra: Value,
) -> Value {
    let mut body = match format {
        ApiFormat::Anthropic => json!({
            "type": "error",
            "error": { "type": kind.unwrap_or(anthropic_type(status)), "message": message, "code": code },
        }),
        ApiFormat::OpenAi => json!({
            "error": { "message": message, "type": kind.unwrap_or(openai_type(status)), "code": code, "param": null },
        }),
        ApiFormat::Gemini => json!({
            "error": { "code": status.as_u16(), "message": message, "status": gemini_status(status) },
        }),
        ApiFormat::Admin => json!({ "error": { "type": code, "message": message } }),
    };
    if let (Some(obj), Value::Object(extra)) = (body.as_object_mut(), extra) {
        obj.extend(extra);
    }
    body
}

/// An [`ApiError`] on its way to a client of one API family.
#[derive(Debug)]
pub struct ApiFailure {
    pub format: ApiFormat,
    pub error: ApiError,
}

impl fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl ResponseError for ApiFailure {
    fn status_code(&self) -> StatusCode {
        // Spending limits: Anthropic-style clients (and the original) expect 402; OpenAI and
        // Gemini signal an exhausted quota with 429.
        match (&self.error, self.format) {
            (ApiError::LimitReached { .. }, ApiFormat::OpenAi | ApiFormat::Gemini)
                if self.error.status() == StatusCode::PAYMENT_REQUIRED =>
            {
                StatusCode::TOO_MANY_REQUESTS
            }
            // Anthropic's own overload answer is 529 `overloaded_error`, which its clients retry.
            (
                ApiError::Overloaded(_) | ApiError::PacingTimeout | ApiError::LocalResources { .. },
                ApiFormat::Anthropic,
            ) => StatusCode::from_u16(529).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
            _ => self.error.status(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let code = self.error.code();
        let mut body = typed_error_body(
            self.format,
            status,
            self.error.type_override(),
            &self.error.public_message(),
            code,
            self.error.extra(),
        );
        // OpenAI names the refused field in `param`.
        if let (ApiError::Unconvertible { param, .. }, ApiFormat::OpenAi) = (&self.error, self.format) {
            body["error"]["param"] = Value::String(param.clone());
        }
        // A resource shortage hits every request at once: it is logged once per interval where
        // it is found (relay::local_fault), not here.
        if self.error.fault() == Fault::Ours && !matches!(self.error, ApiError::LocalResources { .. }) {
            tracing::error!(error = %self.error, code, "request failed on our side");
        }
        let mut resp = HttpResponse::build(status);
        if let Some(secs) = self.error.retry_after_secs()
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            resp.insert_header((RETRY_AFTER, v));
        }
        if let ApiError::MethodNotAllowed { allowed, .. } = &self.error
            && let Ok(v) = HeaderValue::from_str(allowed)
        {
            resp.insert_header((actix_web::http::header::ALLOW, v));
        }
        resp.json(body)
    }
}

pub type ApiResult<T> = Result<T, ApiFailure>;

fn limit_message(r: &Refusal) -> String {
    match r {
        Refusal::Requests { limit, .. } => format!("Rate limit exceeded: {limit} requests per window"),
        Refusal::Tokens { limit, .. } => format!("Rate limit exceeded: {limit} tokens per window"),
        Refusal::WindowCost { limit, .. } => format!("Rate limit exceeded: {limit} per window"),
        Refusal::Daily { limit, .. } => format!("Daily cost limit reached ({limit})"),
        Refusal::Total { limit, .. } => format!("Total cost limit reached ({limit})"),
        Refusal::Weekly { limit, .. } => format!("Weekly cost limit reached ({limit})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overload_is_each_apis_own_answer_with_retry_after() {
        let answer = |format| {
            let resp = ApiError::Overloaded(WaitRefusal::Timeout)
                .in_format(format)
                .error_response();
            (resp.status().as_u16(), resp.headers().contains_key(RETRY_AFTER))
        };
        assert_eq!(answer(ApiFormat::Anthropic), (529, true));
        assert_eq!(answer(ApiFormat::OpenAi), (503, true));
        assert_eq!(answer(ApiFormat::Gemini), (503, true));
    }

    #[test]
    fn each_format_has_its_own_shape() {
        let s = StatusCode::UNAUTHORIZED;
        let a = error_body(ApiFormat::Anthropic, s, "m", "c", json!({}));
        assert_eq!(a["type"], "error");
        assert_eq!(a["error"]["type"], "authentication_error");
        let o = error_body(ApiFormat::OpenAi, s, "m", "c", json!({}));
        assert_eq!(o["error"]["code"], "c");
        let g = error_body(ApiFormat::Gemini, s, "m", "c", json!({}));
        assert_eq!(g["error"]["status"], "UNAUTHENTICATED");
        assert_eq!(g["error"]["code"], 401);
    }

    #[actix_web::test]
    async fn a_local_shortage_is_each_api_s_overload_with_retry_after() {
        for (format, status, kind) in [
            (ApiFormat::Anthropic, 529, "overloaded_error"),
            (ApiFormat::OpenAi, 503, "server_error"),
            (ApiFormat::Gemini, 503, "UNAVAILABLE"),
        ] {
            let resp = ApiError::LocalResources {
                kind: "file_descriptors",
            }
            .in_format(format)
            .error_response();
            assert_eq!(resp.status().as_u16(), status, "{format:?}");
            assert_eq!(resp.headers().get(RETRY_AFTER).unwrap(), "1", "{format:?}");
            let body = actix_web::body::to_bytes(resp.into_body()).await.unwrap();
            let body: Value = serde_json::from_slice(&body).unwrap();
            let shown = match format {
                ApiFormat::Gemini => &body["error"]["status"],
                _ => &body["error"]["type"],
            };
            assert_eq!(shown, kind, "{format:?}");
        }
    }
}
