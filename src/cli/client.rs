//! The admin API client the CLI commands share: where the server is and which token to send
//! (flags, then environment, then settings, then the token file), and one error type that turns
//! every failure into a message an operator can act on.
use super::Global;
use crate::cli::CONFIG_DEFAULT;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;
use switchyard::settings::{Settings, SettingsError};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Long enough for a login's code exchange, which the server does against the provider.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("cannot reach switchyard at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("admin token rejected by {url}: pass --token, set SWITCHYARD_ADMIN_TOKEN or check admin.token")]
    Rejected { url: String },
    #[error("{message} (HTTP {status})")]
    Api { status: u16, message: String },
    #[error("unexpected answer from {url}: {reason}")]
    BadAnswer { url: String, reason: String },
    #[error("{0}")]
    Config(#[from] SettingsError),
    #[error(
        "no admin token: pass --token, set SWITCHYARD_ADMIN_TOKEN, set admin.token or keep the \
         server's generated token in {0}"
    )]
    NoToken(String),
    #[error("{0}")]
    Usage(String),
    /// The import source could not be read or used; nothing was written.
    #[error("{0}; nothing was imported")]
    Import(String),
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The command ran and something it tried failed (its output says what).
    #[error("{0}")]
    Failed(String),
}

impl CliError {
    /// 2 for configuration and usage mistakes (like clap's own), 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Config(_) | CliError::Usage(_) => 2,
            _ => 1,
        }
    }

    pub fn file(path: &Path, reason: impl ToString) -> Self {
        CliError::File {
            path: path.display().to_string(),
            reason: reason.to_string(),
        }
    }
}

/// The settings file the command means: `--config`, else `./settings.toml` when it exists.
pub fn config_path(global: &Global) -> Option<PathBuf> {
    global.config.clone().or_else(|| {
        let default = PathBuf::from(CONFIG_DEFAULT);
        default.exists().then_some(default)
    })
}

/// Where the server listens and the admin token, resolved as the module doc says.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: String,
    pub token: String,
}

impl Target {
    pub fn resolve(global: &Global) -> Result<Self, CliError> {
        let url = global.url.clone().filter(|u| !u.trim().is_empty());
        let token = global.token.clone().filter(|t| !t.trim().is_empty());
        if let (Some(url), Some(token)) = (&url, &token) {
            return Ok(Target {
                url: url.clone(),
                token: token.clone(),
            });
        }
        let settings = Settings::load(config_path(global).as_deref())?;
        let url = url.unwrap_or_else(|| {
            // A server listening on every interface is reached on loopback from here.
            let host = match settings.server.host.as_str() {
                "0.0.0.0" => "127.0.0.1",
                "::" | "[::]" => "[::1]",
                h => h,
            };
            format!("http://{host}:{}", settings.server.port)
        });
        let token = match token {
            Some(t) => t,
            None if !settings.admin.token.trim().is_empty() => settings.admin.token.clone(),
            None => {
                let file = settings.store.data_dir.join("admin-token");
                std::fs::read_to_string(&file)
                    .ok()
                    .map(|t| t.trim().to_owned())
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| CliError::NoToken(file.display().to_string()))?
            }
        };
        Ok(Target { url, token })
    }
}

pub struct AdminClient {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl AdminClient {
    pub fn new(target: Target) -> Result<Self, CliError> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| CliError::Unreachable {
                url: target.url.clone(),
                reason: e.to_string(),
            })?;
        Ok(AdminClient {
            http,
            base: target.url.trim_end_matches('/').to_owned(),
            token: target.token,
        })
    }

    /// The id of the `list` item (`accounts`, `keys`, `groups`) that `reference` names: see
    /// [`find_id`]. One `GET /admin/{list}`.
    pub async fn resolve(&self, list: &str, reference: &str) -> Result<String, CliError> {
        let v = self.get(&format!("/admin/{list}")).await?;
        find_id(items(&v, list), reference, list)
    }

    pub async fn get(&self, path: &str) -> Result<Value, CliError> {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, CliError> {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Result<Value, CliError> {
        self.send(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Result<Value, CliError> {
        self.send(Method::DELETE, path, None).await
    }

    /// One admin call; a 2xx answer's JSON (`null` when empty), else the mapped error.
    pub async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value, CliError> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| CliError::Unreachable {
            url: self.base.clone(),
            reason: cause(&e),
        })?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| CliError::BadAnswer {
            url: self.base.clone(),
            reason: cause(&e),
        })?;
        if status == StatusCode::UNAUTHORIZED {
            return Err(CliError::Rejected {
                url: self.base.clone(),
            });
        }
        let json = if text.trim().is_empty() {
            Value::Null
        } else {
            match serde_json::from_str(&text) {
                Ok(v) => v,
                Err(_) if status.is_success() => {
                    return Err(CliError::BadAnswer {
                        url: self.base.clone(),
                        reason: "the answer is not JSON".into(),
                    });
                }
                Err(_) => Value::String(text.trim().chars().take(300).collect()),
            }
        };
        if status.is_success() {
            return Ok(json);
        }
        let message = json["error"]["message"]
            .as_str()
            .or(json.as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
        Err(CliError::Api {
            status: status.as_u16(),
            message,
        })
    }
}

/// The innermost cause of a reqwest error ("Connection refused", "operation timed out"), which is
/// what the operator needs; reqwest's own text repeats the URL.
fn cause(e: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = e;
    while let Some(next) = source.source() {
        source = next;
    }
    let text = source.to_string();
    if e.is_timeout() {
        format!("timed out ({text})")
    } else {
        text
    }
}

/// The array `field` of a list answer (empty when missing).
pub fn items<'v>(answer: &'v Value, field: &str) -> &'v [Value] {
    answer[field].as_array().map_or(&[], Vec::as_slice)
}

/// The id `reference` names among `items` (objects with `id` and `name`): an id as is, else the
/// one item with that name. Unknown references pass through unchanged, so the server's "not
/// found" answer is what the operator sees; a name shared by several items is refused.
pub fn find_id(items: &[Value], reference: &str, noun: &str) -> Result<String, CliError> {
    if items.iter().any(|i| i["id"] == reference) {
        return Ok(reference.to_owned());
    }
    let named: Vec<&Value> = items.iter().filter(|i| i["name"] == reference).collect();
    match named.as_slice() {
        [one] => Ok(super::table::text(&one["id"])),
        [] => Ok(reference.to_owned()),
        _ => Err(CliError::Usage(format!(
            "{} {noun} are named `{reference}`: use the id",
            named.len()
        ))),
    }
}

#[cfg(test)]
mod find_id_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn references_are_ids_or_unique_names() {
        let list = json!({"groups": [
            {"id": "g1", "name": "team"},
            {"id": "g2", "name": "dup"},
            {"id": "g3", "name": "dup"},
        ]});
        let groups = items(&list, "groups");
        assert_eq!(find_id(groups, "g2", "groups").unwrap(), "g2");
        assert_eq!(find_id(groups, "team", "groups").unwrap(), "g1");
        assert_eq!(
            find_id(groups, "nobody", "groups").unwrap(),
            "nobody",
            "passed on as is"
        );
        let err = find_id(groups, "dup", "groups").unwrap_err().to_string();
        assert!(err.contains("2 groups are named `dup`"), "{err}");
        assert!(items(&list, "accounts").is_empty());
    }
}
