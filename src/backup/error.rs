//! Why a backup could not be written or read. Never contains a secret; mapped to HTTP in
//! `crate::error`.
use switchyard_actors::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("the backup is not complete JSON (truncated or damaged): {0}")]
    NotJson(String),
    #[error("not a switchyard backup (format {found:?}, expected \"switchyard-backup\")")]
    NotABackup { found: String },
    #[error(
        "backup version {found} is not supported: this switchyard reads version {}",
        super::VERSION
    )]
    UnknownVersion { found: String },
    #[error("the backup's checksum does not match its content: the file was changed or damaged")]
    Checksum,
    #[error("the backup is damaged: {0}")]
    Damaged(String),
    #[error(
        "the backup's secrets were sealed with another encryption key than this server's: restore \
         onto a server with the same key, or export again with --reencrypt-for-key-file"
    )]
    WrongKey,
    #[error("the target encryption key: {0}")]
    TargetKey(#[from] crate::store::encryption_key::EncryptionKeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}
