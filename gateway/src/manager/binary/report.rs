//! The engine's reports as binary [`MasterReport`]s: the same journaled fields the FIX edge
//! writes into an ExecutionReport or OrderCancelReject, at fixed offsets, with the journal
//! sequence as ExecID (so a restart knows which reports went: [`reported_up_to`]).

use std::path::Path;

use mam_core::engine::decision::{exec, RefusedCode};
use mam_core::engine::lifecycle::record::{
    MAX_CL_ORD_ID, ORDER_ID_SL, ORDER_ID_TP, REPORT_CLOSING, REPORT_TO_REPLACE,
};
use mam_core::event::OrdType;
use mam_core::pipeline::ManagerReport;
use mam_core::symbol::SymbolTable;

use crate::binary::codec::{decode, AppMessage, Message, Template};
use crate::binary::master_msg::{self as msg, MasterReport};
use crate::binary::store::{SeqStore, StoreError};

/// CxlRejReason of a refused cancel or replace: 0 too late, 1 unknown order, 3 already
/// pending, 99 other (as the FIX edge's).
fn cxl_rej_reason(code: u16) -> u8 {
    match RefusedCode::from_code(code) {
        Some(RefusedCode::TooLateToCancel) => 0,
        Some(RefusedCode::UnknownMasterOrder) => 1,
        Some(RefusedCode::AlreadyPendingCancel) => 3,
        _ => 99,
    }
}

/// Report `m` as the manager hears it over binary order entry.
pub fn master_report(m: &ManagerReport, symbols: &SymbolTable) -> MasterReport {
    let r = &m.report;
    let mut flags = 0;
    if r.flags & REPORT_CLOSING != 0 {
        flags |= msg::REPORT_CLOSING;
    }
    if r.flags & REPORT_TO_REPLACE != 0 {
        flags |= msg::REPORT_TO_REPLACE;
    }
    if r.order_id & ORDER_ID_SL != 0 {
        flags |= msg::REPORT_STOP_LOSS;
    }
    if r.order_id & ORDER_ID_TP != 0 {
        flags |= msg::REPORT_TAKE_PROFIT;
    }
    // Ids as the manager knows them: without its number (bits 56-61) or the SL/TP bits.
    let own = |id: u64| id & MAX_CL_ORD_ID;
    let request = r.exec_type == exec::CANCEL_REJECT
        || (r.request_id != 0
            && matches!(
                r.exec_type,
                exec::CANCELED | exec::REPLACED | exec::PENDING_CANCEL
            ));
    let (cl_ord_id, orig_cl_ord_id) = if request {
        (own(r.request_id.max(1)), own(r.order_id))
    } else {
        (own(r.order_id), 0)
    };
    let ord_type = match r.ord_type {
        t if t == OrdType::Limit as u8 => 2,
        t if t == OrdType::Stop as u8 => 3,
        _ => 1,
    };
    let symbol = symbols
        .by_id(r.instrument)
        .map(|s| msg::symbol_field(s.name_str()))
        .unwrap_or_default();
    MasterReport {
        cl_ord_id,
        orig_cl_ord_id,
        order_id: own(r.ticket),
        exec_id: m.journal_seq,
        order_qty: r.order_qty,
        cum_qty: r.cum_qty,
        leaves_qty: r.leaves_qty,
        last_qty: r.last_qty,
        last_px: r.last_px,
        avg_px: r.avg_px,
        price: r.price,
        stop_loss: r.stop_loss,
        take_profit: r.take_profit,
        transact_time_ns: r.ts_ns,
        symbol,
        reason: r.reason,
        exec_type: r.exec_type,
        ord_status: r.ord_status,
        side: r.side,
        ord_type,
        flags,
        cxl_rej_reason: if r.exec_type == exec::CANCEL_REJECT {
            cxl_rej_reason(r.reason)
        } else {
            0
        },
    }
}

/// The highest journal sequence of a report the binary session's store at `path` holds as
/// sent (0 if none; `None` without a store: a new session is owed nothing). The store keeps
/// the last `capacity` messages, and reports go out in journal order, so the newest one it
/// holds is the highest.
pub fn reported_up_to(
    path: &Path,
    session_id: u64,
    capacity: u32,
) -> Result<Option<u64>, StoreError> {
    if !path.exists() {
        return Ok(None);
    }
    let store = SeqStore::open(path, session_id, capacity)?;
    let mut up_to = 0;
    for seq in store.oldest_out()..store.next_out() {
        let Some(Ok((Message::App(v), _))) = store.get_out(seq).map(decode) else {
            continue;
        };
        if v.template() != Template::MasterReport {
            continue;
        }
        if let AppMessage::MasterReport(r) = v.to_owned_message() {
            up_to = up_to.max(r.exec_id);
        }
    }
    Ok(Some(up_to))
}
