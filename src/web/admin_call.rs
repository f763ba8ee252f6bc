//! The dashboard acts through the admin API's own handlers, called in-process (no HTTP): one
//! set of validations and side effects (scheduler reloads, key-cache invalidation) for both.
use crate::error::{ApiFailure, ApiResult};
use actix_web::HttpResponse;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// What an admin call refused, in words for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

impl From<ApiFailure> for Refused {
    fn from(f: ApiFailure) -> Self {
        Refused(f.error.public_message())
    }
}

/// A body for an admin handler from the fields a form gave (the handler's own type, so unknown
/// or malformed fields are refused as the API refuses them).
pub fn body<T: DeserializeOwned>(fields: Value) -> Result<T, Refused> {
    serde_json::from_value(fields).map_err(|e| Refused(e.to_string()))
}

/// The JSON answer of an admin handler (`null` for 204), or why it refused.
pub async fn answer(result: ApiResult<HttpResponse>) -> Result<Value, Refused> {
    let response = result?;
    let bytes = actix_web::body::to_bytes(response.into_body())
        .await
        .map_err(|e| Refused(format!("reading the answer: {e}")))?;
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&bytes).map_err(|e| Refused(format!("reading the answer: {e}")))
}
