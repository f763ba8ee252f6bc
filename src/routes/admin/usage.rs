//! `GET /admin/usage?by=key|account|model&period=total|month|day|hour[&at=…]`: usage for
//! operators, one row per key, account or model, most expensive first. `at` names the bucket
//! (`2026-11`, `2026-11-27`, `2026-11-27T10`); the current one by default.
//! `GET /admin/keys/{id}/requests`: a key's newest requests.
use super::{Admin, fail};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::usage::{Bucket, Dimension};
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageQuery {
    by: Option<Dimension>,
    period: Option<String>,
    at: Option<String>,
}

pub async fn usage(
    _: Admin,
    state: web::Data<AppState>,
    q: web::Query<UsageQuery>,
) -> ApiResult<HttpResponse> {
    let q = q.into_inner();
    let by = q.by.unwrap_or(Dimension::Key);
    let now = state.clock.now_ms();
    let cal = state.usage.calendar();
    let period = q.period.as_deref().unwrap_or("day");
    let current = match period {
        "total" => None,
        "month" => Some(cal.month(now)),
        "day" => Some(cal.day(now)),
        "hour" => Some(cal.hour(now)),
        other => {
            return Err(fail(ApiError::BadRequest(format!(
                "period `{other}`: use total, month, day or hour"
            ))));
        }
    };
    let bucket = match (current, q.at) {
        (None, _) => Bucket::TOTAL.to_owned(),
        (Some(cur), at) => {
            let at = at.unwrap_or(cur.clone());
            if at.len() != cur.len() || !at.bytes().all(|b| b.is_ascii_digit() || b == b'-' || b == b'T') {
                return Err(fail(ApiError::BadRequest(format!(
                    "at `{at}` does not name a {period} (like {cur})"
                ))));
            }
            format!("{}:{at}", &period[..1])
        }
    };
    let rows = state.usage.usage_by(by, &bucket).await.map_err(fail)?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, c) in rows {
        let mut row = super::super::usage::counters_json(&c);
        row["id"] = json!(id);
        row["real_cost_usd"] = json!(c.cost.usd_string());
        row["rated_cost_usd"] = json!(c.rated_cost.usd_string());
        if by == Dimension::Key
            && let Ok(Some(k)) = state.keys.store().get_key(&id).await
        {
            row["name"] = json!(k.name);
        }
        out.push(row);
    }
    Ok(HttpResponse::Ok().json(json!({ "by": by, "period": period, "bucket": bucket, "rows": out })))
}

pub async fn recent(_: Admin, state: web::Data<AppState>, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let reqs = state.usage.recent(&id, 1_000).await.map_err(fail)?;
    let out: Vec<_> = reqs
        .iter()
        .map(|r| {
            json!({
                "at": r.at, "account_id": r.account_id, "model": r.model,
                "input_tokens": r.usage.input_tokens, "output_tokens": r.usage.output_tokens,
                "cache_creation_5m_input_tokens": r.usage.cache_creation_5m_tokens,
                "cache_creation_1h_input_tokens": r.usage.cache_creation_1h_tokens,
                "cache_read_input_tokens": r.usage.cache_read_tokens,
                "cost_usd": r.cost.usd_string(), "rated_cost_usd": r.rated_cost.usd_string(),
                "client_disconnected": r.client_disconnected,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "requests": out })))
}
