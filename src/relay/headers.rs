//! Which headers cross switchyard, each way. Client → upstream: only an allow-list per provider
//! (never the client's switchyard key, cookies or hop-by-hop headers). Upstream → client: only
//! content and rate-limit information, never a credential.
use actix_web::HttpRequest;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

/// Client headers the Anthropic API may see (§8.1), by exact name or `prefix*`.
pub const ANTHROPIC_ALLOW: &[&str] = &[
    "accept",
    "accept-language",
    "content-type",
    "user-agent",
    "anthropic-version",
    "anthropic-beta",
    "anthropic-dangerous-direct-browser-access",
    "x-app",
    "x-claude-code-session-id",
    "sec-fetch-mode",
    "x-stainless-*",
];

/// Never forwarded, whatever a provider's allow-list says.
const CLIENT_DENY: &[&str] = &[
    "authorization",
    "x-api-key",
    "x-goog-api-key",
    "api-key",
    "cookie",
    "host",
    "content-length",
    "connection",
    "keep-alive",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "accept-encoding",
];

/// Upstream answer headers a client may see (exact or `prefix*`).
const RESPONSE_ALLOW: &[&str] = &[
    "content-type",
    "request-id",
    "x-request-id",
    "retry-after",
    "anthropic-ratelimit-*",
    "x-ratelimit-*",
    "openai-processing-ms",
    "openai-version",
];

fn matches(list: &[&str], name: &str) -> bool {
    list.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => *p == name,
    })
}

/// The client's headers minus credentials and hop-by-hop ones (lower-case names).
pub fn inbound_headers(req: &HttpRequest) -> Vec<(String, String)> {
    req.headers()
        .iter()
        .filter(|(n, _)| !matches(CLIENT_DENY, n.as_str()))
        .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect()
}

/// The inbound headers a provider's `allow` list lets through, as an upstream header map.
pub fn forwardable_headers(inbound: &[(String, String)], allow: &[&str]) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(inbound.len());
    for (n, v) in inbound {
        if matches(allow, n)
            && !matches(CLIENT_DENY, n)
            && let (Ok(n), Ok(v)) = (HeaderName::from_bytes(n.as_bytes()), HeaderValue::from_str(v))
        {
            out.append(n, v);
        }
    }
    out
}

pub fn set_header(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(HeaderName::from_static(name), v);
    }
}

/// Upstream answer headers that may reach the client. The upstream's request id is passed on
/// as `upstream-request-id` (switchyard's own id is the answer's `request-id`).
pub fn client_visible(headers: &HeaderMap) -> impl Iterator<Item = (&str, &[u8])> {
    headers
        .iter()
        .filter(|(n, _)| matches(RESPONSE_ALLOW, n.as_str()))
        .map(|(n, v)| {
            let name = match n.as_str() {
                "request-id" | "x-request-id" => "upstream-request-id",
                other => other,
            };
            (name, v.as_bytes())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_pass_even_if_allowed() {
        let inbound = vec![
            ("x-api-key".to_owned(), "cr_secret".to_owned()),
            ("authorization".to_owned(), "Bearer cr_secret".to_owned()),
            ("x-stainless-os".to_owned(), "Linux".to_owned()),
            ("cookie".to_owned(), "a=b".to_owned()),
            ("anthropic-beta".to_owned(), "x".to_owned()),
            ("x-forwarded-for".to_owned(), "1.2.3.4".to_owned()),
        ];
        let allow_all = &["*"];
        let h = forwardable_headers(&inbound, allow_all);
        assert!(
            h.get("x-api-key").is_none() && h.get("authorization").is_none() && h.get("cookie").is_none()
        );
        let h = forwardable_headers(&inbound, ANTHROPIC_ALLOW);
        assert_eq!(h.len(), 2);
        assert!(h.get("x-stainless-os").is_some() && h.get("anthropic-beta").is_some());
    }

    #[test]
    fn only_content_and_limits_go_back() {
        let mut h = HeaderMap::new();
        set_header(&mut h, "content-type", "application/json");
        set_header(&mut h, "set-cookie", "session=1");
        set_header(&mut h, "x-api-key", "sk-ant-upstream");
        set_header(&mut h, "anthropic-ratelimit-unified-reset", "1");
        set_header(&mut h, "anthropic-organization-id", "org");
        set_header(&mut h, "request-id", "req_upstream");
        let names: Vec<_> = client_visible(&h).map(|(n, _)| n.to_owned()).collect();
        assert_eq!(names.len(), 3);
        assert!(names.contains(&"upstream-request-id".to_owned()));
        assert!(names.contains(&"content-type".to_owned()));
    }
}
