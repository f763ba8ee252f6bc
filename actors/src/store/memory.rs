//! In-memory [`Store`]: the whole contract in process maps. Used by tests, by
//! benchmarks, and by the embedded backend for the transient half of state (leases, sticky
//! bindings, health), where losing it on restart is acceptable.
use super::*;
use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub struct MemoryStore {
    records: RwLock<Records>,
    version: AtomicU64,
    health: Mutex<HashMap<AccountId, Health>>,
    /// Sticky bindings and slots share one lock: acquisition reads and writes both atomically.
    sched: Mutex<SchedState>,
}

#[derive(Default)]
struct Records {
    accounts: BTreeMap<AccountId, Account>,
    groups: BTreeMap<GroupId, Group>,
}

#[derive(Default)]
struct SchedState {
    sticky: HashMap<String, (AccountId, Millis)>,
    /// account → lease → expiry.
    slots: HashMap<AccountId, HashMap<LeaseId, Millis>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn bump(&self) {
        self.version.fetch_add(1, Ordering::Relaxed);
    }
}

impl SchedState {
    fn live_binding(&self, key: &str, now: Millis) -> Option<AccountId> {
        self.sticky
            .get(key)
            .filter(|(_, exp)| *exp > now)
            .map(|(a, _)| a.clone())
    }

    /// Binds (or rebinds) `key` under `policy`, making room first if it is a new binding.
    fn bind(&mut self, key: &str, account: &AccountId, policy: StickyPolicy, now: Millis) {
        if policy.ttl_ms <= 0 {
            self.sticky.remove(key);
            return;
        }
        if !self.sticky.contains_key(key) {
            self.make_room(policy.max_bindings, now);
        }
        self.sticky
            .insert(key.to_owned(), (account.clone(), now + policy.ttl_ms));
    }

    /// Room for one more binding under a cap of `max`: expired bindings go first, then the
    /// least recently used (the soonest to expire: every use pushes the expiry forward). A
    /// full store evicts a batch (1/64 of the cap) at once, so it does not scan every binding
    /// for each new session.
    fn make_room(&mut self, max: u64, now: Millis) {
        let max = usize::try_from(max.max(1)).unwrap_or(usize::MAX);
        if self.sticky.len() < max {
            return;
        }
        self.sticky.retain(|_, (_, exp)| *exp > now);
        if self.sticky.len() < max {
            return;
        }
        let batch = (self.sticky.len() + 1 - max + max / 64).min(self.sticky.len());
        let mut expiries: Vec<Millis> = self.sticky.values().map(|(_, exp)| *exp).collect();
        let cutoff = *expiries.select_nth_unstable(batch - 1).1;
        // Fewer than `batch` expire strictly before the cutoff; ties at the cutoff fill the rest.
        self.sticky.retain(|_, (_, exp)| *exp >= cutoff);
        let mut ties = batch - (expiries.len() - self.sticky.len());
        self.sticky.retain(|_, (_, exp)| {
            let evict = ties > 0 && *exp == cutoff;
            ties -= usize::from(evict);
            !evict
        });
    }

    /// Takes a slot if the account is below its limit. Expired leases are purged only when the
    /// account looks full, so unlimited accounts with many leases stay O(1).
    fn try_take(&mut self, c: &SlotCandidate, lease: &LeaseId, expiry: Millis, now: Millis) -> bool {
        let leases = self.slots.entry(c.account.clone()).or_default();
        if c.limit > 0 && leases.len() >= c.limit as usize {
            leases.retain(|_, exp| *exp > now);
            if leases.len() >= c.limit as usize {
                return false;
            }
        }
        leases.insert(lease.clone(), expiry);
        true
    }
}

#[async_trait]
impl AccountStore for MemoryStore {
    async fn load_accounts(&self) -> StoreResult<Vec<Account>> {
        Ok(self.records.read().accounts.values().cloned().collect())
    }

    async fn get_account(&self, id: &AccountId) -> StoreResult<Option<Account>> {
        Ok(self.records.read().accounts.get(id).cloned())
    }

    async fn put_account(&self, account: &Account) -> StoreResult<()> {
        self.records
            .write()
            .accounts
            .insert(account.id.clone(), account.clone());
        self.bump();
        Ok(())
    }

    async fn patch_account(&self, id: &AccountId, patch: &AccountPatch) -> StoreResult<Option<Account>> {
        let mut r = self.records.write();
        let Some(a) = r.accounts.get_mut(id) else {
            return Ok(None);
        };
        patch.apply(a);
        let out = a.clone();
        drop(r);
        self.bump();
        Ok(Some(out))
    }

    async fn delete_account(&self, id: &AccountId) -> StoreResult<bool> {
        let mut r = self.records.write();
        let existed = r.accounts.remove(id).is_some();
        for g in r.groups.values_mut() {
            g.members.retain(|m| m != id);
        }
        drop(r);
        self.health.lock().remove(id);
        self.bump();
        Ok(existed)
    }

    async fn set_credentials(&self, id: &AccountId, credentials: &Credentials) -> StoreResult<()> {
        match self.records.write().accounts.get_mut(id) {
            Some(a) => a.credentials = credentials.clone(),
            None => return Err(StoreError::NotFound(format!("account {id}"))),
        }
        self.bump();
        Ok(())
    }

    async fn touch_last_used(&self, used: &[(AccountId, Millis)]) -> StoreResult<()> {
        let mut r = self.records.write();
        for (id, at) in used {
            if let Some(a) = r.accounts.get_mut(id) {
                a.last_used_at = Some(a.last_used_at.unwrap_or(0).max(*at));
            }
        }
        Ok(())
    }

    async fn load_groups(&self) -> StoreResult<Vec<Group>> {
        Ok(self.records.read().groups.values().cloned().collect())
    }

    async fn put_group(&self, group: &Group) -> StoreResult<()> {
        self.records
            .write()
            .groups
            .insert(group.id.clone(), group.clone());
        self.bump();
        Ok(())
    }

    async fn delete_group(&self, id: &GroupId) -> StoreResult<bool> {
        let existed = self.records.write().groups.remove(id).is_some();
        self.bump();
        Ok(existed)
    }

    async fn records_version(&self) -> StoreResult<u64> {
        Ok(self.version.load(Ordering::Relaxed))
    }
}

#[async_trait]
impl HealthStore for MemoryStore {
    async fn load_health(&self) -> StoreResult<HashMap<AccountId, Health>> {
        Ok(self.health.lock().clone())
    }

    async fn put_health(&self, id: &AccountId, health: &Health) -> StoreResult<()> {
        let mut h = self.health.lock();
        if health.is_clear() {
            h.remove(id);
        } else {
            h.insert(id.clone(), health.clone());
        }
        Ok(())
    }
}

#[async_trait]
impl StickyStore for MemoryStore {
    async fn sticky_get(&self, key: &str, now: Millis) -> StoreResult<Option<AccountId>> {
        Ok(self.sched.lock().live_binding(key, now))
    }

    async fn sticky_set(
        &self,
        key: &str,
        account: &AccountId,
        policy: StickyPolicy,
        now: Millis,
    ) -> StoreResult<()> {
        self.sched.lock().bind(key, account, policy, now);
        Ok(())
    }

    async fn sticky_delete(&self, key: &str) -> StoreResult<bool> {
        Ok(self.sched.lock().sticky.remove(key).is_some())
    }

    async fn sweep_sticky(&self, now: Millis) -> StoreResult<u64> {
        let mut s = self.sched.lock();
        let before = s.sticky.len();
        s.sticky.retain(|_, (_, exp)| *exp > now);
        Ok((before - s.sticky.len()) as u64)
    }
}

#[async_trait]
impl SlotStore for MemoryStore {
    /// Small on purpose, though there are no script arguments to bound: the scheduler ranks
    /// only what it hands out, so a short chunk spares it sorting the whole pool (and cloning
    /// every id) on each selection when the first candidates have room, as they usually do.
    fn candidates_per_call(&self) -> usize {
        32
    }

    async fn acquire_slot(&self, req: &SlotRequest<'_>) -> StoreResult<Option<SlotGrant>> {
        let expiry = req.now + req.lease_ttl_ms;
        let mut s = self.sched.lock();
        let bound = req.sticky.and_then(|st| s.live_binding(st.key, req.now));
        let bound_pos = bound
            .as_ref()
            .and_then(|b| req.candidates.iter().position(|c| &c.account == b));
        let order = bound_pos
            .into_iter()
            .chain((0..req.candidates.len()).filter(|i| Some(*i) != bound_pos));
        for i in order {
            let cand = &req.candidates[i];
            if !s.try_take(cand, req.lease, expiry, req.now) {
                continue;
            }
            let sticky_hit = bound_pos == Some(i);
            if let Some(st) = req.sticky {
                // Sliding expiry: a session in use stays bound.
                s.bind(st.key, &cand.account, st.policy, req.now);
            }
            return Ok(Some(SlotGrant {
                account: cand.account.clone(),
                sticky_hit,
            }));
        }
        Ok(None)
    }

    async fn renew_leases(
        &self,
        leases: &[(AccountId, LeaseId)],
        ttl_ms: i64,
        now: Millis,
    ) -> StoreResult<()> {
        let mut s = self.sched.lock();
        for (account, lease) in leases {
            if let Some(exp) = s.slots.get_mut(account).and_then(|m| m.get_mut(lease)) {
                *exp = now + ttl_ms;
            }
        }
        Ok(())
    }

    async fn release_lease(&self, account: &AccountId, lease: &LeaseId) -> StoreResult<()> {
        let mut s = self.sched.lock();
        if let Some(m) = s.slots.get_mut(account) {
            m.remove(lease);
            if m.is_empty() {
                s.slots.remove(account);
            }
        }
        Ok(())
    }

    async fn release_leases(&self, leases: &[(AccountId, LeaseId)]) -> StoreResult<()> {
        let mut s = self.sched.lock();
        for (account, lease) in leases {
            if let Some(m) = s.slots.get_mut(account) {
                m.remove(lease);
                if m.is_empty() {
                    s.slots.remove(account);
                }
            }
        }
        Ok(())
    }

    async fn slot_counts(&self, now: Millis) -> StoreResult<HashMap<AccountId, u32>> {
        let s = self.sched.lock();
        Ok(s.slots
            .iter()
            .map(|(a, m)| (a.clone(), m.values().filter(|e| **e > now).count() as u32))
            .filter(|(_, n)| *n > 0)
            .collect())
    }

    async fn slot_count(&self, holder: &AccountId, now: Millis) -> StoreResult<u32> {
        let s = self.sched.lock();
        Ok(s.slots
            .get(holder)
            .map_or(0, |m| m.values().filter(|e| **e > now).count() as u32))
    }

    async fn sweep_leases(&self, now: Millis) -> StoreResult<u64> {
        let mut s = self.sched.lock();
        let mut swept = 0;
        for m in s.slots.values_mut() {
            let before = m.len();
            m.retain(|_, exp| *exp > now);
            swept += (before - m.len()) as u64;
        }
        s.slots.retain(|_, m| !m.is_empty());
        Ok(swept)
    }
}
