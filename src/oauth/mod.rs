//! OAuth access tokens for subscription accounts: use the stored token while it has more than
//! a minute left, else refresh it through the provider's token endpoint — one refresh at a
//! time per account; concurrent requests wait for it and share the result. A refresh leaves
//! through the account's own proxy, like its relayed requests: a refresh token sent from the
//! host's address would tie the account to it.
use crate::relay::client::{AccountClients, ClientError};
use dashmap::DashMap;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use switchyard_actors::clock::{Millis, SharedClock};
use switchyard_actors::{Account, AccountId, Credentials, OAuthTokens, Scheduling, Secret, Store};

/// Refresh when the token has less than this left.
const REFRESH_MARGIN_MS: i64 = 60_000;
/// How long a refresh waits for another instance's refresh of the same account.
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// Where and how one provider refreshes tokens.
#[derive(Debug, Clone)]
pub struct TokenEndpoint {
    pub url: String,
    pub client_id: String,
    /// Google's installed-app flow also sends a (public) client secret.
    pub client_secret: Option<String>,
    /// JSON body (Anthropic) or form-encoded (Google, OpenAI).
    pub json: bool,
}

impl TokenEndpoint {
    pub fn json(url: &str, client_id: &str) -> Self {
        TokenEndpoint {
            url: url.to_owned(),
            client_id: client_id.to_owned(),
            client_secret: None,
            json: true,
        }
    }

    /// A POST of `fields` in this endpoint's body format.
    pub fn request(&self, client: &reqwest::Client, fields: &[(&str, &str)]) -> reqwest::RequestBuilder {
        let req = client.post(&self.url);
        if self.json {
            let body: serde_json::Map<String, serde_json::Value> = fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
                .collect();
            req.json(&body)
        } else {
            req.form(fields)
        }
    }

    pub fn form(url: &str, client_id: &str, client_secret: Option<&str>) -> Self {
        TokenEndpoint {
            url: url.to_owned(),
            client_id: client_id.to_owned(),
            client_secret: client_secret.filter(|s| !s.is_empty()).map(str::to_owned),
            json: false,
        }
    }
}

/// Each platform's token endpoint, as its settings describe it (relay refreshes and admin
/// logins use the same one).
impl crate::settings::ClaudeUpstream {
    pub fn token_endpoint(&self) -> TokenEndpoint {
        TokenEndpoint::json(&self.token_url, &self.oauth_client_id)
    }
}

impl crate::settings::OpenAiUpstream {
    pub fn token_endpoint(&self) -> TokenEndpoint {
        TokenEndpoint::form(&self.token_url, &self.oauth_client_id, None)
    }
}

impl crate::settings::GeminiUpstream {
    pub fn token_endpoint(&self) -> TokenEndpoint {
        TokenEndpoint::form(
            &self.token_url,
            &self.oauth_client_id,
            Some(&self.oauth_client_secret),
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error("the account has no OAuth tokens")]
    NoTokens,
    #[error("the access token expired and there is no refresh token")]
    NoRefreshToken,
    #[error("the token endpoint refused the refresh (status {0})")]
    Refused(u16),
    #[error("the token endpoint could not be reached: {0}")]
    Unreachable(String),
    /// The account's proxy cannot be used: the refresh is not sent at all (never directly).
    #[error("the token was not refreshed: {0}")]
    Egress(#[from] ClientError),
    #[error("the token endpoint's answer was not understood")]
    BadAnswer,
    #[error("saving the new tokens failed: {0}")]
    Store(String),
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_in: Option<i64>,
}

pub struct TokenRefresher {
    /// One client per account proxy (and one direct).
    clients: AccountClients,
    store: Arc<dyn Store>,
    scheduling: Scheduling,
    clock: SharedClock,
    locks: DashMap<AccountId, Arc<tokio::sync::Mutex<()>>>,
    /// Tokens refreshed by this process, newer than the snapshot until it reloads.
    fresh: DashMap<AccountId, OAuthTokens>,
}

impl TokenRefresher {
    pub fn new(store: Arc<dyn Store>, scheduling: Scheduling, clock: SharedClock, timeout: Duration) -> Self {
        TokenRefresher {
            clients: AccountClients::new(timeout, Some(timeout)),
            store,
            scheduling,
            clock,
            locks: DashMap::new(),
            fresh: DashMap::new(),
        }
    }

    fn current(&self, account: &Account) -> Option<OAuthTokens> {
        let stored = match &account.credentials {
            Credentials::OAuth(t) => Some(t.clone()),
            _ => None,
        };
        let fresh = self.fresh.get(&account.id).map(|t| t.clone());
        match (stored, fresh) {
            (Some(s), Some(f)) if f.expires_at.unwrap_or(0) > s.expires_at.unwrap_or(0) => Some(f),
            (s, f) => s.or(f),
        }
    }

    /// Forgets tokens this process refreshed (an operator wrote new credentials, or removed the
    /// account): the stored ones are the truth again.
    pub fn forget(&self, id: &AccountId) {
        self.fresh.remove(id);
    }

    /// A slot of the store's lease machinery used as a lock shared by every instance: at most one
    /// refresh per account at a time. Waits up to [`LOCK_WAIT`]; without it (store down, or
    /// another instance stuck) the refresh goes ahead rather than failing the request.
    async fn instance_lock(&self, id: &AccountId) -> Option<switchyard_actors::Lease> {
        let holder = format!("refresh:{id}");
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        let lease = match self.scheduling.hold_slot(&holder, 1).await {
            Ok(None) => self.scheduling.hold_slot_until(&holder, 1, deadline).await,
            held => held,
        };
        match lease {
            Ok(lease) => lease,
            Err(e) => {
                tracing::warn!(account = %id, error = %e, "refresh lock unavailable; refreshing without it");
                None
            }
        }
    }

    fn usable(&self, t: &OAuthTokens, now: Millis) -> bool {
        t.expires_at.is_some_and(|at| at - REFRESH_MARGIN_MS > now)
    }

    /// A valid access token for `account`, refreshing it first when needed.
    pub async fn access_token(
        &self,
        account: &Account,
        endpoint: &TokenEndpoint,
    ) -> Result<Secret, RefreshError> {
        let tokens = self.current(account).ok_or(RefreshError::NoTokens)?;
        if self.usable(&tokens, self.clock.now_ms()) {
            return Ok(tokens.access_token);
        }
        let lock = self.locks.entry(account.id.clone()).or_default().clone();
        let _held = lock.lock().await;
        // Instances sharing a store refresh one at a time too: providers rotate refresh tokens,
        // so a second refresh with the old one would fail (or revoke the grant).
        let _across_instances = self.instance_lock(&account.id).await;
        // Someone (here or on another instance) may have refreshed while we waited.
        if let Ok(Some(latest)) = self.store.get_account(&account.id).await
            && let Credentials::OAuth(t) = latest.credentials
            && t.expires_at.unwrap_or(0) > self.current(account).and_then(|c| c.expires_at).unwrap_or(0)
        {
            self.fresh.insert(account.id.clone(), t);
        }
        let tokens = self.current(account).ok_or(RefreshError::NoTokens)?;
        if self.usable(&tokens, self.clock.now_ms()) {
            return Ok(tokens.access_token);
        }
        let refresh = tokens.refresh_token.clone().ok_or(RefreshError::NoRefreshToken)?;
        let fresh = self.refresh(account, endpoint, &refresh).await?;
        let fresh = OAuthTokens {
            refresh_token: fresh.refresh_token.or(Some(refresh)),
            ..fresh
        };
        self.store
            .set_credentials(&account.id, &Credentials::OAuth(fresh.clone()))
            .await
            .map_err(|e| RefreshError::Store(e.to_string()))?;
        self.fresh.insert(account.id.clone(), fresh.clone());
        if let Err(e) = self.scheduling.reload().await {
            tracing::warn!(error = %e, "republishing accounts after a token refresh failed");
        }
        tracing::info!(account = %account.id, expires_at = fresh.expires_at, "access token refreshed");
        Ok(fresh.access_token)
    }

    async fn refresh(
        &self,
        account: &Account,
        endpoint: &TokenEndpoint,
        refresh_token: &Secret,
    ) -> Result<OAuthTokens, RefreshError> {
        let client = self.clients.client(account.proxy.as_deref())?;
        let mut fields = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose()),
            ("client_id", endpoint.client_id.as_str()),
        ];
        if let Some(secret) = &endpoint.client_secret {
            fields.push(("client_secret", secret.as_str()));
        }
        let req = endpoint.request(&client, &fields);
        let resp = req
            .send()
            .await
            .map_err(|e| RefreshError::Unreachable(e.without_url().to_string()))?;
        if !resp.status().is_success() {
            return Err(RefreshError::Refused(resp.status().as_u16()));
        }
        let answer: TokenAnswer = resp.json().await.map_err(|_| RefreshError::BadAnswer)?;
        let now = self.clock.now_ms();
        let expires_at = expires_at(now, answer.expires_in, &answer.access_token);
        Ok(OAuthTokens {
            access_token: Secret::new(answer.access_token),
            refresh_token: answer.refresh_token.map(Secret::new),
            expires_at: Some(expires_at),
        })
    }
}

/// Percent-encodes a form value (RFC 3986 unreserved characters pass).
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A JWT's claims, without checking its signature: the token comes straight from the provider's
/// endpoint over TLS (or the operator's own token file), and only names, ids and expiry are read.
pub fn jwt_claims(token: &str) -> Option<serde_json::Value> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Lifetime assumed when an endpoint gives none.
pub const DEFAULT_TTL_SECS: i64 = 3_600;
/// Latest expiry believed (year 3000): beyond it, a value from an endpoint is nonsense.
const LATEST_EXPIRY_MS: Millis = 32_503_680_000_000;

/// A positive instant before [`LATEST_EXPIRY_MS`]: values from endpoints are not trusted to
/// be sane, and negative or absurd ones count as missing instead of overflowing.
fn sane(ms: Millis) -> Option<Millis> {
    (ms > 0 && ms < LATEST_EXPIRY_MS).then_some(ms)
}

/// When a token expires: by a token endpoint's `expires_in` (seconds from `now`), else the
/// token's own `exp` claim (OpenAI's access tokens are JWTs), else [`DEFAULT_TTL_SECS`].
pub fn expires_at(now: Millis, expires_in: Option<i64>, access_token: &str) -> Millis {
    expires_in
        .and_then(|s| sane(now.saturating_add(s.saturating_mul(1_000))))
        .or_else(|| jwt_expiry_ms(access_token))
        .unwrap_or(now + DEFAULT_TTL_SECS * 1_000)
}

/// The `exp` claim of a JWT, in milliseconds (`None`: not a JWT, no claim, or absurd).
pub fn jwt_expiry_ms(token: &str) -> Option<Millis> {
    jwt_claims(token)
        .and_then(|c| c["exp"].as_i64())
        .and_then(|s| sane(s.saturating_mul(1_000)))
}

/// The ChatGPT account an OpenAI `id_token` names (the Codex backend wants it in a header).
pub fn chatgpt_account_id(id_token: &str) -> Option<String> {
    jwt_claims(id_token)?["https://api.openai.com/auth"]["chatgpt_account_id"]
        .as_str()
        .map(str::to_owned)
}
