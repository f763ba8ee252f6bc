//! Keys imported from another installation keep working without their plaintext: the record
//! keeps that installation's hash, and a *legacy verifier* (its secret, stored encrypted)
//! reproduces the hash from a presented key. The reference (claude-relay-service) hashes a key
//! as `sha256_hex(key + ENCRYPTION_KEY)`; its `ENCRYPTION_KEY` is the verifier's secret.
//! Switchyard's own keys never use this: only a presented key switchyard's own hash does not
//! find costs one extra hash per verifier.
use sha2::{Digest, Sha256};
use switchyard_actors::Secret;

/// What verifies keys hashed by one legacy installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyVerifier {
    /// `crs-` + a fingerprint of the secret, so two imported installations keep two verifiers
    /// and a key names the one that verifies it ([`super::ApiKey::legacy_verifier`]).
    pub name: String,
    pub secret: Secret,
}

impl LegacyVerifier {
    /// The verifier of a claude-relay-service installation with this `ENCRYPTION_KEY`.
    pub fn for_crs(encryption_key: &str) -> Self {
        let fingerprint = Sha256::new()
            .chain_update(b"switchyard legacy verifier\0")
            .chain_update(encryption_key.as_bytes())
            .finalize();
        LegacyVerifier {
            name: format!("crs-{}", &hex::encode(fingerprint)[..16]),
            secret: Secret::new(encryption_key),
        }
    }

    /// The hash the legacy installation stored for `presented`.
    pub fn hash(&self, presented: &str) -> String {
        let digest = Sha256::new()
            .chain_update(presented.as_bytes())
            .chain_update(self.secret.expose().as_bytes())
            .finalize();
        hex::encode(digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reproduces_the_reference_hash_and_names_the_installation() {
        // sha256("cr_abc" + "k1"), as CRS's `_hashApiKey` computes it.
        let v = LegacyVerifier::for_crs("k1");
        assert_eq!(v.hash("cr_abc"), hex::encode(Sha256::digest(b"cr_abck1")));
        assert!(v.name.starts_with("crs-") && v.name.len() == 20);
        assert_ne!(v.name, LegacyVerifier::for_crs("k2").name);
        assert!(!v.name.contains("k1"));
    }
}
