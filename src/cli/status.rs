//! `switchyard status`: the pool at a glance — each account's state, slots in use against its
//! limit, and when a cooldown ends — from `GET /admin/accounts`.
use super::client::{AdminClient, CliError};
use super::table::{self, Table};
use serde_json::Value;

/// One word (plus why) for where an account stands, most important first.
pub fn state_of(a: &Value, now: i64) -> String {
    if a["active"] == false {
        return "inactive".into();
    }
    match a["status"].as_str() {
        Some("active") | None => {}
        Some(other) => return other.to_owned(),
    }
    if a["schedulable"] == false {
        return "paused".into();
    }
    if let Some(c) = a["cooldown"].as_object()
        && c.get("until").and_then(Value::as_i64).is_some_and(|u| u > now)
    {
        let reason = c.get("reason").and_then(Value::as_str).unwrap_or("cooldown");
        return format!("cooling ({reason})");
    }
    let families: Vec<&str> = a["family_limits"]
        .as_array()
        .map(|l| l.iter().filter_map(|f| f["family"].as_str()).collect())
        .unwrap_or_default();
    if !families.is_empty() {
        return format!("limited ({})", families.join(","));
    }
    "ready".into()
}

/// `in use/limit`, with `-` for no limit.
pub fn slots(a: &Value) -> String {
    let used = a["slots_in_use"].as_u64().unwrap_or(0);
    match a["max_concurrency"].as_u64().unwrap_or(0) {
        0 => format!("{used}/-"),
        max => format!("{used}/{max}"),
    }
}

/// Until when the account cannot serve (cooldown, else the latest family limit).
pub fn blocked_until(a: &Value) -> Option<i64> {
    a["cooldown"]["until"].as_i64().or_else(|| {
        a["family_limits"]
            .as_array()
            .and_then(|l| l.iter().filter_map(|f| f["until"].as_i64()).max())
    })
}

/// `; waiting for a slot: claude 3` (platforms with waiters on the answering instance), or
/// nothing when none wait.
pub fn waiting(waiters: &Value) -> String {
    let busy: Vec<String> = waiters
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(p, n)| n.as_u64().filter(|n| *n > 0).map(|n| format!("{p} {n}")))
        .collect();
    if busy.is_empty() {
        String::new()
    } else {
        format!("; waiting for a slot: {}", busy.join(", "))
    }
}

pub async fn run(client: &AdminClient, json: bool) -> Result<String, CliError> {
    let v = client.get("/admin/accounts").await?;
    if json {
        return Ok(super::pretty(&v));
    }
    let now = table::now_ms();
    let accounts = v["accounts"].as_array().cloned().unwrap_or_default();
    let mut t = Table::new(&["NAME", "ID", "KIND", "PRI", "STATE", "SLOTS", "UNTIL"]).numeric(&[3, 5]);
    let mut ready = 0;
    for a in &accounts {
        let state = state_of(a, now);
        if state == "ready" {
            ready += 1;
        }
        let until = blocked_until(a)
            .filter(|u| *u > now)
            .map(|u| format!("{} (in {})", table::time(u), table::duration(u - now)))
            .unwrap_or_else(|| "-".into());
        t.row(vec![
            table::text(&a["name"]),
            table::text(&a["id"]),
            table::text(&a["kind"]),
            table::text(&a["priority"]),
            state,
            slots(a),
            until,
        ]);
    }
    if accounts.is_empty() {
        return Ok("No accounts yet: add one with `switchyard account add`.\n".into());
    }
    let in_use: u64 = accounts.iter().filter_map(|a| a["slots_in_use"].as_u64()).sum();
    Ok(format!(
        "{}\n{} accounts: {ready} ready, {} not serving; {in_use} requests in flight{}\n",
        t.render(),
        accounts.len(),
        accounts.len() - ready,
        waiting(&v["waiters"]),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn states_say_what_stops_an_account() {
        let now = 1_000;
        let ok = json!({"active": true, "status": "active", "schedulable": true});
        assert_eq!(state_of(&ok, now), "ready");
        let cool = json!({"active": true, "status": "active", "schedulable": true,
            "cooldown": {"until": 2_000, "reason": "overload", "status": 529}});
        assert_eq!(state_of(&cool, now), "cooling (overload)");
        assert_eq!(state_of(&json!({"active": false}), now), "inactive");
        assert_eq!(
            state_of(&json!({"active": true, "status": "error"}), now),
            "error"
        );
        let fam = json!({"active": true, "status": "active", "schedulable": true,
            "family_limits": [{"family": "opus", "until": 5_000}]});
        assert_eq!(state_of(&fam, now), "limited (opus)");
        assert_eq!(slots(&json!({"slots_in_use": 1, "max_concurrency": 4})), "1/4");
        assert_eq!(
            waiting(&json!({"claude": 3, "gemini": 0})),
            "; waiting for a slot: claude 3"
        );
        assert_eq!(waiting(&json!({"claude": 0})), "");
        assert_eq!(waiting(&Value::Null), "");
        assert_eq!(slots(&json!({"slots_in_use": 0, "max_concurrency": 0})), "0/-");
    }
}
