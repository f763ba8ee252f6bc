//! A submitted HTML form (`application/x-www-form-urlencoded`), with repeated fields (checkbox
//! lists) kept, and its conversion to the admin API's JSON fields.
use serde_json::{Value, json};

#[derive(Debug, Default, Clone)]
pub struct FormData(Vec<(String, String)>);

/// Forms are small; a larger body is refused before parsing.
pub const MAX_FORM_BYTES: usize = 64 * 1024;

impl FormData {
    pub fn parse(body: &[u8]) -> Self {
        FormData(form_urlencoded::parse(body).into_owned().collect())
    }

    /// Nothing submitted (a page shown afresh, not after a refused form).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The value of `name` trimmed, if not blank.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }

    /// Every value of `name` (checked boxes of one list).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Whether the checkbox `name` is ticked.
    pub fn checked(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// `name` as a JSON number when it is one, else as the text typed (the admin API's own
    /// validation then names the field); `None` when blank.
    pub fn number(&self, name: &str) -> Option<Value> {
        self.text(name).map(|v| match v.parse::<u64>() {
            Ok(n) => json!(n),
            Err(_) => json!(v),
        })
    }

    /// A comma- or newline-separated list, blanks dropped.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.get(name)
            .unwrap_or("")
            .split([',', '\n'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// Puts `value` at `field` of `object` when there is one.
pub fn set(object: &mut Value, field: &str, value: Option<Value>) {
    if let Some(v) = value {
        object[field] = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_repeated_fields_and_reads_numbers_and_lists() {
        let f = FormData::parse(b"p=claude&p=gemini&n=12&x=abc&m=a%2C+b%0Ac&blank=+");
        assert_eq!(f.all("p"), ["claude", "gemini"]);
        assert_eq!(f.number("n"), Some(json!(12)));
        assert_eq!(f.number("x"), Some(json!("abc")));
        assert_eq!(f.number("blank"), None);
        assert_eq!(f.list("m"), ["a", "b", "c"]);
        assert!(f.checked("p") && !f.checked("q"));
    }
}
