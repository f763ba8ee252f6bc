//! The generic webhook: the alert's JSON, signed (see `sign::webhook`).
use super::Request;
use crate::alerts::alert::Alert;
use crate::alerts::sign;

pub const SIGNATURE_HEADER: &str = "x-switchyard-signature";
pub const TIMESTAMP_HEADER: &str = "x-switchyard-timestamp";

pub fn request(url: &str, secret: &str, alert: &Alert, now_ms: i64) -> Request {
    let body = serde_json::to_vec(alert).unwrap_or_default();
    let timestamp = now_ms / 1_000;
    Request {
        url: url.to_owned(),
        headers: vec![
            (TIMESTAMP_HEADER, timestamp.to_string()),
            (SIGNATURE_HEADER, sign::webhook(secret, timestamp, &body)),
        ],
        body,
    }
}
