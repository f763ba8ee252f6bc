//! Azure OpenAI's data plane: chat completions on a deployment
//! (`POST .../openai/deployments/{deployment}/chat/completions?api-version=…`) and the v1
//! Responses API (`POST .../openai/v1/responses`, deployment in the body's `model`).
//!
//! A request must carry an `api-key` header or `Authorization: Bearer <Entra token>` (either is
//! the credential for scripted faults): without one Azure's 401. A deployment call without
//! `api-version` gets Azure's 400. The answers are the OpenAI ones (`openai_chat`,
//! `openai_responses`).

use actix_web::http::StatusCode;
use actix_web::http::header::HeaderMap;
use serde_json::json;

use crate::answer::Answer;
use crate::record::query_param;
use crate::sse;

/// `…/openai/deployments/{deployment}/chat/completions`: the deployment, if the path is one.
pub(crate) fn chat_deployment(path: &str) -> Option<&str> {
    let rest = path.strip_suffix("/chat/completions")?;
    let (_, deployment) = rest.rsplit_once("/openai/deployments/")?;
    (!deployment.is_empty() && !deployment.contains('/')).then_some(deployment)
}

/// `…/openai/v1/responses`.
pub(crate) fn is_v1_responses(path: &str) -> bool {
    path.ends_with("/openai/v1/responses")
}

/// Refuses what Azure refuses before looking at the body.
pub(crate) fn check(headers: &HeaderMap, query: &str, deployment_call: bool) -> Result<(), Answer> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let bearer = header("authorization").is_some_and(|v| {
        v.split_once(' ')
            .is_some_and(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
    });
    if header("api-key").is_none() && !bearer {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "401",
            "Access denied due to invalid subscription key or wrong API endpoint. Make sure to \
             provide a valid key for an active subscription and use a correct regional API \
             endpoint for your resource.",
        ));
    }
    if deployment_call && query_param(query, "api-version").is_none_or(|v| v.is_empty()) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        ));
    }
    Ok(())
}

fn error(status: StatusCode, code: &str, message: &str) -> Answer {
    Answer::json(
        status,
        sse::json(&json!({"error": {"code": code, "message": message}})),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_paths() {
        assert_eq!(
            chat_deployment("/openai/deployments/prod-4o/chat/completions"),
            Some("prod-4o")
        );
        assert_eq!(chat_deployment("/x/openai/deployments//chat/completions"), None);
        assert_eq!(chat_deployment("/v1/chat/completions"), None);
        assert!(is_v1_responses("/openai/v1/responses"));
        assert!(!is_v1_responses("/v1/responses"));
    }
}
