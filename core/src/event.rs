//! The engine's normalized inputs and outputs: plain `#[repr(C)]` Pod records that cross the
//! stage rings and the journal without pointers or allocation.
//!
//! `feed` turns every wire format into [`MarketEvent`]s; `gateway` turns [`ChildOrder`]s into
//! FIX or binary orders and execution reports into [`FillEvent`]s. Timestamps are nanoseconds
//! stamped at the edge (time never enters the engine any other way).

use bytemuck::{Pod, Zeroable};

use crate::num::{Price, Qty};

/// What a [`MarketEvent`] says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum MarketEventKind {
    /// Best bid and offer: `bid`, `ask`, `bid_size`, `ask_size`.
    Quote = 1,
    /// A trade: `price` in `bid`, size in `bid_size`.
    Trade = 2,
    /// One depth level (`level`, 0 = best): bid and ask at that level.
    Depth = 3,
    /// Trading status changed (`flags` carries the status code of the source).
    Status = 4,
    /// Source is alive, nothing else.
    Heartbeat = 5,
    /// The source reported or we detected a sequence gap (`seq` = first missing).
    Gap = 6,
}

impl MarketEventKind {
    /// From the byte stored in a [`MarketEvent`].
    pub fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => Self::Quote,
            2 => Self::Trade,
            3 => Self::Depth,
            4 => Self::Status,
            5 => Self::Heartbeat,
            6 => Self::Gap,
            _ => return None,
        })
    }
}

/// A normalized market-data event: 64 bytes, one cache line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
#[repr(C)]
pub struct MarketEvent {
    /// When mam received it (ns, monotonic clock of the receiving host; 0 when read from a file).
    pub recv_ns: u64,
    /// When the source sent or stamped it (ns since the Unix epoch).
    pub source_ns: u64,
    /// Source sequence number (packet or message, as the protocol numbers them).
    pub seq: u64,
    /// Instrument id (index in the [`crate::symbol::SymbolTable`] or the feed's own table).
    pub instrument: u32,
    /// Source id (LP, venue or feed A/B line).
    pub source: u16,
    /// A [`MarketEventKind`] as `u8`.
    pub kind: u8,
    /// Depth level for [`MarketEventKind::Depth`], status code for `Status`.
    pub level: u8,
    /// Bid price (trade price for trades).
    pub bid: Price,
    /// Ask price.
    pub ask: Price,
    /// Bid size (trade size for trades).
    pub bid_size: Qty,
    /// Ask size.
    pub ask_size: Qty,
}

const _: () = assert!(core::mem::size_of::<MarketEvent>() == 64);

/// Buy or sell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Side {
    /// Buy.
    Buy = 1,
    /// Sell.
    Sell = 2,
}

impl Side {
    /// From the byte stored in records (FIX tag 54 uses the same values '1'/'2').
    pub fn from_u8(v: u8) -> Option<Self> {
        match v {
            1 => Some(Side::Buy),
            2 => Some(Side::Sell),
            _ => None,
        }
    }
    /// The other side.
    pub fn opposite(self) -> Self {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        }
    }
}

/// Order type of a [`ChildOrder`] (values as FIX tag 40).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum OrdType {
    /// Market.
    Market = 1,
    /// Limit at `price`.
    Limit = 2,
    /// Stop at `price` (a manager's pending master; the engine holds it, children never carry
    /// it).
    Stop = 3,
}

/// [`ChildOrder::ord_type`] of a cancel request: the LP gateway asks the LP to cancel the
/// working order `cl_ord_id` (FIX OrderCancelRequest, 35=F). The request carries that order's
/// instrument, side, quantity and route (35=F repeats them); it is not a new order.
pub const ORD_TYPE_CANCEL: u8 = b'F';

/// [`ChildOrder::ord_type`] of an allocation line: how a finished block order `cl_ord_id` was
/// split — `qty` to `account` at the block's average `price` — for the LP's or prime broker's
/// back office (FIX AllocationInstruction, 35=J). A block's lines come together, one per
/// account that received quantity, then one with `account == u32::MAX` and the block's filled
/// quantity that ends the group. Not an order: nothing fills it.
pub const ORD_TYPE_ALLOC: u8 = b'J';

/// An order the engine wants on the wire: a per-account child or a block for one LP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
#[repr(C)]
pub struct ChildOrder {
    /// Engine timestamp copied from the input that caused it (ns).
    pub ts_ns: u64,
    /// Client order id; derived from the journal sequence, so unique across restarts.
    pub cl_ord_id: u64,
    /// Master ticket this order belongs to.
    pub master_ticket: u64,
    /// Sub-account index in the account store (`u32::MAX` for a block order).
    pub account: u32,
    /// Instrument id.
    pub instrument: u32,
    /// Quantity in base units.
    pub qty: Qty,
    /// Limit price (zero for market orders).
    pub price: Price,
    /// [`Side`] as `u8`.
    pub side: u8,
    /// [`OrdType`] as `u8`.
    pub ord_type: u8,
    /// LP / route id.
    pub route: u16,
    /// Reserved, zero.
    pub _pad: [u8; 4],
}

/// Status of an execution, as the LP reported it (values follow FIX OrdStatus 39).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExecStatus {
    /// Acknowledged, nothing filled.
    New = b'0',
    /// Partly filled.
    PartiallyFilled = b'1',
    /// Completely filled.
    Filled = b'2',
    /// Cancelled.
    Canceled = b'4',
    /// Rejected.
    Rejected = b'8',
}

/// An execution report reduced to what the engine needs: one fill increment or a status change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
#[repr(C)]
pub struct FillEvent {
    /// When the gateway received it (ns).
    pub recv_ns: u64,
    /// The order it belongs to.
    pub cl_ord_id: u64,
    /// LP's execution id, hashed to 64 bits when the LP's is text.
    pub exec_id: u64,
    /// Quantity filled by this report (zero for pure status changes).
    pub last_qty: Qty,
    /// Price of this fill.
    pub last_px: Price,
    /// Total filled so far.
    pub cum_qty: Qty,
    /// Still open.
    pub leaves_qty: Qty,
    /// [`ExecStatus`] as `u8`.
    pub status: u8,
    /// Reserved, zero.
    pub _pad: [u8; 7],
}
