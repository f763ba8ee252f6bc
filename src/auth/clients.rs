//! Recognises the CLI clients a key may be restricted to, by user-agent and path.
use crate::keys::ClientKind;

/// The path without the claude-relay-service compatibility prefixes.
fn bare_path(path: &str) -> &str {
    path.strip_prefix("/api")
        .or_else(|| path.strip_prefix("/claude"))
        .unwrap_or(path)
}

pub fn is_client(kind: ClientKind, user_agent: &str, path: &str) -> bool {
    let path = bare_path(path);
    match kind {
        ClientKind::ClaudeCode => {
            let version = user_agent
                .strip_prefix("claude-cli/")
                .and_then(|r| r.split([' ', '(']).next());
            let versioned = version.is_some_and(|v| {
                let parts: Vec<&str> = v.split('.').collect();
                parts.len() >= 3
                    && parts[..3]
                        .iter()
                        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            });
            versioned && path.starts_with("/v1/")
        }
        ClientKind::GeminiCli => {
            user_agent.starts_with("GeminiCLI")
                && (path.starts_with("/gemini/")
                    || path.starts_with("/v1beta/")
                    || path.starts_with("/v1/models/"))
        }
        ClientKind::CodexCli => {
            ["codex_exec/", "codex_cli_rs/", "codex_vscode/"]
                .iter()
                .any(|p| user_agent.starts_with(p))
                && (path.starts_with("/openai/") || path.starts_with("/v1/responses"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_client_user_agents_are_recognised() {
        let cc = "claude-cli/2.1.197 (external, sdk-cli)";
        assert!(is_client(ClientKind::ClaudeCode, cc, "/v1/messages"));
        assert!(is_client(ClientKind::ClaudeCode, cc, "/claude/v1/messages"));
        assert!(!is_client(
            ClientKind::ClaudeCode,
            "Anthropic/Python 2.14.0",
            "/v1/messages"
        ));
        assert!(!is_client(
            ClientKind::ClaudeCode,
            "claude-cli/dev",
            "/v1/messages"
        ));
        let gem = "GeminiCLI-tui/0.61.0/gemini-3.1-pro-preview (linux; x64; terminal)";
        assert!(is_client(
            ClientKind::GeminiCli,
            gem,
            "/v1beta/models/gemini-3.8-flash:streamGenerateContent"
        ));
        assert!(!is_client(ClientKind::GeminiCli, gem, "/v1/messages"));
        let codex = "codex_exec/0.171.0 (Debian 12.0.0; x86_64) dumb (codex_exec; 0.171.0)";
        assert!(is_client(ClientKind::CodexCli, codex, "/openai/v1/responses"));
        assert!(is_client(ClientKind::CodexCli, codex, "/v1/responses"));
        assert!(!is_client(
            ClientKind::CodexCli,
            "OpenAI/Python 3.57.0",
            "/v1/responses"
        ));
    }
}
