//! What can go wrong converting between Anthropic Messages and another API, and how the
//! client sees it: Anthropic's own error body.
use crate::error::{ApiError, ApiFormat, error_body};
use actix_web::http::StatusCode;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// The client's request is malformed at `field`, or the target cannot express it.
    #[error("{field}: {reason}")]
    Request { field: String, reason: String },
    /// The upstream's answer is not what its API documents (its fault, not the client's).
    #[error("the upstream answer could not be converted: {0}")]
    Answer(String),
}

impl ConvertError {
    pub fn request(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ConvertError::Request {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The Anthropic error body a client gets for this error.
    pub fn anthropic_body(&self) -> Value {
        let (status, code) = match self {
            ConvertError::Request { .. } => (StatusCode::BAD_REQUEST, "invalid_request"),
            ConvertError::Answer(_) => (StatusCode::BAD_GATEWAY, "upstream_answer_unreadable"),
        };
        error_body(ApiFormat::Anthropic, status, &self.to_string(), code, Value::Null)
    }
}

/// A bad request is the client's (400 `invalid_request_error`); an unreadable answer is
/// reported as ours, since the status line has not been sent when a JSON answer is converted.
impl From<ConvertError> for ApiError {
    fn from(e: ConvertError) -> Self {
        match e {
            ConvertError::Request { .. } => ApiError::BadRequest(e.to_string()),
            ConvertError::Answer(_) => ApiError::Internal(e.to_string()),
        }
    }
}
