//! The queue of requests waiting for an account slot when every eligible account is full.
//!
//! One FIFO over all platforms (each entry knows its platform). A freed slot of a platform wakes
//! the oldest waiter of that platform not already woken; the waiter retries its own selection
//! (so priorities hold: it takes the best account free at that moment). A waiter whose retry
//! finds nothing keeps its place and passes the wake to the next waiter behind it, so a slot of
//! an account the oldest waiter cannot use (another group, a dedicated account) still reaches a
//! waiter that can. A waiter that leaves (served elsewhere, timed out, client gone) with a wake
//! it did not use passes it on in `Drop`: a wake is never lost.
//!
//! Ordering guaranteed: per platform, wakes go out in arrival order; while a wake is in flight
//! (a woken waiter has not finished its retry), newcomers of that platform queue behind instead
//! of trying, so they cannot take the slot earmarked for it (a newcomer whose accounts are free
//! may then wait for a wake or the re-check, `scheduler.wait_recheck_ms`). Not guaranteed: a
//! slot freed on another instance of a Redis pool can be taken by that instance's newcomer
//! before the notice arrives; the waiter then keeps its place.
//!
//! Cost: a wake whose slot was taken before the woken waiter got to it travels down the queue,
//! one selection per waiter, until someone uses it or the queue ends.
use crate::domain::{AccountId, Platform};
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::sync::Notify;

/// Why a request stopped waiting without a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitRefusal {
    /// `scheduler.max_waiters` requests of the platform were already waiting.
    QueueFull,
    /// No slot came free within `scheduler.slot_wait_ms`.
    Timeout,
}

impl WaitRefusal {
    /// Stable snake_case name for metrics and error bodies.
    pub fn as_str(self) -> &'static str {
        match self {
            WaitRefusal::QueueFull => "queue_full",
            WaitRefusal::Timeout => "timeout",
        }
    }
}

struct Entry {
    seq: u64,
    platform: Platform,
    notify: Arc<Notify>,
    /// The account whose freed slot woke this waiter, until it has used or passed it on.
    woken_by: Option<AccountId>,
}

#[derive(Default)]
struct Inner {
    next_seq: u64,
    queue: VecDeque<Entry>,
    /// Waiters per platform (indexed by [`platform_index`]).
    waiting: [usize; 3],
    /// Waiters per platform holding an unused wake.
    earmarked: [usize; 3],
}

impl Inner {
    /// Wakes the oldest waiter of `platform` behind `after` that holds no wake yet.
    fn wake(&mut self, platform: Platform, account: &AccountId, after: Option<u64>) -> bool {
        let target = self
            .queue
            .iter_mut()
            .find(|e| e.platform == platform && e.woken_by.is_none() && after.is_none_or(|seq| e.seq > seq));
        let Some(entry) = target else {
            return false;
        };
        entry.woken_by = Some(account.clone());
        entry.notify.notify_one();
        self.earmarked[platform_index(platform)] += 1;
        true
    }

    fn position(&self, seq: u64) -> Option<usize> {
        self.queue.iter().position(|e| e.seq == seq)
    }
}

fn platform_index(p: Platform) -> usize {
    match p {
        Platform::Claude => 0,
        Platform::Gemini => 1,
        Platform::OpenAi => 2,
    }
}

/// The waiters of one scheduling core (shared by every handle and the pool view).
#[derive(Default)]
pub struct SlotWaiters {
    inner: Mutex<Inner>,
}

impl SlotWaiters {
    /// Requests of `platform` waiting right now.
    pub fn waiting(&self, platform: Platform) -> usize {
        self.inner.lock().waiting[platform_index(platform)]
    }

    /// Whether a freed slot of `platform` is earmarked for a waiter: a newcomer then queues.
    pub fn wake_in_flight(&self, platform: Platform) -> bool {
        self.inner.lock().earmarked[platform_index(platform)] > 0
    }

    /// A slot of `account` (of `platform`) was freed: wake the oldest waiter of the platform.
    pub fn slot_freed(&self, platform: Platform, account: &AccountId) {
        let mut inner = self.inner.lock();
        if inner.waiting[platform_index(platform)] > 0 {
            inner.wake(platform, account, None);
        }
    }

    /// Joins the back of the queue, unless `max` requests of the platform already wait.
    pub fn join(self: &Arc<Self>, platform: Platform, max: usize) -> Result<Ticket, WaitRefusal> {
        let mut inner = self.inner.lock();
        let i = platform_index(platform);
        if inner.waiting[i] >= max {
            return Err(WaitRefusal::QueueFull);
        }
        inner.next_seq += 1;
        let seq = inner.next_seq;
        let notify = Arc::new(Notify::new());
        inner.queue.push_back(Entry {
            seq,
            platform,
            notify: notify.clone(),
            woken_by: None,
        });
        inner.waiting[i] += 1;
        Ok(Ticket {
            waiters: self.clone(),
            seq,
            platform,
            notify,
        })
    }
}

/// One request's place in the queue; dropping it leaves the queue (a held wake passes on).
pub struct Ticket {
    waiters: Arc<SlotWaiters>,
    seq: u64,
    platform: Platform,
    notify: Arc<Notify>,
}

impl Ticket {
    /// Resolves when this waiter is woken (a wake that came while it was busy is kept).
    pub async fn woken(&self) {
        self.notify.notified().await
    }

    /// The retry after a wake found no slot: keep the place, hand the wake to the next waiter
    /// (the slot may suit its selection, not ours).
    pub fn retry_failed(&self) {
        let mut inner = self.waiters.inner.lock();
        let Some(pos) = inner.position(self.seq) else {
            return;
        };
        if let Some(account) = inner.queue[pos].woken_by.take() {
            inner.earmarked[platform_index(self.platform)] -= 1;
            inner.wake(self.platform, &account, Some(self.seq));
        }
    }

    /// The retry got a slot of `account`: leave the queue. A wake for another account's slot
    /// was not used and passes on.
    pub fn served(self, account: &AccountId) {
        let mut inner = self.waiters.inner.lock();
        if let Some(pos) = inner.position(self.seq)
            && inner.queue[pos].woken_by.as_ref() == Some(account)
        {
            inner.queue[pos].woken_by = None;
            inner.earmarked[platform_index(self.platform)] -= 1;
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut inner = self.waiters.inner.lock();
        let Some(pos) = inner.position(self.seq) else {
            return;
        };
        let Some(entry) = inner.queue.remove(pos) else {
            return;
        };
        let i = platform_index(self.platform);
        inner.waiting[i] -= 1;
        if let Some(account) = entry.woken_by {
            inner.earmarked[i] -= 1;
            inner.wake(self.platform, &account, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> AccountId {
        AccountId::from(s)
    }

    #[tokio::test]
    async fn wakes_go_out_in_arrival_order_and_unused_wakes_pass_on() {
        let w = Arc::new(SlotWaiters::default());
        let a = w.join(Platform::Claude, 10).unwrap();
        let b = w.join(Platform::Claude, 10).unwrap();
        w.slot_freed(Platform::Claude, &id("x"));
        assert!(w.wake_in_flight(Platform::Claude));
        a.woken().await;
        // `a` could not use it: `b` gets it.
        a.retry_failed();
        b.woken().await;
        // `b` leaves without using it: `a` (the only one left) gets it.
        drop(b);
        a.woken().await;
        a.served(&id("x"));
        assert!(!w.wake_in_flight(Platform::Claude), "the wake was used");
        assert_eq!(w.waiting(Platform::Claude), 0, "served waiters leave the queue");
    }

    #[test]
    fn the_queue_is_bounded_per_platform() {
        let w = Arc::new(SlotWaiters::default());
        let _a = w.join(Platform::Claude, 1).unwrap();
        assert_eq!(w.join(Platform::Claude, 1).err(), Some(WaitRefusal::QueueFull));
        assert!(w.join(Platform::Gemini, 1).is_ok());
    }
}
