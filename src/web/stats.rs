//! The key holders' page at `/stats` (`/` redirects here): they enter their key and see their
//! own usage, limits and what remains, recent requests and the models used. The script sends
//! the key in a header (never in a URL) to `/v1/usage` and to `/stats/api/requests`; neither
//! answers anything about other keys or about accounts.
use super::layout::{Assets, bare, html_response};

/// The key holders' page loads its own script, and the stylesheet from its own path.
const STATS: Assets = Assets {
    css: super::assets::STATS_CSS_PATH,
    js: super::assets::STATS_JS_PATH,
};
use crate::auth;
use crate::error::{ApiError, ApiFormat, ApiResult};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;
use serde_json::json;
use std::collections::BTreeMap;

/// Newest requests shown to a key holder.
const RECENT: usize = 50;

pub async fn root() -> HttpResponse {
    HttpResponse::Found()
        .insert_header(("location", "/stats"))
        .finish()
}

pub async fn page() -> HttpResponse {
    let body = html! {
        h1 { "Your API key's usage" }
        form #stats-form {
            label for="stats-key" { "API key " span.hint { "(sent in a header to this server only; not stored)" } }
            div.row {
                input #stats-key type="password" name="key" autocomplete="off" required size="48";
                button type="submit" { "Show usage" }
            }
        }
        p #stats-error.notice.error role="alert" hidden {}
        section #stats-result hidden aria-live="polite" {
            h2 #stats-name {}
            div.cards #stats-cards {}
            h2 { "Limits and what remains" }
            div.table-wrap { table #stats-limits { thead { tr { th { "Limit" } th.num { "Spent" } th.num { "Limit" } th.num { "Remaining" } th { "Resets" } } } tbody {} } }
            h2 { "Models used" }
            div.table-wrap { table #stats-models { thead { tr { th { "Model" } th.num { "Requests" } th.num { "Tokens" } th.num { "Cost ($)" } } } tbody {} } }
            p.hint { "Over your most recent requests." }
            h2 { "Recent requests" }
            div.table-wrap { table #stats-recent { thead { tr { th { "When" } th { "Model" } th.num { "In" } th.num { "Out" } th.num { "Cost ($)" } } } tbody {} } }
        }
        p.muted { "Operators: " a href="/dashboard" { "dashboard" } "." }
    };
    html_response(StatusCode::OK, bare("Usage", &STATS, body))
}

/// `GET /stats/api/requests` with the key in `x-api-key` (or `Authorization: Bearer`): the key's
/// own newest requests and the models they used, without the accounts that served them.
pub async fn requests(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let fail = |e: ApiError| e.in_format(ApiFormat::Anthropic);
    let presented = auth::presented_key(&req).ok_or_else(|| fail(ApiError::MissingKey))?;
    let key = state
        .keys
        .authenticate(&presented, auth::peer_ip(&req))
        .await
        .map_err(fail)?;
    let recent = state
        .usage
        .recent(&key.id, RECENT)
        .await
        .map_err(|e| fail(e.into()))?;
    let mut models: BTreeMap<&str, (u64, u64, crate::money::Money)> = BTreeMap::new();
    for r in &recent {
        let m = models.entry(r.model.as_str()).or_default();
        m.0 += 1;
        m.1 += r.usage.total();
        m.2 += r.rated_cost;
    }
    let requests: Vec<_> = recent
        .iter()
        .map(|r| {
            json!({
                "at": r.at, "model": r.model,
                "input_tokens": r.usage.input_tokens, "output_tokens": r.usage.output_tokens,
                "cost_usd": r.rated_cost.usd_string(),
            })
        })
        .collect();
    let models: Vec<_> = models
        .into_iter()
        .map(|(model, (n, tokens, cost))| json!({"model": model, "requests": n, "tokens": tokens, "cost_usd": cost.usd_string()}))
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(json!({ "requests": requests, "models": models })))
}
