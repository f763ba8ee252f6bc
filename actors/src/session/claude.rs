//! Claude session identity (§2.1): `metadata.user_id` (JSON form or legacy
//! `user_…_account_…_session_…` form) → the session id verbatim; else the cacheable prompt
//! prefix; else the system text; else the first message text → sha256, first 32 hex.
//! System blocks starting with `x-anthropic-billing-header` are skipped everywhere: Claude Code
//! changes their text on every prompt.
use super::SessionId;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

const BILLING_PREFIX: &str = "x-anthropic-billing-header";

/// The fields of a `/v1/messages` body that routing needs; everything else is skipped unparsed.
#[derive(Debug, Deserialize)]
pub struct ClaudeRequestView<'a> {
    #[serde(borrow, default)]
    pub model: Option<Cow<'a, str>>,
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(borrow, default)]
    pub messages: Option<Vec<MessageView<'a>>>,
    #[serde(borrow, default)]
    system: Option<&'a RawValue>,
    #[serde(borrow, default)]
    metadata: Option<MetadataView<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct MessageView<'a> {
    #[serde(borrow, default)]
    content: Option<&'a RawValue>,
    #[serde(borrow, default)]
    cache_control: Option<CacheControl<'a>>,
}

#[derive(Debug, Deserialize)]
struct MetadataView<'a> {
    #[serde(borrow, default)]
    user_id: Option<Cow<'a, str>>,
}

#[derive(Debug, Deserialize)]
struct CacheControl<'a> {
    #[serde(borrow, rename = "type", default)]
    kind: Option<Cow<'a, str>>,
}

impl CacheControl<'_> {
    fn is_ephemeral(&self) -> bool {
        self.kind.as_deref() == Some("ephemeral")
    }
}

#[derive(Debug, Deserialize)]
struct Block<'a> {
    #[serde(borrow, rename = "type", default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    cache_control: Option<CacheControl<'a>>,
}

/// A `system` or `content` value: a string or an array of blocks.
enum TextOrBlocks<'a> {
    Text(Cow<'a, str>),
    Blocks(Vec<Block<'a>>),
    Other,
}

fn text_or_blocks(raw: Option<&RawValue>) -> TextOrBlocks<'_> {
    let Some(raw) = raw else {
        return TextOrBlocks::Other;
    };
    let s = raw.get().trim_start();
    if s.starts_with('"') {
        serde_json::from_str::<Cow<'_, str>>(raw.get()).map_or(TextOrBlocks::Other, TextOrBlocks::Text)
    } else if s.starts_with('[') {
        serde_json::from_str::<Vec<Block<'_>>>(raw.get()).map_or(TextOrBlocks::Other, TextOrBlocks::Blocks)
    } else {
        TextOrBlocks::Other
    }
}

fn is_billing(text: &str) -> bool {
    text.starts_with(BILLING_PREFIX)
}

impl<'a> ClaudeRequestView<'a> {
    pub fn parse(body: &'a [u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(body)
    }

    /// §2.1, in order.
    pub fn session_id(&self) -> Option<SessionId> {
        if let Some(id) = self
            .metadata
            .as_ref()
            .and_then(|m| m.user_id.as_deref())
            .and_then(session_from_user_id)
        {
            return Some(verbatim_or_hashed(id));
        }
        let hash = |s: String| {
            Some(s)
                .filter(|s| !s.is_empty())
                .map(|s| SessionId::hashed(&s, 32))
        };
        let system = text_or_blocks(self.system);
        let messages = self.messages.as_deref().unwrap_or_default();
        hash(cacheable_content(&system, messages))
            .or_else(|| hash(system_text(&system)))
            .or_else(|| hash(first_message_text(messages).unwrap_or_default()))
    }
}

/// Claude Code's session ids (UUIDs) are kept as they are, like the original; anything longer or
/// stranger is hashed, so a client cannot make switchyard store arbitrary strings as binding keys.
fn verbatim_or_hashed(id: String) -> SessionId {
    let plain = id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if plain {
        SessionId::new(id)
    } else {
        SessionId::hashed(&id, 32)
    }
}

/// Session id of a Claude request body; `None` when the body says nothing to key on.
pub fn claude_session(body: &[u8]) -> Option<SessionId> {
    ClaudeRequestView::parse(body).ok()?.session_id()
}

fn cacheable_content(system: &TextOrBlocks<'_>, messages: &[MessageView<'_>]) -> String {
    let mut out = String::new();
    if let TextOrBlocks::Blocks(blocks) = system {
        for b in blocks {
            let ephemeral = b.cache_control.as_ref().is_some_and(CacheControl::is_ephemeral);
            match b.text.as_deref() {
                Some(t) if ephemeral && !is_billing(t) => out.push_str(t),
                _ => {}
            }
        }
    }
    let any_cached_message = messages.iter().any(|m| match text_or_blocks(m.content) {
        TextOrBlocks::Text(_) => m.cache_control.as_ref().is_some_and(CacheControl::is_ephemeral),
        TextOrBlocks::Blocks(blocks) => blocks
            .iter()
            .any(|b| b.cache_control.as_ref().is_some_and(CacheControl::is_ephemeral)),
        TextOrBlocks::Other => false,
    });
    if any_cached_message && let Some(first) = first_message_text(messages) {
        out.push_str(&first);
    }
    out
}

fn system_text(system: &TextOrBlocks<'_>) -> String {
    match system {
        TextOrBlocks::Text(t) if !is_billing(t) => t.to_string(),
        TextOrBlocks::Blocks(blocks) => blocks
            .iter()
            .filter_map(|b| b.text.as_deref())
            .filter(|t| !is_billing(t))
            .collect(),
        _ => String::new(),
    }
}

fn message_text(m: &MessageView<'_>) -> String {
    match text_or_blocks(m.content) {
        TextOrBlocks::Text(t) => t.into_owned(),
        TextOrBlocks::Blocks(blocks) => blocks
            .iter()
            .filter(|b| b.kind.as_deref() == Some("text"))
            .filter_map(|b| b.text.as_deref())
            .collect(),
        TextOrBlocks::Other => String::new(),
    }
}

fn first_message_text(messages: &[MessageView<'_>]) -> Option<String> {
    messages.iter().map(message_text).find(|t| !t.is_empty())
}

/// The session part of `metadata.user_id`, JSON form or legacy form.
fn session_from_user_id(user_id: &str) -> Option<String> {
    if user_id.starts_with('{') {
        #[derive(Deserialize)]
        struct Doc {
            device_id: Option<String>,
            session_id: Option<String>,
        }
        let doc: Doc = serde_json::from_str(user_id).ok()?;
        doc.device_id.filter(|d| !d.is_empty())?;
        return doc.session_id.filter(|s| !s.is_empty());
    }
    let rest = user_id.strip_prefix("user_")?;
    let (device, rest) = (rest.get(..64)?, rest.get(64..)?);
    if !device.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let rest = rest.strip_prefix("_account_")?;
    // `_account_(.*?)_session_([a-f0-9-]+)$`: the first `_session_` whose tail is all id chars.
    rest.match_indices("_session_")
        .map(|(i, m)| &rest[i + m.len()..])
        .find(|tail| {
            !tail.is_empty()
                && tail
                    .bytes()
                    .all(|b| matches!(b, b'a'..=b'f' | b'0'..=b'9' | b'-'))
        })
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sid(v: serde_json::Value) -> Option<String> {
        claude_session(v.to_string().as_bytes()).map(|s| s.as_str().to_owned())
    }

    #[test]
    fn json_user_id_gives_its_session_verbatim() {
        let uid =
            r#"{"device_id":"a6d3","account_uuid":"","session_id":"fa793ad7-b1a4-4c2c-a005-76f538b97eee"}"#;
        let body = json!({"model":"m","messages":[],"metadata":{"user_id":uid}});
        assert_eq!(sid(body).as_deref(), Some("fa793ad7-b1a4-4c2c-a005-76f538b97eee"));
        let no_device = r#"{"device_id":"","session_id":"abc"}"#;
        let body = json!({"messages":[{"role":"user","content":"hi"}],"metadata":{"user_id":no_device}});
        assert_eq!(sid(body).unwrap().len(), 32, "falls through to the content hash");
    }

    #[test]
    fn long_or_odd_session_ids_are_hashed() {
        let huge = "a".repeat(10_000);
        let uid = format!(r#"{{"device_id":"d","session_id":"{huge}"}}"#);
        let got = sid(json!({"messages":[],"metadata":{"user_id":uid}})).unwrap();
        assert_eq!(got.len(), 32);
        let odd = r#"{"device_id":"d","session_id":"claude:x/../y"}"#;
        assert_eq!(
            sid(json!({"messages":[],"metadata":{"user_id":odd}}))
                .unwrap()
                .len(),
            32
        );
    }

    #[test]
    fn legacy_user_id_gives_its_session() {
        let dev = "0".repeat(64);
        let uid = format!("user_{dev}_account_acc_session_x_session_1234-abcd");
        let body = json!({"messages":[],"metadata":{"user_id":uid}});
        assert_eq!(sid(body).as_deref(), Some("1234-abcd"));
        let bad = format!("user_{}_account_a_session_XYZ", "g".repeat(64));
        assert_eq!(session_from_user_id(&bad), None);
    }

    #[test]
    fn cacheable_content_then_system_then_first_message() {
        let cached = json!({"messages":[{"role":"user","content":[{"type":"text","text":"hello","cache_control":{"type":"ephemeral"}}]}],
            "system":[{"type":"text","text":"SYS","cache_control":{"type":"ephemeral"}}]});
        assert_eq!(sid(cached), Some(SessionId::hashed("SYShello", 32).0));
        let system_only = json!({"messages":[{"role":"user","content":"hello"}], "system":"plain system"});
        assert_eq!(sid(system_only), Some(SessionId::hashed("plain system", 32).0));
        let first = json!({"messages":[{"role":"user","content":[{"type":"image"},{"type":"text","text":"a"},{"type":"text","text":"b"}]}]});
        assert_eq!(sid(first), Some(SessionId::hashed("ab", 32).0));
        assert_eq!(sid(json!({"messages":[]})), None);
        assert_eq!(sid(json!({"model":"x"})), None);
    }

    #[test]
    fn billing_header_blocks_are_skipped() {
        let a = json!({"system":[{"type":"text","text":"x-anthropic-billing-header: cc_version=1.2.3.abc;"},{"type":"text","text":"rules"}],
            "messages":[{"role":"user","content":"q1"}]});
        let b = json!({"system":[{"type":"text","text":"x-anthropic-billing-header: cc_version=1.2.3.def;"},{"type":"text","text":"rules"}],
            "messages":[{"role":"user","content":"q2"}]});
        assert_eq!(sid(a.clone()), sid(b));
        assert_eq!(sid(a), Some(SessionId::hashed("rules", 32).0));
    }

    #[test]
    fn message_level_cache_control_on_string_content_counts() {
        let body = json!({"messages":[{"role":"user","content":"first","cache_control":{"type":"ephemeral"}}], "system":"S"});
        assert_eq!(sid(body), Some(SessionId::hashed("first", 32).0));
    }
}
