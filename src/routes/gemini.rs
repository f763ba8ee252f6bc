//! Gemini routes: `/{v1beta,v1}/models/{model}:{generateContent|streamGenerateContent|countTokens}`
//! under `/gemini` and at the root (google-genai's default; told apart from the Anthropic
//! `GET /v1/models` by the `:verb`), `GET …/models`, and `/gemini/v1internal:{method}` for
//! Gemini CLI clients of Code Assist.
use super::forward::{Parsed, Route, relay_route};
use crate::auth;
use crate::error::{ApiError, ApiFailure, ApiFormat, ApiResult};
use crate::oauth::TokenEndpoint;
use crate::relay::client::UpstreamClients;
use crate::state::AppState;
use crate::upstream::wire::gemini::INTERNAL_PREFIX;
use crate::upstream::wire::json_object;
use crate::upstream::{ClientApi, ClientCall};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;
use switchyard_actors::Platform;
use switchyard_actors::session::gemini_session;

const ACTIONS: [&str; 3] = ["generateContent", "streamGenerateContent", "countTokens"];
/// Code Assist methods Gemini CLI calls; anything else is not relayed with a shared account.
const INTERNAL_METHODS: [&str; 7] = [
    "generateContent",
    "streamGenerateContent",
    "countTokens",
    "loadCodeAssist",
    "onboardUser",
    "listExperiments",
    "retrieveUserQuota",
];

/// A model name safe to put in an upstream path: no `/`, `?`, `#`, `%` or `..` can reach the URL
/// (the path segment arrives percent-decoded).
pub(super) fn valid_model(m: &str) -> bool {
    let mut chars = m.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        && !m.contains("..")
        && m.len() <= 128
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    for prefix in ["/gemini", ""] {
        for version in ["v1beta", "v1"] {
            cfg.route(
                &format!("{prefix}/{version}/models/{{model_action}}"),
                web::post().to(generate),
            );
        }
    }
    for path in ["/gemini/v1beta/models", "/gemini/v1/models", "/v1beta/models"] {
        cfg.route(path, web::get().to(models));
    }
    cfg.route("/gemini/v1internal:{method}", web::post().to(internal));
}

fn fail(e: ApiError) -> ApiFailure {
    e.in_format(ApiFormat::Gemini)
}

fn token_endpoint(state: &AppState) -> TokenEndpoint {
    state.settings.upstream.gemini.token_endpoint()
}

/// Checks the body is one JSON object and reads its `model` (Code Assist bodies carry it),
/// without building a tree of the rest.
fn json_object(body: &[u8]) -> Result<Option<String>, ApiError> {
    json_object::top_level_string(body, "model").map_err(|e| match e {
        json_object::Error::NotAnObject => {
            ApiError::BadRequest("The request body must be a JSON object".into())
        }
        json_object::Error::Json(e) => ApiError::BadRequest(format!("Invalid JSON payload received: {e}")),
    })
}

async fn generate(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    clients: web::Data<UpstreamClients>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let (model, action) = match path.rsplit_once(':') {
        Some((m, a)) if valid_model(m) && ACTIONS.contains(&a) => (m.to_owned(), a.to_owned()),
        _ => {
            return Err(fail(ApiError::RouteNotFound {
                method: "POST".into(),
                path: req.path().to_owned(),
            }));
        }
    };
    let version = if req.path().contains("/v1beta/") {
        "v1beta"
    } else {
        "v1"
    };
    let endpoint = token_endpoint(&state);
    let route = Route {
        name: "gemini_generate",
        takes_slot: action != "countTokens",
        token_endpoint: endpoint,
        platform_from_body: false,
    };
    relay_route(
        &req,
        payload,
        &state,
        &clients,
        ClientApi::GEMINI,
        route,
        |_, body| {
            json_object(&body)?;
            Ok(Parsed {
                stream: action == "streamGenerateContent",
                session: gemini_session(&body),
                upstream_path: format!("/{version}/models/{model}:{action}"),
                model,
                body,
                call: ClientCall::GeminiGenerate,
                hide_usage_chunk: false,
                user_turn: false,
                front: None,
            })
        },
    )
    .await
}

async fn internal(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    clients: web::Data<UpstreamClients>,
    method: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let method = method.into_inner();
    if !INTERNAL_METHODS.contains(&method.as_str()) {
        return Err(fail(ApiError::RouteNotFound {
            method: "POST".into(),
            path: req.path().to_owned(),
        }));
    }
    let endpoint = token_endpoint(&state);
    let route = Route {
        name: "gemini_internal",
        takes_slot: method != "countTokens",
        token_endpoint: endpoint,
        platform_from_body: false,
    };
    relay_route(
        &req,
        payload,
        &state,
        &clients,
        ClientApi::GEMINI,
        route,
        |_, body| {
            let model = json_object(&body)?.unwrap_or_default();
            Ok(Parsed {
                stream: method == "streamGenerateContent",
                session: gemini_session(&body),
                upstream_path: format!("{INTERNAL_PREFIX}{method}"),
                model,
                body,
                call: ClientCall::GeminiCodeAssist,
                hide_usage_chunk: false,
                user_turn: false,
                front: None,
            })
        },
    )
    .await
}

pub(super) const MODELS: &[(&str, &str)] = &[
    ("gemini-2.5-pro", "Gemini 2.5 Pro"),
    ("gemini-2.5-flash", "Gemini 2.5 Flash"),
    ("gemini-2.5-flash-lite", "Gemini 2.5 Flash-Lite"),
];

async fn models(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    auth::authenticate(&state, &req, Platform::Gemini)
        .await
        .map_err(fail)?;
    let models: Vec<_> = MODELS
        .iter()
        .map(|(id, name)| {
            json!({
                "name": format!("models/{id}"),
                "displayName": name,
                "supportedGenerationMethods": ["generateContent", "streamGenerateContent", "countTokens"],
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "models": models })))
}

#[cfg(test)]
mod tests {
    use super::valid_model;

    #[test]
    fn only_plain_model_names_reach_the_upstream_path() {
        assert!(
            valid_model("gemini-2.5-flash")
                && valid_model("gemini-3.1-pro-preview")
                && valid_model("tuned_x")
        );
        for bad in [
            "",
            "x/../../cachedContents?",
            "a?b",
            "a#b",
            "a%2Fb",
            "../x",
            "a..b",
            "-x",
            "a b",
        ] {
            assert!(!valid_model(bad), "{bad}");
        }
    }
}
