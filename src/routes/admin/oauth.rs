//! `/admin/oauth/claude/*`: onboarding a Claude subscription account with the OAuth
//! authorization-code flow and PKCE (S256).
//!
//! `start` makes a verifier and a `state`, keeps them here for ten minutes and answers with the
//! URL the operator opens; `exchange` takes the code Claude shows after sign-in (`code` or
//! `code#state`), checks the state, trades the code for tokens at `upstream.claude.token_url`
//! and stores them as a new `claude-official` account. The verifier never leaves the server.
//!
//! Pending logins live in process memory (one map per process, so every worker sees it): with
//! several instances behind a balancer, both calls must reach the same instance.
use super::accounts::{self, NewAccount};
use super::{Admin, fail, new_id};
use crate::error::{ApiError, ApiResult};
use crate::oauth::urlencode;
use crate::settings::ClaudeUpstream;
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use parking_lot::Mutex;
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
const SCOPES: &str = "org:create_api_key user:profile user:inference";
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(30);

struct PendingLogin {
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

fn authorize_url(c: &ClaudeUpstream, challenge: &str, state: &str) -> String {
    let sep = if c.authorize_url.contains('?') { '&' } else { '?' };
    format!(
        "{}{sep}code=true&client_id={}&response_type=code&redirect_uri={}&scope={}\
         &code_challenge={challenge}&code_challenge_method=S256&state={state}",
        c.authorize_url,
        urlencode(&c.oauth_client_id),
        urlencode(&c.redirect_uri),
        urlencode(SCOPES),
    )
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

/// `POST /admin/oauth/claude/start` → `{session_id, authorize_url, expires_in}`.
pub async fn claude_start(_: Admin, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let pkce = Pkce::generate();
    let login_state = random_b64(32);
    let url = authorize_url(&state.settings.upstream.claude, &pkce.challenge, &login_state);
    let session_id = new_id();
    {
        let mut pending = PENDING.lock();
        sweep(&mut pending);
        pending.insert(
            session_id.clone(),
            PendingLogin {
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

/// `POST /admin/oauth/claude/exchange`: the code plus the new account's operator fields.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exchange {
    session_id: String,
    /// What Claude's callback page shows: `code#state`, or the bare code.
    code: String,
    /// The state, when the caller split it off the code itself.
    #[serde(default)]
    state: Option<String>,
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
enum LoginError {
    #[error("unknown or expired login session; start again")]
    UnknownSession,
    #[error("the code is empty")]
    EmptyCode,
    #[error("state mismatch: the code belongs to another login attempt; start again")]
    StateMismatch,
    #[error("the token endpoint refused the code (status {status}): {detail}")]
    Refused { status: u16, detail: String },
    #[error("the token endpoint could not be reached: {0}")]
    Unreachable(String),
    #[error("the token endpoint's answer was not understood")]
    BadAnswer,
}

impl From<LoginError> for ApiError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::Unreachable(_) => ApiError::UpstreamUnreachable(e.to_string()),
            LoginError::BadAnswer => ApiError::Internal(e.to_string()),
            _ => ApiError::BadRequest(e.to_string()),
        }
    }
}

/// Splits `code#state`; a state given on its own wins over none.
fn split_code(code: &str, state: Option<&str>) -> (String, Option<String>) {
    let code = code.trim();
    match code.split_once('#') {
        Some((c, s)) => (c.trim().to_owned(), Some(s.trim().to_owned())),
        None => (code.to_owned(), state.map(|s| s.trim().to_owned())),
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_in: Option<i64>,
    #[serde(default)]
    account: Option<ClaudeAccountInfo>,
    #[serde(default)]
    organization: Option<ClaudeOrganization>,
}

#[derive(Deserialize)]
struct ClaudeAccountInfo {
    #[serde(default)]
    uuid: Option<String>,
    #[serde(default)]
    email_address: Option<String>,
}

#[derive(Deserialize)]
struct ClaudeOrganization {
    #[serde(default)]
    uuid: Option<String>,
}

async fn exchange_code(
    c: &ClaudeUpstream,
    code: &str,
    login_state: &str,
    verifier: &str,
) -> Result<TokenAnswer, LoginError> {
    let client = reqwest::Client::builder()
        .timeout(EXCHANGE_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| LoginError::Unreachable(e.to_string()))?;
    let body = json!({
        "grant_type": "authorization_code",
        "code": code,
        "state": login_state,
        "client_id": c.oauth_client_id,
        "redirect_uri": c.redirect_uri,
        "code_verifier": verifier,
    });
    let resp = client
        .post(&c.token_url)
        .json(&body)
        .send()
        .await
        .map_err(|e| LoginError::Unreachable(e.without_url().to_string()))?;
    let status = resp.status();
    if !status.is_success() {
        // The error answer names the problem (`invalid_grant`…); it holds no secret.
        let text = resp.text().await.unwrap_or_default();
        let detail = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| {
                let e = &v["error"];
                let d = v["error_description"].as_str().or(e["message"].as_str());
                e.as_str().or(e["type"].as_str()).map(|e| match d {
                    Some(d) => format!("{e}: {d}"),
                    None => e.to_owned(),
                })
            })
            .unwrap_or_else(|| "no details".into());
        return Err(LoginError::Refused {
            status: status.as_u16(),
            detail,
        });
    }
    resp.json().await.map_err(|_| LoginError::BadAnswer)
}

pub async fn claude_exchange(
    _: Admin,
    state: web::Data<AppState>,
    body: web::Json<Exchange>,
) -> ApiResult<HttpResponse> {
    let x = body.into_inner();
    // One attempt per session, whatever its outcome: a wrong state may be an injection.
    let pending = {
        let mut pending = PENDING.lock();
        sweep(&mut pending);
        pending.remove(&x.session_id)
    };
    let pending = pending.ok_or_else(|| fail(LoginError::UnknownSession))?;
    let (code, given_state) = split_code(&x.code, x.state.as_deref());
    if code.is_empty() {
        return Err(fail(LoginError::EmptyCode));
    }
    if given_state.is_some_and(|s| s != pending.state) {
        tracing::warn!("claude login: state mismatch, code not exchanged");
        return Err(fail(LoginError::StateMismatch));
    }
    let claude = &state.settings.upstream.claude;
    let tokens = exchange_code(claude, &code, &pending.state, &pending.verifier)
        .await
        .map_err(fail)?;
    let now: Millis = state.clock.now_ms();
    let mut extra = serde_json::Map::new();
    if let Some(a) = &tokens.account {
        if let Some(u) = &a.uuid {
            extra.insert("account_uuid".into(), json!(u));
        }
        if let Some(e) = &a.email_address {
            extra.insert("email".into(), json!(e));
        }
    }
    if let Some(u) = tokens.organization.as_ref().and_then(|o| o.uuid.as_ref()) {
        extra.insert("organization_uuid".into(), json!(u));
    }
    let name = x
        .name
        .filter(|n| !n.trim().is_empty())
        .or_else(|| tokens.account.as_ref().and_then(|a| a.email_address.clone()))
        .unwrap_or_else(|| "claude".into());
    let mut new = json!({
        "name": name,
        "kind": "claude-official",
        "oauth": {
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "expires_at": now + tokens.expires_in.unwrap_or(3_600) * 1_000,
        },
        "extra": extra,
    });
    for (field, value) in [
        ("priority", x.priority.map(Value::from)),
        ("max_concurrency", x.max_concurrency.map(Value::from)),
        ("sharing", x.sharing),
        ("proxy", x.proxy.map(Value::from)),
        ("models", x.models),
    ] {
        if let Some(v) = value {
            new[field] = v;
        }
    }
    let new: NewAccount =
        serde_json::from_value(new).map_err(|e| fail(ApiError::BadRequest(e.to_string())))?;
    tracing::info!("claude login: code exchanged, adding the account");
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
    fn codes_may_carry_their_state() {
        assert_eq!(split_code(" abc#xyz ", None), ("abc".into(), Some("xyz".into())));
        assert_eq!(split_code("abc", Some("s")), ("abc".into(), Some("s".into())));
        assert_eq!(split_code("abc", None), ("abc".into(), None));
    }

    #[test]
    fn the_authorize_url_carries_every_parameter() {
        let url = authorize_url(&ClaudeUpstream::default(), "CH", "ST");
        assert!(url.starts_with("https://claude.ai/oauth/authorize?code=true&client_id=9d1c250a-"));
        assert!(url.contains("&response_type=code"));
        assert!(url.contains("&redirect_uri=https%3A%2F%2Fconsole.anthropic.com%2Foauth%2Fcode%2Fcallback"));
        assert!(url.contains("&scope=org%3Acreate_api_key%20user%3Aprofile%20user%3Ainference"));
        assert!(url.ends_with("&code_challenge=CH&code_challenge_method=S256&state=ST"));
    }
}
