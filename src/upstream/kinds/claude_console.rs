//! `claude-console`: an Anthropic-compatible API key plus base URL. Reuses the Anthropic wire
//! format of `claude_oauth`; only addressing and authentication differ.
use crate::relay::headers::set_header;
use crate::settings::UpstreamSettings;
use crate::upstream::kind::{required_base_url, url_for};
use crate::upstream::wire::anthropic;
use crate::upstream::{
    BaseUrl, BuildError, ClientCall, CredentialForm, Inbound, Profile, UpstreamCall, UpstreamKind,
};
use switchyard_actors::{Account, AccountKind};

pub struct ClaudeConsole;

/// Anthropic's own keys (`sk-ant-…`) go in `x-api-key`; compatible services take a bearer.
pub enum ConsoleKey {
    XApiKey(String),
    Bearer(String),
}

static PROFILE: Profile = Profile {
    id: AccountKind::ClaudeConsole,
    credential: CredentialForm::ApiKey,
    wire: &anthropic::FORMAT,
    base_url: BaseUrl::Required,
    required_extra: &[],
    serves: &[ClientCall::ClaudeMessages, ClientCall::ClaudeCountTokens],
    summary: "Anthropic-compatible API key plus base URL",
};

impl UpstreamKind for ClaudeConsole {
    type Credential = ConsoleKey;

    fn profile(&self) -> &'static Profile {
        &PROFILE
    }

    fn credential(&self, _account: &Account, secret: &str) -> Result<ConsoleKey, BuildError> {
        Ok(if secret.starts_with("sk-ant-") {
            ConsoleKey::XApiKey(secret.to_owned())
        } else {
            ConsoleKey::Bearer(secret.to_owned())
        })
    }

    fn request(
        &self,
        _settings: &UpstreamSettings,
        account: &Account,
        key: &ConsoleKey,
        inbound: &Inbound,
    ) -> Result<UpstreamCall, BuildError> {
        let url = url_for(required_base_url(account)?, inbound);
        let mut headers = anthropic::request_headers(inbound);
        match key {
            ConsoleKey::XApiKey(k) => set_header(&mut headers, "x-api-key", k),
            ConsoleKey::Bearer(k) => set_header(&mut headers, "authorization", &format!("Bearer {k}")),
        }
        let body = anthropic::request_body(account, inbound)?;
        Ok(UpstreamCall { url, headers, body })
    }
}
