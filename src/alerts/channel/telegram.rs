//! Telegram: the Bot API's `sendMessage` to one chat. The bot token is part of the URL, so
//! the URL is never logged (delivery errors are reported without it).
use super::Request;
use serde_json::json;

pub fn request(api_base_url: &str, bot_token: &str, chat_id: &str, text: &str) -> Request {
    let url = format!(
        "{}/bot{bot_token}/sendMessage",
        api_base_url.trim_end_matches('/')
    );
    Request::json(url, &json!({ "chat_id": chat_id, "text": text }))
}
