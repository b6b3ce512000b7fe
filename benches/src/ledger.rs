//! The ledger workload shared by `mam bench ledger` and `benches/benches/ledger.rs`:
//! N USD accounts holding T open tickets, built through the engine (quotes first, then each
//! ticket one block open and one complete fill), a stream of realistic quotes, and the
//! references each figure is printed beside.
//!
//! - [`Scenario::build`]: the engine with its accounts, positions and quotes.
//! - [`QuoteGen`]: ticks of ±0–2 pips on the held symbols, now and then a move of 10–30 pips,
//!   held within ±60 pips of the first quote (a long random walk would drift the book far
//!   from where it was built).
//! - [`BareQuotes`]: the same stream into a plain bid/ask array (the least an O(1) quote costs).
//! - [`BoxMirror`]: a copy of the engine's price boxes, redrawn exactly as the engine redraws
//!   them (same ledger, same conditions, same width hints), to count how many accounts a quote
//!   makes the engine check again (the engine does not expose that count).
//! - [`stream_columns`]: a plain sum over the bytes a full mark reads (memory-streaming limit).

use std::collections::BTreeSet;
use std::hint::black_box;
use std::time::{Duration, Instant};

use mam_core::account::{AccountRecord, AccountVecs, FLAG_ACTIVE, USD};
use mam_core::alloc::LotLimits;
use mam_core::engine::decision::Decision;
use mam_core::engine::input::{model_code, BalanceChange, Input, MasterOpen, MODE_BLOCK};
use mam_core::engine::{Engine, EngineConfig};
use mam_core::event::{ExecStatus, FillEvent, MarketEvent, MarketEventKind, Side};
use mam_core::ledger::guard::{Bound, Condition};
use mam_core::ledger::Ledger;
use mam_core::num::{Lots, Money, Price, Qty, Ratio};
use mam_core::symbol::SymbolTable;

/// The symbols tickets are opened on, in turn (ticket `k` on `HELD[k % 8]`): identity
/// (`XXXUSD`), divide (`USDJPY`, `USDCHF`, `EURJPY` through USDJPY) and multiply (`EURGBP`
/// through GBPUSD) conversions to USD.
pub const HELD: [&str; 8] = [
    "EURUSD", "GBPUSD", "USDJPY", "EURGBP", "XAUUSD", "AUDUSD", "USDCHF", "EURJPY",
];

/// Side of the tickets on `HELD[i]` (tickets on one symbol add up, they never net out).
fn side_of(i: usize) -> Side {
    if i.is_multiple_of(2) {
        Side::Buy
    } else {
        Side::Sell
    }
}

/// First bid of each built-in symbol (8 decimals) and its spread in points (pip / 10).
fn first_quote(name: &str) -> (i64, i64) {
    match name {
        "EURUSD" => (108_500_000, 6),
        "GBPUSD" => (127_000_000, 9),
        "AUDUSD" => (66_000_000, 8),
        "NZDUSD" => (61_000_000, 12),
        "USDCHF" => (90_000_000, 10),
        "USDCAD" => (136_000_000, 12),
        "USDJPY" => (15_500_000_000, 8),
        "EURJPY" => (16_800_000_000, 14),
        "GBPJPY" => (19_700_000_000, 20),
        "EURGBP" => (85_000_000, 10),
        "XAUUSD" => (235_000_000_000, 3),
        "XAGUSD" => (2_950_000_000, 25),
        "BTCUSD" => (6_500_000_000_000, 300),
        _ => (100_000_000, 10),
    }
}

/// Lots per ticket an account of average balance gets (the master is this × accounts).
pub const LOTS_PER_ACCOUNT: &str = "0.06";

/// What to build.
#[derive(Debug, Clone, Copy)]
pub struct Params {
    /// Accounts.
    pub accounts: usize,
    /// Open tickets every account holds a share of.
    pub tickets: usize,
    /// Accounts in 1,000 that withdraw down to a margin level of 150–600 % after the opens
    /// (they are the ones near a limit, whose boxes are narrow).
    pub thin_permille: u32,
    /// Seed of the account balances and of the quote stream.
    pub seed: u64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            accounts: 100_000,
            tickets: 20,
            thin_permille: 10,
            seed: 7,
        }
    }
}

/// splitmix64.
fn next(s: &mut u64) -> u64 {
    *s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *s;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Engine settings: no risk limit gets in the way of a block of every account's shares.
pub fn config() -> EngineConfig {
    let mut c = EngineConfig::permissive();
    let big = i64::MAX / 4;
    c.risk.max_order_qty = Qty(big);
    c.risk.max_order_notional = Money(big);
    c.risk.max_account_qty = Qty(big);
    c.risk.max_account_notional = Money(big);
    c.risk.max_orders_per_sec = 10_000_000;
    c
}

/// `n` USD accounts: balances 10,000–50,000, leverage 100, all active, default margin-call
/// (100 %) and stop-out (50 %) levels, no daily-loss or drawdown limit, no commission.
pub fn accounts(n: usize, seed: u64) -> AccountVecs {
    let mut s = seed;
    let mut v = AccountVecs::default();
    for i in 0..n {
        let balance = Money((10_000 + (next(&mut s) % 40_001) as i64) * Money::ONE_RAW);
        let mut id = [0u8; 16];
        let text = format!("L{i}");
        id[..text.len()].copy_from_slice(text.as_bytes());
        v.push(&AccountRecord {
            id,
            balance,
            equity: balance,
            equity_hwm: balance,
            max_scale: Ratio(Ratio::ONE_RAW),
            leverage: 100,
            flags: FLAG_ACTIVE,
            currency: USD,
            ..AccountRecord::default()
        });
    }
    v
}

/// Nanosecond clock of the inputs (all within the first UTC day, so no day roll marks every
/// account in the middle of a measurement).
#[derive(Debug, Clone, Copy)]
pub struct Clock(u64);

impl Clock {
    /// The next input time (1 µs apart).
    pub fn tick(&mut self) -> u64 {
        self.0 += 1_000;
        self.0
    }
}

/// The built workload.
#[derive(Debug)]
pub struct Scenario {
    /// The engine (driven without a journal).
    pub engine: Engine,
    /// The boxes as the engine has drawn them (only when built with `mirror`).
    pub mirror: Option<BoxMirror>,
    /// Input clock.
    pub clock: Clock,
    /// Quote stream, continuing from the quotes the engine holds.
    pub quotes: QuoteGen,
    /// Instrument ids of [`HELD`].
    pub held: Vec<u32>,
}

/// A master open of the equity model, block routing, on `instrument`.
pub fn open(ts: u64, ticket: u64, instrument: u32, side: Side, lots: Lots) -> Input {
    Input::Open(MasterOpen {
        ts_ns: ts,
        ticket,
        lots,
        instrument,
        model: model_code::EQUITY,
        side: side as u8,
        policy: 0,
        mode: MODE_BLOCK,
        ..MasterOpen::default()
    })
}

/// The one block order of an open's decisions: `(cl_ord_id, qty, side)`.
pub fn block_order(d: &[Decision]) -> Option<(u64, Qty, u8)> {
    d.iter().find_map(|x| match x {
        Decision::Order(c) => Some((c.cl_ord_id, c.qty, c.side)),
        _ => None,
    })
}

/// A fill (or, with `qty` zero, a cancel) of `cl_ord_id`.
pub fn fill(ts: u64, cl_ord_id: u64, qty: Qty, px: Price) -> Input {
    Input::Fill(FillEvent {
        recv_ns: ts,
        cl_ord_id,
        exec_id: cl_ord_id,
        last_qty: qty,
        last_px: px,
        cum_qty: qty,
        leaves_qty: Qty::ZERO,
        status: if qty.is_zero() {
            ExecStatus::Canceled as u8
        } else {
            ExecStatus::Filled as u8
        },
        _pad: [0; 7],
    })
}

/// A quote.
pub fn quote(ts: u64, instrument: u32, bid: i64, ask: i64) -> MarketEvent {
    MarketEvent {
        recv_ns: ts,
        source_ns: ts,
        seq: ts,
        instrument,
        source: 0,
        kind: MarketEventKind::Quote as u8,
        level: 0,
        bid: Price(bid),
        ask: Price(ask),
        bid_size: Qty(1_000_000 * Qty::ONE_RAW),
        ask_size: Qty(1_000_000 * Qty::ONE_RAW),
    }
}

/// Something in the decisions that should not happen while building (a refusal, a risk
/// reject, a limit event).
fn unexpected(d: &[Decision]) -> Option<String> {
    d.iter().find_map(|x| match x {
        Decision::Refused(r) => Some(format!("refused: code {}", r.code)),
        Decision::Reject(r) => Some(format!("risk reject: code {}", r.code)),
        Decision::Limit(l) => Some(format!("limit event {} on account {}", l.event, l.account)),
        _ => None,
    })
}

impl Scenario {
    /// Builds the engine: every symbol quoted, then (with `positions`) `tickets` opens, each
    /// one block order filled at once at the touch, then the thin accounts' withdrawals.
    /// Without `positions` the accounts keep their imported equity. With `mirror`, the price
    /// boxes are mirrored from the start (see [`BoxMirror`]). `progress` hears what is done.
    pub fn build(
        p: Params,
        positions: bool,
        mirror: bool,
        mut progress: impl FnMut(&str),
    ) -> Result<Self, String> {
        if p.accounts == 0 {
            return Err("no accounts".into());
        }
        let symbols = SymbolTable::builtin();
        let held: Vec<u32> = HELD
            .iter()
            .map(|n| symbols.id_of(n).expect("built-in symbol"))
            .collect();
        let mut engine = Engine::new(symbols.clone(), accounts(p.accounts, p.seed), config())
            .map_err(|e| e.to_string())?;
        let mut mirror = mirror.then(|| BoxMirror::new(p.accounts, symbols.iter().count()));
        let mut clock = Clock(1_000_000);
        let quotes = QuoteGen::new(&symbols, &held, p.seed ^ 0x5eed);
        for (s, spec) in symbols.iter().enumerate() {
            let (bid, spread) = first_quote(spec.name_str());
            let ask = bid + spread * spec.pip.raw() / 10;
            let d = engine.apply_without_journal(&Input::Market(quote(
                clock.tick(),
                s as u32,
                bid,
                ask,
            )));
            if let Some(why) = unexpected(d) {
                return Err(format!("first quote of {}: {why}", spec.name_str()));
            }
        }
        if !positions {
            return Ok(Scenario {
                engine,
                mirror,
                clock,
                quotes,
                held,
            });
        }
        let master = master_lots(p.accounts);
        for k in 0..p.tickets {
            let i = k % HELD.len();
            let (s, side) = (held[i], side_of(i));
            let ticket = k as u64 + 1;
            let d = engine.apply_without_journal(&open(clock.tick(), ticket, s, side, master));
            if let Some(why) = unexpected(d) {
                return Err(format!("open of ticket {ticket}: {why}"));
            }
            let (cl, qty, _) = block_order(d).ok_or("an open sent no order")?;
            let (bid, ask) = engine.ledger().quote(s).ok_or("unquoted")?;
            let px = if side == Side::Buy { ask } else { bid };
            let d = engine.apply_without_journal(&fill(clock.tick(), cl, qty, px));
            if let Some(why) = unexpected(d) {
                return Err(format!("fill of ticket {ticket}: {why}"));
            }
            if let Some(m) = mirror.as_mut() {
                // The engine checked every account the fill touched, and boxed it again.
                let h = engine.holdings(ticket).ok_or("ticket gone")?.to_vec();
                for (a, &steps) in h.iter().enumerate() {
                    if steps > 0 {
                        m.rebox(engine.ledger(), engine.accounts(), a as u32);
                    }
                }
            }
            progress(&format!("ticket {}/{} open and filled", k + 1, p.tickets));
        }
        // The thin accounts take money out down to a margin level of 150–600 %.
        let mut s = p.seed ^ 0x7417;
        let mut thin = 0;
        for a in 0..p.accounts {
            if next(&mut s) % 1000 >= u64::from(p.thin_permille) {
                continue;
            }
            let v = engine.valuation(a as u32).expect("account");
            let level = 150 + (next(&mut s) % 451) as i128; // percent
            let keep = i128::from(v.margin.raw()) * level / 100;
            let take = i128::from(v.equity.raw()) - keep;
            if take <= 0 {
                continue;
            }
            let b = BalanceChange {
                ts_ns: clock.tick(),
                amount: Money(-(take as i64)),
                account: a as u32,
                manager: 0,
                flags: 0,
                request_id: 0,
            };
            let d = engine.apply_without_journal(&Input::Balance(b));
            if let Some(why) = unexpected(d) {
                return Err(format!("withdrawal of account {a}: {why}"));
            }
            if let Some(m) = mirror.as_mut() {
                m.rebox(engine.ledger(), engine.accounts(), a as u32);
            }
            thin += 1;
        }
        progress(&format!(
            "{thin} thin accounts withdrew to a margin level of 150-600 %"
        ));
        Ok(Scenario {
            engine,
            mirror,
            clock,
            quotes,
            held,
        })
    }

    /// The lot limits of `instrument` (for the pure allocation reference).
    pub fn limits(&self, instrument: u32) -> LotLimits {
        LotLimits::of(self.engine.symbols().by_id(instrument).expect("symbol"))
    }

    /// The next `n` quotes of the stream.
    pub fn next_quotes(&mut self, n: usize, out: &mut Vec<MarketEvent>) {
        out.clear();
        for _ in 0..n {
            out.push(self.quotes.next(self.clock.tick()));
        }
    }
}

/// Quote stream on the held symbols (see the module docs).
#[derive(Debug, Clone)]
pub struct QuoteGen {
    seed: u64,
    /// Per held symbol: instrument, first bid, current offset from it, point, spread.
    syms: Vec<(u32, i64, i64, i64, i64)>,
}

/// Ticks of the stream: ±2 pips = ±20 points.
const TICK_POINTS: u64 = 20;
/// One quote in this many moves 10–30 pips.
const JUMP_EVERY: u64 = 500;
/// Offsets are held within ±60 pips of the first quote.
const BAND_POINTS: i64 = 600;

impl QuoteGen {
    /// A stream over `held` starting at the first quotes of [`Scenario::build`].
    pub fn new(symbols: &SymbolTable, held: &[u32], seed: u64) -> Self {
        let syms = held
            .iter()
            .map(|&s| {
                let spec = symbols.by_id(s).expect("symbol");
                let (bid, spread) = first_quote(spec.name_str());
                let point = spec.pip.raw() / 10;
                (s, bid, 0, point, spread * point)
            })
            .collect();
        QuoteGen { seed, syms }
    }

    /// The next quote, stamped `ts`.
    pub fn next(&mut self, ts: u64) -> MarketEvent {
        let r = next(&mut self.seed);
        let i = (r % self.syms.len() as u64) as usize;
        let (s, bid0, off, point, spread) = &mut self.syms[i];
        let r2 = next(&mut self.seed);
        let mut step = (r2 % (2 * TICK_POINTS + 1)) as i64 - TICK_POINTS as i64;
        if (r2 >> 32).is_multiple_of(JUMP_EVERY) {
            let size = 100 + ((r2 >> 16) % 201) as i64;
            step = if step < 0 { -size } else { size };
        }
        let mut o = *off + step;
        if o.abs() > BAND_POINTS {
            o = *off - step;
        }
        *off = o;
        let bid = *bid0 + o * *point;
        quote(ts, *s, bid, bid + *spread)
    }
}

/// The least a quote can cost: check it and store its bid and ask in two arrays.
#[derive(Debug, Clone)]
pub struct BareQuotes {
    bid: Vec<i64>,
    ask: Vec<i64>,
}

impl BareQuotes {
    /// A store for `instruments`.
    pub fn new(instruments: usize) -> Self {
        BareQuotes {
            bid: vec![0; instruments],
            ask: vec![0; instruments],
        }
    }

    /// Applies one market event; false if it was not a good quote.
    #[inline(never)]
    pub fn apply(&mut self, m: &MarketEvent) -> bool {
        let i = m.instrument as usize;
        let (b, a) = (m.bid.raw(), m.ask.raw());
        if m.kind != MarketEventKind::Quote as u8 || i >= self.bid.len() || b <= 0 || b > a {
            return false;
        }
        self.bid[i] = b;
        self.ask[i] = a;
        true
    }

    /// The stored bid of `instrument`.
    pub fn bid(&self, instrument: u32) -> i64 {
        self.bid[instrument as usize]
    }
}

/// The bytes a full mark reads, copied into plain columns of the same types and shape:
/// per account × instrument the position's quantity (`i64`) and cost (`i128`), per account
/// the balance (`i64`) and leverage (`u32`).
#[derive(Debug, Clone)]
pub struct MarkColumns {
    ni: usize,
    qty: Vec<i64>,
    cost: Vec<i128>,
    balance: Vec<i64>,
    leverage: Vec<u32>,
}

impl MarkColumns {
    /// A copy of the engine's.
    pub fn of(engine: &Engine) -> Self {
        let l = engine.ledger();
        let (n, ni) = (l.accounts(), l.instruments());
        let mut c = MarkColumns {
            ni,
            qty: Vec::with_capacity(n * ni),
            cost: Vec::with_capacity(n * ni),
            balance: engine.accounts().balance.iter().map(|m| m.raw()).collect(),
            leverage: engine.accounts().leverage.clone(),
        };
        for a in 0..n as u32 {
            for s in 0..ni as u32 {
                let p = l.position(a, s);
                c.qty.push(p.qty.raw());
                c.cost.push(p.cost);
            }
        }
        c
    }

    /// Bytes streamed by [`stream_columns`].
    pub fn bytes(&self) -> usize {
        self.qty.len() * 8 + self.cost.len() * 16 + self.balance.len() * 8 + self.leverage.len() * 4
    }
}

/// Sums every byte a full mark reads, account by account (the memory-streaming limit of a
/// full mark).
#[inline(never)]
pub fn stream_columns(c: &MarkColumns) -> i128 {
    let mut acc = 0i128;
    for (a, (q, k)) in c
        .qty
        .chunks_exact(c.ni)
        .zip(c.cost.chunks_exact(c.ni))
        .enumerate()
    {
        let mut sq = 0i64;
        for &x in q {
            sq = sq.wrapping_add(x);
        }
        let mut sk = 0i128;
        for &x in k {
            sk = sk.wrapping_add(x);
        }
        acc = acc
            .wrapping_add(sk)
            .wrapping_add(i128::from(sq))
            .wrapping_add(i128::from(c.balance[a]))
            .wrapping_add(i128::from(c.leverage[a]));
    }
    acc
}

/// One mark of every account through the engine (`Engine::valuation`): Σ equity and Σ margin.
#[inline(never)]
pub fn mark_all(engine: &Engine) -> (i64, i64) {
    let (mut e, mut m) = (0i64, 0i64);
    for a in 0..engine.accounts().id.len() as u32 {
        let v = engine.valuation(black_box(a)).expect("account");
        e = e.wrapping_add(v.equity.raw());
        m = m.wrapping_add(v.margin.raw());
    }
    (e, m)
}

/// A copy of the engine's price boxes (`mam_core::engine::limits`), drawn with the same
/// ledger calls, conditions and width hints, so it holds exactly the boxes the engine holds
/// as long as it sees every redraw the engine makes. It covers what this workload uses: the
/// margin-call and stop-out levels (no daily-loss or drawdown limit, which [`accounts`] leaves
/// unset), with the margin-call flag followed as the engine follows it. A stop-out (which this
/// workload is built to avoid) is counted, and from then on the copy is no longer exact.
#[derive(Debug, Clone)]
pub struct BoxMirror {
    lower: Vec<BTreeSet<(i64, u32)>>,
    upper: Vec<BTreeSet<(i64, u32)>>,
    boxes: Vec<Vec<Bound>>,
    hint: Vec<u8>,
    margin_call: Vec<bool>,
    syms: Vec<u32>,
    tmp: Vec<Bound>,
    hits: Vec<u32>,
    /// Accounts checked again (boxes a quote left), in total.
    pub checked: u64,
    /// Margin calls raised and lifted among those checks.
    pub margin_call_events: u64,
    /// Stop-outs among those checks (the copy is exact only while this is 0).
    pub stop_outs: u64,
}

const DEFAULT_MC: i64 = 100 * Ratio::ONE_RAW;
const DEFAULT_SO: i64 = 50 * Ratio::ONE_RAW;

impl BoxMirror {
    /// No boxes yet (the engine's state before any position).
    pub fn new(accounts: usize, instruments: usize) -> Self {
        BoxMirror {
            lower: vec![BTreeSet::new(); instruments],
            upper: vec![BTreeSet::new(); instruments],
            boxes: vec![Vec::new(); accounts],
            hint: vec![2; accounts],
            margin_call: vec![false; accounts],
            syms: Vec::new(),
            tmp: Vec::new(),
            hits: Vec::new(),
            checked: 0,
            margin_call_events: 0,
            stop_outs: 0,
        }
    }

    fn levels(acc: &AccountVecs, a: usize) -> (i64, i64) {
        let pct = |r: Ratio, d: i64| if r.raw() > 0 { r.raw() } else { d };
        (
            pct(acc.margin_call_level[a], DEFAULT_MC),
            pct(acc.stop_out_level[a], DEFAULT_SO),
        )
    }

    /// Draws account `a`'s box again, as `Engine::rebox` does.
    pub fn rebox(&mut self, ledger: &Ledger, acc: &AccountVecs, a: u32) {
        let i = a as usize;
        debug_assert!(acc.daily_loss_limit[i].is_zero() && acc.drawdown_tolerance[i].raw() == 0);
        for b in self.boxes[i].drain(..) {
            self.lower[b.instrument as usize].remove(&(b.lo, a));
            self.upper[b.instrument as usize].remove(&(b.hi, a));
        }
        if ledger.open_positions(a) == 0 {
            return;
        }
        let (mc, so) = Self::levels(acc, i);
        let e8 = 100 * i128::from(Ratio::ONE_RAW);
        let conds = [
            Condition {
                a: e8,
                b: -i128::from(so),
                c: 0,
            },
            if self.margin_call[i] {
                Condition {
                    a: -e8,
                    b: i128::from(mc),
                    c: 1,
                }
            } else {
                Condition {
                    a: e8,
                    b: -i128::from(mc),
                    c: 0,
                }
            },
        ];
        ledger.sensitive_symbols(a, &mut self.syms);
        self.hint[i] = ledger.guard_box(
            a,
            acc.balance[i].raw(),
            acc.leverage[i],
            &conds,
            &self.syms,
            usize::from(self.hint[i]),
            true,
            &mut self.tmp,
        ) as u8;
        for b in &self.tmp {
            self.lower[b.instrument as usize].insert((b.lo, a));
            self.upper[b.instrument as usize].insert((b.hi, a));
        }
        self.boxes[i].clone_from(&self.tmp);
    }

    /// A quote the engine applied to `ledger` (already set there): checks the accounts whose
    /// box it left, as `Engine::check_quote` does; returns how many.
    pub fn on_quote(&mut self, ledger: &Ledger, acc: &AccountVecs, m: &MarketEvent) -> usize {
        let s = m.instrument as usize;
        let (bid, ask) = (m.bid.raw(), m.ask.raw());
        self.hits.clear();
        self.hits.extend(
            self.lower[s]
                .range((bid.saturating_add(1), 0)..)
                .map(|&(_, a)| a),
        );
        self.hits
            .extend(self.upper[s].range(..(ask, 0)).map(|&(_, a)| a));
        self.hits.sort_unstable();
        self.hits.dedup();
        let hits = std::mem::take(&mut self.hits);
        for &a in &hits {
            let i = a as usize;
            let v = ledger.value(a, acc.balance[i], acc.leverage[i]);
            let (mc, so) = Self::levels(acc, i);
            if v.level_at_or_below(Ratio(so)) {
                self.stop_outs += 1;
            }
            let in_call = v.level_at_or_below(Ratio(mc));
            if in_call != self.margin_call[i] {
                self.margin_call[i] = in_call;
                self.margin_call_events += 1;
            }
            self.rebox(ledger, acc, a);
        }
        let n = hits.len();
        self.checked += n as u64;
        self.hits = hits;
        n
    }

    /// Accounts watched on `instrument` (compare with `Engine::watched_accounts`).
    pub fn watched(&self, instrument: u32) -> usize {
        self.lower[instrument as usize].len()
    }
}

/// Counts what a stream of quotes makes the engine check: replays `quotes` on a copy of the
/// ledger the engine had before them, through `mirror` (in the state it had then).
pub fn count_checks(
    mirror: &mut BoxMirror,
    ledger: &mut Ledger,
    acc: &AccountVecs,
    quotes: &[MarketEvent],
) -> u64 {
    let before = mirror.checked;
    for q in quotes {
        ledger.set_quote(q.instrument, q.bid, q.ask);
        mirror.on_quote(ledger, acc, q);
    }
    mirror.checked - before
}

/// One master open of `ticket` (equity model, block routing, a buy of `lots` on
/// `instrument`), timed; its block order is then cancelled at once (not timed), so orders and
/// working quantities stay flat however many times it runs (the ticket itself stays open and
/// scales in). Returns the time of the open.
pub fn open_timed(s: &mut Scenario, ticket: u64, instrument: u32, lots: Lots) -> Duration {
    let input = open(s.clock.tick(), ticket, instrument, Side::Buy, lots);
    let start = Instant::now();
    let order = block_order(s.engine.apply_without_journal(&input));
    let t = start.elapsed();
    let (cl, _, _) = order.expect("the open sent its block order");
    let cancel = fill(s.clock.tick(), cl, Qty::ZERO, Price::ZERO);
    s.engine.apply_without_journal(&cancel);
    t
}

/// The master size of [`Scenario::build`]'s tickets on `accounts` accounts.
pub fn master_lots(accounts: usize) -> Lots {
    Lots(Lots::parse(LOTS_PER_ACCOUNT).expect("lots").raw() * accounts as i64)
}

/// Applies `quotes` to the engine one by one (`apply_without_journal`): the timed loop of the
/// quote figure. Returns the limit events and orders among the decisions.
#[inline(never)]
pub fn apply_quotes(engine: &mut Engine, quotes: &[MarketEvent]) -> (u64, u64) {
    let (mut events, mut sent) = (0, 0);
    for q in quotes {
        let d = engine.apply_without_journal(&Input::Market(*q));
        if !d.is_empty() {
            events += limit_events(d);
            sent += orders(d);
        }
    }
    (events, sent)
}

/// Applies `quotes` to a bare bid/ask store: the timed loop of the quote reference.
#[inline(never)]
pub fn store_quotes(store: &mut BareQuotes, quotes: &[MarketEvent]) -> u64 {
    let mut good = 0;
    for q in quotes {
        good += u64::from(store.apply(black_box(q)));
    }
    good
}

/// Limit events among decisions.
pub fn limit_events(d: &[Decision]) -> u64 {
    d.iter().filter(|x| matches!(x, Decision::Limit(_))).count() as u64
}

/// Orders among decisions.
pub fn orders(d: &[Decision]) -> u64 {
    d.iter().filter(|x| matches!(x, Decision::Order(_))).count() as u64
}
