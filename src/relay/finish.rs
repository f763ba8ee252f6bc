//! The end of a relayed request, whichever way it comes (answer complete, upstream error,
//! idle timeout, client gone): usage recorded once, the slot released, one log line.
use crate::keys::ApiKey;
use crate::telemetry::LogText;
use crate::upstream::UsageTap;
use crate::usage::{UsageRecord, UsageRecorder};
use std::sync::Arc;
use std::time::Instant;
use switchyard_actors::clock::{Millis, SharedClock};
use switchyard_actors::pool::{MarkOutcome, Outcome};
use switchyard_actors::{AccountId, Lease, Platform, Scheduling};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Complete,
    UpstreamError,
    IdleTimeout,
    ClientGone,
}

impl Ending {
    fn as_str(self) -> &'static str {
        match self {
            Ending::Complete => "complete",
            Ending::UpstreamError => "upstream_error",
            Ending::IdleTimeout => "idle_timeout",
            // The upstream's answer was still read to its end, or to the drain's bounds.
            Ending::ClientGone => "client_disconnected",
        }
    }
}

/// Everything needed to close out one request.
pub struct Finish {
    pub(crate) lease: Option<Lease>,
    /// The key's concurrency slot, held for as long as the account's.
    pub(crate) key_slot: Option<Lease>,
    pub(crate) tap: Box<dyn UsageTap>,
    pub(crate) usage: Arc<UsageRecorder>,
    pub(crate) key: Arc<ApiKey>,
    pub(crate) window_start: Option<Millis>,
    pub(crate) scheduling: Scheduling,
    pub(crate) clock: SharedClock,
    pub(crate) account_id: AccountId,
    pub(crate) platform: Platform,
    pub(crate) model: String,
    pub(crate) status: u16,
    pub(crate) attempts: usize,
    pub(crate) started: Instant,
    pub(crate) upstream_sent: Instant,
    pub(crate) request_id: String,
    pub(crate) metrics: Arc<crate::metrics::Metrics>,
    /// How much of the answer is still read once its client left (`None`: cut at once).
    pub(crate) drain: Option<super::drain::Bounds>,
    pub(crate) done: bool,
}

impl Finish {
    pub fn is_done(&self) -> bool {
        self.done
    }

    pub fn feed(&mut self, chunk: &[u8]) {
        if !self.done {
            self.tap.feed(chunk);
        }
    }

    /// Records usage and releases the slot; later calls do nothing.
    pub fn complete(&mut self, ending: Ending) {
        if self.done {
            return;
        }
        self.done = true;
        let seen = self.tap.finish();
        let (usage, model) = match seen {
            Some((u, m)) => (Some(u), m.unwrap_or_else(|| self.model.clone())),
            None => (None, self.model.clone()),
        };
        let mut cost = None;
        if let Some(usage) = usage {
            let at = self.clock.now_ms();
            let limits = &self.key.limits;
            let week = self
                .usage
                .calendar()
                .week_bucket(at, limits.reset_day(), limits.weekly_reset_hour);
            let record = UsageRecord {
                key_id: self.key.id.clone(),
                account_id: self.account_id.clone(),
                platform: self.platform,
                model: model.clone(),
                usage,
                at,
                client_disconnected: ending == Ending::ClientGone,
                cost_multiplier_ppm: self.key.cost_multiplier_ppm,
                window_start: self.window_start,
            };
            cost = Some(self.usage.record(&record, week));
        }
        drop(self.lease.take());
        drop(self.key_slot.take());
        if ending == Ending::IdleTimeout {
            self.mark(Outcome::Timeout);
        }
        if let Some(h) = self.tap.limit_reached() {
            self.mark(Outcome::UsageLimit {
                retry_after_ms: h.retry_after_ms,
                reset_at: h.reset_at,
            });
        }
        let u = usage.unwrap_or_default();
        let platform = self.platform.as_str();
        // Model names come from clients and upstreams: bound the label's size.
        let model_label: String = model.chars().take(64).collect();
        self.metrics
            .upstream_seconds
            .with_label_values(&[platform])
            .observe(self.upstream_sent.elapsed().as_secs_f64());
        if usage.is_some() {
            for (class, n) in [
                ("input", u.input_tokens),
                ("output", u.output_tokens),
                ("cache_creation", u.cache_creation_tokens()),
                ("cache_read", u.cache_read_tokens),
            ] {
                self.metrics
                    .tokens
                    .with_label_values(&[platform, &model_label, class])
                    .inc_by(n);
            }
        }
        if let Some(c) = cost {
            self.metrics
                .cost_micro_usd
                .with_label_values(&[platform, &model_label])
                .inc_by(c.real.micros());
        }
        tracing::info!(
            request_id = %self.request_id,
            key_id = %self.key.id,
            account = %self.account_id,
            platform = %self.platform,
            model = %LogText(&model),
            status = self.status,
            ending = ending.as_str(),
            attempts = self.attempts,
            input_tokens = u.input_tokens,
            output_tokens = u.output_tokens,
            cache_creation_tokens = u.cache_creation_tokens(),
            cache_read_tokens = u.cache_read_tokens,
            cost_usd = %cost.map(|c| c.real.usd_string()).unwrap_or_default(),
            duration_ms = self.started.elapsed().as_millis() as u64,
            "request finished"
        );
    }

    fn mark(&self, outcome: Outcome) {
        let msg = MarkOutcome {
            account: self.account_id.clone(),
            outcome,
            model: Some(self.model.clone()),
        };
        let (scheduling, metrics) = (self.scheduling.clone(), self.metrics.clone());
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move { super::report_outcome(&scheduling, &metrics, msg).await });
        }
    }
}

impl Drop for Finish {
    fn drop(&mut self) {
        self.complete(Ending::ClientGone);
    }
}
