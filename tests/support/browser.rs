//! Headless Chromium for the dashboard's browser tests: chromedriver started on a free port,
//! one WebDriver session driven by fantoccini, and the browser's console log read back.
//!
//! Without Chromium the tests skip loudly, except in CI (`CI` set), where they fail: CI installs
//! it (`.ci/run`), so a missing browser there is a broken machine, not a reason to pass.
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder};
use serde_json::{Value, json};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The first of `names` found on the PATH.
fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

/// Chromium and chromedriver, or `None` (after saying so) when the tests must skip.
pub fn chromium() -> Option<(PathBuf, PathBuf)> {
    let browser = on_path(&["chromium", "chromium-browser", "google-chrome"]);
    let driver = on_path(&["chromedriver"]);
    match (browser, driver) {
        (Some(b), Some(d)) => Some((b, d)),
        _ if std::env::var_os("CI").is_some() => {
            panic!("CI is set but chromium / chromedriver are missing: .ci/run installs them")
        }
        _ => {
            eprintln!(
                "\n\n*** SKIPPED: the dashboard browser tests need `chromium` and `chromedriver` \
                 (Debian: apt-get install chromium chromium-driver). NOTHING WAS CHECKED. ***\n"
            );
            None
        }
    }
}

/// A running chromedriver; killed on drop.
pub struct Driver {
    child: Child,
    pub url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    pub async fn start(driver: &PathBuf) -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        let d = Driver { child, url };
        let deadline = Instant::now() + Duration::from_secs(20);
        let http = reqwest::Client::new();
        loop {
            let ready = http
                .get(format!("{}/status", d.url))
                .send()
                .await
                .ok()
                .filter(|r| r.status().is_success());
            if ready.is_some() {
                return d;
            }
            assert!(Instant::now() < deadline, "chromedriver did not come up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A headless browser window of `width` × `height`, logging everything to its console log.
    pub async fn browser(&self, chromium: &PathBuf, width: u32, height: u32) -> Client {
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--disable-extensions", "--hide-scrollbars",
                    format!("--window-size={width},{height}"),
                ],
            },
            "goog:loggingPrefs": { "browser": "ALL" },
        });
        let caps = match caps {
            Value::Object(m) => m,
            _ => unreachable!(),
        };
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a WebDriver session")
    }
}

/// chromedriver's `POST /session/{id}/se/log {"type": "browser"}`: the console entries since
/// the last call.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.into()))
    }
}

/// The browser console's entries since the last call, as `LEVEL message` lines.
pub async fn console(c: &Client) -> Vec<String> {
    let v = c.issue_cmd(BrowserLog).await.expect("the browser log");
    v.as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            format!(
                "{} {}",
                e["level"].as_str().unwrap_or("?"),
                e["message"].as_str().unwrap_or("")
            )
        })
        .collect()
}

/// Console entries at warning level or worse.
pub async fn console_problems(c: &Client) -> Vec<String> {
    console(c)
        .await
        .into_iter()
        .filter(|l| l.starts_with("SEVERE") || l.starts_with("WARNING"))
        .collect()
}
