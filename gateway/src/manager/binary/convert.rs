//! The binary manager messages → engine inputs. Only the binary parse is here (null values,
//! enum bytes, the fields a fixed block cannot leave out); the rules are FIX's, in
//! [`crate::manager::rules`], so both edges accept and refuse the same orders.
//!
//! A field is named by its id in the schema, which is its FIX tag; a refusal quotes the value
//! as the binary message carried it.

use std::borrow::Cow;

use mam_core::engine::input::{Input, MasterCancel as CancelInput, MODE_BLOCK, MODE_PER_ACCOUNT};
use mam_core::event::{OrdType, Side};
use mam_core::num::{Money, Price};
use mam_core::symbol::SymbolTable;

use crate::binary::master_msg::{
    self as msg, symbol_name, ManagerClock, MasterCancel, MasterOrder, MasterReject, MasterReplace,
    CLOCK_CLOSED, CLOCK_OPEN, CLOSE, OPEN,
};
use crate::fix::decode::RejectReason;
use crate::fix::tag;
use crate::manager::convert::{MasterDefaults, MasterRefusal, OrdRejReason};
use crate::manager::rules::{
    amend_from_fields, master_from_fields, order_id, Converted, OrderFields, Parsed, ReplaceFields,
};

fn malformed(reason: RejectReason, t: u32, value: &[u8], what: &str) -> MasterRefusal {
    MasterRefusal::session(reason, t, value, what)
}

fn other(t: u32, value: &[u8], what: &str) -> MasterRefusal {
    MasterRefusal::order(OrdRejReason::Other, t, value, what)
}

fn text(v: impl std::fmt::Display) -> Cow<'static, [u8]> {
    Cow::Owned(v.to_string().into_bytes())
}

fn opt_text<T: std::fmt::Display>(v: Option<T>) -> Cow<'static, [u8]> {
    v.map_or(Cow::Borrowed(&b""[..]), text)
}

fn enum_text(v: u8) -> Cow<'static, [u8]> {
    if v.is_ascii_graphic() {
        Cow::Owned(vec![v])
    } else {
        text(v)
    }
}

/// The value of a field of `o` as text, by tag (for a refusal).
fn order_raw(o: &MasterOrder, t: u32) -> Cow<'_, [u8]> {
    match t {
        11 => text(o.cl_ord_id),
        41 => text(o.orig_cl_ord_id),
        60 => text(o.transact_time_ns),
        38 => text(o.qty),
        44 => opt_text(o.price),
        99 => opt_text(o.stop_px),
        5107 => opt_text(o.stop_loss),
        5108 => opt_text(o.take_profit),
        5105 => opt_text(o.stop_distance),
        5106 => opt_text(o.reference),
        55 => Cow::Borrowed(symbol_name(&o.symbol)),
        54 => text(o.side),
        40 => text(o.ord_type),
        77 => enum_text(o.position_effect),
        5101 => text(o.model),
        5102 => text(o.routing),
        5104 => text(o.min_lot_policy),
        5103 => enum_text(o.close_all),
        5109 => enum_text(o.hold),
        _ => Cow::Borrowed(&b""[..]),
    }
}

fn transact_time(ts: u64) -> Result<u64, MasterRefusal> {
    if ts == 0 {
        return Err(malformed(
            RejectReason::RequiredTagMissing,
            tag::TRANSACT_TIME.num,
            b"0",
            "transactTimeNs is required (ns since the Unix epoch, UTC)",
        ));
    }
    Ok(ts)
}

fn routing(v: u8) -> Parsed<u8> {
    match v {
        msg::DEFAULT => Ok(None),
        msg::ROUTING_BLOCK => Ok(Some(MODE_BLOCK)),
        msg::ROUTING_PER_ACCOUNT => Ok(Some(MODE_PER_ACCOUNT)),
        v => Err(other(
            tag::MAM_ROUTING.num,
            &text(v),
            "MamRouting must be 0 (default), 1 (block) or 2 (per-account)",
        )),
    }
}

fn yes_no(v: u8, t: u32, what: &str) -> Parsed<bool> {
    match v {
        msg::DEFAULT => Ok(None),
        b'Y' => Ok(Some(true)),
        b'N' => Ok(Some(false)),
        v => Err(other(t, &enum_text(v), what)),
    }
}

fn positive<T: Copy>(v: Option<T>, raw: i64, t: u32, what: &str) -> Parsed<T> {
    match v {
        Some(_) if raw <= 0 => Err(other(t, &text(raw), what)),
        v => Ok(v),
    }
}

/// A MasterOrder → its engine input(s), with the FIX edge's rules. Never panics.
pub fn master_from_binary(
    o: &MasterOrder,
    symbols: &SymbolTable,
    defaults: &MasterDefaults,
) -> Result<Converted, MasterRefusal> {
    let raw = |t: u32| order_raw(o, t);
    let ts = transact_time(o.transact_time_ns)?;
    let side = Side::from_u8(o.side).ok_or_else(|| {
        malformed(
            RejectReason::ValueIncorrect,
            tag::SIDE.num,
            &raw(tag::SIDE.num),
            "side must be 1 (buy) or 2 (sell)",
        )
    })?;
    let ord_type = match o.ord_type {
        1 => OrdType::Market,
        2 => OrdType::Limit,
        3 => OrdType::Stop,
        _ => {
            return Err(malformed(
                RejectReason::ValueIncorrect,
                tag::ORD_TYPE.num,
                &raw(tag::ORD_TYPE.num),
                "ordType must be 1 (market), 2 (limit) or 3 (stop)",
            ))
        }
    };
    if ord_type == OrdType::Limit && o.price.is_none() {
        return Err(malformed(
            RejectReason::RequiredTagMissing,
            tag::PRICE.num,
            b"",
            "a limit order (ordType 2) needs price",
        ));
    }
    if o.qty.raw() <= 0 {
        return Err(malformed(
            RejectReason::ValueIncorrect,
            tag::ORDER_QTY.num,
            &raw(tag::ORDER_QTY.num),
            "qty must be positive",
        ));
    }
    let close = match o.position_effect {
        0 | OPEN => false,
        CLOSE => true,
        _ => {
            return Err(malformed(
                RejectReason::ValueIncorrect,
                tag::POSITION_EFFECT.num,
                &raw(tag::POSITION_EFFECT.num),
                "positionEffect must be O (open, or 0) or C (close)",
            ))
        }
    };
    let model = match o.model {
        msg::DEFAULT => Ok(None),
        m if crate::manager::convert::model_name(m).is_some() => Ok(Some(m)),
        m => Err(other(
            tag::MAM_MODEL.num,
            &text(m),
            "MamModel: unknown model (0 default, 1 equity ... 9 equity-ratio)",
        )),
    };
    let min_lot_policy = match o.min_lot_policy {
        msg::DEFAULT => Ok(None),
        msg::POLICY_ZERO => Ok(Some(0)),
        msg::POLICY_ROUND_UP => Ok(Some(1)),
        v => Err(other(
            tag::MAM_MIN_LOT_POLICY.num,
            &text(v),
            "MamMinLotPolicy must be 0 (default), 1 (zero) or 2 (round-up)",
        )),
    };
    let f = OrderFields {
        raw: &raw,
        cl_ord_id: Some(o.cl_ord_id),
        close,
        orig_cl_ord_id: (o.orig_cl_ord_id != 0).then_some(Some(o.orig_cl_ord_id)),
        symbol: symbol_name(&o.symbol),
        side,
        qty: o.qty,
        ord_type,
        price: o.price,
        transact_time_ns: ts,
        model,
        routing: routing(o.routing),
        min_lot_policy,
        close_all: yes_no(
            o.close_all,
            tag::MAM_CLOSE_ALL.num,
            "MamCloseAll must be Y or N (or 0)",
        ),
        hold: yes_no(o.hold, tag::MAM_HOLD.num, "MamHold must be Y or N (or 0)"),
        stop_px: Ok(o.stop_px),
        stop_loss: Ok(o.stop_loss),
        take_profit: Ok(o.take_profit),
        stop_distance: positive(
            o.stop_distance,
            o.stop_distance.map_or(0, Price::raw),
            tag::MAM_STOP_DISTANCE.num,
            "MamStopDistance must be a positive price",
        ),
        reference: positive(
            o.reference,
            o.reference.map_or(0, Money::raw),
            tag::MAM_REFERENCE.num,
            "MamReference must be a positive amount",
        ),
    };
    master_from_fields(f, symbols, defaults)
}

fn ids(cl_ord_id: u64, orig: u64) -> Result<(u64, u64), MasterRefusal> {
    let order = order_id(
        Some(orig),
        tag::ORIG_CL_ORD_ID.num,
        &text(orig),
        "OrigClOrdID",
    )?;
    let id = order_id(
        Some(cl_ord_id),
        tag::CL_ORD_ID.num,
        &text(cl_ord_id),
        "ClOrdID",
    )?;
    Ok((order, id))
}

/// A MasterCancel → a cancel input. Never panics.
pub fn cancel_from_binary(c: &MasterCancel) -> Result<Input, MasterRefusal> {
    let (order, id) = ids(c.cl_ord_id, c.orig_cl_ord_id)?;
    Ok(Input::Cancel(CancelInput {
        ts_ns: transact_time(c.transact_time_ns)?,
        order_id: order,
        cancel_id: id,
    }))
}

/// A MasterReplace → an amend input, with the FIX edge's rules. Never panics.
pub fn amend_from_binary(
    r: &MasterReplace,
    symbols: &SymbolTable,
    defaults: &MasterDefaults,
) -> Result<Input, MasterRefusal> {
    let (order, id) = ids(r.cl_ord_id, r.orig_cl_ord_id)?;
    let ts = transact_time(r.transact_time_ns)?;
    let raw = |t: u32| match t {
        38 => opt_text(r.qty),
        44 => opt_text(r.price),
        99 => opt_text(r.stop_px),
        5107 => opt_text(r.stop_loss),
        5108 => opt_text(r.take_profit),
        55 => Cow::Borrowed(symbol_name(&r.symbol)),
        _ => Cow::Borrowed(&b""[..]),
    };
    let f = ReplaceFields {
        raw: &raw,
        order_id: order,
        id,
        transact_time_ns: ts,
        symbol: symbol_name(&r.symbol),
        qty: Ok(r.qty),
        stop_px: Ok(r.stop_px),
        price: Ok(r.price),
        stop_loss: Ok(r.stop_loss),
        take_profit: Ok(r.take_profit),
        routing: routing(r.routing),
    };
    amend_from_fields(f, symbols, defaults)
}

/// A ManagerClock → the manager's watermark: open → its TransactTime, closed → `u64::MAX`.
pub fn watermark_from_binary(c: &ManagerClock) -> Result<u64, MasterRefusal> {
    match c.status {
        CLOCK_OPEN => transact_time(c.transact_time_ns),
        CLOCK_CLOSED => Ok(u64::MAX),
        s => Err(malformed(
            RejectReason::ValueIncorrect,
            340,
            &text(s),
            "status must be 2 (open) or 3 (closed)",
        )),
    }
}

/// The [`MasterReject`] a refusal of message `ref_seq_no` (template `template`) prescribes,
/// the binary equivalent of the FIX edge's reply: malformed → (35=3), a refused order → (ER
/// 150=8), a refused cancel or replace → (35=9, CxlRejReason 99).
pub fn reject_of(
    r: &MasterRefusal,
    template: u16,
    ref_seq_no: u64,
    cl_ord_id: u64,
    orig_cl_ord_id: u64,
) -> MasterReject {
    let (kind, reason) = match r {
        MasterRefusal::Session { reason, .. } => (msg::REJECT_MALFORMED, reason.code() as u8),
        MasterRefusal::Order { .. }
            if template == crate::binary::codec::Template::MasterCancel as u16
                || template == crate::binary::codec::Template::MasterReplace as u16 =>
        {
            (msg::REJECT_CANCEL, 99)
        }
        MasterRefusal::Order { code, .. } => (msg::REJECT_ORDER, code.code() as u8),
    };
    MasterReject {
        ref_seq_no,
        cl_ord_id,
        orig_cl_ord_id,
        ref_tag_id: r.tag(),
        ref_template_id: template,
        kind,
        reason,
        text: MasterReject::text_field(&r.to_string()),
    }
}
