//! Anthropic Messages (`/v1/messages`, Claude Code, the anthropic SDK) served by Gemini and
//! OpenAI (Responses) accounts when the model is theirs: the request converted
//! (`convert::anthropic_messages`) and relayed as the target's own call, the answer and its
//! events turned back into Anthropic's.
use super::forward::{FrontPlan, Parsed};
use super::gemini;
use crate::convert::anthropic_messages::answer::{JsonAnswer, Upstream, upstream_error};
use crate::convert::anthropic_messages::stream_gemini::GeminiStream;
use crate::convert::anthropic_messages::stream_responses::ResponsesStream;
use crate::convert::anthropic_messages::{ConvertError, Request, to_gemini, to_responses};
use crate::error::ApiError;
use crate::oauth::TokenEndpoint;
use crate::relay::front::Front;
use crate::state::AppState;
use crate::upstream::wire::openai::RESPONSES_PATH;
use crate::upstream::{BodyAdapter, ClientCall};
use actix_web::http::StatusCode;
use bytes::Bytes;
use serde_json::{Value, json};
use std::sync::Arc;
use switchyard_actors::Platform;
use switchyard_actors::session::SessionId;

/// A Messages request for a Gemini or OpenAI model, as that platform's call.
pub(super) fn plan(
    state: &AppState,
    body: &[u8],
    platform: Platform,
    session: Option<SessionId>,
) -> Result<Parsed, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("The request body is not valid JSON: {e}")))?;
    let request = Request::parse(&value)?;
    let upstream = &state.settings.upstream;
    let (converted, target, token_endpoint): (_, Upstream, TokenEndpoint) = match platform {
        Platform::Gemini => (
            to_gemini::convert(&request)?,
            Upstream::Gemini,
            upstream.gemini.token_endpoint(),
        ),
        _ => (
            to_responses::convert(&request)?,
            Upstream::Responses,
            upstream.openai.token_endpoint(),
        ),
    };
    let (upstream_path, query, call) = match target {
        Upstream::Gemini => {
            if !gemini::valid_model(&converted.model) {
                return Err(ConvertError::request("model", "not a Gemini model name").into());
            }
            let method = if converted.stream {
                "streamGenerateContent"
            } else {
                "generateContent"
            };
            let query = if converted.stream { "alt=sse" } else { "" };
            (
                format!("/v1beta/models/{}:{method}", converted.model),
                query.to_owned(),
                ClientCall::GeminiGenerate,
            )
        }
        Upstream::Responses => (
            RESPONSES_PATH.to_owned(),
            String::new(),
            ClientCall::OpenAiResponses,
        ),
    };
    Ok(Parsed {
        model: converted.model.clone(),
        stream: converted.stream,
        session,
        upstream_path,
        body: Bytes::from(converted.body.to_string()),
        call,
        hide_usage_chunk: false,
        user_turn: false,
        front: Some(FrontPlan {
            platform,
            token_endpoint,
            query,
            answer: Arc::new(MessagesAnswer {
                from: target,
                requested_model: converted.model,
            }),
        }),
    })
}

/// Gemini's or OpenAI's answer as an Anthropic message (JSON or events).
struct MessagesAnswer {
    from: Upstream,
    requested_model: String,
}

impl Front for MessagesAnswer {
    fn answer(&self, stream: bool) -> Box<dyn BodyAdapter> {
        match (self.from, stream) {
            (Upstream::Gemini, true) => Box::new(GeminiStream::new(&self.requested_model)),
            (Upstream::Responses, true) => Box::new(ResponsesStream::new(&self.requested_model)),
            (from, false) => Box::new(JsonAnswer::new(from, &self.requested_model)),
        }
    }

    fn error(&self, status: StatusCode, body: &[u8]) -> (StatusCode, Value) {
        let body = serde_json::from_slice::<Value>(body).unwrap_or_else(|_| {
            let text: String = String::from_utf8_lossy(body).chars().take(500).collect();
            json!({"error": {"message": text}})
        });
        (status, upstream_error(&body, Some(status)))
    }
}
