//! Signing in with the admin token, and out.
use super::form::FormData;
use super::layout::{DASHBOARD, bare, html_response};
use super::session::{self, CheckedForm, Session};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;

fn form_page(status: StatusCode, error: Option<&str>) -> HttpResponse {
    html_response(
        status,
        bare(
            "Sign in",
            &DASHBOARD,
            html! {
                h1 { "switchyard dashboard" }
                @if let Some(e) = error { p.notice.error role="alert" { "Error: " (e) } }
                form method="post" action="/dashboard/login" {
                    label for="token" { "Admin token "
                        span.hint { "(admin.token, SWITCHYARD_ADMIN_TOKEN or data_dir/admin-token)" } }
                    input #token type="password" name="token" autocomplete="current-password" required autofocus size="48";
                    p { button type="submit" { "Sign in" } }
                }
                p.muted { "API key holders: see your usage at " a href="/stats" { "/stats" } "." }
            },
        ),
    )
}

pub async fn show(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if Session::of(&req, &state).is_some() {
        return HttpResponse::SeeOther()
            .insert_header(("location", "/dashboard"))
            .finish();
    }
    form_page(StatusCode::OK, None)
}

pub async fn sign_in(req: HttpRequest, state: web::Data<AppState>, body: web::Bytes) -> HttpResponse {
    if let Err(why) = session::same_origin(&req) {
        return session::refused(&req, why);
    }
    let form = FormData::parse(&body);
    if !form.text("token").is_some_and(|t| state.admin.matches(t)) {
        tracing::warn!("dashboard sign-in with a wrong admin token");
        return form_page(StatusCode::UNAUTHORIZED, Some("that is not the admin token"));
    }
    let s = Session::start(&state);
    tracing::info!("operator signed in to the dashboard");
    HttpResponse::SeeOther()
        .cookie(s.cookie(&req, &state))
        .insert_header(("location", "/dashboard"))
        .finish()
}

pub async fn sign_out(req: HttpRequest, _: CheckedForm) -> HttpResponse {
    HttpResponse::SeeOther()
        .cookie(Session::ended(&req))
        .insert_header(("location", "/dashboard/login"))
        .finish()
}
