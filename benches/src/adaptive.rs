//! The adaptive layer's workload, shared by `mam bench adaptive` and
//! `benches/benches/adaptive.rs` (issue 14): what factor evaluation adds to a static
//! allocation, and what a quote costs the factor state.
//!
//! - [`FactorCase`]: N generated accounts (`synthetic_accounts`, bounds `[0, 1.25]`, drawdown
//!   tolerance 20 %, clusters 0–3), the static allocation of one EURUSD master by equity in
//!   block mode ([`FactorCase::allocate_static`]), and on top of it the adaptive part exactly as
//!   `core/src/engine/adapt.rs` runs it ([`FactorCase::adapt`]): the shared factors once, then
//!   per account with a static share its [`AccountView`] from the columns, `account_factors_in`,
//!   `bounded_steps` and the [`AdaptiveAccount`] record the engine would journal.
//! - [`EngineCase`]: the same accounts in an [`Engine`] running [`model`], EURUSD quoted for
//!   an hour and a half of source time (so the volatility forecast and the regime filter have
//!   seen returns); [`EngineCase::open`] times one `apply_without_journal` of a master open,
//!   static or adaptive, and cancels its block order untimed (orders stay flat).
//! - [`QuoteBuf`]: a generated EURUSD quote stream whose source time advances by a fixed step,
//!   replayed with a time shift so the state always sees time move forward;
//!   [`on_quotes`] (the figure), [`sum_quotes`] (the memory-streaming reference) and
//!   [`ledger_quotes`] (the ledger's `set_quote` over the same stream).

use std::hint::black_box;
use std::time::{Duration, Instant};

use mam_core::account::AccountVecs;
use mam_core::adaptive::factors::{account_factors_in, new_margin, ClusterFactors};
use mam_core::adaptive::{
    bounded_steps, AccountView, AdaptiveAccount, AdaptiveModel, AdaptiveState, ClusterParams,
};
use mam_core::alloc::model::{allocate, Order, StaticModel, Workspace};
use mam_core::alloc::synth::synthetic_accounts;
use mam_core::alloc::{LotLimits, MinLotPolicy, Mode};
use mam_core::engine::decision::Decision;
use mam_core::engine::input::{model_code, Input, MasterOpen, MODE_BLOCK, POLICY_ADAPTIVE};
use mam_core::engine::Engine;
use mam_core::event::{MarketEvent, MarketEventKind, Side};
use mam_core::ledger::Ledger;
use mam_core::num::{Lots, Price, Qty, Ratio};
use mam_core::symbol::{SymbolSpec, SymbolTable};

use crate::ledger::{block_order, config, fill, master_lots};

/// The symbol every master and quote is on.
pub const SYMBOL: &str = "EURUSD";
/// Sampling interval of the model (1-minute returns).
pub const SAMPLE_NS: u64 = 60_000_000_000;
/// First EURUSD bid (8 decimals) and spread (raw) of the generated quotes.
const BID0: i64 = 108_500_000;
const SPREAD: i64 = 600;
/// Visible size at the touch of each quote (bid + ask), Qty raw: 2,000 lots each side (a
/// 6,000-lot master at 100,000 accounts is 1.5× the touch: the liquidity factor cuts).
const DEPTH: i64 = 2 * 200_000_000 * Qty::ONE_RAW;

/// `AdaptiveModel::example` on EURUSD (RiskMetrics EWMA, 1-minute sampling, σ_target 0.01 %)
/// with four clusters (the default parameters, the drawdown power 1–4) so the accounts'
/// `cluster` column (0–3) picks different parameters.
pub fn model() -> AdaptiveModel {
    let mut m = AdaptiveModel::example(SYMBOL);
    debug_assert_eq!(m.symbols[0].sample_ns, SAMPLE_NS);
    m.clusters = (1..=4)
        .map(|k| ClusterParams {
            dd_power: k,
            ..ClusterParams::default()
        })
        .collect();
    m
}

/// `n` generated accounts (`synthetic_accounts`) with the manager's bounds `[0, 1.25]` and a
/// 20 % drawdown tolerance (so every factor has work to do).
pub fn accounts(n: usize, seed: u64) -> AccountVecs {
    let mut v = synthetic_accounts(n, seed);
    v.min_scale.fill(Ratio(0));
    v.max_scale.fill(Ratio(Ratio::ONE_RAW * 5 / 4));
    v.drawdown_tolerance.fill(Ratio(Ratio::ONE_RAW / 5));
    v
}

use mam_core::rand::splitmix64 as next;

/// One quote as the factor state takes it.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
pub struct Q {
    /// Source time, ns.
    pub ts: u64,
    /// Bid (Price raw).
    pub bid: i64,
    /// Ask (Price raw).
    pub ask: i64,
    /// Size at the touch, bid + ask (Qty raw).
    pub depth: i64,
}

/// A generated EURUSD stream: ticks of ±0–2 pips held within ±60 pips, source time `step_ns`
/// apart from `t0`.
#[derive(Debug, Clone)]
pub struct QuoteBuf {
    /// The quotes.
    pub q: Vec<Q>,
    /// Source time the stream spans (shift the next replay by this).
    pub span_ns: u64,
}

impl QuoteBuf {
    /// `n` quotes `step_ns` apart from `t0`.
    pub fn new(n: usize, t0: u64, step_ns: u64, seed: u64) -> Self {
        let mut s = seed;
        let mut off = 0i64;
        let q = (0..n)
            .map(|i| {
                let step = (next(&mut s) % 41) as i64 - 20;
                off = if (off + step).abs() > 6_000 {
                    off - step
                } else {
                    off + step
                };
                let bid = BID0 + off * 10;
                Q {
                    ts: t0 + i as u64 * step_ns,
                    bid,
                    ask: bid + SPREAD,
                    depth: DEPTH,
                }
            })
            .collect();
        QuoteBuf {
            q,
            span_ns: n as u64 * step_ns,
        }
    }
}

/// Folds `quotes` (source time shifted by `shift`) into the factor state: the figure.
#[inline(never)]
pub fn on_quotes(st: &mut AdaptiveState, instrument: u32, quotes: &[Q], shift: u64) {
    for q in quotes {
        st.on_quote(instrument, q.ts + shift, q.bid, q.ask, q.depth);
    }
}

/// Reads the same stream and sums bid + ask (and the shifted time): the memory-streaming
/// reference.
#[inline(never)]
pub fn sum_quotes(quotes: &[Q], shift: u64) -> i64 {
    quotes.iter().fold(0i64, |a, q| {
        a.wrapping_add(q.bid)
            .wrapping_add(q.ask)
            .wrapping_add((q.ts + shift) as i64)
    })
}

/// The ledger's `set_quote` over the same stream (what the engine does beside `on_quote`).
#[inline(never)]
pub fn ledger_quotes(ledger: &mut Ledger, instrument: u32, quotes: &[Q]) {
    for q in quotes {
        ledger.set_quote(instrument, Price(q.bid), Price(q.ask));
    }
}

/// A factor state running [`model`] that has seen `quotes` 1 s apart (intervals closed, the
/// forecast and the filter moved), and the instrument id of [`SYMBOL`].
pub fn warmed_state(symbols: &SymbolTable, quotes: usize) -> (AdaptiveState, u32) {
    let id = symbols.id_of(SYMBOL).expect("built-in symbol");
    let mut st = AdaptiveState::new(model(), symbols);
    let b = QuoteBuf::new(quotes, T0, 1_000_000_000, 11);
    on_quotes(&mut st, id, &b.q, 0);
    (st, id)
}

/// Source time of the first quote: 2023-11-14 22:00 UTC, an interval boundary.
pub const T0: u64 = 1_700_000_000 / 60 * 60 * 1_000_000_000;

/// Static allocation and the factor evaluation on top, outside the engine.
#[derive(Debug)]
pub struct FactorCase {
    /// The accounts.
    pub v: AccountVecs,
    /// A ledger over them (holds nothing: `notional_money` and `open_positions`).
    pub ledger: Ledger,
    /// The factor state, warmed.
    pub state: AdaptiveState,
    /// EURUSD's id and spec.
    pub instrument: u32,
    spec: SymbolSpec,
    limits: LotLimits,
    order: Order,
    ws: Workspace,
    /// Static steps per account (the quota).
    pub static_steps: Vec<u64>,
    /// Adapted steps per account.
    pub adapted: Vec<u64>,
    /// The records the engine would journal (reused).
    pub records: Vec<AdaptiveAccount>,
    px: Price,
}

impl FactorCase {
    /// `n` accounts, a master of 0.06 lots per account.
    pub fn new(n: usize) -> Self {
        let symbols = SymbolTable::builtin();
        let (state, instrument) = warmed_state(&symbols, 5_000);
        let spec = *symbols.by_id(instrument).expect("symbol");
        let v = accounts(n, 7);
        let mut ledger = Ledger::new(&symbols, &v.currency);
        ledger.set_quote(instrument, Price(BID0), Price(BID0 + SPREAD));
        FactorCase {
            ledger,
            state,
            instrument,
            spec,
            limits: LotLimits::of(&spec),
            order: Order {
                lots: master_lots(n),
                model: StaticModel::Equity,
                policy: MinLotPolicy::Zero,
                mode: Mode::Block,
                rotation: 0,
            },
            ws: Workspace::with_capacity(n),
            static_steps: vec![0; n],
            adapted: vec![0; n],
            records: Vec::with_capacity(n),
            px: Price(BID0 + SPREAD / 2),
            v,
        }
    }

    /// The static allocation (equity model, block mode): the reference. Returns Σ steps.
    pub fn allocate_static(&mut self) -> u64 {
        let cols = self.v.columns();
        let a = allocate(
            &cols,
            self.limits,
            &self.order,
            &mut self.static_steps,
            &mut self.ws,
        )
        .expect("allocates");
        self.order.rotation = self.order.rotation.wrapping_add(a.dealt);
        a.allocated
    }

    /// The adaptive part on the current static allocation, as `Engine::adapt` runs it (the
    /// shared factors once; per account with a static share its view, factors, bounded size
    /// and record). Returns Σ adapted steps.
    pub fn adapt(&mut self) -> u64 {
        let step_qty = self.limits.qty_of(&self.spec, 1).expect("step");
        let requested = self.order.lots.raw() / self.limits.step.raw();
        let master_qty = step_qty.raw().saturating_mul(requested);
        let sh = self.state.shared(self.instrument, master_qty, 0);
        let (px, spec, acc) = (self.px, &self.spec, &self.v);
        let sign: i64 = 1; // a buy
        let cfs: Vec<ClusterFactors> = self
            .state
            .model()
            .clusters
            .iter()
            .map(|c| ClusterFactors::new(c, &sh))
            .collect();
        self.records.clear();
        let mut total = 0u64;
        for (a, (&s, out)) in self
            .static_steps
            .iter()
            .zip(self.adapted.iter_mut())
            .enumerate()
        {
            if s == 0 {
                *out = 0;
                continue;
            }
            let cf = cfs.get(usize::from(acc.cluster[a])).unwrap_or(&cfs[0]);
            let mut v = AccountView {
                equity: acc.equity[a].raw(),
                hwm: acc.equity_hwm[a].raw(),
                tolerance: acc.drawdown_tolerance[a].raw(),
                margin_used: acc.margin_used[a].raw(),
                ..AccountView::default()
            };
            let (margin, legs, risk) = (cf.reads_margin(), cf.reads_legs(), cf.reads_risk());
            if px.raw() > 0 && (margin || legs || risk) {
                let qty = step_qty.raw().saturating_mul(s as i64);
                let n = self
                    .ledger
                    .notional_money(a as u32, self.instrument, qty, px);
                if margin {
                    v.new_margin = new_margin(n, spec.margin_rate.raw(), acc.leverage[a]);
                }
                if legs {
                    let ccy = acc.currency[a];
                    let legs = [(spec.base, sign), (spec.quote, -sign)];
                    for (k, &(c, dir)) in legs.iter().enumerate() {
                        if c == ccy {
                            continue;
                        }
                        // The accounts hold nothing: the engine's `leg_held` returns 0 here
                        // too (it checks `open_positions` first).
                        let held = if self.ledger.open_positions(a as u32) == 0 {
                            0
                        } else {
                            unreachable!("the bench accounts hold no position")
                        };
                        v.legs[k] = (held, n.saturating_mul(dir));
                    }
                }
                if risk {
                    // No positions: the risk now is 0, with the trade that of the trade alone
                    // (what the engine's `exposures_of` + `risk` compute for such accounts).
                    let sigma = self.state.sigma_of(self.instrument);
                    let after = AdaptiveState::risk_alone(n.saturating_mul(sign), sigma);
                    v.risk = (0, after);
                }
            }
            let (lo, hi) = (acc.min_scale[a], acc.max_scale[a]);
            let f = account_factors_in(cf, &v, lo, hi);
            let (o, lot_flag) = bounded_steps(s, f.scale, lo, hi, self.limits, MinLotPolicy::Zero);
            *out = o;
            total += o;
            self.records.push(AdaptiveAccount {
                ticket: 1,
                static_steps: s,
                steps: o,
                vol: f.vol,
                liquidity: f.liquidity,
                spread: f.spread,
                margin: f.margin,
                drawdown: f.drawdown,
                legs: f.legs,
                risk: f.risk,
                slippage: f.slippage,
                product: f.product,
                scale: f.scale,
                account: a as u32,
                flags: f.flags | lot_flag,
            });
        }
        black_box(&self.records);
        total
    }

    /// The memory floor of [`adapt`](Self::adapt): for each account with a static share, read
    /// the columns it reads and write its record (no factor computed). Returns Σ of a column.
    pub fn floor(&mut self) -> u64 {
        let acc = &self.v;
        self.records.clear();
        let mut total = 0u64;
        for (a, (&s, out)) in self
            .static_steps
            .iter()
            .zip(self.adapted.iter_mut())
            .enumerate()
        {
            if s == 0 {
                *out = 0;
                continue;
            }
            *out = s;
            total += s;
            self.records.push(AdaptiveAccount {
                ticket: 1,
                static_steps: s,
                steps: s,
                vol: acc.equity[a].raw(),
                liquidity: acc.equity_hwm[a].raw(),
                spread: acc.drawdown_tolerance[a].raw(),
                margin: acc.margin_used[a].raw(),
                drawdown: i64::from(acc.leverage[a]),
                legs: i64::from_le_bytes(acc.currency[a]),
                risk: 0,
                slippage: 0,
                product: acc.min_scale[a].raw(),
                scale: acc.max_scale[a].raw(),
                account: a as u32,
                flags: u32::from(acc.cluster[a]),
            });
        }
        black_box(&self.records);
        total
    }

    /// FNV-1a of the records of the latest [`adapt`](Self::adapt) (to check that a change
    /// to the factor code changed no result).
    pub fn digest(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for r in &self.records {
            let x = [
                r.static_steps as i64,
                r.steps as i64,
                r.vol,
                r.liquidity,
                r.spread,
                r.margin,
                r.drawdown,
                r.legs,
                r.product,
                r.scale,
                i64::from(r.account),
                i64::from(r.flags),
            ];
            for v in x {
                for b in v.to_le_bytes() {
                    h ^= u64::from(b);
                    h = h.wrapping_mul(0x0100_0000_01b3);
                }
            }
        }
        h
    }

    /// Accounts with a static share in the current allocation.
    pub fn with_share(&self) -> usize {
        self.static_steps.iter().filter(|&&s| s > 0).count()
    }
}

/// The engine end to end: a master open, static or adaptive.
#[derive(Debug)]
pub struct EngineCase {
    /// The engine (driven without a journal).
    pub engine: Engine,
    /// EURUSD's id.
    pub instrument: u32,
    ts: u64,
    lots: Lots,
}

impl EngineCase {
    /// `n` accounts ([`accounts`]) in an engine running [`model`]; EURUSD quoted `quotes`
    /// times 1 s apart (source time).
    pub fn new(n: usize, quotes: usize) -> Result<Self, String> {
        let symbols = SymbolTable::builtin();
        let instrument = symbols.id_of(SYMBOL).ok_or("no EURUSD")?;
        let mut engine =
            Engine::new(symbols.clone(), accounts(n, 7), config()).map_err(|e| e.to_string())?;
        engine
            .set_adaptive_model(model())
            .map_err(|e| e.to_string())?;
        let mut ts = T0;
        let b = QuoteBuf::new(quotes, T0, 1_000_000_000, 11);
        for q in &b.q {
            ts = q.ts;
            let e = quote(ts, instrument, q.bid, q.ask);
            check(engine.apply_without_journal(&Input::Market(e)))?;
        }
        Ok(EngineCase {
            engine,
            instrument,
            ts,
            lots: master_lots(n),
        })
    }

    fn tick(&mut self) -> u64 {
        self.ts += 1_000;
        self.ts
    }

    /// One master open of `ticket` (equity model, block routing, a buy), adaptive or static,
    /// timed; its block order is then cancelled, untimed. Returns the time of the open.
    pub fn open(&mut self, ticket: u64, adaptive: bool) -> Duration {
        let input = Input::Open(MasterOpen {
            ts_ns: self.tick(),
            ticket,
            lots: self.lots,
            instrument: self.instrument,
            model: model_code::EQUITY,
            side: Side::Buy as u8,
            policy: if adaptive { POLICY_ADAPTIVE } else { 0 },
            mode: MODE_BLOCK,
            ..MasterOpen::default()
        });
        let start = Instant::now();
        let order = block_order(self.engine.apply_without_journal(&input));
        let t = start.elapsed();
        let (cl, _, _) = order.expect("the open sent its block order");
        let cancel = fill(self.tick(), cl, Qty::ZERO, Price::ZERO);
        self.engine.apply_without_journal(&cancel);
        t
    }

    /// The block quantity an open sends, adaptive or static, and the FNV-1a of its decisions'
    /// bytes (to check that a change to the factor code changed no result); the order is
    /// cancelled.
    pub fn block_qty(&mut self, ticket: u64, adaptive: bool) -> (Qty, u64) {
        let input = Input::Open(MasterOpen {
            ts_ns: self.tick(),
            ticket,
            lots: self.lots,
            instrument: self.instrument,
            model: model_code::EQUITY,
            side: Side::Buy as u8,
            policy: if adaptive { POLICY_ADAPTIVE } else { 0 },
            mode: MODE_BLOCK,
            ..MasterOpen::default()
        });
        let d = self.engine.apply_without_journal(&input);
        let digest = mam_core::engine::fnv1a(
            &d.iter()
                .flat_map(|x| x.bytes())
                .copied()
                .collect::<Vec<u8>>(),
        );
        let (cl, qty, _) = block_order(d).expect("the open sent its block order");
        let cancel = fill(self.tick(), cl, Qty::ZERO, Price::ZERO);
        self.engine.apply_without_journal(&cancel);
        (qty, digest)
    }
}

fn quote(ts: u64, instrument: u32, bid: i64, ask: i64) -> MarketEvent {
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
        bid_size: Qty(DEPTH / 2),
        ask_size: Qty(DEPTH / 2),
    }
}

fn check(d: &[Decision]) -> Result<(), String> {
    match d.iter().find(|x| {
        matches!(
            x,
            Decision::Refused(_) | Decision::Reject(_) | Decision::Limit(_)
        )
    }) {
        Some(x) => Err(format!("unexpected decision while building: {x:?}")),
        None => Ok(()),
    }
}
