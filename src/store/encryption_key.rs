//! The credential encryption key: where it comes from (`SWITCHYARD_ENCRYPTION_KEY`, the file
//! named by `store.encryption_key_file`, or, in embedded mode only, a key generated on first
//! start into `data_dir/encryption-key` with mode 0600), and what counts as too weak to use.
//! The key itself never appears in logs, errors or `Debug` output.
use rand::RngCore;
use std::collections::HashSet;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Environment variable that wins over any key file.
pub const ENCRYPTION_KEY_ENV: &str = "SWITCHYARD_ENCRYPTION_KEY";
/// Name of the generated key file inside `data_dir` (embedded mode).
pub const GENERATED_KEY_FILE: &str = "encryption-key";
/// Fewer distinct byte values than this in 32 bytes is a hand-made key, not a random one
/// (a random key has about 30; fewer than 16 happens with negligible probability).
const MIN_DISTINCT_BYTES: usize = 16;

/// 32 bytes of AES-256 key.
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptionKey([u8; 32]);

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EncryptionKey(****)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EncryptionKeyError {
    #[error(
        "no encryption key for upstream credentials: set {ENCRYPTION_KEY_ENV} or \
         store.encryption_key_file to 64 hex characters (e.g. the output of `openssl rand -hex 32`)"
    )]
    Missing,
    #[error("the encryption key from {origin} is not 64 hex characters (32 bytes)")]
    Malformed { origin: String },
    #[error(
        "the encryption key from {origin} is too weak (repeated or patterned bytes); use 32 random bytes"
    )]
    Weak { origin: String },
    #[error("cannot read the encryption key file {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write a new encryption key file {}: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
}

impl EncryptionKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        EncryptionKey(bytes)
    }

    /// 32 bytes from the OS-seeded CSPRNG.
    pub fn generate() -> Self {
        let mut k = [0u8; 32];
        rand::rng().fill_bytes(&mut k);
        EncryptionKey(k)
    }

    /// Parses 64 hex characters (surrounding whitespace ignored) and refuses weak keys.
    /// `origin` names where the text came from, for the error message.
    pub fn parse_hex(text: &str, origin: &str) -> Result<Self, EncryptionKeyError> {
        let text = text.trim();
        let mut bytes = [0u8; 32];
        if text.len() != 64 || hex::decode_to_slice(text, &mut bytes).is_err() {
            return Err(EncryptionKeyError::Malformed {
                origin: origin.to_owned(),
            });
        }
        if is_weak(&bytes) {
            return Err(EncryptionKeyError::Weak {
                origin: origin.to_owned(),
            });
        }
        Ok(EncryptionKey(bytes))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// All-same bytes, short repeated patterns, and constant-step sequences (00 01 02 ...).
fn is_weak(k: &[u8; 32]) -> bool {
    let distinct: HashSet<u8> = k.iter().copied().collect();
    let step = k[1].wrapping_sub(k[0]);
    let arithmetic = k.windows(2).all(|w| w[1].wrapping_sub(w[0]) == step);
    distinct.len() < MIN_DISTINCT_BYTES || arithmetic
}

/// Where a key was found, so start-up can say so (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncryptionKeySource {
    Environment,
    File(PathBuf),
    /// Generated on this start and written here.
    Generated(PathBuf),
}

/// What [`resolve`] needs: the environment value (passed in so tests need not touch the
/// process environment), the configured key file, and the fallback file (embedded mode only).
#[derive(Debug, Clone, Copy)]
pub struct EncryptionKeyInputs<'a> {
    pub env: Option<&'a str>,
    pub key_file: Option<&'a Path>,
    /// `Some(data_dir/encryption-key)` in embedded mode: read it, or create it when missing.
    pub generate_at: Option<&'a Path>,
}

/// Finds the key: environment, then the named file, then (embedded) the generated file.
pub fn resolve(
    inputs: EncryptionKeyInputs<'_>,
) -> Result<(EncryptionKey, EncryptionKeySource), EncryptionKeyError> {
    if let Some(env) = inputs.env.filter(|v| !v.trim().is_empty()) {
        return Ok((
            EncryptionKey::parse_hex(env, ENCRYPTION_KEY_ENV)?,
            EncryptionKeySource::Environment,
        ));
    }
    if let Some(path) = inputs.key_file {
        return Ok((read_key_file(path)?, EncryptionKeySource::File(path.to_owned())));
    }
    let Some(path) = inputs.generate_at else {
        return Err(EncryptionKeyError::Missing);
    };
    if path.exists() {
        return Ok((read_key_file(path)?, EncryptionKeySource::File(path.to_owned())));
    }
    let key = EncryptionKey::generate();
    write_key_file(path, &key)?;
    tracing::warn!(
        path = %path.display(),
        "no encryption key configured: generated one for upstream credentials and wrote it to this \
         file (mode 0600); back it up, without it stored credentials cannot be read"
    );
    Ok((key, EncryptionKeySource::Generated(path.to_owned())))
}

fn read_key_file(path: &Path) -> Result<EncryptionKey, EncryptionKeyError> {
    let text = std::fs::read_to_string(path).map_err(|source| EncryptionKeyError::Read {
        path: path.to_owned(),
        source,
    })?;
    warn_if_readable_by_others(path);
    EncryptionKey::parse_hex(&text, &path.display().to_string())
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(path = %path.display(), "the encryption key file is readable by other users; chmod 600 it");
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

/// Creates the file exclusively (never overwrites a key) with mode 0600.
fn write_key_file(path: &Path, key: &EncryptionKey) -> Result<(), EncryptionKeyError> {
    let err = |source| EncryptionKeyError::Write {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(err)?;
    file.write_all(format!("{}\n", key.to_hex()).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "3f9a1c7e5b2d8046a1e3c5b7d9f20486ac4e6b8d0f1a3c5e7092b4d6f8a1c3e5";

    #[test]
    fn accepts_random_hex_and_refuses_weak_or_malformed() {
        assert!(EncryptionKey::parse_hex(GOOD, "test").is_ok());
        assert!(EncryptionKey::parse_hex(&format!("  {GOOD}\n"), "test").is_ok());
        for weak in [
            "0".repeat(64),
            "ab".repeat(32),
            "0123456789abcdef".repeat(4),
            (0u8..32).map(|b| format!("{b:02x}")).collect::<String>(),
        ] {
            assert!(
                matches!(
                    EncryptionKey::parse_hex(&weak, "test"),
                    Err(EncryptionKeyError::Weak { .. })
                ),
                "{weak}"
            );
        }
        for bad in ["", "abc", &GOOD[..62], &format!("{}zz", &GOOD[..62])] {
            assert!(matches!(
                EncryptionKey::parse_hex(bad, "test"),
                Err(EncryptionKeyError::Malformed { .. })
            ));
        }
    }

    #[test]
    fn generated_keys_are_never_weak() {
        for _ in 0..100 {
            assert!(!is_weak(EncryptionKey::generate().bytes()));
        }
    }

    #[test]
    fn errors_never_show_the_key() {
        let err = EncryptionKey::parse_hex(&"1".repeat(64), ENCRYPTION_KEY_ENV).unwrap_err();
        assert!(!err.to_string().contains("1111"));
        assert_eq!(format!("{:?}", EncryptionKey::generate()), "EncryptionKey(****)");
    }
}
