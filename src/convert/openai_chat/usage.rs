//! Token usage in OpenAI's terms, from Anthropic's and Gemini's counts: prompt tokens include
//! cached ones (OpenAI counts them in, Anthropic counts them apart), completion tokens include
//! reasoning ones.
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChatUsage {
    pub prompt: u64,
    /// Prompt tokens read from a cache.
    pub cached: u64,
    pub completion: u64,
    /// Completion tokens spent thinking, when the upstream says.
    pub reasoning: Option<u64>,
}

fn n(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

impl ChatUsage {
    /// From an Anthropic `usage` object (message, or message_start and message_delta merged).
    pub fn from_anthropic(u: &Value) -> ChatUsage {
        let cached = n(u, "cache_read_input_tokens");
        ChatUsage {
            prompt: n(u, "input_tokens") + cached + n(u, "cache_creation_input_tokens"),
            cached,
            completion: n(u, "output_tokens"),
            reasoning: None,
        }
    }

    /// From a Gemini `usageMetadata` (its prompt count already includes cached content).
    pub fn from_gemini(u: &Value) -> ChatUsage {
        let thoughts = n(u, "thoughtsTokenCount");
        ChatUsage {
            prompt: n(u, "promptTokenCount") + n(u, "toolUsePromptTokenCount"),
            cached: n(u, "cachedContentTokenCount"),
            completion: n(u, "candidatesTokenCount") + thoughts,
            reasoning: Some(thoughts),
        }
    }

    pub fn to_json(self) -> Value {
        let mut v = json!({
            "prompt_tokens": self.prompt,
            "completion_tokens": self.completion,
            "total_tokens": self.prompt + self.completion,
            "prompt_tokens_details": {"cached_tokens": self.cached},
        });
        if let Some(r) = self.reasoning {
            v["completion_tokens_details"] = json!({"reasoning_tokens": r});
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anthropic_prompt_tokens_include_cache_reads_and_writes() {
        let u = ChatUsage::from_anthropic(&json!({"input_tokens": 10, "cache_read_input_tokens": 15205,
            "cache_creation_input_tokens": 87, "output_tokens": 42}));
        assert_eq!(
            u.to_json(),
            json!({"prompt_tokens": 15302, "completion_tokens": 42, "total_tokens": 15344,
                "prompt_tokens_details": {"cached_tokens": 15205}})
        );
    }

    #[test]
    fn gemini_thoughts_are_completion_and_reasoning_tokens() {
        // From Google's generateContent documentation example, with thinking and a cache hit.
        let u = ChatUsage::from_gemini(&json!({"promptTokenCount": 120, "cachedContentTokenCount": 100,
            "candidatesTokenCount": 30, "thoughtsTokenCount": 50, "totalTokenCount": 200}));
        assert_eq!(
            u.to_json(),
            json!({"prompt_tokens": 120, "completion_tokens": 80, "total_tokens": 200,
                "prompt_tokens_details": {"cached_tokens": 100},
                "completion_tokens_details": {"reasoning_tokens": 50}})
        );
    }
}
