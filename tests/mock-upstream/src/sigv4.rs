//! Checks an AWS Signature Version 4 the way AWS does: rebuild the canonical request from what
//! arrived, sign it with the secret the mock knows, compare with the signature given.
//!
//! Written from AWS's description (not with the SDK's signer) so a signer bug shows up as a
//! refused request instead of agreeing with itself. Every access key id is accepted with
//! [`crate::BEDROCK_SECRET_ACCESS_KEY`]; the id then names the account for scripted faults.

use actix_web::http::header::HeaderMap;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Why a signed request is refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// No usable `Authorization` / `x-amz-date`: Bedrock's `UnrecognizedClientException` or
    /// `IncompleteSignatureException`.
    Malformed(&'static str),
    /// The signature does not match: `InvalidSignatureException`.
    Mismatch,
}

/// The parts of `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
struct Authorization<'a> {
    access_key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

/// Whether the value is a SigV4 authorization (else it may be a bearer key).
pub(crate) fn is_sigv4(authorization: &str) -> bool {
    authorization.starts_with(ALGORITHM)
}

/// The access key id of a SigV4 `Authorization` value.
pub(crate) fn access_key_id(authorization: &str) -> Option<&str> {
    parse(authorization).map(|a| a.access_key_id)
}

fn parse(value: &str) -> Option<Authorization<'_>> {
    let rest = value.strip_prefix(ALGORITHM)?.trim_start();
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        match k {
            "Credential" => credential = Some(v),
            "SignedHeaders" => signed = Some(v),
            "Signature" => signature = Some(v),
            _ => return None,
        }
    }
    let mut scope = credential?.split('/');
    let auth = Authorization {
        access_key_id: scope.next().filter(|s| !s.is_empty())?,
        date: scope.next()?,
        region: scope.next()?,
        service: scope.next()?,
        signed_headers: signed?.split(';').collect(),
        signature: signature?,
    };
    (scope.next() == Some("aws4_request") && scope.next().is_none()).then_some(auth)
}

/// Verifies the request's signature for `service` with `secret`.
pub(crate) fn verify(
    method: &str,
    raw_path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
    service: &str,
    secret: &str,
) -> Result<(), Refusal> {
    let value = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or(Refusal::Malformed("Missing Authentication Token"))?;
    let auth = parse(value).ok_or(Refusal::Malformed(
        "Authorization header is not a valid SigV4 authorization",
    ))?;
    let amz_date = headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .ok_or(Refusal::Malformed(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header",
        ))?;
    if !amz_date.starts_with(auth.date) || auth.service != service {
        return Err(Refusal::Malformed(
            "Credential should be scoped to a valid date, region and service",
        ));
    }
    if !auth.signed_headers.contains(&"host") || !auth.signed_headers.contains(&"x-amz-date") {
        return Err(Refusal::Malformed(
            "SignedHeaders must include host and x-amz-date",
        ));
    }
    if headers.contains_key("x-amz-security-token") && !auth.signed_headers.contains(&"x-amz-security-token")
    {
        return Err(Refusal::Mismatch);
    }
    let canonical = canonical_request(method, raw_path, query, headers, &auth.signed_headers, body);
    let scope = format!("{}/{}/{}/aws4_request", auth.date, auth.region, auth.service);
    let string_to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let mut key = hmac(format!("AWS4{secret}").as_bytes(), auth.date.as_bytes());
    for part in [auth.region, auth.service, "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    let expected = hex::encode(hmac(&key, string_to_sign.as_bytes()));
    if expected == auth.signature {
        Ok(())
    } else {
        Err(Refusal::Mismatch)
    }
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length.
    let mut mac = HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn canonical_request(
    method: &str,
    raw_path: &str,
    query: &str,
    headers: &HeaderMap,
    signed: &[&str],
    body: &[u8],
) -> String {
    let mut out = String::with_capacity(512);
    out.push_str(method);
    out.push('\n');
    // Services other than S3 encode the path (as sent, already encoded) once more.
    let path = if raw_path.is_empty() { "/" } else { raw_path };
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out.push('\n');
    let mut params: Vec<(&str, &str)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    params.sort_unstable();
    let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    out.push_str(&query.join("&"));
    out.push('\n');
    for name in signed {
        let values: Vec<String> = headers
            .get_all(*name)
            .filter_map(|v| v.to_str().ok())
            .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        out.push_str(name);
        out.push(':');
        out.push_str(&values.join(","));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&signed.join(";"));
    out.push('\n');
    out.push_str(&hex::encode(Sha256::digest(body)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (n, v) in pairs {
            map.append(
                HeaderName::try_from(*n).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    // AWS's published SigV4 test-suite secret (not a real key): the vectors are computed with it.
    const SUITE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    /// AWS's SigV4 test suite, `post-vanilla`.
    #[test]
    fn accepts_the_aws_post_vanilla_vector_and_refuses_a_changed_one() {
        let auth = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
                    SignedHeaders=host;x-amz-date, \
                    Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b";
        let h = headers(&[
            ("host", "example.amazonaws.com"),
            ("x-amz-date", "20150830T123600Z"),
            ("authorization", auth),
        ]);
        assert_eq!(verify("POST", "/", "", &h, b"", "service", SUITE_SECRET), Ok(()));
        assert_eq!(access_key_id(auth), Some("AKIDEXAMPLE"));
        assert_eq!(
            verify("POST", "/", "", &h, b"x", "service", SUITE_SECRET),
            Err(Refusal::Mismatch)
        );
        assert_eq!(
            verify("POST", "/", "", &h, b"", "service", "other"),
            Err(Refusal::Mismatch)
        );
        assert!(matches!(
            verify("POST", "/", "", &h, b"", "bedrock", SUITE_SECRET),
            Err(Refusal::Malformed(_))
        ));
    }

    /// AWS's SigV4 test suite, `get-vanilla-query-order-key-case`: query sorting.
    #[test]
    fn accepts_the_aws_query_order_vector() {
        let auth = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
                    SignedHeaders=host;x-amz-date, \
                    Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500";
        let h = headers(&[
            ("host", "example.amazonaws.com"),
            ("x-amz-date", "20150830T123600Z"),
            ("authorization", auth),
        ]);
        assert_eq!(
            verify(
                "GET",
                "/",
                "Param2=value2&Param1=value1",
                &h,
                b"",
                "service",
                SUITE_SECRET
            ),
            Ok(())
        );
    }

    #[test]
    fn malformed_authorizations_are_refused() {
        let h = headers(&[
            ("x-amz-date", "20150830T123600Z"),
            ("authorization", "AWS4-HMAC-SHA256 Credential=x"),
        ]);
        assert!(matches!(
            verify("POST", "/", "", &h, b"", "bedrock", "s"),
            Err(Refusal::Malformed(_))
        ));
        assert!(matches!(
            verify("POST", "/", "", &HeaderMap::new(), b"", "bedrock", "s"),
            Err(Refusal::Malformed(_))
        ));
    }
}
