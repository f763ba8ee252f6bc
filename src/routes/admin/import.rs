//! `POST /admin/import/crs`: writes a bundle mapped from claude-relay-service (by `switchyard
//! import crs`, or the dashboard) through the store contracts, and answers the report.
//! `{"dry_run": true}` only reports what would change.
use super::{Admin, fail};
use crate::error::{ApiError, ApiFormat, ApiResult};
use crate::import::apply::apply;
use crate::import::bundle::ImportBundle;
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

/// A whole installation travels in one body: larger than the other admin bodies may be.
const MAX_BODY: usize = 64 << 20;

pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default().limit(MAX_BODY).error_handler(|e, _| {
        ApiError::BadRequest(format!("invalid JSON body: {e}"))
            .in_format(ApiFormat::Admin)
            .into()
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    #[serde(default)]
    dry_run: bool,
    bundle: ImportBundle,
}

pub async fn crs(
    _: Admin,
    state: web::Data<AppState>,
    body: web::Json<ImportRequest>,
) -> ApiResult<HttpResponse> {
    let ImportRequest { dry_run, bundle } = body.into_inner();
    let report = apply(&state, bundle, dry_run).await.map_err(fail)?;
    Ok(HttpResponse::Ok().json(report))
}
