//! Client authentication: the key may come in `x-api-key`, `x-goog-api-key`, `Authorization`
//! (a leading `Bearer ` stripped), `api-key`, or `?key=` (first non-empty wins, §1); then the
//! key's validity and its permission for the route's platform.
pub mod admission;
pub mod clients;
pub mod concurrency;
pub mod model_names;

use crate::error::ApiError;
use crate::keys::ApiKey;
use crate::state::AppState;
use actix_web::HttpRequest;
use std::sync::Arc;
use switchyard_actors::Platform;

const KEY_HEADERS: [&str; 4] = ["x-api-key", "x-goog-api-key", "authorization", "api-key"];

/// The key the client presented, if any.
pub fn presented_key(req: &HttpRequest) -> Option<String> {
    let from_headers = KEY_HEADERS.iter().find_map(|h| {
        let v = req.headers().get(*h)?.to_str().ok()?.trim();
        (!v.is_empty()).then_some(v)
    });
    let raw = match from_headers {
        Some(v) => v.to_owned(),
        None => query_param(req.query_string(), "key")?,
    };
    let stripped = match raw.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("bearer ") => raw[7..].trim().to_owned(),
        _ => raw,
    };
    (!stripped.is_empty()).then_some(stripped)
}

/// A query parameter's decoded value.
pub fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name && !v.is_empty()).then(|| percent_decode(v))
    })
}

/// The query string without client credentials (`key=`), for forwarding.
pub fn query_without_key(query: &str) -> String {
    query
        .split('&')
        .filter(|p| !p.is_empty() && p.split('=').next() != Some("key"))
        .collect::<Vec<_>>()
        .join("&")
}

fn percent_decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = (bytes[i] == b'%' && i + 2 < bytes.len())
            .then(|| Some(hex(bytes[i + 1])? << 4 | hex(bytes[i + 2])?))
            .flatten();
        match (decoded, bytes[i]) {
            (Some(b), _) => {
                out.push(b);
                i += 3;
                continue;
            }
            (None, b'+') => out.push(b' '),
            (None, b) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The client's address (failed authentications are limited per address).
pub fn peer_ip(req: &HttpRequest) -> Option<std::net::IpAddr> {
    req.peer_addr().map(|a| a.ip())
}

/// Authenticates the request's key and checks it may use `platform`.
pub async fn authenticate(
    state: &AppState,
    req: &HttpRequest,
    platform: Platform,
) -> Result<Arc<ApiKey>, ApiError> {
    let key = identify(state, req).await?;
    if !key.allows(platform) {
        return Err(ApiError::NoPermission(platform));
    }
    Ok(key)
}

/// The request's key, whatever platform it may use (checked once the request says which).
pub async fn identify(state: &AppState, req: &HttpRequest) -> Result<Arc<ApiKey>, ApiError> {
    let presented = presented_key(req).ok_or(ApiError::MissingKey)?;
    state.keys.authenticate(&presented, peer_ip(req)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn keys_come_from_every_documented_place() {
        let r = TestRequest::default()
            .insert_header(("x-api-key", "cr_a"))
            .to_http_request();
        assert_eq!(presented_key(&r).as_deref(), Some("cr_a"));
        let r = TestRequest::default()
            .insert_header(("authorization", "Bearer cr_b"))
            .to_http_request();
        assert_eq!(presented_key(&r).as_deref(), Some("cr_b"));
        let r = TestRequest::default()
            .insert_header(("Authorization", "bearer  cr_c "))
            .to_http_request();
        assert_eq!(presented_key(&r).as_deref(), Some("cr_c"));
        let r = TestRequest::default()
            .insert_header(("x-goog-api-key", "cr_d"))
            .to_http_request();
        assert_eq!(presented_key(&r).as_deref(), Some("cr_d"));
        let r = TestRequest::default()
            .insert_header(("api-key", "cr_e"))
            .to_http_request();
        assert_eq!(presented_key(&r).as_deref(), Some("cr_e"));
        let r = TestRequest::with_uri("/v1/messages?beta=true&key=cr_f").to_http_request();
        assert_eq!(presented_key(&r).as_deref(), Some("cr_f"));
        let r = TestRequest::default()
            .insert_header(("x-api-key", ""))
            .to_http_request();
        assert_eq!(presented_key(&r), None);
    }

    #[test]
    fn forwarded_queries_lose_the_key() {
        assert_eq!(query_without_key("beta=true&key=cr_x"), "beta=true");
        assert_eq!(query_without_key("key=cr_x"), "");
        assert_eq!(query_param("alt=sse&key=a%2Bb", "key").as_deref(), Some("a+b"));
    }
}
