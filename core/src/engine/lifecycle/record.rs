//! The order-lifecycle records: two inputs (cancel, amend) and three decisions (a report to the
//! manager, a cancel request to the LP, a trigger). All Pod, one journal kind each.
//!
//! | kind | record | |
//! |---|---|---|
//! | 8 | [`MasterCancel`] | input: cancel a working or pending master order |
//! | 9 | [`MasterAmend`] | input: replace a pending master's size or price; set, move or remove SL/TP |
//! | 41 | [`MasterReport`] | decision: one ExecutionReport (or OrderCancelReject) for the manager |
//! | 42 | a [`ChildOrder`](crate::event::ChildOrder) with [`ORD_TYPE_CANCEL`](crate::event::ORD_TYPE_CANCEL) | decision: cancel a working child at the LP |
//! | 44 | a [`ChildOrder`](crate::event::ChildOrder) with [`ORD_TYPE_ALLOC`](crate::event::ORD_TYPE_ALLOC) | decision: a finished block's total allocation line (`account = u32::MAX`); the per-account lines before it reach the LP but are not journaled (replay recomputes them) |
//! | 43 | [`Trigger`] | decision: a pending master, stop-loss or take-profit triggered by a quote |

use bytemuck::{Pod, Zeroable};

use crate::num::{Lots, Price, Qty};

/// Journal kind of [`MasterCancel`].
pub const KIND_MASTER_CANCEL: u16 = 8;
/// Journal kind of [`MasterAmend`].
pub const KIND_MASTER_AMEND: u16 = 9;
/// Journal kind of [`MasterReport`].
pub const KIND_MASTER_REPORT: u16 = 41;
/// Journal kind of a cancel request (a `ChildOrder` with `ORD_TYPE_CANCEL`).
pub const KIND_CANCEL_REQUEST: u16 = 42;
/// Journal kind of [`Trigger`].
pub const KIND_TRIGGER: u16 = 43;
/// Journal kind of a block's total allocation line (a `ChildOrder` with `ORD_TYPE_ALLOC`).
pub const KIND_ALLOCATION: u16 = 44;

/// [`MasterOpen::policy`](super::super::input::MasterOpen::policy) bit: a pending limit
/// master, held by the engine until the market reaches `limit_price` (buy: ask ≤ price;
/// sell: bid ≥ price); its children then go out as limit orders at that price.
pub const POLICY_HELD_LIMIT: u8 = 0x20;
/// [`MasterOpen::policy`](super::super::input::MasterOpen::policy) bit: a pending stop master,
/// held until the market reaches `limit_price` (buy: ask ≥ price; sell: bid ≤ price); its
/// children then go out marketable.
pub const POLICY_HELD_STOP: u8 = 0x40;

/// Order id bit of the engine's stop-loss close of a ticket (`ticket | ORDER_ID_SL`).
pub const ORDER_ID_SL: u64 = 1 << 63;
/// Order id bit of the engine's take-profit close of a ticket (`ticket | ORDER_ID_TP`).
pub const ORDER_ID_TP: u64 = 1 << 62;
/// Largest order id the engine takes from a manager edge (the two bits above are the engine's).
pub const MAX_ORDER_ID: u64 = (1 << 62) - 1;
/// Where the manager's number sits in a ticket or order id (bits 56–61): the manager edge
/// writes its session's number there, so each manager has its own id space, a master
/// allocates over that manager's accounts only, and a report goes back to the session the
/// bits name. Manager 0's ids are the ClOrdIDs themselves, as before there were several.
pub const ORDER_ID_MANAGER_SHIFT: u32 = 56;
/// Largest ClOrdID a manager may use (what is left below the manager bits).
pub const MAX_CL_ORD_ID: u64 = (1 << ORDER_ID_MANAGER_SHIFT) - 1;

/// The manager whose id space `id` (a ticket or order id, SL/TP bits allowed) is in.
#[inline]
pub fn manager_of_order(id: u64) -> u8 {
    ((id >> ORDER_ID_MANAGER_SHIFT) & 0x3f) as u8
}

/// Manager `m`'s ClOrdID `id` as the engine's order id (`id` ≤ [`MAX_CL_ORD_ID`]).
#[inline]
pub fn scoped_order_id(m: u8, id: u64) -> u64 {
    debug_assert!(id <= MAX_CL_ORD_ID && m < 64);
    (u64::from(m & 0x3f) << ORDER_ID_MANAGER_SHIFT) | (id & MAX_CL_ORD_ID)
}
/// [`MasterReport::request_id`] of the cancels the kill switch sends.
pub const KILL_REQUEST: u64 = u64::MAX;

/// Cancel a master order (24 bytes): a pending master is dropped; a working one has every
/// working child cancelled at its LP, and ends once they are all done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
#[repr(C)]
pub struct MasterCancel {
    /// Event time (ns).
    pub ts_ns: u64,
    /// The order to cancel (the manager's OrigClOrdID).
    pub order_id: u64,
    /// The cancel request's own id (the manager's ClOrdID).
    pub cancel_id: u64,
}

/// [`MasterAmend::flags`]: `lots` replaces the pending master's size.
pub const AMEND_LOTS: u8 = 1;
/// [`MasterAmend::flags`]: `price` replaces the pending master's trigger price.
pub const AMEND_PRICE: u8 = 2;
/// [`MasterAmend::flags`]: `stop_loss` replaces the stop-loss (zero removes it).
pub const AMEND_SL: u8 = 4;
/// [`MasterAmend::flags`]: `take_profit` replaces the take-profit (zero removes it).
pub const AMEND_TP: u8 = 8;

/// Replace parts of a master order (64 bytes). `amend_id == 0` marks the stop-loss and
/// take-profit that came with the order itself (reported as a restatement, not a replace).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
#[repr(C)]
pub struct MasterAmend {
    /// Event time (ns).
    pub ts_ns: u64,
    /// The order (for SL/TP: the ticket's opening order id, which is the ticket).
    pub order_id: u64,
    /// The replace request's own id (the manager's ClOrdID), 0 for an order's own SL/TP.
    pub amend_id: u64,
    /// New size of a pending master ([`AMEND_LOTS`]).
    pub lots: Lots,
    /// New trigger price of a pending master ([`AMEND_PRICE`]).
    pub price: Price,
    /// Stop-loss price ([`AMEND_SL`]; zero: none).
    pub stop_loss: Price,
    /// Take-profit price ([`AMEND_TP`]; zero: none).
    pub take_profit: Price,
    /// `AMEND_*` bits.
    pub flags: u8,
    /// Routing of the close a stop-loss or take-profit sends: 0 block, 1 per account.
    pub mode: u8,
    /// Reserved, zero.
    pub _pad: [u8; 6],
}

/// [`MasterReport::exec_type`] values (FIX ExecType 150, plus one for 35=9).
pub mod exec {
    /// New: accepted (a pending master is held; a market one has its children out).
    pub const NEW: u8 = b'0';
    /// Done for day: every child ended and less than the order's size filled (steps no
    /// account could take, or children the LP cancelled or rejected).
    pub const DONE_FOR_DAY: u8 = b'3';
    /// Canceled at the manager's request (or by the kill switch).
    pub const CANCELED: u8 = b'4';
    /// Replaced.
    pub const REPLACED: u8 = b'5';
    /// Pending cancel: cancel requests are out to the LPs.
    pub const PENDING_CANCEL: u8 = b'6';
    /// Rejected by the engine (reason in [`MasterReport::reason`](super::MasterReport::reason)).
    pub const REJECTED: u8 = b'8';
    /// Restated: the order's own stop-loss or take-profit was refused or changed.
    pub const RESTATED: u8 = b'D';
    /// Trade: a fill (partial or complete).
    pub const TRADE: u8 = b'F';
    /// Triggered: a pending master reached its price; its children are out.
    pub const TRIGGERED: u8 = b'L';
    /// Not an ExecutionReport: an OrderCancelReject (35=9) for `request_id`.
    pub const CANCEL_REJECT: u8 = b'9';
    /// Not an ExecutionReport: the answer to a manager's deposit, withdrawal or account change
    /// (MamAccountAck, 35=UB): `order_id` is its request id, `request_id` the account index,
    /// `ord_status` [`NEW`] if applied or [`REJECTED`] with `reason`.
    pub const ACCOUNT_ANSWER: u8 = b'a';
}

/// [`MasterReport::flags`]: the order closes a ticket (PositionEffect C).
pub const REPORT_CLOSING: u8 = 1;
/// [`MasterReport::flags`]: a 35=9 answers a replace (CxlRejResponseTo 2), not a cancel.
pub const REPORT_TO_REPLACE: u8 = 2;

/// What the manager hears about one of its orders (128 bytes): one ExecutionReport, or an
/// OrderCancelReject when `exec_type == exec::CANCEL_REJECT`. Quantities are aggregated
/// exactly from the children; `avg_px` is Σ qty × px / Σ qty rounded half-even to 8 decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
#[repr(C)]
pub struct MasterReport {
    /// Event time of the input that caused it.
    pub ts_ns: u64,
    /// Journal sequence of that input.
    pub input_seq: u64,
    /// The manager's order id (ClOrdID; `ticket | ORDER_ID_SL/TP` for the engine's SL/TP close).
    pub order_id: u64,
    /// Master ticket.
    pub ticket: u64,
    /// The cancel or replace request answered (its ClOrdID), 0 if none.
    pub request_id: u64,
    /// The order's size in base units.
    pub order_qty: Qty,
    /// Filled so far.
    pub cum_qty: Qty,
    /// Still working at the LPs (0 once done).
    pub leaves_qty: Qty,
    /// This fill's quantity (trades only).
    pub last_qty: Qty,
    /// This fill's price (trades only).
    pub last_px: Price,
    /// Average fill price (0 before the first fill).
    pub avg_px: Price,
    /// Limit or stop price (0: market).
    pub price: Price,
    /// Stop-loss in force (0: none).
    pub stop_loss: Price,
    /// Take-profit in force (0: none).
    pub take_profit: Price,
    /// Instrument id.
    pub instrument: u32,
    /// A [`RefusedCode`](super::super::decision::RefusedCode) for rejects, 0 otherwise.
    pub reason: u16,
    /// An [`exec`] value.
    pub exec_type: u8,
    /// FIX OrdStatus (39) after this report.
    pub ord_status: u8,
    /// [`Side`](crate::event::Side) as `u8`.
    pub side: u8,
    /// [`OrdType`](crate::event::OrdType) as `u8`.
    pub ord_type: u8,
    /// `REPORT_*` bits.
    pub flags: u8,
    /// Reserved, zero.
    pub _pad: [u8; 5],
}

/// [`Trigger::what`]: a pending limit master.
pub const TRIGGER_LIMIT: u8 = 1;
/// [`Trigger::what`]: a pending stop master.
pub const TRIGGER_STOP: u8 = 2;
/// [`Trigger::what`]: a stop-loss.
pub const TRIGGER_SL: u8 = 3;
/// [`Trigger::what`]: a take-profit.
pub const TRIGGER_TP: u8 = 4;

/// A price level reached by the journaled quote `input_seq` (56 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
#[repr(C)]
pub struct Trigger {
    /// The quote's source time (ns).
    pub ts_ns: u64,
    /// Journal sequence of the quote.
    pub input_seq: u64,
    /// Master ticket.
    pub ticket: u64,
    /// The quote's bid.
    pub bid: Price,
    /// The quote's ask.
    pub ask: Price,
    /// The level that was reached.
    pub level: Price,
    /// Instrument id.
    pub instrument: u32,
    /// `TRIGGER_*`.
    pub what: u8,
    /// Side of the master (a stop-loss of a buy ticket sells).
    pub side: u8,
    /// Reserved, zero.
    pub _pad: [u8; 2],
}

/// Short name of a `TRIGGER_*` value.
pub fn trigger_name(what: u8) -> &'static str {
    match what {
        TRIGGER_LIMIT => "pending limit",
        TRIGGER_STOP => "pending stop",
        TRIGGER_SL => "stop-loss",
        TRIGGER_TP => "take-profit",
        _ => "?",
    }
}

const _: () = assert!(core::mem::size_of::<MasterCancel>() == 24);
const _: () = assert!(core::mem::size_of::<MasterAmend>() == 64);
const _: () = assert!(core::mem::size_of::<MasterReport>() == 128);
const _: () = assert!(core::mem::size_of::<Trigger>() == 56);
