//! Reads a request body within the route's size limit, its time bounds and the body-memory
//! claim of its request, so an oversized body becomes a 413, a slow one a 408, and one that
//! would pass a memory bound a 429 / 503 — each in the API's own error format, and a declared
//! `Content-Length` over a bound refused before anything is read.
use super::body_memory::HeldBytes;
use crate::error::ApiError;
use crate::settings::ServerSettings;
use actix_web::HttpRequest;
use actix_web::web::Payload;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use std::time::Duration;
use tokio::time::Instant;

/// Names of the relayed routes, for per-route body limits (`server.body_limits_mb`).
pub const ROUTES: [&str; 6] = [
    "claude_messages",
    "claude_count_tokens",
    "gemini_generate",
    "gemini_internal",
    "openai_responses",
    "openai_chat",
];

/// How one route reads its bodies.
#[derive(Debug, Clone, Copy)]
pub struct BodyRules {
    pub limit_mb: usize,
    pub read_timeout: Duration,
    pub idle_timeout: Duration,
}

impl BodyRules {
    pub fn for_route(settings: &ServerSettings, route: &str) -> Self {
        BodyRules {
            limit_mb: settings
                .body_limits_mb
                .get(route)
                .copied()
                .unwrap_or(settings.body_limit_mb),
            read_timeout: Duration::from_millis(settings.body_read_timeout_ms),
            idle_timeout: Duration::from_millis(settings.body_idle_timeout_ms),
        }
    }

    pub fn limit_bytes(&self) -> usize {
        self.limit_mb.saturating_mul(1 << 20)
    }
}

/// The `Content-Length` the client declared, refused when over the route's limit.
pub fn declared_length(req: &HttpRequest, rules: &BodyRules) -> Result<Option<usize>, ApiError> {
    let declared = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    match declared {
        Some(n) if n > rules.limit_bytes() => Err(ApiError::PayloadTooLarge {
            limit_mb: rules.limit_mb,
        }),
        other => Ok(other),
    }
}

/// Reads the whole body. `held` claims its bytes before they are buffered: the declared length
/// at once, anything past it chunk by chunk.
pub async fn read_body(
    mut payload: Payload,
    rules: &BodyRules,
    declared: Option<usize>,
    held: &mut HeldBytes,
) -> Result<Bytes, ApiError> {
    let limit = rules.limit_bytes();
    let expected = declared.unwrap_or(0);
    held.grow_to(expected)?;
    let mut buf = BytesMut::with_capacity(expected);
    let deadline = Instant::now() + rules.read_timeout;
    loop {
        let wait_until = deadline.min(Instant::now() + rules.idle_timeout);
        let chunk = match tokio::time::timeout_at(wait_until, payload.next()).await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(_) => {
                return Err(ApiError::BodyTimeout { received: buf.len() });
            }
        };
        let chunk =
            chunk.map_err(|e| ApiError::BadRequest(format!("reading the request body failed: {e}")))?;
        let size = buf.len() + chunk.len();
        if size > limit {
            return Err(ApiError::PayloadTooLarge {
                limit_mb: rules.limit_mb,
            });
        }
        held.grow_to(size)?;
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}
