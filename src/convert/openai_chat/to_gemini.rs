//! A chat completions request as a Gemini generateContent call (the model and the stream
//! choice go in the URL, the rest in the body).
use super::error::{ConvertError, ErrorCode};
use super::request::{ChatRequest, Effort, Image, Message, Part, ResponseFormat, ToolChoice};
use super::thought_signature;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

const TARGET: &str = "Gemini";

#[derive(Debug, Clone, PartialEq)]
pub struct GeminiCall {
    pub model: String,
    pub stream: bool,
    pub body: Value,
}

impl GeminiCall {
    /// `models/{model}:{method}`; a stream is asked for with the `alt=sse` query.
    pub fn method(&self) -> &'static str {
        if self.stream {
            "streamGenerateContent"
        } else {
            "generateContent"
        }
    }
}

pub fn to_gemini(req: &ChatRequest) -> Result<GeminiCall, ConvertError> {
    if req.user.is_some() {
        return Err(ConvertError::unsupported("user", TARGET));
    }
    if req.parallel_tool_calls == Some(false) {
        return Err(ConvertError::unsupported("parallel_tool_calls", TARGET));
    }
    let mut body = Map::new();
    body.insert(
        "contents".into(),
        Value::Array(contents(
            &req.messages,
            thought_signature::checked_by(&req.model),
        )?),
    );
    if !req.system.is_empty() {
        let parts: Vec<Value> = req.system.iter().map(|t| json!({"text": t})).collect();
        body.insert("systemInstruction".into(), json!({"parts": parts}));
    }
    if !req.tools.is_empty() {
        let mut declarations = Vec::new();
        for (i, t) in req.tools.iter().enumerate() {
            if t.strict {
                return Err(ConvertError::unsupported(
                    format!("tools[{i}].function.strict"),
                    TARGET,
                ));
            }
            let mut d = Map::new();
            d.insert("name".into(), json!(t.name));
            if let Some(desc) = &t.description {
                d.insert("description".into(), json!(desc));
            }
            // The JSON Schema field takes the client's schema as it is (the older `parameters`
            // takes only an OpenAPI subset).
            if let Some(p) = &t.parameters {
                d.insert("parametersJsonSchema".into(), p.clone());
            }
            declarations.push(Value::Object(d));
        }
        body.insert("tools".into(), json!([{"functionDeclarations": declarations}]));
    }
    if let Some(choice) = &req.tool_choice {
        let config = match choice {
            ToolChoice::Auto => json!({"mode": "AUTO"}),
            ToolChoice::None => json!({"mode": "NONE"}),
            ToolChoice::Required => json!({"mode": "ANY"}),
            ToolChoice::Named(name) => json!({"mode": "ANY", "allowedFunctionNames": [name]}),
        };
        body.insert("toolConfig".into(), json!({"functionCallingConfig": config}));
    }
    let config = generation_config(req);
    if !config.is_empty() {
        body.insert("generationConfig".into(), Value::Object(config));
    }
    Ok(GeminiCall {
        model: req.model.clone(),
        stream: req.stream,
        body: Value::Object(body),
    })
}

fn generation_config(req: &ChatRequest) -> Map<String, Value> {
    let mut c = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            c.insert(k.into(), v);
        }
    };
    put("temperature", req.temperature.map(|t| json!(t)));
    put("topP", req.top_p.map(|t| json!(t)));
    put("maxOutputTokens", req.max_tokens.map(|t| json!(t)));
    put("stopSequences", (!req.stop.is_empty()).then(|| json!(req.stop)));
    put("seed", req.seed.map(|s| json!(s)));
    put("presencePenalty", req.presence_penalty.map(|p| json!(p)));
    put("frequencyPenalty", req.frequency_penalty.map(|p| json!(p)));
    match &req.response_format {
        Some(ResponseFormat::JsonObject) => put("responseMimeType", Some(json!("application/json"))),
        Some(ResponseFormat::JsonSchema(schema)) => {
            put("responseMimeType", Some(json!("application/json")));
            put("responseJsonSchema", Some(schema.clone()));
        }
        None => {}
    }
    put(
        "thinkingConfig",
        req.reasoning_effort.map(|e| match e {
            Effort::None => json!({"thinkingBudget": 0}),
            e => json!({"thinkingBudget": e.budget_tokens()}),
        }),
    );
    c
}

/// Gemini's turns: `model` for the assistant; tool results are `user` turns of
/// functionResponse parts named after the call they answer (Gemini matches by name).
/// `signed`: the model checks thought signatures on the calls in the history.
fn contents(msgs: &[Message], signed: bool) -> Result<Vec<Value>, ConvertError> {
    let mut call_names: HashMap<&str, &str> = HashMap::new();
    let mut out: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        let (role, parts) = match m {
            Message::User(parts) => ("user", parts.iter().map(part).collect::<Result<Vec<_>, _>>()?),
            Message::Assistant { text, tool_calls } => {
                let texts = text.iter().filter(|t| !t.is_empty()).map(|t| json!({"text": t}));
                let calls = tool_calls.iter().enumerate().map(|(k, c)| {
                    call_names.insert(&c.id, &c.name);
                    let mut part = json!({"functionCall": {"name": c.name, "args": c.arguments}});
                    // Of parallel calls Gemini signs only the first.
                    let signature = thought_signature::signature_in(&c.id)
                        .or((k == 0 && signed).then_some(thought_signature::SKIP_VALIDATOR));
                    if let Some(sig) = signature {
                        part["thoughtSignature"] = json!(sig);
                    }
                    part
                });
                ("model", texts.chain(calls).collect())
            }
            Message::Tool { call_id, text } => {
                let name = call_names.get(call_id.as_str()).ok_or_else(|| {
                    ConvertError::new(
                        ErrorCode::InvalidValue,
                        format!("messages[{i}].tool_call_id"),
                        format!(
                            "`messages[{i}].tool_call_id` {call_id:?} answers no earlier assistant tool call"
                        ),
                    )
                })?;
                let output = text.concat();
                (
                    "user",
                    vec![json!({"functionResponse": {"name": name, "response": {"output": output}}})],
                )
            }
        };
        if parts.is_empty() {
            continue;
        }
        match out.last_mut() {
            Some((last, prior)) if *last == role => prior.extend(parts),
            _ => out.push((role, parts)),
        }
    }
    Ok(out
        .into_iter()
        .map(|(role, parts)| json!({"role": role, "parts": parts}))
        .collect())
}

fn part(p: &Part) -> Result<Value, ConvertError> {
    match p {
        Part::Text(t) => Ok(json!({"text": t})),
        Part::Image {
            image: Image::Inline { media_type, data },
            ..
        } => Ok(json!({"inlineData": {"mimeType": media_type, "data": data}})),
        // Gemini reads files by its own URIs only, and switchyard fetches nothing for a client.
        Part::Image {
            image: Image::Url(_),
            param,
        } => Err(ConvertError::new(
            ErrorCode::UnsupportedValue,
            format!("{param}.url"),
            format!(
                "`{param}.url`: a Gemini account cannot read an image from a URL; send it as a base64 data URL"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert(v: Value) -> Result<GeminiCall, ConvertError> {
        to_gemini(&ChatRequest::from_value(&v).unwrap())
    }

    #[test]
    fn the_captured_stream_request_becomes_a_stream_call() {
        let bodies = crate::convert::openai_chat::captured_chat_bodies();
        let captured = bodies
            .into_iter()
            .find(|b| b["stream_options"].is_object())
            .unwrap();
        let call = convert(captured).unwrap();
        assert_eq!(call.method(), "streamGenerateContent");
        assert_eq!(call.model, "gpt-4o-mini");
        assert_eq!(
            call.body,
            json!({"contents": [{"role": "user", "parts": [{"text": "Say hello to the relay harness."}]}]})
        );
    }

    #[test]
    fn tool_results_are_named_by_the_call_they_answer() {
        let call = convert(json!({"model": "gemini-2.5-flash", "messages": [
            {"role": "developer", "content": "Be brief."},
            {"role": "user", "content": "Weather in Paris, time in Rome?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "c2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c2", "content": "12:00"},
            {"role": "tool", "tool_call_id": "c1", "content": "18C"}],
            "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}}}))
        .unwrap();
        assert_eq!(
            call.body["systemInstruction"],
            json!({"parts": [{"text": "Be brief."}]})
        );
        assert_eq!(
            call.body["contents"][1],
            json!({"role": "model", "parts": [
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                {"functionCall": {"name": "get_time", "args": {}}}]})
        );
        assert_eq!(
            call.body["contents"][2],
            json!({"role": "user", "parts": [
                {"functionResponse": {"name": "get_time", "response": {"output": "12:00"}}},
                {"functionResponse": {"name": "get_weather", "response": {"output": "18C"}}}]})
        );
        assert_eq!(
            call.body["tools"],
            json!([{"functionDeclarations": [{"name": "get_weather", "description": "Weather",
                "parametersJsonSchema": {"type": "object", "properties": {"city": {"type": "string"}}}}]}])
        );
        assert_eq!(
            call.body["toolConfig"],
            json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}})
        );
    }

    #[test]
    fn signatures_come_back_from_ids_and_unsigned_calls_skip_the_check_on_gemini_3() {
        let history = |model: &str| {
            json!({"model": model, "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "tool_calls": [
                    {"id": "call_r_0.sig.CiQB", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                    {"id": "call_r_1", "type": "function", "function": {"name": "g", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "call_r_0.sig.CiQB", "content": "1"},
                {"role": "tool", "tool_call_id": "call_r_1", "content": "2"},
                {"role": "assistant", "tool_calls": [
                    {"id": "elsewhere", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "elsewhere", "content": "3"}]})
        };
        let signatures = |model: &str| -> Vec<Value> {
            let body = convert(history(model)).unwrap().body;
            body["contents"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| c["role"] == "model")
                .flat_map(|c| {
                    c["parts"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|p| p["thoughtSignature"].clone())
                })
                .collect()
        };
        assert_eq!(
            signatures("gemini-3-pro-preview"),
            [
                json!("CiQB"),
                Value::Null,
                json!("skip_thought_signature_validator")
            ]
        );
        assert_eq!(
            signatures("gemini-2.5-pro"),
            [json!("CiQB"), Value::Null, Value::Null]
        );
    }

    #[test]
    fn an_unknown_tool_call_id_is_refused_by_position() {
        let e = convert(json!({"model": "m", "messages": [
            {"role": "user", "content": "hi"},
            {"role": "tool", "tool_call_id": "nope", "content": "x"}]}))
        .unwrap_err();
        assert_eq!(e.param, "messages[1].tool_call_id");
    }

    #[test]
    fn generation_settings_and_json_output_are_carried() {
        let schema = json!({"type": "object", "properties": {"n": {"type": "integer"}}});
        let call = convert(
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
            "temperature": 0.5, "top_p": 1.0, "max_tokens": 64, "stop": ["a", "b"], "seed": 3,
            "reasoning_effort": "low",
            "response_format": {"type": "json_schema", "json_schema": {"name": "n", "schema": schema}}}),
        )
        .unwrap();
        assert_eq!(
            call.body["generationConfig"],
            json!({"temperature": 0.5, "topP": 1.0, "maxOutputTokens": 64, "stopSequences": ["a", "b"],
                "seed": 3, "responseMimeType": "application/json", "responseJsonSchema": schema,
                "thinkingConfig": {"thinkingBudget": 1024}})
        );
        let call = convert(
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
            "response_format": {"type": "json_object"}, "reasoning_effort": "none"}),
        )
        .unwrap();
        assert_eq!(
            call.body["generationConfig"],
            json!({"responseMimeType": "application/json", "thinkingConfig": {"thinkingBudget": 0}})
        );
    }

    #[test]
    fn what_gemini_lacks_is_refused_by_name() {
        let base = || json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
        let mut r = base();
        r["user"] = json!("u");
        assert_eq!(convert(r).unwrap_err().param, "user");
        let mut r = base();
        r["parallel_tool_calls"] = json!(false);
        assert_eq!(convert(r).unwrap_err().param, "parallel_tool_calls");
        let mut r = base();
        r["tools"] = json!([{"type": "function", "function": {"name": "f", "strict": true}}]);
        assert_eq!(convert(r).unwrap_err().param, "tools[0].function.strict");
        let mut r = base();
        r["messages"][0]["content"] =
            json!([{"type": "image_url", "image_url": {"url": "https://x.test/a.png"}}]);
        assert_eq!(
            convert(r).unwrap_err().param,
            "messages[0].content[0].image_url.url"
        );
        let mut r = base();
        r["messages"][0]["content"] =
            json!([{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]);
        assert_eq!(
            convert(r).unwrap().body["contents"][0]["parts"][0],
            json!({"inlineData": {"mimeType": "image/png", "data": "AAAA"}})
        );
    }
}
