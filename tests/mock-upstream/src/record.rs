//! What the mock keeps of each request, and which upstream credential a request carries.

use actix_web::http::Method;
use actix_web::http::header::HeaderMap;
use bytes::Bytes;

/// One request as the mock received it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// The raw query string, without the `?`.
    pub query: String,
    /// Header names are lower-case; a repeated header appears once per value. The order is
    /// not the arrival order (actix-web keeps headers in a hash map).
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// The credential the request authenticated with: the first non-empty of `x-api-key`,
    /// `Authorization: Bearer <x>`, `x-goog-api-key`, `api-key` and the `key` query parameter.
    pub credential: Option<String>,
}

impl RecordedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON, or `Value::Null` when it is empty or not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// A top-level string field of a JSON body, or a field of a form-encoded body
    /// (e.g. `grant_type`, `code_verifier` on the token endpoint).
    pub fn param(&self, name: &str) -> Option<String> {
        if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(&self.body) {
            return map.get(name).and_then(|v| v.as_str()).map(str::to_owned);
        }
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(&self.body)
            .ok()?
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// A field of the query string, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        query_param(&self.query, name)
    }
}

/// A request as the mock keeps it: its text packed into one string, so recording costs a few
/// allocations however many headers come (the load runs record every request). It becomes a
/// [`RecordedRequest`] when a test asks for it.
pub(crate) struct Stored {
    method: Method,
    /// Path, query, then each header's name and value, back to back.
    text: String,
    path_end: usize,
    query_end: usize,
    /// Where each header's name and value end in `text`; each starts where the previous ended.
    headers: Vec<(usize, usize)>,
    body: Bytes,
    credential: Option<String>,
}

impl Stored {
    pub fn new(
        method: &Method,
        path: &str,
        query: &str,
        headers: &HeaderMap,
        body: Bytes,
        credential: Option<String>,
    ) -> Self {
        let size = path.len()
            + query.len()
            + headers
                .iter()
                .map(|(name, value)| name.as_str().len() + value.len())
                .sum::<usize>();
        let mut text = String::with_capacity(size);
        text.push_str(path);
        let path_end = text.len();
        text.push_str(query);
        let query_end = text.len();
        let mut spans = Vec::with_capacity(headers.len());
        for (name, value) in headers.iter() {
            text.push_str(name.as_str());
            let name_end = text.len();
            text.push_str(&String::from_utf8_lossy(value.as_bytes()));
            spans.push((name_end, text.len()));
        }
        Stored {
            method: method.clone(),
            text,
            path_end,
            query_end,
            headers: spans,
            body,
            credential,
        }
    }

    pub fn credential(&self) -> Option<&str> {
        self.credential.as_deref()
    }

    pub fn to_request(&self) -> RecordedRequest {
        let mut start = self.query_end;
        let headers = self
            .headers
            .iter()
            .map(|&(name_end, value_end)| {
                let header = (
                    self.text[start..name_end].to_owned(),
                    self.text[name_end..value_end].to_owned(),
                );
                start = value_end;
                header
            })
            .collect();
        RecordedRequest {
            method: self.method.as_str().to_owned(),
            path: self.text[..self.path_end].to_owned(),
            query: self.text[self.path_end..self.query_end].to_owned(),
            headers,
            body: self.body.clone(),
            credential: self.credential.clone(),
        }
    }
}

/// The credential of a request: the first non-empty of `x-api-key`, `Authorization: Bearer <x>`,
/// a SigV4 `Authorization`'s access key id,
/// `x-goog-api-key`, `api-key` and the `key` query parameter. `header` looks up a header by its
/// lower-case name, so this works on a live request and on a recorded one alike.
pub(crate) fn credential<'a>(header: impl Fn(&str) -> Option<&'a str>, query: &str) -> Option<String> {
    let non_empty = |name: &str| header(name).map(str::trim).filter(|v| !v.is_empty());
    let bearer = || {
        let (scheme, token) = non_empty("authorization")?.split_once(' ')?;
        let token = token.trim();
        (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
    };
    let sigv4_key_id = || crate::sigv4::access_key_id(non_empty("authorization")?);
    non_empty("x-api-key")
        .or_else(bearer)
        .or_else(sigv4_key_id)
        .or_else(|| non_empty("x-goog-api-key"))
        .or_else(|| non_empty("api-key"))
        .map(str::to_owned)
        .or_else(|| query_param(query, "key").filter(|k| !k.is_empty()))
}

/// [`credential`] of a live request.
pub(crate) fn request_credential(headers: &HeaderMap, query: &str) -> Option<String> {
    credential(|name| headers.get(name).and_then(|v| v.to_str().ok()), query)
}

pub(crate) fn query_param(query: &str, name: &str) -> Option<String> {
    if query.is_empty() {
        return None;
    }
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cred(pairs: &[(&str, &str)], query: &str) -> Option<String> {
        credential(
            |name| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| *v),
            query,
        )
    }

    #[test]
    fn credential_precedence() {
        let all = [
            ("authorization", "Bearer b"),
            ("x-goog-api-key", "g"),
            ("api-key", "a"),
            ("x-api-key", "x"),
        ];
        assert_eq!(cred(&all, "key=q").as_deref(), Some("x"));
        assert_eq!(cred(&all[..3], "key=q").as_deref(), Some("b"));
        assert_eq!(cred(&all[1..3], "key=q").as_deref(), Some("g"));
        assert_eq!(cred(&all[2..3], "key=q").as_deref(), Some("a"));
        assert_eq!(cred(&[], "alt=sse&key=q%2Bz").as_deref(), Some("q+z"));
        assert_eq!(cred(&[], "").as_deref(), None);
    }

    #[test]
    fn empty_and_non_bearer_values_are_skipped() {
        let h = [
            ("x-api-key", " "),
            ("authorization", "Basic abc"),
            ("api-key", "a"),
        ];
        assert_eq!(cred(&h, "").as_deref(), Some("a"));
        assert_eq!(
            cred(&[("authorization", "bearer  tok ")], "").as_deref(),
            Some("tok")
        );
    }

    #[test]
    fn stored_requests_unpack_whole() {
        let mut headers = HeaderMap::new();
        headers.insert(
            actix_web::http::header::HeaderName::from_static("x-api-key"),
            actix_web::http::header::HeaderValue::from_static("k"),
        );
        headers.append(
            actix_web::http::header::HeaderName::from_static("accept"),
            actix_web::http::header::HeaderValue::from_static("a/b"),
        );
        let stored = Stored::new(
            &Method::POST,
            "/v1/x",
            "a=1",
            &headers,
            Bytes::from_static(b"{}"),
            Some("k".into()),
        );
        let r = stored.to_request();
        assert_eq!(
            (r.method.as_str(), r.path.as_str(), r.query.as_str()),
            ("POST", "/v1/x", "a=1")
        );
        assert_eq!(r.header("x-api-key"), Some("k"));
        assert_eq!(r.header("accept"), Some("a/b"));
        assert_eq!(r.headers.len(), 2);
        assert_eq!(r.credential.as_deref(), Some("k"));
        assert_eq!(&r.body[..], b"{}");
    }

    #[test]
    fn params_from_json_and_form_bodies() {
        let mut r = RecordedRequest {
            method: "POST".into(),
            path: "/oauth/token".into(),
            query: String::new(),
            headers: Vec::new(),
            body: Bytes::from_static(br#"{"grant_type":"refresh_token","n":1}"#),
            credential: None,
        };
        assert_eq!(r.param("grant_type").as_deref(), Some("refresh_token"));
        assert_eq!(r.param("n"), None);
        r.body = Bytes::from_static(b"grant_type=authorization_code&code_verifier=a%2Fb");
        assert_eq!(r.param("code_verifier").as_deref(), Some("a/b"));
        assert_eq!(r.json(), serde_json::Value::Null);
    }
}
