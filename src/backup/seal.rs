//! Account secrets in a backup: the credentials and the URLs that can carry a password
//! (`base_url`, `proxy`) are sealed with the store's cipher ([`SecretBox`], AES-256-GCM), under
//! the file's key — the exporting server's own key, or a target key given for the export — and
//! bound to their account and field, so no secret is ever in the file in plaintext and a sealed
//! value moved elsewhere does not open. Legacy key verifiers' secrets are sealed the same way,
//! bound to the verifier's name.
use super::BackupError;
use super::format::SealedVerifier;
use crate::keys::LegacyVerifier;
use crate::store::crypto::{CryptoError, SecretBox};
use serde_json::{Map, Value};
use switchyard_actors::Secret;
use switchyard_actors::domain::Account;

/// The account fields sealed in a backup.
pub const SEALED_FIELDS: &[&str] = &["credentials", "base_url", "proxy"];
/// The `field` a legacy verifier's secret is bound to, next to its name.
const VERIFIER_FIELD: &str = "legacy_verifier";
const KEY_CHECK_TEXT: &[u8] = b"switchyard-backup key check";
const KEY_CHECK_AAD: &[u8] = b"switchyard-backup\0key-check";

fn aad(id: &str, field: &str) -> Vec<u8> {
    [
        b"switchyard-backup\0".as_slice(),
        field.as_bytes(),
        b"\0",
        id.as_bytes(),
    ]
    .concat()
}

fn sealing_failed(e: CryptoError) -> BackupError {
    BackupError::Damaged(format!("cannot seal a secret: {e}"))
}

/// The file's key check: a known text sealed with its key.
pub fn key_check(secrets: &SecretBox) -> Result<String, BackupError> {
    secrets
        .seal(KEY_CHECK_TEXT, KEY_CHECK_AAD)
        .map_err(sealing_failed)
}

/// Whether `secrets` holds the key the file was sealed with.
pub fn verify_key(secrets: &SecretBox, check: &str) -> Result<(), BackupError> {
    match secrets.open(check, KEY_CHECK_AAD) {
        Ok(text) if text == KEY_CHECK_TEXT => Ok(()),
        Ok(_) | Err(CryptoError::WrongKey) => Err(BackupError::WrongKey),
        Err(e) => Err(BackupError::Damaged(format!("key check: {e}"))),
    }
}

/// An account's fields for the file, its secret ones sealed.
pub fn seal_account(a: &Account, secrets: &SecretBox) -> Result<Map<String, Value>, BackupError> {
    let Value::Object(mut fields) = serde_json::to_value(a)
        .map_err(|e| BackupError::Damaged(format!("cannot encode an account: {e}")))?
    else {
        return Err(BackupError::Damaged(
            "an account did not encode as an object".into(),
        ));
    };
    for field in SEALED_FIELDS {
        if let Some(value) = fields.get_mut(*field) {
            let sealed = secrets
                .seal(value.to_string().as_bytes(), &aad(a.id.as_str(), field))
                .map_err(sealing_failed)?;
            *value = Value::String(sealed);
        }
    }
    Ok(fields)
}

/// An account from the file: its sealed fields opened (a field in plaintext is refused).
pub fn open_account(fields: &Map<String, Value>, secrets: &SecretBox) -> Result<Account, BackupError> {
    let id = fields
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| BackupError::Damaged("an account has no id".into()))?
        .to_owned();
    let damaged = |what: String| BackupError::Damaged(format!("account {id}: {what}"));
    let mut fields = fields.clone();
    for field in SEALED_FIELDS {
        let Some(value) = fields.get_mut(*field) else {
            continue;
        };
        let sealed = value
            .as_str()
            .filter(|s| SecretBox::is_sealed(s))
            .ok_or_else(|| damaged(format!("`{field}` is not sealed")))?;
        let plain = secrets.open(sealed, &aad(&id, field)).map_err(|e| match e {
            CryptoError::WrongKey => BackupError::WrongKey,
            other => damaged(format!("`{field}`: {other}")),
        })?;
        *value = serde_json::from_slice(&plain).map_err(|_| damaged(format!("`{field}` does not parse")))?;
    }
    serde_json::from_value(Value::Object(fields)).map_err(|e| damaged(format!("does not parse: {e}")))
}

/// A legacy verifier for the file, its secret sealed.
pub fn seal_verifier(v: &LegacyVerifier, secrets: &SecretBox) -> Result<SealedVerifier, BackupError> {
    Ok(SealedVerifier {
        name: v.name.clone(),
        secret: secrets
            .seal(v.secret.expose().as_bytes(), &aad(&v.name, VERIFIER_FIELD))
            .map_err(sealing_failed)?,
    })
}

/// A legacy verifier from the file, its secret opened (a secret in plaintext is refused).
pub fn open_verifier(v: &SealedVerifier, secrets: &SecretBox) -> Result<LegacyVerifier, BackupError> {
    let damaged = |what: &str| BackupError::Damaged(format!("legacy verifier {}: {what}", v.name));
    if !SecretBox::is_sealed(&v.secret) {
        return Err(damaged("the secret is not sealed"));
    }
    let plain = secrets
        .open(&v.secret, &aad(&v.name, VERIFIER_FIELD))
        .map_err(|e| match e {
            CryptoError::WrongKey => BackupError::WrongKey,
            other => damaged(&other.to_string()),
        })?;
    let secret = String::from_utf8(plain).map_err(|_| damaged("the secret is not text"))?;
    Ok(LegacyVerifier {
        name: v.name.clone(),
        secret: Secret::new(secret),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::EncryptionKey;
    use switchyard_actors::domain::{AccountKind, Credentials};

    fn account() -> Account {
        let mut a = Account::new("a-1", AccountKind::ClaudeConsole, 5);
        a.credentials = Credentials::ApiKey {
            key: Secret::new("sk-ant-very-secret"),
        };
        a.proxy = Some("http://u:proxy-very-secret@127.0.0.1:1".into());
        a.base_url = Some("https://base.test".into());
        a
    }

    #[test]
    fn secrets_are_sealed_and_open_only_with_the_same_key_and_place() {
        let (mine, other) = (
            SecretBox::new(&EncryptionKey::generate()),
            SecretBox::new(&EncryptionKey::generate()),
        );
        let a = account();
        let fields = seal_account(&a, &mine).unwrap();
        let text = Value::Object(fields.clone()).to_string();
        assert!(!text.contains("very-secret"), "{text}");
        assert_eq!(open_account(&fields, &mine).unwrap(), a);
        assert!(matches!(
            open_account(&fields, &other),
            Err(BackupError::WrongKey)
        ));
        verify_key(&mine, &key_check(&mine).unwrap()).unwrap();
        assert!(matches!(
            verify_key(&other, &key_check(&mine).unwrap()),
            Err(BackupError::WrongKey)
        ));

        let mut moved = fields.clone();
        moved.insert("id".into(), Value::String("a-2".into()));
        assert!(open_account(&moved, &mine).is_err(), "bound to its account");
        let mut plain = fields;
        plain.insert("proxy".into(), Value::String("http://p".into()));
        assert!(matches!(
            open_account(&plain, &mine),
            Err(BackupError::Damaged(_))
        ));
    }

    #[test]
    fn a_verifier_secret_is_sealed_and_opens_only_under_its_name_and_key() {
        let (mine, other) = (
            SecretBox::new(&EncryptionKey::generate()),
            SecretBox::new(&EncryptionKey::generate()),
        );
        let v = LegacyVerifier::for_crs("crs-encryption-very-secret");
        let sealed = seal_verifier(&v, &mine).unwrap();
        assert!(!sealed.secret.contains("very-secret"), "{sealed:?}");
        assert_eq!(open_verifier(&sealed, &mine).unwrap(), v);
        assert!(matches!(
            open_verifier(&sealed, &other),
            Err(BackupError::WrongKey)
        ));
        let renamed = SealedVerifier {
            name: "crs-ffffffffffffffff".into(),
            ..sealed.clone()
        };
        assert!(open_verifier(&renamed, &mine).is_err(), "bound to its name");
        let plain = SealedVerifier {
            secret: "crs-encryption-very-secret".into(),
            ..sealed
        };
        assert!(matches!(
            open_verifier(&plain, &mine),
            Err(BackupError::Damaged(_))
        ));
    }
}
