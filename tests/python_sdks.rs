//! The official Python SDKs (from PyPI, in the git-ignored `.venv` that `make venv` creates and
//! `make test` creates first) against switchyard with the mock upstream behind it. Without the
//! venv these tests fail in CI (`CI` set); elsewhere each says on the terminal that it was
//! skipped and what to run, so a bare `cargo test --workspace` goes on to the later binaries.
mod support;

use serde_json::json;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use support::*;

/// The venv's python; `None` when the venv is missing outside CI (said on the terminal).
fn python(test: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    if p.exists() {
        return Some(p);
    }
    let missing = format!(
        "{} is missing: run `make venv` (it installs the Python SDKs; `make test` runs it first)",
        p.display()
    );
    assert!(std::env::var_os("CI").is_none(), "{missing}");
    // Straight to stderr, not `eprintln!`: libtest hides a passing test's captured output.
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {missing}");
    None
}

/// How long one SDK script may run. Each makes a handful of requests to servers on this
/// machine and usually ends within seconds; only a hang (a stream that never ends, a retry loop)
/// gets near this.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(180);

/// Runs `script` against switchyard at `base` with `key`; fails with its output when it fails
/// or outlives [`SCRIPT_TIMEOUT`] (then it is killed first).
async fn run_script(python: PathBuf, script: &str, base: &str, key: &str) {
    run_script_with(python, script, base, key, &[]).await;
}

/// [`run_script`] with more environment variables for the script.
async fn run_script_with(python: PathBuf, script: &str, base: &str, key: &str, env: &[(&str, &str)]) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(script);
    let mut command = Command::new(python);
    command
        .arg(&path)
        .env("SWITCHYARD_URL", base)
        .env("SWITCHYARD_KEY", key)
        .envs(env.iter().copied());
    // On a thread of its own: the app under test runs on this test's runtime.
    let (status, stdout, stderr) =
        tokio::task::spawn_blocking(move || run_with_timeout(command, SCRIPT_TIMEOUT))
            .await
            .expect("the script's thread");
    let outcome = match status {
        Some(status) if status.success() => return,
        Some(status) => format!("failed ({status})"),
        None => format!("was killed after {SCRIPT_TIMEOUT:?}"),
    };
    panic!("{script} {outcome}\n--- stdout\n{stdout}\n--- stderr\n{stderr}");
}

/// Runs `command` with its output captured; `None` for the status when it ran out of `limit`
/// and was killed.
fn run_with_timeout(mut command: Command, limit: Duration) -> (Option<ExitStatus>, String, String) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python runs");
    // Read both pipes as the script writes, so a chatty script cannot block on a full pipe.
    let read = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut out = Vec::new();
            let _ = pipe.read_to_end(&mut out);
            String::from_utf8_lossy(&out).into_owned()
        })
    };
    let stdout = read(Box::new(child.stdout.take().expect("piped")));
    let stderr = read(Box::new(child.stderr.take().expect("piped")));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("the script can be waited for") {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = |reader: std::thread::JoinHandle<String>| reader.join().unwrap_or_default();
    (status, text(stdout), text(stderr))
}

#[actix_web::test]
async fn the_anthropic_sdk_works_against_switchyard() {
    let Some(python) = python("the_anthropic_sdk_works_against_switchyard") else {
        return;
    };
    let app = spawn_app().await;
    app.add_console("a", "sk-ant-a").await;
    let (key_id, key) = app.create_key(json!({})).await;
    run_script(python, "anthropic_sdk.py", &app.base, &key).await;
    // create, stream and the raw stream carry usage; count_tokens answers carry none.
    let usage = app.wait_for_usage(&key_id, 3).await;
    assert_eq!(usage.requests, 3);
    assert_eq!(usage.output_tokens, 3 * 12);
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn the_openai_sdk_works_against_switchyard() {
    let Some(python) = python("the_openai_sdk_works_against_switchyard") else {
        return;
    };
    let app = spawn_app().await;
    app.add_account(
        json!({"name": "r", "kind": "openai-responses", "base_url": app.mock.url(), "api_key": "sk-r"}),
    )
    .await;
    let (key_id, key) = app.create_key(json!({})).await;
    run_script(python, "openai_sdk.py", &app.base, &key).await;
    // Per base URL: chat, chat stream, responses, responses stream, responses.stream().
    let usage = app.wait_for_usage(&key_id, 10).await;
    assert_eq!(usage.requests, 10);
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn the_openai_sdk_works_against_an_azure_openai_account() {
    let Some(python) = python("the_openai_sdk_works_against_an_azure_openai_account") else {
        return;
    };
    let app = spawn_app().await;
    app.add_account(json!({
        "name": "az", "kind": "azure-openai", "base_url": app.mock.url(), "api_key": "azure-sdk-key",
        "models": {"gpt-4o": "dep-4o", "gpt-5": "dep-5"},
    }))
    .await;
    let (key_id, key) = app.create_key(json!({})).await;
    run_script(python, "azure_openai_sdk.py", &app.base, &key).await;
    // chat, two chat streams, the tool call and its answer, responses plain and streamed.
    let usage = app.wait_for_usage(&key_id, 7).await;
    assert_eq!(usage.requests, 7);
    assert_eq!((usage.input_tokens, usage.output_tokens), (7 * 25, 7 * 12));
    let seen = app.mock.requests_for("azure-sdk-key");
    assert_eq!(seen.len(), 7);
    let chat = "/openai/deployments/dep-4o/chat/completions";
    assert_eq!(seen.iter().filter(|r| r.path == chat).count(), 5);
    assert!(
        seen.iter()
            .all(|r| r.path == chat || r.path == "/openai/v1/responses")
    );
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn the_google_genai_sdk_works_against_switchyard() {
    let Some(python) = python("the_google_genai_sdk_works_against_switchyard") else {
        return;
    };
    let app = spawn_app().await;
    app.add_account(json!({"name": "g", "kind": "gemini-api", "base_url": null, "api_key": "AIza-g"}))
        .await;
    let (key_id, key) = app.create_key(json!({})).await;
    run_script(python, "gemini_sdk.py", &app.base, &key).await;
    // 4 base/version pairs × (generate + stream); count_tokens carries no usage.
    let usage = app.wait_for_usage(&key_id, 8).await;
    assert_eq!(usage.requests, 8);
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn the_anthropic_sdk_works_against_a_bedrock_account() {
    let Some(python) = python("the_anthropic_sdk_works_against_a_bedrock_account") else {
        return;
    };
    let app = spawn_app().await;
    let stored = json!({
        "region": "us-east-1",
        "access_key_id": "AKIAMOCKBEDROCK00001",
        "secret_access_key": mock_upstream::BEDROCK_SECRET_ACCESS_KEY,
    });
    app.add_account(json!({"name": "b", "kind": "bedrock", "api_key": stored.to_string()}))
        .await;
    let (key_id, key) = app.create_key(json!({})).await;
    run_script(python, "anthropic_bedrock.py", &app.base, &key).await;
    // create, stream and the tool-use stream carry usage; count_tokens none.
    let usage = app.wait_for_usage(&key_id, 3).await;
    assert_eq!(usage.requests, 3);
    assert_eq!(usage.output_tokens, 3 * 12);
    assert!(usage.cost.picos() > 0);
    assert_eq!(app.mock.requests_for("AKIAMOCKBEDROCK00001").len(), 4);
    app.assert_slots_released().await;
}

/// The chat front: the openai SDK (chat, stream with usage, streamed tool calls) served by a
/// Claude account and by a Gemini account; usage recorded exactly as the mock reported it.
#[actix_web::test]
async fn the_openai_sdk_chats_with_claude_and_gemini_accounts() {
    let Some(python) = python("the_openai_sdk_chats_with_claude_and_gemini_accounts") else {
        return;
    };
    let app = spawn_app().await;
    app.add_console("a", "sk-ant-a").await;
    app.add_account(json!({"name": "g", "kind": "gemini-api", "base_url": null, "api_key": "AIza-g"}))
        .await;
    for (model, credential) in [("claude-sonnet-4-5", "sk-ant-a"), ("gemini-2.5-flash", "AIza-g")] {
        let (key_id, key) = app.create_key(json!({})).await;
        run_script_with(
            python.clone(),
            "openai_chat_front.py",
            &app.base,
            &key,
            &[("MODEL", model)],
        )
        .await;
        // chat, chat stream, streamed tool call: each recorded with the mock's usage.
        let usage = app.wait_for_usage(&key_id, 3).await;
        assert_eq!(usage.requests, 3, "{model}");
        assert_eq!(
            (usage.input_tokens, usage.output_tokens),
            (3 * 25, 3 * 12),
            "{model}: the mock's default usage, exactly"
        );
        assert_eq!(app.mock.requests_for(credential).len(), 3, "{model}");
    }
    app.assert_slots_released().await;
}

/// The Messages front: the anthropic SDK (create, stream, tool use, thinking) served by a
/// Gemini account and by an OpenAI Responses account; usage recorded as the mock reported it.
#[actix_web::test]
async fn the_anthropic_sdk_works_against_gemini_and_openai_accounts() {
    let Some(python) = python("the_anthropic_sdk_works_against_gemini_and_openai_accounts") else {
        return;
    };
    let app = spawn_app().await;
    app.add_account(json!({"name": "g", "kind": "gemini-api", "base_url": null, "api_key": "AIza-g"}))
        .await;
    app.add_account(
        json!({"name": "r", "kind": "openai-responses", "base_url": app.mock.url(), "api_key": "sk-r"}),
    )
    .await;
    for (model, credential) in [("gemini-2.5-flash", "AIza-g"), ("gpt-5", "sk-r")] {
        let (key_id, key) = app.create_key(json!({})).await;
        run_script_with(
            python.clone(),
            "anthropic_messages_front.py",
            &app.base,
            &key,
            &[("MODEL", model)],
        )
        .await;
        // create, stream, raw stream, tool use, streamed tool use, thinking.
        let usage = app.wait_for_usage(&key_id, 6).await;
        assert_eq!(usage.requests, 6, "{model}");
        assert_eq!(
            (usage.input_tokens, usage.output_tokens),
            (6 * 25, 6 * 12),
            "{model}: the mock's default usage, exactly"
        );
        assert_eq!(app.mock.requests_for(credential).len(), 6, "{model}");
    }
    app.assert_slots_released().await;
}
