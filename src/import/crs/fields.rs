//! Reading the reference's hash records: every value is a string (`"true"`, `"12"`, JSON
//! text, ISO dates), and an absent value is `""`.
use std::collections::BTreeMap;
use switchyard_actors::clock::Millis;

pub struct Fields<'a> {
    id: &'a str,
    map: &'a BTreeMap<String, String>,
}

impl<'a> Fields<'a> {
    pub fn new(id: &'a str, map: &'a BTreeMap<String, String>) -> Self {
        Fields { id, map }
    }

    pub fn text(&self, field: &str) -> &'a str {
        self.map.get(field).map_or("", String::as_str)
    }

    pub fn flag(&self, field: &str) -> Option<bool> {
        match self.text(field) {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        }
    }

    pub fn number<T: std::str::FromStr>(&self, field: &str) -> Option<T> {
        self.text(field).trim().parse().ok()
    }

    /// A decimal (`"5"`, `"0.25"`); 0 when absent or not a number.
    pub fn decimal(&self, field: &str) -> f64 {
        self.text(field)
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v > 0.0)
            .unwrap_or(0.0)
    }

    /// A JSON array of strings (`"[]"` and `""` are empty).
    pub fn list(&self, field: &str) -> Vec<String> {
        serde_json::from_str::<Vec<serde_json::Value>>(self.text(field))
            .unwrap_or_default()
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    }

    /// The record's name, at most 100 characters (switchyard's limit), else its id.
    pub fn name(&self) -> String {
        let name = self.text("name").trim();
        if name.is_empty() {
            return self.id.to_owned();
        }
        name.chars().take(100).collect()
    }
}

/// An ISO-8601 date (`2026-12-06T00:57:51.680Z`) or epoch milliseconds, as unix ms.
pub fn iso_ms(text: &str) -> Option<Millis> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    if let Ok(ms) = t.parse::<i64>() {
        return Some(ms);
    }
    chrono::DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|d| d.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_reference_string_encodings() {
        let map: BTreeMap<String, String> =
            [("a", "true"), ("n", "12"), ("l", r#"["x","y"]"#), ("d", "0.25")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
        let f = Fields::new("id1", &map);
        assert_eq!(f.flag("a"), Some(true));
        assert_eq!(f.flag("missing"), None);
        assert_eq!(f.number::<u32>("n"), Some(12));
        assert_eq!(f.list("l"), vec!["x", "y"]);
        assert!(f.list("missing").is_empty());
        assert_eq!(f.decimal("d"), 0.25);
        assert_eq!(f.name(), "id1");
        assert_eq!(iso_ms("2026-12-06T00:57:51.680Z"), Some(1_796_518_671_680));
        assert_eq!(iso_ms("1828054671089"), Some(1_828_054_671_089));
        assert_eq!(iso_ms(""), None);
    }
}
