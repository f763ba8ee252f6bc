//! Upstream platforms and the kinds of account each one takes.
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Claude,
    Gemini,
    #[serde(rename = "openai")]
    OpenAi,
}

impl Platform {
    pub const ALL: [Platform; 3] = [Platform::Claude, Platform::Gemini, Platform::OpenAi];

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Claude => "claude",
            Platform::Gemini => "gemini",
            Platform::OpenAi => "openai",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{value}`")]
pub struct UnknownName {
    pub what: &'static str,
    pub value: String,
}

impl FromStr for Platform {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Platform::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownName {
                what: "platform",
                value: s.to_owned(),
            })
    }
}

/// An account's kind: its stored name and its platform (what the scheduler needs). Everything
/// else about a kind (credential, addressing, what it serves) is its module's in the server
/// crate, found through `upstream::registry`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AccountKind {
    /// Claude subscription account, OAuth tokens, the Anthropic API.
    #[serde(rename = "claude-official")]
    ClaudeOfficial,
    /// Anthropic-compatible API key plus base URL.
    #[serde(rename = "claude-console")]
    ClaudeConsole,
    /// Google OAuth account behind the Code Assist internal API.
    #[serde(rename = "gemini")]
    GeminiOAuth,
    /// Gemini API key.
    #[serde(rename = "gemini-api")]
    GeminiApi,
    /// ChatGPT / Codex OAuth account.
    #[serde(rename = "openai")]
    OpenAiOAuth,
    /// Any OpenAI Responses-compatible API key plus base URL.
    #[serde(rename = "openai-responses")]
    OpenAiResponses,
    /// CCR: an Anthropic-compatible endpoint of the operator's choosing, key plus model mapping.
    #[serde(rename = "ccr")]
    Ccr,
    /// Azure OpenAI: an endpoint, a deployment per model, an `api-key` or Entra token.
    #[serde(rename = "azure-openai")]
    AzureOpenAi,
    /// Claude on AWS Bedrock: access key (SigV4) or Bedrock API key, and region.
    #[serde(rename = "bedrock")]
    Bedrock,
}

impl AccountKind {
    pub const ALL: [AccountKind; 9] = [
        AccountKind::ClaudeOfficial,
        AccountKind::ClaudeConsole,
        AccountKind::GeminiOAuth,
        AccountKind::GeminiApi,
        AccountKind::OpenAiOAuth,
        AccountKind::OpenAiResponses,
        AccountKind::Ccr,
        AccountKind::AzureOpenAi,
        AccountKind::Bedrock,
    ];

    pub fn platform(self) -> Platform {
        match self {
            AccountKind::ClaudeOfficial | AccountKind::ClaudeConsole => Platform::Claude,
            AccountKind::Ccr => Platform::Claude,
            AccountKind::AzureOpenAi => Platform::OpenAi,
            AccountKind::Bedrock => Platform::Claude,
            AccountKind::GeminiOAuth | AccountKind::GeminiApi => Platform::Gemini,
            AccountKind::OpenAiOAuth | AccountKind::OpenAiResponses => Platform::OpenAi,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::ClaudeOfficial => "claude-official",
            AccountKind::ClaudeConsole => "claude-console",
            AccountKind::GeminiOAuth => "gemini",
            AccountKind::GeminiApi => "gemini-api",
            AccountKind::OpenAiOAuth => "openai",
            AccountKind::OpenAiResponses => "openai-responses",
            AccountKind::Ccr => "ccr",
            AccountKind::AzureOpenAi => "azure-openai",
            AccountKind::Bedrock => "bedrock",
        }
    }
}

impl fmt::Display for AccountKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AccountKind {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AccountKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownName {
                what: "account kind",
                value: s.to_owned(),
            })
    }
}
