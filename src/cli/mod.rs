//! The operator CLI: `switchyard serve` runs the relay (the default with no subcommand); the other
//! commands talk to a running server's admin API over HTTP (`account`, `key`, `group`, `usage`,
//! `status`, `export`, `import`) or check the configuration (`config check`). Human-readable tables by default,
//! `--json` prints the API's JSON for scripts. Definitions and dispatch live here; each command
//! family has its own module.
mod accounts;
mod alert;
mod aws;
mod backup;
mod client;
mod config;
mod groups;
mod import;
mod keys;
mod login;
mod status;
mod table;
mod usage;

use clap::{Args, Parser, Subcommand, ValueEnum};
use client::{AdminClient, CliError, Target};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use switchyard::upstream::{BaseUrl, registry};
use switchyard_actors::AccountKind;

pub use client::config_path;

/// Read when `--config` is not given and the file exists.
pub const CONFIG_DEFAULT: &str = "settings.toml";

#[derive(Debug, Parser)]
#[command(
    name = "switchyard",
    version,
    about = "A relay that shares a pool of upstream LLM accounts behind its own API keys",
    after_help = "With no command, `switchyard` runs the server (`switchyard serve`)."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Args)]
pub struct Global {
    /// settings.toml to use [default: ./settings.toml when it exists]
    #[arg(long, global = true, value_name = "PATH", help_heading = "Global options")]
    pub config: Option<PathBuf>,
    /// The server's address [default: http://{server.host}:{server.port} from the settings]
    #[arg(
        long,
        global = true,
        env = "SWITCHYARD_URL",
        value_name = "URL",
        help_heading = "Global options"
    )]
    pub url: Option<String>,
    /// Admin token [default: admin.token, else DATA_DIR/admin-token]
    #[arg(
        long,
        global = true,
        env = "SWITCHYARD_ADMIN_TOKEN",
        hide_env_values = true,
        help_heading = "Global options"
    )]
    pub token: Option<String>,
    /// Print the API's JSON instead of tables
    #[arg(long, global = true, help_heading = "Global options")]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the relay (the default)
    Serve,
    /// Inspect the configuration
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Upstream accounts: add, inspect, change, remove, reset, log in, import
    #[command(subcommand)]
    Account(AccountCommand),
    /// Client API keys: create, list, change, revoke
    #[command(subcommand)]
    Key(KeyCommand),
    /// Account groups (keys bound to group:<id> use only its members)
    #[command(subcommand)]
    Group(GroupCommand),
    /// Usage per key, account or model for a period
    Usage(UsageArgs),
    /// The pool at a glance: state, slots, cooldowns
    Status,
    /// Write a backup of the server's whole state to a file
    Export(backup::ExportArgs),
    /// Bring records in from elsewhere
    #[command(subcommand)]
    Import(ImportCommand),
    /// Account alerts: send a test notification to every channel
    #[command(subcommand)]
    Alert(alert::AlertCommand),
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Restore a `switchyard export` file onto this server (either backend)
    Switchyard(backup::ImportSwitchyardArgs),
    /// From claude-relay-service: accounts, groups, API keys (its `cr_` keys keep working) and
    /// usage. Reads its Redis only; a second run changes only what changed there.
    Crs(CrsImportArgs),
}

#[derive(Debug, Args)]
pub struct CrsImportArgs {
    /// The reference's Redis, read only (redis://[:password@]host:port[/db])
    #[arg(long, value_name = "URL")]
    pub redis_url: String,
    /// The reference's ENCRYPTION_KEY; `-` reads it from standard input
    #[arg(long, env = "CRS_ENCRYPTION_KEY", hide_env_values = true, value_name = "KEY")]
    pub encryption_key: String,
    /// The reference's TIMEZONE_OFFSET in hours (its day and week names)
    #[arg(
        long,
        default_value_t = 8,
        allow_negative_numbers = true,
        value_name = "HOURS"
    )]
    pub timezone_offset: i32,
    /// Report what would be imported, updated or skipped; write nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the settings and print the effective configuration, secrets masked
    Check,
}

/// `account add --kind`: the registry's API-key kinds (OAuth kinds come in through
/// `account login` / `account import`), each with its summary in `--help`.
fn api_key_kind() -> impl clap::builder::TypedValueParser<Value = AccountKind> {
    use clap::builder::TypedValueParser;
    let values = registry::api_key_kinds().map(|p| {
        let base = if p.base_url == BaseUrl::Required {
            " (needs --base-url)"
        } else {
            ""
        };
        clap::builder::PossibleValue::new(p.id.as_str()).help(format!("{}{base}", p.summary))
    });
    clap::builder::PossibleValuesParser::new(values).try_map(|s| s.parse::<AccountKind>())
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SharingArg {
    Shared,
    Dedicated,
}

impl SharingArg {
    pub fn as_str(self) -> &'static str {
        match self {
            SharingArg::Shared => "shared",
            SharingArg::Dedicated => "dedicated",
        }
    }
}

/// Scheduling options every way of adding an account takes.
#[derive(Debug, Clone, Default, Args)]
pub struct AccountOpts {
    /// Lower is tried first (default 50)
    #[arg(long)]
    pub priority: Option<u32>,
    /// Concurrent requests the account may carry; 0 = unlimited
    #[arg(long)]
    pub max_concurrency: Option<u32>,
    /// Only these models (comma-separated)
    #[arg(long, value_delimiter = ',', conflicts_with = "model_map")]
    pub models: Option<Vec<String>>,
    /// Serve these models under other upstream names: from=to,...
    #[arg(long, value_delimiter = ',')]
    pub model_map: Option<Vec<String>>,
    /// shared: any key may use it; dedicated: only keys bound to it
    #[arg(long, value_enum)]
    pub sharing: Option<SharingArg>,
    /// Outbound proxy for this account (http://, https://, socks5://)
    #[arg(long)]
    pub proxy: Option<String>,
    /// One real user turn at a time on this account (overrides `[pacing] user_turns`). With
    /// --pacing-min-gap-ms, this sets the account's whole pacing override: a flag left out
    /// returns to the settings' value.
    #[arg(long, value_name = "BOOL")]
    pub pacing_user_turns: Option<bool>,
    /// Least time between this account's user turns (overrides `[pacing] min_gap_ms`)
    #[arg(long, value_name = "MS")]
    pub pacing_min_gap_ms: Option<u64>,
}

/// Where an API key comes from, so it need not appear in shell history.
#[derive(Debug, Clone, Default, Args)]
pub struct ApiKeySource {
    /// The upstream API key; `-` reads it from standard input
    #[arg(long, conflicts_with = "api_key_file")]
    pub api_key: Option<String>,
    /// Read the upstream API key from this file
    #[arg(long, value_name = "PATH")]
    pub api_key_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Add an API-key account
    Add {
        #[arg(long, value_parser = api_key_kind())]
        kind: AccountKind,
        #[arg(long)]
        name: String,
        /// Upstream base URL (required by the kinds `--help` marks "needs --base-url")
        #[arg(long)]
        base_url: Option<String>,
        /// A kind's own setting, e.g. `api_version=2024-10-21` (repeat for more)
        #[arg(long = "extra", value_name = "KEY=VALUE")]
        extra: Vec<String>,
        #[command(flatten)]
        key: ApiKeySource,
        #[command(flatten)]
        aws: aws::AwsSource,
        #[command(flatten)]
        opts: AccountOpts,
    },
    /// List accounts
    List,
    /// Show one account (by id or name)
    Show { account: String },
    /// Change an account
    Update {
        account: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        base_url: Option<String>,
        /// true / false: whether the account is used at all
        #[arg(long)]
        active: Option<bool>,
        /// true / false: whether the scheduler may pick it
        #[arg(long)]
        schedulable: Option<bool>,
        /// Serve every model again (drops --models / --model-map)
        #[arg(long, conflicts_with_all = ["models", "model_map"])]
        all_models: bool,
        #[command(flatten)]
        key: ApiKeySource,
        #[command(flatten)]
        aws: aws::AwsSource,
        #[command(flatten)]
        opts: AccountOpts,
    },
    /// Remove an account
    Remove { account: String },
    /// Clear an account's cooldown and model-family limits
    Reset { account: String },
    /// Sign in to a subscription account (OAuth with PKCE) and add it
    Login {
        #[arg(value_enum)]
        provider: LoginProvider,
        /// Account name [default: the email the provider reports]
        #[arg(long)]
        name: Option<String>,
        /// Google Cloud project for Code Assist (required for gemini)
        #[arg(long)]
        project_id: Option<String>,
        #[command(flatten)]
        opts: AccountOpts,
    },
    /// Add an account from a provider CLI's saved tokens
    Import {
        #[arg(value_enum)]
        provider: ImportProvider,
        /// The tokens file [default: ~/.claude/.credentials.json, ~/.codex/auth.json,
        /// ~/.gemini/oauth_creds.json]
        #[arg(long, value_name = "PATH")]
        file: Option<PathBuf>,
        #[arg(long)]
        name: Option<String>,
        /// Google Cloud project for Code Assist (required for gemini)
        #[arg(long)]
        project_id: Option<String>,
        #[command(flatten)]
        opts: AccountOpts,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LoginProvider {
    /// Claude subscription → claude-official
    Claude,
    /// ChatGPT sign-in, as Codex CLI does it → openai
    #[value(name = "openai", alias = "codex")]
    OpenAi,
    /// Google sign-in, as Gemini CLI does it → gemini
    Gemini,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ImportProvider {
    /// Claude Code's ~/.claude/.credentials.json → claude-official
    Claude,
    /// Codex CLI's ~/.codex/auth.json → openai
    #[value(alias = "openai")]
    Codex,
    /// Gemini CLI's ~/.gemini/oauth_creds.json → gemini
    Gemini,
}

/// Key options for `key create` and `key update`; unset ones are left as they are.
#[derive(Debug, Clone, Default, Args)]
pub struct KeyOpts {
    /// Platforms the key may use: claude,gemini,openai [default: all]
    #[arg(long, value_delimiter = ',')]
    pub permissions: Option<Vec<String>>,
    /// Concurrent requests; 0 = unlimited
    #[arg(long)]
    pub concurrency_limit: Option<u32>,
    /// Bind a platform: claude=ACCOUNT, gemini=group:GROUP; `claude=none` unbinds
    #[arg(long = "bind", value_name = "PLATFORM=TARGET")]
    pub bindings: Vec<String>,
    /// Comma-separated tags
    #[arg(long, value_delimiter = ',')]
    pub tags: Option<Vec<String>>,
    /// Models the key may not use (comma-separated)
    #[arg(long, value_delimiter = ',')]
    pub blocked_models: Option<Vec<String>>,
    /// Only these clients: claude_code,gemini_cli,codex_cli
    #[arg(long, value_delimiter = ',')]
    pub allowed_clients: Option<Vec<String>>,
    /// The key expires this many days from now
    #[arg(long)]
    pub expires_in_days: Option<u32>,
    /// The key expires this many days after its first use
    #[arg(long)]
    pub activation_days: Option<u32>,
    /// Multiplies the cost charged to the key's limits (e.g. 1.5)
    #[arg(long)]
    pub cost_multiplier: Option<String>,
    /// Daily cost limit in USD
    #[arg(long, value_name = "USD")]
    pub daily_cost: Option<String>,
    /// Weekly cost limit in USD
    #[arg(long, value_name = "USD")]
    pub weekly_cost: Option<String>,
    /// Total cost limit in USD
    #[arg(long, value_name = "USD")]
    pub total_cost: Option<String>,
    /// Rate-limit window length in minutes
    #[arg(long)]
    pub window_minutes: Option<u32>,
    /// Requests per window
    #[arg(long)]
    pub window_requests: Option<u64>,
    /// Tokens per window
    #[arg(long)]
    pub window_tokens: Option<u64>,
    /// Cost per window in USD
    #[arg(long, value_name = "USD")]
    pub window_cost: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a key; the key itself is printed once
    Create {
        #[arg(long)]
        name: String,
        #[command(flatten)]
        opts: KeyOpts,
    },
    /// List keys with their total usage
    List,
    /// Change a key (by id or name)
    Update {
        key: String,
        #[arg(long)]
        name: Option<String>,
        /// true / false
        #[arg(long)]
        active: Option<bool>,
        /// Remove the expiry date
        #[arg(long, conflicts_with = "expires_in_days")]
        no_expiry: bool,
        #[command(flatten)]
        opts: KeyOpts,
    },
    /// Revoke (delete) a key
    Revoke { key: String },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PlatformArg {
    Claude,
    Gemini,
    Openai,
}

impl PlatformArg {
    pub fn as_str(self) -> &'static str {
        match self {
            PlatformArg::Claude => "claude",
            PlatformArg::Gemini => "gemini",
            PlatformArg::Openai => "openai",
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Create a group
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, value_enum)]
        platform: PlatformArg,
        /// Accounts (ids or names, comma-separated)
        #[arg(long, value_delimiter = ',')]
        members: Vec<String>,
    },
    /// Add an account to a group
    Add { group: String, account: String },
    /// Take an account out of a group
    Remove { group: String, account: String },
    /// List groups and their members
    List,
    /// Delete a group (refused while a key is bound to it)
    Delete { group: String },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum UsageBy {
    Key,
    Account,
    Model,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Period {
    Total,
    Month,
    Day,
    Hour,
}

#[derive(Debug, Args)]
pub struct UsageArgs {
    /// One row per key, account or model
    #[arg(long, value_enum, default_value = "key")]
    pub by: UsageBy,
    #[arg(long, value_enum, default_value = "day")]
    pub period: Period,
    /// Which month / day / hour: 2026-11, 2026-11-27, 2026-11-27T10 [default: the current one]
    #[arg(long)]
    pub at: Option<String>,
}

/// Runs every command but `serve`; prints its output and maps errors to exit codes.
pub fn run(global: Global, command: Command) -> ExitCode {
    let result = match command {
        Command::Config(ConfigCommand::Check) => config::check(&global),
        other => match actix_rt::Runtime::new() {
            Ok(rt) => rt.block_on(remote(&global, other)),
            Err(e) => Err(CliError::Io(e)),
        },
    };
    match result {
        Ok(out) => {
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`| head`) is not an error worth reporting.
            let _ = stdout.write_all(out.as_bytes()).and_then(|_| stdout.flush());
            ExitCode::SUCCESS
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr().lock(), "switchyard: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

async fn remote(global: &Global, command: Command) -> Result<String, CliError> {
    let client = AdminClient::new(Target::resolve(global)?)?;
    let json = global.json;
    match command {
        Command::Account(c) => accounts::run(&client, c, json).await,
        Command::Key(c) => keys::run(&client, c, json).await,
        Command::Group(c) => groups::run(&client, c, json).await,
        Command::Usage(a) => usage::run(&client, a, json).await,
        Command::Status => status::run(&client, json).await,
        Command::Export(a) => backup::export(&client, a, json).await,
        Command::Alert(c) => alert::run(&client, c, json).await,
        Command::Import(c) => import::run(&client, c, json).await,
        Command::Serve | Command::Config(_) => Err(CliError::Usage("not a remote command".into())),
    }
}

/// The API's JSON, indented, for `--json`.
pub fn pretty(v: &serde_json::Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string());
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn no_command_means_serve() {
        let cli = Cli::try_parse_from(["switchyard", "--config", "x.toml"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.global.config, Some(PathBuf::from("x.toml")));
        let cli = Cli::try_parse_from(["switchyard", "serve", "--config", "y.toml"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Serve)));
        assert_eq!(cli.global.config, Some(PathBuf::from("y.toml")));
    }
}
