//! What one upstream kind says about itself: which client calls it serves, how to address and
//! authenticate its upstream (with a credential type of its own), how to read its answers and
//! how to classify its failures. Kinds implement [`UpstreamKind`]; the relay holds them as
//! [`Kind`] (the same, without the credential type) through `upstream::registry`.
use super::wire::{self, WireFormat, sse};
use super::{BodyAdapter, Hints, Inbound, UpstreamCall, UsageTap};
use crate::settings::UpstreamSettings;
use reqwest::header::HeaderMap;
use switchyard_actors::clock::Millis;
use switchyard_actors::{Account, AccountKind, Platform};

/// A family of client calls (a route family): what a kind can serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientCall {
    /// `POST /v1/messages` (Anthropic Messages).
    ClaudeMessages,
    /// `POST /v1/messages/count_tokens`.
    ClaudeCountTokens,
    /// `POST /{v1,v1beta}/models/{model}:{action}` (the public Gemini API).
    GeminiGenerate,
    /// `POST /v1internal:{method}` (Gemini CLI's Code Assist calls).
    GeminiCodeAssist,
    /// `POST /v1/responses` (OpenAI Responses, Codex CLI).
    OpenAiResponses,
    /// `POST /v1/chat/completions`.
    OpenAiChat,
}

impl ClientCall {
    pub fn platform(self) -> Platform {
        match self {
            ClientCall::ClaudeMessages | ClientCall::ClaudeCountTokens => Platform::Claude,
            ClientCall::GeminiGenerate | ClientCall::GeminiCodeAssist => Platform::Gemini,
            ClientCall::OpenAiResponses | ClientCall::OpenAiChat => Platform::OpenAi,
        }
    }
}

/// What an operator stores for an account of the kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialForm {
    /// An API key (`accounts add --kind …`).
    ApiKey,
    /// OAuth tokens (`account login` / `account import`), refreshed by the relay.
    OAuth,
}

/// Whether an account of the kind needs its own base URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseUrl {
    /// The kind has no default upstream: every account names one.
    Required,
    /// The account may override the default from `upstream.*` settings.
    Optional,
}

/// The facts about a kind that admin validation, the CLI and the routes ask for.
#[derive(Debug, Clone, Copy)]
pub struct Profile {
    pub id: AccountKind,
    pub credential: CredentialForm,
    pub base_url: BaseUrl,
    /// The wire format it speaks (shared with the other kinds of that format).
    pub wire: &'static WireFormat,
    /// `extra` fields every account of the kind must set (admin validation refuses it without).
    pub required_extra: &'static [&'static str],
    /// The client calls its accounts can serve.
    pub serves: &'static [ClientCall],
    /// One line for `--help` and docs.
    pub summary: &'static str,
}

/// Why the request for one account could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// The account cannot be used as configured (no project id, no base URL, a credential of
    /// the wrong shape): rest it and say why.
    #[error("{0}")]
    Misconfigured(String),
    /// The client's request cannot be sent to this kind (a body that is not a JSON object).
    #[error("{0}")]
    ClientInput(String),
    /// This account cannot serve this request (a model its upstream does not offer), while an
    /// account of another kind may: try another without resting this one. With no other
    /// account, the client gets a 400 saying why.
    #[error("{0}")]
    Unfit(String),
}

/// An upstream error answer as the client's API would have said it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestatedError {
    pub status: u16,
    /// JSON in the client's error format.
    pub body: bytes::Bytes,
}

/// What to do with an upstream error status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorVerdict {
    /// "This account, not this request": rest the account (with the hints) and try another.
    TryAnotherAccount(Hints),
    /// The request's own fault: the answer goes to the client as is.
    ReturnToClient,
}

/// Statuses that say "this account, not this request" on every kind so far.
pub fn account_failure(status: u16) -> bool {
    matches!(status, 401 | 403 | 429 | 529) || (500..600).contains(&status)
}

/// One upstream kind. `Credential` is what its requests are authenticated with, built from the
/// account's stored secret (its API key or the relay's current OAuth access token) and its
/// settings: a bearer token, an API key in a header, an access key id + secret + region…
pub trait UpstreamKind: Send + Sync + 'static {
    type Credential;

    fn profile(&self) -> &'static Profile;

    /// The account's credential, or why the account is misconfigured.
    fn credential(&self, account: &Account, secret: &str) -> Result<Self::Credential, BuildError>;

    /// The request for `account` (URL, headers, body; model renamed per the account's mapping).
    fn request(
        &self,
        settings: &UpstreamSettings,
        account: &Account,
        credential: &Self::Credential,
        inbound: &Inbound,
    ) -> Result<UpstreamCall, BuildError>;

    /// Last step before sending: sees the final URL, headers and body (request signing).
    fn sign(&self, _credential: &Self::Credential, _call: &mut UpstreamCall) -> Result<(), BuildError> {
        Ok(())
    }

    /// Rate-limit hints from an answer's headers.
    fn hints(&self, headers: &HeaderMap, now: Millis) -> Hints {
        (self.profile().wire.hints)(headers, now)
    }

    /// What an error status from this upstream means.
    fn on_error_status(&self, status: u16, headers: &HeaderMap, now: Millis) -> ErrorVerdict {
        if account_failure(status) {
            ErrorVerdict::TryAnotherAccount(self.hints(headers, now))
        } else {
            ErrorVerdict::ReturnToClient
        }
    }

    /// An error answer restated in the client's error format, for an upstream whose errors are
    /// not (Bedrock's `{"message"}` + `x-amzn-ErrorType` → Anthropic's error JSON). `None`: the
    /// answer goes as it came. The client gets the restated status and body; the pool records
    /// the restated status (so Bedrock's 400 quota answer rests the account like a 429).
    fn restate_error(&self, _status: u16, _headers: &HeaderMap, _body: &[u8]) -> Option<RestatedError> {
        None
    }

    /// Whether a successful answer is an event stream (else JSON, possibly a streamed array).
    fn is_event_stream(&self, headers: &HeaderMap) -> bool {
        sse::is_event_stream(headers)
    }

    /// Reads usage from a successful answer; `event_stream` as [`Self::is_event_stream`] said.
    fn usage_tap(&self, event_stream: bool) -> Box<dyn UsageTap> {
        (self.profile().wire.usage_tap)(event_stream)
    }

    /// Turns the answer into the client's format; `None`: pass it as is.
    fn adapter(&self, _account: &Account, _inbound: &Inbound) -> Option<Box<dyn BodyAdapter>> {
        None
    }

    /// Whether the upstream bills an answer whose connection is closed early for what it
    /// generated anyway. Then an answer whose client left is read on (bounded) so its usage is
    /// recorded as billed; else the upstream is cut at once, which stops the bill.
    fn bills_after_disconnect(&self) -> bool {
        true
    }
}

/// An [`UpstreamKind`] as the relay holds it: the credential type stays inside.
pub trait Kind: Send + Sync {
    fn profile(&self) -> &'static Profile;
    /// Whether `secret` parses as the kind's credential (admin validation, before storing it).
    fn check_credential(&self, account: &Account, secret: &str) -> Result<(), BuildError>;
    /// Credential → request → signature, for one attempt on `account`.
    fn upstream_call(
        &self,
        settings: &UpstreamSettings,
        account: &Account,
        secret: &str,
        inbound: &Inbound,
    ) -> Result<UpstreamCall, BuildError>;
    fn on_error_status(&self, status: u16, headers: &HeaderMap, now: Millis) -> ErrorVerdict;
    fn restate_error(&self, status: u16, headers: &HeaderMap, body: &[u8]) -> Option<RestatedError>;
    fn is_event_stream(&self, headers: &HeaderMap) -> bool;
    fn usage_tap(&self, event_stream: bool) -> Box<dyn UsageTap>;
    fn adapter(&self, account: &Account, inbound: &Inbound) -> Option<Box<dyn BodyAdapter>>;
    fn bills_after_disconnect(&self) -> bool;
}

impl<K: UpstreamKind> Kind for K {
    fn profile(&self) -> &'static Profile {
        UpstreamKind::profile(self)
    }

    fn check_credential(&self, account: &Account, secret: &str) -> Result<(), BuildError> {
        self.credential(account, secret).map(drop)
    }

    fn upstream_call(
        &self,
        settings: &UpstreamSettings,
        account: &Account,
        secret: &str,
        inbound: &Inbound,
    ) -> Result<UpstreamCall, BuildError> {
        let credential = self.credential(account, secret)?;
        let mut call = self.request(settings, account, &credential, inbound)?;
        self.sign(&credential, &mut call)?;
        Ok(call)
    }

    fn on_error_status(&self, status: u16, headers: &HeaderMap, now: Millis) -> ErrorVerdict {
        UpstreamKind::on_error_status(self, status, headers, now)
    }

    fn restate_error(&self, status: u16, headers: &HeaderMap, body: &[u8]) -> Option<RestatedError> {
        UpstreamKind::restate_error(self, status, headers, body)
    }

    fn is_event_stream(&self, headers: &HeaderMap) -> bool {
        UpstreamKind::is_event_stream(self, headers)
    }

    fn usage_tap(&self, event_stream: bool) -> Box<dyn UsageTap> {
        UpstreamKind::usage_tap(self, event_stream)
    }

    fn adapter(&self, account: &Account, inbound: &Inbound) -> Option<Box<dyn BodyAdapter>> {
        UpstreamKind::adapter(self, account, inbound)
    }

    fn bills_after_disconnect(&self) -> bool {
        UpstreamKind::bills_after_disconnect(self)
    }
}

/// The account's base URL if it has a non-empty one, else `default`.
pub fn base_url_or<'a>(account: &'a Account, default: &'a str) -> &'a str {
    account
        .base_url
        .as_deref()
        .filter(|u| !u.is_empty())
        .unwrap_or(default)
}

/// The account's base URL, which its kind requires.
pub fn required_base_url(account: &Account) -> Result<&str, BuildError> {
    account
        .base_url
        .as_deref()
        .filter(|u| !u.is_empty())
        .ok_or_else(|| BuildError::Misconfigured(format!("account {} has no base URL", account.id)))
}

/// `wire::join_url` with the inbound call's path and query.
pub fn url_for(base: &str, inbound: &Inbound) -> String {
    wire::join_url(base, &inbound.upstream_path, &inbound.query)
}
