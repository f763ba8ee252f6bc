//! Backups for the dashboard and the CLI (see `crate::backup`):
//! `GET /admin/export` (sealed with this server's key), `POST /admin/export` with
//! `{"reencrypt_for": "<64 hex>"}` (sealed for another installation's key), and
//! `POST /admin/import/switchyard` with a backup file as the body, answering what it wrote.
use super::{Admin, fail, republish};
use crate::backup::{self, Sources, Targets};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::EncryptionKey;
use crate::store::crypto::SecretBox;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

/// The largest backup an import accepts.
pub const MAX_BACKUP_BYTES: usize = 256 * 1024 * 1024;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    /// The target installation's encryption key (64 hex characters).
    reencrypt_for: String,
}

async fn export_with(state: &AppState, key: &EncryptionKey) -> Result<HttpResponse, ApiError> {
    let sources = Sources {
        accounts: &*state.store,
        keys: &**state.keys.store(),
        usage: &state.usage,
        recent_keep: state.settings.usage.recent_requests,
        now: state.clock.now_ms(),
    };
    let file = backup::export(&sources, &SecretBox::new(key)).await?.to_json()?;
    Ok(HttpResponse::Ok().json(file))
}

pub async fn export_own(_: Admin, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    export_with(&state, &state.encryption_key).await.map_err(fail)
}

pub async fn export_for(
    _: Admin,
    state: web::Data<AppState>,
    body: web::Json<ExportRequest>,
) -> ApiResult<HttpResponse> {
    let key = EncryptionKey::parse_hex(&body.reencrypt_for, "reencrypt_for")
        .map_err(|e| fail(backup::BackupError::from(e)))?;
    export_with(&state, &key).await.map_err(fail)
}

pub async fn import(_: Admin, state: web::Data<AppState>, body: web::Bytes) -> ApiResult<HttpResponse> {
    let verified = backup::verify(&body, &SecretBox::new(&state.encryption_key)).map_err(fail)?;
    let targets = Targets {
        accounts: &*state.store,
        keys: &**state.keys.store(),
        usage: &state.usage,
        recent_keep: state.settings.usage.recent_requests,
    };
    let report = backup::restore(verified, &targets).await.map_err(fail)?;
    if report.accounts.created + report.accounts.updated + report.groups.created + report.groups.updated > 0 {
        republish(&state).await.map_err(fail)?;
    }
    if report.keys.wrote() || report.legacy_verifiers.wrote() {
        state.keys.invalidate();
    }
    Ok(HttpResponse::Ok().json(report))
}
