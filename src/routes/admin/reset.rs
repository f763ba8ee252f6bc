//! `POST /admin/accounts/{id}/reset`: ends an account's cooldown and per-model-family limits at
//! once, for an operator who knows the upstream is fine again.
//!
//! The scheduling core has no "clear" message: health is written to the store as cleared and the
//! pool, which rebuilds health from the store on reload, republishes it.
use super::{Admin, accounts, fail};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use switchyard_actors::{AccountId, Health};

/// A reload that raced a health change of the pool's own keeps the pool's view; try again.
const ATTEMPTS: usize = 3;

pub async fn reset(_: Admin, state: web::Data<AppState>, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let aid = AccountId::new(id.as_str());
    if state.store.get_account(&aid).await.map_err(fail)?.is_none() {
        return Err(fail(ApiError::NotFound(format!("account {id}"))));
    }
    for _ in 0..ATTEMPTS {
        state
            .store
            .put_health(&aid, &Health::default())
            .await
            .map_err(fail)?;
        super::republish(&state).await.map_err(fail)?;
        let cleared = state
            .scheduling
            .snapshot()
            .get(&aid)
            .is_none_or(|e| e.health.is_clear());
        if cleared {
            break;
        }
    }
    tracing::info!(account = %aid, "account health reset by an operator");
    accounts::get(Admin, state, id).await
}
