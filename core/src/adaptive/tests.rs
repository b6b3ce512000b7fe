use proptest::prelude::*;

use super::factors::{self, account_factors, bounded_steps, step_bounds, AccountView, Shared, ONE};
use super::model::*;
use super::state::{bucket, forward, ret, SymbolState};
use super::AdaptiveState;
use crate::alloc::{LotLimits, MinLotPolicy};
use crate::num::{Lots, Ratio};
use crate::symbol::SymbolTable;

fn test_regime() -> RegimeModel {
    test_model("X").symbols[0].regime
}

pub(crate) fn test_model(symbol: &str) -> AdaptiveModel {
    AdaptiveModel::example(symbol)
}

#[test]
fn the_test_model_and_the_untrained_one_validate() {
    test_model("EURUSD").validate().unwrap();
    AdaptiveModel::untrained().validate().unwrap();
}

#[test]
fn bad_models_are_refused_with_the_reason() {
    let mut m = test_model("EURUSD");
    m.symbols[0].regime.trans[1][1] += 1;
    let e = m.validate().unwrap_err().to_string();
    assert!(
        e.contains("EURUSD") && e.contains("transition row 1"),
        "{e}"
    );
    let mut m = test_model("EURUSD");
    m.symbols[0].vol.alpha_ppb = 600_000_000;
    m.symbols[0].vol.beta_ppb = 600_000_000;
    assert!(m
        .validate()
        .unwrap_err()
        .to_string()
        .contains("alpha + beta"));
    let mut m = test_model("EURUSD");
    m.clusters.clear();
    assert!(m.validate().is_err());
}

#[test]
fn returns_are_exact_decimal_ratios() {
    // Twice the mids: 1.10000 → 1.10011 is +0.01 %.
    assert_eq!(ret(2 * 110_000_000, 2 * 110_011_000), 100_000);
    assert_eq!(ret(2 * 110_011_000, 2 * 110_000_000), -99_990);
}

#[test]
fn one_return_per_interval_close_to_close_gaps_skipped() {
    let m = test_model("EURUSD");
    let sm = &m.symbols[0];
    let mut s = SymbolState::new(Some(sm));
    let min = 60_000_000_000u64;
    let t0 = 1_700_000_000 * 1_000_000_000 / min * min;
    s.on_quote(Some(sm), t0, 110_000_000, 110_000_000, 0);
    s.on_quote(Some(sm), t0 + 1, 110_005_000, 110_005_000, 0);
    assert_eq!(s.samples, 0, "the first interval has no previous close");
    s.on_quote(Some(sm), t0 + min, 110_011_000, 110_011_000, 0);
    assert_eq!(s.samples, 0, "a return needs two closed intervals");
    s.on_quote(Some(sm), t0 + 2 * min, 110_000_000, 110_000_000, 0);
    assert_eq!(s.samples, 1);
    // 1.10005 → 1.10011
    let r = ret(2 * 110_005_000, 2 * 110_011_000);
    let expect =
        (940_000_000u128 * 10_000_000_000 + 60_000_000 * (r as u128 * r as u128) + 500_000_000)
            / 1_000_000_000;
    assert_eq!(u128::from(s.var), expect);
    // A weekend: no return across it.
    s.on_quote(
        Some(sm),
        t0 + 3 * min + 48 * 3600 * 1_000_000_000,
        120_000_000,
        120_000_000,
        0,
    );
    assert_eq!(s.samples, 1);
}

#[test]
fn big_moves_turn_the_label_stressed_and_calm_brings_it_back() {
    let m = test_model("EURUSD");
    let sm = &m.symbols[0];
    let mut s = SymbolState::new(Some(sm));
    for _ in 0..30 {
        s.fold(sm, 400_000); // 4 sigma_ref
    }
    assert_eq!(s.label, Regime::Stressed as u8);
    for _ in 0..200 {
        s.fold(sm, 10_000);
    }
    assert_eq!(s.label, Regime::Calm as u8);
}

#[test]
fn untrained_symbols_give_factor_one() {
    let syms = SymbolTable::builtin();
    let st = AdaptiveState::new(AdaptiveModel::untrained(), &syms);
    let sh = st.shared(0, 100_000_000_000, 0);
    assert_eq!(sh.vol, ONE);
    assert_eq!(sh.spread, ONE);
    assert_eq!(sh.regime, Regime::Normal as u8);
}

#[test]
fn state_and_model_round_trip_through_bytes() {
    let syms = SymbolTable::builtin();
    let mut st = AdaptiveState::new(test_model("EURUSD"), &syms);
    let i = syms.id_of("EURUSD").unwrap();
    for k in 0..500u64 {
        let px = 110_000_000 + ((k * 7919) % 400) as i64 * 1000;
        st.on_quote(
            i,
            1_700_000_000_000_000_000 + k * 20_000_000_000,
            px,
            px + 2000,
            5_000_000,
        );
    }
    st.on = false;
    st.allocations = 7;
    let mut b = Vec::new();
    st.encode(&mut b);
    let (back, used) = AdaptiveState::decode(&b, &syms).unwrap();
    assert_eq!(used, b.len());
    assert_eq!(back, st);
    for cut in [0, 1, 10, b.len() / 2, b.len() - 1] {
        assert!(
            AdaptiveState::decode(&b[..cut], &syms).is_err(),
            "cut at {cut}"
        );
    }
}

fn limits() -> LotLimits {
    LotLimits {
        step: Lots(100),
        min_steps: 1,
        max_steps: 10_000,
    }
}

proptest! {
    #[test]
    fn the_filter_keeps_a_distribution(post in proptest::array::uniform3(0u64..1_000_000_000), r in any::<i64>()) {
        let rm = test_regime();
        let mut p = post;
        let s: u64 = p.iter().sum();
        prop_assume!(s > 0);
        // Normalise the starting point the way the engine keeps it.
        let mut acc = 0;
        for x in p.iter_mut().take(2) { *x = *x * PPB / s; acc += *x; }
        p[2] = PPB - acc;
        forward(&rm, &mut p, bucket(&rm, r));
        prop_assert_eq!(p.iter().sum::<u64>(), PPB);
    }

    /// The manager's bounds are never left: whatever the factors, the size is inside
    /// `[⌈static·min⌉, ⌊static·max⌋]` unless the broker's lot rules forbid every size there
    /// (and then the record says so).
    #[test]
    fn bounds_are_never_left(
        static_steps in 0u64..5_000,
        vol in 0i64..(8 * ONE), spread in 0i64..(2 * ONE), sqrt_qv in 0i64..(4 * ONE),
        regime in 0u8..3,
        equity in -1_000_000_000i64..1_000_000_000_000, hwm in 0i64..2_000_000_000_000,
        tol in 0i64..1_000_000, used in 0i64..1_000_000_000_000, new_margin in 0i64..1_000_000_000_000,
        held in -10_000_000_000_000i64..10_000_000_000_000, add in -10_000_000_000_000i64..10_000_000_000_000,
        min in 0i64..2_000_000, span in 0i64..3_000_000,
        slip_ppb in 0u64..=1_000_000_000, risk_now in 0u64..1_000_000_000_000, risk_add in 0u64..1_000_000_000_000,
        min_steps in 1u64..20, round_up in any::<bool>(),
    ) {
        let c = ClusterParams::default();
        let sh = Shared { sigma: 1, sigma_target: 1, regime, vol, sqrt_qv, spread, slip_ppb };
        let v = AccountView {
            equity, hwm, tolerance: tol, margin_used: used, new_margin,
            legs: [(held, add), (0, -add)], risk: (risk_now, risk_now + risk_add),
        };
        let (lo_r, hi_r) = (Ratio(min), Ratio(min + span));
        let f = account_factors(&c, &sh, &v, lo_r, hi_r);
        if !(min == 0 && span == 0) {
            prop_assert!(f.scale >= factors::of_ratio(lo_r) && f.scale <= factors::of_ratio(hi_r));
        }
        let lim = LotLimits { min_steps, ..limits() };
        let pol = if round_up { MinLotPolicy::RoundUp } else { MinLotPolicy::Zero };
        let (s, flag) = bounded_steps(static_steps, f.scale, lo_r, hi_r, lim, pol);
        let (lo, hi) = step_bounds(static_steps, lo_r, hi_r);
        if flag == 0 {
            prop_assert!(s >= lo && s <= hi, "{} not in [{}, {}]", s, lo, hi);
        } else {
            // Only when no tradable size lies in the bounds.
            prop_assert!(!(lo..=hi).any(|x| x == 0 || (x >= min_steps && x <= lim.max_steps)));
        }
        prop_assert!(s == 0 || (s >= min_steps && s <= lim.max_steps));
    }
}

#[test]
fn correlations_follow_the_returns() {
    use super::cross::{Correlations, MIN_PAIRS};
    let mut c = Correlations::new(3);
    for k in 0..200u64 {
        let r = if k % 2 == 0 { 100_000 } else { -80_000 };
        c.on_return(0, k, r);
        c.on_return(1, k, r / 2); // moves with 0
        c.on_return(2, k, -r); // against 0
    }
    assert!(c.rho_ppb(0, 1) > 990_000_000, "{}", c.rho_ppb(0, 1));
    assert!(c.rho_ppb(0, 2) < -990_000_000, "{}", c.rho_ppb(0, 2));
    assert_eq!(c.rho_ppb(1, 1), 1_000_000_000);
    // Too few samples: no correlation yet.
    let mut d = Correlations::new(2);
    for k in 0..u64::from(MIN_PAIRS) - 1 {
        d.on_return(0, k, 5);
        d.on_return(1, k, 5);
    }
    assert_eq!(d.rho_ppb(0, 1), 0);
}

#[test]
fn slippage_is_learned_per_hour_from_fills() {
    use super::cross::Slippage;
    let mut s = Slippage::new(1);
    let h10 = 10 * 3_600_000_000_000u64;
    for k in 0..100u64 {
        s.on_sent((k, 0, true), 110_000_000, h10);
        // A second order of the same input shares the first's touch.
        s.on_sent((k, 0, true), 120_000_000, h10);
        // Every other buy fills 2 pips above the ask (threshold 0.5 pip = 5_000).
        let px = if k % 2 == 0 { 110_020_000 } else { 110_000_000 };
        s.on_fill((k, 0, true), px, 5_000);
        s.on_done(k);
    }
    let c = s.cell(0, h10);
    assert_eq!(c.fills, 100);
    assert!((400_000_000..600_000_000).contains(&c.p_ppb), "{}", c.p_ppb);
    assert_eq!(s.cell(0, h10 + 3_600_000_000_000).fills, 0, "another hour");
    assert!(s.sent.is_empty());
}

#[test]
fn correlated_risk_and_slippage_cut_the_size() {
    let c = ClusterParams::default();
    let sh = Shared {
        vol: ONE,
        spread: ONE,
        regime: 1,
        slip_ppb: 500_000_000,
        ..Shared::default()
    };
    // Equity 10,000; cap 0.05 % = 5 (money units); risk 3 now, 7 with the trade: half passes.
    let v = AccountView {
        equity: 10_000_000_000,
        risk: (3_000_000, 7_000_000),
        ..AccountView::default()
    };
    let f = account_factors(&c, &sh, &v, Ratio(0), Ratio(2_000_000));
    assert_eq!(f.risk, ONE / 2);
    assert_eq!(f.slippage, ONE * 3 / 4, "1 − 0.5 × 0.5");
    // A trade that lowers the risk is never cut.
    let v = AccountView {
        risk: (7_000_000, 3_000_000),
        ..v
    };
    assert_eq!(
        account_factors(&c, &sh, &v, Ratio(0), Ratio(2_000_000)).risk,
        ONE
    );
}

proptest! {
    /// The quote path's estimated division gives the 128-bit division's number, always.
    #[test]
    fn ppb_division_is_exact(n in prop_oneof![
        any::<u64>().prop_map(u128::from),
        any::<u128>(),
        (0u128..1 << 100),
        Just(u128::MAX), Just(0u128), Just(500_000_000u128), Just(1_500_000_000u128),
    ]) {
        use super::state::{div_half_even, div_ppb_half_even};
        prop_assert_eq!(div_ppb_half_even(n), div_half_even(n, 1_000_000_000));
    }
}
