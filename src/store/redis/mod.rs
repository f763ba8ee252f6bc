//! The Redis store (`store.backend = "redis"`): several switchyard instances share one pool.
//! One connection per store ([`conn::Conn`]): a multiplexed connection that reconnects by
//! itself on a single node, or a cluster connection when the server is a Redis Cluster node
//! (detected at start-up). Every operation is bounded by [`RedisOptions::op_timeout`], so a
//! Redis outage turns into fast [`StoreError::Unavailable`] answers, never a hang, and service
//! resumes when Redis is back. Besides the scheduling contract it keeps API keys
//! (`api_keys.rs`), limit counters (`limits.rs`) and usage aggregates (`usage.rs`). Key layout
//! and round trips: `docs/redis-keys.md`.
mod api_keys;
mod conn;
mod keyspace;
mod limits;
mod notices;
mod records;
mod scheduling;
mod scripts;
mod usage;

pub use keyspace::Keyspace;
pub use limits::{DAY_TTL_SECS, SETTLE_BATCH_TTL_SECS, WEEK_TTL_SECS};
pub use usage::{USAGE_BATCH_TTL_SECS, ttl_secs as usage_ttl_secs};

use super::OpenError;
use super::crypto::SecretBox;
use super::encryption_key::EncryptionKey;
use crate::settings::StoreSettings;
use ::redis::{AsyncCommands, RedisError};
use conn::Conn;
use scripts::Scripts;
use std::future::Future;
use std::time::Duration;
use switchyard_actors::store::{StoreError, StoreResult};

/// Connection settings. The timeouts are deliberately short: the scheduler would rather fail a
/// selection in a second than queue requests behind a dead Redis.
#[derive(Debug, Clone)]
pub struct RedisOptions {
    pub url: String,
    /// Every key starts with this.
    pub prefix: String,
    /// One TCP connect (and handshake) attempt.
    pub connect_timeout: Duration,
    /// One command's answer on a live connection.
    pub response_timeout: Duration,
    /// A whole store operation, reconnect included.
    pub op_timeout: Duration,
}

impl RedisOptions {
    pub fn new(url: impl Into<String>, prefix: impl Into<String>) -> Self {
        RedisOptions {
            url: url.into(),
            prefix: prefix.into(),
            connect_timeout: Duration::from_millis(500),
            response_timeout: Duration::from_millis(1_000),
            op_timeout: Duration::from_millis(1_000),
        }
    }

    pub fn from_settings(s: &StoreSettings) -> Self {
        let op = Duration::from_millis(s.redis_op_timeout_ms.max(1));
        RedisOptions {
            response_timeout: op,
            op_timeout: op,
            ..Self::new(s.redis_url.clone(), s.redis_prefix.clone())
        }
    }
}

pub struct RedisStore {
    conn: Conn,
    /// For the slot notice subscription's own connection.
    url: String,
    keyspace: Keyspace,
    scripts: Scripts,
    secrets: SecretBox,
    op_timeout: Duration,
    pub(crate) stats: std::sync::Arc<super::StoreStats>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("keyspace", &self.keyspace)
            .finish_non_exhaustive()
    }
}

/// `redis://user:password@host:port/db` → `redis://host:port/db`: URLs go into error messages.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}{}", &url[..scheme + 3], &url[at + 1..]),
        _ => url.to_owned(),
    }
}

impl RedisStore {
    /// Connects, checks the encryption key against the one already in use by the pool (the
    /// first instance to start records it), and returns the store.
    pub async fn connect(opts: &RedisOptions, key: &EncryptionKey) -> Result<Self, OpenError> {
        let target = redacted(&opts.url);
        let fail = |reason: String| OpenError::Redis {
            target: target.clone(),
            reason,
        };
        // Connect, `INFO cluster`, then the real connection (or the cluster's topology).
        let startup = opts.connect_timeout * 3 + opts.op_timeout;
        let conn = tokio::time::timeout(startup, Conn::open(opts))
            .await
            .map_err(|_| fail(format!("no connection within {} ms", startup.as_millis())))?
            .map_err(|e| fail(e.to_string()))?;
        tracing::info!(url = %target, mode = conn.mode(), "redis connection");
        let store = RedisStore {
            conn,
            url: opts.url.clone(),
            keyspace: Keyspace::new(&opts.prefix),
            scripts: Scripts::default(),
            secrets: SecretBox::new(key),
            op_timeout: opts.op_timeout,
            stats: Default::default(),
        };
        store.check_key().await.map_err(|e| match e {
            KeyCheck::Mismatch => OpenError::WrongKey {
                store: format!("the Redis pool under prefix `{}`", opts.prefix),
            },
            KeyCheck::Store(e) => fail(e.to_string()),
        })?;
        match store.reseal_plaintext_urls().await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(
                fields = n,
                "encrypted account URLs an older version stored in plaintext"
            ),
            // Still readable as they are; the next start tries again.
            Err(e) => tracing::warn!(error = %e, "encrypting plaintext account URLs failed"),
        }
        Ok(store)
    }

    async fn check_key(&self) -> Result<(), KeyCheck> {
        const PLAIN: &[u8] = b"switchyard key check";
        let key = self.keyspace.key_check();
        let sealed = self
            .secrets
            .seal(PLAIN, key.as_bytes())
            .map_err(|e| KeyCheck::Store(StoreError::Corrupt(e.to_string())))?;
        let mut c = self.conn();
        let (_, stored): ((), String) = self
            .timed("key check", async {
                ::redis::pipe()
                    .set_nx(&key, &sealed)
                    .get(&key)
                    .query_async(&mut c)
                    .await
            })
            .await
            .map_err(KeyCheck::Store)?;
        match self.secrets.open(&stored, key.as_bytes()) {
            Ok(_) => Ok(()),
            Err(_) => Err(KeyCheck::Mismatch),
        }
    }

    /// A handle on the shared connection (cheap clone).
    fn conn(&self) -> Conn {
        self.conn.clone()
    }

    /// One `TOUCH_LAST_USED` setting each record's `last_used_at` (accounts and API keys store
    /// it under the same field name and format).
    async fn touch(
        &self,
        op: &'static str,
        used: impl IntoIterator<Item = (String, switchyard_actors::clock::Millis)>,
    ) -> StoreResult<()> {
        let mut inv = self.scripts.touch_last_used.prepare_invoke();
        let mut any = false;
        for (key, at) in used {
            inv.key(key).arg(at);
            any = true;
        }
        if !any {
            return Ok(());
        }
        let mut c = self.conn();
        self.timed(op, async { inv.invoke_async::<i64>(&mut c).await })
            .await
            .map(drop)
    }

    /// Runs one operation with the store's deadline and maps its errors.
    async fn timed<T>(
        &self,
        op: &'static str,
        fut: impl Future<Output = Result<T, RedisError>>,
    ) -> StoreResult<T> {
        if tokio::runtime::Handle::try_current().is_err() {
            // Only a lease dropped after the runtime shut down gets here; its TTL frees it.
            return Err(StoreError::Unavailable(format!("redis {op}: no async runtime")));
        }
        let result = match tokio::time::timeout(self.op_timeout, fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(map_error(op, &e)),
            Err(_) => Err(StoreError::Unavailable(format!(
                "redis {op}: no answer within {} ms",
                self.op_timeout.as_millis()
            ))),
        };
        self.stats.record(&result);
        result
    }

    /// The records version counter (0 before the first record write).
    async fn version(&self) -> StoreResult<u64> {
        let mut c = self.conn();
        let key = self.keyspace.records_version();
        let v: Option<u64> = self.timed("records_version", async { c.get(&key).await }).await?;
        Ok(v.unwrap_or(0))
    }
}

enum KeyCheck {
    Mismatch,
    Store(StoreError),
}

/// Connection trouble is `Unavailable` (retry elsewhere / later); an answer of the wrong shape
/// means the data is not what this version wrote.
fn map_error(op: &str, e: &RedisError) -> StoreError {
    use ::redis::ErrorKind;
    match e.kind() {
        ErrorKind::UnexpectedReturnType | ErrorKind::Parse => {
            StoreError::Corrupt(format!("redis {op}: unexpected answer: {e}"))
        }
        _ => StoreError::Unavailable(format!("redis {op}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_password() {
        assert_eq!(redacted("redis://:pw@host:6379/0"), "redis://host:6379/0");
        assert_eq!(redacted("redis://user:p@ss@host"), "redis://host");
        assert_eq!(redacted("redis://host:6379"), "redis://host:6379");
    }
}
