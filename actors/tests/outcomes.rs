//! `mark_outcome` through the pool actor (§7.1): each failure class starts its cooldown, the
//! account is skipped until it ends by itself, family limits, success, retry-after.
mod support;

use support::*;
use switchyard_actors::pool::{HealthChange, Outcome};
use switchyard_actors::{CooldownReason, ModelFamily, NoAccount, Platform, SelectAccount};

/// `sick` ranks first; `spare` serves while `sick` cools down.
async fn sick_and_spare(platform: Platform) -> Harness {
    let h = start().await;
    let t = h.now();
    let make = match platform {
        Platform::Claude => claude,
        Platform::Gemini => gemini,
        Platform::OpenAi => openai,
    };
    let mut sick = make("sick", t);
    sick.priority = 1;
    h.add([sick, make("spare", t)]).await;
    h
}

#[actix_rt::test]
async fn each_failure_class_starts_its_cooldown_and_the_account_is_skipped_until_it_ends() {
    let cases = [
        (status(429), CooldownReason::RateLimit, 300),
        (status(529), CooldownReason::Overload, 600),
        (status(503), CooldownReason::ServiceUnavailable, 60),
        (status(504), CooldownReason::Timeout, 300),
        (status(401), CooldownReason::AuthError, 1_800),
        (status(403), CooldownReason::AuthError, 1_800),
        (status(500), CooldownReason::ServerError, 300),
        (status(502), CooldownReason::ServerError, 300),
        (Outcome::ConnectError, CooldownReason::ConnectError, 60),
        (Outcome::Timeout, CooldownReason::Timeout, 300),
    ];
    let h = sick_and_spare(Platform::Claude).await;
    for (outcome, reason, secs) in cases {
        let now = h.now();
        let change = h.mark("sick", outcome, None).await;
        let until = now + secs * 1_000;
        assert_eq!(change, HealthChange::CooledDown { reason, until }, "{outcome:?}");
        assert_eq!(h.pick(claude_req()).await, "spare", "{outcome:?}");
        h.clock.advance_ms(secs * 1_000 - 1);
        assert_eq!(
            h.pick(claude_req()).await,
            "spare",
            "{outcome:?}: still cooling 1 ms before the end"
        );
        // No message, no reload: the published cooldown simply stops applying.
        h.clock.advance_ms(1);
        assert_eq!(h.pick(claude_req()).await, "sick", "{outcome:?}: back by itself");
    }
}

#[actix_rt::test]
async fn statuses_that_are_the_clients_fault_change_nothing() {
    let h = sick_and_spare(Platform::Claude).await;
    for code in [400, 404, 413, 422] {
        assert_eq!(
            h.mark("sick", status(code), None).await,
            HealthChange::Unchanged,
            "{code}"
        );
        assert_eq!(h.pick(claude_req()).await, "sick", "{code}");
    }
    assert_eq!(h.stored_health("sick").await, None);
}

#[actix_rt::test]
async fn a_cooldown_is_written_to_the_store() {
    let h = sick_and_spare(Platform::Gemini).await;
    let now = h.now();
    h.mark("sick", status(529), None).await;
    eventually("the cooldown reaches the store", async || {
        h.stored_health("sick")
            .await
            .and_then(|health| health.cooldown)
            .is_some_and(|c| c.until == now + 600_000 && c.status == 529)
    })
    .await;
}

#[actix_rt::test]
async fn a_claude_429_with_a_reset_time_limits_only_the_requested_family() {
    let h = sick_and_spare(Platform::Claude).await;
    let reset = h.now() + 3_600_000;
    let limit = Outcome::Status {
        status: 429,
        retry_after_ms: None,
        reset_at: Some(reset),
    };
    assert_eq!(
        h.mark("sick", limit, Some("claude-opus-4-8")).await,
        HealthChange::FamilyLimited {
            family: ModelFamily::Opus,
            until: reset
        }
    );
    assert_eq!(h.pick(claude_req().model("claude-opus-4-8")).await, "spare");
    assert_eq!(h.pick(claude_req().model("claude-sonnet-5")).await, "sick");
    h.clock.advance_ms(3_600_000);
    assert_eq!(
        h.pick(claude_req().model("claude-opus-4-8")).await,
        "sick",
        "the family limit ends at the reset time"
    );
}

#[actix_rt::test]
async fn a_429_with_a_reset_time_but_no_family_cools_the_whole_account() {
    let h = sick_and_spare(Platform::Claude).await;
    let now = h.now();
    let limit = Outcome::Status {
        status: 429,
        retry_after_ms: None,
        reset_at: Some(now + 120_000),
    };
    assert_eq!(
        h.mark("sick", limit, Some("claude-2")).await,
        HealthChange::CooledDown {
            reason: CooldownReason::RateLimit,
            until: now + 120_000
        }
    );
    assert_eq!(h.pick(claude_req().model("claude-sonnet-5")).await, "spare");
}

#[actix_rt::test]
async fn a_429_with_a_reset_time_on_another_platform_cools_the_whole_account() {
    let h = sick_and_spare(Platform::OpenAi).await;
    let now = h.now();
    let limit = Outcome::Status {
        status: 429,
        retry_after_ms: None,
        reset_at: Some(now + 90_000),
    };
    let change = h.mark("sick", limit, Some("opus-like")).await;
    assert_eq!(
        change,
        HealthChange::CooledDown {
            reason: CooldownReason::RateLimit,
            until: now + 90_000
        }
    );
    assert_eq!(h.pick(SelectAccount::new(Platform::OpenAi)).await, "spare");
}

#[actix_rt::test]
async fn success_clears_expired_state_and_only_expired_state() {
    let h = sick_and_spare(Platform::Claude).await;
    h.mark("sick", status(503), None).await;
    assert_eq!(
        h.mark("sick", Outcome::Success, None).await,
        HealthChange::Unchanged,
        "a success elsewhere does not lift a running cooldown"
    );
    assert_eq!(h.pick(claude_req()).await, "spare");
    h.clock.advance_ms(60_000);
    assert_eq!(
        h.mark("sick", Outcome::Success, None).await,
        HealthChange::Cleared
    );
    eventually("the cleared health leaves the store", async || {
        h.stored_health("sick").await.is_none()
    })
    .await;
    assert_eq!(h.pick(claude_req()).await, "sick");
    assert_eq!(
        h.mark("sick", Outcome::Success, None).await,
        HealthChange::Unchanged
    );
}

#[actix_rt::test]
async fn retry_after_replaces_the_default_and_is_capped() {
    let h = sick_and_spare(Platform::Claude).await;
    let now = h.now();
    let honoured = Outcome::Status {
        status: 429,
        retry_after_ms: Some(20_000),
        reset_at: None,
    };
    assert_eq!(
        h.mark("sick", honoured, None).await,
        HealthChange::CooledDown {
            reason: CooldownReason::RateLimit,
            until: now + 20_000
        }
    );
    h.clock.advance_ms(20_000);
    assert_eq!(h.pick(claude_req()).await, "sick", "20 s, not the 300 s default");

    let now = h.now();
    let huge = Outcome::Status {
        status: 503,
        retry_after_ms: Some(443_300_000),
        reset_at: None,
    };
    let cap = h.scheduling.settings().cooldowns.max_custom_secs as i64 * 1_000;
    assert_eq!(
        h.mark("sick", huge, None).await,
        HealthChange::CooledDown {
            reason: CooldownReason::ServiceUnavailable,
            until: now + cap
        }
    );
    h.clock.advance_ms(cap - 1);
    assert_eq!(h.pick(claude_req()).await, "spare");
    h.clock.advance_ms(1);
    assert_eq!(h.pick(claude_req()).await, "sick");
}

#[actix_rt::test]
async fn a_longer_running_cooldown_is_not_shortened() {
    let h = sick_and_spare(Platform::Claude).await;
    let now = h.now();
    h.mark("sick", status(401), None).await;
    assert_eq!(
        h.mark("sick", status(503), None).await,
        HealthChange::CooledDown {
            reason: CooldownReason::AuthError,
            until: now + 1_800_000
        }
    );
    h.clock.advance_ms(60_000);
    assert_eq!(h.pick(claude_req()).await, "spare");
}

#[actix_rt::test]
async fn marking_an_unknown_account_changes_nothing() {
    let h = sick_and_spare(Platform::Claude).await;
    assert_eq!(h.mark("ghost", status(529), None).await, HealthChange::Unchanged);
    assert_eq!(h.pick(claude_req()).await, "sick");
    assert!(!matches!(
        h.select(claude_req()).await,
        Err(switchyard_actors::SelectError::NoAccount(
            NoAccount::AllCoolingDown { .. }
        ))
    ));
}

#[actix_rt::test]
async fn a_periodic_refresh_does_not_undo_a_cooldown_still_being_written() {
    let store = HookedStore::new(usize::MAX);
    let mut settings = quiet_settings();
    settings.scheduler.refresh_ms = 10;
    let h = start_on(
        store.clone() as std::sync::Arc<dyn switchyard_actors::Store>,
        settings,
        None,
    )
    .await;
    let t = h.now();
    let mut sick = claude("sick", t);
    sick.priority = 1;
    h.add([sick, claude("spare", t)]).await;

    // The store is slow to take the write; refreshes meanwhile read the old health.
    store.hold_health_writes();
    h.mark("sick", status(529), None).await;
    for _ in 0..10 {
        actix_rt::time::sleep(std::time::Duration::from_millis(10)).await;
        assert_eq!(
            h.pick(claude_req()).await,
            "spare",
            "the cooldown holds while its write is in flight"
        );
    }
    store.open_health_writes();
    eventually("the cooldown reaches the store", async || {
        h.stored_health("sick").await.is_some()
    })
    .await;
    actix_rt::time::sleep(std::time::Duration::from_millis(30)).await;
    assert_eq!(h.pick(claude_req()).await, "spare");
}
