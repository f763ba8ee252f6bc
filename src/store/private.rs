//! Files only switchyard's own user can read: the data directory (0700) and what it holds
//! (0600): the database, the generated encryption key and admin token. Sealed secrets are one
//! line of defence; a database that other local users cannot open is the first.
use std::io;
use std::path::Path;

/// What switchyard itself writes into its data directory: a directory holding only these is
/// switchyard's to tighten. Anything else there (a shared directory by mistake) is left as it
/// is, with a warning, rather than locking other programs out of it.
const OWN_FILES: &[&str] = &[
    super::embedded::DB_FILE,
    super::encryption_key::GENERATED_KEY_FILE,
    crate::admin_token::FILE,
];

/// Creates `dir` (and missing parents) with mode 0700; an existing one that other users can
/// enter is tightened to 0700 (with a warning), if it holds only switchyard's files.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        if !dir.exists() {
            return std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir);
        }
        let mode = std::fs::metadata(dir)?.permissions().mode();
        if mode & 0o077 == 0 {
            return Ok(());
        }
        if !holds_only_own_files(dir)? {
            tracing::warn!(
                dir = %dir.display(),
                "the data directory is open to other users and holds files switchyard did not \
                 write, so it is left as it is; give switchyard a directory of its own (mode 0700)"
            );
            return Ok(());
        }
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        tracing::warn!(dir = %dir.display(), "the data directory was open to other users; changed it to mode 0700");
        Ok(())
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)
}

#[cfg(unix)]
fn holds_only_own_files(dir: &Path) -> io::Result<bool> {
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        if !OWN_FILES.iter().any(|own| name == *own) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Creates `path` empty with mode 0600 when missing (so it never exists with a looser mode, not
/// even briefly), or tightens an existing one other users can read, with a warning.
pub fn private_file(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)?;
        let mode = file.metadata()?.permissions().mode();
        if mode & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            tracing::warn!(file = %path.display(), "the file was readable by other users; changed it to mode 0600");
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn new_and_loose_dirs_and_files_become_private() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/data");
        private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);

        let file = dir.join(super::super::embedded::DB_FILE);
        std::fs::write(&file, b"x").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        private_file(&file).unwrap();
        assert_eq!(mode(&file), 0o600);
        assert_eq!(std::fs::read(&file).unwrap(), b"x", "content kept");

        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700, "holds only switchyard's files");
    }

    #[test]
    fn a_shared_directory_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(dir.path().join("someone-elses.txt"), b"x").unwrap();
        private_dir(dir.path()).unwrap();
        assert_eq!(mode(dir.path()), 0o755);
    }
}
