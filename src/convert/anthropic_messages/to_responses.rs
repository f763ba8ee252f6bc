//! Anthropic Messages request → OpenAI Responses body (`POST /v1/responses`).
use super::request::{Block, Effort, Request, ResultPart, Role, Thinking, ToolChoice};
use super::{ConvertError, Converted};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

pub fn convert(req: &Request) -> Result<Converted, ConvertError> {
    if req.top_k.is_some() {
        return Err(ConvertError::request("top_k", "OpenAI Responses has no top_k"));
    }
    if !req.stop_sequences.is_empty() {
        return Err(ConvertError::request(
            "stop_sequences",
            "OpenAI Responses has no stop sequences",
        ));
    }
    let mut body = Map::new();
    body.insert("model".into(), json!(req.model));
    if !req.system.is_empty() {
        body.insert("instructions".into(), json!(req.system.join("\n\n")));
    }
    body.insert("input".into(), Value::Array(input(req)?));
    if !req.tools.is_empty() {
        let tools: Vec<Value> = req
            .tools
            .iter()
            .map(|t| {
                // Not strict: strict mode demands every property be required and no extras,
                // which Anthropic tool schemas do not promise.
                json!({
                    "type": "function",
                    "name": t.name,
                    "description": t.description,
                    "parameters": t.schema,
                    "strict": false,
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
            ToolChoice::Tool(name) => json!({ "type": "function", "name": name }),
        };
        body.insert("tool_choice".into(), choice);
    }
    if req.one_tool_call {
        body.insert("parallel_tool_calls".into(), json!(false));
    }
    if let Some(effort) = effort(req) {
        // A summary is what comes back as Anthropic `thinking`; OpenAI keeps the rest hidden.
        body.insert(
            "reasoning".into(),
            json!({ "effort": effort.openai(), "summary": "auto" }),
        );
    }
    if let Some(n) = req.max_tokens {
        body.insert("max_output_tokens".into(), json!(n));
    }
    if let Some(t) = req.temperature {
        body.insert("temperature".into(), json!(t));
    }
    if let Some(p) = req.top_p {
        body.insert("top_p".into(), json!(p));
    }
    if let Some(schema) = &req.output_schema {
        body.insert(
            "text".into(),
            json!({ "format": { "type": "json_schema", "name": "output", "schema": schema } }),
        );
    }
    if let Some(id) = req.user_id.as_deref() {
        body.insert("safety_identifier".into(), json!(safety_identifier(id)));
    }
    body.insert("stream".into(), json!(req.stream));
    // Anthropic keeps no conversation state and every request carries the whole history, so
    // nothing is left stored on OpenAI's side.
    body.insert("store".into(), json!(false));
    Ok(Converted {
        body: Value::Object(body),
        model: req.model.clone(),
        stream: req.stream,
    })
}

/// The reasoning effort asked for: `output_config.effort` when given, else one sized from the
/// thinking budget; adaptive thinking alone leaves it to the model.
pub(super) fn effort(req: &Request) -> Option<Effort> {
    match (req.effort, req.thinking) {
        (Some(e), _) => Some(e),
        (None, Thinking::Budget(n)) => Some(Effort::of_budget(n)),
        (None, Thinking::Adaptive | Thinking::Off) => None,
    }
}

/// OpenAI wants a stable id of at most 64 characters, not the raw user id (Claude Code's is a
/// JSON document of about 150).
pub(super) fn safety_identifier(user_id: &str) -> String {
    hex::encode(Sha256::digest(user_id.as_bytes()))
}

/// A tool result's text. OpenAI has no error flag on a result, so a failure says so in words.
pub(super) fn result_text(content: &[ResultPart], is_error: bool) -> String {
    let text = content
        .iter()
        .filter_map(|p| match p {
            ResultPart::Text(t) => Some(t.as_str()),
            ResultPart::Image(_) => None,
        })
        .collect::<Vec<_>>()
        .join("\n");
    if is_error { format!("Error: {text}") } else { text }
}

fn input(req: &Request) -> Result<Vec<Value>, ConvertError> {
    let mut items = Vec::new();
    for turn in &req.turns {
        let (role, text_type) = match turn.role {
            Role::User => ("user", "input_text"),
            Role::Assistant => ("assistant", "output_text"),
            Role::System => ("system", "input_text"),
        };
        // Message parts gather until a call or a result interrupts them, keeping the order.
        let mut parts: Vec<Value> = Vec::new();
        let flush = |parts: &mut Vec<Value>, items: &mut Vec<Value>| {
            if !parts.is_empty() {
                items.push(json!({ "type": "message", "role": role, "content": std::mem::take(parts) }));
            }
        };
        for block in &turn.blocks {
            match block {
                Block::Text(t) => parts.push(json!({ "type": text_type, "text": t })),
                Block::Image(img) if turn.role == Role::User => {
                    parts.push(json!({ "type": "input_image", "image_url": img.url(), "detail": "auto" }))
                }
                Block::Image(img) => {
                    return Err(ConvertError::request(
                        &img.at,
                        "OpenAI Responses takes images only in user messages",
                    ));
                }
                Block::ToolUse { id, name, input } => {
                    flush(&mut parts, &mut items);
                    items.push(json!({
                        "type": "function_call",
                        "call_id": id,
                        "name": name,
                        "arguments": input.to_string(),
                    }));
                }
                Block::ToolResult {
                    tool_use_id,
                    content,
                    is_error,
                    ..
                } => {
                    flush(&mut parts, &mut items);
                    items.push(json!({
                        "type": "function_call_output",
                        "call_id": tool_use_id,
                        "output": result_output(content, *is_error),
                    }));
                }
            }
        }
        flush(&mut parts, &mut items);
    }
    Ok(items)
}

/// A plain string, or a list of text and image parts when the tool returned images.
fn result_output(content: &[ResultPart], is_error: bool) -> Value {
    if !content.iter().any(|p| matches!(p, ResultPart::Image(_))) {
        return json!(result_text(content, is_error));
    }
    let mut parts = Vec::with_capacity(content.len() + 1);
    if is_error {
        parts.push(json!({ "type": "input_text", "text": "Error:" }));
    }
    parts.extend(content.iter().map(|p| match p {
        ResultPart::Text(t) => json!({ "type": "input_text", "text": t }),
        ResultPart::Image(img) => json!({ "type": "input_image", "image_url": img.url(), "detail": "auto" }),
    }));
    Value::Array(parts)
}
