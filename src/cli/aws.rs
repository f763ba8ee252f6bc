//! Bedrock credentials for `account add --kind bedrock` / `account update` without a secret on
//! the command line: from the AWS CLI's files (`--aws-profile NAME`: `~/.aws/credentials` and
//! `~/.aws/config`, or `AWS_SHARED_CREDENTIALS_FILE` / `AWS_CONFIG_FILE`) or from the standard
//! environment variables (`--aws-env`: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_SESSION_TOKEN`, `AWS_REGION` / `AWS_DEFAULT_REGION`, or `AWS_BEARER_TOKEN_BEDROCK`).
//! The result is the JSON the `bedrock` kind stores (validated here, so a mistake is told
//! before anything is sent); `--api-key` still takes that JSON directly (`-` = stdin).
use super::client::CliError;
use clap::Args;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::path::PathBuf;
use switchyard::bedrock::BedrockCredentials;

#[derive(Debug, Clone, Default, Args)]
pub struct AwsSource {
    /// Bedrock: take the credentials of this AWS CLI profile (~/.aws/credentials + config)
    #[arg(long, value_name = "NAME", conflicts_with_all = ["aws_env", "api_key", "api_key_file"])]
    pub aws_profile: Option<String>,
    /// Bedrock: take the credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
    /// AWS_SESSION_TOKEN or AWS_BEARER_TOKEN_BEDROCK, and AWS_REGION
    #[arg(long, conflicts_with_all = ["api_key", "api_key_file"])]
    pub aws_env: bool,
    /// Bedrock: the AWS region (overrides the profile's or the environment's)
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
}

/// The stored JSON, when one of the AWS options was given.
pub fn credentials_json(src: &AwsSource) -> Result<Option<String>, CliError> {
    let mut fields = if let Some(profile) = &src.aws_profile {
        profile_fields(profile)?
    } else if src.aws_env {
        env_fields(|name| std::env::var(name).ok())
    } else if src.region.is_some() {
        return Err(CliError::Usage(
            "--region goes with --aws-profile or --aws-env (or put \"region\" in the --api-key JSON)".into(),
        ));
    } else {
        return Ok(None);
    };
    if let Some(r) = &src.region {
        fields.insert("region".into(), json!(r));
    }
    let text = Value::Object(fields).to_string();
    // Errors name the field, never its value.
    BedrockCredentials::from_json(&text).map_err(|e| CliError::Usage(e.to_string()))?;
    Ok(Some(text))
}

fn env_fields(var: impl Fn(&str) -> Option<String>) -> Map<String, Value> {
    let mut m = Map::new();
    let mut put = |field: &str, names: &[&str]| {
        if let Some(v) = names.iter().find_map(|n| var(n).filter(|v| !v.trim().is_empty())) {
            m.insert(field.into(), json!(v));
        }
    };
    put("region", &["AWS_REGION", "AWS_DEFAULT_REGION"]);
    put("api_key", &["AWS_BEARER_TOKEN_BEDROCK"]);
    if var("AWS_BEARER_TOKEN_BEDROCK").is_none_or(|v| v.trim().is_empty()) {
        put("access_key_id", &["AWS_ACCESS_KEY_ID"]);
        put("secret_access_key", &["AWS_SECRET_ACCESS_KEY"]);
        put("session_token", &["AWS_SESSION_TOKEN"]);
    }
    m
}

fn aws_file(env: &str, name: &str) -> Result<PathBuf, CliError> {
    if let Some(p) = std::env::var_os(env) {
        return Ok(PathBuf::from(p));
    }
    let home =
        std::env::var_os("HOME").ok_or_else(|| CliError::Usage(format!("no HOME to find ~/.aws/{name}")))?;
    Ok(PathBuf::from(home).join(".aws").join(name))
}

fn profile_fields(profile: &str) -> Result<Map<String, Value>, CliError> {
    let creds_path = aws_file("AWS_SHARED_CREDENTIALS_FILE", "credentials")?;
    let config_path = aws_file("AWS_CONFIG_FILE", "config")?;
    let creds = match std::fs::read_to_string(&creds_path) {
        Ok(text) => ini_section(&text, profile),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(CliError::file(&creds_path, e)),
    };
    // In config the section is `[profile NAME]`, except `[default]`.
    let config_section = if profile == "default" {
        profile.to_owned()
    } else {
        format!("profile {profile}")
    };
    let config = match std::fs::read_to_string(&config_path) {
        Ok(text) => ini_section(&text, &config_section),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(CliError::file(&config_path, e)),
    };
    if creds.is_none() && config.is_none() {
        return Err(CliError::Usage(format!(
            "AWS profile {profile:?} is in neither {} nor {}",
            creds_path.display(),
            config_path.display()
        )));
    }
    // Keys may sit in either file (the credentials file wins); the region is usually in config.
    let mut merged = config.unwrap_or_default();
    merged.extend(creds.unwrap_or_default());
    Ok(env_fields(|name| {
        let key = match name {
            "AWS_REGION" => "region",
            "AWS_ACCESS_KEY_ID" => "aws_access_key_id",
            "AWS_SECRET_ACCESS_KEY" => "aws_secret_access_key",
            "AWS_SESSION_TOKEN" => "aws_session_token",
            _ => return None,
        };
        merged.get(key).cloned()
    }))
}

/// The `key = value` pairs of `[section]` in an INI file as the AWS CLI writes it.
fn ini_section(text: &str, section: &str) -> Option<HashMap<String, String>> {
    let mut found = None;
    let mut current: Option<&str> = None;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = Some(name.trim());
            if current == Some(section) {
                found.get_or_insert_with(HashMap::new);
            }
            continue;
        }
        if current == Some(section)
            && let (Some(map), Some((k, v))) = (found.as_mut(), line.split_once('='))
        {
            map.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const CREDENTIALS: &str = "[default]\naws_access_key_id = AKIADEFAULT000000001\n\n[work]\n\
        aws_access_key_id = AKIAWORK00000000001\naws_secret_access_key = wJalr/Secret+Key\n\
        aws_session_token = FwoGZXIvTOKEN\n";
    const CONFIG: &str = "[default]\nregion = us-east-1\n[profile work]\nregion = eu-west-1\noutput = json\n";

    #[test]
    fn a_profile_is_read_from_both_files_and_validated() {
        let creds = ini_section(CREDENTIALS, "work").unwrap();
        let config = ini_section(CONFIG, "profile work").unwrap();
        assert_eq!(creds["aws_secret_access_key"], "wJalr/Secret+Key");
        assert_eq!(config["region"], "eu-west-1");
        assert!(ini_section(CONFIG, "missing").is_none());
    }

    #[test]
    fn the_environment_gives_an_access_key_or_a_bearer_token() {
        let env: HashMap<&str, &str> = [
            ("AWS_ACCESS_KEY_ID", "AKIAENV0000000000001"),
            ("AWS_SECRET_ACCESS_KEY", "envSecret"),
            ("AWS_DEFAULT_REGION", "us-west-2"),
        ]
        .into();
        let m = env_fields(|n| env.get(n).map(|v| (*v).to_owned()));
        let parsed = BedrockCredentials::from_json(&Value::Object(m).to_string()).unwrap();
        assert_eq!(parsed.region.as_str(), "us-west-2");
        let mut env = env;
        env.insert("AWS_BEARER_TOKEN_BEDROCK", "ABSKbearer");
        let m = env_fields(|n| env.get(n).map(|v| (*v).to_owned()));
        assert!(m.contains_key("api_key") && !m.contains_key("access_key_id"));
    }
}
