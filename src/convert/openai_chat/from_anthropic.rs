//! An Anthropic message answer as a `chat.completion`.
use super::AnswerContext;
use super::reasons;
use super::upstream_error::{anthropic_error_to_openai, error};
use super::usage::ChatUsage;
use serde_json::{Value, json};

/// The completion, or `Err` with an OpenAI error body when the upstream answered an error (or
/// something that is not a message).
pub fn anthropic_to_completion(body: &[u8], ctx: &AnswerContext) -> Result<Value, Value> {
    let msg: Value = serde_json::from_slice(body).map_err(|_| anthropic_error_to_openai(body))?;
    if msg["type"] != "message" {
        return Err(if msg["type"] == "error" {
            anthropic_error_to_openai(body)
        } else {
            error(
                "The upstream answer is not a message".into(),
                "server_error",
                "upstream_malformed",
            )
        });
    }
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut tool_calls = Vec::new();
    for block in msg["content"].as_array().into_iter().flatten() {
        match block["type"].as_str() {
            Some("text") => text.push_str(block["text"].as_str().unwrap_or_default()),
            Some("thinking") => reasoning.push_str(block["thinking"].as_str().unwrap_or_default()),
            Some("tool_use") => tool_calls.push(json!({
                "id": block["id"], "type": "function",
                "function": {"name": block["name"], "arguments": block["input"].to_string()},
            })),
            _ => {}
        }
    }
    let finish = reasons::from_anthropic(msg["stop_reason"].as_str().unwrap_or("end_turn"));
    let message = assistant_message(text, reasoning, tool_calls);
    Ok(completion(
        format!("chatcmpl-{}", msg["id"].as_str().unwrap_or_default()),
        msg["model"].as_str().unwrap_or(&ctx.requested_model),
        ctx.created,
        message,
        finish,
        ChatUsage::from_anthropic(&msg["usage"]),
    ))
}

/// `choices[0].message`: content is null when the turn only called tools.
pub(super) fn assistant_message(text: String, reasoning: String, tool_calls: Vec<Value>) -> Value {
    let content = if text.is_empty() && !tool_calls.is_empty() {
        Value::Null
    } else {
        json!(text)
    };
    let mut message = json!({"role": "assistant", "content": content, "refusal": null});
    if !reasoning.is_empty() {
        message["reasoning_content"] = json!(reasoning);
    }
    if !tool_calls.is_empty() {
        message["tool_calls"] = Value::Array(tool_calls);
    }
    message
}

pub(super) fn completion(
    id: String,
    model: &str,
    created: u64,
    message: Value,
    finish: &str,
    usage: ChatUsage,
) -> Value {
    json!({
        "id": id, "object": "chat.completion", "created": created, "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
        "usage": usage.to_json(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> AnswerContext {
        AnswerContext {
            created: 1_700_000_000,
            requested_model: "claude-sonnet-4-5".into(),
            include_usage: false,
        }
    }

    #[test]
    fn a_text_answer_becomes_a_completion_with_cached_prompt_tokens() {
        // The shape of Anthropic's documented Messages answer.
        let body = br#"{"id":"msg_013Zva2CMHLNnXjNJJKqJ2EF","type":"message","role":"assistant",
            "model":"claude-sonnet-4-5-20250929","content":[{"type":"text","text":"Hi! My name is Claude."}],
            "stop_reason":"end_turn","stop_sequence":null,
            "usage":{"input_tokens":2095,"output_tokens":503,"cache_read_input_tokens":1000,"cache_creation_input_tokens":5}}"#;
        let c = anthropic_to_completion(body, &ctx()).unwrap();
        assert_eq!(
            c,
            json!({"id": "chatcmpl-msg_013Zva2CMHLNnXjNJJKqJ2EF", "object": "chat.completion",
                "created": 1_700_000_000u64, "model": "claude-sonnet-4-5-20250929",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi! My name is Claude.", "refusal": null},
                    "logprobs": null, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 3100, "completion_tokens": 503, "total_tokens": 3603,
                    "prompt_tokens_details": {"cached_tokens": 1000}}})
        );
    }

    #[test]
    fn tool_use_becomes_tool_calls_with_json_string_arguments() {
        let body = br#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-x",
            "content":[{"type":"thinking","thinking":"need weather","signature":"sig"},
                {"type":"tool_use","id":"toolu_01A","name":"get_weather","input":{"city":"Paris"}}],
            "stop_reason":"tool_use","usage":{"input_tokens":10,"output_tokens":20}}"#;
        let c = anthropic_to_completion(body, &ctx()).unwrap();
        let choice = &c["choices"][0];
        assert_eq!(choice["finish_reason"], "tool_calls");
        assert_eq!(choice["message"]["content"], Value::Null);
        assert_eq!(choice["message"]["reasoning_content"], "need weather");
        assert_eq!(
            choice["message"]["tool_calls"],
            json!([{"id": "toolu_01A", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}])
        );
    }

    #[test]
    fn max_tokens_is_length_and_an_error_answer_is_an_openai_error() {
        let body = br#"{"id":"m","type":"message","model":"c","content":[{"type":"text","text":"cut"}],
            "stop_reason":"max_tokens","usage":{"input_tokens":1,"output_tokens":1}}"#;
        assert_eq!(
            anthropic_to_completion(body, &ctx()).unwrap()["choices"][0]["finish_reason"],
            "length"
        );
        let err = anthropic_to_completion(
            br#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#,
            &ctx(),
        )
        .unwrap_err();
        assert_eq!(err["error"]["type"], "rate_limit_error");
        assert!(anthropic_to_completion(b"<html>", &ctx()).is_err());
    }
}
