//! `openai`: a ChatGPT / Codex OAuth login served by the Codex backend (`/responses`, with the
//! ChatGPT account id). Responses calls only; OpenAI wire format shared with `openai_responses`.
use crate::relay::headers::set_header;
use crate::settings::UpstreamSettings;
use crate::upstream::kind::base_url_or;
use crate::upstream::wire::{join_url, openai};
use crate::upstream::{
    BaseUrl, BodyAdapter, BuildError, ClientCall, CredentialForm, Inbound, Profile, UpstreamCall,
    UpstreamKind,
};
use switchyard_actors::{Account, AccountKind};

pub struct CodexOAuth;

/// The OAuth access token and the ChatGPT account it acts for (when the login said).
pub struct CodexCredential {
    token: String,
    chatgpt_account_id: Option<String>,
}

static PROFILE: Profile = Profile {
    id: AccountKind::OpenAiOAuth,
    credential: CredentialForm::OAuth,
    wire: &openai::FORMAT,
    base_url: BaseUrl::Optional,
    required_extra: &[],
    serves: &[ClientCall::OpenAiResponses],
    summary: "ChatGPT / Codex OAuth login, Codex backend (Responses only)",
};

impl UpstreamKind for CodexOAuth {
    type Credential = CodexCredential;

    fn profile(&self) -> &'static Profile {
        &PROFILE
    }

    fn credential(&self, account: &Account, secret: &str) -> Result<CodexCredential, BuildError> {
        let id = account
            .extra
            .get("chatgpt_account_id")
            .or_else(|| account.extra.get("account_id"));
        Ok(CodexCredential {
            token: secret.to_owned(),
            chatgpt_account_id: id.cloned(),
        })
    }

    fn request(
        &self,
        settings: &UpstreamSettings,
        account: &Account,
        credential: &CodexCredential,
        inbound: &Inbound,
    ) -> Result<UpstreamCall, BuildError> {
        if inbound.upstream_path != openai::RESPONSES_PATH {
            return Err(BuildError::Misconfigured(format!(
                "a {} account cannot serve {}",
                PROFILE.id, inbound.upstream_path
            )));
        }
        let mut headers = openai::request_headers(inbound, &credential.token);
        if let Some(id) = &credential.chatgpt_account_id {
            set_header(&mut headers, "chatgpt-account-id", id);
        }
        let base = base_url_or(account, &settings.openai.codex_base_url);
        Ok(UpstreamCall {
            url: join_url(base, "/responses", &inbound.query),
            headers,
            body: inbound.body.clone(),
        })
    }

    fn adapter(&self, _account: &Account, inbound: &Inbound) -> Option<Box<dyn BodyAdapter>> {
        openai::usage_chunk_filter(inbound)
    }
}
