//! Limit counters of the embedded store: decided in memory with the same rules as the memory
//! store (`KeyState`), so `admit` and `settle` never wait for the disk, and written behind to
//! redb so they survive a restart.
//!
//! Every `admit` that counts and every `settle` marks its key dirty; one background write per
//! [`PERSIST_DELAY`] commits every dirty key in one transaction. A clean stop (the store is
//! dropped) writes what is left, so nothing is lost; a crash loses at most the last
//! [`PERSIST_DELAY`] of counting.
//!
//! A settlement batch (`settle_many`) is applied under one lock and written by one commit; its
//! id is remembered in memory only ([`SETTLE_BATCH_MEMORY`]): a retry of a batch comes from
//! the accounting task of this same process, which a restart ends too.
//!
//! | table            | key    | value                                   |
//! |------------------|--------|-----------------------------------------|
//! | `limit_counters` | key id | JSON: window, total, day and week sums (integer picodollars) |
use super::tables::{failed, write};
use crate::batch::AppliedBatches;
use crate::limits::{KeyState, SETTLE_BATCH_MEMORY, SettleBatch};
use parking_lot::Mutex;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use switchyard_actors::clock::Millis;
use switchyard_actors::store::{StoreError, StoreResult};

const COUNTERS: TableDefinition<'_, &str, &str> = TableDefinition::new("limit_counters");

/// How long dirty counters wait before they are written (batches a burst into one commit).
pub const PERSIST_DELAY: Duration = Duration::from_millis(200);

pub(super) fn create_tables(txn: &WriteTransaction) -> StoreResult<()> {
    txn.open_table(COUNTERS).map_err(failed)?;
    Ok(())
}

#[derive(Default)]
struct Inner {
    keys: HashMap<String, KeyState>,
    dirty: HashSet<String>,
}

#[derive(Default)]
struct Shared {
    inner: Mutex<Inner>,
    /// Held while a snapshot is taken and written, so writes land in snapshot order.
    writing: Mutex<()>,
    /// A background write is pending.
    scheduled: AtomicBool,
}

pub(super) struct Limits {
    shared: Arc<Shared>,
    applied: AppliedBatches,
}

impl Limits {
    /// Loads every key's counters (at open).
    pub(super) fn load(db: &Database) -> StoreResult<Self> {
        let txn = db.begin_read().map_err(failed)?;
        let table = txn.open_table(COUNTERS).map_err(failed)?;
        let mut keys = HashMap::new();
        for entry in table.iter().map_err(failed)? {
            let (k, v) = entry.map_err(failed)?;
            let state: KeyState = serde_json::from_str(v.value())
                .map_err(|e| StoreError::Corrupt(format!("limit counters of key {}: {e}", k.value())))?;
            keys.insert(k.value().to_owned(), state);
        }
        let shared = Shared {
            inner: Mutex::new(Inner {
                keys,
                dirty: HashSet::new(),
            }),
            ..Shared::default()
        };
        Ok(Limits {
            shared: Arc::new(shared),
            applied: AppliedBatches::new(SETTLE_BATCH_MEMORY),
        })
    }

    /// Applies a settlement batch under one lock, once per batch id; false when it was applied
    /// before (nothing to write).
    pub(super) fn settle_batch(&self, batch: &SettleBatch) -> bool {
        let mut inner = self.shared.inner.lock();
        if !self.applied.first_time(&batch.id) {
            return false;
        }
        for s in &batch.settlements {
            inner.keys.entry(s.key_id.clone()).or_default().settle(s);
            inner.dirty.insert(s.key_id.clone());
        }
        !batch.settlements.is_empty()
    }

    /// Runs `f` on a key's state under the lock; `dirty` marks it for the next write.
    pub(super) fn with<T>(&self, key_id: &str, dirty: bool, f: impl FnOnce(&mut KeyState) -> T) -> T {
        let mut inner = self.shared.inner.lock();
        let out = f(inner.keys.entry(key_id.to_owned()).or_default());
        if dirty {
            inner.dirty.insert(key_id.to_owned());
        }
        out
    }

    pub(super) fn read<T>(&self, key_id: &str, f: impl FnOnce(Option<&KeyState>) -> T) -> T {
        f(self.shared.inner.lock().keys.get(key_id))
    }

    /// Schedules one background write of everything dirty (no-op when one is pending). The
    /// task holds the database weakly: a store dropped meanwhile has written on drop.
    pub(super) fn schedule_write(&self, db: &Arc<Database>) {
        if self.shared.scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        let (shared, weak) = (self.shared.clone(), Arc::downgrade(db));
        let run = move || {
            std::thread::sleep(PERSIST_DELAY);
            shared.scheduled.store(false, Ordering::Release);
            write_dirty(&shared, &weak);
        };
        match tokio::runtime::Handle::try_current() {
            Ok(h) => drop(h.spawn_blocking(run)),
            Err(_) => {
                self.shared.scheduled.store(false, Ordering::Release);
                write_dirty(&self.shared, &Arc::downgrade(db));
            }
        }
    }

    /// Writes everything dirty now (clean stop).
    pub(super) fn write_now(&self, db: &Arc<Database>) {
        write_dirty(&self.shared, &Arc::downgrade(db));
    }
}

fn write_dirty(shared: &Shared, db: &Weak<Database>) {
    let Some(db) = db.upgrade() else { return };
    let _order = shared.writing.lock();
    let batch: Vec<(String, String)> = {
        let mut inner = shared.inner.lock();
        let dirty = std::mem::take(&mut inner.dirty);
        dirty
            .into_iter()
            .filter_map(|id| {
                let json = serde_json::to_string(inner.keys.get(&id)?).ok()?;
                Some((id, json))
            })
            .collect()
    };
    if batch.is_empty() {
        return;
    }
    let result = write(&db, |txn| {
        let mut table = txn.open_table(COUNTERS).map_err(failed)?;
        for (id, json) in &batch {
            table.insert(id.as_str(), json.as_str()).map_err(failed)?;
        }
        Ok(())
    });
    if let Err(e) = result {
        tracing::warn!(error = %e, keys = batch.len(), "writing limit counters failed; retrying with the next change");
        shared
            .inner
            .lock()
            .dirty
            .extend(batch.into_iter().map(|(id, _)| id));
    }
}

#[async_trait::async_trait]
impl crate::limits::LimitStore for super::EmbeddedStore {
    async fn admit(
        &self,
        req: &crate::limits::Admission<'_>,
    ) -> StoreResult<Result<Option<Millis>, crate::limits::Refusal>> {
        // Only a windowed admission changes anything (roll-over, request count).
        let changes = req.window.is_some();
        let out = self.limits.with(req.key_id, changes, |k| k.admit(req));
        if changes {
            self.limits.schedule_write(&self.db);
        }
        Ok(out)
    }

    async fn settle_many(&self, batch: &SettleBatch) -> StoreResult<()> {
        if self.limits.settle_batch(batch) {
            self.limits.schedule_write(&self.db);
        }
        Ok(())
    }

    async fn counters(
        &self,
        key_id: &str,
        now: Millis,
        window_ms: i64,
        day: &str,
        week: &str,
    ) -> StoreResult<crate::limits::KeyCounters> {
        Ok(self.limits.read(key_id, |k| {
            k.map(|k| k.counters(now, window_ms, day, week))
                .unwrap_or_default()
        }))
    }

    async fn raise_counters(
        &self,
        key_id: &str,
        day: &str,
        week: &str,
        to: &crate::limits::KeyCounters,
    ) -> StoreResult<bool> {
        let changed = self.limits.with(key_id, false, |k| k.raise(day, week, to));
        if changed {
            self.limits.with(key_id, true, |_| ());
            self.limits.schedule_write(&self.db);
        }
        Ok(changed)
    }
}
