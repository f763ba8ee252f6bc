//! Reads a LiteLLM `model_prices_and_context_window.json`-shaped file: model → per-token USD
//! prices. Entries without an input or output price (images, embeddings…) are skipped.
use super::{LongContext, Price};
use crate::money::Money;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum PricingFileError {
    #[error("reading pricing file {0}: {1}")]
    Read(PathBuf, String),
    #[error("pricing file {0} is not LiteLLM JSON: {1}")]
    Parse(PathBuf, String),
}

#[derive(Deserialize)]
struct Entry {
    input_cost_per_token: Option<f64>,
    output_cost_per_token: Option<f64>,
    cache_creation_input_token_cost: Option<f64>,
    cache_creation_input_token_cost_above_1hr: Option<f64>,
    cache_read_input_token_cost: Option<f64>,
    input_cost_per_token_above_200k_tokens: Option<f64>,
    output_cost_per_token_above_200k_tokens: Option<f64>,
    cache_creation_input_token_cost_above_200k_tokens: Option<f64>,
    cache_read_input_token_cost_above_200k_tokens: Option<f64>,
}

fn money(v: Option<f64>) -> Option<Money> {
    v.and_then(Money::from_usd_f64)
}

pub fn load_litellm(path: &Path) -> Result<HashMap<String, Price>, PricingFileError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| PricingFileError::Read(path.to_owned(), e.to_string()))?;
    let raw: HashMap<String, serde_json::Value> =
        serde_json::from_str(&text).map_err(|e| PricingFileError::Parse(path.to_owned(), e.to_string()))?;
    let mut out = HashMap::with_capacity(raw.len());
    for (name, value) in raw {
        let Ok(e) = serde_json::from_value::<Entry>(value) else {
            continue;
        };
        let (Some(input), Some(output)) = (money(e.input_cost_per_token), money(e.output_cost_per_token))
        else {
            continue;
        };
        let long_context = match (
            money(e.input_cost_per_token_above_200k_tokens),
            money(e.output_cost_per_token_above_200k_tokens),
        ) {
            (Some(li), Some(lo)) => Some(LongContext {
                input: li,
                output: lo,
                cache_write_5m: money(e.cache_creation_input_token_cost_above_200k_tokens),
                cache_write_1h: None,
                cache_read: money(e.cache_read_input_token_cost_above_200k_tokens),
            }),
            _ => None,
        };
        out.insert(
            name.to_ascii_lowercase(),
            Price {
                input,
                output,
                cache_write_5m: money(e.cache_creation_input_token_cost),
                cache_write_1h: money(e.cache_creation_input_token_cost_above_1hr),
                cache_read: money(e.cache_read_input_token_cost),
                long_context,
            },
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::Pricing;

    #[test]
    fn file_prices_override_the_table_and_reload_on_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("prices.json");
        std::fs::write(
            &path,
            r#"{"claude-sonnet-5": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6,
                "cache_read_input_token_cost": 1e-7, "litellm_provider": "anthropic"},
               "sample_spec": {"max_tokens": "set to max"},
               "dall-e-3": {"output_cost_per_image": 0.04}}"#,
        )
        .unwrap();
        let pricing = Pricing::with_file(path.clone()).unwrap();
        let p = pricing.book().price("claude-sonnet-5");
        assert_eq!(
            (p.input.picos(), p.output.picos(), p.cache_read.unwrap().picos()),
            (1_000_000, 2_000_000, 100_000)
        );
        assert_eq!(pricing.book().file_entries(), 1);
        assert_eq!(
            pricing.book().price("claude-haiku-4-5").input.picos(),
            1_000_000,
            "others keep built-in prices"
        );
        assert!(!pricing.reload_if_changed().unwrap(), "unchanged file: no reload");
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(
            &path,
            r#"{"claude-sonnet-5": {"input_cost_per_token": 4e-6, "output_cost_per_token": 5e-6}}"#,
        )
        .unwrap();
        let f = std::fs::File::options().write(true).open(&path).unwrap();
        f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
            .unwrap();
        assert!(pricing.reload_if_changed().unwrap());
        assert_eq!(pricing.book().price("claude-sonnet-5").input.picos(), 4_000_000);
        std::fs::write(&path, "not json").unwrap();
        f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(10))
            .unwrap();
        assert!(pricing.reload_if_changed().is_err());
        assert_eq!(
            pricing.book().price("claude-sonnet-5").input.picos(),
            4_000_000,
            "a bad file keeps the last prices"
        );
    }
}
