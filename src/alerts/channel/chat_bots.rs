//! The group-chat robots of Feishu / Lark, DingTalk and WeCom: a text message in each one's
//! documented JSON, with Feishu's and DingTalk's optional signatures.
use super::Request;
use crate::alerts::sign;
use serde_json::json;

/// Feishu custom bot: `{"msg_type":"text","content":{"text":..}}`, plus `timestamp` (seconds,
/// as a string) and `sign` when signing is on.
pub fn feishu(url: &str, secret: Option<&str>, text: &str, now_ms: i64) -> Request {
    let mut body = json!({ "msg_type": "text", "content": { "text": text } });
    if let Some(secret) = secret {
        let timestamp = now_ms / 1_000;
        body["timestamp"] = json!(timestamp.to_string());
        body["sign"] = json!(sign::feishu(secret, timestamp));
    }
    Request::json(url, &body)
}

/// DingTalk robot: `{"msgtype":"text","text":{"content":..}}`; with signing, `timestamp` (ms)
/// and `sign` go into the URL's query.
pub fn dingtalk(url: &str, secret: Option<&str>, text: &str, now_ms: i64) -> Request {
    let body = json!({ "msgtype": "text", "text": { "content": text } });
    let url = match secret {
        Some(secret) => {
            let sign: String =
                form_urlencoded::byte_serialize(sign::dingtalk(secret, now_ms).as_bytes()).collect();
            let sep = if url.contains('?') { '&' } else { '?' };
            format!("{url}{sep}timestamp={now_ms}&sign={sign}")
        }
        None => url.to_owned(),
    };
    Request::json(url, &body)
}

/// WeCom group robot: `{"msgtype":"text","text":{"content":..}}`.
pub fn wecom(url: &str, text: &str) -> Request {
    Request::json(url, &json!({ "msgtype": "text", "text": { "content": text } }))
}
