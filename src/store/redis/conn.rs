//! The store's one connection to Redis, single node or Cluster, chosen at start-up without a
//! setting: `INFO cluster` on `store.redis_url` says `cluster_enabled:1` on a Cluster node.
//!
//! - Single node: a [`ConnectionManager`] (one multiplexed connection that reconnects by itself).
//! - Cluster: a [`ClusterConnection`] seeded with that URL; it discovers the other nodes, routes
//!   each command by its key's slot and follows MOVED / ASK.
//!
//! [`Conn`] implements [`ConnectionLike`] by delegation, so commands, scripts and pipelines are
//! written once. One rule differs: the cluster connection sends a pipeline (MULTI/EXEC or not)
//! to one node and refuses one whose keyed commands span slots (`CROSSSLOT`, client side). All
//! the store's pipelines stay within one hash tag, except a settlement batch over several API
//! keys, which [`Conn::is_cluster`] splits per key (`limits.rs`).
use super::RedisOptions;
use ::redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use ::redis::cluster::ClusterClientBuilder;
use ::redis::cluster_async::ClusterConnection;
use ::redis::{AsyncConnectionConfig, Cmd, Pipeline, RedisError, RedisFuture, Value};
use std::time::Duration;

/// Few, quick retries per reconnect: callers are bounded by `op_timeout` anyway, and every
/// failed call starts a fresh attempt.
const RETRIES: u32 = 1;
const MIN_RETRY_WAIT: Duration = Duration::from_millis(50);
const MAX_RETRY_WAIT: Duration = Duration::from_millis(200);

#[derive(Clone)]
pub enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl Conn {
    /// Asks the server at `opts.url` whether it is a Cluster node, then builds the matching
    /// connection. The caller bounds the whole of it.
    pub async fn open(opts: &RedisOptions) -> Result<Conn, RedisError> {
        let client = ::redis::Client::open(opts.url.as_str())?;
        if is_cluster_node(&client, opts).await? {
            let cluster = ClusterClientBuilder::new(vec![opts.url.as_str()])
                .connection_timeout(opts.connect_timeout)
                .response_timeout(opts.response_timeout)
                .retries(RETRIES)
                .min_retry_wait(MIN_RETRY_WAIT.as_millis() as u64)
                .max_retry_wait(MAX_RETRY_WAIT.as_millis() as u64)
                .build()?;
            return Ok(Conn::Cluster(cluster.get_async_connection().await?));
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(opts.connect_timeout))
            .set_response_timeout(Some(opts.response_timeout))
            .set_number_of_retries(RETRIES as usize)
            .set_min_delay(MIN_RETRY_WAIT)
            .set_max_delay(MAX_RETRY_WAIT);
        Ok(Conn::Single(
            ConnectionManager::new_with_config(client, config).await?,
        ))
    }

    /// A Cluster connection: a pipeline must keep to one slot.
    pub fn is_cluster(&self) -> bool {
        matches!(self, Conn::Cluster(_))
    }

    pub fn mode(&self) -> &'static str {
        match self {
            Conn::Single(_) => "single node",
            Conn::Cluster(_) => "cluster",
        }
    }
}

/// `INFO cluster` on one plain connection. A server that refuses INFO (renamed or denied by
/// ACL) is taken for a single node: a Cluster would answer MOVED to the first command of a
/// foreign slot, which surfaces as an error, not as wrong data.
async fn is_cluster_node(client: &::redis::Client, opts: &RedisOptions) -> Result<bool, RedisError> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(opts.connect_timeout))
        .set_response_timeout(Some(opts.response_timeout));
    let mut probe = client
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    match ::redis::cmd("INFO")
        .arg("cluster")
        .query_async::<String>(&mut probe)
        .await
    {
        Ok(info) => Ok(cluster_enabled(&info)),
        Err(e) if refused(&e) => {
            tracing::warn!(error = %e, "redis INFO refused; assuming a single node, not a cluster");
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// INFO unknown (renamed) or denied by ACL; a loading or failing server is an error instead.
fn refused(e: &RedisError) -> bool {
    use ::redis::{ErrorKind, ServerErrorKind};
    matches!(
        e.kind(),
        ErrorKind::Server(ServerErrorKind::ResponseError | ServerErrorKind::NoPerm)
    )
}

fn cluster_enabled(info: &str) -> bool {
    info.lines().any(|l| l.trim() == "cluster_enabled:1")
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_mode_comes_from_info() {
        assert!(cluster_enabled("# Cluster\r\ncluster_enabled:1\r\n"));
        assert!(!cluster_enabled("# Cluster\r\ncluster_enabled:0\r\n"));
        assert!(!cluster_enabled(""));
    }
}
