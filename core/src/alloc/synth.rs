//! Generated accounts for demos and benchmarks, and the memory-streaming reference that the
//! allocation benchmark prints beside its own figure.
//!
//! The generator is deterministic (splitmix64 from a seed), so a benchmark or demo run is
//! reproducible on any machine.

use crate::account::{AccountRecord, AccountVecs, FLAG_ACTIVE, FLAG_CLOSE_ONLY, USD};
use crate::num::{Lots, Money, Ratio};

pub use crate::rand::splitmix64;
use crate::rand::splitmix64 as next;

/// `n` accounts with ids `S0`, `S1`, …: balances 1,000 to 1,000,000 in micro-units, equity
/// within ±5 % of balance, margin up to 20 % of equity, leverage 100, multipliers 0.1-3,
/// percent 0, fixed lots 0.01-1, risk fraction 0.5-2 %; about 2 % inactive and 1 % close-only.
pub fn synthetic_accounts(n: usize, seed: u64) -> AccountVecs {
    let mut s = seed;
    let mut v = AccountVecs::default();
    for i in 0..n {
        let balance = 1_000_000_000 + (next(&mut s) % 999_000_000_000) as i64;
        let swing = (next(&mut s) % 100_001) as i64 - 50_000; // ±5 % in 1e-6
        let equity = balance + balance / 1_000_000 * swing;
        let margin = equity / 1_000_000 * (next(&mut s) % 200_000) as i64;
        let roll = next(&mut s) % 100;
        let flags = match roll {
            0 | 1 => 0,
            2 => FLAG_ACTIVE | FLAG_CLOSE_ONLY,
            _ => FLAG_ACTIVE,
        };
        let mut id = [0u8; 16];
        let text = format!("S{i}");
        id[..text.len().min(16)].copy_from_slice(&text.as_bytes()[..text.len().min(16)]);
        v.push(&AccountRecord {
            id,
            balance: Money(balance),
            equity: Money(equity),
            margin_used: Money(margin),
            equity_hwm: Money(balance.max(equity)),
            multiplier: Ratio(100_000 + (next(&mut s) % 2_900_001) as i64),
            percent: Ratio(0),
            fixed_lots: Lots(100 + 100 * (next(&mut s) % 100) as i64),
            risk_fraction: Ratio(5_000 + (next(&mut s) % 15_001) as i64),
            drawdown_tolerance: Ratio(200_000),
            min_scale: Ratio(0),
            max_scale: Ratio(1_000_000),
            leverage: 100,
            cluster: (i % 4) as u16,
            flags,
            commission_per_lot: Money::ZERO,
            daily_loss_limit: Money::ZERO,
            margin_call_level: Ratio(0),
            stop_out_level: Ratio(0),
            currency: USD,
        });
    }
    v
}

/// Streams the bytes an equity allocation reads (the equity and flags columns) once and folds
/// them into a number the caller must use: the memory-bandwidth floor of one allocation.
pub fn stream_reference(equity: &[Money], flags: &[u16]) -> u64 {
    let e = equity
        .iter()
        .fold(0u64, |a, m| a.wrapping_add(m.raw() as u64));
    let f = flags
        .iter()
        .fold(0u64, |a, &x| a.wrapping_add(u64::from(x)));
    e ^ f
}
