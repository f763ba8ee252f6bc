//! One module per upstream kind; each is listed once, in `upstream::registry`.
pub mod azure_openai;
pub mod bedrock;
pub mod ccr;
pub mod claude_console;
pub mod claude_oauth;
pub mod codex_oauth;
pub mod gemini_api;
pub mod gemini_code_assist;
pub mod openai_responses;
