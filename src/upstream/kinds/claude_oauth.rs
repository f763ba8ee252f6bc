//! `claude-official`: a Claude subscription account (OAuth), the Anthropic Messages API with the
//! OAuth betas merged into `anthropic-beta`.
use crate::relay::headers::set_header;
use crate::settings::UpstreamSettings;
use crate::upstream::kind::{base_url_or, url_for};
use crate::upstream::wire::anthropic;
use crate::upstream::{
    BaseUrl, BuildError, ClientCall, CredentialForm, Inbound, Profile, UpstreamCall, UpstreamKind,
};
use switchyard_actors::{Account, AccountKind};

pub struct ClaudeOAuth;

/// The account's current OAuth access token.
pub struct AccessToken(String);

const OAUTH_BETAS: &[&str] = &[
    "claude-code-20250219",
    "oauth-2025-04-20",
    "interleaved-thinking-2025-05-14",
    "fine-grained-tool-streaming-2025-05-14",
];
const OAUTH_BETAS_HAIKU: &[&str] = &["oauth-2025-04-20", "interleaved-thinking-2025-05-14"];

/// OAuth betas first (haiku models take a shorter list), then the client's, without repeats.
pub fn merge_betas(model: &str, client: Option<&str>) -> String {
    let base = if model.to_ascii_lowercase().contains("haiku") {
        OAUTH_BETAS_HAIKU
    } else {
        OAUTH_BETAS
    };
    let mut out: Vec<&str> = base.to_vec();
    for b in client
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|b| !b.is_empty())
    {
        if !out.contains(&b) {
            out.push(b);
        }
    }
    out.join(",")
}

static PROFILE: Profile = Profile {
    id: AccountKind::ClaudeOfficial,
    credential: CredentialForm::OAuth,
    wire: &anthropic::FORMAT,
    base_url: BaseUrl::Optional,
    required_extra: &[],
    serves: &[ClientCall::ClaudeMessages, ClientCall::ClaudeCountTokens],
    summary: "Claude subscription account (OAuth login)",
};

impl UpstreamKind for ClaudeOAuth {
    type Credential = AccessToken;

    fn profile(&self) -> &'static Profile {
        &PROFILE
    }

    fn credential(&self, _account: &Account, secret: &str) -> Result<AccessToken, BuildError> {
        Ok(AccessToken(secret.to_owned()))
    }

    fn request(
        &self,
        settings: &UpstreamSettings,
        account: &Account,
        token: &AccessToken,
        inbound: &Inbound,
    ) -> Result<UpstreamCall, BuildError> {
        let url = url_for(base_url_or(account, &settings.claude.api_base_url), inbound);
        let mut headers = anthropic::request_headers(inbound);
        set_header(&mut headers, "authorization", &format!("Bearer {}", token.0));
        let client = headers
            .get("anthropic-beta")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        set_header(
            &mut headers,
            "anthropic-beta",
            &merge_betas(&inbound.model, client.as_deref()),
        );
        let body = anthropic::request_body(account, inbound)?;
        Ok(UpstreamCall { url, headers, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oauth_betas_come_first_without_repeats() {
        let merged = merge_betas("claude-opus-4-8", Some("oauth-2025-04-20,context-1m-2025-08-07"));
        assert_eq!(
            merged,
            "claude-code-20250219,oauth-2025-04-20,interleaved-thinking-2025-05-14,\
             fine-grained-tool-streaming-2025-05-14,context-1m-2025-08-07"
        );
        assert_eq!(
            merge_betas("claude-haiku-4", None),
            "oauth-2025-04-20,interleaved-thinking-2025-05-14"
        );
    }
}
