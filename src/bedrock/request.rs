//! The upstream request: an Anthropic Messages body turned into a Bedrock `InvokeModel` /
//! `InvokeModelWithResponseStream` / `CountTokens` body, and the URL it goes to.
//!
//! Bedrock takes the Messages body almost as is: the model moves into the URL path, `stream`
//! is replaced by the choice of operation, `anthropic_version` names Bedrock's API version and
//! the `anthropic-beta` header becomes the `anthropic_beta` body field.

use base64::Engine as _;
use serde_json::{Map, Value};

use super::credentials::Region;
use super::models::{ModelError, ModelMap};

/// The API version Bedrock requires in every Claude body.
pub const ANTHROPIC_VERSION: &str = "bedrock-2023-05-31";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RequestError {
    #[error("request body is not a JSON object: {0}")]
    NotAnObject(String),
    #[error("request body has no model")]
    MissingModel,
    #[error("`stream` must be true or false")]
    InvalidStream,
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("Bedrock base URL {0:?} is not an http(s) URL with a host")]
    InvalidBaseUrl(String),
}

/// A Messages request as Bedrock takes it.
#[derive(Debug)]
pub struct Invoke {
    /// The model the client asked for, as it named it.
    pub model: String,
    /// The Bedrock model id (goes into the URL path).
    pub model_id: String,
    /// Whether to call `invoke-with-response-stream`.
    pub stream: bool,
    /// The `InvokeModel` body.
    pub body: Vec<u8>,
}

/// Turns the client's Messages body into Bedrock's. `anthropic_beta` is the client's
/// `anthropic-beta` header (comma-separated), if any.
pub fn invoke(
    messages_body: &[u8],
    anthropic_beta: Option<&str>,
    models: &ModelMap,
    region: &Region,
) -> Result<Invoke, RequestError> {
    let mut body = object(messages_body)?;
    let model = match body.remove("model") {
        Some(Value::String(m)) if !m.trim().is_empty() => m,
        _ => return Err(RequestError::MissingModel),
    };
    let stream = match body.remove("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => b,
        Some(_) => return Err(RequestError::InvalidStream),
    };
    let model_id = models.bedrock_id(&model, region)?;
    body.insert("anthropic_version".into(), ANTHROPIC_VERSION.into());
    let betas: Vec<Value> = anthropic_beta
        .into_iter()
        .flat_map(|h| h.split(','))
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .map(Value::from)
        .collect();
    if !betas.is_empty() && !body.contains_key("anthropic_beta") {
        body.insert("anthropic_beta".into(), Value::Array(betas));
    }
    Ok(Invoke {
        model,
        model_id,
        stream,
        body: to_vec(&body),
    })
}

/// The `CountTokens` body for a Messages count_tokens request: the `InvokeModel` body it would
/// send, base64-encoded inside `{"input":{"invokeModel":{"body": …}}}`. Returns the model id too.
pub fn count_tokens(
    count_body: &[u8],
    anthropic_beta: Option<&str>,
    models: &ModelMap,
    region: &Region,
) -> Result<(String, Vec<u8>), RequestError> {
    let mut invoke = invoke(count_body, anthropic_beta, models, region)?;
    // Anthropic's count_tokens takes no max_tokens; InvokeModel bodies must carry one.
    let mut body = object(&invoke.body)?;
    body.entry("max_tokens").or_insert(Value::from(1));
    invoke.body = to_vec(&body);
    let encoded = base64::engine::general_purpose::STANDARD.encode(&invoke.body);
    let wrapped = serde_json::json!({ "input": { "invokeModel": { "body": encoded } } });
    Ok((invoke.model_id, wrapped.to_string().into_bytes()))
}

/// Bedrock's `{"inputTokens": N}` as Anthropic's `{"input_tokens": N}`; `None` when the answer
/// has no count.
pub fn anthropic_count_answer(bedrock_answer: &[u8]) -> Option<Vec<u8>> {
    let v: Value = serde_json::from_slice(bedrock_answer).ok()?;
    let n = v.get("inputTokens")?.as_u64()?;
    Some(format!(r#"{{"input_tokens":{n}}}"#).into_bytes())
}

/// Where an account's requests go: `https://bedrock-runtime.{region}.amazonaws.com`, or a
/// base URL the operator set (a VPC endpoint, a proxy, the test mock).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    base: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Invoke,
    InvokeStream,
    CountTokens,
}

impl Operation {
    fn path(self) -> &'static str {
        match self {
            Operation::Invoke => "invoke",
            Operation::InvokeStream => "invoke-with-response-stream",
            Operation::CountTokens => "count-tokens",
        }
    }
}

impl Endpoint {
    pub fn for_region(region: &Region) -> Endpoint {
        Endpoint {
            base: format!("https://bedrock-runtime.{region}.amazonaws.com"),
        }
    }

    /// An override; it must be an absolute http(s) URL with a host (signing needs the host).
    pub fn with_base(base: &str) -> Result<Endpoint, RequestError> {
        let trimmed = base.trim().trim_end_matches('/');
        let host_ok = http::Uri::try_from(trimmed)
            .ok()
            .filter(|u| matches!(u.scheme_str(), Some("http" | "https")))
            .and_then(|u| u.host().map(|h| !h.is_empty()))
            .unwrap_or(false);
        if host_ok {
            Ok(Endpoint {
                base: trimmed.to_owned(),
            })
        } else {
            Err(RequestError::InvalidBaseUrl(base.to_owned()))
        }
    }

    /// `{base}/model/{model id}/{operation}`, the model id percent-encoded (`:` and the `/` of an
    /// ARN included) so it stays one path segment.
    pub fn url(&self, model_id: &str, operation: Operation) -> String {
        let mut url = String::with_capacity(self.base.len() + model_id.len() + 40);
        url.push_str(&self.base);
        url.push_str("/model/");
        encode_segment(model_id, &mut url);
        url.push('/');
        url.push_str(operation.path());
        url
    }
}

/// RFC 3986 percent-encoding of everything but the unreserved characters.
fn encode_segment(segment: &str, out: &mut String) {
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

fn object(body: &[u8]) -> Result<Map<String, Value>, RequestError> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(RequestError::NotAnObject("not an object".into())),
        Err(e) => Err(RequestError::NotAnObject(e.to_string())),
    }
}

fn to_vec(body: &Map<String, Value>) -> Vec<u8> {
    // A map of JSON values always serialises.
    serde_json::to_vec(body).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us() -> Region {
        Region::parse("us-west-2").unwrap()
    }

    #[test]
    fn messages_body_becomes_an_invoke_body() {
        let client = br#"{"model":"claude-sonnet-4-5-20250929","stream":true,"max_tokens":64,
            "messages":[{"role":"user","content":"hi"}],"system":"be brief"}"#;
        let inv = invoke(
            client,
            Some("interleaved-thinking-2025-05-14, context-1m-2025-08-07"),
            &ModelMap::default(),
            &us(),
        )
        .unwrap();
        assert!(inv.stream);
        assert_eq!(inv.model, "claude-sonnet-4-5-20250929");
        assert_eq!(inv.model_id, "us.anthropic.claude-sonnet-4-5-20250929-v1:0");
        let body: Value = serde_json::from_slice(&inv.body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "anthropic_version": "bedrock-2023-05-31",
                "anthropic_beta": ["interleaved-thinking-2025-05-14", "context-1m-2025-08-07"],
                "max_tokens": 64,
                "messages": [{"role": "user", "content": "hi"}],
                "system": "be brief",
            })
        );
    }

    #[test]
    fn bad_bodies_are_refused() {
        let map = ModelMap::default();
        assert_eq!(
            invoke(b"[1]", None, &map, &us()).unwrap_err(),
            RequestError::NotAnObject("not an object".into())
        );
        assert_eq!(
            invoke(br#"{"max_tokens":1}"#, None, &map, &us()).unwrap_err(),
            RequestError::MissingModel
        );
        assert_eq!(
            invoke(
                br#"{"model":"claude-haiku-4-5","stream":"yes"}"#,
                None,
                &map,
                &us()
            )
            .unwrap_err(),
            RequestError::InvalidStream
        );
        assert!(matches!(
            invoke(br#"{"model":"gpt-5"}"#, None, &map, &us()).unwrap_err(),
            RequestError::Model(ModelError::Unknown(_))
        ));
    }

    #[test]
    fn urls_encode_the_model_id_as_one_segment() {
        let ep = Endpoint::for_region(&us());
        assert_eq!(
            ep.url(
                "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                Operation::InvokeStream
            ),
            "https://bedrock-runtime.us-west-2.amazonaws.com/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream"
        );
        let mock = Endpoint::with_base("http://127.0.0.1:9/").unwrap();
        assert_eq!(
            mock.url(
                "arn:aws:bedrock:us-east-1:1:application-inference-profile/x",
                Operation::Invoke
            ),
            "http://127.0.0.1:9/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Aapplication-inference-profile%2Fx/invoke"
        );
        assert_eq!(
            mock.url("m", Operation::CountTokens),
            "http://127.0.0.1:9/model/m/count-tokens"
        );
        assert!(Endpoint::with_base("/no-host").is_err());
        assert!(Endpoint::with_base("ftp://h").is_err());
    }

    #[test]
    fn count_tokens_wraps_the_invoke_body_and_converts_the_answer() {
        let (model_id, body) = count_tokens(
            br#"{"model":"claude-3-5-haiku-20241022","messages":[{"role":"user","content":"hi"}]}"#,
            None,
            &ModelMap::default(),
            &us(),
        )
        .unwrap();
        assert_eq!(model_id, "anthropic.claude-3-5-haiku-20241022-v1:0");
        let wrapped: Value = serde_json::from_slice(&body).unwrap();
        let encoded = wrapped["input"]["invokeModel"]["body"].as_str().unwrap();
        let inner: Value =
            serde_json::from_slice(&base64::engine::general_purpose::STANDARD.decode(encoded).unwrap())
                .unwrap();
        assert_eq!(inner["anthropic_version"], ANTHROPIC_VERSION);
        assert_eq!(inner["max_tokens"], 1);
        assert!(inner.get("model").is_none());
        assert_eq!(
            anthropic_count_answer(br#"{"inputTokens":42}"#).unwrap(),
            br#"{"input_tokens":42}"#
        );
        assert_eq!(anthropic_count_answer(br#"{"message":"no"}"#), None);
    }
}
