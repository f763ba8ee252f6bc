//! `settings.toml` loaded with the `config` crate into typed structs. Environment variables
//! override any key as `SWITCHYARD__SECTION__KEY` (e.g. `SWITCHYARD__SERVER__PORT=3001`).
//! Unknown keys and bad values stop start-up with a message that names the key.
//!
//! Stable names (operators' scripts use them): `server.host`, `server.port`, `store.backend`,
//! `store.data_dir`, `store.redis_url`, `admin.token`.
use config::{Config, Environment, File, FileFormat};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use switchyard_actors::settings::{ActorsSettings, CooldownSettings, SchedulerSettings, SchedulingSettings};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub store: StoreSettings,
    pub admin: AdminSettings,
    pub log: LogSettings,
    pub relay: RelaySettings,
    pub upstream: UpstreamSettings,
    pub keys: KeySettings,
    pub usage: UsageSettings,
    pub pricing: PricingSettings,
    pub actors: ActorsSettings,
    pub scheduler: SchedulerSettings,
    pub cooldowns: CooldownSettings,
    pub auth: AuthSettings,
    pub operations: OperationsSettings,
    pub pacing: PacingSettings,
    pub alerts: crate::alerts::AlertSettings,
    pub fronts: FrontSettings,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    /// Largest request body accepted, in MB (bigger → 413), unless the route has its own in
    /// `body_limits_mb`.
    pub body_limit_mb: usize,
    /// Per-route overrides of `body_limit_mb`, by route name (`claude_messages`,
    /// `claude_count_tokens`, `gemini_generate`, `gemini_internal`, `openai_responses`,
    /// `openai_chat`).
    pub body_limits_mb: BTreeMap<String, usize>,
    /// A request body must arrive whole within this long after the headers (slow uploads → 408).
    pub body_read_timeout_ms: u64,
    /// Longest silence allowed while a request body arrives.
    pub body_idle_timeout_ms: u64,
    /// Bytes of request bodies held in memory at once, over all requests (MB); past it new
    /// requests get 503 with `retry-after`.
    pub body_memory_mb: usize,
    /// Bytes of request bodies one client key may hold in memory at once (MB); a key with a
    /// concurrency limit holds at most `limit` bodies of the route's size limit.
    pub key_body_memory_mb: usize,
    /// HTTP worker threads; 0 = one per core.
    pub workers: usize,
    /// On SIGTERM / SIGINT, how long in-flight requests (streams) may take to finish.
    pub shutdown_grace_secs: u64,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 3000,
            body_limit_mb: 32,
            body_limits_mb: BTreeMap::new(),
            body_read_timeout_ms: 60_000,
            body_idle_timeout_ms: 15_000,
            body_memory_mb: 1_024,
            key_body_memory_mb: 64,
            shutdown_grace_secs: 30,
            workers: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    /// In-process, persisted under `store.data_dir`; no external service.
    #[default]
    Embedded,
    /// Shared Redis: several instances share one pool.
    Redis,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSettings {
    pub backend: StoreBackend,
    pub data_dir: PathBuf,
    pub redis_url: String,
    /// Every Redis key starts with this.
    pub redis_prefix: String,
    /// Longest a Redis operation may take (reconnect included) before the request it serves
    /// fails fast with a 503.
    pub redis_op_timeout_ms: u64,
    /// File holding the 64-hex-char encryption key for upstream credentials (overridden by
    /// `SWITCHYARD_ENCRYPTION_KEY`). Empty: `data_dir/encryption-key` in embedded mode.
    pub encryption_key_file: String,
    /// How often usage aggregates are written (ms); at most this much is lost on a crash.
    pub flush_interval_ms: u64,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            backend: StoreBackend::Embedded,
            data_dir: PathBuf::from("./data"),
            redis_url: "redis://127.0.0.1:6379".into(),
            redis_prefix: "switchyard:".into(),
            redis_op_timeout_ms: 1_000,
            encryption_key_file: String::new(),
            flush_interval_ms: 1_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminSettings {
    /// Admin API bearer token. Empty: `SWITCHYARD_ADMIN_TOKEN`, else one is generated on first
    /// start and written to `data_dir/admin-token`.
    pub token: String,
    /// How long a dashboard sign-in lasts, in hours.
    pub session_hours: u64,
}

impl Default for AdminSettings {
    fn default() -> Self {
        AdminSettings {
            token: String::new(),
            session_hours: 12,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Human,
    Json,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    /// A `tracing` filter, e.g. `info` or `switchyard=debug,info`; `RUST_LOG` wins when set.
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Human,
            level: "info".into(),
        }
    }
}

/// `[relay]`: how requests are forwarded and failed over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RelaySettings {
    /// Failures that could be the request's own (5xx, timeouts) before the client gets the last
    /// upstream error; a rate limit, overload, refused credential or refused connection does not
    /// count, so the request goes on to every other eligible account.
    pub max_attempts: u32,
    /// Time allowed to open a connection to an upstream.
    pub connect_timeout_ms: u64,
    /// Longest silence allowed from an upstream: before its answer starts and between two
    /// chunks of it. Not a cap on total duration, so long thinking streams are never cut.
    pub idle_timeout_ms: u64,
    /// Upstream error bodies are read up to this size to pass them on.
    pub error_body_limit_kb: usize,
    /// How long an answer whose client left is still read, to record the usage the upstream
    /// bills for it (the account's slot is held meanwhile).
    pub drain_after_disconnect_ms: u64,
    /// How much of such an answer is read at most.
    pub drain_max_mb: usize,
}

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            connect_timeout_ms: 10_000,
            idle_timeout_ms: 600_000,
            error_body_limit_kb: 256,
            drain_after_disconnect_ms: 120_000,
            drain_max_mb: 8,
        }
    }
}

/// `[keys]`: what happens when a key is at its concurrency limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeySettings {
    /// Wait in a bounded queue for a free slot instead of failing at once with 429.
    pub queue_enabled: bool,
    /// Requests that may wait per key: max(limit × multiplier, queue_max).
    pub queue_max: u32,
    pub queue_size_multiplier: u32,
    /// How long a request may wait before 429 `Queue timeout`.
    pub queue_timeout_ms: u64,
}

impl Default for KeySettings {
    fn default() -> Self {
        Self {
            queue_enabled: false,
            queue_max: 3,
            queue_size_multiplier: 0,
            queue_timeout_ms: 10_000,
        }
    }
}

/// `[usage]`: how usage is grouped and kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UsageSettings {
    /// IANA time zone for hour / day / month buckets and daily / weekly resets.
    pub timezone: String,
    /// Requests kept per key for inspection.
    pub recent_requests: usize,
}

impl Default for UsageSettings {
    fn default() -> Self {
        Self {
            timezone: "UTC".into(),
            recent_requests: 50,
        }
    }
}

/// `[pricing]`: the built-in table, optionally overridden by a LiteLLM-format file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PricingSettings {
    /// Path of a `model_prices_and_context_window.json`-shaped file; empty = built-in only.
    pub file: String,
    /// How often the file is checked for changes.
    pub reload_secs: u64,
}

impl Default for PricingSettings {
    fn default() -> Self {
        Self {
            file: String::new(),
            reload_secs: 10,
        }
    }
}

/// `[upstream.*]`: where each provider's API and token endpoint live (tests point them at a
/// local mock).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpstreamSettings {
    pub claude: ClaudeUpstream,
    pub gemini: GeminiUpstream,
    pub openai: OpenAiUpstream,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GeminiUpstream {
    /// Gemini API base for `gemini-api` accounts without their own base URL.
    pub api_base_url: String,
    /// Code Assist API (`/v1internal:…`) for `gemini` OAuth accounts.
    pub code_assist_base_url: String,
    pub token_url: String,
    /// Gemini CLI's public installed-app OAuth client (Google requires it for refreshes).
    pub oauth_client_id: String,
    pub oauth_client_secret: String,
    /// Where `switchyard account login gemini` sends the operator to sign in (PKCE).
    pub authorize_url: String,
    /// The redirect URI registered for the OAuth client; Code Assist's page shows the code.
    pub redirect_uri: String,
}

impl Default for GeminiUpstream {
    fn default() -> Self {
        Self {
            api_base_url: "https://generativelanguage.googleapis.com".into(),
            code_assist_base_url: "https://cloudcode-pa.googleapis.com".into(),
            token_url: "https://oauth2.googleapis.com/token".into(),
            oauth_client_id: "681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com"
                .into(),
            oauth_client_secret: "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".into(),
            authorize_url: "https://accounts.google.com/o/oauth2/v2/auth".into(),
            redirect_uri: "https://codeassist.google.com/authcode".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpenAiUpstream {
    /// ChatGPT / Codex backend for `openai` OAuth accounts.
    pub codex_base_url: String,
    pub token_url: String,
    pub oauth_client_id: String,
    /// Where `switchyard account login openai` sends the operator to sign in (PKCE).
    pub authorize_url: String,
    /// The redirect URI registered for Codex CLI's client: a localhost page that does not load
    /// here, so the operator pastes its URL back.
    pub redirect_uri: String,
}

impl Default for OpenAiUpstream {
    fn default() -> Self {
        Self {
            codex_base_url: "https://chatgpt.com/backend-api/codex".into(),
            token_url: "https://auth.openai.com/oauth/token".into(),
            oauth_client_id: "app_EMoamEEZ73f0CkXaXp7hrann".into(),
            authorize_url: "https://auth.openai.com/oauth/authorize".into(),
            redirect_uri: "http://localhost:1455/auth/callback".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClaudeUpstream {
    /// API base for `claude-official` (OAuth) accounts without their own base URL.
    pub api_base_url: String,
    /// OAuth token endpoint used to refresh access tokens.
    pub token_url: String,
    pub oauth_client_id: String,
    /// Where `switchyard account login claude` sends the operator to sign in (PKCE).
    pub authorize_url: String,
    /// The redirect URI registered for the OAuth client; Claude's shows the code to paste back.
    pub redirect_uri: String,
}

impl Default for ClaudeUpstream {
    fn default() -> Self {
        Self {
            api_base_url: "https://api.anthropic.com".into(),
            token_url: "https://platform.claude.com/v1/oauth/token".into(),
            oauth_client_id: "9d1c250a-e61b-44d9-88ed-5944d1962f5e".into(),
            authorize_url: "https://claude.ai/oauth/authorize".into(),
            redirect_uri: "https://console.anthropic.com/oauth/code/callback".into(),
        }
    }
}

/// `[auth]`: what failed key look-ups may cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// A presented key the store does not know is answered from memory this long (0 = not
    /// cached). Key writes clear it, so a key created meanwhile works at once.
    pub unknown_key_cache_secs: u64,
    /// Unknown keys remembered at most.
    pub unknown_key_cache_entries: usize,
    /// Failed authentications (a malformed, unknown, disabled or expired key) one client
    /// address may make per window; past it the address gets 429 until the window ends, except
    /// for keys already known. 0 = no limit.
    pub max_failures_per_ip: u32,
    pub failure_window_secs: u64,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            unknown_key_cache_secs: 5,
            unknown_key_cache_entries: 10_000,
            max_failures_per_ip: 60,
            failure_window_secs: 60,
        }
    }
}

/// `[operations]`: who may read `/metrics` and `/ready`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OperationsSettings {
    /// Bearer token `/metrics` and `/ready` require (`Authorization: Bearer <token>`); empty =
    /// open to anyone who can reach the port. `/health` stays open either way.
    pub token: String,
}

/// `[fronts]`: which platform serves a model on the routes that choose by model
/// (`/v1/chat/completions`, and `/v1/messages` for non-Claude models), beyond the built-in
/// prefixes (`claude-*`, `gemini-*`, `gpt-*` / `o<digit>*` / `codex-*`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FrontSettings {
    /// Model name pattern (exact, or ending in `*` for a prefix) → platform; the longest
    /// matching pattern wins, before the built-in prefixes.
    pub model_platforms: BTreeMap<String, switchyard_actors::Platform>,
}

/// `[pacing]`: real user turns per account (Claude only; accounts may override `user_turns`
/// and `min_gap_ms`). Tool-result turns always pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PacingSettings {
    /// One real user turn at a time per account (off by default).
    pub user_turns: bool,
    /// Least time between one turn's release (its answer's headers) and the next turn's start.
    pub min_gap_ms: u64,
    /// A turn waits this long for its account's gate, then gets the API's overload error.
    pub wait_ms: u64,
    /// A held gate is given up after this long even if its request never ends.
    pub lock_ttl_ms: u64,
}

impl Default for PacingSettings {
    fn default() -> Self {
        Self {
            user_turns: false,
            min_gap_ms: 0,
            wait_ms: 60_000,
            lock_ttl_ms: 120_000,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct SettingsError(String);

impl Settings {
    /// Reads `path` (if it exists) and the `SWITCHYARD__*` environment over the defaults.
    pub fn load(path: Option<&Path>) -> Result<Self, SettingsError> {
        let mut builder = Config::builder();
        if let Some(path) = path {
            if !path.exists() {
                return Err(SettingsError(format!(
                    "configuration file {} not found",
                    path.display()
                )));
            }
            builder = builder.add_source(File::from(path).format(FileFormat::Toml));
        }
        let cfg = builder
            .add_source(
                Environment::with_prefix("SWITCHYARD")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true),
            )
            .build()
            .map_err(|e| SettingsError(e.to_string()))?;
        let mut settings: Settings = cfg.try_deserialize().map_err(|e| SettingsError(e.to_string()))?;
        settings.validate()?;
        settings
            .alerts
            .resolve(|name| std::env::var(name).ok())
            .map_err(SettingsError)?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), SettingsError> {
        let bad = |key: &str, why: &str| Err(SettingsError(format!("{key}: {why}")));
        if self.server.host.trim().is_empty() {
            return bad("server.host", "must not be empty");
        }
        if self.server.body_limit_mb == 0 {
            return bad("server.body_limit_mb", "must be at least 1");
        }
        for (route, mb) in &self.server.body_limits_mb {
            if !crate::http::body::ROUTES.contains(&route.as_str()) {
                return bad(
                    &format!("server.body_limits_mb.{route}"),
                    &format!("unknown route; one of {}", crate::http::body::ROUTES.join(", ")),
                );
            }
            if *mb == 0 {
                return bad(&format!("server.body_limits_mb.{route}"), "must be at least 1");
            }
        }
        if self.server.body_read_timeout_ms == 0 || self.server.body_idle_timeout_ms == 0 {
            return bad(
                "server.body_read_timeout_ms",
                "body timeouts must be at least 1 ms",
            );
        }
        if self.server.body_memory_mb == 0 || self.server.key_body_memory_mb == 0 {
            return bad(
                "server.body_memory_mb",
                "body memory bounds must be at least 1 MB",
            );
        }
        if self.store.backend == StoreBackend::Redis && !self.store.redis_url.starts_with("redis") {
            return bad("store.redis_url", "must be a redis:// or rediss:// URL");
        }
        if self.relay.max_attempts == 0 {
            return bad("relay.max_attempts", "must be at least 1");
        }
        if self.pacing.lock_ttl_ms == 0 {
            return bad("pacing.lock_ttl_ms", "must be at least 1 ms");
        }
        if self.relay.idle_timeout_ms == 0 || self.relay.connect_timeout_ms == 0 {
            return bad("relay.idle_timeout_ms", "timeouts must be at least 1 ms");
        }
        if crate::calendar::Calendar::new(&self.usage.timezone).is_err() {
            return bad(
                "usage.timezone",
                &format!("unknown time zone `{}`", self.usage.timezone),
            );
        }
        if self.keys.queue_enabled && self.keys.queue_timeout_ms == 0 {
            return bad(
                "keys.queue_timeout_ms",
                "must be at least 1 when the queue is enabled",
            );
        }
        if self.scheduler.lease_renew_secs >= self.scheduler.lease_ttl_secs {
            return bad(
                "scheduler.lease_renew_secs",
                "must be shorter than scheduler.lease_ttl_secs",
            );
        }
        for (name, knobs) in [
            ("pool", self.actors.pool),
            ("sticky", self.actors.sticky),
            ("claude", self.actors.claude),
            ("gemini", self.actors.gemini),
            ("openai", self.actors.openai),
        ] {
            if knobs.mailbox_capacity == 0 {
                return bad(&format!("actors.{name}.mailbox_capacity"), "must be at least 1");
            }
            if knobs.send_timeout_ms == 0 {
                return bad(&format!("actors.{name}.send_timeout_ms"), "must be at least 1");
            }
        }
        Ok(())
    }

    pub fn scheduling(&self) -> SchedulingSettings {
        SchedulingSettings {
            actors: self.actors.clone(),
            scheduler: self.scheduler.clone(),
            cooldowns: self.cooldowns.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn the_committed_settings_file_loads_and_matches_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("settings.toml");
        let loaded = Settings::load(Some(&path)).unwrap();
        let defaults = Settings::default();
        assert_eq!(loaded.server, defaults.server);
        assert_eq!(loaded.actors, defaults.actors);
        assert_eq!(loaded.scheduler, defaults.scheduler);
        assert_eq!(loaded.cooldowns, defaults.cooldowns);
        assert_eq!(loaded.relay, defaults.relay);
        assert_eq!(loaded.keys, defaults.keys);
        assert_eq!(loaded.usage, defaults.usage);
        assert_eq!(loaded.auth, defaults.auth);
        assert_eq!(loaded.operations, defaults.operations);
        assert_eq!(loaded.alerts, defaults.alerts);
    }

    #[test]
    fn bad_values_and_unknown_keys_name_the_key() {
        let err = Settings::load(Some(file("[server]\nport = \"eighty\"\n").path()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("server.port"), "{err}");
        let err = Settings::load(Some(file("[store]\nbackend = \"postgres\"\n").path()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("store.backend") || err.contains("backend"), "{err}");
        let err = Settings::load(Some(file("[server]\nprot = 1\n").path()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("prot"), "{err}");
        let err = Settings::load(Some(file("[actors.pool]\nmailbox_capacity = 0\n").path()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("actors.pool.mailbox_capacity"), "{err}");
        let err = Settings::load(Some(file("[usage]\ntimezone = \"Mars/Base\"\n").path()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("usage.timezone"), "{err}");
        assert!(Settings::load(Some(Path::new("/nonexistent/settings.toml"))).is_err());
    }
}
