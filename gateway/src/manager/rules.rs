//! mam's rules for a manager's master orders, shared by both manager edges: FIX 4.4
//! ([`super::convert`]) and binary order entry ([`super::binary`]). Each edge parses
//! its own bytes into the protocol-neutral [`OrderFields`] / [`ReplaceFields`] (what it cannot
//! parse it refuses itself, in its protocol's words); everything after that — ids in range,
//! symbols, whole lot steps, price decimals, holds, stops, the model's inputs, the defaults —
//! is decided here, once, so the two edges cannot drift apart.
//!
//! A refusal names the field by its FIX tag, which is also the field's id in the binary schema
//! (`gateway/schema/mam-oe-sbe.xml`), and quotes the value as the edge received it
//! ([`OrderFields::raw`]).

use std::borrow::Cow;

use super::convert::MasterDefaults;
use super::refusal::{MasterRefusal, OrdRejReason};
use crate::fix::decode::RejectReason;
use crate::fix::tag;
use mam_core::engine::input::{
    model_code, Input, MasterAmend, MasterClose, MasterOpen, CLOSE_FULL, POLICY_HELD_LIMIT,
    POLICY_HELD_STOP,
};
use mam_core::engine::lifecycle::record::{
    AMEND_LOTS, AMEND_PRICE, AMEND_SL, AMEND_TP, MAX_CL_ORD_ID,
};
use mam_core::event::{OrdType, Side};
use mam_core::num::{Lots, Money, Price, Qty};
use mam_core::symbol::{SymbolSpec, SymbolTable};

/// A value an edge has parsed: absent (`Ok(None)`), present (`Ok(Some)`), or refused by the
/// edge's own parse (`Err`, raised only when the rules reach the field, so the first problem
/// in the contract's order is the one reported).
pub type Parsed<T> = Result<Option<T>, MasterRefusal>;

/// The value of a field as the edge received it, by tag (for a refusal's text).
pub type RawOf<'a> = &'a dyn Fn(u32) -> Cow<'a, [u8]>;

/// A new master order (an open, or with `close` a close), parsed by its edge.
pub struct OrderFields<'a> {
    /// Quotes a field as received, by tag.
    pub raw: RawOf<'a>,
    /// ClOrdID (11) as a number (`None`: not a decimal number).
    pub cl_ord_id: Option<u64>,
    /// PositionEffect (77) `C`.
    pub close: bool,
    /// OrigClOrdID (41): absent, or as a number (`Some(None)`: not a decimal number).
    pub orig_cl_ord_id: Option<Option<u64>>,
    /// Symbol (55).
    pub symbol: &'a [u8],
    /// Side (54).
    pub side: Side,
    /// OrderQty (38), base units, positive.
    pub qty: Qty,
    /// OrdType (40).
    pub ord_type: OrdType,
    /// Price (44), present for a limit.
    pub price: Option<Price>,
    /// TransactTime (60), UTC ns.
    pub transact_time_ns: u64,
    /// MamModel (5101), a [`model_code`].
    pub model: Parsed<u8>,
    /// MamRouting (5102).
    pub routing: Parsed<u8>,
    /// MamMinLotPolicy (5104): 0 zero, 1 round up.
    pub min_lot_policy: Parsed<u8>,
    /// MamCloseAll (5103).
    pub close_all: Parsed<bool>,
    /// MamHold (5109).
    pub hold: Parsed<bool>,
    /// StopPx (99).
    pub stop_px: Parsed<Price>,
    /// MamStopLoss (5107).
    pub stop_loss: Parsed<Price>,
    /// MamTakeProfit (5108).
    pub take_profit: Parsed<Price>,
    /// MamStopDistance (5105), positive.
    pub stop_distance: Parsed<Price>,
    /// MamReference (5106), positive.
    pub reference: Parsed<Money>,
}

impl std::fmt::Debug for OrderFields<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrderFields")
            .field("cl_ord_id", &self.cl_ord_id)
            .field("close", &self.close)
            .field("symbol", &String::from_utf8_lossy(self.symbol))
            .field("side", &self.side)
            .field("qty", &self.qty)
            .field("ord_type", &self.ord_type)
            .field("transact_time_ns", &self.transact_time_ns)
            .finish_non_exhaustive()
    }
}

/// A replace of a master order (OrderCancelReplaceRequest), parsed by its edge.
pub struct ReplaceFields<'a> {
    /// Quotes a field as received, by tag.
    pub raw: RawOf<'a>,
    /// OrigClOrdID (41), the order.
    pub order_id: u64,
    /// ClOrdID (11), the request.
    pub id: u64,
    /// TransactTime (60).
    pub transact_time_ns: u64,
    /// Symbol (55).
    pub symbol: &'a [u8],
    /// OrderQty (38): a pending master's new size.
    pub qty: Parsed<Qty>,
    /// StopPx (99): a pending stop's new price.
    pub stop_px: Parsed<Price>,
    /// Price (44): a pending limit's new price.
    pub price: Parsed<Price>,
    /// MamStopLoss (5107); zero removes it.
    pub stop_loss: Parsed<Price>,
    /// MamTakeProfit (5108); zero removes it.
    pub take_profit: Parsed<Price>,
    /// MamRouting (5102) of the SL/TP close.
    pub routing: Parsed<u8>,
}

impl std::fmt::Debug for ReplaceFields<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplaceFields")
            .field("order_id", &self.order_id)
            .field("id", &self.id)
            .field("symbol", &String::from_utf8_lossy(self.symbol))
            .field("transact_time_ns", &self.transact_time_ns)
            .finish_non_exhaustive()
    }
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

/// An id in 1..=2^56−1 (the bits above carry the manager's number and the engine's SL/TP
/// closes), or `None`.
pub fn in_id_range(v: Option<u64>) -> Option<u64> {
    v.filter(|&t| t > 0 && t <= MAX_CL_ORD_ID)
}

/// An order id that must be in range, or the refusal naming `t`.
pub fn order_id(v: Option<u64>, t: u32, raw: &[u8], what: &str) -> Result<u64, MasterRefusal> {
    in_id_range(v).ok_or_else(|| {
        MasterRefusal::order(
            OrdRejReason::Other,
            t,
            raw,
            format!("{what} must be a decimal number in 1..=72057594037927935"),
        )
    })
}

/// The symbol's id and specification, or the "unknown symbol" refusal.
pub fn symbol_of<'s>(
    symbols: &'s SymbolTable,
    name: &[u8],
) -> Result<(u32, &'s SymbolSpec), MasterRefusal> {
    let n = core::str::from_utf8(name).unwrap_or("");
    symbols.id_of(n).zip(symbols.get(n)).ok_or_else(|| {
        MasterRefusal::order(
            OrdRejReason::UnknownSymbol,
            tag::SYMBOL.num,
            name,
            "unknown symbol (not in mam's symbol table)",
        )
    })
}

/// OrderQty (base units) → lots, exactly: a positive whole number of the symbol's lot steps.
pub fn lots_of(spec: &SymbolSpec, qty: Qty, raw: &[u8]) -> Result<Lots, MasterRefusal> {
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

/// A price of `spec` in tag `t`: positive (or zero where `zero_ok`), at most the symbol's
/// decimals.
pub fn checked_price(
    p: Price,
    t: u32,
    raw: &[u8],
    spec: &SymbolSpec,
    zero_ok: bool,
) -> Result<Price, MasterRefusal> {
    let bad = |what: String| MasterRefusal::order(OrdRejReason::Other, t, raw, what);
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
    Ok(p)
}

fn price_field(
    p: Parsed<Price>,
    t: u32,
    raw: RawOf<'_>,
    spec: &SymbolSpec,
    zero_ok: bool,
) -> Result<Option<Price>, MasterRefusal> {
    match p? {
        None => Ok(None),
        Some(p) => checked_price(p, t, &raw(t), spec, zero_ok).map(Some),
    }
}

/// The fields opens and closes share, with the manager's defaults filled in.
struct OrderTags {
    model: u8,
    routing: u8,
    /// Min-lot policy, with the adaptive bit when the manager is adaptive.
    policy: u8,
    close_all: Option<bool>,
}

impl OrderTags {
    fn read(f: &mut OrderFields<'_>, defaults: &MasterDefaults) -> Result<Self, MasterRefusal> {
        let take = |p: &mut Parsed<u8>| std::mem::replace(p, Ok(None));
        let model = take(&mut f.model)?.unwrap_or(defaults.model);
        let routing = take(&mut f.routing)?.unwrap_or(defaults.routing);
        let adaptive = if defaults.adaptive {
            mam_core::engine::input::POLICY_ADAPTIVE
        } else {
            0
        };
        let policy = take(&mut f.min_lot_policy)?.unwrap_or(defaults.min_lot_policy) | adaptive;
        let close_all = std::mem::replace(&mut f.close_all, Ok(None))?;
        Ok(OrderTags {
            model,
            routing,
            policy,
            close_all,
        })
    }
}

/// A new master order → a [`MasterOpen`] (with the amend of its own SL/TP) or a
/// [`MasterClose`], as `docs/daemon.md` specifies. Never panics.
pub fn master_from_fields(
    mut f: OrderFields<'_>,
    symbols: &SymbolTable,
    defaults: &MasterDefaults,
) -> Result<Converted, MasterRefusal> {
    let (instrument, spec) = symbol_of(symbols, f.symbol)?;
    let o = OrderTags::read(&mut f, defaults)?;
    if f.close {
        return close_from_fields(&f, spec, &o, defaults);
    }
    if o.close_all.is_some() {
        return Err(MasterRefusal::order(
            OrdRejReason::Other,
            tag::MAM_CLOSE_ALL.num,
            &(f.raw)(tag::MAM_CLOSE_ALL.num),
            "MamCloseAll is for closes (77=C) only",
        ));
    }
    let t = in_id_range(f.cl_ord_id).ok_or_else(|| {
        MasterRefusal::order(
            OrdRejReason::Other,
            tag::CL_ORD_ID.num,
            &(f.raw)(tag::CL_ORD_ID.num),
            "bad ticket: an open's ClOrdID must be a decimal number in 1..=72057594037927935",
        )
    })?;
    let lots = lots_of(spec, f.qty, &(f.raw)(tag::ORDER_QTY.num))?;
    let (limit_price, held) = open_price(&mut f, spec)?;
    let x = OpenTags::read(&mut f, spec, o.model)?;
    let then = (x.sl.is_some() || x.tp.is_some()).then(|| {
        Input::Amend(MasterAmend {
            ts_ns: f.transact_time_ns,
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
            ts_ns: f.transact_time_ns,
            ticket: t,
            lots,
            limit_price,
            sl_distance: x.sl_distance,
            // No field carries it: zero means 1 (account currency = quote currency).
            quote_to_account: Price::ZERO,
            reference: x.reference,
            instrument,
            model: o.model,
            side: f.side as u8,
            policy: o.policy | held,
            mode: o.routing,
        }),
        then,
    })
}

/// A close (77=C): OrigClOrdID names the ticket; MamCloseAll closes everything still open.
fn close_from_fields(
    f: &OrderFields<'_>,
    spec: &SymbolSpec,
    o: &OrderTags,
    defaults: &MasterDefaults,
) -> Result<Converted, MasterRefusal> {
    let Some(orig) = f.orig_cl_ord_id else {
        return Err(MasterRefusal::session(
            RejectReason::RequiredTagMissing,
            tag::ORIG_CL_ORD_ID.num,
            b"",
            "a close (77=C) needs OrigClOrdID, the ticket",
        ));
    };
    let t = in_id_range(orig).ok_or_else(|| {
        MasterRefusal::order(
            OrdRejReason::Other,
            tag::ORIG_CL_ORD_ID.num,
            &(f.raw)(tag::ORIG_CL_ORD_ID.num),
            "bad ticket: OrigClOrdID must be a decimal number > 0",
        )
    })?;
    let close_all = o.close_all.unwrap_or(false);
    // Close-all ignores the quantity (it must still be > 0, which the parse checked).
    let lots = if close_all {
        Lots::ZERO
    } else {
        lots_of(spec, f.qty, &(f.raw)(tag::ORDER_QTY.num))?
    };
    let id = order_id(
        f.cl_ord_id,
        tag::CL_ORD_ID.num,
        &(f.raw)(tag::CL_ORD_ID.num),
        "a close's ClOrdID",
    )?;
    Ok(Converted {
        input: Input::Close(MasterClose {
            ts_ns: f.transact_time_ns,
            ticket: t,
            lots,
            full: if close_all { CLOSE_FULL } else { 0 },
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
fn open_price(f: &mut OrderFields<'_>, spec: &SymbolSpec) -> Result<(Price, u8), MasterRefusal> {
    let hold = std::mem::replace(&mut f.hold, Ok(None))?.unwrap_or(false);
    let mut held = 0;
    let price = match (f.ord_type, f.price) {
        (OrdType::Stop, _) => {
            held = POLICY_HELD_STOP;
            let p = std::mem::replace(&mut f.stop_px, Ok(None));
            price_field(p, tag::STOP_PX.num, f.raw, spec, false)?.ok_or_else(|| {
                MasterRefusal::session(
                    RejectReason::RequiredTagMissing,
                    tag::STOP_PX.num,
                    b"",
                    "a stop order (40=3) needs StopPx (99)",
                )
            })?
        }
        (OrdType::Limit, Some(p)) => {
            let raw = (f.raw)(tag::PRICE.num);
            if p.raw() <= 0 {
                return Err(MasterRefusal::order(
                    OrdRejReason::Other,
                    tag::PRICE.num,
                    &raw,
                    "limit price must be positive",
                ));
            }
            checked_price(p, tag::PRICE.num, &raw, spec, false)?;
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
            tag::MAM_HOLD.num,
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
    fn read(f: &mut OrderFields<'_>, spec: &SymbolSpec, model: u8) -> Result<Self, MasterRefusal> {
        let sl = std::mem::replace(&mut f.stop_loss, Ok(None));
        let sl = price_field(sl, tag::MAM_STOP_LOSS.num, f.raw, spec, false)?;
        let tp = std::mem::replace(&mut f.take_profit, Ok(None));
        let tp = price_field(tp, tag::MAM_TAKE_PROFIT.num, f.raw, spec, false)?;
        let sl_distance = std::mem::replace(&mut f.stop_distance, Ok(None))?.unwrap_or(Price::ZERO);
        let reference = std::mem::replace(&mut f.reference, Ok(None))?.unwrap_or(Money::ZERO);
        if model == model_code::RISK && sl_distance.is_zero() {
            return Err(MasterRefusal::order(
                OrdRejReason::Other,
                tag::MAM_STOP_DISTANCE.num,
                b"",
                "the risk model needs MamStopDistance (5105)",
            ));
        }
        if matches!(model, model_code::BALANCE_RATIO | model_code::EQUITY_RATIO)
            && reference.is_zero()
        {
            return Err(MasterRefusal::order(
                OrdRejReason::Other,
                tag::MAM_REFERENCE.num,
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

/// A replace → a [`MasterAmend`]: OrderQty and Price / StopPx replace a pending master's size
/// and price; MamStopLoss and MamTakeProfit set, move or (with 0) remove the ticket's SL/TP.
pub fn amend_from_fields(
    f: ReplaceFields<'_>,
    symbols: &SymbolTable,
    defaults: &MasterDefaults,
) -> Result<Input, MasterRefusal> {
    let (_, spec) = symbol_of(symbols, f.symbol)?;
    let mut a = MasterAmend {
        ts_ns: f.transact_time_ns,
        order_id: f.order_id,
        amend_id: f.id,
        mode: defaults.routing,
        ..MasterAmend::default()
    };
    if let Some(qty) = f.qty? {
        a.lots = lots_of(spec, qty, &(f.raw)(tag::ORDER_QTY.num))?;
        a.flags |= AMEND_LOTS;
    }
    let px = match price_field(f.stop_px, tag::STOP_PX.num, f.raw, spec, false)? {
        Some(p) => Some(p),
        None => price_field(f.price, tag::PRICE.num, f.raw, spec, false)?,
    };
    if let Some(p) = px {
        a.price = p;
        a.flags |= AMEND_PRICE;
    }
    if let Some(p) = price_field(f.stop_loss, tag::MAM_STOP_LOSS.num, f.raw, spec, true)? {
        a.stop_loss = p;
        a.flags |= AMEND_SL;
    }
    if let Some(p) = price_field(f.take_profit, tag::MAM_TAKE_PROFIT.num, f.raw, spec, true)? {
        a.take_profit = p;
        a.flags |= AMEND_TP;
    }
    if let Some(r) = f.routing? {
        a.mode = r;
    }
    Ok(Input::Amend(a))
}
