//! OpenAI routes: the Responses API (`/openai/v1/responses`, `/openai/responses`,
//! `/v1/responses`: Codex CLI and the SDK) and `GET /openai/v1/models`. Chat completions are
//! routed by model in `chat_front` (OpenAI models come back here, to [`native`]).
use super::forward::{Parsed, Route, relay_route, required};
use crate::auth;
use crate::error::{ApiError, ApiFailure, ApiFormat, ApiResult};
use crate::relay::client::UpstreamClients;
use crate::state::AppState;
use crate::upstream::wire::openai::{CHAT_PATH, RESPONSES_PATH, with_include_usage};
use crate::upstream::{ClientApi, ClientCall};
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;
use switchyard_actors::Platform;
use switchyard_actors::session::openai_session;

pub fn configure(cfg: &mut web::ServiceConfig) {
    for path in ["/openai/v1/responses", "/openai/responses", "/v1/responses"] {
        cfg.route(path, web::post().to(responses));
    }
    for path in ["/openai/v1/models", "/openai/models"] {
        cfg.route(path, web::get().to(models));
    }
}

fn fail(e: ApiError) -> ApiFailure {
    e.in_format(ApiFormat::OpenAi)
}

/// What routing needs from an OpenAI request body.
#[derive(Deserialize)]
struct View {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    messages: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: Option<bool>,
}

async fn responses(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    clients: web::Data<UpstreamClients>,
) -> ApiResult<HttpResponse> {
    forward(req, payload, state, clients, RESPONSES_PATH).await
}

pub(super) async fn forward(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    clients: web::Data<UpstreamClients>,
    upstream_path: &'static str,
) -> ApiResult<HttpResponse> {
    let s = &state.settings.upstream.openai;
    let route = Route {
        name: if upstream_path == CHAT_PATH {
            "openai_chat"
        } else {
            "openai_responses"
        },
        takes_slot: true,
        token_endpoint: s.token_endpoint(),
        platform_from_body: false,
    };
    relay_route(
        &req,
        payload,
        &state,
        &clients,
        ClientApi::OPENAI,
        route,
        |req, body| native(req, body, upstream_path),
    )
    .await
}

/// An OpenAI request served by OpenAI accounts as it is (`upstream_path`: Responses or chat).
pub(super) fn native(
    req: &HttpRequest,
    body: Bytes,
    upstream_path: &'static str,
) -> Result<Parsed, ApiError> {
    let view: View = serde_json::from_slice(&body).map_err(|e| {
        ApiError::BadRequest(format!("We could not parse the JSON body of your request: {e}"))
    })?;
    let model = required(view.model.as_deref(), "model")?;
    if upstream_path == CHAT_PATH && view.messages.is_none() {
        return Err(ApiError::BadRequest("messages: Field required".into()));
    }
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let stream = view.stream.unwrap_or(false);
    let session = openai_session(header, &body);
    // A streamed chat completion carries usage only when the client asks for it:
    // switchyard asks on the client's behalf and hides the extra chunk (decided once
    // here, not on every attempt).
    let hide_usage_chunk = upstream_path == CHAT_PATH
        && stream
        && view.stream_options.and_then(|o| o.include_usage) != Some(true);
    let body = if hide_usage_chunk {
        with_include_usage(&body)?
    } else {
        body
    };
    Ok(Parsed {
        model,
        stream,
        session,
        upstream_path: upstream_path.to_owned(),
        body,
        call: if upstream_path == CHAT_PATH {
            ClientCall::OpenAiChat
        } else {
            ClientCall::OpenAiResponses
        },
        hide_usage_chunk,
        user_turn: false,
        front: None,
    })
}

const MODELS: &[&str] = &[
    "gpt-5",
    "gpt-5-codex",
    "gpt-5-mini",
    "gpt-5-nano",
    "gpt-4.1",
    "o3",
    "o4-mini",
];

async fn models(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    auth::authenticate(&state, &req, Platform::OpenAi)
        .await
        .map_err(fail)?;
    let data: Vec<_> = MODELS
        .iter()
        .map(|id| json!({"id": id, "object": "model", "created": 1_754_000_000, "owned_by": "openai"}))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "object": "list", "data": data })))
}
