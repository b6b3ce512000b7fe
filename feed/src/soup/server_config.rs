//! What the SoupBinTCP server is told (configuration, stop handle) and what it reports
//! (counters, errors).

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;

use crate::replay::Speed;

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on (port 0 picks one).
    pub addr: SocketAddr,
    /// Allow a non-loopback listen address.
    pub allow_remote: bool,
    /// Session name (at most 10 ASCII characters).
    pub session: String,
    /// Username required at login (None accepts any).
    pub username: Option<String>,
    /// Password required at login (None accepts any).
    pub password: Option<String>,
    /// Pace of Sequenced Data.
    pub speed: Speed,
    /// Stop after this many logged-in clients have come and gone.
    pub max_clients: Option<u64>,
    /// Server Heartbeat after this long without output (1 s in the spec).
    pub heartbeat: Duration,
    /// A client silent this long (no heartbeat, no packet) is disconnected; also bounds the
    /// wait for its Login Request.
    pub client_timeout: Duration,
}

impl ServerConfig {
    /// Defaults: loopback only, session `MAM`, any credentials, max speed, 1 s heartbeats,
    /// 15 s client timeout, serve until stopped.
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            allow_remote: false,
            session: "MAM".into(),
            username: None,
            password: None,
            speed: Speed::Max,
            max_clients: None,
            heartbeat: Duration::from_secs(1),
            client_timeout: Duration::from_secs(15),
        }
    }
}

/// Why the server could not run.
#[derive(Debug, Error)]
pub enum ServerError {
    /// A non-loopback address without permission.
    #[error("{0} is not a loopback address; allow remote clients explicitly to listen on it")]
    NotLoopback(SocketAddr),
    /// A session name longer than 10 bytes or not ASCII.
    #[error("session `{0}`: at most 10 ASCII characters")]
    Session(String),
    /// Listening failed.
    #[error("listening on {addr}: {source}")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// Cause.
        source: io::Error,
    },
    /// Accepting failed.
    #[error("accepting a client: {0}")]
    Accept(io::Error),
}

/// What the server did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Connections accepted (logged in or not).
    pub connections: u64,
    /// Clients logged in.
    pub logins: u64,
    /// Logged-in clients that have since gone (the count `max_clients` bounds).
    pub served: u64,
    /// Logins refused (bad credentials or unknown session).
    pub rejected: u64,
    /// Connections closed for a protocol error (no or malformed Login Request).
    pub protocol_errors: u64,
    /// Clients that logged out with a Logout Request.
    pub logouts: u64,
    /// Clients dropped after `client_timeout` of silence.
    pub timeouts: u64,
    /// Sequenced Data packets sent.
    pub messages: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Server Heartbeats sent.
    pub heartbeats: u64,
    /// Client Heartbeats received.
    pub client_heartbeats: u64,
    /// Malformed packets received from clients after login (skipped).
    pub malformed: u64,
    /// End of Session packets sent.
    pub end_of_session: u64,
}

/// Asks a running server to stop (clonable, for another thread or a signal handler).
#[derive(Debug, Clone, Default)]
pub struct ServerStop(Arc<AtomicBool>);

impl ServerStop {
    /// Stops the server: the current client is disconnected and `run` returns.
    pub fn stop(&self) {
        self.0.store(true, Relaxed);
    }
    /// True once stop was asked.
    pub fn is_stopped(&self) -> bool {
        self.0.load(Relaxed)
    }
}
