//! Each pool filter (§5) on its own: a preferred account (priority 1) serves until the filter
//! applies to it, then the request goes to the fallback account (priority 50).
mod support;

use std::collections::BTreeMap;
use support::*;
use switchyard_actors::pool::Outcome;
use switchyard_actors::store::AccountPatch;
use switchyard_actors::{AccountStatus, ModelSupport, NoAccount, Platform, SelectAccount, Sharing};

/// `best` (priority 1) and `fallback` (priority 50) on `platform`; checks that `best` serves
/// while nothing filters it.
async fn preferred_and_fallback(platform: Platform) -> Harness {
    let h = start().await;
    let t = h.now();
    let make = match platform {
        Platform::Claude => claude,
        Platform::Gemini => gemini,
        Platform::OpenAi => openai,
    };
    let mut best = make("best", t);
    best.priority = 1;
    h.add([best, make("fallback", t)]).await;
    assert_eq!(
        h.pick(SelectAccount::new(platform)).await,
        "best",
        "baseline: the preferred account serves"
    );
    h
}

fn patch() -> AccountPatch {
    AccountPatch::default()
}

#[actix_rt::test]
async fn inactive_accounts_are_skipped() {
    let h = preferred_and_fallback(Platform::Claude).await;
    h.patch(
        "best",
        AccountPatch {
            active: Some(false),
            ..patch()
        },
    )
    .await;
    assert_eq!(h.pick(claude_req()).await, "fallback");
}

#[actix_rt::test]
async fn unschedulable_accounts_are_skipped() {
    let h = preferred_and_fallback(Platform::Claude).await;
    h.patch(
        "best",
        AccountPatch {
            schedulable: Some(false),
            ..patch()
        },
    )
    .await;
    assert_eq!(h.pick(claude_req()).await, "fallback");
}

#[actix_rt::test]
async fn accounts_in_error_blocked_or_unauthorized_status_are_skipped() {
    let h = preferred_and_fallback(Platform::Claude).await;
    for bad in [
        AccountStatus::Error,
        AccountStatus::Blocked,
        AccountStatus::Unauthorized,
    ] {
        h.patch(
            "best",
            AccountPatch {
                status: Some(bad),
                ..patch()
            },
        )
        .await;
        assert_eq!(h.pick(claude_req()).await, "fallback", "{bad:?}");
        h.patch(
            "best",
            AccountPatch {
                status: Some(AccountStatus::Active),
                ..patch()
            },
        )
        .await;
        assert_eq!(h.pick(claude_req()).await, "best", "back to active after {bad:?}");
    }
}

#[actix_rt::test]
async fn dedicated_accounts_stay_out_of_the_shared_pool() {
    let h = preferred_and_fallback(Platform::Claude).await;
    h.patch(
        "best",
        AccountPatch {
            sharing: Some(Sharing::Dedicated),
            ..patch()
        },
    )
    .await;
    assert_eq!(h.pick(claude_req()).await, "fallback");
    h.patch(
        "fallback",
        AccountPatch {
            sharing: Some(Sharing::Dedicated),
            ..patch()
        },
    )
    .await;
    assert_eq!(
        h.refused(claude_req()).await,
        NoAccount::NoAccounts {
            platform: Platform::Claude
        },
        "a pool of dedicated accounts has nothing to share"
    );
}

#[actix_rt::test]
async fn model_lists_admit_only_the_listed_names() {
    let h = preferred_and_fallback(Platform::Claude).await;
    h.patch(
        "best",
        AccountPatch {
            models: Some(ModelSupport::List(vec!["claude-sonnet-5".into()])),
            ..patch()
        },
    )
    .await;
    assert_eq!(h.pick(claude_req().model("claude-sonnet-5")).await, "best");
    assert_eq!(h.pick(claude_req().model("claude-opus-4-8")).await, "fallback");
    assert_eq!(
        h.pick(claude_req()).await,
        "best",
        "a request without a model is not filtered by model"
    );
}

#[actix_rt::test]
async fn model_mappings_admit_their_keys_case_insensitively() {
    let h = preferred_and_fallback(Platform::Claude).await;
    let map = BTreeMap::from([("Claude-Sonnet-5".to_owned(), "upstream-sonnet".to_owned())]);
    h.patch(
        "best",
        AccountPatch {
            models: Some(ModelSupport::Map(map)),
            ..patch()
        },
    )
    .await;
    assert_eq!(h.pick(claude_req().model("claude-sonnet-5")).await, "best");
    assert_eq!(h.pick(claude_req().model("CLAUDE-SONNET-5")).await, "best");
    assert_eq!(h.pick(claude_req().model("upstream-sonnet")).await, "fallback");
    assert_eq!(h.pick(claude_req().model("claude-opus-4-8")).await, "fallback");
}

#[actix_rt::test]
async fn claude_oauth_accounts_serve_only_claude_models() {
    let h = start().await;
    let t = h.now();
    let mut oauth = claude_oauth("oauth", t);
    oauth.priority = 1;
    h.add([oauth, claude("console", t)]).await;
    for model in [
        "claude-opus-4-8",
        "claude-sonnet-5",
        "sonnet",
        "Claude-3-5-Haiku-20241022",
    ] {
        assert_eq!(h.pick(claude_req().model(model)).await, "oauth", "{model}");
    }
    for model in ["gpt-5", "glm-4.6", "deepseek-chat"] {
        assert_eq!(h.pick(claude_req().model(model)).await, "console", "{model}");
    }
}

#[actix_rt::test]
async fn gemini_model_lists_compare_without_the_models_prefix() {
    let h = preferred_and_fallback(Platform::Gemini).await;
    let gemini_req = || SelectAccount::new(Platform::Gemini);
    h.patch(
        "best",
        AccountPatch {
            models: Some(ModelSupport::List(vec!["models/gemini-2.5-pro".into()])),
            ..patch()
        },
    )
    .await;
    assert_eq!(h.pick(gemini_req().model("gemini-2.5-pro")).await, "best");
    assert_eq!(h.pick(gemini_req().model("models/gemini-2.5-pro")).await, "best");
    assert_eq!(h.pick(gemini_req().model("gemini-2.5-flash")).await, "fallback");
    h.patch(
        "best",
        AccountPatch {
            models: Some(ModelSupport::List(vec!["gemini-2.5-pro".into()])),
            ..patch()
        },
    )
    .await;
    assert_eq!(h.pick(gemini_req().model("models/gemini-2.5-pro")).await, "best");
    assert_eq!(
        h.pick(gemini_req().model("models/gemini-2.5-flash")).await,
        "fallback"
    );
}

#[actix_rt::test]
async fn openai_model_lists_admit_only_the_listed_names() {
    let h = preferred_and_fallback(Platform::OpenAi).await;
    let openai_req = || SelectAccount::new(Platform::OpenAi);
    h.patch(
        "best",
        AccountPatch {
            models: Some(ModelSupport::List(vec!["gpt-5".into()])),
            ..patch()
        },
    )
    .await;
    assert_eq!(h.pick(openai_req().model("gpt-5")).await, "best");
    assert_eq!(h.pick(openai_req().model("gpt-5-codex")).await, "fallback");
}

#[actix_rt::test]
async fn accounts_already_tried_are_skipped() {
    let h = preferred_and_fallback(Platform::Claude).await;
    assert_eq!(h.pick(claude_req().exclude(vec![id("best")])).await, "fallback");
    assert_eq!(h.pick(claude_req().exclude(vec![id("fallback")])).await, "best");
}

#[actix_rt::test]
async fn accounts_cooling_down_are_skipped() {
    let h = preferred_and_fallback(Platform::Claude).await;
    h.mark("best", status(529), None).await;
    assert_eq!(h.pick(claude_req()).await, "fallback");
    assert_eq!(h.pick(claude_req().model("claude-sonnet-5")).await, "fallback");
}

#[actix_rt::test]
async fn a_family_limit_filters_only_requests_for_that_family() {
    let h = preferred_and_fallback(Platform::Claude).await;
    let limit = Outcome::Status {
        status: 429,
        retry_after_ms: None,
        reset_at: Some(h.now() + 3_600_000),
    };
    h.mark("best", limit, Some("claude-opus-4-8")).await;
    assert_eq!(h.pick(claude_req().model("claude-opus-4-8")).await, "fallback");
    assert_eq!(h.pick(claude_req().model("claude-opus-4-1")).await, "fallback");
    assert_eq!(
        h.pick(claude_req().model("claude-sonnet-5")).await,
        "best",
        "sonnet still flows while opus is limited"
    );
    assert_eq!(h.pick(claude_req().model("claude-haiku-4-5")).await, "best");
    assert_eq!(
        h.pick(claude_req()).await,
        "best",
        "a request without a model has no family"
    );
}
