//! Key material: `cr_` + 64 hex characters, shown once; stored as its SHA-256 hex digest.
use rand::RngCore;
use sha2::{Digest, Sha256};

pub const KEY_PREFIX: &str = "cr_";

/// A freshly generated plaintext key; it exists only in the creation response.
pub struct PlainKey(String);

impl PlainKey {
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        PlainKey(format!("{KEY_PREFIX}{}", hex::encode(bytes)))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn hash(&self) -> String {
        hash_key(&self.0)
    }
}

pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// The format check done before any look-up (§1: 10–512 chars; switchyard keys start `cr_`).
pub fn looks_like_key(key: &str) -> bool {
    (10..=512).contains(&key.len()) && key.starts_with(KEY_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_the_documented_shape() {
        let k = PlainKey::generate();
        assert_eq!(k.expose().len(), 3 + 64);
        assert!(looks_like_key(k.expose()));
        assert_eq!(k.hash().len(), 64);
        assert_ne!(k.hash(), k.expose());
        assert!(!looks_like_key("sk-ant-12345678"));
        assert!(!looks_like_key("cr_1"));
    }
}
