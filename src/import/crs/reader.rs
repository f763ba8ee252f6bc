//! Reads the reference's Redis: SCAN over the key families an import needs, then TYPE and
//! HGETALL / GET / SMEMBERS, pipelined. Read-only by construction: no other command is sent.
use super::snapshot::{FAMILIES, Snapshot, Value};
use redis::aio::MultiplexedConnection;
use std::collections::BTreeMap;
use std::time::Duration;

/// Keys read per pipelined round trip.
const BATCH: usize = 200;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const READ_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot reach the reference's Redis at {target}: {reason}")]
    Unreachable { target: String, reason: String },
    #[error("reading the reference's Redis at {target} failed: {reason}")]
    Failed { target: String, reason: String },
}

/// `redis://user:password@host` without the password, for messages.
pub fn redacted(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((_, host)) => format!("{scheme}://***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

pub async fn read(url: &str) -> Result<Snapshot, ReadError> {
    let target = redacted(url);
    let unreachable = |reason: String| ReadError::Unreachable {
        target: target.clone(),
        reason,
    };
    let client = redis::Client::open(url).map_err(|e| unreachable(e.to_string()))?;
    let mut conn = tokio::time::timeout(CONNECT_TIMEOUT, client.get_multiplexed_async_connection())
        .await
        .map_err(|_| unreachable("no answer within 5 s".into()))?
        .map_err(|e| unreachable(e.to_string()))?;
    tokio::time::timeout(READ_TIMEOUT, read_all(&mut conn))
        .await
        .map_err(|_| ReadError::Failed {
            target: target.clone(),
            reason: "no answer within 30 s".into(),
        })?
        .map_err(|reason| ReadError::Failed { target, reason })
}

async fn read_all(conn: &mut MultiplexedConnection) -> Result<Snapshot, String> {
    let text = |e: &dyn std::fmt::Display| e.to_string();
    let mut names = Vec::new();
    for pattern in FAMILIES {
        let mut cursor: u64 = 0;
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(conn)
                .await
                .map_err(|e| text(&e))?;
            names.extend(batch);
            if next == 0 {
                break;
            }
            cursor = next;
        }
    }
    names.sort();
    names.dedup();
    let mut entries = BTreeMap::new();
    for chunk in names.chunks(BATCH) {
        let mut types = redis::pipe();
        for name in chunk {
            types.cmd("TYPE").arg(name);
        }
        let kinds: Vec<String> = types.query_async(conn).await.map_err(|e| text(&e))?;
        let mut reads = redis::pipe();
        let mut wanted = Vec::new();
        for (name, kind) in chunk.iter().zip(&kinds) {
            match kind.as_str() {
                "hash" => reads.cmd("HGETALL").arg(name),
                "string" => reads.cmd("GET").arg(name),
                "set" => reads.cmd("SMEMBERS").arg(name),
                _ => continue,
            };
            wanted.push((name, kind.as_str()));
        }
        if wanted.is_empty() {
            continue;
        }
        let values: Vec<redis::Value> = reads.query_async(conn).await.map_err(|e| text(&e))?;
        for ((name, kind), v) in wanted.into_iter().zip(values) {
            // A key that expired between TYPE and its read answers nil: skipped.
            let value = match kind {
                "hash" => Value::Hash(redis::from_redis_value(v).map_err(|e| text(&e))?),
                "string" => match redis::from_redis_value::<Option<String>>(v).map_err(|e| text(&e))? {
                    Some(s) => Value::Text(s),
                    None => continue,
                },
                _ => {
                    let mut members: Vec<String> = redis::from_redis_value(v).map_err(|e| text(&e))?;
                    members.sort();
                    Value::Set(members)
                }
            };
            entries.insert(name.clone(), value);
        }
    }
    Ok(Snapshot { entries })
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(redacted("redis://:pw@h:6379/0"), "redis://***@h:6379/0");
        assert_eq!(redacted("redis://h:6379"), "redis://h:6379");
    }
}
