//! The `switchyard` binary: `switchyard serve` (the default) runs the relay.
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use switchyard::settings::Settings;
use switchyard_actors::{Scheduling, SystemClock, store::MemoryStore};

fn config_path() -> Option<PathBuf> {
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--config" {
            return args.next().map(PathBuf::from);
        }
    }
    let default = PathBuf::from("settings.toml");
    default.exists().then_some(default)
}

fn main() -> ExitCode {
    let settings = match Settings::load(config_path().as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("switchyard: {e}");
            return ExitCode::from(2);
        }
    };
    switchyard::telemetry::init(&settings.log);
    let system = actix::System::new();
    let result = system.block_on(async move {
        let store = Arc::new(MemoryStore::new());
        let scheduling = Scheduling::start(store, Arc::new(SystemClock), settings.scheduling(), None).await?;
        tracing::info!(accounts = scheduling.snapshot().len(), "scheduling actors ready");
        tokio::signal::ctrl_c().await.ok();
        Ok::<_, switchyard_actors::StoreError>(())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "switchyard failed to start");
            ExitCode::FAILURE
        }
    }
}
