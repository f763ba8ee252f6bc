//! What a key must pass after authentication, before any upstream account is used, in the
//! original's order (§1, §4.3): client restriction and the key's concurrency slot before the
//! body is read (so a key holds no more bodies than it may run requests), then, from the body,
//! model restriction, rate-limit window, and daily / total / weekly cost. First use of an
//! activation-expiry key starts its clock.
use super::clients::is_client;
use super::model_names;
use crate::error::ApiError;
use crate::keys::{ApiKey, KeyPatch};
use crate::limits::{Admission, Refusal, WindowSpec};
use crate::state::AppState;
use actix_web::HttpRequest;
use std::sync::Arc;
use switchyard_actors::Lease;
use switchyard_actors::clock::Millis;

/// Longest user agent kept for the client check and its error answer.
const MAX_USER_AGENT: usize = 256;

/// A request that passed the checks its headers allow, holding the key's slot.
pub struct Entered {
    pub key: Arc<ApiKey>,
    /// The key's concurrency slot, held until the request ends (`None`: no limit or not counted).
    pub slot: Option<Lease>,
}

/// A request that passed every check.
pub struct Admitted {
    pub key: Arc<ApiKey>,
    /// The rate-limit window it was counted in.
    pub window_start: Option<Millis>,
    pub slot: Option<Lease>,
}

/// Client restriction, then the key's concurrency slot when `takes_slot` (token-count requests
/// take none, §1).
pub async fn enter(
    state: &AppState,
    req: &HttpRequest,
    key: Arc<ApiKey>,
    takes_slot: bool,
) -> Result<Entered, ApiError> {
    if !key.allowed_clients.is_empty() {
        let ua = req
            .headers()
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !key.allowed_clients.iter().any(|c| is_client(*c, ua, req.path())) {
            return Err(ApiError::ClientNotAllowed {
                allowed: key.allowed_clients.clone(),
                user_agent: ua.chars().take(MAX_USER_AGENT).collect(),
            });
        }
    }
    let slot = if takes_slot {
        super::concurrency::acquire(&state.scheduling, &state.key_queues, &state.settings.keys, &key).await?
    } else {
        None
    };
    Ok(Entered { key, slot })
}

/// The checks that need the body: model restriction, activation, limits.
pub async fn admit(state: &AppState, entered: Entered, model: Option<&str>) -> Result<Admitted, ApiError> {
    let Entered { key, slot } = entered;
    if let Some(model) = model
        && key.blocked_models.iter().any(|b| model_names::blocks(b, model))
    {
        return Err(ApiError::ModelNotAllowed(model.to_owned()));
    }
    let key = activate(state, key).await?;
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
