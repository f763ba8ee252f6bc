//! Why a generation stopped, in OpenAI's `finish_reason` words.

/// Anthropic `stop_reason` → `finish_reason`.
pub fn from_anthropic(stop_reason: &str) -> &'static str {
    match stop_reason {
        "max_tokens" | "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        // end_turn, stop_sequence, pause_turn: the turn ended normally.
        _ => "stop",
    }
}

/// Gemini `finishReason` → `finish_reason`; a turn that called functions ends in tool_calls.
pub fn from_gemini(finish_reason: &str, called_tools: bool) -> &'static str {
    match finish_reason {
        "MAX_TOKENS" => "length",
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => {
            "content_filter"
        }
        _ if called_tools => "tool_calls",
        _ => "stop",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anthropic_reasons_map_as_openai_clients_expect() {
        let got: Vec<_> = ["end_turn", "max_tokens", "tool_use", "stop_sequence", "refusal"]
            .into_iter()
            .map(from_anthropic)
            .collect();
        assert_eq!(got, ["stop", "length", "tool_calls", "stop", "content_filter"]);
    }

    #[test]
    fn gemini_reasons_map_and_function_calls_win_over_stop() {
        assert_eq!(from_gemini("STOP", false), "stop");
        assert_eq!(from_gemini("STOP", true), "tool_calls");
        assert_eq!(from_gemini("MAX_TOKENS", true), "length");
        assert_eq!(from_gemini("SAFETY", false), "content_filter");
    }
}
