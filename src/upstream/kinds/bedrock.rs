//! `bedrock`: Claude on AWS Bedrock for Anthropic Messages clients. Every Bedrock piece
//! (credentials, model ids, the `InvokeModel` body, SigV4, the event-stream decoder, error
//! classes) lives in `crate::bedrock`; this file puts them in the relay's order.
//!
//! The stored secret is the JSON of [`BedrockCredentials`]: the region is part of it (not
//! `extra`), so one encrypted value holds everything that identifies the AWS account. The base
//! URL is optional: empty means `https://bedrock-runtime.{region}.amazonaws.com`.
use std::time::SystemTime;

use bytes::{Bytes, BytesMut};
use reqwest::header::HeaderMap;
use switchyard_actors::clock::Millis;
use switchyard_actors::{Account, AccountKind, ModelSupport};

use crate::bedrock::request::{self as bedrock_request, RequestError};
use crate::bedrock::signing::{self, Outgoing};
use crate::bedrock::usage::StreamUsage;
use crate::bedrock::{
    BedrockCredentials, BedrockError, EVENT_STREAM_CONTENT_TYPE, Endpoint, EventStreamToSse, ModelMap,
    Operation,
};
use crate::relay::headers::set_header;
use crate::settings::UpstreamSettings;
use crate::upstream::kind::RestatedError;
use crate::upstream::wire::anthropic;
use crate::upstream::{
    BaseUrl, BodyAdapter, BuildError, ClientCall, CredentialForm, ErrorVerdict, Hints, Inbound, Profile,
    UpstreamCall, UpstreamKind, UsageTap,
};

pub struct Bedrock;

static PROFILE: Profile = Profile {
    id: AccountKind::Bedrock,
    credential: CredentialForm::ApiKey,
    wire: &anthropic::FORMAT,
    base_url: BaseUrl::Optional,
    required_extra: &[],
    serves: &[ClientCall::ClaudeMessages, ClientCall::ClaudeCountTokens],
    summary: "AWS Bedrock (Claude): access key + secret (+ session token) or Bedrock API key, and region",
};

impl UpstreamKind for Bedrock {
    type Credential = BedrockCredentials;

    fn profile(&self) -> &'static Profile {
        &PROFILE
    }

    fn credential(&self, _account: &Account, secret: &str) -> Result<BedrockCredentials, BuildError> {
        BedrockCredentials::from_json(secret).map_err(|e| BuildError::Misconfigured(e.to_string()))
    }

    fn request(
        &self,
        _settings: &UpstreamSettings,
        account: &Account,
        credentials: &BedrockCredentials,
        inbound: &Inbound,
    ) -> Result<UpstreamCall, BuildError> {
        let endpoint = match account.base_url.as_deref().filter(|u| !u.trim().is_empty()) {
            Some(base) => Endpoint::with_base(base).map_err(|e| BuildError::Misconfigured(e.to_string()))?,
            None => Endpoint::for_region(&credentials.region),
        };
        let models = model_map(account);
        let beta = header(inbound, "anthropic-beta");
        let (url, body, accept) = if is_count_tokens(inbound) {
            let (model_id, body) =
                bedrock_request::count_tokens(&inbound.body, beta, &models, &credentials.region)
                    .map_err(client_input)?;
            (
                endpoint.url(&model_id, Operation::CountTokens),
                body,
                "application/json",
            )
        } else {
            let invoke = bedrock_request::invoke(&inbound.body, beta, &models, &credentials.region)
                .map_err(client_input)?;
            if invoke.stream {
                let url = endpoint.url(&invoke.model_id, Operation::InvokeStream);
                (url, invoke.body, EVENT_STREAM_CONTENT_TYPE)
            } else {
                (
                    endpoint.url(&invoke.model_id, Operation::Invoke),
                    invoke.body,
                    "application/json",
                )
            }
        };
        // The client's `anthropic-*` headers and its auth stay here (the beta list is in the body).
        let mut headers = HeaderMap::new();
        set_header(&mut headers, "content-type", "application/json");
        set_header(&mut headers, "accept", accept);
        set_header(&mut headers, "accept-encoding", "identity");
        Ok(UpstreamCall {
            url,
            headers,
            body: Bytes::from(body),
        })
    }

    fn sign(&self, credentials: &BedrockCredentials, call: &mut UpstreamCall) -> Result<(), BuildError> {
        let names: Vec<(String, String)> = call
            .headers
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let pairs: Vec<(&str, &str)> = names.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let outgoing = Outgoing {
            method: "POST",
            url: &call.url,
            headers: &pairs,
            body: &call.body,
        };
        let added = signing::authorize(credentials, &outgoing, SystemTime::now())
            .map_err(|e| BuildError::Misconfigured(e.to_string()))?;
        for (name, value) in added {
            set_header(&mut call.headers, name, &value);
        }
        Ok(())
    }

    /// Bedrock names the error class in `x-amzn-ErrorType`; its statuses alone mislead (a
    /// quota answer is a 400, a model not ready a 429).
    fn on_error_status(&self, status: u16, headers: &HeaderMap, _now: Millis) -> ErrorVerdict {
        let failure = BedrockError::from_answer(status, headers, b"").failure;
        if failure.try_another_account() {
            // Bedrock sends no retry hints: the account rests for the default cooldown.
            ErrorVerdict::TryAnotherAccount(Hints::default())
        } else {
            ErrorVerdict::ReturnToClient
        }
    }

    fn restate_error(&self, status: u16, headers: &HeaderMap, body: &[u8]) -> Option<RestatedError> {
        let error = BedrockError::from_answer(status, headers, body);
        let (status, _) = error.failure.anthropic();
        Some(RestatedError {
            status,
            body: Bytes::from(error.anthropic_body()),
        })
    }

    fn is_event_stream(&self, headers: &HeaderMap) -> bool {
        headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with(EVENT_STREAM_CONTENT_TYPE))
    }

    /// Fed Bedrock's own bytes: a stream is decoded to Anthropic SSE first.
    fn usage_tap(&self, event_stream: bool) -> Box<dyn UsageTap> {
        if event_stream {
            Box::new(StreamUsage::new(anthropic::usage_tap(true)))
        } else {
            anthropic::usage_tap(false)
        }
    }

    fn adapter(&self, _account: &Account, inbound: &Inbound) -> Option<Box<dyn BodyAdapter>> {
        if is_count_tokens(inbound) {
            Some(Box::new(CountAnswer::default()))
        } else if inbound.stream {
            Some(Box::new(EventStreamToSse::default()))
        } else {
            None
        }
    }
}

/// The account's model mapping (Anthropic name → Bedrock id) for [`ModelMap`].
fn model_map(account: &Account) -> ModelMap {
    match &account.models {
        ModelSupport::Map(map) => ModelMap::new(map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        _ => ModelMap::default(),
    }
}

fn is_count_tokens(inbound: &Inbound) -> bool {
    inbound.upstream_path.ends_with("/count_tokens")
}

fn header<'a>(inbound: &'a Inbound, name: &str) -> Option<&'a str> {
    inbound
        .headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// The client's body cannot go to Bedrock (every Bedrock account would refuse it too); a model
/// this account has no Bedrock id for is the account's unfitness, not the client's fault: an
/// account of another kind (or another Bedrock account's model map) may serve it.
fn client_input(e: RequestError) -> BuildError {
    match e {
        RequestError::Model(_) => BuildError::Unfit(e.to_string()),
        _ => BuildError::ClientInput(e.to_string()),
    }
}

/// Bedrock's `{"inputTokens": N}` restated as Anthropic's `{"input_tokens": N}`.
#[derive(Default)]
struct CountAnswer {
    body: BytesMut,
}

impl BodyAdapter for CountAnswer {
    fn chunk(&mut self, input: &[u8], _out: &mut BytesMut) {
        self.body.extend_from_slice(input);
    }

    fn finish(&mut self, out: &mut BytesMut) {
        match bedrock_request::anthropic_count_answer(&self.body) {
            Some(answer) => out.extend_from_slice(&answer),
            None => out.extend_from_slice(
                br#"{"type":"error","error":{"type":"api_error","message":"Bedrock CountTokens answered without inputTokens"}}"#,
            ),
        }
    }

    fn content_type(&self) -> Option<&'static str> {
        Some("application/json")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_actors::{Credentials, Secret};

    const STORED: &str =
        r#"{"region":"us-east-1","access_key_id":"AKIAMOCKBEDROCK00001","secret_access_key":"s3cr3t/key"}"#;

    fn account(base_url: Option<&str>) -> Account {
        let mut a = Account::new("bedrock-1", AccountKind::Bedrock, 1);
        a.base_url = base_url.map(str::to_owned);
        a.credentials = Credentials::ApiKey {
            key: Secret::new(STORED),
        };
        a
    }

    fn inbound(path: &str, body: &str, stream: bool) -> Inbound {
        Inbound {
            upstream_path: path.into(),
            query: String::new(),
            headers: vec![
                ("anthropic-beta".into(), "context-1m-2025-08-07".into()),
                ("x-api-key".into(), "client-key".into()),
            ],
            body: Bytes::from(body.to_owned()),
            model: "claude-sonnet-4-5-20250929".into(),
            stream,
            session: None,
            hide_usage_chunk: false,
            user_turn: false,
        }
    }

    fn call(account: &Account, inbound: &Inbound) -> Result<UpstreamCall, BuildError> {
        crate::upstream::Kind::upstream_call(&Bedrock, &UpstreamSettings::default(), account, STORED, inbound)
    }

    #[test]
    fn a_stream_goes_to_invoke_with_response_stream_signed_and_without_client_headers() {
        let body = r#"{"model":"claude-sonnet-4-5-20250929","stream":true,"max_tokens":5,"messages":[]}"#;
        let c = call(&account(None), &inbound("/v1/messages", body, true)).unwrap();
        assert_eq!(
            c.url,
            "https://bedrock-runtime.us-east-1.amazonaws.com/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream"
        );
        assert_eq!(c.headers["accept"], EVENT_STREAM_CONTENT_TYPE);
        let auth = c.headers["authorization"].to_str().unwrap();
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIAMOCKBEDROCK00001/"),
            "{auth}"
        );
        assert!(!auth.contains("s3cr3t"));
        assert!(c.headers.contains_key("x-amz-date"));
        assert!(!c.headers.contains_key("x-api-key") && !c.headers.contains_key("anthropic-beta"));
        let sent: serde_json::Value = serde_json::from_slice(&c.body).unwrap();
        assert_eq!(sent["anthropic_version"], "bedrock-2023-05-31");
        assert_eq!(sent["anthropic_beta"][0], "context-1m-2025-08-07");
        assert!(sent.get("model").is_none() && sent.get("stream").is_none());
    }

    #[test]
    fn the_accounts_map_and_base_url_decide_the_url_and_count_tokens_has_its_operation() {
        let mut a = account(Some("http://127.0.0.1:9/"));
        a.models =
            ModelSupport::Map([("claude-sonnet-4-5-20250929".to_owned(), "my-profile".to_owned())].into());
        let c = call(
            &a,
            &inbound("/v1/messages", r#"{"model":"claude-sonnet-4-5-20250929"}"#, false),
        )
        .unwrap();
        assert_eq!(c.url, "http://127.0.0.1:9/model/my-profile/invoke");
        let c = call(
            &a,
            &inbound(
                "/v1/messages/count_tokens",
                r#"{"model":"claude-sonnet-4-5-20250929"}"#,
                false,
            ),
        )
        .unwrap();
        assert_eq!(c.url, "http://127.0.0.1:9/model/my-profile/count-tokens");
    }

    #[test]
    fn bad_input_and_bad_credentials_are_told_apart() {
        let unknown = call(
            &account(None),
            &inbound("/v1/messages", r#"{"model":"gpt-4o"}"#, false),
        );
        assert!(matches!(unknown, Err(BuildError::Unfit(_))), "{unknown:?}");
        let bad = crate::upstream::Kind::upstream_call(
            &Bedrock,
            &UpstreamSettings::default(),
            &account(None),
            r#"{"region":"us-east-1","api_key":"with space"}"#,
            &inbound("/v1/messages", "{}", false),
        );
        let Err(BuildError::Misconfigured(why)) = bad else {
            panic!("{bad:?}")
        };
        assert!(!why.contains("with space"), "{why}");
    }

    #[test]
    fn error_classes_decide_the_verdict_and_the_clients_anthropic_answer() {
        let typed = |t: &str| {
            let mut h = HeaderMap::new();
            h.insert("x-amzn-errortype", t.parse().unwrap());
            h
        };
        let rests = |status, t: &str| {
            matches!(
                Bedrock.on_error_status(status, &typed(t), 0),
                ErrorVerdict::TryAnotherAccount(_)
            )
        };
        assert!(rests(
            429,
            "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/"
        ));
        assert!(rests(400, "ServiceQuotaExceededException"));
        assert!(rests(429, "ModelNotReadyException"));
        assert!(rests(503, "ServiceUnavailableException"));
        assert!(rests(403, "AccessDeniedException"));
        assert!(rests(403, "UnrecognizedClientException"));
        assert!(!rests(400, "ValidationException"));
        let restated = Bedrock
            .restate_error(400, &typed("ValidationException"), br#"{"message":"bad field"}"#)
            .unwrap();
        assert_eq!(restated.status, 400);
        let v: serde_json::Value = serde_json::from_slice(&restated.body).unwrap();
        assert_eq!(v["type"], "error");
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert!(v["error"]["message"].as_str().unwrap().contains("bad field"));
        let quota = Bedrock
            .restate_error(400, &typed("ServiceQuotaExceededException"), b"{}")
            .unwrap();
        assert_eq!(quota.status, 429);
        let not_ready = Bedrock
            .restate_error(429, &typed("ModelNotReadyException"), b"{}")
            .unwrap();
        assert_eq!(not_ready.status, 529);
    }

    #[test]
    fn the_count_answer_is_restated_in_anthropics_shape() {
        let mut a = CountAnswer::default();
        let mut out = BytesMut::new();
        a.chunk(br#"{"inputTo"#, &mut out);
        a.chunk(br#"kens":42}"#, &mut out);
        a.finish(&mut out);
        assert_eq!(&out[..], br#"{"input_tokens":42}"#);
    }
}
