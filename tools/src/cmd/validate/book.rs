//! The investor book `mam validate` runs on when no accounts file is given: a realistic,
//! seeded mix — balance tiers from retail to large, leverage by tier (ESMA's 1:30 retail cap
//! for the smallest), drawdown tolerances 10–30 %, commission or none — and the cash flows
//! (deposits and withdrawals) each account makes over the period.

use mam_core::account::{AccountRecord, AccountVecs, FLAG_ACTIVE, USD};
use mam_core::num::{Money, Ratio};

use super::strategy::next;

/// A cash flow: (UTC ns, account index, signed amount in micro-units).
pub type Flow = (u64, u32, i64);

fn uniform(s: &mut u64, lo: f64, hi: f64) -> f64 {
    // Generation only (a seeded book, rounded to cents once); never state.
    lo + (hi - lo) * ((next(s) >> 11) as f64 / (1u64 << 53) as f64)
}

/// `n` accounts `V0…`: 60 % retail (1k–20k USD, 1:30, cluster 0), 30 % mid (20k–200k, 1:100,
/// cluster 1), 10 % large (200k–2M, 1:200, cluster 2); balances log-uniform inside the tier.
/// Manager bounds `[0, 1.25]` on every account.
pub fn generate(n: usize, seed: u64) -> AccountVecs {
    let mut s = seed ^ 0x5EED_B00C;
    let mut v = AccountVecs::default();
    for i in 0..n {
        let roll = next(&mut s) % 100;
        let (lo, hi, lev, cluster) = match roll {
            0..=59 => (1e3, 2e4, 30, 0),
            60..=89 => (2e4, 2e5, 100, 1),
            _ => (2e5, 2e6, 200, 2),
        };
        let bal = uniform(&mut s, f64::ln(lo), f64::ln(hi)).exp();
        let balance = Money((bal * 100.0).round() as i64 * 10_000);
        let tol = [100_000, 150_000, 200_000, 300_000][(next(&mut s) % 4) as usize];
        let commission = if next(&mut s).is_multiple_of(2) {
            3_500_000
        } else {
            0
        };
        let mut id = [0u8; 16];
        let text = format!("V{i}");
        id[..text.len()].copy_from_slice(text.as_bytes());
        v.push(&AccountRecord {
            id,
            balance,
            equity: balance,
            equity_hwm: balance,
            multiplier: Ratio(Ratio::ONE_RAW),
            drawdown_tolerance: Ratio(tol),
            min_scale: Ratio(0),
            max_scale: Ratio(1_250_000),
            leverage: lev,
            cluster,
            flags: FLAG_ACTIVE,
            commission_per_lot: Money(commission),
            currency: USD,
            ..AccountRecord::default()
        });
    }
    v
}

/// Seeded flows over `[from_ns, to_ns)`: each account, each 30 days, deposits 10–50 % of its
/// starting balance with probability 8 % or withdraws 10–30 % with probability 4 %.
pub fn flows(accounts: &AccountVecs, from_ns: u64, to_ns: u64, seed: u64) -> Vec<Flow> {
    const MONTH: u64 = 30 * 86_400 * 1_000_000_000;
    let mut s = seed ^ 0xF10E_5EED;
    let mut out = Vec::new();
    let mut t = from_ns + MONTH / 2;
    while t < to_ns {
        for (a, b) in accounts.balance.iter().enumerate() {
            let r = next(&mut s) % 100;
            let frac = match r {
                0..=7 => uniform(&mut s, 0.10, 0.50),
                8..=11 => -uniform(&mut s, 0.10, 0.30),
                _ => continue,
            };
            let amount = (b.raw() as f64 * frac / 10_000.0).round() as i64 * 10_000;
            let at = t + next(&mut s) % (86_400 * 1_000_000_000);
            out.push((at, a as u32, amount));
        }
        t += MONTH;
    }
    out.sort_unstable();
    out
}
