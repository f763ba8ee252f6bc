//! `/admin/keys`: create (the plaintext key is in the creation answer only), list, inspect,
//! change and revoke client API keys.
use super::{Admin, fail, new_id, valid_name};
use crate::error::{ApiError, ApiResult};
use crate::keys::{ApiKey, ClientKind, KeyLimits, KeyPatch, NewKey, PlainKey, UNIT_MULTIPLIER};
use crate::state::AppState;
use crate::usage::{Bucket, Dimension, UsageCounters};
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
    limits: KeyLimits,
    blocked_models: Vec<String>,
    allowed_clients: Vec<ClientKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    activation_days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    activated_at: Option<Millis>,
    cost_multiplier: f64,
    /// Imported keys deleted at their source: refused as unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    deleted_at: Option<Millis>,
    usage: UsageView,
}

#[derive(Debug, Serialize)]
struct UsageView {
    requests: u64,
    input_tokens: u64,
    output_tokens: u64,
    cache_creation_input_tokens: u64,
    cache_read_input_tokens: u64,
    cost_usd: String,
    rated_cost_usd: String,
}

impl From<UsageCounters> for UsageView {
    fn from(c: UsageCounters) -> Self {
        UsageView {
            requests: c.requests,
            input_tokens: c.input_tokens,
            output_tokens: c.output_tokens,
            cache_creation_input_tokens: c.cache_creation_tokens(),
            cache_read_input_tokens: c.cache_read_tokens,
            cost_usd: c.cost.usd_string(),
            rated_cost_usd: c.rated_cost.usd_string(),
        }
    }
}

async fn view(k: &ApiKey, state: &AppState) -> KeyView {
    let usage = state
        .usage
        .usage_of(Dimension::Key, &k.id, Bucket::TOTAL)
        .await
        .unwrap_or_default();
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
        limits: k.limits.clone(),
        blocked_models: k.blocked_models.clone(),
        allowed_clients: k.allowed_clients.clone(),
        activation_days: k.activation_days,
        activated_at: k.activated_at,
        cost_multiplier: f64::from(k.cost_multiplier_ppm) / 1e6,
        deleted_at: k.deleted_at,
        usage: usage.into(),
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
            Some(Binding::Group(g)) if snapshot.group(g).is_none_or(|g| g.platform != platform) => {
                return Err(ApiError::BadRequest(format!(
                    "bindings.{platform}: no {platform} group {g}"
                )));
            }
            Some(Binding::Group(_)) => {}
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
    valid_name(&n.name).map_err(fail)?;
    check_bindings(&state, &n.bindings).map_err(fail)?;
    n.limits.validate().map_err(|e| fail(ApiError::BadRequest(e)))?;
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
        limits: n.limits,
        blocked_models: n.blocked_models,
        allowed_clients: n.allowed_clients,
        activation_days: n.activation_days,
        activated_at: None,
        cost_multiplier_ppm: n.cost_multiplier.unwrap_or(UNIT_MULTIPLIER),
        legacy_verifier: None,
        deleted_at: None,
    };
    state.keys.store().put_key(&key).await.map_err(fail)?;
    state.keys.invalidate();
    tracing::info!(key_id = %key.id, "api key created");
    let mut body = serde_json::to_value(view(&key, &state).await)
        .map_err(|e| fail(ApiError::Internal(e.to_string())))?;
    body["key"] = serde_json::Value::String(plain.expose().to_owned());
    Ok(HttpResponse::Created().json(body))
}

pub async fn list(_: Admin, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let keys = state.keys.store().list_keys().await.map_err(fail)?;
    let mut views = Vec::with_capacity(keys.len());
    for k in &keys {
        views.push(view(k, &state).await);
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({ "keys": views })))
}

pub async fn get(_: Admin, state: web::Data<AppState>, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let key = state.keys.store().get_key(&id).await.map_err(fail)?;
    let key = key.ok_or_else(|| fail(ApiError::NotFound(format!("key {id}"))))?;
    Ok(HttpResponse::Ok().json(view(&key, &state).await))
}

pub async fn update(
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<KeyPatch>,
) -> ApiResult<HttpResponse> {
    let patch = body.into_inner();
    patch.validate().map_err(|e| fail(ApiError::BadRequest(e)))?;
    if let Some(b) = &patch.bindings {
        check_bindings(&state, b).map_err(fail)?;
    }
    let key = state.keys.store().patch_key(&id, &patch).await.map_err(fail)?;
    let key = key.ok_or_else(|| fail(ApiError::NotFound(format!("key {id}"))))?;
    state.keys.invalidate();
    Ok(HttpResponse::Ok().json(view(&key, &state).await))
}

pub async fn remove(_: Admin, state: web::Data<AppState>, id: web::Path<String>) -> ApiResult<HttpResponse> {
    if !state.keys.store().delete_key(&id).await.map_err(fail)? {
        return Err(fail(ApiError::NotFound(format!("key {id}"))));
    }
    state.keys.invalidate();
    tracing::info!(key_id = %id, "api key revoked");
    Ok(HttpResponse::NoContent().finish())
}
