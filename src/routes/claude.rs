//! The Anthropic-compatible routes: `/v1/messages`, `/v1/messages/count_tokens`,
//! `/v1/models`, each also under `/api` and `/claude` (claude-relay-service client configs).
use crate::auth;
use crate::error::{ApiError, ApiFailure, ApiFormat, ApiResult};
use crate::http::body::{check_declared_length, read_body};
use crate::oauth::TokenEndpoint;
use crate::providers::Inbound;
use crate::providers::anthropic::Anthropic;
use crate::relay::client::UpstreamClients;
use crate::relay::headers::inbound_headers;
use crate::relay::{RelayRequest, relay};
use crate::state::AppState;
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
    forward(req, payload, state, clients, "/v1/messages").await
}

async fn count_tokens(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    clients: web::Data<UpstreamClients>,
) -> ApiResult<HttpResponse> {
    forward(req, payload, state, clients, "/v1/messages/count_tokens").await
}

async fn forward(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    clients: web::Data<UpstreamClients>,
    upstream_path: &str,
) -> ApiResult<HttpResponse> {
    let limit_mb = state.settings.server.body_limit_mb;
    check_declared_length(&req, limit_mb).map_err(fail)?;
    let key = auth::authenticate(&state, &req, Platform::Claude)
        .await
        .map_err(fail)?;
    let body = read_body(payload, limit_mb).await.map_err(fail)?;
    let view = ClaudeRequestView::parse(&body).map_err(|e| {
        fail(ApiError::BadRequest(format!(
            "The request body is not valid JSON: {e}"
        )))
    })?;
    let model = match view.model.as_deref().map(str::trim) {
        Some(m) if !m.is_empty() => m.to_owned(),
        _ => return Err(fail(ApiError::BadRequest("model: Field required".into()))),
    };
    if view.messages.is_none() {
        return Err(fail(ApiError::BadRequest("messages: Field required".into())));
    }
    let admitted = auth::admission::admit(&state, &req, key, Some(&model))
        .await
        .map_err(fail)?;
    let inbound = Inbound {
        upstream_path: upstream_path.to_owned(),
        query: auth::query_without_key(req.query_string()),
        headers: inbound_headers(&req),
        stream: view.stream.unwrap_or(false),
        session: view.session_id(),
        model,
        body: body.clone(),
    };
    let upstream = &state.settings.upstream.claude;
    let provider = Anthropic::new(upstream.clone());
    let request = RelayRequest {
        key: admitted.key,
        window_start: admitted.window_start,
        key_slot: None,
        inbound,
        token_endpoint: Some(TokenEndpoint {
            url: upstream.token_url.clone(),
            client_id: upstream.oauth_client_id.clone(),
            json: true,
        }),
    };
    relay(&state, &clients, &provider, request).await.map_err(fail)
}

/// Models switchyard offers on Claude routes (answered locally, like the original).
const MODELS: &[(&str, &str, &str)] = &[
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
