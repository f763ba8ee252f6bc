//! HMAC-SHA256 signatures: the generic webhook's, and the Feishu and DingTalk bots' schemes.
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

fn hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length: `new_from_slice` cannot fail for it.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap_or_else(|_| unreachable!("any key length"));
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// `X-Switchyard-Signature`: `sha256=` and the hex HMAC of `"{timestamp}.{body}"` under the
/// channel's secret (the timestamp, in unix seconds, is `X-Switchyard-Timestamp`).
pub fn webhook(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut message = format!("{timestamp}.").into_bytes();
    message.extend_from_slice(body);
    format!("sha256={}", hex::encode(hmac(secret.as_bytes(), &message)))
}

/// Feishu: base64 of the HMAC whose *key* is `"{timestamp}\n{secret}"` over an empty message
/// (timestamp in seconds).
pub fn feishu(secret: &str, timestamp: i64) -> String {
    STANDARD.encode(hmac(format!("{timestamp}\n{secret}").as_bytes(), b""))
}

/// DingTalk: base64 of the HMAC of `"{timestamp}\n{secret}"` under the secret (timestamp in
/// milliseconds); the caller URL-encodes it into the `sign` query parameter.
pub fn dingtalk(secret: &str, timestamp_ms: i64) -> String {
    STANDARD.encode(hmac(
        secret.as_bytes(),
        format!("{timestamp_ms}\n{secret}").as_bytes(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha256_matches_rfc_4231_case_2() {
        let mac = hmac(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn the_webhook_signature_covers_timestamp_and_body() {
        let a = webhook("s", 1, b"{}");
        assert!(a.starts_with("sha256=") && a.len() == 7 + 64);
        assert_ne!(a, webhook("s", 2, b"{}"));
        assert_ne!(a, webhook("s", 1, b"{ }"));
        assert_ne!(a, webhook("t", 1, b"{}"));
    }
}
