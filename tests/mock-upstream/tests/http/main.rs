//! The mock's wire formats and faults, checked over real HTTP.

mod anthropic;
mod azure;
mod bedrock;
mod common;
mod control;
mod faults;
mod gemini;
mod openai;
