//! An immutable picture of every account, its health and the groups, published through an
//! `ArcSwap` so schedulers read it without a message round trip. Rebuilt on account or health
//! changes (rare); last-used times change on every selection and so live in shared atomics.
use crate::clock::Millis;
use crate::domain::{Account, AccountId, Group, GroupId, Health, Platform};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Per-account state that changes on every selection, shared across snapshot versions.
#[derive(Debug, Default)]
pub struct AccountRuntime {
    last_used: AtomicI64,
}

impl AccountRuntime {
    pub fn last_used(&self) -> Millis {
        self.last_used.load(Ordering::Relaxed)
    }
    pub(crate) fn touch(&self, now: Millis) {
        self.last_used.fetch_max(now, Ordering::Relaxed);
    }
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub account: Arc<Account>,
    pub health: Health,
    pub runtime: Arc<AccountRuntime>,
}

#[derive(Debug, Default)]
pub struct PoolSnapshot {
    /// Per platform, sorted by (priority, created, id): the static part of the selection order.
    platforms: [Vec<Entry>; 3],
    index: HashMap<AccountId, (usize, usize)>,
    groups: HashMap<GroupId, Group>,
}

fn slot(p: Platform) -> usize {
    match p {
        Platform::Claude => 0,
        Platform::Gemini => 1,
        Platform::OpenAi => 2,
    }
}

impl PoolSnapshot {
    pub(crate) fn build(
        accounts: &[Arc<Account>],
        groups: &[Group],
        health: &HashMap<AccountId, Health>,
        runtimes: &mut HashMap<AccountId, Arc<AccountRuntime>>,
    ) -> Self {
        let mut platforms: [Vec<Entry>; 3] = Default::default();
        for a in accounts {
            let runtime = runtimes
                .entry(a.id.clone())
                .or_insert_with(|| {
                    let r = AccountRuntime::default();
                    r.touch(a.last_used_at.unwrap_or(0));
                    Arc::new(r)
                })
                .clone();
            platforms[slot(a.platform())].push(Entry {
                account: a.clone(),
                health: health.get(&a.id).cloned().unwrap_or_default(),
                runtime,
            });
        }
        // Forget runtimes of deleted accounts. A set, not a scan per entry: O(n), not O(n²).
        let live: HashSet<&AccountId> = accounts.iter().map(|a| &a.id).collect();
        runtimes.retain(|id, _| live.contains(id));
        let mut index = HashMap::with_capacity(accounts.len());
        for (p, entries) in platforms.iter_mut().enumerate() {
            entries.sort_by(|x, y| {
                let key = |e: &Entry| (e.account.priority, e.account.created_at);
                key(x).cmp(&key(y)).then_with(|| x.account.id.cmp(&y.account.id))
            });
            for (i, e) in entries.iter().enumerate() {
                index.insert(e.account.id.clone(), (p, i));
            }
        }
        let groups = groups.iter().map(|g| (g.id.clone(), g.clone())).collect();
        PoolSnapshot {
            platforms,
            index,
            groups,
        }
    }

    /// The platform's accounts in static order (priority, created, id).
    pub fn entries(&self, platform: Platform) -> &[Entry] {
        &self.platforms[slot(platform)]
    }

    pub fn get(&self, id: &AccountId) -> Option<&Entry> {
        self.index.get(id).map(|&(p, i)| &self.platforms[p][i])
    }

    /// Position of the account within its platform's entries.
    pub(crate) fn position(&self, id: &AccountId) -> Option<usize> {
        self.index.get(id).map(|&(_, i)| i)
    }

    pub fn group(&self, id: &str) -> Option<&Group> {
        self.groups.get(id)
    }

    pub fn groups(&self) -> impl Iterator<Item = &Group> {
        self.groups.values()
    }

    pub fn all(&self) -> impl Iterator<Item = &Entry> {
        self.platforms.iter().flatten()
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }
}
