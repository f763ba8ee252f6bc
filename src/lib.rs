//! switchyard: a relay that shares a pool of upstream LLM accounts (Claude, Gemini,
//! OpenAI / Codex) behind its own client API keys.
//!
//! The scheduling core lives in the `switchyard-actors` crate; this crate is the server around
//! it: configuration, state backends, HTTP routes, the relay loop and operations.
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]

pub mod admin_token;
pub mod alerts;
pub mod auth;
pub mod backup;
pub mod batch;
pub mod bedrock;
pub mod calendar;
pub mod convert;
pub mod error;
pub mod http;
pub mod import;
pub mod keys;
pub mod limits;
pub mod metrics;
pub mod middleware;
pub mod money;
pub mod oauth;
pub mod pricing;
pub mod relay;
pub mod routes;
pub mod settings;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod traffic;
pub mod upstream;
pub mod usage;
pub mod web;
