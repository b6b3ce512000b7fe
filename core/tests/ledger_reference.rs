//! An independent reference ledger, written from `docs/ledger.md` alone, driven beside the
//! real engine.
//!
//! The reference keeps, per account × symbol, the net quantity and the cost basis as exact
//! rationals, and applies the documented rules: VWAP cost basis; a reduce closes
//! `Kc = K × r ÷ |q|` rounded half-to-even at 1e-14; realised P&L in the quote currency,
//! converted once (half-to-even to 1e-6) at the mid of the converting symbol's latest quote
//! (the fill price standing in before the first quote when the converter is the symbol itself);
//! commission per lot; equity = balance + Σ unrealised (long at the bid, short at the ask);
//! margin = Σ round(round(convert(|q| × mark)) × margin_rate ÷ leverage).
//!
//! It learns who got what from the orders the engine emits (a per-account order names its
//! account) and computes every amount of money from the fills itself: it never reads the
//! engine's ledger numbers. With block routing the per-account split of a fill is not in any
//! order, so that test learns each account's *quantity* share from the engine's positions and
//! still computes all money itself. After every input it compares every account's position
//! quantity, cost basis, average price, realised P&L, commission, balance, equity and margin,
//! and checks Σ accounts + unallocated = LP net per symbol.

mod common;
#[path = "common/rational.rs"]
mod rational;

use std::collections::BTreeMap;

use common::*;
use mam_core::account::{AccountRecord, AccountVecs};
use mam_core::engine::decision::{RefusedCode, LIMIT_TICKET};
use mam_core::engine::input::model_code;
use mam_core::engine::{Decision, Input};
use mam_core::event::{ChildOrder, ExecStatus, MarketEventKind, Side};
use mam_core::num::{Lots, Money, Price, Qty, Ratio};
use proptest::prelude::*;
use rational::R;

// ---------------------------------------------------------------------------------------------
// The market the tests trade, as the docs and the built-in symbol table describe it.

const EURUSD: usize = 0;
const USDJPY: usize = 1;
const EURGBP: usize = 2;
const GBPUSD: usize = 3;
const EURJPY: usize = 4;
/// Quoted symbols; the first four are traded (EURJPY converts JPY for the EUR account).
const NAMES: [&str; 5] = ["EURUSD", "USDJPY", "EURGBP", "GBPUSD", "EURJPY"];
const TRADED: usize = 4;
const START_MID: [i64; 5] = [
    110_000_000,
    15_000_000_000,
    85_000_000,
    129_000_000,
    16_500_000_000,
];
const SPREAD: [i64; 5] = [2_000, 2_000_000, 3_000, 2_500, 3_000_000];
/// Base units per lot of every symbol traded here.
const CONTRACT: i128 = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ccy {
    Usd,
    Eur,
}

/// How an amount in a symbol's quote currency becomes one in the account currency.
#[derive(Debug, Clone, Copy)]
enum Conv {
    Same,
    /// × the mid of this symbol (QUOTE/ACCOUNT).
    Mul(usize),
    /// ÷ the mid of this symbol (ACCOUNT/QUOTE).
    Div(usize),
}

/// The symbol that joins the quote currency of `s` to `ccy` (docs/ledger.md, "Conversion").
fn conversion(ccy: Ccy, s: usize) -> Conv {
    match (ccy, s) {
        (Ccy::Usd, EURUSD | GBPUSD) => Conv::Same,
        (Ccy::Usd, USDJPY | EURJPY) => Conv::Div(USDJPY),
        (Ccy::Usd, EURGBP) => Conv::Mul(GBPUSD),
        (Ccy::Eur, EURUSD | GBPUSD) => Conv::Div(EURUSD),
        (Ccy::Eur, USDJPY | EURJPY) => Conv::Div(EURJPY),
        (Ccy::Eur, EURGBP) => Conv::Div(EURGBP),
        _ => unreachable!("symbol {s}"),
    }
}

fn ids() -> [u32; 5] {
    NAMES.map(sym)
}

// ---------------------------------------------------------------------------------------------
// The reference ledger.

#[derive(Debug, Clone, Copy, Default)]
struct RefPos {
    qty: R,
    cost: R,
    realised: R,
    commission: R,
}

#[derive(Debug, Clone)]
struct RefAccount {
    ccy: Ccy,
    leverage: u32,
    commission_per_lot: R,
    balance: R,
    pos: [RefPos; TRADED],
}

#[derive(Debug, Clone)]
struct Reference {
    accounts: Vec<RefAccount>,
    quotes: [Option<(R, R)>; 5],
    lp_net: [R; TRADED],
}

impl Reference {
    fn new(records: &[AccountRecord]) -> Self {
        Reference {
            accounts: records
                .iter()
                .map(|r| RefAccount {
                    ccy: if r.currency_str() == "EUR" {
                        Ccy::Eur
                    } else {
                        Ccy::Usd
                    },
                    leverage: r.leverage,
                    commission_per_lot: R::scaled(r.commission_per_lot.raw(), 6),
                    balance: R::scaled(r.balance.raw(), 6),
                    pos: [RefPos::default(); TRADED],
                })
                .collect(),
            quotes: [None; 5],
            lp_net: [R::ZERO; TRADED],
        }
    }

    fn mid(&self, k: usize) -> Option<R> {
        self.quotes[k].map(|(b, a)| (b + a) / R::int(2))
    }

    /// `x` in the quote currency of `s`, in account `a`'s currency, unrounded. `stand_in`
    /// replaces the converter's mid while it has no quote, when the converter is `s` itself;
    /// otherwise an unquoted converter leaves the amount as it is (counted as unconverted).
    fn convert(&self, a: usize, s: usize, x: R, stand_in: Option<R>) -> R {
        let mid = |k: usize| self.mid(k).or(if k == s { stand_in } else { None });
        match conversion(self.accounts[a].ccy, s) {
            Conv::Same => x,
            Conv::Mul(k) => mid(k).map_or(x, |m| x * m),
            Conv::Div(k) => mid(k).map_or(x, |m| x / m),
        }
    }

    /// Books account `a`'s signed share `dq` (units) of a fill at `px`.
    fn book(&mut self, a: usize, s: usize, dq: R, px: R) {
        let p = self.accounts[a].pos[s];
        let (mut q, mut k) = (p.qty, p.cost);
        let mut realised_quote = R::ZERO;
        if q.is_zero() || q.signum() == dq.signum() {
            q = q + dq;
            k = k + dq * px;
        } else {
            let r = dq.abs().min(q.abs());
            let kc = (k * r / q.abs()).round(14);
            realised_quote = R::int(q.signum()) * (r * px - kc.abs());
            k = k - kc;
            q = q + R::int(dq.signum()) * r;
            let rest = dq.abs() - r;
            if !rest.is_zero() {
                q = R::int(dq.signum()) * rest;
                k = q * px;
            }
        }
        let realised = self.convert(a, s, realised_quote, Some(px)).round(6);
        let acc = &mut self.accounts[a];
        let commission = (acc.commission_per_lot * dq.abs() / R::int(CONTRACT)).round(6);
        acc.balance = acc.balance + realised - commission;
        let p = &mut acc.pos[s];
        p.qty = q;
        p.cost = k;
        p.realised = p.realised + realised;
        p.commission = p.commission + commission;
    }

    /// (unrealised P&L, notional) of one position in the account currency, each rounded.
    fn marked(&self, a: usize, s: usize) -> (R, R) {
        let p = self.accounts[a].pos[s];
        if p.qty.is_zero() {
            return (R::ZERO, R::ZERO);
        }
        let avg = p.cost.abs() / p.qty.abs();
        let (x, notional) = match self.quotes[s] {
            Some((bid, ask)) => {
                let mark = if p.qty.signum() > 0 { bid } else { ask };
                (p.qty * mark - p.cost, (p.qty * mark).abs())
            }
            // Before its first quote a position is marked at cost.
            None => (R::ZERO, p.cost.abs()),
        };
        (
            self.convert(a, s, x, Some(avg)).round(6),
            self.convert(a, s, notional, Some(avg)).round(6),
        )
    }

    fn equity(&self, a: usize) -> R {
        (0..TRADED).fold(self.accounts[a].balance, |e, s| e + self.marked(a, s).0)
    }

    fn margin(&self, a: usize) -> R {
        let lev = R::int(i128::from(self.accounts[a].leverage.max(1)));
        (0..TRADED).fold(R::ZERO, |m, s| {
            m + (self.marked(a, s).1 * R::int(1) / lev).round(6)
        })
    }

    /// What the docs say of a balance change: `None` if applied, else the refusal.
    fn balance_change(&mut self, a: usize, amount: R) -> Option<RefusedCode> {
        let acc = &self.accounts[a];
        if acc.balance + amount < R::ZERO {
            return Some(RefusedCode::NegativeBalance);
        }
        if amount < R::ZERO && -amount > self.equity(a) - self.margin(a) {
            return Some(RefusedCode::InsufficientFreeMargin);
        }
        self.accounts[a].balance = acc.balance + amount;
        None
    }
}

fn raw64(x: R, decimals: u32) -> i64 {
    i64::try_from(x.exact_raw(decimals)).expect("fits in i64")
}

// ---------------------------------------------------------------------------------------------
// The scenario: operations the test turns into engine inputs, playing manager and LP.

#[derive(Debug, Clone)]
enum Op {
    Open {
        ticket: u8,
        sym: u8,
        buy: bool,
        steps: u16,
        model: u8,
        block: bool,
    },
    Close {
        ticket: u8,
        pct: u8,
        block: bool,
    },
    /// Fill the `which`-th working order completely in `parts` parts.
    Fill {
        which: u8,
        parts: u8,
        slip: i8,
    },
    /// Fill part of the `which`-th working order.
    Partial {
        which: u8,
        permille: u16,
        whole_steps: bool,
        slip: i8,
    },
    /// The LP cancels (status 4, nothing filled) the `which`-th working order.
    Cancel {
        which: u8,
    },
    /// The LP rejects (status 8) the `which`-th working order.
    Reject {
        which: u8,
    },
    /// A quote moving the mid by `bp` basis points.
    Quote {
        sym: u8,
        bp: i16,
    },
    /// A deposit or withdrawal of `cents`.
    Balance {
        account: u8,
        cents: i32,
    },
}

const MODELS: [u8; 4] = [
    model_code::EQUITY,
    model_code::BALANCE,
    model_code::FIXED,
    model_code::MULTIPLIER,
];

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u8..4, 0u8..TRADED as u8, any::<bool>(), 1u16..300, 0u8..4, any::<bool>())
            .prop_map(|(ticket, sym, buy, steps, m, block)| Op::Open {
                ticket, sym, buy, steps, model: MODELS[m as usize], block
            }),
        2 => (0u8..4, 1u8..=100, any::<bool>())
            .prop_map(|(ticket, pct, block)| Op::Close { ticket, pct, block }),
        5 => (any::<u8>(), 1u8..4, -8i8..8)
            .prop_map(|(which, parts, slip)| Op::Fill { which, parts, slip }),
        2 => (any::<u8>(), 1u16..1000, any::<bool>(), -8i8..8)
            .prop_map(|(which, permille, whole_steps, slip)| Op::Partial { which, permille, whole_steps, slip }),
        1 => any::<u8>().prop_map(|which| Op::Cancel { which }),
        1 => any::<u8>().prop_map(|which| Op::Reject { which }),
        3 => (0u8..5, -40i16..40).prop_map(|(sym, bp)| Op::Quote { sym, bp }),
        1 => (0u8..5, prop_oneof![-600i16..-100, 100i16..600]).prop_map(|(sym, bp)| Op::Quote { sym, bp }),
        1 => (any::<u8>(), -6_000_000i32..6_000_000).prop_map(|(account, cents)| Op::Balance { account, cents }),
    ]
}

/// One account of a case: balance (whole units), leverage, commission per lot (micro-units),
/// fixed lot steps, multiplier (per mille).
#[derive(Debug, Clone)]
struct AccountSpec {
    balance: i64,
    leverage: u32,
    commission: i64,
    fixed_steps: i64,
    multiplier: i64,
}

fn account_strategy() -> impl Strategy<Value = AccountSpec> {
    (
        2_000i64..300_000,
        prop::sample::select(vec![1u32, 10, 30, 50, 100, 200, 500]),
        prop_oneof![Just(0i64), 0i64..12_345_678],
        1i64..200,
        100i64..3_000,
    )
        .prop_map(
            |(balance, leverage, commission, fixed_steps, multiplier)| AccountSpec {
                balance,
                leverage,
                commission,
                fixed_steps,
                multiplier,
            },
        )
}

/// Account 0 keeps its books in EUR, the others in USD.
fn records(specs: &[AccountSpec]) -> Vec<AccountRecord> {
    specs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut r = account(i, s.balance, s.leverage);
            r.commission_per_lot = Money(s.commission);
            r.fixed_lots = Lots(s.fixed_steps * 100);
            r.multiplier = Ratio(s.multiplier * 1_000);
            if i == 0 {
                r.currency = eur();
            }
            r
        })
        .collect()
}

#[derive(Debug, Clone)]
struct Case {
    accounts: Vec<AccountSpec>,
    /// Every ticket of a symbol on one side (`Some`): then no account may ever hold the other
    /// side, and the tickets' holdings are bounded by the positions.
    sides: Option<[bool; TRADED]>,
    ops: Vec<Op>,
}

fn case_strategy() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(account_strategy(), 3..7),
        prop::option::weighted(0.7, any::<[bool; TRADED]>()),
        prop::collection::vec(op_strategy(), 1..70),
    )
        .prop_map(|(accounts, sides, ops)| Case {
            accounts,
            sides,
            ops,
        })
}

#[derive(Debug, Clone, Copy)]
struct Working {
    order: ChildOrder,
    cum: i64,
}

/// The engine, the reference beside it, and the test's LP and market.
struct World {
    h: Harness,
    reference: Reference,
    ids: [u32; 5],
    /// Orders emitted and not finished (the LP's book), by ClOrdID.
    working: BTreeMap<u64, Working>,
    /// The test market's current bid and ask per quoted symbol.
    market: [(i64, i64); 5],
    /// Tickets the test opened: symbol and side.
    tickets: BTreeMap<u64, (usize, bool)>,
    /// Routing allowed: per-account only, or either.
    allow_block: bool,
    sides: Option<[bool; TRADED]>,
    /// Check the tickets against the positions after every input, and that the full closes
    /// at the end leave every account flat (with `sides`).
    check_tickets: bool,
    /// Stop checking the tickets once the engine closes something on its own (a stop-out):
    /// for the test of the tickets alone.
    until_engine_closes: bool,
    /// Some order ended with a sub-step part filled, or an engine close was cancelled: a
    /// position may then be held outside every ticket, and the full closes need not flatten.
    off_ticket: bool,
}

fn signed_r(o: &ChildOrder, qty: i64) -> R {
    let q = R::scaled(qty, 6);
    if o.side == Side::Buy as u8 {
        q
    } else {
        -q
    }
}

impl World {
    fn new(case: &Case, allow_block: bool) -> Self {
        let recs = records(&case.accounts);
        World {
            h: Harness::new(accounts_of(&recs)),
            reference: Reference::new(&recs),
            ids: ids(),
            working: BTreeMap::new(),
            market: core::array::from_fn(|s| {
                (START_MID[s] - SPREAD[s] / 2, START_MID[s] + SPREAD[s] / 2)
            }),
            tickets: BTreeMap::new(),
            allow_block,
            sides: case.sides,
            check_tickets: false,
            until_engine_closes: false,
            off_ticket: false,
        }
    }

    fn n(&self) -> usize {
        self.reference.accounts.len()
    }

    fn sym_of(&self, instrument: u32) -> usize {
        self.ids
            .iter()
            .position(|&i| i == instrument)
            .expect("a symbol the test trades")
    }

    fn quote_input(&mut self, s: usize) -> Input {
        let (b, a) = self.market[s];
        let ts = self.h.tick();
        quote(ts, self.ids[s], b, a)
    }

    fn warm_up(&mut self) {
        for s in 0..5 {
            let q = self.quote_input(s);
            self.step(q);
        }
    }

    /// The fill price of `o` at the test market, `slip` quarter-spreads against it.
    fn fill_px(&self, o: &ChildOrder, slip: i8) -> i64 {
        let s = self.sym_of(o.instrument);
        let (b, a) = self.market[s];
        let d = i64::from(slip) * SPREAD[s] / 4 + 7 * i64::from(slip);
        let px = if o.side == Side::Buy as u8 {
            a + d
        } else {
            b - d
        };
        px.max(1)
    }

    fn nth_working(&self, which: u8) -> Option<Working> {
        let n = self.working.len();
        (n > 0).then(|| {
            *self
                .working
                .values()
                .nth(usize::from(which) % n)
                .expect("in range")
        })
    }

    fn inputs(&mut self, op: &Op) -> Vec<Input> {
        let ts = self.h.tick();
        match *op {
            Op::Open {
                ticket,
                sym,
                buy,
                steps,
                model,
                block,
            } => {
                let s = usize::from(sym);
                let buy = self.sides.map_or(buy, |sides| sides[s]);
                let t = u64::from(ticket) + 1;
                if self.h.engine.holdings(t).is_none() {
                    // A ticket closed flat is gone: its id may open another symbol.
                    self.tickets.insert(t, (s, buy));
                } else {
                    self.tickets.entry(t).or_insert((s, buy));
                }
                vec![open(
                    ts,
                    t,
                    self.ids[s],
                    buy,
                    u64::from(steps),
                    model,
                    block && self.allow_block,
                )]
            }
            Op::Close { ticket, pct, block } => {
                let t = u64::from(ticket) + 1;
                let steps = self.h.engine.master_open(t).unwrap_or(0) * u64::from(pct) / 100;
                vec![close(ts, t, steps, pct == 100, block && self.allow_block)]
            }
            Op::Fill { which, parts, slip } => {
                let Some(w) = self.nth_working(which) else {
                    return vec![];
                };
                let left = w.order.qty.raw() - w.cum;
                let px = self.fill_px(&w.order, slip);
                let parts = i64::from(parts);
                (0..parts)
                    .map(|p| {
                        let q = if p + 1 == parts {
                            left - left / parts * p
                        } else {
                            left / parts
                        };
                        let st = if p + 1 == parts {
                            ExecStatus::Filled
                        } else {
                            ExecStatus::PartiallyFilled
                        };
                        fill(ts + p as u64, w.order.cl_ord_id, q, px + 11 * p, st)
                    })
                    .filter(|f| matches!(f, Input::Fill(x) if x.last_qty.raw() > 0))
                    .collect()
            }
            Op::Partial {
                which,
                permille,
                whole_steps,
                slip,
            } => {
                let Some(w) = self.nth_working(which) else {
                    return vec![];
                };
                let left = w.order.qty.raw() - w.cum;
                let mut q = left * i64::from(permille) / 1000;
                if whole_steps {
                    q -= q % STEP;
                }
                if q <= 0 || q >= left {
                    return vec![];
                }
                let px = self.fill_px(&w.order, slip);
                vec![fill(
                    ts,
                    w.order.cl_ord_id,
                    q,
                    px,
                    ExecStatus::PartiallyFilled,
                )]
            }
            Op::Cancel { which } | Op::Reject { which } => {
                let Some(w) = self.nth_working(which) else {
                    return vec![];
                };
                let st = if matches!(op, Op::Cancel { .. }) {
                    ExecStatus::Canceled
                } else {
                    ExecStatus::Rejected
                };
                vec![fill(ts, w.order.cl_ord_id, 0, 0, st)]
            }
            Op::Quote { sym, bp } => {
                let s = usize::from(sym);
                let (b, a) = self.market[s];
                let mid = (b + a) / 2;
                let mid = (i128::from(mid) * i128::from(10_000 + i32::from(bp)) / 10_000) as i64;
                let mid = mid.clamp(START_MID[s] / 2, START_MID[s] * 2);
                // An odd last digit keeps the mids off round numbers.
                let bid = mid - SPREAD[s] / 2 + (i64::from(bp) & 7);
                self.market[s] = (bid, bid + SPREAD[s]);
                vec![self.quote_input(s)]
            }
            Op::Balance { account, cents } => vec![balance(
                ts,
                u32::from(account) % self.n() as u32,
                i64::from(cents) * 10_000,
            )],
        }
    }

    /// Applies one input to the engine and the reference, then compares them.
    fn step(&mut self, input: Input) -> Vec<Decision> {
        // A block fill's per-account split is in no order: learn it from the positions.
        let block_fill = match input {
            Input::Fill(f) => self
                .working
                .get(&f.cl_ord_id)
                .filter(|w| w.order.account == u32::MAX)
                .map(|w| {
                    let s = w.order.instrument;
                    let before: Vec<i64> = (0..self.n() as u32)
                        .map(|a| self.h.engine.ledger().position(a, s).qty.raw())
                        .collect();
                    (s, before)
                }),
            _ => None,
        };
        let d = self.h.apply(input);
        self.learn(&input, &d, block_fill);
        self.check();
        d
    }

    fn learn(&mut self, input: &Input, d: &[Decision], block_fill: Option<(u32, Vec<i64>)>) {
        let refused = refused_code(d);
        match *input {
            Input::Market(m) => {
                assert_eq!(refused, None, "a good quote is applied");
                assert_eq!(m.kind, MarketEventKind::Quote as u8);
                let s = self.sym_of(m.instrument);
                self.reference.quotes[s] =
                    Some((R::scaled(m.bid.raw(), 8), R::scaled(m.ask.raw(), 8)));
            }
            Input::Balance(b) => {
                let want = self
                    .reference
                    .balance_change(b.account as usize, R::scaled(b.amount.raw(), 6));
                assert_eq!(refused, want, "balance change {b:?}");
            }
            Input::Fill(f) => {
                assert_eq!(
                    refused, None,
                    "a fill of a working order within its quantity"
                );
                let cl = f.cl_ord_id;
                let mut w = self.working[&cl];
                let o = w.order;
                let s = self.sym_of(o.instrument);
                if f.last_qty.raw() > 0 {
                    let px = R::scaled(f.last_px.raw(), 8);
                    self.reference.lp_net[s] =
                        self.reference.lp_net[s] + signed_r(&o, f.last_qty.raw());
                    match block_fill {
                        None => {
                            self.reference.book(
                                o.account as usize,
                                s,
                                signed_r(&o, f.last_qty.raw()),
                                px,
                            );
                        }
                        Some((instrument, before)) => {
                            for (a, b) in before.iter().enumerate() {
                                let now = self.h.engine.ledger().position(a as u32, instrument);
                                let share = now.qty.raw() - b;
                                assert!(
                                    share == 0 || (share > 0) == (o.side == Side::Buy as u8),
                                    "a block fill moves every share its own way"
                                );
                                assert_eq!(share % STEP, 0, "block shares are whole steps");
                                if share != 0 {
                                    self.reference.book(a, s, R::scaled(share, 6), px);
                                }
                            }
                        }
                    }
                }
                w.cum += f.last_qty.raw();
                let ended = w.cum == o.qty.raw()
                    || f.status == ExecStatus::Canceled as u8
                    || f.status == ExecStatus::Rejected as u8;
                if ended {
                    self.working.remove(&cl);
                    let engine_close = o.master_ticket == LIMIT_TICKET;
                    if w.cum != o.qty.raw() && (w.cum % STEP != 0 || engine_close) {
                        self.off_ticket = true;
                    }
                } else {
                    self.working.insert(cl, w);
                }
            }
            Input::Open(_)
            | Input::Close(_)
            | Input::Risk(_)
            | Input::Cancel(_)
            | Input::Amend(_) => {}
            // Not generated here (the reference takes leverage as fixed); account changes are
            // checked in tests/account_change.rs, added accounts in tests/account_add.rs.
            Input::Account(_) | Input::Limit(_) | Input::AddAccount(_) => {}
        }
        for x in d {
            if let Decision::Order(o) = x {
                if o.master_ticket == LIMIT_TICKET && self.until_engine_closes {
                    self.check_tickets = false;
                }
                self.working
                    .insert(o.cl_ord_id, Working { order: *o, cum: 0 });
            }
        }
    }

    /// Every account and symbol against the reference, and the books against the LP.
    fn check(&self) {
        let e = &self.h.engine;
        let l = e.ledger();
        for (a, acc) in self.reference.accounts.iter().enumerate() {
            let a32 = a as u32;
            for (s, want) in acc.pos.iter().enumerate() {
                let got = l.position(a32, self.ids[s]);
                let at = format!("account {a} {}", NAMES[s]);
                assert_eq!(got.qty.raw(), raw64(want.qty, 6), "{at}: quantity");
                assert_eq!(got.cost, want.cost.exact_raw(14), "{at}: cost basis");
                let avg = (!want.qty.is_zero())
                    .then(|| Price(raw64((want.cost / want.qty).abs().round(8), 8)));
                assert_eq!(got.avg_price(), avg, "{at}: average price");
                assert_eq!(
                    got.realised.raw(),
                    raw64(want.realised, 6),
                    "{at}: realised"
                );
                assert_eq!(
                    got.commission.raw(),
                    raw64(want.commission, 6),
                    "{at}: commission"
                );
                assert_eq!(got.swap, Money::ZERO, "{at}: swap");
            }
            let v = e.valuation(a32).expect("account");
            let at = format!("account {a}");
            assert_eq!(v.balance.raw(), raw64(acc.balance, 6), "{at}: balance");
            assert_eq!(
                e.accounts().balance[a].raw(),
                raw64(acc.balance, 6),
                "{at}: balance column"
            );
            let want_eq = self.reference.equity(a);
            assert_eq!(v.equity.raw(), raw64(want_eq, 6), "{at}: equity");
            assert_eq!(
                v.unrealised.raw(),
                raw64(want_eq - acc.balance, 6),
                "{at}: unrealised"
            );
            assert_eq!(
                v.margin.raw(),
                raw64(self.reference.margin(a), 6),
                "{at}: margin"
            );
        }
        for (s, name) in NAMES.iter().enumerate().take(TRADED) {
            let i = self.ids[s];
            let lp = l.lp_net(i).raw();
            assert_eq!(lp, raw64(self.reference.lp_net[s], 6), "{name}: LP net");
            assert_eq!(
                l.sum_positions(i) + i128::from(l.unallocated(i).raw()),
                i128::from(lp),
                "{name}: Σ accounts + unallocated = LP net"
            );
            if !self.allow_block {
                assert_eq!(
                    l.unallocated(i),
                    Qty::ZERO,
                    "per-account fills are all booked"
                );
            }
        }
        self.check_tickets();
    }

    /// With every ticket of a symbol on one side: no account holds the other side, and no
    /// account's ticket holdings exceed its position.
    fn check_tickets(&self) {
        let Some(sides) = self.sides.filter(|_| self.check_tickets) else {
            return;
        };
        let e = &self.h.engine;
        let mut held = vec![[0i64; TRADED]; self.n()];
        for (&t, &(s, _)) in &self.tickets {
            if let Some(h) = e.holdings(t) {
                for (a, &x) in h.iter().enumerate() {
                    held[a][s] += x as i64 * STEP;
                }
            }
        }
        for (a, held) in held.iter().enumerate() {
            for s in 0..TRADED {
                let q = e.ledger().position(a as u32, self.ids[s]).qty.raw();
                let side = if sides[s] { 1 } else { -1 };
                assert!(
                    q * side >= 0,
                    "account {a} {}: every ticket is {}, the position is {q}",
                    NAMES[s],
                    if sides[s] { "long" } else { "short" }
                );
                assert!(
                    held[s] <= q.abs(),
                    "account {a} {}: tickets hold {} of a position of {q}",
                    NAMES[s],
                    held[s]
                );
            }
        }
    }

    fn run(&mut self, op: &Op) {
        for i in self.inputs(op) {
            self.step(i);
        }
    }

    /// Fills every working order, then closes every ticket in full and fills that, until
    /// nothing is open.
    fn close_everything(&mut self) {
        for _ in 0..50 {
            while let Some(w) = self.nth_working(0) {
                let ts = self.h.tick();
                let px = self.fill_px(&w.order, 0);
                let left = w.order.qty.raw() - w.cum;
                self.step(fill(ts, w.order.cl_ord_id, left, px, ExecStatus::Filled));
            }
            let open: Vec<u64> = self
                .tickets
                .keys()
                .copied()
                .filter(|&t| self.h.engine.holdings(t).is_some())
                .collect();
            if open.is_empty() {
                break;
            }
            for t in open {
                let ts = self.h.tick();
                self.step(close(ts, t, 0, true, self.allow_block));
            }
        }
        assert!(self.working.is_empty(), "every order filled");
        assert_eq!(self.h.engine.open_tickets(), 0, "every ticket closed");
        assert_eq!(self.h.engine.open_orders(), 0);
    }

    fn assert_flat(&self) {
        for a in 0..self.n() as u32 {
            for (s, name) in NAMES.iter().enumerate().take(TRADED) {
                let q = self.h.engine.ledger().position(a, self.ids[s]).qty;
                assert_eq!(q, Qty::ZERO, "account {a} {name} after full closes");
            }
        }
    }
}

/// What a case checks besides the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tickets {
    /// Nothing.
    Unchecked,
    /// Holdings against positions after every input and flat after the full closes, until
    /// the engine sends a close of its own.
    UntilEngineCloses,
    /// Always.
    Always,
}

/// Every ticket of a symbol on one side.
fn one_side(mut case: Case) -> Case {
    case.sides.get_or_insert([true, false, true, false]);
    case
}

/// One side per symbol, and balances and leverage no limit can reach.
fn one_side_and_rich(case: Case) -> Case {
    let mut case = one_side(case);
    for a in &mut case.accounts {
        a.balance = a.balance * 10 + 2_000_000;
        a.leverage = a.leverage.max(100);
    }
    case
}

fn run_case(case: &Case, allow_block: bool, tickets: Tickets) -> World {
    let mut w = World::new(case, allow_block);
    w.check_tickets = tickets != Tickets::Unchecked;
    w.until_engine_closes = tickets == Tickets::UntilEngineCloses;
    w.warm_up();
    for op in &case.ops {
        w.run(op);
    }
    w.close_everything();
    if w.check_tickets && w.sides.is_some() && !w.off_ticket {
        w.assert_flat();
    }
    let c = w.h.engine.counters();
    assert_eq!(c.invariant_failures, 0, "engine invariant checks");
    assert_eq!(
        w.h.engine.ledger().unconverted(),
        0,
        "every amount converted"
    );
    w
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Per-account routing: every order names its account, so the reference is independent
    /// of the engine for every number it compares.
    #[test]
    fn per_account_routing_matches_the_reference(case in case_strategy()) {
        run_case(&case, false, Tickets::Unchecked);
    }

    /// Block routing (and per-account, mixed): quantity shares of block fills learned from the
    /// positions, every amount of money still the reference's own; Σ accounts + unallocated =
    /// LP net after every input.
    #[test]
    fn block_routing_keeps_the_books_whole(case in case_strategy()) {
        run_case(&case, true, Tickets::Unchecked);
    }

    /// Tickets hold what filled: with every ticket of a symbol on one side, no account's
    /// holdings ever exceed its position, no close takes an account past zero, and full closes
    /// of every ticket, all filled, leave every account flat. Accounts rich enough that no
    /// limit acts (the checks stop at the first close of the engine's own).
    #[test]
    fn tickets_hold_what_filled(case in case_strategy().prop_map(one_side_and_rich)) {
        run_case(&case, true, Tickets::UntilEngineCloses);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// The same with accounts that get stopped out: an engine close of a whole position
    /// meets the tickets' closes and the fills of working opens.
    /// (Opening fills after a stop-out are closed at once by the engine, so no sub-step
    /// residual outlives the full closes.)
    #[test]
    fn tickets_hold_what_filled_through_stop_outs(case in case_strategy().prop_map(one_side)) {
        run_case(&case, true, Tickets::Always);
    }
}

// ---------------------------------------------------------------------------------------------
// Worked examples: numbers by hand from the docs.

fn one_account(ccy_eur: bool, balance: i64, leverage: u32, commission: i64) -> AccountVecs {
    let mut r = account(0, balance, leverage);
    r.commission_per_lot = Money(commission);
    if ccy_eur {
        r.currency = eur();
    }
    accounts_of(&[r])
}

/// Opens `steps` lot steps for the one account (multiplier 1) and returns its order.
fn open_one(h: &mut Harness, ticket: u64, instrument: u32, buy: bool, steps: u64) -> ChildOrder {
    let ts = h.tick();
    let d = h.apply(open(
        ts,
        ticket,
        instrument,
        buy,
        steps,
        model_code::MULTIPLIER,
        false,
    ));
    let o = orders(&d);
    assert_eq!(o.len(), 1, "{d:?}");
    o[0]
}

/// Fills `o` completely at `px` (raw).
fn fill_all(h: &mut Harness, o: &ChildOrder, px: i64) -> Vec<Decision> {
    let ts = h.tick();
    h.apply(fill(ts, o.cl_ord_id, o.qty.raw(), px, ExecStatus::Filled))
}

/// Closes ticket `t` in full and returns the one closing order.
fn close_one(h: &mut Harness, t: u64) -> ChildOrder {
    let ts = h.tick();
    let o = orders(&h.apply(close(ts, t, 0, true, false)));
    assert_eq!(o.len(), 1);
    o[0]
}

fn money(s: &str) -> i64 {
    Money::parse(s).expect("money").raw()
}

#[test]
fn usdjpy_realised_uses_the_fill_price_before_any_quote_then_its_own_mid() {
    let uj = sym("USDJPY");
    let mut h = Harness::new(one_account(false, 100_000, 100, 0));
    // A trade print gives pre-trade risk its reference price; the ledger has no quote yet.
    let ts = h.tick();
    h.apply(trade(ts, uj, 15_000_000_000));
    // Long 1 lot at 150.000, sold at 151.500 before any USDJPY quote: 150,000 JPY at the fill
    // price 151.5 = 990.09900990… → 990.099010 USD.
    let o = open_one(&mut h, 1, uj, true, 100);
    fill_all(&mut h, &o, 15_000_000_000);
    let c = close_one(&mut h, 1);
    fill_all(&mut h, &c, 15_150_000_000);
    let first = money("990.09901");
    assert_eq!(h.engine.ledger().position(0, uj).realised.raw(), first);
    // With a quote (mid 151.01) the mid converts: long at 150, sold at 152: 200,000 JPY ÷
    // 151.01 = 1324.41560161… → 1324.415602 USD.
    let ts = h.tick();
    h.apply(quote(ts, uj, 15_100_000_000, 15_102_000_000));
    let o = open_one(&mut h, 2, uj, true, 100);
    fill_all(&mut h, &o, 15_000_000_000);
    let c = close_one(&mut h, 2);
    fill_all(&mut h, &c, 15_200_000_000);
    let p = h.engine.ledger().position(0, uj);
    assert_eq!(p.realised.raw(), first + money("1324.415602"));
    assert_eq!(
        h.engine.accounts().balance[0].raw(),
        money("100000") + first + money("1324.415602")
    );
    assert_eq!(p.qty, Qty::ZERO);
    assert_eq!(p.cost, 0);
}

#[test]
fn eurgbp_converts_through_gbpusd_on_usd_and_through_itself_on_eur() {
    let (eg, gu) = (sym("EURGBP"), sym("GBPUSD"));
    for eur_account in [false, true] {
        let mut h = Harness::new(one_account(eur_account, 50_000, 100, 7_000_000));
        let ts = h.tick();
        h.apply(quote(ts, gu, 130_000_000, 130_020_000));
        let ts = h.tick();
        h.apply(quote(ts, eg, 84_000_000, 84_010_000));
        // Short 0.1 lot at 0.85000; bought back at 0.84010: 99 GBP.
        let o = open_one(&mut h, 1, eg, false, 10);
        fill_all(&mut h, &o, 85_000_000);
        let v = h.engine.valuation(0).unwrap();
        // Marked at the ask 0.84010 before the close: 99 GBP unrealised, notional 8,401 GBP.
        let (unrealised, margin) = if eur_account {
            // ÷ EURGBP's mid 0.84005: 117.850128 EUR; 8,401 ÷ 0.84005 ÷ 100 = 100.005952.
            (money("117.850128"), money("100.005952"))
        } else {
            // × GBPUSD's mid 1.3001: 128.7099 USD; 8,401 × 1.3001 ÷ 100 = 109.221401.
            (money("128.7099"), money("109.221401"))
        };
        assert_eq!(v.unrealised.raw(), unrealised, "eur account: {eur_account}");
        assert_eq!(v.margin.raw(), margin, "eur account: {eur_account}");
        // Commission 7 per lot per side: 0.7 for 0.1 lot.
        assert_eq!(v.balance.raw(), money("50000") - money("0.7"));
        let c = close_one(&mut h, 1);
        fill_all(&mut h, &c, 84_010_000);
        let p = h.engine.ledger().position(0, eg);
        assert_eq!(p.realised.raw(), unrealised, "eur account: {eur_account}");
        assert_eq!(p.commission.raw(), money("1.4"));
    }
}

/// docs/ledger.md: "USDJPY on a USD account divides by USDJPY's own mid", and until the
/// converter has a quote "the position's own fill price stands in where it is the same
/// symbol". A position filled before the first USDJPY quote should need about 1,000 USD of
/// margin per lot at 1:100, not 150,000 (its JPY notional taken as USD).
#[test]
fn usdjpy_margin_before_its_first_quote_uses_the_fill_price() {
    let uj = sym("USDJPY");
    let mut h = Harness::new(one_account(false, 10_000, 100, 0));
    let ts = h.tick();
    h.apply(trade(ts, uj, 15_000_000_000));
    let o = open_one(&mut h, 1, uj, true, 100);
    let d = fill_all(&mut h, &o, 15_000_000_000);
    let v = h.engine.valuation(0).unwrap();
    // 100,000 × 150 JPY ÷ 150 ÷ 100 = 1,000 USD; equity 10,000: level 1,000 %.
    assert!(limit_events(&d).is_empty(), "no limit crossed: {d:?}");
    assert!(orders(&d).is_empty(), "nothing to close: {d:?}");
    assert_eq!(v.margin.raw(), money("1000"));
    assert_eq!(v.equity.raw(), money("10000"));
}

#[test]
fn stop_out_case_found_by_ci_at_stop_20() {
    // proptest seed fcbaae67… (core/tests/ledger_reference.proptest-regressions), shrunk.
    let case = Case {
        accounts: vec![
            AccountSpec {
                balance: 2000,
                leverage: 50,
                commission: 0,
                fixed_steps: 4,
                multiplier: 100,
            },
            AccountSpec {
                balance: 2000,
                leverage: 1,
                commission: 0,
                fixed_steps: 1,
                multiplier: 100,
            },
            AccountSpec {
                balance: 21126,
                leverage: 1,
                commission: 0,
                fixed_steps: 1,
                multiplier: 100,
            },
        ],
        sides: Some([true, false, true, false]),
        ops: vec![
            Op::Open {
                ticket: 2,
                sym: 1,
                buy: false,
                steps: 1,
                model: 6,
                block: true,
            },
            Op::Fill {
                which: 0,
                parts: 1,
                slip: 0,
            },
            Op::Open {
                ticket: 0,
                sym: 3,
                buy: false,
                steps: 9,
                model: 1,
                block: false,
            },
            Op::Cancel { which: 0 },
            Op::Quote { sym: 0, bp: 0 },
            Op::Cancel { which: 0 },
            Op::Open {
                ticket: 1,
                sym: 0,
                buy: false,
                steps: 55,
                model: 1,
                block: true,
            },
            Op::Partial {
                which: 161,
                permille: 510,
                whole_steps: false,
                slip: 0,
            },
            Op::Open {
                ticket: 0,
                sym: 0,
                buy: false,
                steps: 1,
                model: 1,
                block: false,
            },
            Op::Open {
                ticket: 1,
                sym: 0,
                buy: false,
                steps: 9,
                model: 1,
                block: false,
            },
            Op::Open {
                ticket: 1,
                sym: 0,
                buy: false,
                steps: 30,
                model: 1,
                block: false,
            },
            Op::Close {
                ticket: 1,
                pct: 31,
                block: false,
            },
            Op::Cancel { which: 39 },
            Op::Reject { which: 62 },
            Op::Fill {
                which: 153,
                parts: 1,
                slip: 0,
            },
            Op::Fill {
                which: 118,
                parts: 1,
                slip: 0,
            },
            Op::Partial {
                which: 67,
                permille: 1,
                whole_steps: false,
                slip: 0,
            },
            Op::Close {
                ticket: 0,
                pct: 1,
                block: false,
            },
            Op::Open {
                ticket: 0,
                sym: 0,
                buy: false,
                steps: 1,
                model: 1,
                block: false,
            },
            Op::Open {
                ticket: 0,
                sym: 0,
                buy: false,
                steps: 1,
                model: 1,
                block: false,
            },
            Op::Open {
                ticket: 0,
                sym: 0,
                buy: false,
                steps: 1,
                model: 1,
                block: false,
            },
            Op::Open {
                ticket: 0,
                sym: 0,
                buy: false,
                steps: 1,
                model: 1,
                block: false,
            },
            Op::Open {
                ticket: 0,
                sym: 0,
                buy: false,
                steps: 1,
                model: 1,
                block: false,
            },
        ],
    };
    run_case(&case, true, Tickets::Always);
}
