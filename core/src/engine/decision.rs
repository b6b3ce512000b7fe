//! The engine's decisions: journaled right after the input that caused them, before any order
//! leaves the engine, so a journal dump shows what was done and why, and recovery can check a
//! replay against them record by record.
//!
//! | kind | record |
//! |---|---|
//! | 32 | [`ChildOrder`] emitted (per-account child, or block with `account = u32::MAX`) |
//! | 33 | [`RiskRejectRecord`]: an order refused by pre-trade risk, with its reason code |
//! | 34 | [`AllocSummary`]: what an open or close allocated |
//! | 35 | [`FillAlloc`]: what one block fill increment allocated |
//! | 36 | [`Refused`]: an input the engine could not apply, with the reason |
//! | 37 | [`LimitEvent`]: a margin call, stop-out or loss limit crossed or lifted |
//! | 38 | [`AdaptiveTicket`]: the shared factors of an adaptive allocation |
//! | 39 | [`AdaptiveAccount`]: one account's factors, scale and size |
//! | 40 | [`AdaptiveSwitch`]: the adaptive layer switched on or off |
//! | 41 | [`MasterReport`]: an ExecutionReport or OrderCancelReject for the manager |
//! | 42 | a cancel request: [`ChildOrder`] with [`ORD_TYPE_CANCEL`](crate::event::ORD_TYPE_CANCEL) |
//! | 43 | [`Trigger`]: a pending master, stop-loss or take-profit reached by a quote |
//! | 44 | a finished block's total allocation line: [`ChildOrder`] with [`ORD_TYPE_ALLOC`](crate::event::ORD_TYPE_ALLOC) and `account = u32::MAX` (the per-account lines before it are not journaled: [`Decision::is_journaled`]) |
//!
//! Kind 7 is an [`Origin`](super::origin::Origin) record (where the next input came from).

use bytemuck::{Pod, Zeroable};

pub use crate::adaptive::record::{
    KIND_ADAPTIVE_ACCOUNT, KIND_ADAPTIVE_SWITCH, KIND_ADAPTIVE_TICKET,
};
use crate::adaptive::{AdaptiveAccount, AdaptiveSwitch, AdaptiveTicket};
use crate::event::ChildOrder;
use crate::num::{Price, Qty};
use crate::risk::RiskRejectRecord;

pub use super::lifecycle::record::{
    exec, trigger_name, MasterReport, Trigger, KIND_ALLOCATION, KIND_CANCEL_REQUEST,
    KIND_MASTER_REPORT, KIND_TRIGGER,
};
pub use super::limits::{event as limit_event, LimitEvent, KIND_LIMIT, LIMIT_TICKET};

/// Journal kind of an emitted [`ChildOrder`].
pub const KIND_ORDER: u16 = 32;
/// Journal kind of a [`RiskRejectRecord`].
pub const KIND_REJECT: u16 = 33;
/// Journal kind of an [`AllocSummary`].
pub const KIND_ALLOC: u16 = 34;
/// Journal kind of a [`FillAlloc`].
pub const KIND_FILL_ALLOC: u16 = 35;
/// Journal kind of a [`Refused`].
pub const KIND_REFUSED: u16 = 36;

/// [`AllocSummary::action`]: an open.
pub const ACTION_OPEN: u8 = 1;
/// [`AllocSummary::action`]: a close.
pub const ACTION_CLOSE: u8 = 2;
/// [`AllocSummary::action`]: a rebalance after a deposit or withdrawal (`engine::rebalance`):
/// `requested` and `allocated` are the steps the accounts in the weights held, `accounts` the
/// delta orders.
pub const ACTION_REBALANCE: u8 = 3;

/// What one open or close allocated, in lot steps (104 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
#[repr(C)]
pub struct AllocSummary {
    /// Event time of the input.
    pub ts_ns: u64,
    /// Journal sequence of the input.
    pub input_seq: u64,
    /// Master ticket.
    pub ticket: u64,
    /// Master steps opened or closed.
    pub requested: u64,
    /// Σ of the accounts' steps.
    pub allocated: u64,
    /// Open: `demand − allocated` (see [`Allocation`](crate::alloc::model::Allocation)).
    /// Close: steps left as residuals under the min lot.
    pub unallocated: i64,
    /// Leftover steps dealt by largest remainder.
    pub dealt: u64,
    /// Rotation cursor after this allocation.
    pub rotation: u64,
    /// Close: steps closed whole beyond the proportional share.
    pub extra_closed: u64,
    /// Steps whose orders pre-trade risk refused (they stay unopened or open).
    pub rejected_steps: u64,
    /// Accounts with a non-zero share.
    pub accounts: u32,
    /// Orders emitted.
    pub orders: u32,
    /// Orders refused by risk.
    pub rejected: u32,
    /// Close: accounts left with a residual under the min lot.
    pub residual_accounts: u32,
    /// [`ACTION_OPEN`] or [`ACTION_CLOSE`].
    pub action: u8,
    /// Routing mode (0 block, 1 per account).
    pub mode: u8,
    /// Open: the model code.
    pub model: u8,
    /// Bit 0: percent model oversubscribed; bit 1: the ticket is now flat.
    pub flags: u8,
    /// Reserved, zero.
    pub _pad: [u8; 4],
}

/// [`AllocSummary::flags`]: the percents summed past 100 %.
pub const FLAG_OVERSUBSCRIBED: u8 = 1;
/// [`AllocSummary::flags`]: the ticket is closed and every account holds exactly zero.
pub const FLAG_FLAT: u8 = 2;

/// What one block fill increment allocated (72 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
#[repr(C)]
pub struct FillAlloc {
    /// Event time of the fill.
    pub ts_ns: u64,
    /// Journal sequence of the fill input.
    pub input_seq: u64,
    /// The block order.
    pub cl_ord_id: u64,
    /// Master ticket.
    pub ticket: u64,
    /// Quantity of this fill.
    pub last_qty: Qty,
    /// Price of this fill.
    pub last_px: Price,
    /// Whole lot steps allocated by this increment.
    pub steps: u64,
    /// Sub-step quantity waiting for later fills.
    pub pending: Qty,
    /// Leftover steps dealt by largest remainder.
    pub dealt: u64,
    /// Accounts that received steps.
    pub accounts: u32,
    /// 1 when the block is complete.
    pub complete: u8,
    /// Reserved, zero.
    pub _pad: [u8; 3],
}

/// Why an input could not be applied (stable codes, journaled).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum RefusedCode {
    /// The master ticket is unknown (or already closed).
    UnknownTicket = 1,
    /// A scale-in names another instrument or side than the ticket.
    TicketMismatch = 2,
    /// Instrument id not in the symbol table.
    UnknownInstrument = 3,
    /// The allocation refused the request (bad size, model parameters, infeasible block).
    BadRequest = 4,
    /// A close larger than the master's open size.
    CloseTooLarge = 5,
    /// Account index out of range.
    UnknownAccount = 6,
    /// A withdrawal would make the balance negative.
    NegativeBalance = 7,
    /// A fill for an order the engine does not have open.
    UnknownOrder = 8,
    /// A fill beyond the order's quantity.
    Overfill = 9,
    /// A fill with a non-positive quantity or price.
    BadFill = 10,
    /// Unknown side, mode, model, policy or risk action.
    BadField = 11,
    /// Arithmetic overflow.
    Overflow = 12,
    /// Nothing to do: every account's share is zero.
    NothingAllocated = 13,
    /// A quote with a bid or ask not positive, or a bid above the ask.
    BadQuote = 14,
    /// A withdrawal larger than the account's free margin.
    InsufficientFreeMargin = 15,
    /// Every child of the order is filled or done: nothing left to cancel.
    TooLateToCancel = 16,
    /// A cancel of this order is already being worked.
    AlreadyPendingCancel = 17,
    /// A stop-loss or take-profit on the wrong side of the market (or of the trigger price).
    BadStopLevel = 18,
    /// Size or price of a master whose children are at the LPs: cancel it and send anew.
    ReplaceWorking = 19,
    /// Pre-trade risk refused every child of the order.
    RiskRejected = 20,
    /// The kill switch is engaged: the engine is close-only.
    KillSwitch = 21,
    /// The order id (ticket) is already in use.
    DuplicateOrder = 22,
    /// No such master order (never seen, or already done).
    UnknownMasterOrder = 23,
    /// An account setting out of its range (the reference names the field).
    BadAccountValue = 24,
    /// An account with this id exists (the reference is its index).
    DuplicateAccount = 25,
}

impl RefusedCode {
    /// Every code, in order.
    pub const ALL: [RefusedCode; 25] = [
        Self::UnknownTicket,
        Self::TicketMismatch,
        Self::UnknownInstrument,
        Self::BadRequest,
        Self::CloseTooLarge,
        Self::UnknownAccount,
        Self::NegativeBalance,
        Self::UnknownOrder,
        Self::Overfill,
        Self::BadFill,
        Self::BadField,
        Self::Overflow,
        Self::NothingAllocated,
        Self::BadQuote,
        Self::InsufficientFreeMargin,
        Self::TooLateToCancel,
        Self::AlreadyPendingCancel,
        Self::BadStopLevel,
        Self::ReplaceWorking,
        Self::RiskRejected,
        Self::KillSwitch,
        Self::DuplicateOrder,
        Self::UnknownMasterOrder,
        Self::BadAccountValue,
        Self::DuplicateAccount,
    ];

    /// From a journaled code.
    pub fn from_code(c: u16) -> Option<Self> {
        Self::ALL.iter().copied().find(|r| *r as u16 == c)
    }

    /// Short stable text.
    pub fn text(self) -> &'static str {
        match self {
            Self::UnknownTicket => "unknown ticket",
            Self::TicketMismatch => "instrument or side differs from the ticket",
            Self::UnknownInstrument => "unknown instrument",
            Self::BadRequest => "allocation refused the request",
            Self::CloseTooLarge => "close larger than the open master",
            Self::UnknownAccount => "unknown account",
            Self::NegativeBalance => "withdrawal exceeds the balance",
            Self::UnknownOrder => "fill for an order not open",
            Self::Overfill => "fill beyond the order quantity",
            Self::BadFill => "fill quantity or price not positive",
            Self::BadField => "unknown side, mode, model, policy or action",
            Self::Overflow => "arithmetic overflow",
            Self::NothingAllocated => "every account's share is zero",
            Self::BadQuote => "quote with a bid or ask not positive, or bid above ask",
            Self::InsufficientFreeMargin => "withdrawal exceeds the free margin",
            Self::TooLateToCancel => "too late to cancel: nothing of the order is working",
            Self::AlreadyPendingCancel => "a cancel of the order is already pending",
            Self::BadStopLevel => "stop-loss or take-profit on the wrong side of the market",
            Self::ReplaceWorking => {
                "size or price of a working master cannot be replaced: cancel and send anew"
            }
            Self::RiskRejected => "pre-trade risk refused every child",
            Self::KillSwitch => "kill switch engaged: close-only",
            Self::DuplicateOrder => "order id already in use",
            Self::UnknownMasterOrder => "unknown order",
            Self::BadAccountValue => "account setting out of range",
            Self::DuplicateAccount => "an account with this id exists",
        }
    }
}

/// An input the engine did not apply (32 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
#[repr(C)]
pub struct Refused {
    /// Event time of the input.
    pub ts_ns: u64,
    /// Journal sequence of the input.
    pub input_seq: u64,
    /// What it referred to: ticket, ClOrdID or account index.
    pub reference: u64,
    /// [`RefusedCode`] as `u16`.
    pub code: u16,
    /// Journal kind of the input.
    pub input_kind: u16,
    /// Reserved, zero.
    pub _pad: u32,
}

/// One decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// An order to send.
    Order(ChildOrder),
    /// An order pre-trade risk refused.
    Reject(RiskRejectRecord),
    /// What an open or close allocated.
    Alloc(AllocSummary),
    /// What a block fill increment allocated.
    FillAlloc(FillAlloc),
    /// An input not applied.
    Refused(Refused),
    /// A limit crossed or lifted.
    Limit(LimitEvent),
    /// The shared factors of an adaptive allocation.
    AdaptiveTicket(AdaptiveTicket),
    /// One account's adaptive factors and size.
    AdaptiveAccount(AdaptiveAccount),
    /// The adaptive layer switched on or off.
    AdaptiveSwitch(AdaptiveSwitch),
    /// A report for the manager.
    Report(MasterReport),
    /// A cancel request for a working child (`ord_type == ORD_TYPE_CANCEL`).
    Cancel(ChildOrder),
    /// A level reached by a quote.
    Trigger(Trigger),
    /// One line of a finished block's allocation (`ord_type == ORD_TYPE_ALLOC`).
    Allocation(ChildOrder),
}

impl Decision {
    /// Whether the decision is journaled. Every decision is but a finished block's per-account
    /// allocation lines: they are a function of the journaled fills (the block's per-account
    /// steps, kind 35, at the average price of its fills), so replay recomputes them bit for
    /// bit, and journaling them wrote one record per account for every block (1,001 records
    /// per block at 1,000 accounts: the engine fell behind 1,000 masters/s, issue #12). The
    /// block's total line (`account == u32::MAX`) is journaled: it marks where the group was.
    pub fn is_journaled(&self) -> bool {
        !matches!(self, Decision::Allocation(l) if l.account != u32::MAX)
    }

    /// The journal kind.
    pub fn kind(&self) -> u16 {
        match self {
            Decision::Order(_) => KIND_ORDER,
            Decision::Reject(_) => KIND_REJECT,
            Decision::Alloc(_) => KIND_ALLOC,
            Decision::FillAlloc(_) => KIND_FILL_ALLOC,
            Decision::Refused(_) => KIND_REFUSED,
            Decision::Limit(_) => KIND_LIMIT,
            Decision::AdaptiveTicket(_) => KIND_ADAPTIVE_TICKET,
            Decision::AdaptiveAccount(_) => KIND_ADAPTIVE_ACCOUNT,
            Decision::AdaptiveSwitch(_) => KIND_ADAPTIVE_SWITCH,
            Decision::Report(_) => KIND_MASTER_REPORT,
            Decision::Cancel(_) => KIND_CANCEL_REQUEST,
            Decision::Trigger(_) => KIND_TRIGGER,
            Decision::Allocation(_) => KIND_ALLOCATION,
        }
    }

    /// The journaled payload.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Decision::Order(r) => bytemuck::bytes_of(r),
            Decision::Reject(r) => bytemuck::bytes_of(r),
            Decision::Alloc(r) => bytemuck::bytes_of(r),
            Decision::FillAlloc(r) => bytemuck::bytes_of(r),
            Decision::Refused(r) => bytemuck::bytes_of(r),
            Decision::Limit(r) => bytemuck::bytes_of(r),
            Decision::AdaptiveTicket(r) => bytemuck::bytes_of(r),
            Decision::AdaptiveAccount(r) => bytemuck::bytes_of(r),
            Decision::AdaptiveSwitch(r) => bytemuck::bytes_of(r),
            Decision::Report(r) => bytemuck::bytes_of(r),
            Decision::Cancel(r) => bytemuck::bytes_of(r),
            Decision::Trigger(r) => bytemuck::bytes_of(r),
            Decision::Allocation(r) => bytemuck::bytes_of(r),
        }
    }

    /// Decodes a journaled decision; `None` for other kinds or a wrong length.
    pub fn decode(kind: u16, p: &[u8]) -> Option<Decision> {
        fn pod<T: Pod>(p: &[u8]) -> Option<T> {
            (p.len() == core::mem::size_of::<T>()).then(|| bytemuck::pod_read_unaligned(p))
        }
        Some(match kind {
            KIND_ORDER => Decision::Order(pod(p)?),
            KIND_REJECT => Decision::Reject(pod(p)?),
            KIND_ALLOC => Decision::Alloc(pod(p)?),
            KIND_FILL_ALLOC => Decision::FillAlloc(pod(p)?),
            KIND_REFUSED => Decision::Refused(pod(p)?),
            KIND_LIMIT => Decision::Limit(pod(p)?),
            KIND_ADAPTIVE_TICKET => Decision::AdaptiveTicket(pod(p)?),
            KIND_ADAPTIVE_ACCOUNT => Decision::AdaptiveAccount(pod(p)?),
            KIND_ADAPTIVE_SWITCH => Decision::AdaptiveSwitch(pod(p)?),
            KIND_MASTER_REPORT => Decision::Report(pod(p)?),
            KIND_CANCEL_REQUEST => Decision::Cancel(pod(p)?),
            KIND_TRIGGER => Decision::Trigger(pod(p)?),
            KIND_ALLOCATION => Decision::Allocation(pod(p)?),
            _ => return None,
        })
    }
}

/// The name of an engine journal kind (inputs and decisions), for dumps (`mam journal dump`,
/// the demo's summary).
pub fn kind_name(kind: u16) -> Option<&'static str> {
    use super::input::*;
    Some(match kind {
        KIND_MASTER_OPEN => "master_open",
        KIND_MASTER_CLOSE => "master_close",
        KIND_BALANCE => "balance",
        KIND_FILL => "fill",
        KIND_MARKET => "market",
        KIND_RISK_COMMAND => "risk_command",
        super::origin::KIND_ORIGIN => "origin",
        super::model_mark::KIND_MODEL_MARK => "model_mark",
        KIND_ORDER => "order",
        KIND_REJECT => "risk_reject",
        KIND_ALLOC => "alloc",
        KIND_FILL_ALLOC => "fill_alloc",
        KIND_REFUSED => "refused",
        KIND_LIMIT => "limit",
        KIND_ADAPTIVE_TICKET => "adaptive",
        KIND_ADAPTIVE_ACCOUNT => "adaptive_account",
        KIND_ADAPTIVE_SWITCH => "adaptive_switch",
        KIND_MASTER_CANCEL => "master_cancel",
        KIND_MASTER_AMEND => "master_amend",
        super::account_change::KIND_ACCOUNT_CHANGE => "account_change",
        super::account_add::KIND_ACCOUNT_ADD => "account_add",
        super::risk_change::KIND_RISK_LIMIT_CHANGE => "risk_limit_change",
        KIND_MASTER_REPORT => "report",
        KIND_CANCEL_REQUEST => "cancel_request",
        KIND_TRIGGER => "trigger",
        KIND_ALLOCATION => "allocation",
        _ => return None,
    })
}

#[path = "describe.rs"]
mod describe;
pub use describe::describe;
