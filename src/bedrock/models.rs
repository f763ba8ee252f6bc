//! Which Bedrock model id serves an Anthropic model name, and back (for pricing and for the
//! `model` a client sees).
//!
//! Bedrock names Claude models `anthropic.<anthropic name>-v<N>:0`; models since Claude 3.7 are
//! served on demand only through a cross-region inference profile, whose id adds a geography
//! prefix (`us.`, `eu.`, `apac.`, `global.`, …). An account may map names itself (its own
//! profiles, provisioned-throughput or application-profile ARNs); its map wins over the table.

use std::collections::HashMap;

use super::credentials::Region;

/// The built-in table: Anthropic name, Bedrock base id, whether on-demand use needs an
/// inference profile.
const TABLE: &[(&str, &str, bool)] = &[
    (
        "claude-3-haiku-20240307",
        "anthropic.claude-3-haiku-20240307-v1:0",
        false,
    ),
    (
        "claude-3-5-haiku-20241022",
        "anthropic.claude-3-5-haiku-20241022-v1:0",
        false,
    ),
    (
        "claude-3-5-sonnet-20240620",
        "anthropic.claude-3-5-sonnet-20240620-v1:0",
        false,
    ),
    (
        "claude-3-5-sonnet-20241022",
        "anthropic.claude-3-5-sonnet-20241022-v2:0",
        false,
    ),
    (
        "claude-3-7-sonnet-20250219",
        "anthropic.claude-3-7-sonnet-20250219-v1:0",
        true,
    ),
    (
        "claude-sonnet-4-20250514",
        "anthropic.claude-sonnet-4-20250514-v1:0",
        true,
    ),
    (
        "claude-opus-4-20250514",
        "anthropic.claude-opus-4-20250514-v1:0",
        true,
    ),
    (
        "claude-opus-4-1-20250805",
        "anthropic.claude-opus-4-1-20250805-v1:0",
        true,
    ),
    (
        "claude-sonnet-4-5-20250929",
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
        true,
    ),
    (
        "claude-haiku-4-5-20251001",
        "anthropic.claude-haiku-4-5-20251001-v1:0",
        true,
    ),
    (
        "claude-opus-4-5-20251101",
        "anthropic.claude-opus-4-5-20251101-v1:0",
        true,
    ),
];

/// Undated aliases clients send (`claude-sonnet-4-5`), and the dated model each stands for.
const ALIASES: &[(&str, &str)] = &[
    ("claude-3-haiku", "claude-3-haiku-20240307"),
    ("claude-3-5-haiku", "claude-3-5-haiku-20241022"),
    ("claude-3-5-haiku-latest", "claude-3-5-haiku-20241022"),
    ("claude-3-5-sonnet", "claude-3-5-sonnet-20241022"),
    ("claude-3-5-sonnet-latest", "claude-3-5-sonnet-20241022"),
    ("claude-3-7-sonnet", "claude-3-7-sonnet-20250219"),
    ("claude-3-7-sonnet-latest", "claude-3-7-sonnet-20250219"),
    ("claude-sonnet-4", "claude-sonnet-4-20250514"),
    ("claude-sonnet-4-0", "claude-sonnet-4-20250514"),
    ("claude-opus-4", "claude-opus-4-20250514"),
    ("claude-opus-4-0", "claude-opus-4-20250514"),
    ("claude-opus-4-1", "claude-opus-4-1-20250805"),
    ("claude-sonnet-4-5", "claude-sonnet-4-5-20250929"),
    ("claude-haiku-4-5", "claude-haiku-4-5-20251001"),
    ("claude-opus-4-5", "claude-opus-4-5-20251101"),
];

/// Inference-profile geography prefixes Bedrock uses.
const PROFILE_PREFIXES: &[&str] = &["us-gov.", "global.", "us.", "eu.", "apac.", "jp.", "au.", "ca."];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ModelError {
    #[error("model {0:?} has no Bedrock model id; add it to the account's model map")]
    Unknown(String),
}

/// One account's model mapping: its own entries first, then the built-in table with the
/// region's inference profile where the model needs one.
#[derive(Clone, Debug, Default)]
pub struct ModelMap {
    /// Anthropic name (or alias) → Bedrock model id, inference-profile id or ARN.
    account: HashMap<String, String>,
}

impl ModelMap {
    pub fn new(account: HashMap<String, String>) -> Self {
        ModelMap { account }
    }

    /// The Bedrock model id for `model` as the client names it. A name that already is a
    /// Bedrock id (`anthropic.…`, a profile id, an ARN) passes unchanged.
    pub fn bedrock_id(&self, model: &str, region: &Region) -> Result<String, ModelError> {
        let model = model.trim();
        if let Some(id) = self.account.get(model) {
            return Ok(id.clone());
        }
        if is_bedrock_id(model) {
            return Ok(model.to_owned());
        }
        // An entry under an alias serves the dated name too, and the other way round.
        let name = resolve_alias(model);
        if let Some((_, id)) = self.account.iter().find(|(k, _)| resolve_alias(k) == name) {
            return Ok(id.clone());
        }
        let (_, base, needs_profile) = TABLE
            .iter()
            .find(|(n, _, _)| *n == name)
            .ok_or_else(|| ModelError::Unknown(model.to_owned()))?;
        Ok(match (needs_profile, profile_prefix(region)) {
            (true, Some(prefix)) => format!("{prefix}.{base}"),
            _ => (*base).to_owned(),
        })
    }

    /// The Anthropic model name a Bedrock id stands for, for pricing and usage records: the
    /// account's map read backwards, then the id's own shape (`[geo.]anthropic.<name>-vN:M`).
    /// `None` for an id that names no Claude model we can recognise (e.g. an opaque ARN).
    pub fn anthropic_name(&self, bedrock_id: &str) -> Option<String> {
        let id = bedrock_id.trim();
        if let Some((name, _)) = self.account.iter().find(|(_, v)| v.as_str() == id) {
            return Some(resolve_alias(name).to_owned());
        }
        anthropic_name_of(id).map(str::to_owned)
    }
}

/// `[geo.]anthropic.<name>-vN:M`, possibly as the resource part of an ARN, → `<name>`.
pub fn anthropic_name_of(bedrock_id: &str) -> Option<&str> {
    let id = bedrock_id.rsplit('/').next().unwrap_or(bedrock_id);
    let id = PROFILE_PREFIXES
        .iter()
        .find_map(|p| id.strip_prefix(p))
        .unwrap_or(id);
    let id = id.strip_prefix("anthropic.")?;
    let (name, version) = id.rsplit_once("-v")?;
    let (major, minor) = version.split_once(':').unwrap_or((version, "0"));
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (numeric(major) && numeric(minor) && !name.is_empty()).then_some(name)
}

fn is_bedrock_id(model: &str) -> bool {
    model.starts_with("arn:") || anthropic_name_of(model).is_some()
}

fn resolve_alias(model: &str) -> &str {
    ALIASES
        .iter()
        .find(|(alias, _)| *alias == model)
        .map_or(model, |(_, name)| name)
}

/// The inference-profile geography for a region's default profile, or `None` where Bedrock
/// has no regional profile (then the plain model id is used and the account should map it).
fn profile_prefix(region: &Region) -> Option<&'static str> {
    let r = region.as_str();
    if r.starts_with("us-gov-") {
        Some("us-gov")
    } else if r.starts_with("us-") || r.starts_with("ca-") {
        Some("us")
    } else if r.starts_with("eu-") {
        Some("eu")
    } else if r.starts_with("ap-") {
        Some("apac")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(r: &str) -> Region {
        Region::parse(r).unwrap()
    }

    #[test]
    fn table_names_get_the_regions_profile_when_they_need_one() {
        let map = ModelMap::default();
        let us = region("us-east-1");
        assert_eq!(
            map.bedrock_id("claude-sonnet-4-5-20250929", &us).unwrap(),
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
        );
        assert_eq!(
            map.bedrock_id("claude-sonnet-4-5", &region("eu-central-1"))
                .unwrap(),
            "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"
        );
        assert_eq!(
            map.bedrock_id("claude-3-5-sonnet-20241022", &us).unwrap(),
            "anthropic.claude-3-5-sonnet-20241022-v2:0"
        );
        assert_eq!(
            map.bedrock_id("global.anthropic.claude-opus-4-5-20251101-v1:0", &us)
                .unwrap(),
            "global.anthropic.claude-opus-4-5-20251101-v1:0"
        );
        assert_eq!(
            map.bedrock_id("gpt-4o", &us).unwrap_err(),
            ModelError::Unknown("gpt-4o".into())
        );
    }

    #[test]
    fn the_account_map_wins_and_reads_backwards_for_pricing() {
        let arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123";
        let map = ModelMap::new(HashMap::from([("claude-sonnet-4-5".to_owned(), arn.to_owned())]));
        let us = region("us-east-1");
        assert_eq!(map.bedrock_id("claude-sonnet-4-5-20250929", &us).unwrap(), arn);
        assert_eq!(
            map.anthropic_name(arn).as_deref(),
            Some("claude-sonnet-4-5-20250929")
        );
        assert_eq!(
            map.anthropic_name("us.anthropic.claude-haiku-4-5-20251001-v1:0")
                .as_deref(),
            Some("claude-haiku-4-5-20251001")
        );
        assert_eq!(
            map.anthropic_name("anthropic.claude-3-5-sonnet-20241022-v2:0")
                .as_deref(),
            Some("claude-3-5-sonnet-20241022")
        );
        assert_eq!(
            anthropic_name_of(
                "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-opus-4-1-20250805-v1:0"
            ),
            Some("claude-opus-4-1-20250805")
        );
        assert_eq!(
            map.anthropic_name("arn:aws:bedrock:us-east-1:1:provisioned-model/xyz"),
            None
        );
    }

    #[test]
    fn every_table_entry_reads_back_to_its_name() {
        for (name, base, _) in TABLE {
            assert_eq!(anthropic_name_of(base), Some(*name));
        }
        for (_, name) in ALIASES {
            assert!(TABLE.iter().any(|(n, _, _)| n == name), "{name}");
        }
    }

    #[test]
    fn mapped_names_get_the_anthropic_list_price() {
        let book = crate::pricing::PriceBook::default();
        let unknown = book.price("zzz-no-such-model");
        for id in [
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "global.anthropic.claude-haiku-4-5-20251001-v1:0",
            "anthropic.claude-3-5-haiku-20241022-v1:0",
        ] {
            let name = ModelMap::default().anthropic_name(id).unwrap();
            assert_eq!(
                book.price(&name),
                book.price(name.trim_end_matches(char::is_numeric).trim_end_matches('-'))
            );
            assert_ne!(book.price(&name), unknown, "{id} priced as an unknown model");
        }
    }
}
