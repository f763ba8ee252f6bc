//! Session identity (§2) on real client captures (`tests/fixtures/clients/*.jsonl`, one request
//! per line, bodies exactly as the clients sent them): Claude Code runs, the Anthropic SDK,
//! Codex CLI, Gemini CLI / SDK and the OpenAI SDK.
mod support;

use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use support::*;
use switchyard_actors::scheduler::StickyOutcome;
use switchyard_actors::session::{SessionId, claude_session, gemini_session, openai_session};

#[derive(Deserialize)]
struct Capture {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    #[serde(default)]
    body: Option<Box<RawValue>>,
}

impl Capture {
    fn body(&self) -> Option<&[u8]> {
        self.body.as_deref().map(|b| b.get().as_bytes())
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(self.body().expect("a body")).unwrap()
    }
}

fn captures(file: &str) -> Vec<Capture> {
    let path = format!("{}/../tests/fixtures/clients/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let all: Vec<Capture> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{path}: {e}")))
        .collect();
    assert!(!all.is_empty(), "{path} has captures");
    all
}

fn sha256_hex(text: &str, len: usize) -> String {
    let mut hex = hex::encode(Sha256::digest(text.as_bytes()));
    hex.truncate(len);
    hex
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// The `session_id` inside Claude Code's JSON-in-a-string `metadata.user_id`.
fn metadata_session(c: &Capture) -> String {
    let user_id = c.json()["metadata"]["user_id"]
        .as_str()
        .expect("Claude Code sends metadata.user_id")
        .to_owned();
    let doc: serde_json::Value = serde_json::from_str(&user_id).unwrap();
    doc["session_id"].as_str().unwrap().to_owned()
}

/// Session id per Claude Code request, grouped by run (the `x-claude-code-session-id` header,
/// new for every `claude -p`).
fn claude_code_runs(file: &str) -> BTreeMap<String, Vec<SessionId>> {
    let mut runs: BTreeMap<String, Vec<SessionId>> = BTreeMap::new();
    for c in captures(file) {
        if c.method == "HEAD" {
            assert!(c.body.is_none(), "{file}: HEAD requests carry no body");
            continue;
        }
        assert_eq!(c.path, "/v1/messages");
        let sid = claude_session(c.body().unwrap()).expect("a Claude Code request has a session");
        assert_eq!(
            sid.as_str(),
            metadata_session(&c),
            "{file}: the session id is metadata's, verbatim"
        );
        let run = c
            .header("x-claude-code-session-id")
            .expect("run header")
            .to_owned();
        runs.entry(run).or_default().push(sid);
    }
    runs
}

fn check_claude_code(file: &str) {
    let runs = claude_code_runs(file);
    assert_eq!(runs.len(), 3, "{file}: three `claude -p` runs");
    assert!(
        runs.values().any(|r| r.len() >= 2),
        "{file}: one run made a tool round trip"
    );
    let mut distinct = BTreeSet::new();
    for (run, ids) in &runs {
        assert!(
            ids.iter().all(|id| id.as_str() == run),
            "{file}: every request of run {run} has its id"
        );
        distinct.insert(ids[0].as_str().to_owned());
    }
    assert_eq!(distinct.len(), 3, "{file}: different runs, different sessions");
}

#[test]
fn claude_code_api_key_runs_keep_one_session_id_per_run() {
    check_claude_code("claude_code.jsonl");
}

#[test]
fn claude_code_oauth_runs_keep_one_session_id_per_run() {
    check_claude_code("claude_code_oauth.jsonl");
}

#[test]
fn anthropic_sdk_requests_hash_the_system_or_first_message() {
    let mut by_prompt: HashMap<String, BTreeSet<String>> = HashMap::new();
    let mut checked = 0;
    for c in captures("anthropic_sdk.jsonl") {
        let Some(body) = c.body() else {
            assert_eq!(c.method, "GET", "only the model list has no body");
            continue;
        };
        let sid = claude_session(body).expect("a session from the content");
        assert!(is_hex(sid.as_str(), 32), "{sid}");
        let json = c.json();
        assert!(json.get("metadata").is_none(), "the SDK sends no metadata");
        let expected = match json["system"].as_array() {
            // One cached system block: the cacheable prefix is its text.
            Some(blocks) => {
                assert_eq!(blocks[0]["cache_control"]["type"], "ephemeral");
                sha256_hex(blocks[0]["text"].as_str().unwrap(), 32)
            }
            None => sha256_hex(json["messages"][0]["content"].as_str().unwrap(), 32),
        };
        assert_eq!(sid.as_str(), expected, "{} {}", c.method, c.path);
        let key = format!("{}|{}", json["system"], json["messages"][0]["content"]);
        by_prompt.entry(key).or_default().insert(sid.as_str().to_owned());
        checked += 1;
    }
    assert_eq!(checked, 6);
    assert_eq!(by_prompt.len(), 3, "three distinct conversations");
    assert!(
        by_prompt.values().all(|ids| ids.len() == 1),
        "the same conversation always hashes alike (count_tokens and stream included)"
    );
}

#[test]
fn codex_requests_of_one_session_share_one_id() {
    let mut by_session: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for c in captures("codex_cli.jsonl") {
        let body = c.body().unwrap();
        let sid = openai_session(|h| c.header(h), body).expect("Codex sends session-id");
        assert!(is_hex(sid.as_str(), 64), "{sid}");
        let header = c.header("session-id").unwrap();
        assert_eq!(sid.as_str(), sha256_hex(header, 64));
        // The body alone (prompt_cache_key) names the same session.
        let from_body = openai_session(|_| None, body).expect("prompt_cache_key");
        assert_eq!(from_body, sid);
        by_session
            .entry(header.to_owned())
            .or_default()
            .insert(sid.as_str().to_owned());
    }
    assert_eq!(by_session.len(), 3, "three codex runs");
    assert!(by_session.values().all(|ids| ids.len() == 1));
    let all: BTreeSet<_> = by_session.values().flatten().collect();
    assert_eq!(all.len(), 3, "different runs, different ids");
}

#[test]
fn gemini_cli_and_sdk_requests_carry_no_session() {
    for file in ["gemini_cli.jsonl", "gemini_sdk.jsonl"] {
        for c in captures(file) {
            assert_eq!(
                gemini_session(c.body().unwrap()),
                None,
                "{file} {} {}",
                c.method,
                c.path
            );
        }
    }
}

#[test]
fn openai_sdk_requests_carry_no_session() {
    for c in captures("openai_sdk.jsonl") {
        let body = c.body().unwrap_or_default();
        assert_eq!(openai_session(|h| c.header(h), body), None, "{}", c.path);
    }
}

#[actix_rt::test]
async fn each_claude_code_run_stays_on_one_account() {
    let h = start().await;
    let t = h.now();
    h.add([claude("a", t - 3), claude("b", t - 2), claude("c", t - 1)])
        .await;
    let mut served: BTreeMap<String, String> = BTreeMap::new();
    for c in captures("claude_code.jsonl") {
        let Some(body) = c.body() else { continue };
        let sid = claude_session(body).unwrap();
        let model = c.json()["model"].as_str().unwrap().to_owned();
        let s = h
            .select(claude_req().session(sid.clone()).model(model))
            .await
            .unwrap();
        let account = s.account.id.as_str().to_owned();
        match served.get(sid.as_str()) {
            None => assert_eq!(s.sticky, StickyOutcome::Bound),
            Some(before) => {
                assert_eq!(&account, before, "the run's later request returns");
                assert_eq!(s.sticky, StickyOutcome::Hit);
            }
        }
        served.insert(sid.as_str().to_owned(), account);
        h.clock.advance_ms(1_000);
    }
    let accounts: BTreeSet<_> = served.values().collect();
    assert_eq!(accounts.len(), 3, "three runs spread over three accounts");
}
