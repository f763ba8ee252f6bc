//! Usage over time by key, account or model (hourly for a day, daily for a month, monthly for a
//! year), tokens and cost as charts, the chosen period's rows as a table and as CSV.
use super::admin_call::{self, Refused};
use super::chart::{Series, bars};
use super::layout::{Nav, Notice, html_response, message_page, page};
use super::paging::ListQuery;
use super::session::Operator;
use super::text;
use crate::routes::admin::{Admin, usage};
use crate::state::AppState;
use crate::usage::{Dimension, UsageCounters};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use maud::html;
use serde_json::{Value, json};
use std::collections::HashMap;

/// The chart's step, and how many steps it shows (within the buckets' retention).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Hour,
    Day,
    Month,
}

impl Step {
    fn parse(s: &str) -> Self {
        match s {
            "hour" => Step::Hour,
            "month" => Step::Month,
            _ => Step::Day,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Step::Hour => "hour",
            Step::Day => "day",
            Step::Month => "month",
        }
    }

    /// The period names, oldest first: `2026-11-27T10`, `2026-11-27` or `2026-11`.
    fn periods(self, state: &AppState) -> Vec<String> {
        let cal = state.usage.calendar();
        let now = state.clock.now_ms();
        let mut out: Vec<String> = match self {
            Step::Hour => (0..24).map(|i| cal.hour(now - i * 3_600_000)).collect(),
            Step::Day => (0..30).map(|i| cal.day(now - i * 86_400_000)).collect(),
            Step::Month => {
                let current = cal.month(now);
                let (y, m) = current.split_once('-').unwrap_or(("1970", "01"));
                let months = y.parse::<i64>().unwrap_or(1970) * 12 + m.parse::<i64>().unwrap_or(1) - 1;
                (0..12)
                    .map(|i| {
                        let n = months - i;
                        format!("{:04}-{:02}", n / 12, n % 12 + 1)
                    })
                    .collect()
            }
        };
        // Days of a zone's clock change can repeat: keep each period once.
        out.dedup();
        out.reverse();
        out
    }

    fn bucket(self, period: &str) -> String {
        format!("{}:{period}", &self.as_str()[..1])
    }
}

fn dimension(s: &str) -> Dimension {
    match s {
        "account" => Dimension::Account,
        "model" => Dimension::Model,
        _ => Dimension::Key,
    }
}

fn tokens(c: &UsageCounters) -> u64 {
    c.input_tokens + c.output_tokens + c.cache_creation_tokens() + c.cache_read_tokens
}

/// The chosen period's rows through the admin API's usage call (names for keys included).
async fn rows(
    state: &web::Data<AppState>,
    by: Dimension,
    step: Step,
    at: &str,
) -> Result<Vec<Value>, Refused> {
    let q = admin_call::body(json!({ "by": by.as_str(), "period": step.as_str(), "at": at }))?;
    let v = admin_call::answer(usage::usage(Admin, state.clone(), web::Query(q)).await).await?;
    Ok(v["rows"].as_array().cloned().unwrap_or_default())
}

pub async fn show(
    Operator(s): Operator,
    state: web::Data<AppState>,
    q: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    let q = ListQuery::new(q.into_inner());
    let by = dimension(q.get("by"));
    let step = Step::parse(q.get("step"));
    let periods = step.periods(&state);
    let at = match q.get("at") {
        "" => periods.last().cloned().unwrap_or_default(),
        a => a.to_owned(),
    };
    let only = q.get("id");
    // One read per period, summed here (over one id when `id` is given).
    let mut token_series = Vec::with_capacity(periods.len());
    let mut cost_series = Vec::with_capacity(periods.len());
    for p in &periods {
        let got = state.usage.usage_by(by, &step.bucket(p)).await;
        let rows = match got {
            Ok(r) => r,
            Err(e) => return message_page(StatusCode::SERVICE_UNAVAILABLE, "Usage", &e.to_string()),
        };
        let mut sum = UsageCounters::default();
        for (_, c) in rows.iter().filter(|(id, _)| only.is_empty() || id == only) {
            sum.add(c);
        }
        token_series.push(tokens(&sum) as f64);
        cost_series.push(sum.cost.micros() as f64 / 1e6);
    }
    let table = match rows(&state, by, step, &at).await {
        Ok(r) => r,
        Err(e) => return message_page(StatusCode::BAD_REQUEST, "Usage", &e.0),
    };
    let (shown, pages) = q.slice(&table);
    let labels: Vec<String> = periods
        .iter()
        .map(|p| match step {
            Step::Hour => p.get(11..).map(|h| format!("{h}h")).unwrap_or_default(),
            Step::Day => p.get(5..).unwrap_or(p).to_owned(),
            Step::Month => p.clone(),
        })
        .collect();
    let csv = format!(
        "/dashboard/usage.csv?{}",
        form_urlencoded::Serializer::new(String::new())
            .append_pair("by", by.as_str())
            .append_pair("step", step.as_str())
            .append_pair("at", &at)
            .finish()
    );
    let whose = if only.is_empty() {
        format!("all {}s", by.as_str())
    } else {
        format!("{} {only}", by.as_str())
    };
    let body = html! {
        form.filters method="get" action="/dashboard/usage" {
            div { label for="u-by" { "By" }
                select #u-by name="by" { @for d in ["key", "account", "model"] { option value=(d) selected[by.as_str() == d] { (d) } } } }
            div { label for="u-step" { "Over" }
                select #u-step name="step" {
                    @for (v, l) in [("hour", "hours (last 24)"), ("day", "days (last 30)"), ("month", "months (last 12)")] {
                        option value=(v) selected[step.as_str() == v] { (l) }
                    }
                } }
            div { label for="u-id" { "Only this id " span.hint { "(empty: all)" } } input #u-id name="id" value=(only); }
            div { button type="submit" { "Show" } }
        }
        (bars(&format!("Tokens per {} ({whose})", step.as_str()), &labels, &[Series { name: "tokens", colour: "#1f5fbf", values: token_series.clone() }]))
        (bars(&format!("Upstream cost in dollars per {} ({whose})", step.as_str()), &labels, &[Series { name: "cost ($)", colour: "#1e7b3c", values: cost_series.clone() }]))
        details {
            summary { "The charts' figures as a table" }
            div.table-wrap { table {
                thead { tr { th { (step.as_str()) } th.num { "Tokens" } th.num { "Cost ($)" } } }
                tbody { @for (i, p) in periods.iter().enumerate() {
                    tr { td { (p) } td.num { (text::count(token_series[i] as u64)) } td.num { (format!("{:.6}", cost_series[i])) } }
                } }
            } }
        }
        h2 { "By " (by.as_str()) ", " (step.as_str()) " " (at) }
        form.filters method="get" action="/dashboard/usage" {
            input type="hidden" name="by" value=(by.as_str());
            input type="hidden" name="step" value=(step.as_str());
            div { label for="u-at" { "Period" }
                select #u-at name="at" { @for p in periods.iter().rev() { option value=(p) selected[*p == at] { (p) } } } }
            div { button type="submit" { "Show" } }
            div { a.button.secondary href=(csv) download { "Download CSV" } }
        }
        div.table-wrap { table #usage-table {
            thead { tr { th { (by.as_str()) } th.num { "Requests" } th.num { "Input" } th.num { "Output" } th.num.hide-narrow { "Cache write" } th.num.hide-narrow { "Cache read" } th.num { "Cost ($)" } th.num.hide-narrow { "Charged ($)" } } }
            tbody {
                @for r in shown {
                    tr {
                        td {
                            a href=(format!("/dashboard/usage?by={}&step={}&id={}", by.as_str(), step.as_str(), form_urlencoded::byte_serialize(text::s(r, "id").as_bytes()).collect::<String>()))
                                title="Chart this one" {
                                (r["name"].as_str().unwrap_or(text::s(r, "id")))
                            }
                        }
                        td.num { (text::count(r["requests"].as_u64().unwrap_or(0))) }
                        td.num { (text::count(r["input_tokens"].as_u64().unwrap_or(0))) }
                        td.num { (text::count(r["output_tokens"].as_u64().unwrap_or(0))) }
                        td.num.hide-narrow { (text::count(r["cache_creation_input_tokens"].as_u64().unwrap_or(0))) }
                        td.num.hide-narrow { (text::count(r["cache_read_input_tokens"].as_u64().unwrap_or(0))) }
                        td.num { (text::s(r, "real_cost_usd")) }
                        td.num.hide-narrow { (text::s(r, "rated_cost_usd")) }
                    }
                }
                @if shown.is_empty() { tr { td colspan="8" { "No usage in this period." } } }
            }
        } }
        (q.pager("/dashboard/usage", table.len(), pages, "rows"))
    };
    html_response(
        StatusCode::OK,
        page(&s, Nav::Usage, "Usage", &Notice::default(), body),
    )
}

/// A CSV field: quoted when it holds a comma, quote or line break; a leading `=`, `+`, `-` or
/// `@` is defused so a spreadsheet does not run it as a formula.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// `GET /dashboard/usage.csv?by=&step=&at=`: the period's rows, all of them.
pub async fn csv(
    _: Operator,
    state: web::Data<AppState>,
    q: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    let get = |f: &str| q.get(f).map(String::as_str).unwrap_or("");
    let by = dimension(get("by"));
    let step = Step::parse(get("step"));
    let at = match get("at") {
        "" => step.periods(&state).last().cloned().unwrap_or_default(),
        a => a.to_owned(),
    };
    let rows = match rows(&state, by, step, &at).await {
        Ok(r) => r,
        Err(e) => {
            return HttpResponse::BadRequest()
                .content_type("text/plain; charset=utf-8")
                .body(e.0);
        }
    };
    let columns = [
        "requests",
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
        "real_cost_usd",
        "rated_cost_usd",
    ];
    let mut out = format!("{},name,period,{}\n", by.as_str(), columns.join(","));
    for r in &rows {
        let mut line = vec![
            csv_field(text::s(r, "id")),
            csv_field(text::s(r, "name")),
            csv_field(&at),
        ];
        line.extend(columns.iter().map(|c| match &r[*c] {
            Value::String(s) => csv_field(s),
            v => v.to_string(),
        }));
        out.push_str(&line.join(","));
        out.push('\n');
    }
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "content-disposition",
            format!(
                "attachment; filename=\"usage-{}-{}-{}.csv\"",
                by.as_str(),
                step.as_str(),
                at.replace(':', "-")
            ),
        ))
        .body(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=cmd()"), "'=cmd()");
    }
}
