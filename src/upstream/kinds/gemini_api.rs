//! `gemini-api`: a Gemini API key (`x-goog-api-key`), the public Gemini API. Reuses the Gemini
//! wire format it shares with `gemini_code_assist`.
use crate::relay::headers::set_header;
use crate::settings::UpstreamSettings;
use crate::upstream::kind::{base_url_or, url_for};
use crate::upstream::wire::gemini::{self, Call, call_of};
use crate::upstream::{
    BaseUrl, BuildError, ClientCall, CredentialForm, Inbound, Profile, UpstreamCall, UpstreamKind,
};
use switchyard_actors::{Account, AccountKind};

pub struct GeminiApi;

/// A Google API key.
pub struct GoogleApiKey(String);

static PROFILE: Profile = Profile {
    id: AccountKind::GeminiApi,
    credential: CredentialForm::ApiKey,
    wire: &gemini::FORMAT,
    base_url: BaseUrl::Optional,
    required_extra: &[],
    serves: &[ClientCall::GeminiGenerate],
    summary: "Gemini API key",
};

impl UpstreamKind for GeminiApi {
    type Credential = GoogleApiKey;

    fn profile(&self) -> &'static Profile {
        &PROFILE
    }

    fn credential(&self, _account: &Account, secret: &str) -> Result<GoogleApiKey, BuildError> {
        Ok(GoogleApiKey(secret.to_owned()))
    }

    fn request(
        &self,
        settings: &UpstreamSettings,
        account: &Account,
        key: &GoogleApiKey,
        inbound: &Inbound,
    ) -> Result<UpstreamCall, BuildError> {
        if let Call::Internal = call_of(&inbound.upstream_path) {
            return Err(BuildError::Misconfigured(format!(
                "a {} account cannot serve Code Assist calls",
                PROFILE.id
            )));
        }
        let mut headers = gemini::request_headers(inbound);
        set_header(&mut headers, "x-goog-api-key", &key.0);
        Ok(UpstreamCall {
            url: url_for(base_url_or(account, &settings.gemini.api_base_url), inbound),
            headers,
            body: inbound.body.clone(),
        })
    }
}
