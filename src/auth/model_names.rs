//! Which requested models a key's `blocked_models` entry covers. Clients name one model many
//! ways — vendor prefixes (`anthropic/`, `models/`, `ccr,`, Bedrock's `us.anthropic.`), dated
//! snapshots (`-20250805`, Vertex's `@20250805`), `-latest` aliases, Bedrock's `-v1:0`, Claude
//! Code's `[1m]` marker — so an entry matches every spelling of the same model, and an entry
//! ending in `*` matches every model whose name starts with the rest.

/// `anthropic/claude-x`, `models/gemini-x`, `ccr,claude-x` → the bare lower-case name.
pub fn bare_model(model: &str) -> String {
    let m = model.trim().to_ascii_lowercase();
    let m = m.strip_prefix("ccr,").unwrap_or(&m);
    let m = m.strip_prefix("models/").unwrap_or(m);
    m.rsplit_once('/').map_or(m, |(_, rest)| rest).to_owned()
}

/// The name every spelling of one model shares.
pub fn model_family(model: &str) -> String {
    let mut m = bare_model(model);
    if let Some(open) = m.rfind('[')
        && m.ends_with(']')
    {
        m.truncate(open);
    }
    for region in ["us.", "eu.", "apac.", "global."] {
        if let Some(rest) = m.strip_prefix(region) {
            m = rest.to_owned();
        }
    }
    if let Some(rest) = m.strip_prefix("anthropic.") {
        m = rest.to_owned();
    }
    strip_version_suffix(&mut m);
    if let Some(rest) = m.strip_suffix("-latest") {
        m = rest.to_owned();
    }
    strip_date_suffix(&mut m);
    m
}

/// Bedrock's `-v1:0` / `-v2`.
fn strip_version_suffix(m: &mut String) {
    let Some(dash) = m.rfind("-v") else { return };
    let tail = &m[dash + 2..];
    let (major, minor) = tail.split_once(':').unwrap_or((tail, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if digits(major) && digits(minor) {
        m.truncate(dash);
    }
}

/// A dated snapshot: `-20250805` or `@20250805`.
fn strip_date_suffix(m: &mut String) {
    let Some(at) = m.len().checked_sub(9) else { return };
    let (head, tail) = m.split_at(at);
    let dated = (tail.starts_with('-') || tail.starts_with('@'))
        && tail[1..].bytes().all(|b| b.is_ascii_digit())
        && !head.is_empty();
    if dated {
        m.truncate(at);
    }
}

/// Whether a `blocked_models` entry covers the requested `model`.
pub fn blocks(entry: &str, model: &str) -> bool {
    match entry.trim().strip_suffix('*') {
        Some(prefix) => {
            let prefix = bare_model(prefix);
            !prefix.is_empty()
                && (bare_model(model).starts_with(&prefix) || model_family(model).starts_with(&prefix))
        }
        None => model_family(entry) == model_family(model),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_a_blocked_model_is_blocked() {
        for entry in [
            "claude-opus-4-1",
            "claude-opus-4-1-20250805",
            "anthropic/claude-opus-4-1",
        ] {
            for model in [
                "claude-opus-4-1",
                "claude-opus-4-1-20250805",
                "Claude-Opus-4-1-20250805",
                "anthropic/claude-opus-4-1-20250805",
                "claude-opus-4-1@20250805",
                "us.anthropic.claude-opus-4-1-20250805-v1:0",
                "claude-opus-4-1-latest",
                "claude-opus-4-1[1m]",
                "ccr,claude-opus-4-1",
            ] {
                assert!(blocks(entry, model), "{entry} should block {model}");
            }
        }
    }

    #[test]
    fn other_models_pass() {
        assert!(!blocks("claude-opus-4-1", "claude-opus-4"));
        assert!(!blocks("claude-opus-4", "claude-opus-4-1"));
        assert!(!blocks("claude-opus-4-1", "claude-sonnet-4-5-20250929"));
        assert!(!blocks("gpt-5", "gpt-5-mini"));
        assert!(
            !blocks("*", "gpt-5"),
            "a bare star blocks nothing rather than everything"
        );
    }

    #[test]
    fn a_trailing_star_blocks_a_family() {
        assert!(blocks("claude-opus-*", "claude-opus-4-1-20250805"));
        assert!(blocks(
            "claude-opus-*",
            "us.anthropic.claude-opus-4-1-20250805-v1:0"
        ));
        assert!(!blocks("claude-opus-*", "claude-sonnet-4-5"));
        assert!(blocks("gemini-2.5-*", "models/gemini-2.5-pro"));
    }
}
