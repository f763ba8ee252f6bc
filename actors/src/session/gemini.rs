//! Gemini session identity (§2.2): the standard routes apply the Claude rules to the Gemini
//! body, which normally finds nothing (Gemini CLI and the SDK send no session marker), so
//! Gemini requests are usually not sticky. A Code Assist body's `session_id` (top level or
//! under `request`) is used when present (sha256, full hex).
use super::{SessionId, claude_session};
use serde::Deserialize;
use std::borrow::Cow;

#[derive(Deserialize, Default)]
struct CodeAssist<'a> {
    #[serde(borrow, default)]
    session_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    request: Option<Inner<'a>>,
}

#[derive(Deserialize, Default)]
struct Inner<'a> {
    #[serde(borrow, default)]
    session_id: Option<Cow<'a, str>>,
}

pub fn gemini_session(body: &[u8]) -> Option<SessionId> {
    if let Some(id) = claude_session(body) {
        return Some(id);
    }
    let ca: CodeAssist<'_> = serde_json::from_slice(body).unwrap_or_default();
    ca.session_id
        .or_else(|| ca.request.and_then(|r| r.session_id))
        .filter(|s| !s.is_empty())
        .map(|s| SessionId::hashed(&s, 64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_gemini_bodies_have_no_session() {
        let body = br#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#;
        assert_eq!(gemini_session(body), None);
    }

    #[test]
    fn code_assist_session_ids_are_used() {
        let body = br#"{"model":"gemini-2.5-pro","project":"p","request":{"session_id":"s1","contents":[]}}"#;
        assert_eq!(gemini_session(body), Some(SessionId::hashed("s1", 64)));
    }
}
