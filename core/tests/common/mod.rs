//! What the engine tests share: an engine with its journal in a temporary directory, the
//! decisions of each input read back from that journal, and builders for accounts and inputs.
//! Nothing here computes money: the tests that need a model of it write their own.
#![allow(dead_code)]

use mam_core::account::{encode_id, AccountRecord, AccountVecs, FLAG_ACTIVE, USD};
use mam_core::engine::decision::{LimitEvent, Refused, RefusedCode};
use mam_core::engine::input::{
    BalanceChange, MasterClose, MasterOpen, CLOSE_FULL, MODE_BLOCK, MODE_PER_ACCOUNT,
};
use mam_core::engine::{Decision, Engine, EngineConfig, Input};
use mam_core::event::{ChildOrder, ExecStatus, FillEvent, MarketEvent, MarketEventKind, Side};
use mam_core::journal::{Journal, JournalConfig};
use mam_core::num::{Lots, Money, Price, Qty, Ratio};
use mam_core::symbol::{encode_currency, SymbolTable};

/// One UTC day in nanoseconds.
pub const DAY_NS: u64 = 86_400_000_000_000;
/// Midnight UTC of the day the tests start on (2024-01-01).
pub const DAY0: u64 = 19_723 * DAY_NS;
/// Raw quantity of one lot step (0.01 lot of a 100,000 contract = 1,000 units).
pub const STEP: i64 = 1_000 * Qty::ONE_RAW;

/// Small journal segments, as the engine's own tests use.
pub fn journal_config() -> JournalConfig {
    JournalConfig {
        segment_size: 256 << 10,
        prefault: false,
        ..JournalConfig::default()
    }
}

/// Instrument id of a built-in symbol.
pub fn sym(name: &str) -> u32 {
    SymbolTable::builtin().id_of(name).expect("built-in symbol")
}

/// An engine over `accounts`, journaling into its own temporary directory.
#[derive(Debug)]
pub struct Harness {
    pub engine: Engine,
    pub journal: Journal,
    pub dir: tempfile::TempDir,
    /// Event time of the next input built by the harness's helpers.
    pub ts: u64,
}

impl Harness {
    pub fn new(accounts: AccountVecs) -> Self {
        Self::with_config(accounts, EngineConfig::permissive())
    }

    pub fn with_config(accounts: AccountVecs, config: EngineConfig) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let engine = Engine::new(SymbolTable::builtin(), accounts, config).expect("engine");
        let (journal, _) =
            Journal::open(&dir.path().join("journal"), journal_config()).expect("journal");
        Harness {
            engine,
            journal,
            dir,
            ts: DAY0 + 3_600_000_000_000,
        }
    }

    /// Applies one input and returns the decisions the engine journaled for it.
    pub fn apply(&mut self, input: Input) -> Vec<Decision> {
        let seq = self
            .engine
            .apply(&input, &mut self.journal, |_| {})
            .expect("journal append");
        decisions_after(&self.journal, seq)
    }

    /// The next event time (1 ms after the last).
    pub fn tick(&mut self) -> u64 {
        self.ts += 1_000_000;
        self.ts
    }

    pub fn checkpoint_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("checkpoint")
    }

    pub fn journal_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("journal")
    }

    /// The engine recovered from this harness's checkpoint and journal (as a restart does).
    pub fn recover(&self) -> mam_core::engine::Recovered {
        Engine::recover(
            &self.checkpoint_dir(),
            &self.journal_dir(),
            journal_config(),
            SymbolTable::builtin(),
        )
        .expect("recover")
    }
}

/// The decision records journaled after the input at `seq`.
pub fn decisions_after(journal: &Journal, seq: u64) -> Vec<Decision> {
    journal
        .records(seq + 1)
        .map(|r| r.expect("journal record"))
        .filter_map(|r| Decision::decode(r.kind, r.payload))
        .collect()
}

pub fn orders(d: &[Decision]) -> Vec<ChildOrder> {
    d.iter()
        .filter_map(|x| match x {
            Decision::Order(o) => Some(*o),
            _ => None,
        })
        .collect()
}

pub fn limit_events(d: &[Decision]) -> Vec<LimitEvent> {
    d.iter()
        .filter_map(|x| match x {
            Decision::Limit(l) => Some(*l),
            _ => None,
        })
        .collect()
}

pub fn refusals(d: &[Decision]) -> Vec<Refused> {
    d.iter()
        .filter_map(|x| match x {
            Decision::Refused(r) => Some(*r),
            _ => None,
        })
        .collect()
}

/// The one refusal code of an input's decisions, if it was refused.
pub fn refused_code(d: &[Decision]) -> Option<RefusedCode> {
    let r = refusals(d);
    assert!(r.len() <= 1, "one input, at most one refusal: {r:?}");
    r.first()
        .map(|r| RefusedCode::from_code(r.code).expect("known code"))
}

/// An active account with `balance` whole units of its currency and `leverage`; everything
/// else zero (engine defaults for the limit levels).
pub fn account(i: usize, balance: i64, leverage: u32) -> AccountRecord {
    AccountRecord {
        id: encode_id(&format!("A{i}")).expect("id"),
        balance: Money(balance * Money::ONE_RAW),
        equity: Money(balance * Money::ONE_RAW),
        equity_hwm: Money(balance * Money::ONE_RAW),
        leverage,
        flags: FLAG_ACTIVE,
        max_scale: Ratio(Ratio::ONE_RAW),
        multiplier: Ratio(Ratio::ONE_RAW),
        fixed_lots: Lots(100),
        currency: USD,
        ..AccountRecord::default()
    }
}

pub fn eur() -> [u8; 8] {
    encode_currency("EUR").expect("EUR")
}

pub fn accounts_of(records: &[AccountRecord]) -> AccountVecs {
    let mut v = AccountVecs::default();
    for r in records {
        v.push(r);
    }
    v
}

pub fn quote(ts: u64, instrument: u32, bid: i64, ask: i64) -> Input {
    Input::Market(MarketEvent {
        recv_ns: ts,
        source_ns: ts,
        seq: 0,
        instrument,
        source: 1,
        kind: MarketEventKind::Quote as u8,
        level: 0,
        bid: Price(bid),
        ask: Price(ask),
        bid_size: Qty(1_000_000 * Qty::ONE_RAW),
        ask_size: Qty(1_000_000 * Qty::ONE_RAW),
    })
}

/// A trade print: a reference price for pre-trade risk, not a quote (the ledger marks nothing
/// with it).
pub fn trade(ts: u64, instrument: u32, px: i64) -> Input {
    Input::Market(MarketEvent {
        recv_ns: ts,
        source_ns: ts,
        seq: 0,
        instrument,
        source: 1,
        kind: MarketEventKind::Trade as u8,
        level: 0,
        bid: Price(px),
        ask: Price::ZERO,
        bid_size: Qty(Qty::ONE_RAW),
        ask_size: Qty::ZERO,
    })
}

pub fn fill(ts: u64, cl: u64, qty: i64, px: i64, status: ExecStatus) -> Input {
    Input::Fill(FillEvent {
        recv_ns: ts,
        cl_ord_id: cl,
        exec_id: ts,
        last_qty: Qty(qty),
        last_px: Price(px),
        cum_qty: Qty::ZERO,
        leaves_qty: Qty::ZERO,
        status: status as u8,
        _pad: [0; 7],
    })
}

/// A market open of `steps` lot steps.
pub fn open(
    ts: u64,
    ticket: u64,
    instrument: u32,
    buy: bool,
    steps: u64,
    model: u8,
    block: bool,
) -> Input {
    Input::Open(MasterOpen {
        ts_ns: ts,
        ticket,
        lots: Lots(steps as i64 * 100),
        limit_price: Price::ZERO,
        sl_distance: Price::ZERO,
        quote_to_account: Price::ZERO,
        reference: Money::ZERO,
        instrument,
        model,
        side: if buy { Side::Buy } else { Side::Sell } as u8,
        policy: 0,
        mode: if block { MODE_BLOCK } else { MODE_PER_ACCOUNT },
    })
}

/// A close of `steps` lot steps of the master (`full` closes everything).
pub fn close(ts: u64, ticket: u64, steps: u64, full: bool, block: bool) -> Input {
    Input::Close(MasterClose {
        ts_ns: ts,
        ticket,
        lots: Lots(steps as i64 * 100),
        full: if full { CLOSE_FULL } else { 0 },
        residual: 0,
        mode: if block { MODE_BLOCK } else { MODE_PER_ACCOUNT },
        _pad: [0; 5],
        order_id: 0,
    })
}

pub fn balance(ts: u64, account: u32, amount: i64) -> Input {
    Input::Balance(BalanceChange {
        ts_ns: ts,
        amount: Money(amount),
        account,
        manager: 0,
        flags: 0,
        request_id: 0,
    })
}

/// Signed raw quantity of an order (buys positive).
pub fn signed_qty(o: &ChildOrder) -> i64 {
    if o.side == Side::Buy as u8 {
        o.qty.raw()
    } else {
        -o.qty.raw()
    }
}

/// One account change (input kind 10).
pub fn change(ts: u64, account: u32, field: u16, value: i64) -> Input {
    Input::Account(mam_core::engine::account_change::AccountChange {
        ts_ns: ts,
        value,
        account,
        field,
        manager: 0,
        request_id: 0,
    })
}

/// EURUSD bid at the start of the account tests (1.10000, 8 decimals).
pub const EU0: i64 = 110_000_000;
/// One EURUSD pip (8 decimals).
pub const PIP: i64 = 10_000;

/// `n` accounts of 10,000 USD at 1:100 and one EURUSD quote (1.10000 / 1.10020).
pub fn eurusd_harness(n: usize) -> Harness {
    let recs: Vec<_> = (0..n).map(|i| account(i, 10_000, 100)).collect();
    let mut h = Harness::new(accounts_of(&recs));
    let ts = h.tick();
    h.apply(quote(ts, sym("EURUSD"), EU0, EU0 + 2 * PIP));
    h
}

/// A per-account EURUSD buy master of `steps` lot steps (`ticket`, `model`) with every child
/// filled at 2 pips over the quote: the steps each account got, and the open's decisions.
pub fn open_filled_steps(
    h: &mut Harness,
    ticket: u64,
    steps: u64,
    model: u8,
) -> (Vec<i64>, Vec<Decision>) {
    let ts = h.tick();
    let d = h.apply(open(ts, ticket, sym("EURUSD"), true, steps, model, false));
    let mut per = vec![0i64; h.engine.accounts().id.len()];
    for o in orders(&d) {
        per[o.account as usize] += o.qty.raw() / STEP;
        let ts = h.tick();
        h.apply(fill(
            ts,
            o.cl_ord_id,
            o.qty.raw(),
            EU0 + 2 * PIP,
            ExecStatus::Filled,
        ));
    }
    (per, d)
}
