//! Read endpoints: JSON views of the engine's snapshot and the stats thread's figures. Money,
//! prices, quantities and ratios are decimal strings (exact, as the engine holds them); counts
//! are JSON integers.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use mam_core::account::{FLAG_ACTIVE, FLAG_CLOSE_ONLY, FLAG_LIMIT_CLOSE_ONLY_SET};
use mam_core::engine::snapshot::{AccountView, EngineSnapshot, TicketView};
use mam_core::num::{Lots, Qty, Ratio};
use mam_core::symbol::currency_str;
use serde_json::{json, Value};

use super::live::LatencySummary;
use super::AdminShared;

/// A JSON error naming what was wrong (`field`) and why.
pub fn error(status: StatusCode, field: &str, msg: &str) -> Response {
    (status, Json(json!({ "error": msg, "field": field }))).into_response()
}

/// Unknown paths: a JSON 404.
pub async fn not_found(uri: axum::http::Uri) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "path",
        &format!("no such endpoint: {}", uri.path()),
    )
}

/// Runs `f` on the latest snapshot.
pub fn with_snapshot<T>(s: &AdminShared, f: impl FnOnce(&EngineSnapshot) -> T) -> T {
    let mut r = s.snapshot.lock().unwrap_or_else(|e| e.into_inner());
    f(r.read())
}

pub(super) fn text_id(id: &[u8]) -> String {
    let end = id.iter().position(|&b| b == 0).unwrap_or(id.len());
    String::from_utf8_lossy(&id[..end]).into_owned()
}

/// `active`, `inactive` or `close_only` (the operator's setting; a loss-limit hold is shown
/// apart as `limit_hold`).
pub fn status_name(flags: u16) -> &'static str {
    if flags & FLAG_ACTIVE == 0 {
        "inactive"
    } else if flags & FLAG_CLOSE_ONLY != 0 {
        "close_only"
    } else {
        "active"
    }
}

fn side_name(side: u8) -> &'static str {
    match side {
        s if s == mam_core::event::Side::Buy as u8 => "buy",
        s if s == mam_core::event::Side::Sell as u8 => "sell",
        _ => "?",
    }
}

fn symbol_name(s: &AdminShared, instrument: u32) -> String {
    s.symbols
        .by_id(instrument)
        .map_or_else(|| format!("#{instrument}"), |x| x.name_str().to_string())
}

/// Base units as lots of `instrument` (toward zero; display only).
fn lots_of(s: &AdminShared, instrument: u32, qty: Qty) -> String {
    match s.symbols.by_id(instrument) {
        Some(spec) if spec.contract_size.raw() > 0 => {
            let l = i128::from(qty.raw()) * i128::from(Lots::ONE_RAW)
                / i128::from(spec.contract_size.raw());
            i64::try_from(l).map_or_else(|_| "?".into(), |l| Lots(l).to_string())
        }
        _ => "?".into(),
    }
}

/// Drawdown from the high-water mark as a fraction (6 decimals, toward zero).
fn drawdown(a: &AccountView) -> Ratio {
    let hwm = i128::from(a.equity_hwm.raw());
    let eq = i128::from(a.equity.raw());
    if hwm <= 0 || eq >= hwm {
        return Ratio(0);
    }
    Ratio(((hwm - eq) * i128::from(Ratio::ONE_RAW) / hwm) as i64)
}

fn account_json(s: &AdminShared, snap: &EngineSnapshot, a: &AccountView) -> Value {
    let (from, to) = (a.positions.0 as usize, a.positions.1 as usize);
    let positions: Vec<Value> = snap.positions[from..to]
        .iter()
        .map(|p| {
            json!({
                "symbol": symbol_name(s, p.instrument),
                "qty": p.qty.to_string(),
                "lots": lots_of(s, p.instrument, p.qty),
                "avg_price": p.avg_price.map(|x| x.to_string()),
                "unrealised": p.unrealised.to_string(),
            })
        })
        .collect();
    json!({
        "index": a.index,
        "id": text_id(&a.id),
        "currency": currency_str(&a.currency),
        "status": status_name(a.flags),
        "limit_hold": a.flags & FLAG_LIMIT_CLOSE_ONLY_SET != 0,
        "balance": a.balance.to_string(),
        "equity": a.equity.to_string(),
        "margin": a.margin.to_string(),
        "free_margin": mam_core::num::Money(a.equity.raw().saturating_sub(a.margin.raw())).to_string(),
        "margin_level": a.margin_level.map(|l| l.to_string()),
        "equity_hwm": a.equity_hwm.to_string(),
        "drawdown": drawdown(a).to_string(),
        "leverage": a.leverage,
        "multiplier": a.multiplier.to_string(),
        "percent": a.percent.to_string(),
        "risk_fraction": a.risk_fraction.to_string(),
        "drawdown_tolerance": a.drawdown_tolerance.to_string(),
        "min_scale": a.min_scale.to_string(),
        "max_scale": a.max_scale.to_string(),
        "daily_loss_limit": a.daily_loss_limit.to_string(),
        "fixed_lots": a.fixed_lots.to_string(),
        "commission_per_lot": a.commission_per_lot.to_string(),
        "margin_call_level": a.margin_call_level.to_string(),
        "stop_out_level": a.stop_out_level.to_string(),
        "limit_action": if a.flags & mam_core::account::FLAG_LIMIT_FLATTEN != 0 { "flatten" } else { "close-only" },
        "manager": mam_core::account::manager_of(a.flags),
        "cluster": a.cluster,
        "positions": positions,
    })
}

/// The account whose id (or, as `#N`, index) is `key`.
pub fn find_account<'a>(snap: &'a EngineSnapshot, key: &str) -> Option<&'a AccountView> {
    if let Some(i) = key.strip_prefix('#').and_then(|n| n.parse::<usize>().ok()) {
        return snap.accounts.get(i);
    }
    snap.accounts.iter().find(|a| text_id(&a.id) == key)
}

fn ticket_json(s: &AdminShared, snap: &EngineSnapshot, t: &TicketView, split: bool) -> Value {
    let step = s
        .symbols
        .by_id(t.instrument)
        .map_or(0, |x| x.lot_step.raw());
    let at = t.holdings_at as usize;
    let holdings = snap
        .holdings
        .get(at..at + snap.accounts.len())
        .unwrap_or(&[]);
    let mut v = json!({
        "ticket": t.ticket,
        "symbol": symbol_name(s, t.instrument),
        "side": side_name(t.side),
        "master_lots": Lots(t.master_steps as i64 * step).to_string(),
        "accounts_holding": holdings.iter().filter(|&&h| h > 0).count(),
        "working_orders": t.working,
    });
    if split {
        v["split"] = holdings
            .iter()
            .enumerate()
            .filter(|(_, &h)| h > 0)
            .map(|(i, &h)| {
                json!({
                    "account": text_id(&snap.accounts[i].id),
                    "lots": Lots(h as i64 * step).to_string(),
                })
            })
            .collect();
    }
    v
}

/// `GET /api/status`.
pub async fn status(State(s): State<Arc<AdminShared>>) -> Response {
    Json(status_json(&s)).into_response()
}

/// The status document (also each dashboard event's `status`).
pub fn status_json(s: &AdminShared) -> Value {
    let e = &s.engine;
    let snap = with_snapshot(s, |snap| {
        let c = &snap.counters;
        json!({
            "snapshot_seq": snap.seq,
            "snapshot_version": snap.version,
            "kill_switch": snap.kill_switch,
            "adaptive_on": snap.adaptive_on,
            "accounts": snap.accounts.len(),
            "open_tickets": snap.tickets.len(),
            "open_orders": snap.orders.len(),
            "counters": {
                "inputs": c.inputs, "opens": c.opens, "closes": c.closes,
                "balance_changes": c.balance_changes, "fills": c.fills,
                "orders": c.orders, "child_orders": c.child_orders,
                "block_orders": c.block_orders, "risk_rejects": c.risk_rejects,
                "refused": c.refused, "margin_calls": c.margin_calls,
                "stop_outs": c.stop_outs, "limit_holds": c.limit_holds,
                "invariant_failures": c.invariant_failures,
            },
        })
    });
    let rings: Vec<Value> = s
        .rings
        .iter()
        .map(|(n, r)| {
            json!({
                "name": n, "depth": r.depth(), "pushed": r.pushed.load(Relaxed),
                "full": r.full.load(Relaxed), "wait_ns": r.wait_ns.load(Relaxed),
            })
        })
        .collect();
    let live = s.live.lock().unwrap_or_else(|x| x.into_inner());
    let edges: serde_json::Map<String, Value> = live
        .edges
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    json!({
        "uptime_s": s.started.elapsed().as_secs(),
        "engine": snap,
        "journal": {
            "seq": e.journal_seq.load(Relaxed),
            "synced_seq": e.synced_seq.load(Relaxed),
            "checkpoints": e.checkpoints.load(Relaxed),
            "syncs": e.syncs.load(Relaxed),
        },
        "stage": {
            "inputs": e.inputs.load(Relaxed), "market": e.market.load(Relaxed),
            "masters": e.masters.load(Relaxed), "fills": e.fills.load(Relaxed),
            "admin": e.admin.load(Relaxed), "orders": e.orders.load(Relaxed),
        },
        "rings": rings,
        "edges": edges,
    })
}

/// `GET /api/accounts`.
pub async fn accounts(State(s): State<Arc<AdminShared>>) -> Response {
    Json(json!({ "accounts": accounts_json(&s) })).into_response()
}

/// Every account.
pub fn accounts_json(s: &AdminShared) -> Vec<Value> {
    with_snapshot(s, |snap| {
        snap.accounts
            .iter()
            .map(|a| account_json(s, snap, a))
            .collect()
    })
}

/// `GET /api/accounts/{id}` (`#N` for the account at index N).
pub async fn account(State(s): State<Arc<AdminShared>>, Path(id): Path<String>) -> Response {
    let v = with_snapshot(&s, |snap| {
        find_account(snap, &id).map(|a| account_json(&s, snap, a))
    });
    match v {
        Some(v) => Json(v).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "id",
            &format!("unknown account {id:?}"),
        ),
    }
}

/// `GET /api/tickets`.
pub async fn tickets(State(s): State<Arc<AdminShared>>) -> Response {
    Json(json!({ "tickets": tickets_json(&s) })).into_response()
}

/// Every open ticket (without the split).
pub fn tickets_json(s: &AdminShared) -> Vec<Value> {
    with_snapshot(s, |snap| {
        snap.tickets
            .iter()
            .map(|t| ticket_json(s, snap, t, false))
            .collect()
    })
}

/// Ticket `id` with its per-account split (`null` if it is not open).
pub fn ticket_split_json(s: &AdminShared, id: u64) -> Value {
    with_snapshot(s, |snap| {
        snap.tickets
            .iter()
            .find(|x| x.ticket == id)
            .map_or(Value::Null, |x| ticket_json(s, snap, x, true))
    })
}

/// `GET /api/tickets/{ticket}`: with its per-account split.
pub async fn ticket(State(s): State<Arc<AdminShared>>, Path(t): Path<String>) -> Response {
    let Ok(id) = t.parse::<u64>() else {
        return error(StatusCode::BAD_REQUEST, "ticket", "not a ticket number");
    };
    match ticket_split_json(&s, id) {
        Value::Null => error(
            StatusCode::NOT_FOUND,
            "ticket",
            &format!("no open ticket {id}"),
        ),
        v => Json(v).into_response(),
    }
}

/// `GET /api/orders`: the orders the engine tracks (all at the one LP session).
pub async fn orders(State(s): State<Arc<AdminShared>>) -> Response {
    let v = with_snapshot(&s, |snap| {
        snap.orders
            .iter()
            .map(|o| {
                json!({
                    "cl_ord_id": o.cl_ord_id,
                    "ticket": o.ticket,
                    "account": if o.account == u32::MAX {
                        "block".to_string()
                    } else {
                        snap.accounts.get(o.account as usize).map_or("?".into(), |a| text_id(&a.id))
                    },
                    "symbol": symbol_name(&s, o.instrument),
                    "side": side_name(o.side),
                    "closing": o.closing,
                    "qty": o.qty.to_string(),
                    "filled": o.cum.to_string(),
                })
            })
            .collect::<Vec<_>>()
    });
    Json(json!({ "lp": "lp", "orders": v })).into_response()
}

/// One summary as JSON (µs with 3 decimals: figures for people, not state).
pub fn summary_json(h: &LatencySummary) -> Value {
    let us = |ns: u64| format!("{}.{:03}", ns / 1_000, ns % 1_000);
    json!({
        "count": h.count,
        "p50_us": us(h.p50), "p90_us": us(h.p90), "p99_us": us(h.p99),
        "p999_us": us(h.p999), "max_us": us(h.max),
    })
}

/// `GET /api/latency`: per stage metric, the run and the last interval.
pub async fn latency(State(s): State<Arc<AdminShared>>) -> Response {
    Json(latency_json(&s)).into_response()
}

/// The latency document.
pub fn latency_json(s: &AdminShared) -> Value {
    let live = s.live.lock().unwrap_or_else(|x| x.into_inner());
    let mut out = serde_json::Map::new();
    for (name, t) in &live.totals {
        out.insert(
            name.to_string(),
            json!({
                "run": summary_json(t),
                "last_interval": live.last.get(name).map(summary_json),
            }),
        );
    }
    json!({ "intervals": live.intervals, "metrics": out })
}

/// `GET /api/risk-limits`: the engine-wide pre-trade risk limits in force.
pub async fn risk_limits(State(s): State<Arc<AdminShared>>) -> Response {
    let l = with_snapshot(&s, |snap| snap.limits);
    let Some(l) = l else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "engine", "no snapshot yet");
    };
    Json(json!({
        "max_order_qty": l.max_order_qty.to_string(),
        "max_order_notional": l.max_order_notional.to_string(),
        "max_account_qty": l.max_account_qty.to_string(),
        "max_account_notional": l.max_account_notional.to_string(),
        "max_account_open_orders": l.max_account_open_orders,
        "max_open_orders": l.max_open_orders,
        "collar_bps": l.collar_bps.unwrap_or(0),
        "max_orders_per_sec": l.max_orders_per_sec,
        "max_position_qty": l.max_position_qty.to_string(),
        "max_position_notional": l.max_position_notional.to_string(),
        "max_account_position_notional": l.max_account_position_notional.to_string(),
    }))
    .into_response()
}
