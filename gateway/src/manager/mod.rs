//! The manager edge of the daemon: master orders over FIX 4.4 (mam is the acceptor) onto the
//! engine's ring, as `docs/daemon.md` ("Master orders over FIX", "Restart") specifies.
//!
//! - [`convert`]: NewOrderSingle → [`MasterOpen`](mam_core::engine::input::MasterOpen) /
//!   [`MasterClose`](mam_core::engine::input::MasterClose), TradingSessionStatus → watermark,
//!   and the typed [`MasterRefusal`] that says which reply a bad message gets.
//! - [`positions`]: RequestForPositions → RequestForPositionsAck and PositionReports, read
//!   from the engine's published snapshot.
//! - [`report`]: the engine's reports on master orders → ExecutionReport / OrderCancelReject.
//! - [`stage`]: [`ManagerStage`], the pipeline stage that owns the acceptor, answers the
//!   manager and pushes [`EdgeFrame`](mam_core::pipeline::EdgeFrame)s without ever dropping one.
//! - [`client`]: the other end, a manager's FIX 4.4 initiator ([`client::ManagerClient`]) that
//!   sends master orders with mam's tags and the clock watermark and collects mam's answers
//!   (`mam manager`, the benchmarks and the daemon's end-to-end tests drive it).

pub mod account_request;
pub mod binary;
pub mod client;
pub mod clock;
pub mod convert;
pub mod positions;
pub mod report;
pub mod rules;
pub mod stage;

mod backlog;
mod handler;
mod refusal;
mod reply;
mod resume;
mod stats;

pub use convert::{
    amend_from_ocrr, cancel_from_ocr, master_from_nos, model_from_name, model_name,
    policy_from_name, policy_name, routing_from_name, routing_name, watermark_from_tss,
    MasterDefaults, MasterRefusal, OrdRejReason, SharedDefaults, MODEL_NAMES,
};
pub use stage::{ManagerCounters, ManagerError, ManagerOptions, ManagerStage, ManagerStats};

#[cfg(test)]
mod positions_tests;
#[cfg(test)]
mod tests;
