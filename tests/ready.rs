//! `/ready` when an actor stops answering: the account pool's mailbox is held by a reload
//! waiting on a store call that does not return. `/ready` turns 503 naming that actor while
//! the store itself still answers, and 200 again once the call returns and the pool answers.
mod support;

use async_trait::async_trait;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::*;
use switchyard::startup::Backends;
use switchyard_actors::clock::Millis;
use switchyard_actors::store::{
    AccountPatch, AccountStore, HealthStore, MemoryStore, SlotGrant, SlotRequest, SlotStore, StickyStore,
    StoreResult,
};
use switchyard_actors::system::ActorName;
use switchyard_actors::{Account, AccountId, Credentials, Group, GroupId, Health, LeaseId};
use tokio::sync::watch;

/// A memory store whose `load_groups` (read by every pool reload, never by `/ready`'s store
/// check) waits while the gate is shut.
struct GatedStore {
    inner: MemoryStore,
    open: watch::Sender<bool>,
}

impl GatedStore {
    async fn pass(&self) {
        let mut open = self.open.subscribe();
        let _ = open.wait_for(|open| *open).await;
    }
}

#[async_trait]
impl AccountStore for GatedStore {
    async fn load_accounts(&self) -> StoreResult<Vec<Account>> {
        self.inner.load_accounts().await
    }
    async fn get_account(&self, id: &AccountId) -> StoreResult<Option<Account>> {
        self.inner.get_account(id).await
    }
    async fn put_account(&self, account: &Account) -> StoreResult<()> {
        self.inner.put_account(account).await
    }
    async fn patch_account(&self, id: &AccountId, patch: &AccountPatch) -> StoreResult<Option<Account>> {
        self.inner.patch_account(id, patch).await
    }
    async fn delete_account(&self, id: &AccountId) -> StoreResult<bool> {
        self.inner.delete_account(id).await
    }
    async fn set_credentials(&self, id: &AccountId, credentials: &Credentials) -> StoreResult<()> {
        self.inner.set_credentials(id, credentials).await
    }
    async fn touch_last_used(&self, used: &[(AccountId, Millis)]) -> StoreResult<()> {
        self.inner.touch_last_used(used).await
    }
    async fn load_groups(&self) -> StoreResult<Vec<Group>> {
        self.pass().await;
        self.inner.load_groups().await
    }
    async fn put_group(&self, group: &Group) -> StoreResult<()> {
        self.inner.put_group(group).await
    }
    async fn delete_group(&self, id: &GroupId) -> StoreResult<bool> {
        self.inner.delete_group(id).await
    }
    async fn records_version(&self) -> StoreResult<u64> {
        self.inner.records_version().await
    }
}

#[async_trait]
impl HealthStore for GatedStore {
    async fn load_health(&self) -> StoreResult<HashMap<AccountId, Health>> {
        self.inner.load_health().await
    }
    async fn put_health(&self, id: &AccountId, health: &Health) -> StoreResult<()> {
        self.inner.put_health(id, health).await
    }
}

#[async_trait]
impl StickyStore for GatedStore {
    async fn sticky_get(&self, key: &str, now: Millis) -> StoreResult<Option<AccountId>> {
        self.inner.sticky_get(key, now).await
    }
    async fn sticky_set(
        &self,
        key: &str,
        account: &AccountId,
        policy: switchyard_actors::store::StickyPolicy,
        now: Millis,
    ) -> StoreResult<()> {
        self.inner.sticky_set(key, account, policy, now).await
    }
    async fn sticky_delete(&self, key: &str) -> StoreResult<bool> {
        self.inner.sticky_delete(key).await
    }
    async fn sweep_sticky(&self, now: Millis) -> StoreResult<u64> {
        self.inner.sweep_sticky(now).await
    }
}

#[async_trait]
impl SlotStore for GatedStore {
    async fn acquire_slot(&self, req: &SlotRequest<'_>) -> StoreResult<Option<SlotGrant>> {
        self.inner.acquire_slot(req).await
    }
    async fn renew_leases(
        &self,
        leases: &[(AccountId, LeaseId)],
        ttl_ms: i64,
        now: Millis,
    ) -> StoreResult<()> {
        self.inner.renew_leases(leases, ttl_ms, now).await
    }
    async fn release_lease(&self, account: &AccountId, lease: &LeaseId) -> StoreResult<()> {
        self.inner.release_lease(account, lease).await
    }
    async fn release_leases(&self, leases: &[(AccountId, LeaseId)]) -> StoreResult<()> {
        self.inner.release_leases(leases).await
    }
    async fn slot_counts(&self, now: Millis) -> StoreResult<HashMap<AccountId, u32>> {
        self.inner.slot_counts(now).await
    }
    async fn slot_count(&self, holder: &AccountId, now: Millis) -> StoreResult<u32> {
        self.inner.slot_count(holder, now).await
    }
    async fn sweep_leases(&self, now: Millis) -> StoreResult<u64> {
        self.inner.sweep_leases(now).await
    }
}

async fn ready(app: &TestApp) -> (u16, Value) {
    let resp = app.http.get(app.url("/ready")).send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

/// Polls `/ready` until its status is `want`; returns that answer's body.
async fn eventually(app: &TestApp, want: u16) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = ready(app).await;
        if status == want {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "/ready still {status}, want {want}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[actix_web::test]
async fn ready_is_503_naming_the_pool_while_it_does_not_answer_and_200_once_it_does() {
    let (open, _) = watch::channel(true);
    let store = Arc::new(GatedStore {
        inner: MemoryStore::new(),
        open,
    });
    let backends = Backends {
        store: store.clone(),
        ..Backends::in_memory()
    };
    let app = spawn_app_on(backends, |s| s.actors.pool.send_timeout_ms = 500).await;
    assert_eq!(ready(&app).await.0, 200);

    // Adding an account reloads the pool; the reload holds the pool's mailbox until the store
    // answers, and now it does not.
    store.open.send_replace(false);
    let add = actix_web::rt::spawn({
        let (http, url) = (app.http.clone(), app.url("/admin/accounts"));
        let account =
            json!({"name": "a", "kind": "claude-console", "base_url": app.mock.url(), "api_key": "sk-ant-a"});
        async move {
            http.post(url)
                .bearer_auth(ADMIN_TOKEN)
                .json(&account)
                .send()
                .await
        }
    });
    let body = eventually(&app, 503).await;
    let actors = &body["components"]["actors"];
    let pool = &actors[ActorName::AccountPool.as_str()];
    assert_eq!(pool["ok"], false, "{body}");
    assert!(
        pool["error"].as_str().unwrap_or_default().contains("AccountPool"),
        "the error names the actor: {body}"
    );
    for actor in ActorName::ALL
        .into_iter()
        .filter(|a| *a != ActorName::AccountPool)
    {
        assert_eq!(actors[actor.as_str()]["ok"], true, "{actor:?}: {body}");
    }
    assert_eq!(body["components"]["store"]["ok"], true, "{body}");
    assert_eq!(body["status"], "not_ready");

    store.open.send_replace(true);
    let body = eventually(&app, 200).await;
    assert_eq!(
        body["components"]["actors"][ActorName::AccountPool.as_str()]["ok"],
        true
    );
    assert_eq!(
        body["components"]["platforms"]["claude"]["schedulable"], 1,
        "{body}"
    );
    add.await.unwrap().unwrap();
}
