//! Reading and editing the top level of a JSON object body without building a tree of it: each
//! member's value is kept as the client's own bytes (a borrowed `RawValue`), so a body costs
//! about its own size however it is shaped (`{"contents":[0,0,…]}` built as a `Value` costs
//! forty times that).
use serde::Deserializer as _;
use serde::de::{MapAccess, Visitor};
use serde_json::value::RawValue;
use std::fmt;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the body is not a JSON object")]
    NotAnObject,
    #[error("{0}")]
    Json(#[from] serde_json::Error),
}

/// Calls `f` with each top-level member of the object in `body`, in order.
pub fn for_each_member<'de>(body: &'de [u8], f: impl FnMut(&str, &'de RawValue)) -> Result<(), Error> {
    struct Members<F>(F);
    impl<'de, F: FnMut(&str, &'de RawValue)> Visitor<'de> for Members<F> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
            while let Some(name) = map.next_key::<String>()? {
                let value: &'de RawValue = map.next_value()?;
                (self.0)(&name, value);
            }
            Ok(())
        }
    }
    let opens_object = body
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{');
    if !opens_object {
        serde_json::from_slice::<serde::de::IgnoredAny>(body)?;
        return Err(Error::NotAnObject);
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    (&mut de).deserialize_map(Members(f))?;
    de.end()?;
    Ok(())
}

/// Checks `body` is one JSON object and returns its member `name` when that is a string.
pub fn top_level_string(body: &[u8], name: &str) -> Result<Option<String>, Error> {
    let mut found = None;
    for_each_member(body, |member, value| {
        if member == name {
            found = serde_json::from_str::<String>(value.get()).ok();
        }
    })?;
    Ok(found)
}

/// The member `name` of the object in `body`, as written.
pub fn member<'de>(body: &'de [u8], name: &str) -> Result<Option<&'de RawValue>, Error> {
    let mut found = None;
    for_each_member(body, |member, value| {
        if member == name {
            found = Some(value);
        }
    })?;
    Ok(found)
}

/// The object in `body` with member `name` set to `value` (JSON text): other members keep their
/// order and bytes; every earlier `name` goes, the new one comes last.
pub fn with_member(body: &[u8], name: &str, value: &str) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(body.len() + name.len() + value.len() + 8);
    out.push(b'{');
    for_each_member(body, |member, raw| {
        if member != name {
            push_member(&mut out, member, raw.get());
        }
    })?;
    push_member(&mut out, name, value);
    out.push(b'}');
    Ok(out)
}

/// `value` as a JSON string literal.
pub fn string_literal(value: &str) -> String {
    serde_json::Value::from(value).to_string()
}

fn push_member(out: &mut Vec<u8>, name: &str, value: &str) {
    if out.len() > 1 {
        out.push(b',');
    }
    out.extend_from_slice(string_literal(name).as_bytes());
    out.push(b':');
    out.extend_from_slice(value.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_keep_their_order_and_bytes() {
        let body = br#" {"b" : [1, 2],"model":"x", "a\n":{"k": 1.50}} "#;
        let out = with_member(body, "model", &string_literal("y\"z")).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"b":[1, 2],"a\n":{"k": 1.50},"model":"y\"z"}"#
        );
        assert_eq!(top_level_string(body, "model").unwrap().as_deref(), Some("x"));
        assert_eq!(member(body, "b").unwrap().map(|r| r.get()), Some("[1, 2]"));
        assert_eq!(member(body, "nope").unwrap().map(|r| r.get()), None);
        assert_eq!(with_member(b"{}", "k", "true").unwrap(), br#"{"k":true}"#);
    }

    #[test]
    fn non_objects_and_bad_json_are_told_apart() {
        assert!(matches!(top_level_string(b"[1]", "m"), Err(Error::NotAnObject)));
        assert!(matches!(top_level_string(b" 3 ", "m"), Err(Error::NotAnObject)));
        assert!(matches!(top_level_string(b"{", "m"), Err(Error::Json(_))));
        assert!(matches!(top_level_string(b"{} x", "m"), Err(Error::Json(_))));
        assert!(matches!(top_level_string(b"nope", "m"), Err(Error::Json(_))));
        assert_eq!(top_level_string(br#"{"m":3}"#, "m").unwrap(), None);
    }
}
