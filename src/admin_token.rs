//! The admin API's bearer token: from settings, else `SWITCHYARD_ADMIN_TOKEN`, else the token
//! kept in `data_dir/admin-token`, else a new one generated on first start, written there
//! (mode 0600) and printed once. Only its SHA-256 is kept in memory for comparisons.
//!
//! A token shorter than [`MIN_LEN`] characters is refused at start-up, wherever it came from:
//! the admin API can read every account's credentials' metadata and mint keys, so a guessable
//! token is a way in.
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;

pub const ENV: &str = "SWITCHYARD_ADMIN_TOKEN";
pub const FILE: &str = "admin-token";
/// Shortest admin token accepted (a generated one is 68 characters).
pub const MIN_LEN: usize = 32;

/// Why no admin token could be resolved.
#[derive(Debug, thiserror::Error)]
pub enum AdminTokenError {
    #[error(
        "the admin token from {origin} is {len} characters long; it must be at least {MIN_LEN} \
         (generate one with `openssl rand -hex 32`, or leave admin.token and {ENV} empty and \
         delete the file to have one generated)"
    )]
    TooShort { origin: String, len: usize },
    #[error("admin token file: {0}")]
    Io(#[from] std::io::Error),
}

#[derive(Clone)]
pub struct AdminToken {
    hash: [u8; 32],
}

impl AdminToken {
    pub fn from_token(token: &str) -> Self {
        AdminToken {
            hash: Sha256::digest(token.trim().as_bytes()).into(),
        }
    }

    /// Whether `presented` is the admin token (compares digests in constant time).
    pub fn matches(&self, presented: &str) -> bool {
        let d: [u8; 32] = Sha256::digest(presented.trim().as_bytes()).into();
        d.iter()
            .zip(self.hash.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }

    /// A key for `purpose` derived from the token (HMAC-SHA256 keyed with its digest): whatever
    /// is signed with it stops verifying when the token changes.
    pub fn derive_key(&self, purpose: &str) -> [u8; 32] {
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.hash).expect("HMAC takes any key length");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// A token from `source` (named in the error), if it is long enough.
    fn checked(token: &str, source: &str) -> Result<Self, AdminTokenError> {
        let len = token.trim().chars().count();
        if len < MIN_LEN {
            return Err(AdminTokenError::TooShort {
                origin: source.to_owned(),
                len,
            });
        }
        Ok(Self::from_token(token))
    }

    /// Resolves the token as described in the module doc.
    pub fn resolve(configured: &str, data_dir: &Path) -> Result<Self, AdminTokenError> {
        if !configured.trim().is_empty() {
            return Self::checked(configured, "admin.token");
        }
        if let Ok(t) = std::env::var(ENV)
            && !t.trim().is_empty()
        {
            return Self::checked(&t, ENV);
        }
        let path = data_dir.join(FILE);
        if let Ok(t) = std::fs::read_to_string(&path)
            && !t.trim().is_empty()
        {
            return Self::checked(&t, &path.display().to_string());
        }
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let token = format!("sya_{}", hex::encode(bytes));
        crate::store::private::private_dir(data_dir)?;
        write_private(&path, &token)?;
        // Shown once, on purpose, outside the logs: the operator needs it to use the admin API.
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "switchyard: generated an admin token (also saved to {}):\n  {token}",
            path.display()
        )?;
        tracing::warn!(file = %path.display(), "generated a new admin token");
        Ok(Self::from_token(&token))
    }
}

/// Writes a file only its owner can read.
pub fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_are_kept_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let a = AdminToken::resolve("", dir.path()).unwrap();
        let saved = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        assert!(a.matches(&saved));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let b = AdminToken::resolve("", dir.path()).unwrap();
        assert!(b.matches(&saved), "the saved token is reused");
        assert!(!b.matches("wrong"));
        let configured = "c".repeat(MIN_LEN);
        assert!(
            AdminToken::resolve(&configured, dir.path())
                .unwrap()
                .matches(&configured)
        );
    }

    #[test]
    fn short_tokens_are_refused_wherever_they_come_from() {
        let dir = tempfile::tempdir().unwrap();
        let short = "s".repeat(MIN_LEN - 1);
        let err = AdminToken::resolve(&short, dir.path()).err().unwrap().to_string();
        assert!(
            err.contains("admin.token") && err.contains("31 characters"),
            "{err}"
        );
        std::fs::write(dir.path().join(FILE), "tooshort\n").unwrap();
        let err = AdminToken::resolve("", dir.path()).err().unwrap().to_string();
        assert!(
            err.contains("admin-token") && err.contains("8 characters"),
            "{err}"
        );
    }
}
