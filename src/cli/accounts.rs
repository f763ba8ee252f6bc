//! `switchyard account …`: add API-key accounts, list, show, update, remove and reset them,
//! through `/admin/accounts`. Accounts may be named by id or by (unique) name. `login` and
//! `import` are in the `login` module.
use super::client::{AdminClient, CliError};
use super::status::{blocked_until, slots, state_of};
use super::table::{self, Table};
use super::{AccountCommand, AccountOpts, ApiKeySource, aws, login, pretty};
use serde_json::{Map, Value, json};
use std::io::Read;

pub async fn run(client: &AdminClient, command: AccountCommand, json: bool) -> Result<String, CliError> {
    match command {
        AccountCommand::Add {
            kind,
            name,
            base_url,
            extra,
            key,
            aws,
            opts,
        } => {
            let api_key = match aws::credentials_json(&aws)? {
                Some(json) => json,
                None => read_api_key(&key)?.ok_or_else(|| {
                    CliError::Usage("give --api-key, --api-key - (stdin) or --api-key-file".into())
                })?,
            };
            let mut body = json!({"name": name, "kind": kind.as_str(), "api_key": api_key});
            if let Some(u) = base_url {
                body["base_url"] = json!(u);
            }
            if !extra.is_empty() {
                body["extra"] = extra_settings(&extra)?;
            }
            apply_opts(&mut body, &opts)?;
            let v = client.post("/admin/accounts", &body).await?;
            Ok(created(&v, json))
        }
        AccountCommand::List => list(client, json).await,
        AccountCommand::Show { account } => {
            let id = resolve(client, &account).await?;
            let v = client.get(&format!("/admin/accounts/{id}")).await?;
            Ok(if json { pretty(&v) } else { show(&v) })
        }
        AccountCommand::Update {
            account,
            name,
            base_url,
            active,
            schedulable,
            all_models,
            key,
            aws,
            opts,
        } => {
            let id = resolve(client, &account).await?;
            let mut body = json!({});
            for (field, value) in [
                ("name", name.map(Value::from)),
                ("base_url", base_url.map(Value::from)),
                ("active", active.map(Value::from)),
                ("schedulable", schedulable.map(Value::from)),
                (
                    "api_key",
                    aws::credentials_json(&aws)?
                        .or(read_api_key(&key)?)
                        .map(Value::from),
                ),
            ] {
                if let Some(v) = value {
                    body[field] = v;
                }
            }
            if all_models {
                body["models"] = json!([]);
            }
            apply_opts(&mut body, &opts)?;
            if body.as_object().is_some_and(Map::is_empty) {
                return Err(CliError::Usage(
                    "nothing to change: give at least one option".into(),
                ));
            }
            let v = client.patch(&format!("/admin/accounts/{id}"), &body).await?;
            Ok(if json { pretty(&v) } else { show(&v) })
        }
        AccountCommand::Remove { account } => {
            let id = resolve(client, &account).await?;
            client.delete(&format!("/admin/accounts/{id}")).await?;
            Ok(if json {
                pretty(&json!({"removed": id}))
            } else {
                format!("Removed account {id}.\n")
            })
        }
        AccountCommand::Reset { account } => {
            let id = resolve(client, &account).await?;
            let v = client
                .post(&format!("/admin/accounts/{id}/reset"), &json!({}))
                .await?;
            Ok(if json {
                pretty(&v)
            } else {
                format!(
                    "Account {} ({id}): cooldowns cleared, now {}.\n",
                    table::text(&v["name"]),
                    state_of(&v, table::now_ms())
                )
            })
        }
        AccountCommand::Login {
            provider,
            name,
            project_id,
            opts,
        } => login::login(client, provider, name, project_id, &opts, json).await,
        AccountCommand::Import {
            provider,
            file,
            name,
            project_id,
            opts,
        } => login::import(client, provider, file, name, project_id, &opts, json).await,
    }
}

/// An account id for `reference` (an id, or a unique name).
pub async fn resolve(client: &AdminClient, reference: &str) -> Result<String, CliError> {
    client.resolve("accounts", reference).await
}

/// The API key from `--api-key` (`-` = stdin) or `--api-key-file`.
pub fn read_api_key(src: &ApiKeySource) -> Result<Option<String>, CliError> {
    let key = match (&src.api_key, &src.api_key_file) {
        (Some(k), _) if k == "-" => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s)?;
            s
        }
        (Some(k), _) => k.clone(),
        (None, Some(path)) => std::fs::read_to_string(path).map_err(|e| CliError::file(path, e))?,
        (None, None) => return Ok(None),
    };
    let key = key.trim().to_owned();
    if key.is_empty() {
        return Err(CliError::Usage("the API key is empty".into()));
    }
    Ok(Some(key))
}

/// `--extra key=value` pairs as the `extra` object.
fn extra_settings(pairs: &[String]) -> Result<Value, CliError> {
    let mut map = Map::new();
    for pair in pairs {
        let (key, value) = pair
            .split_once('=')
            .map(|(k, v)| (k.trim(), v.trim()))
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| CliError::Usage(format!("--extra `{pair}`: expected key=value")))?;
        map.insert(key.to_owned(), json!(value));
    }
    Ok(Value::Object(map))
}

/// Adds the scheduling options that were given to a create / update body.
pub fn apply_opts(body: &mut Value, o: &AccountOpts) -> Result<(), CliError> {
    if let Some(p) = o.priority {
        body["priority"] = json!(p);
    }
    if let Some(c) = o.max_concurrency {
        body["max_concurrency"] = json!(c);
    }
    if let Some(models) = &o.models {
        let list: Vec<&str> = models
            .iter()
            .map(|m| m.trim())
            .filter(|m| !m.is_empty())
            .collect();
        body["models"] = json!(list);
    }
    if let Some(pairs) = &o.model_map {
        let mut map = Map::new();
        for pair in pairs {
            let (from, to) = pair
                .split_once('=')
                .map(|(f, t)| (f.trim(), t.trim()))
                .filter(|(f, t)| !f.is_empty() && !t.is_empty())
                .ok_or_else(|| CliError::Usage(format!("--model-map `{pair}`: expected from=to")))?;
            map.insert(from.to_owned(), json!(to));
        }
        body["models"] = Value::Object(map);
    }
    if let Some(s) = o.sharing {
        body["sharing"] = json!(s.as_str());
    }
    if let Some(p) = &o.proxy {
        body["proxy"] = json!(p);
    }
    if o.pacing_user_turns.is_some() || o.pacing_min_gap_ms.is_some() {
        let mut pacing = Map::new();
        if let Some(on) = o.pacing_user_turns {
            pacing.insert("user_turns".into(), json!(on));
        }
        if let Some(gap) = o.pacing_min_gap_ms {
            pacing.insert("min_gap_ms".into(), json!(gap));
        }
        body["pacing"] = Value::Object(pacing);
    }
    Ok(())
}

/// What `add`, `login` and `import` print for the new account.
pub fn created(v: &Value, json: bool) -> String {
    if json {
        return pretty(v);
    }
    format!(
        "Added {} account {} ({}).\n",
        table::text(&v["kind"]),
        table::text(&v["name"]),
        table::text(&v["id"])
    )
}

async fn list(client: &AdminClient, json: bool) -> Result<String, CliError> {
    let v = client.get("/admin/accounts").await?;
    if json {
        return Ok(pretty(&v));
    }
    let now = table::now_ms();
    let mut t = Table::new(&[
        "ID",
        "NAME",
        "KIND",
        "PRI",
        "STATE",
        "SLOTS",
        "MODELS",
        "LAST USED",
    ])
    .numeric(&[3, 5]);
    for a in v["accounts"].as_array().into_iter().flatten() {
        t.row(vec![
            table::text(&a["id"]),
            table::text(&a["name"]),
            table::text(&a["kind"]),
            table::text(&a["priority"]),
            state_of(a, now),
            slots(a),
            models(&a["models"]),
            table::time_of(&a["last_used_at"]),
        ]);
    }
    Ok(if t.is_empty() {
        "No accounts.\n".into()
    } else {
        t.render()
    })
}

/// `all`, `a,b` or `a=>x,b=>y`.
fn models(v: &Value) -> String {
    match v {
        Value::Array(a) if !a.is_empty() => table::list(v, "all"),
        Value::Object(m) if !m.is_empty() => m
            .iter()
            .map(|(k, to)| format!("{k}=>{}", table::text(to)))
            .collect::<Vec<_>>()
            .join(","),
        _ => "all".into(),
    }
}

fn show(a: &Value) -> String {
    let now = table::now_ms();
    let mut rows = vec![
        ("id", table::text(&a["id"])),
        ("name", table::text(&a["name"])),
        ("kind", table::text(&a["kind"])),
        ("platform", table::text(&a["platform"])),
        ("state", state_of(a, now)),
        ("active", table::text(&a["active"])),
        ("schedulable", table::text(&a["schedulable"])),
        ("status", table::text(&a["status"])),
        ("sharing", table::text(&a["sharing"])),
        ("priority", table::text(&a["priority"])),
        ("slots", slots(a)),
        ("models", models(&a["models"])),
        ("base url", table::text(&a["base_url"])),
        ("credential", table::text(&a["credential"])),
        ("token expires", table::time_of(&a["token_expires_at"])),
        ("proxy", if a["has_proxy"] == true { "yes" } else { "no" }.into()),
        ("created", table::time_of(&a["created_at"])),
        ("last used", table::time_of(&a["last_used_at"])),
    ];
    if let Some(until) = blocked_until(a).filter(|u| *u > now) {
        rows.push((
            "blocked until",
            format!("{} (in {})", table::time(until), table::duration(until - now)),
        ));
    }
    if let Some(extra) = a["extra"].as_object() {
        for (k, v) in extra {
            rows.push((k.as_str(), table::text(v)));
        }
    }
    table::fields(&rows)
}
