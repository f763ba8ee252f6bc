//! Azure OpenAI routes as the reference serves them (`/azure/chat/completions`,
//! `/azure/responses`, and their `/azure/v1/…` forms), relayed to OpenAI-platform accounts
//! that serve the call (Azure OpenAI, OpenAI Responses-compatible keys; Codex OAuth for
//! Responses). Chat completions pass through in their own format:
//! [`chat_completions_passthrough`] is the handler any chat-completions route can call for
//! models OpenAI accounts serve.
use super::openai;
use crate::error::ApiResult;
use crate::relay::client::UpstreamClients;
use crate::state::AppState;
use crate::upstream::wire::openai::{CHAT_PATH, RESPONSES_PATH};
use actix_web::{HttpRequest, HttpResponse, web};

pub const CHAT_PATHS: [&str; 2] = ["/azure/chat/completions", "/azure/v1/chat/completions"];
pub const RESPONSES_PATHS: [&str; 2] = ["/azure/responses", "/azure/v1/responses"];

pub fn configure(cfg: &mut web::ServiceConfig) {
    for path in CHAT_PATHS {
        cfg.route(path, web::post().to(chat_completions_passthrough));
    }
    for path in RESPONSES_PATHS {
        cfg.route(path, web::post().to(responses));
    }
}

/// A chat completions request relayed as is to an OpenAI-platform account serving
/// `ClientCall::OpenAiChat` (usage always asked for, and hidden when the client did not ask).
pub async fn chat_completions_passthrough(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    clients: web::Data<UpstreamClients>,
) -> ApiResult<HttpResponse> {
    openai::forward(req, payload, state, clients, CHAT_PATH).await
}

async fn responses(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    clients: web::Data<UpstreamClients>,
) -> ApiResult<HttpResponse> {
    openai::forward(req, payload, state, clients, RESPONSES_PATH).await
}
