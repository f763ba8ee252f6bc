//! OpenAI / Codex session identity (§2.2): the first of the `session_id`, `session-id`,
//! `x-session-id` headers, then body `session_id`, `conversation_id`, `prompt_cache_key`;
//! sha256, full hex.
use super::SessionId;
use serde::Deserialize;
use std::borrow::Cow;

pub const OPENAI_SESSION_HEADERS: [&str; 3] = ["session_id", "session-id", "x-session-id"];

#[derive(Deserialize, Default)]
struct Ids<'a> {
    #[serde(borrow, default)]
    session_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    conversation_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    prompt_cache_key: Option<Cow<'a, str>>,
}

/// `header` looks a request header up by lower-case name.
pub fn openai_session<'h>(header: impl Fn(&str) -> Option<&'h str>, body: &[u8]) -> Option<SessionId> {
    let from_header = OPENAI_SESSION_HEADERS
        .iter()
        .find_map(|h| header(h).filter(|v| !v.is_empty()));
    if let Some(v) = from_header {
        return Some(SessionId::hashed(v, 64));
    }
    let ids: Ids<'_> = serde_json::from_slice(body).unwrap_or_default();
    [ids.session_id, ids.conversation_id, ids.prompt_cache_key]
        .into_iter()
        .flatten()
        .find(|v| !v.is_empty())
        .map(|v| SessionId::hashed(&v, 64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_then_body_fields_in_order() {
        let none = |_: &str| None;
        let body = br#"{"conversation_id":"c","prompt_cache_key":"p"}"#;
        assert_eq!(openai_session(none, body), Some(SessionId::hashed("c", 64)));
        let body2 = br#"{"prompt_cache_key":"p"}"#;
        assert_eq!(openai_session(none, body2), Some(SessionId::hashed("p", 64)));
        let hdr = |h: &str| (h == "session-id").then_some("hdr");
        assert_eq!(openai_session(hdr, body), Some(SessionId::hashed("hdr", 64)));
        assert_eq!(openai_session(none, b"{}"), None);
        assert_eq!(openai_session(none, b"not json"), None);
        assert_eq!(SessionId::hashed("x", 64).as_str().len(), 64);
    }
}
