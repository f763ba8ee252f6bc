//! Claude session identity (§2.1): `metadata.user_id` (JSON form or legacy
//! `user_…_account_…_session_…` form) → the session id verbatim; else the cacheable prompt
//! prefix; else the system text; else the first message text → sha256, first 32 hex.
//! System blocks starting with `x-anthropic-billing-header` are skipped everywhere: Claude Code
//! changes their text on every prompt.
use super::SessionId;
use serde::Deserialize;
use serde::de::{Deserializer, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

const BILLING_PREFIX: &str = "x-anthropic-billing-header";

/// The fields of a `/v1/messages` body that routing needs; everything else is skipped unparsed,
/// and `messages` is folded one message at a time (never collected), so a body of millions of
/// tiny messages costs no more memory than its own bytes.
#[derive(Debug, Deserialize)]
pub struct ClaudeRequestView<'a> {
    #[serde(borrow, default)]
    pub model: Option<Cow<'a, str>>,
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(default)]
    pub messages: Option<Messages>,
    #[serde(borrow, default)]
    system: Option<&'a RawValue>,
    #[serde(borrow, default)]
    metadata: Option<MetadataView<'a>>,
}

/// What session identity needs from `messages`, gathered while they are read.
#[derive(Debug, Default)]
pub struct Messages {
    /// The text of the first message that has any.
    first_text: Option<String>,
    /// Whether any message is marked for prompt caching.
    any_cached: bool,
    /// Whether the last message is a real user turn (see [`Messages::last_is_user_turn`]).
    last_user_turn: bool,
}

impl Messages {
    /// The last message has role `user` and carries no `tool_result` block (string content
    /// counts): a person typed it, rather than a tool loop answering the model (§3.4 pacing).
    pub fn last_is_user_turn(&self) -> bool {
        self.last_user_turn
    }
}

impl<'de> Deserialize<'de> for Messages {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Fold;
        impl<'de> Visitor<'de> for Fold {
            type Value = Messages;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of messages")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Messages, A::Error> {
                let mut out = Messages::default();
                while let Some(m) = seq.next_element::<MessageView<'de>>()? {
                    if out.first_text.is_none() {
                        out.first_text = Some(message_text(&m)).filter(|t| !t.is_empty());
                    }
                    if !out.any_cached {
                        out.any_cached = is_cached(&m);
                    }
                    out.last_user_turn = is_user_turn(&m);
                }
                Ok(out)
            }
        }
        d.deserialize_seq(Fold)
    }
}

#[derive(Debug, Deserialize)]
struct MessageView<'a> {
    #[serde(borrow, default)]
    role: Option<Cow<'a, str>>,
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

fn is_ephemeral(c: &Option<CacheControl<'_>>) -> bool {
    c.as_ref().is_some_and(|c| c.kind.as_deref() == Some("ephemeral"))
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

/// A `system` or `content` value: a string or an array of blocks (read when folded).
enum TextOrBlocks<'a> {
    Text(Cow<'a, str>),
    Blocks(&'a RawValue),
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
        TextOrBlocks::Blocks(raw)
    } else {
        TextOrBlocks::Other
    }
}

/// Folds the blocks of an array one at a time; `None` when it is not an array of blocks (then
/// it counts as nothing, like any other unreadable value).
fn fold_blocks<'a, T>(raw: &'a RawValue, init: T, f: impl FnMut(&mut T, Block<'a>)) -> Option<T> {
    struct Each<T, F>(T, F);
    impl<'de, T, F: FnMut(&mut T, Block<'de>)> Visitor<'de> for Each<T, F> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an array of blocks")
        }
        fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<T, A::Error> {
            while let Some(b) = seq.next_element::<Block<'de>>()? {
                (self.1)(&mut self.0, b);
            }
            Ok(self.0)
        }
    }
    let mut de = serde_json::Deserializer::from_str(raw.get());
    de.deserialize_seq(Each(init, f)).ok()
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
        let none = Messages::default();
        let messages = self.messages.as_ref().unwrap_or(&none);
        hash(cacheable_content(&system, messages))
            .or_else(|| hash(system_text(&system)))
            .or_else(|| hash(messages.first_text.clone().unwrap_or_default()))
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

fn cacheable_content(system: &TextOrBlocks<'_>, messages: &Messages) -> String {
    let mut out = match system {
        TextOrBlocks::Blocks(raw) => fold_blocks(raw, String::new(), |out, b| match b.text.as_deref() {
            Some(t) if is_ephemeral(&b.cache_control) && !is_billing(t) => out.push_str(t),
            _ => {}
        })
        .unwrap_or_default(),
        _ => String::new(),
    };
    if messages.any_cached
        && let Some(first) = &messages.first_text
    {
        out.push_str(first);
    }
    out
}

fn system_text(system: &TextOrBlocks<'_>) -> String {
    match system {
        TextOrBlocks::Text(t) if !is_billing(t) => t.to_string(),
        TextOrBlocks::Blocks(raw) => fold_blocks(raw, String::new(), |out, b| match b.text.as_deref() {
            Some(t) if !is_billing(t) => out.push_str(t),
            _ => {}
        })
        .unwrap_or_default(),
        _ => String::new(),
    }
}

fn message_text(m: &MessageView<'_>) -> String {
    match text_or_blocks(m.content) {
        TextOrBlocks::Text(t) => t.into_owned(),
        TextOrBlocks::Blocks(raw) => fold_blocks(raw, String::new(), |out, b| {
            if b.kind.as_deref() == Some("text")
                && let Some(t) = b.text.as_deref()
            {
                out.push_str(t);
            }
        })
        .unwrap_or_default(),
        TextOrBlocks::Other => String::new(),
    }
}

fn is_user_turn(m: &MessageView<'_>) -> bool {
    if m.role.as_deref() != Some("user") {
        return false;
    }
    match text_or_blocks(m.content) {
        TextOrBlocks::Text(_) => true,
        TextOrBlocks::Blocks(raw) => fold_blocks(raw, true, |user, b| {
            *user &= b.kind.as_deref() != Some("tool_result")
        })
        .unwrap_or(true),
        TextOrBlocks::Other => true,
    }
}

fn is_cached(m: &MessageView<'_>) -> bool {
    match text_or_blocks(m.content) {
        TextOrBlocks::Text(_) => is_ephemeral(&m.cache_control),
        TextOrBlocks::Blocks(raw) => {
            fold_blocks(raw, false, |any, b| *any |= is_ephemeral(&b.cache_control)).unwrap_or(false)
        }
        TextOrBlocks::Other => false,
    }
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
    fn last_message_decides_whether_it_is_a_user_turn() {
        let turn = |v: serde_json::Value| {
            let body = v.to_string();
            ClaudeRequestView::parse(body.as_bytes())
                .unwrap()
                .messages
                .is_some_and(|m| m.last_is_user_turn())
        };
        assert!(turn(json!({"messages":[{"role":"user","content":"hi"}]})));
        assert!(turn(
            json!({"messages":[{"role":"user","content":[{"type":"text","text":"a"}]}]})
        ));
        let tool = json!({"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"t"},
            {"role":"user","content":[{"type":"tool_result","tool_use_id":"x","content":"42"},{"type":"text","text":"a"}]}]});
        assert!(!turn(tool));
        assert!(!turn(
            json!({"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"a"}]})
        ));
        assert!(!turn(json!({"messages":[]})));
    }

    #[test]
    fn message_level_cache_control_on_string_content_counts() {
        let body = json!({"messages":[{"role":"user","content":"first","cache_control":{"type":"ephemeral"}}], "system":"S"});
        assert_eq!(sid(body), Some(SessionId::hashed("first", 32).0));
    }
}
