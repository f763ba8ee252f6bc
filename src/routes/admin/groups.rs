//! `/admin/groups`: account groups. A key bound to `group:<id>` is served only by the group's
//! members, so members must exist and be on the group's platform. Changes reach the scheduler at
//! once.
use super::{Admin, fail, new_id, republish, valid_name};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use switchyard_actors::{AccountId, Binding, Group, Platform};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewGroup {
    name: String,
    platform: Platform,
    #[serde(default)]
    members: Vec<AccountId>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    account: AccountId,
}

async fn load(state: &AppState, id: &str) -> Result<Group, ApiError> {
    state
        .store
        .load_groups()
        .await?
        .into_iter()
        .find(|g| g.id == id)
        .ok_or_else(|| ApiError::NotFound(format!("group {id}")))
}

/// The account exists and can serve the group's platform.
async fn check_member(state: &AppState, platform: Platform, id: &AccountId) -> Result<(), ApiError> {
    let account = state
        .store
        .get_account(id)
        .await?
        .ok_or_else(|| ApiError::BadRequest(format!("no account {id}")))?;
    if account.platform() != platform {
        return Err(ApiError::BadRequest(format!(
            "account {id} is a {} account; this group is for {platform}",
            account.platform()
        )));
    }
    Ok(())
}

pub async fn create(
    _: Admin,
    state: web::Data<AppState>,
    body: web::Json<NewGroup>,
) -> ApiResult<HttpResponse> {
    let n = body.into_inner();
    let name = valid_name(&n.name).map_err(fail)?;
    let existing = state.store.load_groups().await.map_err(fail)?;
    if existing.iter().any(|g| g.name == name) {
        return Err(fail(ApiError::BadRequest(format!(
            "a group named `{name}` exists already"
        ))));
    }
    let mut members: Vec<AccountId> = Vec::with_capacity(n.members.len());
    for m in n.members {
        check_member(&state, n.platform, &m).await.map_err(fail)?;
        if !members.contains(&m) {
            members.push(m);
        }
    }
    let group = Group {
        id: new_id(),
        name,
        platform: n.platform,
        members,
    };
    state.store.put_group(&group).await.map_err(fail)?;
    republish(&state).await.map_err(fail)?;
    tracing::info!(group = %group.id, platform = %group.platform, "group created");
    Ok(HttpResponse::Created().json(group))
}

pub async fn list(_: Admin, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let mut groups = state.store.load_groups().await.map_err(fail)?;
    groups.sort_by(|a, b| (a.platform, &a.name).cmp(&(b.platform, &b.name)));
    Ok(HttpResponse::Ok().json(serde_json::json!({ "groups": groups })))
}

/// `POST /admin/groups/{id}/members` `{account}`: adds an account to the group.
pub async fn add_member(
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<NewMember>,
) -> ApiResult<HttpResponse> {
    let account = body.into_inner().account;
    let mut group = load(&state, &id).await.map_err(fail)?;
    check_member(&state, group.platform, &account)
        .await
        .map_err(fail)?;
    if !group.members.contains(&account) {
        group.members.push(account);
        state.store.put_group(&group).await.map_err(fail)?;
        republish(&state).await.map_err(fail)?;
    }
    Ok(HttpResponse::Ok().json(group))
}

/// `DELETE /admin/groups/{id}/members/{account}`: takes an account out of the group.
pub async fn leave(
    _: Admin,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (id, account) = path.into_inner();
    let mut group = load(&state, &id).await.map_err(fail)?;
    let before = group.members.len();
    group.members.retain(|m| m.as_str() != account);
    if group.members.len() == before {
        return Err(fail(ApiError::NotFound(format!(
            "account {account} in group {id}"
        ))));
    }
    state.store.put_group(&group).await.map_err(fail)?;
    republish(&state).await.map_err(fail)?;
    Ok(HttpResponse::Ok().json(group))
}

/// Refused while a key is bound to the group: its requests would have nowhere to go.
pub async fn remove(_: Admin, state: web::Data<AppState>, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let group = load(&state, &id).await.map_err(fail)?;
    let keys = state.keys.store().list_keys().await.map_err(fail)?;
    let bound = keys.iter().find(|k| {
        Platform::ALL
            .into_iter()
            .any(|p| matches!(k.bindings.for_platform(p), Some(Binding::Group(g)) if *g == group.id))
    });
    if let Some(k) = bound {
        return Err(fail(ApiError::BadRequest(format!(
            "group {id} is bound to key {} ({}); unbind it first",
            k.id, k.name
        ))));
    }
    if !state.store.delete_group(&group.id).await.map_err(fail)? {
        return Err(fail(ApiError::NotFound(format!("group {id}"))));
    }
    republish(&state).await.map_err(fail)?;
    tracing::info!(group = %id, "group removed");
    Ok(HttpResponse::NoContent().finish())
}
