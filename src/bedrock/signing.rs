//! Authenticating the final request: SigV4 (service `bedrock`) with the `aws-sigv4` crate for an
//! access key, `Authorization: Bearer` for a Bedrock API key.
//!
//! Sign last: the method, URL, headers and body given here must be exactly what is sent, and
//! a header added afterwards must be one SigV4 leaves unsigned (e.g. `user-agent`).

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;

use super::credentials::{BedrockAuth, BedrockCredentials};

/// The signing name of the Bedrock runtime API.
pub const SERVICE: &str = "bedrock";

#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("cannot sign a request to {0:?}: not an absolute URL with a host")]
    Url(String),
    #[error("cannot sign the Bedrock request: {0}")]
    Sign(String),
}

/// The request as it will be sent.
pub struct Outgoing<'a> {
    pub method: &'a str,
    pub url: &'a str,
    /// Headers that go out with the request (lower- or mixed-case names).
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

/// The headers to add so Bedrock accepts `request` from `credentials` at `now`:
/// `authorization` and, for SigV4, `x-amz-date` (+ `x-amz-security-token`).
pub fn authorize(
    credentials: &BedrockCredentials,
    request: &Outgoing<'_>,
    now: SystemTime,
) -> Result<Vec<(&'static str, String)>, SigningError> {
    match &credentials.auth {
        BedrockAuth::ApiKey(key) => Ok(vec![("authorization", format!("Bearer {}", key.expose()))]),
        BedrockAuth::AccessKey {
            access_key_id,
            secret_access_key,
            session_token,
        } => sigv4_headers(
            &Credentials::new(
                access_key_id,
                secret_access_key.expose(),
                session_token.as_ref().map(|t| t.expose().to_owned()),
                None,
                "switchyard-bedrock-account",
            ),
            credentials.region.as_str(),
            SERVICE,
            request,
            now,
        ),
    }
}

fn sigv4_headers(
    credentials: &Credentials,
    region: &str,
    service: &str,
    request: &Outgoing<'_>,
    now: SystemTime,
) -> Result<Vec<(&'static str, String)>, SigningError> {
    // aws-sigv4 panics on a URI without a host; refuse those first.
    let has_host = http::Uri::try_from(request.url)
        .ok()
        .and_then(|u| u.host().map(|h| !h.is_empty()))
        .unwrap_or(false);
    if !has_host {
        return Err(SigningError::Url(request.url.to_owned()));
    }
    let identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(now)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| SigningError::Sign(e.to_string()))?
        .into();
    let signable = SignableRequest::new(
        request.method,
        request.url,
        request.headers.iter().copied(),
        SignableBody::Bytes(request.body),
    )
    .map_err(|e| SigningError::Sign(e.to_string()))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| SigningError::Sign(e.to_string()))?
        .into_parts();
    let (headers, _query) = instructions.into_parts();
    Ok(headers
        .into_iter()
        .map(|h| (h.name(), h.value().to_owned()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    /// 2015-08-30T12:36:00Z, the time of AWS's SigV4 test suite.
    fn suite_time() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_440_938_160)
    }

    #[test]
    fn matches_the_aws_test_suite_post_vanilla_vector() {
        // AWS's published SigV4 test-suite credentials (not a real key): the expected
        // signature below is computed from them.
        let creds = Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            None,
            None,
            "test",
        );
        let request = Outgoing {
            method: "POST",
            url: "https://example.amazonaws.com/",
            headers: &[("host", "example.amazonaws.com")],
            body: b"",
        };
        let headers = sigv4_headers(&creds, "us-east-1", "service", &request, suite_time()).unwrap();
        let get = |n: &str| headers.iter().find(|(k, _)| *k == n).map(|(_, v)| v.as_str());
        assert_eq!(get("x-amz-date"), Some("20150830T123600Z"));
        assert_eq!(
            get("authorization"),
            Some(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
                 SignedHeaders=host;x-amz-date, \
                 Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
            )
        );
    }

    #[test]
    fn bedrock_signing_scope_and_session_token() {
        let creds = BedrockCredentials::from_json(
            r#"{"region":"eu-west-1","access_key_id":"ASIAIOSFODNN7EXAMPLE","secret_access_key":"s3cr3t","session_token":"tok"}"#,
        )
        .unwrap();
        let request = Outgoing {
            method: "POST",
            url: "https://bedrock-runtime.eu-west-1.amazonaws.com/model/m%3A0/invoke",
            headers: &[("content-type", "application/json")],
            body: b"{}",
        };
        let headers = authorize(&creds, &request, suite_time()).unwrap();
        let get = |n: &str| headers.iter().find(|(k, _)| *k == n).map(|(_, v)| v.as_str());
        let auth = get("authorization").unwrap();
        assert!(auth.starts_with("AWS4-HMAC-SHA256 Credential=ASIAIOSFODNN7EXAMPLE/20150830/eu-west-1/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature="), "{auth}");
        assert_eq!(get("x-amz-security-token"), Some("tok"));
        assert!(!auth.contains("s3cr3t"));
    }

    #[test]
    fn api_key_is_a_bearer_and_hostless_urls_are_refused() {
        let creds = BedrockCredentials::from_json(r#"{"region":"us-east-1","api_key":"ABSKkey"}"#).unwrap();
        let request = Outgoing {
            method: "POST",
            url: "/model/x/invoke",
            headers: &[],
            body: b"",
        };
        assert_eq!(
            authorize(&creds, &request, suite_time()).unwrap(),
            vec![("authorization", "Bearer ABSKkey".to_owned())]
        );
        let creds = BedrockCredentials::from_json(
            r#"{"region":"us-east-1","access_key_id":"AKIAFAKE0TEST0KEY000","secret_access_key":"s"}"#,
        )
        .unwrap();
        assert!(matches!(
            authorize(&creds, &request, suite_time()),
            Err(SigningError::Url(_))
        ));
    }
}
