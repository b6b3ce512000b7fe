//! Changing an engine-wide pre-trade risk limit on a running engine (input kind 11), one limit
//! per record, like account changes (kind 10).
//!
//! The limit is part of the engine's settings (checkpointed with them), so a change survives a
//! restart through the checkpoint or the journal replay. It acts from the next order; orders
//! already open are not re-checked. The order throttle (`max_orders_per_sec`) is not
//! changeable here: its token buckets are sized by it.

use bytemuck::{Pod, Zeroable};

use super::decision::RefusedCode;
use super::Engine;
use crate::num::{Money, Qty};

/// Journal kind of [`RiskLimitChange`].
pub const KIND_RISK_LIMIT_CHANGE: u16 = 11;

/// The limits [`RiskLimitChange::field`] names, with the name the admin API and dumps use, and
/// whether the value is a quantity (`Qty`), money (`Money`) or a count.
pub const LIMITS: [(u16, &str, LimitUnit); 10] = [
    (1, "max_order_qty", LimitUnit::Qty),
    (2, "max_order_notional", LimitUnit::Money),
    (3, "max_account_qty", LimitUnit::Qty),
    (4, "max_account_notional", LimitUnit::Money),
    (5, "max_account_open_orders", LimitUnit::Count),
    (6, "max_open_orders", LimitUnit::Count),
    (7, "collar_bps", LimitUnit::Count),
    (8, "max_position_qty", LimitUnit::Qty),
    (9, "max_position_notional", LimitUnit::Money),
    (10, "max_account_position_notional", LimitUnit::Money),
];

/// How a limit's raw value reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitUnit {
    /// Base units, 6 decimals.
    Qty,
    /// Money, 6 decimals.
    Money,
    /// A whole number (`collar_bps`: 0 = no collar).
    Count,
}

/// The field called `name`, with its unit.
pub fn limit_of(name: &str) -> Option<(u16, LimitUnit)> {
    LIMITS.iter().find(|l| l.1 == name).map(|l| (l.0, l.2))
}

/// The name of limit `field`.
pub fn limit_name(field: u16) -> Option<&'static str> {
    LIMITS.iter().find(|l| l.0 == field).map(|l| l.1)
}

/// True if `value` may be set for `field`: more than 0 (a count fits in `u32`); `collar_bps`
/// from 0 (no collar) to 10,000.
pub fn limit_in_range(field: u16, value: i64) -> bool {
    match field {
        7 => (0..=10_000).contains(&value),
        5 | 6 => (1..=i64::from(u32::MAX)).contains(&value),
        1..=4 | 8..=10 => value > 0,
        _ => false,
    }
}

/// The raw value of limit `field` in `limits` (what a [`RiskLimitChange`] to it would carry;
/// `collar_bps` 0 for no collar); `None` for no such limit.
pub fn limit_value(limits: &crate::risk::RiskLimits, field: u16) -> Option<i64> {
    Some(match field {
        1 => limits.max_order_qty.raw(),
        2 => limits.max_order_notional.raw(),
        3 => limits.max_account_qty.raw(),
        4 => limits.max_account_notional.raw(),
        5 => i64::from(limits.max_account_open_orders),
        6 => i64::from(limits.max_open_orders),
        7 => i64::from(limits.collar_bps.unwrap_or(0)),
        8 => limits.max_position_qty.raw(),
        9 => limits.max_position_notional.raw(),
        10 => limits.max_account_position_notional.raw(),
        _ => return None,
    })
}

/// An operator changes one pre-trade risk limit (24 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
#[repr(C)]
pub struct RiskLimitChange {
    /// Event time (ns).
    pub ts_ns: u64,
    /// The new value, raw.
    pub value: i64,
    /// Which limit ([`LIMITS`]).
    pub field: u16,
    /// Reserved, zero.
    pub _pad: [u8; 6],
}

impl Engine {
    /// Applies one risk-limit change; refused (nothing changed) with [`RefusedCode::BadField`]
    /// (no such limit) or [`RefusedCode::BadAccountValue`] (out of range; the reference is the
    /// field).
    pub(super) fn risk_limit_change(
        &mut self,
        c: &RiskLimitChange,
    ) -> Result<(), (RefusedCode, u64)> {
        if limit_name(c.field).is_none() {
            return Err((RefusedCode::BadField, u64::from(c.field)));
        }
        if !limit_in_range(c.field, c.value) {
            return Err((RefusedCode::BadAccountValue, u64::from(c.field)));
        }
        let v = c.value;
        let l = &mut self.config.risk;
        match c.field {
            1 => l.max_order_qty = Qty(v),
            2 => l.max_order_notional = Money(v),
            3 => l.max_account_qty = Qty(v),
            4 => l.max_account_notional = Money(v),
            5 => l.max_account_open_orders = v as u32,
            6 => l.max_open_orders = v as u32,
            7 => l.collar_bps = (v > 0).then_some(v as u32),
            8 => l.max_position_qty = Qty(v),
            9 => l.max_position_notional = Money(v),
            _ => l.max_account_position_notional = Money(v),
        }
        self.risk.set_limits(self.config.risk);
        Ok(())
    }
}
