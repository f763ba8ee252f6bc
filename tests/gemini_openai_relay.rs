//! The Gemini and OpenAI / Codex relays on the shared relay loop: real HTTP to switchyard,
//! the mock upstream speaking each wire format behind it.
mod support;

use bytes::Bytes;
use mock_upstream::{Fault, MockUsage};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::collections::HashMap;
use support::*;

fn gemini_body() -> Value {
    json!({"contents": [{"role": "user", "parts": [{"text": "Hello Gemini"}]}]})
}

async fn add_gemini_api(app: &TestApp, name: &str, key: &str) -> String {
    app.add_account(json!({"name": name, "kind": "gemini-api", "base_url": null, "api_key": key}))
        .await
}

async fn add_gemini_oauth(app: &TestApp, name: &str, token: &str) -> String {
    app.add_account(json!({
        "name": name, "kind": "gemini", "base_url": null, "api_key": null,
        "oauth": {"access_token": token, "refresh_token": "rt", "expires_at": now() + 3_600_000},
        "extra": {"project_id": "proj-1"},
    }))
    .await
}

async fn gemini_post(app: &TestApp, key: &str, path: &str, body: &Value) -> reqwest::Response {
    app.http
        .post(app.url(path))
        .header("x-goog-api-key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn settled(app: &TestApp) {
    app.state.usage.drain().await.unwrap();
}

async fn lifetime(app: &TestApp, key: &str) -> Value {
    app.http
        .get(app.url("/v1/usage"))
        .header("x-api-key", key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[actix_web::test]
async fn gemini_api_accounts_serve_every_route_form() {
    let app = spawn_app().await;
    add_gemini_api(&app, "g", "AIza-account-key").await;
    let (_, key) = app.create_key(json!({})).await;
    for path in [
        "/gemini/v1beta/models/gemini-2.5-flash:generateContent",
        "/gemini/v1/models/gemini-2.5-flash:generateContent",
        "/v1beta/models/gemini-2.5-flash:generateContent",
        "/v1/models/gemini-2.5-flash:generateContent",
    ] {
        let resp = gemini_post(&app, &key, path, &gemini_body()).await;
        assert_eq!(resp.status(), 200, "{path}");
        let v: Value = resp.json().await.unwrap();
        assert!(
            v["candidates"][0]["content"]["parts"][0]["text"].is_string(),
            "{v}"
        );
        let r = app.mock.requests().last().unwrap().clone();
        let version = if path.contains("v1beta") { "v1beta" } else { "v1" };
        assert_eq!(
            r.path,
            format!("/{version}/models/gemini-2.5-flash:generateContent")
        );
        assert_eq!(r.header("x-goog-api-key"), Some("AIza-account-key"));
        assert!(!r.headers.iter().any(|(_, v)| v.contains(&key)));
    }
    let count: Value = gemini_post(
        &app,
        &key,
        "/gemini/v1beta/models/gemini-2.5-flash:countTokens",
        &gemini_body(),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(count["totalTokens"], 25);
    let unknown = gemini_post(
        &app,
        &key,
        "/gemini/v1beta/models/gemini-2.5-flash:explode",
        &gemini_body(),
    )
    .await;
    assert_eq!(unknown.status(), 404);
    assert_eq!(
        unknown.json::<Value>().await.unwrap()["error"]["status"],
        "NOT_FOUND"
    );
    let list: Value = app
        .http
        .get(app.url("/gemini/v1beta/models"))
        .header("x-goog-api-key", &key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(list["models"][0]["name"].as_str().unwrap().starts_with("models/"));
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn gemini_streams_pass_through_as_sse_or_a_json_array_with_usage() {
    let app = spawn_app().await;
    add_gemini_api(&app, "g", "AIza-g").await;
    app.mock.set_usage(
        "AIza-g",
        MockUsage {
            input_tokens: 100,
            output_tokens: 10,
            cache_read: 40,
            ..Default::default()
        },
    );
    let (_, key) = app.create_key(json!({})).await;
    let sse = gemini_post(
        &app,
        &key,
        "/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        &gemini_body(),
    )
    .await;
    assert_eq!(sse.status(), 200);
    assert_eq!(sse.headers()["content-type"], "text/event-stream");
    let text = sse.text().await.unwrap();
    assert!(
        text.starts_with("data: {") && text.contains("usageMetadata"),
        "{text}"
    );
    assert_eq!(app.mock.requests().last().unwrap().query, "alt=sse");
    let array = gemini_post(
        &app,
        &key,
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
        &gemini_body(),
    )
    .await;
    let chunks: Vec<Value> = array.json().await.unwrap();
    assert!(chunks.len() > 1 && chunks.last().unwrap()["usageMetadata"]["promptTokenCount"] == 140);
    settled(&app).await;
    let u = lifetime(&app, &key).await;
    assert_eq!(u["requests"], 2);
    assert_eq!(u["input_tokens"], 200, "prompt minus cached");
    assert_eq!(u["cache_read_input_tokens"], 80);
    assert_eq!(u["output_tokens"], 20);
    // 100 × $0.30/M + 10 × $2.50/M + 40 × $0.075/M = $0.000058, twice
    assert_eq!(u["cost_usd"], "0.000116");
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn the_client_key_never_reaches_a_gemini_upstream_and_the_query_is_kept() {
    let app = spawn_app().await;
    add_gemini_api(&app, "g", "AIza-g").await;
    let (_, key) = app.create_key(json!({})).await;
    let model = "/gemini/v1beta/models/gemini-2.5-flash";
    for (path, query) in [
        // google-genai and the REST docs put the key in `?key=` on exactly these calls.
        (format!("{model}:generateContent"), ""),
        (format!("{model}:streamGenerateContent?alt=sse"), "alt=sse"),
        (format!("{model}:countTokens"), ""),
    ] {
        for place in KeyPlace::ALL {
            let resp = place
                .post(&app, &path, &key, gemini_body().to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200, "{path} with the key in {place:?}");
            resp.bytes().await.unwrap();
            let r = app.mock.requests().last().unwrap().clone();
            assert_eq!(r.query, query, "{path}, {place:?}: the rest of the query is kept");
            assert_client_key_withheld(&r, &key, ("x-goog-api-key", "AIza-g"));
        }
    }
    assert_eq!(app.mock.requests().len(), 15);
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn the_client_key_never_reaches_an_openai_upstream_and_the_query_is_kept() {
    let app = spawn_app().await;
    add_responses(&app, "r", "sk-proj-r").await;
    let (_, key) = app.create_key(json!({})).await;
    let chat = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]});
    for (path, body) in [
        (
            "/openai/v1/responses?api-version=2025-04-01",
            responses_body(false),
        ),
        ("/v1/responses?api-version=2025-04-01", responses_body(true)),
        ("/openai/v1/chat/completions?api-version=2025-04-01", chat),
    ] {
        for place in KeyPlace::ALL {
            let resp = place
                .post(&app, path, &key, body.to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200, "{path} with the key in {place:?}");
            resp.bytes().await.unwrap();
            let r = app.mock.requests().last().unwrap().clone();
            assert_eq!(
                r.query, "api-version=2025-04-01",
                "{path}, {place:?}: the rest of the query is kept"
            );
            assert_client_key_withheld(&r, &key, ("authorization", "Bearer sk-proj-r"));
        }
    }
    assert_eq!(app.mock.requests().len(), 15);
    app.assert_slots_released().await;
}

/// A valid but unusual JSON body for `fields` (a Gemini or OpenAI request's own fields, as JSON
/// text without the braces): odd whitespace and key order, escapes a re-serialiser would
/// rewrite, numbers beyond `u64` and `f64` precision, a trailing newline.
fn odd_body(fields: &str) -> String {
    format!(
        "{{ \"metadata\" : {{\"n\": 123456789012345678901234567890, \"x\": 0.10000000000000000000001, \"e\": 1E+2, \"s\": \"caf\\u00e9 \\ud83d\\ude00 a\\/b\"}},\r\n\t{fields} }}\n"
    )
}

/// Posts `body` with the key in `x-goog-api-key` / `Authorization` and returns what the mock
/// received.
async fn sent_upstream(app: &TestApp, key: &str, path: &str, body: &str) -> Bytes {
    let place = if path.contains("/models/") {
        KeyPlace::XGoogApiKey
    } else {
        KeyPlace::Bearer
    };
    let resp = place.post(app, path, key, body.to_owned()).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{path}: {body}");
    resp.bytes().await.unwrap();
    app.mock.requests().last().unwrap().body.clone()
}

#[actix_web::test]
async fn gemini_and_openai_upstreams_get_the_clients_body_byte_for_byte() {
    let app = spawn_app().await;
    add_gemini_api(&app, "g", "AIza-g").await;
    add_responses(&app, "r", "sk-proj-r").await;
    let (_, key) = app.create_key(json!({})).await;
    let gemini = odd_body(
        r#""contents":[ {"parts":[{"text":"hi \u00e9"}] , "role":"user"}],"generationConfig":{"temperature":0.70}"#,
    );
    let responses = odd_body(r#""input" : "hi \u00e9",  "model":"gpt-5","stream":false"#);
    let responses_stream = odd_body(r#""model":"gpt-5","stream" :true,"input":"hi""#);
    let chat = odd_body(r#""messages":[{"content":"hi \u00e9","role":"user"}],"model":"gpt-4o""#);
    // A stream that asks for usage itself needs no change either.
    let chat_stream = odd_body(
        r#""stream":true, "stream_options":{"include_usage" : true}, "model":"gpt-4o","messages":[{"role":"user","content":"hi"}]"#,
    );
    let model = "/gemini/v1beta/models/gemini-2.5-flash";
    for (path, body) in [
        (format!("{model}:generateContent"), &gemini),
        (format!("{model}:streamGenerateContent?alt=sse"), &gemini),
        (format!("{model}:streamGenerateContent"), &gemini),
        (format!("{model}:countTokens"), &gemini),
        ("/openai/v1/responses".to_owned(), &responses),
        ("/openai/v1/responses".to_owned(), &responses_stream),
        ("/v1/chat/completions".to_owned(), &chat),
        ("/v1/chat/completions".to_owned(), &chat_stream),
    ] {
        let sent = sent_upstream(&app, &key, &path, body).await;
        assert_eq!(String::from_utf8_lossy(&sent), *body, "{path}");
    }
    app.assert_slots_released().await;
}

/// A JSON object's members as their raw text, exactly as written.
fn members(json: &[u8]) -> HashMap<String, String> {
    let map: HashMap<String, &RawValue> = serde_json::from_slice(json).unwrap();
    map.into_iter().map(|(k, v)| (k, v.get().to_owned())).collect()
}

#[actix_web::test]
async fn a_chat_stream_without_include_usage_changes_only_that_on_the_way_up() {
    let app = spawn_app().await;
    add_responses(&app, "r", "sk-proj-r").await;
    let (_, key) = app.create_key(json!({})).await;
    for fields in [
        r#""stream":true, "model":"gpt-4o","messages":[{"role":"user","content":"hi \u00e9"}], "temperature": 0.70"#,
        r#""stream":true, "stream_options":{"include_usage":false, "other": [1, 2]}, "model":"gpt-4o","messages":[{"role":"user","content":"hi"}]"#,
    ] {
        let body = odd_body(fields);
        let sent = sent_upstream(&app, &key, "/v1/chat/completions", &body).await;
        // Every other member is byte for byte what the client wrote (odd numbers and escapes
        // included): no re-serialisation of the client's JSON.
        let (mut sent_members, mut client_members) = (members(&sent), members(body.as_bytes()));
        let options = sent_members
            .remove("stream_options")
            .expect("stream_options sent");
        let theirs = client_members.remove("stream_options");
        assert_eq!(sent_members, client_members, "nothing else changed");
        // Within stream_options, only include_usage is set.
        let mut options: Value = serde_json::from_str(&options).unwrap();
        assert_eq!(options["include_usage"], true, "switchyard asks for usage");
        let mut want = theirs.map_or(json!({}), |t| serde_json::from_str(&t).unwrap());
        want["include_usage"] = json!(true);
        options["include_usage"] = json!(true);
        assert_eq!(options, want);
    }
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn gemini_oauth_accounts_go_through_code_assist_and_answer_in_gemini_format() {
    let app = spawn_app().await;
    add_gemini_oauth(&app, "ca", "ya29-token").await;
    let (key_id, key) = app.create_key(json!({})).await;
    let resp = gemini_post(
        &app,
        &key,
        "/gemini/v1beta/models/gemini-2.5-pro:generateContent",
        &gemini_body(),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert!(
        v["candidates"].is_array() && v.get("response").is_none(),
        "unwrapped: {v}"
    );
    let r = app.mock.requests().last().unwrap().clone();
    assert_eq!(r.path, "/v1internal:generateContent");
    assert_eq!(r.header("authorization"), Some("Bearer ya29-token"));
    let sent = r.json();
    assert_eq!(
        (sent["model"].as_str(), sent["project"].as_str()),
        (Some("gemini-2.5-pro"), Some("proj-1"))
    );
    assert_eq!(sent["request"], gemini_body());

    let sse = gemini_post(
        &app,
        &key,
        "/gemini/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
        &gemini_body(),
    )
    .await;
    let text = sse.text().await.unwrap();
    assert!(
        text.starts_with("data: {\"candidates\"") && !text.contains("\"response\""),
        "{text}"
    );
    let array = gemini_post(
        &app,
        &key,
        "/gemini/v1beta/models/gemini-2.5-pro:streamGenerateContent",
        &gemini_body(),
    )
    .await;
    assert_eq!(array.headers()["content-type"], "application/json");
    let chunks: Vec<Value> = array.json().await.unwrap();
    assert!(chunks.iter().all(|c| c.get("response").is_none()) && chunks.len() > 1);
    assert_eq!(
        app.mock.requests().last().unwrap().query,
        "alt=sse",
        "Code Assist is always asked for SSE"
    );

    // Gemini CLI speaking Code Assist directly: passed through, the project is the account's.
    let ca_body = json!({"model": "gemini-2.5-pro", "project": "someone-elses", "request": gemini_body()});
    let resp = gemini_post(&app, &key, "/gemini/v1internal:generateContent", &ca_body).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.json::<Value>().await.unwrap()["response"]["candidates"].is_array());
    assert_eq!(app.mock.requests().last().unwrap().json()["project"], "proj-1");
    app.wait_for_usage(&key_id, 4).await;
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn gemini_failover_cooldown_and_error_shapes() {
    let app = spawn_app().await;
    let a = app
        .add_account(
            json!({"name": "a", "kind": "gemini-api", "base_url": null, "api_key": "AIza-a", "priority": 1}),
        )
        .await;
    add_gemini_api(&app, "b", "AIza-b").await;
    let (_, key) = app.create_key(json!({})).await;
    app.mock.enqueue(
        "AIza-a",
        Fault::gemini_error(429, "RESOURCE_EXHAUSTED", "quota").with_header("retry-after", "30"),
    );
    let resp = gemini_post(
        &app,
        &key,
        "/gemini/v1beta/models/gemini-2.5-flash:generateContent",
        &gemini_body(),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(app.account(&a).await["cooldown"]["reason"], "rate_limit");

    let resp = app
        .http
        .post(app.url("/gemini/v1beta/models/gemini-2.5-flash:generateContent"))
        .json(&gemini_body())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        (v["error"]["code"].as_u64(), v["error"]["status"].as_str()),
        (Some(401), Some("UNAUTHENTICATED"))
    );
    let (_, claude_only) = app.create_key(json!({"permissions": ["claude"]})).await;
    let resp = app
        .http
        .post(app.url(&format!(
            "/gemini/v1beta/models/gemini-2.5-flash:generateContent?key={claude_only}"
        )))
        .json(&gemini_body())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["status"],
        "PERMISSION_DENIED"
    );
    let bad = gemini_post(
        &app,
        &key,
        "/gemini/v1beta/models/gemini-2.5-flash:generateContent",
        &json!([1, 2]),
    )
    .await;
    assert_eq!(bad.status(), 400);
    assert_eq!(
        bad.json::<Value>().await.unwrap()["error"]["status"],
        "INVALID_ARGUMENT"
    );
    assert!(
        app.mock
            .requests()
            .iter()
            .all(|r| r.query.is_empty() || !r.query.contains("key="))
    );
    app.assert_slots_released().await;
}

async fn add_responses(app: &TestApp, name: &str, key: &str) -> String {
    app.add_account(json!({"name": name, "kind": "openai-responses", "base_url": format!("{}/v1", app.mock.url()), "api_key": key}))
        .await
}

async fn openai_post(app: &TestApp, key: &str, path: &str, body: &Value) -> reqwest::Response {
    app.http
        .post(app.url(path))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .unwrap()
}

fn responses_body(stream: bool) -> Value {
    json!({"model": "gpt-5", "input": "Say hi", "stream": stream})
}

#[actix_web::test]
async fn responses_accounts_serve_the_responses_api_json_and_stream() {
    let app = spawn_app().await;
    add_responses(&app, "r", "sk-proj-r").await;
    let (_, key) = app.create_key(json!({})).await;
    for path in ["/openai/v1/responses", "/openai/responses", "/v1/responses"] {
        let v: Value = openai_post(&app, &key, path, &responses_body(false))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(v["object"], "response");
        let r = app.mock.requests().last().unwrap().clone();
        assert_eq!(r.path, "/v1/responses", "no doubled /v1");
        assert_eq!(r.header("authorization"), Some("Bearer sk-proj-r"));
    }
    let resp = openai_post(&app, &key, "/openai/v1/responses", &responses_body(true)).await;
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let text = resp.text().await.unwrap();
    assert!(text.contains("response.created") && text.contains("response.completed"));
    settled(&app).await;
    assert_eq!(lifetime(&app, &key).await["requests"], 4);
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn codex_oauth_accounts_use_the_codex_backend_and_sessions_stick() {
    let app = spawn_app().await;
    for (n, t) in [("c1", "codex-at-1"), ("c2", "codex-at-2")] {
        app.add_account(json!({
            "name": n, "kind": "openai", "base_url": null, "api_key": null,
            "oauth": {"access_token": t, "refresh_token": "rt", "expires_at": now() + 3_600_000},
            "extra": {"chatgpt_account_id": format!("acct-{n}")},
        }))
        .await;
    }
    let (_, key) = app.create_key(json!({})).await;
    let captured: Vec<Value> = fixture("codex_cli");
    let mut served = Vec::new();
    for r in &captured {
        let mut req = app.http.post(app.url("/openai/v1/responses")).bearer_auth(&key);
        for (name, value) in r["headers"].as_object().unwrap() {
            if !["authorization", "host", "content-length", "accept-encoding"].contains(&name.as_str()) {
                req = req.header(name, value.as_str().unwrap());
            }
        }
        let resp = req.json(&r["body"]).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        resp.bytes().await.unwrap();
        let up = app.mock.requests().last().unwrap().clone();
        assert_eq!(up.path, "/backend-api/codex/responses");
        assert!(up.header("chatgpt-account-id").unwrap().starts_with("acct-"));
        assert_eq!(up.header("session-id"), r["headers"]["session-id"].as_str());
        served.push((
            r["headers"]["session-id"].as_str().unwrap().to_owned(),
            up.credential.unwrap(),
        ));
    }
    for (s, cred) in &served {
        let same: Vec<_> = served.iter().filter(|(s2, _)| s2 == s).map(|(_, c)| c).collect();
        assert!(
            same.iter().all(|c| *c == cred),
            "one Codex session, one account: {served:?}"
        );
    }
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn chat_completions_with_include_usage_are_relayed_and_counted() {
    let app = spawn_app().await;
    add_responses(&app, "r", "sk-proj-r").await;
    app.mock.set_usage(
        "sk-proj-r",
        MockUsage {
            input_tokens: 30,
            output_tokens: 5,
            cache_read: 10,
            ..Default::default()
        },
    );
    let (_, key) = app.create_key(json!({})).await;
    let body = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "stream": true,
        "stream_options": {"include_usage": true}});
    let text = openai_post(&app, &key, "/openai/v1/chat/completions", &body)
        .await
        .text()
        .await
        .unwrap();
    assert!(text.trim_end().ends_with("data: [DONE]"));
    let plain = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]});
    let v: Value = openai_post(&app, &key, "/v1/chat/completions", &plain)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(app.mock.requests().last().unwrap().path, "/v1/chat/completions");
    settled(&app).await;
    let u = lifetime(&app, &key).await;
    assert_eq!(
        (
            u["input_tokens"].as_u64(),
            u["cache_read_input_tokens"].as_u64(),
            u["output_tokens"].as_u64()
        ),
        (Some(60), Some(20), Some(10))
    );
    let missing = openai_post(&app, &key, "/v1/chat/completions", &json!({"model": "gpt-4o"})).await;
    assert_eq!(missing.status(), 400);
    let v: Value = missing.json().await.unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error");
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn a_codex_responses_stream_costs_what_a_hand_computation_says() {
    let app = spawn_app().await;
    add_responses(&app, "r", "sk-proj-r").await;
    app.mock.set_usage(
        "sk-proj-r",
        MockUsage {
            input_tokens: 1_000,
            output_tokens: 200,
            cache_read: 400,
            ..Default::default()
        },
    );
    let (_, key) = app.create_key(json!({})).await;
    openai_post(&app, &key, "/openai/responses", &responses_body(true))
        .await
        .text()
        .await
        .unwrap();
    settled(&app).await;
    // gpt-5: 1000 × $1.25/M + 400 cached × $0.125/M + 200 × $10/M = $0.0033
    let u = lifetime(&app, &key).await;
    assert_eq!(u["cost_usd"], "0.003300");
    assert_eq!(u["cache_read_input_tokens"], 400);
}

#[actix_web::test]
async fn openai_failover_uses_rate_limit_reset_headers() {
    let app = spawn_app().await;
    let a = app
        .add_account(json!({"name": "a", "kind": "openai-responses", "base_url": app.mock.url(), "api_key": "sk-a", "priority": 1}))
        .await;
    add_responses(&app, "b", "sk-b").await;
    let (_, key) = app.create_key(json!({})).await;
    app.mock.enqueue(
        "sk-a",
        Fault::openai_error(429, "rate_limit_exceeded", "slow")
            .with_header("x-ratelimit-reset-requests", "2m30s"),
    );
    let t0 = now();
    assert_eq!(
        openai_post(&app, &key, "/v1/responses", &responses_body(false))
            .await
            .status(),
        200
    );
    let until = app.account(&a).await["cooldown"]["until"].as_i64().unwrap();
    assert!((t0 + 149_000..=now() + 150_000).contains(&until), "{until}");
    let resp = openai_post(&app, "cr_nope", "/v1/responses", &responses_body(false)).await;
    assert_eq!(resp.status(), 401);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "authentication_error");
    assert_eq!(v["error"]["code"], "invalid_api_key_format");
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn usage_limit_reached_in_a_stream_rests_the_account_afterwards() {
    let app = spawn_app().await;
    let a = add_responses(&app, "r", "sk-proj-r").await;
    let (_, key) = app.create_key(json!({})).await;
    let body = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"usage_limit_reached\",\"message\":\"limit\",\"resets_in_seconds\":900}}\n\n";
    app.mock.enqueue(
        "sk-proj-r",
        Fault::Status {
            status: 200,
            headers: vec![("content-type".into(), "text/event-stream".into())],
            body: body.into(),
        },
    );
    let text = openai_post(&app, &key, "/v1/responses", &responses_body(true))
        .await
        .text()
        .await
        .unwrap();
    assert!(text.contains("usage_limit_reached"), "passed through as is");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    loop {
        let v = app.account(&a).await;
        // Counted like any other cooldown, though it began after the answer had started.
        let counted = app
            .state
            .metrics
            .cooldowns
            .with_label_values(&["rate_limit"])
            .get();
        if v["cooldown"]["reason"] == "rate_limit" && counted == 1 {
            let until = v["cooldown"]["until"].as_i64().unwrap();
            assert!(until > now() + 890_000, "resets_in_seconds sets the length");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the account was not rested: {v}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn requests_only_some_account_kinds_can_serve_go_only_to_them() {
    let app = spawn_app().await;
    app.add_account(json!({
        "name": "codex", "kind": "openai", "base_url": null, "api_key": null,
        "oauth": {"access_token": "codex-at", "refresh_token": "rt", "expires_at": now() + 3_600_000},
    }))
    .await;
    add_gemini_api(&app, "g", "AIza-g").await;
    let (_, key) = app.create_key(json!({})).await;
    // Chat completions need a Responses-compatible API key account, not the Codex backend.
    let chat = json!({"model": "gpt-5", "messages": [{"role": "user", "content": "hi"}]});
    let resp = openai_post(&app, &key, "/v1/chat/completions", &chat).await;
    assert_eq!(resp.status(), 503);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["type"],
        "server_error"
    );
    // Code Assist calls need a Gemini OAuth account.
    let ca = json!({"model": "gemini-2.5-pro", "project": "p", "request": gemini_body()});
    let resp = gemini_post(&app, &key, "/gemini/v1internal:generateContent", &ca).await;
    assert_eq!(resp.status(), 503);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["status"],
        "UNAVAILABLE"
    );
    assert!(
        app.mock.requests().is_empty(),
        "no account of the wrong kind was tried"
    );
    add_responses(&app, "r", "sk-r").await;
    assert_eq!(
        openai_post(&app, &key, "/v1/chat/completions", &chat)
            .await
            .status(),
        200
    );
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn expired_gemini_and_codex_tokens_are_refreshed_through_their_token_urls() {
    let app = spawn_app().await;
    let expired = now() - 1_000;
    app.add_account(json!({
        "name": "ca", "kind": "gemini", "base_url": null, "api_key": null,
        "oauth": {"access_token": "ya29-old", "refresh_token": "g-rt", "expires_at": expired},
        "extra": {"project_id": "proj-1"},
    }))
    .await;
    app.add_account(json!({
        "name": "codex", "kind": "openai", "base_url": null, "api_key": null,
        "oauth": {"access_token": "codex-old", "refresh_token": "o-rt", "expires_at": expired},
    }))
    .await;
    let (_, key) = app.create_key(json!({})).await;
    let resp = gemini_post(
        &app,
        &key,
        "/gemini/v1beta/models/gemini-2.5-pro:generateContent",
        &gemini_body(),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let resp = openai_post(&app, &key, "/openai/responses", &responses_body(false)).await;
    assert_eq!(resp.status(), 200);
    let calls = app.mock.token_requests();
    assert_eq!(calls.len(), 2, "one refresh per account");
    let google = calls
        .iter()
        .find(|c| c.param("refresh_token").as_deref() == Some("g-rt"))
        .expect("google refresh");
    assert_eq!(google.path, "/token");
    assert_eq!(
        google.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert!(
        google.param("client_secret").is_some(),
        "Google refreshes send the installed-app secret"
    );
    let openai = calls
        .iter()
        .find(|c| c.param("refresh_token").as_deref() == Some("o-rt"))
        .expect("openai refresh");
    assert_eq!(openai.path, "/oauth/token");
    assert_eq!(
        openai.param("client_id").as_deref(),
        Some("app_EMoamEEZ73f0CkXaXp7hrann")
    );
    for r in app.mock.requests() {
        let auth = r.header("authorization").unwrap_or_default().to_owned();
        assert!(
            auth.starts_with("Bearer mock-at-"),
            "the fresh token is used: {auth}"
        );
    }
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn chat_streams_are_always_counted_without_showing_the_extra_usage_chunk() {
    let app = spawn_app().await;
    add_responses(&app, "r", "sk-proj-r").await;
    let (_, key) = app.create_key(json!({})).await;
    let body = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "stream": true});
    let text = openai_post(&app, &key, "/v1/chat/completions", &body)
        .await
        .text()
        .await
        .unwrap();
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    assert!(
        !text.contains("\"choices\":[]"),
        "the usage chunk the client did not ask for is dropped: {text}"
    );
    let sent = app.mock.requests().last().unwrap().json();
    assert_eq!(
        sent["stream_options"]["include_usage"], true,
        "switchyard asked for usage"
    );
    settled(&app).await;
    let u = lifetime(&app, &key).await;
    assert_eq!(
        (u["requests"].as_u64(), u["output_tokens"].as_u64()),
        (Some(1), Some(12))
    );
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn gemini_paths_cannot_reach_other_upstream_endpoints() {
    let app = spawn_app().await;
    add_gemini_api(&app, "g", "AIza-g").await;
    let (_, key) = app.create_key(json!({})).await;
    for path in [
        "/gemini/v1beta/models/x%2F..%2F..%2FcachedContents%3F:generateContent",
        "/v1beta/models/gemini-2.5-pro:generateContent%23:countTokens",
        "/gemini/v1beta/models/..:generateContent",
    ] {
        let resp = gemini_post(&app, &key, path, &gemini_body()).await;
        assert_eq!(resp.status(), 404, "{path}");
        assert_eq!(
            resp.json::<Value>().await.unwrap()["error"]["status"],
            "NOT_FOUND"
        );
    }
    let resp = gemini_post(
        &app,
        &key,
        "/gemini/v1internal:setCodeAssistGlobalUserSetting",
        &json!({}),
    )
    .await;
    assert_eq!(
        resp.status(),
        404,
        "only the Code Assist methods Gemini CLI uses are relayed"
    );
    assert!(app.mock.requests().is_empty());
}

#[actix_web::test]
async fn spending_limits_answer_in_each_apis_own_way() {
    let app = spawn_app().await;
    add_responses(&app, "r", "sk-r").await;
    add_gemini_api(&app, "g", "AIza-g").await;
    let (_, key) = app
        .create_key(json!({"limits": {"total_cost_usd": "0.000001"}}))
        .await;
    assert_eq!(
        openai_post(&app, &key, "/v1/responses", &responses_body(false))
            .await
            .status(),
        200
    );
    settled(&app).await;
    let resp = openai_post(&app, &key, "/v1/responses", &responses_body(false)).await;
    assert_eq!(resp.status(), 429, "OpenAI signals an exhausted quota with 429");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        (v["error"]["type"].as_str(), v["error"]["code"].as_str()),
        (Some("insufficient_quota"), Some("total_cost_limit_exceeded"))
    );
    let resp = gemini_post(
        &app,
        &key,
        "/gemini/v1beta/models/gemini-2.5-flash:generateContent",
        &gemini_body(),
    )
    .await;
    assert_eq!(resp.status(), 429);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["status"],
        "RESOURCE_EXHAUSTED"
    );
}
