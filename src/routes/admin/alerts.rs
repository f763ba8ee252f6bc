//! `POST /admin/alerts/test`: sends a test notification to every configured alert channel and
//! answers how each took it (`{"ok": bool, "channels": [{channel, kind, ok, error?}]}`).
use super::Admin;
use crate::error::ApiResult;
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use serde_json::json;

pub async fn test(_: Admin, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let channels = state.alerts.send_test().await;
    let ok = channels.iter().all(|c| c.ok);
    Ok(HttpResponse::Ok().json(json!({ "ok": ok, "channels": channels })))
}
