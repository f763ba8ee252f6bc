//! Upstream HTTP clients, one set per HTTP worker (connections stay on the worker's thread).
//! Direct traffic goes through hyper's pooled client with nothing layered on top: reqwest's
//! URL handling and redirect/retry layers cost more than the rest of sending a request.
//! Accounts behind a proxy (HTTP or SOCKS) use a reqwest client per distinct proxy. A proxy
//! that cannot be built fails closed: the request never goes out directly instead.
//!
//! [`egress_builder`] is the one way any request made for an account (relay, token refresh,
//! code exchange) gets its client: through the account's proxy, or direct, never through a
//! proxy the environment names (`HTTP_PROXY`…), which would send the account's traffic, tokens
//! included, from an address the operator did not choose for it.
use bytes::Bytes;
use dashmap::DashMap;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use hyper_util::rt::TokioTimer;
use parking_lot::Mutex;
use reqwest::header::HeaderMap;
use std::collections::HashMap;
use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use switchyard_actors::pool::Outcome;

use super::local_fault::Shortage;

pub type BoxError = Box<dyn StdError + Send + Sync>;
/// An upstream answer's body, whichever client fetched it.
pub type UpstreamBody = UnsyncBoxBody<Bytes, BoxError>;
pub type UpstreamResponse = http::Response<UpstreamBody>;

type DirectClient = Client<ConnectTimeout<HttpsConnector<HttpConnector>>, Full<Bytes>>;

pub struct UpstreamClients {
    direct: DirectClient,
    proxied: AccountClients,
    /// Upstream URLs already parsed (an account's URLs repeat).
    uris: Mutex<HashMap<String, http::Uri>>,
}

/// Parsed URLs kept per worker before the cache starts over.
const MAX_CACHED_URLS: usize = 1024;
/// How long an idle upstream connection stays in the pool.
const POOL_IDLE: Duration = Duration::from_secs(90);
/// TCP keepalive on upstream connections: a host that vanishes without a reset is noticed in
/// about a minute, not at the idle timeout.
const TCP_KEEPALIVE: Duration = Duration::from_secs(15);

/// Proxy schemes an account may use (reqwest's `socks4` is left out: it cannot carry the
/// credentials an egress proxy usually wants).
const PROXY_SCHEMES: &[&str] = &["http", "https", "socks5", "socks5h"];

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL itself is never shown: it may carry the proxy's password.
    #[error("the account's proxy URL is invalid (use http://, https://, socks5:// or socks5h://)")]
    BadProxy,
    #[error("building the HTTP client failed: {0}")]
    Build(String),
}

/// Why a request got no answer from the upstream.
#[derive(Debug)]
pub enum SendError {
    Timeout,
    Unreachable(Unreachable),
    /// Switchyard itself ran out of descriptors, memory or local ports: the upstream was never
    /// asked, so nothing is known about the account.
    Local(Shortage),
    /// An established connection closed under the request before any answer: sent again once
    /// by [`UpstreamClient::post`], which never returns this.
    StaleConnection(Unreachable),
}

impl SendError {
    /// A second closed connection is the account's to answer for, like any other.
    fn stale_is_unreachable(self) -> Self {
        match self {
            SendError::StaleConnection(u) => SendError::Unreachable(u),
            other => other,
        }
    }

    /// What the account is charged with; `None` when the fault is ours, not the upstream's (a
    /// shortage must never rest an account: every account would go the same way).
    pub fn account_outcome(&self) -> Option<Outcome> {
        match self {
            SendError::Timeout => Some(Outcome::Timeout),
            SendError::Unreachable(_) | SendError::StaleConnection(_) => Some(Outcome::ConnectError),
            SendError::Local(_) => None,
        }
    }
}

/// An upstream failure told twice: briefly for the client (the error itself, without its causes,
/// which can name hosts and certificates), and with every cause for the log.
#[derive(Debug, Clone)]
pub struct Unreachable {
    pub public: String,
    pub detail: String,
}

impl Unreachable {
    pub fn new(e: &(dyn StdError + 'static)) -> Self {
        Unreachable {
            public: e.to_string(),
            detail: error_text(e),
        }
    }

    fn plain(message: &str) -> Self {
        Unreachable {
            public: message.to_owned(),
            detail: message.to_owned(),
        }
    }
}

/// Bounds the whole connect (DNS, TCP and the TLS handshake), as reqwest's connect timeout
/// did; `HttpConnector`'s own timeout covers the TCP connect only.
#[derive(Clone)]
struct ConnectTimeout<C> {
    inner: C,
    timeout: Duration,
}

impl<C> tower_service::Service<http::Uri> for ConnectTimeout<C>
where
    C: tower_service::Service<http::Uri> + Send,
    C::Future: Send + 'static,
    C::Error: Into<BoxError>,
{
    type Response = C::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<C::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let (connect, timeout) = (self.inner.call(uri), self.timeout);
        Box::pin(async move {
            match tokio::time::timeout(timeout, connect).await {
                Ok(result) => result.map_err(Into::into),
                Err(_) => Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out").into()),
            }
        })
    }
}

/// The client an account's requests go through.
pub enum UpstreamClient<'a> {
    Direct(&'a UpstreamClients),
    Proxied(reqwest::Client),
}

/// A client builder for requests made on an account's behalf: through `proxy` when there is
/// one, else direct; never through the environment's proxy, and never following redirects.
/// A proxy that cannot be used is an error, not a reason to go direct.
pub fn egress_builder(proxy: Option<&str>) -> Result<reqwest::ClientBuilder, ClientError> {
    let builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy();
    let Some(url) = proxy.map(str::trim).filter(|p| !p.is_empty()) else {
        return Ok(builder);
    };
    let parsed = reqwest::Url::parse(url).map_err(|_| ClientError::BadProxy)?;
    if !PROXY_SCHEMES.contains(&parsed.scheme()) || parsed.host().is_none() {
        return Err(ClientError::BadProxy);
    }
    let proxy = reqwest::Proxy::all(url).map_err(|_| ClientError::BadProxy)?;
    Ok(builder.proxy(proxy))
}

/// `url` as answers and logs may show it: any `user:password@` becomes `***@`.
pub fn without_credentials(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let authority = rest.find(['/', '?', '#']).map_or(rest, |end| &rest[..end]);
    match authority.rfind('@') {
        Some(at) => format!("{}***{}", &url[..scheme_end], &rest[at..]),
        None => url.to_owned(),
    }
}

/// Reqwest clients for accounts, one per distinct proxy (`""`: direct), built once by
/// [`egress_builder`] and kept: connections to a proxy are pooled across requests.
pub struct AccountClients {
    built: DashMap<String, reqwest::Client>,
    connect_timeout: Duration,
    /// A bound on each whole request (token refreshes); the relay bounds its own.
    timeout: Option<Duration>,
}

impl AccountClients {
    pub fn new(connect_timeout: Duration, timeout: Option<Duration>) -> Self {
        AccountClients {
            built: DashMap::new(),
            connect_timeout,
            timeout,
        }
    }

    /// The client for an account whose proxy is `proxy` (`None` or empty: direct).
    pub fn client(&self, proxy: Option<&str>) -> Result<reqwest::Client, ClientError> {
        let key = proxy.map(str::trim).unwrap_or_default();
        if let Some(c) = self.built.get(key) {
            return Ok(c.clone());
        }
        let mut builder = egress_builder(Some(key))?
            .connect_timeout(self.connect_timeout)
            .tcp_nodelay(true)
            .pool_idle_timeout(POOL_IDLE);
        if let Some(t) = self.timeout {
            builder = builder.timeout(t);
        }
        let client = builder
            .build()
            .map_err(|e| ClientError::Build(e.without_url().to_string()))?;
        self.built.insert(key.to_owned(), client.clone());
        Ok(client)
    }
}

fn direct_client(connect_timeout: Duration) -> Result<DirectClient, ClientError> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_keepalive(Some(TCP_KEEPALIVE));
    http.set_connect_timeout(Some(connect_timeout));
    let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| ClientError::Build(e.to_string()))?
    .with_root_certificates(rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    })
    .with_no_client_auth();
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new())
        // Without a timer the idle timeout is only checked when a connection is taken.
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(POOL_IDLE)
        .build(ConnectTimeout {
            inner: https,
            timeout: connect_timeout,
        }))
}

impl UpstreamClients {
    pub fn new(settings: &crate::settings::RelaySettings) -> Result<Self, ClientError> {
        let connect_timeout = Duration::from_millis(settings.connect_timeout_ms);
        Ok(UpstreamClients {
            direct: direct_client(connect_timeout)?,
            proxied: AccountClients::new(connect_timeout, None),
            uris: Mutex::default(),
        })
    }

    /// `text` parsed (`None`: not an absolute http(s) URL).
    fn uri(&self, text: &str) -> Option<http::Uri> {
        let mut uris = self.uris.lock();
        if let Some(uri) = uris.get(text) {
            return Some(uri.clone());
        }
        // A URL with characters a URI may not hold as they are (a model name with a space, say)
        // is percent-encoded first, as a browser would.
        let uri: http::Uri = text
            .parse()
            .ok()
            .or_else(|| reqwest::Url::parse(text).ok()?.as_str().parse().ok())?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return None;
        }
        if uris.len() >= MAX_CACHED_URLS {
            uris.clear();
        }
        uris.insert(text.to_owned(), uri.clone());
        Some(uri)
    }

    /// The client for an account: its proxy's, or the direct one.
    pub fn for_proxy(&self, proxy: Option<&str>) -> Result<UpstreamClient<'_>, ClientError> {
        match proxy.map(str::trim).filter(|p| !p.is_empty()) {
            None => Ok(UpstreamClient::Direct(self)),
            Some(url) => self.proxied.client(Some(url)).map(UpstreamClient::Proxied),
        }
    }
}

impl UpstreamClient<'_> {
    /// POSTs `body` to `url` and waits for the answer's head. A pooled connection that the
    /// upstream closed just as the request went out (its keep-alive ran out) is no fault of the
    /// account's: the request is sent once more, on a connection of its own.
    pub async fn post(
        &self,
        url: &str,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<UpstreamResponse, SendError> {
        match self.post_once(url, headers.clone(), body.clone()).await {
            Err(SendError::StaleConnection(e)) => {
                tracing::debug!(error = %e.detail, "pooled upstream connection closed under a request; sending it again");
                self.post_once(url, headers, body)
                    .await
                    .map_err(SendError::stale_is_unreachable)
            }
            other => other,
        }
    }

    async fn post_once(
        &self,
        url: &str,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<UpstreamResponse, SendError> {
        match self {
            UpstreamClient::Direct(clients) => {
                let uri = clients.uri(url).ok_or_else(|| {
                    SendError::Unreachable(Unreachable::plain("the upstream URL is invalid"))
                })?;
                let mut request = http::Request::new(Full::new(body));
                *request.method_mut() = http::Method::POST;
                *request.uri_mut() = uri;
                *request.headers_mut() = headers;
                let response = clients
                    .direct
                    .request(request)
                    .await
                    .map_err(|e| send_error(&e))?;
                Ok(response.map(|b| b.map_err(BoxError::from).boxed_unsync()))
            }
            UpstreamClient::Proxied(client) => {
                let response = client
                    .post(url)
                    .headers(headers)
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| {
                        let e = e.without_url();
                        match Shortage::find(&e) {
                            Some(shortage) => SendError::Local(shortage),
                            None if e.is_timeout() => SendError::Timeout,
                            None if !e.is_connect() && closed_under_request(&e) => {
                                SendError::StaleConnection(Unreachable::new(&e))
                            }
                            None => SendError::Unreachable(Unreachable::new(&e)),
                        }
                    })?;
                let response: http::Response<reqwest::Body> = response.into();
                Ok(response.map(|b| b.map_err(|e| BoxError::from(e.without_url())).boxed_unsync()))
            }
        }
    }
}

fn send_error(e: &(dyn StdError + 'static)) -> SendError {
    let connecting = e
        .downcast_ref::<hyper_util::client::legacy::Error>()
        .is_some_and(hyper_util::client::legacy::Error::is_connect);
    if let Some(shortage) = Shortage::find(e) {
        SendError::Local(shortage)
    } else if io_kind(e) == Some(std::io::ErrorKind::TimedOut) {
        SendError::Timeout
    } else if !connecting && closed_under_request(e) {
        SendError::StaleConnection(Unreachable::new(e))
    } else {
        SendError::Unreachable(Unreachable::new(e))
    }
}

/// Whether an established connection was closed (or reset) by the upstream before any answer
/// came: what a pooled connection whose keep-alive the upstream just ended looks like.
fn closed_under_request(e: &(dyn StdError + 'static)) -> bool {
    let mut next = Some(e);
    while let Some(e) = next {
        if e.downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_incomplete_message)
        {
            return true;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
            );
        }
        next = e.source();
    }
    false
}

/// The first I/O error kind in `e`'s source chain.
fn io_kind(e: &(dyn StdError + 'static)) -> Option<std::io::ErrorKind> {
    let mut next = Some(e);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        next = e.source();
    }
    None
}

/// `e` with its causes, for logs and error bodies (hyper's own messages name no cause; none of
/// these carry a URL or a credential).
pub fn error_text(e: &(dyn StdError + 'static)) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let part = cause.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        next = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clients() -> UpstreamClients {
        let settings: crate::settings::RelaySettings =
            serde_json::from_value(serde_json::json!({})).expect("defaults");
        UpstreamClients::new(&settings).expect("client")
    }

    #[test]
    fn upstream_urls_are_parsed_once_and_encoded_when_needed() {
        let c = clients();
        let plain = "http://127.0.0.1:9/v1/messages?beta=true";
        assert_eq!(c.uri(plain).unwrap().to_string(), plain);
        assert_eq!(c.uri(plain).unwrap().to_string(), plain, "from the cache");
        assert_eq!(
            c.uri("http://h/v1beta/models/gemini pro:generateContent")
                .unwrap()
                .path(),
            "/v1beta/models/gemini%20pro:generateContent"
        );
        assert!(c.uri("ftp://h/x").is_none());
        assert!(c.uri("not a url").is_none());
    }

    #[test]
    fn proxies_that_cannot_be_used_are_errors_never_direct() {
        for bad in [
            "socks5://[::1",
            "ftp://127.0.0.1:21",
            "socks4://127.0.0.1:1",
            "127.0.0.1:8080",
            "http://",
        ] {
            assert!(
                matches!(egress_builder(Some(bad)), Err(ClientError::BadProxy)),
                "{bad}"
            );
            let c = clients();
            assert!(
                matches!(c.for_proxy(Some(bad)), Err(ClientError::BadProxy)),
                "{bad}"
            );
        }
        for good in [
            "http://u:p@127.0.0.1:1/",
            "https://p.test",
            "socks5h://127.0.0.1:1080",
        ] {
            assert!(egress_builder(Some(good)).is_ok(), "{good}");
        }
        assert!(matches!(
            clients().for_proxy(Some(" ")),
            Ok(UpstreamClient::Direct(_))
        ));
        let e = ClientError::BadProxy.to_string();
        assert!(
            !e.contains("127.0.0.1"),
            "the URL (and its password) is not shown: {e}"
        );
    }

    #[test]
    fn credentials_in_urls_are_not_shown() {
        assert_eq!(
            without_credentials("https://u:p@ss@h.test:8443/v1?x=a@b"),
            "https://***@h.test:8443/v1?x=a@b"
        );
        assert_eq!(without_credentials("http://h/p@q"), "http://h/p@q");
        assert_eq!(without_credentials("not a url"), "not a url");
    }

    #[test]
    fn timeouts_are_told_apart_from_other_failures() {
        let timed_out = std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timeout");
        assert!(matches!(send_error(&timed_out), SendError::Timeout));
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        match send_error(&refused) {
            SendError::Unreachable(u) => {
                assert_eq!(u.public, "refused");
                assert!(u.detail.contains("refused"), "{u:?}");
            }
            other => panic!("{other:?}"),
        }
    }
}
