//! The page frame every dashboard page shares: head, navigation, notices, sign-out.
use super::session::{CSRF_FIELD, Session};
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use maud::{DOCTYPE, Markup, html};

/// The dashboard's pages, in navigation order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Overview,
    Accounts,
    Keys,
    Groups,
    Usage,
}

impl Nav {
    const ALL: [(Nav, &'static str, &'static str); 5] = [
        (Nav::Overview, "Overview", "/dashboard"),
        (Nav::Accounts, "Accounts", "/dashboard/accounts"),
        (Nav::Keys, "Keys", "/dashboard/keys"),
        (Nav::Groups, "Groups", "/dashboard/groups"),
        (Nav::Usage, "Usage", "/dashboard/usage"),
    ];
}

/// A notice above the page's content (after a change, or why it was refused).
#[derive(Debug, Clone, Default)]
pub struct Notice {
    pub ok: Option<String>,
    pub error: Option<String>,
}

impl Notice {
    pub fn error(text: impl Into<String>) -> Self {
        Notice {
            ok: None,
            error: Some(text.into()),
        }
    }

    /// From the `notice` / `error` query fields a redirect after a change carries.
    pub fn from_query(q: &std::collections::HashMap<String, String>) -> Self {
        Notice {
            ok: q.get("notice").cloned(),
            error: q.get("error").cloned(),
        }
    }

    fn markup(&self) -> Markup {
        html! {
            @if let Some(ok) = &self.ok { p.notice.ok role="status" { "Done: " (ok) } }
            @if let Some(e) = &self.error { p.notice.error role="alert" { "Error: " (e) } }
        }
    }
}

/// The hidden CSRF field every dashboard form carries.
pub fn csrf(session: &Session) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(session.csrf()); }
}

/// The stylesheet and script a page loads, each under the page's own path prefix.
pub struct Assets {
    pub css: &'static str,
    pub js: &'static str,
}

pub const DASHBOARD: Assets = Assets {
    css: super::assets::CSS_PATH,
    js: super::assets::JS_PATH,
};

fn head(title: &str, assets: &Assets) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · switchyard" }
            link rel="stylesheet" href=(assets.css);
            link rel="icon" href="data:,";
            script src=(assets.js) defer {}
        }
    }
}

/// A whole dashboard page for a signed-in operator.
pub fn page(session: &Session, current: Nav, title: &str, notice: &Notice, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, &DASHBOARD))
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/dashboard" { "switchyard" }
                    nav aria-label="Dashboard" {
                        ul {
                            @for (nav, label, href) in Nav::ALL {
                                li {
                                    @if nav == current {
                                        a href=(href) aria-current="page" { (label) }
                                    } @else {
                                        a href=(href) { (label) }
                                    }
                                }
                            }
                        }
                    }
                    form.signout method="post" action="/dashboard/logout" {
                        (csrf(session))
                        button type="submit" { "Sign out" }
                    }
                }
                main #main {
                    h1 { (title) }
                    (notice.markup())
                    (body)
                }
            }
        }
    }
}

/// A page outside the signed-in frame (sign-in, refusals, the key holders' page).
pub fn bare(title: &str, assets: &Assets, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, assets))
            body {
                main #main.narrow { (body) }
            }
        }
    }
}

pub fn html_response(status: StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("cache-control", "no-store"))
        .body(markup.into_string())
}

/// A short page that only says something (a refusal, a missing record).
pub fn message_page(status: StatusCode, title: &str, text: &str) -> HttpResponse {
    html_response(
        status,
        bare(
            title,
            &DASHBOARD,
            html! {
                h1 { (title) }
                p.notice.error role="alert" { (text) }
                p { a href="/dashboard" { "Back to the dashboard" } }
            },
        ),
    )
}

/// After a change: back to `path` with a notice (the POST-redirect-GET pattern, so a reload does
/// not repeat the change).
pub fn redirect(path: &str, notice: Result<&str, &str>) -> HttpResponse {
    let (field, text) = match notice {
        Ok(t) => ("notice", t),
        Err(t) => ("error", t),
    };
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair(field, text)
        .finish();
    let sep = if path.contains('?') { '&' } else { '?' };
    HttpResponse::SeeOther()
        .insert_header(("location", format!("{path}{sep}{query}")))
        .finish()
}
