//! A Gemini generateContent answer as a `chat.completion`.
use super::AnswerContext;
use super::from_anthropic::{assistant_message, completion};
use super::reasons;
use super::thought_signature;
use super::upstream_error::gemini_error_to_openai;
use super::usage::ChatUsage;
use serde_json::{Value, json};

/// The completion, or `Err` with an OpenAI error body when the upstream answered an error.
pub fn gemini_to_completion(body: &[u8], ctx: &AnswerContext) -> Result<Value, Value> {
    let answer: Value = serde_json::from_slice(body).map_err(|_| gemini_error_to_openai(body))?;
    if answer.get("error").is_some() || !answer.is_object() {
        return Err(gemini_error_to_openai(body));
    }
    let response_id = answer["responseId"].as_str().unwrap_or_default();
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut tool_calls = Vec::new();
    let candidate = &answer["candidates"][0];
    for part in candidate["content"]["parts"].as_array().into_iter().flatten() {
        match Piece::of(part) {
            Piece::Thought(t) => reasoning.push_str(t),
            Piece::Text(t) => text.push_str(t),
            Piece::Call(call) => {
                let id = call.id(response_id, tool_calls.len());
                tool_calls.push(json!({"id": id, "type": "function",
                    "function": {"name": call.name, "arguments": call.args}}));
            }
            Piece::Other => {}
        }
    }
    let finish = finish_reason(&answer, !tool_calls.is_empty()).unwrap_or("stop");
    Ok(completion(
        format!("chatcmpl-{response_id}"),
        answer["modelVersion"].as_str().unwrap_or(&ctx.requested_model),
        ctx.created,
        assistant_message(text, reasoning, tool_calls),
        finish,
        ChatUsage::from_gemini(&answer["usageMetadata"]),
    ))
}

/// What one Gemini part is, for the chat answer.
pub(super) enum Piece<'a> {
    Text(&'a str),
    Thought(&'a str),
    Call(FunctionCall<'a>),
    Other,
}

pub(super) struct FunctionCall<'a> {
    pub name: &'a str,
    /// The arguments as the JSON text OpenAI's `arguments` carries.
    pub args: String,
    own_id: Option<&'a str>,
    /// Gemini 3's `thoughtSignature` on the call's part.
    signature: Option<&'a str>,
}

impl FunctionCall<'_> {
    /// Gemini's own call id when it gives one, else one unique within the answer (the client
    /// sends it back as `tool_call_id`, which `to_gemini` turns back into the call's name),
    /// carrying the call's thought signature. `index`: the call's place in the answer.
    pub fn id(&self, response_id: &str, index: usize) -> String {
        let id = match self.own_id {
            Some(id) => id.to_owned(),
            None => format!("call_{response_id}_{index}"),
        };
        thought_signature::carry(id, self.signature)
    }
}

impl<'a> Piece<'a> {
    pub(super) fn of(part: &'a Value) -> Piece<'a> {
        if let Some(call) = part.get("functionCall") {
            let args = match call.get("args") {
                Some(a) if a.is_object() => a.to_string(),
                _ => "{}".to_owned(),
            };
            return Piece::Call(FunctionCall {
                name: call["name"].as_str().unwrap_or_default(),
                args,
                own_id: call["id"].as_str(),
                signature: part["thoughtSignature"].as_str(),
            });
        }
        match (part["text"].as_str(), part["thought"].as_bool() == Some(true)) {
            (Some(t), true) => Piece::Thought(t),
            (Some(t), false) => Piece::Text(t),
            (None, _) => Piece::Other,
        }
    }
}

/// The candidate's finish reason, or content_filter when the prompt itself was blocked.
pub(super) fn finish_reason(answer: &Value, called_tools: bool) -> Option<&'static str> {
    if let Some(reason) = answer["candidates"][0]["finishReason"].as_str() {
        return Some(reasons::from_gemini(reason, called_tools));
    }
    answer["promptFeedback"]["blockReason"]
        .is_string()
        .then_some("content_filter")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> AnswerContext {
        AnswerContext {
            created: 7,
            requested_model: "gemini-2.5-flash".into(),
            include_usage: false,
        }
    }

    #[test]
    fn a_text_answer_with_thoughts_and_cache_becomes_a_completion() {
        let body = br#"{"candidates":[{"content":{"role":"model","parts":[
                {"text":"Let me think.","thought":true},{"text":"Hello"},{"text":" there"}]},
            "finishReason":"STOP","index":0}],
            "usageMetadata":{"promptTokenCount":50,"cachedContentTokenCount":32,"candidatesTokenCount":2,
                "thoughtsTokenCount":9,"totalTokenCount":61},
            "modelVersion":"gemini-2.5-flash-001","responseId":"r1"}"#;
        assert_eq!(
            gemini_to_completion(body, &ctx()).unwrap(),
            json!({"id": "chatcmpl-r1", "object": "chat.completion", "created": 7, "model": "gemini-2.5-flash-001",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello there", "refusal": null,
                    "reasoning_content": "Let me think."}, "logprobs": null, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 50, "completion_tokens": 11, "total_tokens": 61,
                    "prompt_tokens_details": {"cached_tokens": 32},
                    "completion_tokens_details": {"reasoning_tokens": 9}}})
        );
    }

    #[test]
    fn function_calls_become_tool_calls() {
        // Google's generateContent functionCall example.
        let body = br#"{"candidates":[{"content":{"role":"model","parts":[
                {"functionCall":{"name":"find_theaters","args":{"location":"Mountain View, CA","movie":"Barbie"}}}]},
            "finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":5},"responseId":"abc"}"#;
        let c = gemini_to_completion(body, &ctx()).unwrap();
        let choice = &c["choices"][0];
        assert_eq!(choice["finish_reason"], "tool_calls");
        assert_eq!(c["model"], "gemini-2.5-flash");
        let call = &choice["message"]["tool_calls"][0];
        assert_eq!(call["id"], "call_abc_0");
        assert_eq!(call["function"]["name"], "find_theaters");
        let args: Value = serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
        assert_eq!(args, json!({"location": "Mountain View, CA", "movie": "Barbie"}));
    }

    #[test]
    fn a_signed_call_carries_its_signature_in_the_id() {
        let body = br#"{"candidates":[{"content":{"role":"model","parts":[
                {"functionCall":{"name":"f","args":{}},"thoughtSignature":"CiQB0e2K"},
                {"functionCall":{"name":"g"}}]},"finishReason":"STOP"}],"responseId":"r"}"#;
        let c = gemini_to_completion(body, &ctx()).unwrap();
        let calls = &c["choices"][0]["message"]["tool_calls"];
        assert_eq!(calls[0]["id"], "call_r_0.sig.CiQB0e2K");
        assert_eq!(calls[1]["id"], "call_r_1");
        assert_eq!(calls[1]["function"]["arguments"], "{}");
    }

    #[test]
    fn a_blocked_prompt_is_content_filter_and_an_error_is_an_openai_error() {
        let body = br#"{"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":4}}"#;
        let c = gemini_to_completion(body, &ctx()).unwrap();
        assert_eq!(c["choices"][0]["finish_reason"], "content_filter");
        assert_eq!(c["choices"][0]["message"]["content"], "");
        let e = gemini_to_completion(
            br#"{"error":{"code":400,"message":"bad","status":"INVALID_ARGUMENT"}}"#,
            &ctx(),
        )
        .unwrap_err();
        assert_eq!(e["error"]["type"], "invalid_request_error");
    }
}
