//! One module per upstream wire format: how to address an account's API, which headers it
//! needs, and how to read token usage and rate-limit hints from its answers. The relay loop is
//! shared; providers only describe.
pub mod anthropic;
pub mod gemini;
pub mod json_object;
pub mod openai;
pub mod sse;

use crate::error::{ApiError, ApiFormat};
use crate::usage::TokenUsage;
use bytes::Bytes;
use reqwest::header::HeaderMap;
use switchyard_actors::clock::Millis;
use switchyard_actors::session::SessionId;
use switchyard_actors::{Account, Platform};

/// A client request after parsing, ready to be sent to any account of its platform.
#[derive(Debug, Clone)]
pub struct Inbound {
    /// Path on the upstream API, e.g. `/v1/messages`.
    pub upstream_path: String,
    /// Raw query string without `?` (client credentials already removed).
    pub query: String,
    /// Client headers that passed the allow-list (lower-case names).
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    pub model: String,
    pub stream: bool,
    pub session: Option<SessionId>,
    /// See `routes::forward::Parsed::hide_usage_chunk`.
    pub hide_usage_chunk: bool,
    /// A real user turn: the account's pacing gate applies (`relay::pacing`).
    pub user_turn: bool,
}

/// What to send for one attempt on one account.
#[derive(Debug)]
pub struct UpstreamCall {
    pub url: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Rate-limit hints from an upstream error answer (feed the cooldown).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hints {
    pub retry_after_ms: Option<i64>,
    pub reset_at: Option<Millis>,
}

/// Reads usage from an answer as it passes (stream) or once complete (JSON).
pub trait UsageTap: Send {
    fn feed(&mut self, chunk: &[u8]);
    /// Usage seen so far and the model the upstream reported, if any.
    fn finish(&mut self) -> Option<(TokenUsage, Option<String>)>;
    /// The answer said, in band, that the account hit its usage limit (marks it at the end).
    fn limit_reached(&self) -> Option<Hints> {
        None
    }
}

/// Rewrites an upstream answer into the client's wire format, chunk by chunk (only where the
/// account's API differs from the one the client speaks, e.g. Gemini Code Assist → Gemini).
pub trait BodyAdapter: Send {
    fn chunk(&mut self, input: &[u8], out: &mut bytes::BytesMut);
    fn finish(&mut self, out: &mut bytes::BytesMut);
    /// The content type of what the adapter produces, when it differs from the upstream's.
    fn content_type(&self) -> Option<&'static str> {
        None
    }
}

pub trait Provider: Send + Sync + 'static {
    fn platform(&self) -> Platform;
    fn format(&self) -> ApiFormat;
    /// Builds the request for `account`; `credential` is its API key or current access token.
    fn upstream(
        &self,
        account: &Account,
        credential: &str,
        inbound: &Inbound,
    ) -> Result<UpstreamCall, ApiError>;
    /// `sse`: the answer is an event stream (else JSON, possibly a streamed JSON array).
    fn usage_tap(&self, sse: bool) -> Box<dyn UsageTap>;
    fn hints(&self, headers: &HeaderMap, now: Millis) -> Hints;
    /// How to turn this account's answer into the client's format; `None`: pass it as is.
    fn adapter(&self, _account: &Account, _inbound: &Inbound) -> Option<Box<dyn BodyAdapter>> {
        None
    }
    /// Whether the upstream bills an answer whose connection is closed early for what it
    /// generated anyway. Then an answer whose client left is read on (bounded) so its usage is
    /// recorded as billed; else the upstream is cut at once, which stops the bill. Anthropic,
    /// OpenAI and Gemini all bill what they generated.
    fn bills_after_disconnect(&self) -> bool {
        true
    }
}

/// `retry-after` as seconds or an HTTP date, in ms from `now`.
pub fn retry_after_ms(headers: &HeaderMap, now: Millis) -> Option<i64> {
    let v = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return (secs > 0.0).then_some((secs * 1_000.0) as i64);
    }
    let at = httpdate::parse_http_date(v).ok()?;
    let at_ms = at.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis() as i64;
    Some(at_ms - now).filter(|ms| *ms > 0)
}

/// A reset time given as unix seconds or an RFC 3339 date, in unix ms.
pub fn reset_time_ms(value: &str) -> Option<Millis> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<i64>() {
        return Some(secs.saturating_mul(1_000));
    }
    let t = humantime::parse_rfc3339_weak(v).ok()?;
    Some(t.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis() as i64)
}

/// Joins an account base URL and an API path without doubling a version segment
/// (`https://x/v1` + `/v1/messages` → `https://x/v1/messages`).
pub fn join_url(base: &str, path: &str, query: &str) -> String {
    let mut base = base.trim_end_matches('/');
    // Strip the longest leading run of `path`'s segments that the base already ends with.
    let cuts = path
        .match_indices('/')
        .map(|(i, _)| i)
        .skip(1)
        .chain(std::iter::once(path.len()));
    if let Some(prefix) = cuts.map(|i| &path[..i]).filter(|p| base.ends_with(p)).last() {
        base = &base[..base.len() - prefix.len()];
    }
    let mut url = String::with_capacity(base.len() + path.len() + query.len() + 1);
    url.push_str(base);
    url.push_str(path);
    if !query.is_empty() {
        url.push('?');
        url.push_str(query);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_join_without_doubled_versions() {
        assert_eq!(
            join_url("https://a.com", "/v1/messages", ""),
            "https://a.com/v1/messages"
        );
        assert_eq!(
            join_url("https://a.com/", "/v1/messages", "beta=true"),
            "https://a.com/v1/messages?beta=true"
        );
        assert_eq!(
            join_url("https://a.com/v1", "/v1/messages", ""),
            "https://a.com/v1/messages"
        );
        assert_eq!(
            join_url("https://a.com/v1/messages", "/v1/messages", ""),
            "https://a.com/v1/messages"
        );
        assert_eq!(
            join_url("https://a.com/api/v1", "/v1/responses", ""),
            "https://a.com/api/v1/responses"
        );
        assert_eq!(
            join_url("https://a.com/v1/messages", "/v1/messages/count_tokens", ""),
            "https://a.com/v1/messages/count_tokens"
        );
    }

    #[test]
    fn reset_times_parse_in_both_forms() {
        assert_eq!(reset_time_ms("1700000000"), Some(1_700_000_000_000));
        assert_eq!(reset_time_ms("2023-11-14T22:13:20Z"), Some(1_700_000_000_000));
        assert_eq!(reset_time_ms("soon"), None);
    }
}
