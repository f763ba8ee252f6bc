//! The `Store` contract, run against the in-memory backend.

switchyard_actors::conformance_tests!(async {
    std::sync::Arc::new(switchyard_actors::store::MemoryStore::new())
        as std::sync::Arc<dyn switchyard_actors::Store>
});
