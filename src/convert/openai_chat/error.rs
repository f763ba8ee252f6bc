//! Why a chat completions request cannot be converted: the field (`param`) and the reason, in
//! OpenAI's error format (400 `invalid_request_error`).
use crate::error::ApiError;
use serde_json::{Value, json};

/// OpenAI's own codes for a refused parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The field exists in OpenAI's API but the serving account has no equivalent.
    UnsupportedParameter,
    /// The field is known, this value of it cannot be served.
    UnsupportedValue,
    /// The value is malformed (wrong type, bad JSON, unknown reference).
    InvalidValue,
    /// A required field is absent.
    MissingRequired,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::UnsupportedParameter => "unsupported_parameter",
            ErrorCode::UnsupportedValue => "unsupported_value",
            ErrorCode::InvalidValue => "invalid_value",
            ErrorCode::MissingRequired => "missing_required_parameter",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConvertError {
    /// The offending field as a path into the request, e.g. `messages[2].content[0].image_url`.
    pub param: String,
    pub code: ErrorCode,
    pub message: String,
}

impl ConvertError {
    pub fn new(code: ErrorCode, param: impl Into<String>, message: impl Into<String>) -> Self {
        ConvertError {
            param: param.into(),
            code,
            message: message.into(),
        }
    }

    pub fn unsupported(param: impl Into<String>, target: &str) -> Self {
        let param = param.into();
        let message = format!("`{param}` cannot be converted for a {target} account");
        Self::new(ErrorCode::UnsupportedParameter, param, message)
    }

    pub fn invalid(param: impl Into<String>, why: impl std::fmt::Display) -> Self {
        let param = param.into();
        let message = format!("Invalid `{param}`: {why}");
        Self::new(ErrorCode::InvalidValue, param, message)
    }

    pub fn missing(param: impl Into<String>) -> Self {
        let param = param.into();
        let message = format!("Missing required parameter: `{param}`");
        Self::new(ErrorCode::MissingRequired, param, message)
    }

    /// OpenAI's error body for this refusal (status 400).
    pub fn openai_body(&self) -> Value {
        json!({ "error": {
            "message": self.message,
            "type": "invalid_request_error",
            "param": self.param,
            "code": self.code.as_str(),
        }})
    }
}

impl From<ConvertError> for ApiError {
    fn from(e: ConvertError) -> Self {
        ApiError::Unconvertible {
            param: e.param,
            code: e.code.as_str(),
            message: e.message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ApiFormat;
    use actix_web::ResponseError;

    #[actix_web::test]
    async fn a_refusal_is_an_openai_400_naming_the_param() {
        let e = ConvertError::new(
            ErrorCode::UnsupportedValue,
            "n",
            "`n` greater than 1 is not supported",
        );
        assert_eq!(e.openai_body()["error"]["param"], "n");
        let resp = ApiError::from(e).in_format(ApiFormat::OpenAi).error_response();
        assert_eq!(resp.status().as_u16(), 400);
        let body = actix_web::body::to_bytes(resp.into_body()).await.unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            body,
            json!({"error": {"message": "`n` greater than 1 is not supported", "type": "invalid_request_error",
                "param": "n", "code": "unsupported_value"}})
        );
    }
}
