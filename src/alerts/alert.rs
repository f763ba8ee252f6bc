//! One alert as the channels render it: what happened to which account, in words and fields.
use serde::Serialize;
use switchyard_actors::clock::Millis;
use switchyard_actors::pool::{AccountChange, AccountEvent};
use switchyard_actors::{AccountStatus, CooldownReason};

/// The kinds operators subscribe to, by their stable names (`AlertKind::as_str`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// Rested after overload, server errors, timeouts or network failures.
    CooledDown,
    /// A rate or usage limit (429, a Claude model family's limit).
    UsageLimited,
    /// The upstream refused the credential (401 / 403, a failed refresh, status unauthorized).
    AuthFailed,
    /// An operator took the account out of service, or the upstream blocked it.
    Disabled,
    /// An announced cooldown or limit ended.
    Recovered,
    /// `switchyard alert test`.
    Test,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::CooledDown => "cooled_down",
            AlertKind::UsageLimited => "usage_limited",
            AlertKind::AuthFailed => "auth_failed",
            AlertKind::Disabled => "disabled",
            AlertKind::Recovered => "recovered",
            AlertKind::Test => "test",
        }
    }

    fn headline(self) -> &'static str {
        match self {
            AlertKind::CooledDown => "is cooling down",
            AlertKind::UsageLimited => "hit a usage limit",
            AlertKind::AuthFailed => "failed authentication",
            AlertKind::Disabled => "was taken out of service",
            AlertKind::Recovered => "recovered",
            AlertKind::Test => "test notification",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertAccount {
    pub id: String,
    pub name: String,
    pub platform: &'static str,
}

/// The generic webhook's JSON body is this value as is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alert {
    pub event: AlertKind,
    pub account: Option<AlertAccount>,
    /// Why, in the pool's words (`rate_limit`, `auth_error`, `opus`, `unauthorized`...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The upstream HTTP status behind it (absent for network failures).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// When the rest ends (unix ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<Millis>,
    /// When it happened (unix ms).
    pub at: Millis,
    /// Alerts of this account and kind left out since the last one sent (deduplication).
    pub suppressed: u64,
    /// The whole alert as one human-readable message (what the chat channels show).
    pub text: String,
}

impl Alert {
    /// The alert for an account event from the pool.
    pub fn from_event(e: &AccountEvent) -> Alert {
        let (event, reason, status, until) = match e.change {
            AccountChange::CooledDown {
                reason,
                status,
                until,
            } => {
                let kind = match reason {
                    CooldownReason::AuthError | CooldownReason::RefreshFailed => AlertKind::AuthFailed,
                    CooldownReason::RateLimit => AlertKind::UsageLimited,
                    _ => AlertKind::CooledDown,
                };
                (
                    kind,
                    Some(reason.as_str().to_owned()),
                    Some(status).filter(|s| *s != 0),
                    Some(until),
                )
            }
            AccountChange::FamilyLimited { family, until } => (
                AlertKind::UsageLimited,
                Some(family.as_str().to_owned()),
                Some(429),
                Some(until),
            ),
            AccountChange::Recovered => (AlertKind::Recovered, None, None, None),
            AccountChange::Disabled => (AlertKind::Disabled, Some("operator".to_owned()), None, None),
            AccountChange::StatusChanged { status } => {
                let kind = match status {
                    AccountStatus::Blocked => AlertKind::Disabled,
                    _ => AlertKind::AuthFailed,
                };
                (kind, Some(status_name(status).to_owned()), None, None)
            }
        };
        let mut alert = Alert {
            event,
            account: Some(AlertAccount {
                id: e.account.to_string(),
                name: e.name.clone(),
                platform: e.platform.as_str(),
            }),
            reason,
            status,
            until,
            at: e.at,
            suppressed: 0,
            text: String::new(),
        };
        alert.text = alert.render();
        alert
    }

    /// The notification `switchyard alert test` sends.
    pub fn test(at: Millis) -> Alert {
        let mut alert = Alert {
            event: AlertKind::Test,
            account: None,
            reason: None,
            status: None,
            until: None,
            at,
            suppressed: 0,
            text: String::new(),
        };
        alert.text = alert.render();
        alert
    }

    /// Notes the alerts left out before this one (and says so in the text).
    pub fn with_suppressed(mut self, suppressed: u64) -> Alert {
        self.suppressed = suppressed;
        self.text = self.render();
        self
    }

    fn render(&self) -> String {
        let mut text = match &self.account {
            Some(a) => format!(
                "switchyard: account \"{}\" ({}, {}) {}",
                a.name,
                a.platform,
                a.id,
                self.event.headline()
            ),
            None => "switchyard: test notification: this channel receives account alerts".to_owned(),
        };
        if let Some(reason) = &self.reason {
            text.push_str(&format!(": {reason}"));
        }
        if let Some(status) = self.status {
            text.push_str(&format!(" (HTTP {status})"));
        }
        if let Some(until) = self.until.and_then(chrono::DateTime::from_timestamp_millis) {
            text.push_str(&format!(" until {}", until.format("%Y-%m-%d %H:%M:%S UTC")));
        }
        if self.suppressed > 0 {
            text.push_str(&format!(" ({} more events suppressed)", self.suppressed));
        }
        text
    }
}

fn status_name(s: AccountStatus) -> &'static str {
    match s {
        AccountStatus::Active => "active",
        AccountStatus::Error => "error",
        AccountStatus::Blocked => "blocked",
        AccountStatus::Unauthorized => "unauthorized",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_actors::{AccountId, ModelFamily, Platform};

    fn event(change: AccountChange) -> AccountEvent {
        AccountEvent {
            account: AccountId::new("acc-1"),
            name: "team-a".into(),
            platform: Platform::Claude,
            at: 1_000,
            change,
        }
    }

    #[test]
    fn each_change_is_its_kind_of_alert() {
        let cooled = |reason| AccountChange::CooledDown {
            reason,
            status: 0,
            until: 2_000,
        };
        let cases = [
            (cooled(CooldownReason::Overload), AlertKind::CooledDown),
            (cooled(CooldownReason::ConnectError), AlertKind::CooledDown),
            (cooled(CooldownReason::RateLimit), AlertKind::UsageLimited),
            (cooled(CooldownReason::AuthError), AlertKind::AuthFailed),
            (cooled(CooldownReason::RefreshFailed), AlertKind::AuthFailed),
            (
                AccountChange::FamilyLimited {
                    family: ModelFamily::Opus,
                    until: 2_000,
                },
                AlertKind::UsageLimited,
            ),
            (AccountChange::Recovered, AlertKind::Recovered),
            (AccountChange::Disabled, AlertKind::Disabled),
            (
                AccountChange::StatusChanged {
                    status: AccountStatus::Unauthorized,
                },
                AlertKind::AuthFailed,
            ),
            (
                AccountChange::StatusChanged {
                    status: AccountStatus::Blocked,
                },
                AlertKind::Disabled,
            ),
        ];
        for (change, kind) in cases {
            assert_eq!(Alert::from_event(&event(change)).event, kind, "{change:?}");
        }
        let alert = Alert::from_event(&event(cooled(CooldownReason::ConnectError)));
        assert_eq!(alert.status, None, "no HTTP status for a network failure");
    }

    #[test]
    fn the_text_says_what_happened_and_how_many_were_left_out() {
        let alert = Alert::from_event(&event(AccountChange::CooledDown {
            reason: CooldownReason::Overload,
            status: 529,
            until: 1_764_000_000_000,
        }));
        assert_eq!(
            alert.text,
            "switchyard: account \"team-a\" (claude, acc-1) is cooling down: overload (HTTP 529) until 2025-11-24 16:00:00 UTC"
        );
        let alert = alert.with_suppressed(3);
        assert_eq!(alert.suppressed, 3);
        assert!(
            alert.text.ends_with(" (3 more events suppressed)"),
            "{}",
            alert.text
        );
    }
}
