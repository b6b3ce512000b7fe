//! The engine's reports as the manager's FIX messages: an ExecutionReport (35=8) for every
//! change of a master order, an OrderCancelReject (35=9) for a cancel or replace the engine
//! refused. Every field comes from the journaled [`MasterReport`], so a replay writes the same
//! message; the ExecID is the report's journal sequence (unique across restarts).

use mam_core::engine::decision::{exec, MasterReport, RefusedCode};
use mam_core::engine::lifecycle::record::{
    MAX_CL_ORD_ID, ORDER_ID_SL, ORDER_ID_TP, REPORT_CLOSING, REPORT_TO_REPLACE,
};
use mam_core::event::OrdType;
use mam_core::num::Price;
use mam_core::pipeline::{AccountDirectory, ManagerReport};
use mam_core::symbol::SymbolTable;

use crate::fix::encode::MsgWriter;
use crate::fix::msg::msg_type;
use crate::fix::num::{fmt_u64, MAX_U64_DIGITS};
use crate::fix::tag::{self, Tag};

/// MamJournalSeq (5120): the report's journal sequence, on every ExecutionReport and
/// OrderCancelReject mam sends the manager, so a restart knows which reports went
/// ([`reported_up_to`]).
pub const TAG_JOURNAL_SEQ: u32 = tag::MAM_JOURNAL_SEQ.num;

/// The MsgType a report goes out as.
pub fn report_msg_type(r: &MasterReport) -> &'static [u8] {
    if r.exec_type == exec::CANCEL_REJECT {
        msg_type::ORDER_CANCEL_REJECT
    } else if r.exec_type == exec::ACCOUNT_ANSWER {
        super::account_request::ACCOUNT_ACK
    } else {
        msg_type::EXECUTION_REPORT
    }
}

/// Writes an order id as the manager knows it: its ClOrdID (without the manager's number the
/// engine keeps above it), or `SL<ticket>` / `TP<ticket>` for the engine's stop-loss and
/// take-profit closes.
fn put_order_id(w: &mut MsgWriter<'_>, t: Tag, id: u64) {
    let mut d = [0u8; MAX_U64_DIGITS + 2];
    let s = fmt_u64(
        id & MAX_CL_ORD_ID,
        (&mut d[2..]).try_into().expect("fixed size"),
    ) + 2;
    let prefix: &[u8] = if id & ORDER_ID_SL != 0 {
        b"SL"
    } else if id & ORDER_ID_TP != 0 {
        b"TP"
    } else {
        b""
    };
    let start = s - prefix.len();
    d[start..s].copy_from_slice(prefix);
    w.field(t, &d[start..]);
}

/// CxlRejReason (102) of a refusal: 0 too late, 1 unknown order, 3 already pending, 99 other.
fn cxl_rej_reason(code: u16) -> &'static [u8] {
    match RefusedCode::from_code(code) {
        Some(RefusedCode::TooLateToCancel) => b"0",
        Some(RefusedCode::UnknownMasterOrder) => b"1",
        Some(RefusedCode::AlreadyPendingCancel) => b"3",
        _ => b"99",
    }
}

/// Writes the body of report `m` (the caller sends it as [`report_msg_type`]); `accounts`
/// names the account of an answer to a MamAccountRequest (its index without it).
pub fn write_report(
    m: &ManagerReport,
    symbols: &SymbolTable,
    accounts: Option<&AccountDirectory>,
    w: &mut MsgWriter<'_>,
) {
    let r = &m.report;
    if r.exec_type == exec::ACCOUNT_ANSWER {
        return write_account_answer(m, accounts, w);
    }
    let mut ticket = [0u8; MAX_U64_DIGITS + 1];
    let s = fmt_u64(
        r.ticket & MAX_CL_ORD_ID,
        (&mut ticket[1..]).try_into().expect("fixed size"),
    );
    ticket[s] = b'T';
    let reason = RefusedCode::from_code(r.reason).map(RefusedCode::text);
    if r.exec_type == exec::CANCEL_REJECT {
        if r.ticket == 0 {
            w.field(tag::ORDER_ID, b"NONE");
        } else {
            w.field(tag::ORDER_ID, &ticket[s..]);
        }
        put_order_id(w, tag::CL_ORD_ID, r.request_id.max(1));
        put_order_id(w, tag::ORIG_CL_ORD_ID, r.order_id);
        w.char(tag::ORD_STATUS, r.ord_status.max(b'0'));
        w.char(
            tag::CXL_REJ_RESPONSE_TO,
            if r.flags & REPORT_TO_REPLACE != 0 {
                b'2'
            } else {
                b'1'
            },
        );
        w.field(tag::CXL_REJ_REASON, cxl_rej_reason(r.reason));
        if let Some(t) = reason {
            w.field(tag::TEXT, t.as_bytes());
        }
        w.u64(tag::MAM_JOURNAL_SEQ, m.journal_seq);
        return;
    }
    w.field(tag::ORDER_ID, &ticket[s..]);
    let mut id = [0u8; MAX_U64_DIGITS + 1];
    let s = fmt_u64(
        m.journal_seq,
        (&mut id[1..]).try_into().expect("fixed size"),
    );
    id[s] = b'E';
    w.field(tag::EXEC_ID, &id[s..]);
    if r.request_id != 0
        && matches!(
            r.exec_type,
            exec::CANCELED | exec::REPLACED | exec::PENDING_CANCEL
        )
    {
        put_order_id(w, tag::CL_ORD_ID, r.request_id);
        put_order_id(w, tag::ORIG_CL_ORD_ID, r.order_id);
    } else {
        put_order_id(w, tag::CL_ORD_ID, r.order_id);
    }
    // FIX 4.4 has no ExecType for a triggered order (L came with FIX 5.0): a trigger goes out
    // as Restated with ExecRestatementReason 99 and the Text "triggered".
    let wire_exec_type = if r.exec_type == exec::TRIGGERED {
        exec::RESTATED
    } else {
        r.exec_type
    };
    w.char(tag::EXEC_TYPE, wire_exec_type);
    w.char(tag::ORD_STATUS, r.ord_status);
    match symbols.by_id(r.instrument) {
        Some(s) if r.instrument != 0 || !s.name_str().is_empty() => {
            w.text(tag::SYMBOL, s.name_str().as_bytes());
        }
        _ => {
            w.field(tag::SYMBOL, b"NA");
        }
    }
    w.char(tag::SIDE, b'0' + r.side.clamp(1, 2));
    w.qty(tag::ORDER_QTY, r.order_qty);
    let ord_type = match r.ord_type {
        t if t == OrdType::Limit as u8 => b'2',
        t if t == OrdType::Stop as u8 => b'3',
        _ => b'1',
    };
    w.char(tag::ORD_TYPE, ord_type);
    if r.price.raw() > 0 {
        w.price(
            if ord_type == b'3' {
                tag::STOP_PX
            } else {
                tag::PRICE
            },
            r.price,
        );
    }
    if r.flags & REPORT_CLOSING != 0 {
        w.char(tag::POSITION_EFFECT, b'C');
    }
    if r.exec_type == exec::TRADE {
        w.qty(tag::LAST_QTY, r.last_qty);
        w.price(tag::LAST_PX, r.last_px);
    }
    w.qty(tag::LEAVES_QTY, r.leaves_qty);
    w.qty(tag::CUM_QTY, r.cum_qty);
    w.price(tag::AVG_PX, r.avg_px);
    if r.stop_loss != Price::ZERO {
        w.price(tag::MAM_STOP_LOSS, r.stop_loss);
    }
    if r.take_profit != Price::ZERO {
        w.price(tag::MAM_TAKE_PROFIT, r.take_profit);
    }
    if r.exec_type == exec::REJECTED {
        // 99 Other: the Text names the engine's reason.
        w.u64(tag::ORD_REJ_REASON, 99);
    }
    if wire_exec_type == exec::RESTATED {
        // ExecRestatementReason is required with ExecType D; 99 Other, the Text says why.
        w.u64(tag::EXEC_RESTATEMENT_REASON, 99);
    }
    match reason {
        Some(t) => {
            w.field(tag::TEXT, t.as_bytes());
        }
        None if r.exec_type == exec::TRIGGERED => {
            w.field(tag::TEXT, b"triggered");
        }
        None if r.exec_type == exec::RESTATED => {
            w.field(tag::TEXT, b"stop-loss/take-profit set");
        }
        None => {}
    }
    w.timestamp(tag::TRANSACT_TIME, r.ts_ns);
    w.u64(tag::MAM_JOURNAL_SEQ, m.journal_seq);
}

/// The highest journal sequence of a report the manager session's store holds as sent (0 if
/// none yet; `None` if there is no store: a new session, owed nothing): reports after it were
/// journaled but never sent.
pub fn reported_up_to(
    store_dir: &std::path::Path,
) -> Result<Option<u64>, crate::fix::store::StoreError> {
    if !store_dir.join("seqnums").exists() {
        return Ok(None);
    }
    let store = crate::fix::store::Store::open(store_dir)?;
    let mut dec = crate::fix::decode::Decoder::new();
    let mut up_to = 0;
    for seq in 1..store.next_sender_seq() {
        let Some(m) = store.get(seq).and_then(|b| dec.decode(b).ok()) else {
            continue;
        };
        if !matches!(m.msg_type(), b"8" | b"9") {
            continue;
        }
        if let Some(v) = m
            .get(TAG_JOURNAL_SEQ)
            .and_then(|v| crate::fix::num::parse_u64(v).ok())
        {
            up_to = up_to.max(v);
        }
    }
    Ok(Some(up_to))
}

/// MamAccountAck (35=UB) of a request the engine applied or refused.
fn write_account_answer(
    m: &ManagerReport,
    accounts: Option<&AccountDirectory>,
    w: &mut MsgWriter<'_>,
) {
    let r = &m.report;
    w.u64(tag::MAM_ACCOUNT_REQ_ID, r.order_id & MAX_CL_ORD_ID);
    let index = u32::try_from(r.request_id).unwrap_or(u32::MAX);
    match accounts.and_then(|d| d.get(index)) {
        Some(id) => {
            let end = id.iter().position(|&c| c == 0).unwrap_or(id.len());
            w.text(tag::ACCOUNT, &id[..end]);
        }
        // No account (an add refused): the request id says which request it answers.
        None if index == u32::MAX => {}
        None => {
            w.u64(tag::ACCOUNT, r.request_id);
        }
    }
    let refused = r.ord_status == exec::REJECTED;
    w.char(tag::MAM_ACCOUNT_STATUS, if refused { b'1' } else { b'0' });
    if let Some(t) = RefusedCode::from_code(r.reason).filter(|_| refused) {
        w.field(tag::TEXT, t.text().as_bytes());
    }
    w.u64(tag::MAM_JOURNAL_SEQ, m.journal_seq);
}
