//! When nothing can serve, the answer names why (and when an account is expected back).
mod support;

use support::*;
use switchyard_actors::pool::Outcome;
use switchyard_actors::store::AccountPatch;
use switchyard_actors::{ModelSupport, NoAccount, Platform, SelectAccount};

#[actix_rt::test]
async fn no_configured_or_enabled_account_is_no_accounts() {
    let h = start().await;
    assert_eq!(
        h.refused(claude_req()).await,
        NoAccount::NoAccounts {
            platform: Platform::Claude
        }
    );
    let t = h.now();
    let mut off = claude("off", t);
    off.active = false;
    h.add([off, gemini("gem", t)]).await;
    assert_eq!(
        h.refused(claude_req().model("claude-sonnet-5")).await,
        NoAccount::NoAccounts {
            platform: Platform::Claude
        },
        "disabled accounts and other platforms' accounts do not count"
    );
    assert_eq!(
        h.refused(SelectAccount::new(Platform::OpenAi)).await,
        NoAccount::NoAccounts {
            platform: Platform::OpenAi
        }
    );
}

#[actix_rt::test]
async fn no_account_supporting_the_model_is_model_unsupported() {
    let h = start().await;
    let t = h.now();
    let mut a = claude("a", t);
    a.models = ModelSupport::List(vec!["claude-sonnet-5".into()]);
    h.add([a, claude_oauth("oauth", t)]).await;
    assert_eq!(
        h.refused(claude_req().model("gpt-5")).await,
        NoAccount::ModelUnsupported {
            platform: Platform::Claude,
            model: "gpt-5".into()
        }
    );
}

#[actix_rt::test]
async fn all_cooling_down_reports_the_earliest_recovery() {
    let h = start().await;
    let t = h.now();
    h.add([claude("a", t), claude("b", t), claude("c", t)]).await;
    h.mark("a", status(529), None).await; // 600 s
    h.mark("b", status(503), None).await; // 60 s
    let limit = Outcome::Status {
        status: 429,
        retry_after_ms: None,
        reset_at: Some(t + 30_000),
    };
    h.mark("c", limit, Some("claude-opus-4-8")).await; // opus only, 30 s
    assert_eq!(
        h.refused(claude_req().model("claude-opus-4-8")).await,
        NoAccount::AllCoolingDown { retry_at: t + 30_000 }
    );
    assert_eq!(
        h.pick(claude_req().model("claude-sonnet-5")).await,
        "c",
        "c is limited for opus only"
    );
    h.mark("c", status(529), None).await;
    assert_eq!(
        h.refused(claude_req()).await,
        NoAccount::AllCoolingDown { retry_at: t + 60_000 }
    );
    let no = h.refused(claude_req()).await;
    assert_eq!(no.retry_at(), Some(t + 60_000));
    assert_eq!(no.code(), "all_cooling_down");
    h.clock.advance_ms(60_000);
    assert_eq!(h.pick(claude_req()).await, "b", "the earliest is back on time");
}

#[actix_rt::test]
async fn all_eligible_accounts_at_their_limit_is_all_full() {
    let h = start().await;
    let t = h.now();
    let mut a = claude("a", t);
    a.max_concurrency = 1;
    let mut b = claude("b", t);
    b.max_concurrency = 2;
    h.add([a, b]).await;
    let held: Vec<_> = futures::future::join_all((0..3).map(|_| h.select(claude_req())))
        .await
        .into_iter()
        .map(|r| r.expect("three slots exist"))
        .collect();
    assert_eq!(h.refused(claude_req()).await, NoAccount::AllFull);
    drop(held);
    h.settle_counts(&[]).await;
    assert!(h.select(claude_req()).await.is_ok());
}

#[actix_rt::test]
async fn all_eligible_accounts_already_tried_is_exhausted() {
    let h = start().await;
    let t = h.now();
    let mut off = claude("off", t);
    off.schedulable = false;
    h.add([claude("a", t), claude("b", t), off]).await;
    let no = h.refused(claude_req().exclude(vec![id("a"), id("b")])).await;
    assert_eq!(no, NoAccount::Exhausted);
    assert_eq!(no.code(), "all_tried");
}

#[actix_rt::test]
async fn excluded_and_cooling_accounts_together_report_the_cooldown() {
    let h = start().await;
    let t = h.now();
    h.add([claude("a", t), claude("b", t)]).await;
    h.mark("b", status(503), None).await;
    assert_eq!(
        h.refused(claude_req().exclude(vec![id("a")])).await,
        NoAccount::AllCoolingDown { retry_at: t + 60_000 },
        "waiting helps: b comes back"
    );
    h.patch(
        "b",
        AccountPatch {
            active: Some(false),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        h.refused(claude_req().exclude(vec![id("a")])).await,
        NoAccount::Exhausted
    );
}
