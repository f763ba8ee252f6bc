//! Token usage of relayed requests: what was counted, and the sink it is recorded through
//! (exactly once per request).
mod sink;

pub use sink::{MemoryUsage, UsageSink, UsageTotals};

use serde::{Deserialize, Serialize};
use switchyard_actors::clock::Millis;
use switchyard_actors::{AccountId, Platform};

/// Tokens of one request, as the upstream reported them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Cache writes with the 5-minute TTL.
    pub cache_creation_5m_tokens: u64,
    /// Cache writes with the 1-hour TTL.
    pub cache_creation_1h_tokens: u64,
    pub cache_read_tokens: u64,
}

impl TokenUsage {
    pub fn cache_creation_tokens(&self) -> u64 {
        self.cache_creation_5m_tokens + self.cache_creation_1h_tokens
    }

    pub fn total(&self) -> u64 {
        self.input_tokens + self.output_tokens + self.cache_creation_tokens() + self.cache_read_tokens
    }

    pub fn add(&mut self, o: &TokenUsage) {
        self.input_tokens += o.input_tokens;
        self.output_tokens += o.output_tokens;
        self.cache_creation_5m_tokens += o.cache_creation_5m_tokens;
        self.cache_creation_1h_tokens += o.cache_creation_1h_tokens;
        self.cache_read_tokens += o.cache_read_tokens;
    }
}

/// One relayed request's usage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRecord {
    pub key_id: String,
    pub account_id: AccountId,
    pub platform: Platform,
    /// The model the upstream reported (else the requested one).
    pub model: String,
    pub usage: TokenUsage,
    pub at: Millis,
    /// The client went away before the answer ended (usage is what was seen until then).
    pub client_disconnected: bool,
}
