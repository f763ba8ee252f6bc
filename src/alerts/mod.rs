//! Account alerts: the pool announces account state changes (a cooldown, a usage limit, a
//! refused credential, an account taken out of service, a recovery); this module turns them
//! into notifications for the channels in `[alerts]` (a signed JSON webhook, Slack, Discord,
//! Telegram, Feishu, DingTalk, WeCom).
//!
//! Never on the request path: the pool hands each event to a bounded queue and returns (a full
//! queue drops the event, with a metric and a log line); one background task deduplicates
//! (per account and kind within `dedup_window_secs`, across instances through the store) and
//! delivers to every channel with bounded retries.
pub mod alert;
mod channel;
mod dedup;
mod delivery;
pub mod settings;
mod sign;

pub use alert::{Alert, AlertKind};
pub use channel::Request;
pub use delivery::DeliveryError;
pub use settings::{AlertSettings, ChannelSettings, Sensitive};

use crate::metrics::Metrics;
use dedup::{Dedup, Verdict};
use serde::Serialize;
use std::sync::Arc;
use switchyard_actors::clock::SharedClock;
use switchyard_actors::pool::{AccountEvent, AccountEventSink};
use switchyard_actors::{Scheduling, Store};
use tokio::sync::{Semaphore, mpsc};

/// Deliveries (alert × channel) in flight at once, retries included.
const PARALLEL_DELIVERIES: usize = 16;

/// The alerting handle: cheap to clone; the background task lives as long as one clone does.
#[derive(Clone)]
pub struct Alerts {
    inner: Arc<Inner>,
}

struct Inner {
    settings: AlertSettings,
    http: reqwest::Client,
    clock: SharedClock,
    metrics: Arc<Metrics>,
    queue: Option<mpsc::Sender<Alert>>,
}

/// How one channel took the test notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelReport {
    pub channel: String,
    pub kind: &'static str,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Alerts {
    /// Starts the delivery task (when channels are configured) and subscribes it to the
    /// pool's account events. Call inside the runtime.
    pub fn start(
        settings: AlertSettings,
        scheduling: &Scheduling,
        store: Arc<dyn Store>,
        clock: SharedClock,
        metrics: Arc<Metrics>,
    ) -> Result<Alerts, reqwest::Error> {
        let http = reqwest::Client::builder().build()?;
        let queue = if settings.channels.is_empty() {
            None
        } else {
            let (tx, rx) = mpsc::channel(settings.queue_capacity.max(1));
            Some((tx, rx))
        };
        let (queue, rx) = match queue {
            Some((tx, rx)) => (Some(tx), Some(rx)),
            None => (None, None),
        };
        let alerts = Alerts {
            inner: Arc::new(Inner {
                settings,
                http,
                clock,
                metrics,
                queue,
            }),
        };
        if let Some(rx) = rx {
            let worker = alerts.clone();
            tokio::spawn(async move { worker.deliver_all(rx, store).await });
            scheduling.on_account_events(Arc::new(alerts.clone()));
        }
        Ok(alerts)
    }

    /// Queues an alert; never waits. A full queue drops it (counted and logged).
    pub fn enqueue(&self, alert: Alert) {
        let Some(queue) = &self.inner.queue else {
            return;
        };
        match queue.try_send(alert) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(alert)) => {
                self.inner.metrics.alerts_dropped.inc();
                tracing::warn!(
                    event = alert.event.as_str(),
                    account = alert.account.as_ref().map_or("", |a| a.id.as_str()),
                    capacity = self.inner.settings.queue_capacity,
                    "alert queue full; alert dropped"
                );
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    /// Sends a test notification to every configured channel now (one attempt each, no
    /// deduplication) and reports how each took it: the admin API's, the CLI's and the
    /// dashboard's "send test alert".
    pub async fn send_test(&self) -> Vec<ChannelReport> {
        let s = &self.inner.settings;
        let alert = Alert::test(self.inner.clock.now_ms());
        let timeout = std::time::Duration::from_millis(s.timeout_ms);
        let sends = s.channels.iter().map(|channel| {
            let request = channel::request(channel, &alert, self.inner.clock.now_ms());
            let http = self.inner.http.clone();
            async move {
                let result = delivery::send_once(&http, channel, &request, timeout).await;
                self.count(channel, if result.is_ok() { "sent" } else { "failed" });
                ChannelReport {
                    channel: channel.label(),
                    kind: channel.kind(),
                    ok: result.is_ok(),
                    error: result.err().map(|e| e.to_string()),
                }
            }
        });
        futures::future::join_all(sends).await
    }

    fn count(&self, channel: &ChannelSettings, result: &str) {
        self.inner
            .metrics
            .alerts
            .with_label_values(&[channel.kind(), result])
            .inc();
    }

    /// The background task: deduplicate, then deliver to every channel (a bounded number of
    /// deliveries at once, each retried with backoff).
    async fn deliver_all(self, mut rx: mpsc::Receiver<Alert>, store: Arc<dyn Store>) {
        let s = &self.inner.settings;
        let window_ms = i64::try_from(s.dedup_window_secs.saturating_mul(1_000)).unwrap_or(i64::MAX);
        let dedup = Dedup::new(window_ms);
        let slots = Arc::new(Semaphore::new(PARALLEL_DELIVERIES));
        while let Some(alert) = rx.recv().await {
            let Some(alert) = self.deduplicate(&dedup, &*store, alert, window_ms).await else {
                for channel in &s.channels {
                    self.count(channel, "suppressed");
                }
                continue;
            };
            for index in 0..s.channels.len() {
                let Ok(permit) = slots.clone().acquire_owned().await else {
                    return;
                };
                let (this, alert) = (self.clone(), alert.clone());
                tokio::spawn(async move {
                    this.deliver(index, &alert).await;
                    drop(permit);
                });
            }
        }
    }

    /// The alert to send (with the count of those left out before it), or None to leave it out.
    async fn deduplicate(
        &self,
        dedup: &Dedup,
        store: &dyn Store,
        alert: Alert,
        window_ms: i64,
    ) -> Option<Alert> {
        let account = alert.account.as_ref().map(|a| a.id.clone()).unwrap_or_default();
        let Verdict::Send { suppressed } = dedup.check(&account, alert.event, self.inner.clock.now_ms())
        else {
            return None;
        };
        // Several instances see the same change (each reloads the records, each may time the
        // same recovery): the first to claim it in the store sends it.
        let name = format!("{account}:{}", alert.event.as_str());
        match store.claim_alert(&name, window_ms).await {
            Ok(false) => return None,
            Ok(true) => {}
            Err(e) => tracing::warn!(error = %e, "alert dedup claim failed; sending anyway"),
        }
        Some(alert.with_suppressed(suppressed))
    }

    async fn deliver(&self, index: usize, alert: &Alert) {
        let s = &self.inner.settings;
        let channel = &s.channels[index];
        let request = channel::request(channel, alert, self.inner.clock.now_ms());
        let (attempts, result) = delivery::send_with_retries(&self.inner.http, channel, &request, s).await;
        match result {
            Ok(()) => {
                self.count(channel, "sent");
                tracing::info!(channel = %channel.label(), event = alert.event.as_str(), attempts, "alert sent");
            }
            Err(e) => {
                self.count(channel, "failed");
                tracing::warn!(channel = %channel.label(), event = alert.event.as_str(), attempts, error = %e, "alert delivery failed");
            }
        }
    }
}

impl AccountEventSink for Alerts {
    fn account_event(&self, event: AccountEvent) {
        self.enqueue(Alert::from_event(&event));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_actors::SystemClock;

    #[actix_rt::test]
    async fn a_full_queue_drops_and_counts_without_waiting() {
        let (tx, _rx) = mpsc::channel(1);
        let metrics = Arc::new(Metrics::new());
        let alerts = Alerts {
            inner: Arc::new(Inner {
                settings: AlertSettings {
                    queue_capacity: 1,
                    ..AlertSettings::default()
                },
                http: reqwest::Client::new(),
                clock: Arc::new(SystemClock),
                metrics: metrics.clone(),
                queue: Some(tx),
            }),
        };
        // Nobody takes from the queue: the first alert fills it, the next two are dropped.
        for _ in 0..3 {
            alerts.enqueue(Alert::test(0));
        }
        assert_eq!(metrics.alerts_dropped.get(), 2);
    }
}
