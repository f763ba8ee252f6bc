//! Gemini and Gemini Code Assist wire formats.

use mock_upstream::{MockUpstream, MockUsage};
use serde_json::{Value, json};

use crate::common::{client, json_ok, post};

const KEY: (&str, &str) = ("x-goog-api-key", "AIza-acct");

fn hello() -> Value {
    json!({"contents": [{"role": "user", "parts": [{"text": "Say hello"}]}]})
}

fn text_of(chunk: &Value) -> String {
    chunk["candidates"][0]["content"]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p.get("thought").is_none())
        .filter_map(|p| p["text"].as_str())
        .collect()
}

#[tokio::test]
async fn generate_content_json() {
    let mock = MockUpstream::start();
    mock.set_usage(
        "AIza-acct",
        MockUsage {
            input_tokens: 50,
            cache_read: 30,
            output_tokens: 9,
            ..MockUsage::default()
        },
    );
    let answer =
        json_ok(post(&mock, "/v1/models/gemini-2.5-flash:generateContent", KEY, hello()).await).await;
    assert_eq!(answer["candidates"][0]["content"]["role"], "model");
    assert_eq!(answer["candidates"][0]["finishReason"], "STOP");
    assert!(text_of(&answer).starts_with("MOCK_OK"));
    assert_eq!(answer["modelVersion"], "gemini-2.5-flash");
    assert_eq!(
        answer["usageMetadata"],
        json!({"promptTokenCount": 80, "candidatesTokenCount": 9, "cachedContentTokenCount": 30, "totalTokenCount": 89})
    );
}

#[tokio::test]
async fn stream_sse_uses_data_space_and_crlf_framing() {
    let mock = MockUpstream::start();
    let response = post(
        &mock,
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        KEY,
        hello(),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["transfer-encoding"], "chunked");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let body = response.text().await.unwrap();
    assert!(body.ends_with("\r\n\r\n"));
    let chunks: Vec<Value> = body
        .split("\r\n\r\n")
        .filter(|c| !c.is_empty())
        .map(|c| serde_json::from_str(c.strip_prefix("data: ").expect("`data: ` with a space")).unwrap())
        .collect();
    assert!(chunks.len() >= 2);
    let text: String = chunks.iter().map(text_of).collect();
    assert_eq!(text, "MOCK_OK hello from the mock upstream.");
    let last = chunks.last().unwrap();
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    let usage = &last["usageMetadata"];
    for field in [
        "promptTokenCount",
        "candidatesTokenCount",
        "cachedContentTokenCount",
        "totalTokenCount",
    ] {
        assert!(usage[field].is_u64(), "{field} on the last chunk");
    }
    assert_eq!(usage["totalTokenCount"], 37);
    assert!(
        chunks[..chunks.len() - 1]
            .iter()
            .all(|c| c["candidates"][0].get("finishReason").is_none())
    );
}

#[tokio::test]
async fn stream_without_alt_sse_is_a_json_array() {
    let mock = MockUpstream::start();
    let response = post(
        &mock,
        "/v1beta/models/gemini-2.5-pro:streamGenerateContent",
        KEY,
        hello(),
    )
    .await;
    let chunks: Value = serde_json::from_str(&response.text().await.unwrap()).expect("JSON array");
    let chunks = chunks.as_array().unwrap();
    assert!(chunks.len() >= 2);
    assert_eq!(
        chunks.last().unwrap()["usageMetadata"]["candidatesTokenCount"],
        12
    );
}

#[tokio::test]
async fn json_output_follows_the_response_schema() {
    let mock = MockUpstream::start();
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "rate this"}]}],
        "generationConfig": {"responseMimeType": "application/json", "responseJsonSchema": {"type": "OBJECT",
            "properties": {"complexity_reasoning": {"type": "STRING"}, "complexity_score": {"type": "INTEGER"}},
            "required": ["complexity_reasoning", "complexity_score"]}}});
    let answer = json_ok(
        post(
            &mock,
            "/v1beta/models/gemini-3.5-flash-lite:generateContent",
            KEY,
            body.clone(),
        )
        .await,
    )
    .await;
    let parsed: Value = serde_json::from_str(&text_of(&answer)).expect("reply text is JSON");
    assert!(parsed["complexity_reasoning"].is_string());
    assert!(parsed["complexity_score"].is_i64());

    let response = post(
        &mock,
        "/v1beta/models/gemini-3.5-flash-lite:streamGenerateContent?alt=sse",
        KEY,
        body,
    )
    .await;
    let text: String = response
        .text()
        .await
        .unwrap()
        .split("\r\n\r\n")
        .filter(|c| !c.is_empty())
        .map(|c| text_of(&serde_json::from_str(&c[6..]).unwrap()))
        .collect();
    assert!(serde_json::from_str::<Value>(&text).unwrap().is_object());
}

#[tokio::test]
async fn thoughts_and_tool_calls() {
    let mock = MockUpstream::start();
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "MOCK_TOOL_CALL Paris"}]}],
        "tools": [{"functionDeclarations": [{"name": "get_weather",
            "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}, "required": ["city"]}}]}],
        "generationConfig": {"thinkingConfig": {"includeThoughts": true}}});
    let answer = json_ok(post(&mock, "/v1/models/gemini-2.5-flash:generateContent", KEY, body).await).await;
    let parts = answer["candidates"][0]["content"]["parts"].as_array().unwrap();
    assert_eq!(parts[0]["thought"], true);
    let call = parts
        .iter()
        .find_map(|p| p.get("functionCall"))
        .expect("functionCall part");
    assert_eq!(call, &json!({"name": "get_weather", "args": {"city": "mock"}}));

    // google-genai (Python) writes some field names in snake_case; Gemini accepts both.
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "MOCK_TOOL_CALL Paris"}]}],
        "tools": [{"functionDeclarations": [{"name": "get_weather", "parameters_json_schema":
            {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]}],
        "generationConfig": {"thinkingConfig": {"include_thoughts": true}}});
    let answer = json_ok(post(&mock, "/v1/models/gemini-2.5-flash:generateContent", KEY, body).await).await;
    let parts = answer["candidates"][0]["content"]["parts"].as_array().unwrap();
    assert_eq!(parts[0]["thought"], true);
    let call = parts
        .iter()
        .find_map(|p| p.get("functionCall"))
        .expect("functionCall part");
    assert_eq!(call["args"], json!({"city": "mock"}));
}

#[tokio::test]
async fn count_tokens_and_models() {
    let mock = MockUpstream::start();
    let count = json_ok(post(&mock, "/v1/models/gemini-2.5-flash:countTokens", KEY, hello()).await).await;
    assert_eq!(count, json!({"totalTokens": 25}));
    let list: Value = client()
        .get(format!("{}/v1beta/models?key=AIza-acct", mock.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(list["models"][0]["name"].as_str().unwrap().starts_with("models/"));
}

#[tokio::test]
async fn code_assist_wraps_requests_and_answers() {
    let mock = MockUpstream::start();
    let bearer = ("authorization", "Bearer ya29.oauth");
    let wrapped = json!({"model": "gemini-2.5-pro", "project": "p-1", "user_prompt_id": "u",
        "request": {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}});
    let answer = json_ok(post(&mock, "/v1internal:generateContent", bearer, wrapped.clone()).await).await;
    assert!(text_of(&answer["response"]).starts_with("MOCK_OK"));
    assert_eq!(answer["response"]["modelVersion"], "gemini-2.5-pro");
    assert_eq!(answer["response"]["usageMetadata"]["totalTokenCount"], 37);

    let response = post(
        &mock,
        "/v1internal:streamGenerateContent?alt=sse",
        bearer,
        wrapped,
    )
    .await;
    let body = response.text().await.unwrap();
    let chunks: Vec<Value> = body
        .split("\r\n\r\n")
        .filter(|c| !c.is_empty())
        .map(|c| serde_json::from_str(&c[6..]).unwrap())
        .collect();
    assert!(chunks.iter().all(|c| c.get("response").is_some()));
    assert_eq!(
        chunks.last().unwrap()["response"]["candidates"][0]["finishReason"],
        "STOP"
    );

    let count = json!({"request": {"model": "models/gemini-2.5-pro", "contents": []}});
    let count = json_ok(post(&mock, "/v1internal:countTokens", bearer, count).await).await;
    assert_eq!(count["totalTokens"], 25);
    let load = json_ok(
        post(
            &mock,
            "/v1internal:loadCodeAssist",
            bearer,
            json!({"metadata": {}}),
        )
        .await,
    )
    .await;
    assert_eq!(load["cloudaicompanionProject"], "mock-project");
    assert!(load["currentTier"]["id"].is_string());
    assert_eq!(mock.requests_for("ya29.oauth").len(), 4);
}
