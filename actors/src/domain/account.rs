//! An upstream account: what the scheduler needs to choose it and the relay needs to use it.
use super::{AccountKind, Platform, Secret};
use crate::clock::Millis;
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// Account ids are opaque strings, cheap to clone (they travel in every lease and selection).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountId(Arc<str>);

impl AccountId {
    pub fn new(id: impl AsRef<str>) -> Self {
        Self(Arc::from(id.as_ref()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Borrow<str> for AccountId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<&str> for AccountId {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

/// Whether the pool may hand the account to any key, or only to keys bound to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sharing {
    #[default]
    Shared,
    Dedicated,
}

/// Lasting state set by operators or by hard upstream answers (a cooldown is separate: it ends
/// by itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    #[default]
    Active,
    /// The upstream rejected the credential for good (e.g. a failed token refresh).
    Error,
    /// The upstream disabled the organisation / account.
    Blocked,
    Unauthorized,
}

impl AccountStatus {
    pub fn is_usable(self) -> bool {
        self == AccountStatus::Active
    }
}

/// Which requested models an account serves, and under which upstream name.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ModelSupport {
    /// Every model the platform serves.
    #[default]
    Any,
    /// Exactly these names.
    List(Vec<String>),
    /// Requested name (case-insensitive) → the name sent upstream.
    Map(BTreeMap<String, String>),
}

impl ModelSupport {
    pub fn from_option(list: Option<Self>) -> Self {
        list.unwrap_or_default()
    }

    /// Whether a request for `model` may go to this account. An empty list or map means all.
    pub fn supports(&self, model: &str) -> bool {
        match self {
            ModelSupport::Any => true,
            ModelSupport::List(names) => names.is_empty() || names.iter().any(|n| n == model),
            ModelSupport::Map(map) => map.is_empty() || map.keys().any(|k| k.eq_ignore_ascii_case(model)),
        }
    }

    /// The upstream name for `model` when a mapping renames it.
    pub fn upstream_name(&self, model: &str) -> Option<&str> {
        match self {
            ModelSupport::Map(map) => map
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(model))
                .map(|(_, v)| v.as_str())
                .filter(|v| *v != model),
            _ => None,
        }
    }

    pub fn is_restricted(&self) -> bool {
        match self {
            ModelSupport::Any => false,
            ModelSupport::List(l) => !l.is_empty(),
            ModelSupport::Map(m) => !m.is_empty(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthTokens {
    pub access_token: Secret,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<Secret>,
    /// When the access token stops working (unix ms); unknown means "refresh before use".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Millis>,
}

/// The upstream credential. Stores keep it encrypted at rest; in memory it is plaintext wrapped
/// in [`Secret`] so it cannot leak through `Debug`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Credentials {
    #[default]
    None,
    ApiKey {
        key: Secret,
    },
    OAuth(OAuthTokens),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub id: AccountId,
    pub name: String,
    pub kind: AccountKind,
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default = "yes")]
    pub schedulable: bool,
    #[serde(default)]
    pub status: AccountStatus,
    #[serde(default)]
    pub sharing: Sharing,
    /// Lower wins.
    #[serde(default = "default_priority")]
    pub priority: u32,
    /// Concurrent requests this account may carry; 0 = unlimited.
    #[serde(default)]
    pub max_concurrency: u32,
    #[serde(default)]
    pub models: ModelSupport,
    pub created_at: Millis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<Millis>,
    /// Upstream base URL for API-key kinds, or an override for OAuth kinds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    #[serde(default)]
    pub credentials: Credentials,
    /// Outbound proxy URL (http:// or socks5://) for this account's traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
    /// Platform extras (Gemini `project_id`, ChatGPT `account_id`, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, String>,
    /// This account's own pacing of real user turns; unset fields follow `[pacing]`.
    #[serde(default, skip_serializing_if = "Pacing::is_unset")]
    pub pacing: Pacing,
}

/// Per-account override of the `[pacing]` settings (one real user turn at a time, and a gap
/// between them): operators use it to make an account look less like a shared one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pacing {
    /// One real user turn at a time on this account; `None`: the global default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_turns: Option<bool>,
    /// Least time between one user turn's release and the next one's start; `None`: the global
    /// default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_gap_ms: Option<u64>,
}

impl Pacing {
    pub fn is_unset(&self) -> bool {
        self.user_turns.is_none() && self.min_gap_ms.is_none()
    }
}

fn yes() -> bool {
    true
}

pub const DEFAULT_PRIORITY: u32 = 50;

fn default_priority() -> u32 {
    DEFAULT_PRIORITY
}

impl Account {
    /// A shared, active account with default settings; callers adjust fields as needed.
    pub fn new(id: impl AsRef<str>, kind: AccountKind, created_at: Millis) -> Self {
        Account {
            id: AccountId::new(id),
            name: id_name(kind),
            kind,
            active: true,
            schedulable: true,
            status: AccountStatus::Active,
            sharing: Sharing::Shared,
            priority: DEFAULT_PRIORITY,
            max_concurrency: 0,
            models: ModelSupport::Any,
            created_at,
            last_used_at: None,
            base_url: None,
            credentials: Credentials::None,
            proxy: None,
            extra: BTreeMap::new(),
            pacing: Pacing::default(),
        }
    }

    pub fn platform(&self) -> Platform {
        self.kind.platform()
    }

    /// Active, schedulable and not in a lasting bad status: the operator-level gate.
    pub fn is_enabled(&self) -> bool {
        self.active && self.schedulable && self.status.is_usable()
    }
}

fn id_name(kind: AccountKind) -> String {
    format!("{kind} account")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_support_list_map_and_any() {
        assert!(ModelSupport::Any.supports("x"));
        let list = ModelSupport::List(vec!["a".into(), "b".into()]);
        assert!(list.supports("a") && !list.supports("c"));
        assert!(ModelSupport::List(vec![]).supports("c"));
        let map: ModelSupport = serde_json::from_str(r#"{"Claude-Sonnet-5":"upstream-sonnet"}"#).unwrap();
        assert!(map.supports("claude-sonnet-5"));
        assert_eq!(map.upstream_name("claude-sonnet-5"), Some("upstream-sonnet"));
        assert!(!map.supports("claude-opus-4"));
    }

    #[test]
    fn model_support_parses_each_json_shape() {
        let any: ModelSupport = serde_json::from_str("null").unwrap_or_default();
        assert_eq!(any, ModelSupport::Any);
        let list: ModelSupport = serde_json::from_str(r#"["m1"]"#).unwrap();
        assert_eq!(list, ModelSupport::List(vec!["m1".into()]));
    }

    #[test]
    fn secrets_do_not_show_in_debug() {
        let c = Credentials::ApiKey {
            key: Secret::new("sk-ant-very-secret"),
        };
        assert!(!format!("{c:?}").contains("very-secret"));
    }
}
