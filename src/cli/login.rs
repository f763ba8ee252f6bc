//! Account onboarding for subscription accounts.
//!
//! `account login claude|openai|gemini`: the server starts an OAuth login with PKCE
//! (`POST /admin/oauth/{provider}/start`), the operator opens the URL, signs in and pastes back
//! what the provider shows (Claude's `code#state`, Google's code, or for OpenAI the whole
//! localhost URL the browser was sent to); the server checks the state, exchanges the code and
//! stores the account (`POST /admin/oauth/{provider}/exchange`). The verifier never leaves the
//! server.
//!
//! `account import claude|codex|gemini`: reads the tokens a provider's own CLI keeps on disk and
//! adds them through `POST /admin/accounts`.
use super::accounts::{apply_opts, created};
use super::client::{AdminClient, CliError};
use super::{AccountOpts, ImportProvider, LoginProvider};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use switchyard::oauth::{chatgpt_account_id, jwt_expiry_ms};

impl LoginProvider {
    /// The `{provider}` of `/admin/oauth/{provider}/…`.
    fn path(self) -> &'static str {
        match self {
            LoginProvider::Claude => "claude",
            LoginProvider::OpenAi => "openai",
            LoginProvider::Gemini => "gemini",
        }
    }

    /// What to paste back once signed in.
    fn paste_hint(self) -> &'static str {
        match self {
            LoginProvider::Claude => "the code shown (code#state)",
            LoginProvider::OpenAi => {
                "the whole URL from the address bar (the browser is sent to localhost:1455, which \
                 does not load; that is expected)"
            }
            LoginProvider::Gemini => "the authorization code shown",
        }
    }
}

pub async fn login(
    client: &AdminClient,
    provider: LoginProvider,
    name: Option<String>,
    project_id: Option<String>,
    opts: &AccountOpts,
    json: bool,
) -> Result<String, CliError> {
    // Checked before the operator signs in for nothing.
    let project_id = match (provider, project_id.filter(|p| !p.trim().is_empty())) {
        (LoginProvider::Gemini, None) => {
            return Err(CliError::Usage("gemini accounts need --project-id".into()));
        }
        (LoginProvider::Gemini, p) => p,
        (_, Some(_)) => return Err(CliError::Usage("--project-id applies to gemini only".into())),
        (_, None) => None,
    };
    let start_path = format!("/admin/oauth/{}/start", provider.path());
    let start = client.post(&start_path, &json!({})).await?;
    let (Some(session), Some(url)) = (start["session_id"].as_str(), start["authorize_url"].as_str()) else {
        return Err(CliError::BadAnswer {
            url: start_path,
            reason: "no session_id / authorize_url".into(),
        });
    };
    {
        // The URL goes to stdout so it can be piped or copied; the instructions to stderr.
        let mut out = std::io::stdout().lock();
        writeln!(out, "{url}")?;
        out.flush()?;
        let mut err = std::io::stderr().lock();
        writeln!(
            err,
            "Open the URL above, sign in and authorize; then paste {} here within 10 minutes:",
            provider.paste_hint()
        )?;
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let code = line.trim();
    if code.is_empty() {
        return Err(CliError::Usage("no code given; the login was abandoned".into()));
    }
    let mut body = json!({"session_id": session, "code": code});
    if let Some(n) = name {
        body["name"] = json!(n);
    }
    if let Some(p) = project_id {
        body["project_id"] = json!(p.trim());
    }
    apply_opts(&mut body, opts)?;
    let v = client
        .post(&format!("/admin/oauth/{}/exchange", provider.path()), &body)
        .await?;
    Ok(created(&v, json))
}

/// Claude Code's `~/.claude/.credentials.json`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClaudeCredentials {
    claude_ai_oauth: ClaudeOAuth,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClaudeOAuth {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    /// Unix milliseconds.
    #[serde(default)]
    expires_at: Option<i64>,
    #[serde(default)]
    subscription_type: Option<String>,
}

/// Codex CLI's `~/.codex/auth.json`.
#[derive(Deserialize)]
struct CodexAuth {
    tokens: CodexTokens,
}

#[derive(Deserialize)]
struct CodexTokens {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    id_token: Option<String>,
    #[serde(default)]
    account_id: Option<String>,
}

/// Gemini CLI's `~/.gemini/oauth_creds.json`.
#[derive(Deserialize)]
struct GeminiCreds {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    /// Unix milliseconds.
    #[serde(default)]
    expiry_date: Option<i64>,
}

/// What an import adds: kind, tokens and platform extras.
struct Imported {
    kind: &'static str,
    default_name: String,
    access_token: String,
    refresh_token: Option<String>,
    expires_at: Option<i64>,
    extra: Map<String, Value>,
}

fn default_file(provider: ImportProvider) -> Result<PathBuf, CliError> {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .ok_or_else(|| CliError::Usage("HOME is not set: pass --file".into()))?;
    Ok(home.join(match provider {
        ImportProvider::Claude => ".claude/.credentials.json",
        ImportProvider::Codex => ".codex/auth.json",
        ImportProvider::Gemini => ".gemini/oauth_creds.json",
    }))
}

fn parse<T: for<'de> Deserialize<'de>>(path: &Path, text: &str, shape: &str) -> Result<T, CliError> {
    serde_json::from_str(text).map_err(|e| CliError::file(path, format!("not {shape}: {e}")))
}

fn read_tokens(
    provider: ImportProvider,
    path: &Path,
    text: &str,
    project_id: Option<String>,
) -> Result<Imported, CliError> {
    match provider {
        ImportProvider::Claude => {
            let c: ClaudeCredentials = parse(path, text, "a Claude Code credentials file (claudeAiOauth)")?;
            let o = c.claude_ai_oauth;
            let mut extra = Map::new();
            if let Some(s) = &o.subscription_type {
                extra.insert("subscription_type".into(), json!(s));
            }
            Ok(Imported {
                kind: "claude-official",
                default_name: format!("claude-{}", o.subscription_type.as_deref().unwrap_or("imported")),
                access_token: o.access_token,
                refresh_token: o.refresh_token,
                expires_at: o.expires_at,
                extra,
            })
        }
        ImportProvider::Codex => {
            let a: CodexAuth = parse(path, text, "a Codex auth file (tokens)")?;
            let t = a.tokens;
            let from_id_token = t.id_token.as_deref().and_then(chatgpt_account_id);
            let mut extra = Map::new();
            if let Some(id) = t.account_id.or(from_id_token) {
                extra.insert("chatgpt_account_id".into(), json!(id));
            }
            let expires_at = jwt_expiry_ms(&t.access_token);
            Ok(Imported {
                kind: "openai",
                default_name: "codex-imported".into(),
                access_token: t.access_token,
                refresh_token: t.refresh_token,
                expires_at,
                extra,
            })
        }
        ImportProvider::Gemini => {
            let project = project_id
                .filter(|p| !p.trim().is_empty())
                .ok_or_else(|| CliError::Usage("gemini accounts need --project-id".into()))?;
            let g: GeminiCreds = parse(path, text, "a Gemini CLI oauth_creds.json")?;
            let mut extra = Map::new();
            extra.insert("project_id".into(), json!(project.trim()));
            Ok(Imported {
                kind: "gemini",
                default_name: format!("gemini-{}", project.trim()),
                access_token: g.access_token,
                refresh_token: g.refresh_token,
                expires_at: g.expiry_date,
                extra,
            })
        }
    }
}

pub async fn import(
    client: &AdminClient,
    provider: ImportProvider,
    file: Option<PathBuf>,
    name: Option<String>,
    project_id: Option<String>,
    opts: &AccountOpts,
    json: bool,
) -> Result<String, CliError> {
    let path = match file {
        Some(p) => p,
        None => default_file(provider)?,
    };
    let text = std::fs::read_to_string(&path).map_err(|e| CliError::file(&path, e))?;
    let t = read_tokens(provider, &path, &text, project_id)?;
    let mut body = json!({
        "name": name.unwrap_or(t.default_name),
        "kind": t.kind,
        "oauth": {
            "access_token": t.access_token,
            "refresh_token": t.refresh_token,
            "expires_at": t.expires_at,
        },
        "extra": t.extra,
    });
    apply_opts(&mut body, opts)?;
    let v = client.post("/admin/accounts", &body).await?;
    Ok(created(&v, json))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    #[test]
    fn reads_each_cli_token_file() {
        let p = Path::new("f.json");
        let claude = r#"{"claudeAiOauth":{"accessToken":"at","refreshToken":"rt","expiresAt":1700000000000,
            "scopes":["user:inference"],"subscriptionType":"max"}}"#;
        let t = read_tokens(ImportProvider::Claude, p, claude, None).unwrap();
        assert_eq!(
            (t.kind, t.access_token.as_str(), t.expires_at),
            ("claude-official", "at", Some(1_700_000_000_000))
        );
        assert_eq!(t.extra["subscription_type"], "max");

        let claims = URL_SAFE_NO_PAD.encode(br#"{"exp":1700000000}"#);
        let codex = format!(
            r#"{{"tokens":{{"access_token":"h.{claims}.s","refresh_token":"rt","id_token":"x","account_id":"acc-1"}}}}"#
        );
        let t = read_tokens(ImportProvider::Codex, p, &codex, None).unwrap();
        assert_eq!((t.kind, t.expires_at), ("openai", Some(1_700_000_000_000)));
        assert_eq!(t.extra["chatgpt_account_id"], "acc-1");

        let gemini = r#"{"access_token":"ya29","refresh_token":"1//r","expiry_date":1700000000000}"#;
        assert!(matches!(
            read_tokens(ImportProvider::Gemini, p, gemini, None),
            Err(CliError::Usage(_))
        ));
        let t = read_tokens(ImportProvider::Gemini, p, gemini, Some("proj".into())).unwrap();
        assert_eq!((t.kind, t.extra["project_id"].as_str()), ("gemini", Some("proj")));

        let err = read_tokens(ImportProvider::Claude, p, "{}", None).err().unwrap();
        assert!(err.to_string().contains("f.json"), "{err}");
    }
}
