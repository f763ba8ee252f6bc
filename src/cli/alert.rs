//! `switchyard alert test`: has the server send a test notification to every alert channel
//! (`POST /admin/alerts/test`) and prints how each took it; exits 1 when one failed.
use super::client::{AdminClient, CliError};
use super::table::Table;
use clap::Subcommand;
use serde_json::{Value, json};
use std::io::Write;

#[derive(Debug, Subcommand)]
pub enum AlertCommand {
    /// Send a test notification to every configured channel and report each one's result
    Test,
}

pub async fn run(client: &AdminClient, command: AlertCommand, json: bool) -> Result<String, CliError> {
    match command {
        AlertCommand::Test => test(client, json).await,
    }
}

async fn test(client: &AdminClient, json: bool) -> Result<String, CliError> {
    let v = client.post("/admin/alerts/test", &json!({})).await?;
    let channels = v["channels"].as_array().cloned().unwrap_or_default();
    let out = if json {
        super::pretty(&v)
    } else {
        render(&channels)
    };
    let failed = channels.iter().filter(|c| c["ok"] != true).count();
    if failed == 0 {
        return Ok(out);
    }
    // The table still shows which channel failed and why.
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes()).and_then(|_| stdout.flush());
    Err(CliError::Failed(format!(
        "{failed} of {} alert channels failed",
        channels.len()
    )))
}

fn render(channels: &[Value]) -> String {
    if channels.is_empty() {
        return "no alert channels configured ([[alerts.channels]] in settings.toml)\n".into();
    }
    let mut t = Table::new(&["CHANNEL", "KIND", "RESULT"]);
    for c in channels {
        let result = match c["ok"] == true {
            true => "ok".to_owned(),
            false => format!("error: {}", c["error"].as_str().unwrap_or("unknown")),
        };
        t.row(vec![
            c["channel"].as_str().unwrap_or("").to_owned(),
            c["kind"].as_str().unwrap_or("").to_owned(),
            result,
        ]);
    }
    t.render()
}
