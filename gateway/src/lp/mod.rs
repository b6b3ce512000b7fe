//! The LP edge of the daemon: child orders out to a liquidity provider over FIX 4.4, its
//! ExecutionReports back to the engine as fills.
//!
//! - [`stage`]: [`LpStage`], the pipeline stage (mam is the FIX initiator): pops
//!   [`EdgeOrder`](mam_core::pipeline::EdgeOrder)s, sends NewOrderSingles, pushes
//!   [`EdgeFrame`](mam_core::pipeline::EdgeFrame) fills. Nothing is dropped: an order waits
//!   while the session is down or backed up, a fill waits while the engine's ring is full.
//! - [`router`]: [`LpRouterStage`], several LP sessions behind one stage: routing by symbol,
//!   a fallback when an LP is down, cancels to the LP that holds the order.
//! - [`account`]: Account (1) on per-account orders: the account's id.
//! - [`sent`]: [`sent_cl_ord_ids`], the ClOrdIDs the session's store holds as sent (what a
//!   restart must not send again: `docs/daemon.md`, "Restart").
//! - `status` (private): reconciliation with the LP after a restart: OrderStatusRequests
//!   and the rule that turns their answers into fills without counting one twice.
//! - `refusals` (private): the orders the LP refused at the session level, on disk, so a
//!   refusal lost across a kill (FIX gap-fills admin messages) still ends its order.
//! - [`sim`]: [`SimLp`], a FIX acceptor that fills every order (partials optional) and records
//!   when each arrived, for the latency harness and for runs without QuickFIX.

pub mod account;
mod fills;
mod refusals;
pub mod router;
pub mod sent;
pub mod sim;
pub mod stage;
mod status;

pub use account::AccountField;
pub use router::{LpRouterStage, LpRoutes, RoutedLp, RouterChange, RouterChanges};
pub use sent::{sent_cl_ord_ids, sent_orders, SentError, SentOrders};
pub use sim::{Refusal, SimLp, SimLpHandle, SimLpOptions, SimLpStats, SimLpThread, StatusRequests};
pub use stage::{LpCounts, LpError, LpOptions, LpStage, LpStats};
