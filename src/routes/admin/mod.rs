//! The admin API under `/admin`, for operators: accounts and keys. Every route needs
//! `Authorization: Bearer <admin token>`. Changes reach the scheduler at once.
// The dashboard (src/web) calls these handlers in-process: one set of validations.
pub(crate) mod accounts;
pub(crate) mod alerts;
mod backup;
pub(crate) mod groups;
mod import;
pub(crate) mod keys;
pub(crate) mod oauth;
pub(crate) mod reset;
pub(crate) mod usage;

pub(crate) use accounts::validate as validate_account;

use crate::error::{ApiError, ApiFailure, ApiFormat};
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use rand::RngCore;
use std::future::{Ready, ready};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin")
            .route("/accounts", web::post().to(accounts::create))
            .route("/accounts", web::get().to(accounts::list))
            .route("/accounts/{id}", web::get().to(accounts::get))
            .route("/accounts/{id}", web::patch().to(accounts::update))
            .route("/accounts/{id}", web::delete().to(accounts::remove))
            .route("/accounts/{id}/reset", web::post().to(reset::reset))
            .route("/groups", web::post().to(groups::create))
            .route("/groups", web::get().to(groups::list))
            .route("/groups/{id}", web::delete().to(groups::remove))
            .route("/groups/{id}/members", web::post().to(groups::add_member))
            .route("/groups/{id}/members/{account}", web::delete().to(groups::leave))
            .route("/oauth/{provider}/start", web::post().to(oauth::start))
            .route("/oauth/{provider}/exchange", web::post().to(oauth::exchange))
            .route("/keys", web::post().to(keys::create))
            .route("/keys", web::get().to(keys::list))
            .route("/keys/{id}", web::get().to(keys::get))
            .route("/keys/{id}", web::patch().to(keys::update))
            .route("/keys/{id}", web::delete().to(keys::remove))
            .route("/keys/{id}/requests", web::get().to(usage::recent))
            .route("/usage", web::get().to(usage::usage))
            .route("/export", web::get().to(backup::export_own))
            .route("/export", web::post().to(backup::export_for))
            .service(
                web::resource("/import/switchyard")
                    .app_data(web::PayloadConfig::new(backup::MAX_BACKUP_BYTES))
                    .route(web::post().to(backup::import))
                    // A resource answers a wrong method itself (an empty 405) unless told.
                    .default_service(web::to(crate::routes::fallback_not_found)),
            )
            .route("/alerts/test", web::post().to(alerts::test))
            .service(
                web::resource("/import/crs")
                    .app_data(import::json_config())
                    .route(web::post().to(import::crs))
                    .default_service(web::to(crate::routes::fallback_not_found)),
            )
            .app_data(web::JsonConfig::default().error_handler(|e, _| {
                ApiError::BadRequest(format!("invalid JSON body: {e}"))
                    .in_format(ApiFormat::Admin)
                    .into()
            }))
            .app_data(web::QueryConfig::default().error_handler(|e, _| {
                ApiError::BadRequest(format!("invalid query: {e}"))
                    .in_format(ApiFormat::Admin)
                    .into()
            })),
    );
}

pub(crate) fn fail(e: impl Into<ApiError>) -> ApiFailure {
    e.into().in_format(ApiFormat::Admin)
}

/// Proof that the request carried the admin token.
pub struct Admin;

impl FromRequest for Admin {
    type Error = ApiFailure;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let ok = req.app_data::<web::Data<AppState>>().is_some_and(|state| {
            req.headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| {
                    v.get(..7)
                        .filter(|p| p.eq_ignore_ascii_case("bearer "))
                        .map(|_| &v[7..])
                })
                .is_some_and(|t| state.admin.matches(t))
        });
        ready(if ok {
            Ok(Admin)
        } else {
            Err(fail(ApiError::AdminUnauthorized))
        })
    }
}

/// Accounts or groups changed in the store: have the scheduler republish them now.
pub(crate) async fn republish(state: &AppState) -> Result<(), ApiError> {
    state.scheduling.reload().await.map(drop).map_err(ApiError::from)
}

/// `name` trimmed, when it is 1 to 100 characters.
pub(super) fn valid_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(ApiError::BadRequest("name must be 1 to 100 characters".into()));
    }
    Ok(name.to_owned())
}

/// A random UUID-shaped id (v4 layout).
pub fn new_id() -> String {
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}
