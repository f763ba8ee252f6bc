//! OAuth sign-in of a subscription account from the browser, through the admin API's own flow
//! (`/admin/oauth/{provider}/start` and `/exchange`, called in-process): the operator opens the
//! provider's page, signs in, and pastes back the code or the whole redirect URL.
use super::admin_call;
use super::form::set;
use super::layout::{Nav, Notice, csrf, html_response, page, redirect};
use super::session::CheckedForm;
use super::text;
use crate::routes::admin::{Admin, oauth};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use maud::html;
use serde_json::json;

/// The providers, as the admin API names them, and as operators know them.
pub const PROVIDERS: [(&str, &str); 3] = [
    ("claude", "Claude"),
    ("openai", "OpenAI / Codex"),
    ("gemini", "Gemini"),
];

fn label(provider: &str) -> &'static str {
    PROVIDERS
        .iter()
        .find(|(p, _)| *p == provider)
        .map(|(_, l)| *l)
        .unwrap_or("OAuth")
}

pub async fn start(state: web::Data<AppState>, provider: web::Path<String>, f: CheckedForm) -> HttpResponse {
    let provider = provider.into_inner();
    let started =
        admin_call::answer(oauth::start(Admin, state, web::Path::from(provider.clone())).await).await;
    let login = match started {
        Ok(v) => v,
        Err(e) => return redirect("/dashboard/accounts", Err(&e.0)),
    };
    let s = &f.session;
    let body = html! {
        ol {
            li { "Open the sign-in page and sign in: "
                a #authorize-link href=(text::s(&login, "authorize_url")) target="_blank" rel="noopener noreferrer" { "Open the " (label(&provider)) " sign-in page" }
                span.hint { " (valid for " (login["expires_in"].as_u64().unwrap_or(600) / 60) " minutes)" } }
            li { "Paste the code it shows, or the whole URL the browser was sent to, below." }
        }
        form method="post" action=(format!("/dashboard/oauth/{provider}/exchange")) {
            (csrf(s))
            input type="hidden" name="session_id" value=(text::s(&login, "session_id"));
            fieldset { legend { "Finish signing in" }
                div.grid {
                    div { label for="oauth-code" { "Code or redirect URL" }
                        input #oauth-code name="code" required autocomplete="off"; }
                    div { label for="oauth-name" { "Account name " span.hint { "(empty: from the sign-in)" } }
                        input #oauth-name name="name" maxlength="100"; }
                    @if provider == "gemini" {
                        div { label for="oauth-project" { "Google Cloud project id " span.hint { "(Code Assist bills it)" } }
                            input #oauth-project name="project_id" required; }
                    }
                    div { label for="oauth-priority" { "Priority" } input #oauth-priority name="priority" inputmode="numeric"; }
                    div { label for="oauth-conc" { "Max concurrency" } input #oauth-conc name="max_concurrency" inputmode="numeric"; }
                    div { label for="oauth-proxy" { "Proxy " span.hint { "(the code exchange goes out through it too)" } }
                        input #oauth-proxy name="proxy" type="password" autocomplete="off"; }
                }
                p { button type="submit" { "Add account" } }
            }
        }
    };
    html_response(
        StatusCode::OK,
        page(
            s,
            Nav::Accounts,
            &format!("Sign in with {}", label(&provider)),
            &Notice::default(),
            body,
        ),
    )
}

pub async fn exchange(
    state: web::Data<AppState>,
    provider: web::Path<String>,
    f: CheckedForm,
) -> HttpResponse {
    let form = &f.form;
    let mut fields = json!({
        "session_id": form.get("session_id").unwrap_or(""),
        "code": form.get("code").unwrap_or(""),
    });
    for field in ["name", "project_id", "proxy"] {
        set(&mut fields, field, form.text(field).map(|v| json!(v)));
    }
    set(&mut fields, "priority", form.number("priority"));
    set(&mut fields, "max_concurrency", form.number("max_concurrency"));
    let added = async {
        let body = admin_call::body(fields)?;
        admin_call::answer(oauth::exchange(Admin, state.clone(), provider, web::Json(body)).await).await
    }
    .await;
    match added {
        Ok(a) => redirect(
            &format!("/dashboard/accounts/{}", text::s(&a, "id")),
            Ok(&format!("signed in; account {} added", text::s(&a, "name"))),
        ),
        // The login session is used up by a failed exchange: start again from the list.
        Err(e) => redirect("/dashboard/accounts", Err(&format!("sign-in failed: {}", e.0))),
    }
}
