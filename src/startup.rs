//! Builds the whole application from `Settings`: state backends, the scheduling actors, the
//! HTTP server. Tests build it on port 0 and talk to it over real HTTP.
use crate::admin_token::AdminToken;
use crate::calendar::Calendar;
use crate::keys::{KeyService, KeyStore, MemoryKeyStore};
use crate::limits::{LimitStore, MemoryLimitStore};
use crate::oauth::TokenRefresher;
use crate::pricing::{Pricing, PricingFileError};
use crate::relay::client::UpstreamClients;
use crate::routes;
use crate::settings::Settings;
use crate::state::AppState;
use crate::usage::{MemoryUsageStore, UsageRecorder, UsageStore};
use actix_web::dev::{Server, ServerHandle};
use actix_web::{App, HttpServer, web};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;
use switchyard_actors::clock::SharedClock;
use switchyard_actors::store::MemoryStore;
use switchyard_actors::{Scheduling, Store, StoreError, SystemClock};

/// The state backends the application runs on.
pub struct Backends {
    pub store: Arc<dyn Store>,
    pub keys: Arc<dyn KeyStore>,
    pub usage: Arc<dyn UsageStore>,
    pub limits: Arc<dyn LimitStore>,
}

impl Backends {
    /// Everything in process memory (tests, benchmarks).
    pub fn in_memory() -> Self {
        Backends {
            store: Arc::new(MemoryStore::new()),
            keys: Arc::new(MemoryKeyStore::new()),
            usage: Arc::new(MemoryUsageStore::new()),
            limits: Arc::new(MemoryLimitStore::new()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("state store: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("upstream HTTP client: {0}")]
    Client(#[from] crate::relay::client::ClientError),
    #[error("{0}")]
    Pricing(#[from] PricingFileError),
    #[error("{0}")]
    Zone(#[from] crate::calendar::BadZone),
}

pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
}

impl Application {
    /// Opens the configured backends and builds the application.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        Self::build_with(settings, Backends::in_memory()).await
    }

    pub async fn build_with(settings: Settings, backends: Backends) -> Result<Self, StartupError> {
        let clock: SharedClock = Arc::new(SystemClock);
        let scheduling =
            Scheduling::start(backends.store.clone(), clock.clone(), settings.scheduling(), None).await?;
        let admin = AdminToken::resolve(&settings.admin.token, &settings.store.data_dir)?;
        let keys = Arc::new(KeyService::new(backends.keys, clock.clone()));
        let oauth_timeout = Duration::from_millis(settings.relay.idle_timeout_ms.min(30_000));
        let oauth = Arc::new(TokenRefresher::new(
            backends.store.clone(),
            scheduling.clone(),
            clock.clone(),
            oauth_timeout,
        ));
        // Fail at start-up, not per worker, if the HTTP client cannot be built.
        UpstreamClients::new(&settings.relay)?;
        let pricing = Arc::new(match settings.pricing.file.trim() {
            "" => Pricing::builtin(),
            path => Pricing::with_file(path.into())?,
        });
        let calendar = Calendar::new(&settings.usage.timezone)?;
        let usage = UsageRecorder::new(
            backends.usage,
            backends.limits,
            pricing.clone(),
            calendar,
            settings.usage.recent_requests,
        );
        usage.spawn(Duration::from_millis(settings.store.flush_interval_ms.max(10)));
        if !settings.pricing.file.trim().is_empty() {
            let every = Duration::from_secs(settings.pricing.reload_secs.max(1));
            actix_web::rt::spawn(async move {
                let mut tick = tokio::time::interval(every);
                loop {
                    tick.tick().await;
                    if let Err(e) = pricing.reload_if_changed() {
                        tracing::error!(error = %e, "pricing file reload failed; keeping the last prices");
                    }
                }
            });
        }

        let listener = TcpListener::bind((settings.server.host.as_str(), settings.server.port))?;
        let port = listener.local_addr()?.port();
        let settings = Arc::new(settings);
        let state = web::Data::new(AppState {
            settings: settings.clone(),
            scheduling,
            store: backends.store,
            keys: keys.clone(),
            usage,
            oauth,
            admin,
            clock,
        });
        actix_web::rt::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                keys.sync().await;
            }
        });

        let app_state = state.clone();
        let relay_settings = settings.relay.clone();
        let mut server = HttpServer::new(move || {
            let clients = UpstreamClients::new(&relay_settings).expect("checked at start-up");
            App::new()
                .app_data(app_state.clone())
                .app_data(web::Data::new(clients))
                .configure(routes::configure)
        })
        .disable_signals()
        .listen(listener)?;
        if settings.server.workers > 0 {
            server = server.workers(settings.server.workers);
        }
        let server = server.run();
        Ok(Application { port, server, state })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
