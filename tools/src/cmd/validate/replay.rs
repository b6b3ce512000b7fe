//! One run of `mam validate`: the bars of every symbol merged in time order, each bar's close
//! a quote into the real engine, the manager's strategy deciding on hourly closes, every order
//! filled at once at the quote (buys at the ask, sells at the bid), the book's cash flows
//! applied as balance changes, and each account's equity sampled at the end of every UTC day.
//! The engine is driven with `apply_without_journal` (the same transition the daemon journals).

use mam_core::account::AccountVecs;
use mam_core::adaptive::factors::ONE;
use mam_core::adaptive::{step_bounds, AdaptiveModel};
use mam_core::engine::decision::{limit_event, Decision};
use mam_core::engine::input::{
    model_code, BalanceChange, MasterClose, MasterOpen, CLOSE_FULL, MODE_BLOCK, POLICY_ADAPTIVE,
};
use mam_core::engine::{Engine, EngineConfig, Input};
use mam_core::event::{ExecStatus, FillEvent, MarketEvent, MarketEventKind, Side};
use mam_core::num::{Lots, Money, Price, Qty};
use mam_core::symbol::SymbolTable;

use super::book::Flow;
use super::strategy::{self, Signal, Strategy};

const MINUTE: u64 = 60_000_000_000;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;

/// One symbol's closes: (bar open time, UTC ns; close, price raw).
#[derive(Debug, Clone)]
pub struct Closes {
    /// Symbol name.
    pub symbol: String,
    /// Bars in time order.
    pub bars: Vec<(u64, i64)>,
}

/// What one run needs.
#[derive(Debug)]
pub struct RunParams<'a> {
    /// The symbol table.
    pub symbols: &'a SymbolTable,
    /// The adaptive model (the static run loads it too: the switch is the only difference).
    pub model: &'a AdaptiveModel,
    /// Ask every open for the adaptive layer.
    pub adaptive: bool,
    /// `trend` or `meanrev`.
    pub strategy: &'a str,
    /// Strategy seed.
    pub seed: u64,
    /// Notional of one master position as a multiple of the book's balance (millionths).
    pub leverage_ppm: i64,
    /// The accounts at the start.
    pub accounts: &'a AccountVecs,
    /// Cash flows.
    pub flows: &'a [Flow],
}

/// A factor's mean over the accounts of one adaptive master.
#[derive(Debug, Clone)]
pub struct FactorPoint {
    /// When (UTC ns).
    pub ts: u64,
    /// Symbol.
    pub symbol: String,
    /// Factor name.
    pub name: &'static str,
    /// Value in millionths.
    pub ppm: i64,
}

/// The regime label and price of one symbol at one hour.
#[derive(Debug, Clone)]
pub struct RegimePoint {
    /// When (UTC ns).
    pub ts: u64,
    /// Symbol.
    pub symbol: String,
    /// Price raw.
    pub price: i64,
    /// 0 calm, 1 normal, 2 stressed.
    pub label: u8,
}

/// What one run produced.
#[derive(Debug, Clone, Default)]
pub struct RunOutput {
    /// UTC day numbers sampled (days since the epoch).
    pub days: Vec<u32>,
    /// `[account][day]` equity at the end of the day (micro-units).
    pub equity: Vec<Vec<i64>>,
    /// `[account][day]` net cash flow applied that day.
    pub flows: Vec<Vec<i64>>,
    /// Per day: Σ |position notional| (USD micro-units) and Σ margin used.
    pub exposure: Vec<i64>,
    /// Per day Σ margin used.
    pub margin: Vec<i64>,
    /// Per account: stop-outs, margin calls, drawdown-limit crossings.
    pub stop_outs: Vec<u32>,
    /// Margin calls.
    pub margin_calls: Vec<u32>,
    /// Drawdown limit crossed (the engine holds the account close-only).
    pub dd_breaches: Vec<u32>,
    /// Account allocations inside the manager's bounds, and all of them.
    pub in_bounds: u64,
    /// All account allocations.
    pub allocations: u64,
    /// Σ traded notional, USD micro-units.
    pub turnover: i64,
    /// Σ commissions and half-spread crossed, USD micro-units.
    pub cost: i64,
    /// Factor means per adaptive master.
    pub factors: Vec<FactorPoint>,
    /// Regime labels hourly.
    pub regime: Vec<RegimePoint>,
    /// Masters opened and closed.
    pub trades: u64,
    /// Inputs the engine refused (withdrawals past free margin, ...).
    pub refused: u64,
}

/// The spread the replay quotes around a bid close (price raw): typical ECN spreads, four
/// times wider in the 21:00–22:00 UTC rollover hour; the depth at the touch per side (base
/// units), a tenth of it in that hour. HistData's bars carry neither (docs/validation.md).
fn spread_and_depth(symbol: &str, ts: u64) -> (i64, i64) {
    let s = match symbol {
        "EURUSD" => 8_000,
        "GBPUSD" => 12_000,
        "AUDUSD" => 10_000,
        "USDCAD" | "USDCHF" => 15_000,
        "USDJPY" => 1_000_000,
        "XAUUSD" => 30_000_000,
        _ => 10_000,
    };
    let contract = if symbol == "XAUUSD" { 100 } else { 100_000 };
    if (ts / HOUR) % 24 == 21 {
        (4 * s, 20 * contract)
    } else {
        (s, 200 * contract)
    }
}

/// USD per base unit at `px` (micro-units per unit × 1e6 = Money raw per Qty one).
fn usd_micro(symbol: &str, qty_units: i64, px: i64) -> i64 {
    if symbol.starts_with("USD") {
        qty_units.saturating_mul(1_000_000)
    } else {
        (i128::from(qty_units) * i128::from(px) / 100).min(i128::from(i64::MAX)) as i64
    }
}

struct Run<'a> {
    p: &'a RunParams<'a>,
    engine: Engine,
    ids: Vec<u32>,
    names: Vec<String>,
    quotes: Vec<(i64, i64)>,
    exec: u64,
    out: RunOutput,
    day_flows: Vec<i64>,
}

/// Runs one replay.
pub fn run(p: &RunParams<'_>, data: &[Closes]) -> anyhow::Result<RunOutput> {
    // Pre-trade limits out of the way: one block carries the whole book's position (the
    // validation is about allocation, not the risk book).
    let mut config = EngineConfig::permissive();
    config.risk.max_order_qty = Qty(i64::MAX / 4);
    config.risk.max_order_notional = Money(i64::MAX / 4);
    config.risk.max_account_qty = Qty(i64::MAX / 4);
    let mut engine = Engine::new(p.symbols.clone(), p.accounts.clone(), config)?;
    engine.set_adaptive_model(p.model.clone())?;
    let mut ids = Vec::new();
    for c in data {
        ids.push(
            p.symbols
                .id_of(&c.symbol)
                .ok_or_else(|| anyhow::anyhow!("symbol {} is not in the symbol table", c.symbol))?,
        );
    }
    let n = p.accounts.id.len();
    let mut r = Run {
        p,
        engine,
        ids,
        names: data.iter().map(|c| c.symbol.clone()).collect(),
        quotes: vec![(0, 0); data.len()],
        exec: 0,
        out: RunOutput {
            equity: vec![Vec::new(); n],
            flows: vec![Vec::new(); n],
            stop_outs: vec![0; n],
            margin_calls: vec![0; n],
            dd_breaches: vec![0; n],
            ..RunOutput::default()
        },
        day_flows: vec![0; n],
    };
    let mut seed = p.seed;
    let mut strategies: Vec<Box<dyn Strategy>> = Vec::new();
    for _ in data {
        strategies.push(strategy::by_name(p.strategy, &mut seed).ok_or_else(|| {
            anyhow::anyhow!("unknown strategy {:?} (trend, meanrev)", p.strategy)
        })?);
    }
    let mut pos = vec![0i8; data.len()];
    let mut ticket = vec![0u64; data.len()];
    let mut next_ticket = 1u64;
    let mut at = vec![0usize; data.len()];
    let mut flow_at = 0usize;
    let mut day: Option<u64> = None;
    loop {
        // The next bar in time order (ties: symbol order).
        let mut best: Option<(u64, usize)> = None;
        for (k, c) in data.iter().enumerate() {
            if let Some(&(t, _)) = c.bars.get(at[k]) {
                if best.is_none_or(|(bt, _)| t < bt) {
                    best = Some((t, k));
                }
            }
        }
        let Some((t_open, k)) = best else { break };
        let ts = t_open + MINUTE; // the bar's close
        while flow_at < p.flows.len() && p.flows[flow_at].0 <= ts {
            let (fts, a, amount) = p.flows[flow_at];
            r.roll_day(&mut day, fts);
            r.balance(fts, a, amount);
            flow_at += 1;
        }
        r.roll_day(&mut day, ts);
        let close = data[k].bars[at[k]].1;
        at[k] += 1;
        r.quote(k, ts, close);
        // Hourly decisions: the bar that closes the hour, or the first after a gap.
        let hour_closed = ts.is_multiple_of(HOUR)
            || data[k]
                .bars
                .get(at[k])
                .is_none_or(|&(t, _)| t / HOUR != t_open / HOUR);
        if hour_closed {
            let label = r.engine.adaptive().symbol(r.ids[k]).map_or(1, |s| s.label);
            r.out.regime.push(RegimePoint {
                ts,
                symbol: r.names[k].clone(),
                price: close,
                label,
            });
            if let Some(sig) = strategies[k].on_close(close, pos[k]) {
                if pos[k] != 0 {
                    r.close(ts, ticket[k]);
                    pos[k] = 0;
                }
                if let Signal::Enter(buy) = sig {
                    ticket[k] = next_ticket;
                    next_ticket += 1;
                    if r.open(ts, k, ticket[k], buy) {
                        pos[k] = if buy { 1 } else { -1 };
                    }
                }
            }
        }
    }
    if let Some(d) = day {
        r.snapshot(d);
    }
    // Commissions: each position keeps what it was charged (all accounts here are USD).
    for a in 0..n as u32 {
        for &i in &r.ids {
            let c = r.engine.ledger().position(a, i).commission.raw();
            r.out.cost = r.out.cost.saturating_add(c);
        }
    }
    r.out.refused = r.engine.counters().refused;
    let c = r.engine.counters();
    tracing::info!(
        opens = c.opens,
        closes = c.closes,
        refused = c.refused,
        risk_rejects = c.risk_rejects,
        fills = c.fills,
        "validate run"
    );
    Ok(r.out)
}

impl Run<'_> {
    fn roll_day(&mut self, day: &mut Option<u64>, ts: u64) {
        let d = ts / DAY;
        match *day {
            Some(prev) if prev != d => {
                self.snapshot(prev);
                *day = Some(d);
            }
            None => *day = Some(d),
            _ => {}
        }
    }

    fn snapshot(&mut self, d: u64) {
        self.out.days.push(d as u32);
        let (mut exposure, mut margin) = (0i64, 0i64);
        for a in 0..self.out.equity.len() {
            let v = self.engine.valuation(a as u32).unwrap_or_default();
            self.out.equity[a].push(v.equity.raw());
            self.out.flows[a].push(std::mem::take(&mut self.day_flows[a]));
            margin = margin.saturating_add(v.margin.raw());
            for (k, &i) in self.ids.iter().enumerate() {
                let q = self.engine.ledger().position(a as u32, i).qty.raw();
                if q != 0 {
                    let units = q.unsigned_abs() as i64 / Qty::ONE_RAW;
                    exposure =
                        exposure.saturating_add(usd_micro(&self.names[k], units, self.quotes[k].0));
                }
            }
        }
        self.out.exposure.push(exposure);
        self.out.margin.push(margin);
    }

    fn apply(&mut self, input: Input) {
        let mut pending = vec![input];
        while let Some(inp) = pending.pop() {
            let ts = inp.ts_ns();
            let decisions: Vec<Decision> = self.engine.apply_without_journal(&inp).to_vec();
            for d in decisions {
                match d {
                    Decision::Order(o) => pending.push(self.fill(ts, &o)),
                    Decision::Limit(l) => {
                        let a = l.account as usize;
                        if a < self.out.stop_outs.len() {
                            match l.event {
                                limit_event::STOP_OUT => self.out.stop_outs[a] += 1,
                                limit_event::MARGIN_CALL => self.out.margin_calls[a] += 1,
                                limit_event::DRAWDOWN => self.out.dd_breaches[a] += 1,
                                _ => {}
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    fn fill(&mut self, ts: u64, o: &mam_core::event::ChildOrder) -> Input {
        let k = self
            .ids
            .iter()
            .position(|&i| i == o.instrument)
            .unwrap_or(0);
        let (bid, ask) = self.quotes[k];
        let buy = o.side == Side::Buy as u8;
        let px = if buy { ask } else { bid };
        let units = o.qty.raw() / Qty::ONE_RAW;
        let notional = usd_micro(&self.names[k], units, px);
        self.out.turnover = self.out.turnover.saturating_add(notional);
        // Half the spread crossed, in USD: a quote-currency amount, converted at the price
        // when the quote currency is not USD (USDJPY, USDCAD, USDCHF).
        let half = if self.names[k].starts_with("USD") {
            (i128::from(units) * i128::from(ask - bid) * 500_000 / i128::from(px.max(1))) as i64
        } else {
            usd_micro(&self.names[k], units, (ask - bid) / 2)
        };
        self.out.cost = self.out.cost.saturating_add(half);
        self.exec += 1;
        Input::Fill(FillEvent {
            recv_ns: ts,
            cl_ord_id: o.cl_ord_id,
            exec_id: self.exec,
            last_qty: o.qty,
            last_px: Price(px),
            cum_qty: o.qty,
            leaves_qty: Qty::ZERO,
            status: ExecStatus::Filled as u8,
            _pad: [0; 7],
        })
    }

    fn quote(&mut self, k: usize, ts: u64, bid: i64) {
        let (spread, depth) = spread_and_depth(&self.names[k], ts);
        self.quotes[k] = (bid, bid + spread);
        self.apply(Input::Market(MarketEvent {
            recv_ns: 0,
            source_ns: ts,
            seq: 0,
            instrument: self.ids[k],
            source: 1,
            kind: MarketEventKind::Quote as u8,
            level: 0,
            bid: Price(bid),
            ask: Price(bid + spread),
            bid_size: Qty(depth * Qty::ONE_RAW),
            ask_size: Qty(depth * Qty::ONE_RAW),
        }));
    }

    fn balance(&mut self, ts: u64, a: u32, amount: i64) {
        let before = self.engine.accounts().balance[a as usize];
        self.apply(Input::Balance(BalanceChange {
            ts_ns: ts,
            amount: Money(amount),
            account: a,
            manager: 0,
            flags: 0,
            request_id: 0,
        }));
        let applied = self.engine.accounts().balance[a as usize].raw() - before.raw();
        self.day_flows[a as usize] += applied;
    }

    fn open(&mut self, ts: u64, k: usize, ticket: u64, buy: bool) -> bool {
        let spec = *self
            .p
            .symbols
            .by_id(self.ids[k])
            .expect("ids come from the table");
        let book: i64 = self.engine.accounts().balance.iter().map(|b| b.raw()).sum();
        let target = i128::from(book) * i128::from(self.p.leverage_ppm) / 1_000_000;
        let per_lot = usd_micro(
            &self.names[k],
            spec.contract_size.raw() / Qty::ONE_RAW,
            self.quotes[k].1,
        );
        if per_lot <= 0 {
            return false;
        }
        let step = spec.lot_step.raw();
        let lots = (target / i128::from(per_lot) * i128::from(Lots::ONE_RAW)) as i64 / step * step;
        if lots <= 0 {
            return false;
        }
        let before = self.engine.open_tickets();
        let first_factor = self.out.factors.len();
        let input = Input::Open(MasterOpen {
            ts_ns: ts,
            ticket,
            lots: Lots(lots),
            instrument: self.ids[k],
            model: model_code::EQUITY,
            side: if buy {
                Side::Buy as u8
            } else {
                Side::Sell as u8
            },
            policy: if self.p.adaptive { POLICY_ADAPTIVE } else { 0 },
            mode: MODE_BLOCK,
            ..MasterOpen::default()
        });
        let decisions: Vec<Decision> = self.engine.apply_without_journal(&input).to_vec();
        self.account_allocations(ts, k, &decisions);
        debug_assert!(self.out.factors.len() >= first_factor);
        for d in decisions {
            if let Decision::Order(o) = d {
                let f = self.fill(ts, &o);
                self.apply(f);
            }
        }
        let opened = self.engine.open_tickets() > before;
        self.out.trades += u64::from(opened);
        opened
    }

    /// Bounds kept, and the factors' means, from the journaled explanation (adaptive run) or
    /// the allocation summary (static run: every size is the static one, inside the bounds).
    fn account_allocations(&mut self, ts: u64, k: usize, d: &[Decision]) {
        let acc = self.engine.accounts();
        let mut sums = [0i128; 9];
        let mut weight = 0i128;
        for x in d {
            match x {
                Decision::AdaptiveAccount(a) => {
                    let i = a.account as usize;
                    let (lo, hi) = step_bounds(a.static_steps, acc.min_scale[i], acc.max_scale[i]);
                    self.out.allocations += 1;
                    if a.steps >= lo && a.steps <= hi {
                        self.out.in_bounds += 1;
                    }
                    let w = i128::from(a.static_steps);
                    weight += w;
                    for (s, v) in sums.iter_mut().zip([
                        a.vol,
                        a.liquidity,
                        a.spread,
                        a.margin,
                        a.drawdown,
                        a.legs,
                        a.risk,
                        a.slippage,
                        a.scale,
                    ]) {
                        *s += w * i128::from(v);
                    }
                }
                Decision::Alloc(s) if !self.p.adaptive => {
                    self.out.allocations += u64::from(s.accounts);
                    self.out.in_bounds += u64::from(s.accounts);
                }
                _ => {}
            }
        }
        if weight > 0 {
            let names = [
                "vol",
                "liquidity",
                "spread",
                "margin",
                "drawdown",
                "legs",
                "risk",
                "slippage",
                "scale",
            ];
            for (name, s) in names.iter().zip(sums) {
                self.out.factors.push(FactorPoint {
                    ts,
                    symbol: self.names[k].clone(),
                    name,
                    ppm: (s / weight * 1_000_000 / i128::from(ONE)) as i64,
                });
            }
        }
    }

    fn close(&mut self, ts: u64, ticket: u64) {
        self.apply(Input::Close(MasterClose {
            ts_ns: ts,
            ticket,
            full: CLOSE_FULL,
            mode: MODE_BLOCK,
            ..MasterClose::default()
        }));
    }
}
