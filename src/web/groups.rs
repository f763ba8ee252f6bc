//! Account groups: list, create, add and remove members, delete. Through the admin API's
//! handlers, which check that members exist and are on the group's platform.
use super::admin_call::{self, Refused};
use super::layout::{Nav, Notice, csrf, html_response, message_page, page, redirect};
use super::session::{CheckedForm, Operator};
use super::text;
use crate::routes::admin::{Admin, groups};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use maud::html;
use serde_json::{Value, json};
use std::collections::HashMap;
use switchyard_actors::Platform;

pub async fn list(
    Operator(s): Operator,
    state: web::Data<AppState>,
    q: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    let notice = Notice::from_query(&q);
    let groups = match admin_call::answer(groups::list(Admin, state.clone()).await).await {
        Ok(v) => v["groups"].as_array().cloned().unwrap_or_default(),
        Err(e) => return message_page(StatusCode::SERVICE_UNAVAILABLE, "Groups", &e.0),
    };
    let names: HashMap<String, String> = state
        .scheduling
        .snapshot()
        .all()
        .map(|e| (e.account.id.to_string(), e.account.name.clone()))
        .collect();
    let body = html! {
        @if groups.is_empty() { p.muted { "No group yet. A key bound to group:<id> is served by the group's accounts only." } }
        @for g in &groups {
            @let id = text::s(g, "id");
            section.card {
                h2 { (text::s(g, "name")) " " span.hint { "(" (text::s(g, "platform")) ", id " code { (id) } ")" } }
                @let members = g["members"].as_array().cloned().unwrap_or_default();
                @if members.is_empty() { p.muted { "No member." } }
                ul {
                    @for m in &members {
                        @let mid = m.as_str().unwrap_or("");
                        li {
                            a href=(format!("/dashboard/accounts/{mid}")) { (names.get(mid).map(String::as_str).unwrap_or(mid)) } " "
                            form.inline method="post" action=(format!("/dashboard/groups/{id}/members/{mid}/remove")) {
                                (csrf(&s)) button.secondary type="submit" aria-label=(format!("Remove {mid} from the group")) { "Remove" }
                            }
                        }
                    }
                }
                div.row {
                    form.row method="post" action=(format!("/dashboard/groups/{id}/members")) {
                        (csrf(&s))
                        label for=(format!("member-{id}")) { "Add account (id)" }
                        input id=(format!("member-{id}")) name="account" required;
                        button type="submit" { "Add" }
                    }
                    form.inline method="post" action=(format!("/dashboard/groups/{id}/delete"))
                        data-confirm=(format!("Delete group {}?", text::s(g, "name"))) {
                        (csrf(&s)) button.danger type="submit" { "Delete group" }
                    }
                }
            }
        }
        h2 { "Create a group" }
        form method="post" action="/dashboard/groups" {
            (csrf(&s))
            fieldset { legend { "New group" }
                div.grid {
                    div { label for="g-name" { "Name" } input #g-name name="name" required maxlength="100"; }
                    div { label for="g-platform" { "Platform" }
                        select #g-platform name="platform" { @for p in Platform::ALL { option value=(p.as_str()) { (p.as_str()) } } } }
                    div { label for="g-members" { "Members " span.hint { "(account ids, comma-separated)" } } input #g-members name="members"; }
                }
                p { button type="submit" { "Create group" } }
            }
        }
    };
    html_response(StatusCode::OK, page(&s, Nav::Groups, "Groups", &notice, body))
}

fn back(done: Result<Value, Refused>, ok: &str) -> HttpResponse {
    match done {
        Ok(_) => redirect("/dashboard/groups", Ok(ok)),
        Err(e) => redirect("/dashboard/groups", Err(&e.0)),
    }
}

pub async fn create(state: web::Data<AppState>, f: CheckedForm) -> HttpResponse {
    let fields = json!({
        "name": f.form.get("name").unwrap_or(""),
        "platform": f.form.get("platform").unwrap_or(""),
        "members": f.form.list("members"),
    });
    let done = async {
        let body = admin_call::body(fields)?;
        admin_call::answer(groups::create(Admin, state, web::Json(body)).await).await
    }
    .await;
    back(done, "group created")
}

pub async fn add_member(state: web::Data<AppState>, id: web::Path<String>, f: CheckedForm) -> HttpResponse {
    let done = async {
        let body = admin_call::body(json!({ "account": f.form.get("account").unwrap_or("").trim() }))?;
        admin_call::answer(groups::add_member(Admin, state, id, web::Json(body)).await).await
    }
    .await;
    back(done, "member added")
}

pub async fn remove_member(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    _: CheckedForm,
) -> HttpResponse {
    back(
        admin_call::answer(groups::leave(Admin, state, path).await).await,
        "member removed",
    )
}

pub async fn remove(state: web::Data<AppState>, id: web::Path<String>, _: CheckedForm) -> HttpResponse {
    back(
        admin_call::answer(groups::remove(Admin, state, id).await).await,
        "group deleted",
    )
}
