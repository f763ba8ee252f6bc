//! Accounts: a filtered, sorted, paged list; adding every kind; editing the operator fields;
//! resetting a cooldown; deleting. Every change goes through the admin API's handlers, so the
//! same validation applies; secrets go in (password fields) and never come back out.
use super::admin_call::{self, Refused};
use super::form::{FormData, set};
use super::layout::{Nav, Notice, csrf, html_response, message_page, page, redirect};
use super::paging::ListQuery;
use super::session::{CheckedForm, Operator, Session};
use super::text;
use crate::routes::admin::{Admin, accounts, reset};
use crate::state::AppState;
use crate::upstream::kind::{BaseUrl, Profile};
use crate::upstream::registry;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use maud::{Markup, html};
use serde_json::{Value, json};
use std::collections::HashMap;
use switchyard_actors::Platform;

const SORTS: [(&str, &str); 6] = [
    ("name", "Name"),
    ("priority", "Priority"),
    ("state", "State"),
    ("slots", "Slots in use"),
    ("last_used", "Last used"),
    ("created", "Newest"),
];

fn matches(a: &Value, q: &ListQuery, needle: &str, now: i64) -> bool {
    let platform = q.get("platform");
    let state = q.get("state");
    (platform.is_empty() || text::s(a, "platform") == platform)
        && (state.is_empty() || text::account_state(a, now).0 == state)
        && (needle.is_empty()
            || text::s(a, "name").to_lowercase().contains(needle)
            || text::s(a, "id").contains(needle)
            || text::s(a, "kind").contains(needle))
}

fn sort(rows: &mut [&Value], by: &str, now: i64) {
    let n = |a: &Value, f: &str| a[f].as_i64().unwrap_or(0);
    match by {
        "priority" => rows.sort_by_key(|a| (n(a, "priority"), text::s(a, "name").to_lowercase())),
        "state" => rows.sort_by_key(|a| {
            let word = text::account_state(a, now).0;
            text::ACCOUNT_STATES.iter().position(|s| *s == word)
        }),
        "slots" => rows.sort_by_key(|a| std::cmp::Reverse(n(a, "slots_in_use"))),
        "last_used" => rows.sort_by_key(|a| std::cmp::Reverse(n(a, "last_used_at"))),
        "created" => rows.sort_by_key(|a| std::cmp::Reverse(n(a, "created_at"))),
        _ => rows.sort_by_key(|a| text::s(a, "name").to_lowercase()),
    }
}

/// Every account's admin view, from the scheduler's snapshot (see `snapshot_views`).
pub(super) async fn all(state: &AppState) -> Result<Vec<Value>, Refused> {
    let views = accounts::snapshot_views(state).await;
    match serde_json::to_value(views) {
        Ok(Value::Array(a)) => Ok(a),
        Ok(_) => Ok(Vec::new()),
        Err(e) => Err(Refused(e.to_string())),
    }
}

pub async fn list(
    Operator(s): Operator,
    state: web::Data<AppState>,
    q: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    let notice = Notice::from_query(&q);
    let q = ListQuery::new(q.into_inner());
    list_page(&s, &state, &q, notice, StatusCode::OK, &FormData::default()).await
}

async fn list_page(
    s: &Session,
    state: &web::Data<AppState>,
    q: &ListQuery,
    notice: Notice,
    status: StatusCode,
    typed: &FormData,
) -> HttpResponse {
    let now = state.clock.now_ms();
    let accounts = match all(state).await {
        Ok(a) => a,
        Err(e) => return message_page(StatusCode::SERVICE_UNAVAILABLE, "Accounts", &e.0),
    };
    let needle = q.needle();
    let mut rows: Vec<&Value> = accounts.iter().filter(|a| matches(a, q, &needle, now)).collect();
    sort(&mut rows, q.get("sort"), now);
    let (shown, pages) = q.slice(&rows);
    let body = html! {
        form.filters method="get" action="/dashboard/accounts" role="search" {
            div { label for="q" { "Search" } input #q type="search" name="q" value=(q.get("q")) placeholder="name, id or kind"; }
            div { label for="platform" { "Platform" }
                select #platform name="platform" {
                    option value="" { "all" }
                    @for p in Platform::ALL { option value=(p.as_str()) selected[q.get("platform") == p.as_str()] { (p.as_str()) } }
                }
            }
            div { label for="state" { "State" }
                select #state name="state" {
                    option value="" { "all" }
                    @for w in text::ACCOUNT_STATES { option value=(w) selected[q.get("state") == w] { (w) } }
                }
            }
            div { label for="sort" { "Sort by" }
                select #sort name="sort" {
                    @for (v, l) in SORTS { option value=(v) selected[q.get("sort") == v] { (l) } }
                }
            }
            div { button type="submit" { "Apply" } }
        }
        div.table-wrap { table #accounts {
            thead { tr {
                th { "Name" } th { "Kind" } th { "State" } th.num { "Priority" } th.num { "Slots" }
                th.hide-narrow { "Credential" } th.hide-narrow { "Last used" }
            } }
            tbody {
                @for a in shown {
                    @let (word, class) = text::account_state(a, now);
                    tr {
                        td { a href=(format!("/dashboard/accounts/{}", text::s(a, "id"))) { (text::s(a, "name")) } }
                        td { (text::s(a, "kind")) }
                        td { span class=(format!("state {class}")) { (word) }
                            @if let Some(u) = a["cooldown"]["until"].as_i64().filter(|u| *u > now) { " " span.hint { (text::duration(u - now)) " left" } } }
                        td.num { (a["priority"]) }
                        td.num { (a["slots_in_use"]) " / " @match a["max_concurrency"].as_u64() { Some(0) | None => "∞", Some(n) => (n) } }
                        td.hide-narrow { (text::s(a, "credential")) }
                        td.hide-narrow { @match a["last_used_at"].as_i64() { Some(t) => (text::time(t)), None => "never" } }
                    }
                }
                @if shown.is_empty() { tr { td colspan="7" { "No account matches." } } }
            }
        } }
        (q.pager("/dashboard/accounts", rows.len(), pages, "accounts"))
        (add_form(s, typed))
        (oauth_start(s))
    };
    html_response(status, page(s, Nav::Accounts, "Accounts", &notice, body))
}

/// Kinds that take an API key (the others sign in with OAuth), as the registry lists them.
fn key_kinds() -> String {
    kind_names(|_| true)
}

/// The API-key kinds whose profile passes `keep`, space-separated (for `data-kinds`).
fn kind_names(keep: impl Fn(&Profile) -> bool) -> String {
    registry::api_key_kinds()
        .filter(|p| keep(p))
        .map(|p| p.id.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

fn add_form(s: &Session, typed: &FormData) -> Markup {
    let v = |f: &str| typed.get(f).unwrap_or("").to_owned();
    html! {
        h2 #add { "Add an account with an API key" }
        form #add-account method="post" action="/dashboard/accounts" {
            (csrf(s))
            fieldset {
                legend { "New account" }
                div.grid {
                    div { label for="add-kind" { "Kind" }
                        select #add-kind name="kind" data-kind-select {
                            @for k in registry::api_key_kinds().map(|p| p.id) {
                                option value=(k.as_str()) selected[typed.get("kind") == Some(k.as_str())] { (k.as_str()) }
                            }
                        }
                    }
                    div { label for="add-name" { "Name" } input #add-name name="name" required maxlength="100" value=(v("name")); }
                    div data-kinds=(key_kinds()) {
                        label for="add-base" { "Base URL " span.hint { "(required for " (kind_names(|p| p.base_url == BaseUrl::Required).replace(' ', ", ")) ")" } }
                        input #add-base name="base_url" type="url" placeholder="https://api.example.com" value=(v("base_url"));
                    }
                    div data-kinds=(key_kinds()) {
                        label for="add-key" { "API key " span.hint { "(write-only: never shown again)" } }
                        input #add-key name="api_key" type="password" autocomplete="off" required;
                    }
                    (operator_fields("add", typed, true))
                }
                p { button type="submit" { "Add account" } }
            }
        }
    }
}

/// Priority, concurrency, models, proxy, schedulable: the fields an operator sets on any kind.
fn operator_fields(prefix: &str, v: &FormData, adding: bool) -> Markup {
    let id = |f: &str| format!("{prefix}-{f}");
    let val = |f: &str| v.get(f).unwrap_or("").to_owned();
    html! {
        div { label for=(id("priority")) { "Priority " span.hint { "(lower first; default 50)" } }
            input id=(id("priority")) name="priority" inputmode="numeric" value=(val("priority")); }
        div { label for=(id("conc")) { "Max concurrency " span.hint { "(0: no limit)" } }
            input id=(id("conc")) name="max_concurrency" inputmode="numeric" value=(val("max_concurrency")); }
        div { label for=(id("models")) { "Models " span.hint { "(comma-separated; a=b maps a to b; empty: all)" } }
            input id=(id("models")) name="models" value=(val("models")); }
        div { label for=(id("proxy")) { "Proxy " span.hint { @if adding { "(http://, https://, socks5://)" } @else { "(write-only; empty keeps the current one)" } } }
            input id=(id("proxy")) name="proxy" type="password" autocomplete="off" placeholder="socks5://host:1080"; }
        div { label { input type="checkbox" name="schedulable" value="1" checked[v.is_empty() || v.checked("schedulable")]; " Schedulable (may receive new requests)" } }
    }
}

/// `models` as the admin API reads it: a list, a map (`a=b`), or `None` when blank.
fn models(form: &FormData) -> Option<Value> {
    let items = form.list("models");
    if items.is_empty() {
        return None;
    }
    if items.iter().any(|m| m.contains('=')) {
        let map: serde_json::Map<String, Value> = items
            .iter()
            .map(|m| match m.split_once('=') {
                Some((from, to)) => (from.trim().to_owned(), json!(to.trim())),
                None => (m.clone(), json!(m)),
            })
            .collect();
        return Some(Value::Object(map));
    }
    Some(json!(items))
}

/// The admin API's fields for what the operator typed (blank fields left out).
fn operator_json(form: &FormData, editing: bool) -> Value {
    let mut v = json!({ "schedulable": form.checked("schedulable") });
    set(&mut v, "priority", form.number("priority"));
    set(&mut v, "max_concurrency", form.number("max_concurrency"));
    // Editing with the field blank: every model again.
    set(&mut v, "models", models(form).or(editing.then(|| json!([]))));
    set(&mut v, "proxy", form.text("proxy").map(|p| json!(p)));
    if editing && form.checked("clear_proxy") {
        v["proxy"] = json!("");
    }
    v
}

pub async fn create(state: web::Data<AppState>, f: CheckedForm) -> HttpResponse {
    let form = &f.form;
    let mut fields = operator_json(form, false);
    fields["name"] = json!(form.get("name").unwrap_or(""));
    fields["kind"] = json!(form.get("kind").unwrap_or(""));
    set(&mut fields, "base_url", form.text("base_url").map(|u| json!(u)));
    set(&mut fields, "api_key", form.get("api_key").map(|k| json!(k)));
    let created = async {
        let body = admin_call::body(fields)?;
        admin_call::answer(accounts::create(Admin, state.clone(), web::Json(body)).await).await
    }
    .await;
    match created {
        Ok(a) => redirect(
            &format!("/dashboard/accounts/{}", text::s(&a, "id")),
            Ok(&format!("account {} added", text::s(&a, "name"))),
        ),
        // Typed values (never the key) come back so the operator can fix one field.
        Err(e) => {
            list_page(
                &f.session,
                &state,
                &ListQuery::default(),
                Notice::error(e.0),
                StatusCode::BAD_REQUEST,
                form,
            )
            .await
        }
    }
}

pub async fn show(
    Operator(s): Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
    q: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    let notice = Notice::from_query(&q);
    let got =
        admin_call::answer(accounts::get(Admin, state.clone(), web::Path::from(id.to_string())).await).await;
    let a = match got {
        Ok(a) => a,
        Err(e) => return message_page(StatusCode::NOT_FOUND, "Account", &e.0),
    };
    let now = state.clock.now_ms();
    let (word, class) = text::account_state(&a, now);
    let id = text::s(&a, "id").to_owned();
    let models = match &a["models"] {
        Value::Array(l) => l.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
            .collect::<Vec<_>>()
            .join(", "),
        _ => String::new(),
    };
    let current = FormData::parse(
        form_urlencoded::Serializer::new(String::new())
            .append_pair("priority", &a["priority"].to_string())
            .append_pair("max_concurrency", &a["max_concurrency"].to_string())
            .append_pair("models", &models)
            .extend_pairs(
                a["schedulable"]
                    .as_bool()
                    .filter(|s| *s)
                    .map(|_| ("schedulable", "1")),
            )
            .finish()
            .as_bytes(),
    );
    let body = html! {
        div.table-wrap { table {
            tbody {
                tr { th { "Id" } td { code { (id) } } }
                tr { th { "Kind" } td { (text::s(&a, "kind")) " (" (text::s(&a, "platform")) ")" } }
                tr { th { "State" } td { span class=(format!("state {class}")) { (word) } } }
                @if let Some(u) = a["cooldown"]["until"].as_i64().filter(|u| *u > now) {
                    tr { th { "Cooldown" } td { (text::s(&a["cooldown"], "reason")) ", " (text::duration(u - now)) " left" } }
                }
                tr { th { "Credential" } td { (text::s(&a, "credential")) " " span.hint { "(secrets are never shown)" } } }
                @if let Some(t) = a["token_expires_at"].as_i64() { tr { th { "Token expires" } td { (text::time(t)) } } }
                @if let Some(b) = a["base_url"].as_str() { tr { th { "Base URL" } td { (b) } } }
                tr { th { "Proxy" } td { @if a["has_proxy"].as_bool() == Some(true) { "set" } @else { "none" } } }
                tr { th { "Slots in use" } td { (a["slots_in_use"]) } }
                tr { th { "Created" } td { (text::time(a["created_at"].as_i64().unwrap_or(0))) } }
                tr { th { "Last used" } td { @match a["last_used_at"].as_i64() { Some(t) => (text::time(t)), None => "never" } } }
            }
        } }
        div.row {
            form.inline method="post" action=(format!("/dashboard/accounts/{id}/reset")) {
                (csrf(&s)) button.secondary type="submit" { "Reset cooldown" }
            }
            form.inline method="post" action=(format!("/dashboard/accounts/{id}/delete"))
                data-confirm=(format!("Delete account {}? This cannot be undone.", text::s(&a, "name"))) {
                (csrf(&s)) button.danger type="submit" { "Delete account" }
            }
        }
        h2 { "Edit" }
        form method="post" action=(format!("/dashboard/accounts/{id}")) {
            (csrf(&s))
            fieldset { legend { "Operator fields" }
                div.grid {
                    (operator_fields("edit", &current, false))
                    div { label { input type="checkbox" name="clear_proxy" value="1"; " Remove the proxy" } }
                    div { label for="edit-key" { "New API key " span.hint { "(write-only; empty keeps the current one)" } }
                        input #edit-key name="api_key" type="password" autocomplete="off"; }
                }
                p { button type="submit" { "Save" } }
            }
        }
    };
    html_response(
        StatusCode::OK,
        page(
            &s,
            Nav::Accounts,
            &format!("Account {}", text::s(&a, "name")),
            &notice,
            body,
        ),
    )
}

pub async fn update(state: web::Data<AppState>, id: web::Path<String>, f: CheckedForm) -> HttpResponse {
    let mut fields = operator_json(&f.form, true);
    set(&mut fields, "api_key", f.form.text("api_key").map(|k| json!(k)));
    let path = format!("/dashboard/accounts/{id}");
    let done = async {
        let body = admin_call::body(fields)?;
        admin_call::answer(accounts::update(Admin, state.clone(), id, web::Json(body)).await).await
    }
    .await;
    match done {
        Ok(_) => redirect(&path, Ok("saved")),
        Err(e) => redirect(&path, Err(&e.0)),
    }
}

pub async fn reset(state: web::Data<AppState>, id: web::Path<String>, _: CheckedForm) -> HttpResponse {
    let path = format!("/dashboard/accounts/{id}");
    match admin_call::answer(reset::reset(Admin, state, id).await).await {
        Ok(_) => redirect(&path, Ok("cooldown reset")),
        Err(e) => redirect(&path, Err(&e.0)),
    }
}

pub async fn remove(state: web::Data<AppState>, id: web::Path<String>, _: CheckedForm) -> HttpResponse {
    match admin_call::answer(accounts::remove(Admin, state, web::Path::from(id.to_string())).await).await {
        Ok(_) => redirect("/dashboard/accounts", Ok(&format!("account {id} deleted"))),
        Err(e) => redirect(&format!("/dashboard/accounts/{id}"), Err(&e.0)),
    }
}

/// The OAuth sign-in's first step, below the list.
fn oauth_start(s: &Session) -> Markup {
    html! {
        h2 #oauth { "Add a subscription account (sign in with OAuth)" }
        p.hint { "Opens the provider's sign-in; afterwards paste the code or the whole redirect URL." }
        div.row {
            @for (provider, label) in super::oauth::PROVIDERS {
                form.inline method="post" action=(format!("/dashboard/oauth/{provider}/start")) {
                    (csrf(s)) button type="submit" { "Sign in with " (label) }
                }
            }
        }
    }
}
