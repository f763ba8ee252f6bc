//! Sending one request to one channel, with bounded retries and exponential backoff.
use super::channel::{self, Request};
use super::settings::{AlertSettings, ChannelSettings};
use std::time::Duration;

/// Why a delivery failed, and whether trying again may help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// No answer (connection refused, timed out). Never carries the URL: it may hold a token.
    #[error("could not reach the channel: {0}")]
    Unreachable(&'static str),
    #[error("the channel answered HTTP {0}")]
    Status(u16),
    /// An answer that says the message was refused (a bad signature, say).
    #[error("the channel refused the message: {0}")]
    Refused(String),
}

impl DeliveryError {
    /// Worth another attempt: the channel was down, busy or rate-limiting.
    pub fn retryable(&self) -> bool {
        match self {
            DeliveryError::Unreachable(_) => true,
            DeliveryError::Status(s) => *s == 408 || *s == 429 || *s >= 500,
            DeliveryError::Refused(_) => false,
        }
    }
}

/// The wait before retry number `retry` (1 for the first): doubling from `retry_initial_ms`,
/// capped at `retry_max_ms`.
pub fn backoff(s: &AlertSettings, retry: u32) -> Duration {
    let factor = 1u64.checked_shl(retry.saturating_sub(1)).unwrap_or(u64::MAX);
    Duration::from_millis(s.retry_initial_ms.saturating_mul(factor).min(s.retry_max_ms))
}

/// One attempt.
pub async fn send_once(
    http: &reqwest::Client,
    channel: &ChannelSettings,
    request: &Request,
    timeout: Duration,
) -> Result<(), DeliveryError> {
    let mut builder = http
        .post(&request.url)
        .timeout(timeout)
        .header("content-type", "application/json")
        .body(request.body.clone());
    for (name, value) in &request.headers {
        builder = builder.header(*name, value);
    }
    let answer = builder.send().await.map_err(|e| {
        DeliveryError::Unreachable(if e.is_timeout() {
            "timed out"
        } else if e.is_connect() {
            "connection failed"
        } else {
            "request failed"
        })
    })?;
    let status = answer.status().as_u16();
    let body = answer.bytes().await.unwrap_or_default();
    if !(200..300).contains(&status) {
        return Err(DeliveryError::Status(status));
    }
    match channel::refusal(channel, &body) {
        Some(why) => Err(DeliveryError::Refused(why)),
        None => Ok(()),
    }
}

/// Up to `max_attempts` attempts; returns the attempts made and the last error.
pub async fn send_with_retries(
    http: &reqwest::Client,
    channel: &ChannelSettings,
    request: &Request,
    s: &AlertSettings,
) -> (u32, Result<(), DeliveryError>) {
    let timeout = Duration::from_millis(s.timeout_ms);
    let mut attempt = 1;
    loop {
        match send_once(http, channel, request, timeout).await {
            Err(e) if e.retryable() && attempt < s.max_attempts => {
                tracing::debug!(channel = %channel.label(), attempt, error = %e, "alert delivery failed; retrying");
                tokio::time::sleep(backoff(s, attempt)).await;
                attempt += 1;
            }
            done => return (attempt, done),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let s = AlertSettings {
            retry_initial_ms: 100,
            retry_max_ms: 1_000,
            ..AlertSettings::default()
        };
        let waits: Vec<u128> = (1..=6).map(|r| backoff(&s, r).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 800, 1_000, 1_000]);
        assert_eq!(backoff(&s, 200).as_millis(), 1_000);
    }
}
