//! The contract every [`Store`] backend must pass, written once and run against each backend
//! (memory here; embedded and Redis in the root crate). Uses the real clock and short TTLs so
//! backends with native expiry (Redis) are tested for real.
//!
//! Use [`conformance_tests!`](crate::conformance_tests) to instantiate every check for a backend.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use crate::clock::{Clock, SystemClock};
use crate::domain::{
    AccountKind, AccountStatus, Cooldown, CooldownReason, ModelFamily, OAuthTokens, Platform, Secret,
};
use std::sync::Arc;
use std::time::Duration;

fn now() -> Millis {
    SystemClock.now_ms()
}

fn account(id: &str) -> Account {
    let mut a = Account::new(id, AccountKind::ClaudeConsole, now());
    a.base_url = Some("http://127.0.0.1:1".into());
    a.credentials = Credentials::ApiKey {
        key: Secret::new(format!("sk-ant-{id}")),
    };
    a
}

/// A roomy cap: only the bounding checks fill the store.
fn policy(ttl_ms: i64) -> StickyPolicy {
    StickyPolicy {
        ttl_ms,
        max_bindings: 1_000,
    }
}

fn lease(n: u32) -> LeaseId {
    LeaseId::from_string(format!("conformance-{}-{n}", std::process::id()))
}

fn cands(ids: &[(&str, u32)]) -> Vec<SlotCandidate> {
    ids.iter()
        .map(|(a, l)| SlotCandidate {
            account: AccountId::new(a),
            limit: *l,
        })
        .collect()
}

async fn acquire(
    s: &dyn Store,
    c: &[SlotCandidate],
    sticky: Option<&str>,
    l: &LeaseId,
    ttl: i64,
) -> Option<SlotGrant> {
    acquire_at(s, c, sticky, l, ttl, now()).await
}

/// [`acquire`] at a given time (lease expiry is judged at the time the caller passes).
async fn acquire_at(
    s: &dyn Store,
    c: &[SlotCandidate],
    sticky: Option<&str>,
    l: &LeaseId,
    ttl: i64,
    at: Millis,
) -> Option<SlotGrant> {
    let req = SlotRequest {
        candidates: c,
        sticky: sticky.map(|key| StickyRequest {
            key,
            policy: policy(60_000),
        }),
        lease: l,
        lease_ttl_ms: ttl,
        now: at,
    };
    s.acquire_slot(&req).await.expect("acquire")
}

async fn count(s: &dyn Store, id: &str) -> u32 {
    count_at(s, id, now()).await
}

async fn count_at(s: &dyn Store, id: &str, at: Millis) -> u32 {
    s.slot_counts(at).await.unwrap().get(id).copied().unwrap_or(0)
}

pub async fn accounts_round_trip(s: Arc<dyn Store>) {
    let v0 = s.records_version().await.unwrap();
    let mut a = account("acct-rt");
    a.credentials = Credentials::OAuth(OAuthTokens {
        access_token: Secret::new("at-1"),
        refresh_token: Some(Secret::new("rt-1")),
        expires_at: Some(123),
    });
    s.put_account(&a).await.unwrap();
    assert_ne!(
        s.records_version().await.unwrap(),
        v0,
        "a write changes the version"
    );
    assert_eq!(s.get_account(&a.id).await.unwrap().as_ref(), Some(&a));
    assert!(s.load_accounts().await.unwrap().iter().any(|x| x == &a));

    s.touch_last_used(&[(a.id.clone(), 5_000)]).await.unwrap();
    let patch = AccountPatch {
        priority: Some(7),
        status: Some(AccountStatus::Error),
        ..Default::default()
    };
    let patched = s.patch_account(&a.id, &patch).await.unwrap().expect("exists");
    assert_eq!(patched.priority, 7);
    assert_eq!(patched.status, AccountStatus::Error);
    assert_eq!(
        patched.last_used_at,
        Some(5_000),
        "a patch keeps the other fields"
    );
    assert_eq!(patched.credentials, a.credentials);

    let creds = Credentials::ApiKey {
        key: Secret::new("new-key"),
    };
    s.set_credentials(&a.id, &creds).await.unwrap();
    let got = s.get_account(&a.id).await.unwrap().unwrap();
    assert_eq!(got.credentials, creds);
    assert_eq!(got.priority, 7, "setting credentials keeps the other fields");

    assert!(
        s.patch_account(&AccountId::new("nope"), &patch)
            .await
            .unwrap()
            .is_none()
    );
    assert!(s.delete_account(&a.id).await.unwrap());
    assert!(!s.delete_account(&a.id).await.unwrap());
    assert!(s.get_account(&a.id).await.unwrap().is_none());
}

pub async fn groups_round_trip(s: Arc<dyn Store>) {
    let g = Group {
        id: "grp-1".into(),
        name: "team".into(),
        platform: Platform::Claude,
        members: vec![AccountId::new("m1"), AccountId::new("m2")],
    };
    s.put_group(&g).await.unwrap();
    assert!(s.load_groups().await.unwrap().contains(&g));
    assert!(s.delete_group(&g.id).await.unwrap());
    assert!(!s.load_groups().await.unwrap().contains(&g));
}

pub async fn health_round_trip(s: Arc<dyn Store>) {
    let id = AccountId::new("acct-health");
    let mut h = Health {
        cooldown: Some(Cooldown {
            until: now() + 60_000,
            reason: CooldownReason::Overload,
            status: 529,
        }),
        family_limits: vec![],
    };
    h.set_family_limit(ModelFamily::Opus, now() + 120_000);
    s.put_health(&id, &h).await.unwrap();
    assert_eq!(s.load_health().await.unwrap().get(&id), Some(&h));
    s.put_health(&id, &Health::default()).await.unwrap();
    assert!(
        !s.load_health().await.unwrap().contains_key(&id),
        "a clear health is deleted"
    );
}

pub async fn sticky_bindings_expire(s: Arc<dyn Store>) {
    let id = AccountId::new("acct-sticky");
    s.sticky_set("claude:sess-ttl", &id, policy(300), now())
        .await
        .unwrap();
    assert_eq!(
        s.sticky_get("claude:sess-ttl", now()).await.unwrap(),
        Some(id.clone())
    );
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(
        s.sticky_get("claude:sess-ttl", now()).await.unwrap(),
        None,
        "expired"
    );
    s.sticky_set("claude:sess-del", &id, policy(60_000), now())
        .await
        .unwrap();
    assert!(s.sticky_delete("claude:sess-del").await.unwrap());
    assert!(!s.sticky_delete("claude:sess-del").await.unwrap());
    s.sweep_sticky(now()).await.unwrap();
}

/// How many of `keys` are bound now.
async fn bound(s: &dyn Store, keys: &[&str], at: Millis) -> Vec<String> {
    let mut out = Vec::new();
    for k in keys {
        if s.sticky_get(k, at).await.unwrap().is_some() {
            out.push((*k).to_owned());
        }
    }
    out
}

pub async fn sticky_bindings_are_bounded(s: Arc<dyn Store>) {
    let id = AccountId::new("acct-cap");
    let cap = |ttl_ms| StickyPolicy {
        ttl_ms,
        max_bindings: 3,
    };
    let t = now();
    for (i, k) in ["cap:a", "cap:b", "cap:c"].iter().enumerate() {
        s.sticky_set(k, &id, cap(60_000), t + i as i64 * 10)
            .await
            .unwrap();
    }
    // Full: a new session pushes out the least recently used one, never fails.
    s.sticky_set("cap:d", &id, cap(60_000), t + 30).await.unwrap();
    let all = ["cap:a", "cap:b", "cap:c", "cap:d"];
    assert_eq!(bound(&*s, &all, t + 40).await, ["cap:b", "cap:c", "cap:d"]);
    // Rebinding a bound session takes no room and forgets nothing; it also refreshes it, so
    // `cap:b` is now the most recently used and `cap:c` goes next.
    s.sticky_set("cap:b", &AccountId::new("acct-cap-2"), cap(60_000), t + 50)
        .await
        .unwrap();
    assert_eq!(bound(&*s, &all, t + 60).await, ["cap:b", "cap:c", "cap:d"]);
    let c = cands(&[("cap-acct", 0)]);
    let l = lease(600);
    let req = SlotRequest {
        candidates: &c,
        sticky: Some(StickyRequest {
            key: "cap:e",
            policy: cap(60_000),
        }),
        lease: &l,
        lease_ttl_ms: 60_000,
        now: t + 70,
    };
    let g = s.acquire_slot(&req).await.unwrap().expect("granted");
    assert_eq!(
        g.account.as_str(),
        "cap-acct",
        "a full store never refuses a selection"
    );
    let all = ["cap:a", "cap:b", "cap:c", "cap:d", "cap:e"];
    assert_eq!(bound(&*s, &all, t + 80).await, ["cap:b", "cap:d", "cap:e"]);
    s.release_lease(&AccountId::new("cap-acct"), &l).await.unwrap();

    // Expired bindings make room before any live one is forgotten.
    for k in ["cap:b", "cap:d", "cap:e"] {
        assert!(s.sticky_delete(k).await.unwrap());
    }
    s.sticky_set("exp:a", &id, cap(60_000), t).await.unwrap();
    s.sticky_set("exp:short", &id, cap(5), t + 1).await.unwrap();
    s.sticky_set("exp:b", &id, cap(60_000), t + 2).await.unwrap();
    s.sticky_set("exp:c", &id, cap(60_000), t + 100).await.unwrap();
    let all = ["exp:a", "exp:short", "exp:b", "exp:c"];
    assert_eq!(bound(&*s, &all, t + 100).await, ["exp:a", "exp:b", "exp:c"]);
    for k in ["exp:a", "exp:b", "exp:c"] {
        s.sticky_delete(k).await.unwrap();
    }
}

pub async fn acquire_respects_limits(s: Arc<dyn Store>) {
    let c = cands(&[("lim-a", 1), ("lim-b", 1)]);
    let (l1, l2, l3) = (lease(1), lease(2), lease(3));
    assert_eq!(
        acquire(&*s, &c, None, &l1, 60_000)
            .await
            .unwrap()
            .account
            .as_str(),
        "lim-a"
    );
    assert_eq!(
        acquire(&*s, &c, None, &l2, 60_000)
            .await
            .unwrap()
            .account
            .as_str(),
        "lim-b"
    );
    assert!(acquire(&*s, &c, None, &l3, 60_000).await.is_none(), "both full");
    assert_eq!((count(&*s, "lim-a").await, count(&*s, "lim-b").await), (1, 1));
    s.release_lease(&AccountId::new("lim-a"), &l1).await.unwrap();
    s.release_lease(&AccountId::new("lim-a"), &l1).await.unwrap();
    assert_eq!(
        count(&*s, "lim-a").await,
        0,
        "release is idempotent and never goes below zero"
    );
    assert_eq!(
        acquire(&*s, &c, None, &l3, 60_000)
            .await
            .unwrap()
            .account
            .as_str(),
        "lim-a"
    );
    s.release_lease(&AccountId::new("lim-a"), &l3).await.unwrap();
    s.release_lease(&AccountId::new("lim-b"), &l2).await.unwrap();
    assert_eq!(count(&*s, "lim-b").await, 0);
}

pub async fn unlimited_accounts_take_any_number(s: Arc<dyn Store>) {
    let c = cands(&[("unl-a", 0)]);
    let leases: Vec<_> = (10..60).map(lease).collect();
    for l in &leases {
        assert!(acquire(&*s, &c, None, l, 60_000).await.is_some());
    }
    assert_eq!(count(&*s, "unl-a").await, 50);
    for l in &leases {
        s.release_lease(&AccountId::new("unl-a"), l).await.unwrap();
    }
    assert_eq!(count(&*s, "unl-a").await, 0);
}

pub async fn acquire_honours_and_rebinds_sessions(s: Arc<dyn Store>) {
    let c = cands(&[("st-a", 1), ("st-b", 1)]);
    s.sticky_set("claude:sess-1", &AccountId::new("st-b"), policy(60_000), now())
        .await
        .unwrap();
    let (l1, l2) = (lease(100), lease(101));
    let g = acquire(&*s, &c, Some("claude:sess-1"), &l1, 60_000)
        .await
        .unwrap();
    assert_eq!(
        (g.account.as_str(), g.sticky_hit),
        ("st-b", true),
        "bound account first"
    );
    // Bound account full: soft failover to the next one, and the session is rebound.
    let g = acquire(&*s, &c, Some("claude:sess-1"), &l2, 60_000)
        .await
        .unwrap();
    assert_eq!((g.account.as_str(), g.sticky_hit), ("st-a", false));
    assert_eq!(
        s.sticky_get("claude:sess-1", now())
            .await
            .unwrap()
            .unwrap()
            .as_str(),
        "st-a"
    );
    // A binding to an account that is not a candidate (cooling down, excluded) is not honoured.
    s.release_lease(&AccountId::new("st-a"), &l2).await.unwrap();
    let only_b = cands(&[("st-b", 2)]);
    let l3 = lease(102);
    let g = acquire(&*s, &only_b, Some("claude:sess-1"), &l3, 60_000)
        .await
        .unwrap();
    assert_eq!((g.account.as_str(), g.sticky_hit), ("st-b", false));
    assert_eq!(
        s.sticky_get("claude:sess-1", now())
            .await
            .unwrap()
            .unwrap()
            .as_str(),
        "st-b"
    );
    // New sessions are bound to what they got.
    s.release_lease(&AccountId::new("st-b"), &l3).await.unwrap();
    let l4 = lease(103);
    let g = acquire(&*s, &c, Some("claude:sess-new"), &l4, 60_000)
        .await
        .unwrap();
    assert!(!g.sticky_hit);
    assert_eq!(
        s.sticky_get("claude:sess-new", now()).await.unwrap(),
        Some(g.account.clone())
    );
    for (a, l) in [("st-b", &l1), ("st-a", &l4), ("st-b", &l4)] {
        s.release_lease(&AccountId::new(a), l).await.unwrap();
    }
    assert_eq!(count(&*s, "st-a").await + count(&*s, "st-b").await, 0);
}

/// Lease expiry is judged at the time each call passes, so this runs on a timeline of its own
/// (t0 + n ms) instead of sleeping: a renewal cannot come late on a loaded machine.
pub async fn leases_expire_unless_renewed(s: Arc<dyn Store>) {
    let c = cands(&[("ttl-a", 2)]);
    let (l1, l2) = (lease(200), lease(201));
    let t0 = now();
    acquire_at(&*s, &c, None, &l1, 400, t0).await.unwrap();
    acquire_at(&*s, &c, None, &l2, 400, t0).await.unwrap();
    assert_eq!(count_at(&*s, "ttl-a", t0).await, 2);
    s.renew_leases(&[(AccountId::new("ttl-a"), l2.clone())], 1_000, t0 + 250)
        .await
        .unwrap();
    assert_eq!(
        count_at(&*s, "ttl-a", t0 + 550).await,
        1,
        "the renewed lease lives on (to t0 + 1250), the other expired (at t0 + 400)"
    );
    // The expired slot is free again even though it was never released.
    let l3 = lease(202);
    assert!(acquire_at(&*s, &c, None, &l3, 60_000, t0 + 550).await.is_some());
    assert_eq!(count_at(&*s, "ttl-a", t0 + 1_450).await, 1, "only the new lease");
    s.sweep_leases(t0 + 1_450).await.unwrap();
    s.release_lease(&AccountId::new("ttl-a"), &l3).await.unwrap();
    assert_eq!(count(&*s, "ttl-a").await, 0);
}

pub async fn concurrent_acquisition_never_exceeds_limits(s: Arc<dyn Store>) {
    let c: Vec<SlotCandidate> = (0..5)
        .map(|i| SlotCandidate {
            account: AccountId::new(format!("conc-{i}")),
            limit: 2,
        })
        .collect();
    let c = Arc::new(c);
    let tasks = (0..200).map(|i| {
        let (s, c) = (s.clone(), c.clone());
        async move {
            let l = lease(1_000 + i);
            acquire(&*s, &c, Some(&format!("claude:conc-{}", i % 7)), &l, 60_000)
                .await
                .map(|g| (g.account, l))
        }
    });
    let granted: Vec<_> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(granted.len(), 10, "5 accounts x limit 2");
    let counts = s.slot_counts(now()).await.unwrap();
    for cand in c.iter() {
        assert_eq!(counts.get(&cand.account).copied().unwrap_or(0), 2);
    }
    for (a, l) in granted {
        s.release_lease(&a, &l).await.unwrap();
    }
    let counts = s.slot_counts(now()).await.unwrap();
    assert!(
        c.iter()
            .all(|cand| counts.get(&cand.account).copied().unwrap_or(0) == 0)
    );
}

/// `slot_count` answers for one holder as `slot_counts` does for all, live leases only, and
/// holder ids outside the account namespace (`key:{id}`, API-key slots) work like account ids.
pub async fn slot_count_answers_for_one_holder(s: Arc<dyn Store>) {
    let key = cands(&[("key:conformance-k", 2)]);
    let other = cands(&[("count-a", 0)]);
    let (l1, l2, l3, l4) = (lease(300), lease(301), lease(302), lease(303));
    acquire(&*s, &key, None, &l1, 60_000).await.unwrap();
    acquire(&*s, &key, None, &l2, 300).await.unwrap();
    assert!(
        acquire(&*s, &key, None, &l3, 60_000).await.is_none(),
        "a holder's limit holds like an account's"
    );
    acquire(&*s, &other, None, &l4, 60_000).await.unwrap();
    let one = |id: &'static str| {
        let s = s.clone();
        async move { s.slot_count(&AccountId::new(id), now()).await.unwrap() }
    };
    assert_eq!(one("key:conformance-k").await, 2);
    assert_eq!(one("count-a").await, 1);
    assert_eq!(one("key:nobody").await, 0);
    assert_eq!(count(&*s, "key:conformance-k").await, 2);
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(one("key:conformance-k").await, 1, "the short lease expired");
    assert_eq!(count(&*s, "key:conformance-k").await, 1);
    s.release_lease(&AccountId::new("key:conformance-k"), &l1)
        .await
        .unwrap();
    s.release_lease(&AccountId::new("count-a"), &l4).await.unwrap();
    s.sweep_leases(now()).await.unwrap();
    assert_eq!(one("key:conformance-k").await, 0);
    assert_eq!(one("count-a").await, 0);
}

/// `release_leases` releases exactly the leases of the batch, across holders, and ignores
/// leases that are unknown or already released.
pub async fn release_leases_releases_a_batch(s: Arc<dyn Store>) {
    let (a, b) = (cands(&[("batch-a", 0)]), cands(&[("key:batch-b", 0)]));
    let leases: Vec<LeaseId> = (400..406).map(lease).collect();
    for l in &leases[..4] {
        acquire(&*s, &a, None, l, 60_000).await.unwrap();
    }
    for l in &leases[4..] {
        acquire(&*s, &b, None, l, 60_000).await.unwrap();
    }
    let (ida, idb) = (AccountId::new("batch-a"), AccountId::new("key:batch-b"));
    let batch = vec![
        (ida.clone(), leases[0].clone()),
        (ida.clone(), leases[1].clone()),
        (idb.clone(), leases[4].clone()),
        (ida.clone(), lease(499)),
        (AccountId::new("batch-nobody"), leases[2].clone()),
    ];
    s.release_leases(&batch).await.unwrap();
    assert_eq!(count(&*s, "batch-a").await, 2, "leases 402 and 403 stay");
    assert_eq!(count(&*s, "key:batch-b").await, 1);
    s.release_leases(&batch).await.unwrap();
    s.release_leases(&[]).await.unwrap();
    assert_eq!(count(&*s, "batch-a").await, 2, "idempotent");
    let rest = vec![
        (ida.clone(), leases[2].clone()),
        (ida, leases[3].clone()),
        (idb, leases[5].clone()),
    ];
    s.release_leases(&rest).await.unwrap();
    assert_eq!(count(&*s, "batch-a").await, 0);
    assert_eq!(count(&*s, "key:batch-b").await, 0);
}

/// A backend shared by several instances announces every freed account slot (so waiters on
/// other instances wake), and never a slot of another holder (`key:` slots have no waiters).
/// A backend of one process announces nothing (`None`): its releases wake waiters directly.
pub async fn slot_notices_report_account_releases(s: Arc<dyn Store>) {
    use futures::StreamExt;
    let Some(mut notices) = s.slot_notices() else {
        return;
    };
    let (a, k) = (cands(&[("notice-a", 0)]), cands(&[("key:notice-k", 0)]));
    // The subscription starts in the background: release again until a notice comes through.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    for n in 600.. {
        let (la, lk) = (lease(n), lease(n + 10_000));
        acquire(&*s, &a, None, &la, 60_000).await.unwrap();
        acquire(&*s, &k, None, &lk, 60_000).await.unwrap();
        let batch = [
            (AccountId::new("key:notice-k"), lk),
            (AccountId::new("notice-a"), la),
        ];
        s.release_leases(&batch).await.unwrap();
        match tokio::time::timeout(Duration::from_millis(200), notices.next()).await {
            Ok(Some((account, got))) => {
                assert_eq!(account.as_str(), "notice-a", "only account slots are announced");
                assert!(got.as_str().starts_with("conformance-"), "{got:?}");
                return;
            }
            Ok(None) => panic!("the notice stream ended"),
            Err(_) => assert!(std::time::Instant::now() < deadline, "no slot notice arrived"),
        }
    }
}

/// The user-turn gate (pacing). A store shared by several instances (one with slot notices)
/// keeps one holder at a time, a gap after each release and a TTL on a holder that never
/// releases; a store of one process answers `Taken` (its process's own gate orders turns).
pub async fn pacing_gate_has_one_holder_and_a_gap(s: Arc<dyn Store>) {
    let acct = AccountId::new(format!("pacing-{}", std::process::id()));
    let t = now();
    let first = s.pacing_take(&acct, "holder-a", 0, 60_000, t).await.unwrap();
    assert_eq!(first, PacingTake::Taken);
    let other = s.pacing_take(&acct, "holder-b", 0, 60_000, t).await.unwrap();
    if s.slot_notices().is_none() {
        assert_eq!(other, PacingTake::Taken, "one process orders its own turns");
        s.pacing_release(&acct, "holder-a", 1_000, t).await.unwrap();
        return;
    }
    assert!(
        matches!(other, PacingTake::Busy { retry_in_ms } if retry_in_ms > 0),
        "{other:?}"
    );
    // Only the holder releases; a release is idempotent.
    s.pacing_release(&acct, "holder-b", 61_000, t).await.unwrap();
    assert!(matches!(
        s.pacing_take(&acct, "holder-b", 0, 60_000, t).await.unwrap(),
        PacingTake::Busy { .. }
    ));
    s.pacing_release(&acct, "holder-a", 61_000, t).await.unwrap();
    s.pacing_release(&acct, "holder-a", 61_000, t).await.unwrap();
    // Free, but the gap after the release runs until t + 60 s.
    match s
        .pacing_take(&acct, "holder-b", 60_000, 60_000, t + 1_000)
        .await
        .unwrap()
    {
        PacingTake::Busy { retry_in_ms } => assert_eq!(retry_in_ms, 59_000),
        PacingTake::Taken => panic!("the gap was not kept"),
    }
    let after_gap = s
        .pacing_take(&acct, "holder-b", 60_000, 200, t + 60_000)
        .await
        .unwrap();
    assert_eq!(after_gap, PacingTake::Taken);
    // A holder that never releases (a crashed instance) loses the gate after its TTL.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let later = s
        .pacing_take(&acct, "holder-c", 0, 60_000, t + 60_000)
        .await
        .unwrap();
    assert_eq!(later, PacingTake::Taken, "the TTL freed the gate");
}

/// Instantiates every conformance check as a test for one backend.
/// `$make` is an async expression returning `Arc<dyn Store>` (a fresh, empty store).
#[macro_export]
macro_rules! conformance_tests {
    ($make:expr) => {
        $crate::conformance_tests!(@each $make;
            accounts_round_trip, groups_round_trip, health_round_trip, sticky_bindings_expire,
            sticky_bindings_are_bounded,
            acquire_respects_limits, unlimited_accounts_take_any_number,
            acquire_honours_and_rebinds_sessions, leases_expire_unless_renewed,
            concurrent_acquisition_never_exceeds_limits, slot_count_answers_for_one_holder,
            release_leases_releases_a_batch, slot_notices_report_account_releases,
            pacing_gate_has_one_holder_and_a_gap);
    };
    (@each $make:expr; $($name:ident),*) => {
        $(
            #[actix_rt::test]
            async fn $name() {
                let store = $make.await;
                $crate::store::conformance::$name(store).await;
            }
        )*
    };
}
