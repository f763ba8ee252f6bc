//! Built-in prices (USD per million tokens, as published by each provider), and the rules that
//! price model names the table does not list exactly: longest known prefix, then family.
use super::{LongContext, Price, per_mtok};

/// $ per million tokens, written as micro-dollars so the table stays integer: 3_000_000 = $3.
const fn p(input: u64, output: u64, write_5m: u64, write_1h: u64, read: u64) -> Price {
    Price {
        input: per_mtok(input),
        output: per_mtok(output),
        cache_write_5m: Some(per_mtok(write_5m)),
        cache_write_1h: Some(per_mtok(write_1h)),
        cache_read: Some(per_mtok(read)),
        long_context: None,
    }
}

/// Models without cache writes (OpenAI, Gemini): cached input is read at `read`.
const fn pr(input: u64, output: u64, read: u64) -> Price {
    Price {
        input: per_mtok(input),
        output: per_mtok(output),
        cache_write_5m: None,
        cache_write_1h: None,
        cache_read: Some(per_mtok(read)),
        long_context: None,
    }
}

/// Long-context prices: Claude doubles input and cache prices (1.5× output) above 200k.
const fn long(
    mut base: Price,
    input: u64,
    output: u64,
    write_5m: u64,
    write_1h: Option<u64>,
    read: u64,
) -> Price {
    base.long_context = Some(LongContext {
        input: per_mtok(input),
        output: per_mtok(output),
        cache_write_5m: Some(per_mtok(write_5m)),
        cache_write_1h: match write_1h {
            Some(w) => Some(per_mtok(w)),
            None => None,
        },
        cache_read: Some(per_mtok(read)),
    });
    base
}

const M: u64 = 1_000_000;

const OPUS_OLD: Price = p(15 * M, 75 * M, 18_750_000, 30 * M, 1_500_000);
const OPUS: Price = p(5 * M, 25 * M, 6_250_000, 10 * M, 500_000);
const SONNET: Price = p(3 * M, 15 * M, 3_750_000, 6 * M, 300_000);
const SONNET_LONG: Price = long(SONNET, 6 * M, 22_500_000, 7_500_000, Some(12 * M), 600_000);
const HAIKU_45: Price = p(M, 5 * M, 1_250_000, 2 * M, 100_000);
const HAIKU_35: Price = p(800_000, 4 * M, M, 1_600_000, 80_000);
const HAIKU_3: Price = p(250_000, 1_250_000, 300_000, 500_000, 30_000);

/// The default for a model nobody priced (the original's `unknown` entry).
pub const UNKNOWN: Price = p(3 * M, 15 * M, 3_750_000, 6 * M, 300_000);

/// Exact names and prefixes (a dated or suffixed name takes its longest prefix's price).
const TABLE: &[(&str, Price)] = &[
    // Anthropic
    ("claude-opus-4-1", OPUS_OLD),
    ("claude-opus-4-0", OPUS_OLD),
    ("claude-opus-4-2025", OPUS_OLD),
    ("claude-3-opus", OPUS_OLD),
    ("claude-opus-4", OPUS),
    ("claude-sonnet-4-5", SONNET_LONG),
    ("claude-sonnet-4", SONNET_LONG),
    ("claude-sonnet", SONNET),
    ("claude-3-7-sonnet", SONNET),
    ("claude-3-5-sonnet", SONNET),
    ("claude-haiku-4", HAIKU_45),
    ("claude-3-5-haiku", HAIKU_35),
    ("claude-3-haiku", HAIKU_3),
    // OpenAI
    ("gpt-5-nano", pr(50_000, 400_000, 5_000)),
    ("gpt-5-mini", pr(250_000, 2 * M, 25_000)),
    ("gpt-5", pr(1_250_000, 10 * M, 125_000)),
    ("gpt-4.1-nano", pr(100_000, 400_000, 25_000)),
    ("gpt-4.1-mini", pr(400_000, 1_600_000, 100_000)),
    ("gpt-4.1", pr(2 * M, 8 * M, 500_000)),
    ("gpt-4o-mini", pr(150_000, 600_000, 75_000)),
    ("gpt-4o", pr(2_500_000, 10 * M, 1_250_000)),
    ("o4-mini", pr(1_100_000, 4_400_000, 275_000)),
    ("o3", pr(2 * M, 8 * M, 500_000)),
    ("codex-mini", pr(1_500_000, 6 * M, 375_000)),
    // Google
    (
        "gemini-2.5-pro",
        long(
            pr(1_250_000, 10 * M, 312_500),
            2_500_000,
            15 * M,
            2_500_000,
            None,
            625_000,
        ),
    ),
    ("gemini-2.5-flash-lite", pr(100_000, 400_000, 25_000)),
    ("gemini-2.5-flash", pr(300_000, 2_500_000, 75_000)),
    ("gemini-2.0-flash-lite", pr(75_000, 300_000, 18_750)),
    ("gemini-2.0-flash", pr(100_000, 400_000, 25_000)),
];

/// Family fallbacks for names no prefix covers (newer releases keep their family's price).
const FAMILIES: &[(&str, Price)] = &[
    ("opus", OPUS),
    ("sonnet", SONNET),
    ("haiku", HAIKU_45),
    ("flash-lite", pr(100_000, 400_000, 25_000)),
    ("flash", pr(300_000, 2_500_000, 75_000)),
    (
        "gemini",
        long(
            pr(1_250_000, 10 * M, 312_500),
            2_500_000,
            15 * M,
            2_500_000,
            None,
            625_000,
        ),
    ),
    ("gpt-", pr(1_250_000, 10 * M, 125_000)),
    ("codex", pr(1_250_000, 10 * M, 125_000)),
];

pub(super) fn lookup(model: &str) -> Price {
    TABLE
        .iter()
        .filter(|(name, _)| model.starts_with(name))
        .max_by_key(|(name, _)| name.len())
        .or_else(|| FAMILIES.iter().find(|(f, _)| model.contains(f)))
        .map(|(_, p)| *p)
        .unwrap_or(UNKNOWN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_by_prefix_then_family() {
        assert_eq!(lookup("claude-opus-4-1-20250805"), OPUS_OLD);
        assert_eq!(lookup("claude-opus-4-20250514"), OPUS_OLD);
        assert_eq!(lookup("claude-opus-4-8"), OPUS);
        assert_eq!(lookup("claude-sonnet-5"), SONNET);
        assert_eq!(lookup("claude-sonnet-4-5-20250929"), SONNET_LONG);
        assert_eq!(lookup("claude-haiku-4-5"), HAIKU_45);
        assert_eq!(lookup("gpt-5-mini-2025-08-07").input.picos(), 250_000);
        assert_eq!(lookup("gpt-5.1-codex").input.picos(), 1_250_000);
        assert_eq!(lookup("gemini-3.8-flash").input.picos(), 300_000);
        assert_eq!(lookup("gemini-3.5-flash-lite").input.picos(), 100_000);
        assert_eq!(lookup("totally-unknown"), UNKNOWN);
    }
}
