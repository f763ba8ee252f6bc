//! How the dashboard writes values: times, durations, account states (as words, with a colour
//! class beside them, never colour alone).
use serde_json::Value;

/// `2026-11-27 10:04:05 UTC` for a time in milliseconds since the epoch.
pub fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| "—".into())
}

/// `1h 02m`, `3m 20s`, `12s`.
pub fn duration(ms: i64) -> String {
    let s = (ms.max(0) + 999) / 1_000;
    match s {
        0..60 => format!("{s}s"),
        60..3_600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3_600, (s % 3_600) / 60),
    }
}

/// The state of an account (from its admin view), as a word and a colour class.
pub fn account_state(view: &Value, now: i64) -> (&'static str, &'static str) {
    let status = view["status"].as_str().unwrap_or("active");
    if !view["active"].as_bool().unwrap_or(true) {
        ("disabled", "off")
    } else if status != "active" {
        match status {
            "error" => ("error", "bad"),
            "blocked" => ("blocked", "bad"),
            _ => ("unauthorized", "bad"),
        }
    } else if view["cooldown"]["until"].as_i64().is_some_and(|u| u > now) {
        ("cooling down", "warn")
    } else if !view["schedulable"].as_bool().unwrap_or(true) {
        ("not schedulable", "off")
    } else {
        ("ready", "ok")
    }
}

/// Every state [`account_state`] gives, in display order.
pub const ACCOUNT_STATES: [&str; 7] = [
    "ready",
    "cooling down",
    "not schedulable",
    "disabled",
    "error",
    "blocked",
    "unauthorized",
];

/// A string field of a JSON view, or "".
pub fn s<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field].as_str().unwrap_or("")
}

/// A count with thousands separators: `12,345`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_durations_counts_and_states() {
        assert_eq!(duration(12_000), "12s");
        assert_eq!(duration(200_000), "3m 20s");
        assert_eq!(duration(3_720_000), "1h 02m");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(count(12), "12");
        let now = 1_000;
        let ready = json!({"active": true, "schedulable": true, "status": "active"});
        assert_eq!(account_state(&ready, now), ("ready", "ok"));
        let cooling = json!({"active": true, "status": "active", "cooldown": {"until": 5_000}});
        assert_eq!(account_state(&cooling, now).0, "cooling down");
        let over = json!({"active": true, "status": "active", "cooldown": {"until": 500}});
        assert_eq!(account_state(&over, now).0, "ready");
        assert_eq!(account_state(&json!({"active": false}), now).0, "disabled");
        assert_eq!(
            account_state(&json!({"status": "blocked"}), now),
            ("blocked", "bad")
        );
    }
}
