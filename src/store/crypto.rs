//! Encryption of upstream credentials (and of URLs that can carry them) at rest: AES-256-GCM
//! with a random 96-bit nonce per write, stored as `v1:` + base64(nonce ‖ ciphertext ‖ tag).
//! The record id is bound in as associated data, so a ciphertext copied onto another record does
//! not decrypt either.
use super::encryption_key::EncryptionKey;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rand::RngCore;

/// Marks the format; a future scheme gets `v2:` and both stay readable.
const VERSION_PREFIX: &str = "v1:";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// Authentication failed: almost always a different key than the one that wrote the value.
    #[error(
        "a stored secret does not decrypt: the encryption key does not match the key it was \
         written with (check SWITCHYARD_ENCRYPTION_KEY / store.encryption_key_file)"
    )]
    WrongKey,
    #[error("a stored secret is not in the `v1:` encrypted format")]
    Malformed,
    #[error("a secret could not be encrypted")]
    Encrypt,
}

/// Seals and opens secrets with one key. Cheap to share behind an `Arc`.
pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(****)")
    }
}

impl SecretBox {
    pub fn new(key: &EncryptionKey) -> Self {
        let key = Key::<Aes256Gcm>::from(*key.bytes());
        SecretBox {
            cipher: Aes256Gcm::new(&key),
        }
    }

    /// Encrypts `plaintext` for the record named by `aad`.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<String, CryptoError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(&Nonce::from(nonce), Payload { msg: plaintext, aad })
            .map_err(|_| CryptoError::Encrypt)?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(format!("{VERSION_PREFIX}{}", BASE64.encode(out)))
    }

    /// Whether `stored` is in the sealed format (plain JSON never starts with `v1:`).
    pub fn is_sealed(stored: &str) -> bool {
        stored.starts_with(VERSION_PREFIX)
    }

    /// Decrypts a value written by [`seal`](Self::seal) for the same `aad`.
    pub fn open(&self, sealed: &str, aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let body = sealed
            .strip_prefix(VERSION_PREFIX)
            .ok_or(CryptoError::Malformed)?;
        let raw = BASE64.decode(body).map_err(|_| CryptoError::Malformed)?;
        if raw.len() < NONCE_LEN + TAG_LEN {
            return Err(CryptoError::Malformed);
        }
        let (nonce, msg) = raw.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::Malformed)?;
        self.cipher
            .decrypt(&Nonce::from(nonce), Payload { msg, aad })
            .map_err(|_| CryptoError::WrongKey)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> EncryptionKey {
        let mut k = [0u8; 32];
        for (i, b) in k.iter_mut().enumerate() {
            *b = byte.wrapping_add(i as u8).wrapping_mul(31);
        }
        EncryptionKey::from_bytes(k)
    }

    #[test]
    fn round_trip_with_fresh_nonces() {
        let b = SecretBox::new(&key(1));
        let a1 = b.seal(b"sk-ant-secret", b"acct-1").unwrap();
        let a2 = b.seal(b"sk-ant-secret", b"acct-1").unwrap();
        assert!(a1.starts_with("v1:"));
        assert_ne!(a1, a2, "a random nonce per write");
        assert!(!a1.contains("secret"));
        assert_eq!(b.open(&a1, b"acct-1").unwrap(), b"sk-ant-secret");
    }

    #[test]
    fn wrong_key_or_record_fails_clearly() {
        let sealed = SecretBox::new(&key(1)).seal(b"tok", b"acct-1").unwrap();
        let err = SecretBox::new(&key(2)).open(&sealed, b"acct-1").unwrap_err();
        assert_eq!(err, CryptoError::WrongKey);
        assert!(err.to_string().contains("encryption key does not match"));
        assert_eq!(
            SecretBox::new(&key(1)).open(&sealed, b"acct-2").unwrap_err(),
            CryptoError::WrongKey,
            "bound to its record"
        );
        assert_eq!(
            SecretBox::new(&key(1)).open("plain", b"acct-1").unwrap_err(),
            CryptoError::Malformed
        );
    }
}
