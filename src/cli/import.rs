//! `switchyard import crs`: reads claude-relay-service's Redis (read-only), decrypts and maps
//! it here, then sends the result to the running server's `POST /admin/import/crs`, which
//! writes it. Anything that stops the import (Redis unreadable, wrong encryption key) stops it
//! before the server is asked to write.
use super::client::{AdminClient, CliError};
use super::table::{self, Table};
use super::{CrsImportArgs, ImportCommand, pretty};
use serde_json::{Value, json};
use std::io::Read;
use switchyard::import::crs::{self, CrsCipher, CrsZone, MapOptions, reader};

pub async fn run(client: &AdminClient, command: ImportCommand, json: bool) -> Result<String, CliError> {
    match command {
        ImportCommand::Crs(args) => from_crs(client, args, json).await,
        ImportCommand::Switchyard(args) => super::backup::import(client, args, json).await,
    }
}

async fn from_crs(client: &AdminClient, args: CrsImportArgs, json: bool) -> Result<String, CliError> {
    let key = encryption_key(&args.encryption_key)?;
    let zone = CrsZone::new(args.timezone_offset)
        .ok_or_else(|| CliError::Usage("--timezone-offset must be between -12 and 14".into()))?;
    let snapshot = reader::read(&args.redis_url)
        .await
        .map_err(|e| CliError::Import(e.to_string()))?;
    let options = MapOptions {
        source: format!("claude-relay-service at {}", reader::redacted(&args.redis_url)),
        now: table::now_ms(),
        zone,
    };
    let bundle =
        crs::map(&snapshot, &CrsCipher::new(&key), &options).map_err(|e| CliError::Import(e.to_string()))?;
    let body = json!({"dry_run": args.dry_run, "bundle": bundle});
    let report = client.post("/admin/import/crs", &body).await?;
    Ok(if json { pretty(&report) } else { render(&report) })
}

fn encryption_key(given: &str) -> Result<String, CliError> {
    let key = if given == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        s
    } else {
        given.to_owned()
    };
    // Used as text, exactly as the reference uses it; only the line end of stdin goes.
    let key = key.trim_end_matches(['\r', '\n']).to_owned();
    if key.is_empty() {
        return Err(CliError::Usage("the encryption key is empty".into()));
    }
    Ok(key)
}

/// One row per record, then the counts.
fn render(report: &Value) -> String {
    let mut t = Table::new(&["WHAT", "NAME", "ID", "OUTCOME", "NOTES"]);
    for i in report["items"].as_array().into_iter().flatten() {
        let mut notes: Vec<String> = Vec::new();
        if let Some(kind) = i["kind"].as_str() {
            notes.push(kind.to_owned());
        }
        if let Some(reason) = i["reason"].as_str() {
            notes.push(reason.to_owned());
        }
        for f in i["skipped_fields"].as_array().into_iter().flatten() {
            notes.push(format!("skipped field {}", table::text(f)));
        }
        t.row(vec![
            table::text(&i["what"]),
            table::text(&i["name"]),
            table::text(&i["id"]),
            table::text(&i["outcome"]),
            if notes.is_empty() {
                "-".into()
            } else {
                notes.join("; ")
            },
        ]);
    }
    let count = |o: &str| report["summary"][o].as_u64().unwrap_or(0);
    let (imported, updated, unchanged, skipped) = (
        count("imported"),
        count("updated"),
        count("unchanged"),
        count("skipped"),
    );
    let mut out = t.render();
    out.push_str(&format!(
        "\n{imported} imported, {updated} updated, {unchanged} unchanged, {skipped} skipped.\n"
    ));
    if report["dry_run"].as_bool() == Some(true) {
        out.push_str("Dry run: nothing was written.\n");
    } else if imported == 0 && updated == 0 {
        out.push_str("Nothing new: everything was imported before.\n");
    }
    out
}
