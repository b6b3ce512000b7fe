//! Changing an account on a running engine: status (active, inactive, close-only) and the
//! model parameters and limits an operator sets, one field per input (kind 10).
//!
//! One field per record keeps the record small and Pod, makes the journal say exactly what
//! changed, and lets a refusal name the one field that was wrong. Deposits and withdrawals
//! stay [`BalanceChange`](super::input::BalanceChange) (kind 3): they move money, these move
//! settings.
//!
//! A change takes effect for the next input: orders already sent keep their size. The account's
//! limits are re-checked at once (a lower daily-loss limit the account is already past acts
//! now, journaled with the change's sequence), and its price boxes are redrawn.

use bytemuck::{Pod, Zeroable};

use super::decision::{Decision, RefusedCode};
use super::input::Input;
use super::lifecycle::record::{exec, scoped_order_id, MasterReport, MAX_CL_ORD_ID};
use super::Engine;
use crate::account::{
    manager_of, with_manager, FLAG_ACTIVE, FLAG_CLOSE_ONLY, FLAG_LIMIT_FLATTEN, MAX_MANAGERS,
};
use crate::num::{Lots, Money, Ratio};

/// Journal kind of [`AccountChange`].
pub const KIND_ACCOUNT_CHANGE: u16 = 10;

/// What [`AccountChange::field`] names; `value` is the raw scaled integer of that column's type.
pub mod account_field {
    /// Status: `value` is one of [`super::status`].
    pub const STATUS: u16 = 1;
    /// Lot multiplier (`Ratio`, 6 decimals), ≥ 0.
    pub const MULTIPLIER: u16 = 2;
    /// Percent of the master (`Ratio`), 0–100.
    pub const PERCENT: u16 = 3;
    /// Fixed size (`Lots`, 8 decimals), ≥ 0.
    pub const FIXED_LOTS: u16 = 4;
    /// Fraction of equity risked at the stop-loss (`Ratio`), 0–1.
    pub const RISK_FRACTION: u16 = 5;
    /// Drawdown tolerance (`Ratio`), 0–1; 0: no drawdown limit.
    pub const DRAWDOWN_TOLERANCE: u16 = 6;
    /// Lower bound of the adaptive scale (`Ratio`), 0 ≤ it ≤ the upper bound.
    pub const MIN_SCALE: u16 = 7;
    /// Upper bound of the adaptive scale (`Ratio`), ≥ the lower bound, ≤ 100.
    pub const MAX_SCALE: u16 = 8;
    /// Leverage (1–10,000; 100 = 1:100).
    pub const LEVERAGE: u16 = 9;
    /// Daily loss limit (`Money`, 6 decimals), ≥ 0; 0: none.
    pub const DAILY_LOSS_LIMIT: u16 = 10;
    /// Commission per lot and side (`Money`), ≥ 0.
    pub const COMMISSION_PER_LOT: u16 = 11;
    /// Margin-call level in percent (`Ratio`), 0–10,000; 0: the engine default (100).
    pub const MARGIN_CALL_LEVEL: u16 = 12;
    /// Stop-out level in percent (`Ratio`), 0–10,000, not above a set margin-call level;
    /// 0: the engine default (50).
    pub const STOP_OUT_LEVEL: u16 = 13;
    /// What a crossed loss limit does: `value` 0 close-only, 1 flatten.
    pub const LIMIT_ACTION: u16 = 14;
    /// The manager (MAM group) whose masters the account follows, 0–63. Its positions of
    /// another manager's tickets stay with those tickets (their closes still reach it).
    pub const MANAGER: u16 = 15;
}

/// [`account_field::STATUS`] values.
pub mod status {
    /// Takes no new orders; its positions stay (and are still closed with their tickets).
    pub const INACTIVE: i64 = 0;
    /// Takes orders.
    pub const ACTIVE: i64 = 1;
    /// Active, but may only reduce positions.
    pub const CLOSE_ONLY: i64 = 2;
}

/// The names the admin API and the journal dump use for each field, in field order.
pub const FIELD_NAMES: [(u16, &str); 15] = [
    (account_field::STATUS, "status"),
    (account_field::MULTIPLIER, "multiplier"),
    (account_field::PERCENT, "percent"),
    (account_field::FIXED_LOTS, "fixed_lots"),
    (account_field::RISK_FRACTION, "risk_fraction"),
    (account_field::DRAWDOWN_TOLERANCE, "drawdown_tolerance"),
    (account_field::MIN_SCALE, "min_scale"),
    (account_field::MAX_SCALE, "max_scale"),
    (account_field::LEVERAGE, "leverage"),
    (account_field::DAILY_LOSS_LIMIT, "daily_loss_limit"),
    (account_field::COMMISSION_PER_LOT, "commission_per_lot"),
    (account_field::MARGIN_CALL_LEVEL, "margin_call_level"),
    (account_field::STOP_OUT_LEVEL, "stop_out_level"),
    (account_field::LIMIT_ACTION, "limit_action"),
    (account_field::MANAGER, "manager"),
];

/// The name of `field`, if it is one.
pub fn field_name(field: u16) -> Option<&'static str> {
    FIELD_NAMES
        .iter()
        .find(|(f, _)| *f == field)
        .map(|(_, n)| *n)
}

/// The field called `name`, if there is one.
pub fn field_of(name: &str) -> Option<u16> {
    FIELD_NAMES
        .iter()
        .find(|(_, n)| *n == name)
        .map(|(f, _)| *f)
}

/// An operator or a manager changes one setting of one account (32 bytes; journals written
/// before `request_id` hold 24 and decode as an operator's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
#[repr(C)]
pub struct AccountChange {
    /// Event time (ns).
    pub ts_ns: u64,
    /// The new value, raw (see [`account_field`]).
    pub value: i64,
    /// Account index.
    pub account: u32,
    /// An [`account_field`].
    pub field: u16,
    /// Who asks: 0 an operator; `m + 1` manager `m`'s session, which may change its own
    /// accounts only (another's is refused as unknown), never their manager, and gets an
    /// answer.
    pub manager: u16,
    /// The manager's request id (MamAccountReqID), echoed in its answer; 0 from an operator.
    pub request_id: u64,
}

const RATIO_ONE: i64 = Ratio::ONE_RAW;

/// True if `value` is within `field`'s own range (see [`account_field`]); the one check that
/// depends on another field (min scale ≤ max scale) is the engine's, against the account.
pub fn in_range(field: u16, value: i64) -> bool {
    use account_field as f;
    match field {
        f::STATUS => (status::INACTIVE..=status::CLOSE_ONLY).contains(&value),
        f::MULTIPLIER
        | f::FIXED_LOTS
        | f::DAILY_LOSS_LIMIT
        | f::MIN_SCALE
        | f::COMMISSION_PER_LOT => value >= 0,
        f::MARGIN_CALL_LEVEL | f::STOP_OUT_LEVEL => (0..=10_000 * RATIO_ONE).contains(&value),
        f::LIMIT_ACTION => (0..=1).contains(&value),
        f::MANAGER => (0..MAX_MANAGERS as i64).contains(&value),
        f::PERCENT | f::MAX_SCALE => (0..=100 * RATIO_ONE).contains(&value),
        f::RISK_FRACTION | f::DRAWDOWN_TOLERANCE => (0..=RATIO_ONE).contains(&value),
        f::LEVERAGE => (1..=10_000).contains(&value),
        _ => false,
    }
}

impl Engine {
    /// Applies one account change; refused (state unchanged) with [`RefusedCode::UnknownAccount`],
    /// [`RefusedCode::BadField`] (no such field) or [`RefusedCode::BadAccountValue`] (out of
    /// range; the reference is the field).
    pub(super) fn account_change(
        &mut self,
        seq: u64,
        c: &AccountChange,
        d: &mut Vec<Decision>,
    ) -> Result<(), (RefusedCode, u64)> {
        use account_field as f;
        let a = c.account as usize;
        if a >= self.accounts.id.len() || !self.asks_for_own(u32::from(c.manager), a) {
            return Err((RefusedCode::UnknownAccount, u64::from(c.account)));
        }
        if c.manager != 0 && c.field == f::MANAGER {
            // Which manager an account follows is the operator's to say.
            return Err((RefusedCode::BadField, u64::from(c.field)));
        }
        let bad = Err((RefusedCode::BadAccountValue, u64::from(c.field)));
        let v = c.value;
        if field_name(c.field).is_none() {
            return Err((RefusedCode::BadField, u64::from(c.field)));
        }
        if !in_range(c.field, v) {
            return bad;
        }
        let acc = &mut self.accounts;
        match c.field {
            f::STATUS => {
                let keep = acc.flags[a] & !(FLAG_ACTIVE | FLAG_CLOSE_ONLY);
                acc.flags[a] = keep
                    | match v {
                        status::ACTIVE => FLAG_ACTIVE,
                        status::CLOSE_ONLY => FLAG_ACTIVE | FLAG_CLOSE_ONLY,
                        _ => 0,
                    };
            }
            f::MULTIPLIER => acc.multiplier[a] = Ratio(v),
            f::PERCENT => acc.percent[a] = Ratio(v),
            f::FIXED_LOTS => acc.fixed_lots[a] = Lots(v),
            f::RISK_FRACTION => acc.risk_fraction[a] = Ratio(v),
            f::DRAWDOWN_TOLERANCE => acc.drawdown_tolerance[a] = Ratio(v),
            f::MIN_SCALE if v <= acc.max_scale[a].raw() => acc.min_scale[a] = Ratio(v),
            f::MAX_SCALE if v >= acc.min_scale[a].raw() => acc.max_scale[a] = Ratio(v),
            f::LEVERAGE => acc.leverage[a] = v as u32,
            f::DAILY_LOSS_LIMIT => acc.daily_loss_limit[a] = Money(v),
            f::COMMISSION_PER_LOT => acc.commission_per_lot[a] = Money(v),
            // A set stop-out level stays at or below a set margin-call level (either 0: the
            // engine's default for it, checked by the engine's own levels).
            f::MARGIN_CALL_LEVEL
                if v == 0
                    || acc.stop_out_level[a].raw() == 0
                    || acc.stop_out_level[a].raw() <= v =>
            {
                acc.margin_call_level[a] = Ratio(v)
            }
            f::STOP_OUT_LEVEL
                if v == 0
                    || acc.margin_call_level[a].raw() == 0
                    || v <= acc.margin_call_level[a].raw() =>
            {
                acc.stop_out_level[a] = Ratio(v)
            }
            f::LIMIT_ACTION => {
                acc.flags[a] = (acc.flags[a] & !FLAG_LIMIT_FLATTEN)
                    | if v == 1 { FLAG_LIMIT_FLATTEN } else { 0 };
            }
            f::MANAGER => {
                acc.flags[a] = with_manager(acc.flags[a], v as u8);
                self.several_managers |= v != 0;
            }
            _ => return bad,
        }
        self.check_account(a, c.ts_ns, seq, d);
        Ok(())
    }
}

impl Engine {
    /// True if `who` (0: an operator; `m + 1`: manager `m`) may act on account `a`.
    pub(super) fn asks_for_own(&self, who: u32, a: usize) -> bool {
        who == 0 || u32::from(manager_of(self.accounts.flags[a])) + 1 == who
    }

    /// A manager's deposit, withdrawal or account change gets its answer, applied or refused
    /// (a report to that manager's session: `exec::ACCOUNT_ANSWER`, never an ExecutionReport).
    pub(super) fn answer_manager(
        &mut self,
        seq: u64,
        input: &Input,
        refused: Option<RefusedCode>,
        d: &mut Vec<Decision>,
    ) {
        let (who, request_id, account, ts) = match input {
            Input::Balance(b) => (u32::from(b.manager), b.request_id, b.account, b.ts_ns),
            Input::Account(c) => (u32::from(c.manager), c.request_id, c.account, c.ts_ns),
            // An added account's index, if it was added (u32::MAX: none).
            Input::AddAccount(a) => {
                let index = if refused.is_none() {
                    self.accounts.id.len().saturating_sub(1) as u32
                } else {
                    u32::MAX
                };
                (u32::from(a.manager), a.request_id, index, a.ts_ns)
            }
            _ => return,
        };
        let Some(m) = who.checked_sub(1).and_then(|m| u8::try_from(m).ok()) else {
            return;
        };
        d.push(Decision::Report(MasterReport {
            ts_ns: ts,
            input_seq: seq,
            order_id: scoped_order_id(m, request_id & MAX_CL_ORD_ID),
            request_id: u64::from(account),
            reason: refused.map_or(0, |c| c as u16),
            exec_type: exec::ACCOUNT_ANSWER,
            ord_status: if refused.is_some() {
                exec::REJECTED
            } else {
                exec::NEW
            },
            ..MasterReport::default()
        }));
    }
}
