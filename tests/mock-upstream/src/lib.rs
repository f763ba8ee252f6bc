//! A local stand-in for the upstream LLM APIs switchyard relays to (Anthropic Messages, OpenAI chat
//! completions and Responses, Gemini and Gemini Code Assist, and their OAuth token endpoints).
//!
//! Tests start one with [`MockUpstream::start`], point the relay's upstream base URLs at
//! [`MockUpstream::url`], and then script what each upstream account (credential) does: succeed
//! with given token counts ([`MockUpstream::set_usage`]), fail once ([`MockUpstream::enqueue`]) or
//! keep failing ([`MockUpstream::set_persistent`]) with any [`Fault`]. Every request is recorded
//! ([`MockUpstream::requests`]) so tests can check what the relay forwarded.
//!
//! ```
//! use mock_upstream::{Fault, MockUpstream, MockUsage};
//!
//! let mock = MockUpstream::start();
//! mock.enqueue("sk-ant-1", Fault::anthropic_error(529, "overloaded_error", "Overloaded"));
//! mock.set_usage("sk-ant-2", MockUsage { cache_read: 1000, ..MockUsage::default() });
//! let base_url = mock.url(); // "http://127.0.0.1:PORT": any path prefix works
//! # assert!(base_url.starts_with("http://127.0.0.1:"));
//! ```
//!
//! The answers follow the providers' wire formats closely enough for the official SDKs and CLIs
//! (see `tests/fixtures/clients/NOTES.md` in the workspace for what their parsers insist on).
//! A prompt whose last message contains `MOCK_TOOL_CALL` (or `MOCK_TOOL_CALL:<tool name>`) gets a
//! tool call back instead of plain text, so clients can be driven through a tool round trip.
//!
//! Amazon Bedrock's Claude runtime API is there too (`/model/{id}/invoke`, streaming with
//! event-stream framing, `/count-tokens`); it verifies SigV4 signatures made with
//! [`BEDROCK_SECRET_ACCESS_KEY`] (see the `bedrock` module).
//!
//! Azure OpenAI's deployment paths and v1 Responses API are there as well: `api-key` or an
//! Entra bearer required, `api-version` required on deployment calls (see the `azure` module).
//!
//! The `mock-upstream` binary serves the same on a port and can be scripted over HTTP through
//! its control API under `/__mock/` (see the `admin` module).

mod admin;
mod answer;
mod anthropic;
mod azure;
mod bedrock;
mod event_stream;
mod faults;
mod gemini;
mod models;
mod oauth;
mod openai_chat;
mod openai_responses;
mod record;
mod reply;
mod router;
mod server;
mod sigv4;
mod sse;
mod state;
mod usage;

pub use bedrock::BEDROCK_SECRET_ACCESS_KEY;
pub use faults::Fault;
pub use record::RecordedRequest;
pub use server::MockUpstream;
pub use usage::MockUsage;
