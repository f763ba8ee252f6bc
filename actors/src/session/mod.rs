//! Session identity: which requests belong to one conversation, so they can stay on one
//! account (prompt caches live per account). Each platform derives it its own way (§2).
mod claude;
mod gemini;
mod openai;

pub use claude::{ClaudeRequestView, claude_session};
pub use gemini::gemini_session;
pub use openai::{OPENAI_SESSION_HEADERS, openai_session};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(String);

impl SessionId {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// sha256 of `text`, hex, cut to `len` characters.
    pub(crate) fn hashed(text: &str, len: usize) -> Self {
        let mut hex = hex::encode(Sha256::digest(text.as_bytes()));
        hex.truncate(len);
        Self(hex)
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
