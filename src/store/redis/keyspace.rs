//! Every Redis key the store uses, in one place (documented in `docs/redis-keys.md`).
//!
//! Two hash tags, so the key design holds on Redis Cluster, where all keys of one script must
//! live in one slot:
//! - `{rec}`: account records, their index, groups, health and the records version. Scripts
//!   that write a record also bump the version and fix group memberships.
//! - `{sched}`: slot leases, their index and sticky bindings. `acquire_slot` reads a session
//!   binding and every candidate's leases in one script, so they must share a slot.
//!
//! - `{keys}`: API key hashes, the `hash → id` index, the id set and the keys version; a key
//!   write changes the record, the index and the version in one script.
//! - `{key:<id>}`: one API key's limit counters (window, total, day and week buckets) and its
//!   settlement batch markers, so the admission and settlement scripts touch one slot per key
//!   and keys spread over the cluster.
//! - `{usage}`: usage counters, their per-bucket index sets, usage batch markers and
//!   recent-request lists; one flush is one script, which needs one slot.
//!
//! The tags are constants (or derived from the key id only), so they are the same for any
//! prefix; a prefix that itself contains a `{...}` tag moves every key to that tag's slot,
//! which is still correct.

#[derive(Debug, Clone)]
pub struct Keyspace {
    prefix: String,
}

impl Keyspace {
    pub fn new(prefix: &str) -> Self {
        Keyspace {
            prefix: prefix.to_owned(),
        }
    }

    /// String: the holder of an account's user-turn gate (pacing), with a PX of
    /// `pacing.lock_ttl_ms`. Its own hash tag per account: pacing scripts touch one account.
    pub fn pacing_gate(&self, account: &str) -> String {
        format!("{}{{pacing:{account}}}:gate", self.prefix)
    }

    /// String: when the account's last user turn was released (unix ms).
    pub fn pacing_released(&self, account: &str) -> String {
        format!("{}{{pacing:{account}}}:released", self.prefix)
    }

    /// String: an alert (account and event kind) some instance sent within the dedup window,
    /// with the window as PX. Its own slot: one SET NX per alert.
    pub fn alert_claim(&self, name: &str) -> String {
        format!("{}{{alert:{name}}}", self.prefix)
    }

    /// Hash: one field per account attribute (`record::KNOWN_FIELDS`).
    pub fn account(&self, id: &str) -> String {
        format!("{}{{rec}}:account:{id}", self.prefix)
    }

    /// Set of account ids.
    pub fn account_index(&self) -> String {
        format!("{}{{rec}}:accounts", self.prefix)
    }

    /// Hash: group id → group JSON.
    pub fn groups(&self) -> String {
        format!("{}{{rec}}:groups", self.prefix)
    }

    /// Hash: account id → health JSON (absent = healthy).
    pub fn health(&self) -> String {
        format!("{}{{rec}}:health", self.prefix)
    }

    /// Counter bumped by every account or group write.
    pub fn records_version(&self) -> String {
        format!("{}{{rec}}:version", self.prefix)
    }

    /// A known plaintext sealed with the key of the first instance: later instances with another
    /// key refuse to start.
    pub fn key_check(&self) -> String {
        format!("{}{{rec}}:key-check", self.prefix)
    }

    /// Sorted set: lease id → expiry (unix ms).
    pub fn slots(&self, account: &str) -> String {
        format!("{}{{sched}}:slots:{account}", self.prefix)
    }

    /// Pub/sub channel (not a key): `{account} {lease}` for every freed account slot.
    pub fn slot_freed_channel(&self) -> String {
        format!("{}slot-freed", self.prefix)
    }

    /// Set of account ids that may have a slot sorted set (for counts and sweeps).
    pub fn slot_index(&self) -> String {
        format!("{}{{sched}}:slot-accounts", self.prefix)
    }

    /// Hash: session binding key (`<platform>:<API key id>:<session id>`) → bound account id.
    pub fn sticky_bindings(&self) -> String {
        format!("{}{{sched}}:sticky-bindings", self.prefix)
    }

    /// Sorted set: session binding key → its expiry (unix ms). Orders bindings by last use,
    /// so the least recently used go first when the store is full.
    pub fn sticky_expiry(&self) -> String {
        format!("{}{{sched}}:sticky-expiry", self.prefix)
    }

    /// Hash: one field per API key attribute (`api_key_record::KNOWN_FIELDS`).
    pub fn api_key(&self, id: &str) -> String {
        format!("{}{{keys}}:key:{id}", self.prefix)
    }

    /// Set of API key ids.
    pub fn api_key_index(&self) -> String {
        format!("{}{{keys}}:ids", self.prefix)
    }

    /// Hash: SHA-256 hex of a key → its id.
    pub fn api_key_hashes(&self) -> String {
        format!("{}{{keys}}:hashes", self.prefix)
    }

    /// Hash: legacy verifier name → its secret, sealed.
    pub fn legacy_verifiers(&self) -> String {
        format!("{}{{keys}}:legacy_verifiers", self.prefix)
    }

    /// Counter bumped by every API key write (not by a recorded use).
    pub fn keys_version(&self) -> String {
        format!("{}{{keys}}:version", self.prefix)
    }

    /// Hash: a key's window (`window_start`, `window_requests`, `window_tokens`,
    /// `window_cost`) and lifetime cost (`total_cost`); money in picodollars.
    pub fn limits(&self, key_id: &str) -> String {
        format!("{}{{key:{key_id}}}:limits", self.prefix)
    }

    /// String: a key's rated cost in one day bucket (picodollars), with a TTL.
    pub fn limit_day(&self, key_id: &str, day: &str) -> String {
        format!("{}{{key:{key_id}}}:day:{day}", self.prefix)
    }

    /// String: a key's rated cost in one weekly bucket (picodollars), with a TTL.
    pub fn limit_week(&self, key_id: &str, week: &str) -> String {
        format!("{}{{key:{key_id}}}:week:{week}", self.prefix)
    }

    /// String `1` with a TTL: this key's share of settlement batch `batch` was applied.
    pub fn settled(&self, key_id: &str, batch: &str) -> String {
        format!("{}{{key:{key_id}}}:settled:{batch}", self.prefix)
    }

    /// String `1` with a TTL: usage batch `batch` was applied.
    pub fn usage_batch(&self, batch: &str) -> String {
        format!("{}{{usage}}:batch:{batch}", self.prefix)
    }

    /// Hash: one usage counter per field for (dimension, bucket, id).
    pub fn usage(&self, dimension: &str, bucket: &str, id: &str) -> String {
        format!("{}{{usage}}:counters:{dimension}:{bucket}:{id}", self.prefix)
    }

    /// Set: the ids of `dimension` with usage in `bucket`.
    pub fn usage_index(&self, dimension: &str, bucket: &str) -> String {
        format!("{}{{usage}}:index:{dimension}:{bucket}", self.prefix)
    }

    /// List: a key's recent requests (JSON), newest first, capped.
    pub fn recent(&self, key_id: &str) -> String {
        format!("{}{{usage}}:recent:{key_id}", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cluster hash tag of a key: the first non-empty `{...}`, else the whole key.
    fn tag(key: &str) -> &str {
        if let Some(open) = key.find('{')
            && let Some(len) = key[open + 1..].find('}')
            && len > 0
        {
            return &key[open + 1..open + 1 + len];
        }
        key
    }

    #[test]
    fn keys_of_one_script_share_a_slot_for_any_prefix() {
        for prefix in ["switchyard:", "", "a{b}:", "x{", "}{"] {
            let k = Keyspace::new(prefix);
            let sched = [
                k.slots("a"),
                k.slots("b{c}"),
                k.sticky_bindings(),
                k.sticky_expiry(),
                k.slot_index(),
            ];
            assert!(
                sched.iter().all(|key| tag(key) == tag(&sched[0])),
                "{prefix}: {sched:?}"
            );
            let rec = [
                k.account("a"),
                k.account("z}"),
                k.account_index(),
                k.groups(),
                k.health(),
                k.records_version(),
                k.key_check(),
            ];
            assert!(
                rec.iter().all(|key| tag(key) == tag(&rec[0])),
                "{prefix}: {rec:?}"
            );
            assert!(rec.iter().chain(&sched).all(|key| key.starts_with(prefix)));
            let keys = [
                k.api_key("a"),
                k.api_key("b}"),
                k.api_key_index(),
                k.api_key_hashes(),
                k.keys_version(),
            ];
            assert!(
                keys.iter().all(|key| tag(key) == tag(&keys[0])),
                "{prefix}: {keys:?}"
            );
            for id in ["k1", "odd}id", "{x}"] {
                let limits = [
                    k.limits(id),
                    k.limit_day(id, "2026-11-27"),
                    k.limit_week(id, "2026-W48"),
                    k.settled(id, "0123abcd-7"),
                ];
                assert!(
                    limits.iter().all(|key| tag(key) == tag(&limits[0])),
                    "{prefix}: {limits:?}"
                );
            }
            let usage = [
                k.usage("key", "d:2026-11-27", "a"),
                k.usage("model", "total", "x}y"),
                k.usage_index("key", "h:2026-11-27T10"),
                k.recent("k1"),
                k.usage_batch("0123abcd-7"),
            ];
            assert!(
                usage.iter().all(|key| tag(key) == tag(&usage[0])),
                "{prefix}: {usage:?}"
            );
        }
    }
}
