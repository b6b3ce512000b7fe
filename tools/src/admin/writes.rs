//! Write endpoints: each request becomes journaled engine inputs on the admin queue, and the
//! answer is the engine's (the journal sequence, or its refusal mapped to a 4xx naming the
//! field). Bodies are parsed here, not by an extractor, so a malformed one gets a JSON error
//! that names the field; decimals are strings (`"1500.25"`), never JSON floats.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use mam_core::engine::account_change::{
    account_field as f, field_name, field_of, in_range, status, AccountChange,
};
use mam_core::engine::decision::RefusedCode;
use mam_core::engine::input::{
    BalanceChange, RiskCommand, ADAPTIVE_OFF, ADAPTIVE_ON, RISK_FLATTEN, RISK_KILL, RISK_RESET,
};
use mam_core::engine::Input;
use mam_core::num::{Lots, Money, Ratio};
use mam_core::pipeline::engine_stage::admin::{AdminOutcome, AdminRequest};
use serde_json::{json, Map, Value};

use super::views::{error, find_account, with_snapshot};
use super::AdminShared;

/// How long a request waits for the engine (it answers within a duty cycle unless stopped).
const ANSWER_WAIT: Duration = Duration::from_secs(5);

type Reply = Result<Response, Response>;

pub(super) fn now_ns() -> u64 {
    mam_gateway::fix::session::initiator::now_ns()
}

/// The body as a JSON object whose keys are all in `allowed`.
pub(super) fn object(body: &Bytes, allowed: &[&str]) -> Result<Map<String, Value>, Response> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| error(StatusCode::BAD_REQUEST, "body", &format!("not JSON: {e}")))?;
    let Value::Object(m) = v else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "body",
            "expected a JSON object",
        ));
    };
    if let Some(k) = m.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            k,
            &format!("unknown field {k:?}; expected one of {allowed:?}"),
        ));
    }
    Ok(m)
}

/// A decimal given as a string (or a JSON integer), exactly, with `decimals` places at most.
pub(super) fn decimal(m: &Map<String, Value>, key: &str, decimals: u32) -> Result<i64, Response> {
    let bad = |why: &str| error(StatusCode::BAD_REQUEST, key, why);
    let text = match m.get(key) {
        None => return Err(bad("missing")),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) if n.is_i64() => n.to_string(),
        Some(Value::Number(_)) => {
            return Err(bad(
                "give decimals as a string (\"1500.25\"): a JSON float is not exact",
            ))
        }
        Some(_) => return Err(bad("expected a decimal string")),
    };
    mam_core::num::parse_scaled(&text, decimals).map_err(|e| {
        bad(&format!(
            "{text:?} is not a decimal with at most {decimals} places: {e}"
        ))
    })
}

fn boolean(m: &Map<String, Value>, key: &str) -> Result<bool, Response> {
    match m.get(key) {
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(error(
            StatusCode::BAD_REQUEST,
            key,
            "expected true or false",
        )),
        None => Err(error(StatusCode::BAD_REQUEST, key, "missing")),
    }
}

/// Queues `input` and waits for the engine's answer.
pub(super) async fn submit(s: &AdminShared, input: Input) -> Result<AdminOutcome, Response> {
    let id = s.next_id.fetch_add(1, Relaxed) + 1;
    if s.queue.push(AdminRequest { id, input }).is_err() {
        return Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "engine",
            "the admin queue is full: try again",
        ));
    }
    let o = answer(|| s.queue.take_outcome(id), "the request").await?;
    if o.not_applied {
        return Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "engine",
            "the engine has stopped: nothing applied",
        ));
    }
    Ok(o)
}

/// Polls `take` until the engine's answer is there, at most [`ANSWER_WAIT`] (the engine answers
/// within a duty cycle unless it is stopping); then a 503 saying `what` may still apply.
async fn answer<T>(take: impl Fn() -> Option<T>, what: &str) -> Result<T, Response> {
    let t0 = Instant::now();
    loop {
        if let Some(o) = take() {
            return Ok(o);
        }
        if t0.elapsed() > ANSWER_WAIT {
            return Err(error(
                StatusCode::SERVICE_UNAVAILABLE,
                "engine",
                &format!(
                    "no answer from the engine within 5 s (stopping?): {what} may still apply"
                ),
            ));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// The engine's refusal as a 4xx naming `field`.
pub(super) fn refused(code: RefusedCode, field: &str) -> Response {
    let status = match code {
        RefusedCode::UnknownAccount => StatusCode::NOT_FOUND,
        RefusedCode::DuplicateAccount => StatusCode::CONFLICT,
        RefusedCode::BadField => StatusCode::BAD_REQUEST,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    error(
        status,
        field,
        &format!("refused by the engine: {}", code.text()),
    )
}

pub(super) fn account_index(s: &AdminShared, id: &str) -> Result<u32, Response> {
    with_snapshot(s, |snap| find_account(snap, id).map(|a| a.index)).ok_or_else(|| {
        error(
            StatusCode::NOT_FOUND,
            "id",
            &format!("unknown account {id:?}"),
        )
    })
}

pub(super) fn done(what: Value) -> Response {
    (StatusCode::OK, Json(what)).into_response()
}

/// `POST /api/accounts/{id}/balance` `{"amount": "250.00"}`: a deposit (positive) or a
/// withdrawal (negative; at most the free margin); `"rebalance": true` re-splits the open
/// tickets of the account's manager by the new equity weights (delta orders).
pub async fn balance(
    State(s): State<Arc<AdminShared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    balance_inner(&s, &id, &body).await.unwrap_or_else(|e| e)
}

async fn balance_inner(s: &AdminShared, id: &str, body: &Bytes) -> Reply {
    let m = object(body, &["amount", "rebalance"])?;
    let amount = decimal(&m, "amount", Money::DECIMALS)?;
    let rebalance = match m.get("rebalance") {
        None => false,
        Some(_) => boolean(&m, "rebalance")?,
    };
    if amount == 0 {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "amount",
            "zero changes nothing",
        ));
    }
    let account = account_index(s, id)?;
    let o = submit(
        s,
        Input::Balance(BalanceChange {
            ts_ns: now_ns(),
            amount: Money(amount),
            account,
            manager: 0,
            flags: if rebalance {
                mam_core::engine::input::BALANCE_REBALANCE
            } else {
                0
            },
            request_id: 0,
        }),
    )
    .await?;
    if let Some((code, _)) = o.refused {
        return Err(refused(code, "amount"));
    }
    Ok(done(json!({
        "applied": true, "journal_seq": o.seq, "account": id,
        "amount": Money(amount).to_string(),
    })))
}

/// One field of a PATCH as the engine's raw value.
pub(super) fn field_value(m: &Map<String, Value>, name: &str, field: u16) -> Result<i64, Response> {
    let bad = |why: String| error(StatusCode::BAD_REQUEST, name, &why);
    let v = match field {
        f::STATUS => match m.get(name).and_then(Value::as_str) {
            Some("active") => status::ACTIVE,
            Some("inactive") => status::INACTIVE,
            Some("close_only") => status::CLOSE_ONLY,
            _ => {
                return Err(bad(
                    "expected \"active\", \"inactive\" or \"close_only\"".into()
                ))
            }
        },
        f::LEVERAGE => match m.get(name).and_then(Value::as_i64) {
            Some(l) => l,
            None => return Err(bad("expected an integer (100 = 1:100)".into())),
        },
        f::MANAGER => match m.get(name).and_then(Value::as_i64) {
            Some(g) => g,
            None => {
                return Err(bad(
                    "expected an integer, the manager's number (0-63)".into()
                ))
            }
        },
        f::LIMIT_ACTION => match m.get(name).and_then(Value::as_str) {
            Some("close-only") => 0,
            Some("flatten") => 1,
            _ => return Err(bad("expected \"close-only\" or \"flatten\"".into())),
        },
        f::FIXED_LOTS => decimal(m, name, Lots::DECIMALS)?,
        f::DAILY_LOSS_LIMIT | f::COMMISSION_PER_LOT => decimal(m, name, Money::DECIMALS)?,
        _ => decimal(m, name, Ratio::DECIMALS)?,
    };
    if !in_range(field, v) {
        return Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            name,
            "out of range (docs/admin.md lists each field's range)",
        ));
    }
    Ok(v)
}

/// `PATCH /api/accounts/{id}` `{"status": "close_only", "multiplier": "1.5", ...}`: every
/// field is checked before the first is sent; each becomes one journaled account change.
pub async fn change_account(
    State(s): State<Arc<AdminShared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    change_inner(&s, &id, &body).await.unwrap_or_else(|e| e)
}

async fn change_inner(s: &AdminShared, id: &str, body: &Bytes) -> Reply {
    let names: Vec<&str> = mam_core::engine::account_change::FIELD_NAMES
        .iter()
        .map(|(_, n)| *n)
        .collect();
    let m = object(body, &names)?;
    if m.is_empty() {
        return Err(error(StatusCode::BAD_REQUEST, "body", "no field to change"));
    }
    let account = account_index(s, id)?;
    let mut changes = Vec::new();
    for name in m.keys() {
        let field = field_of(name).unwrap_or(0);
        changes.push((field, field_value(&m, name, field)?));
    }
    let cur = with_snapshot(s, |snap| Bounds::of(&snap.accounts[account as usize]));
    order_changes(&mut changes, cur)?;
    let applied = send_changes(s, account, &changes, Vec::new()).await?;
    Ok(done(json!({ "applied": applied, "account": id })))
}

/// An account's settings that must hold together: the adaptive scale bounds (min ≤ max) and
/// the margin levels (a set stop-out level at or below a set margin-call level).
#[derive(Debug, Clone, Copy)]
pub(super) struct Bounds {
    pub min_scale: i64,
    pub max_scale: i64,
    pub margin_call: i64,
    pub stop_out: i64,
}

impl Bounds {
    pub(super) fn of(a: &mam_core::engine::snapshot::AccountView) -> Self {
        Bounds {
            min_scale: a.min_scale.raw(),
            max_scale: a.max_scale.raw(),
            margin_call: a.margin_call_level.raw(),
            stop_out: a.stop_out_level.raw(),
        }
    }
}

/// Checks that `changes` leave the pairs of `cur` consistent, then orders them so the engine
/// accepts each one in turn: the bound that makes room moves first, and the status last (an
/// account activated after its settings never takes a master with half of them).
pub(super) fn order_changes(changes: &mut [(u16, i64)], cur: Bounds) -> Result<(), Response> {
    let get = |fld: u16, cur: i64| {
        changes
            .iter()
            .find(|(x, _)| *x == fld)
            .map_or(cur, |(_, v)| *v)
    };
    let (min, max) = (
        get(f::MIN_SCALE, cur.min_scale),
        get(f::MAX_SCALE, cur.max_scale),
    );
    if min > max {
        return Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "min_scale",
            "min_scale would exceed max_scale",
        ));
    }
    let (mc, so) = (
        get(f::MARGIN_CALL_LEVEL, cur.margin_call),
        get(f::STOP_OUT_LEVEL, cur.stop_out),
    );
    if mc != 0 && so > mc {
        return Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "stop_out_level",
            "stop_out_level would exceed margin_call_level",
        ));
    }
    changes.sort_by_key(|(fld, _)| match *fld {
        f::MAX_SCALE if max >= cur.max_scale => 0,
        f::MIN_SCALE if min <= cur.min_scale => 0,
        f::MARGIN_CALL_LEVEL if mc == 0 || mc >= cur.margin_call => 0,
        f::STOP_OUT_LEVEL if so <= cur.stop_out => 0,
        f::STATUS => 2,
        _ => 1,
    });
    Ok(())
}

/// Sends each change as one journaled account change, in order; `applied` lists what went
/// before (it is in the error too when the engine refuses one, so the caller knows).
pub(super) async fn send_changes(
    s: &AdminShared,
    account: u32,
    changes: &[(u16, i64)],
    mut applied: Vec<Value>,
) -> Result<Vec<Value>, Response> {
    for &(field, value) in changes {
        let name = field_name(field).unwrap_or("?");
        let o = submit(
            s,
            Input::Account(AccountChange {
                ts_ns: now_ns(),
                value,
                account,
                field,
                manager: 0,
                request_id: 0,
            }),
        )
        .await?;
        if let Some((code, _)) = o.refused {
            let mut r = refused(code, name);
            if !applied.is_empty() {
                r = (
                    r.status(),
                    Json(json!({
                        "error": format!("refused by the engine: {}", code.text()),
                        "field": name,
                        "applied_before": applied,
                    })),
                )
                    .into_response();
            }
            return Err(r);
        }
        applied.push(json!({ "field": name, "journal_seq": o.seq }));
    }
    Ok(applied)
}

/// `POST /api/kill-switch` `{"engaged": true}`; `{"engaged": true, "flatten": true}` also
/// closes every position.
pub async fn kill_switch(State(s): State<Arc<AdminShared>>, body: Bytes) -> Response {
    let flatten = object(&body, &["engaged", "flatten"]).and_then(|m| {
        let f = match m.get("flatten") {
            None => false,
            Some(_) => boolean(&m, "flatten")?,
        };
        if f && !boolean(&m, "engaged")? {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "flatten",
                "flatten comes with engaging the kill switch (\"engaged\": true)",
            ));
        }
        Ok(f)
    });
    match flatten {
        Err(e) => Err(e),
        Ok(true) => switch(&s, &body, "engaged", RISK_FLATTEN, RISK_RESET).await,
        Ok(false) => switch(&s, &body, "engaged", RISK_KILL, RISK_RESET).await,
    }
    .unwrap_or_else(|e| e)
}

/// `POST /api/adaptive` `{"on": false}`.
pub async fn adaptive(State(s): State<Arc<AdminShared>>, body: Bytes) -> Response {
    switch(&s, &body, "on", ADAPTIVE_ON, ADAPTIVE_OFF)
        .await
        .unwrap_or_else(|e| e)
}

async fn switch(s: &AdminShared, body: &Bytes, key: &str, yes: u32, no: u32) -> Reply {
    let m = object(body, &[key, "flatten"])?;
    let on = boolean(&m, key)?;
    let o = submit(
        s,
        Input::Risk(RiskCommand {
            ts_ns: now_ns(),
            action: if on { yes } else { no },
            _pad: 0,
        }),
    )
    .await?;
    if let Some((code, _)) = o.refused {
        return Err(refused(code, key));
    }
    Ok(done(
        json!({ "applied": true, "journal_seq": o.seq, key: on }),
    ))
}

/// `PATCH /api/risk-limits` `{"max_order_qty": "500000", "collar_bps": 200}`: each limit
/// checked before the first is sent, then one journaled risk-limit change each.
pub async fn change_limits(State(s): State<Arc<AdminShared>>, body: Bytes) -> Response {
    limits_inner(&s, &body).await.unwrap_or_else(|e| e)
}

async fn limits_inner(s: &AdminShared, body: &Bytes) -> Reply {
    use mam_core::engine::risk_change::{
        limit_in_range, limit_of, LimitUnit, RiskLimitChange, LIMITS,
    };
    let names: Vec<&str> = LIMITS.iter().map(|l| l.1).collect();
    let m = object(body, &names)?;
    if m.is_empty() {
        return Err(error(StatusCode::BAD_REQUEST, "body", "no limit to change"));
    }
    let mut changes = Vec::new();
    for name in m.keys() {
        let Some((field, unit)) = limit_of(name) else {
            continue;
        };
        let v = match unit {
            LimitUnit::Qty => decimal(&m, name, mam_core::num::Qty::DECIMALS)?,
            LimitUnit::Money => decimal(&m, name, Money::DECIMALS)?,
            LimitUnit::Count => m
                .get(name)
                .and_then(Value::as_i64)
                .ok_or_else(|| error(StatusCode::BAD_REQUEST, name, "expected an integer"))?,
        };
        if !limit_in_range(field, v) {
            return Err(error(
                StatusCode::UNPROCESSABLE_ENTITY,
                name,
                "out of range: more than 0 (collar_bps: 0 = no collar, at most 10000)",
            ));
        }
        changes.push((field, name.clone(), v));
    }
    let mut applied = Vec::new();
    for (field, name, value) in changes {
        let o = submit(
            s,
            Input::Limit(RiskLimitChange {
                ts_ns: now_ns(),
                value,
                field,
                _pad: [0; 6],
            }),
        )
        .await?;
        if let Some((code, _)) = o.refused {
            return Err(refused(code, &name));
        }
        applied.push(json!({ "field": name, "journal_seq": o.seq }));
    }
    Ok(done(json!({ "applied": applied })))
}

/// `POST /api/reload` (no body): the config file reloaded as SIGHUP does (the daemon's
/// reload.rs); the answer lists each limit with its journal sequence, the master defaults
/// changed and the keys waiting for a restart. A file that would not start the daemon: 422
/// naming `config`, the running config kept.
pub async fn reload(State(s): State<Arc<AdminShared>>) -> Response {
    reload_inner(&s).await.unwrap_or_else(|e| e)
}

async fn reload_inner(s: &AdminShared) -> Reply {
    let plan = s.reloader.plan().map_err(|e| {
        error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "config",
            &format!("refused, the running config kept: {e:#}"),
        )
    })?;
    let mut limits = Vec::new();
    for (key, input) in &plan.limits {
        let o = submit(s, *input).await?;
        if let Some((code, _)) = o.refused {
            return Err(refused(code, key));
        }
        limits.push(json!({ "key": key, "journal_seq": o.seq }));
    }
    let defaults: Vec<String> = plan.defaults.as_ref().map_or(Vec::new(), |d| d.1.clone());
    let restart = plan.restart.clone();
    let mut plan = plan;
    let model = match plan.model.take() {
        None => Value::Null,
        Some(m) => swap_model(s, m).await?,
    };
    // Starting and stopping sessions binds sockets and waits for logouts: off the runtime.
    let reloader = s.reloader.clone();
    let (plan, sessions) = tokio::task::spawn_blocking(move || {
        let lines = reloader.apply_sessions(&mut plan);
        (plan, lines)
    })
    .await
    .map_err(|e| {
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "sessions",
            &e.to_string(),
        )
    })?;
    s.reloader.commit(plan);
    Ok(done(json!({
        "config": s.reloader.path().display().to_string(),
        "limits": limits,
        "defaults": defaults,
        "model": model,
        "sessions": sessions,
        "restart": restart,
    })))
}

/// Hands `m` to the engine stage and waits for its answer (up to 5 s): the fingerprints and
/// the checkpoint, or the refusal (422 naming `engine.adaptive_model`).
async fn swap_model(
    s: &AdminShared,
    m: mam_core::adaptive::AdaptiveModel,
) -> Result<Value, Response> {
    let id = s.next_id.fetch_add(1, Relaxed) + 1;
    let swaps = s.reloader.models();
    if swaps.push(id, m).is_err() {
        return Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "engine",
            "model swaps are queued already: try again",
        ));
    }
    match answer(|| swaps.take_outcome(id), "the swap").await? {
        Ok(x) => Ok(json!({
            "fingerprint_before": format!("{:016x}", x.before),
            "fingerprint_after": format!("{:016x}", x.after),
            "checkpoint_seq": x.checkpoint_seq,
        })),
        Err(e) => Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "engine.adaptive_model",
            &format!("refused by the engine, the model kept: {e}"),
        )),
    }
}
