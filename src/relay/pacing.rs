//! Per-account pacing of real user turns (reference §3.4): on a paced account one user turn
//! at a time, each starting at least `min_gap_ms` after the previous one was released. A turn
//! holds its account's gate from just before its upstream request until the upstream's
//! answer headers arrive (stream) or its whole answer is read (non-stream); tool-result turns
//! never queue. The gap is counted from the previous release, not its start: one turn at a
//! time already spaces starts by the whole answer time, and an account that answered slowly
//! should still rest `min_gap_ms` before the next prompt, as the reference does.
//!
//! This gate is per instance: waiters queue in FIFO order (a tokio mutex is fair), a waiter
//! whose client leaves drops its place (the future is dropped), and the held turn is released
//! by [`Turn`]'s `Drop` whatever ends the request, or after `lock_ttl_ms` at the latest.
//!
//! Several instances on one Redis also share a gate in the store (`SlotStore::pacing_take`):
//! the head of each instance's queue asks for it until it is free, so turns across instances
//! are one at a time with the gap, but not in arrival order (no instance is starved: the gate
//! is free whenever no one holds it, and any instance's head may take it). A store that does
//! not answer lets the turn through: pacing lowers a risk, it must not stop the relay.
use crate::metrics::Metrics;
use crate::settings::PacingSettings;
use crate::state::AppState;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchyard_actors::store::PacingTake;
use switchyard_actors::{Account, AccountId};
use tokio::sync::OwnedMutexGuard;

/// What one account's gate remembers between turns.
#[derive(Debug, Default)]
struct GateState {
    /// When the last turn was released (`None`: no turn yet on this instance).
    released_at: Option<Instant>,
}

/// Every paced account's gate on this instance; shared by all workers. Holds one small entry
/// per account that ever took a user turn (accounts are few and operator-made).
#[derive(Debug, Default)]
pub struct PacingGates {
    gates: Mutex<HashMap<AccountId, Arc<tokio::sync::Mutex<GateState>>>>,
}

/// How an account is paced, the global `[pacing]` settings under its own override.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    pub min_gap: Duration,
    pub wait: Duration,
    pub lock_ttl: Duration,
}

impl Rules {
    /// `None` when the account does not pace user turns.
    pub fn for_account(account: &Account, settings: &PacingSettings) -> Option<Rules> {
        let on = account.pacing.user_turns.unwrap_or(settings.user_turns);
        on.then(|| Rules {
            min_gap: Duration::from_millis(account.pacing.min_gap_ms.unwrap_or(settings.min_gap_ms)),
            wait: Duration::from_millis(settings.wait_ms),
            lock_ttl: Duration::from_millis(settings.lock_ttl_ms),
        })
    }
}

/// How the store's gate is given back: which account, by which holder.
struct Shared {
    store: Arc<dyn switchyard_actors::Store>,
    clock: switchyard_actors::clock::SharedClock,
    account: AccountId,
    holder: String,
    keep_ms: i64,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("account", &self.account).finish()
    }
}

type Held = Arc<Mutex<Option<(OwnedMutexGuard<GateState>, Shared)>>>;

/// How often the head of an instance's queue asks the store again at most (the store's answer
/// says when the gate should be free; this bounds the wait for a holder that releases early).
const STORE_RECHECK: Duration = Duration::from_millis(50);

/// The account's gate, held by one user turn; released (and the release time noted for the
/// gap) when dropped, or after `lock_ttl` whatever the request is doing, so a stuck answer
/// cannot hold the account's user turns for good.
#[derive(Debug)]
pub struct Turn {
    held: Held,
    expiry: tokio::task::JoinHandle<()>,
}

fn release(held: &Held) {
    let Some((mut guard, shared)) = held.lock().take() else {
        return;
    };
    guard.released_at = Some(Instant::now());
    // The next local turn may start at once; other instances see the store's gate freed a
    // round trip later.
    actix_web::rt::spawn(async move {
        let now = shared.clock.now_ms();
        if let Err(e) = shared
            .store
            .pacing_release(&shared.account, &shared.holder, shared.keep_ms, now)
            .await
        {
            tracing::warn!(account = %shared.account, error = %e, "releasing a paced turn in the store failed; it expires by itself");
        }
    });
}

impl Turn {
    fn new(guard: OwnedMutexGuard<GateState>, shared: Shared, ttl: Duration) -> Turn {
        let held: Held = Arc::new(Mutex::new(Some((guard, shared))));
        let timer = held.clone();
        let expiry = actix_web::rt::spawn(async move {
            tokio::time::sleep(ttl).await;
            release(&timer);
        });
        Turn { held, expiry }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.expiry.abort();
        release(&self.held);
    }
}

/// The wait did not end in a turn within `wait`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimedOut;

/// Counts a wait that ended without a result (its client left) when dropped unfinished.
struct Waiting<'a> {
    metrics: &'a Metrics,
    done: bool,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.metrics.pacing_waits.with_label_values(&["left"]).inc();
        }
    }
}

impl PacingGates {
    fn gate(&self, account: &AccountId) -> Arc<tokio::sync::Mutex<GateState>> {
        self.gates.lock().entry(account.clone()).or_default().clone()
    }

    /// Waits (FIFO) for `account`'s gate on this instance, for the gap after the previous turn,
    /// then for the store's gate (other instances), at most `rules.wait` in all. Dropping the
    /// future leaves the queue.
    pub async fn take(&self, state: &AppState, account: &AccountId, rules: Rules) -> Result<Turn, TimedOut> {
        let metrics: &Metrics = &state.metrics;
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + rules.wait;
        let mut waiting = Waiting { metrics, done: false };
        let gate = self.gate(account);
        let taken = match gate.clone().try_lock_owned() {
            Ok(g) => Ok(g),
            Err(_) => tokio::time::timeout_at(deadline, gate.lock_owned()).await,
        };
        let Ok(guard) = taken else {
            waiting.done = true;
            metrics.pacing_waits.with_label_values(&["timeout"]).inc();
            return Err(TimedOut);
        };
        // Holding the gate while the gap runs keeps the queue's order.
        if let Some(ready) = guard.released_at.map(|r| r + rules.min_gap)
            && ready > Instant::now()
        {
            // A gap that ends past the deadline is refused now: sleeping on it would only
            // hold up the turns queued behind.
            if tokio::time::Instant::from_std(ready) > deadline {
                waiting.done = true;
                metrics.pacing_waits.with_label_values(&["timeout"]).inc();
                return Err(TimedOut);
            }
            tokio::time::sleep_until(tokio::time::Instant::from_std(ready)).await;
        }
        let shared = Shared {
            store: state.store.clone(),
            clock: state.clock.clone(),
            account: account.clone(),
            holder: crate::routes::admin::new_id(),
            keep_ms: rules.min_gap.as_millis() as i64 + 1_000,
        };
        let (gap_ms, ttl_ms) = (
            rules.min_gap.as_millis() as i64,
            rules.lock_ttl.as_millis() as i64,
        );
        loop {
            let now = state.clock.now_ms();
            match state
                .store
                .pacing_take(account, &shared.holder, gap_ms, ttl_ms, now)
                .await
            {
                Ok(PacingTake::Taken) => break,
                Ok(PacingTake::Busy { retry_in_ms }) => {
                    let pause = Duration::from_millis(retry_in_ms.max(1) as u64).min(STORE_RECHECK);
                    let next = tokio::time::Instant::now() + pause;
                    if next > deadline {
                        waiting.done = true;
                        metrics.pacing_waits.with_label_values(&["timeout"]).inc();
                        return Err(TimedOut);
                    }
                    tokio::time::sleep_until(next).await;
                }
                Err(e) => {
                    tracing::warn!(account = %account, error = %e, "the store's pacing gate did not answer; the turn goes ahead");
                    break;
                }
            }
        }
        waiting.done = true;
        let waited = started.elapsed();
        let result = if waited >= Duration::from_millis(1) {
            "waited"
        } else {
            "immediate"
        };
        metrics.pacing_waits.with_label_values(&[result]).inc();
        metrics.pacing_wait_seconds.observe(waited.as_secs_f64());
        Ok(Turn::new(guard, shared, rules.lock_ttl))
    }
}
