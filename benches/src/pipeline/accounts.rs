//! The bench's accounts: `n` active accounts whose equities differ by at most 2×, so an
//! equity-proportional master of two lot steps per account gives every account at least one
//! step (per-account routing then sends exactly one child per account).
//!
//! Built on core's [`AccountVecs`] directly (the demo's generator lives in `mam-tools`, which
//! depends on this crate).

use mam_core::account::{AccountRecord, AccountVecs, FLAG_ACTIVE, USD};
use mam_core::num::{Lots, Money, Ratio};

/// `n` accounts `B000000`, `B000001`, ... with balance = equity in 10,000..20,000 (spread by a
/// multiplicative hash of the index, so neighbours differ), leverage 100.
pub fn accounts(n: usize) -> AccountVecs {
    let mut v = AccountVecs::default();
    for i in 0..n {
        // Knuth's multiplicative hash: a fixed, well-spread sequence without an RNG.
        let spread = (i as u64).wrapping_mul(2_654_435_761) % 10_000;
        let balance = Money((10_000 + spread as i64) * Money::ONE_RAW);
        let mut id = [0u8; 16];
        let text = format!("B{i:06}");
        id[..text.len()].copy_from_slice(text.as_bytes());
        v.push(&AccountRecord {
            id,
            balance,
            equity: balance,
            margin_used: Money::ZERO,
            equity_hwm: balance,
            multiplier: Ratio(Ratio::ONE_RAW),
            percent: Ratio(0),
            fixed_lots: Lots(100),
            risk_fraction: Ratio(Ratio::ONE_RAW / 100),
            drawdown_tolerance: Ratio(Ratio::ONE_RAW / 5),
            min_scale: Ratio(0),
            max_scale: Ratio(Ratio::ONE_RAW),
            leverage: 100,
            cluster: 0,
            flags: FLAG_ACTIVE,
            commission_per_lot: Money::ZERO,
            daily_loss_limit: Money::ZERO,
            margin_call_level: Ratio(0),
            stop_out_level: Ratio(0),
            currency: USD,
        });
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equities_within_two_times_and_all_active() {
        let a = accounts(1000);
        assert_eq!(a.id.len(), 1000);
        let lo = a.equity.iter().min().unwrap().0;
        let hi = a.equity.iter().max().unwrap().0;
        assert!(hi < 2 * lo);
        assert!(a.flags.iter().all(|&f| f == FLAG_ACTIVE));
    }
}
