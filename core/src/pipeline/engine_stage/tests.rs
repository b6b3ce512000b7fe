//! The engine stage driven by hand: the test plays feed, manager and LP on real rings and a
//! real journal.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

use super::*;
use crate::alloc::synth::synthetic_accounts;
use crate::engine::input::{MasterOpen, MODE_BLOCK, MODE_PER_ACCOUNT};
use crate::engine::EngineConfig;
use crate::event::{MarketEventKind, Side};
use crate::journal::{JournalConfig, JournalReader};
use crate::num::{Lots, Money, Price, Qty};
use crate::pipeline::ring::ring;
use crate::symbol::SymbolTable;

fn clock() -> u64 {
    7
}

struct Rig {
    stage: EngineStage,
    report: ReportSlot,
    stats: Arc<EngineStageStats>,
    market: Option<RingTx<MarketEvent>>,
    masters: Option<RingTx<EdgeFrame>>,
    fills: RingTx<EdgeFrame>,
    orders: RingRx<EdgeOrder>,
}

fn rig(dir: &Path, sequencing: Sequencing) -> Rig {
    rig_with(dir, sequencing, SyncPolicy::Every, clock)
}

fn rig_with(dir: &Path, sequencing: Sequencing, sync: SyncPolicy, clock: fn() -> u64) -> Rig {
    rig_over(dir, sequencing, sync, clock, synthetic_accounts(12, 7))
}

fn rig_over(
    dir: &Path,
    sequencing: Sequencing,
    sync: SyncPolicy,
    clock: fn() -> u64,
    accounts: crate::account::AccountVecs,
) -> Rig {
    let engine = Engine::new(SymbolTable::builtin(), accounts, EngineConfig::permissive()).unwrap();
    let (journal, _) = Journal::open(&dir.join("journal"), JournalConfig::default()).unwrap();
    rig_on(dir, sequencing, sync, clock, engine, journal)
}

/// A stage over `engine` and `journal` (a fresh one, or one recovered for a restart).
fn rig_on(
    dir: &Path,
    sequencing: Sequencing,
    sync: SyncPolicy,
    clock: fn() -> u64,
    engine: Engine,
    journal: Journal,
) -> Rig {
    let (mtx, mrx, _) = ring(64);
    let (atx, arx, _) = ring(64);
    let (ftx, frx, _) = ring(1024);
    let (otx, orx, _) = ring(64);
    let opts = EngineStageOptions {
        sequencing,
        checkpoint_dir: dir.join("checkpoints"),
        checkpoint_every: 0,
        clock,
        drain_timeout_ns: 0,
        tap: None,
        batch: 16,
        admin: None,
        sync,
        forward_allocations: true,
    };
    let rings = EngineRings {
        market: Some(mrx),
        masters: Some(arx),
        fills: frx,
        orders: otx,
    };
    let (stage, report, stats) = EngineStage::new(
        engine,
        journal,
        opts,
        rings,
        Arc::new(AtomicBool::new(false)),
    );
    Rig {
        stage,
        report,
        stats,
        market: Some(mtx),
        masters: Some(atx),
        fills: ftx,
        orders: orx,
    }
}

fn quote(ts: u64, seq: u64) -> MarketEvent {
    MarketEvent {
        source_ns: ts,
        seq,
        kind: MarketEventKind::Quote as u8,
        bid: Price::parse("1.10000").unwrap(),
        ask: Price::parse("1.10010").unwrap(),
        bid_size: Qty::parse("1000000").unwrap(),
        ask_size: Qty::parse("1000000").unwrap(),
        ..MarketEvent::default()
    }
}

fn master(ts: u64, ticket: u64, mode: u8) -> Input {
    Input::Open(MasterOpen {
        ts_ns: ts,
        ticket,
        lots: Lots::parse("2.00").unwrap(),
        limit_price: Price::parse("1.10010").unwrap(),
        reference: Money::parse("100000").unwrap(),
        model: crate::engine::input::model_code::EQUITY,
        side: Side::Buy as u8,
        mode,
        ..MasterOpen::default()
    })
}

/// Sends the complete fill of `o` (twice when `dup`).
fn fill(r: &mut Rig, o: &EdgeOrder, dup: bool) {
    let f = FillEvent {
        recv_ns: 99_999,
        cl_ord_id: o.order.cl_ord_id,
        exec_id: o.order.cl_ord_id,
        last_qty: o.order.qty,
        last_px: o.order.price,
        cum_qty: o.order.qty,
        leaves_qty: Qty::ZERO,
        status: ExecStatus::Filled as u8,
        _pad: [0; 7],
    };
    for _ in 0..1 + usize::from(dup) {
        r.fills
            .try_push(EdgeFrame::input(&Input::Fill(f), 5, 0, 0))
            .unwrap();
    }
}

/// Fills every order on the ring completely (once, or twice when `dup`).
fn lp(r: &mut Rig, dup: bool) -> usize {
    let mut n = 0;
    while let Some(o) = r.orders.pop() {
        fill(r, &o, dup);
        n += 1;
    }
    n
}

fn run_until_done(r: &mut Rig, dup: bool) {
    for _ in 0..10_000 {
        r.stage.do_work();
        lp(r, dup);
        if r.stage.is_done() {
            return;
        }
    }
    panic!("the stage did not finish");
}

fn journal_bytes(dir: &Path) -> Vec<(u64, u16, Vec<u8>)> {
    let rd = JournalReader::open(&dir.join("journal")).unwrap();
    rd.records(1)
        .map(|r| {
            let r = r.unwrap();
            (r.seq, r.kind, r.payload.to_vec())
        })
        .collect()
}

/// Each origin record of `journal`: (source, sequence at the source).
fn origins(journal: &[(u64, u16, Vec<u8>)]) -> Vec<(u16, u64)> {
    use crate::engine::origin::{Origin, KIND_ORIGIN};
    journal
        .iter()
        .filter(|r| r.1 == KIND_ORIGIN)
        .map(|r| {
            let o: Origin = bytemuck::pod_read_unaligned(&r.2);
            (o.source, o.seq)
        })
        .collect()
}

/// Market data and master orders pushed in either order, fills early or late: the same
/// journal, with the master between the quotes its time falls between and its fill right
/// after it, stamped with the master's time.
#[test]
fn event_time_journal_does_not_depend_on_arrival_order() {
    let mut journals = Vec::new();
    for variant in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let mut r = rig(dir.path(), Sequencing::EventTime);
        let push_market = |r: &mut Rig| {
            for (i, ts) in [100u64, 200, 300, 400].into_iter().enumerate() {
                r.market
                    .as_mut()
                    .unwrap()
                    .try_push(quote(ts, i as u64 + 1))
                    .unwrap();
            }
            r.market = None;
        };
        let push_masters = |r: &mut Rig| {
            let tx = r.masters.as_mut().unwrap();
            tx.try_push(EdgeFrame::input(&master(250, 1, MODE_BLOCK), 3, 11, 250))
                .unwrap();
            tx.try_push(EdgeFrame::input(
                &master(250, 2, MODE_PER_ACCOUNT),
                3,
                12,
                250,
            ))
            .unwrap();
            tx.try_push(EdgeFrame::watermark(3, 13, 350)).unwrap();
            r.masters = None;
        };
        match variant {
            0 => {
                push_market(&mut r);
                push_masters(&mut r);
            }
            1 => {
                push_masters(&mut r);
                for _ in 0..5 {
                    r.stage.do_work();
                }
                push_market(&mut r);
            }
            _ => {
                // The feed first and alone: the engine must wait for the manager's clock.
                push_market(&mut r);
                for _ in 0..5 {
                    r.stage.do_work();
                }
                assert_eq!(
                    r.stats.market.load(Relaxed),
                    0,
                    "no quote before the manager's clock"
                );
                assert!(r.stats.watermark_waits.load(Relaxed) > 0);
                push_masters(&mut r);
            }
        }
        run_until_done(&mut r, variant == 2);
        let rep = r.report.lock().unwrap().take().unwrap();
        assert!(rep.error.is_none(), "{:?}", rep.error);
        assert_eq!(rep.engine.open_orders(), 0);
        if variant == 2 {
            assert!(
                r.stats.fills_dropped.load(Relaxed) > 0,
                "duplicates dropped"
            );
        }
        journals.push(journal_bytes(dir.path()));
    }
    assert_eq!(journals[0], journals[1]);
    assert_eq!(journals[0], journals[2]);
    // Shape: q100 q200, origin + open(250) + decisions, fill(s) stamped 250, …, q300 q400.
    let j = &journals[0];
    let kinds: Vec<u16> = j.iter().map(|r| r.1).collect();
    let first_origin = kinds.iter().position(|&k| k == 7).unwrap();
    assert_eq!(&kinds[..first_origin], &[5, 5]);
    let fills: Vec<_> = j
        .iter()
        .filter(|r| r.1 == crate::engine::input::KIND_FILL)
        .map(|r| Input::decode(r.1, &r.2).unwrap())
        .collect();
    assert!(fills.len() > 1);
    assert!(fills.iter().all(|f| f.ts_ns() == 250));
    let q300 = j
        .iter()
        .position(|r| r.1 == 5 && Input::decode(5, &r.2).unwrap().ts_ns() == 300)
        .unwrap();
    let last_fill = j
        .iter()
        .rposition(|r| r.1 == crate::engine::input::KIND_FILL)
        .unwrap();
    assert!(
        last_fill < q300,
        "fills are lock-stepped before the next quote"
    );
}

/// Arrival order applies everything and drops a resent fill.
#[test]
fn arrival_applies_everything_and_drops_resent_fills() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = rig(dir.path(), Sequencing::Arrival);
    r.masters
        .as_mut()
        .unwrap()
        .try_push(EdgeFrame::input(&master(50, 1, MODE_PER_ACCOUNT), 3, 1, 0))
        .unwrap();
    r.market.as_mut().unwrap().try_push(quote(10, 1)).unwrap();
    r.market = None;
    r.masters = None;
    run_until_done(&mut r, true);
    let rep = r.report.lock().unwrap().take().unwrap();
    assert!(rep.error.is_none());
    assert_eq!(rep.engine.open_orders(), 0);
    let orders = r.stats.orders.load(Relaxed);
    assert!(orders > 1);
    assert_eq!(r.stats.fills.load(Relaxed), orders);
    assert_eq!(r.stats.fills_dropped.load(Relaxed), orders);
    assert_eq!(r.stats.market.load(Relaxed), 1);
}

/// A full order ring never loses an order: the stage holds the rest and takes no new input.
#[test]
fn full_order_ring_waits() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = rig(dir.path(), Sequencing::Arrival);
    // 12 accounts, per-account routing: 12 orders on a 64-slot ring — twice over 6 masters.
    for t in 1..=8 {
        r.masters
            .as_mut()
            .unwrap()
            .try_push(EdgeFrame::input(
                &master(50 + t, t, MODE_PER_ACCOUNT),
                3,
                t,
                0,
            ))
            .unwrap();
    }
    r.masters = None;
    r.market = None;
    for _ in 0..20 {
        r.stage.do_work();
    }
    assert!(r.orders.len() <= 64);
    run_until_done(&mut r, false);
    assert_eq!(r.stats.masters.load(Relaxed), 8);
    let rep = r.report.lock().unwrap().take().unwrap();
    assert_eq!(rep.engine.open_orders(), 0);
}

/// Sequence number of the last record journaled for the input at `seq` (the input itself and
/// the decisions after it, up to the next input or origin record).
fn group_end(j: &Journal, seq: u64) -> u64 {
    let mut end = seq;
    for r in j.records(seq + 1) {
        let r = r.unwrap();
        if crate::engine::input::is_input_kind(r.kind)
            || r.kind == crate::engine::origin::KIND_ORIGIN
        {
            break;
        }
        end = r.seq;
    }
    end
}

fn push_masters(r: &mut Rig, tickets: std::ops::RangeInclusive<u64>) {
    for t in tickets {
        r.masters
            .as_mut()
            .unwrap()
            .try_push(EdgeFrame::input(
                &master(50 + t, t, MODE_PER_ACCOUNT),
                3,
                t,
                0,
            ))
            .unwrap();
    }
}

/// An LP that looks at the order ring every time the stage reads its clock (so in the middle
/// of a duty cycle too, as a real LP thread could): each order it finds is noted with the
/// journal's synced position at that instant.
struct Spy {
    rx: RingRx<EdgeOrder>,
    stats: Arc<EngineStageStats>,
    seen: Vec<(EdgeOrder, u64)>,
}

thread_local! {
    static SPY: std::cell::RefCell<Option<Spy>> = const { std::cell::RefCell::new(None) };
}

fn spying_clock() -> u64 {
    SPY.with(|s| {
        if let Some(spy) = s.borrow_mut().as_mut() {
            while let Some(o) = spy.rx.pop() {
                spy.seen.push((o, spy.stats.synced_seq.load(Relaxed)));
            }
        }
    });
    7
}

/// `every`: no order is on the ring before the journal's synced position covers every record
/// of the input that produced it, and one sync serves the whole cycle (not one per record).
/// The same check fails under `checkpoint` (which syncs only at checkpoints), and would fail
/// if `every` pushed orders before its sync: it is a check that can fail.
#[test]
fn every_releases_orders_only_after_the_cycles_sync() {
    for policy in [SyncPolicy::Every, SyncPolicy::Checkpoint] {
        let dir = tempfile::tempdir().unwrap();
        let mut r = rig_with(dir.path(), Sequencing::Arrival, policy, spying_clock);
        let (_keep, dummy, _) = ring(2);
        let rx = std::mem::replace(&mut r.orders, dummy);
        SPY.with(|s| {
            *s.borrow_mut() = Some(Spy {
                rx,
                stats: r.stats.clone(),
                seen: Vec::new(),
            })
        });
        let take_seen = || SPY.with(|s| std::mem::take(&mut s.borrow_mut().as_mut().unwrap().seen));
        // 3 masters × 12 accounts = 36 orders (the ring holds 64) and 4 quotes: one cycle.
        push_masters(&mut r, 1..=3);
        for i in 0..4 {
            r.market
                .as_mut()
                .unwrap()
                .try_push(quote(10 + i, i + 1))
                .unwrap();
        }
        r.stage.do_work();
        spying_clock();
        assert_eq!(r.stats.masters.load(Relaxed), 3, "{policy:?}");
        assert_eq!(r.stats.market.load(Relaxed), 4);
        let mut seen = take_seen();
        assert_eq!(seen.len(), 36, "{policy:?}");
        let expect_syncs = u64::from(policy == SyncPolicy::Every);
        assert_eq!(
            r.stats.syncs.load(Relaxed),
            expect_syncs,
            "one sync for the cycle"
        );
        // Later cycles: fills (no orders) and more masters, with back-pressure.
        push_masters(&mut r, 4..=9);
        r.masters = None;
        r.market = None;
        let mut to_fill = seen.iter().map(|x| x.0).collect::<Vec<_>>();
        for _ in 0..200 {
            for o in to_fill.drain(..) {
                fill(&mut r, &o, false);
            }
            r.stage.do_work();
            spying_clock();
            let more = take_seen();
            to_fill.extend(more.iter().map(|x| x.0));
            seen.extend(more);
            if r.stage.is_done() {
                break;
            }
        }
        SPY.with(|s| *s.borrow_mut() = None);
        assert!(r.stage.is_done());
        let rep = r.report.lock().unwrap().take().unwrap();
        assert!(rep.error.is_none(), "{:?}", rep.error);
        assert_eq!(rep.engine.open_orders(), 0, "every order reached the LP");
        assert_eq!(r.stats.masters.load(Relaxed), 9);
        assert_eq!(seen.len(), 9 * 12);
        let uncovered = seen
            .iter()
            .filter(|(o, synced)| group_end(&rep.journal, o.order.cl_ord_id >> 24) > *synced)
            .count();
        if policy == SyncPolicy::Every {
            assert_eq!(uncovered, 0, "an order left before its records were synced");
            assert!(r.stats.syncs.load(Relaxed) >= 3);
        } else {
            assert_eq!(uncovered, seen.len(), "checkpoint: orders leave unsynced");
            assert_eq!(r.stats.syncs.load(Relaxed), 0);
        }
    }
}

/// Orders held for the cycle's sync count as back-pressure: a cycle stops taking inputs once
/// they fill the ring's free room, and none is lost.
#[test]
fn held_orders_stop_a_cycle_at_the_rings_room() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = rig(dir.path(), Sequencing::Arrival);
    push_masters(&mut r, 1..=8);
    r.masters = None;
    r.market = None;
    r.stage.do_work();
    // 12 orders per master, 64 free slots: the 6th master's orders fill the room.
    assert_eq!(r.stats.masters.load(Relaxed), 6);
    assert_eq!(r.orders.len(), 64);
    assert_eq!(r.stage.backlog.len(), 6 * 12 - 64);
    assert_eq!(
        r.stage.orders.as_ref().unwrap().stats().full.load(Relaxed),
        1
    );
    run_until_done(&mut r, false);
    assert_eq!(r.stats.masters.load(Relaxed), 8);
    assert_eq!(r.stats.orders.load(Relaxed), 8 * 12);
    let rep = r.report.lock().unwrap().take().unwrap();
    assert_eq!(rep.engine.open_orders(), 0);
}

thread_local! {
    static NOW: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

fn manual_clock() -> u64 {
    NOW.with(|c| c.get())
}

fn set_now(ns: u64) {
    NOW.with(|c| c.set(ns));
}

/// `interval`: orders leave at once (before any sync), and syncs come at most once per
/// interval of the stage's clock however many duty cycles run, only with records to sync.
#[test]
fn interval_syncs_at_most_once_per_interval_of_the_stage_clock() {
    const MS: u64 = 1_000_000;
    set_now(0);
    let dir = tempfile::tempdir().unwrap();
    let policy = SyncPolicy::Interval { interval_ns: MS };
    let mut r = rig_with(dir.path(), Sequencing::Arrival, policy, manual_clock);
    let synced = |r: &Rig| r.stage.journal.as_ref().unwrap().synced_seq();
    let syncs = |r: &Rig| r.stats.syncs.load(Relaxed);
    push_masters(&mut r, 1..=1);
    r.stage.do_work();
    assert_eq!(r.orders.len(), 12, "orders leave at once");
    assert_eq!(
        (syncs(&r), synced(&r)),
        (0, 0),
        "no sync before the interval"
    );
    for t in [1, MS / 2, MS - 1] {
        set_now(t);
        for _ in 0..50 {
            r.stage.do_work();
        }
        assert_eq!(syncs(&r), 0, "t = {t}");
    }
    set_now(MS);
    r.stage.do_work();
    assert_eq!(syncs(&r), 1);
    let last = r.stage.journal.as_ref().unwrap().last_seq().unwrap();
    assert_eq!(synced(&r), last);
    // New records 0.2 ms later: no sync until 1 ms after the last one, however many cycles.
    set_now(MS + MS / 5);
    push_masters(&mut r, 2..=2);
    for _ in 0..100 {
        r.stage.do_work();
    }
    assert_eq!(r.orders.len(), 24);
    assert_eq!((syncs(&r), synced(&r)), (1, last));
    set_now(2 * MS - 1);
    r.stage.do_work();
    assert_eq!(syncs(&r), 1);
    set_now(2 * MS);
    r.stage.do_work();
    assert_eq!(syncs(&r), 2);
    // Nothing new: no sync, however long it has been.
    set_now(50 * MS);
    for _ in 0..10 {
        r.stage.do_work();
    }
    assert_eq!(syncs(&r), 2);
    assert_eq!(r.stats.synced_seq.load(Relaxed), synced(&r));
}

#[test]
fn operator_inputs_are_answered_after_the_sync_with_the_snapshot_holding_them() {
    use crate::engine::input::BalanceChange;
    let dir = tempfile::tempdir().unwrap();
    let mut r = rig(dir.path(), Sequencing::Arrival);
    let q = Arc::new(admin::AdminQueue::new(8));
    r.stage.opts.admin = Some(q.clone());
    let (w, mut reader) = admin::snapshot_buffer(1_000_000_000);
    r.stage = r.stage.with_snapshots(w);
    let deposit = |id, account, amount: &str| admin::AdminRequest {
        id,
        input: Input::Balance(BalanceChange {
            ts_ns: 1,
            amount: Money::parse(amount).unwrap(),
            account,
            manager: 0,
            flags: 0,
            request_id: 0,
        }),
    };
    let before = r.stage.engine.as_ref().unwrap().accounts().balance[3];
    q.push(deposit(1, 3, "250.50")).unwrap();
    q.push(deposit(2, 99, "1")).unwrap();
    q.push(admin::AdminRequest {
        id: 3,
        input: master(5, 1, MODE_BLOCK),
    })
    .unwrap();
    r.stage.do_work();
    let ok = q.take_outcome(1).expect("answered");
    assert!(ok.refused.is_none() && !ok.not_applied);
    let synced = r.stage.journal.as_ref().unwrap().synced_seq();
    assert!(synced >= ok.seq, "answered only once on disk");
    let unknown = q.take_outcome(2).expect("answered");
    assert_eq!(
        unknown.refused.map(|(c, _)| c),
        Some(crate::engine::decision::RefusedCode::UnknownAccount)
    );
    // A master order is not an operator input: never journaled.
    let master = q.take_outcome(3).expect("answered");
    assert!(master.not_applied && master.seq == 0);
    // The snapshot already holds the deposit (published with the answers, not at the interval).
    let s = reader.read();
    assert!(s.seq >= ok.seq);
    let after = s.accounts[3].balance;
    assert_eq!(
        after.raw() - before.raw(),
        Money::parse("250.50").unwrap().raw()
    );
}

/// Two managers (the odd accounts follow manager 1): their masters are merged by event time
/// whichever ring is filled first, each is split over its own accounts, each origin names its
/// session, and each manager gets only its own reports.
#[test]
fn two_managers_merge_by_event_time_and_get_their_own_reports() {
    use crate::account::{manager_of, with_manager};
    use crate::engine::input::{manager_of_order, scoped_order_id};
    let mut journals = Vec::new();
    for variant in 0..2 {
        let dir = tempfile::tempdir().unwrap();
        let mut accounts = synthetic_accounts(12, 7);
        for (i, f) in accounts.flags.iter_mut().enumerate() {
            *f = with_manager(*f, (i % 2) as u8);
        }
        let mut r = rig_over(
            dir.path(),
            Sequencing::EventTime,
            SyncPolicy::Every,
            clock,
            accounts.clone(),
        );
        let (m1tx, m1rx, _) = ring(64);
        let (r0tx, mut r0rx, _) = ring(64);
        let (r1tx, mut r1rx, _) = ring(64);
        let mut m1tx = Some(m1tx);
        r.stage = std::mem::replace(&mut r.stage, dummy_stage())
            .with_reports(r0tx)
            .with_manager(1, m1rx, Some(r1tx));
        let push0 = |r: &mut Rig| {
            let tx = r.masters.as_mut().unwrap();
            tx.try_push(EdgeFrame::input(
                &master(250, 1, MODE_PER_ACCOUNT),
                3,
                21,
                250,
            ))
            .unwrap();
            tx.try_push(EdgeFrame::watermark(3, 22, u64::MAX)).unwrap();
            r.masters = None;
        };
        let push1 = |tx: &mut Option<RingTx<EdgeFrame>>| {
            let t = tx.as_mut().unwrap();
            for (ts, seq, cl) in [(150u64, 5u64, 1u64), (260, 6, 2)] {
                let m = master(ts, scoped_order_id(1, cl), MODE_PER_ACCOUNT);
                t.try_push(EdgeFrame::input(&m, 3, seq, ts)).unwrap();
            }
            t.try_push(EdgeFrame::watermark(3, 7, u64::MAX)).unwrap();
            *tx = None;
        };
        for (i, ts) in [100u64, 200, 300, 400].into_iter().enumerate() {
            r.market
                .as_mut()
                .unwrap()
                .try_push(quote(ts, i as u64 + 1))
                .unwrap();
        }
        r.market = None;
        if variant == 0 {
            push0(&mut r);
            for _ in 0..5 {
                r.stage.do_work();
            }
            assert_eq!(
                r.stats.masters.load(Relaxed),
                0,
                "manager 1 may still send earlier"
            );
            push1(&mut m1tx);
        } else {
            push1(&mut m1tx);
            for _ in 0..5 {
                r.stage.do_work();
            }
            push0(&mut r);
        }
        let mut orders = Vec::new();
        for _ in 0..10_000 {
            r.stage.do_work();
            while let Some(o) = r.orders.pop() {
                orders.push(o);
                fill(&mut r, &o, false);
            }
            if r.stage.is_done() {
                break;
            }
        }
        assert!(r.stage.is_done());
        // Children of each master go to its manager's accounts only.
        let rep = r.report.lock().unwrap().take().unwrap();
        assert!(rep.error.is_none(), "{:?}", rep.error);
        for t in [1, scoped_order_id(1, 1), scoped_order_id(1, 2)] {
            let h = rep.engine.holdings(t).expect("ticket");
            for (a, &steps) in h.iter().enumerate() {
                if steps > 0 {
                    assert_eq!(manager_of(accounts.flags[a]), manager_of_order(t));
                }
            }
        }
        assert!(!orders.is_empty());
        let (mut n0, mut n1) = (0, 0);
        while let Some(m) = r0rx.pop() {
            assert_eq!(manager_of_order(m.report.ticket), 0);
            n0 += 1;
        }
        while let Some(m) = r1rx.pop() {
            assert_eq!(manager_of_order(m.report.ticket), 1);
            n1 += 1;
        }
        assert!(n0 > 0 && n1 > 0, "{n0} {n1}");
        journals.push(journal_bytes(dir.path()));
    }
    assert_eq!(journals[0], journals[1]);
    // Origins in time order across managers: manager 1's 150, manager 0's 250, manager 1's 260.
    assert_eq!(origins(&journals[0]), vec![(2, 5), (1, 21), (2, 6)]);
}

/// Sessions attached to a running stage (a config reload): manager 1's first session sends a
/// master and goes; a second session under the same number is queued with a master already on
/// its ring. The second waits until the first's ring is drained (its master goes first), and
/// the reports made while manager 1 had no session reach the second.
#[test]
fn a_manager_attached_while_running_comes_after_its_previous_session() {
    use crate::account::with_manager;
    use crate::engine::input::{manager_of_order, scoped_order_id};
    use attach::{Attachment, Attachments};
    let dir = tempfile::tempdir().unwrap();
    let mut accounts = synthetic_accounts(12, 7);
    for (i, f) in accounts.flags.iter_mut().enumerate() {
        *f = with_manager(*f, (i % 2) as u8);
    }
    let mut r = rig_over(
        dir.path(),
        Sequencing::Arrival,
        SyncPolicy::Every,
        clock,
        accounts,
    );
    let q = Arc::new(Attachments::default());
    r.stage = std::mem::replace(&mut r.stage, dummy_stage()).with_attachments(q.clone());
    r.stage.do_work();
    let session = |seq: u64, cl: u64| {
        let (mut tx, rx, _) = ring::<EdgeFrame>(8);
        let (rtx, rrx, _) = ring::<ManagerReport>(64);
        let m = master(100 + cl, scoped_order_id(1, cl), MODE_PER_ACCOUNT);
        tx.try_push(EdgeFrame::input(&m, 3, seq, 0)).unwrap();
        (tx, rx, rtx, rrx)
    };
    let (a_tx, a_rx, a_rtx, a_rrx) = session(5, 1);
    let (b_tx, b_rx, b_rtx, mut b_rrx) = session(1, 2);
    // The first session is gone before the engine reads anything of it.
    drop((a_tx, a_rrx));
    for (rx, rtx) in [(a_rx, a_rtx), (b_rx, b_rtx)] {
        let a = Attachment::Manager {
            number: 1,
            masters: rx,
            reports: rtx,
        };
        q.push(a).unwrap();
    }
    drop(b_tx);
    r.market = None;
    r.masters = None;
    run_until_done(&mut r, false);
    let rep = r.report.lock().unwrap().take().unwrap();
    assert!(rep.error.is_none(), "{:?}", rep.error);
    assert_eq!(
        origins(&journal_bytes(dir.path())),
        vec![(2, 5), (2, 1)],
        "the first session's master first"
    );
    let mut tickets = std::collections::BTreeSet::new();
    while let Some(m) = b_rrx.pop() {
        assert_eq!(manager_of_order(m.report.ticket), 1);
        tickets.insert(m.report.ticket);
    }
    assert_eq!(
        tickets,
        [scoped_order_id(1, 1), scoped_order_id(1, 2)].into(),
        "the reports of both sessions' masters reach the second"
    );
}

/// A stage with nothing behind it, to move a real one out of a rig while it is rebuilt.
fn dummy_stage() -> EngineStage {
    let dir = tempfile::tempdir().unwrap();
    rig(dir.path(), Sequencing::Arrival).stage
}

/// A kill between the two inputs of one manager message (an open with its stop-loss, then the
/// amend that sets it) leaves the journal with the open only. The restart asks for the message
/// again whole ([`Origin::resume_after`]); the engine drops the open it already holds and
/// applies the amend, once.
#[test]
fn a_message_journaled_in_part_before_a_kill_is_completed_after_the_restart() {
    use crate::engine::input::KIND_MASTER_OPEN;
    use crate::engine::lifecycle::record::{MasterAmend, AMEND_SL, KIND_MASTER_AMEND};
    use crate::engine::origin::{resume_points, Origin, KIND_ORIGIN, SOURCE_MANAGER};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let open = master(100, 5, MODE_PER_ACCOUNT);
    let amend = Input::Amend(MasterAmend {
        ts_ns: 100,
        order_id: 5,
        stop_loss: Price::parse("1.05000").unwrap(),
        flags: AMEND_SL,
        mode: MODE_PER_ACCOUNT,
        ..MasterAmend::default()
    });
    let frames = [
        EdgeFrame::input(&open, 3, 5, 0).part_of(0, 2),
        EdgeFrame::input(&amend, 3, 5, 0).part_of(1, 2),
        EdgeFrame::input(&master(200, 6, MODE_PER_ACCOUNT), 3, 6, 0),
    ];
    let run = |mut r: Rig, frames: &[EdgeFrame]| {
        for f in frames {
            r.masters.as_mut().unwrap().try_push(*f).unwrap();
        }
        r.market = None;
        r.masters = None;
        run_until_done(&mut r, false);
        let rep = r.report.lock().unwrap().take().unwrap();
        assert!(rep.error.is_none(), "{:?}", rep.error);
        r.stats.inputs_journaled_already.load(Relaxed)
    };

    // The first life: the open is journaled, the kill comes before its amend.
    let engine = Engine::new(
        SymbolTable::builtin(),
        synthetic_accounts(12, 7),
        EngineConfig::permissive(),
    )
    .unwrap();
    let (mut journal, _) = Journal::open(&d.join("journal"), JournalConfig::default()).unwrap();
    engine
        .write_checkpoint(&d.join("checkpoints"), &mut journal)
        .unwrap();
    let r = rig_on(
        d,
        Sequencing::Arrival,
        SyncPolicy::Every,
        clock,
        engine,
        journal,
    );
    assert_eq!(run(r, &frames[..1]), 0);

    // The restart: manager message 5 is not whole in the journal.
    let rec = Engine::recover(
        &d.join("checkpoints"),
        &d.join("journal"),
        JournalConfig::default(),
        SymbolTable::builtin(),
    )
    .unwrap();
    let points = resume_points(&rec.journal).unwrap();
    assert_eq!(
        points.resume_after(SOURCE_MANAGER),
        Some(4),
        "message 5 is asked for again"
    );
    let partial: Vec<Origin> = points.partial().copied().collect();
    assert_eq!(partial, vec![Origin::part_of(SOURCE_MANAGER, 5, 0, 2)]);
    let mut r = rig_on(
        d,
        Sequencing::Arrival,
        SyncPolicy::Every,
        clock,
        rec.engine,
        rec.journal,
    );
    r.stage = std::mem::replace(&mut r.stage, dummy_stage()).with_partial_messages(&partial);
    // The manager's session sends message 5 again, then goes on.
    assert_eq!(run(r, &frames), 1, "the open held already is dropped");

    let j = journal_bytes(d);
    let parts: Vec<(u64, u8, u8)> = j
        .iter()
        .filter(|r| r.1 == KIND_ORIGIN)
        .map(|r| {
            let o: Origin = bytemuck::pod_read_unaligned(&r.2);
            (o.seq, o.part, o.parts)
        })
        .collect();
    assert_eq!(parts, vec![(5, 0, 2), (5, 1, 2), (6, 0, 0)]);
    let count = |kind| j.iter().filter(|r| r.1 == kind).count();
    assert_eq!(count(KIND_MASTER_OPEN), 2, "each open journaled once");
    assert_eq!(count(KIND_MASTER_AMEND), 1, "the amend journaled once");
    let again = resume_points(
        &Journal::open(&d.join("journal"), JournalConfig::default())
            .unwrap()
            .0,
    )
    .unwrap();
    assert_eq!(again.resume_after(SOURCE_MANAGER), Some(6));
    assert_eq!(again.partial().count(), 0);
}
