//! The memory backends of the API key, limit-counter and usage contracts: the reference the
//! embedded and Redis stores are held to (`switchyard::store::conformance_records`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

switchyard::records_conformance_tests!(async { switchyard::startup::Backends::in_memory() });
