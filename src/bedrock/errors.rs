//! What a Bedrock error means for the pool and for the client: Bedrock names errors by type
//! (`x-amzn-ErrorType` header, `__type` in the body, or a stream's `:exception-type`), not by
//! Anthropic's error JSON, so each type is classified here and given an Anthropic error body.

use reqwest::header::HeaderMap;
use serde_json::Value;

/// What a failed Bedrock call means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// `ThrottlingException`: the account's request rate; like Anthropic's 429.
    RateLimited,
    /// `ServiceQuotaExceededException`: the account's quota (tokens per minute / day).
    UsageLimit,
    /// `ModelNotReadyException`, `ServiceUnavailableException`: like Anthropic's 529.
    Overloaded,
    /// Bad, expired or insufficient credentials (`AccessDeniedException`,
    /// `UnrecognizedClientException`, `ExpiredTokenException`, signature errors).
    CredentialRejected,
    /// `ValidationException`: the client's request; returned to it as a 400.
    InvalidRequest,
    /// `ResourceNotFoundException`: the model id does not exist for this account/region.
    ModelNotFound,
    /// `InternalServerException`, `ModelErrorException`, `ModelTimeoutException`,
    /// `modelStreamErrorException`, or an unknown 5xx.
    ServerError,
    /// Anything else (an unknown 4xx).
    Other,
}

impl Failure {
    /// From an error type name, in either case style (`ThrottlingException` in JSON answers,
    /// `throttlingException` in streams); `None` for a name we do not know.
    pub fn from_type(error_type: &str) -> Option<Failure> {
        // The header may carry a namespace after ':' (`ThrottlingException:http://…`).
        let name = error_type.split(':').next().unwrap_or("").trim();
        let name = name.rsplit('#').next().unwrap_or(name);
        let lower = name.to_ascii_lowercase();
        Some(match lower.as_str() {
            "throttlingexception" | "toomanyrequestsexception" => Failure::RateLimited,
            "servicequotaexceededexception" => Failure::UsageLimit,
            "modelnotreadyexception" | "serviceunavailableexception" => Failure::Overloaded,
            "accessdeniedexception"
            | "unrecognizedclientexception"
            | "expiredtokenexception"
            | "invalidsignatureexception"
            | "incompletesignatureexception"
            | "missingauthenticationtokenexception"
            | "invalidclienttokenid"
            | "signaturedoesnotmatch" => Failure::CredentialRejected,
            "validationexception" => Failure::InvalidRequest,
            "resourcenotfoundexception" => Failure::ModelNotFound,
            "internalserverexception"
            | "modelerrorexception"
            | "modeltimeoutexception"
            | "modelstreamerrorexception" => Failure::ServerError,
            _ => return None,
        })
    }

    /// From a status alone, for an answer without a known type.
    pub fn from_status(status: u16) -> Failure {
        match status {
            400 => Failure::InvalidRequest,
            401 | 403 => Failure::CredentialRejected,
            404 => Failure::ModelNotFound,
            429 => Failure::RateLimited,
            503 => Failure::Overloaded,
            500..=599 => Failure::ServerError,
            _ => Failure::Other,
        }
    }

    /// Whether another account may serve the request (the request itself is not at fault).
    pub fn try_another_account(self) -> bool {
        !matches!(self, Failure::InvalidRequest | Failure::Other)
    }

    /// Whether this account should rest: it is limited, refused, or (for a model id Bedrock
    /// does not know) misconfigured.
    pub fn rests_account(self) -> bool {
        matches!(
            self,
            Failure::RateLimited
                | Failure::UsageLimit
                | Failure::Overloaded
                | Failure::CredentialRejected
                | Failure::ModelNotFound
        )
    }

    /// The Anthropic status and error type a client gets for it.
    pub fn anthropic(self) -> (u16, &'static str) {
        match self {
            Failure::RateLimited | Failure::UsageLimit => (429, "rate_limit_error"),
            Failure::Overloaded => (529, "overloaded_error"),
            Failure::CredentialRejected => (403, "permission_error"),
            Failure::InvalidRequest => (400, "invalid_request_error"),
            Failure::ModelNotFound => (404, "not_found_error"),
            Failure::ServerError => (500, "api_error"),
            Failure::Other => (400, "invalid_request_error"),
        }
    }
}

/// A classified Bedrock error answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BedrockError {
    pub failure: Failure,
    /// The type name Bedrock gave, if any.
    pub error_type: Option<String>,
    pub message: String,
}

impl BedrockError {
    /// Classifies a non-2xx JSON answer: the `x-amzn-ErrorType` header, else the body's
    /// `__type`, else the status.
    pub fn from_answer(status: u16, headers: &HeaderMap, body: &[u8]) -> BedrockError {
        let json: Option<Value> = serde_json::from_slice(body).ok();
        let field = |name: &str| json.as_ref().and_then(|v| v.get(name)).and_then(Value::as_str);
        let error_type = headers
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .or_else(|| field("__type"))
            .map(|t| t.split(':').next().unwrap_or(t).to_owned());
        let message = field("message")
            .or_else(|| field("Message"))
            .map(str::to_owned)
            .unwrap_or_else(|| format!("Bedrock answered {status}"));
        let failure = error_type
            .as_deref()
            .and_then(Failure::from_type)
            .unwrap_or_else(|| Failure::from_status(status));
        BedrockError {
            failure,
            error_type,
            message,
        }
    }

    /// A stream's exception frame (`:exception-type` and its `{"message": …}` payload).
    pub fn from_exception(exception_type: &str, payload: &[u8]) -> BedrockError {
        let message = serde_json::from_slice::<Value>(payload)
            .ok()
            .and_then(|v| {
                v.get("message")
                    .or_else(|| v.get("Message"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| exception_type.to_owned());
        BedrockError {
            failure: Failure::from_type(exception_type).unwrap_or(Failure::ServerError),
            error_type: Some(exception_type.to_owned()),
            message,
        }
    }

    /// `{"type":"error","error":{"type":…,"message":…}}`: the body of the client's error
    /// answer, and the data of an in-stream `error` event. The message is Bedrock's, prefixed
    /// with its type so the client can tell where it came from.
    pub fn anthropic_body(&self) -> String {
        let (_, kind) = self.failure.anthropic();
        let message = match &self.error_type {
            Some(t) => format!("Bedrock {t}: {}", self.message),
            None => format!("Bedrock: {}", self.message),
        };
        serde_json::json!({ "type": "error", "error": { "type": kind, "message": message } }).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, header: Option<&str>, body: &str) -> BedrockError {
        let mut headers = HeaderMap::new();
        if let Some(h) = header {
            headers.insert("x-amzn-errortype", h.parse().unwrap());
        }
        BedrockError::from_answer(status, &headers, body.as_bytes())
    }

    #[test]
    fn each_documented_type_is_classified() {
        let cases = [
            (
                "ThrottlingException",
                Failure::RateLimited,
                429,
                "rate_limit_error",
            ),
            (
                "ServiceQuotaExceededException",
                Failure::UsageLimit,
                429,
                "rate_limit_error",
            ),
            (
                "ModelNotReadyException",
                Failure::Overloaded,
                529,
                "overloaded_error",
            ),
            (
                "ServiceUnavailableException",
                Failure::Overloaded,
                529,
                "overloaded_error",
            ),
            (
                "AccessDeniedException",
                Failure::CredentialRejected,
                403,
                "permission_error",
            ),
            (
                "UnrecognizedClientException",
                Failure::CredentialRejected,
                403,
                "permission_error",
            ),
            (
                "ExpiredTokenException",
                Failure::CredentialRejected,
                403,
                "permission_error",
            ),
            (
                "ValidationException",
                Failure::InvalidRequest,
                400,
                "invalid_request_error",
            ),
            (
                "ResourceNotFoundException",
                Failure::ModelNotFound,
                404,
                "not_found_error",
            ),
            ("InternalServerException", Failure::ServerError, 500, "api_error"),
        ];
        for (t, failure, status, kind) in cases {
            let e = answer(
                400,
                Some(&format!(
                    "{t}:http://internal.amazon.com/coral/com.amazon.bedrock/"
                )),
                r#"{"message":"m"}"#,
            );
            assert_eq!(e.failure, failure, "{t}");
            assert_eq!(e.error_type.as_deref(), Some(t));
            assert_eq!(failure.anthropic(), (status, kind), "{t}");
        }
        assert!(Failure::RateLimited.try_another_account() && Failure::RateLimited.rests_account());
        assert!(!Failure::InvalidRequest.try_another_account() && !Failure::InvalidRequest.rests_account());
        assert!(Failure::ServerError.try_another_account() && !Failure::ServerError.rests_account());
    }

    #[test]
    fn body_type_and_status_are_fallbacks() {
        let e = answer(
            403,
            None,
            r#"{"__type":"com.amazon.coral.service#ExpiredTokenException","Message":"expired"}"#,
        );
        assert_eq!(e.failure, Failure::CredentialRejected);
        assert_eq!(e.message, "expired");
        let e = answer(429, None, "not json");
        assert_eq!(e.failure, Failure::RateLimited);
        assert_eq!(e.message, "Bedrock answered 429");
        assert_eq!(
            answer(502, Some("SomethingNew"), "{}").failure,
            Failure::ServerError
        );
    }

    #[test]
    fn stream_exceptions_become_anthropic_error_bodies() {
        let e = BedrockError::from_exception(
            "throttlingException",
            br#"{"message":"Too many tokens, please wait before trying again."}"#,
        );
        assert_eq!(e.failure, Failure::RateLimited);
        let body: Value = serde_json::from_str(&e.anthropic_body()).unwrap();
        assert_eq!(body["type"], "error");
        assert_eq!(body["error"]["type"], "rate_limit_error");
        assert_eq!(
            body["error"]["message"],
            "Bedrock throttlingException: Too many tokens, please wait before trying again."
        );
        let kinds = [
            ("modelStreamErrorException", "api_error"),
            ("internalServerException", "api_error"),
            ("serviceUnavailableException", "overloaded_error"),
            ("validationException", "invalid_request_error"),
        ];
        for (t, kind) in kinds {
            let body: Value =
                serde_json::from_str(&BedrockError::from_exception(t, b"{}").anthropic_body()).unwrap();
            assert_eq!(body["error"]["type"], kind, "{t}");
        }
    }
}
