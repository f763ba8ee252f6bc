//! The sign-ins `/admin/oauth/{provider}/*` knows, each described as data: where the operator
//! signs in and with which parameters, how the code is traded at the token endpoint, and which
//! account kind and `extra` fields the tokens become (the same ones `account import` stores).
use crate::oauth::{TokenEndpoint, chatgpt_account_id, expires_at, jwt_claims, urlencode};
use crate::settings::UpstreamSettings;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use switchyard_actors::clock::Millis;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    /// Claude subscription (Claude Code's sign-in) → `claude-official`.
    Claude,
    /// ChatGPT sign-in as Codex CLI does it → `openai`.
    OpenAi,
    /// Google sign-in as Gemini CLI / Code Assist does it → `gemini`.
    Gemini,
}

impl Provider {
    /// The `{provider}` segment of `/admin/oauth/{provider}/…`.
    pub fn from_path(segment: &str) -> Option<Self> {
        match segment {
            "claude" => Some(Provider::Claude),
            "openai" => Some(Provider::OpenAi),
            "gemini" => Some(Provider::Gemini),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Provider::Claude => "claude",
            Provider::OpenAi => "openai",
            Provider::Gemini => "gemini",
        }
    }

    /// The account kind the tokens are stored as.
    pub fn kind(self) -> &'static str {
        match self {
            Provider::Claude => "claude-official",
            Provider::OpenAi => "openai",
            Provider::Gemini => "gemini",
        }
    }

    /// The account name when the operator gave none and the provider reported no email.
    fn fallback_name(self) -> &'static str {
        match self {
            Provider::Claude => "claude",
            Provider::OpenAi => "codex",
            Provider::Gemini => "gemini",
        }
    }

    /// This provider's sign-in with the configured endpoints and client.
    pub fn flow(self, u: &UpstreamSettings) -> Flow<'_> {
        match self {
            Provider::Claude => {
                let c = &u.claude;
                Flow {
                    authorize_url: &c.authorize_url,
                    params: vec![
                        ("code", "true"),
                        ("client_id", &c.oauth_client_id),
                        ("response_type", "code"),
                        ("redirect_uri", &c.redirect_uri),
                        ("scope", "org:create_api_key user:profile user:inference"),
                    ],
                    redirect_uri: &c.redirect_uri,
                    token: c.token_endpoint(),
                    sends_state: true,
                }
            }
            Provider::OpenAi => {
                let o = &u.openai;
                Flow {
                    authorize_url: &o.authorize_url,
                    params: vec![
                        ("response_type", "code"),
                        ("client_id", &o.oauth_client_id),
                        ("redirect_uri", &o.redirect_uri),
                        ("scope", "openid profile email offline_access"),
                        ("id_token_add_organizations", "true"),
                        ("codex_cli_simplified_flow", "true"),
                    ],
                    redirect_uri: &o.redirect_uri,
                    token: o.token_endpoint(),
                    sends_state: false,
                }
            }
            Provider::Gemini => {
                let g = &u.gemini;
                Flow {
                    authorize_url: &g.authorize_url,
                    params: vec![
                        ("client_id", &g.oauth_client_id),
                        ("redirect_uri", &g.redirect_uri),
                        ("response_type", "code"),
                        (
                            "scope",
                            "https://www.googleapis.com/auth/cloud-platform \
                             https://www.googleapis.com/auth/userinfo.email \
                             https://www.googleapis.com/auth/userinfo.profile",
                        ),
                        ("access_type", "offline"),
                        ("prompt", "consent"),
                    ],
                    redirect_uri: &g.redirect_uri,
                    token: g.token_endpoint(),
                    sends_state: false,
                }
            }
        }
    }

    /// The account the tokens become: kind, default name and platform extras.
    pub fn account(self, answer: &TokenAnswer, project_id: Option<&str>) -> Onboarded {
        let mut extra = Map::new();
        let id_claims = answer.id_token.as_deref().and_then(jwt_claims);
        let mut email = id_claims
            .as_ref()
            .and_then(|c| c["email"].as_str())
            .map(str::to_owned);
        match self {
            Provider::Claude => {
                if let Some(a) = &answer.account {
                    if let Some(u) = &a.uuid {
                        extra.insert("account_uuid".into(), json!(u));
                    }
                    if a.email_address.is_some() {
                        email = a.email_address.clone();
                    }
                }
                if let Some(u) = answer.organization.as_ref().and_then(|o| o.uuid.as_ref()) {
                    extra.insert("organization_uuid".into(), json!(u));
                }
            }
            Provider::OpenAi => {
                // The Codex backend wants the ChatGPT account in a header; the id_token names it.
                if let Some(id) = answer.id_token.as_deref().and_then(chatgpt_account_id) {
                    extra.insert("chatgpt_account_id".into(), json!(id));
                }
            }
            Provider::Gemini => {
                if let Some(p) = project_id.map(str::trim).filter(|p| !p.is_empty()) {
                    extra.insert("project_id".into(), json!(p));
                }
            }
        }
        if let Some(e) = &email {
            extra.insert("email".into(), json!(e));
        }
        Onboarded {
            kind: self.kind(),
            default_name: email.unwrap_or_else(|| self.fallback_name().into()),
            extra,
        }
    }
}

/// One provider's sign-in, resolved against the settings.
pub struct Flow<'a> {
    authorize_url: &'a str,
    /// Authorize parameters other than PKCE's and the state, in the order they are sent.
    params: Vec<(&'static str, &'a str)>,
    pub redirect_uri: &'a str,
    /// Where and how the code is traded (JSON for Claude, a form for OpenAI and Google).
    pub token: TokenEndpoint,
    /// Claude's token endpoint wants the state back with the code.
    pub sends_state: bool,
}

impl Flow<'_> {
    pub fn authorize_url(&self, challenge: &str, state: &str) -> String {
        let pkce = [
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
            ("state", state),
        ];
        let query = self
            .params
            .iter()
            .chain(&pkce)
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let sep = if self.authorize_url.contains('?') {
            '&'
        } else {
            '?'
        };
        format!("{}{sep}{query}", self.authorize_url)
    }

    /// The authorization-code grant's fields, in the order they are sent.
    pub fn exchange_fields<'f>(
        &'f self,
        code: &'f str,
        state: &'f str,
        verifier: &'f str,
    ) -> Vec<(&'static str, &'f str)> {
        let mut fields = vec![("grant_type", "authorization_code"), ("code", code)];
        if self.sends_state {
            fields.push(("state", state));
        }
        fields.extend([
            ("redirect_uri", self.redirect_uri),
            ("client_id", self.token.client_id.as_str()),
        ]);
        if let Some(secret) = &self.token.client_secret {
            fields.push(("client_secret", secret.as_str()));
        }
        fields.push(("code_verifier", verifier));
        fields
    }
}

/// What a token endpoint answers to an authorization-code grant (the union of the three).
#[derive(Deserialize)]
pub struct TokenAnswer {
    pub access_token: String,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    expires_in: Option<i64>,
    /// OpenAI and Google: a JWT naming the user (and for OpenAI, the ChatGPT account).
    #[serde(default)]
    id_token: Option<String>,
    /// Claude's own account and organization fields.
    #[serde(default)]
    account: Option<ClaudeAccountInfo>,
    #[serde(default)]
    organization: Option<ClaudeOrganization>,
}

impl TokenAnswer {
    /// When the access token expires: `expires_in`, else the access token's own `exp` claim
    /// (OpenAI's are JWTs), else an hour from now.
    pub fn expires_at(&self, now: Millis) -> Millis {
        expires_at(now, self.expires_in, &self.access_token)
    }
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

/// What the tokens become besides the tokens themselves.
pub struct Onboarded {
    pub kind: &'static str,
    pub default_name: String,
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::DEFAULT_TTL_SECS;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn answer(v: Value) -> TokenAnswer {
        serde_json::from_value(v).unwrap()
    }

    fn jwt(claims: Value) -> String {
        format!("h.{}.s", URL_SAFE_NO_PAD.encode(claims.to_string()))
    }

    #[test]
    fn the_claude_authorize_url_carries_every_parameter() {
        let url = Provider::Claude
            .flow(&UpstreamSettings::default())
            .authorize_url("CH", "ST");
        assert!(url.starts_with("https://claude.ai/oauth/authorize?code=true&client_id=9d1c250a-"));
        assert!(url.contains("&response_type=code"));
        assert!(url.contains("&redirect_uri=https%3A%2F%2Fconsole.anthropic.com%2Foauth%2Fcode%2Fcallback"));
        assert!(url.contains("&scope=org%3Acreate_api_key%20user%3Aprofile%20user%3Ainference"));
        assert!(url.ends_with("&code_challenge=CH&code_challenge_method=S256&state=ST"));
    }

    #[test]
    fn the_openai_and_gemini_authorize_urls_follow_their_clis() {
        let u = UpstreamSettings::default();
        let openai = Provider::OpenAi.flow(&u).authorize_url("CH", "ST");
        assert_eq!(
            openai,
            "https://auth.openai.com/oauth/authorize?response_type=code\
             &client_id=app_EMoamEEZ73f0CkXaXp7hrann\
             &redirect_uri=http%3A%2F%2Flocalhost%3A1455%2Fauth%2Fcallback\
             &scope=openid%20profile%20email%20offline_access\
             &id_token_add_organizations=true&codex_cli_simplified_flow=true\
             &code_challenge=CH&code_challenge_method=S256&state=ST"
        );
        let gemini = Provider::Gemini.flow(&u).authorize_url("CH", "ST");
        assert!(gemini.starts_with("https://accounts.google.com/o/oauth2/v2/auth?client_id=681255809395-"));
        assert!(
            gemini
                .contains("&redirect_uri=https%3A%2F%2Fcodeassist.google.com%2Fauthcode&response_type=code")
        );
        assert!(gemini.contains(
            "&scope=https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fcloud-platform%20\
             https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fuserinfo.email%20\
             https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fuserinfo.profile&"
        ));
        assert!(gemini.ends_with(
            "&access_type=offline&prompt=consent&code_challenge=CH&code_challenge_method=S256&state=ST"
        ));
    }

    #[test]
    fn each_grant_sends_what_its_endpoint_expects() {
        let u = UpstreamSettings::default();
        let names = |p: Provider| -> Vec<&'static str> {
            let flow = p.flow(&u);
            flow.exchange_fields("c", "s", "v")
                .iter()
                .map(|(k, _)| *k)
                .collect()
        };
        let base = ["grant_type", "code", "redirect_uri", "client_id", "code_verifier"];
        assert_eq!(names(Provider::OpenAi), base);
        assert_eq!(
            names(Provider::Claude),
            [
                "grant_type",
                "code",
                "state",
                "redirect_uri",
                "client_id",
                "code_verifier"
            ]
        );
        assert_eq!(
            names(Provider::Gemini),
            [
                "grant_type",
                "code",
                "redirect_uri",
                "client_id",
                "client_secret",
                "code_verifier"
            ]
        );
        assert!(Provider::Claude.flow(&u).token.json);
        assert!(!Provider::OpenAi.flow(&u).token.json && !Provider::Gemini.flow(&u).token.json);
    }

    #[test]
    fn accounts_get_the_extras_their_relays_read() {
        let openai = answer(json!({
            "access_token": jwt(json!({"exp": 1_700_000_000})),
            "id_token": jwt(json!({"email": "a@b.c",
                "https://api.openai.com/auth": {"chatgpt_account_id": "acc-1"}})),
        }));
        let o = Provider::OpenAi.account(&openai, None);
        assert_eq!((o.kind, o.default_name.as_str()), ("openai", "a@b.c"));
        assert_eq!(o.extra["chatgpt_account_id"], "acc-1");
        assert_eq!(openai.expires_at(5), 1_700_000_000_000, "exp of the access token");

        let google = answer(json!({"access_token": "ya29", "expires_in": 10}));
        let g = Provider::Gemini.account(&google, Some(" proj "));
        assert_eq!((g.kind, g.default_name.as_str()), ("gemini", "gemini"));
        assert_eq!(g.extra["project_id"], "proj");
        assert_eq!(google.expires_at(5), 10_005);

        let claude = answer(json!({"access_token": "at",
            "account": {"uuid": "u", "email_address": "m@x"}, "organization": {"uuid": "o"}}));
        let c = Provider::Claude.account(&claude, None);
        assert_eq!((c.kind, c.default_name.as_str()), ("claude-official", "m@x"));
        assert_eq!(
            (&c.extra["account_uuid"], &c.extra["organization_uuid"]),
            (&json!("u"), &json!("o"))
        );
        assert_eq!(claude.expires_at(5), 5 + DEFAULT_TTL_SECS * 1_000);
    }

    #[test]
    fn absurd_lifetimes_count_as_missing() {
        for expires_in in [i64::MAX, i64::MIN, -10] {
            let t = answer(json!({"access_token": "at", "expires_in": expires_in}));
            assert_eq!(t.expires_at(5), 5 + DEFAULT_TTL_SECS * 1_000, "{expires_in}");
        }
        let t = answer(json!({"access_token": jwt(json!({"exp": i64::MAX}))}));
        assert_eq!(t.expires_at(5), 5 + DEFAULT_TTL_SECS * 1_000);
    }
}
