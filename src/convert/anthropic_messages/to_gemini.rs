//! Anthropic Messages request → Gemini `generateContent` body (the model and `alt=sse` go in
//! the URL, so `Converted` carries them beside the body).
use super::request::{Block, Effort, Image, ImageSource, Request, ResultPart, Role, Thinking, ToolChoice};
use super::{ConvertError, Converted};
use serde_json::{Map, Value, json};

/// Gemini checks that a function call in the history carries the thought signature it issued;
/// calls made by another model (or converted from Anthropic) have none, and this is the value
/// Google documents for history it did not write.
const FOREIGN_THOUGHT_SIGNATURE: &str = "skip_thought_signature_validator";

pub fn convert(req: &Request) -> Result<Converted, ConvertError> {
    let mut body = Map::new();
    let names = req.tool_names();
    let mut system: Vec<Value> = req.system.iter().map(|t| json!({ "text": t })).collect();
    let mut contents: Vec<(&str, Vec<Value>)> = Vec::new();
    for turn in &req.turns {
        let role = match turn.role {
            Role::User => "user",
            Role::Assistant => "model",
            // Gemini has no system turn inside `contents`: a system message between turns is
            // still an instruction, so it joins `systemInstruction`.
            Role::System => {
                system.extend(turn.blocks.iter().filter_map(|b| match b {
                    Block::Text(t) => Some(json!({ "text": t })),
                    _ => None,
                }));
                continue;
            }
        };
        let mut parts = Vec::with_capacity(turn.blocks.len());
        for block in &turn.blocks {
            match block {
                Block::Text(t) => parts.push(json!({ "text": t })),
                Block::Image(img) => parts.push(image(img)?),
                Block::ToolUse { name, input, .. } => parts.push(json!({
                    "functionCall": { "name": name, "args": input },
                    "thoughtSignature": FOREIGN_THOUGHT_SIGNATURE,
                })),
                Block::ToolResult {
                    tool_use_id,
                    content,
                    is_error,
                    at,
                } => {
                    let name = names.get(tool_use_id.as_str()).ok_or_else(|| {
                        ConvertError::request(
                            format!("{at}.tool_use_id"),
                            "names no tool_use earlier in the conversation (Gemini answers a call by its name)",
                        )
                    })?;
                    let text = result_text(content);
                    // Gemini's convention: `output` for a result, `error` for a failure.
                    let response = if *is_error {
                        json!({ "error": text })
                    } else {
                        json!({ "output": text })
                    };
                    parts.push(json!({ "functionResponse": { "name": name, "response": response } }));
                    // Images a tool returned follow its response in the same turn.
                    for part in content {
                        if let ResultPart::Image(img) = part {
                            parts.push(image(img)?);
                        }
                    }
                }
            }
        }
        // A turn of only earlier thinking has nothing left; Gemini refuses empty parts and
        // wants turns to alternate, so neighbours of one role are joined.
        match contents.last_mut() {
            _ if parts.is_empty() => {}
            Some((last, prev)) if *last == role => prev.extend(parts),
            _ => contents.push((role, parts)),
        }
    }
    body.insert(
        "contents".into(),
        contents
            .into_iter()
            .map(|(role, parts)| json!({ "role": role, "parts": parts }))
            .collect(),
    );
    if !system.is_empty() {
        body.insert("systemInstruction".into(), json!({ "parts": system }));
    }
    if !req.tools.is_empty() {
        let declarations: Vec<Value> = req
            .tools
            .iter()
            .map(|t| {
                // `parametersJsonSchema` takes JSON Schema as is (`parameters` is an OpenAPI
                // subset that rejects `$schema`, `additionalProperties` and more).
                let mut d = json!({ "name": t.name, "parametersJsonSchema": t.schema });
                if let Some(desc) = &t.description {
                    d["description"] = json!(desc);
                }
                d
            })
            .collect();
        body.insert("tools".into(), json!([{ "functionDeclarations": declarations }]));
    }
    if req.one_tool_call {
        return Err(ConvertError::request(
            "tool_choice.disable_parallel_tool_use",
            "Gemini cannot be limited to one tool call per answer",
        ));
    }
    if let Some(choice) = &req.tool_choice {
        let config = match choice {
            ToolChoice::Auto => json!({ "mode": "AUTO" }),
            ToolChoice::Any => json!({ "mode": "ANY" }),
            ToolChoice::None => json!({ "mode": "NONE" }),
            ToolChoice::Tool(name) => json!({ "mode": "ANY", "allowedFunctionNames": [name] }),
        };
        body.insert("toolConfig".into(), json!({ "functionCallingConfig": config }));
    }
    let generation = generation_config(req);
    if !generation.is_empty() {
        body.insert("generationConfig".into(), Value::Object(generation));
    }
    // `metadata.user_id` identifies the end user for Anthropic's abuse checks; the Gemini API
    // has no such field, and it changes nothing in the answer.
    Ok(Converted {
        body: Value::Object(body),
        model: req.model.clone(),
        stream: req.stream,
    })
}

fn generation_config(req: &Request) -> Map<String, Value> {
    let mut g = Map::new();
    if let Some(n) = req.max_tokens {
        g.insert("maxOutputTokens".into(), json!(n));
    }
    if let Some(t) = req.temperature {
        g.insert("temperature".into(), json!(t));
    }
    if let Some(p) = req.top_p {
        g.insert("topP".into(), json!(p));
    }
    if let Some(k) = req.top_k {
        g.insert("topK".into(), json!(k));
    }
    if !req.stop_sequences.is_empty() {
        g.insert("stopSequences".into(), json!(req.stop_sequences));
    }
    if let Some(schema) = &req.output_schema {
        g.insert("responseMimeType".into(), json!("application/json"));
        g.insert("responseJsonSchema".into(), schema.clone());
    }
    // Gemini takes a budget or a level, never both: an explicit budget wins.
    let thinking = match (req.thinking, req.effort) {
        (Thinking::Off, None) => None,
        (Thinking::Budget(n), _) => Some(json!({ "includeThoughts": true, "thinkingBudget": n })),
        (_, Some(effort)) => Some(json!({ "includeThoughts": true, "thinkingLevel": level(effort) })),
        // -1: the model sizes its thinking itself, as adaptive thinking does.
        (Thinking::Adaptive, None) => Some(json!({ "includeThoughts": true, "thinkingBudget": -1 })),
    };
    if let Some(t) = thinking {
        g.insert("thinkingConfig".into(), t);
    }
    g
}

/// Gemini's thinking levels; it has none above HIGH.
fn level(effort: Effort) -> &'static str {
    match effort {
        Effort::Low => "LOW",
        Effort::Medium => "MEDIUM",
        Effort::High | Effort::Max => "HIGH",
    }
}

fn result_text(content: &[ResultPart]) -> String {
    let texts: Vec<&str> = content
        .iter()
        .filter_map(|p| match p {
            ResultPart::Text(t) => Some(t.as_str()),
            ResultPart::Image(_) => None,
        })
        .collect();
    texts.join("\n")
}

fn image(img: &Image) -> Result<Value, ConvertError> {
    match &img.source {
        ImageSource::Base64 { media_type, data } => {
            Ok(json!({ "inlineData": { "mimeType": media_type, "data": data } }))
        }
        ImageSource::Url(url) => {
            let mime = mime_of_url(url).ok_or_else(|| {
                ConvertError::request(
                    format!("{}.source.url", img.at),
                    "Gemini needs the image type: use a URL ending in .png, .jpg, .jpeg, .gif or .webp, or a base64 source",
                )
            })?;
            Ok(json!({ "fileData": { "mimeType": mime, "fileUri": url } }))
        }
    }
}

fn mime_of_url(url: &str) -> Option<&'static str> {
    let path = url.split(['?', '#']).next()?.to_ascii_lowercase();
    let ext = path.rsplit('.').next()?;
    match ext {
        "png" => Some("image/png"),
        "jpg" | "jpeg" => Some("image/jpeg"),
        "gif" => Some("image/gif"),
        "webp" => Some("image/webp"),
        _ => None,
    }
}
