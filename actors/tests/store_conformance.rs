//! The `Store` contract, run against the in-memory backend, plus how that backend keeps its
//! session bindings bounded at scale.
use switchyard_actors::AccountId;
use switchyard_actors::store::{MemoryStore, StickyPolicy, StickyStore};

switchyard_actors::conformance_tests!(async {
    std::sync::Arc::new(switchyard_actors::store::MemoryStore::new())
        as std::sync::Arc<dyn switchyard_actors::Store>
});

/// A full memory store evicts a batch of the least recently used bindings (1/64 of the cap) at
/// once rather than scanning every binding for each new session; never more than the cap stay.
#[actix_rt::test]
async fn a_full_memory_store_evicts_the_oldest_in_batches() {
    let s = MemoryStore::new();
    let policy = StickyPolicy {
        ttl_ms: 60_000,
        max_bindings: 640,
    };
    let account = AccountId::new("acct");
    for i in 0..=640 {
        s.sticky_set(&format!("k{i}"), &account, policy, i).await.unwrap();
    }
    let mut live = Vec::new();
    for i in 0..=640 {
        if s.sticky_get(&format!("k{i}"), 1_000).await.unwrap().is_some() {
            live.push(i);
        }
    }
    // 641 bindings for 640 places: one over, plus a batch of 640 / 64 = 10.
    assert_eq!(live, (11..=640).collect::<Vec<_>>());
}
