//! The API key record and the operator's create / update payloads.
use crate::money::{Money, usd};
use serde::{Deserialize, Serialize};
use switchyard_actors::clock::Millis;
use switchyard_actors::{KeyBindings, Platform};

/// Spending and rate limits of a key. Zero means "no limit" everywhere.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeyLimits {
    /// Length of the fixed rate-limit window in minutes (0: no window).
    pub window_minutes: u32,
    pub window_requests: u64,
    pub window_tokens: u64,
    #[serde(with = "usd")]
    pub window_cost_usd: Money,
    #[serde(with = "usd")]
    pub daily_cost_usd: Money,
    #[serde(with = "usd")]
    pub weekly_cost_usd: Money,
    #[serde(with = "usd")]
    pub total_cost_usd: Money,
    /// Day the weekly limit resets: 1 = Monday … 7 = Sunday (default Monday).
    pub weekly_reset_day: u8,
    /// Hour (0–23, in the configured time zone) the weekly limit resets.
    pub weekly_reset_hour: u8,
}

impl KeyLimits {
    pub fn has_window(&self) -> bool {
        self.window_minutes > 0
            && (self.window_requests > 0 || self.window_tokens > 0 || self.window_cost_usd > Money::ZERO)
    }

    pub fn reset_day(&self) -> u8 {
        if (1..=7).contains(&self.weekly_reset_day) {
            self.weekly_reset_day
        } else {
            1
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        if !(0..=7).contains(&self.weekly_reset_day) {
            return Err("limits.weekly_reset_day must be 1 (Monday) to 7 (Sunday)".into());
        }
        if self.weekly_reset_hour > 23 {
            return Err("limits.weekly_reset_hour must be 0 to 23".into());
        }
        let has_window_limit =
            self.window_requests > 0 || self.window_tokens > 0 || self.window_cost_usd > Money::ZERO;
        if has_window_limit && self.window_minutes == 0 {
            return Err("limits.window_minutes must be set for window limits to apply".into());
        }
        Ok(())
    }
}

/// Clients a key may be restricted to (judged by user-agent and path).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientKind {
    ClaudeCode,
    GeminiCli,
    CodexCli,
}

impl ClientKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientKind::ClaudeCode => "claude_code",
            ClientKind::GeminiCli => "gemini_cli",
            ClientKind::CodexCli => "codex_cli",
        }
    }
}

/// Parts per million: 1 000 000 = ×1.
pub const UNIT_MULTIPLIER: u32 = 1_000_000;

fn unit() -> u32 {
    UNIT_MULTIPLIER
}

fn is_unit(v: &u32) -> bool {
    *v == UNIT_MULTIPLIER
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    /// SHA-256 hex of the plaintext key.
    pub hash: String,
    #[serde(default = "yes")]
    pub active: bool,
    pub created_at: Millis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<Millis>,
    /// Platforms the key may use; empty = all.
    #[serde(default)]
    pub permissions: Vec<Platform>,
    /// Concurrent requests allowed; 0 = unlimited.
    #[serde(default)]
    pub concurrency_limit: u32,
    #[serde(default)]
    pub bindings: KeyBindings,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Millis>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default)]
    pub limits: KeyLimits,
    /// Models this key may not use (vendor prefixes ignored).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked_models: Vec<String>,
    /// When non-empty, only these clients may use the key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_clients: Vec<ClientKind>,
    /// Expiry N days after the first use (set on first use into `expires_at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activated_at: Option<Millis>,
    /// Multiplies real cost into rated cost (what limits and bills count), in ppm.
    #[serde(default = "unit", skip_serializing_if = "is_unit")]
    pub cost_multiplier_ppm: u32,
    /// `None`: `hash` is switchyard's own (SHA-256 of the key). `Some(name)`: the key was
    /// imported with another installation's hash, which only the named legacy verifier
    /// reproduces (see [`super::legacy`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legacy_verifier: Option<String>,
    /// Deleted in the installation it was imported from: kept for its history, refused as
    /// unknown (the reference answers "not found" for a deleted key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<Millis>,
}

fn yes() -> bool {
    true
}

impl ApiKey {
    pub fn allows(&self, platform: Platform) -> bool {
        self.permissions.is_empty() || self.permissions.contains(&platform)
    }
}

/// `POST /admin/keys`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    pub name: String,
    #[serde(default)]
    pub permissions: Vec<Platform>,
    #[serde(default)]
    pub concurrency_limit: u32,
    #[serde(default)]
    pub bindings: KeyBindings,
    #[serde(default)]
    pub expires_at: Option<Millis>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub limits: KeyLimits,
    #[serde(default)]
    pub blocked_models: Vec<String>,
    #[serde(default)]
    pub allowed_clients: Vec<ClientKind>,
    #[serde(default)]
    pub activation_days: Option<u32>,
    /// e.g. `1.5` or `"0.8"`.
    #[serde(default, with = "multiplier")]
    pub cost_multiplier: Option<u32>,
}

/// `PATCH /admin/keys/{id}`: `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyPatch {
    pub name: Option<String>,
    pub active: Option<bool>,
    pub permissions: Option<Vec<Platform>>,
    pub concurrency_limit: Option<u32>,
    pub bindings: Option<KeyBindings>,
    /// `Some(None)` clears the expiry.
    #[serde(default, with = "double_option")]
    pub expires_at: Option<Option<Millis>>,
    pub tags: Option<Vec<String>>,
    pub limits: Option<KeyLimits>,
    pub blocked_models: Option<Vec<String>>,
    pub allowed_clients: Option<Vec<ClientKind>>,
    #[serde(default, with = "double_option")]
    pub activation_days: Option<Option<u32>>,
    #[serde(default, with = "multiplier", rename = "cost_multiplier")]
    pub cost_multiplier_ppm: Option<u32>,
    /// Set by switchyard on a key's first use (activation expiry); not for operators.
    #[serde(skip)]
    pub activated_at: Option<Millis>,
}

impl KeyPatch {
    pub fn apply(&self, k: &mut ApiKey) {
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = &self.$f { k.$f = v.clone(); } )* };
        }
        set!(
            name,
            active,
            permissions,
            concurrency_limit,
            bindings,
            expires_at,
            tags,
            limits,
            blocked_models,
            allowed_clients,
            activation_days,
            cost_multiplier_ppm
        );
        if let Some(at) = self.activated_at {
            k.activated_at = Some(at);
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        if let Some(l) = &self.limits {
            l.validate()?;
        }
        if let Some(n) = &self.name
            && (n.trim().is_empty() || n.len() > 100)
        {
            return Err("name must be 1 to 100 characters".into());
        }
        Ok(())
    }
}

/// A cost multiplier given as a decimal (number or string), kept as parts per million.
mod multiplier {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<u32>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(ppm) => s.serialize_f64(f64::from(*ppm) / 1e6),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        let v = Option::<serde_json::Value>::deserialize(d)?;
        let text = match v {
            None | Some(serde_json::Value::Null) => return Ok(None),
            Some(serde_json::Value::Number(n)) => n.to_string(),
            Some(serde_json::Value::String(s)) => s,
            Some(_) => return Err(serde::de::Error::custom("cost_multiplier must be a number")),
        };
        // Parsed like a dollar amount to stay exact, then scaled to parts per million.
        let m = crate::money::Money::parse_usd(&text).map_err(|_| {
            serde::de::Error::custom(format!("cost_multiplier `{text}` is not a non-negative number"))
        })?;
        u32::try_from(m.picos() / 1_000_000)
            .map(Some)
            .map_err(|_| serde::de::Error::custom("cost_multiplier is too large"))
    }
}

/// Distinguishes an absent field from an explicit `null`.
mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer, T: Serialize>(v: &Option<Option<T>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(inner) => inner.serialize(s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}
