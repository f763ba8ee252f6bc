//! Every Redis key the store uses, in one place (documented in `docs/redis-keys.md`).
//!
//! Two hash tags, so the key design holds on Redis Cluster, where all keys of one script must
//! live in one slot:
//! - `{rec}`: account records, their index, groups, health and the records version. Scripts
//!   that write a record also bump the version and fix group memberships.
//! - `{sched}`: slot leases, their index and sticky bindings. `acquire_slot` reads a session
//!   binding and every candidate's leases in one script, so they must share a slot.
//!
//! The tag is a constant, so it is the same for any prefix; a prefix that itself contains a
//! `{...}` tag moves every key to that tag's slot, which is still correct.

#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Self {
        Keys {
            prefix: prefix.to_owned(),
        }
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

    /// Set of account ids that may have a slot sorted set (for counts and sweeps).
    pub fn slot_index(&self) -> String {
        format!("{}{{sched}}:slot-accounts", self.prefix)
    }

    /// String: the bound account id, with a PX TTL.
    pub fn sticky(&self, key: &str) -> String {
        format!("{}{{sched}}:sticky:{key}", self.prefix)
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
            let k = Keys::new(prefix);
            let sched = [
                k.slots("a"),
                k.slots("b{c}"),
                k.sticky("claude:s"),
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
        }
    }
}
