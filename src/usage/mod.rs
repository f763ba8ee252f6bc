//! Token usage and cost of relayed requests: what was counted, what it cost, and where it is
//! aggregated (per key, account and model; by hour, day, month and in total).
mod counters;
mod memory;
mod recorder;
mod store;

pub use counters::{Bucket, Dimension, RecentRequest, UsageCounters};
pub use memory::MemoryUsageStore;
pub use recorder::UsageRecorder;
pub use store::{USAGE_BATCH_MEMORY, UsageBatch, UsageDelta, UsageStore};

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

/// One relayed request's usage, handed to the recorder once when the request ends.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// The key's cost multiplier (parts per million; 1 000 000 = ×1).
    pub cost_multiplier_ppm: u32,
    /// The rate-limit window the request was admitted in.
    pub window_start: Option<Millis>,
}
