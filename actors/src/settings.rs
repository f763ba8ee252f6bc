//! Knobs of the scheduling core. The server reads them from `settings.toml`
//! (`[actors.*]`, `[scheduler]`, `[cooldowns]`); every field has a default.
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Mailbox and send timeout of one actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ActorKnobs {
    /// Messages that may wait in the mailbox before senders are held back.
    pub mailbox_capacity: usize,
    /// How long a caller waits for the actor (queueing included) before giving up with a
    /// typed timeout error.
    pub send_timeout_ms: u64,
}

impl Default for ActorKnobs {
    fn default() -> Self {
        Self {
            mailbox_capacity: 1024,
            send_timeout_ms: 2_000,
        }
    }
}

impl ActorKnobs {
    pub fn send_timeout(&self) -> Duration {
        Duration::from_millis(self.send_timeout_ms)
    }
}

/// `[actors.*]`: one entry per actor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ActorsSettings {
    pub pool: ActorKnobs,
    pub sticky: ActorKnobs,
    pub claude: ActorKnobs,
    pub gemini: ActorKnobs,
    pub openai: ActorKnobs,
}

/// `[scheduler]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchedulerSettings {
    /// How long a session stays bound to its account after its last request.
    pub sticky_ttl_secs: u64,
    /// Keys with a dedicated account fall back to the shared pool when it is unavailable
    /// (a key may override this).
    pub dedicated_fallback: bool,
    /// Lease lifetime in the store; live requests renew it, a crashed instance's expire.
    pub lease_ttl_secs: u64,
    pub lease_renew_secs: u64,
    /// How often the pool re-reads health and account changes from the store (other
    /// instances' writes).
    pub refresh_ms: u64,
    /// How often last-used times are written back (one batched write).
    pub last_used_flush_ms: u64,
    /// How often expired leases and sticky bindings are swept.
    pub sweep_secs: u64,
    /// Session bindings kept at most (each a few dozen bytes in the store). When full, binding
    /// a new session forgets the least recently used ones; a request is never refused for it.
    pub max_sticky_bindings: u64,
    /// How long a request waits for a slot when every eligible account is full, before it is
    /// answered with the API's overload error.
    pub slot_wait_ms: u64,
    /// Requests that may wait for a slot at once, per platform; past it, an overload error at
    /// once.
    pub max_waiters: usize,
    /// A waiter retries its selection at least this often even when nothing woke it (a slot
    /// freed on another instance whose notice was lost, a cooldown that ended).
    pub wait_recheck_ms: u64,
    /// Soft stickiness: a session whose account is full waits this long for it before moving
    /// to another account (0: move at once). A cooling account is left at once.
    pub sticky_wait_ms: u64,
}

impl SchedulerSettings {
    /// `lease_ttl_secs` in milliseconds, as the store takes it.
    pub fn lease_ttl_ms(&self) -> i64 {
        (self.lease_ttl_secs as i64).saturating_mul(1_000)
    }

    /// How the store keeps session bindings.
    pub fn sticky_policy(&self) -> crate::store::StickyPolicy {
        crate::store::StickyPolicy {
            ttl_ms: (self.sticky_ttl_secs as i64).saturating_mul(1_000),
            max_bindings: self.max_sticky_bindings,
        }
    }
}

impl Default for SchedulerSettings {
    fn default() -> Self {
        Self {
            sticky_ttl_secs: 3_600,
            dedicated_fallback: false,
            lease_ttl_secs: 90,
            lease_renew_secs: 30,
            refresh_ms: 1_000,
            last_used_flush_ms: 1_000,
            sweep_secs: 60,
            max_sticky_bindings: 100_000,
            slot_wait_ms: 60_000,
            max_waiters: 1_000,
            wait_recheck_ms: 1_000,
            sticky_wait_ms: 3_000,
        }
    }
}

/// `[cooldowns]`: how long an account rests after each class of upstream failure (§7.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CooldownSettings {
    pub rate_limit_secs: u64,
    pub overload_secs: u64,
    pub service_unavailable_secs: u64,
    pub timeout_secs: u64,
    pub auth_error_secs: u64,
    pub server_error_secs: u64,
    pub connect_error_secs: u64,
    pub refresh_failed_secs: u64,
    /// Upper bound for a cooldown taken from `retry-after` / reset headers.
    pub max_custom_secs: u64,
    /// Upper bound for a per-model-family limit taken from a reset header.
    pub max_family_limit_secs: u64,
}

impl Default for CooldownSettings {
    fn default() -> Self {
        Self {
            rate_limit_secs: 300,
            overload_secs: 600,
            service_unavailable_secs: 60,
            timeout_secs: 300,
            auth_error_secs: 1_800,
            server_error_secs: 300,
            connect_error_secs: 60,
            refresh_failed_secs: 1_800,
            max_custom_secs: 1_800,
            max_family_limit_secs: 7 * 24 * 3_600,
        }
    }
}

/// Everything the scheduling core is started with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SchedulingSettings {
    pub actors: ActorsSettings,
    pub scheduler: SchedulerSettings,
    pub cooldowns: CooldownSettings,
}
