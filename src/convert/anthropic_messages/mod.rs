//! Anthropic Messages on Gemini and OpenAI accounts: the client's request to the upstream's
//! body (`to_gemini`, `to_responses`, `to_chat`, all from one checked reading in `request`),
//! the upstream's JSON answer back to an Anthropic message (`answer`) and its event stream to
//! Anthropic SSE (`stream_gemini`, `stream_responses`, written by `events`).
pub mod answer;
pub mod error;
pub mod events;
pub mod request;
pub mod stream_gemini;
pub mod stream_responses;
pub mod to_chat;
pub mod to_gemini;
pub mod to_responses;
mod upstream_sse;

#[cfg(test)]
mod tests;

pub use error::ConvertError;
pub use request::Request;

/// An upstream body ready to send, with what the caller needs besides it.
#[derive(Debug, Clone, PartialEq)]
pub struct Converted {
    pub body: serde_json::Value,
    /// The model the client asked for (Gemini takes it in the URL, not the body).
    pub model: String,
    pub stream: bool,
}
