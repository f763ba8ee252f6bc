//! How an upstream answer changes an account's health (§7.1): which statuses start a cooldown,
//! for how long, and the Claude rule that a 429 with a reset time limits only the model family.
use crate::clock::Millis;
use crate::domain::{Cooldown, CooldownReason, Health, ModelFamily, Platform};
use crate::settings::CooldownSettings;

/// What happened when a request went to an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// An HTTP answer that was not a success. `retry_after_ms` comes from `retry-after`
    /// (seconds or HTTP date) or a provider's reset-in header; `reset_at` from an absolute reset
    /// time such as `anthropic-ratelimit-unified-reset`.
    Status {
        status: u16,
        retry_after_ms: Option<i64>,
        reset_at: Option<Millis>,
    },
    ConnectError,
    Timeout,
    /// The upstream or its token endpoint refused the account's credential.
    CredentialRejected,
    /// The account cannot be used as configured (no project id, no base URL, a proxy that
    /// cannot be built): it rests like a refused credential until an operator fixes it.
    Misconfigured,
    /// The answer said in band (inside a successful stream) that the account's usage limit is
    /// reached, with the reset if given: it rests like a rate limit.
    UsageLimit {
        retry_after_ms: Option<i64>,
        reset_at: Option<Millis>,
    },
}

/// What [`apply_outcome`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthChange {
    Unchanged,
    /// Expired state was cleared after a success.
    Cleared,
    CooledDown {
        reason: CooldownReason,
        until: Millis,
    },
    FamilyLimited {
        family: ModelFamily,
        until: Millis,
    },
}

fn classify(status: u16, s: &CooldownSettings) -> Option<(CooldownReason, u64)> {
    Some(match status {
        429 => (CooldownReason::RateLimit, s.rate_limit_secs),
        529 => (CooldownReason::Overload, s.overload_secs),
        503 => (CooldownReason::ServiceUnavailable, s.service_unavailable_secs),
        504 => (CooldownReason::Timeout, s.timeout_secs),
        401 | 403 => (CooldownReason::AuthError, s.auth_error_secs),
        500..=599 => (CooldownReason::ServerError, s.server_error_secs),
        _ => return None,
    })
}

/// Applies one outcome to `health`. `model` is the requested model (for the family rule).
pub fn apply_outcome(
    health: &mut Health,
    platform: Platform,
    outcome: Outcome,
    model: Option<&str>,
    now: Millis,
    s: &CooldownSettings,
) -> HealthChange {
    let (reason, default_secs, status, retry_after_ms, reset_at) = match outcome {
        Outcome::Success => {
            return if health.clear_expired(now) {
                HealthChange::Cleared
            } else {
                HealthChange::Unchanged
            };
        }
        Outcome::ConnectError => (CooldownReason::ConnectError, s.connect_error_secs, 0, None, None),
        Outcome::Timeout => (CooldownReason::Timeout, s.timeout_secs, 0, None, None),
        // The cooldown records the status an answer of the same meaning would have had.
        Outcome::CredentialRejected | Outcome::Misconfigured => {
            (CooldownReason::AuthError, s.auth_error_secs, 401, None, None)
        }
        Outcome::UsageLimit {
            retry_after_ms,
            reset_at,
        } => (
            CooldownReason::RateLimit,
            s.rate_limit_secs,
            429,
            retry_after_ms,
            reset_at,
        ),
        Outcome::Status {
            status,
            retry_after_ms,
            reset_at,
        } => match classify(status, s) {
            Some((reason, secs)) => (reason, secs, status, retry_after_ms, reset_at),
            None => return HealthChange::Unchanged,
        },
    };
    health.clear_expired(now);

    let family = model.and_then(ModelFamily::of);
    if let (Platform::Claude, CooldownReason::RateLimit, Some(reset), Some(family)) =
        (platform, reason, reset_at, family)
        && reset > now
    {
        let until = reset.min(now + secs_ms(s.max_family_limit_secs));
        health.set_family_limit(family, until);
        return HealthChange::FamilyLimited { family, until };
    }

    let custom = retry_after_ms
        .or_else(|| reset_at.map(|r| r - now))
        .filter(|ms| *ms > 0)
        .map(|ms| ms.min(secs_ms(s.max_custom_secs)));
    let until = now + custom.unwrap_or(secs_ms(default_secs));
    // A later cooldown already running is kept.
    if let Some(c) = health.cooldown.filter(|c| c.until >= until) {
        return HealthChange::CooledDown {
            reason: c.reason,
            until: c.until,
        };
    }
    health.cooldown = Some(Cooldown {
        until,
        reason,
        status,
    });
    HealthChange::CooledDown { reason, until }
}

fn secs_ms(secs: u64) -> i64 {
    (secs as i64).saturating_mul(1_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Millis = 1_000_000;

    fn run(platform: Platform, outcome: Outcome, model: Option<&str>) -> (Health, HealthChange) {
        let mut h = Health::default();
        let c = apply_outcome(
            &mut h,
            platform,
            outcome,
            model,
            NOW,
            &CooldownSettings::default(),
        );
        (h, c)
    }

    fn status(status: u16) -> Outcome {
        Outcome::Status {
            status,
            retry_after_ms: None,
            reset_at: None,
        }
    }

    #[test]
    fn named_outcomes_rest_like_the_statuses_they_replace() {
        for named in [Outcome::CredentialRejected, Outcome::Misconfigured] {
            let (h, c) = run(Platform::Claude, named, None);
            assert_eq!(c, run(Platform::Claude, status(401), None).1, "{named:?}");
            assert_eq!(h.cooldown.map(|c| c.status), Some(401));
        }
        let limit = Outcome::UsageLimit {
            retry_after_ms: Some(120_000),
            reset_at: None,
        };
        let (h, c) = run(Platform::OpenAi, limit, None);
        assert_eq!(
            c,
            HealthChange::CooledDown {
                reason: CooldownReason::RateLimit,
                until: NOW + 120_000
            }
        );
        assert_eq!(h.cooldown.map(|c| c.status), Some(429));
    }

    #[test]
    fn default_durations_per_status_class() {
        let cases = [
            (429, CooldownReason::RateLimit, 300),
            (529, CooldownReason::Overload, 600),
            (503, CooldownReason::ServiceUnavailable, 60),
            (504, CooldownReason::Timeout, 300),
            (401, CooldownReason::AuthError, 1_800),
            (403, CooldownReason::AuthError, 1_800),
            (500, CooldownReason::ServerError, 300),
            (502, CooldownReason::ServerError, 300),
        ];
        for (code, reason, secs) in cases {
            let (_, c) = run(Platform::Claude, status(code), None);
            assert_eq!(
                c,
                HealthChange::CooledDown {
                    reason,
                    until: NOW + secs * 1_000
                },
                "{code}"
            );
        }
        assert_eq!(
            run(Platform::Claude, status(400), None).1,
            HealthChange::Unchanged
        );
        assert_eq!(
            run(Platform::Claude, status(404), None).1,
            HealthChange::Unchanged
        );
        let (_, c) = run(Platform::Gemini, Outcome::ConnectError, None);
        assert_eq!(
            c,
            HealthChange::CooledDown {
                reason: CooldownReason::ConnectError,
                until: NOW + 60_000
            }
        );
    }

    #[test]
    fn retry_after_replaces_the_default_and_is_capped() {
        let o = Outcome::Status {
            status: 429,
            retry_after_ms: Some(20_000),
            reset_at: None,
        };
        assert_eq!(
            run(Platform::OpenAi, o, None).0.cooldown.unwrap().until,
            NOW + 20_000
        );
        let o = Outcome::Status {
            status: 429,
            retry_after_ms: Some(443_300_000),
            reset_at: None,
        };
        assert_eq!(
            run(Platform::OpenAi, o, None).0.cooldown.unwrap().until,
            NOW + 1_800_000
        );
        let o = Outcome::Status {
            status: 503,
            retry_after_ms: Some(600_000),
            reset_at: None,
        };
        assert_eq!(
            run(Platform::OpenAi, o, None).0.cooldown.unwrap().until,
            NOW + 600_000
        );
    }

    #[test]
    fn claude_429_with_reset_limits_only_the_model_family() {
        let o = Outcome::Status {
            status: 429,
            retry_after_ms: None,
            reset_at: Some(NOW + 3_600_000),
        };
        let (h, c) = run(Platform::Claude, o, Some("claude-opus-4-8"));
        assert_eq!(
            c,
            HealthChange::FamilyLimited {
                family: ModelFamily::Opus,
                until: NOW + 3_600_000
            }
        );
        assert!(h.cooldown.is_none());
        assert_eq!(h.blocked_until(Some(ModelFamily::Sonnet), NOW), None);
        assert_eq!(
            h.blocked_until(Some(ModelFamily::Opus), NOW),
            Some(NOW + 3_600_000)
        );
        // Without a family (or on another platform) the whole account cools down until the reset.
        let (h, _) = run(Platform::Claude, o, Some("claude-2"));
        assert_eq!(h.cooldown.unwrap().until, NOW + 1_800_000, "capped");
        let (h, _) = run(Platform::OpenAi, o, Some("opus-like"));
        assert!(h.cooldown.is_some() && h.family_limits.is_empty());
    }

    #[test]
    fn success_clears_only_expired_state() {
        let mut h = Health::default();
        let s = CooldownSettings::default();
        apply_outcome(&mut h, Platform::Claude, status(529), None, NOW, &s);
        assert_eq!(
            apply_outcome(&mut h, Platform::Claude, Outcome::Success, None, NOW + 1, &s),
            HealthChange::Unchanged
        );
        assert!(h.cooldown.is_some());
        assert_eq!(
            apply_outcome(
                &mut h,
                Platform::Claude,
                Outcome::Success,
                None,
                NOW + 600_000,
                &s
            ),
            HealthChange::Cleared
        );
        assert!(h.is_clear());
    }

    #[test]
    fn a_longer_running_cooldown_is_kept() {
        let mut h = Health::default();
        let s = CooldownSettings::default();
        apply_outcome(&mut h, Platform::Claude, status(401), None, NOW, &s);
        apply_outcome(&mut h, Platform::Claude, status(503), None, NOW, &s);
        assert_eq!(h.cooldown.unwrap().reason, CooldownReason::AuthError);
    }
}
