//! The selection core shared by every platform: from the snapshot, the key's binding, the
//! model and the accounts already tried, decide which accounts may serve and in which order
//! (§5: dedicated → group → pool; filters; priority → least recently used → oldest). The slot
//! itself is taken afterwards, atomically, by the store.
use super::rules::PlatformRules;
use super::{DedicatedReason, NoAccount, SelectAccount};
use crate::clock::Millis;
use crate::domain::{Account, AccountId, AccountKind, Binding, ModelFamily, Platform, Sharing};
use crate::pool::{Entry, PoolSnapshot};
use crate::sticky::sticky_key;
use crate::store::SlotCandidate;
use std::collections::VecDeque;
use std::sync::Arc;

/// Ranking key: priority, then last used (never used = 0 first), then static position
/// (which encodes creation order).
type Ranked = (u32, Millis, u32);

/// The accounts that may serve one request, handed out best-first in chunks.
pub(crate) struct Plan {
    pub snapshot: Arc<PoolSnapshot>,
    platform: crate::domain::Platform,
    /// Positions that go first, in this order (a dedicated account, a sticky hint).
    front: VecDeque<usize>,
    /// The rest, ordered lazily: only as much as is handed out gets sorted.
    rest: Vec<Ranked>,
    cursor: usize,
    pub sticky_key: Option<String>,
    /// The plan is a strict dedicated binding: running out means the dedicated account is full.
    pub strict_dedicated: Option<AccountId>,
}

impl Plan {
    pub fn len(&self) -> usize {
        self.front.len() + self.rest.len() - self.cursor
    }

    /// Moves `id` to the front if it is in the plan (a session binding found in the store).
    pub fn promote(&mut self, id: &AccountId) {
        let Some(pos) = position_on(&self.snapshot, self.platform, id) else {
            return;
        };
        if let Some(i) = self.rest[self.cursor..].iter().position(|r| r.2 as usize == pos) {
            self.rest.remove(self.cursor + i);
            self.front.push_back(pos);
        }
    }

    /// Keeps `id` as the only candidate if it is in the plan (eligible, not yet offered);
    /// answers whether it was.
    pub fn restrict_to(&mut self, id: &AccountId) -> bool {
        let Some(pos) = position_on(&self.snapshot, self.platform, id) else {
            return false;
        };
        let planned =
            self.front.contains(&pos) || self.rest[self.cursor..].iter().any(|r| r.2 as usize == pos);
        if planned {
            self.front = VecDeque::from([pos]);
            self.rest.clear();
            self.cursor = 0;
        }
        planned
    }

    pub fn next_chunk(&mut self, k: usize) -> Vec<SlotCandidate> {
        let entries = self.snapshot.entries(self.platform);
        let cand = |i: usize| {
            let a = &entries[i].account;
            SlotCandidate {
                account: a.id.clone(),
                limit: a.max_concurrency,
            }
        };
        let mut out = Vec::with_capacity(k.min(self.len()));
        while out.len() < k {
            let Some(i) = self.front.pop_front() else {
                break;
            };
            out.push(cand(i));
        }
        let rem = &mut self.rest[self.cursor..];
        let take = (k - out.len()).min(rem.len());
        if take > 0 {
            if take < rem.len() {
                rem.select_nth_unstable(take - 1);
            }
            rem[..take].sort_unstable();
            out.extend(rem[..take].iter().map(|r| cand(r.2 as usize)));
            self.cursor += take;
        }
        out
    }
}

struct Request<'a> {
    model: Option<&'a str>,
    /// Only these kinds may serve (`None`: any).
    kinds: Option<&'a [AccountKind]>,
    family: Option<ModelFamily>,
    exclude: &'a [AccountId],
    now: Millis,
}

impl Request<'_> {
    fn kind_ok(&self, a: &Account) -> bool {
        self.kinds.is_none_or(|k| k.contains(&a.kind))
    }
}

/// Tally of why accounts in scope were turned away, to name the reason when none is left.
#[derive(Default)]
struct Tally {
    enabled: usize,
    of_kind: usize,
    supporting: usize,
    blocked: usize,
    retry_at: Option<Millis>,
}

pub(crate) fn plan<R: PlatformRules>(
    snapshot: Arc<PoolSnapshot>,
    req: &SelectAccount,
    now: Millis,
    fallback_default: bool,
) -> Result<Plan, NoAccount> {
    let model = req.model.as_deref().filter(|m| !m.is_empty());
    let r = Request {
        model,
        kinds: req.kinds.as_deref(),
        family: model.and_then(R::family),
        exclude: &req.exclude,
        now,
    };
    let sticky = req
        .session
        .as_ref()
        .map(|s| sticky_key(R::PLATFORM, req.api_key.as_deref(), s));
    let mut plan = Plan {
        snapshot: snapshot.clone(),
        platform: R::PLATFORM,
        front: VecDeque::new(),
        rest: Vec::new(),
        cursor: 0,
        sticky_key: None,
        strict_dedicated: None,
    };
    let entries = snapshot.entries(R::PLATFORM);

    match req.bindings.for_platform(R::PLATFORM) {
        Some(Binding::Account(id)) => {
            let fallback = req.bindings.dedicated_fallback.unwrap_or(fallback_default);
            match check_dedicated::<R>(&snapshot, id, &r) {
                Ok(pos) if !fallback => {
                    plan.front.push_back(pos);
                    plan.strict_dedicated = Some(id.clone());
                    return Ok(plan);
                }
                Ok(pos) => {
                    // Dedicated first, the shared pool behind it if it is full.
                    plan.front.push_back(pos);
                    let pool = pool_scope(entries).filter(|&i| i != pos);
                    plan.rest = filter::<R>(entries, pool, &r).unwrap_or_default();
                    return Ok(plan);
                }
                Err((reason, retry_at)) if !fallback => {
                    return Err(NoAccount::DedicatedUnavailable {
                        account: id.clone(),
                        reason,
                        retry_at,
                    });
                }
                Err(_) => {
                    let pos = position_on(&snapshot, R::PLATFORM, id);
                    let pool = pool_scope(entries).filter(|&i| Some(i) != pos);
                    plan.rest = filter::<R>(entries, pool, &r)?;
                }
            }
        }
        Some(Binding::Group(gid)) => {
            let group = snapshot
                .group(gid)
                .filter(|g| g.platform == R::PLATFORM)
                .ok_or_else(|| NoAccount::GroupNotFound { group: gid.clone() })?;
            let members: Vec<usize> = group
                .members
                .iter()
                .filter_map(|m| {
                    snapshot
                        .get(m)
                        .filter(|e| e.account.platform() == R::PLATFORM)
                        .and(snapshot.position(m))
                })
                .collect();
            if members.is_empty() {
                return Err(NoAccount::GroupEmpty { group: gid.clone() });
            }
            plan.rest = filter::<R>(entries, members.into_iter(), &r)?;
        }
        None => plan.rest = filter::<R>(entries, pool_scope(entries), &r)?,
    }
    plan.sticky_key = sticky;
    Ok(plan)
}

/// Position of `id` among `platform`'s entries. Positions index one platform's list only: an
/// account of another platform has none here (its own position would name a stranger).
fn position_on(snapshot: &PoolSnapshot, platform: Platform, id: &AccountId) -> Option<usize> {
    snapshot
        .get(id)
        .filter(|e| e.account.platform() == platform)
        .and(snapshot.position(id))
}

fn pool_scope(entries: &[Entry]) -> impl Iterator<Item = usize> + '_ {
    entries
        .iter()
        .enumerate()
        .filter(|(_, e)| e.account.sharing == Sharing::Shared)
        .map(|(i, _)| i)
}

fn check_dedicated<R: PlatformRules>(
    snapshot: &PoolSnapshot,
    id: &AccountId,
    r: &Request<'_>,
) -> Result<usize, (DedicatedReason, Option<Millis>)> {
    let e = snapshot.get(id).ok_or((DedicatedReason::Missing, None))?;
    let a = &e.account;
    if a.platform() != R::PLATFORM {
        return Err((DedicatedReason::WrongPlatform, None));
    }
    if !r.kind_ok(a) {
        return Err((DedicatedReason::WrongKind, None));
    }
    if !a.is_enabled() {
        return Err((DedicatedReason::Disabled, None));
    }
    if r.model.is_some_and(|m| !R::supports(a, m)) {
        return Err((DedicatedReason::ModelUnsupported, None));
    }
    if r.exclude.contains(id) {
        return Err((DedicatedReason::AlreadyTried, None));
    }
    if let Some(until) = e.health.blocked_until(r.family, r.now) {
        return Err((DedicatedReason::CoolingDown, Some(until)));
    }
    snapshot.position(id).ok_or((DedicatedReason::Missing, None))
}

/// Applies the pool filters to the positions in `scope`; names the reason when none passes.
fn filter<R: PlatformRules>(
    entries: &[Entry],
    scope: impl Iterator<Item = usize>,
    r: &Request<'_>,
) -> Result<Vec<Ranked>, NoAccount> {
    let mut t = Tally::default();
    let mut out = Vec::new();
    for i in scope {
        let e = &entries[i];
        let a = &e.account;
        if !a.is_enabled() {
            continue;
        }
        t.enabled += 1;
        if !r.kind_ok(a) {
            continue;
        }
        t.of_kind += 1;
        if r.model.is_some_and(|m| !R::supports(a, m)) {
            continue;
        }
        t.supporting += 1;
        if r.exclude.contains(&a.id) {
            continue;
        }
        if let Some(until) = e.health.blocked_until(r.family, r.now) {
            t.blocked += 1;
            t.retry_at = Some(t.retry_at.map_or(until, |x| x.min(until)));
            continue;
        }
        out.push((a.priority, e.runtime.last_used(), i as u32));
    }
    if !out.is_empty() {
        return Ok(out);
    }
    let platform = R::PLATFORM;
    Err(if t.enabled == 0 {
        NoAccount::NoAccounts { platform }
    } else if t.of_kind == 0 {
        NoAccount::KindUnavailable {
            platform,
            kinds: r.kinds.unwrap_or_default().to_vec(),
        }
    } else if t.supporting == 0 {
        match r.model {
            Some(m) => NoAccount::ModelUnsupported {
                platform,
                model: m.to_owned(),
            },
            None => NoAccount::NoAccounts { platform },
        }
    } else {
        match t.retry_at {
            Some(retry_at) => NoAccount::AllCoolingDown { retry_at },
            None => NoAccount::Exhausted,
        }
    })
}
