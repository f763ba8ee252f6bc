//! What a newcomer following the README meets first: logs without terminal colour codes when
//! they go to a file or a pipe (and with `NO_COLOR`), and a wrong method on a known route
//! answered 405 with `Allow`, in the API's own error format, for every route.
mod binary;
mod support;

use mock_upstream::MockUpstream;
use serde_json::Value;
use std::process::{Command, Stdio};
use support::spawn_app;

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// A concrete path for a route pattern.
fn path_of(pattern: &str) -> String {
    pattern
        .replace("{id}", "x1")
        .replace("{account}", "y1")
        .replace("{provider}", "claude")
        .replace("{model_action}", "gemini-2.5-pro:generateContent")
        .replace("{method}", "generateContent")
}

/// The `type`/`code` an error body carries, whatever the API family's shape.
fn error_code(path: &str, body: &Value) -> String {
    if path.starts_with("/admin") {
        return body["error"]["type"].as_str().unwrap_or("").to_owned();
    }
    if body["type"] == "error" {
        // Anthropic: {"type":"error","error":{"type":..,"code":..}}
        return body["error"]["code"].as_str().unwrap_or("").to_owned();
    }
    if let Some(code) = body["error"]["code"].as_str() {
        return code.to_owned(); // OpenAI
    }
    body["error"]["status"].as_str().unwrap_or("").to_owned() // Gemini
}

#[actix_web::test]
async fn a_wrong_method_on_every_known_route_answers_405_with_allow() {
    let app = spawn_app().await;
    let table = switchyard::routes::route_methods();
    assert!(table.len() > 40, "every route is in the table");
    for (pattern, allowed) in table {
        let path = path_of(pattern);
        for method in METHODS {
            let resp = app
                .http
                .request(method.parse().unwrap(), app.url(&path))
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let allow = resp
                .headers()
                .get("allow")
                .map(|v| v.to_str().unwrap().to_owned());
            let text = resp.text().await.unwrap();
            let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            if allowed.contains(&method) {
                // The route's own handler answered (whatever it thinks of the request).
                assert_ne!(status, 405, "{method} {path}: {text}");
                assert!(
                    !text.contains("Route "),
                    "{method} {path} reached a handler: {text}"
                );
                continue;
            }
            assert_eq!(status, 405, "{method} {path}: {text}");
            assert_eq!(
                allow.as_deref(),
                Some(allowed.join(", ").as_str()),
                "{method} {path}"
            );
            let code = error_code(&path, &body);
            assert!(
                code == "method_not_allowed" || code == "INVALID_ARGUMENT",
                "{method} {path}: the API's own error format: {text}"
            );
        }
    }
    // Each family's shape, once by hand.
    let resp = app.http.get(app.url("/v1/messages")).send().await.unwrap();
    assert_eq!(resp.headers()["allow"], "POST");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "invalid_request_error");
    let v: Value = app
        .http
        .get(app.url("/v1/chat/completions"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert_eq!(v["error"]["code"], "method_not_allowed");
    let v: Value = app
        .http
        .get(app.url("/v1beta/models/gemini-2.5-pro:generateContent"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["error"]["code"], 405);
    let resp = app.http.put(app.url("/admin/keys")).send().await.unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "GET, POST");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "method_not_allowed");
    // An unknown path is still a 404.
    let resp = app.http.get(app.url("/no/such/route")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    assert!(resp.headers().get("allow").is_none());
}

/// Human-format logs of the real binary written to a pipe carry no escape codes.
#[actix_web::test]
async fn logs_to_a_pipe_carry_no_colour_codes() {
    let mock = MockUpstream::start();
    let data = tempfile::tempdir().unwrap();
    let mut server = binary::start(&mock, data.path(), &[("SWITCHYARD__LOG__FORMAT", "human")]);
    let (status, _) = server.admin(reqwest::Method::GET, "/admin/nope", None).await;
    assert_eq!(status, 404);
    assert_eq!(server.terminate().code(), Some(0));
    let lines = server.lines();
    assert!(
        lines.iter().any(|l| l.contains("switchyard listening")),
        "{lines:#?}"
    );
    for l in &lines {
        assert!(!l.contains('\u{1b}'), "a colour code in a piped log line: {l:?}");
    }
}

/// The real binary on a terminal (a pseudo-terminal from `script`) for two seconds: its
/// output, escape codes included.
fn on_a_terminal(no_color: Option<&str>) -> String {
    let data = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_switchyard");
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &format!("timeout -s INT 2 {bin} serve"), "/dev/null"])
        .current_dir(data.path())
        .env("SWITCHYARD__SERVER__PORT", "0")
        .env("SWITCHYARD__STORE__DATA_DIR", data.path())
        .env("SWITCHYARD__ADMIN__TOKEN", binary::ADMIN)
        .env("SWITCHYARD__LOG__FORMAT", "human")
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null());
    if let Some(v) = no_color {
        cmd.env("NO_COLOR", v);
    }
    let out = cmd.output().expect("script(1) from util-linux runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn logs_on_a_terminal_are_coloured_unless_no_color_is_set() {
    let coloured = on_a_terminal(None);
    assert!(coloured.contains("switchyard listening"), "{coloured}");
    assert!(coloured.contains("\u{1b}["), "colour on a terminal: {coloured:?}");
    let plain = on_a_terminal(Some("1"));
    assert!(plain.contains("switchyard listening"), "{plain}");
    assert!(!plain.contains('\u{1b}'), "NO_COLOR=1: {plain:?}");
}
