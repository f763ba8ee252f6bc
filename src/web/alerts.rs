//! The overview's "send a test alert" button: the same test notification as
//! `POST /admin/alerts/test` and `switchyard alert test`, to every configured channel.
use super::layout::{csrf, redirect};
use super::session::{CheckedForm, Session};
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use maud::{Markup, html};

/// The button, under the overview's live figures.
pub fn test_form(s: &Session) -> Markup {
    html! {
        form #alert-test method="post" action="/dashboard/alerts/test" {
            (csrf(s))
            button type="submit" { "Send a test alert" }
            span.hint { " to every channel in " code { "[alerts]" } }
        }
    }
}

/// `POST /dashboard/alerts/test`: sends it and says, per channel, whether it arrived.
pub async fn send_test(state: web::Data<AppState>, _: CheckedForm) -> HttpResponse {
    let reports = state.alerts.send_test().await;
    if reports.is_empty() {
        return redirect(
            "/dashboard",
            Err("no alert channel is configured ([alerts] in settings)"),
        );
    }
    let failed: Vec<String> = reports
        .iter()
        .filter(|r| !r.ok)
        .map(|r| format!("{} ({})", r.channel, r.error.as_deref().unwrap_or("failed")))
        .collect();
    if failed.is_empty() {
        redirect(
            "/dashboard",
            Ok(&format!("test alert delivered to {} channel(s)", reports.len())),
        )
    } else {
        redirect(
            "/dashboard",
            Err(&format!("test alert not delivered to: {}", failed.join(", "))),
        )
    }
}
