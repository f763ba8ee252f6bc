//! What the mock answers, whatever the provider: a short text, a tool call when the last message
//! asks for one with `MOCK_TOOL_CALL[:<tool name>]`, or JSON matching the requested schema when
//! the request asks for structured output (Gemini CLI's model router cannot work without it).

use std::borrow::Cow;

use serde_json::{Map, Value};

/// The plain reply, in the pieces a stream sends as separate deltas.
const REPLY_PIECES: [&str; 3] = ["MOCK_OK", " hello from", " the mock upstream."];
pub(crate) const REPLY_TEXT: &str = "MOCK_OK hello from the mock upstream.";
/// The text that comes before a tool call.
pub(crate) const TOOL_PREAMBLE: &str = "MOCK_OK calling a tool.";
pub(crate) const THINKING_TEXT: &str = "Mock thinking about the request.";
const MARKER: &str = "MOCK_TOOL_CALL";

/// Where a request keeps its messages and tools.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// `messages[].content`, `tools[].{name, input_schema}`.
    Anthropic,
    /// `messages[].content`, `tools[].function.{name, parameters}`.
    OpenAiChat,
    /// `input` (a string or items), `tools[].{name, parameters}`.
    OpenAiResponses,
    /// `contents[].parts`, `tools[].functionDeclarations[]`.
    Gemini,
    /// Gemini's request wrapped as `{"request": {...}}`.
    CodeAssist,
}

/// A tool call the mock makes: the tool's name and arguments built from its schema.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ToolCall {
    pub name: String,
    pub input: Value,
}

impl ToolCall {
    /// The arguments as a JSON string (OpenAI carries them that way).
    pub fn arguments(&self) -> String {
        self.input.to_string()
    }
}

/// The content of one answer.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Reply {
    text: Cow<'static, str>,
    /// Whether `text` is the plain reply, streamed as [`REPLY_PIECES`].
    plain: bool,
    pub tool_call: Option<ToolCall>,
}

impl Reply {
    /// Decides the answer to `body`. `structured` is `Some` when the request asks for JSON
    /// output, with the schema if it gave one.
    pub fn for_request(body: &[u8], dialect: Dialect, structured: Option<Option<&Value>>) -> Reply {
        if let Some(tool_call) = requested_tool_call(body, dialect) {
            return Reply {
                text: Cow::Borrowed(TOOL_PREAMBLE),
                plain: false,
                tool_call: Some(tool_call),
            };
        }
        match structured {
            Some(schema) => {
                let value = match schema {
                    Some(schema) => sample(schema, Fill::AllProperties),
                    None => Value::Object(Map::from_iter([("reply".to_owned(), Value::from(REPLY_TEXT))])),
                };
                Reply {
                    text: Cow::Owned(value.to_string()),
                    plain: false,
                    tool_call: None,
                }
            }
            None => Reply {
                text: Cow::Borrowed(REPLY_TEXT),
                plain: true,
                tool_call: None,
            },
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The text as a stream sends it: the plain reply in a few deltas, anything else (JSON that
    /// must stay parseable as a whole, the tool preamble) in one.
    pub fn pieces(&self) -> impl Iterator<Item = &str> {
        let (split, whole) = if self.plain {
            (&REPLY_PIECES[..], None)
        } else {
            (&[][..], Some(self.text()))
        };
        split.iter().copied().chain(whole)
    }
}

/// The tool call the request's last message asks for, if any. Only a body that contains the
/// marker at all is parsed, so ordinary requests cost a substring search.
fn requested_tool_call(body: &[u8], dialect: Dialect) -> Option<ToolCall> {
    memchr::memmem::find(body, MARKER.as_bytes())?;
    let value: Value = serde_json::from_slice(body).ok()?;
    let root = match dialect {
        Dialect::CodeAssist => value.get("request")?,
        _ => &value,
    };
    let text = last_message_text(root, dialect)?;
    let after = &text[text.find(MARKER)? + MARKER.len()..];
    let wanted = after
        .strip_prefix(':')
        .and_then(|rest| rest.split(char::is_whitespace).next())
        .filter(|name| !name.is_empty());
    let tools = tools(root);
    let (name, schema) = match wanted {
        Some(wanted) => tools
            .into_iter()
            .find(|(name, _)| *name == wanted)
            .unwrap_or((wanted, None)),
        None => tools.into_iter().next()?,
    };
    let input = schema.map_or_else(|| Value::Object(Map::new()), |s| sample(s, Fill::Required));
    Some(ToolCall {
        name: name.to_owned(),
        input,
    })
}

/// The text of the request's last message (a tool result has none, so the turn after a tool
/// call gets a plain answer).
fn last_message_text(root: &Value, dialect: Dialect) -> Option<String> {
    let (list, content_key) = match dialect {
        Dialect::Anthropic | Dialect::OpenAiChat => (root.get("messages")?, "content"),
        Dialect::OpenAiResponses => (root.get("input")?, "content"),
        Dialect::Gemini | Dialect::CodeAssist => (root.get("contents")?, "parts"),
    };
    if let Some(text) = list.as_str() {
        return Some(text.to_owned());
    }
    let last = list.as_array()?.last()?;
    let mut text = String::new();
    collect_text(last.get(content_key)?, &mut text);
    Some(text)
}

/// Appends the text of a message content: a string, or text parts of a list.
fn collect_text(content: &Value, out: &mut String) {
    match content {
        Value::String(s) => out.push_str(s),
        Value::Array(parts) => {
            for part in parts {
                match part {
                    Value::String(s) => out.push_str(s),
                    _ => {
                        if let Some(s) = part.get("text").and_then(Value::as_str) {
                            out.push_str(s);
                        }
                    }
                }
                out.push('\n');
            }
        }
        _ => {}
    }
}

/// The request's tools as (name, argument schema), whatever the dialect.
fn tools(root: &Value) -> Vec<(&str, Option<&Value>)> {
    let mut found = Vec::new();
    let Some(list) = root.get("tools").and_then(Value::as_array) else {
        return found;
    };
    for tool in list {
        // Gemini accepts snake_case field names too, and google-genai sends some that way.
        let declarations = tool
            .get("functionDeclarations")
            .or_else(|| tool.get("function_declarations"));
        if let Some(decls) = declarations.and_then(Value::as_array) {
            for decl in decls {
                if let Some(name) = decl.get("name").and_then(Value::as_str) {
                    let schema = ["parameters", "parametersJsonSchema", "parameters_json_schema"]
                        .into_iter()
                        .find_map(|key| decl.get(key));
                    found.push((name, schema));
                }
            }
            continue;
        }
        let tool = tool.get("function").unwrap_or(tool);
        if let Some(name) = tool.get("name").and_then(Value::as_str) {
            found.push((name, tool.get("input_schema").or_else(|| tool.get("parameters"))));
        }
    }
    found
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Fill {
    /// Tool arguments: only the required properties (all when none are marked required).
    Required,
    /// Structured output: every property.
    AllProperties,
}

/// A plausible value for a JSON schema (also Gemini's upper-case OpenAPI variant).
fn sample(schema: &Value, fill: Fill) -> Value {
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(first) = schema.get(key).and_then(Value::as_array).and_then(|v| v.first()) {
            return sample(first, fill);
        }
    }
    let kind = match schema.get("type") {
        Some(Value::String(t)) => t.to_ascii_lowercase(),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| !t.eq_ignore_ascii_case("null"))
            .unwrap_or("null")
            .to_ascii_lowercase(),
        _ if schema.get("properties").is_some() => "object".to_owned(),
        _ => "string".to_owned(),
    };
    match kind.as_str() {
        "object" => sample_object(schema, fill),
        "array" => match schema.get("items") {
            Some(items) if items.is_object() => Value::Array(vec![sample(items, fill)]),
            _ => Value::Array(Vec::new()),
        },
        "integer" => Value::from(1),
        "number" => Value::from(1.0),
        "boolean" => Value::Bool(false),
        "null" => Value::Null,
        _ => Value::from("mock"),
    }
}

fn sample_object(schema: &Value, fill: Fill) -> Value {
    let mut object = Map::new();
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return Value::Object(object);
    };
    let required: Vec<&str> = match schema.get("required").and_then(Value::as_array) {
        Some(names) if fill == Fill::Required => names.iter().filter_map(Value::as_str).collect(),
        _ => properties.keys().map(String::as_str).collect(),
    };
    for (name, property) in properties {
        if required.contains(&name.as_str()) {
            object.insert(name.clone(), sample(property, fill));
        }
    }
    Value::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reply(body: Value, dialect: Dialect) -> Reply {
        Reply::for_request(body.to_string().as_bytes(), dialect, None)
    }

    #[test]
    fn plain_reply_streams_in_pieces() {
        let r = reply(
            json!({"messages": [{"role": "user", "content": "hi"}]}),
            Dialect::Anthropic,
        );
        assert_eq!(r.pieces().collect::<String>(), REPLY_TEXT);
        assert!(r.pieces().count() > 1);
        assert_eq!(r.tool_call, None);
    }

    #[test]
    fn named_tool_call_with_required_arguments() {
        let body = json!({
            "messages": [{"role": "user", "content": [{"type": "text", "text": "MOCK_TOOL_CALL:Read the note"}]}],
            "tools": [
                {"name": "Bash", "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}},
                {"name": "Read", "input_schema": {"type": "object",
                    "properties": {"file_path": {"type": "string"}, "limit": {"type": "integer"}},
                    "required": ["file_path"]}}
            ]
        });
        let r = reply(body, Dialect::Anthropic);
        assert_eq!(r.text(), TOOL_PREAMBLE);
        assert_eq!(
            r.tool_call,
            Some(ToolCall {
                name: "Read".into(),
                input: json!({"file_path": "mock"})
            })
        );
    }

    #[test]
    fn first_tool_when_unnamed_in_each_dialect() {
        let chat = json!({"messages": [{"role": "user", "content": "MOCK_TOOL_CALL Paris"}],
            "tools": [{"type": "function", "function": {"name": "get_weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]});
        let gemini = json!({"contents": [{"role": "user", "parts": [{"text": "MOCK_TOOL_CALL Paris"}]}],
            "tools": [{"functionDeclarations": [{"name": "get_weather",
                "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}, "required": ["city"]}}]}]});
        let responses = json!({"input": "MOCK_TOOL_CALL Paris",
            "tools": [{"type": "function", "name": "get_weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]});
        for (body, dialect) in [
            (chat, Dialect::OpenAiChat),
            (gemini, Dialect::Gemini),
            (responses, Dialect::OpenAiResponses),
        ] {
            let call = reply(body, dialect).tool_call.expect("tool call");
            assert_eq!(call.name, "get_weather");
            assert_eq!(call.input, json!({"city": "mock"}));
        }
    }

    #[test]
    fn tool_result_turn_gets_plain_text() {
        let body = json!({"messages": [
            {"role": "user", "content": "MOCK_TOOL_CALL:Read"},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "file"}]}
        ], "tools": [{"name": "Read"}]});
        assert_eq!(reply(body, Dialect::Anthropic).tool_call, None);
    }

    #[test]
    fn structured_output_follows_the_schema() {
        let schema = json!({"type": "OBJECT", "properties": {
            "complexity_reasoning": {"type": "STRING"},
            "complexity_score": {"type": "INTEGER"},
            "next_speaker": {"type": "string", "enum": ["user", "model"]},
            "tags": {"type": "ARRAY", "items": {"type": "STRING"}}
        }, "required": ["complexity_score"]});
        let r = Reply::for_request(b"{}", Dialect::Gemini, Some(Some(&schema)));
        let parsed: Value = serde_json::from_str(r.text()).expect("valid JSON");
        assert_eq!(
            parsed,
            json!({"complexity_reasoning": "mock", "complexity_score": 1, "next_speaker": "user", "tags": ["mock"]})
        );
        assert_eq!(r.pieces().count(), 1);
        let any = Reply::for_request(b"{}", Dialect::Gemini, Some(None));
        assert!(serde_json::from_str::<Value>(any.text()).is_ok());
    }
}
