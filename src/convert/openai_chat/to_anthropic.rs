//! A chat completions request as an Anthropic Messages body.
use super::error::{ConvertError, ErrorCode};
use super::request::{ChatRequest, Image, Message, Part, ResponseFormat, ToolChoice};
use serde_json::{Map, Value, json};

/// `max_tokens` when the client sets no limit: Anthropic requires one, OpenAI does not. 8,192
/// is the largest output every current Claude model accepts; a thinking budget comes on top.
pub const DEFAULT_MAX_TOKENS: u64 = 8_192;

/// The smallest `thinking.budget_tokens` Anthropic accepts.
const MIN_THINKING_BUDGET: u64 = 1_024;

const TARGET: &str = "Claude";

pub fn to_anthropic(req: &ChatRequest) -> Result<Value, ConvertError> {
    refuse_what_claude_lacks(req)?;
    let mut body = Map::new();
    body.insert("model".into(), json!(req.model));
    body.insert("messages".into(), Value::Array(messages(&req.messages)));
    if !req.system.is_empty() {
        let blocks: Vec<Value> = req
            .system
            .iter()
            .map(|t| json!({"type": "text", "text": t}))
            .collect();
        body.insert("system".into(), Value::Array(blocks));
    }
    let (max_tokens, thinking) = budget(req)?;
    body.insert("max_tokens".into(), json!(max_tokens));
    if let Some(budget) = thinking {
        body.insert(
            "thinking".into(),
            json!({"type": "enabled", "budget_tokens": budget}),
        );
    }
    if req.stream {
        body.insert("stream".into(), json!(true));
    }
    if let Some(t) = req.temperature {
        body.insert("temperature".into(), json!(t));
    }
    if let Some(p) = req.top_p {
        body.insert("top_p".into(), json!(p));
    }
    if !req.stop.is_empty() {
        body.insert("stop_sequences".into(), json!(req.stop));
    }
    if !req.tools.is_empty() {
        body.insert("tools".into(), Value::Array(req.tools.iter().map(tool).collect()));
    }
    if let Some(choice) = tool_choice(req) {
        body.insert("tool_choice".into(), choice);
    }
    if let Some(ResponseFormat::JsonSchema(schema)) = &req.response_format {
        body.insert(
            "output_config".into(),
            json!({"format": {"type": "json_schema", "schema": schema}}),
        );
    }
    if let Some(user) = &req.user {
        body.insert("metadata".into(), json!({"user_id": user}));
    }
    Ok(Value::Object(body))
}

fn refuse_what_claude_lacks(req: &ChatRequest) -> Result<(), ConvertError> {
    if req.seed.is_some() {
        return Err(ConvertError::unsupported("seed", TARGET));
    }
    // Zero is the default: asking for it asks for nothing.
    if req.presence_penalty.is_some_and(|p| p != 0.0) {
        return Err(ConvertError::unsupported("presence_penalty", TARGET));
    }
    if req.frequency_penalty.is_some_and(|p| p != 0.0) {
        return Err(ConvertError::unsupported("frequency_penalty", TARGET));
    }
    if req.reasoning_effort.and_then(|e| e.budget_tokens()).is_some() {
        refuse_what_thinking_excludes(req)?;
    }
    if req.response_format == Some(ResponseFormat::JsonObject) {
        return Err(ConvertError::new(
            ErrorCode::UnsupportedValue,
            "response_format.type",
            "`response_format` json_object cannot be honoured by a Claude account (it only \
             constrains output to a schema): use json_schema",
        ));
    }
    Ok(())
}

/// Claude thinks only at temperature 1, with top_p of at least 0.95, and not when a tool call is
/// forced: a request that asks for both is refused here, naming the field.
fn refuse_what_thinking_excludes(req: &ChatRequest) -> Result<(), ConvertError> {
    let conflict = |param: &str, what: &str| {
        ConvertError::new(
            ErrorCode::UnsupportedValue,
            param,
            format!("`{param}` {what} cannot be combined with `reasoning_effort` on a Claude account"),
        )
    };
    if req.temperature.is_some_and(|t| t != 1.0) {
        return Err(conflict("temperature", "other than 1"));
    }
    if req.top_p.is_some_and(|p| p < 0.95) {
        return Err(conflict("top_p", "below 0.95"));
    }
    if matches!(req.tool_choice, Some(ToolChoice::Required | ToolChoice::Named(_))) {
        return Err(conflict("tool_choice", "forcing a tool call"));
    }
    Ok(())
}

/// `max_tokens` and the thinking budget. OpenAI's limit counts reasoning tokens too, so a
/// client limit bounds both; without one the budget is added to the default.
fn budget(req: &ChatRequest) -> Result<(u64, Option<u64>), ConvertError> {
    let thinking = req.reasoning_effort.and_then(|e| e.budget_tokens());
    match (req.max_tokens, thinking) {
        (limit, None) => Ok((limit.unwrap_or(DEFAULT_MAX_TOKENS), None)),
        (None, Some(b)) => Ok((DEFAULT_MAX_TOKENS + b, Some(b))),
        (Some(limit), Some(b)) => {
            let b = b.min(limit.saturating_sub(1));
            if b < MIN_THINKING_BUDGET {
                return Err(ConvertError::new(
                    ErrorCode::UnsupportedValue,
                    "reasoning_effort",
                    format!(
                        "`reasoning_effort` needs at least {MIN_THINKING_BUDGET} thinking tokens on a Claude \
                         account, more than the token limit {limit} leaves"
                    ),
                ));
            }
            Ok((limit, Some(b)))
        }
    }
}

fn tool(t: &super::request::Tool) -> Value {
    let mut out = Map::new();
    out.insert("name".into(), json!(t.name));
    if let Some(d) = &t.description {
        out.insert("description".into(), json!(d));
    }
    let schema = t
        .parameters
        .clone()
        .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
    out.insert("input_schema".into(), schema);
    if t.strict {
        out.insert("strict".into(), json!(true));
    }
    Value::Object(out)
}

fn tool_choice(req: &ChatRequest) -> Option<Value> {
    let serial_only = req.parallel_tool_calls == Some(false);
    let mut choice = match &req.tool_choice {
        None if !serial_only || req.tools.is_empty() => return None,
        None | Some(ToolChoice::Auto) => json!({"type": "auto"}),
        // No tool will be called, so there is nothing to run in parallel.
        Some(ToolChoice::None) => return Some(json!({"type": "none"})),
        Some(ToolChoice::Required) => json!({"type": "any"}),
        Some(ToolChoice::Named(name)) => json!({"type": "tool", "name": name}),
    };
    if serial_only {
        choice["disable_parallel_tool_use"] = json!(true);
    }
    Some(choice)
}

/// Messages with their roles in Anthropic's terms; consecutive turns of one role are merged,
/// so parallel tool results land in one user turn, ahead of any text that follows them.
fn messages(msgs: &[Message]) -> Vec<Value> {
    let mut out: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for m in msgs {
        let (role, blocks) = match m {
            Message::User(parts) => ("user", parts.iter().map(part).collect()),
            Message::Assistant { text, tool_calls } => {
                let texts = text
                    .iter()
                    .filter(|t| !t.is_empty())
                    .map(|t| json!({"type": "text", "text": t}));
                let calls = tool_calls
                    .iter()
                    .map(|c| json!({"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}));
                ("assistant", texts.chain(calls).collect::<Vec<_>>())
            }
            Message::Tool { call_id, text } => {
                let content = match text.as_slice() {
                    [one] => json!(one),
                    many => Value::Array(many.iter().map(|t| json!({"type": "text", "text": t})).collect()),
                };
                (
                    "user",
                    vec![json!({"type": "tool_result", "tool_use_id": call_id, "content": content})],
                )
            }
        };
        if blocks.is_empty() {
            continue;
        }
        match out.last_mut() {
            Some((last, prior)) if *last == role => prior.extend(blocks),
            _ => out.push((role, blocks)),
        }
    }
    out.into_iter()
        .map(|(role, content)| json!({"role": role, "content": content}))
        .collect()
}

fn part(p: &Part) -> Value {
    match p {
        Part::Text(t) => json!({"type": "text", "text": t}),
        Part::Image {
            image: Image::Inline { media_type, data },
            ..
        } => json!({"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}),
        Part::Image {
            image: Image::Url(url),
            ..
        } => {
            json!({"type": "image", "source": {"type": "url", "url": url}})
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert(v: Value) -> Result<Value, ConvertError> {
        to_anthropic(&ChatRequest::from_value(&v).unwrap())
    }

    #[test]
    fn the_captured_tool_request_becomes_claude_tools() {
        let bodies = crate::convert::openai_chat::captured_chat_bodies();
        let captured = bodies.into_iter().find(|b| b["tools"].is_array()).unwrap();
        let body = convert(captured).unwrap();
        assert_eq!(
            body,
            json!({
                "model": "gpt-4o-mini",
                "messages": [{"role": "user", "content": [{"type": "text", "text": "MOCK_TOOL_CALL Paris"}]}],
                "max_tokens": DEFAULT_MAX_TOKENS,
                "stream": true,
                "tools": [{"name": "get_weather", "description": "Weather for a city", "input_schema":
                    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}],
            })
        );
    }

    #[test]
    fn a_tool_round_trip_becomes_tool_use_and_tool_result_blocks() {
        let body = convert(json!({"model": "claude-sonnet-4-5", "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {"role": "assistant", "content": "", "tool_calls": [
                {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "call_b", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Rome\"}"}}]},
            {"role": "tool", "tool_call_id": "call_a", "content": "18C"},
            {"role": "tool", "tool_call_id": "call_b", "content": [{"type": "text", "text": "21"}, {"type": "text", "text": "C"}]}]}))
        .unwrap();
        assert_eq!(body["system"], json!([{"type": "text", "text": "Be brief."}]));
        assert_eq!(
            body["messages"][1],
            json!({"role": "assistant", "content": [
                {"type": "tool_use", "id": "call_a", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "call_b", "name": "get_weather", "input": {"city": "Rome"}}]})
        );
        assert_eq!(
            body["messages"][2],
            json!({"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "call_a", "content": "18C"},
                {"type": "tool_result", "tool_use_id": "call_b", "content": [
                    {"type": "text", "text": "21"}, {"type": "text", "text": "C"}]}]})
        );
    }

    #[test]
    fn images_become_base64_or_url_sources() {
        let body = convert(json!({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "auto"}}]}]}))
        .unwrap();
        assert_eq!(
            body["messages"][0]["content"],
            json!([
                {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQ"}},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}])
        );
    }

    #[test]
    fn tool_choice_maps_each_openai_value() {
        let with = |choice: Value, parallel: Option<bool>| {
            let mut req = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
                "tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": choice});
            if let Some(p) = parallel {
                req["parallel_tool_calls"] = json!(p);
            }
            convert(req).unwrap()["tool_choice"].clone()
        };
        assert_eq!(with(json!("auto"), None), json!({"type": "auto"}));
        assert_eq!(with(json!("none"), None), json!({"type": "none"}));
        assert_eq!(with(json!("required"), None), json!({"type": "any"}));
        assert_eq!(
            with(
                json!({"type": "function", "function": {"name": "f"}}),
                Some(false)
            ),
            json!({"type": "tool", "name": "f", "disable_parallel_tool_use": true})
        );
        assert_eq!(
            with(Value::Null, Some(false)),
            json!({"type": "auto", "disable_parallel_tool_use": true})
        );
    }

    #[test]
    fn sampling_stop_and_user_are_carried() {
        let body = convert(
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
            "temperature": 0.2, "top_p": 0.9, "max_completion_tokens": 100, "stop": "END", "user": "u-1"}),
        )
        .unwrap();
        assert_eq!(body["temperature"], 0.2);
        assert_eq!(body["top_p"], 0.9);
        assert_eq!(body["max_tokens"], 100);
        assert_eq!(body["stop_sequences"], json!(["END"]));
        assert_eq!(body["metadata"], json!({"user_id": "u-1"}));
    }

    #[test]
    fn reasoning_effort_becomes_a_thinking_budget_within_the_limit() {
        let req = |extra: Value| {
            let mut r = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
            r.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            convert(r)
        };
        let b = req(json!({"reasoning_effort": "medium"})).unwrap();
        assert_eq!(b["thinking"], json!({"type": "enabled", "budget_tokens": 8192}));
        assert_eq!(b["max_tokens"], DEFAULT_MAX_TOKENS + 8192);
        let b = req(json!({"reasoning_effort": "high", "max_completion_tokens": 4000})).unwrap();
        assert_eq!(b["thinking"]["budget_tokens"], 3999);
        assert_eq!(b["max_tokens"], 4000);
        assert!(
            req(json!({"reasoning_effort": "none"}))
                .unwrap()
                .get("thinking")
                .is_none()
        );
        let e = req(json!({"reasoning_effort": "low", "max_tokens": 500})).unwrap_err();
        assert_eq!(e.param, "reasoning_effort");
    }

    #[test]
    fn what_thinking_excludes_is_refused_by_name() {
        let with = |field: &str, value: Value| {
            let mut r = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "reasoning_effort": "low",
                "tools": [{"type": "function", "function": {"name": "f"}}]});
            r[field] = value;
            convert(r)
        };
        assert_eq!(with("temperature", json!(0.2)).unwrap_err().param, "temperature");
        assert_eq!(with("top_p", json!(0.5)).unwrap_err().param, "top_p");
        assert_eq!(
            with("tool_choice", json!("required")).unwrap_err().param,
            "tool_choice"
        );
        assert!(with("temperature", json!(1)).is_ok());
        assert!(with("tool_choice", json!("auto")).is_ok());
    }

    #[test]
    fn response_format_json_schema_is_an_output_format_and_json_object_is_refused() {
        let schema = json!({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"], "additionalProperties": false});
        let b = convert(json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema, "strict": true}}}))
        .unwrap();
        assert_eq!(
            b["output_config"],
            json!({"format": {"type": "json_schema", "schema": schema}})
        );
        let e = convert(
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
            "response_format": {"type": "json_object"}}),
        )
        .unwrap_err();
        assert_eq!(e.param, "response_format.type");
    }

    #[test]
    fn what_claude_lacks_is_refused_by_name() {
        for (field, value) in [
            ("seed", json!(7)),
            ("presence_penalty", json!(0.5)),
            ("frequency_penalty", json!(1)),
        ] {
            let mut r = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
            r[field] = value;
            assert_eq!(convert(r).unwrap_err().param, field);
        }
    }
}
