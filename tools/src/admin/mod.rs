//! The admin API, the dashboard and `/metrics` (docs/admin.md): HTTP on loopback, off the hot
//! path.
//!
//! ```text
//!  engine stage ──snapshot (triple buffer)──► views.rs ──JSON──► GET /api/...
//!       ▲                                     metrics.rs ───────► GET /metrics
//!       └──AdminQueue (journaled inputs)◄──── writes.rs ◄──JSON── POST/PATCH /api/...
//!  stats thread ──LiveStats (each latency interval)──► views, metrics, /api/events (SSE)
//! ```
//!
//! The server runs on its own unpinned thread with a single-threaded tokio runtime: the engine
//! never waits for it (it publishes a snapshot with one atomic swap and pops requests from a
//! lock-free queue), and every write is an engine input journaled like any other.

mod add_account;
mod auth;
mod dashboard;
pub mod live;
pub mod manager;
mod metrics;
mod views;
mod writes;

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use axum::routing::{get, patch, post};
use axum::Router;
use mam_core::pipeline::engine_stage::admin::{AdminQueue, SharedSnapshots};
use mam_core::pipeline::engine_stage::EngineStageStats;
use mam_core::symbol::SymbolTable;

use crate::daemon::stats::NamedRing;
pub use auth::load_or_create_token;
use live::SharedLive;
pub use views::status_name;

/// Everything the handlers read or write.
pub struct AdminShared {
    /// The engine's latest snapshot, shared with the manager session's position requests
    /// (the lock is the readers' only: the engine never takes it).
    pub snapshot: SharedSnapshots,
    /// Operator inputs to the engine and their outcomes.
    pub queue: Arc<AdminQueue>,
    /// Instrument names and lot steps.
    pub symbols: SymbolTable,
    /// The bearer token every `/api` and `/metrics` request must carry.
    pub token: String,
    /// The engine stage's live counters.
    pub engine: Arc<EngineStageStats>,
    /// The stage rings.
    pub rings: Vec<NamedRing>,
    /// Edge counters and latency summaries, refreshed by the stats thread.
    pub live: SharedLive,
    /// Ids of admin requests.
    pub next_id: AtomicU64,
    /// When the server started.
    pub started: Instant,
    /// Set when the server stops: event streams end so the graceful shutdown can finish.
    pub stopping: std::sync::atomic::AtomicBool,
    /// The manager session (none when it is off).
    pub manager: Option<manager::ManagerInfo>,
    /// Every manager session (manager 0 first), for `GET /api/managers`.
    pub sessions: Arc<std::sync::Mutex<Vec<manager::SessionInfo>>>,
    /// The daemon's config file, for `POST /api/reload` (as SIGHUP).
    pub reloader: Arc<crate::daemon::reload::Reloader>,
}

impl std::fmt::Debug for AdminShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminShared").finish_non_exhaustive()
    }
}

/// The routes.
fn router(shared: Arc<AdminShared>) -> Router {
    let api = Router::new()
        .route("/api/status", get(views::status))
        .route("/api/accounts", get(views::accounts))
        .route("/api/accounts", post(add_account::add_account))
        .route("/api/accounts/{id}", get(views::account))
        .route("/api/accounts/{id}", patch(writes::change_account))
        .route("/api/accounts/{id}/balance", post(writes::balance))
        .route("/api/tickets", get(views::tickets))
        .route("/api/tickets/{ticket}", get(views::ticket))
        .route("/api/orders", get(views::orders))
        .route("/api/latency", get(views::latency))
        .route("/api/risk-limits", get(views::risk_limits))
        .route("/api/risk-limits", patch(writes::change_limits))
        .route("/api/kill-switch", post(writes::kill_switch))
        .route("/api/adaptive", post(writes::adaptive))
        .route("/api/reload", post(writes::reload))
        .route("/api/manager", get(manager::manager))
        .route("/api/managers", get(manager::managers))
        .route("/api/manager", patch(manager::change_manager))
        .route("/api/events", get(dashboard::events))
        .route("/metrics", get(metrics::metrics))
        .route_layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            auth::require_token,
        ));
    Router::new()
        .route("/", get(dashboard::index))
        .route("/app.js", get(dashboard::app_js))
        .route("/style.css", get(dashboard::style_css))
        .merge(api)
        .fallback(views::not_found)
        .with_state(shared)
}

/// A running admin server.
#[derive(Debug)]
pub struct AdminServer {
    /// The address it listens on.
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    shared: Arc<AdminShared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl AdminServer {
    /// Binds `addr`: done before the state directory is touched, so a port in use fails the
    /// start with nothing changed on disk.
    pub fn bind(addr: SocketAddr) -> anyhow::Result<std::net::TcpListener> {
        std::net::TcpListener::bind(addr)
            .with_context(|| format!("admin.listen = \"{addr}\": cannot listen"))
    }

    /// Serves on `std_listener` (from [`AdminServer::bind`]) on a thread of its own.
    pub fn start(
        std_listener: std::net::TcpListener,
        shared: Arc<AdminShared>,
    ) -> anyhow::Result<AdminServer> {
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let keep = shared.clone();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .context("admin server runtime")?;
        let thread = std::thread::Builder::new()
            .name("mam-admin".into())
            .spawn(move || {
                rt.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(std_listener) else {
                        return;
                    };
                    let _ = axum::serve(listener, router(shared))
                        .with_graceful_shutdown(async {
                            let _ = rx.await;
                        })
                        .await;
                });
            })
            .context("admin server thread")?;
        Ok(AdminServer {
            addr,
            shutdown: Some(tx),
            shared: keep,
            thread: Some(thread),
        })
    }

    /// Stops accepting, lets open requests finish (event streams end), joins the thread.
    pub fn stop(mut self) {
        self.stop_inner();
    }

    fn stop_inner(&mut self) {
        self.shared
            .stopping
            .store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for AdminServer {
    fn drop(&mut self) {
        self.stop_inner();
    }
}
