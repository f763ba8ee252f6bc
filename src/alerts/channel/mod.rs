//! Each channel kind's request for an alert: where it goes, which headers, which body, and
//! how the service says "refused" inside a 200 answer. One module per kind.
mod chat_bots;
mod telegram;
mod webhook;

use super::alert::Alert;
use super::settings::ChannelSettings;
use serde_json::{Value, json};

/// One HTTP POST to make.
pub struct Request {
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Request {
    fn json(url: impl Into<String>, body: &Value) -> Request {
        Request {
            url: url.into(),
            headers: Vec::new(),
            body: serde_json::to_vec(body).unwrap_or_default(),
        }
    }
}

/// The request that delivers `alert` to `channel`; `now_ms` dates signatures.
pub fn request(channel: &ChannelSettings, alert: &Alert, now_ms: i64) -> Request {
    let text = alert.text.as_str();
    match channel {
        ChannelSettings::Webhook { url, secret, .. } => {
            webhook::request(url.expose(), secret.expose(), alert, now_ms)
        }
        ChannelSettings::Slack { url, .. } => Request::json(url.expose(), &json!({ "text": text })),
        ChannelSettings::Discord { url, .. } => {
            Request::json(url.expose(), &json!({ "content": truncate(text, DISCORD_MAX) }))
        }
        ChannelSettings::Telegram {
            bot_token,
            chat_id,
            api_base_url,
            ..
        } => telegram::request(api_base_url, bot_token.expose(), chat_id, text),
        ChannelSettings::Feishu { url, secret, .. } => {
            chat_bots::feishu(url.expose(), secret.as_ref().map(|s| s.expose()), text, now_ms)
        }
        ChannelSettings::Dingtalk { url, secret, .. } => {
            chat_bots::dingtalk(url.expose(), secret.as_ref().map(|s| s.expose()), text, now_ms)
        }
        ChannelSettings::Wecom { url, .. } => chat_bots::wecom(url.expose(), text),
    }
}

/// Discord refuses `content` longer than this.
const DISCORD_MAX: usize = 2_000;

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

/// A refusal inside a successful HTTP answer: Feishu answers `{"code": n}`, DingTalk and
/// WeCom `{"errcode": n}`, Telegram `{"ok": false}`; anything but 0 / true is an error.
pub fn refusal(channel: &ChannelSettings, body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let (field, message) = match channel {
        ChannelSettings::Feishu { .. } => ("code", "msg"),
        ChannelSettings::Dingtalk { .. } | ChannelSettings::Wecom { .. } => ("errcode", "errmsg"),
        ChannelSettings::Telegram { .. } => {
            return (v["ok"] == false).then(|| v["description"].as_str().unwrap_or("refused").to_owned());
        }
        _ => return None,
    };
    let code = v[field].as_i64().filter(|c| *c != 0)?;
    Some(format!("{field} {code}: {}", v[message].as_str().unwrap_or("")))
}
