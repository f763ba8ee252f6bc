//! `/admin/accounts`: add, list, inspect, change and remove upstream accounts. Secrets go in,
//! never out: views say only which kind of credential an account holds.
use super::{Admin, fail, new_id, republish};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::upstream::{BaseUrl, CredentialForm, registry};
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use switchyard_actors::clock::Millis;
use switchyard_actors::pool::Entry;
use switchyard_actors::store::AccountPatch;
use switchyard_actors::{
    Account, AccountId, AccountKind, AccountStatus, Cooldown, Credentials, FamilyLimit, ModelSupport,
    OAuthTokens, Pacing, Platform, Secret, Sharing,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthInput {
    access_token: Secret,
    #[serde(default)]
    refresh_token: Option<Secret>,
    #[serde(default)]
    expires_at: Option<Millis>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    name: String,
    kind: AccountKind,
    #[serde(default)]
    priority: Option<u32>,
    #[serde(default)]
    max_concurrency: Option<u32>,
    #[serde(default)]
    base_url: Option<String>,
    #[serde(default)]
    api_key: Option<Secret>,
    #[serde(default)]
    oauth: Option<OAuthInput>,
    #[serde(default)]
    models: Option<ModelSupport>,
    #[serde(default)]
    sharing: Option<Sharing>,
    #[serde(default)]
    proxy: Option<String>,
    #[serde(default)]
    active: Option<bool>,
    #[serde(default)]
    schedulable: Option<bool>,
    #[serde(default)]
    extra: BTreeMap<String, String>,
    /// Override of `[pacing]` for this account (unset fields follow the settings).
    #[serde(default)]
    pacing: Pacing,
}

/// PATCH body: the operator fields plus optional new credentials.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountUpdate {
    #[serde(flatten)]
    fields: AccountPatch,
    #[serde(default)]
    api_key: Option<Secret>,
    #[serde(default)]
    oauth: Option<OAuthInput>,
}

#[derive(Debug, Serialize)]
pub struct AccountView {
    id: AccountId,
    name: String,
    kind: AccountKind,
    platform: Platform,
    active: bool,
    schedulable: bool,
    status: AccountStatus,
    sharing: Sharing,
    priority: u32,
    max_concurrency: u32,
    models: ModelSupport,
    /// Without any `user:password@` it carries.
    #[serde(skip_serializing_if = "Option::is_none")]
    base_url: Option<String>,
    /// `api_key`, `oauth` or `none`; the secret itself is never returned.
    credential: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_expires_at: Option<Millis>,
    has_proxy: bool,
    created_at: Millis,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_used_at: Option<Millis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cooldown: Option<Cooldown>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    family_limits: Vec<FamilyLimit>,
    slots_in_use: u32,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    extra: BTreeMap<String, String>,
    /// The account's own pacing override (`{}`: the `[pacing]` settings apply).
    pacing: Pacing,
}

fn view(a: &Account, entry: Option<&Entry>, slots: u32, now: Millis) -> AccountView {
    let (credential, token_expires_at) = match &a.credentials {
        Credentials::ApiKey { .. } => ("api_key", None),
        Credentials::OAuth(t) => ("oauth", t.expires_at),
        Credentials::None => ("none", None),
    };
    let health = entry.map(|e| e.health.clone()).unwrap_or_default();
    let last_used = entry
        .map(|e| e.runtime.last_used())
        .filter(|t| *t > 0)
        .or(a.last_used_at);
    AccountView {
        id: a.id.clone(),
        name: a.name.clone(),
        kind: a.kind,
        platform: a.platform(),
        active: a.active,
        schedulable: a.schedulable,
        status: a.status,
        sharing: a.sharing,
        priority: a.priority,
        max_concurrency: a.max_concurrency,
        models: a.models.clone(),
        base_url: a
            .base_url
            .as_deref()
            .map(crate::relay::client::without_credentials),
        credential,
        token_expires_at,
        has_proxy: a.proxy.is_some(),
        created_at: a.created_at,
        last_used_at: last_used,
        cooldown: health.active_cooldown(now).copied(),
        family_limits: health
            .family_limits
            .iter()
            .filter(|l| l.until > now)
            .copied()
            .collect(),
        slots_in_use: slots,
        extra: a.extra.clone(),
        pacing: a.pacing,
    }
}

fn credentials_from(
    api_key: Option<Secret>,
    oauth: Option<OAuthInput>,
) -> Result<Option<Credentials>, ApiError> {
    match (api_key, oauth) {
        (Some(_), Some(_)) => Err(ApiError::BadRequest(
            "give either api_key or oauth, not both".into(),
        )),
        (Some(k), None) if k.expose().trim().is_empty() => {
            Err(ApiError::BadRequest("api_key must not be empty".into()))
        }
        (Some(k), None) => Ok(Some(Credentials::ApiKey {
            key: Secret::new(k.expose().trim()),
        })),
        (None, Some(o)) if o.access_token.expose().trim().is_empty() => Err(ApiError::BadRequest(
            "oauth.access_token must not be empty".into(),
        )),
        (None, Some(o)) => Ok(Some(Credentials::OAuth(OAuthTokens {
            access_token: o.access_token,
            refresh_token: o.refresh_token.filter(|r| !r.is_empty()),
            expires_at: o.expires_at,
        }))),
        (None, None) => Ok(None),
    }
}

fn check_url(field: &str, url: &str) -> Result<(), ApiError> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!(
            "{field} must be an http:// or https:// URL"
        )))
    }
}

/// Which credential and fields each kind needs (its registry profile says).
pub(crate) fn validate(a: &Account) -> Result<(), ApiError> {
    let profile = registry::profile(a.kind);
    let oauth = profile.credential == CredentialForm::OAuth;
    if a.name.trim().is_empty() {
        return Err(ApiError::BadRequest("name must not be empty".into()));
    }
    let has_key = matches!(a.credentials, Credentials::ApiKey { .. });
    let has_oauth = matches!(a.credentials, Credentials::OAuth(_));
    if oauth && !has_oauth {
        return Err(ApiError::BadRequest(format!(
            "{} accounts need oauth tokens",
            a.kind
        )));
    }
    if !oauth && !has_key {
        return Err(ApiError::BadRequest(format!(
            "{} accounts need an api_key",
            a.kind
        )));
    }
    if let Some(field) = profile
        .required_extra
        .iter()
        .find(|f| a.extra.get(**f).is_none_or(|v| v.trim().is_empty()))
    {
        return Err(ApiError::BadRequest(format!(
            "{} accounts need extra.{field}",
            a.kind
        )));
    }
    // A credential of the wrong shape (Bedrock's JSON) is refused now, not at its first use;
    // the kind's message names the field, never the value.
    if let Credentials::ApiKey { key } = &a.credentials {
        registry::kind(a.kind)
            .check_credential(a, key.expose())
            .map_err(|e| ApiError::BadRequest(format!("api_key: {e}")))?;
    }
    let needs_base = profile.base_url == BaseUrl::Required;
    match a.base_url.as_deref() {
        None if needs_base => Err(ApiError::BadRequest(format!(
            "{} accounts need a base_url",
            a.kind
        ))),
        Some(u) => check_url("base_url", u),
        None => Ok(()),
    }?;
    // The same check the relay makes before using it: a proxy it would refuse is refused here.
    if a.proxy.is_some() && crate::relay::client::egress_builder(a.proxy.as_deref()).is_err() {
        return Err(ApiError::BadRequest(
            "proxy must be an http://, https://, socks5:// or socks5h:// URL with a host".into(),
        ));
    }
    Ok(())
}

async fn slots(state: &AppState) -> std::collections::HashMap<AccountId, u32> {
    state.scheduling.slot_counts().await.unwrap_or_default()
}

pub async fn create(
    _: Admin,
    state: web::Data<AppState>,
    body: web::Json<NewAccount>,
) -> ApiResult<HttpResponse> {
    let n = body.into_inner();
    let now = state.clock.now_ms();
    let mut a = Account::new(new_id(), n.kind, now);
    a.name = n.name.trim().to_owned();
    a.priority = n.priority.unwrap_or(a.priority);
    a.max_concurrency = n.max_concurrency.unwrap_or(0);
    a.base_url = n
        .base_url
        .filter(|u| !u.trim().is_empty())
        .map(|u| u.trim().trim_end_matches('/').to_owned());
    a.models = n.models.unwrap_or_default();
    a.sharing = n.sharing.unwrap_or_default();
    a.proxy = n.proxy.filter(|p| !p.trim().is_empty());
    a.active = n.active.unwrap_or(true);
    a.schedulable = n.schedulable.unwrap_or(true);
    a.extra = n.extra;
    a.pacing = n.pacing;
    a.credentials = credentials_from(n.api_key, n.oauth)
        .map_err(fail)?
        .unwrap_or_default();
    validate(&a).map_err(fail)?;
    state.store.put_account(&a).await.map_err(fail)?;
    republish(&state).await.map_err(fail)?;
    tracing::info!(account = %a.id, kind = %a.kind, "account added");
    Ok(HttpResponse::Created().json(view(&a, None, 0, now)))
}

pub async fn list(_: Admin, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let accounts = state.store.load_accounts().await.map_err(fail)?;
    let snapshot = state.scheduling.snapshot();
    let slots = slots(&state).await;
    let now = state.clock.now_ms();
    let views: Vec<_> = accounts
        .iter()
        .map(|a| {
            view(
                a,
                snapshot.get(&a.id),
                slots.get(&a.id).copied().unwrap_or(0),
                now,
            )
        })
        .collect();
    // Requests waiting for a slot on this instance, per platform (a busy pool queues).
    let waiters: serde_json::Map<String, serde_json::Value> = switchyard_actors::Platform::ALL
        .iter()
        .map(|p| (p.as_str().to_owned(), state.scheduling.waiters(*p).into()))
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "accounts": views, "waiters": waiters })))
}

async fn load(state: &AppState, id: &str) -> Result<Account, ApiError> {
    state
        .store
        .get_account(&AccountId::new(id))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("account {id}")))
}

pub async fn get(_: Admin, state: web::Data<AppState>, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let a = load(&state, &id).await.map_err(fail)?;
    let slots = slots(&state).await.get(&a.id).copied().unwrap_or(0);
    Ok(HttpResponse::Ok().json(view(
        &a,
        state.scheduling.snapshot().get(&a.id),
        slots,
        state.clock.now_ms(),
    )))
}

pub async fn update(
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<AccountUpdate>,
) -> ApiResult<HttpResponse> {
    let u = body.into_inner();
    let mut current = load(&state, &id).await.map_err(fail)?;
    let creds = credentials_from(u.api_key, u.oauth).map_err(fail)?;
    // Validate the result before writing anything.
    u.fields.apply(&mut current);
    if let Some(c) = &creds {
        current.credentials = c.clone();
    }
    validate(&current).map_err(fail)?;
    let aid = AccountId::new(id.as_str());
    let mut updated = state
        .store
        .patch_account(&aid, &u.fields)
        .await
        .map_err(fail)?
        .ok_or_else(|| fail(ApiError::NotFound(format!("account {id}"))))?;
    if let Some(c) = creds {
        state.store.set_credentials(&aid, &c).await.map_err(fail)?;
        state.oauth.forget(&aid);
        updated.credentials = c;
    }
    republish(&state).await.map_err(fail)?;
    let slots = slots(&state).await.get(&aid).copied().unwrap_or(0);
    Ok(HttpResponse::Ok().json(view(
        &updated,
        state.scheduling.snapshot().get(&aid),
        slots,
        state.clock.now_ms(),
    )))
}

pub async fn remove(_: Admin, state: web::Data<AppState>, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let existed = state
        .store
        .delete_account(&AccountId::new(id.as_str()))
        .await
        .map_err(fail)?;
    state.oauth.forget(&AccountId::new(id.as_str()));
    if !existed {
        return Err(fail(ApiError::NotFound(format!("account {id}"))));
    }
    republish(&state).await.map_err(fail)?;
    tracing::info!(account = %id, "account removed");
    Ok(HttpResponse::NoContent().finish())
}

/// Every account's view from the scheduler's published snapshot, which holds them all: no store
/// read, so listing thousands decrypts nothing (the dashboard's list pages). Another instance's
/// change shows once this instance's pool has picked it up.
pub(crate) async fn snapshot_views(state: &AppState) -> Vec<AccountView> {
    let snapshot = state.scheduling.snapshot();
    let slots = slots(state).await;
    let now = state.clock.now_ms();
    snapshot
        .all()
        .map(|e| {
            view(
                &e.account,
                Some(e),
                slots.get(&e.account.id).copied().unwrap_or(0),
                now,
            )
        })
        .collect()
}
