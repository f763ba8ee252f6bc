//! A Bedrock account's credentials: an IAM access key (with an optional STS session token) or a
//! Bedrock API key, plus the AWS region the account calls.

use std::fmt;

use serde::Deserialize;
use switchyard_actors::Secret;

/// Why stored credentials cannot be used; the message names the field, never its value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CredentialsError {
    #[error("Bedrock credentials are not a JSON object of the expected fields: {0}")]
    Malformed(String),
    #[error("Bedrock credentials need a region")]
    MissingRegion,
    #[error("Bedrock region {0:?} is not a region name (lower-case letters, digits and '-', e.g. us-east-1)")]
    InvalidRegion(String),
    #[error("Bedrock credentials need either access_key_id + secret_access_key or api_key")]
    MissingAuth,
    #[error("Bedrock credentials give both an access key and an api_key; keep one")]
    AmbiguousAuth,
    #[error("Bedrock access_key_id must be 16 to 128 upper-case letters and digits")]
    InvalidAccessKeyId,
    #[error("Bedrock {0} is empty or contains whitespace or control characters")]
    InvalidSecret(&'static str),
    #[error("Bedrock access_key_id is given without secret_access_key")]
    MissingSecret,
    #[error("Bedrock session_token is only used with an access key, not with api_key")]
    SessionTokenWithoutAccessKey,
}

/// An AWS region name such as `us-east-1`; it becomes part of the endpoint's host name, so only
/// lower-case letters, digits and `-` pass.
#[derive(Clone, PartialEq, Eq)]
pub struct Region(String);

impl Region {
    pub fn parse(value: &str) -> Result<Region, CredentialsError> {
        let v = value.trim();
        let shaped = (4..=32).contains(&v.len())
            && v.contains('-')
            && !v.starts_with('-')
            && !v.ends_with('-')
            && v.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if shaped {
            Ok(Region(v.to_owned()))
        } else {
            Err(CredentialsError::InvalidRegion(v.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Region({})", self.0)
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How requests are authenticated. `Debug` (through [`Secret`]) never shows a secret.
#[derive(Debug)]
pub enum BedrockAuth {
    /// SigV4 with an IAM access key; `session_token` for temporary (STS) credentials.
    AccessKey {
        access_key_id: String,
        secret_access_key: Secret,
        session_token: Option<Secret>,
    },
    /// A Bedrock API key, sent as `Authorization: Bearer <key>` (no signing).
    ApiKey(Secret),
}

#[derive(Debug)]
pub struct BedrockCredentials {
    pub region: Region,
    pub auth: BedrockAuth,
}

/// The stored form: `{"region": "us-east-1", "access_key_id": "AKIA…", "secret_access_key":
/// "…", "session_token": "…"}` or `{"region": "us-east-1", "api_key": "…"}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    region: Option<String>,
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
    session_token: Option<String>,
    api_key: Option<String>,
}

impl BedrockCredentials {
    /// Parses and validates the stored JSON form (see [`BedrockCredentials::to_json`]).
    pub fn from_json(text: &str) -> Result<BedrockCredentials, CredentialsError> {
        // serde_json's message names the offending field or position, not the secret values.
        let stored: Stored =
            serde_json::from_str(text).map_err(|e| CredentialsError::Malformed(e.to_string()))?;
        let region = Region::parse(
            stored
                .region
                .as_deref()
                .filter(|r| !r.trim().is_empty())
                .ok_or(CredentialsError::MissingRegion)?,
        )?;
        let auth = match (stored.access_key_id, stored.api_key) {
            (Some(_), Some(_)) => return Err(CredentialsError::AmbiguousAuth),
            (None, None) => return Err(CredentialsError::MissingAuth),
            (None, Some(api_key)) => {
                if stored.session_token.is_some() {
                    return Err(CredentialsError::SessionTokenWithoutAccessKey);
                }
                if stored.secret_access_key.is_some() {
                    return Err(CredentialsError::AmbiguousAuth);
                }
                BedrockAuth::ApiKey(secret("api_key", api_key)?)
            }
            (Some(access_key_id), None) => {
                let access_key_id = access_key_id.trim().to_owned();
                let valid_id = (16..=128).contains(&access_key_id.len())
                    && access_key_id
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
                if !valid_id {
                    return Err(CredentialsError::InvalidAccessKeyId);
                }
                let secret_access_key = stored.secret_access_key.ok_or(CredentialsError::MissingSecret)?;
                BedrockAuth::AccessKey {
                    access_key_id,
                    secret_access_key: secret("secret_access_key", secret_access_key)?,
                    session_token: stored
                        .session_token
                        .map(|t| secret("session_token", t))
                        .transpose()?,
                }
            }
        };
        Ok(BedrockCredentials { region, auth })
    }

    /// The stored JSON form (for encryption at rest); the inverse of [`Self::from_json`].
    pub fn to_json(&self) -> String {
        let value = match &self.auth {
            BedrockAuth::AccessKey {
                access_key_id,
                secret_access_key,
                session_token,
            } => serde_json::json!({
                "region": self.region.as_str(),
                "access_key_id": access_key_id,
                "secret_access_key": secret_access_key.expose(),
                "session_token": session_token.as_ref().map(Secret::expose),
            }),
            BedrockAuth::ApiKey(key) => serde_json::json!({
                "region": self.region.as_str(),
                "api_key": key.expose(),
            }),
        };
        value.to_string()
    }

    /// What identifies the account in logs and the admin API without revealing a secret: the
    /// access key id (AWS treats it as non-secret) or the API key's last four characters.
    pub fn public_label(&self) -> String {
        match &self.auth {
            BedrockAuth::AccessKey { access_key_id, .. } => access_key_id.clone(),
            BedrockAuth::ApiKey(key) => {
                let k = key.expose();
                let tail = k.get(k.len().saturating_sub(4)..).unwrap_or("");
                format!("api-key …{tail}")
            }
        }
    }
}

/// A secret value: trimmed, non-empty, and free of whitespace and control characters (it goes
/// into an HTTP header or a signing key, where those would break or be silently altered).
fn secret(field: &'static str, value: String) -> Result<Secret, CredentialsError> {
    let v = value.trim();
    if v.is_empty()
        || v.bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control() || b >= 0x80)
    {
        return Err(CredentialsError::InvalidSecret(field));
    }
    Ok(Secret::new(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "fake/secret/access/key/for/tests/000000";

    #[test]
    fn access_key_with_session_token_round_trips() {
        let text = format!(
            r#"{{"region":"eu-west-3","access_key_id":"AKIAFAKE0TEST0KEY000","secret_access_key":"{SECRET}","session_token":"fake-session-token"}}"#
        );
        let creds = BedrockCredentials::from_json(&text).unwrap();
        assert_eq!(creds.region.as_str(), "eu-west-3");
        let again = BedrockCredentials::from_json(&creds.to_json()).unwrap();
        let BedrockAuth::AccessKey {
            access_key_id,
            secret_access_key,
            session_token,
        } = again.auth
        else {
            panic!("expected an access key");
        };
        assert_eq!(access_key_id, "AKIAFAKE0TEST0KEY000");
        assert_eq!(secret_access_key.expose(), SECRET);
        assert_eq!(session_token.unwrap().expose(), "fake-session-token");
    }

    #[test]
    fn api_key_parses_and_debug_hides_every_secret() {
        let creds = BedrockCredentials::from_json(
            r#"{"region":"us-east-1","api_key":"ABSKQmVkcm9ja0FQSUtleS1zecret"}"#,
        )
        .unwrap();
        assert!(matches!(creds.auth, BedrockAuth::ApiKey(_)));
        assert_eq!(creds.public_label(), "api-key …cret");
        let debug = format!("{creds:?}");
        assert!(!debug.contains("ABSK"), "{debug}");

        let text = format!(
            r#"{{"region":"us-east-1","access_key_id":"AKIAFAKE0TEST0KEY000","secret_access_key":"{SECRET}","session_token":"tok-SECRET"}}"#
        );
        let debug = format!("{:?}", BedrockCredentials::from_json(&text).unwrap());
        assert!(
            !debug.contains(SECRET) && !debug.contains("tok-SECRET"),
            "{debug}"
        );
        assert!(debug.contains("AKIAFAKE0TEST0KEY000"));
    }

    #[test]
    fn bad_inputs_get_clear_errors() {
        let parse = BedrockCredentials::from_json;
        assert_eq!(
            parse(r#"{"api_key":"k"}"#).unwrap_err(),
            CredentialsError::MissingRegion
        );
        assert_eq!(
            parse(r#"{"region":"us-east-1.evil.com/","api_key":"k"}"#).unwrap_err(),
            CredentialsError::InvalidRegion("us-east-1.evil.com/".into())
        );
        assert_eq!(
            parse(r#"{"region":"us-east-1"}"#).unwrap_err(),
            CredentialsError::MissingAuth
        );
        assert_eq!(
            parse(r#"{"region":"us-east-1","api_key":"k","access_key_id":"AKIAFAKE0TEST0KEY000"}"#)
                .unwrap_err(),
            CredentialsError::AmbiguousAuth
        );
        assert_eq!(
            parse(r#"{"region":"us-east-1","access_key_id":"akia-lower"}"#).unwrap_err(),
            CredentialsError::InvalidAccessKeyId
        );
        assert_eq!(
            parse(r#"{"region":"us-east-1","access_key_id":"AKIAFAKE0TEST0KEY000"}"#).unwrap_err(),
            CredentialsError::MissingSecret
        );
        assert_eq!(
            parse(r#"{"region":"us-east-1","api_key":"two words"}"#).unwrap_err(),
            CredentialsError::InvalidSecret("api_key")
        );
        assert_eq!(
            parse(r#"{"region":"us-east-1","api_key":"k","session_token":"t"}"#).unwrap_err(),
            CredentialsError::SessionTokenWithoutAccessKey
        );
        let malformed = parse(r#"{"region":"us-east-1","apikey":"sekrit-value"}"#).unwrap_err();
        assert!(
            matches!(&malformed, CredentialsError::Malformed(m) if m.contains("apikey") && !m.contains("sekrit"))
        );
    }
}
