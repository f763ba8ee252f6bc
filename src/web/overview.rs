//! The overview: accounts by state, slots in use, cooldowns with time left, requests and errors
//! per minute, the latency switchyard adds, tokens and cost today and this month. The live part
//! is a fragment the page's script fetches again every few seconds.
use super::admin_call::{self, Refused};
use super::chart::{Series, bars};
use super::layout::{Nav, Notice, html_response, page};
use super::session::{Operator, Session};
use super::text;
use crate::money::Money;
use crate::routes::admin::{Admin, usage};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use serde_json::{Value, json};

/// Minutes of traffic shown.
const MINUTES: usize = 30;
/// Rows of the slots and cooldowns tables (the busiest first).
const TOP: usize = 15;

pub async fn show(
    Operator(s): Operator,
    state: web::Data<AppState>,
    q: web::Query<std::collections::HashMap<String, String>>,
) -> HttpResponse {
    let live = live(&state).await;
    html_response(
        StatusCode::OK,
        page(
            &s,
            Nav::Overview,
            "Overview",
            &Notice::from_query(&q),
            html! {
                p.hint { "Refreshes every 5 seconds. " span #live-status role="status" {} }
                section #live data-refresh="/dashboard/live" data-every="5" data-status="live-status" { (live) }
                (super::alerts::test_form(&s))
            },
        ),
    )
}

/// `GET /dashboard/live`: the overview's figures alone.
pub async fn fragment(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if Session::of(&req, &state).is_none() {
        return HttpResponse::Unauthorized().finish();
    }
    html_response(StatusCode::OK, live(&state).await)
}

/// Token and cost totals over a bucket's per-model rows.
#[derive(Default)]
struct Totals {
    requests: u64,
    tokens: u64,
    cost: Money,
}

async fn totals(state: &web::Data<AppState>, period: &str) -> Result<Totals, Refused> {
    let q = admin_call::body(json!({"by": "model", "period": period}))?;
    let v = admin_call::answer(usage::usage(Admin, state.clone(), web::Query(q)).await).await?;
    let mut t = Totals::default();
    for row in v["rows"].as_array().into_iter().flatten() {
        t.requests += row["requests"].as_u64().unwrap_or(0);
        t.tokens += [
            "input_tokens",
            "output_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
        ]
        .iter()
        .map(|f| row[*f].as_u64().unwrap_or(0))
        .sum::<u64>();
        t.cost += Money::parse_usd(text::s(row, "real_cost_usd")).unwrap_or(Money::ZERO);
    }
    Ok(t)
}

/// Mean time switchyard spent before sending requests upstream, since start.
fn added_latency_ms(state: &AppState) -> Option<f64> {
    use prometheus::core::Collector;
    let (mut sum, mut n) = (0.0, 0u64);
    for family in state.metrics.added_seconds.collect() {
        for m in family.get_metric() {
            sum += m.get_histogram().get_sample_sum();
            n += m.get_histogram().get_sample_count();
        }
    }
    (n > 0).then(|| sum / n as f64 * 1_000.0)
}

async fn live(state: &web::Data<AppState>) -> Markup {
    let now = state.clock.now_ms();
    let accounts: Vec<Value> = match super::accounts::all(state).await {
        Ok(a) => a,
        Err(e) => return html! { p.notice.error role="alert" { "Error: accounts: " (e.0) } },
    };
    let mut by_state = [0usize; text::ACCOUNT_STATES.len()];
    for a in &accounts {
        let (word, _) = text::account_state(a, now);
        if let Some(i) = text::ACCOUNT_STATES.iter().position(|s| *s == word) {
            by_state[i] += 1;
        }
    }
    let mut busy: Vec<&Value> = accounts
        .iter()
        .filter(|a| a["slots_in_use"].as_u64().unwrap_or(0) > 0)
        .collect();
    busy.sort_by_key(|a| std::cmp::Reverse(a["slots_in_use"].as_u64().unwrap_or(0)));
    let mut cooling: Vec<&Value> = accounts
        .iter()
        .filter(|a| a["cooldown"]["until"].as_i64().is_some_and(|u| u > now))
        .collect();
    cooling.sort_by_key(|a| a["cooldown"]["until"].as_i64().unwrap_or(0));
    let minutes = state.metrics.per_minute.last(now, MINUTES);
    let labels: Vec<String> = minutes
        .iter()
        .map(|m| text::time(m.minute as i64 * 60_000)[11..16].to_owned())
        .collect();
    let this_minute = minutes.last().copied().unwrap_or_default();
    let today = totals(state, "day").await;
    let month = totals(state, "month").await;
    html! {
        h2 { "Accounts" }
        div.cards {
            div.card { div.figure { (accounts.len()) } div.label { "accounts in all" } }
            @for (i, word) in text::ACCOUNT_STATES.iter().enumerate() {
                @if by_state[i] > 0 || i < 2 {
                    div.card { div.figure { (by_state[i]) } div.label { "accounts " (word) } }
                }
            }
        }
        h2 { "Traffic" }
        div.cards {
            div.card { div.figure #rpm { (this_minute.requests) } div.label { "requests this minute" } }
            div.card { div.figure { (this_minute.errors) } div.label { "errors this minute (5xx)" } }
            div.card {
                div.figure { @match added_latency_ms(state) { Some(ms) => (format!("{ms:.1} ms")), None => "—" } }
                div.label { "mean latency added by switchyard" }
            }
            @for (label, t) in [("today", &today), ("this month", &month)] {
                @match t {
                    Ok(t) => {
                        div.card { div.figure { (text::count(t.tokens)) } div.label { "tokens " (label) " (" (text::count(t.requests)) " requests)" } }
                        div.card { div.figure { "$" (t.cost.usd_string()) } div.label { "upstream cost " (label) } }
                    }
                    Err(e) => { div.card { div.label { "usage " (label) ": " (e.0) } } }
                }
            }
        }
        (bars(
            "Requests and errors per minute, last 30 minutes",
            &labels,
            &[
                Series { name: "requests", colour: "#1f5fbf", values: minutes.iter().map(|m| m.requests as f64).collect() },
                Series { name: "errors", colour: "#b3261e", values: minutes.iter().map(|m| m.errors as f64).collect() },
            ],
        ))
        h2 { "Slots in use" }
        @if busy.is_empty() {
            p.muted { "No account is serving a request right now." }
        } @else {
            div.table-wrap { table {
                thead { tr { th { "Account" } th.num { "In use" } th.num { "Limit" } } }
                tbody {
                    @for a in busy.iter().take(TOP) {
                        tr {
                            td { a href=(format!("/dashboard/accounts/{}", text::s(a, "id"))) { (text::s(a, "name")) } }
                            td.num { (a["slots_in_use"].as_u64().unwrap_or(0)) }
                            td.num { @match a["max_concurrency"].as_u64() { Some(0) | None => "no limit", Some(n) => (n) } }
                        }
                    }
                }
            } }
        }
        h2 { "Cooldowns" }
        @if cooling.is_empty() {
            p.muted { "No account is cooling down." }
        } @else {
            div.table-wrap { table {
                thead { tr { th { "Account" } th { "Reason" } th.num { "Time left" } } }
                tbody {
                    @for a in cooling.iter().take(TOP) {
                        tr {
                            td { a href=(format!("/dashboard/accounts/{}", text::s(a, "id"))) { (text::s(a, "name")) } }
                            td { (text::s(&a["cooldown"], "reason")) " " (a["cooldown"]["status"].as_u64().filter(|s| *s > 0).map(|s| format!("(HTTP {s})")).unwrap_or_default()) }
                            td.num { (text::duration(a["cooldown"]["until"].as_i64().unwrap_or(now) - now)) }
                        }
                    }
                }
            } }
            @if cooling.len() > TOP { p.hint { (cooling.len() - TOP) " more on the accounts page." } }
        }
    }
}
