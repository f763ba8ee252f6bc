//! What a key must pass after authentication, before any upstream account is used, in the
//! original's order (§1, §4.3): client restriction, model restriction, rate-limit window, then
//! daily / total / weekly cost. First use of an activation-expiry key starts its clock.
use super::clients::is_client;
use crate::error::ApiError;
use crate::keys::{ApiKey, KeyPatch};
use crate::limits::{Admission, Refusal, WindowSpec};
use crate::state::AppState;
use actix_web::HttpRequest;
use std::sync::Arc;
use switchyard_actors::clock::Millis;

/// A request that passed every check.
pub struct Admitted {
    pub key: Arc<ApiKey>,
    /// The rate-limit window it was counted in.
    pub window_start: Option<Millis>,
    /// The key's concurrency slot, held until the request ends (`None`: no limit or not counted).
    pub slot: Option<switchyard_actors::Lease>,
}

/// `anthropic/claude-x`, `models/gemini-x`, `ccr,claude-x` → the bare lower-case name.
pub fn bare_model(model: &str) -> String {
    let m = model.trim().to_ascii_lowercase();
    let m = m.strip_prefix("ccr,").unwrap_or(&m);
    let m = m.strip_prefix("models/").unwrap_or(m);
    m.rsplit_once('/').map_or(m, |(_, rest)| rest).to_owned()
}

/// `concurrency`: whether the request takes one of the key's concurrency slots (token-count
/// requests do not, §1).
pub async fn admit(
    state: &AppState,
    req: &HttpRequest,
    key: Arc<ApiKey>,
    model: Option<&str>,
    concurrency: bool,
) -> Result<Admitted, ApiError> {
    if !key.allowed_clients.is_empty() {
        let ua = req
            .headers()
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !key.allowed_clients.iter().any(|c| is_client(*c, ua, req.path())) {
            return Err(ApiError::ClientNotAllowed {
                allowed: key.allowed_clients.clone(),
                user_agent: ua.to_owned(),
            });
        }
    }
    if let Some(model) = model {
        let bare = bare_model(model);
        if key.blocked_models.iter().any(|b| bare_model(b) == bare) {
            return Err(ApiError::ModelNotAllowed(model.to_owned()));
        }
    }
    let key = activate(state, key).await?;
    let slot = if concurrency {
        super::concurrency::acquire(&state.scheduling, &state.key_queues, &state.settings.keys, &key).await?
    } else {
        None
    };
    let now = state.clock.now_ms();
    let cal = state.usage.calendar();
    let l = &key.limits;
    let window = l.has_window().then(|| WindowSpec {
        length_ms: i64::from(l.window_minutes) * 60_000,
        max_requests: l.window_requests,
        max_tokens: l.window_tokens,
        max_cost: l.window_cost_usd,
    });
    let day = cal.day(now);
    let week = cal.week(now, l.reset_day(), l.weekly_reset_hour);
    let admission = Admission {
        key_id: &key.id,
        now,
        window,
        day: &day,
        week: &week.bucket,
        max_daily: l.daily_cost_usd,
        max_total: l.total_cost_usd,
        max_weekly: l.weekly_cost_usd,
    };
    match state.usage.limits().admit(&admission).await? {
        Ok(window_start) => Ok(Admitted {
            key,
            window_start,
            slot,
        }),
        Err(refusal) => {
            let reset_at = match &refusal {
                Refusal::Requests { reset_at, .. }
                | Refusal::Tokens { reset_at, .. }
                | Refusal::WindowCost { reset_at, .. } => Some(*reset_at),
                Refusal::Daily { .. } => Some(cal.next_midnight(now)),
                Refusal::Weekly { .. } => Some(week.next_at),
                Refusal::Total { .. } => None,
            };
            Err(ApiError::LimitReached { refusal, reset_at })
        }
    }
}

/// Starts an activation-expiry key's clock on its first use.
async fn activate(state: &AppState, key: Arc<ApiKey>) -> Result<Arc<ApiKey>, ApiError> {
    let (Some(days), None) = (key.activation_days, key.activated_at) else {
        return Ok(key);
    };
    let now = state.clock.now_ms();
    let patch = KeyPatch {
        activated_at: Some(now),
        expires_at: Some(Some(now + i64::from(days) * 86_400_000)),
        ..Default::default()
    };
    let updated = state.keys.store().patch_key(&key.id, &patch).await?;
    state.keys.invalidate();
    tracing::info!(key_id = %key.id, days, "api key activated on first use");
    Ok(updated.map(Arc::new).unwrap_or(key))
}
