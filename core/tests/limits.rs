//! Limits that act (docs/ledger.md, "Limits that act"), and the price boxes that decide which
//! accounts a quote must check.
//!
//! - Worked scenarios: stop-out at exactly the crossing quote, closing the largest loss and
//!   then the next while still under; margin call raised and lifted; daily loss (close-only,
//!   flatten) lifted at the next UTC day; maximum drawdown.
//! - Box soundness: many accounts, random positions, random quote walks with gaps; a
//!   brute-force checker values every account after every input and says which limits it
//!   crosses or leaves; the engine's limit events must be exactly those, at exactly that input.
//! - Exactly once across a restart: a checkpoint just before the stop-out quote, recovery, and
//!   the same decisions and state as an engine never stopped.

mod common;

use common::*;
use mam_core::account::{AccountRecord, FLAG_LIMIT_CLOSE_ONLY_SET, FLAG_LIMIT_FLATTEN};
use mam_core::engine::decision::{limit_event, LimitEvent, LIMIT_TICKET};
use mam_core::engine::input::model_code;
use mam_core::engine::{Decision, Engine, EngineError, Input};
use mam_core::event::{ChildOrder, ExecStatus, OrdType, Side};
use mam_core::journal::JournalReader;
use mam_core::ledger::Valuation;
use mam_core::num::{Lots, Money, Qty, Ratio};
use mam_core::symbol::SymbolTable;
use proptest::prelude::*;

/// 1 pip of EURUSD / GBPUSD, raw.
const PIP: i64 = 10_000;
/// 1.10000 and 1.30000, raw.
const EU0: i64 = 110_000_000;
const GU0: i64 = 130_000_000;
const LOT: i64 = 100_000 * Qty::ONE_RAW;

fn usd(x: i64) -> i64 {
    x * Money::ONE_RAW
}

fn percent(p: i64) -> Ratio {
    Ratio(p * Ratio::ONE_RAW)
}

/// An account trading one lot per open (fixed model).
fn one_lot(i: usize, balance: i64, leverage: u32) -> AccountRecord {
    AccountRecord {
        fixed_lots: Lots(10_000),
        ..account(i, balance, leverage)
    }
}

/// A quote one pip wide at `bid`.
fn q(h: &mut Harness, instrument: u32, bid: i64) -> Vec<Decision> {
    let ts = h.tick();
    h.apply(quote(ts, instrument, bid, bid + PIP))
}

fn fill_at(h: &mut Harness, o: &ChildOrder, px: i64) -> Vec<Decision> {
    let ts = h.tick();
    h.apply(fill(ts, o.cl_ord_id, o.qty.raw(), px, ExecStatus::Filled))
}

/// Opens ticket `t` per account with the fixed model and fills every child at `px`.
fn open_filled(h: &mut Harness, t: u64, instrument: u32, buy: bool, px: i64) -> Vec<ChildOrder> {
    let ts = h.tick();
    let os = orders(&h.apply(open(ts, t, instrument, buy, 1, model_code::FIXED, false)));
    assert!(!os.is_empty(), "the open sends orders");
    for o in &os {
        let d = fill_at(h, o, px);
        assert!(refusals(&d).is_empty(), "{d:?}");
    }
    os
}

/// The limit event codes of `account` among `d`.
fn events(d: &[Decision], account: u32) -> Vec<u8> {
    limit_events(d)
        .iter()
        .filter(|l| l.account == account)
        .map(|l| l.event)
        .collect()
}

/// The engine's own orders among `d`.
fn engine_orders(d: &[Decision]) -> Vec<ChildOrder> {
    orders(d)
        .into_iter()
        .filter(|o| o.master_ticket == LIMIT_TICKET)
        .collect()
}

fn value(h: &Harness, a: u32) -> Valuation {
    h.engine.valuation(a).expect("account")
}

fn eurusd() -> u32 {
    sym("EURUSD")
}

fn gbpusd() -> u32 {
    sym("GBPUSD")
}

/// One account (3,000 USD, 1:100) long 1 lot EURUSD at 1.10010 and 1 lot GBPUSD at 1.30010.
fn two_longs() -> Harness {
    let mut h = Harness::new(accounts_of(&[one_lot(0, 3_000, 100)]));
    q(&mut h, eurusd(), EU0);
    q(&mut h, gbpusd(), GU0);
    open_filled(&mut h, 1, eurusd(), true, EU0 + PIP);
    open_filled(&mut h, 2, gbpusd(), true, GU0 + PIP);
    let v = value(&h, 0);
    assert_eq!(v.equity.raw(), usd(2_980));
    assert_eq!(v.margin.raw(), usd(2_400));
    h
}

#[test]
fn stop_out_at_the_first_quote_at_or_below_the_level_closes_the_largest_loss() {
    let mut h = two_longs();
    let eu = eurusd();
    // Margin level = (2,990 + 100,000 × (bid − 1.1001)) ÷ (1,000 × bid + 1,300):
    // 100.24 % at 1.0942, 99.83 % at 1.0941; 50.37 % at 1.0822, 49.96 % at 1.0821.
    let walk = [
        (10_990, vec![]),
        (10_960, vec![]),
        (10_942, vec![]),
        (10_941, vec![limit_event::MARGIN_CALL]),
        (10_900, vec![]),
        (10_822, vec![]),
        (10_821, vec![limit_event::STOP_OUT]),
    ];
    for (bid, want) in walk {
        let d = q(&mut h, eu, bid * PIP);
        assert_eq!(events(&d, 0), want, "at {bid}");
        if want.contains(&limit_event::STOP_OUT) {
            let l = limit_events(&d)[0];
            assert_eq!(l.event, limit_event::STOP_OUT);
            assert_eq!((l.equity, l.margin), (usd(1_190), 2_382_100_000));
            assert_eq!((l.threshold, l.action, l.orders), (50_000_000, 3, 1));
            let o = engine_orders(&d);
            assert_eq!(o.len(), 1, "one position closed at a time");
            assert_eq!(o[0].instrument, eu, "EURUSD loses 1,800, GBPUSD 10");
            assert_eq!(o[0].account, 0);
            assert_eq!(o[0].side, Side::Sell as u8);
            assert_eq!(o[0].qty.raw(), LOT);
            assert_eq!(o[0].ord_type, OrdType::Market as u8, "no collar configured");
            assert_eq!(
                h.engine.holdings(1).unwrap(),
                &[0],
                "the ticket's share goes"
            );
            // Filled at the bid: equity 1,190 on GBPUSD's 1,300 of margin is 91.5 %: the
            // next position stays.
            let d = fill_at(&mut h, &o[0], bid * PIP);
            assert!(engine_orders(&d).is_empty(), "{d:?}");
            assert!(events(&d, 0).is_empty(), "still in the margin call: {d:?}");
            assert_eq!(h.engine.ledger().position(0, eu).qty, Qty::ZERO);
            assert_eq!(value(&h, 0).equity.raw(), usd(1_190));
        } else {
            assert!(engine_orders(&d).is_empty(), "at {bid}");
        }
    }
    assert!(h.engine.limit_flags(0).unwrap().margin_call);
}

#[test]
fn stop_out_closes_the_next_position_while_the_level_stays_under() {
    let mut h = two_longs();
    let (eu, gu) = (eurusd(), gbpusd());
    // A 2.7 % gap: equity −20, margin 2,370: both limits at once.
    let d = q(&mut h, eu, 107_000_000);
    let mut ev = events(&d, 0);
    ev.sort_unstable();
    assert_eq!(ev, [limit_event::MARGIN_CALL, limit_event::STOP_OUT]);
    let o = engine_orders(&d);
    assert_eq!(o.len(), 1);
    assert_eq!(o[0].instrument, eu);
    // Still under at its fill (−20 on 1,300): GBPUSD goes next.
    let d = fill_at(&mut h, &o[0], 107_000_000);
    assert_eq!(events(&d, 0), [limit_event::STOP_OUT]);
    let o = engine_orders(&d);
    assert_eq!(o.len(), 1);
    assert_eq!((o[0].instrument, o[0].qty.raw()), (gu, LOT));
    // Flat: no margin in use, the call is lifted.
    let d = fill_at(&mut h, &o[0], GU0);
    assert_eq!(events(&d, 0), [limit_event::MARGIN_CALL_LIFTED]);
    assert!(engine_orders(&d).is_empty());
    let v = value(&h, 0);
    assert_eq!((v.equity.raw(), v.margin.raw()), (usd(-20), 0));
    assert_eq!(h.engine.ledger().open_positions(0), 0);
}

#[test]
fn margin_call_raised_and_lifted_by_quotes_and_by_a_deposit() {
    let mut h = Harness::new(accounts_of(&[one_lot(0, 1_200, 100)]));
    let eu = eurusd();
    q(&mut h, eu, EU0);
    open_filled(&mut h, 1, eu, true, EU0 + PIP);
    // 1,190 on 1,100: 108 %. At 1.0990: 1,090 on 1,099: 99.2 %.
    let steps = [
        (109_900_000, vec![limit_event::MARGIN_CALL]),
        (109_890_000, vec![]),
        (EU0, vec![limit_event::MARGIN_CALL_LIFTED]),
        (109_900_000, vec![limit_event::MARGIN_CALL]),
    ];
    for (bid, want) in steps {
        let d = q(&mut h, eu, bid);
        assert_eq!(events(&d, 0), want, "at {bid}");
    }
    // Further into the call (1,040 on 1,098.5: 94.7 %) and back: no new event.
    let l = limit_events(&q(&mut h, eu, 109_850_000))
        .into_iter()
        .chain(limit_events(&q(&mut h, eu, 109_900_000)))
        .collect::<Vec<LimitEvent>>();
    assert!(l.is_empty(), "{l:?}");
    // A deposit of 100: 1,190 on 1,099 = 108 %: lifted at the deposit.
    let ts = h.tick();
    let d = h.apply(balance(ts, 0, usd(100)));
    assert_eq!(events(&d, 0), [limit_event::MARGIN_CALL_LIFTED]);
    let l = limit_events(&d)[0];
    assert_eq!(l.threshold, percent(100).raw());
    assert_eq!((l.equity, l.margin), (usd(1_190), usd(1_099)));
}

#[test]
fn daily_loss_holds_the_account_close_only_until_the_next_utc_day() {
    let mut a0 = one_lot(0, 10_000, 100);
    a0.daily_loss_limit = Money(usd(300));
    let mut h = Harness::new(accounts_of(&[a0, one_lot(1, 10_000, 100)]));
    let eu = eurusd();
    q(&mut h, eu, EU0); // the day's first quote: opening equity 10,000
    open_filled(&mut h, 1, eu, true, EU0 + PIP);
    assert_eq!(
        h.engine.limit_flags(0).unwrap().day_start_equity,
        usd(10_000)
    );
    // 10,000 + 100,000 × (bid − 1.1001) ≤ 9,700 from 1.0971 on.
    assert!(events(&q(&mut h, eu, 109_720_000), 0).is_empty());
    let d = q(&mut h, eu, 109_710_000);
    assert_eq!(events(&d, 0), [limit_event::DAILY_LOSS]);
    assert!(events(&d, 1).is_empty());
    let l = limit_events(&d)[0];
    assert_eq!((l.threshold, l.action, l.orders), (usd(9_700), 1, 0));
    assert!(engine_orders(&d).is_empty(), "close-only closes nothing");
    assert_ne!(h.engine.accounts().flags[0] & FLAG_LIMIT_CLOSE_ONLY_SET, 0);
    assert!(h.engine.limit_flags(0).unwrap().daily_loss);
    // The next open gives the account nothing; closes still reach it.
    let ts = h.tick();
    let os = orders(&h.apply(open(ts, 2, eu, true, 1, model_code::FIXED, false)));
    assert_eq!(os.iter().map(|o| o.account).collect::<Vec<_>>(), [1]);
    let ts = h.tick();
    let cs = orders(&h.apply(close(ts, 1, 0, true, false)));
    assert_eq!(cs.iter().map(|o| o.account).collect::<Vec<_>>(), [0, 1]);
    // Still the same day: nothing lifts.
    assert!(events(&q(&mut h, eu, EU0), 0).is_empty());
    // The first quote of the next UTC day lifts the hold.
    h.ts = DAY0 + DAY_NS + 5;
    let d = q(&mut h, eu, EU0);
    assert_eq!(events(&d, 0), [limit_event::LIFTED]);
    assert_eq!(h.engine.accounts().flags[0] & FLAG_LIMIT_CLOSE_ONLY_SET, 0);
    assert!(!h.engine.limit_flags(0).unwrap().daily_loss);
    let ts = h.tick();
    let os = orders(&h.apply(open(ts, 3, eu, true, 1, model_code::FIXED, false)));
    assert_eq!(os.iter().map(|o| o.account).collect::<Vec<_>>(), [0, 1]);
}

#[test]
fn daily_loss_with_flatten_closes_every_position() {
    let mut a0 = one_lot(0, 10_000, 100);
    a0.daily_loss_limit = Money(usd(300));
    a0.flags |= FLAG_LIMIT_FLATTEN;
    let mut h = Harness::new(accounts_of(&[a0]));
    let (eu, gu) = (eurusd(), gbpusd());
    q(&mut h, eu, EU0);
    q(&mut h, gu, GU0);
    open_filled(&mut h, 1, eu, true, EU0 + PIP);
    open_filled(&mut h, 2, gu, false, GU0);
    // Equity 10,000 − 10 (EURUSD) − 10 (GBPUSD short at the ask) + 100,000 × (bid − 1.1000):
    // ≤ 9,700 from 1.0972 on.
    assert!(events(&q(&mut h, eu, 109_730_000), 0).is_empty());
    let d = q(&mut h, eu, 109_720_000);
    assert_eq!(events(&d, 0), [limit_event::DAILY_LOSS]);
    let l = limit_events(&d)[0];
    assert_eq!((l.action, l.orders), (2, 2));
    let mut o = engine_orders(&d);
    o.sort_by_key(|o| o.instrument);
    let got: Vec<(u32, u8, i64)> = o
        .iter()
        .map(|o| (o.instrument, o.side, o.qty.raw()))
        .collect();
    let mut want = vec![(eu, Side::Sell as u8, LOT), (gu, Side::Buy as u8, LOT)];
    want.sort_unstable();
    assert_eq!(got, want);
    assert_eq!(h.engine.holdings(1).unwrap(), &[0]);
    assert_eq!(h.engine.holdings(2).unwrap(), &[0]);
    fill_at(&mut h, &o[0], 109_720_000);
    fill_at(&mut h, &o[1], GU0 + PIP);
    assert_eq!(h.engine.ledger().open_positions(0), 0);
    let ts = h.tick();
    let os = orders(&h.apply(open(ts, 3, eu, true, 1, model_code::FIXED, false)));
    assert!(os.is_empty(), "held close-only after flattening");
}

#[test]
fn maximum_drawdown_holds_until_a_new_day_finds_equity_back_above_the_line() {
    let mut a0 = one_lot(0, 10_000, 100);
    a0.drawdown_tolerance = Ratio(50_000); // 5 % of the high-water mark 10,000: 9,500
    let mut h = Harness::new(accounts_of(&[a0]));
    let eu = eurusd();
    q(&mut h, eu, EU0);
    open_filled(&mut h, 1, eu, true, EU0 + PIP);
    assert!(events(&q(&mut h, eu, 109_520_000), 0).is_empty());
    let d = q(&mut h, eu, 109_510_000);
    assert_eq!(events(&d, 0), [limit_event::DRAWDOWN]);
    let l = limit_events(&d)[0];
    assert_eq!(
        (l.threshold, l.action, l.equity),
        (usd(9_500), 1, usd(9_500))
    );
    assert!(h.engine.limit_flags(0).unwrap().drawdown);
    // A new day with equity still on the line: the hold stays.
    h.ts = DAY0 + DAY_NS + 5;
    assert!(events(&q(&mut h, eu, 109_510_000), 0).is_empty());
    assert!(h.engine.limit_flags(0).unwrap().drawdown);
    // A deposit: equity 10,500, the mark rises to it (line 9,975); lifted at the next day.
    let ts = h.tick();
    assert!(events(&h.apply(balance(ts, 0, usd(1_000))), 0).is_empty());
    assert_eq!(h.engine.accounts().equity_hwm[0].raw(), usd(10_500));
    h.ts = DAY0 + 2 * DAY_NS + 5;
    let d = q(&mut h, eu, 109_510_000);
    assert_eq!(events(&d, 0), [limit_event::LIFTED]);
    assert!(!h.engine.limit_flags(0).unwrap().drawdown);
    assert_eq!(h.engine.accounts().flags[0] & FLAG_LIMIT_CLOSE_ONLY_SET, 0);
}

// ---------------------------------------------------------------------------------------------
// Engine closes meeting the tickets' own orders.

/// docs/ledger.md: "a close can never take an account past zero". A stop-out closes the whole
/// position while the manager's full close of the same lot is still working: both fill.
#[test]
fn stop_out_while_a_ticket_close_works_never_takes_the_account_past_zero() {
    let mut h = Harness::new(accounts_of(&[one_lot(0, 3_000, 100)]));
    let eu = eurusd();
    q(&mut h, eu, EU0);
    open_filled(&mut h, 1, eu, true, EU0 + PIP);
    let ts = h.tick();
    let c = orders(&h.apply(close(ts, 1, 0, true, false)));
    assert_eq!(c.len(), 1, "the manager's close, working");
    // A gap: equity −20 on 1,070 of margin.
    let d = q(&mut h, eu, 107_000_000);
    let stop = engine_orders(&d);
    fill_at(&mut h, &c[0], 107_000_000);
    assert_eq!(h.engine.ledger().position(0, eu).qty, Qty::ZERO);
    for o in &stop {
        fill_at(&mut h, o, 107_000_000);
        let p = h.engine.ledger().position(0, eu).qty.raw();
        assert!(p >= 0, "long-only account now holds {p}");
    }
}

/// A per-account open fills in part (1.5 steps: 1 whole step on the ticket), the account is
/// stopped out (the engine closes 1.5 steps and takes the ticket's share to zero), then the
/// open's last 0.5 step fills: the ticket books 1 more whole step for half a step of position.
/// A stop-out between two partial fills of an opening order: the second fill (500 units, under
/// one lot step) reopens part of the position off every ticket, and the engine closes it at
/// once with an order of its own (it was a sub-step residual the master's close could not reach).
#[test]
fn stop_out_between_partial_fills_closes_what_fills_after_it() {
    let mut a = one_lot(0, 800, 1);
    a.fixed_lots = Lots(200); // 2 steps
    let mut h = Harness::new(accounts_of(&[a]));
    let eu = eurusd();
    q(&mut h, eu, EU0);
    let ts = h.tick();
    let o = orders(&h.apply(open(ts, 1, eu, true, 1, model_code::FIXED, false)))[0];
    assert_eq!(o.qty.raw(), 2 * STEP);
    // 1,500 units at 1.1001: margin 1,650 at 1:1, equity 799.85: 48.5 %: stopped out.
    let ts = h.tick();
    let d = h.apply(fill(
        ts,
        o.cl_ord_id,
        1_500 * Qty::ONE_RAW,
        EU0 + PIP,
        ExecStatus::PartiallyFilled,
    ));
    let stop = engine_orders(&d);
    assert_eq!(stop.len(), 1, "{d:?}");
    assert_eq!(stop[0].qty.raw(), 1_500 * Qty::ONE_RAW);
    let ts = h.tick();
    let d = h.apply(fill(
        ts,
        o.cl_ord_id,
        500 * Qty::ONE_RAW,
        EU0 + PIP,
        ExecStatus::Filled,
    ));
    let orphan = engine_orders(&d);
    assert_eq!(
        orphan.len(),
        1,
        "the late 500 units are closed at once: {d:?}"
    );
    assert_eq!(orphan[0].qty.raw(), 500 * Qty::ONE_RAW);
    fill_at(&mut h, &stop[0], EU0);
    fill_at(&mut h, &orphan[0], EU0);
    assert_eq!(h.engine.ledger().position(0, eu).qty.raw(), 0);
    assert_eq!(
        h.engine.holdings(1).map_or(0, |x| x[0]),
        0,
        "the ticket holds nothing"
    );
    let ts = h.tick();
    for c in orders(&h.apply(close(ts, 1, 0, true, false))) {
        fill_at(&mut h, &c, EU0);
    }
    assert_eq!(h.engine.ledger().position(0, eu).qty.raw(), 0);
}

/// One quote crosses the stop-out and a flattening daily loss limit: each position is closed
/// by one order.
#[test]
fn stop_out_and_flatten_at_one_quote_close_each_position_once() {
    let mut a0 = one_lot(0, 3_000, 100);
    a0.daily_loss_limit = Money(usd(1_000));
    a0.flags |= FLAG_LIMIT_FLATTEN;
    let mut h = Harness::new(accounts_of(&[a0]));
    let eu = eurusd();
    q(&mut h, eu, EU0);
    open_filled(&mut h, 1, eu, true, EU0 + PIP);
    let d = q(&mut h, eu, 107_000_000);
    let o = engine_orders(&d);
    let closed: i64 = o.iter().map(|o| o.qty.raw()).sum();
    assert_eq!(
        closed, LOT,
        "orders for {closed} of a 1-lot position: {d:?}"
    );
}

/// One quote crosses both loss limits of a flattening account: one close per position.
#[test]
fn daily_loss_and_drawdown_at_one_quote_flatten_once() {
    let mut a0 = one_lot(0, 10_000, 100);
    a0.daily_loss_limit = Money(usd(300));
    a0.drawdown_tolerance = Ratio(50_000);
    a0.flags |= FLAG_LIMIT_FLATTEN;
    let mut h = Harness::new(accounts_of(&[a0]));
    let eu = eurusd();
    q(&mut h, eu, EU0);
    open_filled(&mut h, 1, eu, true, EU0 + PIP);
    let d = q(&mut h, eu, 109_000_000);
    let mut ev = events(&d, 0);
    ev.sort_unstable();
    assert_eq!(ev, [limit_event::DAILY_LOSS, limit_event::DRAWDOWN]);
    let closed: i64 = engine_orders(&d).iter().map(|o| o.qty.raw()).sum();
    assert_eq!(
        closed, LOT,
        "orders for {closed} of a 1-lot position: {d:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// The high-water mark and the boxes.

/// Long 1 lot at 1.1001 on 10,000 with a 5 % drawdown tolerance, then EURUSD at 1.1200:
/// equity 11,990, high-water mark still 10,000 (it moves at the account's own fills and
/// balance changes and at each new day).
fn drawdown_account_in_profit() -> Harness {
    let mut a0 = one_lot(0, 10_000, 100);
    a0.drawdown_tolerance = Ratio(50_000);
    let mut h = Harness::new(accounts_of(&[a0, one_lot(1, 10_000, 100)]));
    let (eu, gu) = (eurusd(), gbpusd());
    q(&mut h, eu, EU0);
    q(&mut h, gu, GU0);
    let ts = h.tick();
    let os = orders(&h.apply(open(ts, 1, eu, true, 1, model_code::FIXED, false)));
    fill_at(&mut h, &os[0], EU0 + PIP);
    assert!(events(&q(&mut h, eu, 112_000_000), 0).is_empty());
    assert_eq!(value(&h, 0).equity.raw(), usd(11_990));
    h
}

/// An open with an equity-reading model on another symbol.
fn equity_open_elsewhere(h: &mut Harness) {
    let ts = h.tick();
    h.apply(open(ts, 2, gbpusd(), true, 10, model_code::EQUITY, false));
}

#[test]
fn the_high_water_mark_moves_only_at_the_accounts_own_events_and_new_days() {
    let mut h = drawdown_account_in_profit();
    equity_open_elsewhere(&mut h);
    assert_eq!(h.engine.accounts().equity_hwm[0].raw(), usd(10_000));
}

/// Whatever moved the drawdown line, the crossing must be found at the first quote past it,
/// the same by an engine running on and by one recovered just before that quote (boxes are
/// not state: the recovered one draws them again).
#[test]
fn a_moved_drawdown_line_is_crossed_at_the_same_quote_live_and_after_recovery() {
    let mut h = drawdown_account_in_profit();
    equity_open_elsewhere(&mut h);
    let hwm = h.engine.accounts().equity_hwm[0].raw();
    let line = i128::from(hwm) * 95 / 100;
    let (cp, jd) = (h.checkpoint_dir(), h.journal_dir());
    h.engine.write_checkpoint(&cp, &mut h.journal).unwrap();
    // 10,000 + 100,000 × (1.1130 − 1.1001) = 11,290.
    let d = q(&mut h, eurusd(), 111_300_000);
    let equity = value(&h, 0).equity.raw();
    let crossed = i128::from(equity) <= line;
    // One more input after it, so that replay must agree with what was journaled.
    q(&mut h, gbpusd(), GU0);
    let state = h.engine.state_bytes();
    let Harness {
        engine,
        journal,
        dir,
        ..
    } = h;
    drop((engine, journal));
    let r = Engine::recover(&cp, &jd, journal_config(), SymbolTable::builtin());
    let r = match r {
        Err(EngineError::Determinism { seq, why }) => {
            panic!("recovery through the quote at seq {seq}: {why} (live decisions {d:?})")
        }
        r => r.unwrap(),
    };
    assert!(
        r.engine.state_bytes() == state,
        "recovered state differs (live decisions at the quote: {d:?}, equity {equity}, line {line})"
    );
    assert_eq!(
        events(&d, 0).contains(&limit_event::DRAWDOWN),
        crossed,
        "equity {equity} against the line {line}"
    );
    drop(dir);
}

/// The stop-out crossed by a gap at the first quote of a new UTC day is found at that quote.
#[test]
fn a_limit_crossed_by_the_first_quote_of_a_day_is_found_at_that_quote() {
    let mut h = Harness::new(accounts_of(&[one_lot(0, 3_000, 100)]));
    let eu = eurusd();
    q(&mut h, eu, EU0);
    open_filled(&mut h, 1, eu, true, EU0 + PIP);
    // Monday's first quote gaps 2.7 %: equity −10 on 1,070 of margin.
    h.ts = DAY0 + DAY_NS + 5;
    let d = q(&mut h, eu, 107_000_000);
    let v = value(&h, 0);
    assert!(v.equity.raw() < v.margin.raw() / 2, "{v:?}");
    let mut ev = events(&d, 0);
    ev.sort_unstable();
    assert_eq!(ev, [limit_event::MARGIN_CALL, limit_event::STOP_OUT]);
    assert_eq!(engine_orders(&d).len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Box soundness: the engine checks only the accounts whose box a quote leaves; a brute force
// checks every account after every input.

/// What the brute force holds per account (the engine's limit flags, derived independently).
#[derive(Debug, Clone, Copy, Default)]
struct Watched {
    margin_call: bool,
    stop_out_sent: bool,
    daily: bool,
    drawdown: bool,
    day_start: i64,
}

/// `equity × 100 ≤ level × margin`, exactly; never with no margin in use.
fn at_or_below(v: &Valuation, level: Ratio) -> bool {
    v.margin.raw() > 0
        && i128::from(v.equity.raw()) * 100 * i128::from(Ratio::ONE_RAW)
            <= i128::from(level.raw()) * i128::from(v.margin.raw())
}

#[derive(Debug)]
struct BruteForce {
    w: Vec<Watched>,
    day: u64,
}

impl BruteForce {
    fn levels(e: &Engine, a: usize) -> (Ratio, Ratio) {
        let c = e.accounts();
        let or = |r: Ratio, d: i64| if r.raw() > 0 { r } else { percent(d) };
        (or(c.margin_call_level[a], 100), or(c.stop_out_level[a], 50))
    }

    /// The events a check of account `a` must journal now (and the state after them).
    fn check(&mut self, e: &Engine, a: usize, out: &mut Vec<(u32, u8)>) {
        let v = e.valuation(a as u32).unwrap();
        let (mc, so) = Self::levels(e, a);
        let c = e.accounts();
        let w = &mut self.w[a];
        if !w.stop_out_sent && at_or_below(&v, so) && e.ledger().open_positions(a as u32) > 0 {
            w.stop_out_sent = true;
            out.push((a as u32, limit_event::STOP_OUT));
        }
        let in_call = at_or_below(&v, mc);
        if in_call != w.margin_call {
            w.margin_call = in_call;
            out.push((
                a as u32,
                if in_call {
                    limit_event::MARGIN_CALL
                } else {
                    limit_event::MARGIN_CALL_LIFTED
                },
            ));
        }
        let lim = c.daily_loss_limit[a].raw();
        if !w.daily && lim > 0 && v.equity.raw() <= w.day_start - lim {
            w.daily = true;
            out.push((a as u32, limit_event::DAILY_LOSS));
        }
        let tol = c.drawdown_tolerance[a].raw();
        if !w.drawdown && tol > 0 && below_drawdown_line(v.equity.raw(), c.equity_hwm[a].raw(), tol)
        {
            w.drawdown = true;
            out.push((a as u32, limit_event::DRAWDOWN));
        }
    }

    /// A new UTC day at the first quote past midnight: opening equities, holds lifted.
    fn roll_day(&mut self, e: &Engine, ts: u64, out: &mut Vec<(u32, u8)>) {
        let day = ts / DAY_NS;
        if day <= self.day {
            return;
        }
        let first = self.day == 0;
        self.day = day;
        let c = e.accounts();
        for a in 0..self.w.len() {
            let v = e.valuation(a as u32).unwrap();
            let w = &mut self.w[a];
            w.day_start = v.equity.raw();
            if first {
                continue;
            }
            let hwm = c.equity_hwm[a].raw();
            let back =
                !below_drawdown_line(v.equity.raw(), hwm, c.drawdown_tolerance[a].raw().max(0));
            let lifts = w.daily || (w.drawdown && back);
            w.daily = false;
            w.drawdown &= !back;
            if lifts {
                out.push((a as u32, limit_event::LIFTED));
            }
        }
    }
}

/// `equity ≤ hwm × (1 − tolerance)`, exactly (tolerance in 1e-6).
fn below_drawdown_line(equity: i64, hwm: i64, tol: i64) -> bool {
    tol > 0
        && i128::from(equity) * i128::from(Ratio::ONE_RAW)
            <= i128::from(hwm) * i128::from(Ratio::ONE_RAW - tol.min(Ratio::ONE_RAW))
}

const BOX_SYMS: [&str; 5] = ["EURUSD", "USDJPY", "EURGBP", "GBPUSD", "EURJPY"];
const BOX_MID: [i64; 5] = [
    110_000_000,
    15_000_000_000,
    85_000_000,
    129_000_000,
    16_500_000_000,
];
const BOX_SPREAD: [i64; 5] = [2_000, 2_000_000, 3_000, 2_500, 3_000_000];

#[derive(Debug, Clone)]
struct BoxAccount {
    balance: i64,
    leverage: u32,
    eur: bool,
    steps: i64,
    margin_call: i64,
    stop_out: i64,
    daily_loss: i64,
    drawdown: i64,
    /// Which of the four traded symbols it holds.
    holds: [bool; 4],
}

fn box_account() -> impl Strategy<Value = BoxAccount> {
    (
        (
            2_000i64..60_000,
            prop::sample::select(vec![10u32, 30, 100, 200, 500]),
            prop::bool::weighted(0.25),
            1i64..150,
        ),
        (80i64..200, 20i64..80),
        (
            prop_oneof![Just(0i64), 1i64..40],
            prop_oneof![Just(0i64), 10_000i64..300_000],
        ),
        any::<[bool; 4]>(),
    )
        .prop_map(
            |(
                (balance, leverage, eur, steps),
                (margin_call, stop_out),
                (daily, drawdown),
                holds,
            )| {
                BoxAccount {
                    balance,
                    leverage,
                    eur,
                    steps,
                    margin_call,
                    stop_out,
                    daily_loss: daily * balance / 100,
                    drawdown,
                    holds,
                }
            },
        )
}

#[derive(Debug, Clone)]
enum Walk {
    /// Mid moved by `bp` basis points.
    Quote {
        sym: u8,
        bp: i16,
    },
    /// The next UTC day begins: with a quote repeating the last one of `sym` (`moving`
    /// false), or at the next quote of the walk.
    NextDay {
        sym: u8,
    },
    Deposit {
        account: u8,
        cents: i32,
    },
    /// An open with the equity model (never filled).
    EquityOpen {
        sym: u8,
    },
}

fn walk_step(equity_opens: bool) -> impl Strategy<Value = Walk> {
    let w = if equity_opens { 4 } else { 0 };
    prop_oneof![
        12 => (0u8..5, -60i16..60).prop_map(|(sym, bp)| Walk::Quote { sym, bp }),
        3 => (0u8..5, prop_oneof![-500i16..-100, 100i16..500]).prop_map(|(sym, bp)| Walk::Quote { sym, bp }),
        1 => (0u8..5).prop_map(|sym| Walk::NextDay { sym }),
        1 => (any::<u8>(), -3_000_000i32..3_000_000).prop_map(|(account, cents)| Walk::Deposit { account, cents }),
        w => (0u8..4).prop_map(|sym| Walk::EquityOpen { sym }),
    ]
}

#[derive(Debug, Clone)]
struct BoxCase {
    /// A new day begins at a quote that moves prices (else at a repeated quote).
    roll_on_move: bool,
    accounts: Vec<BoxAccount>,
    sides: [bool; 4],
    walk: Vec<Walk>,
}

fn box_case(equity_opens: bool, roll_on_move: bool) -> impl Strategy<Value = BoxCase> {
    (
        prop::collection::vec(box_account(), 4..14),
        any::<[bool; 4]>(),
        prop::collection::vec(walk_step(equity_opens), 10..120),
    )
        .prop_map(move |(mut accounts, sides, walk)| {
            if equity_opens {
                // Drawdown lines for every account, for the opens to move.
                for (i, a) in accounts.iter_mut().enumerate() {
                    a.drawdown = a.drawdown.max(20_000 + 7_000 * i as i64);
                }
            }
            BoxCase {
                roll_on_move,
                accounts,
                sides,
                walk,
            }
        })
}

fn box_records(c: &BoxCase) -> Vec<AccountRecord> {
    c.accounts
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let mut r = account(i, b.balance, b.leverage);
            r.fixed_lots = Lots(b.steps * 100);
            r.margin_call_level = percent(b.margin_call);
            r.stop_out_level = percent(b.stop_out);
            r.daily_loss_limit = Money(usd(b.daily_loss));
            r.drawdown_tolerance = Ratio(b.drawdown);
            if b.eur {
                r.currency = eur();
            }
            r
        })
        .collect()
}

/// Sorted (account, event) pairs of the limit events among `d`.
fn event_pairs(d: &[Decision]) -> Vec<(u32, u8)> {
    let mut v: Vec<(u32, u8)> = limit_events(d)
        .iter()
        .map(|l| (l.account, l.event))
        .collect();
    v.sort_unstable();
    v
}

fn run_box_case(c: &BoxCase) {
    let mut h = Harness::new(accounts_of(&box_records(c)));
    let ids = BOX_SYMS.map(sym);
    let mut market: [(i64, i64); 5] = core::array::from_fn(|s| {
        (
            BOX_MID[s] - BOX_SPREAD[s] / 2,
            BOX_MID[s] + BOX_SPREAD[s] / 2,
        )
    });
    let mut bf = BruteForce {
        w: vec![Watched::default(); c.accounts.len()],
        day: 0,
    };
    // Every account's events are the brute force's, input by input.
    // `filled`: the account a fill is for (the engine checks it after booking).
    let step =
        |h: &mut Harness, bf: &mut BruteForce, input: Input, filled: Option<usize>, what: &str| {
            let d = h.apply(input);
            let mut want = Vec::new();
            match input {
                Input::Market(m) => {
                    bf.roll_day(&h.engine, m.source_ns, &mut want);
                    for a in 0..bf.w.len() {
                        bf.check(&h.engine, a, &mut want);
                    }
                }
                Input::Balance(b) if refusals(&d).is_empty() => {
                    bf.check(&h.engine, b.account as usize, &mut want);
                }
                Input::Fill(f) if f.last_qty.raw() > 0 => {
                    bf.check(&h.engine, filled.expect("a per-account fill"), &mut want);
                }
                _ => {}
            }
            want.sort_unstable();
            assert_eq!(
                event_pairs(&d),
                want,
                "{what}: limit events (account, code)"
            );
            for (a, w) in bf.w.iter().enumerate() {
                let f = h.engine.limit_flags(a as u32).unwrap();
                assert_eq!(
                    f.day_start_equity, w.day_start,
                    "account {a}: opening equity"
                );
            }
            d
        };
    // Quotes, then one fixed-lot open per symbol, filled at the market for the accounts that
    // hold it and cancelled for the others.
    for s in 0..5 {
        let ts = h.tick();
        step(
            &mut h,
            &mut bf,
            quote(ts, ids[s], market[s].0, market[s].1),
            None,
            "warm-up",
        );
    }
    for s in 0..4 {
        let ts = h.tick();
        let d = step(
            &mut h,
            &mut bf,
            open(
                ts,
                1 + s as u64,
                ids[s],
                c.sides[s],
                1,
                model_code::FIXED,
                false,
            ),
            None,
            "open",
        );
        for o in orders(&d) {
            let ts = h.tick();
            let input = if c.accounts[o.account as usize].holds[s] {
                let px = if c.sides[s] { market[s].1 } else { market[s].0 };
                fill(ts, o.cl_ord_id, o.qty.raw(), px, ExecStatus::Filled)
            } else {
                fill(ts, o.cl_ord_id, 0, 0, ExecStatus::Canceled)
            };
            step(
                &mut h,
                &mut bf,
                input,
                Some(o.account as usize),
                "setup fill",
            );
        }
    }
    // Stop-outs of the setup stay working: their accounts keep their positions.
    for (i, w) in c.walk.iter().enumerate() {
        let what = format!("walk step {i} {w:?}");
        match *w {
            Walk::Quote { sym: s, bp } => {
                let s = usize::from(s);
                let mid = (market[s].0 + market[s].1) / 2;
                let mid = (i128::from(mid) * i128::from(10_000 + i32::from(bp)) / 10_000) as i64;
                let mid = mid.clamp(BOX_MID[s] / 3, BOX_MID[s] * 3);
                let bid = mid - BOX_SPREAD[s] / 2 + i64::from(bp & 3);
                market[s] = (bid, bid + BOX_SPREAD[s]);
                let ts = h.tick();
                step(
                    &mut h,
                    &mut bf,
                    quote(ts, ids[s], bid, bid + BOX_SPREAD[s]),
                    None,
                    &what,
                );
            }
            Walk::NextDay { sym: s } => {
                h.ts = (h.ts / DAY_NS + 1) * DAY_NS + 1;
                if !c.roll_on_move {
                    let s = usize::from(s);
                    let ts = h.tick();
                    let input = quote(ts, ids[s], market[s].0, market[s].1);
                    step(&mut h, &mut bf, input, None, &what);
                }
            }
            Walk::Deposit { account, cents } => {
                let ts = h.tick();
                let a = u32::from(account) % c.accounts.len() as u32;
                step(
                    &mut h,
                    &mut bf,
                    balance(ts, a, i64::from(cents) * 10_000),
                    None,
                    &what,
                );
            }
            Walk::EquityOpen { sym: s } => {
                let ts = h.tick();
                let s = usize::from(s);
                let t = 10 + i as u64;
                let input = open(ts, t, ids[s], c.sides[s], 50, model_code::EQUITY, false);
                step(&mut h, &mut bf, input, None, &what);
            }
        }
    }
    assert_eq!(h.engine.counters().invariant_failures, 0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Every margin call, stop-out, daily loss and drawdown crossing (and every lifting) is
    /// journaled at exactly the input at which the brute force finds it, never earlier, never
    /// later, for every account.
    #[test]
    fn price_boxes_never_miss_a_crossing(c in box_case(false, false)) {
        run_box_case(&c);
    }

    /// The same when a new day begins at a quote that moves prices.
    #[test]
    fn price_boxes_never_miss_a_crossing_at_day_rolls(c in box_case(false, true)) {
        run_box_case(&c);
    }

    /// The same with opens of an equity-reading model in the walk.
    #[test]
    fn price_boxes_never_miss_a_crossing_with_equity_opens(c in box_case(true, false)) {
        run_box_case(&c);
    }
}

// ---------------------------------------------------------------------------------------------
// Exactly once across a restart.

/// Zeroes the CRC of the journal's last record (a torn tail); returns its kind.
fn tear_last_record(dir: &std::path::Path) -> u16 {
    let r = JournalReader::open(dir).unwrap();
    let seg = r.report().segments.last().unwrap().path.clone();
    let last = r.records(0).map(|x| x.unwrap()).last().unwrap();
    let (at, kind) = (last.offset, last.kind);
    drop(r);
    let mut bytes = std::fs::read(&seg).unwrap();
    for b in &mut bytes[at..at + 4] {
        *b = 0; // the writer stores the CRC last: a torn record has none
    }
    std::fs::write(&seg, &bytes).unwrap();
    kind
}

/// Every journal record after `from`: (seq, kind, payload).
fn records_after(h: &Harness, from: u64) -> Vec<(u64, u16, Vec<u8>)> {
    h.journal
        .records(from + 1)
        .map(|r| r.unwrap())
        .map(|r| (r.seq, r.kind, r.payload.to_vec()))
        .collect()
}

/// The stop-out scenario up to the quote before the crossing.
fn before_the_stop_out() -> Harness {
    let mut h = two_longs();
    for bid in [10_990, 10_941, 10_822] {
        q(&mut h, eurusd(), bid * PIP);
    }
    h
}

fn stop_out_quote(h: &mut Harness) -> Input {
    let ts = h.tick();
    quote(ts, eurusd(), 10_821 * PIP, 10_822 * PIP)
}

#[test]
fn a_stop_out_after_recovery_is_the_one_an_uninterrupted_engine_sends() {
    let mut live = before_the_stop_out();
    let mut reference = before_the_stop_out();
    let (cp, jd) = (live.checkpoint_dir(), live.journal_dir());
    live.engine
        .write_checkpoint(&cp, &mut live.journal)
        .unwrap();
    let seq = live.engine.applied_seq();
    // The process stops right after the checkpoint; the recovered engine takes the quote.
    let Harness {
        engine,
        journal,
        dir,
        ts,
    } = live;
    drop((engine, journal));
    let r = Engine::recover(&cp, &jd, journal_config(), SymbolTable::builtin()).unwrap();
    assert!(r.to_send.is_empty());
    let mut recovered = Harness {
        engine: r.engine,
        journal: r.journal,
        dir,
        ts,
    };
    let input = stop_out_quote(&mut recovered);
    reference.ts = recovered.ts;
    let d = recovered.apply(input);
    let want = reference.apply(input);
    assert_eq!(d, want, "the same decisions");
    assert_eq!(engine_orders(&d).len(), 1, "one stop-out order");
    assert_eq!(events(&d, 0), [limit_event::STOP_OUT]);
    assert_eq!(
        records_after(&recovered, seq),
        records_after(&reference, seq)
    );
    assert!(recovered.engine.state_bytes() == reference.engine.state_bytes());
    // And on: its fill closes the EURUSD position in both.
    let o = engine_orders(&d)[0];
    let a = fill_at(&mut recovered, &o, 10_821 * PIP);
    reference.ts = recovered.ts - 1_000_000;
    let b = fill_at(&mut reference, &o, 10_821 * PIP);
    assert_eq!(a, b);
    assert!(recovered.engine.state_bytes() == reference.engine.state_bytes());
}

#[test]
fn a_journaled_stop_out_is_replayed_and_never_sent_again() {
    let mut live = before_the_stop_out();
    let (cp, jd) = (live.checkpoint_dir(), live.journal_dir());
    live.engine
        .write_checkpoint(&cp, &mut live.journal)
        .unwrap();
    let input = stop_out_quote(&mut live);
    let d = live.apply(input);
    assert_eq!(engine_orders(&d).len(), 1);
    let state = live.engine.state_bytes();
    let Harness {
        engine,
        journal,
        dir,
        ..
    } = live;
    drop((engine, journal));
    // The stop-out order had left with its decisions journaled: replay finds it, sends nothing.
    let r = Engine::recover(&cp, &jd, journal_config(), SymbolTable::builtin()).unwrap();
    assert!(r.to_send.is_empty(), "sent once, before the restart");
    assert_eq!(r.appended_decisions, 0);
    assert!(r.engine.state_bytes() == state);
    drop(r);
    // A crash before the input's last decision reached the journal: the missing decisions are
    // appended and the stop-out order is sent now, once.
    let kind = tear_last_record(&jd);
    assert_eq!(kind, mam_core::engine::decision::KIND_LIMIT);
    let r = Engine::recover(&cp, &jd, journal_config(), SymbolTable::builtin()).unwrap();
    assert_eq!(r.appended_decisions, 1);
    assert_eq!(r.to_send, engine_orders(&d), "the stop-out order, once");
    assert!(r.engine.state_bytes() == state);
    drop(r);
    let r = Engine::recover(&cp, &jd, journal_config(), SymbolTable::builtin()).unwrap();
    assert!(r.to_send.is_empty(), "never a second time");
    assert!(r.engine.state_bytes() == state);
    drop(dir);
}
