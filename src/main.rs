//! The `switchyard` binary: `switchyard serve` (the default) runs the relay.
use std::path::PathBuf;
use std::process::ExitCode;
use switchyard::settings::Settings;
use switchyard::startup::Application;

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
        let app = Application::build(settings.clone()).await?;
        tracing::info!(
            address = %format!("http://{}:{}", settings.server.host, app.port()),
            accounts = app.state().scheduling.snapshot().len(),
            "switchyard listening"
        );
        let handle = app.handle();
        actix_web::rt::spawn(async move {
            shutdown_signal().await;
            tracing::info!("shutting down");
            handle.stop(true).await;
        });
        app.run_until_stopped().await?;
        Ok::<_, switchyard::startup::StartupError>(())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "switchyard failed");
            ExitCode::FAILURE
        }
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
