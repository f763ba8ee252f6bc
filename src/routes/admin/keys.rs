//! `/admin/keys`: create (the plaintext key is in the creation answer only), list, inspect,
//! change and revoke client API keys.
use super::{Admin, fail, new_id};
use crate::error::{ApiError, ApiResult};
use crate::keys::{ApiKey, KeyPatch, NewKey, PlainKey};
use crate::state::AppState;
use crate::usage::UsageTotals;
use actix_web::{HttpResponse, web};
use serde::Serialize;
use switchyard_actors::clock::Millis;
use switchyard_actors::{Binding, KeyBindings, Platform};

#[derive(Debug, Serialize)]
pub struct KeyView {
    id: String,
    name: String,
    active: bool,
    created_at: Millis,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_used_at: Option<Millis>,
    permissions: Vec<Platform>,
    concurrency_limit: u32,
    bindings: KeyBindings,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<Millis>,
    tags: Vec<String>,
    usage: UsageTotals,
}

fn view(k: &ApiKey, state: &AppState) -> KeyView {
    KeyView {
        id: k.id.clone(),
        name: k.name.clone(),
        active: k.active,
        created_at: k.created_at,
        last_used_at: k.last_used_at,
        permissions: k.permissions.clone(),
        concurrency_limit: k.concurrency_limit,
        bindings: k.bindings.clone(),
        expires_at: k.expires_at,
        tags: k.tags.clone(),
        usage: state.usage.totals_for_key(&k.id),
    }
}

/// Bindings must name things that exist, on the right platform.
fn check_bindings(state: &AppState, b: &KeyBindings) -> Result<(), ApiError> {
    let snapshot = state.scheduling.snapshot();
    for platform in Platform::ALL {
        match b.for_platform(platform) {
            Some(Binding::Account(id)) => {
                let ok = snapshot.get(id).is_some_and(|e| e.account.platform() == platform);
                if !ok {
                    return Err(ApiError::BadRequest(format!(
                        "bindings.{platform}: no {platform} account {id}"
                    )));
                }
            }
            Some(Binding::Group(g)) => {
                if snapshot.group(g).is_none_or(|g| g.platform != platform) {
                    return Err(ApiError::BadRequest(format!(
                        "bindings.{platform}: no {platform} group {g}"
                    )));
                }
            }
            None => {}
        }
    }
    Ok(())
}

pub async fn create(
    _: Admin,
    state: web::Data<AppState>,
    body: web::Json<NewKey>,
) -> ApiResult<HttpResponse> {
    let n = body.into_inner();
    if n.name.trim().is_empty() || n.name.len() > 100 {
        return Err(fail(ApiError::BadRequest(
            "name must be 1 to 100 characters".into(),
        )));
    }
    check_bindings(&state, &n.bindings).map_err(fail)?;
    let plain = PlainKey::generate();
    let key = ApiKey {
        id: new_id(),
        name: n.name.trim().to_owned(),
        hash: plain.hash(),
        active: true,
        created_at: state.clock.now_ms(),
        last_used_at: None,
        permissions: n.permissions,
        concurrency_limit: n.concurrency_limit,
        bindings: n.bindings,
        expires_at: n.expires_at,
        tags: n.tags,
    };
    state.keys.store().put_key(&key).await.map_err(fail)?;
    state.keys.invalidate();
    tracing::info!(key_id = %key.id, "api key created");
    let mut body =
        serde_json::to_value(view(&key, &state)).map_err(|e| fail(ApiError::Internal(e.to_string())))?;
    body["key"] = serde_json::Value::String(plain.expose().to_owned());
    Ok(HttpResponse::Created().json(body))
}

pub async fn list(_: Admin, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let keys = state.keys.store().list_keys().await.map_err(fail)?;
    let views: Vec<_> = keys.iter().map(|k| view(k, &state)).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "keys": views })))
}

pub async fn get(_: Admin, state: web::Data<AppState>, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let key = state.keys.store().get_key(&id).await.map_err(fail)?;
    let key = key.ok_or_else(|| fail(ApiError::NotFound(format!("key {id}"))))?;
    Ok(HttpResponse::Ok().json(view(&key, &state)))
}

pub async fn update(
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<KeyPatch>,
) -> ApiResult<HttpResponse> {
    let patch = body.into_inner();
    if let Some(b) = &patch.bindings {
        check_bindings(&state, b).map_err(fail)?;
    }
    let key = state.keys.store().patch_key(&id, &patch).await.map_err(fail)?;
    let key = key.ok_or_else(|| fail(ApiError::NotFound(format!("key {id}"))))?;
    state.keys.invalidate();
    Ok(HttpResponse::Ok().json(view(&key, &state)))
}

pub async fn remove(_: Admin, state: web::Data<AppState>, id: web::Path<String>) -> ApiResult<HttpResponse> {
    if !state.keys.store().delete_key(&id).await.map_err(fail)? {
        return Err(fail(ApiError::NotFound(format!("key {id}"))));
    }
    state.keys.invalidate();
    tracing::info!(key_id = %id, "api key revoked");
    Ok(HttpResponse::NoContent().finish())
}
