//! `switchyard key …`: create (the key is printed once), list, update and revoke client API keys
//! through `/admin/keys`. Keys may be named by id or by (unique) name.
use super::client::{AdminClient, CliError, find_id, items};
use super::table::{self, Table};
use super::{KeyCommand, KeyOpts, pretty};
use serde_json::{Map, Value, json};

const DAY_MS: i64 = 86_400_000;

pub async fn run(client: &AdminClient, command: KeyCommand, json: bool) -> Result<String, CliError> {
    match command {
        KeyCommand::Create { name, mut opts } => {
            resolve_bindings(client, &mut opts).await?;
            let mut body = json!({"name": name});
            apply(&mut body, &opts, &Value::Null)?;
            let v = client.post("/admin/keys", &body).await?;
            if json {
                return Ok(pretty(&v));
            }
            Ok(format!(
                "Created key {} ({}).\nThe key is shown this once; store it now:\n\n  {}\n\n",
                table::text(&v["name"]),
                table::text(&v["id"]),
                table::text(&v["key"]),
            ))
        }
        KeyCommand::List => list(client, json).await,
        KeyCommand::Update {
            key,
            name,
            active,
            no_expiry,
            mut opts,
        } => {
            let id = resolve(client, &key).await?;
            resolve_bindings(client, &mut opts).await?;
            let current = client.get(&format!("/admin/keys/{id}")).await?;
            let mut body = json!({});
            if let Some(n) = name {
                body["name"] = json!(n);
            }
            if let Some(a) = active {
                body["active"] = json!(a);
            }
            if no_expiry {
                body["expires_at"] = Value::Null;
            }
            apply(&mut body, &opts, &current)?;
            if body.as_object().is_some_and(Map::is_empty) {
                return Err(CliError::Usage(
                    "nothing to change: give at least one option".into(),
                ));
            }
            let v = client.patch(&format!("/admin/keys/{id}"), &body).await?;
            Ok(if json {
                pretty(&v)
            } else {
                format!("Updated key {} ({id}).\n", table::text(&v["name"]))
            })
        }
        KeyCommand::Revoke { key } => {
            let id = resolve(client, &key).await?;
            client.delete(&format!("/admin/keys/{id}")).await?;
            Ok(if json {
                pretty(&json!({"revoked": id}))
            } else {
                format!("Revoked key {id}.\n")
            })
        }
    }
}

async fn resolve(client: &AdminClient, reference: &str) -> Result<String, CliError> {
    client.resolve("keys", reference).await
}

/// Lets bindings name accounts and groups by name: `claude=main`, `claude=group:team`.
async fn resolve_bindings(client: &AdminClient, opts: &mut KeyOpts) -> Result<(), CliError> {
    if opts.bindings.is_empty() {
        return Ok(());
    }
    // Each list is fetched once, and only if a binding names something in it.
    let (mut groups, mut accounts) = (None, None);
    let mut resolved = Vec::with_capacity(opts.bindings.len());
    for b in &opts.bindings {
        let Some((platform, target)) = b.split_once('=') else {
            resolved.push(b.clone());
            continue;
        };
        let target = target.trim();
        let id = if target == "none" || target.is_empty() {
            target.to_owned()
        } else if let Some(g) = target.strip_prefix("group:") {
            let list = match &groups {
                Some(l) => l,
                None => groups.insert(client.get("/admin/groups").await?),
            };
            format!("group:{}", find_id(items(list, "groups"), g, "groups")?)
        } else {
            let list = match &accounts {
                Some(l) => l,
                None => accounts.insert(client.get("/admin/accounts").await?),
            };
            find_id(items(list, "accounts"), target, "accounts")?
        };
        resolved.push(format!("{}={id}", platform.trim()));
    }
    opts.bindings = resolved;
    Ok(())
}

/// Adds the given options to a create / patch body. Bindings and limits are whole objects in
/// the API, so changed fields are merged over `current` (the key as it is; null when new).
fn apply(body: &mut Value, o: &KeyOpts, current: &Value) -> Result<(), CliError> {
    let list = |v: &Vec<String>| -> Value {
        json!(
            v.iter()
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
        )
    };
    if let Some(p) = &o.permissions {
        body["permissions"] = list(p);
    }
    if let Some(c) = o.concurrency_limit {
        body["concurrency_limit"] = json!(c);
    }
    if let Some(t) = &o.tags {
        body["tags"] = list(t);
    }
    if let Some(m) = &o.blocked_models {
        body["blocked_models"] = list(m);
    }
    if let Some(c) = &o.allowed_clients {
        body["allowed_clients"] = list(c);
    }
    if let Some(d) = o.expires_in_days {
        body["expires_at"] = json!(table::now_ms() + i64::from(d) * DAY_MS);
    }
    if let Some(d) = o.activation_days {
        body["activation_days"] = json!(d);
    }
    if let Some(m) = &o.cost_multiplier {
        body["cost_multiplier"] = json!(m);
    }
    if !o.bindings.is_empty() {
        let mut bindings = current["bindings"].as_object().cloned().unwrap_or_default();
        for b in &o.bindings {
            let (platform, target) = b
                .split_once('=')
                .map(|(p, t)| (p.trim(), t.trim()))
                .filter(|(p, t)| !p.is_empty() && !t.is_empty())
                .ok_or_else(|| CliError::Usage(format!("--bind `{b}`: expected PLATFORM=TARGET")))?;
            if target == "none" {
                bindings.remove(platform);
            } else {
                bindings.insert(platform.to_owned(), json!(target));
            }
        }
        body["bindings"] = Value::Object(bindings);
    }
    let limits = [
        ("daily_cost_usd", o.daily_cost.as_ref().map(|v| json!(v))),
        ("weekly_cost_usd", o.weekly_cost.as_ref().map(|v| json!(v))),
        ("total_cost_usd", o.total_cost.as_ref().map(|v| json!(v))),
        ("window_minutes", o.window_minutes.map(|v| json!(v))),
        ("window_requests", o.window_requests.map(|v| json!(v))),
        ("window_tokens", o.window_tokens.map(|v| json!(v))),
        ("window_cost_usd", o.window_cost.as_ref().map(|v| json!(v))),
    ];
    if limits.iter().any(|(_, v)| v.is_some()) {
        let mut merged = current["limits"].as_object().cloned().unwrap_or_default();
        for (field, value) in limits {
            if let Some(v) = value {
                merged.insert(field.to_owned(), v);
            }
        }
        body["limits"] = Value::Object(merged);
    }
    Ok(())
}

async fn list(client: &AdminClient, json: bool) -> Result<String, CliError> {
    let v = client.get("/admin/keys").await?;
    if json {
        return Ok(pretty(&v));
    }
    let mut t = Table::new(&[
        "ID",
        "NAME",
        "ACTIVE",
        "PLATFORMS",
        "CONC",
        "REQUESTS",
        "COST USD",
        "EXPIRES",
        "LAST USED",
    ])
    .numeric(&[4, 5, 6]);
    for k in v["keys"].as_array().into_iter().flatten() {
        let conc = match k["concurrency_limit"].as_u64() {
            Some(0) | None => "-".to_owned(),
            Some(n) => n.to_string(),
        };
        t.row(vec![
            table::text(&k["id"]),
            table::text(&k["name"]),
            if k["active"] == true { "yes" } else { "no" }.into(),
            table::list(&k["permissions"], "all"),
            conc,
            table::text(&k["usage"]["requests"]),
            table::text(&k["usage"]["cost_usd"]),
            table::time_of(&k["expires_at"]),
            table::time_of(&k["last_used_at"]),
        ]);
    }
    Ok(if t.is_empty() {
        "No keys.\n".into()
    } else {
        t.render()
    })
}
