//! `GET /v1/usage` (also under `/api` and `/claude`): a key holder's own usage, limits and
//! what remains, with their key as the only credential.
use crate::auth;
use crate::error::{ApiError, ApiFailure, ApiFormat, ApiResult};
use crate::keys::ApiKey;
use crate::money::Money;
use crate::state::AppState;
use crate::usage::{Bucket, Dimension, UsageCounters};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

pub fn configure(cfg: &mut web::ServiceConfig) {
    for p in ["", "/api", "/claude"] {
        cfg.route(&format!("{p}/v1/usage"), web::get().to(own_usage));
    }
}

fn fail(e: impl Into<ApiError>) -> ApiFailure {
    e.into().in_format(ApiFormat::Anthropic)
}

/// The counters every usage figure shows; `cost_usd` is what the key is charged (after its
/// multiplier).
pub fn counters_json(c: &UsageCounters) -> Value {
    json!({
        "requests": c.requests,
        "input_tokens": c.input_tokens,
        "output_tokens": c.output_tokens,
        "cache_creation_input_tokens": c.cache_creation_tokens(),
        "cache_creation_5m_input_tokens": c.cache_creation_5m_tokens,
        "cache_creation_1h_input_tokens": c.cache_creation_1h_tokens,
        "cache_read_input_tokens": c.cache_read_tokens,
        "cost_usd": c.rated_cost.usd_string(),
    })
}

fn limit(m: Money) -> Value {
    if m == Money::ZERO {
        Value::Null
    } else {
        Value::String(m.usd_string())
    }
}

fn remaining(limit_: Money, spent: Money) -> Value {
    if limit_ == Money::ZERO {
        Value::Null
    } else {
        Value::String(Money::from_picos(limit_.picos().saturating_sub(spent.picos())).usd_string())
    }
}

async fn own_usage(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let presented = auth::presented_key(&req).ok_or_else(|| fail(ApiError::MissingKey))?;
    let key = state
        .keys
        .authenticate(&presented, auth::peer_ip(&req))
        .await
        .map_err(fail)?;
    Ok(HttpResponse::Ok().json(usage_report(&state, &key).await.map_err(fail)?))
}

pub async fn usage_report(state: &AppState, key: &ApiKey) -> Result<Value, ApiError> {
    let now = state.clock.now_ms();
    let cal = state.usage.calendar();
    let lifetime = state
        .usage
        .usage_of(Dimension::Key, &key.id, Bucket::TOTAL)
        .await?;
    let today = state
        .usage
        .usage_of(Dimension::Key, &key.id, &Bucket::day(cal, now))
        .await?;
    let l = &key.limits;
    let week = cal.week(now, l.reset_day(), l.weekly_reset_hour);
    let window_ms = if l.has_window() {
        i64::from(l.window_minutes) * 60_000
    } else {
        0
    };
    let c = state
        .usage
        .limits()
        .counters(&key.id, now, window_ms, &cal.day(now), &week.bucket)
        .await?;
    let iso = |ms: i64| {
        humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64),
        )
        .to_string()
    };
    let window = l.has_window().then(|| {
        let started = c.window_start;
        json!({
            "minutes": l.window_minutes,
            "started_at": started.map(iso),
            "resets_at": started.map(|s| iso(s + window_ms)),
            "requests": c.window_requests,
            "tokens": c.window_tokens,
            "cost_usd": c.window_cost.usd_string(),
            "limits": {
                "requests": (l.window_requests > 0).then_some(l.window_requests),
                "tokens": (l.window_tokens > 0).then_some(l.window_tokens),
                "cost_usd": limit(l.window_cost_usd),
            },
            "remaining": {
                "requests": (l.window_requests > 0).then(|| l.window_requests.saturating_sub(c.window_requests)),
                "tokens": (l.window_tokens > 0).then(|| l.window_tokens.saturating_sub(c.window_tokens)),
                "cost_usd": remaining(l.window_cost_usd, c.window_cost),
            },
        })
    });
    let mut body = counters_json(&lifetime);
    let extra = json!({
        "key": { "id": key.id, "name": key.name, "expires_at": key.expires_at.map(iso) },
        "today": { "date": cal.day(now), "usage": counters_json(&today) },
        "window": window,
        "limits": {
            "concurrency": (key.concurrency_limit > 0).then_some(key.concurrency_limit),
            "daily_cost_usd": limit(l.daily_cost_usd),
            "weekly_cost_usd": limit(l.weekly_cost_usd),
            "total_cost_usd": limit(l.total_cost_usd),
            "weekly_resets_at": iso(week.next_at),
            "daily_resets_at": iso(cal.next_midnight(now)),
        },
        "spent": {
            "daily_cost_usd": c.daily_cost.usd_string(),
            "weekly_cost_usd": c.weekly_cost.usd_string(),
            "total_cost_usd": c.total_cost.usd_string(),
        },
        "remaining": {
            "daily_cost_usd": remaining(l.daily_cost_usd, c.daily_cost),
            "weekly_cost_usd": remaining(l.weekly_cost_usd, c.weekly_cost),
            "total_cost_usd": remaining(l.total_cost_usd, c.total_cost),
        },
    });
    if let (Some(b), Value::Object(e)) = (body.as_object_mut(), extra) {
        b.extend(e);
    }
    Ok(body)
}
