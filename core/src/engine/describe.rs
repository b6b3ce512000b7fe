//! Readable forms of the engine's journal records (`mam journal dump`): one function per family
//! of records (marks, inputs, orders, allocations, limits, adaptive sizing, reports), each line
//! `name=value` pairs in the record's field order.

use super::{
    limit_event, trigger_name, AllocSummary, Decision, LimitEvent, MasterReport, RefusedCode,
    ACTION_OPEN, ACTION_REBALANCE,
};
use crate::adaptive::factors::as_factor as factor;
use crate::adaptive::{AdaptiveAccount, AdaptiveTicket};
use crate::engine::input::Input;
use crate::risk::RiskReject;

/// A readable form of an engine journal record (for `mam journal dump`); `None` if the kind is
/// not the engine's or the payload does not decode.
pub fn describe(kind: u16, payload: &[u8]) -> Option<String> {
    if let Some(m) = mark(kind, payload) {
        return Some(m);
    }
    if let Some(i) = Input::decode(kind, payload) {
        return Some(input(i));
    }
    Some(decision(Decision::decode(kind, payload)?))
}

/// The records that mark the journal rather than say what happened: model marks and origins.
fn mark(kind: u16, payload: &[u8]) -> Option<String> {
    if kind == crate::engine::model_mark::KIND_MODEL_MARK && payload.len() == 16 {
        let m: crate::engine::model_mark::ModelMark = bytemuck::pod_read_unaligned(payload);
        return Some(format!("ts={} fingerprint={:016x}", m.ts_ns, m.fingerprint));
    }
    if kind == crate::engine::origin::KIND_ORIGIN && payload.len() == 16 {
        let o: crate::engine::origin::Origin = bytemuck::pod_read_unaligned(payload);
        if o.parts > 1 {
            return Some(format!(
                "source={} seq={} part={}/{}",
                o.source,
                o.seq,
                o.part + 1,
                o.parts
            ));
        }
        return Some(format!("source={} seq={}", o.source, o.seq));
    }
    None
}

/// An input, one arm per kind.
fn input(i: Input) -> String {
    match i {
        Input::Open(o) => format!(
            "ts={} ticket={} instrument={} side={} lots={} model={} policy={} mode={} limit={} sl={}",
            o.ts_ns, o.ticket, o.instrument, o.side, o.lots, o.model, o.policy, o.mode,
            o.limit_price, o.sl_distance
        ),
        Input::Close(c) => format!(
            "ts={} ticket={} lots={} full={} residual={} mode={}",
            c.ts_ns, c.ticket, c.lots, c.full, c.residual, c.mode
        ),
        Input::Balance(b) => {
            format!("ts={} account={} amount={}", b.ts_ns, b.account, b.amount)
        }
        Input::Fill(f) => format!(
            "ts={} cl_ord_id={} exec_id={} last_qty={} last_px={} cum={} leaves={} status={}",
            f.recv_ns, f.cl_ord_id, f.exec_id, f.last_qty, f.last_px, f.cum_qty,
            f.leaves_qty, f.status as char
        ),
        Input::Market(m) => format!(
            "ts={} instrument={} kind={} bid={} ask={}",
            m.source_ns, m.instrument, m.kind, m.bid, m.ask
        ),
        Input::Risk(r) => format!("ts={} action={}", r.ts_ns, r.action),
        Input::Cancel(c) => format!(
            "ts={} order={} cancel_id={}",
            c.ts_ns, c.order_id, c.cancel_id
        ),
        Input::Amend(a) => format!(
            "ts={} order={} amend_id={} lots={} price={} sl={} tp={} flags={:#x} mode={}",
            a.ts_ns, a.order_id, a.amend_id, a.lots, a.price, a.stop_loss, a.take_profit,
            a.flags, a.mode
        ),
        Input::Limit(c) => format!(
            "ts={} limit={} value={}",
            c.ts_ns,
            crate::engine::risk_change::limit_name(c.field).unwrap_or("?"),
            c.value
        ),
        Input::AddAccount(a) => format!(
            "ts={} id={} balance={} currency={} leverage={} cluster={} flags={}",
            a.ts_ns,
            crate::account::id_text(&a.id),
            a.balance,
            crate::account::id_text(&a.currency),
            a.leverage,
            a.cluster,
            a.flags
        ),
        Input::Account(c) => format!(
            "ts={} account={} field={} value={}",
            c.ts_ns,
            c.account,
            crate::engine::account_change::field_name(c.field).unwrap_or("?"),
            c.value
        ),
    }
}

/// `account` as a child order names it: `u32::MAX` is the block order's (`block`).
fn child_account(account: u32) -> String {
    if account == u32::MAX {
        "block".to_string()
    } else {
        account.to_string()
    }
}

/// A decision: child orders, rejects and refusals, triggers, switches; the longer records in
/// a function each.
fn decision(d: Decision) -> String {
    match d {
        Decision::Order(o) => format!(
            "cl_ord_id={} ticket={} account={} instrument={} side={} qty={} price={} type={}",
            o.cl_ord_id,
            o.master_ticket,
            child_account(o.account),
            o.instrument,
            o.side,
            o.qty,
            o.price,
            o.ord_type
        ),
        Decision::Reject(r) => format!(
            "cl_ord_id={} account={} code={} ({})",
            r.cl_ord_id,
            r.account,
            r.code,
            RiskReject::from_code(r.code).map_or("?", |c| c.text())
        ),
        Decision::Alloc(a) => alloc(&a),
        Decision::FillAlloc(f) => format!(
            "input={} cl_ord_id={} ticket={} qty={} px={} steps={} pending={} dealt={} accounts={} complete={}",
            f.input_seq, f.cl_ord_id, f.ticket, f.last_qty, f.last_px, f.steps, f.pending,
            f.dealt, f.accounts, f.complete
        ),
        Decision::Refused(r) => format!(
            "input={} kind={} reference={} code={} ({})",
            r.input_seq,
            r.input_kind,
            r.reference,
            r.code,
            RefusedCode::from_code(r.code).map_or("?", |c| c.text())
        ),
        Decision::Limit(l) => limit(&l),
        Decision::AdaptiveTicket(t) => adaptive_ticket(&t),
        Decision::AdaptiveAccount(a) => adaptive_account(&a),
        Decision::Report(r) => report(&r),
        Decision::Cancel(c) => format!(
            "cancel cl_ord_id={} ticket={} account={} instrument={} qty={}",
            c.cl_ord_id,
            c.master_ticket,
            child_account(c.account),
            c.instrument,
            c.qty
        ),
        Decision::Allocation(c) => format!(
            "block cl_ord_id={} ticket={} {} qty={} avg_px={}",
            c.cl_ord_id,
            c.master_ticket,
            if c.account == u32::MAX { "total".to_string() } else { format!("account={}", c.account) },
            c.qty,
            c.price
        ),
        Decision::Trigger(t) => format!(
            "input={} ticket={} {} level={} bid={} ask={}",
            t.input_seq,
            t.ticket,
            trigger_name(t.what),
            t.level,
            t.bid,
            t.ask
        ),
        Decision::AdaptiveSwitch(s) => format!(
            "input={} adaptive={}",
            s.input_seq,
            if s.on == 1 { "on" } else { "off (static rule)" }
        ),
    }
}

/// What an open, close or rebalance allocated.
fn alloc(a: &AllocSummary) -> String {
    format!(
        "input={} ticket={} action={} requested={} allocated={} unallocated={} dealt={} \
         rotation={} accounts={} orders={} rejected={} residual_accounts={} flags={}",
        a.input_seq,
        a.ticket,
        match a.action {
            ACTION_OPEN => "open",
            ACTION_REBALANCE => "rebalance",
            _ => "close",
        },
        a.requested,
        a.allocated,
        a.unallocated,
        a.dealt,
        a.rotation,
        a.accounts,
        a.orders,
        a.rejected,
        a.residual_accounts,
        a.flags
    )
}

/// A limit crossed or lifted, with the account's equity, margin and level then.
fn limit(l: &LimitEvent) -> String {
    format!(
        "input={} account={} event={} ({}) equity={} margin={} level={} threshold={} \
         action={} orders={}",
        l.input_seq,
        l.account,
        l.event,
        limit_event::text(l.event),
        crate::num::Money(l.equity),
        crate::num::Money(l.margin),
        if l.level < 0 {
            "none".to_string()
        } else {
            format!("{}%", crate::num::Ratio(l.level))
        },
        l.threshold,
        l.action,
        l.orders
    )
}

/// The shared factors of an adaptive allocation.
fn adaptive_ticket(t: &AdaptiveTicket) -> String {
    format!(
        "input={} ticket={} instrument={} regime={} sigma={} target={} vol={} \
         sqrt_qv={} spread={} slip_ppb={} requested={} static={} adaptive={}",
        t.input_seq,
        t.ticket,
        t.instrument,
        crate::adaptive::Regime::from_u8(t.regime).map_or("?", |r| r.name()),
        t.sigma,
        t.sigma_target,
        factor(t.vol),
        factor(t.sqrt_qv),
        factor(t.spread),
        t.slip_ppb,
        t.requested,
        t.static_total,
        t.adaptive_total
    )
}

/// One account's adaptive factors and size.
fn adaptive_account(a: &AdaptiveAccount) -> String {
    format!(
        "ticket={} account={} static={} steps={} vol={} liquidity={} spread={} \
         margin={} drawdown={} legs={} risk={} slippage={} product={} scale={} \
         flags={:#x}",
        a.ticket,
        a.account,
        a.static_steps,
        a.steps,
        factor(a.vol),
        factor(a.liquidity),
        factor(a.spread),
        factor(a.margin),
        factor(a.drawdown),
        factor(a.legs),
        factor(a.risk),
        factor(a.slippage),
        factor(a.product),
        factor(a.scale),
        a.flags
    )
}

/// A report for the manager.
fn report(r: &MasterReport) -> String {
    format!(
        "input={} order={} ticket={} exec_type={} ord_status={} qty={} cum={} leaves={} \
         last={}@{} avg={} price={} sl={} tp={} request={} reason={}",
        r.input_seq,
        r.order_id,
        r.ticket,
        r.exec_type as char,
        r.ord_status as char,
        r.order_qty,
        r.cum_qty,
        r.leaves_qty,
        r.last_qty,
        r.last_px,
        r.avg_px,
        r.price,
        r.stop_loss,
        r.take_profit,
        r.request_id,
        RefusedCode::from_code(r.reason).map_or("", |c| c.text())
    )
}
