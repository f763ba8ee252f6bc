//! Claude model families: Anthropic rate-limits opus, sonnet, haiku and fable separately.
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelFamily {
    Opus,
    Sonnet,
    Haiku,
    Fable,
}

impl ModelFamily {
    const ORDER: [ModelFamily; 4] = [
        ModelFamily::Opus,
        ModelFamily::Sonnet,
        ModelFamily::Haiku,
        ModelFamily::Fable,
    ];

    /// The first family whose name the lower-cased model contains (a `ccr,` prefix is ignored).
    pub fn of(model: &str) -> Option<Self> {
        let lower = model.to_ascii_lowercase();
        let base = lower.strip_prefix("ccr,").unwrap_or(&lower);
        Self::ORDER.into_iter().find(|f| base.contains(f.as_str()))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ModelFamily::Opus => "opus",
            ModelFamily::Sonnet => "sonnet",
            ModelFamily::Haiku => "haiku",
            ModelFamily::Fable => "fable",
        }
    }
}

impl fmt::Display for ModelFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_come_from_the_model_name() {
        assert_eq!(ModelFamily::of("claude-opus-4-8"), Some(ModelFamily::Opus));
        assert_eq!(ModelFamily::of("claude-sonnet-5"), Some(ModelFamily::Sonnet));
        assert_eq!(
            ModelFamily::of("Claude-3-5-Haiku-20241022"),
            Some(ModelFamily::Haiku)
        );
        assert_eq!(ModelFamily::of("ccr,claude-fable-1"), Some(ModelFamily::Fable));
        assert_eq!(ModelFamily::of("gpt-5"), None);
        assert_eq!(ModelFamily::of("claude-2"), None);
    }
}
