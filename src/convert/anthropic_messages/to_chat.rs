//! Anthropic Messages request → OpenAI chat completions body (Azure chat deployments).
use super::request::{Block, Request, Role, ToolChoice};
use super::to_responses::{effort, result_text, safety_identifier};
use super::{ConvertError, Converted};
use serde_json::{Map, Value, json};

/// Chat completions accepts at most this many stop sequences.
const MAX_STOP_SEQUENCES: usize = 4;

pub fn convert(req: &Request) -> Result<Converted, ConvertError> {
    if req.top_k.is_some() {
        return Err(ConvertError::request(
            "top_k",
            "OpenAI chat completions has no top_k",
        ));
    }
    if req.stop_sequences.len() > MAX_STOP_SEQUENCES {
        return Err(ConvertError::request(
            "stop_sequences",
            format!("OpenAI chat completions takes at most {MAX_STOP_SEQUENCES} stop sequences"),
        ));
    }
    let mut body = Map::new();
    body.insert("model".into(), json!(req.model));
    let mut messages = Vec::new();
    if !req.system.is_empty() {
        messages.push(json!({ "role": "system", "content": req.system.join("\n\n") }));
    }
    for turn in &req.turns {
        messages.extend(turn_messages(turn.role, &turn.blocks)?);
    }
    body.insert("messages".into(), Value::Array(messages));
    if !req.tools.is_empty() {
        let tools: Vec<Value> = req
            .tools
            .iter()
            .map(|t| {
                json!({
                    "type": "function",
                    "function": { "name": t.name, "description": t.description, "parameters": t.schema },
                })
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    if let Some(choice) = &req.tool_choice {
        let choice = match choice {
            ToolChoice::Auto => json!("auto"),
            ToolChoice::Any => json!("required"),
            ToolChoice::None => json!("none"),
            ToolChoice::Tool(name) => json!({ "type": "function", "function": { "name": name } }),
        };
        body.insert("tool_choice".into(), choice);
    }
    if req.one_tool_call {
        body.insert("parallel_tool_calls".into(), json!(false));
    }
    if let Some(e) = effort(req) {
        body.insert("reasoning_effort".into(), json!(e.openai()));
    }
    if let Some(n) = req.max_tokens {
        body.insert("max_completion_tokens".into(), json!(n));
    }
    if let Some(t) = req.temperature {
        body.insert("temperature".into(), json!(t));
    }
    if let Some(p) = req.top_p {
        body.insert("top_p".into(), json!(p));
    }
    if !req.stop_sequences.is_empty() {
        body.insert("stop".into(), json!(req.stop_sequences));
    }
    if let Some(schema) = &req.output_schema {
        body.insert(
            "response_format".into(),
            json!({ "type": "json_schema", "json_schema": { "name": "output", "schema": schema } }),
        );
    }
    if let Some(id) = req.user_id.as_deref() {
        body.insert("safety_identifier".into(), json!(safety_identifier(id)));
    }
    body.insert("stream".into(), json!(req.stream));
    if req.stream {
        // Anthropic's stream ends with the usage; chat sends it only when asked.
        body.insert("stream_options".into(), json!({ "include_usage": true }));
    }
    Ok(Converted {
        body: Value::Object(body),
        model: req.model.clone(),
        stream: req.stream,
    })
}

/// One Anthropic turn as chat messages: tool results become `tool` messages (which must
/// follow the assistant's calls directly), the rest one message of the turn's role.
fn turn_messages(role: Role, blocks: &[Block]) -> Result<Vec<Value>, ConvertError> {
    let mut out = Vec::new();
    let mut parts = Vec::new();
    let mut calls = Vec::new();
    for block in blocks {
        match block {
            Block::Text(t) => parts.push(json!({ "type": "text", "text": t })),
            Block::Image(img) if role == Role::User => {
                parts.push(json!({ "type": "image_url", "image_url": { "url": img.url() } }))
            }
            Block::Image(img) => {
                return Err(ConvertError::request(
                    &img.at,
                    "OpenAI chat completions takes images only in user messages",
                ));
            }
            Block::ToolUse { id, name, input } => calls.push(json!({
                "id": id,
                "type": "function",
                "function": { "name": name, "arguments": input.to_string() },
            })),
            Block::ToolResult {
                tool_use_id,
                content,
                is_error,
                at,
            } => {
                if content
                    .iter()
                    .any(|p| matches!(p, super::request::ResultPart::Image(_)))
                {
                    return Err(ConvertError::request(
                        format!("{at}.content"),
                        "OpenAI chat completions takes only text in a tool result",
                    ));
                }
                out.push(json!({
                    "role": "tool",
                    "tool_call_id": tool_use_id,
                    "content": result_text(content, *is_error),
                }));
            }
        }
    }
    let role = match role {
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::System => "system",
    };
    if role == "assistant" {
        // The assistant's text is plain content; its calls ride on the same message.
        let text: Vec<&str> = parts.iter().filter_map(|p| p["text"].as_str()).collect();
        if !text.is_empty() || !calls.is_empty() {
            let mut m = json!({ "role": "assistant", "content": (!text.is_empty()).then(|| text.concat()) });
            if !calls.is_empty() {
                m["tool_calls"] = Value::Array(calls);
            }
            out.push(m);
        }
    } else if !parts.is_empty() {
        out.push(json!({ "role": role, "content": parts }));
    }
    Ok(out)
}
