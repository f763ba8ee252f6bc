//! The Anthropic-compatible routes: `/v1/messages`, `/v1/messages/count_tokens`,
//! `/v1/models`, each also under `/api` and `/claude` (claude-relay-service client configs).
//! Messages for a Gemini or OpenAI model go to those accounts through `messages_front`.
use super::forward::{Parsed, Route, relay_route, required};
use crate::auth;
use crate::error::{ApiError, ApiFailure, ApiFormat, ApiResult};
use crate::relay::client::UpstreamClients;
use crate::state::AppState;
use crate::upstream::{ClientApi, ClientCall};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;
use switchyard_actors::Platform;
use switchyard_actors::session::ClaudeRequestView;

const FORMAT: ApiFormat = ApiFormat::Anthropic;
const PREFIXES: [&str; 3] = ["", "/api", "/claude"];

pub fn configure(cfg: &mut web::ServiceConfig) {
    for p in PREFIXES {
        cfg.route(&format!("{p}/v1/messages"), web::post().to(messages))
            .route(
                &format!("{p}/v1/messages/count_tokens"),
                web::post().to(count_tokens),
            )
            .route(&format!("{p}/v1/models"), web::get().to(models));
    }
}

fn fail(e: ApiError) -> ApiFailure {
    e.in_format(FORMAT)
}

async fn messages(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    clients: web::Data<UpstreamClients>,
) -> ApiResult<HttpResponse> {
    forward(
        req,
        payload,
        state,
        clients,
        ("claude_messages", true),
        "/v1/messages",
    )
    .await
}

async fn count_tokens(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    clients: web::Data<UpstreamClients>,
) -> ApiResult<HttpResponse> {
    let route = ("claude_count_tokens", false);
    forward(req, payload, state, clients, route, "/v1/messages/count_tokens").await
}

async fn forward(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    clients: web::Data<UpstreamClients>,
    (name, takes_slot): (&'static str, bool),
    upstream_path: &'static str,
) -> ApiResult<HttpResponse> {
    let upstream = &state.settings.upstream.claude;
    let route = Route {
        name,
        takes_slot,
        token_endpoint: upstream.token_endpoint(),
        // Messages for a Gemini or OpenAI model are served by that platform's accounts.
        platform_from_body: name == "claude_messages",
    };
    relay_route(
        &req,
        payload,
        &state,
        &clients,
        ClientApi::CLAUDE,
        route,
        |_, body| {
            let view = ClaudeRequestView::parse(&body)
                .map_err(|e| ApiError::BadRequest(format!("The request body is not valid JSON: {e}")))?;
            let model = required(view.model.as_deref(), "model")?;
            if view.messages.is_none() {
                return Err(ApiError::BadRequest("messages: Field required".into()));
            }
            let elsewhere = super::chat_front::platform_of(&model, &state.settings.fronts)
                .filter(|p| *p != Platform::Claude);
            if let Some(platform) = elsewhere.filter(|_| name == "claude_messages") {
                return super::messages_front::plan(&state, &body, platform, view.session_id());
            }
            Ok(Parsed {
                model,
                stream: view.stream.unwrap_or(false),
                session: view.session_id(),
                upstream_path: upstream_path.to_owned(),
                body: body.clone(),
                call: if name == "claude_messages" {
                    ClientCall::ClaudeMessages
                } else {
                    ClientCall::ClaudeCountTokens
                },
                hide_usage_chunk: false,
                // Token counting generates nothing: only messages are paced.
                user_turn: name == "claude_messages"
                    && view.messages.as_ref().is_some_and(|m| m.last_is_user_turn()),
                front: None,
            })
        },
    )
    .await
}

/// Models switchyard offers on Claude routes (answered locally, like the original).
pub(super) const MODELS: &[(&str, &str, &str)] = &[
    ("claude-opus-4-8", "Claude Opus 4.8", "2026-09-01T00:00:00Z"),
    ("claude-sonnet-5", "Claude Sonnet 5", "2026-08-01T00:00:00Z"),
    (
        "claude-opus-4-1-20250805",
        "Claude Opus 4.1",
        "2025-08-05T00:00:00Z",
    ),
    (
        "claude-sonnet-4-5-20250929",
        "Claude Sonnet 4.5",
        "2025-09-29T00:00:00Z",
    ),
    (
        "claude-haiku-4-5-20251001",
        "Claude Haiku 4.5",
        "2025-10-01T00:00:00Z",
    ),
];

async fn models(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    auth::authenticate(&state, &req, Platform::Claude)
        .await
        .map_err(fail)?;
    let data: Vec<_> = MODELS
        .iter()
        .map(|(id, name, created)| json!({"type": "model", "id": id, "display_name": name, "created_at": created}))
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "data": data,
        "has_more": false,
        "first_id": MODELS.first().map(|m| m.0),
        "last_id": MODELS.last().map(|m| m.0),
    })))
}
