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
