//! Aligned plain-text tables and `key: value` blocks for the CLI's human-readable output, plus
//! the few value formats they share (times, durations, optional fields).
use serde_json::Value;
use std::time::{SystemTime, UNIX_EPOCH};

pub struct Table {
    headers: Vec<&'static str>,
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&'static str]) -> Self {
        Table {
            headers: headers.to_vec(),
            right: vec![false; headers.len()],
            rows: Vec::new(),
        }
    }

    /// Right-aligns the given columns (numbers).
    pub fn numeric(mut self, columns: &[usize]) -> Self {
        for &c in columns {
            if let Some(r) = self.right.get_mut(c) {
                *r = true;
            }
        }
        self
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn render(&self) -> String {
        let width = |i: usize| {
            self.rows
                .iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .chain([self.headers[i].chars().count()])
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..self.headers.len()).map(width).collect();
        let mut out = String::new();
        let header: Vec<String> = self.headers.iter().map(|h| (*h).to_owned()).collect();
        for cells in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (i, w) in widths.iter().enumerate() {
                let cell = cells.get(i).map(String::as_str).unwrap_or("");
                let pad = w.saturating_sub(cell.chars().count());
                if i > 0 {
                    line.push_str("  ");
                }
                if self.right[i] {
                    line.push_str(&" ".repeat(pad));
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    line.push_str(&" ".repeat(pad));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// `key: value` lines with the values aligned.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let w = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    pairs
        .iter()
        .map(|(k, v)| format!("{k}:{}{v}\n", " ".repeat(w - k.len() + 1)))
        .collect()
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Unix milliseconds as `2026-11-27 10:04:05 UTC`.
pub fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// A JSON time field, or `-`.
pub fn time_of(v: &Value) -> String {
    v.as_i64().map(time).unwrap_or_else(|| "-".into())
}

/// `1h 05m`, `4m 32s`, `12s`.
pub fn duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60) {
        (d, h, _, _) if d > 0 => format!("{d}d {h:02}h"),
        (_, h, m, _) if h > 0 => format!("{h}h {m:02}m"),
        (_, _, m, s) if m > 0 => format!("{m}m {s:02}s"),
        (_, _, _, s) => format!("{s}s"),
    }
}

/// A JSON scalar as text (`-` for null or missing).
pub fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A JSON list of strings joined with commas, or `empty`.
pub fn list(v: &Value, empty: &str) -> String {
    let items: Vec<String> = v
        .as_array()
        .map(|a| a.iter().map(text).collect())
        .unwrap_or_default();
    if items.is_empty() {
        empty.to_owned()
    } else {
        items.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up() {
        let mut t = Table::new(&["NAME", "REQUESTS"]).numeric(&[1]);
        t.row(vec!["a".into(), "5".into()]);
        t.row(vec!["longer".into(), "12345".into()]);
        assert_eq!(
            t.render(),
            "NAME    REQUESTS\na              5\nlonger     12345\n"
        );
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(12_000), "12s");
        assert_eq!(duration(272_000), "4m 32s");
        assert_eq!(duration(3_900_000), "1h 05m");
        assert_eq!(duration(90_000_000), "1d 01h");
    }
}
