//! Engine tests: determinism, recovery from checkpoints at random points, torn journal tails,
//! exact full closes, deposits that leave open positions alone.

use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;

use super::decision::*;
use super::input::*;
use super::lifecycle::record::{AMEND_SL, AMEND_TP};
use super::*;
use crate::alloc::synth::synthetic_accounts;
use crate::event::{ChildOrder, ExecStatus, FillEvent, MarketEvent, MarketEventKind, Side};
use crate::journal::{Journal, JournalConfig, JournalReader};
use crate::num::{Lots, Money, Price, Qty};

/// A test operation; turned into inputs by [`Driver`] (fills refer to orders it saw).
#[derive(Debug, Clone)]
pub(super) enum Op {
    Open {
        ticket: u8,
        instrument: u8,
        buy: bool,
        steps: u16,
        model: u8,
        mode: u8,
        policy: u8,
    },
    Close {
        ticket: u8,
        pct: u8,
        mode: u8,
        residual: u8,
    },
    Balance {
        account: u16,
        amount: i32,
    },
    /// Fill the oldest open order in `parts` increments (the last one completes it).
    Fill {
        parts: u8,
    },
    /// One partial fill of a third of the oldest open order.
    Partial,
    /// The LP cancels the oldest open order.
    Cancel,
    Market {
        instrument: u8,
        tick: u16,
    },
    Kill,
    Reset,
    /// Switch the adaptive layer on or off.
    Adaptive(bool),
    /// A pending (held) limit or stop master.
    Pending {
        ticket: u8,
        instrument: u8,
        buy: bool,
        stop: bool,
        steps: u16,
        tick: u16,
    },
    /// The manager cancels a master order.
    CancelMaster {
        ticket: u8,
    },
    /// Stop-loss / take-profit `ticks` away from the reference quote (0: none).
    Protect {
        ticket: u8,
        sl: u16,
        tp: u16,
    },
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u8..4, 0u8..3, any::<bool>(), 1u16..400, 1u8..10, 0u8..2, 0u8..2, any::<bool>()).prop_map(
            |(ticket, instrument, buy, steps, model, mode, policy, adaptive)| Op::Open {
                ticket, instrument, buy, steps, model, mode,
                policy: policy | if adaptive { POLICY_ADAPTIVE } else { 0 },
            }
        ),
        1 => any::<bool>().prop_map(Op::Adaptive),
        2 => (0u8..4, 0u8..101, 0u8..2, 0u8..2)
            .prop_map(|(ticket, pct, mode, residual)| Op::Close { ticket, pct, mode, residual }),
        1 => (0u16..40, -50_000i32..50_000).prop_map(|(account, amount)| Op::Balance { account, amount }),
        4 => (1u8..4).prop_map(|parts| Op::Fill { parts }),
        1 => Just(Op::Partial),
        1 => Just(Op::Cancel),
        2 => (0u8..3, 0u16..200).prop_map(|(instrument, tick)| Op::Market { instrument, tick }),
        1 => Just(Op::Kill),
        1 => Just(Op::Reset),
        1 => (0u8..4, 0u8..3, any::<bool>(), any::<bool>(), 1u16..300, 0u16..200).prop_map(
            |(ticket, instrument, buy, stop, steps, tick)| Op::Pending {
                ticket, instrument, buy, stop, steps, tick,
            }
        ),
        1 => (0u8..4).prop_map(|ticket| Op::CancelMaster { ticket }),
        1 => (0u8..4, 0u16..150, 0u16..150).prop_map(|(ticket, sl, tp)| Op::Protect { ticket, sl, tp }),
    ]
}

/// Turns ops into inputs and plays the LP: remembers every order emitted and its fills.
pub(super) struct Driver {
    pub engine: Engine,
    pub journal: Journal,
    pending: BTreeMap<u64, (Qty, Qty)>,
    ts: u64,
    exec: u64,
    pub sent: Vec<ChildOrder>,
    /// Allocation lines of finished blocks, in order.
    pub allocations: Vec<ChildOrder>,
    /// Σ fills per order as this LP sent them: (cum, lowest price, highest price).
    filled: BTreeMap<u64, (Qty, Price, Price)>,
}

pub(super) fn symbols() -> SymbolTable {
    SymbolTable::builtin()
}

pub(super) const ACCOUNTS: usize = 40;

fn config() -> EngineConfig {
    let mut c = EngineConfig::permissive();
    c.risk.max_orders_per_sec = 500;
    c.risk.collar_bps = Some(500);
    c
}

impl Driver {
    pub fn new(journal_dir: &Path) -> Self {
        let accounts = synthetic_accounts(ACCOUNTS, 7);
        let mut engine = Engine::new(symbols(), accounts, config()).unwrap();
        // A fitted model on instrument 0, so adaptive masters there move with the quotes.
        let name = symbols().by_id(0).unwrap().name_str().to_string();
        engine
            .set_adaptive_model({
                let mut m = crate::adaptive::tests::test_model(&name);
                m.symbols[0].sample_ns = 100_000_000; // ops are 50 ms apart
                m
            })
            .unwrap();
        let (journal, _) = Journal::open(journal_dir, small_journal()).unwrap();
        Driver {
            engine,
            journal,
            pending: BTreeMap::new(),
            ts: 1_000_000_000,
            exec: 0,
            sent: Vec::new(),
            allocations: Vec::new(),
            filled: BTreeMap::new(),
        }
    }

    pub fn apply(&mut self, input: Input) {
        let mut out = Vec::new();
        self.engine
            .apply(&input, &mut self.journal, |o| out.push(*o))
            .unwrap();
        for o in out {
            if o.ord_type == crate::event::ORD_TYPE_CANCEL {
                // A cancel request: this LP answers it when an Op::Cancel reaches the order.
                continue;
            }
            if o.ord_type == crate::event::ORD_TYPE_ALLOC {
                self.allocations.push(o);
                continue;
            }
            self.pending.insert(o.cl_ord_id, (o.qty, Qty::ZERO));
            self.sent.push(o);
        }
    }

    fn fill(&mut self, cl: u64, qty: Qty, status: ExecStatus) -> Input {
        self.exec += 1;
        let e = self.pending.get_mut(&cl).unwrap();
        e.1 = Qty(e.1.raw() + qty.raw());
        let f = FillEvent {
            recv_ns: self.ts,
            cl_ord_id: cl,
            exec_id: self.exec,
            last_qty: qty,
            last_px: Price(110_000_000 + (self.exec % 7) as i64 * 1_000),
            cum_qty: e.1,
            leaves_qty: Qty(e.0.raw() - e.1.raw()),
            status: status as u8,
            _pad: [0; 7],
        };
        if e.0 == e.1 || status == ExecStatus::Canceled {
            self.pending.remove(&cl);
        }
        if qty.raw() > 0 {
            let px = f.last_px;
            let x = self.filled.entry(cl).or_insert((Qty::ZERO, px, px));
            *x = (Qty(x.0.raw() + qty.raw()), x.1.min(px), x.2.max(px));
        }
        Input::Fill(f)
    }

    pub fn inputs(&mut self, op: &Op) -> Vec<Input> {
        self.ts += 50_000_000;
        let ts = self.ts;
        match *op {
            Op::Open {
                ticket,
                instrument,
                buy,
                steps,
                model,
                mode,
                policy,
            } => {
                vec![Input::Open(MasterOpen {
                    ts_ns: ts,
                    ticket: u64::from(ticket) + 1,
                    lots: Lots(i64::from(steps) * 100),
                    limit_price: if steps % 3 == 0 {
                        Price(110_100_000)
                    } else {
                        Price::ZERO
                    },
                    sl_distance: Price(250_000),
                    quote_to_account: Price::ZERO,
                    reference: Money(50_000_000_000),
                    instrument: u32::from(instrument),
                    model,
                    side: if buy {
                        Side::Buy as u8
                    } else {
                        Side::Sell as u8
                    },
                    policy,
                    mode,
                })]
            }
            Op::Close {
                ticket,
                pct,
                mode,
                residual,
            } => {
                let t = u64::from(ticket) + 1;
                let open = self.engine.master_open(t).unwrap_or(0);
                let steps = open * u64::from(pct) / 100;
                vec![Input::Close(MasterClose {
                    ts_ns: ts,
                    ticket: t,
                    lots: Lots(steps as i64 * 100),
                    full: u8::from(pct == 100),
                    residual,
                    mode,
                    _pad: [0; 5],
                    order_id: 0,
                })]
            }
            Op::Balance { account, amount } => vec![Input::Balance(BalanceChange {
                ts_ns: ts,
                amount: Money(i64::from(amount) * 1_000_000),
                account: u32::from(account),
                manager: 0,
                flags: 0,
                request_id: 0,
            })],
            Op::Fill { parts } => {
                let Some((&cl, &(qty, cum))) = self.pending.iter().next() else {
                    return vec![];
                };
                let left = qty.raw() - cum.raw();
                let mut v = Vec::new();
                for p in 0..parts {
                    let q = if p + 1 == parts {
                        left - left / i64::from(parts) * i64::from(p)
                    } else {
                        left / i64::from(parts)
                    };
                    if q > 0 {
                        let st = if p + 1 == parts {
                            ExecStatus::Filled
                        } else {
                            ExecStatus::PartiallyFilled
                        };
                        v.push(self.fill(cl, Qty(q), st));
                    }
                }
                v
            }
            Op::Partial => {
                let Some((&cl, &(qty, cum))) = self.pending.iter().next() else {
                    return vec![];
                };
                let q = (qty.raw() - cum.raw()) / 3;
                if q == 0 {
                    return vec![];
                }
                vec![self.fill(cl, Qty(q), ExecStatus::PartiallyFilled)]
            }
            Op::Cancel => {
                let Some((&cl, _)) = self.pending.iter().next() else {
                    return vec![];
                };
                vec![self.fill(cl, Qty::ZERO, ExecStatus::Canceled)]
            }
            Op::Market { instrument, tick } => vec![Input::Market(MarketEvent {
                recv_ns: 0,
                source_ns: ts,
                seq: u64::from(tick),
                instrument: u32::from(instrument),
                source: 1,
                kind: MarketEventKind::Quote as u8,
                level: 0,
                bid: Price(109_990_000 + i64::from(tick) * 100),
                ask: Price(110_010_000 + i64::from(tick) * 100),
                bid_size: Qty(1_000_000 * Qty::ONE_RAW),
                ask_size: Qty(1_000_000 * Qty::ONE_RAW),
            })],
            Op::Kill => vec![Input::Risk(RiskCommand {
                ts_ns: ts,
                action: RISK_KILL,
                _pad: 0,
            })],
            Op::Reset => vec![Input::Risk(RiskCommand {
                ts_ns: ts,
                action: RISK_RESET,
                _pad: 0,
            })],
            Op::Adaptive(on) => vec![Input::Risk(RiskCommand {
                ts_ns: ts,
                action: if on { ADAPTIVE_ON } else { ADAPTIVE_OFF },
                _pad: 0,
            })],
            Op::Pending {
                ticket,
                instrument,
                buy,
                stop,
                steps,
                tick,
            } => vec![Input::Open(MasterOpen {
                ts_ns: ts,
                ticket: u64::from(ticket) + 1,
                lots: Lots(i64::from(steps) * 100),
                limit_price: Price(110_000_000 + i64::from(tick) * 100),
                sl_distance: Price(250_000),
                quote_to_account: Price::ZERO,
                reference: Money(50_000_000_000),
                instrument: u32::from(instrument),
                model: 1,
                side: if buy { Side::Buy } else { Side::Sell } as u8,
                policy: if stop {
                    POLICY_HELD_STOP
                } else {
                    POLICY_HELD_LIMIT
                },
                mode: (steps % 2) as u8,
            })],
            Op::CancelMaster { ticket } => vec![Input::Cancel(MasterCancel {
                ts_ns: ts,
                order_id: u64::from(ticket) + 1,
                cancel_id: 1_000 + self.exec,
            })],
            Op::Protect { ticket, sl, tp } => {
                let buy = self
                    .engine
                    .life
                    .masters
                    .get(&(u64::from(ticket) + 1))
                    .is_none_or(|m| m.side == Side::Buy as u8);
                let mid = 110_000_000 + 100 * 100;
                let off = |t: u16, up: bool| {
                    if t == 0 {
                        Price::ZERO
                    } else if up {
                        Price(mid + i64::from(t) * 1_000)
                    } else {
                        Price(mid - i64::from(t) * 1_000)
                    }
                };
                vec![Input::Amend(MasterAmend {
                    ts_ns: ts,
                    order_id: u64::from(ticket) + 1,
                    amend_id: 0,
                    stop_loss: off(sl, !buy),
                    take_profit: off(tp, buy),
                    flags: AMEND_SL | AMEND_TP,
                    mode: (sl % 2) as u8,
                    ..MasterAmend::default()
                })]
            }
        }
    }

    /// Every finished block's allocation lines: accounts in increasing order, each a positive
    /// quantity, then the total line = Σ this LP filled; Σ accounts within one lot step of
    /// it (a sub-step stays unallocated); the price the block's average (within its fills).
    pub fn check_allocations(&self) -> Result<(), String> {
        let mut group: Vec<ChildOrder> = Vec::new();
        for l in &self.allocations {
            if l.account != u32::MAX {
                if group
                    .last()
                    .is_some_and(|g| g.account >= l.account || g.cl_ord_id != l.cl_ord_id)
                {
                    return Err(format!("lines out of order: {group:?} then {l:?}"));
                }
                if l.qty.raw() <= 0 {
                    return Err(format!("empty line {l:?}"));
                }
                group.push(*l);
                continue;
            }
            let (cum, lo, hi) = self
                .filled
                .get(&l.cl_ord_id)
                .copied()
                .ok_or(format!("allocation of an order never filled: {l:?}"))?;
            if l.qty != cum || l.price < lo || l.price > hi {
                return Err(format!("total {l:?}: filled {cum} at {lo}..{hi}"));
            }
            let spec = symbols().by_id(l.instrument).copied().ok_or("instrument")?;
            let step = spec.lots_to_qty(spec.lot_step).map_err(|e| e.to_string())?;
            let sum: i64 = group.iter().map(|g| g.qty.raw()).sum();
            if sum > cum.raw() || cum.raw() - sum >= step.raw() {
                return Err(format!("Σ lines {sum} vs block {cum} (step {step})"));
            }
            if group
                .iter()
                .any(|g| g.price != l.price || g.cl_ord_id != l.cl_ord_id)
            {
                return Err(format!("lines disagree with the total: {group:?} {l:?}"));
            }
            group.clear();
        }
        if group.is_empty() {
            Ok(())
        } else {
            Err(format!("unterminated group {group:?}"))
        }
    }

    pub fn run(&mut self, op: &Op) -> Vec<Input> {
        let ins = self.inputs(op);
        for i in &ins {
            self.apply(*i);
        }
        ins
    }
}

fn small_journal() -> JournalConfig {
    JournalConfig {
        segment_size: 64 << 10,
        ..JournalConfig::default()
    }
}

/// Every journal record's (seq, kind, payload).
fn journal_records(dir: &Path) -> Vec<(u64, u16, Vec<u8>)> {
    let r = JournalReader::open(dir).unwrap();
    r.records(0)
        .map(|x| x.unwrap())
        .map(|x| (x.seq, x.kind, x.payload.to_vec()))
        .collect()
}

/// Quotes for the three instruments so the collar has a reference.
fn warm_up() -> Vec<Op> {
    (0..3)
        .map(|i| Op::Market {
            instrument: i,
            tick: 100,
        })
        .collect()
}

fn recovered(cp: &Path, jd: &Path) -> Recovered {
    Engine::recover(cp, jd, small_journal(), symbols()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Same inputs, same journal bytes and state; a checkpoint at a random point plus replay
    /// gives the uninterrupted state bit for bit, and sends nothing again.
    #[test]
    fn determinism_and_recovery(ops in prop::collection::vec(op_strategy(), 1..60), cut in 0usize..60) {
        let dir = tempfile::tempdir().unwrap();
        let (ja, jb, cp) = (dir.path().join("a"), dir.path().join("b"), dir.path().join("cp"));
        let mut a = Driver::new(&ja);
        let mut b = Driver::new(&jb);
        let ops: Vec<Op> = warm_up().into_iter().chain(ops).collect();
        let cut = cut % (ops.len() + 1);
        for (i, op) in ops.iter().enumerate() {
            if i == cut {
                a.engine.write_checkpoint(&cp, &mut a.journal).unwrap();
            }
            a.run(op);
            let ins = b.inputs(op);
            for x in ins { b.apply(x); }
        }
        if cut == ops.len() {
            a.engine.write_checkpoint(&cp, &mut a.journal).unwrap();
        }
        prop_assert_eq!(a.engine.digest(), b.engine.digest());
        prop_assert_eq!(a.engine.counters().invariant_failures, 0);
        if let Err(e) = a.check_allocations() {
            return Err(TestCaseError::fail(e));
        }
        let digest = a.engine.digest();
        let bytes = a.engine.state_bytes();
        let seq = a.engine.applied_seq();
        drop(a);
        drop(b);
        prop_assert_eq!(journal_records(&ja), journal_records(&jb));
        let r = recovered(&cp, &ja);
        prop_assert_eq!(r.engine.applied_seq(), seq);
        prop_assert!(r.engine.state_bytes() == bytes, "recovered state differs");
        prop_assert_eq!(r.engine.digest(), digest);
        prop_assert!(r.to_send.is_empty());
        prop_assert_eq!(r.appended_decisions, 0);
    }

    /// A checkpoint body of arbitrary bytes, or a valid one with one byte changed, is refused
    /// or accepted, never a panic.
    #[test]
    fn checkpoint_decoder_never_panics(
        junk in prop::collection::vec(any::<u8>(), 0..400),
        at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let _ = Engine::decode(&junk, symbols(), synthetic_accounts(ACCOUNTS, 7));
        let dir = tempfile::tempdir().unwrap();
        let mut d = Driver::new(dir.path());
        for op in warm_up().iter().chain([&open(1, 90, model_code::EQUITY, MODE_BLOCK), &Op::Partial]) {
            d.run(op);
        }
        let mut body = d.engine.encode_without_accounts().0;
        let i = at.index(body.len());
        body[i] ^= flip;
        let _ = Engine::decode(&body, symbols(), synthetic_accounts(ACCOUNTS, 7));
    }

    /// Arbitrary bytes as inputs never panic: they decode to nothing or are refused.
    #[test]
    fn arbitrary_inputs_never_panic(kind in 1u16..7, bytes in prop::collection::vec(any::<u8>(), 0..80)) {
        let dir = tempfile::tempdir().unwrap();
        let mut d = Driver::new(dir.path());
        if let Some(i) = Input::decode(kind, &bytes) {
            d.apply(i);
        }
    }
}

#[test]
fn frames_and_descriptions_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = Driver::new(dir.path());
    let ins: Vec<Input> = warm_up()
        .iter()
        .chain([
            &open(1, 90, model_code::EQUITY, MODE_BLOCK),
            &Op::Fill { parts: 2 },
            &Op::Kill,
        ])
        .flat_map(|op| d.run(op))
        .collect();
    for i in &ins {
        assert_eq!(Input::from_frame(&i.to_frame()), Some(*i));
    }
    drop(d.journal);
    for (_, kind, payload) in journal_records(dir.path()) {
        assert!(kind_name(kind).is_some());
        assert!(describe(kind, &payload).is_some(), "kind {kind}");
    }
    assert_eq!(describe(99, &[]), None);
    assert_eq!(describe(KIND_ORDER, &[1, 2, 3]), None);
}

fn open(ticket: u64, steps: i64, model: u8, mode: u8) -> Op {
    let _ = ticket;
    Op::Open {
        ticket: (ticket - 1) as u8,
        instrument: 0,
        buy: true,
        steps: steps as u16,
        model,
        mode,
        policy: 0,
    }
}

#[test]
fn full_close_leaves_every_account_at_zero() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = Driver::new(dir.path());
    for op in warm_up() {
        d.run(&op);
    }
    for (mode, t) in [(MODE_BLOCK, 1u64), (MODE_PER_ACCOUNT, 2)] {
        d.run(&open(t, 137, model_code::EQUITY, mode));
        let h: u64 = d.engine.holdings(t).unwrap().iter().sum();
        assert_eq!(h, 0, "holdings grow with fills, not with allocations");
        while !d.pending.is_empty() {
            d.run(&Op::Fill { parts: 3 });
        }
        let h: u64 = d.engine.holdings(t).unwrap().iter().sum();
        assert_eq!(h, 137, "equity model allocates the whole master");
        d.run(&Op::Close {
            ticket: (t - 1) as u8,
            pct: 33,
            mode,
            residual: 0,
        });
        assert!(d.engine.master_open(t).unwrap() < 137);
        d.run(&Op::Close {
            ticket: (t - 1) as u8,
            pct: 100,
            mode,
            residual: 0,
        });
        assert!(
            d.engine.holdings(t).unwrap().iter().all(|&h| h == 0),
            "a full close takes every holding to zero when sent"
        );
        while !d.pending.is_empty() {
            d.run(&Op::Fill { parts: 2 });
        }
        assert!(
            d.engine.holdings(t).is_none(),
            "a flat ticket with nothing working is closed"
        );
    }
    let c = d.engine.counters();
    assert_eq!(c.tickets_flat, 2);
    assert_eq!(c.invariant_failures, 0);
    assert!(c.invariant_checks > 4);
    assert_eq!(d.engine.open_orders(), 0);
    // Per ticket, Σ closes sent = Σ opens sent, for every account.
    let mut net: BTreeMap<(u64, u32), i64> = BTreeMap::new();
    for o in &d.sent {
        let s = if o.side == Side::Buy as u8 { 1 } else { -1 };
        *net.entry((o.master_ticket, o.account)).or_default() += s * o.qty.raw();
    }
    assert!(net.values().all(|&v| v == 0), "{net:?}");
}

/// A master closed before its block filled: each part of the block that fills afterwards is
/// closed at once as one block order (not one child per account, which multiplied the orders
/// by the accounts), and every account ends flat.
#[test]
fn late_fills_of_a_block_close_as_one_block() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = Driver::new(dir.path());
    for op in warm_up() {
        d.run(&op);
    }
    d.run(&open(1, 137, model_code::EQUITY, MODE_BLOCK));
    assert_eq!(d.sent.len(), 1, "one block order");
    d.run(&Op::Close {
        ticket: 0,
        pct: 100,
        mode: MODE_BLOCK,
        residual: 0,
    });
    assert_eq!(
        d.sent.len(),
        1,
        "nothing has filled: the close sends nothing"
    );
    // The open fills in three parts; each part is late and closed as one block order.
    d.run(&Op::Fill { parts: 3 });
    let closes: Vec<_> = d.sent[1..].to_vec();
    assert_eq!(closes.len(), 3, "{closes:?}");
    assert!(closes
        .iter()
        .all(|o| o.account == u32::MAX && o.side == Side::Sell as u8));
    let closed: i64 = closes.iter().map(|o| o.qty.raw()).sum();
    assert_eq!(closed, d.sent[0].qty.raw(), "the whole block is closed");
    while !d.pending.is_empty() {
        d.run(&Op::Fill { parts: 2 });
    }
    for a in 0..ACCOUNTS as u32 {
        assert_eq!(d.engine.ledger().qty(a, 0), Qty::ZERO, "account {a}");
    }
    assert!(
        d.engine.holdings(1).is_none(),
        "the ticket is flat and gone"
    );
    let c = d.engine.counters();
    assert_eq!(c.invariant_failures, 0);
    assert_eq!(c.tickets_flat, 1);
}

#[test]
fn deposits_do_not_move_open_positions() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = Driver::new(dir.path());
    for op in warm_up() {
        d.run(&op);
    }
    d.run(&open(1, 250, model_code::BALANCE, MODE_PER_ACCOUNT));
    let before = d.engine.holdings(1).unwrap().to_vec();
    let bal0 = d.engine.accounts().balance[3];
    d.run(&Op::Balance {
        account: 3,
        amount: 40_000,
    });
    d.run(&Op::Balance {
        account: 5,
        amount: -500,
    });
    assert_eq!(d.engine.holdings(1).unwrap(), &before[..]);
    assert_eq!(
        d.engine.accounts().balance[3],
        Money(bal0.raw() + 40_000_000_000)
    );
    // The deposit changes the weights of the next order: account 3's share grows.
    d.run(&open(2, 250, model_code::BALANCE, MODE_PER_ACCOUNT));
    let after = d.engine.holdings(2).unwrap();
    assert!(after[3] >= before[3], "{} < {}", after[3], before[3]);
    // A withdrawal past the balance is refused, journaled, and changes nothing.
    let bal5 = d.engine.accounts().balance[5];
    d.run(&Op::Balance {
        account: 5,
        amount: -2_000_000,
    });
    assert_eq!(d.engine.accounts().balance[5], bal5);
    assert_eq!(d.engine.counters().refused, 1);
}

#[test]
fn kill_switch_rejects_with_a_journaled_reason() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = Driver::new(dir.path());
    for op in warm_up() {
        d.run(&op);
    }
    d.run(&Op::Kill);
    d.run(&open(1, 100, model_code::EQUITY, MODE_BLOCK));
    assert!(d.sent.is_empty());
    assert!(
        d.engine.holdings(1).is_none(),
        "a refused open opens nothing"
    );
    drop(d.journal);
    let recs = journal_records(dir.path());
    // Close-only: the open is refused whole, before any child is built, and the manager hears.
    let rej: Vec<_> = recs.iter().filter(|r| r.1 == KIND_REFUSED).collect();
    assert_eq!(rej.len(), 1);
    assert!(describe(rej[0].1, &rej[0].2)
        .unwrap()
        .contains("kill switch"));
    let rep: Vec<_> = recs.iter().filter(|r| r.1 == KIND_MASTER_REPORT).collect();
    assert_eq!(rep.len(), 1);
    assert!(describe(rep[0].1, &rep[0].2)
        .unwrap()
        .contains("exec_type=8"));
}

/// Zeroes the CRC of the journal's last record: a torn tail.
fn tear_last_record(dir: &Path) -> (u64, u16) {
    let r = JournalReader::open(dir).unwrap();
    let segs = r.report().segments.clone();
    let last = r
        .records(0)
        .map(|x| x.unwrap())
        .map(|x| (x.seq, x.kind, x.offset))
        .last()
        .unwrap();
    drop(r);
    let seg = segs.last().unwrap();
    let mut bytes = std::fs::read(&seg.path).unwrap();
    let at = last.2;
    for b in &mut bytes[at..at + 4] {
        *b = 0; // the writer stores the CRC last: a torn record has none
    }
    std::fs::write(&seg.path, &bytes).unwrap();
    (last.0, last.1)
}

#[test]
fn torn_input_is_cut_and_never_applied() {
    let dir = tempfile::tempdir().unwrap();
    let (j, cp, j2) = (
        dir.path().join("j"),
        dir.path().join("cp"),
        dir.path().join("j2"),
    );
    let ops: Vec<Op> = warm_up()
        .into_iter()
        .chain([
            open(1, 120, model_code::EQUITY, MODE_BLOCK),
            Op::Fill { parts: 2 },
        ])
        .collect();
    let mut d = Driver::new(&j);
    let mut reference = Driver::new(&j2);
    d.engine.write_checkpoint(&cp, &mut d.journal).unwrap();
    for op in &ops {
        d.run(op);
        reference.run(op);
    }
    d.run(&Op::Market {
        instrument: 1,
        tick: 7,
    }); // the input that will be torn
    drop(d);
    let (_, kind) = tear_last_record(&j);
    assert_eq!(kind, KIND_MARKET);
    let r = recovered(&cp, &j);
    assert!(r.journal_report.torn_tail.is_some());
    assert_eq!(r.engine.digest(), reference.engine.digest());
    assert!(r.to_send.is_empty());
}

#[test]
fn torn_decision_is_recomputed_and_its_orders_sent_once() {
    let dir = tempfile::tempdir().unwrap();
    let (j, cp) = (dir.path().join("j"), dir.path().join("cp"));
    let mut d = Driver::new(&j);
    for op in warm_up() {
        d.run(&op);
    }
    d.engine.write_checkpoint(&cp, &mut d.journal).unwrap();
    let before = d.sent.len();
    d.run(&open(1, 90, model_code::EQUITY, MODE_PER_ACCOUNT));
    let orders: Vec<ChildOrder> = d.sent[before..].to_vec();
    let digest = d.engine.digest();
    drop(d);
    let (_, kind) = tear_last_record(&j);
    assert_eq!(kind, KIND_MASTER_REPORT, "the open's New report comes last");
    let r = recovered(&cp, &j);
    assert_eq!(r.appended_decisions, 1);
    assert_eq!(r.engine.digest(), digest);
    assert_eq!(
        r.to_send, orders,
        "the input's orders had not left: send them now"
    );
    // A second recovery finds the journal whole: nothing to send.
    drop(r);
    let r = recovered(&cp, &j);
    assert!(r.to_send.is_empty());
    assert_eq!(r.engine.digest(), digest);
}

#[test]
fn damaged_checkpoint_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let (j, cp) = (dir.path().join("j"), dir.path().join("cp"));
    let mut d = Driver::new(&j);
    d.run(&warm_up()[0]);
    d.engine.write_checkpoint(&cp, &mut d.journal).unwrap();
    drop(d);
    // A temporary a crash left behind is removed by the next checkpoint; two are kept.
    std::fs::create_dir_all(cp.join(".checkpoint-00000000000000000099.tmp")).unwrap();
    let mut d = Driver::new(&dir.path().join("j2"));
    for op in warm_up() {
        d.run(&op);
        d.engine.write_checkpoint(&cp, &mut d.journal).unwrap();
    }
    let left: Vec<String> = std::fs::read_dir(&cp)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left.len(), 3, "CURRENT and two checkpoints: {left:?}");
    drop(d);
    let p = cp.join(
        std::fs::read_to_string(cp.join(CURRENT_FILE))
            .unwrap()
            .trim(),
    );
    let j = dir.path().join("j2");
    assert_eq!(
        recovered(&cp, &j).engine.applied_seq(),
        3,
        "intact: recovers"
    );
    let sp = p.join("engine.state");
    let mut b = std::fs::read(&sp).unwrap();
    let n = b.len();
    b[n - 1] ^= 1;
    std::fs::write(&sp, &b).unwrap();
    let e = Engine::recover(&cp, &j, small_journal(), symbols()).unwrap_err();
    assert!(e.to_string().contains("checksum mismatch"), "{e}");
    std::fs::write(&sp, b"MAMXXXXX").unwrap();
    let e = Engine::recover(&cp, &j, small_journal(), symbols()).unwrap_err();
    assert!(e.to_string().contains("shorter than the header"), "{e}");
}

#[test]
fn tampered_decision_is_a_determinism_violation() {
    let dir = tempfile::tempdir().unwrap();
    let (j, cp) = (dir.path().join("j"), dir.path().join("cp"));
    let mut d = Driver::new(&j);
    for op in warm_up() {
        d.run(&op);
    }
    d.engine.write_checkpoint(&cp, &mut d.journal).unwrap();
    d.run(&open(1, 90, model_code::EQUITY, MODE_BLOCK));
    d.run(&Op::Market {
        instrument: 0,
        tick: 3,
    });
    drop(d);
    // Rewrite the block order's quantity with a valid CRC: only replay can notice.
    let r = JournalReader::open(&j).unwrap();
    let rec = r
        .records(0)
        .map(|x| x.unwrap())
        .find(|x| x.kind == KIND_ORDER)
        .unwrap();
    let (seq, mut payload) = (rec.seq, rec.payload.to_vec());
    let off = rec.offset;
    let seg = r.report().segments.last().unwrap().path.clone();
    drop(r);
    payload[32] ^= 1;
    let mut bytes = std::fs::read(&seg).unwrap();
    let size = crate::journal::format::record_size(payload.len());
    crate::journal::format::encode_record(&mut bytes[off..off + size], seq, KIND_ORDER, &payload);
    std::fs::write(&seg, &bytes).unwrap();
    let e = Engine::recover(&cp, &j, small_journal(), symbols()).unwrap_err();
    assert!(
        matches!(e, EngineError::Determinism { seq: s, .. } if s == seq),
        "{e}"
    );
}

fn adaptive_open(ticket: u64, steps: i64, mode: u8) -> Op {
    match open(ticket, steps, model_code::EQUITY, mode) {
        Op::Open {
            ticket,
            instrument,
            buy,
            steps,
            model,
            mode,
            ..
        } => Op::Open {
            ticket,
            instrument,
            buy,
            steps,
            model,
            mode,
            policy: POLICY_ADAPTIVE,
        },
        op => op,
    }
}

/// An adaptive block: one record per account with a static share, sizes inside the bounds,
/// Σ of the adapted sizes = the block sent; switched off, the same master gets the static
/// allocation.
#[test]
fn adaptive_blocks_explain_every_account_and_sum_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = Driver::new(dir.path());
    for op in warm_up() {
        d.run(&op);
    }
    // Volatile quotes on instrument 0: the forecast rises above the target.
    // Two quotes per 100 ms interval: the interval closes alternate between the extremes.
    for k in 0..120u16 {
        d.run(&Op::Market {
            instrument: 0,
            tick: if k % 4 < 2 { 0 } else { 199 },
        });
    }
    d.run(&adaptive_open(1, 300, MODE_BLOCK));
    let block = d.sent.last().copied().expect("a block order");
    d.run(&Op::Adaptive(false));
    d.run(&adaptive_open(2, 300, MODE_BLOCK));
    let static_block = d.sent.last().copied().unwrap();
    assert_eq!(
        static_block.qty,
        Qty(300 * 1_000 * Qty::ONE_RAW),
        "static: the master"
    );
    drop(d.journal);
    let recs = journal_records(dir.path());
    let heads: Vec<_> = recs
        .iter()
        .filter_map(|r| match Decision::decode(r.1, &r.2) {
            Some(Decision::AdaptiveTicket(t)) => Some(t),
            _ => None,
        })
        .collect();
    assert_eq!(heads.len(), 1, "the switched-off master is not adapted");
    let h = heads[0];
    assert_eq!(h.requested, 300);
    assert!(
        h.sigma > h.sigma_target,
        "volatile quotes: sigma {} target {}",
        h.sigma,
        h.sigma_target
    );
    let accts: Vec<_> = recs
        .iter()
        .filter_map(|r| match Decision::decode(r.1, &r.2) {
            Some(Decision::AdaptiveAccount(a)) if a.ticket == 1 => Some(a),
            _ => None,
        })
        .collect();
    assert!(!accts.is_empty());
    assert_eq!(
        accts.iter().map(|a| a.static_steps).sum::<u64>(),
        h.static_total
    );
    assert_eq!(accts.iter().map(|a| a.steps).sum::<u64>(), h.adaptive_total);
    assert!(
        h.adaptive_total < h.static_total,
        "a volatility above target scales down"
    );
    assert_eq!(
        block.qty,
        Qty(h.adaptive_total as i64 * 1_000 * Qty::ONE_RAW),
        "the block is the sum of the adapted sizes"
    );
    let a = d.engine.accounts();
    for r in &accts {
        let i = r.account as usize;
        let (lo, hi) = crate::adaptive::step_bounds(r.static_steps, a.min_scale[i], a.max_scale[i]);
        assert!(
            r.steps >= lo && r.steps <= hi,
            "account {i}: {} not in [{lo}, {hi}]",
            r.steps
        );
    }
    assert!(
        describe(KIND_ADAPTIVE_ACCOUNT, bytemuck::bytes_of(&accts[0]))
            .unwrap()
            .contains("scale=")
    );
}

/// A block filled in parts: its allocation lines (one per account that received steps, then
/// the total) add up to the fill, at the block's average price; a per-account open has none.
#[test]
fn finished_blocks_are_allocated_line_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = Driver::new(dir.path());
    for op in warm_up() {
        d.run(&op);
    }
    d.run(&open(1, 137, model_code::EQUITY, MODE_BLOCK));
    d.run(&Op::Fill { parts: 3 });
    let lines = d.allocations.clone();
    let total = *lines.last().expect("allocation lines for the filled block");
    assert_eq!(total.account, u32::MAX);
    let block = *d.sent.iter().rev().find(|o| o.account == u32::MAX).unwrap();
    assert_eq!((total.cl_ord_id, total.qty), (block.cl_ord_id, block.qty));
    let sum: i64 = lines[..lines.len() - 1].iter().map(|l| l.qty.raw()).sum();
    assert_eq!(sum, block.qty.raw(), "137 whole steps: every one allocated");
    assert!(lines.len() > 2, "{} lines", lines.len());
    d.check_allocations().unwrap();

    let before = d.allocations.len();
    d.run(&open(2, 50, model_code::EQUITY, MODE_PER_ACCOUNT));
    d.run(&Op::Fill { parts: 1 });
    assert_eq!(
        d.allocations.len(),
        before,
        "per-account children need no allocation"
    );
}
