//! Builds the whole application from `Settings`: state backends, the scheduling actors, the
//! HTTP server. Tests build it on port 0 and talk to it over real HTTP.
use crate::admin_token::AdminToken;
use crate::alerts::Alerts;
use crate::calendar::Calendar;
use crate::keys::KeyService;
use crate::oauth::TokenRefresher;
use crate::pricing::{Pricing, PricingFileError};
use crate::relay::client::UpstreamClients;
use crate::routes;
use crate::settings::Settings;
use crate::state::AppState;
use crate::usage::UsageRecorder;
use actix_web::dev::{Server, ServerHandle};
use actix_web::{App, HttpServer, web};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;
use switchyard_actors::clock::SharedClock;
use switchyard_actors::{Scheduling, StoreError, SystemClock};

/// Descriptors kept back from the stream estimate: listeners, the store's files and
/// connections, the runtime's own, logs.
const RESERVED_FILES: u64 = 64;

/// Raises the soft open-files limit to the hard one and logs what it allows: each live stream
/// holds two descriptors (the client's socket and the upstream's), and the soft default (often
/// 1,024) would cap a busy relay at a few hundred streams.
fn raise_open_files_limit() {
    let before = rlimit::Resource::NOFILE.get().ok();
    let raised = rlimit::increase_nofile_limit(u64::MAX).or_else(|e| {
        // Linux refuses a soft limit of "unlimited" (a hard limit some hosts set): the
        // kernel's per-process cap is the most it allows.
        let cap: u64 = std::fs::read_to_string("/proc/sys/fs/nr_open")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or(e)?;
        rlimit::increase_nofile_limit(cap)
    });
    match raised {
        Ok(limit) => tracing::info!(
            max_open_files = limit,
            soft_limit_before = before.map(|(soft, _)| soft),
            live_streams = limit.saturating_sub(RESERVED_FILES) / 2,
            "open-files limit (each live stream holds a client and an upstream socket)"
        ),
        Err(e) => tracing::warn!(
            error = %e,
            max_open_files = before.map(|(soft, _)| soft),
            live_streams = before.map(|(soft, _)| soft.saturating_sub(RESERVED_FILES) / 2),
            "could not raise the open-files limit"
        ),
    }
}

/// The state backends (defined with the stores; named here too, where the app is built).
pub use crate::store::Backends;

impl Backends {
    /// The backends `store.backend` names: accounts, scheduling state, API keys, usage and
    /// limit counters all live in the configured store.
    pub async fn open(settings: &Settings) -> Result<Self, StartupError> {
        Ok(crate::store::open(&settings.store).await?)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("state store: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Open(#[from] crate::store::OpenError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("upstream HTTP client: {0}")]
    Client(#[from] crate::relay::client::ClientError),
    #[error("{0}")]
    Pricing(#[from] PricingFileError),
    #[error("{0}")]
    Zone(#[from] crate::calendar::BadZone),
    #[error("{0}")]
    AdminToken(#[from] crate::admin_token::AdminTokenError),
    #[error("alerts HTTP client: {0}")]
    Alerts(reqwest::Error),
}

pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
}

impl Application {
    /// Opens the configured backends and builds the application.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let backends = Backends::open(&settings).await?;
        Self::build_with(settings, backends).await
    }

    pub async fn build_with(settings: Settings, backends: Backends) -> Result<Self, StartupError> {
        let clock: SharedClock = Arc::new(SystemClock);
        let mut metrics = crate::metrics::Metrics::new();
        metrics.store_stats = backends.stats.clone();
        let metrics = Arc::new(metrics);
        // Before anything starts: a bad admin token stops start-up with nothing to undo.
        let admin = AdminToken::resolve(&settings.admin.token, &settings.store.data_dir)?;
        let store = backends.store;
        let scheduling = Scheduling::start(store.clone(), clock.clone(), settings.scheduling(), None).await?;
        let alerts = Alerts::start(
            settings.alerts.clone(),
            &scheduling,
            store.clone(),
            clock.clone(),
            metrics.clone(),
        )
        .map_err(|e| StartupError::Alerts(e.without_url()))?;
        let keys = Arc::new(KeyService::new(backends.keys, clock.clone(), &settings.auth));
        let oauth_timeout = Duration::from_millis(settings.relay.idle_timeout_ms.min(30_000));
        let oauth = Arc::new(TokenRefresher::new(
            store.clone(),
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
            store,
            keys: keys.clone(),
            usage,
            oauth,
            admin,
            clock,
            metrics,
            key_queues: Default::default(),
            body_memory: Arc::new(crate::http::body_memory::BodyMemory::new(
                settings.server.body_memory_mb,
                settings.server.key_body_memory_mb,
            )),
            started: std::time::Instant::now(),
            pacing: Default::default(),
            encryption_key: backends.encryption_key,
            alerts,
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
            // The factory runs on each worker's thread: this worker's selections go to scheduler
            // actors on that thread instead of crossing to the core's arbiter and back.
            let worker_state = web::Data::new(AppState {
                scheduling: app_state.scheduling.local(),
                ..AppState::clone(&app_state)
            });
            App::new()
                .wrap(actix_web::middleware::from_fn(crate::middleware::observe))
                .app_data(worker_state)
                .app_data(web::Data::new(clients))
                .configure(routes::configure)
        })
        .disable_signals()
        // Streams are written chunk by chunk as they arrive: without this, Nagle's algorithm
        // holds each small write back until the client's delayed ACK (~40 ms) of the previous.
        .tcp_nodelay(true)
        // A client that closes its side is gone: drop its request (leave a key's queue, abort
        // the upstream call, release the slot) instead of finishing work nobody will read.
        .h1_allow_half_closed(false)
        .shutdown_timeout(settings.server.shutdown_grace_secs)
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

/// Runs switchyard until SIGTERM / SIGINT, then shuts down gracefully: stop accepting, let
/// in-flight requests finish within `server.shutdown_grace_secs`, wait for every slot lease to
/// be released, flush usage, return. A second signal exits at once.
pub async fn serve(settings: Settings) -> Result<(), StartupError> {
    raise_open_files_limit();
    let grace = settings.server.shutdown_grace_secs;
    let address = format!("http://{}:{}", settings.server.host, settings.server.port);
    let app = Application::build(settings).await?;
    let state = app.state();
    tracing::info!(
        address = %address.rsplit_once(':').map(|(h, _)| format!("{h}:{}", app.port())).unwrap_or(address),
        backend = ?state.settings.store.backend,
        accounts = state.scheduling.snapshot().len(),
        "switchyard listening"
    );
    let handle = app.handle();
    actix_web::rt::spawn(async move {
        shutdown_signal().await;
        tracing::info!(
            grace_secs = grace,
            "shutting down: no new connections, waiting for in-flight requests"
        );
        let stop = handle.stop(true);
        actix_web::rt::spawn(async move {
            shutdown_signal().await;
            tracing::warn!("second signal: exiting now");
            std::process::exit(130);
        });
        stop.await;
    });
    app.run_until_stopped().await?;
    drain(&state).await;
    Ok(())
}

/// After the server stopped: every lease released, usage and last-used times written.
async fn drain(state: &AppState) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while state.scheduling.live_leases() > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Releases travel through the pool's mailbox to the store: wait for the store to agree.
    let mut held = 0;
    while std::time::Instant::now() < deadline {
        held = state
            .scheduling
            .slot_counts()
            .await
            .map(|c| c.values().sum::<u32>())
            .unwrap_or(0);
        if held == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if let Err(e) = state.usage.drain().await {
        tracing::error!(error = %e, "flushing usage at shutdown failed");
    }
    state.keys.sync().await;
    tracing::info!(
        live_leases = state.scheduling.live_leases(),
        slots_held = held,
        "shutdown complete"
    );
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
