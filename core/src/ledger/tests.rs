use super::*;
use crate::symbol::encode_currency;

fn usd() -> [u8; 8] {
    encode_currency("USD").unwrap()
}
fn px(s: &str) -> Price {
    Price::parse(s).unwrap()
}
fn q(s: &str) -> Qty {
    Qty::parse(s).unwrap()
}
fn m(s: &str) -> Money {
    Money::parse(s).unwrap()
}

#[test]
fn eurusd_long_marked_at_the_bid_then_closed_in_two() {
    let t = SymbolTable::builtin();
    let eu = t.id_of("EURUSD").unwrap();
    let mut l = Ledger::new(&t, &[usd()]);
    let mut bal = m("10000");
    l.lp_fill(eu, q("100000"));
    l.book(0, eu, q("100000"), px("1.10000"), m("7"), &mut bal)
        .unwrap();
    assert_eq!(bal, m("9993"), "commission 7 per lot");
    assert_eq!(l.position(0, eu).avg_price(), Some(px("1.1")));
    l.set_quote(eu, px("1.10100"), px("1.10120"));
    let v = l.value(0, bal, 100);
    assert_eq!(v.unrealised, m("100"));
    assert_eq!(v.equity, m("10093"));
    // Margin: 100,000 × 1.101 ÷ 100.
    assert_eq!(v.margin, m("1101"));
    assert_eq!(v.margin_level(), Some(Ratio::parse("916.71208").unwrap()));
    // Sell 40,000 at 1.10200: realised 40,000 × 0.002 = 80, commission 2.8.
    l.lp_fill(eu, q("-40000"));
    let b = l
        .book(0, eu, q("-40000"), px("1.10200"), m("7"), &mut bal)
        .unwrap();
    assert_eq!(b.realised, m("80"));
    assert_eq!(b.commission, m("2.8"));
    assert_eq!(bal, m("10070.2"));
    assert_eq!(l.position(0, eu).qty, q("60000"));
    assert_eq!(l.qty(0, eu), q("60000"));
    assert_eq!(l.position(0, eu).avg_price(), Some(px("1.1")));
    // Sell 100,000 at 1.09: closes 60,000 (−600) and opens 40,000 short at 1.09.
    l.lp_fill(eu, q("-100000"));
    let b = l
        .book(0, eu, q("-100000"), px("1.09"), Money::ZERO, &mut bal)
        .unwrap();
    assert_eq!(
        (b.realised, b.closed, b.opened),
        (m("-600"), q("60000"), q("40000"))
    );
    assert_eq!(l.position(0, eu).qty, q("-40000"));
    assert_eq!(l.position(0, eu).avg_price(), Some(px("1.09")));
    // Short marked at the ask: 40,000 × (1.09 − 1.10120) = −448.
    assert_eq!(l.unrealised(0, eu), m("-448"));
    assert_eq!(l.sum_positions(eu), i128::from(l.lp_net(eu).raw()));
    assert_eq!(l.unallocated(eu), Qty::ZERO);
}

#[test]
fn usdjpy_on_a_usd_account_divides_by_its_own_mid() {
    let t = SymbolTable::builtin();
    let uj = t.id_of("USDJPY").unwrap();
    let mut l = Ledger::new(&t, &[usd()]);
    let mut bal = m("1000");
    l.book(0, uj, q("100000"), px("110.000"), Money::ZERO, &mut bal)
        .unwrap();
    l.set_quote(uj, px("111.000"), px("111.020"));
    // 100,000 JPY of profit ÷ 111.01 = 900.819746 USD.
    assert_eq!(l.unrealised(0, uj), m("900.819746"));
    // Margin: 100,000 × 111 JPY ÷ 111.01 ÷ 100 = 999.909918... → 999.90991.
    let v = l.value(0, bal, 100);
    assert_eq!(v.margin, m("999.909918"));
}

#[test]
fn eurgbp_on_a_usd_account_multiplies_by_gbpusd_and_eur_accounts_work() {
    let t = SymbolTable::builtin();
    let eg = t.id_of("EURGBP").unwrap();
    let gu = t.id_of("GBPUSD").unwrap();
    let eur = encode_currency("EUR").unwrap();
    let mut l = Ledger::new(&t, &[usd(), eur]);
    let (mut b0, mut b1) = (m("1000"), m("1000"));
    l.book(0, eg, q("-10000"), px("0.85000"), Money::ZERO, &mut b0)
        .unwrap();
    l.book(1, eg, q("-10000"), px("0.85000"), Money::ZERO, &mut b1)
        .unwrap();
    l.set_quote(eg, px("0.84000"), px("0.84010"));
    l.set_quote(gu, px("1.30000"), px("1.30020"));
    // 10,000 × 0.0099 GBP = 99 GBP × 1.3001 = 128.7099 USD.
    assert_eq!(l.unrealised(0, eg), m("128.7099"));
    // EUR account: EURGBP quotes GBP; EUR→GBP is EURGBP itself: 99 ÷ 0.84005.
    assert_eq!(l.unrealised(1, eg), m("117.850128"));
    assert_eq!(l.currency(1), eur);
}

#[test]
fn a_currency_without_a_converter_is_listed_and_counted() {
    let t = SymbolTable::builtin();
    let eu = t.id_of("EURUSD").unwrap();
    let mut l = Ledger::new(&t, &[encode_currency("SEK").unwrap()]);
    assert!(l.missing_conversions().iter().any(|&(_, s)| s == eu));
    let mut bal = m("1000");
    l.book(0, eu, q("1000"), px("1.1"), Money::ZERO, &mut bal)
        .unwrap();
    assert_eq!(l.unconverted(), 1);
}

/// `value` as first written: every amount through [`exact::mul_div_general`] only.
fn value_general(l: &Ledger, account: u32, balance: Money, leverage: u32) -> Valuation {
    use exact::mul_div_general as g;
    let e8 = 100_000_000i128;
    let a = account as usize;
    let conv = |rate: Rate, x: i128| match rate {
        Rate::Identity => g(x, 1, e8),
        Rate::Multiply(s) => g(x, s, 2 * e8 * e8),
        Rate::Divide(s) => g(x, 2, s),
    };
    let lev = i128::from(leverage.max(1)) * i128::from(Ratio::ONE_RAW);
    let (mut u, mut m) = (0i64, 0i64);
    for s in 0..l.ni {
        let i = a * l.ni + s;
        let q = l.qty[i];
        if q == 0 {
            continue;
        }
        let mark = if q > 0 { l.bid[s] } else { l.ask[s] };
        let k = l.cost[i];
        // Before its first quote a symbol converting through itself uses its average price.
        let avg = i64::try_from(k.abs() / i128::from(q.unsigned_abs())).unwrap_or(0);
        let (rate, _) = l.rate(a, s, avg);
        let (x, notional) = if mark > 0 {
            let v = i128::from(q) * i128::from(mark);
            (v - k, v.abs())
        } else {
            (0, k.abs())
        };
        let pu = conv(rate, x)
            .and_then(|v| i64::try_from(v).ok())
            .unwrap_or(i64::MAX);
        let n = conv(rate, notional)
            .and_then(|v| i64::try_from(v).ok())
            .unwrap_or(i64::MAX);
        let pm = g(i128::from(n), i128::from(l.margin_rate[s]), lev)
            .and_then(|v| i64::try_from(v).ok())
            .unwrap_or(i64::MAX);
        u = u.saturating_add(pu);
        m = m.saturating_add(pm);
    }
    Valuation {
        balance,
        unrealised: Money(u),
        equity: Money(balance.raw().saturating_add(u)),
        margin: Money(if l.open[a] == 0 { 0 } else { m }),
    }
}

mod fast_paths {
    use super::*;
    use proptest::prelude::*;

    fn table() -> SymbolTable {
        // A margin rate other than 1 on two symbols, so both margin paths run.
        SymbolTable::with_overrides(
            "[symbols.XAUUSD]\nmargin_rate = \"0.05\"\n[symbols.EURJPY]\nmargin_rate = \"1.5\"\n",
        )
        .unwrap()
    }

    fn amount() -> impl Strategy<Value = i64> {
        prop_oneof![
            // Half units at small prices make exact ties (…5 at the rounded digit) common.
            (1i64..400).prop_map(|k| k * 500_000),
            1i64..1_000_000_000_000,
            1i64..100_000_000_000_000_000,
            Just(i64::MAX / 2),
        ]
    }

    fn price() -> impl Strategy<Value = i64> {
        prop_oneof![
            1i64..1000,
            1i64..1_000_000_000,
            1i64..10_000_000_000_000,
            1i64..i64::MAX / 4,
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn value_agrees_with_the_general_arithmetic(
            fills in prop::collection::vec((0u32..4, 0u32..13, any::<bool>(), amount(), price()), 1..30),
            quotes in prop::collection::vec((0u32..13, price(), 0i64..1_000_000), 0..20),
            leverage in prop_oneof![Just(0u32), 1u32..1000, Just(u32::MAX)],
        ) {
            let t = table();
            let ccys: Vec<[u8; 8]> = ["USD", "EUR", "JPY", "GBP"]
                .iter()
                .map(|c| encode_currency(c).unwrap())
                .collect();
            let mut l = Ledger::new(&t, &ccys);
            let mut bal = [Money(1_000_000_000_000); 4];
            for (s, bid, spread) in &quotes {
                l.set_quote(*s, Price(*bid), Price(bid.saturating_add(*spread)));
            }
            for (a, s, buy, q, px) in fills {
                let q = if buy { q } else { -q };
                let _ = l.book(a, s, Qty(q), Price(px), Money::ZERO, &mut bal[a as usize]);
            }
            for a in 0..4u32 {
                prop_assert_eq!(
                    l.value(a, bal[a as usize], leverage),
                    value_general(&l, a, bal[a as usize], leverage)
                );
            }
        }
    }
}
