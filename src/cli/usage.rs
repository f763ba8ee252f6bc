//! `switchyard usage`: a table of usage per key, account or model for a total, month, day or
//! hour, wrapping `GET /admin/usage?by=&period=&at=`.
use super::client::{AdminClient, CliError};
use super::table::{self, Table};
use super::{UsageArgs, UsageBy, pretty};
use clap::ValueEnum;
use std::collections::HashMap;

fn name_of(v: &impl ValueEnum) -> String {
    v.to_possible_value()
        .map(|p| p.get_name().to_owned())
        .unwrap_or_default()
}

pub async fn run(client: &AdminClient, args: UsageArgs, json: bool) -> Result<String, CliError> {
    let mut path = format!(
        "/admin/usage?by={}&period={}",
        name_of(&args.by),
        name_of(&args.period)
    );
    if let Some(at) = &args.at {
        path.push_str(&format!("&at={}", switchyard::oauth::urlencode(at)));
    }
    let v = client.get(&path).await?;
    if json {
        return Ok(pretty(&v));
    }
    // Accounts are shown by name too; keys come with theirs.
    let account_names: HashMap<String, String> = match args.by {
        UsageBy::Account => client.get("/admin/accounts").await?["accounts"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| (table::text(&a["id"]), table::text(&a["name"])))
            .collect(),
        _ => HashMap::new(),
    };
    let first = match args.by {
        UsageBy::Key => "KEY",
        UsageBy::Account => "ACCOUNT",
        UsageBy::Model => "MODEL",
    };
    let with_names = !matches!(args.by, UsageBy::Model);
    let mut headers = vec![first];
    if with_names {
        headers.push("NAME");
    }
    headers.extend([
        "REQUESTS",
        "INPUT",
        "OUTPUT",
        "CACHE WRITE",
        "CACHE READ",
        "COST USD",
        "RATED USD",
    ]);
    let offset = usize::from(with_names);
    let mut t = Table::new(&headers).numeric(&(1 + offset..8 + offset).collect::<Vec<_>>());
    for r in v["rows"].as_array().into_iter().flatten() {
        let id = table::text(&r["id"]);
        let mut row = vec![id.clone()];
        if with_names {
            let name = match args.by {
                UsageBy::Account => account_names.get(&id).cloned().unwrap_or_else(|| "-".into()),
                _ => table::text(&r["name"]),
            };
            row.push(name);
        }
        for field in [
            "requests",
            "input_tokens",
            "output_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
            "real_cost_usd",
            "rated_cost_usd",
        ] {
            row.push(table::text(&r[field]));
        }
        t.row(row);
    }
    let bucket = table::text(&v["bucket"]);
    let period = match bucket.split_once(':') {
        Some((_, at)) => format!("{} {at}", table::text(&v["period"])),
        None => "all time".into(),
    };
    let title = format!("Usage by {}, {period}\n", name_of(&args.by));
    Ok(if t.is_empty() {
        format!("{title}No usage.\n")
    } else {
        format!("{title}{}", t.render())
    })
}
