//! Slot-freed notices between instances: a release PUBLISHes `{account} {lease}` on one channel
//! under the prefix (in the same pipeline as the release on a single node), and each instance
//! holds one SUBSCRIBE connection that hands the notices to its waiters. Classic pub/sub is
//! broadcast to every node of a Redis Cluster, so the same channel works there (sharded pub/sub
//! would confine it to one slot's shard, which is not what is wanted). A notice lost while the
//! subscriber reconnects strands nobody: waiters re-check every `scheduler.wait_recheck_ms`.
use futures::StreamExt;
use futures::stream::BoxStream;
use std::time::Duration;
use switchyard_actors::{AccountId, LeaseId};
use tokio::sync::mpsc;

/// Notices buffered between the subscriber and the waiters; past it, notices are dropped (the
/// waiters' periodic re-check covers them).
const BUFFER: usize = 4_096;

/// The message published for one freed slot.
pub(super) fn notice(account: &AccountId, lease: &LeaseId) -> String {
    format!("{} {}", account.as_str(), lease.as_str())
}

fn parse(payload: &str) -> Option<(AccountId, LeaseId)> {
    let (account, lease) = payload.split_once(' ')?;
    Some((AccountId::new(account), LeaseId::from_string(lease)))
}

/// Subscribes to `channel` on `url` in a task of its own, reconnecting after a second when the
/// connection drops, until the returned stream is dropped.
pub(super) fn subscribe(url: String, channel: String) -> BoxStream<'static, (AccountId, LeaseId)> {
    let (tx, rx) = mpsc::channel(BUFFER);
    tokio::spawn(async move {
        while !tx.is_closed() {
            if let Err(e) = forward(&url, &channel, &tx).await {
                tracing::warn!(error = %e, "slot notice subscription lost; waiters fall back to re-checking");
            }
            if tx.is_closed() {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|n| (n, rx)) }).boxed()
}

async fn forward(
    url: &str,
    channel: &str,
    tx: &mpsc::Sender<(AccountId, LeaseId)>,
) -> Result<(), redis::RedisError> {
    let client = redis::Client::open(url)?;
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    let mut messages = pubsub.on_message();
    loop {
        tokio::select! {
            msg = messages.next() => {
                let Some(msg) = msg else { return Ok(()) };
                let Ok(payload) = msg.get_payload::<String>() else { continue };
                if let Some(n) = parse(&payload) {
                    // Full: drop it; the waiters' re-check covers a lost notice.
                    let _ = tx.try_send(n);
                }
            }
            _ = tx.closed() => return Ok(()),
        }
    }
}
