//! The OAuth token endpoints: Anthropic's `.../oauth/token` (JSON body), OpenAI's `.../oauth/token`
//! (form body) and Google's `.../token` (form body), for refreshes and authorization-code
//! exchanges alike. Tokens are numbered (`mock-at-<n>`, `mock-rt-<n>`) so tests can tell which
//! exchange a relay is using; the mock does not check the grants it is given.

use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::http::StatusCode;
use serde::Serialize;

use crate::answer::{Answer, Id};
use crate::sse;

const EXPIRES_IN: u64 = 3600;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Issuer {
    Anthropic,
    OpenAi,
    Google,
}

impl Issuer {
    /// Anthropic's endpoint takes JSON, OpenAI's the same path with a form; Google's is `/token`.
    fn of(path: &str, body: &[u8]) -> Issuer {
        if body.trim_ascii_start().starts_with(b"{") {
            Issuer::Anthropic
        } else if path.trim_end_matches('/').ends_with("/oauth/token") {
            Issuer::OpenAi
        } else {
            Issuer::Google
        }
    }
}

#[derive(Serialize)]
struct TokenResponse {
    access_token: Id,
    refresh_token: Id,
    expires_in: u64,
    token_type: &'static str,
    scope: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<Account>,
    #[serde(skip_serializing_if = "Option::is_none")]
    organization: Option<Organization>,
}

#[derive(Serialize)]
struct Account {
    uuid: &'static str,
    email_address: &'static str,
}

#[derive(Serialize)]
struct Organization {
    uuid: &'static str,
    name: &'static str,
}

#[derive(Serialize)]
struct TokenError {
    error: &'static str,
    error_description: String,
}

/// The `code` of an authorization-code grant exactly as sent: a JSON string, or a form value
/// still percent-encoded.
fn sent_code(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    if text.trim_start().starts_with('{') {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        return v["code"].as_str().map(str::to_owned);
    }
    text.split('&')
        .find_map(|pair| pair.strip_prefix("code="))
        .map(str::to_owned)
}

/// The answer to one token request; `n` numbers the tokens, `fail` says the grant is rejected.
pub(crate) fn token(path: &str, body: &[u8], n: u64, fail: bool) -> Answer {
    if fail {
        // Echoes the code, as some real endpoints do: the relay must not pass it on.
        let error_description = match sent_code(body) {
            Some(code) => format!("mock-upstream: grant rejected by the test (code {code})"),
            None => "mock-upstream: grant rejected by the test".to_owned(),
        };
        let error = TokenError {
            error: "invalid_grant",
            error_description,
        };
        return Answer::json(StatusCode::BAD_REQUEST, sse::json(&error));
    }
    let issuer = Issuer::of(path, body);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let response = TokenResponse {
        access_token: Id("mock-at-", n),
        refresh_token: Id("mock-rt-", n),
        expires_in: EXPIRES_IN,
        token_type: "Bearer",
        scope: match issuer {
            Issuer::Anthropic => "user:inference user:profile",
            Issuer::OpenAi => "openid profile email offline_access",
            Issuer::Google => "https://www.googleapis.com/auth/cloud-platform openid",
        },
        id_token: (issuer != Issuer::Anthropic).then(|| id_token(issuer, now)),
        account: (issuer == Issuer::Anthropic).then_some(Account {
            uuid: "mock-account-uuid",
            email_address: "mock@example.com",
        }),
        organization: (issuer == Issuer::Anthropic).then_some(Organization {
            uuid: "mock-org-uuid",
            name: "Mock Organization",
        }),
    };
    Answer::json(StatusCode::OK, sse::json(&response))
}

#[derive(Serialize)]
struct OpenAiAuthClaims {
    chatgpt_account_id: &'static str,
    chatgpt_plan_type: &'static str,
    chatgpt_user_id: &'static str,
}

#[derive(Serialize)]
struct Claims {
    iss: &'static str,
    sub: &'static str,
    aud: &'static str,
    email: &'static str,
    email_verified: bool,
    iat: u64,
    exp: u64,
    #[serde(
        rename = "https://api.openai.com/auth",
        skip_serializing_if = "Option::is_none"
    )]
    openai_auth: Option<OpenAiAuthClaims>,
}

/// An unsigned JWT with the claims relays read from real ones (Codex's account id and plan).
fn id_token(issuer: Issuer, now: u64) -> String {
    let claims = Claims {
        iss: if issuer == Issuer::OpenAi {
            "https://auth.openai.com"
        } else {
            "https://accounts.google.com"
        },
        sub: "mock-user",
        aud: "mock-client",
        email: "mock@example.com",
        email_verified: true,
        iat: now,
        exp: now + EXPIRES_IN,
        openai_auth: (issuer == Issuer::OpenAi).then_some(OpenAiAuthClaims {
            chatgpt_account_id: "mock-account",
            chatgpt_plan_type: "pro",
            chatgpt_user_id: "mock-user",
        }),
    };
    let mut token = base64url(br#"{"alg":"none","typ":"JWT"}"#);
    token.push('.');
    token.push_str(&base64url(&sse::json(&claims)));
    token.push('.');
    token.push_str(&base64url(b"mock-signature"));
    token
}

/// Unpadded base64url, as JWTs use it.
fn base64url(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let bytes = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let bits = u32::from_be_bytes([0, bytes[0], bytes[1], bytes[2]]);
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(bits >> (18 - 6 * i) & 0x3f) as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_without_padding() {
        assert_eq!(base64url(b""), "");
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(b"foob"), "Zm9vYg");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn issuers() {
        assert_eq!(
            Issuer::of("/v1/oauth/token", br#" {"grant_type":"x"}"#),
            Issuer::Anthropic
        );
        assert_eq!(
            Issuer::of("/oauth/token", b"grant_type=refresh_token"),
            Issuer::OpenAi
        );
        assert_eq!(Issuer::of("/token", b"grant_type=refresh_token"), Issuer::Google);
    }
}
