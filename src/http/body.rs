//! Reads a request body with the configured size limit, so an oversized body becomes a 413 in
//! the API's own error format (and a `Content-Length` over the limit is refused unread).
use crate::error::ApiError;
use actix_web::HttpRequest;
use actix_web::web::Payload;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;

/// Refuses a declared `Content-Length` over the limit before anything is read.
pub fn check_declared_length(req: &HttpRequest, limit_mb: usize) -> Result<(), ApiError> {
    let declared = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    match declared {
        Some(n) if n > limit_mb.saturating_mul(1 << 20) => Err(ApiError::PayloadTooLarge { limit_mb }),
        _ => Ok(()),
    }
}

pub async fn read_body(mut payload: Payload, limit_mb: usize) -> Result<Bytes, ApiError> {
    let limit = limit_mb.saturating_mul(1 << 20);
    let mut buf = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::BadRequest(format!("reading the request body failed: {e}")))?;
        if buf.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit_mb });
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}
