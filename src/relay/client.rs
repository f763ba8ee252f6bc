//! Upstream HTTP clients, one set per HTTP worker (connections stay on the worker's thread):
//! a default pooled client and one per distinct account proxy. A proxy that cannot be built
//! fails closed: the request never goes out directly instead.
use crate::settings::RelaySettings;
use dashmap::DashMap;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::Duration;

pub struct UpstreamClients {
    default: reqwest::Client,
    proxied: DashMap<String, reqwest::Client>,
    connect_timeout: Duration,
    /// Upstream URLs already parsed: parsing one costs more than the rest of building the
    /// request, and an account's URLs repeat.
    urls: Mutex<HashMap<String, reqwest::Url>>,
}

/// Parsed URLs kept per worker before the cache starts over.
const MAX_CACHED_URLS: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the account's proxy URL is invalid")]
    BadProxy,
    #[error("building the HTTP client failed: {0}")]
    Build(String),
}

fn builder(connect_timeout: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .tcp_nodelay(true)
        .pool_idle_timeout(Duration::from_secs(90))
        .no_proxy()
}

impl UpstreamClients {
    pub fn new(settings: &RelaySettings) -> Result<Self, ClientError> {
        let connect_timeout = Duration::from_millis(settings.connect_timeout_ms);
        let default = builder(connect_timeout)
            .build()
            .map_err(|e| ClientError::Build(e.to_string()))?;
        Ok(UpstreamClients {
            default,
            proxied: DashMap::new(),
            connect_timeout,
            urls: Mutex::default(),
        })
    }

    /// `text` parsed (`None`: not a URL).
    pub fn url(&self, text: &str) -> Option<reqwest::Url> {
        let mut urls = self.urls.lock();
        if let Some(url) = urls.get(text) {
            return Some(url.clone());
        }
        let url = reqwest::Url::parse(text).ok()?;
        if urls.len() >= MAX_CACHED_URLS {
            urls.clear();
        }
        urls.insert(text.to_owned(), url.clone());
        Some(url)
    }

    /// The client for an account: its proxy's, or the default one.
    pub fn for_proxy(&self, proxy: Option<&str>) -> Result<reqwest::Client, ClientError> {
        let Some(url) = proxy.filter(|p| !p.is_empty()) else {
            return Ok(self.default.clone());
        };
        if let Some(c) = self.proxied.get(url) {
            return Ok(c.clone());
        }
        let proxy = reqwest::Proxy::all(url).map_err(|_| ClientError::BadProxy)?;
        let client = builder(self.connect_timeout)
            .proxy(proxy)
            .build()
            .map_err(|e| ClientError::Build(e.to_string()))?;
        self.proxied.insert(url.to_owned(), client.clone());
        Ok(client)
    }
}
