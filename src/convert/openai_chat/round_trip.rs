//! Property tests: what a chat request and the target can both express survives the trip
//! chat JSON → [`ChatRequest`] → Anthropic / Gemini body → back. The way back is written here
//! from the targets' documented shapes, independently of the converters.
use super::request::{ChatRequest, Image, Message, Part, Tool, ToolCall, ToolChoice};
use super::{DEFAULT_MAX_TOKENS, GeminiCall, to_anthropic, to_gemini};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// The request as an OpenAI client sends it.
fn to_openai_json(req: &ChatRequest) -> Value {
    let mut messages: Vec<Value> = req
        .system
        .iter()
        .map(|s| json!({"role": "system", "content": s}))
        .collect();
    for m in &req.messages {
        messages.push(match m {
            Message::User(parts) => json!({"role": "user", "content": parts.iter().map(|p| match p {
                Part::Text(t) => json!({"type": "text", "text": t}),
                Part::Image { image: Image::Inline { media_type, data }, .. } =>
                    json!({"type": "image_url", "image_url": {"url": format!("data:{media_type};base64,{data}")}}),
                Part::Image { image: Image::Url(u), .. } => json!({"type": "image_url", "image_url": {"url": u}}),
            }).collect::<Vec<_>>()}),
            Message::Assistant { text, tool_calls } => {
                let mut m = json!({"role": "assistant",
                    "content": text.iter().map(|t| json!({"type": "text", "text": t})).collect::<Vec<_>>()});
                if !tool_calls.is_empty() {
                    m["tool_calls"] = tool_calls.iter().map(|c| json!({"id": c.id, "type": "function",
                        "function": {"name": c.name, "arguments": Value::Object(c.arguments.clone()).to_string()}})).collect();
                }
                m
            }
            Message::Tool { call_id, text } => json!({"role": "tool", "tool_call_id": call_id,
                "content": text.iter().map(|t| json!({"type": "text", "text": t})).collect::<Vec<_>>()}),
        });
    }
    let mut body = json!({"model": req.model, "messages": messages, "stream": req.stream});
    if !req.tools.is_empty() {
        body["tools"] = req
            .tools
            .iter()
            .map(|t| {
                json!({"type": "function", "function": {
            "name": t.name, "description": t.description, "parameters": t.parameters}})
            })
            .collect();
    }
    if let Some(c) = &req.tool_choice {
        body["tool_choice"] = match c {
            ToolChoice::Auto => json!("auto"),
            ToolChoice::None => json!("none"),
            ToolChoice::Required => json!("required"),
            ToolChoice::Named(n) => json!({"type": "function", "function": {"name": n}}),
        };
    }
    if !req.stop.is_empty() {
        body["stop"] = json!(req.stop);
    }
    let put = |body: &mut Value, k: &str, v: Option<Value>| {
        if let Some(v) = v {
            body[k] = v;
        }
    };
    put(&mut body, "temperature", req.temperature.map(|t| json!(t)));
    put(&mut body, "top_p", req.top_p.map(|t| json!(t)));
    put(
        &mut body,
        "max_completion_tokens",
        req.max_tokens.map(|t| json!(t)),
    );
    body
}

fn arguments(v: &Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn anthropic_back(body: &Value) -> ChatRequest {
    let mut req = ChatRequest::new(body["model"].as_str().unwrap().to_owned());
    req.system = body["system"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|b| b["text"].as_str().unwrap().to_owned())
        .collect();
    for m in body["messages"].as_array().unwrap() {
        let blocks = m["content"].as_array().unwrap();
        if m["role"] == "assistant" {
            req.messages.push(Message::Assistant {
                text: blocks
                    .iter()
                    .filter(|b| b["type"] == "text")
                    .map(|b| b["text"].as_str().unwrap().to_owned())
                    .collect(),
                tool_calls: blocks
                    .iter()
                    .filter(|b| b["type"] == "tool_use")
                    .map(|b| ToolCall {
                        id: b["id"].as_str().unwrap().to_owned(),
                        name: b["name"].as_str().unwrap().to_owned(),
                        arguments: arguments(&b["input"]),
                    })
                    .collect(),
            });
            continue;
        }
        let mut parts = Vec::new();
        for b in blocks {
            match b["type"].as_str().unwrap() {
                "tool_result" => req.messages.push(Message::Tool {
                    call_id: b["tool_use_id"].as_str().unwrap().to_owned(),
                    text: match &b["content"] {
                        Value::String(s) => vec![s.clone()],
                        v => v
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|t| t["text"].as_str().unwrap().to_owned())
                            .collect(),
                    },
                }),
                "text" => parts.push(Part::Text(b["text"].as_str().unwrap().to_owned())),
                "image" => parts.push(Part::Image {
                    image: Image::Inline {
                        media_type: b["source"]["media_type"].as_str().unwrap().to_owned(),
                        data: b["source"]["data"].as_str().unwrap().to_owned(),
                    },
                    param: String::new(),
                }),
                other => panic!("unexpected block {other}"),
            }
        }
        if !parts.is_empty() {
            req.messages.push(Message::User(parts));
        }
    }
    req.tools = body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| Tool {
            name: t["name"].as_str().unwrap().to_owned(),
            description: t["description"].as_str().map(str::to_owned),
            parameters: Some(t["input_schema"].clone()),
            strict: false,
        })
        .collect();
    req.tool_choice = body
        .get("tool_choice")
        .map(|c| match c["type"].as_str().unwrap() {
            "auto" => ToolChoice::Auto,
            "none" => ToolChoice::None,
            "any" => ToolChoice::Required,
            _ => ToolChoice::Named(c["name"].as_str().unwrap().to_owned()),
        });
    req.stop = body["stop_sequences"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    req.temperature = body["temperature"].as_f64();
    req.top_p = body["top_p"].as_f64();
    req.max_tokens = body["max_tokens"].as_u64();
    req.stream = body["stream"] == true;
    req
}

fn gemini_back(call: &GeminiCall) -> ChatRequest {
    let body = &call.body;
    let mut req = ChatRequest::new(call.model.clone());
    req.stream = call.stream;
    req.system = body["systemInstruction"]["parts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| p["text"].as_str().unwrap().to_owned())
        .collect();
    // Gemini pairs results with calls by name; the generated names are unique per call.
    let mut ids: HashMap<String, String> = HashMap::new();
    for c in body["contents"].as_array().unwrap() {
        let parts = c["parts"].as_array().unwrap();
        if c["role"] == "model" {
            let tool_calls: Vec<ToolCall> = parts
                .iter()
                .filter_map(|p| p.get("functionCall"))
                .map(|f| {
                    let name = f["name"].as_str().unwrap().to_owned();
                    let id = name.replace("fn_", "call_");
                    ids.insert(name.clone(), id.clone());
                    ToolCall {
                        id,
                        name,
                        arguments: arguments(&f["args"]),
                    }
                })
                .collect();
            let text = parts
                .iter()
                .filter_map(|p| p["text"].as_str())
                .map(str::to_owned)
                .collect();
            req.messages.push(Message::Assistant { text, tool_calls });
            continue;
        }
        let mut user = Vec::new();
        for p in parts {
            if let Some(r) = p.get("functionResponse") {
                req.messages.push(Message::Tool {
                    call_id: ids[r["name"].as_str().unwrap()].clone(),
                    text: vec![r["response"]["output"].as_str().unwrap().to_owned()],
                });
            } else if let Some(t) = p["text"].as_str() {
                user.push(Part::Text(t.to_owned()));
            } else {
                user.push(Part::Image {
                    image: Image::Inline {
                        media_type: p["inlineData"]["mimeType"].as_str().unwrap().to_owned(),
                        data: p["inlineData"]["data"].as_str().unwrap().to_owned(),
                    },
                    param: String::new(),
                });
            }
        }
        if !user.is_empty() {
            req.messages.push(Message::User(user));
        }
    }
    req.tools = body["tools"][0]["functionDeclarations"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| Tool {
            name: d["name"].as_str().unwrap().to_owned(),
            description: d["description"].as_str().map(str::to_owned),
            parameters: Some(d["parametersJsonSchema"].clone()),
            strict: false,
        })
        .collect();
    let config = &body["toolConfig"]["functionCallingConfig"];
    req.tool_choice =
        config["mode"]
            .as_str()
            .map(|mode| match (mode, config["allowedFunctionNames"][0].as_str()) {
                ("AUTO", _) => ToolChoice::Auto,
                ("NONE", _) => ToolChoice::None,
                ("ANY", Some(name)) => ToolChoice::Named(name.to_owned()),
                _ => ToolChoice::Required,
            });
    let g = &body["generationConfig"];
    req.stop = g["stopSequences"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    req.temperature = g["temperature"].as_f64();
    req.top_p = g["topP"].as_f64();
    req.max_tokens = g["maxOutputTokens"].as_u64();
    req
}

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 .,!?\"\\\\é🙂\n]{1,24}"
}

fn image() -> impl Strategy<Value = Part> {
    (
        prop::sample::select(vec!["image/png", "image/jpeg", "image/webp"]),
        "[A-Za-z0-9+/]{4,16}",
    )
        .prop_map(|(t, d)| Part::Image {
            image: Image::Inline {
                media_type: t.to_owned(),
                data: d,
            },
            param: String::new(),
        })
}

fn args() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map(
        "[a-z]{1,6}",
        prop_oneof![
            text().prop_map(Value::from),
            any::<i32>().prop_map(Value::from),
            any::<bool>().prop_map(Value::from),
        ],
        0..3,
    )
    .prop_map(|m| m.into_iter().collect())
}

/// One exchange: a user turn, the assistant's answer, and results for any calls it made.
#[derive(Debug, Clone)]
struct Exchange {
    user: Vec<Part>,
    answer: Vec<String>,
    calls: Vec<(Map<String, Value>, String)>,
}

fn exchange() -> impl Strategy<Value = Exchange> {
    (
        prop::collection::vec(prop_oneof![3 => text().prop_map(Part::Text), 1 => image()], 1..3),
        prop::collection::vec(text(), 0..2),
        prop::collection::vec((args(), text()), 0..3),
    )
        .prop_filter("the assistant says or calls something", |(_, a, c)| {
            !a.is_empty() || !c.is_empty()
        })
        .prop_map(|(user, answer, calls)| Exchange { user, answer, calls })
}

prop_compose! {
    fn chat_request()(
        system in prop::collection::vec(text(), 0..2),
        exchanges in prop::collection::vec(exchange(), 1..4),
        last_user in text(),
        stop in prop::collection::vec(text(), 0..3),
        temperature in prop::option::of((0u32..=20).prop_map(|t| f64::from(t) / 10.0)),
        top_p in prop::option::of((1u32..=100).prop_map(|t| f64::from(t) / 100.0)),
        max_tokens in 1u64..200_000,
        stream in any::<bool>(),
        tool_count in 0usize..3,
        choice in 0usize..5,
    ) -> ChatRequest {
        let mut req = ChatRequest::new("some-model".into());
        req.system = system;
        let mut n = 0;
        for e in exchanges {
            req.messages.push(Message::User(e.user));
            let calls: Vec<ToolCall> = e.calls.iter().map(|(a, _)| {
                n += 1;
                ToolCall { id: format!("call_{n}"), name: format!("fn_{n}"), arguments: a.clone() }
            }).collect();
            let results: Vec<Message> = calls.iter().zip(&e.calls)
                .map(|(c, (_, r))| Message::Tool { call_id: c.id.clone(), text: vec![r.clone()] }).collect();
            req.messages.push(Message::Assistant { text: e.answer, tool_calls: calls });
            req.messages.extend(results);
        }
        req.messages.push(Message::User(vec![Part::Text(last_user)]));
        req.tools = (0..tool_count).map(|i| Tool {
            name: format!("tool_{i}"),
            description: (i % 2 == 0).then(|| format!("Tool number {i}")),
            parameters: Some(json!({"type": "object", "properties": {"x": {"type": "string"}}})),
            strict: false,
        }).collect();
        req.tool_choice = match (choice, tool_count) {
            (_, 0) | (0, _) => None,
            (1, _) => Some(ToolChoice::Auto),
            (2, _) => Some(ToolChoice::None),
            (3, _) => Some(ToolChoice::Required),
            _ => Some(ToolChoice::Named("tool_0".into())),
        };
        req.stop = stop;
        req.temperature = temperature;
        req.top_p = top_p;
        req.max_tokens = Some(max_tokens);
        req.stream = stream;
        req
    }
}

/// The parsed request, with the image positions (`param`, only for error messages) cleared.
fn parsed(req: &ChatRequest) -> ChatRequest {
    let mut got = ChatRequest::from_value(&to_openai_json(req)).unwrap();
    for m in &mut got.messages {
        if let Message::User(parts) = m {
            for p in parts {
                if let Part::Image { param, .. } = p {
                    param.clear();
                }
            }
        }
    }
    got
}

proptest! {
    #[test]
    fn the_openai_json_reads_back_as_the_request(req in chat_request()) {
        prop_assert_eq!(parsed(&req), req);
    }

    #[test]
    fn chat_to_anthropic_and_back_keeps_the_request(req in chat_request()) {
        let body = to_anthropic(&parsed(&req)).unwrap();
        prop_assert_eq!(anthropic_back(&body), req);
    }

    #[test]
    fn chat_to_gemini_and_back_keeps_the_request(req in chat_request()) {
        let call = to_gemini(&parsed(&req)).unwrap();
        prop_assert_eq!(gemini_back(&call), req);
    }
}

#[test]
fn without_a_limit_claude_gets_the_documented_default() {
    let mut req = ChatRequest::new("m".into());
    req.messages.push(Message::User(vec![Part::Text("hi".into())]));
    assert_eq!(to_anthropic(&req).unwrap()["max_tokens"], DEFAULT_MAX_TOKENS);
}
