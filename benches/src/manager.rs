//! The manager side of the daemon's master-order session (docs/daemon.md), for benchmarks,
//! `mam manager` and the daemon's end-to-end tests.
//!
//! - [`client`] (from `mam_gateway::manager`): [`ManagerClient`], a FIX 4.4 initiator over a persistent store that sends
//!   master orders (NewOrderSingle with mam's tags) and the clock watermark (35=h), and
//!   collects mam's answers;
//! - [`msg`]: the master orders, the answers and mam's custom tags;
//! - [`schedule`]: a capture's quote [`Timeline`] and a seeded [`Schedule`] of trades over it;
//! - [`drive()`]: plays a schedule through a client on the capture's clock.

pub mod drive;
pub mod schedule;

/// The manager's FIX client and its messages live in the gateway, beside the acceptor they talk
/// to (one tag table, `fix::tag`); re-exported here for the schedule and the driver.
pub use mam_gateway::manager::client::{self, msg};

pub use client::{ClientOptions, ManagerClient, ManagerError};
pub use drive::{drive, DriveEvent, DriveOptions, DriveReport};
pub use msg::{Ack, AckKind, Close, Fate, Open, OrderOpts};
pub use schedule::{Action, Schedule, ScheduleError, ScheduleOptions, Step, Timeline};

#[cfg(test)]
mod tests;
