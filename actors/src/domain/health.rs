//! Per-account health: a cooldown that ends by itself, and per-model-family rate limits.
use super::ModelFamily;
use crate::clock::Millis;
use serde::{Deserialize, Serialize};

/// Why an account is cooling down (§7.1 classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CooldownReason {
    RateLimit,
    Overload,
    ServiceUnavailable,
    Timeout,
    AuthError,
    ServerError,
    ConnectError,
    /// The OAuth token could not be refreshed.
    RefreshFailed,
}

impl CooldownReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CooldownReason::RateLimit => "rate_limit",
            CooldownReason::Overload => "overload",
            CooldownReason::ServiceUnavailable => "service_unavailable",
            CooldownReason::Timeout => "timeout",
            CooldownReason::AuthError => "auth_error",
            CooldownReason::ServerError => "server_error",
            CooldownReason::ConnectError => "connect_error",
            CooldownReason::RefreshFailed => "refresh_failed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cooldown {
    pub until: Millis,
    pub reason: CooldownReason,
    /// The upstream status that caused it (0 for network errors).
    #[serde(default)]
    pub status: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FamilyLimit {
    pub family: ModelFamily,
    pub until: Millis,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown: Option<Cooldown>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub family_limits: Vec<FamilyLimit>,
}

impl Health {
    /// The cooldown still running at `now`.
    pub fn active_cooldown(&self, now: Millis) -> Option<&Cooldown> {
        self.cooldown.as_ref().filter(|c| c.until > now)
    }

    /// Until when `family` is rate-limited, if it still is at `now`.
    pub fn family_limited_until(&self, family: Option<ModelFamily>, now: Millis) -> Option<Millis> {
        let family = family?;
        self.family_limits
            .iter()
            .find(|l| l.family == family && l.until > now)
            .map(|l| l.until)
    }

    /// When the account can next serve `family` (None = it can now).
    pub fn blocked_until(&self, family: Option<ModelFamily>, now: Millis) -> Option<Millis> {
        let cool = self.active_cooldown(now).map(|c| c.until);
        let fam = self.family_limited_until(family, now);
        cool.max(fam)
    }

    pub fn set_family_limit(&mut self, family: ModelFamily, until: Millis) {
        self.family_limits.retain(|l| l.family != family);
        self.family_limits.push(FamilyLimit { family, until });
    }

    /// Drops what has expired; true when something changed.
    pub fn clear_expired(&mut self, now: Millis) -> bool {
        let before = (self.cooldown.is_some(), self.family_limits.len());
        if self.cooldown.is_some_and(|c| c.until <= now) {
            self.cooldown = None;
        }
        self.family_limits.retain(|l| l.until > now);
        before != (self.cooldown.is_some(), self.family_limits.len())
    }

    pub fn is_clear(&self) -> bool {
        self.cooldown.is_none() && self.family_limits.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cooldowns_end_by_themselves() {
        let mut h = Health {
            cooldown: Some(Cooldown {
                until: 100,
                reason: CooldownReason::Overload,
                status: 529,
            }),
            family_limits: vec![],
        };
        h.set_family_limit(ModelFamily::Opus, 200);
        assert_eq!(h.blocked_until(Some(ModelFamily::Opus), 50), Some(200));
        assert_eq!(h.blocked_until(Some(ModelFamily::Sonnet), 50), Some(100));
        assert_eq!(h.blocked_until(Some(ModelFamily::Sonnet), 100), None);
        assert_eq!(h.blocked_until(Some(ModelFamily::Opus), 150), Some(200));
        assert!(h.clear_expired(150));
        assert!(h.cooldown.is_none());
        assert!(!h.clear_expired(150));
        assert!(h.clear_expired(200) && h.is_clear());
    }
}
