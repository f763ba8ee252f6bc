//! The pool announces account state changes to the registered sink: a cooldown once (not per
//! failure while it runs), a family limit, its end by a timer (no polling), and accounts an
//! operator or the upstream takes out of service.
mod support;

use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;
use support::*;
use switchyard_actors::pool::{AccountChange, AccountEvent, AccountEventSink, Outcome};
use switchyard_actors::store::AccountPatch;
use switchyard_actors::{AccountStatus, CooldownReason, ModelFamily};

#[derive(Default)]
struct Collect(Mutex<Vec<AccountEvent>>);

impl AccountEventSink for Collect {
    fn account_event(&self, event: AccountEvent) {
        self.0.lock().push(event);
    }
}

impl Collect {
    fn changes(&self) -> Vec<(String, AccountChange)> {
        self.0
            .lock()
            .iter()
            .map(|e| (e.account.to_string(), e.change))
            .collect()
    }
}

async fn harness() -> (Harness, Arc<Collect>) {
    let h = start().await;
    let events = Arc::new(Collect::default());
    assert!(h.scheduling.on_account_events(events.clone()));
    assert!(
        !h.scheduling.on_account_events(events.clone()),
        "one sink per core"
    );
    let t = h.now();
    h.add([claude("a", t), claude("b", t)]).await;
    (h, events)
}

#[actix_rt::test]
async fn a_cooldown_is_announced_once_and_its_end_by_a_timer() {
    let (h, events) = harness().await;
    let retry = Outcome::Status {
        status: 429,
        retry_after_ms: Some(150),
        reset_at: None,
    };
    let now = h.now();
    h.mark("a", retry, None).await;
    h.mark("a", retry, None).await;
    assert_eq!(
        events.changes(),
        [(
            "a".to_owned(),
            AccountChange::CooledDown {
                reason: CooldownReason::RateLimit,
                status: 429,
                until: now + 150
            }
        )],
        "a second failure of the same kind during the cooldown is no news"
    );
    // The timer fires after 150 ms of real time; the manual clock says the cooldown is over.
    h.clock.advance_ms(150);
    eventually("the recovery is announced", async || events.changes().len() == 2).await;
    assert_eq!(events.changes()[1], ("a".to_owned(), AccountChange::Recovered));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(events.changes().len(), 2, "one recovery");
}

#[actix_rt::test]
async fn a_recovery_waits_for_a_longer_cooldown_that_took_over() {
    let (h, events) = harness().await;
    let short = Outcome::Status {
        status: 503,
        retry_after_ms: Some(50),
        reset_at: None,
    };
    h.mark("a", short, None).await;
    h.mark("a", status(401), None).await;
    assert_eq!(
        events.changes().len(),
        2,
        "a new reason is news: {:?}",
        events.changes()
    );
    h.clock.advance_ms(50);
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(
        events.changes().len(),
        2,
        "still cooling for the 401: {:?}",
        events.changes()
    );
}

#[actix_rt::test]
async fn a_family_limit_and_accounts_taken_out_of_service_are_announced() {
    let (h, events) = harness().await;
    let reset = h.now() + 60_000;
    let limited = Outcome::Status {
        status: 429,
        retry_after_ms: None,
        reset_at: Some(reset),
    };
    h.mark("a", limited, Some("claude-opus-4-8")).await;
    h.patch(
        "b",
        AccountPatch {
            schedulable: Some(false),
            ..Default::default()
        },
    )
    .await;
    h.patch(
        "a",
        AccountPatch {
            status: Some(AccountStatus::Unauthorized),
            ..Default::default()
        },
    )
    .await;
    // Patching something else changes nothing worth announcing.
    h.patch(
        "a",
        AccountPatch {
            priority: Some(7),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        events.changes(),
        [
            (
                "a".to_owned(),
                AccountChange::FamilyLimited {
                    family: ModelFamily::Opus,
                    until: reset
                }
            ),
            ("b".to_owned(), AccountChange::Disabled),
            (
                "a".to_owned(),
                AccountChange::StatusChanged {
                    status: AccountStatus::Unauthorized
                }
            ),
        ]
    );
}
