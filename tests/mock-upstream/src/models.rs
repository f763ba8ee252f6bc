//! Model listing and lookup (`GET .../models`, `GET .../models/{id}`) in the shape of whichever
//! provider asked: Anthropic (the request has `anthropic-version`), Gemini (it has a Google API
//! key) or OpenAI.

use actix_web::http::StatusCode;
use bytes::Bytes;
use serde::Serialize;

use crate::answer::{Answer, Ctx};
use crate::router::ModelsShape;
use crate::sse;

// The models the recorded clients use (tests/fixtures/clients), so SDK checks like "models.list
// includes the model" pass; any other id still answers on `GET .../models/{id}`.
const ANTHROPIC_MODELS: [(&str, &str); 5] = [
    ("claude-opus-4-8", "Claude Opus 4.8"),
    ("claude-sonnet-5", "Claude Sonnet 5"),
    ("claude-sonnet-4-6", "Claude Sonnet 4.6"),
    ("claude-sonnet-4-5", "Claude Sonnet 4.5"),
    ("claude-haiku-4-5", "Claude Haiku 4.5"),
];
const OPENAI_MODELS: [&str; 4] = ["gpt-5", "gpt-5-codex", "gpt-4o", "gpt-4o-mini"];
const GEMINI_MODELS: [(&str, &str); 5] = [
    ("gemini-3.1-pro-preview", "Gemini 3.1 Pro Preview"),
    ("gemini-3.8-flash", "Gemini 3.8 Flash"),
    ("gemini-3.5-flash-lite", "Gemini 3.5 Flash-Lite"),
    ("gemini-2.5-pro", "Gemini 2.5 Pro"),
    ("gemini-2.5-flash", "Gemini 2.5 Flash"),
];
const CREATED: u64 = 1_700_000_000;

#[derive(Serialize)]
struct AnthropicModel<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    display_name: &'a str,
    created_at: &'static str,
}

#[derive(Serialize)]
struct AnthropicList<'a> {
    data: Vec<AnthropicModel<'a>>,
    has_more: bool,
    first_id: Option<&'a str>,
    last_id: Option<&'a str>,
}

#[derive(Serialize)]
struct OpenAiModel<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    owned_by: &'static str,
}

#[derive(Serialize)]
struct OpenAiList<'a> {
    object: &'static str,
    data: Vec<OpenAiModel<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GeminiModel<'a> {
    name: String,
    version: &'static str,
    display_name: &'a str,
    input_token_limit: u64,
    output_token_limit: u64,
    supported_generation_methods: [&'static str; 3],
}

#[derive(Serialize)]
struct GeminiList<'a> {
    models: Vec<GeminiModel<'a>>,
}

fn anthropic_model<'a>(id: &'a str, display_name: &'a str) -> AnthropicModel<'a> {
    AnthropicModel {
        kind: "model",
        id,
        display_name,
        created_at: "2025-09-29T00:00:00Z",
    }
}

fn openai_model(id: &str) -> OpenAiModel<'_> {
    OpenAiModel {
        id,
        object: "model",
        created: CREATED,
        owned_by: "openai",
    }
}

fn gemini_model<'a>(id: &str, display_name: &'a str) -> GeminiModel<'a> {
    GeminiModel {
        name: format!("models/{id}"),
        version: "001",
        display_name,
        input_token_limit: 1_048_576,
        output_token_limit: 65_536,
        supported_generation_methods: ["generateContent", "streamGenerateContent", "countTokens"],
    }
}

/// `GET .../models`.
pub(crate) fn list(shape: ModelsShape, ctx: &Ctx<'_>) -> Answer {
    let body: Bytes = match shape {
        ModelsShape::Anthropic => sse::json(&AnthropicList {
            data: ANTHROPIC_MODELS
                .iter()
                .map(|(id, name)| anthropic_model(id, name))
                .collect(),
            has_more: false,
            first_id: ANTHROPIC_MODELS.first().map(|(id, _)| *id),
            last_id: ANTHROPIC_MODELS.last().map(|(id, _)| *id),
        }),
        ModelsShape::OpenAi => sse::json(&OpenAiList {
            object: "list",
            data: OPENAI_MODELS.iter().map(|id| openai_model(id)).collect(),
        }),
        ModelsShape::Gemini => sse::json(&GeminiList {
            models: GEMINI_MODELS
                .iter()
                .map(|(id, name)| gemini_model(id, name))
                .collect(),
        }),
    };
    with_request_id(Answer::json(StatusCode::OK, body), shape, ctx)
}

/// `GET .../models/{id}`: any id exists, so tests can use whatever model names they like.
pub(crate) fn get(shape: ModelsShape, id: &str, ctx: &Ctx<'_>) -> Answer {
    let body = match shape {
        ModelsShape::Anthropic => sse::json(&anthropic_model(id, id)),
        ModelsShape::OpenAi => sse::json(&openai_model(id)),
        ModelsShape::Gemini => sse::json(&gemini_model(id.trim_start_matches("models/"), id)),
    };
    with_request_id(Answer::json(StatusCode::OK, body), shape, ctx)
}

fn with_request_id(answer: Answer, shape: ModelsShape, ctx: &Ctx<'_>) -> Answer {
    match shape {
        ModelsShape::Anthropic => answer.request_id("request-id", ctx.n),
        ModelsShape::OpenAi => answer.request_id("x-request-id", ctx.n),
        ModelsShape::Gemini => answer,
    }
}
