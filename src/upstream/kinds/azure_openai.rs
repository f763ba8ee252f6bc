//! `azure-openai`: an Azure OpenAI resource. Its endpoint is the account's base URL, a model's
//! deployment comes from the account's model mapping (model → deployment; unmapped: the model
//! name), the credential is an `api-key` or a Microsoft Entra token (bearer). Speaks the OpenAI
//! wire format (usage taps, usage-chunk filter) of `openai_responses`; only addressing,
//! authentication and Azure's rate-limit headers differ.
//!
//! - chat completions: `{endpoint}/openai/deployments/{deployment}/chat/completions?api-version=…`,
//!   `extra.api_version` or [`DEFAULT_API_VERSION`];
//! - Responses: the v1 API `{endpoint}/openai/v1/responses` (no `api-version`), with the
//!   deployment in the body's `model`.
use crate::relay::headers::set_header;
use crate::settings::UpstreamSettings;
use crate::upstream::kind::required_base_url;
use crate::upstream::wire::openai::{self, CHAT_PATH, RESPONSES_PATH};
use crate::upstream::wire::{join_url, json_object};
use crate::upstream::{
    BaseUrl, BodyAdapter, BuildError, ClientCall, CredentialForm, Hints, Inbound, Profile, UpstreamCall,
    UpstreamKind,
};
use reqwest::header::HeaderMap;
use switchyard_actors::clock::Millis;
use switchyard_actors::{Account, AccountKind};

pub struct AzureOpenAi;

/// The latest GA data-plane version for chat completions on deployments.
pub const DEFAULT_API_VERSION: &str = "2024-10-21";

/// How the account authenticates: `extra.auth` = `api-key` | `entra`; unset, a JWT-shaped
/// secret (`eyJ…`) is an Entra token and anything else an API key.
pub enum AzureCredential {
    ApiKey(String),
    Bearer(String),
}

static PROFILE: Profile = Profile {
    id: AccountKind::AzureOpenAi,
    credential: CredentialForm::ApiKey,
    wire: &openai::FORMAT,
    base_url: BaseUrl::Required,
    required_extra: &[],
    serves: &[ClientCall::OpenAiChat, ClientCall::OpenAiResponses],
    summary: "Azure OpenAI endpoint plus api-key or Entra token; --model-map model=deployment \
              or --extra deployment=…, --extra api_version=… (default 2024-10-21), --extra auth=entra",
};

impl UpstreamKind for AzureOpenAi {
    type Credential = AzureCredential;

    fn profile(&self) -> &'static Profile {
        &PROFILE
    }

    fn credential(&self, account: &Account, secret: &str) -> Result<AzureCredential, BuildError> {
        let secret = secret.to_owned();
        match account.extra.get("auth").map(String::as_str) {
            Some("api-key") => Ok(AzureCredential::ApiKey(secret)),
            Some("entra") => Ok(AzureCredential::Bearer(secret)),
            None if secret.starts_with("eyJ") => Ok(AzureCredential::Bearer(secret)),
            None => Ok(AzureCredential::ApiKey(secret)),
            Some(other) => Err(BuildError::Misconfigured(format!(
                "account {}: extra.auth `{other}` is neither `api-key` nor `entra`",
                account.id
            ))),
        }
    }

    fn request(
        &self,
        _settings: &UpstreamSettings,
        account: &Account,
        credential: &AzureCredential,
        inbound: &Inbound,
    ) -> Result<UpstreamCall, BuildError> {
        let endpoint = required_base_url(account)?;
        let deployment = account
            .models
            .upstream_name(&inbound.model)
            .or(account.extra.get("deployment").map(String::as_str))
            .unwrap_or(&inbound.model);
        let (url, body) = match inbound.upstream_path.as_str() {
            CHAT_PATH => {
                let version = account
                    .extra
                    .get("api_version")
                    .map_or(DEFAULT_API_VERSION, String::as_str);
                let path = format!(
                    "/openai/deployments/{}/chat/completions",
                    path_segment(deployment)
                );
                let query = format!("api-version={}", path_segment(version));
                (join_url(endpoint, &path, &query), inbound.body.clone())
            }
            RESPONSES_PATH => {
                let body = json_object::with_member(
                    &inbound.body,
                    "model",
                    &json_object::string_literal(deployment),
                )
                .map_err(|e| BuildError::ClientInput(format!("invalid JSON body: {e}")))?;
                (join_url(endpoint, "/openai/v1/responses", ""), body.into())
            }
            other => {
                return Err(BuildError::ClientInput(format!(
                    "Azure OpenAI accounts do not serve {other}"
                )));
            }
        };
        let mut headers = match credential {
            AzureCredential::Bearer(token) => openai::request_headers(inbound, token),
            AzureCredential::ApiKey(key) => {
                let mut headers = openai::request_headers(inbound, "");
                headers.remove("authorization");
                set_header(&mut headers, "api-key", key);
                headers
            }
        };
        headers.remove("openai-organization");
        Ok(UpstreamCall { url, headers, body })
    }

    /// Azure's 429s say `retry-after-ms` (finer than `retry-after`), and its token budget
    /// resets in `x-ratelimit-reset-tokens` when the request budget is not the one spent.
    fn hints(&self, headers: &HeaderMap, now: Millis) -> Hints {
        let seconds_header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
        };
        let mut hints = openai::hints(headers, now);
        if let Some(ms) = seconds_header("retry-after-ms").filter(|ms| *ms > 0.0) {
            hints.retry_after_ms = Some(ms.round() as i64);
        }
        if hints.retry_after_ms.is_none() {
            hints.retry_after_ms = seconds_header("x-ratelimit-reset-tokens")
                .map(|s| (s * 1_000.0).round() as i64)
                .filter(|ms| *ms > 0);
        }
        hints
    }

    fn adapter(&self, _account: &Account, inbound: &Inbound) -> Option<Box<dyn BodyAdapter>> {
        openai::usage_chunk_filter(inbound)
    }
}

/// A deployment name or version in a URL: the characters Azure allows pass, others are escaped.
fn path_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use switchyard_actors::ModelSupport;

    fn inbound(path: &str, model: &str) -> Inbound {
        Inbound {
            upstream_path: path.into(),
            query: String::new(),
            headers: vec![("authorization".into(), "Bearer client-key".into())],
            body: Bytes::from(format!(r#"{{"model":"{model}","input":"hi"}}"#)),
            model: model.into(),
            stream: false,
            session: None,
            hide_usage_chunk: false,
            user_turn: false,
        }
    }

    fn account(extra: &[(&str, &str)]) -> Account {
        let mut a = Account::new("az-1", AccountKind::AzureOpenAi, 0);
        a.base_url = Some("https://res.openai.azure.com/".into());
        a.models = ModelSupport::Map(
            [("gpt-4o".to_owned(), "prod 4o".to_owned())]
                .into_iter()
                .collect(),
        );
        a.extra = extra
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        a
    }

    fn call(a: &Account, secret: &str, inbound: &Inbound) -> UpstreamCall {
        let credential = AzureOpenAi.credential(a, secret).unwrap();
        AzureOpenAi
            .request(&UpstreamSettings::default(), a, &credential, inbound)
            .unwrap()
    }

    #[test]
    fn chat_goes_to_the_mapped_deployment_with_the_api_version_and_api_key() {
        let a = account(&[]);
        let c = call(&a, "0123abcd", &inbound(CHAT_PATH, "gpt-4o"));
        assert_eq!(
            c.url,
            "https://res.openai.azure.com/openai/deployments/prod%204o/chat/completions?api-version=2024-10-21"
        );
        assert_eq!(c.headers["api-key"], "0123abcd");
        assert!(
            !c.headers.contains_key("authorization"),
            "the client's key stays here"
        );
        let a = account(&[("api_version", "2025-04-01-preview")]);
        let c = call(&a, "k", &inbound(CHAT_PATH, "gpt-4.1"));
        assert_eq!(
            c.url,
            "https://res.openai.azure.com/openai/deployments/gpt-4.1/chat/completions?api-version=2025-04-01-preview"
        );
    }

    #[test]
    fn responses_use_the_v1_api_with_the_deployment_as_model() {
        let c = call(&account(&[]), "k", &inbound(RESPONSES_PATH, "gpt-4o"));
        assert_eq!(c.url, "https://res.openai.azure.com/openai/v1/responses");
        assert_eq!(&c.body[..], br#"{"input":"hi","model":"prod 4o"}"#);
    }

    #[test]
    fn one_deployment_serves_the_unmapped_models() {
        let a = account(&[("deployment", "shared-dep")]);
        let c = call(&a, "k", &inbound(CHAT_PATH, "gpt-4o-mini"));
        assert!(
            c.url.contains("/openai/deployments/shared-dep/chat/completions?"),
            "{}",
            c.url
        );
        let c = call(&a, "k", &inbound(CHAT_PATH, "gpt-4o"));
        assert!(
            c.url.contains("/openai/deployments/prod%204o/"),
            "the mapping wins: {}",
            c.url
        );
    }

    #[test]
    fn entra_tokens_go_as_bearer() {
        let a = account(&[]);
        let c = call(&a, "eyJhbGciOi.x.y", &inbound(CHAT_PATH, "gpt-4o"));
        assert_eq!(c.headers["authorization"], "Bearer eyJhbGciOi.x.y");
        assert!(!c.headers.contains_key("api-key"));
        let a = account(&[("auth", "entra")]);
        let c = call(&a, "opaque", &inbound(CHAT_PATH, "gpt-4o"));
        assert_eq!(c.headers["authorization"], "Bearer opaque");
        let a = account(&[("auth", "cert")]);
        assert!(matches!(
            AzureOpenAi.credential(&a, "k"),
            Err(BuildError::Misconfigured(_))
        ));
    }

    #[test]
    fn rate_limit_hints_read_azure_headers() {
        let mut h = HeaderMap::new();
        h.insert("retry-after-ms", "1500".parse().unwrap());
        h.insert("retry-after", "2".parse().unwrap());
        assert_eq!(AzureOpenAi.hints(&h, 0).retry_after_ms, Some(1_500));
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-reset-tokens", "7".parse().unwrap());
        assert_eq!(AzureOpenAi.hints(&h, 0).retry_after_ms, Some(7_000));
    }
}
