//! `GET /api/manager` and `PATCH /api/manager`: the manager session an operator steers — who
//! it is, its counters, and the defaults of masters that name no model, routing or min-lot
//! policy, among them static or adaptive allocation.
//!
//! The defaults are edge settings, not engine state: the manager stage loads them once per
//! duty cycle from one atomic word, and each master's resolved model, routing, policy and
//! adaptive flag are in its own journaled input, so a replay needs none of this (a restart
//! starts again from the config file's `[engine]` keys).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use mam_gateway::manager::{
    model_from_name, model_name, policy_from_name, policy_name, routing_from_name, routing_name,
    MasterDefaults, SharedDefaults,
};
use serde_json::{json, Map, Value};

use super::views::error;
use super::writes::object;
use super::AdminShared;

/// The manager session as the admin API shows it.
#[derive(Debug, Clone)]
pub struct ManagerInfo {
    /// Our CompID.
    pub comp_id: String,
    /// The manager's CompID.
    pub peer_comp_id: String,
    /// The manager stage's live defaults.
    pub defaults: Arc<SharedDefaults>,
}

/// One manager session as `GET /api/managers` lists it.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    /// Its number (the accounts' `manager`).
    pub number: u8,
    /// Where it listens.
    pub listen: String,
    /// Our CompID.
    pub comp_id: String,
    /// The manager's CompID.
    pub peer_comp_id: String,
}

/// `GET /api/managers`: every manager session, its counters and the accounts that follow it
/// (from the engine's latest snapshot).
pub async fn managers(State(s): State<Arc<AdminShared>>) -> Response {
    let followers = super::views::with_snapshot(&s, |snap| {
        let mut by: std::collections::BTreeMap<u8, Vec<Value>> = Default::default();
        for a in &snap.accounts {
            by.entry(mam_core::account::manager_of(a.flags))
                .or_default()
                .push(json!(super::views::text_id(&a.id)));
        }
        by
    });
    let live = s.live.lock().unwrap_or_else(|e| e.into_inner());
    let sessions = s.sessions.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let list: Vec<Value> = sessions
        .iter()
        .map(|m| {
            let prefix = format!("manager{}-", m.number);
            let counters: Map<String, Value> = live
                .edges
                .iter()
                .filter_map(|(k, v)| {
                    let k = if m.number == 0 {
                        ["manager-", "masters-", "positions-", "reports"]
                            .iter()
                            .any(|p| k.starts_with(p))
                            .then_some(k.to_string())
                    } else {
                        k.strip_prefix(&prefix).map(str::to_string)
                    }?;
                    Some((k, json!(v)))
                })
                .collect();
            json!({
                "number": m.number,
                "listen": m.listen,
                "comp_id": m.comp_id,
                "peer_comp_id": m.peer_comp_id,
                "accounts": followers.get(&m.number).cloned().unwrap_or_default(),
                "counters": counters,
            })
        })
        .collect();
    Json(json!({ "managers": list })).into_response()
}

fn defaults_json(d: &MasterDefaults) -> Value {
    json!({
        "model": model_name(d.model).unwrap_or("?"),
        "routing": routing_name(d.routing),
        "min_lot_policy": policy_name(d.min_lot_policy),
        "allocation": if d.adaptive { "adaptive" } else { "static" },
    })
}

fn no_manager() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "manager",
        "the manager session is not enabled ([manager] enabled = false)",
    )
}

/// `GET /api/manager`.
pub async fn manager(State(s): State<Arc<AdminShared>>) -> Response {
    match manager_json(&s) {
        Value::Null => no_manager(),
        v => Json(v).into_response(),
    }
}

/// The manager session as `GET /api/manager` shows it (null without one).
pub fn manager_json(s: &AdminShared) -> Value {
    let Some(m) = s.manager.as_ref() else {
        return Value::Null;
    };
    let counters: Map<String, Value> = {
        let live = s.live.lock().unwrap_or_else(|e| e.into_inner());
        live.edges
            .iter()
            .filter(|(k, _)| {
                ["manager-", "masters-", "positions-", "reports"]
                    .iter()
                    .any(|p| k.starts_with(p))
            })
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect()
    };
    json!({
        "comp_id": m.comp_id,
        "peer_comp_id": m.peer_comp_id,
        "defaults": defaults_json(&m.defaults.load()),
        "counters": counters,
    })
}

fn name<'a>(m: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, Response> {
    match m.get(key) {
        None => Ok(None),
        Some(Value::String(t)) => Ok(Some(t)),
        Some(_) => Err(error(StatusCode::BAD_REQUEST, key, "expected a string")),
    }
}

fn bad(key: &str, expected: &str) -> Response {
    error(
        StatusCode::UNPROCESSABLE_ENTITY,
        key,
        &format!("expected {expected}"),
    )
}

/// `PATCH /api/manager` `{"allocation": "adaptive", "model": "equity", "routing": "block",
/// "min_lot_policy": "zero"}` (any of them): the defaults of the next masters that name none.
/// Checked whole before anything changes.
pub async fn change_manager(State(s): State<Arc<AdminShared>>, body: Bytes) -> Response {
    let Some(m) = s.manager.as_ref() else {
        return no_manager();
    };
    let keys = ["allocation", "model", "routing", "min_lot_policy"];
    let b = match object(&body, &keys) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if b.is_empty() {
        return error(StatusCode::BAD_REQUEST, "body", "no default to change");
    }
    let parsed = (|| {
        let mut d = m.defaults.load();
        if let Some(a) = name(&b, "allocation")? {
            d.adaptive = match a {
                "adaptive" => true,
                "static" => false,
                _ => return Err(bad("allocation", "\"static\" or \"adaptive\"")),
            };
        }
        if let Some(v) = name(&b, "model")? {
            d.model = model_from_name(v.as_bytes()).ok_or_else(|| {
                bad("model", "equity, balance, free-margin, percent, multiplier, fixed, risk, balance-ratio or equity-ratio")
            })?;
        }
        if let Some(v) = name(&b, "routing")? {
            d.routing = routing_from_name(v.as_bytes())
                .ok_or_else(|| bad("routing", "\"block\" or \"per-account\""))?;
        }
        if let Some(v) = name(&b, "min_lot_policy")? {
            d.min_lot_policy = policy_from_name(v.as_bytes())
                .ok_or_else(|| bad("min_lot_policy", "\"zero\" or \"round-up\""))?;
        }
        Ok(d)
    })();
    match parsed {
        Ok(d) => {
            m.defaults.store(d);
            Json(json!({ "applied": true, "defaults": defaults_json(&d) })).into_response()
        }
        Err(r) => r,
    }
}
