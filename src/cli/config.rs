//! `switchyard config check`: loads the settings exactly as `serve` would and prints the
//! effective configuration as `section.key = value` lines (or JSON with `--json`), secrets
//! masked. A bad configuration exits with 2 and the message naming the key.
use super::Global;
use super::client::{CliError, config_path};
use serde_json::{Map, Value};
use switchyard::settings::Settings;

pub fn check(global: &Global) -> Result<String, CliError> {
    let path = config_path(global);
    let settings = Settings::load(path.as_deref())?;
    let mut v = serde_json::to_value(&settings).map_err(|e| CliError::Usage(e.to_string()))?;
    mask(&mut v, "");
    if global.json {
        return Ok(super::pretty(&v));
    }
    let mut out = match &path {
        Some(p) => format!("# {} is valid; effective configuration:\n", p.display()),
        None => "# no settings file; built-in defaults and the environment:\n".to_owned(),
    };
    flatten(&v, "", &mut out);
    Ok(out)
}

/// Whether a setting named `name` holds a secret.
fn is_secret(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["token", "secret", "key", "password"]
        .iter()
        .any(|w| n == *w || n.ends_with(&format!("_{w}")))
}

/// `****` plus the last four characters when the value is long enough to keep them hidden.
pub fn masked(s: &str) -> String {
    let n = s.chars().count();
    if n == 0 {
        String::new()
    } else if n >= 12 {
        let tail: String = s.chars().skip(n - 4).collect();
        format!("****{tail}")
    } else {
        "****".into()
    }
}

/// A password inside a URL (`redis://:pw@host`) is masked too.
fn mask_url_password(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let (userinfo, host) = rest.split_once('@')?;
    let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
    Some(format!("{scheme}://{user}:****@{host}"))
}

fn mask(v: &mut Value, name: &str) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                mask(child, k);
            }
        }
        Value::String(s) if is_secret(name) => *s = masked(s),
        Value::String(s) if name.ends_with("url") => {
            if let Some(m) = mask_url_password(s) {
                *s = m;
            }
        }
        _ => {}
    }
}

fn flatten(v: &Value, prefix: &str, out: &mut String) {
    match v {
        Value::Object(map) => flatten_map(map, prefix, out),
        other => out.push_str(&format!("{prefix} = {other}\n")),
    }
}

fn flatten_map(map: &Map<String, Value>, prefix: &str, out: &mut String) {
    for (k, child) in map {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        flatten(child, &key, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_masked_and_paths_are_not() {
        let mut v = json!({
            "admin": {"token": "sya_0123456789abcdef"},
            "upstream": {"gemini": {"oauth_client_secret": "short", "token_url": "https://x/token"}},
            "store": {"encryption_key_file": "/etc/key", "redis_url": "redis://:hunter2@db:6379"},
        });
        mask(&mut v, "");
        assert_eq!(v["admin"]["token"], "****cdef");
        assert_eq!(v["upstream"]["gemini"]["oauth_client_secret"], "****");
        assert_eq!(v["upstream"]["gemini"]["token_url"], "https://x/token");
        assert_eq!(v["store"]["encryption_key_file"], "/etc/key");
        assert_eq!(v["store"]["redis_url"], "redis://:****@db:6379");
    }
}
