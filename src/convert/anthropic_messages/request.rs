//! One checked reading of an Anthropic Messages request: every field is either understood
//! here, or refused with its path. The targets then only decide what they can express.
use super::ConvertError;
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub model: String,
    /// Texts of the top-level `system` (string or text blocks), in order.
    pub system: Vec<String>,
    pub turns: Vec<Turn>,
    pub tools: Vec<Tool>,
    pub tool_choice: Option<ToolChoice>,
    /// `tool_choice.disable_parallel_tool_use`.
    pub one_tool_call: bool,
    pub max_tokens: Option<u64>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub top_k: Option<u64>,
    pub stop_sequences: Vec<String>,
    pub thinking: Thinking,
    /// `output_config.effort`.
    pub effort: Option<Effort>,
    /// `output_config.format.schema`: the answer must be JSON of this schema.
    pub output_schema: Option<Value>,
    /// `metadata.user_id`.
    pub user_id: Option<String>,
    pub stream: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
    /// A system message between turns (Claude Code's beta `mid-conversation-system`).
    System,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    pub role: Role,
    pub blocks: Vec<Block>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Text(String),
    Image(Image),
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
    ToolResult {
        tool_use_id: String,
        content: Vec<ResultPart>,
        is_error: bool,
        /// Path of the block, for a target that cannot express part of it.
        at: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum ResultPart {
    Text(String),
    Image(Image),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    pub source: ImageSource,
    /// Path of the block, for a target that cannot express it.
    pub at: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ImageSource {
    Base64 { media_type: String, data: String },
    Url(String),
}

impl Image {
    /// The image as a URL: `data:` for inline bytes.
    pub fn url(&self) -> String {
        match &self.source {
            ImageSource::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
            ImageSource::Url(url) => url.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tool {
    pub name: String,
    pub description: Option<String>,
    pub schema: Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolChoice {
    Auto,
    /// Some tool must be called.
    Any,
    Tool(String),
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Thinking {
    Off,
    Budget(u64),
    /// The model decides how much to think (`{"type": "adaptive"}`).
    Adaptive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effort {
    Low,
    Medium,
    High,
    Max,
}

impl Effort {
    /// The nearest OpenAI `reasoning.effort` for a thinking budget in tokens.
    pub fn of_budget(tokens: u64) -> Effort {
        match tokens {
            0..4_096 => Effort::Low,
            4_096..16_384 => Effort::Medium,
            _ => Effort::High,
        }
    }

    /// OpenAI's word (`xhigh` is its level above high, where a model has it).
    pub fn openai(self) -> &'static str {
        match self {
            Effort::Low => "low",
            Effort::Medium => "medium",
            Effort::High => "high",
            Effort::Max => "xhigh",
        }
    }
}

impl Request {
    pub fn parse(body: &Value) -> Result<Request, ConvertError> {
        let obj = body
            .as_object()
            .ok_or_else(|| ConvertError::request("body", "must be a JSON object"))?;
        for key in obj.keys() {
            if !KNOWN_FIELDS.contains(&key.as_str()) {
                return Err(ConvertError::request(key, "is not supported on this upstream"));
            }
        }
        let (tool_choice, one_tool_call) = tool_choice(obj.get("tool_choice"))?;
        let (effort, output_schema) = output_config(obj.get("output_config"))?;
        context_management(obj.get("context_management"))?;
        Ok(Request {
            model: string(obj.get("model"), "model")?,
            system: system(obj.get("system"))?,
            turns: turns(obj.get("messages"))?,
            tools: tools(obj.get("tools"))?,
            tool_choice,
            one_tool_call,
            max_tokens: opt_u64(obj.get("max_tokens"), "max_tokens")?,
            temperature: opt_f64(obj.get("temperature"), "temperature")?,
            top_p: opt_f64(obj.get("top_p"), "top_p")?,
            top_k: opt_u64(obj.get("top_k"), "top_k")?,
            stop_sequences: stop_sequences(obj.get("stop_sequences"))?,
            thinking: thinking(obj.get("thinking"))?,
            effort,
            output_schema,
            user_id: user_id(obj.get("metadata"))?,
            stream: obj.get("stream").and_then(Value::as_bool).unwrap_or(false),
        })
    }

    /// Tool names by `tool_use` id, for targets that answer a call by name (Gemini).
    pub fn tool_names(&self) -> std::collections::HashMap<&str, &str> {
        self.turns
            .iter()
            .flat_map(|t| &t.blocks)
            .filter_map(|b| match b {
                Block::ToolUse { id, name, .. } => Some((id.as_str(), name.as_str())),
                _ => None,
            })
            .collect()
    }
}

/// `service_tier` is a scheduling wish with no effect on the answer; the others are read below.
const KNOWN_FIELDS: &[&str] = &[
    "model",
    "messages",
    "system",
    "tools",
    "tool_choice",
    "metadata",
    "max_tokens",
    "temperature",
    "top_p",
    "top_k",
    "stop_sequences",
    "stream",
    "thinking",
    "context_management",
    "output_config",
    "service_tier",
];

fn string(v: Option<&Value>, at: &str) -> Result<String, ConvertError> {
    v.and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| ConvertError::request(at, "must be a string"))
}

fn opt_u64(v: Option<&Value>, at: &str) -> Result<Option<u64>, ConvertError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| ConvertError::request(at, "must be a non-negative integer")),
    }
}

fn opt_f64(v: Option<&Value>, at: &str) -> Result<Option<f64>, ConvertError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .map(Some)
            .ok_or_else(|| ConvertError::request(at, "must be a number")),
    }
}

fn object<'a>(v: &'a Value, at: &str) -> Result<&'a Map<String, Value>, ConvertError> {
    v.as_object()
        .ok_or_else(|| ConvertError::request(at, "must be an object"))
}

fn block_type<'a>(block: &'a Map<String, Value>, at: &str) -> Result<&'a str, ConvertError> {
    block
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| ConvertError::request(format!("{at}.type"), "must be a string"))
}

/// Text of a string or of an array of text blocks (`cache_control` on them is Anthropic's
/// prompt-cache marker; Gemini and OpenAI cache prefixes on their own, so it has no target).
fn texts(v: &Value, at: &str) -> Result<Vec<String>, ConvertError> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(blocks) => blocks
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let at = format!("{at}[{i}]");
                let b = object(b, &at)?;
                match block_type(b, &at)? {
                    "text" => string(b.get("text"), &format!("{at}.text")),
                    other => Err(ConvertError::request(
                        format!("{at}.type"),
                        format!("`{other}` blocks are not supported here; only text"),
                    )),
                }
            })
            .collect(),
        _ => Err(ConvertError::request(
            at,
            "must be a string or an array of text blocks",
        )),
    }
}

fn system(v: Option<&Value>) -> Result<Vec<String>, ConvertError> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(v) => texts(v, "system"),
    }
}

fn turns(v: Option<&Value>) -> Result<Vec<Turn>, ConvertError> {
    let messages = v
        .and_then(Value::as_array)
        .ok_or_else(|| ConvertError::request("messages", "must be an array"))?;
    messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let at = format!("messages[{i}]");
            let m = object(m, &at)?;
            let role = match m.get("role").and_then(Value::as_str) {
                Some("user") => Role::User,
                Some("assistant") => Role::Assistant,
                Some("system") => Role::System,
                _ => {
                    return Err(ConvertError::request(
                        format!("{at}.role"),
                        "must be user, assistant or system",
                    ));
                }
            };
            let content = m
                .get("content")
                .ok_or_else(|| ConvertError::request(format!("{at}.content"), "is missing"))?;
            let blocks = if role == Role::System {
                texts(content, &format!("{at}.content"))?
                    .into_iter()
                    .map(Block::Text)
                    .collect()
            } else {
                blocks(content, &format!("{at}.content"))?
            };
            Ok(Turn { role, blocks })
        })
        .collect()
}

fn blocks(content: &Value, at: &str) -> Result<Vec<Block>, ConvertError> {
    let list = match content {
        Value::String(s) => return Ok(vec![Block::Text(s.clone())]),
        Value::Array(list) => list,
        _ => {
            return Err(ConvertError::request(
                at,
                "must be a string or an array of blocks",
            ));
        }
    };
    let mut out = Vec::with_capacity(list.len());
    for (j, b) in list.iter().enumerate() {
        let at = format!("{at}[{j}]");
        let b = object(b, &at)?;
        match block_type(b, &at)? {
            // `citations` on an earlier answer's text point into Anthropic-side documents.
            "text" => out.push(Block::Text(string(b.get("text"), &format!("{at}.text"))?)),
            "image" => out.push(Block::Image(image(b, &at)?)),
            "tool_use" => out.push(Block::ToolUse {
                id: string(b.get("id"), &format!("{at}.id"))?,
                name: string(b.get("name"), &format!("{at}.name"))?,
                input: b
                    .get("input")
                    .cloned()
                    .unwrap_or_else(|| Value::Object(Map::new())),
            }),
            "tool_result" => out.push(Block::ToolResult {
                tool_use_id: string(b.get("tool_use_id"), &format!("{at}.tool_use_id"))?,
                content: result_parts(b.get("content"), &format!("{at}.content"))?,
                is_error: b.get("is_error").and_then(Value::as_bool).unwrap_or(false),
                at: at.clone(),
            }),
            // An earlier turn's reasoning. Its `signature` is Anthropic's seal over it, which no
            // other upstream can check, and none of them takes another model's reasoning back
            // as its own (OpenAI only its encrypted items, Gemini only its thought signatures);
            // sent as text it would read as something the assistant said. So it is left out,
            // as Anthropic itself does with thinking from earlier turns.
            "thinking" | "redacted_thinking" => {}
            other => {
                return Err(ConvertError::request(
                    format!("{at}.type"),
                    format!("`{other}` blocks are not supported on this upstream"),
                ));
            }
        }
    }
    Ok(out)
}

fn image(b: &Map<String, Value>, at: &str) -> Result<Image, ConvertError> {
    let src_at = format!("{at}.source");
    let src = object(b.get("source").unwrap_or(&Value::Null), &src_at)?;
    let source = match block_type(src, &src_at)? {
        "base64" => ImageSource::Base64 {
            media_type: string(src.get("media_type"), &format!("{src_at}.media_type"))?,
            data: string(src.get("data"), &format!("{src_at}.data"))?,
        },
        "url" => ImageSource::Url(string(src.get("url"), &format!("{src_at}.url"))?),
        other => {
            return Err(ConvertError::request(
                format!("{src_at}.type"),
                format!("`{other}` image sources are not supported on this upstream; use base64 or url"),
            ));
        }
    };
    Ok(Image {
        source,
        at: at.to_owned(),
    })
}

fn result_parts(v: Option<&Value>, at: &str) -> Result<Vec<ResultPart>, ConvertError> {
    let list = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::String(s)) => return Ok(vec![ResultPart::Text(s.clone())]),
        Some(Value::Array(list)) => list,
        Some(_) => {
            return Err(ConvertError::request(
                at,
                "must be a string or an array of blocks",
            ));
        }
    };
    list.iter()
        .enumerate()
        .map(|(k, b)| {
            let at = format!("{at}[{k}]");
            let b = object(b, &at)?;
            match block_type(b, &at)? {
                "text" => Ok(ResultPart::Text(string(b.get("text"), &format!("{at}.text"))?)),
                "image" => Ok(ResultPart::Image(image(b, &at)?)),
                other => Err(ConvertError::request(
                    format!("{at}.type"),
                    format!("`{other}` blocks in a tool result are not supported on this upstream"),
                )),
            }
        })
        .collect()
}

fn tools(v: Option<&Value>) -> Result<Vec<Tool>, ConvertError> {
    let Some(list) = v.filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .ok_or_else(|| ConvertError::request("tools", "must be an array"))?;
    list.iter()
        .enumerate()
        .map(|(i, t)| {
            let at = format!("tools[{i}]");
            let t = object(t, &at)?;
            // Anthropic's own server tools (web search, bash, text editor ...) run on its side.
            if let Some(kind) = t.get("type").and_then(Value::as_str).filter(|k| *k != "custom") {
                return Err(ConvertError::request(
                    format!("{at}.type"),
                    format!("the server tool `{kind}` exists only on Anthropic"),
                ));
            }
            let schema = t
                .get("input_schema")
                .filter(|s| s.is_object())
                .cloned()
                .ok_or_else(|| {
                    ConvertError::request(format!("{at}.input_schema"), "must be a JSON schema object")
                })?;
            Ok(Tool {
                name: string(t.get("name"), &format!("{at}.name"))?,
                description: t.get("description").and_then(Value::as_str).map(str::to_owned),
                schema,
            })
        })
        .collect()
}

fn tool_choice(v: Option<&Value>) -> Result<(Option<ToolChoice>, bool), ConvertError> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok((None, false));
    };
    let c = object(v, "tool_choice")?;
    let choice = match block_type(c, "tool_choice")? {
        "auto" => ToolChoice::Auto,
        "any" => ToolChoice::Any,
        "none" => ToolChoice::None,
        "tool" => ToolChoice::Tool(string(c.get("name"), "tool_choice.name")?),
        _ => {
            return Err(ConvertError::request(
                "tool_choice.type",
                "must be auto, any, tool or none",
            ));
        }
    };
    let one = c
        .get("disable_parallel_tool_use")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Ok((Some(choice), one))
}

fn stop_sequences(v: Option<&Value>) -> Result<Vec<String>, ConvertError> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(list)) => list
            .iter()
            .enumerate()
            .map(|(i, s)| string(Some(s), &format!("stop_sequences[{i}]")))
            .collect(),
        Some(_) => Err(ConvertError::request(
            "stop_sequences",
            "must be an array of strings",
        )),
    }
}

fn thinking(v: Option<&Value>) -> Result<Thinking, ConvertError> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(Thinking::Off);
    };
    let t = object(v, "thinking")?;
    match block_type(t, "thinking")? {
        "disabled" => Ok(Thinking::Off),
        "adaptive" => Ok(Thinking::Adaptive),
        "enabled" => Ok(Thinking::Budget(
            opt_u64(t.get("budget_tokens"), "thinking.budget_tokens")?
                .ok_or_else(|| ConvertError::request("thinking.budget_tokens", "is required"))?,
        )),
        _ => Err(ConvertError::request(
            "thinking.type",
            "must be enabled, adaptive or disabled",
        )),
    }
}

fn output_config(v: Option<&Value>) -> Result<(Option<Effort>, Option<Value>), ConvertError> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok((None, None));
    };
    let c = object(v, "output_config")?;
    let mut effort = None;
    let mut schema = None;
    for (key, value) in c {
        match key.as_str() {
            "effort" => {
                effort = Some(match value.as_str() {
                    Some("low") => Effort::Low,
                    Some("medium") => Effort::Medium,
                    Some("high") => Effort::High,
                    Some("max") => Effort::Max,
                    _ => {
                        return Err(ConvertError::request(
                            "output_config.effort",
                            "must be low, medium, high or max",
                        ));
                    }
                })
            }
            "format" if value.is_null() => {}
            "format" => {
                let f = object(value, "output_config.format")?;
                if block_type(f, "output_config.format")? != "json_schema" {
                    return Err(ConvertError::request(
                        "output_config.format.type",
                        "only json_schema is supported",
                    ));
                }
                schema = Some(
                    f.get("schema")
                        .filter(|s| s.is_object())
                        .cloned()
                        .ok_or_else(|| {
                            ConvertError::request("output_config.format.schema", "must be an object")
                        })?,
                );
            }
            other => {
                return Err(ConvertError::request(
                    format!("output_config.{other}"),
                    "is not supported on this upstream",
                ));
            }
        }
    }
    Ok((effort, schema))
}

/// Context editing that clears earlier thinking is what every conversion does anyway (thinking
/// from history is never sent on); clearing tool results would change the conversation.
fn context_management(v: Option<&Value>) -> Result<(), ConvertError> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(());
    };
    let c = object(v, "context_management")?;
    let edits = c
        .get("edits")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for (i, e) in edits.iter().enumerate() {
        let at = format!("context_management.edits[{i}]");
        let kind = block_type(object(e, &at)?, &at)?;
        if !kind.starts_with("clear_thinking_") {
            return Err(ConvertError::request(
                format!("{at}.type"),
                format!("`{kind}` context editing exists only on Anthropic"),
            ));
        }
    }
    Ok(())
}

/// `metadata.user_id`; Anthropic's metadata has no other field.
fn user_id(v: Option<&Value>) -> Result<Option<String>, ConvertError> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let m = object(v, "metadata")?;
    if let Some(other) = m.keys().find(|k| *k != "user_id") {
        return Err(ConvertError::request(
            format!("metadata.{other}"),
            "is not a metadata field",
        ));
    }
    match m.get("user_id") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => string(Some(v), "metadata.user_id").map(Some),
    }
}
