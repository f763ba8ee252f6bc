//! What tokens cost: a built-in price table for current Claude, Gemini and OpenAI models, an
//! optional LiteLLM-format pricing file that overrides it (reloaded when it changes), and the
//! cost formula (§9.2).
mod builtin;
mod cost;
mod litellm;

pub use cost::{Cost, cost_of};
pub use litellm::{PricingFileError, load_litellm};

use crate::money::Money;
use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

/// Per-token prices of one model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Price {
    pub input: Money,
    pub output: Money,
    pub cache_write_5m: Option<Money>,
    pub cache_write_1h: Option<Money>,
    pub cache_read: Option<Money>,
    /// Prices once the prompt (input + cache) exceeds 200k tokens, where the model has them.
    pub long_context: Option<LongContext>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LongContext {
    pub input: Money,
    pub output: Money,
    pub cache_write_5m: Option<Money>,
    pub cache_write_1h: Option<Money>,
    pub cache_read: Option<Money>,
}

/// Dollars per million tokens → picodollars per token.
pub(crate) const fn per_mtok(micros_per_mtok: u64) -> Money {
    // $X per 1M tokens = X × 10⁶ picodollars per token; the table gives X in micro-dollars.
    Money::from_picos(micros_per_mtok)
}

/// Prices by model name: the file's entries first, then the built-in table.
#[derive(Debug, Default)]
pub struct PriceBook {
    file: HashMap<String, Price>,
}

impl PriceBook {
    pub fn with_file(file: HashMap<String, Price>) -> Self {
        PriceBook { file }
    }

    /// The price of `model`: exact file entry, exact built-in entry, then the built-in rules
    /// (longest known prefix, model family), then the conservative default.
    pub fn price(&self, model: &str) -> Price {
        let m = model.trim().to_ascii_lowercase();
        let m = m.strip_prefix("models/").unwrap_or(&m);
        if let Some(p) = self.file.get(m).or_else(|| self.file.get(model)) {
            return *p;
        }
        builtin::lookup(m)
    }

    pub fn file_entries(&self) -> usize {
        self.file.len()
    }
}

/// The current price book, swapped whole when the pricing file changes.
pub struct Pricing {
    book: ArcSwap<PriceBook>,
    file: Option<PathBuf>,
    loaded_mtime: parking_lot::Mutex<Option<SystemTime>>,
}

impl Pricing {
    /// Built-in prices only.
    pub fn builtin() -> Self {
        Pricing {
            book: ArcSwap::from_pointee(PriceBook::default()),
            file: None,
            loaded_mtime: Default::default(),
        }
    }

    /// Built-in prices overridden by a LiteLLM-format file; a file that cannot be read is an
    /// error at start-up (later reload failures keep the last good prices).
    pub fn with_file(path: PathBuf) -> Result<Self, PricingFileError> {
        let p = Pricing {
            book: ArcSwap::from_pointee(PriceBook::default()),
            file: Some(path),
            loaded_mtime: Default::default(),
        };
        p.reload_if_changed()?;
        Ok(p)
    }

    pub fn book(&self) -> Arc<PriceBook> {
        self.book.load_full()
    }

    /// Re-reads the file when its modification time moved; true when prices changed.
    pub fn reload_if_changed(&self) -> Result<bool, PricingFileError> {
        let Some(path) = &self.file else { return Ok(false) };
        let mtime = std::fs::metadata(path)
            .and_then(|m| m.modified())
            .map_err(|e| PricingFileError::Read(path.clone(), e.to_string()))?;
        let mut loaded = self.loaded_mtime.lock();
        if *loaded == Some(mtime) {
            return Ok(false);
        }
        let entries = load_litellm(path)?;
        tracing::info!(file = %path.display(), models = entries.len(), "pricing file loaded");
        self.book.store(Arc::new(PriceBook::with_file(entries)));
        *loaded = Some(mtime);
        Ok(true)
    }
}
