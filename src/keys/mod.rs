//! Client API keys: the record, its store contract, and the cached look-up used on every
//! request. Only the SHA-256 of a key is ever stored.
mod failed_auth;
mod legacy;
mod model;
mod secret;
mod service;
mod store;

pub use legacy::LegacyVerifier;
pub use model::{ApiKey, ClientKind, KeyLimits, KeyPatch, NewKey, UNIT_MULTIPLIER};
pub use secret::{KEY_PREFIX, PlainKey, hash_key, looks_like_key};
pub use service::KeyService;
pub use store::{KeyStore, MemoryKeyStore};
