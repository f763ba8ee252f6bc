//! The official Python SDKs (from PyPI, in the git-ignored `.venv` that `make test` creates)
//! against switchyard with the mock upstream behind it.
mod support;

use serde_json::json;
use std::path::PathBuf;
use support::*;

fn python() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    assert!(
        p.exists(),
        "{} is missing: run `make test` (it creates the venv with the SDKs)",
        p.display()
    );
    p
}

async fn run_script(script: &str, base: &str, key: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(script);
    let out = tokio::process::Command::new(python())
        .arg(&path)
        .env("SWITCHYARD_URL", base)
        .env("SWITCHYARD_KEY", key)
        .output()
        .await
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{script} failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
}

#[actix_web::test]
async fn the_anthropic_sdk_works_against_switchyard() {
    let app = spawn_app().await;
    app.add_console("a", "sk-ant-a").await;
    let (key_id, key) = app.create_key(json!({})).await;
    run_script("anthropic_sdk.py", &app.base, &key).await;
    // create, stream and the raw stream carry usage; count_tokens answers carry none.
    let usage = app.wait_for_usage(&key_id, 3).await;
    assert_eq!(usage.requests, 3);
    assert_eq!(usage.output_tokens, 3 * 12);
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn the_openai_sdk_works_against_switchyard() {
    let app = spawn_app().await;
    app.add_account(
        json!({"name": "r", "kind": "openai-responses", "base_url": app.mock.url(), "api_key": "sk-r"}),
    )
    .await;
    let (key_id, key) = app.create_key(json!({})).await;
    run_script("openai_sdk.py", &app.base, &key).await;
    // Per base URL: chat, chat stream, responses, responses stream, responses.stream().
    let usage = app.wait_for_usage(&key_id, 10).await;
    assert_eq!(usage.requests, 10);
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn the_google_genai_sdk_works_against_switchyard() {
    let app = spawn_app().await;
    app.add_account(json!({"name": "g", "kind": "gemini-api", "base_url": null, "api_key": "AIza-g"}))
        .await;
    let (key_id, key) = app.create_key(json!({})).await;
    run_script("gemini_sdk.py", &app.base, &key).await;
    // 4 base/version pairs × (generate + stream); count_tokens carries no usage.
    let usage = app.wait_for_usage(&key_id, 8).await;
    assert_eq!(usage.requests, 8);
    app.assert_slots_released().await;
}
