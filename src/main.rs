//! The `switchyard` binary: `switchyard serve` (the default) runs the relay; the other
//! subcommands are the operator CLI (see the `cli` module).
mod cli;

use clap::Parser;
use std::path::Path;
use std::process::ExitCode;
use switchyard::settings::Settings;

// The relay allocates and frees many small buffers per request across its threads: mimalloc
// spends markedly less time on that than the system allocator (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli.command {
        None | Some(cli::Command::Serve) => serve(cli::config_path(&cli.global).as_deref()),
        Some(command) => cli::run(cli.global, command),
    }
}

fn serve(config: Option<&Path>) -> ExitCode {
    let settings = match Settings::load(config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("switchyard: {e}");
            return ExitCode::from(2);
        }
    };
    switchyard::telemetry::init(&settings.log);
    let system = actix::System::new();
    match system.block_on(switchyard::startup::serve(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "switchyard failed");
            ExitCode::FAILURE
        }
    }
}
