//! `gemini`: a Google OAuth account behind the Code Assist internal API (`/v1internal:{method}`),
//! requests wrapped with the account's project. Serves Gemini CLI's own Code Assist calls and
//! public Gemini API calls, whose answers the Gemini wire format's adapter unwraps.
use crate::relay::headers::set_header;
use crate::settings::UpstreamSettings;
use crate::upstream::kind::base_url_or;
use crate::upstream::wire::gemini::{self, Call, INTERNAL_PREFIX, call_of, code_assist_envelope};
use crate::upstream::wire::{join_url, json_object};
use crate::upstream::{
    BaseUrl, BodyAdapter, BuildError, ClientCall, CredentialForm, Inbound, Profile, UpstreamCall,
    UpstreamKind,
};
use bytes::Bytes;
use switchyard_actors::{Account, AccountKind};

pub struct GeminiCodeAssist;

/// The OAuth access token and the Google Cloud project every call names.
pub struct CodeAssistCredential {
    token: String,
    project: String,
}

static PROFILE: Profile = Profile {
    id: AccountKind::GeminiOAuth,
    credential: CredentialForm::OAuth,
    wire: &gemini::FORMAT,
    base_url: BaseUrl::Optional,
    required_extra: &[],
    serves: &[ClientCall::GeminiGenerate, ClientCall::GeminiCodeAssist],
    summary: "Google OAuth account (Gemini CLI login), Code Assist API",
};

impl UpstreamKind for GeminiCodeAssist {
    type Credential = CodeAssistCredential;

    fn profile(&self) -> &'static Profile {
        &PROFILE
    }

    fn credential(&self, account: &Account, secret: &str) -> Result<CodeAssistCredential, BuildError> {
        let project = account
            .extra
            .get("project_id")
            .filter(|p| !p.is_empty())
            .ok_or_else(|| {
                BuildError::Misconfigured(format!("gemini account {} has no project_id", account.id))
            })?;
        Ok(CodeAssistCredential {
            token: secret.to_owned(),
            project: project.clone(),
        })
    }

    fn request(
        &self,
        settings: &UpstreamSettings,
        account: &Account,
        credential: &CodeAssistCredential,
        inbound: &Inbound,
    ) -> Result<UpstreamCall, BuildError> {
        let base = base_url_or(account, &settings.gemini.code_assist_base_url);
        let mut headers = gemini::request_headers(inbound);
        set_header(
            &mut headers,
            "authorization",
            &format!("Bearer {}", credential.token),
        );
        let project = credential.project.as_str();
        let (method, body, query) = match call_of(&inbound.upstream_path) {
            Call::Standard { action } => {
                let model = inbound.model.strip_prefix("models/").unwrap_or(&inbound.model);
                let wrapped = code_assist_envelope(model, project, &inbound.body)?;
                // Code Assist streams SSE only; a JSON-array client is served by the adapter.
                let query = if action == "streamGenerateContent" {
                    "alt=sse".to_owned()
                } else {
                    String::new()
                };
                (action.to_owned(), wrapped, query)
            }
            Call::Internal => {
                let body =
                    json_object::with_member(&inbound.body, "project", &json_object::string_literal(project))
                        .map_err(gemini::invalid_body)?;
                let method = inbound.upstream_path[INTERNAL_PREFIX.len()..].to_owned();
                (method, Bytes::from(body), inbound.query.clone())
            }
        };
        let url = join_url(base, &format!("{INTERNAL_PREFIX}{method}"), &query);
        Ok(UpstreamCall { url, headers, body })
    }

    fn adapter(&self, _account: &Account, inbound: &Inbound) -> Option<Box<dyn BodyAdapter>> {
        gemini::code_assist_unwrap(inbound)
    }
}
