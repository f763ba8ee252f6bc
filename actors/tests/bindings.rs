//! Key bindings (§5): a dedicated account (strict by default, or falling back to the shared
//! pool) and an account group (only its members serve).
mod support;

use support::*;
use switchyard_actors::scheduler::{DedicatedReason, StickyOutcome};
use switchyard_actors::store::AccountPatch;
use switchyard_actors::{
    Binding, Group, KeyBindings, ModelSupport, NoAccount, Platform, SelectAccount, Sharing,
};

fn dedicated_to(account: &str) -> KeyBindings {
    KeyBindings {
        claude: Some(Binding::Account(id(account))),
        ..Default::default()
    }
}

fn dedicated_with_fallback(account: &str) -> KeyBindings {
    KeyBindings {
        dedicated_fallback: Some(true),
        ..dedicated_to(account)
    }
}

/// `own` is dedicated (not shared) and ranks below the shared `pool` account.
async fn dedicated_setup() -> Harness {
    let h = start().await;
    let t = h.now();
    let mut own = claude("own", t);
    own.sharing = Sharing::Dedicated;
    own.priority = 90;
    h.add([own, claude("pool", t), gemini("gem", t)]).await;
    h
}

fn unavailable(no: NoAccount) -> (String, DedicatedReason, Option<i64>) {
    match no {
        NoAccount::DedicatedUnavailable {
            account,
            reason,
            retry_at,
        } => (account.as_str().to_owned(), reason, retry_at),
        other => panic!("expected DedicatedUnavailable, got {other:?}"),
    }
}

#[actix_rt::test]
async fn a_healthy_dedicated_account_serves_its_key_even_when_not_shared() {
    let h = dedicated_setup().await;
    let req = || claude_req().bindings(dedicated_to("own"));
    for _ in 0..3 {
        let s = h.select(req().session(session("s1"))).await.unwrap();
        assert_eq!(s.account.id.as_str(), "own");
        assert_eq!(
            s.sticky,
            StickyOutcome::NoSession,
            "session bindings do not apply to a dedicated account"
        );
        h.clock.advance_ms(10);
    }
    assert_eq!(
        h.pick(claude_req()).await,
        "pool",
        "other keys never get the dedicated account"
    );
}

#[actix_rt::test]
async fn a_strict_dedicated_binding_names_each_reason_it_cannot_serve() {
    let h = dedicated_setup().await;
    let strict = |account: &str| claude_req().bindings(dedicated_to(account));

    let (acc, reason, _) = unavailable(h.refused(strict("ghost")).await);
    assert_eq!((acc.as_str(), reason), ("ghost", DedicatedReason::Missing));

    let (_, reason, _) = unavailable(h.refused(strict("gem")).await);
    assert_eq!(reason, DedicatedReason::WrongPlatform);

    let (_, reason, retry_at) = unavailable(h.refused(strict("own").exclude(vec![id("own")])).await);
    assert_eq!((reason, retry_at), (DedicatedReason::AlreadyTried, None));

    h.patch(
        "own",
        AccountPatch {
            models: Some(ModelSupport::List(vec!["claude-sonnet-5".into()])),
            ..Default::default()
        },
    )
    .await;
    let (_, reason, _) = unavailable(h.refused(strict("own").model("claude-opus-4-8")).await);
    assert_eq!(reason, DedicatedReason::ModelUnsupported);
    assert_eq!(h.pick(strict("own").model("claude-sonnet-5")).await, "own");

    let change = h.mark("own", status(529), None).await;
    let switchyard_actors::pool::HealthChange::CooledDown { until, .. } = change else {
        panic!("529 cools down, got {change:?}");
    };
    let (_, reason, retry_at) = unavailable(h.refused(strict("own")).await);
    assert_eq!((reason, retry_at), (DedicatedReason::CoolingDown, Some(until)));
    h.clock.advance_ms(until - h.now());
    assert_eq!(h.pick(strict("own")).await, "own", "back when the cooldown ends");

    h.patch(
        "own",
        AccountPatch {
            active: Some(false),
            ..Default::default()
        },
    )
    .await;
    let (_, reason, _) = unavailable(h.refused(strict("own")).await);
    assert_eq!(reason, DedicatedReason::Disabled);
}

#[actix_rt::test]
async fn a_strict_dedicated_account_that_is_full_is_reported_full() {
    let h = dedicated_setup().await;
    h.patch(
        "own",
        AccountPatch {
            max_concurrency: Some(1),
            ..Default::default()
        },
    )
    .await;
    let req = || claude_req().bindings(dedicated_to("own"));
    let held = h.select(req()).await.unwrap();
    assert_eq!(held.account.id.as_str(), "own");
    let (acc, reason, retry_at) = unavailable(h.refused(req()).await);
    assert_eq!(
        (acc.as_str(), reason, retry_at),
        ("own", DedicatedReason::Full, None)
    );
    drop(held);
    h.settle_counts(&[]).await;
    assert_eq!(h.pick(req()).await, "own");
}

#[actix_rt::test]
async fn a_family_limited_dedicated_account_reports_when_it_is_back() {
    let h = dedicated_setup().await;
    let reset = h.now() + 7_200_000;
    let limit = switchyard_actors::pool::Outcome::Status {
        status: 429,
        retry_after_ms: None,
        reset_at: Some(reset),
    };
    h.mark("own", limit, Some("claude-opus-4-8")).await;
    let req = |model: &str| claude_req().bindings(dedicated_to("own")).model(model);
    let (_, reason, retry_at) = unavailable(h.refused(req("claude-opus-4-8")).await);
    assert_eq!((reason, retry_at), (DedicatedReason::CoolingDown, Some(reset)));
    assert_eq!(h.pick(req("claude-sonnet-5")).await, "own");
}

#[actix_rt::test]
async fn a_key_with_fallback_is_served_by_the_pool_when_its_dedicated_account_cannot() {
    let h = dedicated_setup().await;
    let fb = |account: &str| claude_req().bindings(dedicated_with_fallback(account));
    assert_eq!(h.pick(fb("own")).await, "own", "healthy: the dedicated account");
    assert_eq!(h.pick(fb("ghost")).await, "pool");
    assert_eq!(h.pick(fb("gem")).await, "pool");
    assert_eq!(h.pick(fb("own").exclude(vec![id("own")])).await, "pool");
    h.mark("own", status(401), None).await;
    assert_eq!(h.pick(fb("own")).await, "pool");
    // The pool behind a dedicated account is the shared pool: the fallback sticks sessions.
    let s = h.select(fb("own").session(session("s1"))).await.unwrap();
    assert_eq!((s.account.id.as_str(), s.sticky), ("pool", StickyOutcome::Bound));
}

#[actix_rt::test]
async fn the_scheduler_setting_turns_fallback_on_and_a_key_can_turn_it_off() {
    let mut settings = quiet_settings();
    settings.scheduler.dedicated_fallback = true;
    let h = start_with(settings).await;
    let t = h.now();
    let mut own = claude("own", t);
    own.sharing = Sharing::Dedicated;
    own.active = false;
    h.add([own, claude("pool", t)]).await;
    assert_eq!(h.pick(claude_req().bindings(dedicated_to("own"))).await, "pool");
    let strict = KeyBindings {
        dedicated_fallback: Some(false),
        ..dedicated_to("own")
    };
    let (_, reason, _) = unavailable(h.refused(claude_req().bindings(strict)).await);
    assert_eq!(reason, DedicatedReason::Disabled);
}

#[actix_rt::test]
async fn a_full_healthy_dedicated_account_with_fallback_overflows_to_the_pool() {
    let h = dedicated_setup().await;
    h.patch(
        "own",
        AccountPatch {
            max_concurrency: Some(1),
            ..Default::default()
        },
    )
    .await;
    let req = || claude_req().bindings(dedicated_with_fallback("own"));
    let held = h.select(req()).await.unwrap();
    assert_eq!(held.account.id.as_str(), "own");
    let overflow = h.select(req()).await.unwrap();
    assert_eq!(overflow.account.id.as_str(), "pool");
    assert_eq!(h.counts().await.get("own"), Some(&1));
}

/// Accounts `m1`, `m2` in group `team`; `outsider` ranks first but is not a member.
async fn group_setup() -> Harness {
    let h = start().await;
    let t = h.now();
    let mut outsider = claude("outsider", t);
    outsider.priority = 1;
    let mut m1 = claude("m1", t - 2);
    m1.max_concurrency = 1;
    let mut m2 = claude("m2", t - 1);
    m2.max_concurrency = 1;
    h.add([outsider, m1, m2, gemini("gem", t)]).await;
    h.add_group(Group {
        id: "team".into(),
        name: "team".into(),
        platform: Platform::Claude,
        members: vec![id("m1"), id("m2")],
    })
    .await;
    h
}

fn group(g: &str) -> KeyBindings {
    KeyBindings {
        claude: Some(Binding::Group(g.into())),
        ..Default::default()
    }
}

#[actix_rt::test]
async fn only_group_members_serve_a_group_bound_key() {
    let h = group_setup().await;
    let req = || claude_req().bindings(group("team"));
    let first = h.select(req()).await.unwrap();
    let second = h.select(req()).await.unwrap();
    let mut got = [first.account.id.as_str(), second.account.id.as_str()];
    got.sort();
    assert_eq!(got, ["m1", "m2"]);
    assert_eq!(
        h.refused(req()).await,
        NoAccount::AllFull,
        "members full: the outsider is not used"
    );
    assert_eq!(h.pick(claude_req()).await, "outsider");
}

#[actix_rt::test]
async fn a_missing_or_foreign_group_is_reported_not_found() {
    let h = group_setup().await;
    h.add_group(Group {
        id: "gem-team".into(),
        name: "gemini team".into(),
        platform: Platform::Gemini,
        members: vec![id("gem")],
    })
    .await;
    for g in ["nope", "gem-team"] {
        assert_eq!(
            h.refused(claude_req().bindings(group(g))).await,
            NoAccount::GroupNotFound { group: g.into() }
        );
    }
    let gem = SelectAccount::new(Platform::Gemini).bindings(KeyBindings {
        gemini: Some(Binding::Group("gem-team".into())),
        ..Default::default()
    });
    assert_eq!(h.pick(gem).await, "gem");
}

#[actix_rt::test]
async fn a_group_without_usable_members_is_reported_empty() {
    let h = group_setup().await;
    for (gid, members) in [
        ("empty", vec![]),
        ("ghosts", vec![id("ghost")]),
        ("wrong-platform", vec![id("gem")]),
    ] {
        h.add_group(Group {
            id: gid.into(),
            name: gid.into(),
            platform: Platform::Claude,
            members,
        })
        .await;
        assert_eq!(
            h.refused(claude_req().bindings(group(gid))).await,
            NoAccount::GroupEmpty { group: gid.into() }
        );
    }
}

#[actix_rt::test]
async fn sessions_stick_within_a_group() {
    let h = group_setup().await;
    let req = || claude_req().bindings(group("team")).session(session("s1"));
    let first = h.select(req()).await.unwrap();
    assert_eq!(
        (first.account.id.as_str(), first.sticky),
        ("m1", StickyOutcome::Bound)
    );
    drop(first);
    h.settle_counts(&[]).await;
    h.clock.advance_ms(100);
    let again = h.select(req()).await.unwrap();
    assert_eq!(
        (again.account.id.as_str(), again.sticky),
        ("m1", StickyOutcome::Hit)
    );
    drop(again);
    // A binding outside the group is not honoured for the group's key.
    h.settle_counts(&[]).await;
    let outside = h.select(claude_req().session(session("s2"))).await.unwrap();
    assert_eq!(outside.account.id.as_str(), "outsider");
    drop(outside);
    let in_group = h
        .select(claude_req().bindings(group("team")).session(session("s2")))
        .await
        .unwrap();
    assert_eq!(in_group.sticky, StickyOutcome::Bound);
    assert_ne!(in_group.account.id.as_str(), "outsider");
}
