//! Prometheus metrics, one registry per application (tests run many side by side). Counters and
//! histograms are updated as requests flow; pool gauges (slots, account states, actor
//! restarts, store traffic) are read from their owners at scrape time.
use crate::store::StoreStats;
use parking_lot::Mutex;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use switchyard_actors::system::ActorName;

const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
    300.0,
];

/// Distinct `model` label values the metrics keep; requests for further models are counted
/// under [`OTHER_MODEL`]. Model names come from clients (and reach the metrics whenever an
/// upstream answers, which lenient upstreams do for any name), so without a bound one client
/// could grow every scrape, and the server's memory, without limit.
/// Slot waits run from milliseconds to `scheduler.slot_wait_ms` (a minute by default).
const WAIT_BUCKETS: [f64; 12] = [
    0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 40.0, 60.0,
];

pub const MAX_MODEL_LABELS: usize = 100;
pub const OTHER_MODEL: &str = "other";

/// The `model` label values in use, shared by every metric that has the label so they agree
/// on which models are named and which are `other`.
#[derive(Default)]
struct ModelLabels(Mutex<HashSet<String>>);

impl ModelLabels {
    /// `model` itself while it is one of the first [`MAX_MODEL_LABELS`] seen, else `other`.
    fn label<'a>(&self, model: &'a str) -> &'a str {
        let mut seen = self.0.lock();
        if seen.contains(model) || (seen.len() < MAX_MODEL_LABELS && seen.insert(model.to_owned())) {
            model
        } else {
            OTHER_MODEL
        }
    }
}

/// A counter family with a bounded `model` label (see [`MAX_MODEL_LABELS`]).
pub struct ModelCounterVec {
    inner: IntCounterVec,
    /// Position of `model` among the labels.
    model_at: usize,
    models: Arc<ModelLabels>,
}

impl ModelCounterVec {
    /// The counter for these label values, the model replaced by `other` past the bound.
    pub fn with_label_values(&self, values: &[&str]) -> IntCounter {
        let mut values = values.to_vec();
        if let Some(model) = values.get_mut(self.model_at) {
            *model = self.models.label(model);
        }
        self.inner.with_label_values(&values)
    }
}

pub struct Metrics {
    registry: Registry,
    /// Every answered request, by route pattern and status.
    pub requests: IntCounterVec,
    /// Upstream request duration, first byte to last, per platform.
    pub upstream_seconds: HistogramVec,
    /// Time from sending upstream to the answer's headers.
    pub upstream_ttfb_seconds: HistogramVec,
    /// Time switchyard spent before the request went upstream (auth, parsing, scheduling).
    pub added_seconds: HistogramVec,
    pub tokens: ModelCounterVec,
    /// Provider cost in micro-dollars.
    pub cost_micro_usd: ModelCounterVec,
    pub cooldowns: IntCounterVec,
    pub failovers: IntCounterVec,
    /// How long requests waited for an account slot (only those that waited), per platform.
    pub slot_wait_seconds: HistogramVec,
    /// Requests refused after waiting for a slot, per platform and reason (`timeout`,
    /// `queue_full`).
    pub slot_wait_refusals: IntCounterVec,
    slot_waiters: IntGaugeVec,
    slots_in_use: IntGaugeVec,
    slot_limit: IntGaugeVec,
    accounts: IntGaugeVec,
    actor_restarts: IntGaugeVec,
    actor_messages: IntGaugeVec,
    actor_timeouts: IntGaugeVec,
    store_ops: IntGaugeVec,
    store_errors: IntGaugeVec,
    pub store_stats: Arc<StoreStats>,
    /// Requests refused because switchyard ran out of its own resources (file descriptors,
    /// memory, local ports), by kind: never counted against an account.
    pub local_resource_faults: IntCounterVec,
    /// Upstream answers read on after their client left, by how the read ended.
    pub disconnect_drains: IntCounterVec,
    /// Real user turns at a paced account's gate, by how the wait ended (`immediate`,
    /// `waited`, `timeout`, `left`).
    pub pacing_waits: IntCounterVec,
    /// Time real user turns waited at a paced account's gate (those that got through).
    pub pacing_wait_seconds: prometheus::Histogram,
    /// Account alerts per channel kind and result (`sent`, `failed` after retries,
    /// `suppressed` by deduplication).
    pub alerts: IntCounterVec,
    /// Account alerts dropped because the delivery queue was full.
    pub alerts_dropped: IntCounter,
    /// Relayed requests and errors per minute over the last hour (the dashboard's overview).
    pub per_minute: crate::traffic::MinuteRing,
}

fn counter(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    r.register(Box::new(c.clone())).expect("unique metric");
    c
}

fn gauge(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
    r.register(Box::new(g.clone())).expect("unique metric");
    g
}

fn histogram(r: &Registry, name: &str, help: &str, labels: &[&str]) -> HistogramVec {
    let h = HistogramVec::new(
        HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec()),
        labels,
    )
    .expect("valid metric");
    r.register(Box::new(h.clone())).expect("unique metric");
    h
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric (start-up only: names are constants, so this cannot fail).
    pub fn new() -> Self {
        let r = Registry::new_custom(Some("switchyard".into()), None).expect("valid prefix");
        let models = Arc::new(ModelLabels::default());
        let by_model = |inner, model_at| ModelCounterVec {
            inner,
            model_at,
            models: models.clone(),
        };
        Metrics {
            requests: counter(
                &r,
                "requests_total",
                "Requests answered, by route and status",
                &["route", "status"],
            ),
            upstream_seconds: histogram(&r, "upstream_seconds", "Upstream request duration", &["platform"]),
            upstream_ttfb_seconds: histogram(
                &r,
                "upstream_ttfb_seconds",
                "Upstream time to first byte",
                &["platform"],
            ),
            added_seconds: histogram(
                &r,
                "added_latency_seconds",
                "Time spent before going upstream",
                &["platform"],
            ),
            tokens: by_model(
                counter(
                    &r,
                    "tokens_total",
                    "Tokens by platform, model and class",
                    &["platform", "model", "class"],
                ),
                1,
            ),
            cost_micro_usd: by_model(
                counter(
                    &r,
                    "cost_micro_usd_total",
                    "Provider cost in micro-dollars",
                    &["platform", "model"],
                ),
                1,
            ),
            cooldowns: counter(
                &r,
                "cooldowns_total",
                "Account cooldowns started, by reason",
                &["reason"],
            ),
            failovers: counter(
                &r,
                "failovers_total",
                "Requests moved to another account",
                &["platform"],
            ),
            slot_wait_seconds: {
                let h = HistogramVec::new(
                    HistogramOpts::new(
                        "slot_wait_seconds",
                        "Time requests waited for an account slot (those that waited)",
                    )
                    .buckets(WAIT_BUCKETS.to_vec()),
                    &["platform"],
                )
                .expect("valid metric");
                r.register(Box::new(h.clone())).expect("unique metric");
                h
            },
            slot_wait_refusals: counter(
                &r,
                "slot_wait_timeouts_total",
                "Requests answered with an overload error after waiting for a slot, by reason (timeout, queue_full)",
                &["platform", "reason"],
            ),
            slot_waiters: gauge(
                &r,
                "slot_waiters",
                "Requests waiting for an account slot on this instance",
                &["platform"],
            ),
            slots_in_use: gauge(&r, "account_slots_in_use", "Slots held per account", &["account"]),
            slot_limit: gauge(
                &r,
                "account_slot_limit",
                "Slot limit per account (0 = unlimited)",
                &["account"],
            ),
            accounts: gauge(
                &r,
                "accounts",
                "Accounts by platform and state",
                &["platform", "state"],
            ),
            actor_restarts: gauge(&r, "actor_restarts", "Supervisor restarts per actor", &["actor"]),
            actor_messages: gauge(&r, "actor_messages", "Messages sent to each actor", &["actor"]),
            actor_timeouts: gauge(
                &r,
                "actor_timeouts",
                "Messages to each actor that timed out",
                &["actor"],
            ),
            store_ops: gauge(
                &r,
                "store_operations",
                "State store operations (round trips)",
                &["store"],
            ),
            store_errors: gauge(
                &r,
                "store_errors",
                "State store operations that failed",
                &["store"],
            ),
            local_resource_faults: local_resource_faults(&r),
            disconnect_drains: counter(
                &r,
                "disconnect_drains_total",
                "Upstream answers read on after the client left, by how the read ended",
                &["result"],
            ),
            pacing_waits: counter(
                &r,
                "pacing_waits_total",
                "Real user turns at a paced account's gate, by result (immediate, waited, timeout, left)",
                &["result"],
            ),
            pacing_wait_seconds: {
                let h = prometheus::Histogram::with_opts(
                    HistogramOpts::new(
                        "pacing_wait_seconds",
                        "Time real user turns waited at a paced account's gate (those that got through)",
                    )
                    .buckets(WAIT_BUCKETS.to_vec()),
                )
                .expect("valid metric");
                r.register(Box::new(h.clone())).expect("unique metric");
                h
            },
            alerts: counter(
                &r,
                "alerts_total",
                "Account alerts per channel kind and result (sent, failed, suppressed)",
                &["channel", "result"],
            ),
            alerts_dropped: {
                let c = IntCounter::new(
                    "alerts_dropped_total",
                    "Account alerts dropped: the delivery queue was full",
                )
                .expect("valid metric");
                r.register(Box::new(c.clone())).expect("unique metric");
                c
            },
            registry: r,
            store_stats: Arc::default(),
            per_minute: Default::default(),
        }
    }

    /// The text exposition, with pool gauges refreshed first (at `now`).
    pub async fn render(
        &self,
        scheduling: &switchyard_actors::Scheduling,
        now: switchyard_actors::clock::Millis,
    ) -> String {
        let snapshot = scheduling.snapshot();
        let slots = scheduling.slot_counts().await.unwrap_or_default();
        self.slots_in_use.reset();
        self.slot_limit.reset();
        self.accounts.reset();
        for e in snapshot.all() {
            let a = &e.account;
            let id = a.id.as_str();
            self.slots_in_use
                .with_label_values(&[id])
                .set(i64::from(slots.get(&a.id).copied().unwrap_or(0)));
            self.slot_limit
                .with_label_values(&[id])
                .set(i64::from(a.max_concurrency));
            let st = if !a.is_enabled() {
                "disabled"
            } else if e.health.active_cooldown(now).is_some() {
                "cooling_down"
            } else if e.health.family_limits.iter().any(|l| l.until > now) {
                "family_limited"
            } else {
                "available"
            };
            self.accounts
                .with_label_values(&[a.platform().as_str(), st])
                .inc();
        }
        for actor in ActorName::ALL {
            self.actor_restarts
                .with_label_values(&[actor.as_str()])
                .set(scheduling.restarts(actor) as i64);
            let calls = scheduling.call_stats(actor);
            self.actor_messages
                .with_label_values(&[actor.as_str()])
                .set(calls.sent as i64);
            self.actor_timeouts
                .with_label_values(&[actor.as_str()])
                .set(calls.timed_out as i64);
        }
        self.store_ops
            .with_label_values(&["state"])
            .set(self.store_stats.ops.load(Ordering::Relaxed) as i64);
        for platform in switchyard_actors::Platform::ALL {
            self.slot_waiters
                .with_label_values(&[platform.as_str()])
                .set(scheduling.waiters(platform) as i64);
        }
        self.store_errors
            .with_label_values(&["state"])
            .set(self.store_stats.errors.load(Ordering::Relaxed) as i64);
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(error = %e, "encoding metrics failed");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

/// Every kind is shown from the start (at 0): a dashboard sees the series before the first fault.
fn local_resource_faults(r: &Registry) -> IntCounterVec {
    let c = counter(
        r,
        "local_resource_faults_total",
        "Requests answered as overloaded because switchyard ran out of a local resource",
        &["kind"],
    );
    for kind in ["file_descriptors", "memory", "local_ports"] {
        c.with_label_values(&[kind]);
    }
    c
}
