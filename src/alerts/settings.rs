//! `[alerts]`: where account alerts go and how hard delivery tries. A secret (a channel URL
//! with a token in it, a signing secret, a bot token) may be written `env:NAME` to read it from
//! the environment at start-up instead of keeping it in the file.
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertSettings {
    /// One alert per account and event kind within this window; later ones are counted and
    /// reported with the next alert ("N more events suppressed").
    pub dedup_window_secs: u64,
    /// Alerts waiting for delivery at most; past it new ones are dropped (metric + log line).
    pub queue_capacity: usize,
    /// Deliveries per alert and channel, the first included.
    pub max_attempts: u32,
    /// Wait before the first retry; doubles per retry up to `retry_max_ms`.
    pub retry_initial_ms: u64,
    pub retry_max_ms: u64,
    /// One delivery attempt may take this long.
    pub timeout_ms: u64,
    pub channels: Vec<ChannelSettings>,
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            dedup_window_secs: 300,
            queue_capacity: 1_024,
            max_attempts: 5,
            retry_initial_ms: 1_000,
            retry_max_ms: 60_000,
            timeout_ms: 10_000,
            channels: Vec::new(),
        }
    }
}

/// One destination. `name` labels it in reports (default: its kind).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum ChannelSettings {
    /// A JSON POST signed with HMAC-SHA256 (`X-Switchyard-Signature`), see the README.
    Webhook {
        #[serde(default)]
        name: Option<String>,
        url: Sensitive,
        secret: Sensitive,
    },
    /// A Slack incoming webhook.
    Slack {
        #[serde(default)]
        name: Option<String>,
        url: Sensitive,
    },
    /// A Discord channel webhook.
    Discord {
        #[serde(default)]
        name: Option<String>,
        url: Sensitive,
    },
    /// A Telegram bot's `sendMessage` to one chat.
    Telegram {
        #[serde(default)]
        name: Option<String>,
        bot_token: Sensitive,
        /// A number (`-1001234567890`) or a `@channelusername`.
        #[serde(deserialize_with = "number_or_string")]
        chat_id: String,
        #[serde(default = "telegram_api")]
        api_base_url: String,
    },
    /// A Feishu / Lark custom bot; `secret` when its signature check is on.
    Feishu {
        #[serde(default)]
        name: Option<String>,
        url: Sensitive,
        #[serde(default)]
        secret: Option<Sensitive>,
    },
    /// A DingTalk custom robot; `secret` when it uses signing ("加签").
    Dingtalk {
        #[serde(default)]
        name: Option<String>,
        url: Sensitive,
        #[serde(default)]
        secret: Option<Sensitive>,
    },
    /// A WeCom (WeChat Work) group robot.
    Wecom {
        #[serde(default)]
        name: Option<String>,
        url: Sensitive,
    },
}

/// Telegram chat ids are numbers, and TOML writes them unquoted; `@name` is a string.
fn number_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Number(i64),
        Text(String),
    }
    Ok(match Id::deserialize(d)? {
        Id::Number(n) => n.to_string(),
        Id::Text(s) => s,
    })
}

fn telegram_api() -> String {
    "https://api.telegram.org".into()
}

impl ChannelSettings {
    pub fn kind(&self) -> &'static str {
        match self {
            ChannelSettings::Webhook { .. } => "webhook",
            ChannelSettings::Slack { .. } => "slack",
            ChannelSettings::Discord { .. } => "discord",
            ChannelSettings::Telegram { .. } => "telegram",
            ChannelSettings::Feishu { .. } => "feishu",
            ChannelSettings::Dingtalk { .. } => "dingtalk",
            ChannelSettings::Wecom { .. } => "wecom",
        }
    }

    /// What reports call it: its `name`, else its kind.
    pub fn label(&self) -> String {
        let name = match self {
            ChannelSettings::Webhook { name, .. }
            | ChannelSettings::Slack { name, .. }
            | ChannelSettings::Discord { name, .. }
            | ChannelSettings::Telegram { name, .. }
            | ChannelSettings::Feishu { name, .. }
            | ChannelSettings::Dingtalk { name, .. }
            | ChannelSettings::Wecom { name, .. } => name,
        };
        name.clone().unwrap_or_else(|| self.kind().to_owned())
    }

    /// Every secret of the channel, to resolve `env:NAME` and to check.
    fn secrets_mut(&mut self) -> Vec<(&'static str, &mut Sensitive)> {
        match self {
            ChannelSettings::Webhook { url, secret, .. } => vec![("url", url), ("secret", secret)],
            ChannelSettings::Slack { url, .. }
            | ChannelSettings::Discord { url, .. }
            | ChannelSettings::Wecom { url, .. } => vec![("url", url)],
            ChannelSettings::Telegram { bot_token, .. } => vec![("bot_token", bot_token)],
            ChannelSettings::Feishu { url, secret, .. } | ChannelSettings::Dingtalk { url, secret, .. } => {
                let mut v = vec![("url", url)];
                v.extend(secret.as_mut().map(|s| ("secret", s)));
                v
            }
        }
    }
}

impl AlertSettings {
    /// Reads `env:NAME` secrets from the environment and checks every channel; the error
    /// names the setting (never its value).
    pub fn resolve(&mut self, env: impl Fn(&str) -> Option<String>) -> Result<(), String> {
        if self.queue_capacity == 0 {
            return Err("alerts.queue_capacity: must be at least 1".into());
        }
        if self.max_attempts == 0 {
            return Err("alerts.max_attempts: must be at least 1".into());
        }
        if self.timeout_ms == 0 {
            return Err("alerts.timeout_ms: must be at least 1".into());
        }
        for (i, channel) in self.channels.iter_mut().enumerate() {
            let kind = channel.kind();
            for (field, value) in channel.secrets_mut() {
                let key = format!("alerts.channels[{i}].{field}");
                if let Some(var) = value.0.strip_prefix("env:") {
                    let var = var.trim().to_owned();
                    value.0 = env(&var)
                        .filter(|v| !v.trim().is_empty())
                        .ok_or_else(|| format!("{key}: environment variable {var} is not set"))?;
                }
                if value.0.trim().is_empty() {
                    return Err(format!("{key}: must not be empty"));
                }
                if field == "url" && !value.0.starts_with("http://") && !value.0.starts_with("https://") {
                    return Err(format!("{key}: must be an http:// or https:// URL ({kind})"));
                }
            }
        }
        Ok(())
    }
}

/// A secret setting: shown masked by `Debug` and by `switchyard config check`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Sensitive(String);

impl Sensitive {
    pub fn new(value: impl Into<String>) -> Self {
        Sensitive(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"****\"")
    }
}

impl Serialize for Sensitive {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.strip_prefix("env:") {
            Some(_) => s.serialize_str(&self.0),
            None => s.serialize_str("****"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channels(toml: &str) -> AlertSettings {
        #[derive(Deserialize)]
        struct Wrap {
            alerts: AlertSettings,
        }
        let w: Wrap = config::Config::builder()
            .add_source(config::File::from_str(toml, config::FileFormat::Toml))
            .build()
            .unwrap()
            .try_deserialize()
            .unwrap();
        w.alerts
    }

    #[test]
    fn secrets_come_from_the_environment_and_never_show() {
        let mut s = channels(
            "[alerts]\n[[alerts.channels]]\nkind = \"webhook\"\nurl = \"http://127.0.0.1:1/h\"\nsecret = \"env:HOOK_SECRET\"\n",
        );
        assert!(
            s.clone()
                .resolve(|_| None)
                .unwrap_err()
                .contains("alerts.channels[0].secret")
        );
        s.resolve(|v| (v == "HOOK_SECRET").then(|| "s3cret".to_owned()))
            .unwrap();
        let ChannelSettings::Webhook { secret, .. } = &s.channels[0] else {
            panic!("a webhook")
        };
        assert_eq!(secret.expose(), "s3cret");
        let shown = format!("{s:?} {}", serde_json::to_string(&s).unwrap());
        assert!(
            !shown.contains("s3cret") && !shown.contains("127.0.0.1:1/h"),
            "{shown}"
        );
    }

    #[test]
    fn a_telegram_chat_id_may_be_written_as_a_number() {
        for (written, id) in [("-100123", "-100123"), ("\"@ops\"", "@ops")] {
            let s = channels(&format!(
                "[alerts]\n[[alerts.channels]]\nkind = \"telegram\"\nbot_token = \"1:x\"\nchat_id = {written}\n"
            ));
            let ChannelSettings::Telegram { chat_id, .. } = &s.channels[0] else {
                panic!("a telegram channel")
            };
            assert_eq!(chat_id, id);
        }
    }

    #[test]
    fn a_channel_with_a_bad_url_or_an_unknown_field_is_refused() {
        let mut s =
            channels("[alerts]\n[[alerts.channels]]\nkind = \"slack\"\nurl = \"hooks.slack.com/x\"\n");
        assert!(
            s.resolve(|_| None)
                .unwrap_err()
                .contains("alerts.channels[0].url")
        );
        let bad = config::Config::builder()
            .add_source(config::File::from_str(
                "[alerts]\n[[alerts.channels]]\nkind = \"slack\"\nurl = \"https://x\"\ncolour = 1\n",
                config::FileFormat::Toml,
            ))
            .build()
            .unwrap()
            .try_deserialize::<std::collections::HashMap<String, AlertSettings>>();
        assert!(bad.is_err());
    }
}
