//! What an API key says about which accounts may serve it, per platform.
//!
//! Syntax as in the original service: a plain account id (dedicated), `group:<id>`, and the
//! kind-qualified `api:<id>` (Gemini API-key account) / `responses:<id>` (OpenAI Responses
//! account). Account ids are unique across kinds here, so the qualifier only documents intent.
use super::{GroupId, Platform};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use super::AccountId;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Binding {
    Account(AccountId),
    Group(GroupId),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid account binding `{0}`: expected an account id, group:<id>, api:<id> or responses:<id>")]
pub struct BindingParseError(pub String);

impl FromStr for Binding {
    type Err = BindingParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let bad = || BindingParseError(s.to_owned());
        let non_empty = |v: &str| {
            if v.is_empty() {
                Err(bad())
            } else {
                Ok(v.to_owned())
            }
        };
        if let Some(g) = s.strip_prefix("group:") {
            return Ok(Binding::Group(non_empty(g)?));
        }
        let id = s
            .strip_prefix("api:")
            .or_else(|| s.strip_prefix("responses:"))
            .unwrap_or(s);
        Ok(Binding::Account(AccountId::new(non_empty(id)?)))
    }
}

impl fmt::Display for Binding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Binding::Account(id) => write!(f, "{id}"),
            Binding::Group(g) => write!(f, "group:{g}"),
        }
    }
}

impl Serialize for Binding {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Binding {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A key's bindings. A platform without a binding uses the shared pool.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyBindings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claude: Option<Binding>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gemini: Option<Binding>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openai: Option<Binding>,
    /// When the dedicated account is unavailable, use the shared pool instead of failing.
    /// `None` = the scheduler's default (`scheduler.dedicated_fallback`, strict unless set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedicated_fallback: Option<bool>,
}

impl KeyBindings {
    pub fn for_platform(&self, platform: Platform) -> Option<&Binding> {
        match platform {
            Platform::Claude => self.claude.as_ref(),
            Platform::Gemini => self.gemini.as_ref(),
            Platform::OpenAi => self.openai.as_ref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_binding_form() {
        assert_eq!("acc1".parse(), Ok(Binding::Account(AccountId::new("acc1"))));
        assert_eq!("group:g1".parse(), Ok(Binding::Group("g1".into())));
        assert_eq!("api:g2".parse(), Ok(Binding::Account(AccountId::new("g2"))));
        assert_eq!("responses:r1".parse(), Ok(Binding::Account(AccountId::new("r1"))));
        assert!("group:".parse::<Binding>().is_err());
        assert!("".parse::<Binding>().is_err());
    }

    #[test]
    fn bindings_round_trip_through_json() {
        let b = KeyBindings {
            claude: Some(Binding::Group("g".into())),
            ..Default::default()
        };
        let json = serde_json::to_string(&b).unwrap();
        assert_eq!(json, r#"{"claude":"group:g"}"#);
        assert_eq!(serde_json::from_str::<KeyBindings>(&json).unwrap(), b);
    }
}
