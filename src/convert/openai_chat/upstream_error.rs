//! An upstream's error (an error answer, or an error event in a stream) in OpenAI's error
//! shape, so OpenAI clients raise it as an API error with the upstream's reason.
use serde_json::{Value, json};

/// An Anthropic error body (`{"type": "error", "error": {"type", "message"}}`).
pub fn anthropic_error_to_openai(body: &[u8]) -> Value {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let kind = v["error"]["type"].as_str().unwrap_or("api_error");
    let openai_type = match kind {
        "invalid_request_error" | "not_found_error" | "request_too_large" => "invalid_request_error",
        "authentication_error" => "authentication_error",
        "permission_error" => "permission_error",
        "rate_limit_error" => "rate_limit_error",
        _ => "server_error",
    };
    error(message(&v, body), openai_type, kind)
}

/// A Gemini error body (`{"error": {"code", "message", "status"}}`).
pub fn gemini_error_to_openai(body: &[u8]) -> Value {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let status = v["error"]["status"].as_str().unwrap_or("INTERNAL");
    let openai_type = match status {
        "INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "NOT_FOUND" | "OUT_OF_RANGE" => "invalid_request_error",
        "UNAUTHENTICATED" => "authentication_error",
        "PERMISSION_DENIED" => "permission_error",
        "RESOURCE_EXHAUSTED" => "rate_limit_error",
        _ => "server_error",
    };
    error(message(&v, body), openai_type, &status.to_ascii_lowercase())
}

fn message(v: &Value, raw: &[u8]) -> String {
    match v["error"]["message"].as_str() {
        Some(m) => m.to_owned(),
        None if raw.is_empty() => "The upstream ended the answer without a reason".to_owned(),
        None => format!("The upstream failed: {}", String::from_utf8_lossy(raw)),
    }
}

pub(super) fn error(message: String, kind: &str, code: &str) -> Value {
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anthropic_overload_is_an_openai_server_error_with_its_message() {
        let e = anthropic_error_to_openai(
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        );
        assert_eq!(
            e,
            json!({"error": {"message": "Overloaded", "type": "server_error", "param": null, "code": "overloaded_error"}})
        );
        let e = anthropic_error_to_openai(
            br#"{"type":"error","error":{"type":"invalid_request_error","message":"bad"}}"#,
        );
        assert_eq!(e["error"]["type"], "invalid_request_error");
    }

    #[test]
    fn gemini_quota_is_an_openai_rate_limit() {
        let e = gemini_error_to_openai(
            br#"{"error":{"code":429,"message":"Resource has been exhausted","status":"RESOURCE_EXHAUSTED"}}"#,
        );
        assert_eq!(e["error"]["type"], "rate_limit_error");
        assert_eq!(e["error"]["code"], "resource_exhausted");
        assert_eq!(e["error"]["message"], "Resource has been exhausted");
    }

    #[test]
    fn a_body_that_is_not_json_still_gives_an_error_with_its_text() {
        let e = gemini_error_to_openai(b"upstream connect error");
        assert_eq!(
            e["error"]["message"],
            "The upstream failed: upstream connect error"
        );
        assert_eq!(e["error"]["type"], "server_error");
    }
}
