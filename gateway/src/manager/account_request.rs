//! MamAccountRequest (35=UA) and MamAccountAck (35=UB): a manager adds an account, deposits
//! to, withdraws from or changes a setting of one of its accounts over its own FIX session (`docs/daemon.md`,
//! "Accounts from the manager session").
//!
//! The request becomes the same journaled engine input an operator's admin call makes
//! ([`BalanceChange`], [`AccountChange`]), marked with the session's manager number and the
//! request id: the engine refuses another manager's account as unknown and answers every
//! request it applied or refused with a report that goes back to this session as 35=UB. A
//! request refused here (an unknown account id, a value that does not parse) is answered here
//! with 35=UB status 1; a request without its required tags gets a session Reject (35=3).
//! Exactly once: the request is a manager message like an order (its MsgSeqNum journaled in
//! an origin record), so a restart neither applies it twice nor loses it.

use mam_core::account::{encode_currency, encode_id, USD};
use mam_core::engine::account_add::AccountAdd;
use mam_core::engine::account_change::AccountChange;
use mam_core::engine::account_change::{account_field as f, field_of, in_range, status};
use mam_core::engine::input::{BalanceChange, Input, BALANCE_REBALANCE, MAX_CL_ORD_ID};
use mam_core::num::{Lots, Money, Ratio};
use mam_core::pipeline::AccountDirectory;

use super::refusal::MasterRefusal;
use crate::fix::decode::{Message, RejectReason};
use crate::fix::num::parse_u64;
use crate::fix::tag;

/// MsgType of MamAccountRequest.
pub const ACCOUNT_REQUEST: &[u8] = b"UA";
/// MsgType of MamAccountAck.
pub const ACCOUNT_ACK: &[u8] = b"UB";

/// Why a request is refused at the edge.
#[derive(Debug)]
pub enum AccountRefusal {
    /// A required tag is missing: a session Reject (35=3).
    Session(MasterRefusal),
    /// Answered with MamAccountAck status 1 and this text.
    Refused {
        /// The request id, if it could be read.
        req_id: Option<u64>,
        /// What was wrong.
        text: String,
    },
}

fn required<'m>(m: &Message<'m>, t: crate::fix::tag::Tag) -> Result<&'m [u8], AccountRefusal> {
    m.get(t.num).ok_or_else(|| {
        AccountRefusal::Session(MasterRefusal::session(
            RejectReason::RequiredTagMissing,
            t.num,
            b"",
            "required tag missing",
        ))
    })
}

/// The engine input of request `m` from manager `manager`'s session, with the account's id
/// looked up in `dir`. `ts_ns` is the request's TransactTime (already checked by the caller);
/// `rebalance` is the session's default for deposits and withdrawals without MamRebalance.
pub fn account_request_input(
    m: &Message<'_>,
    dir: &AccountDirectory,
    manager: u8,
    ts_ns: u64,
    rebalance: bool,
) -> Result<Input, AccountRefusal> {
    let req = required(m, tag::MAM_ACCOUNT_REQ_ID)?;
    let account = required(m, tag::ACCOUNT)?;
    let action = required(m, tag::MAM_ACCOUNT_ACTION)?;
    let Some(req_id) = parse_u64(req).ok().filter(|&r| r > 0 && r <= MAX_CL_ORD_ID) else {
        return Err(AccountRefusal::Refused {
            req_id: None,
            text: format!("MamAccountReqID(5121) must be a decimal number in 1..={MAX_CL_ORD_ID}"),
        });
    };
    let refuse = |text: String| AccountRefusal::Refused {
        req_id: Some(req_id),
        text,
    };
    let shown = |v: &[u8]| String::from_utf8_lossy(v).into_owned();
    let who = u16::from(manager) + 1;
    if action == b"A" {
        return add_input(m, account, who, req_id, ts_ns).map_err(refuse);
    }
    let Some(index) = dir.index_of(account) else {
        return Err(refuse(format!("unknown account {}", shown(account))));
    };
    match action {
        b"D" | b"W" => {
            let v = required(m, tag::MAM_AMOUNT)?;
            let amount = std::str::from_utf8(v)
                .ok()
                .and_then(|s| Money::parse(s).ok())
                .filter(|a| a.raw() > 0)
                .ok_or_else(|| {
                    refuse(format!(
                        "MamAmount(5123) {} is not a positive amount with at most {} decimals",
                        shown(v),
                        Money::DECIMALS
                    ))
                })?;
            let rebalance = match m.get(tag::MAM_REBALANCE.num) {
                None => rebalance,
                Some(b"Y") => true,
                Some(b"N") => false,
                Some(v) => {
                    return Err(refuse(format!(
                        "MamRebalance(5127) {} is not Y or N",
                        shown(v)
                    )))
                }
            };
            Ok(Input::Balance(BalanceChange {
                ts_ns,
                amount: if action == b"D" {
                    amount
                } else {
                    Money(-amount.raw())
                },
                account: index,
                manager: who,
                flags: if rebalance { BALANCE_REBALANCE } else { 0 },
                request_id: req_id,
            }))
        }
        b"C" => {
            let name = required(m, tag::MAM_ACCOUNT_FIELD)?;
            let v = required(m, tag::MAM_ACCOUNT_VALUE)?;
            let name = std::str::from_utf8(name).unwrap_or("");
            let field = field_of(name).ok_or_else(|| {
                refuse(format!("MamAccountField(5124) {name:?} is not a setting"))
            })?;
            let text = std::str::from_utf8(v).unwrap_or("");
            let value = field_value(field, text)
                .filter(|&x| in_range(field, x))
                .ok_or_else(|| {
                    refuse(format!(
                        "MamAccountValue(5125) {text:?} is not a value of {name} (docs/admin.md \
                     lists each setting's range)"
                    ))
                })?;
            Ok(Input::Account(AccountChange {
                ts_ns,
                value,
                account: index,
                field,
                manager: who,
                request_id: req_id,
            }))
        }
        other => Err(refuse(format!(
            "MamAccountAction(5122) {} is not A (add), D (deposit), W (withdrawal) or C (change)",
            shown(other)
        ))),
    }
}

/// A new account of this manager's: Account (1) its id, MamAmount (5123) its opening balance
/// (0 if absent), Currency (15) its currency (USD if absent). It follows the manager and is
/// active at once with the import defaults; a taken id is the engine's refusal.
fn add_input(
    m: &Message<'_>,
    account: &[u8],
    who: u16,
    req_id: u64,
    ts_ns: u64,
) -> Result<Input, String> {
    let text = |v: &[u8]| String::from_utf8_lossy(v).into_owned();
    let id = std::str::from_utf8(account)
        .ok()
        .and_then(encode_id)
        .ok_or_else(|| {
            format!(
                "Account(1) {} is not an account id (1-16 printable ASCII, no `,` or `\"`)",
                text(account)
            )
        })?;
    let balance = match m.get(tag::MAM_AMOUNT.num) {
        None => Money(0),
        Some(v) => std::str::from_utf8(v)
            .ok()
            .and_then(|s| Money::parse(s).ok())
            .filter(|a| a.raw() >= 0)
            .ok_or_else(|| format!("MamAmount(5123) {} is not an opening balance", text(v)))?,
    };
    let currency = match m.get(tag::CURRENCY.num) {
        None => USD,
        Some(v) => std::str::from_utf8(v)
            .ok()
            .and_then(encode_currency)
            .ok_or_else(|| format!("Currency(15) {} is not a currency code", text(v)))?,
    };
    Ok(Input::AddAccount(AccountAdd {
        ts_ns,
        id,
        balance,
        currency,
        leverage: 100,
        manager: who,
        request_id: req_id,
        ..AccountAdd::default()
    }))
}

/// A setting's text value as the engine's raw value (the admin API's spellings).
fn field_value(field: u16, v: &str) -> Option<i64> {
    Some(match field {
        f::STATUS => match v {
            "active" => status::ACTIVE,
            "inactive" => status::INACTIVE,
            "close_only" | "close-only" => status::CLOSE_ONLY,
            _ => return None,
        },
        f::LIMIT_ACTION => match v {
            "close-only" | "close_only" => 0,
            "flatten" => 1,
            _ => return None,
        },
        f::LEVERAGE | f::MANAGER => v.parse().ok()?,
        f::FIXED_LOTS => Lots::parse(v).ok()?.raw(),
        f::DAILY_LOSS_LIMIT | f::COMMISSION_PER_LOT => Money::parse(v).ok()?.raw(),
        _ => Ratio::parse(v).ok()?.raw(),
    })
}
