//! `switchyard group …`: create groups, add and remove members, list and delete them through
//! `/admin/groups`. Groups and accounts may be named by id or by name.
use super::accounts::resolve as resolve_account;
use super::client::{AdminClient, CliError, find_id, items};
use super::table::{self, Table};
use super::{GroupCommand, pretty};
use serde_json::json;
use std::collections::HashMap;

pub async fn run(client: &AdminClient, command: GroupCommand, json: bool) -> Result<String, CliError> {
    match command {
        GroupCommand::Create {
            name,
            platform,
            members,
        } => {
            let members: Vec<&str> = members
                .iter()
                .map(|m| m.trim())
                .filter(|m| !m.is_empty())
                .collect();
            // The account list is fetched only when there are members to look up.
            let accounts = if members.is_empty() {
                serde_json::Value::Null
            } else {
                client.get("/admin/accounts").await?
            };
            let ids = members
                .iter()
                .map(|m| find_id(items(&accounts, "accounts"), m, "accounts"))
                .collect::<Result<Vec<_>, _>>()?;
            let body = json!({"name": name, "platform": platform.as_str(), "members": ids});
            let g = client.post("/admin/groups", &body).await?;
            Ok(if json {
                pretty(&g)
            } else {
                let n = g["members"].as_array().map_or(0, Vec::len);
                format!(
                    "Created {} group {} ({}) with {n} member{}.\n",
                    table::text(&g["platform"]),
                    table::text(&g["name"]),
                    table::text(&g["id"]),
                    if n == 1 { "" } else { "s" }
                )
            })
        }
        GroupCommand::Add { group, account } => {
            let gid = resolve(client, &group).await?;
            let aid = resolve_account(client, &account).await?;
            let g = client
                .post(&format!("/admin/groups/{gid}/members"), &json!({"account": aid}))
                .await?;
            Ok(if json {
                pretty(&g)
            } else {
                format!("Added account {aid} to group {}.\n", table::text(&g["name"]))
            })
        }
        GroupCommand::Remove { group, account } => {
            let gid = resolve(client, &group).await?;
            let aid = resolve_account(client, &account).await?;
            let g = client
                .delete(&format!("/admin/groups/{gid}/members/{aid}"))
                .await?;
            Ok(if json {
                pretty(&g)
            } else {
                format!("Removed account {aid} from group {}.\n", table::text(&g["name"]))
            })
        }
        GroupCommand::List => list(client, json).await,
        GroupCommand::Delete { group } => {
            let gid = resolve(client, &group).await?;
            client.delete(&format!("/admin/groups/{gid}")).await?;
            Ok(if json {
                pretty(&json!({"deleted": gid}))
            } else {
                format!("Deleted group {gid}.\n")
            })
        }
    }
}

async fn resolve(client: &AdminClient, reference: &str) -> Result<String, CliError> {
    client.resolve("groups", reference).await
}

async fn list(client: &AdminClient, json: bool) -> Result<String, CliError> {
    let v = client.get("/admin/groups").await?;
    if json {
        return Ok(pretty(&v));
    }
    let accounts = client.get("/admin/accounts").await?;
    let names: HashMap<String, String> = accounts["accounts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| (table::text(&a["id"]), table::text(&a["name"])))
        .collect();
    let mut t = Table::new(&["ID", "NAME", "PLATFORM", "MEMBERS"]);
    for g in v["groups"].as_array().into_iter().flatten() {
        let members: Vec<String> = g["members"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| {
                let id = table::text(m);
                match names.get(&id) {
                    Some(n) => format!("{n} ({id})"),
                    None => format!("{id} (gone)"),
                }
            })
            .collect();
        t.row(vec![
            table::text(&g["id"]),
            table::text(&g["name"]),
            table::text(&g["platform"]),
            if members.is_empty() {
                "-".into()
            } else {
                members.join(", ")
            },
        ]);
    }
    Ok(if t.is_empty() {
        "No groups.\n".into()
    } else {
        t.render()
    })
}
