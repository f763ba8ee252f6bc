//! Token counts the mock reports, and how each provider's usage fields are derived from them.

use serde::{Deserialize, Serialize};

/// Token counts the success answers report for one credential.
///
/// The fields are Anthropic's: `input_tokens` is the uncached part of the prompt, the cache
/// fields come on top. OpenAI and Gemini count cached tokens inside the prompt total, so they
/// report `input_tokens + cache_read` as the prompt size and `cache_read` as its cached part
/// (see [`MockUsage::prompt_total`]); the cache-creation counts have no equivalent there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MockUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_creation_5m: u64,
    pub cache_creation_1h: u64,
    pub cache_read: u64,
}

impl Default for MockUsage {
    fn default() -> Self {
        MockUsage {
            input_tokens: 25,
            output_tokens: 12,
            cache_creation_5m: 0,
            cache_creation_1h: 0,
            cache_read: 0,
        }
    }
}

impl MockUsage {
    /// Anthropic's `cache_creation_input_tokens`: both TTLs together.
    pub fn cache_creation(&self) -> u64 {
        self.cache_creation_5m + self.cache_creation_1h
    }

    /// The prompt size as OpenAI (`input_tokens`/`prompt_tokens`) and Gemini
    /// (`promptTokenCount`) report it: cached tokens are part of it.
    pub fn prompt_total(&self) -> u64 {
        self.input_tokens + self.cache_read
    }

    /// OpenAI's and Gemini's `total_tokens`/`totalTokenCount`.
    pub fn total(&self) -> u64 {
        self.prompt_total() + self.output_tokens
    }
}
