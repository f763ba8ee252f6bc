//! The admin API's bearer token: from settings, else `SWITCHYARD_ADMIN_TOKEN`, else the token
//! kept in `data_dir/admin-token`, else a new one generated on first start, written there
//! (mode 0600) and printed once. Only its SHA-256 is kept in memory for comparisons.
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;

pub const ENV: &str = "SWITCHYARD_ADMIN_TOKEN";
pub const FILE: &str = "admin-token";

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

    /// Resolves the token as described in the module doc.
    pub fn resolve(configured: &str, data_dir: &Path) -> std::io::Result<Self> {
        if !configured.trim().is_empty() {
            return Ok(Self::from_token(configured));
        }
        if let Ok(t) = std::env::var(ENV)
            && !t.trim().is_empty()
        {
            return Ok(Self::from_token(&t));
        }
        let path = data_dir.join(FILE);
        if let Ok(t) = std::fs::read_to_string(&path)
            && !t.trim().is_empty()
        {
            return Ok(Self::from_token(&t));
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
        assert!(
            AdminToken::resolve("configured", dir.path())
                .unwrap()
                .matches("configured")
        );
    }
}
