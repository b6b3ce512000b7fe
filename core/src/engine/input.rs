//! The engine's inputs: one Pod record per kind, journaled under that kind before anything
//! they cause becomes visible.
//!
//! | kind | record | effect |
//! |---|---|---|
//! | 1 | [`MasterOpen`] | allocate a master trade, emit child or block orders |
//! | 2 | [`MasterClose`] | close part or all of a master ticket, emit opposite orders |
//! | 3 | [`BalanceChange`] | deposit or withdrawal: balance and equity (weights of later orders) |
//! | 4 | [`FillEvent`] | an execution of a child or block order |
//! | 5 | [`MarketEvent`] | reference prices for the risk collar |
//! | 6 | [`RiskCommand`] | kill switch on / off |
//! | 8 | [`MasterCancel`] | cancel a working or pending master order |
//! | 9 | [`MasterAmend`] | replace a pending master; set, move or remove stop-loss / take-profit |
//! | 10 | [`AccountChange`] | an operator changes one account's status, model parameter or limit |
//! | 11 | [`RiskLimitChange`] | an operator changes one engine-wide pre-trade risk limit |
//! | 12 | [`AccountAdd`] | an operator adds an account (inactive, import defaults) |

use bytemuck::{Pod, Zeroable};

pub use super::account_add::{AccountAdd, KIND_ACCOUNT_ADD};
pub use super::account_change::{AccountChange, KIND_ACCOUNT_CHANGE};
pub use super::lifecycle::record::{
    manager_of_order, scoped_order_id, MasterAmend, MasterCancel, KIND_MASTER_AMEND,
    KIND_MASTER_CANCEL, MAX_CL_ORD_ID, ORDER_ID_MANAGER_SHIFT, POLICY_HELD_LIMIT, POLICY_HELD_STOP,
};
pub use super::risk_change::{RiskLimitChange, KIND_RISK_LIMIT_CHANGE};
use crate::event::{FillEvent, MarketEvent};
use crate::num::{Lots, Money, Price};

/// Journal kind of [`MasterOpen`].
pub const KIND_MASTER_OPEN: u16 = 1;
/// Journal kind of [`MasterClose`].
pub const KIND_MASTER_CLOSE: u16 = 2;
/// Journal kind of [`BalanceChange`].
pub const KIND_BALANCE: u16 = 3;
/// Journal kind of a [`FillEvent`] input.
pub const KIND_FILL: u16 = 4;
/// Journal kind of a [`MarketEvent`] input.
pub const KIND_MARKET: u16 = 5;
/// Journal kind of [`RiskCommand`].
pub const KIND_RISK_COMMAND: u16 = 6;

/// True for the journal kinds that are engine inputs (as opposed to decisions).
pub fn is_input_kind(kind: u16) -> bool {
    (KIND_MASTER_OPEN..=KIND_RISK_COMMAND).contains(&kind)
        || kind == KIND_MASTER_CANCEL
        || kind == KIND_MASTER_AMEND
        || kind == KIND_ACCOUNT_CHANGE
        || kind == KIND_RISK_LIMIT_CHANGE
        || kind == KIND_ACCOUNT_ADD
}

/// Static model codes of [`MasterOpen::model`].
pub mod model_code {
    /// Equity proportion.
    pub const EQUITY: u8 = 1;
    /// Balance proportion.
    pub const BALANCE: u8 = 2;
    /// Free-margin proportion.
    pub const FREE_MARGIN: u8 = 3;
    /// Percent of the master.
    pub const PERCENT: u8 = 4;
    /// Lot multiplier.
    pub const MULTIPLIER: u8 = 5;
    /// Fixed lots.
    pub const FIXED: u8 = 6;
    /// Fixed risk at the stop-loss (needs `sl_distance`, `quote_to_account`).
    pub const RISK: u8 = 7;
    /// Lot ratio × balance / reference (needs `reference`).
    pub const BALANCE_RATIO: u8 = 8;
    /// Lot ratio × equity / reference (needs `reference`).
    pub const EQUITY_RATIO: u8 = 9;
}

/// [`MasterOpen::mode`]: one block order whose fills are allocated back.
pub const MODE_BLOCK: u8 = 0;
/// [`MasterOpen::mode`]: one child order per account.
pub const MODE_PER_ACCOUNT: u8 = 1;

/// A manager opens (or scales into) a master trade (64 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
#[repr(C)]
pub struct MasterOpen {
    /// Event time, stamped at the edge (ns).
    pub ts_ns: u64,
    /// Master ticket id (a second open of the same ticket scales in).
    pub ticket: u64,
    /// Master size in lots (a multiple of the symbol's lot step).
    pub lots: Lots,
    /// Limit price of the children; zero sends market orders.
    pub limit_price: Price,
    /// Stop-loss distance for the risk model.
    pub sl_distance: Price,
    /// Quote-to-account-currency rate for the risk model (zero means 1).
    pub quote_to_account: Price,
    /// The master account's balance or equity for the ratio models.
    pub reference: Money,
    /// Instrument id in the engine's symbol table.
    pub instrument: u32,
    /// A [`model_code`].
    pub model: u8,
    /// [`Side`](crate::event::Side) as `u8`.
    pub side: u8,
    /// Min-lot policy: 0 zero, 1 round up; plus [`POLICY_ADAPTIVE`] to run the adaptive
    /// layer on the static quota.
    pub policy: u8,
    /// [`MODE_BLOCK`] or [`MODE_PER_ACCOUNT`].
    pub mode: u8,
}

/// [`MasterOpen::policy`] bit: scale each account's static quota by the adaptive layer.
pub const POLICY_ADAPTIVE: u8 = 0x80;

/// [`MasterClose::full`]: close everything still open.
pub const CLOSE_FULL: u8 = 1;

/// A manager closes part or all of a master ticket (40 bytes; journals written before
/// `order_id` hold 32 and decode with `order_id = 0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
#[repr(C)]
pub struct MasterClose {
    /// Event time (ns).
    pub ts_ns: u64,
    /// Master ticket id.
    pub ticket: u64,
    /// Lots of the master to close (ignored when `full` is set).
    pub lots: Lots,
    /// [`CLOSE_FULL`] or 0.
    pub full: u8,
    /// Residuals under the min lot: 0 leave them open, 1 close them whole.
    pub residual: u8,
    /// Order routing: 0 block, 1 per account.
    pub mode: u8,
    /// Reserved, zero.
    pub _pad: [u8; 5],
    /// The manager's order id (ClOrdID) the close is reported under; 0: the engine's own
    /// close, not reported.
    pub order_id: u64,
}

/// A deposit (positive) or withdrawal (negative) on one account (32 bytes; journals written
/// before `manager` and `request_id` hold 24 and decode as an operator's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
#[repr(C)]
pub struct BalanceChange {
    /// Event time (ns).
    pub ts_ns: u64,
    /// Signed amount.
    pub amount: Money,
    /// Account index.
    pub account: u32,
    /// Who asks: 0 an operator; `m + 1` manager `m`'s session, which may move the money of
    /// its own accounts only (another's is refused as unknown) and gets an answer.
    pub manager: u16,
    /// [`BALANCE_REBALANCE`] or 0.
    pub flags: u16,
    /// The manager's request id (MamAccountReqID), echoed in its answer; 0 from an operator.
    pub request_id: u64,
}

/// [`BalanceChange::flags`]: after the money moves, every open ticket of the account's manager
/// is re-split over that manager's accounts by the new equity weights, with delta orders
/// (docs/engine.md, "Rebalancing"); without it positions stay as they are.
pub const BALANCE_REBALANCE: u16 = 1;

/// [`RiskCommand::action`]: engage the kill switch.
pub const RISK_KILL: u32 = 1;
/// [`RiskCommand::action`]: release the kill switch.
pub const RISK_RESET: u32 = 2;

/// [`RiskCommand::action`]: switch the adaptive layer off (every master gets its static
/// allocation until it is switched on again).
pub const ADAPTIVE_OFF: u32 = 3;
/// [`RiskCommand::action`]: switch the adaptive layer back on.
pub const ADAPTIVE_ON: u32 = 4;
/// [`RiskCommand::action`]: engage the kill switch (as [`RISK_KILL`]) and close every
/// account's every position now, with one engine order per account and symbol.
pub const RISK_FLATTEN: u32 = 5;

/// An operator command to the risk book (16 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
#[repr(C)]
pub struct RiskCommand {
    /// Event time (ns).
    pub ts_ns: u64,
    /// [`RISK_KILL`], [`RISK_RESET`], [`RISK_FLATTEN`], [`ADAPTIVE_OFF`] or [`ADAPTIVE_ON`].
    pub action: u32,
    /// Reserved, zero.
    pub _pad: u32,
}

/// One engine input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// Open a master trade.
    Open(MasterOpen),
    /// Close a master trade.
    Close(MasterClose),
    /// Deposit or withdrawal.
    Balance(BalanceChange),
    /// An execution.
    Fill(FillEvent),
    /// Market data.
    Market(MarketEvent),
    /// Kill switch.
    Risk(RiskCommand),
    /// Cancel a master order.
    Cancel(MasterCancel),
    /// Amend a master order.
    Amend(MasterAmend),
    /// Change an account's setting.
    Account(AccountChange),
    /// Change a pre-trade risk limit.
    Limit(RiskLimitChange),
    /// Add an account.
    AddAccount(AccountAdd),
}

impl Input {
    /// The journal kind.
    pub fn kind(&self) -> u16 {
        match self {
            Input::Open(_) => KIND_MASTER_OPEN,
            Input::Close(_) => KIND_MASTER_CLOSE,
            Input::Balance(_) => KIND_BALANCE,
            Input::Fill(_) => KIND_FILL,
            Input::Market(_) => KIND_MARKET,
            Input::Risk(_) => KIND_RISK_COMMAND,
            Input::Cancel(_) => KIND_MASTER_CANCEL,
            Input::Amend(_) => KIND_MASTER_AMEND,
            Input::Account(_) => KIND_ACCOUNT_CHANGE,
            Input::Limit(_) => KIND_RISK_LIMIT_CHANGE,
            Input::AddAccount(_) => KIND_ACCOUNT_ADD,
        }
    }

    /// The journaled payload.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Input::Open(r) => bytemuck::bytes_of(r),
            Input::Close(r) => bytemuck::bytes_of(r),
            Input::Balance(r) => bytemuck::bytes_of(r),
            Input::Fill(r) => bytemuck::bytes_of(r),
            Input::Market(r) => bytemuck::bytes_of(r),
            Input::Risk(r) => bytemuck::bytes_of(r),
            Input::Cancel(r) => bytemuck::bytes_of(r),
            Input::Amend(r) => bytemuck::bytes_of(r),
            Input::Account(r) => bytemuck::bytes_of(r),
            Input::Limit(r) => bytemuck::bytes_of(r),
            Input::AddAccount(r) => bytemuck::bytes_of(r),
        }
    }

    /// Event time of the input (market data: the source's stamp; fills: the gateway's).
    pub fn ts_ns(&self) -> u64 {
        match self {
            Input::Open(r) => r.ts_ns,
            Input::Close(r) => r.ts_ns,
            Input::Balance(r) => r.ts_ns,
            Input::Fill(r) => r.recv_ns,
            Input::Market(r) => r.source_ns,
            Input::Risk(r) => r.ts_ns,
            Input::Cancel(r) => r.ts_ns,
            Input::Amend(r) => r.ts_ns,
            Input::Account(r) => r.ts_ns,
            Input::Limit(r) => r.ts_ns,
            Input::AddAccount(r) => r.ts_ns,
        }
    }

    /// Decodes a journaled input; `None` if `kind` is not an input kind or the payload has the
    /// wrong length.
    pub fn decode(kind: u16, payload: &[u8]) -> Option<Input> {
        fn pod<T: Pod>(p: &[u8]) -> Option<T> {
            (p.len() == core::mem::size_of::<T>()).then(|| bytemuck::pod_read_unaligned(p))
        }
        Some(match kind {
            KIND_MASTER_OPEN => Input::Open(pod(payload)?),
            KIND_MASTER_CLOSE if payload.len() == 32 => {
                // Written before `order_id`: the same fields, unreported.
                let mut b = [0u8; core::mem::size_of::<MasterClose>()];
                b[..32].copy_from_slice(payload);
                Input::Close(bytemuck::pod_read_unaligned(&b))
            }
            KIND_MASTER_CLOSE => Input::Close(pod(payload)?),
            KIND_BALANCE if payload.len() == 24 => {
                // Written before `manager` and `request_id`: an operator's.
                let mut b = [0u8; core::mem::size_of::<BalanceChange>()];
                b[..24].copy_from_slice(payload);
                Input::Balance(bytemuck::pod_read_unaligned(&b))
            }
            KIND_BALANCE => Input::Balance(pod(payload)?),
            KIND_FILL => Input::Fill(pod(payload)?),
            KIND_MARKET => Input::Market(pod(payload)?),
            KIND_RISK_COMMAND => Input::Risk(pod(payload)?),
            KIND_MASTER_CANCEL => Input::Cancel(pod(payload)?),
            KIND_MASTER_AMEND => Input::Amend(pod(payload)?),
            KIND_ACCOUNT_CHANGE if payload.len() == 24 => {
                // Written before `manager` and `request_id`: an operator's.
                let mut b = [0u8; core::mem::size_of::<AccountChange>()];
                b[..24].copy_from_slice(payload);
                Input::Account(bytemuck::pod_read_unaligned(&b))
            }
            KIND_ACCOUNT_CHANGE => Input::Account(pod(payload)?),
            KIND_RISK_LIMIT_CHANGE => Input::Limit(pod(payload)?),
            KIND_ACCOUNT_ADD => Input::AddAccount(pod(payload)?),
            _ => return None,
        })
    }

    /// As a fixed-size frame for a stage ring.
    pub fn to_frame(&self) -> InputFrame {
        let b = self.bytes();
        let mut f = InputFrame {
            kind: self.kind(),
            len: b.len() as u16,
            ..InputFrame::default()
        };
        f.payload[..b.len()].copy_from_slice(b);
        f
    }

    /// Back from a ring frame; `None` if the frame does not hold a valid input.
    pub fn from_frame(f: &InputFrame) -> Option<Input> {
        let len = usize::from(f.len);
        Input::decode(f.kind, f.payload.get(..len)?)
    }
}

/// Any [`Input`] as one fixed-size Pod message for a stage ring (72 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct InputFrame {
    /// Journal kind.
    pub kind: u16,
    /// Payload length.
    pub len: u16,
    /// Reserved, zero.
    pub _pad: u32,
    /// The input record, zero-padded.
    pub payload: [u8; 64],
}

impl Default for InputFrame {
    fn default() -> Self {
        Self::zeroed()
    }
}

const _: () = assert!(core::mem::size_of::<MasterOpen>() == 64);
const _: () = assert!(core::mem::size_of::<MasterClose>() == 40);
const _: () = assert!(core::mem::size_of::<FillEvent>() <= 64);
const _: () = assert!(core::mem::size_of::<MarketEvent>() <= 64);
