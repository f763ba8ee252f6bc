//! Every captured Claude Code and anthropic SDK request converts to each target.
use super::super::{Request, to_chat, to_gemini, to_responses};
use serde_json::Value;

fn captured(name: &str) -> Vec<Value> {
    let path = format!(
        "{}/tests/fixtures/clients/{name}.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<Value>(l).expect("a JSON line"))
        .filter(|r| r["method"] == "POST" && r["path"] == "/v1/messages")
        .map(|r| r["body"].clone())
        .collect()
}

fn claude_code() -> Vec<Value> {
    let mut all = captured("claude_code");
    all.extend(captured("claude_code_oauth"));
    assert!(all.len() >= 8, "captures present");
    all
}

#[test]
fn every_captured_request_converts_to_each_target() {
    let mut all = claude_code();
    all.extend(captured("anthropic_sdk"));
    for (i, body) in all.iter().enumerate() {
        let req = Request::parse(body).unwrap_or_else(|e| panic!("request {i}: {e}"));
        to_gemini::convert(&req).unwrap_or_else(|e| panic!("request {i} to Gemini: {e}"));
        to_responses::convert(&req).unwrap_or_else(|e| panic!("request {i} to Responses: {e}"));
        to_chat::convert(&req).unwrap_or_else(|e| panic!("request {i} to chat: {e}"));
    }
}

/// The second request of a Claude Code run: a tool round trip with thinking in the history and
/// a mid-conversation system message.
fn tool_round_trip() -> Value {
    claude_code()
        .into_iter()
        .find(|b| b["messages"].as_array().is_some_and(|m| m.len() > 2))
        .expect("a capture with a tool round trip")
}

#[test]
fn claude_code_tool_round_trip_to_gemini() {
    let body = tool_round_trip();
    let req = Request::parse(&body).expect("parses");
    let g = to_gemini::convert(&req).expect("converts").body;
    let tool_use = &body["messages"][2]["content"][2];
    let contents = g["contents"].as_array().expect("contents");
    // user, model (thinking dropped: text + call), user (the result).
    let roles: Vec<&str> = contents
        .iter()
        .map(|c| c["role"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(roles, ["user", "model", "user"]);
    let model_parts = contents[1]["parts"].as_array().expect("parts");
    assert!(
        model_parts.iter().all(|p| p.get("thought").is_none()),
        "thinking is not sent on"
    );
    let call = &model_parts.last().expect("a call")["functionCall"];
    assert_eq!(call["name"], tool_use["name"]);
    assert_eq!(call["args"], tool_use["input"]);
    let response = &contents[2]["parts"][0]["functionResponse"];
    assert_eq!(response["name"], tool_use["name"]);
    assert_eq!(
        response["response"]["output"],
        body["messages"][3]["content"][0]["content"]
    );
    // Three system blocks plus the system message between turns.
    let system = g["systemInstruction"]["parts"].as_array().expect("system");
    assert_eq!(system.len(), 4);
    assert_eq!(system[3]["text"], body["messages"][1]["content"]);
    assert_eq!(
        g["tools"][0]["functionDeclarations"].as_array().map(Vec::len),
        body["tools"].as_array().map(Vec::len)
    );
    assert_eq!(g["generationConfig"]["maxOutputTokens"], body["max_tokens"]);
    // Claude Code asks for adaptive thinking at effort high.
    assert_eq!(
        g["generationConfig"]["thinkingConfig"],
        serde_json::json!({ "includeThoughts": true, "thinkingLevel": "HIGH" })
    );
}

#[test]
fn claude_code_tool_round_trip_to_responses() {
    let body = tool_round_trip();
    let req = Request::parse(&body).expect("parses");
    let r = to_responses::convert(&req).expect("converts").body;
    let tool_use = &body["messages"][2]["content"][2];
    let kinds: Vec<String> = r["input"]
        .as_array()
        .expect("input")
        .iter()
        .map(|i| {
            format!(
                "{}:{}",
                i["type"].as_str().unwrap_or_default(),
                i["role"].as_str().unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "message:user",
            "message:system",
            "message:assistant",
            "function_call:",
            "function_call_output:"
        ]
    );
    let call = &r["input"][3];
    assert_eq!(call["call_id"], tool_use["id"]);
    assert_eq!(call["name"], tool_use["name"]);
    let args: Value = serde_json::from_str(call["arguments"].as_str().expect("a string")).expect("JSON");
    assert_eq!(args, tool_use["input"]);
    assert_eq!(r["input"][4]["call_id"], tool_use["id"]);
    assert_eq!(
        r["input"][4]["output"],
        body["messages"][3]["content"][0]["content"]
    );
    let system: Vec<&str> = body["system"]
        .as_array()
        .expect("blocks")
        .iter()
        .filter_map(|b| b["text"].as_str())
        .collect();
    assert_eq!(r["instructions"], system.join("\n\n"));
    assert_eq!(
        r["reasoning"],
        serde_json::json!({ "effort": "high", "summary": "auto" })
    );
    assert_eq!(r["max_output_tokens"], body["max_tokens"]);
    assert_eq!(r["stream"], true);
    assert_eq!(r["store"], false);
    // metadata.user_id becomes a 64-character stable hash.
    let id = r["safety_identifier"].as_str().expect("set");
    assert_eq!(id.len(), 64);
    assert_eq!(r["tools"][0]["type"], "function");
    assert_eq!(r["tools"][0]["parameters"], body["tools"][0]["input_schema"]);
}

#[test]
fn sdk_thinking_budget_becomes_effort_and_budget() {
    let body = captured("anthropic_sdk")
        .into_iter()
        .find(|b| b.get("thinking").is_some())
        .expect("a capture with thinking");
    assert_eq!(body["thinking"]["budget_tokens"], 1024);
    let req = Request::parse(&body).expect("parses");
    let g = to_gemini::convert(&req).expect("converts").body;
    assert_eq!(g["generationConfig"]["thinkingConfig"]["thinkingBudget"], 1024);
    let r = to_responses::convert(&req).expect("converts").body;
    assert_eq!(r["reasoning"]["effort"], "low");
    let c = to_chat::convert(&req).expect("converts").body;
    assert_eq!(c["reasoning_effort"], "low");
    assert_eq!(c["stream_options"]["include_usage"], true);
}
