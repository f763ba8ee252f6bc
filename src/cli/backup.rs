//! `switchyard export` and `switchyard import switchyard`: a backup of a running server written
//! to a file (`GET /admin/export`, or `POST /admin/export` to seal it for another
//! installation's key), and a backup file restored onto a running server
//! (`POST /admin/import/switchyard`), with a table of what was written.
use super::client::{AdminClient, CliError};
use super::pretty;
use super::table::Table;
use clap::Args;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The backup file to write (mode 0600; it holds sealed credentials and key hashes)
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Seal the accounts' secrets for another installation's encryption key, read from this
    /// file (64 hex characters) [default: this server's own key]
    #[arg(long, value_name = "PATH")]
    pub reencrypt_for_key_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ImportSwitchyardArgs {
    /// A file written by `switchyard export`
    #[arg(long, value_name = "FILE")]
    pub file: PathBuf,
}

pub async fn export(client: &AdminClient, args: ExportArgs, json: bool) -> Result<String, CliError> {
    let file = match &args.reencrypt_for_key_file {
        None => client.get("/admin/export").await?,
        Some(path) => {
            let key = std::fs::read_to_string(path).map_err(|e| CliError::file(path, e))?;
            let body = json!({"reencrypt_for": key.trim()});
            client.post("/admin/export", &body).await?
        }
    };
    write_private(&args.out, file.to_string().as_bytes())?;
    let count = |field: &str| file[field].as_array().map_or(0, Vec::len);
    let summary = json!({
        "file": args.out.display().to_string(),
        "accounts": count("accounts"),
        "groups": count("groups"),
        "keys": count("keys"),
        "legacy_verifiers": count("legacy_verifiers"),
        "usage": count("usage"),
        "limits": count("limits"),
        "recent": count("recent"),
    });
    if json {
        return Ok(pretty(&summary));
    }
    Ok(format!(
        "wrote {}: {} accounts, {} groups, {} keys, {} usage rows, {} limit counters, {} recent lists\n",
        args.out.display(),
        summary["accounts"],
        summary["groups"],
        summary["keys"],
        summary["usage"],
        summary["limits"],
        summary["recent"]
    ))
}

/// Creates or truncates `path` with mode 0600 (never looser, not even briefly) and writes it.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    switchyard::store::private::private_file(path).map_err(|e| CliError::file(path, e))?;
    std::fs::write(path, bytes).map_err(|e| CliError::file(path, e))
}

pub async fn import(
    client: &AdminClient,
    args: ImportSwitchyardArgs,
    json: bool,
) -> Result<String, CliError> {
    let bytes = std::fs::read(&args.file).map_err(|e| CliError::file(&args.file, e))?;
    // The server checks everything else (format, version, checksum, key) before it writes.
    let file: Value = serde_json::from_slice(&bytes).map_err(|e| {
        CliError::file(
            &args.file,
            format!("not a complete backup (truncated or damaged): {e}"),
        )
    })?;
    let report = client.post("/admin/import/switchyard", &file).await?;
    if json {
        return Ok(pretty(&report));
    }
    let mut t = Table::new(&["RECORDS", "CREATED", "UPDATED", "UNCHANGED"]).numeric(&[1, 2, 3]);
    let kinds = [
        "accounts",
        "groups",
        "keys",
        "legacy_verifiers",
        "usage",
        "limits",
        "recent",
    ];
    for kind in kinds {
        let n = |f: &str| report[kind][f].as_u64().unwrap_or(0).to_string();
        t.row(vec![kind.to_owned(), n("created"), n("updated"), n("unchanged")]);
    }
    let mut out = t.render();
    for s in report["skipped"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "skipped {} {}: {}\n",
            s["kind"].as_str().unwrap_or(""),
            s["id"].as_str().unwrap_or(""),
            s["reason"].as_str().unwrap_or("")
        ));
    }
    if report["changed"] == Value::Bool(false) {
        out.push_str("nothing to import: this server already holds everything in the backup\n");
    }
    Ok(out)
}
