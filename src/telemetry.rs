//! Logging with `tracing`, human-readable or JSON by setting. Text that clients choose goes
//! into fields through [`LogText`], escaped and bounded; human-format events are also written
//! one line each, bounded, whatever their other fields hold.
mod log_text;
mod one_line;

pub use log_text::{LogText, MAX_LEN};

use crate::settings::{LogFormat, LogSettings};
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    log_text::set_bare(settings.format == LogFormat::Json);
    // Colour codes only for a person at a terminal, not in files and collectors.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match settings.format {
        LogFormat::Json => builder
            .with_writer(std::io::stderr)
            .json()
            .flatten_event(true)
            .try_init(),
        LogFormat::Human => builder.with_writer(one_line::OneLine).try_init(),
    };
}
