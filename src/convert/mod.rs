//! Wire-format conversions between the APIs switchyard fronts and the upstreams serving them.
pub mod anthropic_messages;
