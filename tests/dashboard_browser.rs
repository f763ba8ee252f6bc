//! The dashboard and the key holders' page in a real browser (headless Chromium through
//! chromedriver), against the real server and the mock upstream. One browser session walks an
//! operator's day: sign in (a wrong token first), add a console account, sign in a Claude
//! account with OAuth against the mock token endpoint, delete it, create a key, use it for a
//! real request, see its usage, tighten a limit and see it enforced, the key holder's page, the
//! narrow layout, sign out. Forged forms are sent with a plain HTTP client carrying the
//! browser's session cookie. The browser's console must stay free of errors throughout.
//!
//! `SWITCHYARD_SCREENSHOTS=1` also saves the main pages at 1280 px to docs/screenshots/.
#[path = "support/browser.rs"]
mod browser;
mod support;

use fantoccini::{Client, Locator};
use serde_json::json;
use std::time::Duration;
use support::{ADMIN_TOKEN, TestApp, claude_body, spawn_app, spawn_app_with};

const WAIT: Duration = Duration::from_secs(10);

async fn find(c: &Client, css: &str) -> fantoccini::elements::Element {
    match c.wait().at_most(WAIT).for_element(Locator::Css(css)).await {
        Ok(e) => e,
        Err(e) => panic!("no `{css}` on {:?}: {e}", c.current_url().await.ok()),
    }
}

async fn fill(c: &Client, css: &str, text: &str) {
    let e = find(c, css).await;
    e.clear().await.expect("cleared");
    e.send_keys(text).await.expect("typed");
}

async fn click(c: &Client, css: &str) {
    find(c, css).await.click().await.expect("clicked");
}

async fn text(c: &Client, css: &str) -> String {
    find(c, css).await.text().await.expect("text")
}

/// Waits until `css` holds `wanted` (pages change after a click without telling).
async fn wait_text(c: &Client, css: &str, wanted: &str) -> String {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await
            && let Ok(t) = e.text().await
            && t.contains(wanted)
        {
            return t;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "`{css}` never said {wanted:?} on {:?}",
            c.current_url().await.ok()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn goto(c: &Client, app: &TestApp, path: &str) {
    c.goto(&app.url(path)).await.expect("navigated");
}

async fn path_of(c: &Client) -> String {
    c.current_url().await.expect("url").path().to_owned()
}

/// No console errors or warnings since the last look.
async fn assert_console_clean(c: &Client, step: &str) {
    let problems = browser::console_problems(c).await;
    assert!(problems.is_empty(), "browser console after {step}: {problems:#?}");
}

/// Every visible field on the page has a label (or an aria-label).
async fn assert_fields_labelled(c: &Client) {
    let unlabelled = c
        .execute(
            "return Array.from(document.querySelectorAll('input:not([type=hidden]),select,textarea'))\
             .filter(i => !i.closest('[hidden]') && !(i.labels && i.labels.length) && !i.getAttribute('aria-label'))\
             .map(i => i.name || i.id);",
            vec![],
        )
        .await
        .expect("script runs");
    assert_eq!(
        unlabelled,
        json!([]),
        "fields without a label on {:?}",
        c.current_url().await.ok()
    );
}

async fn screenshot(c: &Client, name: &str) {
    if std::env::var_os("SWITCHYARD_SCREENSHOTS").is_none() {
        return;
    }
    let png = c.screenshot().await.expect("screenshot");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
    std::fs::create_dir_all(&dir).expect("screenshots dir");
    std::fs::write(dir.join(format!("{name}.png")), png).expect("screenshot written");
}

/// The session cookie the browser holds, as a `Cookie` header value.
async fn session_cookie(c: &Client) -> String {
    let cookie = c
        .get_named_cookie("switchyard_session")
        .await
        .expect("the browser holds a session cookie");
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(cookie.path(), Some("/dashboard"));
    assert_eq!(format!("{:?}", cookie.same_site()), "Some(Strict)");
    format!("switchyard_session={}", cookie.value())
}

#[actix_web::test]
async fn an_operators_day_in_the_browser() {
    let Some((chromium, chromedriver)) = browser::chromium() else {
        return;
    };
    let app = spawn_app().await;
    let driver = browser::Driver::start(&chromedriver).await;
    let c = driver.browser(&chromium, 1280, 900).await;
    let result = walk(&app, &c).await;
    let _ = c.close().await;
    result
}

async fn walk(app: &TestApp, c: &Client) {
    // Signing in: the dashboard sends a visitor to the sign-in page; a wrong token is refused.
    goto(c, app, "/dashboard").await;
    find(c, "#token").await;
    assert_eq!(path_of(c).await, "/dashboard/login");
    assert_fields_labelled(c).await;
    fill(c, "#token", "not-the-admin-token-but-long-enough-0000").await;
    click(c, "button[type=submit]").await;
    wait_text(c, ".notice.error", "not the admin token").await;
    // The refusal is a 401 page: the console notes the status, and nothing else.
    let log = browser::console_problems(c).await;
    assert!(log.iter().all(|l| l.contains("401")), "{log:#?}");
    assert!(
        c.get_named_cookie("switchyard_session").await.is_err(),
        "no session for a wrong token"
    );
    fill(c, "#token", ADMIN_TOKEN).await;
    click(c, "button[type=submit]").await;
    wait_text(c, "main h1", "Overview").await;
    assert_eq!(path_of(c).await, "/dashboard");
    let cookie = session_cookie(c).await;
    assert_console_clean(c, "sign-in").await;

    // Adding a console account with the form.
    goto(c, app, "/dashboard/accounts").await;
    assert_fields_labelled(c).await;
    find(c, "#add-kind")
        .await
        .select_by_value("claude-console")
        .await
        .expect("kind chosen");
    fill(c, "#add-name", "console-one").await;
    fill(c, "#add-base", &app.mock.url()).await;
    fill(c, "#add-key", "sk-ant-console-secret-value").await;
    fill(c, "#add-priority", "10").await;
    click(c, "#add-account button[type=submit]").await;
    wait_text(c, ".notice.ok", "account console-one added").await;
    let source = c.source().await.expect("source");
    assert!(
        !source.contains("sk-ant-console-secret-value"),
        "secrets are write-only"
    );
    let accounts = app.state.store.load_accounts().await.expect("accounts");
    assert_eq!(accounts.len(), 1);
    assert_eq!(
        (accounts[0].name.as_str(), accounts[0].priority),
        ("console-one", 10)
    );
    // A bad field is refused with the admin API's own message, and nothing is added.
    goto(c, app, "/dashboard/accounts").await;
    fill(c, "#add-name", "no-base").await;
    fill(c, "#add-key", "sk-x").await;
    click(c, "#add-account button[type=submit]").await;
    wait_text(c, ".notice.error", "need a base_url").await;
    assert_eq!(app.state.store.load_accounts().await.unwrap().len(), 1);
    let _ = browser::console(c).await; // the 400 page's status line

    // OAuth sign-in: the link to open, then the pasted `code#state`, exchanged at the mock.
    goto(c, app, "/dashboard/accounts").await;
    click(c, "form[action='/dashboard/oauth/claude/start'] button").await;
    let link = find(c, "#authorize-link").await;
    let href = link.attr("href").await.expect("attr").expect("href");
    let authorize = url::Url::parse(&href).expect("an authorize URL");
    assert_eq!(link.attr("target").await.unwrap().as_deref(), Some("_blank"));
    let state = authorize
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .expect("a state");
    assert_fields_labelled(c).await;
    fill(c, "#oauth-code", &format!("the-code#{state}")).await;
    fill(c, "#oauth-name", "claude-oauth").await;
    click(
        c,
        "form[action='/dashboard/oauth/claude/exchange'] button[type=submit]",
    )
    .await;
    wait_text(c, ".notice.ok", "signed in; account claude-oauth added").await;
    assert_eq!(
        app.mock.token_requests().len(),
        1,
        "the code went to the token endpoint"
    );
    assert!(text(c, "main").await.contains("oauth"));
    // Deleting it asks first.
    click(c, "form[action$='/delete'] button").await;
    let question = c.get_alert_text().await.expect("a confirmation");
    assert!(question.contains("Delete account claude-oauth"), "{question}");
    c.accept_alert().await.expect("confirmed");
    wait_text(c, ".notice.ok", "deleted").await;
    assert_eq!(app.state.store.load_accounts().await.unwrap().len(), 1);
    assert_console_clean(c, "accounts").await;

    // A key: shown once, with a copy button.
    goto(c, app, "/dashboard/keys").await;
    assert_fields_labelled(c).await;
    fill(c, "#new-name", "browser-key").await;
    click(c, "#create-key button[type=submit]").await;
    let key = text(c, "#new-key").await;
    assert!(key.len() > 20, "{key}");
    click(c, "button[data-copy]").await;
    wait_text(c, "button[data-copy]", "Copied").await;
    let key_page = find(c, "a.button.secondary")
        .await
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    let key_id = key_page.rsplit('/').next().unwrap().to_owned();
    assert_console_clean(c, "key creation").await;

    // It serves a real request, and its usage shows on its page.
    let r = app.post_messages(&key, &claude_body(false)).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    app.wait_for_usage(&key_id, 1).await;
    goto(c, app, &key_page).await;
    wait_text(c, ".cards", "1\nrequests in all").await;
    wait_text(c, "#recent", "claude-sonnet-5").await;

    // A limit set in the form is enforced.
    fill(c, "#edit-window_minutes", "60").await;
    fill(c, "#edit-window_requests", "1").await;
    click(
        c,
        &format!("form[action='/dashboard/keys/{key_id}'] button[type=submit]"),
    )
    .await;
    wait_text(c, ".notice.ok", "saved").await;
    // The window starts counting with the limit: one request in it is allowed, the next is not.
    let first = app.post_messages(&key, &claude_body(false)).await;
    assert_eq!(first.status(), 200);
    let limited = app.post_messages(&key, &claude_body(false)).await;
    assert_eq!(
        limited.status(),
        429,
        "{}",
        limited.text().await.unwrap_or_default()
    );
    assert_console_clean(c, "keys").await;

    // The overview refreshes by itself.
    goto(c, app, "/dashboard").await;
    wait_text(c, "#live", "accounts in all").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(12);
    while text(c, "#live-status").await.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the overview never refreshed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    screenshot(c, "overview").await;
    for (path, name) in [
        ("/dashboard/accounts", "accounts"),
        ("/dashboard/keys", "keys"),
        (key_page.as_str(), "key"),
        ("/dashboard/groups", "groups"),
        ("/dashboard/usage?by=model&step=hour", "usage"),
    ] {
        goto(c, app, path).await;
        find(c, "main h1").await;
        assert_fields_labelled(c).await;
        screenshot(c, name).await;
    }
    wait_text(c, "#usage-table", "claude-sonnet-5").await;
    assert_console_clean(c, "the pages").await;

    // Forged forms, sent with the browser's own session cookie, are refused.
    forged_forms(app, c, &cookie).await;

    // The key holder's page: their own usage, limits, requests and models; nothing else.
    goto(c, app, "/").await;
    assert_eq!(path_of(c).await, "/stats");
    assert_fields_labelled(c).await;
    fill(c, "#stats-key", &key).await;
    click(c, "#stats-form button").await;
    wait_text(c, "#stats-name", "browser-key").await;
    wait_text(c, "#stats-models", "claude-sonnet-5").await;
    wait_text(c, "#stats-recent", "claude-sonnet-5").await;
    assert!(
        !c.source().await.unwrap().contains("console-one"),
        "no account names"
    );
    screenshot(c, "stats").await;
    assert_console_clean(c, "stats").await;

    // 390 px wide: nothing wider than the screen.
    c.set_window_size(390, 844).await.expect("resized");
    for path in ["/dashboard/accounts", "/dashboard/keys", "/dashboard", "/stats"] {
        goto(c, app, path).await;
        find(c, "main h1").await;
        let overflow = c
            .execute(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
                vec![],
            )
            .await
            .unwrap();
        assert!(
            overflow.as_i64().unwrap_or(1) <= 0,
            "{path} overflows by {overflow} px at 390 px"
        );
    }
    c.set_window_size(1280, 900).await.expect("resized");

    // Keyboard: the first Tab reaches the skip link, and the focused element is outlined.
    goto(c, app, "/dashboard/keys").await;
    find(c, "main h1").await;
    c.execute("document.activeElement.blur();", vec![]).await.unwrap();
    find(c, "body").await.send_keys("\u{E004}").await.expect("Tab");
    let focused = c
        .execute(
            "const e = document.activeElement; return [e.textContent, getComputedStyle(e).outlineStyle];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(focused, json!(["Skip to content", "solid"]));

    // Signing out ends the session in the browser.
    click(c, "form.signout button").await;
    find(c, "#token").await;
    goto(c, app, "/dashboard/keys").await;
    find(c, "#token").await;
    assert_eq!(path_of(c).await, "/dashboard/login");
    assert_console_clean(c, "sign-out").await;
}

async fn forged_forms(app: &TestApp, c: &Client, cookie: &str) {
    goto(c, app, "/dashboard/keys").await;
    let csrf = find(c, "#create-key input[name=csrf]")
        .await
        .attr("value")
        .await
        .unwrap()
        .unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let post = |origin: Option<&str>, fields: Vec<(&str, &str)>| {
        let mut req = http
            .post(app.url("/dashboard/keys"))
            .header("cookie", cookie)
            .form(&fields);
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        req.send()
    };
    let keys_before = app.state.keys.store().list_keys().await.unwrap().len();
    let own = app.base.as_str();
    for (what, origin, fields) in [
        ("no CSRF token", Some(own), vec![("name", "forged")]),
        (
            "a wrong CSRF token",
            Some(own),
            vec![("name", "forged"), ("csrf", "0".repeat(64).leak() as &str)],
        ),
        (
            "a foreign Origin",
            Some("http://evil.example"),
            vec![("name", "forged"), ("csrf", csrf.as_str())],
        ),
        (
            "neither Origin nor Referer",
            None,
            vec![("name", "forged"), ("csrf", csrf.as_str())],
        ),
    ] {
        let r = post(origin, fields).await.unwrap();
        assert_eq!(r.status(), 403, "a form with {what}");
    }
    assert_eq!(
        app.state.keys.store().list_keys().await.unwrap().len(),
        keys_before,
        "no forged form made a key"
    );
    // The same form with the token and this origin goes through: the checks above refused.
    let r = post(Some(own), vec![("name", "genuine"), ("csrf", csrf.as_str())])
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // A tampered or missing session is no session.
    let tampered = cookie.replacen('.', "9.", 1);
    for cookie in [tampered.as_str(), ""] {
        let r = http
            .get(app.url("/dashboard/keys"))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        assert_eq!(r.headers()["location"], "/dashboard/login");
    }
    // The overview's live fragment is operators' data too.
    let r = http.get(app.url("/dashboard/live")).send().await.unwrap();
    assert_eq!(r.status(), 401);
}

/// Posts the sign-in form with plain HTTP, from this site, as a browser would.
async fn sign_in_http(app: &TestApp, token: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(app.url("/dashboard/login"))
        .header("origin", &app.base)
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
}

async fn keys_page_with(app: &TestApp, cookie: &str) -> u16 {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(app.url("/dashboard/keys"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[actix_web::test]
async fn a_session_holds_on_every_instance_with_the_token_and_ends_with_a_new_token() {
    let first = spawn_app().await;
    let same_token = spawn_app().await;
    let new_token = "another-admin-token-0123456789abcdef0123";
    let rotated = spawn_app_with(|s| s.admin.token = new_token.into()).await;

    let r = sign_in_http(&first, ADMIN_TOKEN).await;
    assert_eq!(r.status(), 303);
    let set = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/dashboard", "Max-Age=43200"] {
        assert!(set.contains(attribute), "{attribute} in {set}");
    }
    assert!(!set.contains("Secure"), "plain http: {set}");
    let cookie = set.split(';').next().unwrap().to_owned();

    assert_eq!(keys_page_with(&first, &cookie).await, 200);
    assert_eq!(
        keys_page_with(&same_token, &cookie).await,
        200,
        "no server-side state"
    );
    assert_eq!(
        keys_page_with(&rotated, &cookie).await,
        303,
        "a new token ends the session"
    );

    // Behind a TLS-terminating proxy the cookie is Secure.
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(first.url("/dashboard/login"))
        .header("x-forwarded-proto", "https")
        .header("origin", first.base.replace("http://", "https://"))
        .form(&[("token", ADMIN_TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(r.headers()["set-cookie"].to_str().unwrap().contains("Secure"));

    // A wrong token, or a sign-in posted from another site, gets no session.
    let r = sign_in_http(&first, new_token).await;
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("set-cookie").is_none());
    let forged = reqwest::Client::new()
        .post(first.url("/dashboard/login"))
        .header("origin", "http://evil.example")
        .form(&[("token", ADMIN_TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
}
