//! Every request made for an account leaves through that account's proxy: relayed requests,
//! token refreshes and the admin code exchange alike. A proxy that is down or cannot be built
//! fails closed: nothing goes out directly instead.
//!
//! The upstreams here sit on hosts that do not resolve (`*.invalid`), so only a request sent
//! through the proxy (the mock, which answers an absolute-form request by its path) arrives.
mod support;

use serde_json::{Value, json};
use support::{TestApp, claude_body, spawn_app, spawn_app_with};

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A Claude subscription account whose access token has expired.
fn expired_subscription(name: &str, proxy: &str, priority: u32) -> Value {
    json!({
        "name": name, "kind": "claude-official", "base_url": null, "api_key": null,
        "proxy": proxy, "priority": priority,
        "oauth": {"access_token": format!("at-{name}"), "refresh_token": format!("rt-{name}"),
                  "expires_at": now_ms() - 1_000},
    })
}

/// Claude's API and token endpoint on hosts only a proxy can reach.
async fn app_behind_unresolvable_hosts() -> TestApp {
    spawn_app_with(|s| {
        s.upstream.claude.api_base_url = "http://api.upstream.invalid".into();
        s.upstream.claude.token_url = "http://oauth.upstream.invalid/v1/oauth/token".into();
    })
    .await
}

#[actix_web::test]
async fn an_expired_token_is_refreshed_through_the_accounts_proxy() {
    let app = app_behind_unresolvable_hosts().await;
    let id = app
        .add_account(expired_subscription("sub", &app.mock.url(), 1))
        .await;
    let key = app.key().await;
    let resp = app.post_messages(&key, &claude_body(false)).await;
    let status = resp.status();
    assert_eq!(status, 200, "{}", resp.text().await.unwrap_or_default());
    let refreshes = app.mock.token_requests();
    assert_eq!(
        refreshes.len(),
        1,
        "the refresh reached the token endpoint via the proxy"
    );
    assert_eq!(refreshes[0].json()["refresh_token"], "rt-sub");
    let relayed = app.mock.requests();
    assert_eq!(relayed.len(), 1);
    assert!(
        relayed[0]
            .header("authorization")
            .unwrap()
            .starts_with("Bearer mock-at-"),
        "the refreshed token served the request"
    );
    assert!(app.account(&id).await.get("cooldown").is_none());
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn an_account_behind_a_dead_proxy_never_refreshes_directly_and_rests() {
    // The token endpoint is the mock itself, directly reachable: only the proxy is down.
    let app = spawn_app().await;
    let sub = app
        .add_account(expired_subscription("sub", "http://127.0.0.1:1", 1))
        .await;
    app.add_account(json!({"name": "backup", "api_key": "sk-ant-backup", "priority": 2}))
        .await;
    let key = app.key().await;
    let resp = app.post_messages(&key, &claude_body(false)).await;
    assert_eq!(resp.status(), 200, "the next account serves");
    assert!(
        app.mock.token_requests().is_empty(),
        "the refresh token did not go out from the host's own address"
    );
    assert_eq!(app.mock.requests_for("sk-ant-backup").len(), 1);
    assert_eq!(app.account(&sub).await["cooldown"]["reason"], "connect_error");
    app.assert_slots_released().await;
}

#[actix_web::test]
async fn a_proxy_that_cannot_be_built_fails_closed_for_refreshes_and_requests() {
    let app = spawn_app().await;
    let bad = "socks5://[::1";
    // The admin API refuses such a proxy outright ...
    let (status, v) = app
        .admin(
            reqwest::Method::POST,
            "/admin/accounts",
            Some(json!({"name": "refused", "api_key": "sk-ant-refused", "proxy": bad})),
        )
        .await;
    assert_eq!(status, 400, "{v}");
    assert!(!v.to_string().contains(bad), "the URL is not echoed: {v}");
    // ... so one that reached the store anyway (an older version, another tool) is written there.
    let usable = "socks5://127.0.0.1:9";
    let sub = app.add_account(expired_subscription("sub", usable, 1)).await;
    let console = app
        .add_account(json!({"name": "console", "api_key": "sk-ant-badproxy", "proxy": usable, "priority": 1}))
        .await;
    for id in [&sub, &console] {
        let patch = switchyard_actors::store::AccountPatch {
            proxy: Some(bad.into()),
            ..Default::default()
        };
        let id = switchyard_actors::AccountId::from(id.as_str());
        app.state
            .store
            .patch_account(&id, &patch)
            .await
            .unwrap()
            .expect("exists");
    }
    app.state.scheduling.reload().await.unwrap();
    app.add_account(json!({"name": "backup", "api_key": "sk-ant-backup", "priority": 2}))
        .await;
    let key = app.key().await;
    for _ in 0..2 {
        let resp = app.post_messages(&key, &claude_body(false)).await;
        assert_eq!(resp.status(), 200, "the next account serves");
    }
    assert!(
        app.mock.token_requests().is_empty(),
        "no refresh went out directly"
    );
    assert!(
        app.mock.requests_for("sk-ant-badproxy").is_empty(),
        "no request went out directly"
    );
    assert_eq!(app.mock.requests_for("sk-ant-backup").len(), 2);
    for id in [&sub, &console] {
        assert_eq!(app.account(id).await["cooldown"]["reason"], "auth_error", "{id}");
    }
    app.assert_slots_released().await;
}

async fn start_login(app: &TestApp) -> Value {
    let (status, s) = app
        .admin(
            reqwest::Method::POST,
            "/admin/oauth/claude/start",
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{s}");
    s["session_id"].clone()
}

#[actix_web::test]
async fn the_code_exchange_goes_through_the_new_accounts_proxy() {
    let app = app_behind_unresolvable_hosts().await;
    let session = start_login(&app).await;
    let body = json!({"session_id": session, "code": "code-via-proxy", "proxy": app.mock.url()});
    let (status, created) = app
        .admin(reqwest::Method::POST, "/admin/oauth/claude/exchange", Some(body))
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["has_proxy"], true);
    let exchanges = app.mock.token_requests();
    assert_eq!(
        exchanges.len(),
        1,
        "the code reached the token endpoint via the proxy"
    );
    assert_eq!(exchanges[0].json()["code"], "code-via-proxy");
}

#[actix_web::test]
async fn a_code_exchange_with_an_unusable_proxy_is_refused_before_anything_is_sent() {
    let app = spawn_app().await;
    let session = start_login(&app).await;
    for bad in ["socks5://[::1", "ftp://127.0.0.1:21"] {
        let body = json!({"session_id": session, "code": "c0de-unsent", "proxy": bad});
        let (status, v) = app
            .admin(reqwest::Method::POST, "/admin/oauth/claude/exchange", Some(body))
            .await;
        assert_eq!(status, 400, "{v}");
        let message = v["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("proxy URL is invalid"), "{v}");
        assert!(!message.contains(bad), "the URL is not echoed: {v}");
    }
    assert!(app.mock.token_requests().is_empty(), "the code never went out");
    // The session was not used up by the typo: with a working (here: no) proxy it completes.
    let body = json!({"session_id": session, "code": "c0de-sent"});
    let (status, v) = app
        .admin(reqwest::Method::POST, "/admin/oauth/claude/exchange", Some(body))
        .await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(app.mock.token_requests().len(), 1);
}
