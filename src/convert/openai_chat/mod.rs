//! OpenAI chat completions served by Claude (Anthropic Messages) and Gemini (generateContent)
//! accounts: the request converted once, the answer (JSON or SSE) converted back, errors and
//! the model list in OpenAI's shapes.
//!
//! Nothing is dropped silently: a field the target cannot express is refused with a
//! [`ConvertError`] naming it (OpenAI's `param`), a 400 in OpenAI's error format.
//!
//! Choices where the formats differ:
//! - `system` / `developer` messages, wherever they stand, form the system prompt in order.
//! - Claude needs `max_tokens`: [`DEFAULT_MAX_TOKENS`] when the client sets none, plus the
//!   thinking budget; a client limit bounds both (OpenAI counts reasoning in it).
//! - `reasoning_effort` → thinking budgets ([`Effort::budget_tokens`]); `none` turns Gemini's
//!   thinking off (budget 0) and leaves Claude's off.
//! - `response_format`: json_schema → Claude `output_config.format`, Gemini
//!   `responseJsonSchema`; json_object → Gemini `responseMimeType` only (Claude refuses it).
//! - Image URLs: Claude fetches them itself (`url` source); Gemini cannot, so they are refused
//!   there (switchyard fetches nothing for a client). `detail: low` is refused.
//! - Gemini pairs tool results with calls by name, found from `tool_call_id`; Gemini 3's thought
//!   signatures ride in the tool call ids (`thought_signature`).
//! - Thinking comes back as `reasoning_content`, the field OpenAI-compatible clients read.
mod chunks;
mod error;
mod events;
mod from_anthropic;
mod from_gemini;
mod json_answer;
mod models;
mod reasons;
mod request;
mod stream_anthropic;
mod stream_gemini;
mod thought_signature;
mod to_anthropic;
mod to_gemini;
mod upstream_error;
mod usage;

#[cfg(test)]
mod round_trip;

pub use error::{ConvertError, ErrorCode};
pub use from_anthropic::anthropic_to_completion;
pub use from_gemini::gemini_to_completion;
pub use json_answer::JsonToCompletion;
pub use models::model_list;
pub use request::{ChatRequest, Effort};
pub use stream_anthropic::AnthropicToChunks;
pub use stream_gemini::GeminiToChunks;
pub use to_anthropic::{DEFAULT_MAX_TOKENS, to_anthropic};
pub use to_gemini::{GeminiCall, to_gemini};
pub use upstream_error::{anthropic_error_to_openai, gemini_error_to_openai};

/// What every converted answer needs from the request: when it was made and what was asked.
#[derive(Debug, Clone)]
pub struct AnswerContext {
    /// Unix seconds, the `created` of the completion.
    pub created: u64,
    /// The model the client asked for, shown only when the upstream does not name its own.
    pub requested_model: String,
    /// `stream_options.include_usage`: a usage chunk before `[DONE]`.
    pub include_usage: bool,
}

/// The chat completions bodies the official openai SDK sent (captured, see the NOTES.md there).
#[cfg(test)]
fn captured_chat_bodies() -> Vec<serde_json::Value> {
    include_str!("../../../tests/fixtures/clients/openai_sdk.jsonl")
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|c| c["path"] == "/v1/chat/completions")
        .map(|c| c["body"].clone())
        .collect()
}
