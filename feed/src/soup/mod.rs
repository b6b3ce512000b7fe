//! SoupBinTCP 4.0 (NASDAQ's sequenced point-to-point session protocol over TCP) for the mam
//! SBE feed: a feed that survives a daemon restart, because the client logs in with the next
//! sequence number it wants and the server resumes exactly there.
//!
//! - [`codec`]: every packet type, and a streaming decoder for arbitrarily split input;
//! - [`messages`]: a capture's SBE feed split into one-message packets (one soup message each);
//! - [`server`]: a blocking server of one capture, client after client ([`server_config`]: its
//!   configuration, counters and errors);
//! - [`client`]: a non-blocking mio client that reconnects and resumes ([`session`]: its
//!   per-packet state machine);
//! - [`stage`]: the client as a lossless pipeline stage feeding the FX books and the ring.

pub mod client;
pub mod codec;
pub mod messages;
pub mod server;
pub mod server_config;
pub mod session;
pub mod stage;

pub use client::{ClientConfig, ClientEvent, ClientStats, SoupClient};
pub use codec::{Decoder, LoginRequest, Packet, RejectReason, SoupError};
pub use messages::{load_capture, load_capture_with, SoupMessage, SoupMessages};
pub use server::{ServerConfig, ServerError, ServerStats, ServerStop, SoupServer};
pub use stage::SoupSbeStage;
