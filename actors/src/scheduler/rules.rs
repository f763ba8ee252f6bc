//! What differs between platforms in selection: which models an account serves, and whether
//! model families are rate-limited separately. Everything else is the shared core.
use crate::domain::{Account, AccountKind, ModelFamily, Platform};

pub trait PlatformRules: Unpin + Send + 'static {
    const PLATFORM: Platform;
    /// Actor name in logs and errors.
    const ACTOR: &'static str;

    /// Whether `account` may serve a request for `model` (no model: yes).
    fn supports(account: &Account, model: &str) -> bool;

    /// The rate-limit family of a model, where the platform has them.
    fn family(_model: &str) -> Option<ModelFamily> {
        None
    }
}

pub struct ClaudeRules;

impl PlatformRules for ClaudeRules {
    const PLATFORM: Platform = Platform::Claude;
    const ACTOR: &'static str = "ClaudeScheduler";

    fn supports(account: &Account, model: &str) -> bool {
        if account.models.is_restricted() {
            return account.models.supports(model);
        }
        // Subscription (OAuth) accounts only serve Claude models.
        if account.kind == AccountKind::ClaudeOfficial {
            let m = model.to_ascii_lowercase();
            return m.starts_with("claude-")
                || ["claude", "sonnet", "opus", "haiku"]
                    .iter()
                    .any(|f| m.contains(f));
        }
        true
    }

    fn family(model: &str) -> Option<ModelFamily> {
        ModelFamily::of(model)
    }
}

pub struct GeminiRules;

impl PlatformRules for GeminiRules {
    const PLATFORM: Platform = Platform::Gemini;
    const ACTOR: &'static str = "GeminiScheduler";

    fn supports(account: &Account, model: &str) -> bool {
        let bare = |m: &str| m.strip_prefix("models/").unwrap_or(m).to_owned();
        match &account.models {
            crate::domain::ModelSupport::List(list) if !list.is_empty() => {
                list.iter().any(|m| bare(m) == bare(model))
            }
            other => other.supports(&bare(model)),
        }
    }
}

pub struct OpenAiRules;

impl PlatformRules for OpenAiRules {
    const PLATFORM: Platform = Platform::OpenAi;
    const ACTOR: &'static str = "OpenAiScheduler";

    fn supports(account: &Account, model: &str) -> bool {
        account.models.supports(model)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ModelSupport;

    #[test]
    fn claude_oauth_accounts_serve_only_claude_models() {
        let oauth = Account::new("o", AccountKind::ClaudeOfficial, 0);
        assert!(ClaudeRules::supports(&oauth, "claude-opus-4-8"));
        assert!(!ClaudeRules::supports(&oauth, "gpt-5"));
        let console = Account::new("c", AccountKind::ClaudeConsole, 0);
        assert!(ClaudeRules::supports(&console, "glm-4.6"));
    }

    #[test]
    fn gemini_lists_compare_without_the_models_prefix() {
        let mut a = Account::new("g", AccountKind::GeminiApi, 0);
        a.models = ModelSupport::List(vec!["models/gemini-2.5-pro".into()]);
        assert!(GeminiRules::supports(&a, "gemini-2.5-pro"));
        assert!(!GeminiRules::supports(&a, "gemini-2.5-flash"));
    }
}
