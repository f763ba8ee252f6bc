//! Keys: a paged list with each key's usage; create (the key is shown once, with a copy
//! button); edit limits, restrictions, expiry and bindings; disable; delete; each key's recent
//! requests. Changes go through the admin API's handlers.
use super::admin_call::{self, Refused};
use super::form::{FormData, set};
use super::layout::{Nav, Notice, csrf, html_response, message_page, page, redirect};
use super::paging::ListQuery;
use super::session::{CheckedForm, Operator, Session};
use super::text;
use crate::keys::{ApiKey, ClientKind};
use crate::routes::admin::{Admin, keys, usage};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use maud::{Markup, html};
use serde_json::{Value, json};
use std::collections::HashMap;
use switchyard_actors::Platform;

const CLIENTS: [ClientKind; 3] = [
    ClientKind::ClaudeCode,
    ClientKind::GeminiCli,
    ClientKind::CodexCli,
];
/// Limit fields in dollars, then counts, as `limits.*` names them.
const COST_LIMITS: [(&str, &str); 4] = [
    ("daily_cost_usd", "Daily cost limit ($)"),
    ("weekly_cost_usd", "Weekly cost limit ($)"),
    ("total_cost_usd", "Total cost limit ($)"),
    ("window_cost_usd", "Window cost limit ($)"),
];
const COUNT_LIMITS: [(&str, &str); 3] = [
    ("window_minutes", "Rate window (minutes)"),
    ("window_requests", "Requests per window"),
    ("window_tokens", "Tokens per window"),
];
/// Newest requests shown on a key's page.
const RECENT: usize = 50;

fn key_matches(k: &ApiKey, q: &ListQuery, needle: &str) -> bool {
    let state = q.get("state");
    (state.is_empty() || (state == "active") == k.active)
        && (needle.is_empty()
            || k.name.to_lowercase().contains(needle)
            || k.id.contains(needle)
            || k.tags.iter().any(|t| t.to_lowercase().contains(needle)))
}

pub async fn list(
    Operator(s): Operator,
    state: web::Data<AppState>,
    q: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    let notice = Notice::from_query(&q);
    let q = ListQuery::new(q.into_inner());
    match list_body(&s, &state, &q).await {
        Ok(body) => html_response(StatusCode::OK, page(&s, Nav::Keys, "API keys", &notice, body)),
        Err(e) => message_page(StatusCode::SERVICE_UNAVAILABLE, "API keys", &e.0),
    }
}

async fn list_body(s: &Session, state: &web::Data<AppState>, q: &ListQuery) -> Result<Markup, Refused> {
    let all = state
        .keys
        .store()
        .list_keys()
        .await
        .map_err(|e| Refused(e.to_string()))?;
    let needle = q.needle();
    let mut rows: Vec<&ApiKey> = all.iter().filter(|k| key_matches(k, q, &needle)).collect();
    match q.get("sort") {
        "created" => rows.sort_by_key(|k| std::cmp::Reverse(k.created_at)),
        "last_used" => rows.sort_by_key(|k| std::cmp::Reverse(k.last_used_at)),
        _ => rows.sort_by_key(|k| k.name.to_lowercase()),
    }
    let (shown, pages) = q.slice(&rows);
    // Usage for this page's keys only: each is a store read.
    let mut views = Vec::with_capacity(shown.len());
    for k in shown {
        let v =
            admin_call::answer(keys::get(Admin, state.clone(), web::Path::from(k.id.clone())).await).await?;
        views.push(v);
    }
    let now = state.clock.now_ms();
    Ok(html! {
        form.filters method="get" action="/dashboard/keys" role="search" {
            div { label for="q" { "Search" } input #q type="search" name="q" value=(q.get("q")) placeholder="name, id or tag"; }
            div { label for="kstate" { "State" }
                select #kstate name="state" {
                    @for (v, l) in [("", "all"), ("active", "active"), ("disabled", "disabled")] {
                        option value=(v) selected[q.get("state") == v] { (l) }
                    }
                }
            }
            div { label for="ksort" { "Sort by" }
                select #ksort name="sort" {
                    @for (v, l) in [("name", "Name"), ("created", "Newest"), ("last_used", "Last used")] {
                        option value=(v) selected[q.get("sort") == v] { (l) }
                    }
                }
            }
            div { button type="submit" { "Apply" } }
        }
        div.table-wrap { table #keys {
            thead { tr {
                th { "Name" } th { "State" } th.num { "Requests" } th.num { "Tokens (in / out)" }
                th.num { "Cost ($)" } th.hide-narrow { "Expires" } th.hide-narrow { "Last used" }
            } }
            tbody {
                @for v in &views {
                    tr {
                        td { a href=(format!("/dashboard/keys/{}", text::s(v, "id"))) { (text::s(v, "name")) } }
                        td { (key_state(v, now)) }
                        td.num { (text::count(v["usage"]["requests"].as_u64().unwrap_or(0))) }
                        td.num { (text::count(v["usage"]["input_tokens"].as_u64().unwrap_or(0))) " / " (text::count(v["usage"]["output_tokens"].as_u64().unwrap_or(0))) }
                        td.num { (text::s(&v["usage"], "rated_cost_usd")) }
                        td.hide-narrow { @match v["expires_at"].as_i64() { Some(t) => (text::time(t)), None => "never" } }
                        td.hide-narrow { @match v["last_used_at"].as_i64() { Some(t) => (text::time(t)), None => "never" } }
                    }
                }
                @if views.is_empty() { tr { td colspan="7" { "No key matches." } } }
            }
        } }
        (q.pager("/dashboard/keys", rows.len(), pages, "keys"))
        h2 #create { "Create a key" }
        form #create-key method="post" action="/dashboard/keys" {
            (csrf(s))
            (key_fields("new", &json!({}), true))
            p { button type="submit" { "Create key" } }
        }
    })
}

fn key_state(v: &Value, now: i64) -> Markup {
    let expired = v["expires_at"].as_i64().is_some_and(|t| t <= now);
    html! {
        @if !v["active"].as_bool().unwrap_or(true) { span.state.off { "disabled" } }
        @else if expired { span.state.bad { "expired" } }
        @else { span.state.ok { "active" } }
    }
}

/// The create / edit fields, filled from a key's admin view (`{}` for a new key).
fn key_fields(prefix: &str, v: &Value, creating: bool) -> Markup {
    let id = |f: &str| format!("{prefix}-{f}");
    let limit = |f: &str| {
        let l = &v["limits"][f];
        match l {
            Value::String(s) if s.trim_start_matches(['0', '.']).is_empty() => String::new(),
            Value::String(s) => s.clone(),
            Value::Number(n) if n.as_u64() == Some(0) => String::new(),
            Value::Number(n) => n.to_string(),
            _ => String::new(),
        }
    };
    let list = |f: &str| {
        v[f].as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
            .unwrap_or_default()
    };
    let has = |f: &str, item: &str| v[f].as_array().is_some_and(|a| a.iter().any(|x| x == item));
    let expires = v["expires_at"]
        .as_i64()
        .map(|t| text::time(t)[..10].to_owned())
        .unwrap_or_default();
    html! {
        fieldset { legend { "Key" }
            div.grid {
                div { label for=(id("name")) { "Name" } input id=(id("name")) name="name" required maxlength="100" value=(text::s(v, "name")); }
                div { label for=(id("expires")) { "Expires on (UTC) " span.hint { "(empty: never)" } }
                    input id=(id("expires")) name="expires_on" type="date" value=(expires); }
                div { label for=(id("conc")) { "Concurrent requests " span.hint { "(0: no limit)" } }
                    input id=(id("conc")) name="concurrency_limit" inputmode="numeric" value=(v["concurrency_limit"].as_u64().unwrap_or(0)); }
                div { label for=(id("tags")) { "Tags " span.hint { "(comma-separated)" } } input id=(id("tags")) name="tags" value=(list("tags")); }
            }
        }
        fieldset { legend { "Limits " span.hint { "(empty or 0: no limit)" } }
            div.grid {
                @for (f, l) in COST_LIMITS { div { label for=(id(f)) { (l) } input id=(id(f)) name=(f) inputmode="decimal" value=(limit(f)); } }
                @for (f, l) in COUNT_LIMITS { div { label for=(id(f)) { (l) } input id=(id(f)) name=(f) inputmode="numeric" value=(limit(f)); } }
            }
        }
        fieldset { legend { "Restrictions" }
            div.grid {
                div { span.label { "Platforms " span.hint { "(none ticked: all)" } }
                    @for p in Platform::ALL {
                        label { input type="checkbox" name="permissions" value=(p.as_str()) checked[has("permissions", p.as_str())]; " " (p.as_str()) }
                    }
                }
                div { span.label { "Clients " span.hint { "(none ticked: any)" } }
                    @for c in CLIENTS {
                        label { input type="checkbox" name="allowed_clients" value=(c.as_str()) checked[has("allowed_clients", c.as_str())]; " " (c.as_str()) }
                    }
                }
                div { label for=(id("blocked")) { "Blocked models " span.hint { "(comma-separated)" } }
                    input id=(id("blocked")) name="blocked_models" value=(list("blocked_models")); }
            }
        }
        fieldset { legend { "Bindings " span.hint { "(an account id, or group:<id>; empty: the shared pool)" } }
            div.grid {
                @for p in Platform::ALL {
                    div { label for=(id(&format!("bind-{}", p.as_str()))) { (p.as_str()) }
                        input id=(id(&format!("bind-{}", p.as_str()))) name=(format!("bind_{}", p.as_str())) value=(text::s(&v["bindings"], p.as_str())); }
                }
            }
        }
        @if creating { p.hint { "The key is shown once, right after it is created." } }
    }
}

/// Midnight UTC of `YYYY-MM-DD`, in milliseconds.
fn date_ms(day: &str) -> Result<i64, Refused> {
    chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_millis())
        .ok_or_else(|| Refused(format!("expiry `{day}` is not a date (YYYY-MM-DD)")))
}

/// The admin API's key fields from the form.
fn key_json(form: &FormData) -> Result<Value, Refused> {
    let mut limits = json!({});
    for (f, _) in COST_LIMITS {
        set(&mut limits, f, form.text(f).map(|v| json!(v)));
    }
    for (f, _) in COUNT_LIMITS {
        set(&mut limits, f, form.number(f));
    }
    let mut bindings = json!({});
    for p in Platform::ALL {
        set(
            &mut bindings,
            p.as_str(),
            form.text(&format!("bind_{}", p.as_str())).map(|b| json!(b)),
        );
    }
    let expires = match form.text("expires_on") {
        Some(day) => json!(date_ms(day)?),
        None => Value::Null,
    };
    let mut v = json!({
        "name": form.get("name").unwrap_or(""),
        "permissions": form.all("permissions"),
        "allowed_clients": form.all("allowed_clients"),
        "blocked_models": form.list("blocked_models"),
        "tags": form.list("tags"),
        "limits": limits,
        "bindings": bindings,
        "expires_at": expires,
    });
    set(&mut v, "concurrency_limit", form.number("concurrency_limit"));
    Ok(v)
}

pub async fn create(state: web::Data<AppState>, f: CheckedForm) -> HttpResponse {
    let created = async {
        let body = admin_call::body(key_json(&f.form)?)?;
        admin_call::answer(keys::create(Admin, state.clone(), web::Json(body)).await).await
    }
    .await;
    let v = match created {
        Ok(v) => v,
        Err(e) => return redirect("/dashboard/keys", Err(&e.0)),
    };
    let body = html! {
        p.notice.ok role="status" { "Done: key " (text::s(&v, "name")) " created. Copy it now: it is not shown again." }
        code.secret #new-key { (text::s(&v, "key")) }
        p.row {
            button type="button" data-copy="new-key" { "Copy key" }
            a.button.secondary href=(format!("/dashboard/keys/{}", text::s(&v, "id"))) { "Go to the key" }
        }
    };
    html_response(
        StatusCode::CREATED,
        page(&f.session, Nav::Keys, "Key created", &Notice::default(), body),
    )
}

pub async fn show(
    Operator(s): Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
    q: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    let notice = Notice::from_query(&q);
    let v = match admin_call::answer(keys::get(Admin, state.clone(), web::Path::from(id.to_string())).await)
        .await
    {
        Ok(v) => v,
        Err(e) => return message_page(StatusCode::NOT_FOUND, "API key", &e.0),
    };
    let recent =
        admin_call::answer(usage::recent(Admin, state.clone(), web::Path::from(id.to_string())).await)
            .await
            .map(|r| r["requests"].as_array().cloned().unwrap_or_default());
    let now = state.clock.now_ms();
    let id = text::s(&v, "id").to_owned();
    let u = &v["usage"];
    let active = v["active"].as_bool().unwrap_or(true);
    let body = html! {
        p { "State: " (key_state(&v, now)) " · id " code { (id) } }
        div.cards {
            div.card { div.figure { (text::count(u["requests"].as_u64().unwrap_or(0))) } div.label { "requests in all" } }
            div.card { div.figure { (text::count(u["input_tokens"].as_u64().unwrap_or(0))) } div.label { "input tokens" } }
            div.card { div.figure { (text::count(u["output_tokens"].as_u64().unwrap_or(0))) } div.label { "output tokens" } }
            div.card { div.figure { "$" (text::s(u, "rated_cost_usd")) } div.label { "charged (after multiplier)" } }
        }
        div.row {
            form.inline method="post" action=(format!("/dashboard/keys/{id}/active")) {
                (csrf(&s))
                input type="hidden" name="active" value=(if active { "false" } else { "true" });
                button.secondary type="submit" { @if active { "Disable key" } @else { "Enable key" } }
            }
            form.inline method="post" action=(format!("/dashboard/keys/{id}/delete"))
                data-confirm=(format!("Delete key {}? Clients using it are refused at once.", text::s(&v, "name"))) {
                (csrf(&s)) button.danger type="submit" { "Delete key" }
            }
        }
        h2 { "Edit" }
        form method="post" action=(format!("/dashboard/keys/{id}")) {
            (csrf(&s))
            (key_fields("edit", &v, false))
            p { button type="submit" { "Save" } }
        }
        h2 { "Recent requests" }
        @match &recent {
            Err(e) => p.notice.error { "Error: " (e.0) }
            Ok(r) if r.is_empty() => p.muted { "No request yet." }
            Ok(r) => div.table-wrap { table #recent {
                thead { tr { th { "When" } th { "Model" } th.num { "In" } th.num { "Out" } th.num.hide-narrow { "Cache read" } th.num { "Cost ($)" } th.hide-narrow { "Account" } } }
                tbody {
                    @for r in r.iter().take(RECENT) {
                        tr {
                            td { (text::time(r["at"].as_i64().unwrap_or(0))) }
                            td { (text::s(r, "model")) }
                            td.num { (r["input_tokens"]) }
                            td.num { (r["output_tokens"]) }
                            td.num.hide-narrow { (r["cache_read_input_tokens"]) }
                            td.num { (text::s(r, "rated_cost_usd")) }
                            td.hide-narrow { a href=(format!("/dashboard/accounts/{}", text::s(r, "account_id"))) { code { (text::s(r, "account_id").get(..8).unwrap_or("")) } } }
                        }
                    }
                }
            } }
        }
    };
    html_response(
        StatusCode::OK,
        page(
            &s,
            Nav::Keys,
            &format!("Key {}", text::s(&v, "name")),
            &notice,
            body,
        ),
    )
}

async fn patch(state: web::Data<AppState>, id: web::Path<String>, fields: Value) -> Result<Value, Refused> {
    let body = admin_call::body(fields)?;
    admin_call::answer(keys::update(Admin, state, id, web::Json(body)).await).await
}

pub async fn update(state: web::Data<AppState>, id: web::Path<String>, f: CheckedForm) -> HttpResponse {
    let path = format!("/dashboard/keys/{id}");
    let done = match key_json(&f.form) {
        Ok(fields) => patch(state, id, fields).await,
        Err(e) => Err(e),
    };
    match done {
        Ok(_) => redirect(&path, Ok("saved")),
        Err(e) => redirect(&path, Err(&e.0)),
    }
}

pub async fn set_active(state: web::Data<AppState>, id: web::Path<String>, f: CheckedForm) -> HttpResponse {
    let path = format!("/dashboard/keys/{id}");
    let active = f.form.get("active") == Some("true");
    match patch(state, id, json!({ "active": active })).await {
        Ok(_) => redirect(&path, Ok(if active { "key enabled" } else { "key disabled" })),
        Err(e) => redirect(&path, Err(&e.0)),
    }
}

pub async fn remove(state: web::Data<AppState>, id: web::Path<String>, _: CheckedForm) -> HttpResponse {
    match admin_call::answer(keys::remove(Admin, state, web::Path::from(id.to_string())).await).await {
        Ok(_) => redirect("/dashboard/keys", Ok(&format!("key {id} deleted"))),
        Err(e) => redirect(&format!("/dashboard/keys/{id}"), Err(&e.0)),
    }
}
