//! Amazon Bedrock's runtime API for Claude: `POST /model/{modelId}/invoke`,
//! `/invoke-with-response-stream` and `/count-tokens`.
//!
//! Requests must be signed with SigV4 (service `bedrock`) using
//! [`crate::BEDROCK_SECRET_ACCESS_KEY`] under any access key id, or carry a Bedrock API key as
//! `Authorization: Bearer <key>`; a bad signature gets Bedrock's 403
//! `InvalidSignatureException`, a missing or malformed one `UnrecognizedClientException`. The
//! access key id (or API key) is the request's credential for scripted faults:
//! [`crate::Fault::bedrock_error`] for an error answer such as 429 `ThrottlingException`,
//! [`crate::Fault::InBandError`] for a `throttlingException` frame in the middle of a stream.
//!
//! The body must be an `InvokeModel` body: `anthropic_version: "bedrock-2023-05-31"`, no
//! `model` or `stream` (Bedrock refuses extraneous keys with a `ValidationException`).

use actix_web::http::StatusCode;
use actix_web::http::header::HeaderMap;
use base64::Engine as _;
use serde_json::Value;

use crate::answer::{Answer, Ctx};
use crate::faults::to_json;
use crate::{anthropic, event_stream, sigv4};

/// The secret the mock signs with for every access key id.
pub const BEDROCK_SECRET_ACCESS_KEY: &str = "mockBedrockSecretKey/K7MDENG+bPxRfiCYEXAMPLE";
pub(crate) const REQUEST_ID: &str = "x-amzn-requestid";
const SERVICE: &str = "bedrock";
const API_VERSION: &str = "bedrock-2023-05-31";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Operation {
    Invoke,
    InvokeStream,
    CountTokens,
}

impl Operation {
    pub(crate) fn from_path(name: &str) -> Option<Operation> {
        Some(match name {
            "invoke" => Operation::Invoke,
            "invoke-with-response-stream" => Operation::InvokeStream,
            "count-tokens" => Operation::CountTokens,
            _ => return None,
        })
    }
}

/// Refuses a request that is neither correctly signed nor carries a bearer API key.
pub(crate) fn authenticate(
    method: &str,
    raw_path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), Answer> {
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !sigv4::is_sigv4(authorization) {
        let bearer = authorization
            .split_once(' ')
            .filter(|(scheme, key)| scheme.eq_ignore_ascii_case("bearer") && !key.trim().is_empty());
        return match bearer {
            Some(_) => Ok(()),
            None => Err(error(
                StatusCode::FORBIDDEN,
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )),
        };
    }
    match sigv4::verify(
        method,
        raw_path,
        query,
        headers,
        body,
        SERVICE,
        BEDROCK_SECRET_ACCESS_KEY,
    ) {
        Ok(()) => Ok(()),
        Err(sigv4::Refusal::Malformed(message)) => Err(error(
            StatusCode::FORBIDDEN,
            "UnrecognizedClientException",
            message,
        )),
        Err(sigv4::Refusal::Mismatch) => Err(error(
            StatusCode::FORBIDDEN,
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. \
             Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
        )),
    }
}

/// The answer to an authenticated request for `model_id` (percent-encoded as in the path).
pub(crate) fn answer(operation: Operation, model_id: &str, body: &[u8], ctx: &Ctx<'_>) -> Answer {
    let model_id = percent_decode(model_id);
    if !model_id.contains("anthropic.") && !model_id.starts_with("arn:") {
        return error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            "Could not resolve the foundation model from the provided model identifier.",
        );
    }
    match operation {
        Operation::Invoke | Operation::InvokeStream => match check_invoke_body(body) {
            Ok(()) => anthropic::bedrock_invoke(
                body,
                anthropic_name(&model_id),
                operation == Operation::InvokeStream,
                ctx,
            ),
            Err(answer) => answer,
        },
        Operation::CountTokens => count_tokens(body, ctx),
    }
}

/// A Bedrock error answer: status, `x-amzn-ErrorType` and `{"message": …}`.
pub(crate) fn error(status: StatusCode, error_type: &str, message: &str) -> Answer {
    Answer::json(status, to_json(&serde_json::json!({ "message": message })).into()).error_type(error_type)
}

/// What a non-streaming request gets for an in-band error fault.
pub(crate) fn throttled() -> Answer {
    error(
        StatusCode::TOO_MANY_REQUESTS,
        "ThrottlingException",
        "Too many requests, please wait before trying again.",
    )
}

/// The mid-stream exception frame an in-band error fault puts into a stream.
pub(crate) fn throttling_exception() -> bytes::Bytes {
    event_stream::exception(
        "throttlingException",
        "Too many tokens, please wait before trying again.",
    )
}

fn check_invoke_body(body: &[u8]) -> Result<(), Answer> {
    let invalid = |message: &str| error(StatusCode::BAD_REQUEST, "ValidationException", message);
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return Err(invalid(
            "Malformed input request, please reformat your input and try again.",
        ));
    };
    for key in ["model", "stream"] {
        if map.contains_key(key) {
            return Err(invalid(&format!(
                "Malformed input request: #: extraneous key [{key}] is not permitted, please reformat your input and try again."
            )));
        }
    }
    if map.get("anthropic_version").and_then(Value::as_str) != Some(API_VERSION) {
        return Err(invalid(
            "Malformed input request: #/anthropic_version: expected bedrock-2023-05-31",
        ));
    }
    if !map.get("max_tokens").is_some_and(Value::is_u64) {
        return Err(invalid(
            "Malformed input request: #: required key [max_tokens] not found",
        ));
    }
    Ok(())
}

/// `{"input":{"invokeModel":{"body": "<base64 InvokeModel body>"}}}` → `{"inputTokens": N}`.
fn count_tokens(body: &[u8], ctx: &Ctx<'_>) -> Answer {
    let inner = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.pointer("/input/invokeModel/body")?.as_str().map(str::to_owned))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok());
    let Some(inner) = inner else {
        return error(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            "Malformed input request: #/input/invokeModel/body: expected a base64 InvokeModel body",
        );
    };
    if let Err(answer) = check_invoke_body(&inner) {
        return answer;
    }
    Answer::json(
        StatusCode::OK,
        to_json(&serde_json::json!({ "inputTokens": ctx.usage.input_tokens })).into(),
    )
    .request_id(REQUEST_ID, ctx.n)
}

/// `[geo.]anthropic.<name>-vN:M` → `<name>`, as Bedrock reports the model in its answers.
fn anthropic_name(model_id: &str) -> &str {
    let id = model_id.rsplit('/').next().unwrap_or(model_id);
    let id = id.split_once("anthropic.").map_or(id, |(_, rest)| rest);
    id.rsplit_once("-v").map_or(id, |(name, _)| name)
}

fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_ids_decode_and_name_the_model() {
        assert_eq!(
            percent_decode("us.anthropic.claude-sonnet-4-5-20250929-v1%3A0"),
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
        );
        assert_eq!(
            anthropic_name("us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
            "claude-sonnet-4-5-20250929"
        );
        assert_eq!(percent_decode("bad%zz"), "bad%zz");
    }
}
