//! An OpenAI chat completions request read and checked once, so that each target only maps
//! what is already known to be well formed. A field this reader does not know is refused here;
//! a field known but beyond one target is refused by that target's converter.
use super::error::{ConvertError, ErrorCode};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    pub model: String,
    /// `system` and `developer` messages, in order, wherever they stood.
    pub system: Vec<String>,
    pub messages: Vec<Message>,
    pub tools: Vec<Tool>,
    pub tool_choice: Option<ToolChoice>,
    pub parallel_tool_calls: Option<bool>,
    pub stop: Vec<String>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    /// `max_completion_tokens`, else the older `max_tokens`.
    pub max_tokens: Option<u64>,
    pub reasoning_effort: Option<Effort>,
    pub response_format: Option<ResponseFormat>,
    pub stream: bool,
    pub include_usage: bool,
    /// `user`, else `safety_identifier`: who the end user is, for the upstream's abuse checks.
    pub user: Option<String>,
    pub seed: Option<i64>,
    pub presence_penalty: Option<f64>,
    pub frequency_penalty: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    User(Vec<Part>),
    Assistant {
        text: Vec<String>,
        tool_calls: Vec<ToolCall>,
    },
    /// A `tool` role message: the result of the call `call_id`.
    Tool {
        call_id: String,
        text: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Text(String),
    Image { image: Image, param: String },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Image {
    /// From a `data:<media type>;base64,<data>` URL.
    Inline { media_type: String, data: String },
    /// An `http(s)` URL, fetched by the upstream if it can (never by switchyard).
    Url(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// The parsed `function.arguments` (a JSON object).
    pub arguments: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tool {
    pub name: String,
    pub description: Option<String>,
    /// JSON Schema of the arguments; `None` when the client gave none (no arguments).
    pub parameters: Option<Value>,
    pub strict: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolChoice {
    Auto,
    None,
    Required,
    Named(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effort {
    None,
    Minimal,
    Low,
    Medium,
    High,
    XHigh,
}

impl Effort {
    /// Thinking tokens for an effort, `None` for no thinking. The figures are Google's own
    /// mapping for its OpenAI-compatible endpoint (low 1,024, medium 8,192, high 24,576), with
    /// minimal at the smallest budget Anthropic accepts and xhigh at 32,768.
    pub fn budget_tokens(self) -> Option<u64> {
        match self {
            Effort::None => None,
            Effort::Minimal | Effort::Low => Some(1_024),
            Effort::Medium => Some(8_192),
            Effort::High => Some(24_576),
            Effort::XHigh => Some(32_768),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ResponseFormat {
    /// Any JSON object.
    JsonObject,
    /// JSON matching this schema.
    JsonSchema(Value),
}

impl ChatRequest {
    /// What the answer's conversion needs from this request, `created` in unix seconds.
    pub fn answer_context(&self, created: u64) -> super::AnswerContext {
        super::AnswerContext {
            created,
            requested_model: self.model.clone(),
            include_usage: self.stream && self.include_usage,
        }
    }

    /// A request for `model` with nothing in it yet.
    pub fn new(model: String) -> ChatRequest {
        ChatRequest {
            model,
            system: Vec::new(),
            messages: Vec::new(),
            tools: Vec::new(),
            tool_choice: None,
            parallel_tool_calls: None,
            stop: Vec::new(),
            temperature: None,
            top_p: None,
            max_tokens: None,
            reasoning_effort: None,
            response_format: None,
            stream: false,
            include_usage: false,
            user: None,
            seed: None,
            presence_penalty: None,
            frequency_penalty: None,
        }
    }

    pub fn parse(body: &[u8]) -> Result<ChatRequest, ConvertError> {
        let value: Value = serde_json::from_slice(body).map_err(|e| ConvertError::invalid("body", e))?;
        Self::from_value(&value)
    }

    pub fn from_value(body: &Value) -> Result<ChatRequest, ConvertError> {
        let obj = body
            .as_object()
            .ok_or_else(|| ConvertError::invalid("body", "not a JSON object"))?;
        let mut req = ChatRequest::new(String::new());
        for (key, v) in obj.iter().filter(|(_, v)| !v.is_null()) {
            let key = key.as_str();
            match key {
                "model" => req.model = string(v, key)?,
                "messages" => read_messages(v, &mut req)?,
                "stream" => req.stream = boolean(v, key)?,
                "stream_options" => req.include_usage = stream_options(v)?,
                "temperature" => req.temperature = Some(number(v, key)?),
                "top_p" => req.top_p = Some(number(v, key)?),
                "max_completion_tokens" => req.max_tokens = Some(count(v, key)?),
                "max_tokens" if obj.get("max_completion_tokens").is_none_or(Value::is_null) => {
                    req.max_tokens = Some(count(v, key)?)
                }
                "max_tokens" => {}
                "n" if count(v, key)? == 1 => {}
                "n" => {
                    return Err(ConvertError::new(
                        ErrorCode::UnsupportedValue,
                        key,
                        "`n` greater than 1 is not supported: Claude and Gemini accounts return one choice",
                    ));
                }
                "stop" => req.stop = stop(v)?,
                "tools" => req.tools = tools(v)?,
                "tool_choice" => req.tool_choice = Some(tool_choice(v)?),
                "parallel_tool_calls" => req.parallel_tool_calls = Some(boolean(v, key)?),
                "reasoning_effort" => req.reasoning_effort = Some(effort(v)?),
                "response_format" => req.response_format = response_format(v)?,
                "user" => req.user = Some(string(v, key)?),
                "safety_identifier" if req.user.is_none() && !obj.contains_key("user") => {
                    req.user = Some(string(v, key)?)
                }
                "safety_identifier" => {}
                "seed" => {
                    req.seed = Some(
                        v.as_i64()
                            .ok_or_else(|| ConvertError::invalid(key, "not an integer"))?,
                    )
                }
                "presence_penalty" => req.presence_penalty = Some(number(v, key)?),
                "frequency_penalty" => req.frequency_penalty = Some(number(v, key)?),
                // Switches that, at these values, ask for nothing the target would have to do.
                "store" | "logprobs" if !boolean(v, key)? => {}
                "metadata" if v.as_object().is_some_and(Map::is_empty) => {}
                "modalities" if *v == serde_json::json!(["text"]) => {}
                _ => return Err(ConvertError::unsupported(key, "Claude or Gemini")),
            }
        }
        if req.model.is_empty() {
            return Err(ConvertError::missing("model"));
        }
        if req.messages.is_empty() {
            return Err(ConvertError::missing("messages"));
        }
        Ok(req)
    }
}

fn string(v: &Value, param: &str) -> Result<String, ConvertError> {
    v.as_str()
        .map(str::to_owned)
        .ok_or_else(|| ConvertError::invalid(param, "not a string"))
}

fn boolean(v: &Value, param: &str) -> Result<bool, ConvertError> {
    v.as_bool()
        .ok_or_else(|| ConvertError::invalid(param, "not a boolean"))
}

fn number(v: &Value, param: &str) -> Result<f64, ConvertError> {
    v.as_f64()
        .ok_or_else(|| ConvertError::invalid(param, "not a number"))
}

fn count(v: &Value, param: &str) -> Result<u64, ConvertError> {
    v.as_u64()
        .ok_or_else(|| ConvertError::invalid(param, "not a non-negative integer"))
}

fn array<'a>(v: &'a Value, param: &str) -> Result<&'a Vec<Value>, ConvertError> {
    v.as_array()
        .ok_or_else(|| ConvertError::invalid(param, "not an array"))
}

fn object<'a>(v: &'a Value, param: &str) -> Result<&'a Map<String, Value>, ConvertError> {
    v.as_object()
        .ok_or_else(|| ConvertError::invalid(param, "not an object"))
}

/// Refuses any key of `obj` not in `known` (null values count as absent).
fn only_keys(obj: &Map<String, Value>, known: &[&str], path: &str) -> Result<(), ConvertError> {
    match obj
        .iter()
        .find(|(k, v)| !v.is_null() && !known.contains(&k.as_str()))
    {
        Some((k, _)) => Err(ConvertError::unsupported(
            format!("{path}.{k}"),
            "Claude or Gemini",
        )),
        None => Ok(()),
    }
}

fn field<'a>(obj: &'a Map<String, Value>, key: &str, path: &str) -> Result<&'a Value, ConvertError> {
    obj.get(key)
        .filter(|v| !v.is_null())
        .ok_or_else(|| ConvertError::missing(format!("{path}.{key}")))
}

fn stream_options(v: &Value) -> Result<bool, ConvertError> {
    let obj = object(v, "stream_options")?;
    only_keys(obj, &["include_usage"], "stream_options")?;
    match obj.get("include_usage").filter(|v| !v.is_null()) {
        Some(u) => boolean(u, "stream_options.include_usage"),
        None => Ok(false),
    }
}

fn stop(v: &Value) -> Result<Vec<String>, ConvertError> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, s)| string(s, &format!("stop[{i}]")))
            .collect(),
        _ => Err(ConvertError::invalid(
            "stop",
            "not a string or an array of strings",
        )),
    }
}

fn effort(v: &Value) -> Result<Effort, ConvertError> {
    Ok(match v.as_str() {
        Some("none") => Effort::None,
        Some("minimal") => Effort::Minimal,
        Some("low") => Effort::Low,
        Some("medium") => Effort::Medium,
        Some("high") => Effort::High,
        Some("xhigh") => Effort::XHigh,
        _ => {
            return Err(ConvertError::invalid(
                "reasoning_effort",
                "expected none, minimal, low, medium, high or xhigh",
            ));
        }
    })
}

fn response_format(v: &Value) -> Result<Option<ResponseFormat>, ConvertError> {
    let obj = object(v, "response_format")?;
    match obj.get("type").and_then(Value::as_str) {
        Some("text") => Ok(None),
        Some("json_object") => Ok(Some(ResponseFormat::JsonObject)),
        Some("json_schema") => {
            let spec = object(
                field(obj, "json_schema", "response_format")?,
                "response_format.json_schema",
            )?;
            only_keys(
                spec,
                &["name", "description", "schema", "strict"],
                "response_format.json_schema",
            )?;
            let schema = field(spec, "schema", "response_format.json_schema")?;
            Ok(Some(ResponseFormat::JsonSchema(schema.clone())))
        }
        _ => Err(ConvertError::invalid(
            "response_format.type",
            "expected text, json_object or json_schema",
        )),
    }
}

fn tools(v: &Value) -> Result<Vec<Tool>, ConvertError> {
    array(v, "tools")?
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let path = format!("tools[{i}]");
            let obj = object(t, &path)?;
            if obj.get("type").and_then(Value::as_str) != Some("function") {
                return Err(ConvertError::unsupported(
                    format!("{path}.type"),
                    "Claude or Gemini",
                ));
            }
            only_keys(obj, &["type", "function"], &path)?;
            let path = format!("{path}.function");
            let f = object(field(obj, "function", &format!("tools[{i}]"))?, &path)?;
            only_keys(f, &["name", "description", "parameters", "strict"], &path)?;
            let parameters = match f.get("parameters").filter(|p| !p.is_null()) {
                Some(p) if p.is_object() => Some(p.clone()),
                Some(_) => {
                    return Err(ConvertError::invalid(
                        format!("{path}.parameters"),
                        "not a JSON schema object",
                    ));
                }
                None => None,
            };
            Ok(Tool {
                name: string(field(f, "name", &path)?, &format!("{path}.name"))?,
                description: match f.get("description").filter(|d| !d.is_null()) {
                    Some(d) => Some(string(d, &format!("{path}.description"))?),
                    None => None,
                },
                parameters,
                strict: match f.get("strict").filter(|s| !s.is_null()) {
                    Some(s) => boolean(s, &format!("{path}.strict"))?,
                    None => false,
                },
            })
        })
        .collect()
}

fn tool_choice(v: &Value) -> Result<ToolChoice, ConvertError> {
    match v {
        Value::String(s) => match s.as_str() {
            "auto" => Ok(ToolChoice::Auto),
            "none" => Ok(ToolChoice::None),
            "required" => Ok(ToolChoice::Required),
            _ => Err(ConvertError::invalid(
                "tool_choice",
                "expected auto, none or required",
            )),
        },
        Value::Object(obj) if obj.get("type").and_then(Value::as_str) == Some("function") => {
            let f = object(field(obj, "function", "tool_choice")?, "tool_choice.function")?;
            let name = string(
                field(f, "name", "tool_choice.function")?,
                "tool_choice.function.name",
            )?;
            Ok(ToolChoice::Named(name))
        }
        _ => Err(ConvertError::unsupported("tool_choice", "Claude or Gemini")),
    }
}

fn read_messages(v: &Value, req: &mut ChatRequest) -> Result<(), ConvertError> {
    for (i, m) in array(v, "messages")?.iter().enumerate() {
        let path = format!("messages[{i}]");
        let obj = object(m, &path)?;
        let role = field(obj, "role", &path)?.as_str().unwrap_or_default();
        match role {
            "system" | "developer" => {
                only_keys(obj, &["role", "content"], &path)?;
                // An empty system text says nothing (and Anthropic refuses empty blocks).
                let texts = texts(field(obj, "content", &path)?, &path)?;
                req.system.extend(texts.into_iter().filter(|t| !t.is_empty()));
            }
            "user" => {
                only_keys(obj, &["role", "content"], &path)?;
                req.messages
                    .push(Message::User(user_parts(field(obj, "content", &path)?, &path)?));
            }
            "assistant" => {
                only_keys(obj, &["role", "content", "tool_calls"], &path)?;
                let text = match obj.get("content").filter(|c| !c.is_null()) {
                    Some(c) => texts(c, &path)?,
                    None => Vec::new(),
                };
                let tool_calls = match obj.get("tool_calls").filter(|c| !c.is_null()) {
                    Some(c) => tool_calls(c, &format!("{path}.tool_calls"))?,
                    None => Vec::new(),
                };
                req.messages.push(Message::Assistant { text, tool_calls });
            }
            "tool" => {
                only_keys(obj, &["role", "content", "tool_call_id"], &path)?;
                let call_id = string(
                    field(obj, "tool_call_id", &path)?,
                    &format!("{path}.tool_call_id"),
                )?;
                let text = texts(field(obj, "content", &path)?, &path)?;
                req.messages.push(Message::Tool { call_id, text });
            }
            _ => {
                return Err(ConvertError::invalid(
                    format!("{path}.role"),
                    "expected system, developer, user, assistant or tool",
                ));
            }
        }
    }
    Ok(())
}

/// A content that may only hold text: a string, or an array of `text` parts.
fn texts(content: &Value, path: &str) -> Result<Vec<String>, ConvertError> {
    let path = format!("{path}.content");
    match content {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(parts) => parts
            .iter()
            .enumerate()
            .map(|(j, p)| {
                let part_path = format!("{path}[{j}]");
                let obj = object(p, &part_path)?;
                if obj.get("type").and_then(Value::as_str) != Some("text") {
                    return Err(ConvertError::unsupported(
                        format!("{part_path}.type"),
                        "Claude or Gemini",
                    ));
                }
                only_keys(obj, &["type", "text"], &part_path)?;
                string(field(obj, "text", &part_path)?, &format!("{part_path}.text"))
            })
            .collect(),
        _ => Err(ConvertError::invalid(path, "not a string or an array of parts")),
    }
}

fn user_parts(content: &Value, path: &str) -> Result<Vec<Part>, ConvertError> {
    let Value::Array(parts) = content else {
        return texts(content, path).map(|t| t.into_iter().map(Part::Text).collect());
    };
    parts
        .iter()
        .enumerate()
        .map(|(j, p)| {
            let part_path = format!("{path}.content[{j}]");
            let obj = object(p, &part_path)?;
            match obj.get("type").and_then(Value::as_str) {
                Some("text") => {
                    only_keys(obj, &["type", "text"], &part_path)?;
                    Ok(Part::Text(string(
                        field(obj, "text", &part_path)?,
                        &format!("{part_path}.text"),
                    )?))
                }
                Some("image_url") => {
                    only_keys(obj, &["type", "image_url"], &part_path)?;
                    let param = format!("{part_path}.image_url");
                    let image = image(object(field(obj, "image_url", &part_path)?, &param)?, &param)?;
                    Ok(Part::Image { image, param })
                }
                _ => Err(ConvertError::unsupported(
                    format!("{part_path}.type"),
                    "Claude or Gemini",
                )),
            }
        })
        .collect()
}

fn image(obj: &Map<String, Value>, path: &str) -> Result<Image, ConvertError> {
    only_keys(obj, &["url", "detail"], path)?;
    // `detail` picks OpenAI's own resizing; Claude and Gemini size images themselves, which
    // is what `auto` and `high` ask for. `low` would need a smaller image: refused.
    if let Some(detail) = obj.get("detail").filter(|d| !d.is_null()) {
        match detail.as_str() {
            Some("auto" | "high") => {}
            _ => {
                return Err(ConvertError::new(
                    ErrorCode::UnsupportedValue,
                    format!("{path}.detail"),
                    format!("`{path}.detail` can only be auto or high for a Claude or Gemini account"),
                ));
            }
        }
    }
    let url_path = format!("{path}.url");
    let url = string(field(obj, "url", path)?, &url_path)?;
    if let Some(rest) = url.strip_prefix("data:") {
        let (media_type, data) = rest.split_once(";base64,").ok_or_else(|| {
            ConvertError::invalid(&url_path, "a data URL must be base64 (data:<type>;base64,...)")
        })?;
        if !media_type.starts_with("image/") {
            return Err(ConvertError::invalid(&url_path, "the data URL is not an image"));
        }
        return Ok(Image::Inline {
            media_type: media_type.to_owned(),
            data: data.to_owned(),
        });
    }
    if url.starts_with("https://") || url.starts_with("http://") {
        return Ok(Image::Url(url));
    }
    Err(ConvertError::invalid(url_path, "expected a data: or http(s) URL"))
}

fn tool_calls(v: &Value, path: &str) -> Result<Vec<ToolCall>, ConvertError> {
    array(v, path)?
        .iter()
        .enumerate()
        .map(|(k, c)| {
            let path = format!("{path}[{k}]");
            let obj = object(c, &path)?;
            only_keys(obj, &["id", "type", "function"], &path)?;
            if obj
                .get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| t != "function")
            {
                return Err(ConvertError::unsupported(
                    format!("{path}.type"),
                    "Claude or Gemini",
                ));
            }
            let f_path = format!("{path}.function");
            let f = object(field(obj, "function", &path)?, &f_path)?;
            only_keys(f, &["name", "arguments"], &f_path)?;
            let args_path = format!("{f_path}.arguments");
            let raw = string(field(f, "arguments", &f_path)?, &args_path)?;
            let arguments = if raw.trim().is_empty() {
                Map::new()
            } else {
                match serde_json::from_str::<Value>(&raw) {
                    Ok(Value::Object(map)) => map,
                    Ok(_) => return Err(ConvertError::invalid(args_path, "not a JSON object")),
                    Err(e) => return Err(ConvertError::invalid(args_path, e)),
                }
            };
            Ok(ToolCall {
                id: string(field(obj, "id", &path)?, &format!("{path}.id"))?,
                name: string(field(f, "name", &f_path)?, &format!("{f_path}.name"))?,
                arguments,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<ChatRequest, ConvertError> {
        ChatRequest::from_value(&v)
    }

    #[test]
    fn every_captured_openai_sdk_chat_request_is_read() {
        let bodies = crate::convert::openai_chat::captured_chat_bodies();
        for body in &bodies {
            let req = parse(body.clone()).unwrap();
            assert_eq!(req.model, "gpt-4o-mini");
            assert_eq!(req.stream, body["stream"] == true);
            assert_eq!(req.include_usage, body["stream_options"]["include_usage"] == true);
            assert_eq!(req.tools.len(), body["tools"].as_array().map_or(0, Vec::len));
        }
        assert_eq!(bodies.len(), 3);
    }

    #[test]
    fn the_answer_context_asks_for_usage_only_on_a_stream() {
        let bodies = crate::convert::openai_chat::captured_chat_bodies();
        let with_usage = parse(bodies[1].clone()).unwrap().answer_context(9);
        assert!(with_usage.include_usage);
        assert_eq!(
            (with_usage.created, with_usage.requested_model.as_str()),
            (9, "gpt-4o-mini")
        );
        let plain = parse(json!({"model": "m", "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": "hi"}]}))
        .unwrap();
        assert!(!plain.answer_context(9).include_usage);
    }

    #[test]
    fn n_above_one_is_refused_naming_n() {
        let e = parse(json!({"model": "m", "n": 2, "messages": [{"role": "user", "content": "hi"}]}))
            .unwrap_err();
        assert_eq!((e.param.as_str(), e.code), ("n", ErrorCode::UnsupportedValue));
        assert!(
            parse(json!({"model": "m", "n": 1, "messages": [{"role": "user", "content": "hi"}]})).is_ok()
        );
    }

    #[test]
    fn an_unknown_field_is_refused_by_name_never_dropped() {
        let e = parse(json!({"model": "m", "logit_bias": {"50256": -100}, "messages": [{"role": "user", "content": "hi"}]}))
            .unwrap_err();
        assert_eq!(e.param, "logit_bias");
        let e = parse(json!({"model": "m", "messages": [{"role": "user", "content": "hi", "name": "bob"}]}))
            .unwrap_err();
        assert_eq!(e.param, "messages[0].name");
        let e = parse(json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]}))
            .unwrap_err();
        assert_eq!(e.param, "messages[0].content[0].type");
    }

    #[test]
    fn max_completion_tokens_wins_over_max_tokens() {
        let r = parse(
            json!({"model": "m", "max_tokens": 10, "max_completion_tokens": 20,
            "messages": [{"role": "user", "content": "hi"}]}),
        )
        .unwrap();
        assert_eq!(r.max_tokens, Some(20));
        let r =
            parse(json!({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}))
                .unwrap();
        assert_eq!(r.max_tokens, Some(10));
    }

    #[test]
    fn images_are_read_from_data_and_http_urls_only() {
        let msg = |url: &str| {
            json!({"model": "m", "messages": [{"role": "user", "content": [
                {"type": "text", "text": "what is this"},
                {"type": "image_url", "image_url": {"url": url}}]}]})
        };
        let r = parse(msg("data:image/png;base64,iVBORw0KGgo=")).unwrap();
        assert_eq!(
            r.messages[0],
            Message::User(vec![
                Part::Text("what is this".into()),
                Part::Image {
                    image: Image::Inline {
                        media_type: "image/png".into(),
                        data: "iVBORw0KGgo=".into()
                    },
                    param: "messages[0].content[1].image_url".into()
                }
            ])
        );
        let r = parse(msg("https://example.com/cat.jpg")).unwrap();
        assert!(
            matches!(&r.messages[0], Message::User(p) if matches!(&p[1], Part::Image { image: Image::Url(_), .. }))
        );
        let e = parse(msg("file:///etc/passwd")).unwrap_err();
        assert_eq!(e.param, "messages[0].content[1].image_url.url");
        let e = parse(msg("data:text/plain;base64,aGk=")).unwrap_err();
        assert_eq!(e.param, "messages[0].content[1].image_url.url");
    }

    #[test]
    fn tool_call_arguments_must_be_a_json_object() {
        let body = |args: &str| {
            json!({"model": "m", "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": args}}]}]})
        };
        let r = parse(body(r#"{"city":"Paris"}"#)).unwrap();
        let Message::Assistant { tool_calls, .. } = &r.messages[1] else {
            panic!()
        };
        assert_eq!(tool_calls[0].arguments["city"], "Paris");
        let e = parse(body("[1]")).unwrap_err();
        assert_eq!(e.param, "messages[1].tool_calls[0].function.arguments");
        assert!(parse(body("{oops")).is_err());
    }

    #[test]
    fn system_and_developer_messages_become_the_system_prompt_in_order() {
        let r = parse(json!({"model": "m", "messages": [
            {"role": "developer", "content": "a"},
            {"role": "user", "content": "hi"},
            {"role": "system", "content": [{"type": "text", "text": "b"}]}]}))
        .unwrap();
        assert_eq!(r.system, vec!["a", "b"]);
        let r = parse(json!({"model": "m", "messages": [{"role": "system", "content": ""}, {"role": "user", "content": "hi"}]}))
            .unwrap();
        assert!(r.system.is_empty());
        assert_eq!(r.messages.len(), 1);
    }

    #[test]
    fn missing_model_or_messages_is_named() {
        assert_eq!(
            parse(json!({"messages": [{"role": "user", "content": "hi"}]}))
                .unwrap_err()
                .param,
            "model"
        );
        assert_eq!(parse(json!({"model": "m"})).unwrap_err().param, "messages");
        assert_eq!(
            parse(json!({"model": "m", "messages": []})).unwrap_err().param,
            "messages"
        );
    }
}
