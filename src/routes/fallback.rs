//! Requests no route took: a known path asked with a method it does not answer gets 405 with
//! `Allow`, anything else a 404; both as JSON in the error format of the API family the path
//! belongs to (Anthropic for the root, which most clients of the root speak).
use crate::error::{ApiError, ApiFailure, ApiFormat};
use actix_web::HttpRequest;
use std::collections::HashMap;
use std::sync::OnceLock;

pub async fn not_found(req: HttpRequest) -> Result<&'static str, ApiFailure> {
    let path = req.path();
    let method = req.method().to_string();
    // The route table knows which pattern the path matches; which methods that pattern
    // answers is known here (actix keeps the method guards out of its resource map).
    let pattern = req.resource_map().match_pattern(path);
    let error = match pattern.as_deref().and_then(|p| route_methods().get(p)) {
        Some(methods) => ApiError::MethodNotAllowed {
            method,
            path: path.to_owned(),
            allowed: methods.join(", "),
        },
        None => {
            if let Some(p) = pattern {
                tracing::warn!(pattern = %p, "a route is missing from the fallback's method table");
            }
            ApiError::RouteNotFound {
                method,
                path: path.to_owned(),
            }
        }
    };
    Err(error.in_format(format_of(path)))
}

/// The error format of the API a path belongs to.
fn format_of(path: &str) -> ApiFormat {
    let openai = ["/openai/", "/v1/responses", "/v1/chat/", "/azure/"];
    let gemini = ["/gemini/", "/v1beta/", "/v1/models/"];
    if path.starts_with("/admin") {
        ApiFormat::Admin
    } else if openai.iter().any(|p| path.starts_with(p)) {
        ApiFormat::OpenAi
    } else if gemini.iter().any(|p| path.starts_with(p)) {
        ApiFormat::Gemini
    } else {
        ApiFormat::Anthropic
    }
}

const GET: &[&str] = &["GET"];
const POST: &[&str] = &["POST"];
const GET_POST: &[&str] = &["GET", "POST"];
const GET_PATCH_DELETE: &[&str] = &["GET", "PATCH", "DELETE"];
const DELETE: &[&str] = &["DELETE"];

/// The methods every route pattern answers, as registered in `routes::*::configure`
/// (tests/first_run.rs checks each entry against the running server).
pub fn route_methods() -> &'static HashMap<String, &'static [&'static str]> {
    static TABLE: OnceLock<HashMap<String, &'static [&'static str]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t: HashMap<String, &'static [&'static str]> = HashMap::new();
        for p in ["", "/api", "/claude"] {
            t.insert(format!("{p}/v1/messages"), POST);
            t.insert(format!("{p}/v1/messages/count_tokens"), POST);
            t.insert(format!("{p}/v1/models"), GET);
            t.insert(format!("{p}/v1/usage"), GET);
        }
        for path in ["/openai/v1/responses", "/openai/responses", "/v1/responses"] {
            t.insert(path.into(), POST);
        }
        for path in [
            "/openai/v1/chat/completions",
            "/v1/chat/completions",
            "/api/v1/chat/completions",
            "/openai/claude/v1/chat/completions",
            "/openai/gemini/v1/chat/completions",
        ] {
            t.insert(path.into(), POST);
        }
        for path in super::azure::CHAT_PATHS
            .into_iter()
            .chain(super::azure::RESPONSES_PATHS)
        {
            t.insert(path.into(), POST);
        }
        for path in ["/openai/claude/v1/models", "/openai/gemini/v1/models"] {
            t.insert(path.into(), GET);
        }
        for path in ["/openai/v1/models", "/openai/models"] {
            t.insert(path.into(), GET);
        }
        for prefix in ["/gemini", ""] {
            for version in ["v1beta", "v1"] {
                t.insert(format!("{prefix}/{version}/models/{{model_action}}"), POST);
            }
        }
        for path in ["/gemini/v1beta/models", "/gemini/v1/models", "/v1beta/models"] {
            t.insert(path.into(), GET);
        }
        t.insert("/gemini/v1internal:{method}".into(), POST);
        for path in ["/health", "/ready", "/metrics"] {
            t.insert(path.into(), GET);
        }
        for (path, methods) in [
            ("/accounts", GET_POST),
            ("/accounts/{id}", GET_PATCH_DELETE),
            ("/accounts/{id}/reset", POST),
            ("/groups", GET_POST),
            ("/groups/{id}", DELETE),
            ("/groups/{id}/members", POST),
            ("/groups/{id}/members/{account}", DELETE),
            ("/oauth/{provider}/start", POST),
            ("/oauth/{provider}/exchange", POST),
            ("/keys", GET_POST),
            ("/keys/{id}", GET_PATCH_DELETE),
            ("/keys/{id}/requests", GET),
            ("/usage", GET),
            ("/alerts/test", POST),
            ("/export", GET_POST),
            ("/import/switchyard", POST),
            ("/import/crs", POST),
        ] {
            t.insert(format!("/admin{path}"), methods);
        }
        use crate::web::assets::{CSS_PATH, JS_PATH, STATS_CSS_PATH, STATS_JS_PATH};
        for path in [CSS_PATH, JS_PATH, STATS_CSS_PATH, STATS_JS_PATH] {
            t.insert(path.into(), GET);
        }
        for path in ["/", "/stats", "/stats/api/requests"] {
            t.insert(path.into(), GET);
        }
        for (path, methods) in [
            ("", GET),
            ("/", GET),
            ("/live", GET),
            ("/login", GET_POST),
            ("/logout", POST),
            ("/alerts/test", POST),
            ("/accounts", GET_POST),
            ("/accounts/{id}", GET_POST),
            ("/accounts/{id}/reset", POST),
            ("/accounts/{id}/delete", POST),
            ("/oauth/{provider}/start", POST),
            ("/oauth/{provider}/exchange", POST),
            ("/keys", GET_POST),
            ("/keys/{id}", GET_POST),
            ("/keys/{id}/active", POST),
            ("/keys/{id}/delete", POST),
            ("/groups", GET_POST),
            ("/groups/{id}/members", POST),
            ("/groups/{id}/members/{account}/remove", POST),
            ("/groups/{id}/delete", POST),
            ("/usage", GET),
            ("/usage.csv", GET),
        ] {
            t.insert(format!("/dashboard{path}"), methods);
        }
        t
    })
}
