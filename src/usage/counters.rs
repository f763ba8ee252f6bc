//! Aggregated usage counters and the buckets they are kept in.
use super::TokenUsage;
use crate::calendar::{Calendar, Stamps};
use crate::money::Money;
use serde::{Deserialize, Serialize};
use switchyard_actors::clock::Millis;

/// Sums over many requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageCounters {
    pub requests: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_creation_5m_tokens: u64,
    pub cache_creation_1h_tokens: u64,
    pub cache_read_tokens: u64,
    /// What the providers charge.
    pub cost: Money,
    /// After per-key multipliers.
    pub rated_cost: Money,
}

impl UsageCounters {
    /// The counters' names, in [`UsageCounters::to_array`] order (how stores lay them out).
    pub const FIELDS: [&'static str; 8] = [
        "requests",
        "input_tokens",
        "output_tokens",
        "cache_creation_5m_tokens",
        "cache_creation_1h_tokens",
        "cache_read_tokens",
        "cost",
        "rated_cost",
    ];

    /// Every counter as an integer (money in picodollars), in [`UsageCounters::FIELDS`] order.
    pub fn to_array(&self) -> [u64; 8] {
        [
            self.requests,
            self.input_tokens,
            self.output_tokens,
            self.cache_creation_5m_tokens,
            self.cache_creation_1h_tokens,
            self.cache_read_tokens,
            self.cost.picos(),
            self.rated_cost.picos(),
        ]
    }

    pub fn from_array(v: [u64; 8]) -> Self {
        UsageCounters {
            requests: v[0],
            input_tokens: v[1],
            output_tokens: v[2],
            cache_creation_5m_tokens: v[3],
            cache_creation_1h_tokens: v[4],
            cache_read_tokens: v[5],
            cost: Money::from_picos(v[6]),
            rated_cost: Money::from_picos(v[7]),
        }
    }

    pub fn one(u: &TokenUsage, cost: Money, rated_cost: Money) -> Self {
        UsageCounters {
            requests: 1,
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
            cache_creation_5m_tokens: u.cache_creation_5m_tokens,
            cache_creation_1h_tokens: u.cache_creation_1h_tokens,
            cache_read_tokens: u.cache_read_tokens,
            cost,
            rated_cost,
        }
    }

    pub fn add(&mut self, o: &UsageCounters) {
        self.requests += o.requests;
        self.input_tokens += o.input_tokens;
        self.output_tokens += o.output_tokens;
        self.cache_creation_5m_tokens += o.cache_creation_5m_tokens;
        self.cache_creation_1h_tokens += o.cache_creation_1h_tokens;
        self.cache_read_tokens += o.cache_read_tokens;
        self.cost += o.cost;
        self.rated_cost += o.rated_cost;
    }

    pub fn cache_creation_tokens(&self) -> u64 {
        self.cache_creation_5m_tokens + self.cache_creation_1h_tokens
    }
}

/// What usage is grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Dimension {
    Key,
    Account,
    Model,
}

impl Dimension {
    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Key => "key",
            Dimension::Account => "account",
            Dimension::Model => "model",
        }
    }
}

/// A time bucket's name: `total`, `m:2026-11`, `d:2026-11-27`, `h:2026-11-27T10`.
pub struct Bucket;

impl Bucket {
    pub const TOTAL: &'static str = "total";

    /// Days a dated bucket is kept, by kind (`h`, `d`, `m`); totals for ever. Both stores
    /// follow it: Redis as key TTLs, the embedded store in its retention pass.
    pub const RETENTION_DAYS: [(&'static str, u32); 3] = [("h", 7), ("d", 32), ("m", 400)];

    /// [`Bucket::RETENTION_DAYS`] of `bucket`'s kind (`None`: kept for ever).
    pub fn retention_days(bucket: &str) -> Option<u32> {
        let kind = bucket.split_once(':')?.0;
        Self::RETENTION_DAYS
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, days)| *days)
    }

    pub fn hour(cal: &Calendar, at: Millis) -> String {
        format!("h:{}", cal.hour(at))
    }
    pub fn day(cal: &Calendar, at: Millis) -> String {
        format!("d:{}", cal.day(at))
    }
    pub fn month(cal: &Calendar, at: Millis) -> String {
        format!("m:{}", cal.month(at))
    }
    /// Every bucket a request at the moment of `stamps` counts in.
    pub fn all(stamps: &Stamps) -> [String; 4] {
        [
            Self::TOTAL.to_owned(),
            format!("m:{}", stamps.month),
            format!("d:{}", stamps.day),
            format!("h:{}", stamps.hour),
        ]
    }
}

/// One request, kept per key for inspection (the newest N).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentRequest {
    pub at: Millis,
    pub account_id: String,
    pub model: String,
    #[serde(flatten)]
    pub usage: TokenUsage,
    pub cost: Money,
    pub rated_cost: Money,
    #[serde(default)]
    pub client_disconnected: bool,
}
