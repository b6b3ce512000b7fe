//! A manager's FIX messages → engine inputs: NewOrderSingle (35=D) → [`MasterOpen`] (plus a
//! [`MasterAmend`] for its stop-loss / take-profit) or [`MasterClose`], OrderCancelRequest
//! (35=F) → [`MasterCancel`], OrderCancelReplaceRequest (35=G) → [`MasterAmend`],
//! TradingSessionStatus (35=h) → a watermark. The contract is
//! `docs/daemon.md`, "Master orders over FIX".
//!
//! Every number is exact: OrderQty (base units) becomes lots through the symbol's contract size
//! only if it divides into whole lot steps, prices keep at most the symbol's decimals, and
//! TransactTime becomes UTC nanoseconds. Anything else is a [`MasterRefusal`] that names the
//! tag, the value and the reply FIX prescribes.
//!
//! This module is FIX's own parse (tags and their text formats); the rules every manager edge
//! shares (the binary order entry too) are in [`super::rules`].
//!
//! [`MasterOpen`]: mam_core::engine::input::MasterOpen
//! [`MasterClose`]: mam_core::engine::input::MasterClose
//! [`MasterAmend`]: mam_core::engine::input::MasterAmend

pub use super::refusal::{MasterRefusal, OrdRejReason};
pub use super::rules::Converted;
use super::rules::{
    amend_from_fields, master_from_fields, order_id, OrderFields, Parsed, ReplaceFields,
};
use crate::fix::decode::{Message, RejectReason};
use crate::fix::msg::NewOrderSingle;
use crate::fix::num::parse_u64;
use crate::fix::tag;
use mam_core::engine::input::{model_code, Input, MasterCancel, MODE_BLOCK, MODE_PER_ACCOUNT};
use mam_core::engine::lifecycle::record::scoped_order_id;
use mam_core::num::{Money, Price, Qty};
use mam_core::symbol::SymbolTable;
use std::borrow::Cow;

/// MamModel: the allocation model (`model_code` names as in `mam allocate --model`).
pub const TAG_MODEL: u32 = tag::MAM_MODEL.num;
/// MamRouting: `block` or `per-account`.
pub const TAG_ROUTING: u32 = tag::MAM_ROUTING.num;
/// MamCloseAll: `Y` closes everything still open (close only).
pub const TAG_CLOSE_ALL: u32 = tag::MAM_CLOSE_ALL.num;
/// MamMinLotPolicy: `zero` or `round-up`.
pub const TAG_MIN_LOT_POLICY: u32 = tag::MAM_MIN_LOT_POLICY.num;
/// MamStopDistance: stop-loss distance (price units) for the `risk` model.
pub const TAG_STOP_DISTANCE: u32 = tag::MAM_STOP_DISTANCE.num;
/// MamReference: the master's balance or equity for the ratio models.
pub const TAG_REFERENCE: u32 = tag::MAM_REFERENCE.num;
/// MamStopLoss: the ticket's stop-loss price (0 on a replace removes it).
pub const TAG_STOP_LOSS: u32 = tag::MAM_STOP_LOSS.num;
/// MamTakeProfit: the ticket's take-profit price (0 on a replace removes it).
pub const TAG_TAKE_PROFIT: u32 = tag::MAM_TAKE_PROFIT.num;
/// MamHold: `Y` holds a limit master in the engine until the market reaches its price
/// (default `N`: its children rest at the LP as limit orders).
pub const TAG_HOLD: u32 = tag::MAM_HOLD.num;
/// StopPx.
pub const TAG_STOP_PX: u32 = tag::STOP_PX.num;
/// PositionEffect.
pub const TAG_POSITION_EFFECT: u32 = tag::POSITION_EFFECT.num;
/// TradingSessionID.
pub const TAG_TRADING_SESSION_ID: u32 = 336;
/// TradSesStatus.
pub const TAG_TRAD_SES_STATUS: u32 = 340;
/// The TradingSessionID the manager's clock messages carry.
pub const TRADING_SESSION_ID: &[u8] = b"MAM";

/// What a master order falls back to when it carries no MamModel, MamRouting or
/// MamMinLotPolicy (the daemon fills it from `engine.model`, `engine.routing`,
/// `engine.min_lot_policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MasterDefaults {
    /// A [`model_code`].
    pub model: u8,
    /// [`MODE_BLOCK`] or [`MODE_PER_ACCOUNT`].
    pub routing: u8,
    /// Min-lot policy of opens: 0 zero, 1 round up.
    pub min_lot_policy: u8,
    /// Residuals a partial close leaves under the min lot: 0 leave them open, 1 close them
    /// whole ([`MasterClose::residual`](mam_core::engine::input::MasterClose::residual); no FIX tag sets it).
    pub close_residual: u8,
    /// Every open of this manager asks for the adaptive layer
    /// ([`POLICY_ADAPTIVE`](mam_core::engine::input::POLICY_ADAPTIVE); `engine.allocation`).
    pub adaptive: bool,
}

/// [`MasterDefaults`] an operator changes on a running daemon (a config reload), packed into
/// one atomic word: the manager stage loads it once per duty cycle, the reload stores it. They
/// are edge settings, not engine state: each master's resolved model, routing and policy are
/// in its journaled input, so a replay needs nothing of them.
#[derive(Debug, Default)]
pub struct SharedDefaults(std::sync::atomic::AtomicU64);

impl SharedDefaults {
    /// Holding `d`.
    pub fn new(d: MasterDefaults) -> Self {
        SharedDefaults(std::sync::atomic::AtomicU64::new(Self::pack(d)))
    }

    fn pack(d: MasterDefaults) -> u64 {
        u64::from_le_bytes([
            d.model,
            d.routing,
            d.min_lot_policy,
            d.close_residual,
            u8::from(d.adaptive),
            0,
            0,
            0,
        ])
    }

    /// The defaults now.
    pub fn load(&self) -> MasterDefaults {
        let b = self
            .0
            .load(std::sync::atomic::Ordering::Relaxed)
            .to_le_bytes();
        MasterDefaults {
            model: b[0],
            routing: b[1],
            min_lot_policy: b[2],
            close_residual: b[3],
            adaptive: b[4] != 0,
        }
    }

    /// From the next duty cycle of the manager stage on.
    pub fn store(&self, d: MasterDefaults) {
        self.0
            .store(Self::pack(d), std::sync::atomic::Ordering::Relaxed);
    }
}

impl Default for MasterDefaults {
    fn default() -> Self {
        MasterDefaults {
            model: model_code::EQUITY,
            routing: MODE_BLOCK,
            min_lot_policy: 0,
            close_residual: 0,
            adaptive: false,
        }
    }
}

/// Every model name the manager session takes, with its [`model_code`].
pub const MODEL_NAMES: [(&str, u8); 9] = [
    ("equity", model_code::EQUITY),
    ("balance", model_code::BALANCE),
    ("free-margin", model_code::FREE_MARGIN),
    ("percent", model_code::PERCENT),
    ("multiplier", model_code::MULTIPLIER),
    ("fixed", model_code::FIXED),
    ("risk", model_code::RISK),
    ("balance-ratio", model_code::BALANCE_RATIO),
    ("equity-ratio", model_code::EQUITY_RATIO),
];

/// The [`model_code`] of a model name (`equity`, `balance`, `free-margin`, `percent`,
/// `multiplier`, `fixed`, `risk`, `balance-ratio`, `equity-ratio`).
pub fn model_from_name(name: &[u8]) -> Option<u8> {
    MODEL_NAMES
        .iter()
        .find(|(n, _)| n.as_bytes() == name)
        .map(|(_, c)| *c)
}

/// The name of [`model_code`] `code`.
pub fn model_name(code: u8) -> Option<&'static str> {
    MODEL_NAMES
        .iter()
        .find(|(_, c)| *c == code)
        .map(|(n, _)| *n)
}

/// [`MODE_BLOCK`] or [`MODE_PER_ACCOUNT`] of `block` / `per-account`.
pub fn routing_from_name(name: &[u8]) -> Option<u8> {
    match name {
        b"block" => Some(MODE_BLOCK),
        b"per-account" => Some(MODE_PER_ACCOUNT),
        _ => None,
    }
}

/// `block` or `per-account`.
pub fn routing_name(mode: u8) -> &'static str {
    if mode == MODE_PER_ACCOUNT {
        "per-account"
    } else {
        "block"
    }
}

/// Min-lot policy code (0 zero, 1 round up) of `zero` / `round-up` (the name `mam allocate`
/// and the docs use; `up`, the name before it, is still read).
pub fn policy_from_name(name: &[u8]) -> Option<u8> {
    match name {
        b"zero" => Some(0),
        b"round-up" | b"up" => Some(1),
        _ => None,
    }
}

/// `zero` or `round-up`.
pub fn policy_name(policy: u8) -> &'static str {
    if policy == 1 {
        "round-up"
    } else {
        "zero"
    }
}

fn custom<T>(
    m: &Message<'_>,
    tag: u32,
    parse: impl Fn(&[u8]) -> Option<T>,
    what: &str,
) -> Parsed<T> {
    match m.get(tag) {
        None => Ok(None),
        Some(v) => parse(v)
            .map(Some)
            .ok_or_else(|| MasterRefusal::order(OrdRejReason::Other, tag, v, what)),
    }
}

/// Puts manager `m`'s number into every order id of `input` (see
/// [`scoped_order_id`]): the engine keeps one id space per manager, so a manager's orders,
/// closes, cancels and replaces can only ever name its own tickets.
pub fn scope_input(input: &mut Input, m: u8) {
    if m == 0 {
        return;
    }
    let s = |id: &mut u64| {
        if *id != 0 {
            *id = scoped_order_id(m, *id);
        }
    };
    match input {
        Input::Open(o) => s(&mut o.ticket),
        Input::Close(c) => {
            s(&mut c.ticket);
            s(&mut c.order_id);
        }
        Input::Cancel(c) => {
            s(&mut c.order_id);
            s(&mut c.cancel_id);
        }
        Input::Amend(a) => {
            s(&mut a.order_id);
            s(&mut a.amend_id);
        }
        _ => {}
    }
}

/// An order id tag that must be a decimal id, or the refusal naming it.
fn fix_order_id(m: &Message<'_>, t: u32, what: &str) -> Result<u64, MasterRefusal> {
    let Some(v) = m.get(t) else {
        return Err(MasterRefusal::session(
            RejectReason::RequiredTagMissing,
            t,
            b"",
            format!("{what} is required"),
        ));
    };
    order_id(parse_u64(v).ok(), t, v, what)
}

/// A price tag as text: absent, a price, or "not a price" (the rules check sign and decimals).
fn price_tag(m: &Message<'_>, t: u32) -> Parsed<Price> {
    let Some(raw) = m.get(t) else {
        return Ok(None);
    };
    core::str::from_utf8(raw)
        .ok()
        .and_then(|v| Price::parse(v).ok())
        .map(Some)
        .ok_or_else(|| {
            MasterRefusal::order(
                OrdRejReason::Other,
                t,
                raw,
                "not a price with at most 8 decimals",
            )
        })
}

/// Converts a NewOrderSingle (35=D) of the manager into a [`MasterOpen`] (PositionEffect `O`,
/// the default) or a [`MasterClose`] (`C`), as `docs/daemon.md` specifies: FIX's own parse
/// here, mam's rules in [`master_from_fields`]. Never panics.
///
/// [`MasterOpen`]: mam_core::engine::input::MasterOpen
/// [`MasterClose`]: mam_core::engine::input::MasterClose
pub fn master_from_nos(
    m: &Message<'_>,
    symbols: &SymbolTable,
    defaults: &MasterDefaults,
) -> Result<Converted, MasterRefusal> {
    let nos = NewOrderSingle::parse(m).map_err(|e| MasterRefusal::field(m, e))?;
    let close = position_effect(m)?;
    let raw = |t: u32| Cow::Borrowed(m.get(t).unwrap_or_default());
    let f = OrderFields {
        raw: &raw,
        cl_ord_id: parse_u64(nos.cl_ord_id).ok(),
        close,
        orig_cl_ord_id: m.get(tag::ORIG_CL_ORD_ID.num).map(|v| parse_u64(v).ok()),
        symbol: nos.symbol,
        side: nos.side,
        qty: nos.qty,
        ord_type: nos.ord_type,
        price: nos.price,
        transact_time_ns: nos.transact_time_ns,
        model: custom(m, TAG_MODEL, model_from_name, "MamModel: unknown model"),
        routing: custom(
            m,
            TAG_ROUTING,
            routing_from_name,
            "MamRouting must be block or per-account",
        ),
        min_lot_policy: custom(
            m,
            TAG_MIN_LOT_POLICY,
            policy_from_name,
            "MamMinLotPolicy must be zero or round-up",
        ),
        close_all: custom(m, TAG_CLOSE_ALL, yes_no, "MamCloseAll must be Y or N"),
        hold: custom(m, TAG_HOLD, yes_no, "MamHold must be Y or N"),
        stop_px: price_tag(m, TAG_STOP_PX),
        stop_loss: price_tag(m, TAG_STOP_LOSS),
        take_profit: price_tag(m, TAG_TAKE_PROFIT),
        stop_distance: custom(
            m,
            TAG_STOP_DISTANCE,
            |v| {
                Price::parse(core::str::from_utf8(v).ok()?)
                    .ok()
                    .filter(|p| p.raw() > 0)
            },
            "MamStopDistance must be a positive price with at most 8 decimals",
        ),
        reference: custom(
            m,
            TAG_REFERENCE,
            |v| {
                Money::parse(core::str::from_utf8(v).ok()?)
                    .ok()
                    .filter(|r| r.raw() > 0)
            },
            "MamReference must be a positive amount with at most 6 decimals",
        ),
    };
    master_from_fields(f, symbols, defaults)
}

/// PositionEffect (77): an open (`O`, or absent) or a close (`C`).
fn position_effect(m: &Message<'_>) -> Result<bool, MasterRefusal> {
    match m.get(TAG_POSITION_EFFECT) {
        None | Some(b"O") => Ok(false),
        Some(b"C") => Ok(true),
        Some(v) => Err(MasterRefusal::session(
            RejectReason::ValueIncorrect,
            TAG_POSITION_EFFECT,
            v,
            "PositionEffect must be O (open) or C (close)",
        )),
    }
}

fn yes_no(v: &[u8]) -> Option<bool> {
    match v {
        b"Y" => Some(true),
        b"N" => Some(false),
        _ => None,
    }
}

fn transact_time(m: &Message<'_>) -> Result<u64, MasterRefusal> {
    let tt = m
        .req(tag::TRANSACT_TIME.num)
        .map_err(|e| MasterRefusal::field(m, e))?;
    crate::fix::time::parse_utc(tt).ok_or_else(|| {
        MasterRefusal::session(
            RejectReason::IncorrectDataFormat,
            tag::TRANSACT_TIME.num,
            tt,
            "TransactTime is not a UTCTimestamp",
        )
    })
}

/// Converts an OrderCancelRequest (35=F): OrigClOrdID (41) is the order to cancel, ClOrdID
/// (11) the request's own id; both decimal ids. Never panics.
pub fn cancel_from_ocr(m: &Message<'_>) -> Result<Input, MasterRefusal> {
    let order = fix_order_id(m, tag::ORIG_CL_ORD_ID.num, "OrigClOrdID")?;
    let id = fix_order_id(m, tag::CL_ORD_ID.num, "ClOrdID")?;
    Ok(Input::Cancel(MasterCancel {
        ts_ns: transact_time(m)?,
        order_id: order,
        cancel_id: id,
    }))
}

/// Converts an OrderCancelReplaceRequest (35=G) of order OrigClOrdID: OrderQty (38) and
/// Price (44) or StopPx (99) replace a pending master's size and price; MamStopLoss (5107) and
/// MamTakeProfit (5108) set, move or (with 0) remove the ticket's SL/TP. FIX's own parse here,
/// mam's rules in [`amend_from_fields`]. Never panics.
pub fn amend_from_ocrr(
    m: &Message<'_>,
    symbols: &SymbolTable,
    defaults: &MasterDefaults,
) -> Result<Input, MasterRefusal> {
    let order = fix_order_id(m, tag::ORIG_CL_ORD_ID.num, "OrigClOrdID")?;
    let id = fix_order_id(m, tag::CL_ORD_ID.num, "ClOrdID")?;
    let ts = transact_time(m)?;
    let sym = m
        .req(tag::SYMBOL.num)
        .map_err(|e| MasterRefusal::field(m, e))?;
    let raw = |t: u32| Cow::Borrowed(m.get(t).unwrap_or_default());
    let qty = match m.get(tag::ORDER_QTY.num) {
        None => Ok(None),
        Some(q) => core::str::from_utf8(q)
            .ok()
            .and_then(|v| Qty::parse(v).ok())
            .map(Some)
            .ok_or_else(|| {
                MasterRefusal::order(
                    OrdRejReason::IncorrectQuantity,
                    tag::ORDER_QTY.num,
                    q,
                    "OrderQty is not a quantity",
                )
            }),
    };
    let f = ReplaceFields {
        raw: &raw,
        order_id: order,
        id,
        transact_time_ns: ts,
        symbol: sym,
        qty,
        stop_px: price_tag(m, TAG_STOP_PX),
        price: price_tag(m, tag::PRICE.num),
        stop_loss: price_tag(m, TAG_STOP_LOSS),
        take_profit: price_tag(m, TAG_TAKE_PROFIT),
        routing: custom(
            m,
            TAG_ROUTING,
            routing_from_name,
            "MamRouting must be block or per-account",
        ),
    };
    amend_from_fields(f, symbols, defaults)
}

/// Reads a TradingSessionStatus (35=h) of the manager into its watermark: TradSesStatus `2`
/// (open) → TransactTime (UTC ns), `3` (closed) → `u64::MAX`. Never panics.
pub fn watermark_from_tss(m: &Message<'_>) -> Result<u64, MasterRefusal> {
    let id = m
        .req(TAG_TRADING_SESSION_ID)
        .map_err(|e| MasterRefusal::field(m, e))?;
    if id != TRADING_SESSION_ID {
        return Err(MasterRefusal::session(
            RejectReason::ValueIncorrect,
            TAG_TRADING_SESSION_ID,
            id,
            "TradingSessionID must be MAM",
        ));
    }
    match m
        .req_u64(TAG_TRAD_SES_STATUS)
        .map_err(|e| MasterRefusal::field(m, e))?
    {
        2 => transact_time(m),
        3 => Ok(u64::MAX),
        _ => Err(MasterRefusal::session(
            RejectReason::ValueIncorrect,
            TAG_TRAD_SES_STATUS,
            m.get(TAG_TRAD_SES_STATUS).unwrap_or_default(),
            "TradSesStatus must be 2 (open) or 3 (closed)",
        )),
    }
}
