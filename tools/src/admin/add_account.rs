//! `POST /api/accounts`: a new account on a running daemon, as journaled engine inputs.
//!
//! The engine adds an account inactive, with the import defaults (input kind 12, small enough
//! for a ring frame); each setting the body gives is then one account change (kind 10), and
//! the status comes last. Everything is checked here before the first input is sent, so a
//! refused body changes nothing; the engine checks again (a duplicate id is its refusal, 409).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use mam_core::account::{encode_currency, encode_id, FLAG_LIMIT_FLATTEN, USD};
use mam_core::engine::account_add::{add_field, AccountAdd};
use mam_core::engine::account_change::{account_field as f, field_of, status, FIELD_NAMES};
use mam_core::engine::decision::RefusedCode;
use mam_core::engine::Input;
use mam_core::num::{Money, Ratio};
use serde_json::{json, Map, Value};

use super::views::error;
use super::writes::{
    account_index, decimal, field_value, now_ns, object, order_changes, refused, send_changes,
    submit, Bounds,
};
use super::AdminShared;

/// Keys of the body besides the account-change fields.
const OWN_KEYS: [&str; 5] = ["id", "balance", "currency", "cluster", "leverage"];

/// `POST /api/accounts` `{"id": "INV000101", "balance": "25000.00", "multiplier": "1.5"}`.
pub async fn add_account(State(s): State<Arc<AdminShared>>, body: Bytes) -> Response {
    add_inner(&s, &body).await.unwrap_or_else(|e| e)
}

fn text<'a>(m: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, Response> {
    match m.get(key) {
        None => Ok(None),
        Some(Value::String(t)) => Ok(Some(t)),
        Some(_) => Err(error(StatusCode::BAD_REQUEST, key, "expected a string")),
    }
}

fn integer(
    m: &Map<String, Value>,
    key: &str,
    range: (i64, i64),
    dflt: i64,
) -> Result<i64, Response> {
    match m.get(key) {
        None => Ok(dflt),
        Some(v) => match v.as_i64() {
            Some(x) if (range.0..=range.1).contains(&x) => Ok(x),
            Some(_) => Err(error(
                StatusCode::UNPROCESSABLE_ENTITY,
                key,
                &format!("out of range: {}-{}", range.0, range.1),
            )),
            None => Err(error(StatusCode::BAD_REQUEST, key, "expected an integer")),
        },
    }
}

/// The add record and the changes that follow it, from the body.
fn parse(m: &Map<String, Value>) -> Result<(AccountAdd, Vec<(u16, i64)>), Response> {
    let id_text = text(m, "id")?.ok_or_else(|| error(StatusCode::BAD_REQUEST, "id", "missing"))?;
    let id = encode_id(id_text).ok_or_else(|| {
        error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "id",
            "an id is 1-16 printable ASCII characters, without `,` or `\"`",
        )
    })?;
    let balance = decimal(m, "balance", Money::DECIMALS)?;
    if balance < 0 {
        return Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "balance",
            "an opening balance is not negative",
        ));
    }
    let currency = match text(m, "currency")? {
        None => USD,
        Some(c) => encode_currency(c).ok_or_else(|| {
            error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "currency",
                "a currency is 3-7 uppercase ASCII letters or digits",
            )
        })?,
    };
    let mut changes = Vec::new();
    let mut flags = 0;
    for name in m.keys().filter(|k| !OWN_KEYS.contains(&k.as_str())) {
        let field = field_of(name).unwrap_or(0);
        let v = field_value(m, name, field)?;
        match field {
            f::LIMIT_ACTION => flags = if v == 1 { FLAG_LIMIT_FLATTEN } else { 0 },
            f::LEVERAGE => {}
            _ => changes.push((field, v)),
        }
    }
    if !m.contains_key("status") {
        changes.push((f::STATUS, status::ACTIVE));
    }
    changes.retain(|&(fld, v)| !(fld == f::STATUS && v == status::INACTIVE));
    let add = AccountAdd {
        ts_ns: 0,
        id,
        balance: Money(balance),
        currency,
        leverage: integer(m, "leverage", (1, 10_000), 100)? as u32,
        cluster: integer(m, "cluster", (0, i64::from(u16::MAX)), 0)? as u16,
        flags,
        manager: 0,
        _pad: [0; 6],
        request_id: 0,
    };
    Ok((add, changes))
}

async fn add_inner(s: &AdminShared, body: &Bytes) -> Result<Response, Response> {
    let mut allowed: Vec<&str> = OWN_KEYS.to_vec();
    allowed.extend(FIELD_NAMES.iter().map(|(_, n)| *n));
    let m = object(body, &allowed)?;
    let (mut add, mut changes) = parse(&m)?;
    // The defaults the engine gives an added account (AccountAdd::record).
    let defaults = Bounds {
        min_scale: 0,
        max_scale: Ratio::ONE_RAW,
        margin_call: 0,
        stop_out: 0,
    };
    order_changes(&mut changes, defaults)?;
    add.ts_ns = now_ns();
    let o = submit(s, Input::AddAccount(add)).await?;
    if let Some((code, reference)) = o.refused {
        let field = match (code, reference) {
            (RefusedCode::BadAccountValue, add_field::BALANCE) => "balance",
            (RefusedCode::BadAccountValue, add_field::CURRENCY) => "currency",
            (RefusedCode::BadAccountValue, add_field::LEVERAGE) => "leverage",
            (RefusedCode::BadAccountValue, add_field::FLAGS) => "limit_action",
            _ => "id",
        };
        return Err(refused(code, field));
    }
    let id = mam_core::account::id_text(&add.id).to_string();
    // The engine answers after publishing a snapshot that holds the new account.
    let index = account_index(s, &id)?;
    let first = vec![json!({ "field": "add", "journal_seq": o.seq })];
    let applied = send_changes(s, index, &changes, first).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "account": id, "index": index, "applied": applied })),
    )
        .into_response())
}
