//! The reference's upstream accounts, mapped to switchyard's [`Account`]: credentials
//! decrypted, scheduling settings carried over, settings with no equivalent listed.
//!
//! Adding a kind switchyard learns to serve (bedrock, droid) is one arm in
//! [`map_account`] plus its function here.
use super::decrypt::{CrsCipher, DecryptError};
use super::fields::{Fields, iso_ms};
use crate::import::bundle::{AccountImport, Skipped};
use std::collections::BTreeMap;
use switchyard_actors::{
    Account, AccountKind, AccountStatus, Credentials, ModelSupport, OAuthTokens, Secret, Sharing,
};

/// Every account family of the reference: its Redis key prefix and its type name there.
pub const FAMILIES: &[(&str, &str)] = &[
    ("claude:account:", "claude-official"),
    ("claude_console_account:", "claude-console"),
    ("bedrock_account:", "bedrock"),
    ("ccr_account:", "ccr"),
    ("gemini_account:", "gemini"),
    ("gemini_api_account:", "gemini-api"),
    ("openai:account:", "openai"),
    ("openai_responses_account:", "openai-responses"),
    ("azure_openai:account:", "azure-openai"),
    ("droid:account:", "droid"),
];

pub const NOT_SERVED: &str = "kind not served by this switchyard";

/// Why one account was not mapped.
#[derive(Debug)]
pub enum Unmapped {
    NotServed,
    /// A secret did not decrypt: the field's name and why.
    Secret(&'static str, DecryptError),
    /// Decrypted, but not what the reference writes there.
    Invalid(String),
}

/// One record of the reference, mapped (`Err`: left out, and why).
pub fn map_account(
    crs_type: &str,
    id: &str,
    f: &Fields<'_>,
    cipher: &CrsCipher,
) -> Result<AccountImport, Unmapped> {
    let mut notes = Vec::new();
    let account = match crs_type {
        "claude-official" => claude_official(id, f, cipher, &mut notes)?,
        "claude-console" => with_api_key(
            AccountKind::ClaudeConsole,
            "claude-console-salt",
            "apiUrl",
            id,
            f,
            cipher,
        )?,
        "gemini" => gemini_oauth(id, f, cipher, &mut notes)?,
        "gemini-api" => with_api_key(
            AccountKind::GeminiApi,
            "gemini-api-salt",
            "baseUrl",
            id,
            f,
            cipher,
        )?,
        "openai" => openai_oauth(id, f, cipher)?,
        "openai-responses" => with_api_key(
            AccountKind::OpenAiResponses,
            "openai-responses-salt",
            "baseApi",
            id,
            f,
            cipher,
        )?,
        "ccr" => with_api_key(AccountKind::Ccr, "ccr-account-salt", "apiUrl", id, f, cipher)?,
        "azure-openai" => azure_openai(id, f, cipher)?,
        "bedrock" => bedrock(id, f, cipher, &mut notes)?,
        // droid: one arm once switchyard serves it.
        _ => return Err(Unmapped::NotServed),
    };
    let account = common(account, f, &mut notes);
    // What the admin API would refuse is left out here, not sent to fail the whole import.
    crate::routes::admin::validate_account(&account).map_err(|e| Unmapped::Invalid(e.to_string()))?;
    Ok(AccountImport {
        account,
        usage: Vec::new(),
        skipped_fields: notes,
    })
}

/// For kinds not served: an encrypted field and its salt, decrypted only to check the
/// encryption key, so an installation of such kinds only still refuses a wrong one.
const KEY_CHECKS: &[(&str, &str, &str)] = &[("droid", "droid-account-salt", "accessToken")];

/// Whether a record of a kind not served decrypts with the key (`None`: nothing to try).
pub fn check_key(
    crs_type: &str,
    f: &Fields<'_>,
    cipher: &CrsCipher,
) -> Option<Result<(), (&'static str, DecryptError)>> {
    let (_, salt, field) = KEY_CHECKS.iter().find(|(t, _, _)| *t == crs_type)?;
    if f.text(field).is_empty() {
        return None;
    }
    Some(
        cipher
            .decrypt(salt, f.text(field))
            .map(drop)
            .map_err(|e| (*field, e)),
    )
}

/// A skipped-account line for the report.
pub fn skipped(crs_type: &str, id: &str, name: &str, why: &Unmapped) -> Skipped {
    let reason = match why {
        Unmapped::NotServed => NOT_SERVED.to_owned(),
        Unmapped::Secret(field, e) => format!("{field} {e}"),
        Unmapped::Invalid(what) => what.clone(),
    };
    Skipped {
        what: "account".into(),
        id: id.to_owned(),
        name: name.to_owned(),
        kind: Some(crs_type.to_owned()),
        reason,
    }
}

fn secret(cipher: &CrsCipher, salt: &str, f: &Fields<'_>, field: &'static str) -> Result<Secret, Unmapped> {
    cipher
        .decrypt(salt, f.text(field))
        .map_err(|e| Unmapped::Secret(field, e))
}

fn with_api_key(
    kind: AccountKind,
    salt: &str,
    url_field: &str,
    id: &str,
    f: &Fields<'_>,
    cipher: &CrsCipher,
) -> Result<Account, Unmapped> {
    let key = secret(cipher, salt, f, "apiKey")?;
    if key.expose().trim().is_empty() {
        return Err(Unmapped::Invalid("apiKey is empty".into()));
    }
    let mut a = Account::new(id, kind, 0);
    a.credentials = Credentials::ApiKey {
        key: Secret::new(key.expose().trim()),
    };
    a.base_url = Some(f.text(url_field).trim().trim_end_matches('/').to_owned()).filter(|u| !u.is_empty());
    Ok(a)
}

/// One deployment (`deploymentName`) serves the account's models, at `azureEndpoint` with its
/// `apiVersion`.
fn azure_openai(id: &str, f: &Fields<'_>, cipher: &CrsCipher) -> Result<Account, Unmapped> {
    let mut a = with_api_key(
        AccountKind::AzureOpenAi,
        "azure-openai-account-default-salt",
        "azureEndpoint",
        id,
        f,
        cipher,
    )?;
    for (field, extra) in [("deploymentName", "deployment"), ("apiVersion", "api_version")] {
        let value = f.text(field).trim();
        if !value.is_empty() {
            a.extra.insert(extra.into(), value.to_owned());
        }
    }
    Ok(a)
}

/// A Bedrock record (a JSON string in the reference, flattened to fields by the caller):
/// `awsCredentials` or `bearerToken`, each `{encrypted, iv}` of JSON, plus `region`. Stored as
/// the JSON the `bedrock` kind reads (`crate::bedrock::BedrockCredentials`).
fn bedrock(
    id: &str,
    f: &Fields<'_>,
    cipher: &CrsCipher,
    notes: &mut Vec<String>,
) -> Result<Account, Unmapped> {
    let decrypt = |field: &'static str| -> Result<Option<serde_json::Value>, Unmapped> {
        let stored = f.text(field);
        if stored.trim().is_empty() || stored == "null" {
            return Ok(None);
        }
        let stored: serde_json::Value =
            serde_json::from_str(stored).map_err(|_| Unmapped::Secret(field, DecryptError::Format))?;
        let plain = cipher
            .decrypt_bedrock(&stored)
            .map_err(|e| Unmapped::Secret(field, e))?;
        serde_json::from_str(plain.expose())
            .map(Some)
            .map_err(|_| Unmapped::Invalid(format!("{field} is not JSON once decrypted")))
    };
    let text = |v: &serde_json::Value, name: &str| {
        v[name]
            .as_str()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let region = f.text("region").trim().to_owned();
    let stored = if let Some(aws) = decrypt("awsCredentials")? {
        serde_json::json!({
            "region": region,
            "access_key_id": text(&aws, "accessKeyId"),
            "secret_access_key": text(&aws, "secretAccessKey"),
            "session_token": text(&aws, "sessionToken"),
        })
    } else if let Some(bearer) = decrypt("bearerToken")? {
        serde_json::json!({"region": region, "api_key": text(&bearer, "token")})
    } else {
        return Err(Unmapped::Invalid("neither awsCredentials nor bearerToken".into()));
    };
    // Absent optional fields are left out, not sent as null.
    let stored: serde_json::Map<String, serde_json::Value> = stored
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let stored = serde_json::Value::Object(stored).to_string();
    crate::bedrock::BedrockCredentials::from_json(&stored).map_err(|e| Unmapped::Invalid(e.to_string()))?;
    if !f.text("defaultModel").trim().is_empty() {
        notes.push("defaultModel: switchyard maps each requested model (--model-map), no default".into());
    }
    let mut a = Account::new(id, AccountKind::Bedrock, 0);
    a.credentials = Credentials::ApiKey {
        key: Secret::new(&stored),
    };
    Ok(a)
}

/// The whole OAuth object (`claudeAiOauth`) when present, else the separate token fields.
fn claude_official(
    id: &str,
    f: &Fields<'_>,
    cipher: &CrsCipher,
    notes: &mut Vec<String>,
) -> Result<Account, Unmapped> {
    const SALT: &str = "salt";
    let oauth = secret(cipher, SALT, f, "claudeAiOauth")?;
    let whole: serde_json::Value = serde_json::from_str(oauth.expose()).unwrap_or_default();
    let access = match whole["accessToken"].as_str() {
        Some(t) => Secret::new(t),
        None => secret(cipher, SALT, f, "accessToken")?,
    };
    let refresh = match whole["refreshToken"].as_str() {
        Some(t) => Secret::new(t),
        None => secret(cipher, SALT, f, "refreshToken")?,
    };
    // Decrypted only to prove it decrypts: the password is not kept (switchyard signs in with
    // OAuth only).
    let password = secret(cipher, SALT, f, "password")?;
    if !password.expose().is_empty() {
        notes.push("password: not kept (switchyard uses the OAuth tokens only)".into());
    }
    let expires_at = whole["expiresAt"]
        .as_i64()
        .or_else(|| f.text("expiresAt").parse().ok());
    let mut a = Account::new(id, AccountKind::ClaudeOfficial, 0);
    a.credentials = oauth_tokens(access, refresh, expires_at)?;
    a.max_concurrency = f.number("maxConcurrency").unwrap_or(0);
    Ok(a)
}

/// `geminiOauth` is Google's token answer (`access_token`, `refresh_token`, `expiry_date`).
fn gemini_oauth(
    id: &str,
    f: &Fields<'_>,
    cipher: &CrsCipher,
    notes: &mut Vec<String>,
) -> Result<Account, Unmapped> {
    const SALT: &str = "gemini-account-salt";
    let oauth = secret(cipher, SALT, f, "geminiOauth")?;
    let whole: serde_json::Value = serde_json::from_str(oauth.expose()).unwrap_or_default();
    let access = match whole["access_token"].as_str() {
        Some(t) => Secret::new(t),
        None => secret(cipher, SALT, f, "accessToken")?,
    };
    let refresh = match whole["refresh_token"].as_str() {
        Some(t) => Secret::new(t),
        None => secret(cipher, SALT, f, "refreshToken")?,
    };
    let expires_at = whole["expiry_date"]
        .as_i64()
        .or_else(|| iso_ms(f.text("expiresAt")));
    let mut a = Account::new(id, AccountKind::GeminiOAuth, 0);
    a.credentials = oauth_tokens(access, refresh, expires_at)?;
    let project = [f.text("projectId"), f.text("tempProjectId")]
        .into_iter()
        .find(|p| !p.trim().is_empty());
    match project {
        Some(p) => {
            a.extra.insert("project_id".into(), p.trim().to_owned());
        }
        None => notes.push("projectId: none set; give the account extra.project_id to use it".into()),
    }
    Ok(a)
}

/// The separate token fields are the current ones (a refresh rewrites them, not `openaiOauth`).
fn openai_oauth(id: &str, f: &Fields<'_>, cipher: &CrsCipher) -> Result<Account, Unmapped> {
    const SALT: &str = "openai-account-salt";
    let oauth = secret(cipher, SALT, f, "openaiOauth")?;
    let whole: serde_json::Value = serde_json::from_str(oauth.expose()).unwrap_or_default();
    let mut access = secret(cipher, SALT, f, "accessToken")?;
    if access.expose().is_empty() {
        access = Secret::new(whole["accessToken"].as_str().unwrap_or_default());
    }
    let mut refresh = secret(cipher, SALT, f, "refreshToken")?;
    if refresh.expose().is_empty() {
        refresh = Secret::new(whole["refreshToken"].as_str().unwrap_or_default());
    }
    let mut a = Account::new(id, AccountKind::OpenAiOAuth, 0);
    a.credentials = oauth_tokens(access, refresh, iso_ms(f.text("expiresAt")))?;
    let chatgpt_account = f.text("accountId").trim();
    if !chatgpt_account.is_empty() {
        a.extra.insert("account_id".into(), chatgpt_account.to_owned());
    }
    Ok(a)
}

fn oauth_tokens(access: Secret, refresh: Secret, expires_at: Option<i64>) -> Result<Credentials, Unmapped> {
    if access.expose().trim().is_empty() {
        return Err(Unmapped::Invalid("no OAuth access token".into()));
    }
    Ok(Credentials::OAuth(OAuthTokens {
        access_token: access,
        refresh_token: Some(refresh).filter(|r| !r.expose().trim().is_empty()),
        expires_at,
    }))
}

/// The settings every family shares.
fn common(mut a: Account, f: &Fields<'_>, notes: &mut Vec<String>) -> Account {
    a.name = f.name();
    a.active = f.flag("isActive").unwrap_or(true);
    a.schedulable = f.flag("schedulable").unwrap_or(true);
    a.priority = f.number("priority").unwrap_or(a.priority);
    if a.max_concurrency == 0 {
        a.max_concurrency = f.number("maxConcurrentTasks").unwrap_or(0);
    }
    a.created_at = iso_ms(f.text("createdAt")).unwrap_or(0);
    a.last_used_at = iso_ms(f.text("lastUsedAt"));
    // "group": served only through the groups it is in, like a dedicated account here.
    a.sharing = match f.text("accountType") {
        "dedicated" | "group" => Sharing::Dedicated,
        _ => Sharing::Shared,
    };
    a.status = match f.text("status") {
        "error" => AccountStatus::Error,
        "blocked" => AccountStatus::Blocked,
        "unauthorized" => AccountStatus::Unauthorized,
        "" | "active" | "created" => AccountStatus::Active,
        other => {
            notes.push(format!("status={other}: passing state, starts active here"));
            AccountStatus::Active
        }
    };
    match proxy_url(f.text("proxy")) {
        Ok(p) => a.proxy = p,
        Err(why) => notes.push(format!("proxy: {why}")),
    }
    a.models = models(f.text("supportedModels"));
    for (field, default) in [
        ("dailyQuota", "0"),
        ("userAgent", ""),
        ("subscriptionExpiresAt", ""),
    ] {
        let v = f.text(field).trim();
        if !v.is_empty() && v != default {
            notes.push(format!("{field}: no equivalent here"));
        }
    }
    a
}

/// `{"claude-x": "claude-y"}` (a mapping) or `["m1", "m2"]` (a list); empty means every model.
fn models(text: &str) -> ModelSupport {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(map)) if !map.is_empty() => ModelSupport::Map(
            map.into_iter()
                .filter_map(|(k, v)| Some((k, v.as_str()?.to_owned())))
                .collect::<BTreeMap<_, _>>(),
        ),
        Ok(serde_json::Value::Array(list)) if !list.is_empty() => ModelSupport::List(
            list.into_iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
        ),
        _ => ModelSupport::Any,
    }
}

/// The reference's `{type, host, port, username, password}` as a proxy URL.
fn proxy_url(text: &str) -> Result<Option<String>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    let p: serde_json::Value = serde_json::from_str(text).map_err(|_| "not JSON".to_owned())?;
    let scheme = match p["type"].as_str().unwrap_or("http") {
        s @ ("http" | "https" | "socks5" | "socks5h") => s,
        other => return Err(format!("type {other} not supported")),
    };
    let host = p["host"].as_str().unwrap_or_default().trim();
    if host.is_empty() {
        return Ok(None);
    }
    let port = match &p["port"] {
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::String(s) => s.trim().to_owned(),
        _ => String::new(),
    };
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let user = p["username"].as_str().unwrap_or_default();
    let pass = p["password"].as_str().unwrap_or_default();
    let auth = match (user.is_empty(), pass.is_empty()) {
        (true, true) => String::new(),
        (false, true) => format!("{}@", enc(user)),
        _ => format!("{}:{}@", enc(user), enc(pass)),
    };
    let port = if port.is_empty() {
        String::new()
    } else {
        format!(":{port}")
    };
    Ok(Some(format!("{scheme}://{auth}{host}{port}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_the_admin_api_would_refuse_is_left_out_with_the_reason() {
        let cipher = CrsCipher::new("k");
        let key = cipher.encrypt("claude-console-salt", "sk-ant-x");
        let mut map: BTreeMap<String, String> =
            [("name", "console"), ("apiUrl", "http://h"), ("apiKey", &key)]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
        let ok = map_account("claude-console", "a1", &Fields::new("a1", &map), &cipher).unwrap();
        assert_eq!(ok.account.base_url.as_deref(), Some("http://h"));
        map.insert("apiUrl".into(), String::new());
        let why = map_account("claude-console", "a1", &Fields::new("a1", &map), &cipher).unwrap_err();
        assert!(
            matches!(&why, Unmapped::Invalid(m) if m.contains("base_url")),
            "{why:?}"
        );
    }

    #[test]
    fn proxies_become_urls() {
        let p = r#"{"type":"socks5","host":"127.0.0.1","port":1080,"username":"u","password":"p w"}"#;
        assert_eq!(
            proxy_url(p).unwrap().as_deref(),
            Some("socks5://u:p+w@127.0.0.1:1080")
        );
        assert_eq!(proxy_url("").unwrap(), None);
        assert!(proxy_url(r#"{"type":"ftp","host":"h"}"#).is_err());
    }

    #[test]
    fn supported_models_are_a_map_or_a_list() {
        assert_eq!(models(""), ModelSupport::Any);
        assert_eq!(models("[]"), ModelSupport::Any);
        assert_eq!(models(r#"["a"]"#), ModelSupport::List(vec!["a".into()]));
        let ModelSupport::Map(m) = models(r#"{"a":"b"}"#) else {
            panic!()
        };
        assert_eq!(m["a"], "b");
    }
}
