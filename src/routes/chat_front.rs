//! OpenAI chat completions for every platform: `/openai/claude/v1/chat/completions` (Claude
//! accounts), `/openai/gemini/v1/chat/completions` (Gemini accounts), and the unified
//! `/v1/chat/completions` (also under `/api` and `/openai`), which picks the platform by the
//! model's name. OpenAI models go to OpenAI accounts as they are; Claude and Gemini models are
//! converted (`convert::openai_chat`) and relayed as those platforms' own calls.
use super::forward::{FrontPlan, Parsed, Route, relay_route};
use super::{gemini, openai};
use crate::convert::openai_chat::{
    AnswerContext, AnthropicToChunks, ChatRequest, ConvertError, ErrorCode, GeminiToChunks, JsonToCompletion,
    anthropic_error_to_openai, gemini_error_to_openai, model_list, to_anthropic, to_gemini,
};
use crate::error::{ApiError, ApiFormat, ApiResult};
use crate::relay::client::UpstreamClients;
use crate::relay::front::Front;
use crate::settings::FrontSettings;
use crate::state::AppState;
use crate::upstream::wire::openai::CHAT_PATH;
use crate::upstream::{BodyAdapter, ClientApi, ClientCall};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use serde_json::Value;
use std::sync::Arc;
use switchyard_actors::Platform;
use switchyard_actors::session::{ClaudeRequestView, gemini_session};

pub fn configure(cfg: &mut web::ServiceConfig) {
    for prefix in ["", "/api", "/openai"] {
        cfg.route(&format!("{prefix}/v1/chat/completions"), web::post().to(by_model));
    }
    cfg.route("/openai/claude/v1/chat/completions", web::post().to(claude))
        .route("/openai/gemini/v1/chat/completions", web::post().to(gemini_chat))
        .route("/openai/claude/v1/models", web::get().to(claude_models))
        .route("/openai/gemini/v1/models", web::get().to(gemini_models));
}

/// The Claude models this front serves, in OpenAI's list format.
async fn claude_models(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let ids = super::claude::MODELS.iter().map(|(id, _, _)| (*id, "anthropic"));
    model_list_for(&req, &state, Platform::Claude, ids).await
}

/// The Gemini models this front serves, in OpenAI's list format.
async fn gemini_models(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let ids = gemini::MODELS.iter().map(|(id, _)| (*id, "google"));
    model_list_for(&req, &state, Platform::Gemini, ids).await
}

async fn model_list_for<'a>(
    req: &HttpRequest,
    state: &AppState,
    platform: Platform,
    ids: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> ApiResult<HttpResponse> {
    crate::auth::authenticate(state, req, platform)
        .await
        .map_err(|e| e.in_format(ApiFormat::OpenAi))?;
    Ok(HttpResponse::Ok().json(model_list(ids, now_secs())))
}

/// Which platform serves a model on the routes that choose by model: the operator's patterns
/// (`fronts.model_platforms`, longest match first), else the reference's prefixes.
pub fn platform_of(model: &str, settings: &FrontSettings) -> Option<Platform> {
    let operator = settings
        .model_platforms
        .iter()
        .filter(|(pattern, _)| matches_pattern(pattern, model))
        .max_by_key(|(pattern, _)| pattern.len())
        .map(|(_, platform)| *platform);
    operator.or_else(|| built_in_platform(model))
}

/// `pattern` is an exact name or a prefix ending in `*` (case-insensitive).
fn matches_pattern(pattern: &str, model: &str) -> bool {
    let (pattern, model) = (pattern.to_ascii_lowercase(), model.to_ascii_lowercase());
    match pattern.strip_suffix('*') {
        Some(prefix) => model.starts_with(prefix),
        None => model == pattern,
    }
}

fn built_in_platform(model: &str) -> Option<Platform> {
    let m = model.to_ascii_lowercase();
    let openai = m.starts_with("gpt-")
        || m.starts_with("codex-")
        || (m.starts_with('o') && m[1..].starts_with(|c: char| c.is_ascii_digit()));
    if m.starts_with("claude-") {
        Some(Platform::Claude)
    } else if m.starts_with("gemini-") {
        Some(Platform::Gemini)
    } else if openai {
        Some(Platform::OpenAi)
    } else {
        None
    }
}

async fn by_model(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    clients: web::Data<UpstreamClients>,
) -> ApiResult<HttpResponse> {
    serve(req, payload, state, clients, None).await
}

async fn claude(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    clients: web::Data<UpstreamClients>,
) -> ApiResult<HttpResponse> {
    serve(req, payload, state, clients, Some(Platform::Claude)).await
}

async fn gemini_chat(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    clients: web::Data<UpstreamClients>,
) -> ApiResult<HttpResponse> {
    serve(req, payload, state, clients, Some(Platform::Gemini)).await
}

/// `fixed`: the route's platform; `None`: the model's.
async fn serve(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    clients: web::Data<UpstreamClients>,
    fixed: Option<Platform>,
) -> ApiResult<HttpResponse> {
    let route = Route {
        name: "openai_chat",
        takes_slot: true,
        token_endpoint: state.settings.upstream.openai.token_endpoint(),
        platform_from_body: fixed.is_none(),
    };
    let api = ClientApi {
        platform: fixed.unwrap_or(Platform::OpenAi),
        format: ApiFormat::OpenAi,
    };
    let upstream = &state.settings.upstream;
    let endpoints = (upstream.claude.token_endpoint(), upstream.gemini.token_endpoint());
    let fronts = &state.settings.fronts;
    relay_route(&req, payload, &state, &clients, api, route, |req, body| {
        let platform = match fixed {
            Some(p) => p,
            None => {
                let model = model_of(&body)?;
                platform_of(&model, fronts).ok_or_else(|| unknown_model(&model))?
            }
        };
        match platform {
            Platform::Claude => to_claude(&body, endpoints.0.clone()),
            Platform::Gemini => to_gemini_call(&body, endpoints.1.clone()),
            Platform::OpenAi => openai::native(req, body, CHAT_PATH),
        }
    })
    .await
}

/// The body's `model`, read before the whole request is (to choose the platform).
fn model_of(body: &[u8]) -> Result<String, ApiError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| ConvertError::invalid("body", e))?;
    match v.get("model").and_then(Value::as_str).map(str::trim) {
        Some(m) if !m.is_empty() => Ok(m.to_owned()),
        _ => Err(ConvertError::missing("model").into()),
    }
}

fn unknown_model(model: &str) -> ApiError {
    let shown: String = model.chars().take(super::forward::MAX_MODEL_LEN).collect();
    ConvertError::new(
        ErrorCode::InvalidValue,
        "model",
        format!(
            "The model `{shown}` does not exist or no platform serves it here \
             (claude-*, gemini-*, gpt-*, o*, codex-*)"
        ),
    )
    .into()
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn to_claude(body: &[u8], token_endpoint: crate::oauth::TokenEndpoint) -> Result<Parsed, ApiError> {
    let chat = ChatRequest::parse(body)?;
    let converted = Bytes::from(to_anthropic(&chat)?.to_string());
    let view = ClaudeRequestView::parse(&converted)
        .map_err(|e| ApiError::Internal(format!("the converted request is not valid: {e}")))?;
    Ok(Parsed {
        model: chat.model.clone(),
        stream: chat.stream,
        session: view.session_id(),
        upstream_path: "/v1/messages".into(),
        user_turn: view.messages.as_ref().is_some_and(|m| m.last_is_user_turn()),
        body: converted,
        call: ClientCall::ClaudeMessages,
        hide_usage_chunk: false,
        front: Some(FrontPlan {
            platform: Platform::Claude,
            token_endpoint,
            query: String::new(),
            answer: Arc::new(ChatAnswer {
                ctx: chat.answer_context(now_secs()),
                from: Platform::Claude,
            }),
        }),
    })
}

fn to_gemini_call(body: &[u8], token_endpoint: crate::oauth::TokenEndpoint) -> Result<Parsed, ApiError> {
    let chat = ChatRequest::parse(body)?;
    let call = to_gemini(&chat)?;
    if !gemini::valid_model(&call.model) {
        return Err(ConvertError::invalid("model", "not a Gemini model name").into());
    }
    let converted = Bytes::from(call.body.to_string());
    Ok(Parsed {
        model: call.model.clone(),
        stream: call.stream,
        session: gemini_session(&converted),
        upstream_path: format!("/v1beta/models/{}:{}", call.model, call.method()),
        body: converted,
        call: ClientCall::GeminiGenerate,
        hide_usage_chunk: false,
        user_turn: false,
        front: Some(FrontPlan {
            platform: Platform::Gemini,
            token_endpoint,
            query: if call.stream {
                "alt=sse".into()
            } else {
                String::new()
            },
            answer: Arc::new(ChatAnswer {
                ctx: chat.answer_context(now_secs()),
                from: Platform::Gemini,
            }),
        }),
    })
}

/// Claude's or Gemini's answer as a chat completion (JSON or chunks).
struct ChatAnswer {
    ctx: AnswerContext,
    from: Platform,
}

impl Front for ChatAnswer {
    fn answer(&self, stream: bool) -> Box<dyn BodyAdapter> {
        match (self.from, stream) {
            (Platform::Claude, true) => Box::new(AnthropicToChunks::new(&self.ctx)),
            (Platform::Claude, false) => Box::new(JsonToCompletion::anthropic(self.ctx.clone())),
            (_, true) => Box::new(GeminiToChunks::new(&self.ctx)),
            (_, false) => Box::new(JsonToCompletion::gemini(self.ctx.clone())),
        }
    }

    fn error(&self, status: StatusCode, body: &[u8]) -> (StatusCode, Value) {
        let body = match self.from {
            Platform::Claude => anthropic_error_to_openai(body),
            _ => gemini_error_to_openai(body),
        };
        // Anthropic's 529 "overloaded" is not an HTTP status OpenAI clients retry on.
        let status = if status.as_u16() == 529 {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            status
        };
        (status, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_prefix_names_the_platform() {
        for (model, platform) in [
            ("claude-sonnet-4-5", Some(Platform::Claude)),
            ("gemini-2.5-pro", Some(Platform::Gemini)),
            ("gpt-5", Some(Platform::OpenAi)),
            ("o3", Some(Platform::OpenAi)),
            ("o4-mini", Some(Platform::OpenAi)),
            ("codex-mini-latest", Some(Platform::OpenAi)),
            ("omni", None),
            ("llama-3", None),
            ("", None),
        ] {
            assert_eq!(platform_of(model, &FrontSettings::default()), platform, "{model}");
        }
    }

    #[test]
    fn operator_patterns_come_first_and_the_longest_wins() {
        let mut settings = FrontSettings::default();
        settings
            .model_platforms
            .insert("deepseek-*".into(), Platform::OpenAi);
        settings
            .model_platforms
            .insert("claude-*".into(), Platform::Gemini);
        settings
            .model_platforms
            .insert("claude-sonnet-*".into(), Platform::Claude);
        settings
            .model_platforms
            .insert("my-model".into(), Platform::Claude);
        assert_eq!(platform_of("DeepSeek-V3", &settings), Some(Platform::OpenAi));
        assert_eq!(platform_of("claude-haiku-4-5", &settings), Some(Platform::Gemini));
        assert_eq!(
            platform_of("claude-sonnet-4-5", &settings),
            Some(Platform::Claude)
        );
        assert_eq!(platform_of("my-model", &settings), Some(Platform::Claude));
        assert_eq!(platform_of("my-model-2", &settings), None);
        assert_eq!(platform_of("gpt-5", &settings), Some(Platform::OpenAi));
    }
}
