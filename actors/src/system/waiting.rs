//! [`Scheduling::select_waiting`]: a selection that, when every eligible account is full, waits
//! in the [`SlotWaiters`](crate::wait_queue::SlotWaiters) queue for a freed slot instead of
//! failing. Accounts cooling down are never waited on: when they are all that is left, the
//! selection answers `AllCoolingDown` at once.
use super::Scheduling;
use crate::scheduler::{NoAccount, SelectAccount, SelectError, Selection};
use crate::wait_queue::Ticket;
use std::time::{Duration, Instant};

/// Answers that mean "full now, a slot will come back": worth waiting for.
fn is_full(r: &Result<Selection, SelectError>) -> bool {
    matches!(
        r,
        Err(SelectError::NoAccount(
            NoAccount::AllFull
                | NoAccount::DedicatedUnavailable {
                    reason: crate::scheduler::DedicatedReason::Full,
                    ..
                }
        ))
    )
}

impl Scheduling {
    /// Requests of `platform` waiting for a slot on this instance.
    pub fn waiters(&self, platform: crate::domain::Platform) -> usize {
        self.core.view.waiters.waiting(platform)
    }

    /// Like [`Scheduling::select`], but when every eligible account is at its concurrency limit
    /// the request joins the platform's queue and retries when a slot is freed (or every
    /// `scheduler.wait_recheck_ms`), until `scheduler.slot_wait_ms` has passed:
    /// [`SelectError::Busy`] then, or at once when `scheduler.max_waiters` already wait.
    /// Dropping the future (the client went away) leaves the queue at once.
    ///
    /// Soft stickiness: for `scheduler.sticky_wait_ms` a session bound to an eligible account
    /// waits for that account only (see [`SelectAccount::hold_session`]), then may move.
    pub async fn select_waiting(&self, req: SelectAccount) -> Result<Selection, SelectError> {
        let waiters = &self.core.view.waiters;
        let knobs = &self.core.settings.scheduler;
        let platform = req.platform;
        let started = Instant::now();
        let sticky_until = (req.session.is_some() && knobs.sticky_wait_ms > 0)
            .then(|| started + Duration::from_millis(knobs.sticky_wait_ms));
        let select = |req: &SelectAccount| {
            let mut req = req.clone();
            req.hold_session = sticky_until.is_some_and(|until| Instant::now() < until);
            self.select(req)
        };
        // A slot earmarked for a waiter is not ours to take: queue behind it.
        let mut try_now = !waiters.wake_in_flight(platform);
        if try_now {
            let first = select(&req).await;
            if !is_full(&first) {
                return first;
            }
        }
        let deadline = started + Duration::from_millis(knobs.slot_wait_ms);
        let recheck = Duration::from_millis(knobs.wait_recheck_ms.max(1));
        let ticket: Ticket = waiters
            .join(platform, knobs.max_waiters)
            .map_err(|refusal| SelectError::Busy { refusal })?;
        loop {
            if try_now {
                // The first pass re-checks right after joining: a slot freed between the
                // failed attempt and joining woke nobody.
                let got = select(&req).await;
                match got {
                    Ok(mut selection) => {
                        ticket.served(&selection.account.id);
                        selection.waited = Some(started.elapsed());
                        return Ok(selection);
                    }
                    full if is_full(&full) => ticket.retry_failed(),
                    other => return other,
                }
            }
            try_now = true;
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(SelectError::Busy {
                    refusal: crate::wait_queue::WaitRefusal::Timeout,
                });
            }
            // Holding a session: wake when the hold ends, to try the other accounts.
            let hold_left = sticky_until
                .map(|until| until.saturating_duration_since(Instant::now()))
                .filter(|d| !d.is_zero())
                .unwrap_or(recheck);
            let _ = tokio::time::timeout(recheck.min(left).min(hold_left), ticket.woken()).await;
        }
    }
}
