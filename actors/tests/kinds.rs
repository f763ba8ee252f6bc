//! The account-kind filter on `SelectAccount` (`kinds`): some requests can be served only by
//! some kinds (OpenAI chat completions by `openai-responses` accounts, Gemini `/v1internal:`
//! calls by `gemini` OAuth accounts). The filter applies to the pool, groups and dedicated
//! bindings, and a refusal names it.
mod support;

use support::*;
use switchyard_actors::scheduler::{DedicatedReason, StickyOutcome};
use switchyard_actors::store::AccountPatch;
use switchyard_actors::{
    AccountKind, Binding, Group, KeyBindings, ModelSupport, NoAccount, Platform, SelectAccount, Sharing,
};

const RESPONSES: AccountKind = AccountKind::OpenAiResponses;

fn openai_req() -> SelectAccount {
    SelectAccount::new(Platform::OpenAi)
}

fn chat() -> SelectAccount {
    openai_req().kinds([RESPONSES])
}

/// `codex` (OAuth) ranks first: it is the oldest. `resp` is an OpenAI Responses API key.
async fn openai_setup() -> Harness {
    let h = start().await;
    let t = h.now();
    h.add([
        account("codex", AccountKind::OpenAiOAuth, t - 2),
        openai("resp", t - 1),
    ])
    .await;
    h
}

#[actix_rt::test]
async fn only_accounts_of_the_wanted_kinds_serve() {
    let h = openai_setup().await;
    assert_eq!(h.pick(openai_req()).await, "codex", "no filter: the usual order");
    for _ in 0..3 {
        h.clock.advance_ms(10);
        assert_eq!(h.pick(chat()).await, "resp");
    }
    assert_eq!(
        h.pick(openai_req().kinds([RESPONSES, AccountKind::OpenAiOAuth]))
            .await,
        "codex",
        "both kinds: least recently used first"
    );

    // Gemini: Code Assist calls need the OAuth account, even when the API key ranks first.
    let t = h.now();
    h.add([
        gemini("gem-key", t - 100),
        account("gem-oauth", AccountKind::GeminiOAuth, t),
    ])
    .await;
    let gemini_req = || SelectAccount::new(Platform::Gemini);
    assert_eq!(h.pick(gemini_req()).await, "gem-key");
    assert_eq!(
        h.pick(gemini_req().kinds([AccountKind::GeminiOAuth])).await,
        "gem-oauth"
    );
    h.settle_counts(&[]).await;
}

#[actix_rt::test]
async fn no_account_of_the_wanted_kind_is_its_own_reason() {
    let h = start().await;
    let t = h.now();
    // No account at all: still "no accounts".
    assert_eq!(
        h.refused(chat()).await,
        NoAccount::NoAccounts {
            platform: Platform::OpenAi
        }
    );
    h.add([account("codex", AccountKind::OpenAiOAuth, t)]).await;
    let no = h.refused(chat()).await;
    assert_eq!(
        no,
        NoAccount::KindUnavailable {
            platform: Platform::OpenAi,
            kinds: vec![RESPONSES]
        }
    );
    assert_eq!(no.code(), "no_account_of_kind");
    assert_eq!(
        no.to_string(),
        "no openai account of kind openai-responses is configured and enabled"
    );
    assert_eq!(no.retry_at(), None);
    assert_eq!(
        h.refused(openai_req().kinds([RESPONSES, AccountKind::ClaudeConsole]))
            .await
            .to_string(),
        "no openai account of kind openai-responses or claude-console is configured and enabled"
    );

    // An account of the kind that is disabled does not count.
    h.add([openai("resp", t)]).await;
    assert_eq!(h.pick(chat()).await, "resp");
    h.patch(
        "resp",
        AccountPatch {
            schedulable: Some(false),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(h.refused(chat()).await.code(), "no_account_of_kind");
    h.settle_counts(&[]).await;
}

#[actix_rt::test]
async fn the_other_reasons_are_counted_among_accounts_of_the_kind() {
    let h = openai_setup().await;
    let t = h.now();
    let mut listed = openai("listed", t);
    listed.models = ModelSupport::List(vec!["gpt-5".into()]);
    h.add([listed]).await;
    h.patch(
        "resp",
        AccountPatch {
            models: Some(ModelSupport::List(vec!["gpt-5".into()])),
            ..Default::default()
        },
    )
    .await;
    // `codex` serves every model, but is of another kind: the reason is the model.
    assert_eq!(
        h.refused(chat().model("o3")).await,
        NoAccount::ModelUnsupported {
            platform: Platform::OpenAi,
            model: "o3".into()
        }
    );
    assert_eq!(h.pick(openai_req().model("o3")).await, "codex");

    // Every account of the kind tried: exhausted, though `codex` is free.
    let tried = vec![id("resp"), id("listed")];
    assert_eq!(h.refused(chat().exclude(tried)).await, NoAccount::Exhausted);

    // Every account of the kind cooling down: the earliest return, `codex` notwithstanding.
    h.mark("resp", status(503), None).await;
    h.mark("listed", status(529), None).await;
    assert_eq!(
        h.refused(chat()).await,
        NoAccount::AllCoolingDown { retry_at: t + 60_000 }
    );
    assert_eq!(h.pick(openai_req()).await, "codex");
    h.settle_counts(&[]).await;
}

#[actix_rt::test]
async fn kinds_of_another_platform_never_match_and_an_empty_list_matches_nothing() {
    let h = openai_setup().await;
    assert_eq!(
        h.refused(openai_req().kinds([AccountKind::ClaudeConsole])).await,
        NoAccount::KindUnavailable {
            platform: Platform::OpenAi,
            kinds: vec![AccountKind::ClaudeConsole]
        }
    );
    let none = h.refused(openai_req().kinds([])).await;
    assert_eq!(
        none,
        NoAccount::KindUnavailable {
            platform: Platform::OpenAi,
            kinds: vec![]
        }
    );
    assert!(none.to_string().contains("of kind (none)"), "{none}");
}

#[actix_rt::test]
async fn a_group_serves_only_its_members_of_the_wanted_kinds() {
    let h = openai_setup().await;
    let t = h.now();
    h.add([account("codex-2", AccountKind::OpenAiOAuth, t)]).await;
    let group = |gid: &str, members: &[&str]| Group {
        id: gid.into(),
        name: gid.into(),
        platform: Platform::OpenAi,
        members: members.iter().map(|m| id(m)).collect(),
    };
    h.add_group(group("mixed", &["codex", "resp"])).await;
    h.add_group(group("oauth-only", &["codex", "codex-2"])).await;
    let bound_to = |gid: &str| KeyBindings {
        openai: Some(Binding::Group(gid.into())),
        ..Default::default()
    };
    assert_eq!(h.pick(openai_req().bindings(bound_to("mixed"))).await, "codex");
    assert_eq!(h.pick(chat().bindings(bound_to("mixed"))).await, "resp");
    assert_eq!(
        h.refused(chat().bindings(bound_to("oauth-only"))).await,
        NoAccount::KindUnavailable {
            platform: Platform::OpenAi,
            kinds: vec![RESPONSES]
        },
        "`resp` is in the pool, but not in the group"
    );
    h.settle_counts(&[]).await;
}

#[actix_rt::test]
async fn a_dedicated_account_of_another_kind_is_unavailable_as_wrong_kind() {
    let h = openai_setup().await;
    let t = h.now();
    let mut own = account("own-codex", AccountKind::OpenAiOAuth, t);
    own.sharing = Sharing::Dedicated;
    h.add([own]).await;
    let strict = KeyBindings {
        openai: Some(Binding::Account(id("own-codex"))),
        ..Default::default()
    };
    assert_eq!(h.pick(openai_req().bindings(strict.clone())).await, "own-codex");
    let no = h.refused(chat().bindings(strict.clone())).await;
    assert_eq!(
        no,
        NoAccount::DedicatedUnavailable {
            account: id("own-codex"),
            reason: DedicatedReason::WrongKind,
            retry_at: None
        }
    );
    assert_eq!(DedicatedReason::WrongKind.as_str(), "wrong_kind");
    assert_eq!(
        no.to_string(),
        "the dedicated account own-codex is unavailable (wrong_kind)"
    );
    // With fallback, the shared pool serves, filtered by kind too.
    let fallback = KeyBindings {
        dedicated_fallback: Some(true),
        ..strict
    };
    for _ in 0..3 {
        h.clock.advance_ms(10);
        assert_eq!(h.pick(chat().bindings(fallback.clone())).await, "resp");
    }
    // A dedicated account of the kind serves as before.
    let mut own_key = openai("own-key", t);
    own_key.sharing = Sharing::Dedicated;
    h.add([own_key]).await;
    let to_key = KeyBindings {
        openai: Some(Binding::Account(id("own-key"))),
        ..Default::default()
    };
    assert_eq!(h.pick(chat().bindings(to_key)).await, "own-key");
    h.settle_counts(&[]).await;
}

#[actix_rt::test]
async fn a_session_bound_to_an_account_of_another_kind_is_rebound() {
    let h = openai_setup().await;
    let s = h.select(openai_req().session(session("s1"))).await.unwrap();
    assert_eq!((s.account.id.as_str(), s.sticky), ("codex", StickyOutcome::Bound));
    drop(s);
    h.clock.advance_ms(10);
    let s = h.select(chat().session(session("s1"))).await.unwrap();
    assert_eq!((s.account.id.as_str(), s.sticky), ("resp", StickyOutcome::Bound));
    drop(s);
    h.clock.advance_ms(10);
    let s = h.select(openai_req().session(session("s1"))).await.unwrap();
    assert_eq!(
        (s.account.id.as_str(), s.sticky),
        ("resp", StickyOutcome::Hit),
        "the session now lives on the account of the kind"
    );
    drop(s);
    h.settle_counts(&[]).await;
}
