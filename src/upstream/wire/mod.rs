//! Wire formats shared by the upstream kinds: Anthropic Messages, Gemini (and its Code Assist
//! envelope), OpenAI Responses / chat completions. Each format module knows its headers, its
//! usage events and its rate-limit hints; the kinds in `upstream::kinds` reuse them and only add
//! how to address and authenticate their upstream.
pub mod anthropic;
pub mod gemini;
pub mod json_object;
pub mod openai;
pub mod sse;

use super::{Hints, UsageTap};
use reqwest::header::HeaderMap;
use switchyard_actors::clock::Millis;

/// How to read one wire format's answers. A kind names the format it speaks in its profile and
/// reads hints and usage through it unless it says otherwise.
pub struct WireFormat {
    pub name: &'static str,
    /// Rate-limit hints from an answer's headers.
    pub hints: fn(&HeaderMap, Millis) -> Hints,
    /// Usage from a successful answer (`true`: an event stream).
    pub usage_tap: fn(bool) -> Box<dyn UsageTap>,
}

impl std::fmt::Debug for WireFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
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
