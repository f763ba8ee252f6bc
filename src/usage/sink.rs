//! Where usage goes. Recording is synchronous and never blocks the request: sinks buffer and
//! write in the background.
use super::{TokenUsage, UsageRecord};
use parking_lot::Mutex;
use serde::Serialize;
use std::collections::HashMap;

pub trait UsageSink: Send + Sync + 'static {
    fn record(&self, record: UsageRecord);
    /// Lifetime totals of one key (requests and tokens).
    fn totals_for_key(&self, key_id: &str) -> UsageTotals;
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct UsageTotals {
    pub requests: u64,
    #[serde(flatten)]
    pub tokens: TokenUsage,
}

/// Keeps every record in memory.
#[derive(Default)]
pub struct MemoryUsage {
    records: Mutex<Vec<UsageRecord>>,
    per_key: Mutex<HashMap<String, UsageTotals>>,
}

impl MemoryUsage {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn records(&self) -> Vec<UsageRecord> {
        self.records.lock().clone()
    }
}

impl UsageSink for MemoryUsage {
    fn record(&self, record: UsageRecord) {
        let mut per_key = self.per_key.lock();
        let t = per_key.entry(record.key_id.clone()).or_default();
        t.requests += 1;
        t.tokens.add(&record.usage);
        drop(per_key);
        self.records.lock().push(record);
    }

    fn totals_for_key(&self, key_id: &str) -> UsageTotals {
        self.per_key.lock().get(key_id).copied().unwrap_or_default()
    }
}
