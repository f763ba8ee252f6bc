//! Conversions between the wire formats of the APIs switchyard fronts, as pure functions and
//! stream adapters: a client speaks one format, the account that serves it another.
pub mod anthropic_messages;
pub mod openai_chat;
