//! `openai-responses`: any OpenAI Responses-compatible API key plus base URL (bearer). Serves
//! Responses and chat completions calls in the OpenAI wire format, shared with `codex_oauth`.
use crate::settings::UpstreamSettings;
use crate::upstream::kind::{required_base_url, url_for};
use crate::upstream::wire::openai;
use crate::upstream::{
    BaseUrl, BodyAdapter, BuildError, ClientCall, CredentialForm, Inbound, Profile, UpstreamCall,
    UpstreamKind,
};
use switchyard_actors::{Account, AccountKind};

pub struct OpenAiResponses;

/// An OpenAI-style API key, sent as a bearer token.
pub struct BearerKey(String);

static PROFILE: Profile = Profile {
    id: AccountKind::OpenAiResponses,
    credential: CredentialForm::ApiKey,
    wire: &openai::FORMAT,
    base_url: BaseUrl::Required,
    required_extra: &[],
    serves: &[ClientCall::OpenAiResponses, ClientCall::OpenAiChat],
    summary: "OpenAI Responses-compatible API key plus base URL",
};

impl UpstreamKind for OpenAiResponses {
    type Credential = BearerKey;

    fn profile(&self) -> &'static Profile {
        &PROFILE
    }

    fn credential(&self, _account: &Account, secret: &str) -> Result<BearerKey, BuildError> {
        Ok(BearerKey(secret.to_owned()))
    }

    fn request(
        &self,
        _settings: &UpstreamSettings,
        account: &Account,
        key: &BearerKey,
        inbound: &Inbound,
    ) -> Result<UpstreamCall, BuildError> {
        Ok(UpstreamCall {
            url: url_for(required_base_url(account)?, inbound),
            headers: openai::request_headers(inbound, &key.0),
            body: inbound.body.clone(),
        })
    }

    fn adapter(&self, _account: &Account, inbound: &Inbound) -> Option<Box<dyn BodyAdapter>> {
        openai::usage_chunk_filter(inbound)
    }
}
