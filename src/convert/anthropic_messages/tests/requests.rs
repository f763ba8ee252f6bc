//! Request conversions field by field, and the refusals that name the field.
use super::super::{ConvertError, Request, to_chat, to_gemini, to_responses};
use crate::error::{ApiError, ApiFormat};
use actix_web::ResponseError;
use serde_json::{Value, json};

fn parse(body: Value) -> Request {
    Request::parse(&body).unwrap_or_else(|e| panic!("{e}"))
}

fn field_of(e: ConvertError) -> String {
    match e {
        ConvertError::Request { field, .. } => field,
        other => panic!("not a request error: {other}"),
    }
}

fn with_messages(messages: Value) -> Value {
    json!({ "model": "m", "max_tokens": 100, "messages": messages })
}

/// A user turn with both image sources and a tool round trip whose result is an error with
/// text and an image.
fn rich() -> Value {
    json!({
        "model": "claude-x",
        "max_tokens": 512,
        "system": "Be brief.",
        "temperature": 0.5,
        "top_p": 0.9,
        "tools": [{ "name": "shot", "description": "Screenshot", "input_schema": { "type": "object", "properties": { "q": { "type": "string" } } } }],
        "tool_choice": { "type": "tool", "name": "shot" },
        "metadata": { "user_id": "u-1" },
        "messages": [
            { "role": "user", "content": [
                { "type": "text", "text": "Look", "cache_control": { "type": "ephemeral" } },
                { "type": "image", "source": { "type": "base64", "media_type": "image/png", "data": "iVBOR" } },
                { "type": "image", "source": { "type": "url", "url": "https://x.test/a.JPG?s=1" } },
            ]},
            { "role": "assistant", "content": [
                { "type": "thinking", "thinking": "", "signature": "sig-only" },
                { "type": "tool_use", "id": "toolu_1", "name": "shot", "input": { "q": "now" } },
            ]},
            { "role": "user", "content": [
                { "type": "tool_result", "tool_use_id": "toolu_1", "is_error": true, "content": [
                    { "type": "text", "text": "blurred" },
                    { "type": "image", "source": { "type": "base64", "media_type": "image/jpeg", "data": "/9j/" } },
                ]},
                { "type": "text", "text": "Again" },
            ]},
        ],
    })
}

#[test]
fn gemini_gets_images_calls_and_error_results() {
    let g = to_gemini::convert(&parse(rich())).expect("converts").body;
    assert_eq!(
        g["contents"],
        json!([
            { "role": "user", "parts": [
                { "text": "Look" },
                { "inlineData": { "mimeType": "image/png", "data": "iVBOR" } },
                { "fileData": { "mimeType": "image/jpeg", "fileUri": "https://x.test/a.JPG?s=1" } },
            ]},
            { "role": "model", "parts": [
                { "functionCall": { "name": "shot", "args": { "q": "now" } }, "thoughtSignature": "skip_thought_signature_validator" },
            ]},
            { "role": "user", "parts": [
                { "functionResponse": { "name": "shot", "response": { "error": "blurred" } } },
                { "inlineData": { "mimeType": "image/jpeg", "data": "/9j/" } },
                { "text": "Again" },
            ]},
        ])
    );
    assert_eq!(
        g["systemInstruction"],
        json!({ "parts": [{ "text": "Be brief." }] })
    );
    assert_eq!(
        g["toolConfig"],
        json!({ "functionCallingConfig": { "mode": "ANY", "allowedFunctionNames": ["shot"] } })
    );
    assert_eq!(
        g["generationConfig"],
        json!({ "maxOutputTokens": 512, "temperature": 0.5, "topP": 0.9 })
    );
    assert!(g.get("metadata").is_none() && g.get("model").is_none());
}

#[test]
fn responses_gets_images_calls_and_error_results() {
    let r = to_responses::convert(&parse(rich())).expect("converts").body;
    assert_eq!(
        r["input"],
        json!([
            { "type": "message", "role": "user", "content": [
                { "type": "input_text", "text": "Look" },
                { "type": "input_image", "image_url": "data:image/png;base64,iVBOR", "detail": "auto" },
                { "type": "input_image", "image_url": "https://x.test/a.JPG?s=1", "detail": "auto" },
            ]},
            { "type": "function_call", "call_id": "toolu_1", "name": "shot", "arguments": "{\"q\":\"now\"}" },
            { "type": "function_call_output", "call_id": "toolu_1", "output": [
                { "type": "input_text", "text": "Error:" },
                { "type": "input_text", "text": "blurred" },
                { "type": "input_image", "image_url": "data:image/jpeg;base64,/9j/", "detail": "auto" },
            ]},
            { "type": "message", "role": "user", "content": [{ "type": "input_text", "text": "Again" }] },
        ])
    );
    assert_eq!(r["instructions"], "Be brief.");
    assert_eq!(r["tool_choice"], json!({ "type": "function", "name": "shot" }));
    assert_eq!(r["temperature"], 0.5);
    assert_eq!(r["top_p"], 0.9);
    assert_eq!(r["max_output_tokens"], 512);
    assert_eq!(r["model"], "claude-x");
    assert_eq!(r["stream"], false);
    assert!(r.get("reasoning").is_none(), "no thinking asked for");
}

#[test]
fn chat_gets_calls_results_and_refuses_images_in_results() {
    let e = to_chat::convert(&parse(rich())).expect_err("an image in a tool result");
    assert_eq!(field_of(e), "messages[2].content[0].content");
    let body = with_messages(json!([
        { "role": "user", "content": "hi" },
        { "role": "assistant", "content": [
            { "type": "text", "text": "Let me look." },
            { "type": "tool_use", "id": "c1", "name": "f", "input": {} },
        ]},
        { "role": "user", "content": [
            { "type": "tool_result", "tool_use_id": "c1", "content": "done", "is_error": true },
            { "type": "text", "text": "and?" },
        ]},
    ]));
    let c = to_chat::convert(&parse(body)).expect("converts").body;
    assert_eq!(
        c["messages"],
        json!([
            { "role": "user", "content": [{ "type": "text", "text": "hi" }] },
            { "role": "assistant", "content": "Let me look.", "tool_calls": [
                { "id": "c1", "type": "function", "function": { "name": "f", "arguments": "{}" } },
            ]},
            { "role": "tool", "tool_call_id": "c1", "content": "Error: done" },
            { "role": "user", "content": [{ "type": "text", "text": "and?" }] },
        ])
    );
    assert_eq!(c["max_completion_tokens"], 100);
}

#[test]
fn tool_choices_map_on_every_target() {
    for (choice, gemini, openai) in [
        (
            json!({ "type": "auto" }),
            json!({ "mode": "AUTO" }),
            json!("auto"),
        ),
        (
            json!({ "type": "any" }),
            json!({ "mode": "ANY" }),
            json!("required"),
        ),
        (
            json!({ "type": "none" }),
            json!({ "mode": "NONE" }),
            json!("none"),
        ),
    ] {
        let mut body = with_messages(json!([{ "role": "user", "content": "x" }]));
        body["tool_choice"] = choice;
        let req = parse(body);
        assert_eq!(
            to_gemini::convert(&req).expect("g").body["toolConfig"]["functionCallingConfig"],
            gemini
        );
        assert_eq!(
            to_responses::convert(&req).expect("r").body["tool_choice"],
            openai
        );
        assert_eq!(to_chat::convert(&req).expect("c").body["tool_choice"], openai);
    }
}

#[test]
fn one_tool_call_per_answer() {
    let mut body = with_messages(json!([{ "role": "user", "content": "x" }]));
    body["tool_choice"] = json!({ "type": "auto", "disable_parallel_tool_use": true });
    let req = parse(body);
    assert_eq!(
        to_responses::convert(&req).expect("r").body["parallel_tool_calls"],
        false
    );
    assert_eq!(
        to_chat::convert(&req).expect("c").body["parallel_tool_calls"],
        false
    );
    let e = to_gemini::convert(&req).expect_err("Gemini cannot");
    assert_eq!(field_of(e), "tool_choice.disable_parallel_tool_use");
}

#[test]
fn stop_sequences_and_top_k_where_the_target_has_them() {
    let mut body = with_messages(json!([{ "role": "user", "content": "x" }]));
    body["stop_sequences"] = json!(["END"]);
    let req = parse(body.clone());
    assert_eq!(
        to_gemini::convert(&req).expect("g").body["generationConfig"]["stopSequences"],
        json!(["END"])
    );
    assert_eq!(to_chat::convert(&req).expect("c").body["stop"], json!(["END"]));
    assert_eq!(
        field_of(to_responses::convert(&req).expect_err("r")),
        "stop_sequences"
    );

    body["stop_sequences"] = json!(["a", "b", "c", "d", "e"]);
    assert_eq!(
        field_of(to_chat::convert(&parse(body.clone())).expect_err("c")),
        "stop_sequences"
    );

    body["stop_sequences"] = Value::Null;
    body["top_k"] = json!(40);
    let req = parse(body);
    assert_eq!(
        to_gemini::convert(&req).expect("g").body["generationConfig"]["topK"],
        40
    );
    assert_eq!(field_of(to_responses::convert(&req).expect_err("r")), "top_k");
    assert_eq!(field_of(to_chat::convert(&req).expect_err("c")), "top_k");
}

#[test]
fn structured_output_maps_to_each_targets_json_mode() {
    let schema = json!({ "type": "object", "properties": { "a": { "type": "integer" } } });
    let mut body = with_messages(json!([{ "role": "user", "content": "x" }]));
    body["output_config"] = json!({ "format": { "type": "json_schema", "schema": schema } });
    let req = parse(body);
    let g = to_gemini::convert(&req).expect("g").body;
    assert_eq!(g["generationConfig"]["responseMimeType"], "application/json");
    assert_eq!(g["generationConfig"]["responseJsonSchema"], schema);
    assert_eq!(
        to_responses::convert(&req).expect("r").body["text"]["format"]["schema"],
        schema
    );
    assert_eq!(
        to_chat::convert(&req).expect("c").body["response_format"]["json_schema"]["schema"],
        schema
    );
}

#[test]
fn what_no_target_expresses_is_refused_by_name() {
    let cases = [
        (json!({ "container": "c" }), "container"),
        (json!({ "mcp_servers": [] }), "mcp_servers"),
        (
            json!({ "tools": [{ "type": "web_search_20250305", "name": "web_search" }] }),
            "tools[0].type",
        ),
        (json!({ "tools": [{ "name": "f" }] }), "tools[0].input_schema"),
        (
            json!({ "thinking": { "type": "enabled" } }),
            "thinking.budget_tokens",
        ),
        (
            json!({ "output_config": { "effort": "extreme" } }),
            "output_config.effort",
        ),
        (
            json!({ "tool_choice": { "type": "sometimes" } }),
            "tool_choice.type",
        ),
        (
            json!({ "context_management": { "edits": [{ "type": "clear_tool_uses_20250919" }] } }),
            "context_management.edits[0].type",
        ),
        (
            json!({ "metadata": { "user_id": "u", "tier": "x" } }),
            "metadata.tier",
        ),
        (
            json!({ "messages": [{ "role": "tool", "content": "x" }] }),
            "messages[0].role",
        ),
        (
            json!({ "messages": [{ "role": "user", "content": [{ "type": "document", "source": {} }] }] }),
            "messages[0].content[0].type",
        ),
        (
            json!({ "messages": [{ "role": "user", "content": [{ "type": "image", "source": { "type": "file", "file_id": "f" } }] }] }),
            "messages[0].content[0].source.type",
        ),
    ];
    for (patch, field) in cases {
        let mut body = with_messages(json!([{ "role": "user", "content": "x" }]));
        if let (Some(b), Value::Object(p)) = (body.as_object_mut(), patch) {
            b.extend(p);
        }
        let e = Request::parse(&body).expect_err(field);
        assert_eq!(field_of(e), field);
    }
}

#[test]
fn gemini_refuses_what_it_cannot_name() {
    // A result for a call it never saw: Gemini answers calls by name.
    let body = with_messages(json!([
        { "role": "user", "content": [{ "type": "tool_result", "tool_use_id": "nope", "content": "x" }] },
    ]));
    let e = to_gemini::convert(&parse(body)).expect_err("unknown call");
    assert_eq!(field_of(e), "messages[0].content[0].tool_use_id");
    // An image URL with no type Gemini can tell.
    let body = with_messages(json!([
        { "role": "user", "content": [{ "type": "image", "source": { "type": "url", "url": "https://x.test/pic" } }] },
    ]));
    let e = to_gemini::convert(&parse(body)).expect_err("no mime type");
    assert_eq!(field_of(e), "messages[0].content[0].source.url");
}

#[test]
fn a_refusal_is_anthropics_400_invalid_request_error() {
    let mut body = with_messages(json!([{ "role": "user", "content": "x" }]));
    body["top_k"] = json!(5);
    let e = to_responses::convert(&parse(body)).expect_err("top_k");
    assert_eq!(
        e.anthropic_body(),
        json!({ "type": "error", "error": { "type": "invalid_request_error", "message": "top_k: OpenAI Responses has no top_k", "code": "invalid_request" } })
    );
    let failure = ApiError::from(e).in_format(ApiFormat::Anthropic);
    assert_eq!(failure.status_code().as_u16(), 400);
    let response = failure.error_response();
    let body = actix_web::body::to_bytes(response.into_body());
    let body = futures::executor::block_on(body).expect("a body");
    let body: Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(body["error"]["message"], "top_k: OpenAI Responses has no top_k");
}

#[test]
fn system_as_string_blocks_or_mid_conversation() {
    let body = json!({
        "model": "m",
        "system": [{ "type": "text", "text": "A", "cache_control": { "type": "ephemeral", "ttl": "1h" } }, { "type": "text", "text": "B" }],
        "messages": [
            { "role": "user", "content": "q" },
            { "role": "system", "content": "C" },
            { "role": "user", "content": "r" },
        ],
    });
    let req = parse(body);
    let g = to_gemini::convert(&req).expect("g").body;
    assert_eq!(
        g["systemInstruction"]["parts"],
        json!([{ "text": "A" }, { "text": "B" }, { "text": "C" }])
    );
    // The two user turns around the system message become one Gemini turn.
    assert_eq!(
        g["contents"],
        json!([{ "role": "user", "parts": [{ "text": "q" }, { "text": "r" }] }])
    );
    let r = to_responses::convert(&req).expect("r").body;
    assert_eq!(r["instructions"], "A\n\nB");
    assert_eq!(
        r["input"][1],
        json!({ "type": "message", "role": "system", "content": [{ "type": "input_text", "text": "C" }] })
    );
    let c = to_chat::convert(&req).expect("c").body;
    assert_eq!(c["messages"][0], json!({ "role": "system", "content": "A\n\nB" }));
    assert_eq!(
        c["messages"][2],
        json!({ "role": "system", "content": [{ "type": "text", "text": "C" }] })
    );
}
