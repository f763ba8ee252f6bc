//! `/admin/oauth/{provider}/*`: onboarding a subscription account (Claude, OpenAI / Codex,
//! Gemini) with the OAuth authorization-code flow and PKCE (S256).
//!
//! `start` makes a verifier and a `state`, keeps them here for ten minutes and answers with the
//! URL the operator opens; `exchange` takes what the operator pastes back after signing in (the
//! redirect URL, `code#state` or the bare code), checks the state, trades the code for tokens at
//! the provider's token endpoint and stores them as a new account. The verifier never leaves the
//! server. What differs between providers is data, in [`provider`].
//!
//! The code goes to the token endpoint through the proxy the operator names for the new
//! account, or directly (never through the environment's proxy): from its first request on, an
//! account's traffic leaves from the address chosen for it.
//!
//! Pending logins live in process memory (one map per process, so every worker sees it): with
//! several instances behind a balancer, both calls must reach the same instance.
mod pasted;
mod provider;

use super::accounts::{self, NewAccount};
use super::{Admin, fail, new_id};
use crate::error::{ApiError, ApiResult};
use crate::oauth::urlencode;
use crate::relay::client::{ClientError, egress_builder};
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use parking_lot::Mutex;
use pasted::Pasted;
use provider::{Flow, Provider, TokenAnswer};
use rand::RngCore;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::{Duration, Instant};
use switchyard_actors::clock::Millis;

/// How long an operator has between `start` and `exchange`.
const SESSION_TTL: Duration = Duration::from_secs(600);
/// Pending logins kept at most; the oldest goes first.
const MAX_SESSIONS: usize = 64;
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(30);

struct PendingLogin {
    provider: Provider,
    verifier: String,
    state: String,
    started: Instant,
}

static PENDING: LazyLock<Mutex<HashMap<String, PendingLogin>>> = LazyLock::new(Default::default);

/// A PKCE pair: the secret verifier and the challenge sent in the authorize URL.
struct Pkce {
    verifier: String,
    challenge: String,
}

fn random_b64(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

impl Pkce {
    fn generate() -> Self {
        // 32 random bytes → 43 base64url characters, the shortest verifier RFC 7636 allows.
        let verifier = random_b64(32);
        let challenge = challenge_of(&verifier);
        Pkce { verifier, challenge }
    }
}

/// `base64url(sha256(verifier))`, the S256 challenge.
pub fn challenge_of(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn sweep(pending: &mut HashMap<String, PendingLogin>) {
    pending.retain(|_, p| p.started.elapsed() < SESSION_TTL);
    while pending.len() >= MAX_SESSIONS {
        let oldest = pending
            .iter()
            .min_by_key(|(_, p)| p.started)
            .map(|(id, _)| id.clone());
        match oldest {
            Some(id) => pending.remove(&id),
            None => break,
        };
    }
}

/// The `{provider}` of the path, or a 404 naming the ones there are.
fn provider_of(segment: &str) -> Result<Provider, LoginError> {
    Provider::from_path(segment)
        .ok_or_else(|| LoginError::UnknownProvider(segment.chars().take(32).collect()))
}

/// `POST /admin/oauth/{provider}/start` → `{session_id, authorize_url, expires_in}`.
pub async fn start(_: Admin, state: web::Data<AppState>, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let provider = provider_of(&path).map_err(fail)?;
    let pkce = Pkce::generate();
    let login_state = random_b64(32);
    let url = provider
        .flow(&state.settings.upstream)
        .authorize_url(&pkce.challenge, &login_state);
    let session_id = new_id();
    {
        let mut pending = PENDING.lock();
        sweep(&mut pending);
        pending.insert(
            session_id.clone(),
            PendingLogin {
                provider,
                verifier: pkce.verifier,
                state: login_state,
                started: Instant::now(),
            },
        );
    }
    Ok(HttpResponse::Ok().json(json!({
        "session_id": session_id,
        "authorize_url": url,
        "expires_in": SESSION_TTL.as_secs(),
    })))
}

/// `POST /admin/oauth/{provider}/exchange`: the code plus the new account's operator fields.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exchange {
    session_id: String,
    /// What the operator pasted: the redirect URL, `code#state`, or the bare code.
    code: String,
    /// The state, when the caller split it off the code itself.
    #[serde(default)]
    state: Option<String>,
    /// Gemini only: the Google Cloud project Code Assist bills.
    #[serde(default)]
    project_id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    priority: Option<u32>,
    #[serde(default)]
    max_concurrency: Option<u32>,
    #[serde(default)]
    sharing: Option<Value>,
    #[serde(default)]
    proxy: Option<String>,
    #[serde(default)]
    models: Option<Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("unknown OAuth provider {0:?}: use claude, openai or gemini")]
    UnknownProvider(String),
    #[error("unknown or expired login session; start again")]
    UnknownSession,
    #[error("the code is empty")]
    EmptyCode,
    #[error("the pasted URL carries no code")]
    NoCodeInUrl,
    #[error("the sign-in was not completed: {0}")]
    Denied(String),
    #[error("project_id applies to gemini logins only")]
    ProjectIdNotApplicable,
    #[error("a gemini login needs project_id (the Google Cloud project Code Assist bills)")]
    ProjectIdMissing,
    #[error("state mismatch: the code belongs to another login attempt; start again")]
    StateMismatch,
    #[error("the token endpoint refused the code (status {status}): {detail}")]
    Refused { status: u16, detail: String },
    #[error("the token endpoint could not be reached: {0}")]
    Unreachable(String),
    #[error("{0}")]
    Egress(#[from] ClientError),
    #[error("the token endpoint's answer was not understood")]
    BadAnswer,
}

impl From<LoginError> for ApiError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::UnknownProvider(_) => ApiError::NotFound(e.to_string()),
            LoginError::Unreachable(_) => ApiError::UpstreamUnreachable(e.to_string()),
            LoginError::BadAnswer | LoginError::Egress(ClientError::Build(_)) => {
                ApiError::Internal(e.to_string())
            }
            _ => ApiError::BadRequest(e.to_string()),
        }
    }
}

/// The error a token endpoint names (`invalid_grant: …`), in OAuth's shape or OpenAI's.
fn refusal_detail(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            let e = &v["error"];
            let d = v["error_description"].as_str().or(e["message"].as_str());
            e.as_str().or(e["type"].as_str()).map(|e| match d {
                Some(d) => format!("{e}: {d}"),
                None => e.to_owned(),
            })
        })
        .unwrap_or_else(|| "no details".into())
}

/// `text` with `secret` cut out; secrets too short to be real ones are left (cutting `c` out of
/// an error name would only garble it).
fn scrub(text: &str, secret: &str, marker: &str) -> String {
    if secret.len() < 8 {
        return text.to_owned();
    }
    // An endpoint may echo the secret as sent in its form body: form-encoded (as reqwest's
    // `.form()` sends it) or percent-encoded.
    let form: String = form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    text.replace(secret, marker)
        .replace(&form, marker)
        .replace(&urlencode(secret), marker)
}

/// The client the new account's code exchange goes out with (see the module comment).
fn exchange_client(proxy: Option<&str>) -> Result<reqwest::Client, LoginError> {
    egress_builder(proxy)?
        .timeout(EXCHANGE_TIMEOUT)
        .build()
        .map_err(|e| LoginError::Egress(ClientError::Build(e.without_url().to_string())))
}

async fn exchange_code(
    client: &reqwest::Client,
    flow: &Flow<'_>,
    code: &str,
    login_state: &str,
    verifier: &str,
) -> Result<TokenAnswer, LoginError> {
    let fields = flow.exchange_fields(code, login_state, verifier);
    let resp = flow
        .token
        .request(client, &fields)
        .send()
        .await
        .map_err(|e| LoginError::Unreachable(e.without_url().to_string()))?;
    let status = resp.status();
    if !status.is_success() {
        // The error answer names the problem (`invalid_grant`…); should an endpoint echo what
        // it was sent, the secrets are cut out.
        let text = resp.text().await.unwrap_or_default();
        let detail = scrub(
            &scrub(&refusal_detail(&text), code, "[code]"),
            verifier,
            "[verifier]",
        );
        return Err(LoginError::Refused {
            status: status.as_u16(),
            detail,
        });
    }
    resp.json().await.map_err(|_| LoginError::BadAnswer)
}

pub async fn exchange(
    _: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<Exchange>,
) -> ApiResult<HttpResponse> {
    let provider = provider_of(&path).map_err(fail)?;
    let x = body.into_inner();
    let has_project = x.project_id.as_deref().is_some_and(|p| !p.trim().is_empty());
    if x.project_id.is_some() && provider != Provider::Gemini {
        return Err(fail(LoginError::ProjectIdNotApplicable));
    }
    // Checked before the session is used up: without a project the account could never serve.
    if provider == Provider::Gemini && !has_project {
        return Err(fail(LoginError::ProjectIdMissing));
    }
    let pasted = Pasted::parse(&x.code, x.state.as_deref()).map_err(fail)?;
    let proxy = x.proxy.filter(|p| !p.trim().is_empty());
    // Checked before the session is used up too: a proxy that cannot be built is a typo to fix,
    // and the code must not go out some other way meanwhile.
    let client = exchange_client(proxy.as_deref()).map_err(fail)?;
    // One attempt per session, whatever its outcome: a wrong state may be an injection.
    let pending = {
        let mut pending = PENDING.lock();
        sweep(&mut pending);
        pending.remove(&x.session_id)
    };
    let pending = pending
        .filter(|p| p.provider == provider)
        .ok_or_else(|| fail(LoginError::UnknownSession))?;
    let name = provider.name();
    if pasted.state.is_some_and(|s| s != pending.state) {
        tracing::warn!(provider = name, "login: state mismatch, code not exchanged");
        return Err(fail(LoginError::StateMismatch));
    }
    let flow = provider.flow(&state.settings.upstream);
    let tokens = exchange_code(&client, &flow, &pasted.code, &pending.state, &pending.verifier)
        .await
        .map_err(|e| {
            tracing::warn!(provider = name, error = %e, "login: code exchange failed");
            fail(e)
        })?;
    let now: Millis = state.clock.now_ms();
    let account = provider.account(&tokens, x.project_id.as_deref());
    let account_name = x
        .name
        .filter(|n| !n.trim().is_empty())
        .unwrap_or(account.default_name);
    let mut new = json!({
        "name": account_name,
        "kind": account.kind,
        "oauth": {
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "expires_at": tokens.expires_at(now),
        },
        "extra": account.extra,
    });
    for (field, value) in [
        ("priority", x.priority.map(Value::from)),
        ("max_concurrency", x.max_concurrency.map(Value::from)),
        ("sharing", x.sharing),
        ("proxy", proxy.map(Value::from)),
        ("models", x.models),
    ] {
        if let Some(v) = value {
            new[field] = v;
        }
    }
    let new: NewAccount =
        serde_json::from_value(new).map_err(|e| fail(ApiError::BadRequest(e.to_string())))?;
    tracing::info!(provider = name, "login: code exchanged, adding the account");
    accounts::create(Admin, state, web::Json(new)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_is_s256_of_the_verifier() {
        // RFC 7636 appendix B.
        assert_eq!(
            challenge_of("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let p = Pkce::generate();
        assert_eq!(p.verifier.len(), 43);
        assert_eq!(p.challenge, challenge_of(&p.verifier));
    }

    #[test]
    fn refusals_name_the_endpoint_error_in_either_shape() {
        assert_eq!(
            refusal_detail(r#"{"error":"invalid_grant","error_description":"Bad Request"}"#),
            "invalid_grant: Bad Request"
        );
        assert_eq!(
            refusal_detail(r#"{"error":{"type":"invalid_request_error","message":"expired"}}"#),
            "invalid_request_error: expired"
        );
        assert_eq!(refusal_detail("<html>"), "no details");
        assert_eq!(
            scrub(
                "invalid_grant: code ac_123456789 expired",
                "ac_123456789",
                "[code]"
            ),
            "invalid_grant: code [code] expired"
        );
        assert_eq!(scrub("invalid_grant", "c", "[code]"), "invalid_grant");
        assert_eq!(
            scrub("bad code 4%2F0Aexample-code", "4/0Aexample-code", "[code]"),
            "bad code [code]",
            "as sent in a form body"
        );
    }

    #[test]
    fn unknown_providers_are_not_found() {
        let e: ApiError = provider_of("github").unwrap_err().into();
        assert!(
            matches!(e, ApiError::NotFound(ref m) if m.contains("claude, openai or gemini")),
            "{e}"
        );
        assert_eq!(provider_of("openai").ok(), Some(Provider::OpenAi));
    }
}
