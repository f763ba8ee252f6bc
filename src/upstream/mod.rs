//! Upstream kinds: one module per kind of account switchyard can relay to (`kinds/`), the
//! wire formats they share (`wire/`), and the registry that is the only list of them. The relay,
//! the routes, admin validation and the CLI ask the registry; none names a kind itself.
//! How to add a kind: docs/upstream-kinds.md.
pub mod kind;
pub mod kinds;
pub mod registry;
pub mod wire;

pub use kind::{BaseUrl, BuildError, ClientCall, CredentialForm, ErrorVerdict, Kind, Profile, UpstreamKind};

use crate::usage::TokenUsage;
use bytes::Bytes;
use reqwest::header::HeaderMap;
use switchyard_actors::clock::Millis;
use switchyard_actors::session::SessionId;

/// A client request after parsing, ready to be sent to any account of its platform.
#[derive(Debug, Clone)]
pub struct Inbound {
    /// Path on the upstream API, e.g. `/v1/messages`.
    pub upstream_path: String,
    /// Raw query string without `?` (client credentials already removed).
    pub query: String,
    /// Client headers that passed the allow-list (lower-case names).
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    pub model: String,
    pub stream: bool,
    pub session: Option<SessionId>,
    /// See `routes::forward::Parsed::hide_usage_chunk`.
    pub hide_usage_chunk: bool,
    /// A real user turn: the account's pacing gate applies (`relay::pacing`).
    pub user_turn: bool,
}

/// What to send for one attempt on one account.
#[derive(Debug)]
pub struct UpstreamCall {
    pub url: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Rate-limit hints from an upstream error answer (feed the cooldown).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hints {
    pub retry_after_ms: Option<i64>,
    pub reset_at: Option<Millis>,
}

/// Reads usage from an answer as it passes (stream) or once complete (JSON).
pub trait UsageTap: Send {
    fn feed(&mut self, chunk: &[u8]);
    /// Usage seen so far and the model the upstream reported, if any.
    fn finish(&mut self) -> Option<(TokenUsage, Option<String>)>;
    /// The answer said, in band, that the account hit its usage limit (marks it at the end).
    fn limit_reached(&self) -> Option<Hints> {
        None
    }
}

/// Rewrites an upstream answer into the client's wire format, chunk by chunk (only where the
/// account's API differs from the one the client speaks, e.g. Gemini Code Assist → Gemini).
pub trait BodyAdapter: Send {
    fn chunk(&mut self, input: &[u8], out: &mut bytes::BytesMut);
    fn finish(&mut self, out: &mut bytes::BytesMut);
    /// The content type of what the adapter produces, when it differs from the upstream's.
    fn content_type(&self) -> Option<&'static str> {
        None
    }
}

/// The API a client speaks on a route: whose accounts serve it, and its error format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientApi {
    pub platform: switchyard_actors::Platform,
    pub format: crate::error::ApiFormat,
}

impl ClientApi {
    pub const CLAUDE: ClientApi = ClientApi {
        platform: switchyard_actors::Platform::Claude,
        format: crate::error::ApiFormat::Anthropic,
    };
    pub const GEMINI: ClientApi = ClientApi {
        platform: switchyard_actors::Platform::Gemini,
        format: crate::error::ApiFormat::Gemini,
    };
    pub const OPENAI: ClientApi = ClientApi {
        platform: switchyard_actors::Platform::OpenAi,
        format: crate::error::ApiFormat::OpenAi,
    };
}
