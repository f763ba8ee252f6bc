//! Account selection: the `SelectAccount` message, its answers, and one scheduler actor per
//! platform over a shared selection core.
mod actor;
mod plan;
mod rules;

pub use actor::{ClaudeScheduler, GeminiScheduler, OpenAiScheduler, Scheduler};
pub use rules::{ClaudeRules, GeminiRules, OpenAiRules, PlatformRules};

use crate::clock::Millis;
use crate::domain::{Account, AccountId, AccountKind, GroupId, KeyBindings, Platform};
use crate::lease::Lease;
use crate::session::SessionId;
use crate::store::StoreError;
use crate::supervise::ActorFault;
use actix::Message;
use std::sync::Arc;

/// Pick an account of `platform` for one request attempt and take one of its slots.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Selection, SelectError>")]
pub struct SelectAccount {
    pub platform: Platform,
    /// The API key's bindings (dedicated account or group per platform).
    pub bindings: Arc<KeyBindings>,
    pub session: Option<SessionId>,
    /// The id of the API key the request came with: session bindings are kept per key, so a
    /// client cannot reach another key's binding by sending its session id.
    pub api_key: Option<String>,
    pub model: Option<String>,
    /// Accounts already tried for this request (failover).
    pub exclude: Vec<AccountId>,
    /// The account kinds that can serve this request (`None`: any kind of the platform). Some
    /// endpoints speak only one upstream API: OpenAI chat completions need
    /// `AccountKind::OpenAiResponses`, Gemini `/v1internal:` calls need `AccountKind::GeminiOAuth`.
    /// Applies to the pool, to groups and to a dedicated account alike. Kinds of another
    /// platform never match; an empty list matches nothing.
    pub kinds: Option<Vec<AccountKind>>,
    /// Soft stickiness: when the session is bound to an eligible account, only that account may
    /// serve (full: `AllFull`, so the caller waits for it). A bound account that is cooling
    /// down or otherwise out of the plan does not hold the session: selection goes on as usual.
    pub hold_session: bool,
}

impl SelectAccount {
    pub fn new(platform: Platform) -> Self {
        SelectAccount {
            platform,
            bindings: Arc::default(),
            session: None,
            api_key: None,
            model: None,
            exclude: Vec::new(),
            kinds: None,
            hold_session: false,
        }
    }
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }
    pub fn session(mut self, session: SessionId) -> Self {
        self.session = Some(session);
        self
    }
    /// The API key the request came with (session bindings are per key).
    pub fn api_key(mut self, id: impl Into<String>) -> Self {
        self.api_key = Some(id.into());
        self
    }
    pub fn bindings(mut self, bindings: KeyBindings) -> Self {
        self.bindings = Arc::new(bindings);
        self
    }
    pub fn exclude(mut self, exclude: Vec<AccountId>) -> Self {
        self.exclude = exclude;
        self
    }
    /// Only accounts of these kinds may serve (see the `kinds` field).
    pub fn kinds(mut self, kinds: impl IntoIterator<Item = AccountKind>) -> Self {
        self.kinds = Some(kinds.into_iter().collect());
        self
    }
}

/// How the session binding figured in a selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StickyOutcome {
    /// No session id, or a dedicated account (bindings do not apply).
    NoSession,
    /// The session's bound account served it.
    Hit,
    /// The session was bound (new) or rebound (its account could not serve).
    Bound,
}

/// The chosen account and the slot held on it.
#[derive(Debug)]
pub struct Selection {
    pub account: Arc<Account>,
    pub lease: Lease,
    pub sticky: StickyOutcome,
    /// How long the request waited in the slot queue (`None`: it did not wait).
    pub waited: Option<std::time::Duration>,
}

/// Why a dedicated account could not serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DedicatedReason {
    Missing,
    WrongPlatform,
    /// The account's kind is not among the request's [`SelectAccount::kinds`].
    WrongKind,
    Disabled,
    ModelUnsupported,
    CoolingDown,
    Full,
    AlreadyTried,
}

impl DedicatedReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DedicatedReason::Missing => "not_found",
            DedicatedReason::WrongPlatform => "wrong_platform",
            DedicatedReason::WrongKind => "wrong_kind",
            DedicatedReason::Disabled => "disabled",
            DedicatedReason::ModelUnsupported => "model_unsupported",
            DedicatedReason::CoolingDown => "cooling_down",
            DedicatedReason::Full => "concurrency_full",
            DedicatedReason::AlreadyTried => "already_tried",
        }
    }
}

/// Why no account was selected. `retry_at` says when one is expected back, when known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoAccount {
    #[error("no {platform} account is configured and enabled")]
    NoAccounts { platform: Platform },
    /// Accounts of the platform are enabled, but none of the request's kinds.
    #[error("no {platform} account of kind {} is configured and enabled", KindList(kinds))]
    KindUnavailable {
        platform: Platform,
        kinds: Vec<AccountKind>,
    },
    #[error("no {platform} account supports the model `{model}`")]
    ModelUnsupported { platform: Platform, model: String },
    #[error("every eligible account is cooling down")]
    AllCoolingDown { retry_at: Millis },
    #[error("every eligible account is at its concurrency limit")]
    AllFull,
    #[error("every eligible account was already tried for this request")]
    Exhausted,
    #[error("the dedicated account {account} is unavailable ({})", reason.as_str())]
    DedicatedUnavailable {
        account: AccountId,
        reason: DedicatedReason,
        retry_at: Option<Millis>,
    },
    #[error("account group `{group}` does not exist for this platform")]
    GroupNotFound { group: GroupId },
    #[error("account group `{group}` has no members")]
    GroupEmpty { group: GroupId },
}

impl NoAccount {
    pub fn retry_at(&self) -> Option<Millis> {
        match self {
            NoAccount::AllCoolingDown { retry_at } => Some(*retry_at),
            NoAccount::DedicatedUnavailable { retry_at, .. } => *retry_at,
            _ => None,
        }
    }

    /// Stable snake_case name for error bodies and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            NoAccount::NoAccounts { .. } => "no_accounts",
            NoAccount::KindUnavailable { .. } => "no_account_of_kind",
            NoAccount::ModelUnsupported { .. } => "model_unsupported",
            NoAccount::AllCoolingDown { .. } => "all_cooling_down",
            NoAccount::AllFull => "all_full",
            NoAccount::Exhausted => "all_tried",
            NoAccount::DedicatedUnavailable { .. } => "dedicated_account_unavailable",
            NoAccount::GroupNotFound { .. } => "group_not_found",
            NoAccount::GroupEmpty { .. } => "group_empty",
        }
    }
}

/// `a`, `a or b`, `a, b or c`; `(none)` for an empty list.
struct KindList<'a>(&'a [AccountKind]);

impl std::fmt::Display for KindList<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            [] => f.write_str("(none)"),
            [only] => f.write_str(only.as_str()),
            [init @ .., last] => {
                for (i, k) in init.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str(k.as_str())?;
                }
                write!(f, " or {last}")
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    #[error(transparent)]
    NoAccount(#[from] NoAccount),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    ActorFailed(#[from] ActorFault),
    #[error("the {actor} actor did not answer within {timeout_ms} ms")]
    ActorTimeout { actor: &'static str, timeout_ms: u64 },
    /// Every eligible account stayed full: the wait for a slot timed out, or the queue was full.
    #[error("every eligible account is busy ({})", refusal.as_str())]
    Busy { refusal: crate::wait_queue::WaitRefusal },
}
