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

pub use super::refusal::{MasterRefusal, OrdRejReason};
use crate::fix::decode::{Message, RejectReason};
use crate::fix::msg::NewOrderSingle;
use crate::fix::num::parse_u64;
use crate::fix::tag;
use mam_core::engine::input::{
    model_code, Input, MasterAmend, MasterCancel, MasterClose, MasterOpen, CLOSE_FULL, MODE_BLOCK,
    MODE_PER_ACCOUNT, POLICY_HELD_LIMIT, POLICY_HELD_STOP,
};
use mam_core::engine::lifecycle::record::{
    scoped_order_id, AMEND_LOTS, AMEND_PRICE, AMEND_SL, AMEND_TP, MAX_CL_ORD_ID,
};
use mam_core::event::OrdType;
use mam_core::num::{Lots, Money, Price, Qty};
use mam_core::symbol::{SymbolSpec, SymbolTable};

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
    /// whole ([`MasterClose::residual`]; no FIX tag sets it).
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
) -> Result<Option<T>, MasterRefusal> {
    match m.get(tag) {
        None => Ok(None),
        Some(v) => parse(v)
            .map(Some)
            .ok_or_else(|| MasterRefusal::order(OrdRejReason::Other, tag, v, what)),
    }
}

/// A ticket or order id: a decimal u64 in 1..=2^56−1 (the bits above carry the manager's
/// number and the engine's stop-loss and take-profit closes).
fn ticket(v: &[u8]) -> Option<u64> {
    parse_u64(v).ok().filter(|&t| t > 0 && t <= MAX_CL_ORD_ID)
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
fn order_id(m: &Message<'_>, t: u32, what: &str) -> Result<u64, MasterRefusal> {
    let Some(v) = m.get(t) else {
        return Err(MasterRefusal::session(
            RejectReason::RequiredTagMissing,
            t,
            b"",
            format!("{what} is required"),
        ));
    };
    ticket(v).ok_or_else(|| {
        MasterRefusal::order(
            OrdRejReason::Other,
            t,
            v,
            format!("{what} must be a decimal number in 1..=72057594037927935"),
        )
    })
}

/// A price tag of `spec`: positive, at most the symbol's decimals.
fn price_of(
    m: &Message<'_>,
    t: u32,
    spec: &SymbolSpec,
    zero_ok: bool,
) -> Result<Option<Price>, MasterRefusal> {
    let Some(raw) = m.get(t) else {
        return Ok(None);
    };
    let bad = |what: String| MasterRefusal::order(OrdRejReason::Other, t, raw, what);
    let p = core::str::from_utf8(raw)
        .ok()
        .and_then(|v| Price::parse(v).ok())
        .ok_or_else(|| bad("not a price with at most 8 decimals".into()))?;
    if p.raw() < 0 || (p.raw() == 0 && !zero_ok) {
        return Err(bad("price must be positive".into()));
    }
    if p.round_to_decimals(spec.price_decimals, mam_core::num::Rounding::TowardZero) != p {
        return Err(bad(format!(
            "price has more than {} decimals for {}",
            spec.price_decimals,
            spec.name_str()
        )));
    }
    Ok(Some(p))
}

/// What one manager message becomes: an input, and for an open with a stop-loss or
/// take-profit, the amend that sets them right after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Converted {
    /// The input.
    pub input: Input,
    /// The open's own SL/TP (`amend_id == 0`).
    pub then: Option<Input>,
}

/// OrderQty (base units) → lots, exactly: a positive whole number of the symbol's lot steps.
fn lots_of(spec: &SymbolSpec, qty: Qty, raw: &[u8]) -> Result<Lots, MasterRefusal> {
    let bad = |what: String| {
        MasterRefusal::order(
            OrdRejReason::IncorrectQuantity,
            tag::ORDER_QTY.num,
            raw,
            what,
        )
    };
    let c = i128::from(spec.contract_size.raw());
    let n = i128::from(qty.raw()) * i128::from(Lots::ONE_RAW);
    let step = i128::from(spec.lot_step.raw());
    if c <= 0 || step <= 0 || n <= 0 || n % c != 0 || (n / c) % step != 0 {
        return Err(bad(format!(
            "OrderQty must be a positive multiple of {} units (lot step {} of {} units per lot)",
            spec.lots_to_qty(spec.lot_step).unwrap_or_default(),
            spec.lot_step,
            spec.contract_size
        )));
    }
    i64::try_from(n / c)
        .map(Lots)
        .map_err(|_| bad("OrderQty too large".into()))
}

/// Converts a NewOrderSingle (35=D) of the manager into a [`MasterOpen`] (PositionEffect `O`,
/// the default) or a [`MasterClose`] (`C`), as `docs/daemon.md` specifies. Never panics.
pub fn master_from_nos(
    m: &Message<'_>,
    symbols: &SymbolTable,
    defaults: &MasterDefaults,
) -> Result<Converted, MasterRefusal> {
    let nos = NewOrderSingle::parse(m).map_err(|e| MasterRefusal::field(m, e))?;
    let close = position_effect(m)?;
    let name = core::str::from_utf8(nos.symbol).unwrap_or("");
    let Some((instrument, spec)) = symbols.id_of(name).zip(symbols.get(name)) else {
        return Err(MasterRefusal::order(
            OrdRejReason::UnknownSymbol,
            tag::SYMBOL.num,
            nos.symbol,
            "unknown symbol (not in mam's symbol table)",
        ));
    };
    let o = OrderTags::read(m, defaults)?;
    if close {
        return close_from_nos(m, &nos, spec, &o, defaults);
    }
    if m.get(TAG_CLOSE_ALL).is_some() {
        return Err(MasterRefusal::order(
            OrdRejReason::Other,
            TAG_CLOSE_ALL,
            m.get(TAG_CLOSE_ALL).unwrap_or_default(),
            "MamCloseAll is for closes (77=C) only",
        ));
    }
    let t = ticket(nos.cl_ord_id).ok_or_else(|| {
        MasterRefusal::order(
            OrdRejReason::Other,
            tag::CL_ORD_ID.num,
            nos.cl_ord_id,
            "bad ticket: an open's ClOrdID must be a decimal number in 1..=72057594037927935",
        )
    })?;
    let lots = lots_of(spec, nos.qty, m.get(tag::ORDER_QTY.num).unwrap_or_default())?;
    let (limit_price, held) = open_price(m, &nos, spec)?;
    let x = OpenTags::read(m, spec, o.model)?;
    let then = (x.sl.is_some() || x.tp.is_some()).then(|| {
        Input::Amend(MasterAmend {
            ts_ns: nos.transact_time_ns,
            order_id: t,
            amend_id: 0,
            stop_loss: x.sl.unwrap_or(Price::ZERO),
            take_profit: x.tp.unwrap_or(Price::ZERO),
            flags: AMEND_SL | AMEND_TP,
            mode: o.routing,
            ..MasterAmend::default()
        })
    });
    Ok(Converted {
        input: Input::Open(MasterOpen {
            ts_ns: nos.transact_time_ns,
            ticket: t,
            lots,
            limit_price,
            sl_distance: x.sl_distance,
            // No FIX tag carries it: zero means 1 (account currency = quote currency).
            quote_to_account: Price::ZERO,
            reference: x.reference,
            instrument,
            model: o.model,
            side: nos.side as u8,
            policy: o.policy | held,
            mode: o.routing,
        }),
        then,
    })
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

/// mam's tags that opens and closes share, with the manager's defaults filled in.
struct OrderTags {
    model: u8,
    routing: u8,
    /// Min-lot policy, with the adaptive bit when the manager is adaptive.
    policy: u8,
    close_all: bool,
}

impl OrderTags {
    fn read(m: &Message<'_>, defaults: &MasterDefaults) -> Result<Self, MasterRefusal> {
        let model = custom(m, TAG_MODEL, model_from_name, "MamModel: unknown model")?
            .unwrap_or(defaults.model);
        let routing = custom(
            m,
            TAG_ROUTING,
            routing_from_name,
            "MamRouting must be block or per-account",
        )?
        .unwrap_or(defaults.routing);
        let adaptive = if defaults.adaptive {
            mam_core::engine::input::POLICY_ADAPTIVE
        } else {
            0
        };
        let policy = custom(
            m,
            TAG_MIN_LOT_POLICY,
            policy_from_name,
            "MamMinLotPolicy must be zero or round-up",
        )?
        .unwrap_or(defaults.min_lot_policy)
            | adaptive;
        let close_all =
            custom(m, TAG_CLOSE_ALL, yes_no, "MamCloseAll must be Y or N")?.unwrap_or(false);
        Ok(OrderTags {
            model,
            routing,
            policy,
            close_all,
        })
    }
}

/// A close (77=C): OrigClOrdID names the ticket; MamCloseAll closes everything still open.
fn close_from_nos(
    m: &Message<'_>,
    nos: &NewOrderSingle<'_>,
    spec: &SymbolSpec,
    o: &OrderTags,
    defaults: &MasterDefaults,
) -> Result<Converted, MasterRefusal> {
    let Some(orig) = m.get(tag::ORIG_CL_ORD_ID.num) else {
        return Err(MasterRefusal::session(
            RejectReason::RequiredTagMissing,
            tag::ORIG_CL_ORD_ID.num,
            b"",
            "a close (77=C) needs OrigClOrdID, the ticket",
        ));
    };
    let t = ticket(orig).ok_or_else(|| {
        MasterRefusal::order(
            OrdRejReason::Other,
            tag::ORIG_CL_ORD_ID.num,
            orig,
            "bad ticket: OrigClOrdID must be a decimal number > 0",
        )
    })?;
    // Close-all ignores the quantity (it must still be > 0, which the parse checked).
    let lots = if o.close_all {
        Lots::ZERO
    } else {
        lots_of(spec, nos.qty, m.get(tag::ORDER_QTY.num).unwrap_or_default())?
    };
    let id = order_id(m, tag::CL_ORD_ID.num, "a close's ClOrdID")?;
    Ok(Converted {
        input: Input::Close(MasterClose {
            ts_ns: nos.transact_time_ns,
            ticket: t,
            lots,
            full: if o.close_all { CLOSE_FULL } else { 0 },
            residual: defaults.close_residual,
            mode: o.routing,
            _pad: [0; 5],
            order_id: id,
        }),
        then: None,
    })
}

/// An open's price and how the engine holds it: a stop's StopPx (held until a quote reaches
/// it), a limit's Price (held in the engine with MamHold=Y, else resting at the LP), or none
/// for a market order.
fn open_price(
    m: &Message<'_>,
    nos: &NewOrderSingle<'_>,
    spec: &SymbolSpec,
) -> Result<(Price, u8), MasterRefusal> {
    let hold = custom(m, TAG_HOLD, yes_no, "MamHold must be Y or N")?.unwrap_or(false);
    let mut held = 0;
    let price = match (nos.ord_type, nos.price) {
        (OrdType::Stop, _) => {
            held = POLICY_HELD_STOP;
            price_of(m, TAG_STOP_PX, spec, false)?.ok_or_else(|| {
                MasterRefusal::session(
                    RejectReason::RequiredTagMissing,
                    TAG_STOP_PX,
                    b"",
                    "a stop order (40=3) needs StopPx (99)",
                )
            })?
        }
        (OrdType::Limit, Some(p)) => {
            let raw = m.get(tag::PRICE.num).unwrap_or_default();
            if p.raw() <= 0 {
                return Err(MasterRefusal::order(
                    OrdRejReason::Other,
                    tag::PRICE.num,
                    raw,
                    "limit price must be positive",
                ));
            }
            if p.round_to_decimals(spec.price_decimals, mam_core::num::Rounding::TowardZero) != p {
                return Err(MasterRefusal::order(
                    OrdRejReason::Other,
                    tag::PRICE.num,
                    raw,
                    format!(
                        "price has more than {} decimals for {}",
                        spec.price_decimals,
                        spec.name_str()
                    ),
                ));
            }
            if hold {
                held = POLICY_HELD_LIMIT;
            }
            p
        }
        // A market order's Price, if any, is not a limit.
        _ => Price::ZERO,
    };
    if hold && held != POLICY_HELD_LIMIT {
        return Err(MasterRefusal::order(
            OrdRejReason::Other,
            TAG_HOLD,
            b"Y",
            "MamHold is for limit orders (40=2) only",
        ));
    }
    Ok((price, held))
}

/// An open's stop-loss and take-profit and the inputs of the risk and ratio models.
struct OpenTags {
    sl: Option<Price>,
    tp: Option<Price>,
    sl_distance: Price,
    reference: Money,
}

impl OpenTags {
    fn read(m: &Message<'_>, spec: &SymbolSpec, model: u8) -> Result<Self, MasterRefusal> {
        let sl = price_of(m, TAG_STOP_LOSS, spec, false)?;
        let tp = price_of(m, TAG_TAKE_PROFIT, spec, false)?;
        let sl_distance = custom(
            m,
            TAG_STOP_DISTANCE,
            |v| {
                Price::parse(core::str::from_utf8(v).ok()?)
                    .ok()
                    .filter(|p| p.raw() > 0)
            },
            "MamStopDistance must be a positive price with at most 8 decimals",
        )?
        .unwrap_or(Price::ZERO);
        let reference = custom(
            m,
            TAG_REFERENCE,
            |v| {
                Money::parse(core::str::from_utf8(v).ok()?)
                    .ok()
                    .filter(|r| r.raw() > 0)
            },
            "MamReference must be a positive amount with at most 6 decimals",
        )?
        .unwrap_or(Money::ZERO);
        if model == model_code::RISK && sl_distance.is_zero() {
            return Err(MasterRefusal::order(
                OrdRejReason::Other,
                TAG_STOP_DISTANCE,
                b"",
                "the risk model needs MamStopDistance (5105)",
            ));
        }
        if matches!(model, model_code::BALANCE_RATIO | model_code::EQUITY_RATIO)
            && reference.is_zero()
        {
            return Err(MasterRefusal::order(
                OrdRejReason::Other,
                TAG_REFERENCE,
                b"",
                "the ratio models need MamReference (5106)",
            ));
        }
        Ok(OpenTags {
            sl,
            tp,
            sl_distance,
            reference,
        })
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
    let order = order_id(m, tag::ORIG_CL_ORD_ID.num, "OrigClOrdID")?;
    let id = order_id(m, tag::CL_ORD_ID.num, "ClOrdID")?;
    Ok(Input::Cancel(MasterCancel {
        ts_ns: transact_time(m)?,
        order_id: order,
        cancel_id: id,
    }))
}

/// Converts an OrderCancelReplaceRequest (35=G) of order OrigClOrdID: OrderQty (38) and
/// Price (44) or StopPx (99) replace a pending master's size and price; MamStopLoss (5107) and
/// MamTakeProfit (5108) set, move or (with 0) remove the ticket's SL/TP. Never panics.
pub fn amend_from_ocrr(
    m: &Message<'_>,
    symbols: &SymbolTable,
    defaults: &MasterDefaults,
) -> Result<Input, MasterRefusal> {
    let order = order_id(m, tag::ORIG_CL_ORD_ID.num, "OrigClOrdID")?;
    let id = order_id(m, tag::CL_ORD_ID.num, "ClOrdID")?;
    let ts = transact_time(m)?;
    let sym = m
        .req(tag::SYMBOL.num)
        .map_err(|e| MasterRefusal::field(m, e))?;
    let spec = core::str::from_utf8(sym)
        .ok()
        .and_then(|n| symbols.get(n))
        .ok_or_else(|| {
            MasterRefusal::order(
                OrdRejReason::UnknownSymbol,
                tag::SYMBOL.num,
                sym,
                "unknown symbol (not in mam's symbol table)",
            )
        })?;
    let mut a = MasterAmend {
        ts_ns: ts,
        order_id: order,
        amend_id: id,
        mode: defaults.routing,
        ..MasterAmend::default()
    };
    if let Some(q) = m.get(tag::ORDER_QTY.num) {
        let qty = core::str::from_utf8(q)
            .ok()
            .and_then(|v| Qty::parse(v).ok())
            .ok_or_else(|| {
                MasterRefusal::order(
                    OrdRejReason::IncorrectQuantity,
                    tag::ORDER_QTY.num,
                    q,
                    "OrderQty is not a quantity",
                )
            })?;
        a.lots = lots_of(spec, qty, q)?;
        a.flags |= AMEND_LOTS;
    }
    let px = match price_of(m, TAG_STOP_PX, spec, false)? {
        Some(p) => Some(p),
        None => price_of(m, tag::PRICE.num, spec, false)?,
    };
    if let Some(p) = px {
        a.price = p;
        a.flags |= AMEND_PRICE;
    }
    if let Some(p) = price_of(m, TAG_STOP_LOSS, spec, true)? {
        a.stop_loss = p;
        a.flags |= AMEND_SL;
    }
    if let Some(p) = price_of(m, TAG_TAKE_PROFIT, spec, true)? {
        a.take_profit = p;
        a.flags |= AMEND_TP;
    }
    if let Some(r) = custom(
        m,
        TAG_ROUTING,
        routing_from_name,
        "MamRouting must be block or per-account",
    )? {
        a.mode = r;
    }
    Ok(Input::Amend(a))
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
