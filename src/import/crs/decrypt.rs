//! The reference's encryption of account secrets, undone: AES-256-CBC with PKCS#7 padding,
//! stored as `<iv hex>:<ciphertext hex>`, under `scrypt(ENCRYPTION_KEY, salt, 32)` (Node's
//! defaults N=16384, r=8, p=1) with one salt per account type. Bedrock differs (its key is
//! `sha256(ENCRYPTION_KEY)`, values `{encrypted, iv}`: [`CrsCipher::decrypt_bedrock`]).
use aes::Aes256;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeDecrypt, KeyIvInit};
use parking_lot::Mutex;
use std::collections::HashMap;
use switchyard_actors::Secret;

/// Why a stored value did not decrypt. A wrong `ENCRYPTION_KEY` shows as `BadPadding` or
/// `NotText` (the padding check fails for all but about one value in 256).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecryptError {
    #[error("not in the `<iv hex>:<ciphertext hex>` format")]
    Format,
    #[error("does not decrypt (wrong encryption key?)")]
    BadPadding,
    #[error("decrypts to bytes that are not text (wrong encryption key?)")]
    NotText,
}

/// Decrypts with one installation's `ENCRYPTION_KEY`, deriving each salt's key once.
pub struct CrsCipher {
    encryption_key: Secret,
    derived: Mutex<HashMap<String, [u8; 32]>>,
}

impl CrsCipher {
    pub fn new(encryption_key: &str) -> Self {
        CrsCipher {
            encryption_key: Secret::new(encryption_key),
            derived: Mutex::new(HashMap::new()),
        }
    }

    pub fn encryption_key(&self) -> &Secret {
        &self.encryption_key
    }

    fn key_for(&self, salt: &str) -> [u8; 32] {
        if let Some(k) = self.derived.lock().get(salt) {
            return *k;
        }
        let mut key = [0u8; 32];
        #[allow(clippy::expect_used)] // constant, valid parameters and a 32-byte output
        {
            let params = scrypt::Params::new(14, 8, 1).expect("Node's scrypt defaults are valid");
            scrypt::scrypt(
                self.encryption_key.expose().as_bytes(),
                salt.as_bytes(),
                &params,
                &mut key,
            )
            .expect("a 32-byte output is valid");
        }
        self.derived.lock().insert(salt.to_owned(), key);
        key
    }

    /// `plain` as the reference stores it (tests build records with it).
    #[cfg(test)]
    pub fn encrypt(&self, salt: &str, plain: &str) -> String {
        use cbc::cipher::BlockModeEncrypt;
        let iv = [7u8; 16];
        let body = cbc::Encryptor::<Aes256>::new_from_slices(&self.key_for(salt), &iv)
            .unwrap()
            .encrypt_padded_vec::<Pkcs7>(plain.as_bytes());
        format!("{}:{}", hex::encode(iv), hex::encode(body))
    }

    /// The plaintext of `stored` (`""` stays `""`: the reference stores empty values as is).
    pub fn decrypt(&self, salt: &str, stored: &str) -> Result<Secret, DecryptError> {
        if stored.is_empty() {
            return Ok(Secret::new(""));
        }
        let (iv, body) = stored.split_once(':').ok_or(DecryptError::Format)?;
        let iv = hex::decode(iv).map_err(|_| DecryptError::Format)?;
        let body = hex::decode(body).map_err(|_| DecryptError::Format)?;
        if iv.len() != 16 || body.is_empty() || body.len() % 16 != 0 {
            return Err(DecryptError::Format);
        }
        aes_decrypt(&self.key_for(salt), &iv, &body)
    }

    /// A Bedrock record's `{"encrypted": hex, "iv": hex}` under `sha256(ENCRYPTION_KEY)` (the
    /// reference's `bedrockAccountService` uses no scrypt and no salt).
    pub fn decrypt_bedrock(&self, stored: &serde_json::Value) -> Result<Secret, DecryptError> {
        use sha2::Digest;
        let hex_field = |name: &str| {
            stored[name]
                .as_str()
                .and_then(|h| hex::decode(h).ok())
                .ok_or(DecryptError::Format)
        };
        let (iv, body) = (hex_field("iv")?, hex_field("encrypted")?);
        if iv.len() != 16 || body.is_empty() || body.len() % 16 != 0 {
            return Err(DecryptError::Format);
        }
        let key: [u8; 32] = sha2::Sha256::digest(self.encryption_key.expose().as_bytes()).into();
        aes_decrypt(&key, &iv, &body)
    }
}

fn aes_decrypt(key: &[u8; 32], iv: &[u8], body: &[u8]) -> Result<Secret, DecryptError> {
    let plain = cbc::Decryptor::<Aes256>::new_from_slices(key, iv)
        .map_err(|_| DecryptError::Format)?
        .decrypt_padded_vec::<Pkcs7>(body)
        .map_err(|_| DecryptError::BadPadding)?;
    String::from_utf8(plain)
        .map(Secret::new)
        .map_err(|_| DecryptError::NotText)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A value encrypted by the reference (fixture `claude_console_account`, salt
    /// `claude-console-salt`) under a known key, and the same value under a wrong key.
    #[test]
    fn decrypts_what_the_reference_encrypted_and_refuses_a_wrong_key() {
        let dump = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/crs-redis/redis-dump.json"
        ))
        .unwrap();
        let meta = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/crs-redis/meta.json"
        ))
        .unwrap();
        let dump: serde_json::Value = serde_json::from_str(&dump).unwrap();
        let meta: serde_json::Value = serde_json::from_str(&meta).unwrap();
        let key = meta["crs_env"]["ENCRYPTION_KEY"].as_str().unwrap();
        let record = dump["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["key"].as_str().unwrap().starts_with("claude_console_account:1"))
            .unwrap();
        let stored = record["value"]["apiKey"].as_str().unwrap();
        let account = meta["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "A-claude-console")
            .unwrap();
        let want = account["secrets_entered"]["apiKey"].as_str().unwrap();
        let c = CrsCipher::new(key);
        assert_eq!(c.decrypt("claude-console-salt", stored).unwrap().expose(), want);
        assert_eq!(c.decrypt("claude-console-salt", "").unwrap().expose(), "");
        assert_eq!(c.decrypt("x", "nohex"), Err(DecryptError::Format));
        let wrong = CrsCipher::new("0123456789abcdef0123456789abcdef");
        assert!(wrong.decrypt("claude-console-salt", stored).is_err());
    }
}
