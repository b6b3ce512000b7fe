//! The capture's quote timeline and a deterministic master-order plan over it.
//!
//! [`Timeline::load`] reads a pcap of mam SBE packets (what `mam capture convert` writes) into
//! the quotes with their source times. [`Schedule::plan`] draws, from a seed, N trades: each
//! opened at some capture time with a limit at the prevailing touch (a buy at the ask, a sell
//! at the bid: within the quote, and the QuickFIX executor fills limit orders at their
//! price), partially closed later and closed in full later still; plus a clock watermark every
//! `clock_every_ns` of capture time. Every step sits on a whole millisecond (FIX timestamps
//! carry milliseconds) where no quote is, one millisecond after a quote: the quote an order
//! sees is the one before it, with no tie for the event-time merge to break. No order comes
//! after the last quote, so a daemon that has applied the last quote has applied everything.

use std::collections::HashMap;
use std::path::Path;

use mam_core::event::Side;
use mam_core::num::{Price, Qty};
use mam_core::symbol::SymbolTable;
use mam_feed::replay::{load_udp, ReplayError};
use mam_feed::sbe::msg::{decode, Message};
use mam_feed::sbe::packet::Packet;
use thiserror::Error;

use super::msg::{Cancel, Close, Open, OrderOpts};

/// Why a timeline or a schedule could not be made.
#[derive(Debug, Error)]
pub enum ScheduleError {
    /// The capture could not be read.
    #[error(transparent)]
    Capture(#[from] ReplayError),
    /// Too few usable quotes for the plan.
    #[error("{what}: the capture has {have} usable quote times, the plan needs {need}")]
    TooFewQuotes {
        /// What was being planned.
        what: String,
        /// Usable quote times found.
        have: usize,
        /// Needed.
        need: usize,
    },
    /// No symbol name is known for the instrument.
    #[error("instrument {0} has no InstrumentDefinition in the capture and no builtin symbol")]
    UnknownInstrument(u32),
    /// Option out of range.
    #[error("schedule option: {0}")]
    Option(String),
}

/// One two-sided quote with its source time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimedQuote {
    /// The quote's transactTime (UTC ns).
    pub time_ns: u64,
    /// Instrument id.
    pub instrument: u32,
    /// Best bid.
    pub bid: Price,
    /// Best ask.
    pub ask: Price,
}

/// A capture's two-sided quotes in time order, and its instruments' names.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    /// The quotes (one-sided quotes are left out: no limit price can be drawn from them).
    pub quotes: Vec<TimedQuote>,
    /// Instrument id → symbol, from the capture's InstrumentDefinitions.
    pub symbols: HashMap<u32, String>,
    /// Time of the last message of any kind (the end of the market data).
    pub last_ns: u64,
}

impl Timeline {
    /// Reads every quote of a pcap of mam SBE packets (other datagrams are skipped).
    pub fn load(path: &Path) -> Result<Self, ScheduleError> {
        let loaded = load_udp(path)?;
        let mut t = Timeline::default();
        for d in &loaded.datagrams {
            let Ok(p) = Packet::parse(&d.payload) else {
                continue;
            };
            for m in p.messages() {
                match decode(m) {
                    Ok(Message::Quote(v)) => {
                        let q = v.get();
                        t.last_ns = t.last_ns.max(q.time_ns);
                        if let (Some(bid), Some(ask)) = (q.bid, q.ask) {
                            t.quotes.push(TimedQuote {
                                time_ns: q.time_ns,
                                instrument: q.instrument,
                                bid,
                                ask,
                            });
                        }
                    }
                    Ok(Message::Instrument(v)) => {
                        let i = v.get();
                        t.symbols.insert(i.instrument, i.symbol_str());
                    }
                    _ => {}
                }
            }
        }
        // Captures are in time order; a stable sort keeps it so for any that are not.
        t.quotes.sort_by_key(|q| q.time_ns);
        Ok(t)
    }

    /// The symbol of `instrument`: the capture's definition, else the builtin table's.
    pub fn symbol(&self, instrument: u32) -> Result<String, ScheduleError> {
        if let Some(s) = self.symbols.get(&instrument) {
            return Ok(s.clone());
        }
        SymbolTable::builtin()
            .by_id(instrument)
            .map(|s| s.name_str().to_string())
            .ok_or(ScheduleError::UnknownInstrument(instrument))
    }

    /// First and last quote time.
    pub fn span(&self) -> Option<(u64, u64)> {
        Some((self.quotes.first()?.time_ns, self.quotes.last()?.time_ns))
    }
}

/// What to plan.
#[derive(Debug, Clone)]
pub struct ScheduleOptions {
    /// Number of trades (each: open, partial close, full close).
    pub trades: usize,
    /// Seed of the draw.
    pub seed: u64,
    /// Base units of one size step (default 10,000: 0.1 lot of FX).
    pub unit: Qty,
    /// Largest open, in size steps (at least 2: a partial close needs a remainder).
    pub max_steps: u64,
    /// A clock watermark every this much capture time (ns, rounded to ms; 0 = none between
    /// orders, only the final one).
    pub clock_every_ns: u64,
    /// Models to draw from per trade (empty: the daemon's default).
    pub models: Vec<String>,
    /// Routings to draw from per trade (empty: the daemon's default).
    pub routings: Vec<String>,
    /// Also the order lifecycle: every third trade's open carries a stop-loss and a
    /// take-profit ([`FAR`] away: held, not reached), every third is a held limit
    /// ([`THROUGH`] through the market: it triggers on the next quote), and every fourth
    /// trade adds a held limit [`FAR`] from the market that its partial close's time cancels.
    pub lifecycle: bool,
}

/// How far the lifecycle plan puts levels that must not be reached (price units: 300 FX pips).
pub const FAR: Price = Price(3_000_000);
/// How far through the market a lifecycle held limit is (20 FX pips: the next quote reaches it).
pub const THROUGH: Price = Price(200_000);
/// Tickets of the lifecycle plan's extra held limits start here (their cancels at twice it).
pub const EXTRA_IDS: u64 = 1_000_000;

impl Default for ScheduleOptions {
    fn default() -> Self {
        ScheduleOptions {
            trades: 10,
            seed: 1,
            unit: Qty(10_000 * Qty::ONE_RAW),
            max_steps: 10,
            clock_every_ns: 1_000_000_000,
            models: Vec::new(),
            routings: Vec::new(),
            lifecycle: false,
        }
    }
}

/// One thing the manager sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// An opening master order.
    Open(Open),
    /// A closing master order.
    Close(Close),
    /// A cancel of a master order (35=F).
    Cancel(Cancel),
    /// A clock watermark (35=h 340=2).
    Clock(u64),
}

/// An action at its capture time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Capture time (UTC ns, whole milliseconds).
    pub time_ns: u64,
    /// What to send.
    pub action: Action,
}

/// The plan: steps in nondecreasing time; `end()` follows the last.
#[derive(Debug, Clone, Default)]
pub struct Schedule {
    /// The steps.
    pub steps: Vec<Step>,
    /// First quote time of the capture.
    pub start_ns: u64,
    /// The last step's time (the final clock, at or after the last quote).
    pub end_ns: u64,
}

/// SplitMix64: a small, fixed, seedable generator (the plan must not change with a crate).
pub use mam_core::rand::SplitMix64 as SplitMix;

const MS: u64 = 1_000_000;

fn pick<T: Clone>(r: &mut SplitMix, v: &[T]) -> Option<T> {
    (!v.is_empty()).then(|| v[r.below(v.len() as u64) as usize].clone())
}

impl Schedule {
    /// Plans `o.trades` trades over `tl` (its first instrument with quotes).
    pub fn plan(tl: &Timeline, o: &ScheduleOptions) -> Result<Schedule, ScheduleError> {
        if o.max_steps < 2 || o.unit.raw() <= 0 {
            return Err(ScheduleError::Option(
                "max_steps must be at least 2 and unit positive".into(),
            ));
        }
        let Some((start, last)) = tl.span() else {
            return Err(ScheduleError::TooFewQuotes {
                what: "any plan".into(),
                have: 0,
                need: 1,
            });
        };
        let inst = tl.quotes[0].instrument;
        let symbol = tl.symbol(inst)?;
        let qs: Vec<&TimedQuote> = tl.quotes.iter().filter(|q| q.instrument == inst).collect();
        // Slots: one ms after a quote, where no quote is, and never after the last quote:
        // once the daemon has journaled the last quote, every order and its fills are in.
        let mut slots: Vec<(u64, usize)> = Vec::new();
        for (i, (q, next)) in qs.iter().zip(qs.iter().skip(1)).enumerate() {
            let t = q.time_ns - q.time_ns % MS + MS;
            if next.time_ns >= t + MS && q.bid <= q.ask {
                slots.push((t, i));
            }
        }
        if slots.len() < 3 {
            return Err(ScheduleError::TooFewQuotes {
                what: format!("{} trades on {symbol}", o.trades),
                have: slots.len(),
                need: 3,
            });
        }
        let mut r = SplitMix(o.seed);
        let mut steps = Vec::with_capacity(o.trades * 3);
        let n = o.trades as u64;
        for k in 0..n {
            let ticket = k + 1;
            let mut at = [0usize; 3];
            loop {
                for a in &mut at {
                    *a = r.below(slots.len() as u64) as usize;
                }
                at.sort_unstable();
                if at[0] < at[1] && at[1] < at[2] {
                    break;
                }
            }
            let side = if r.below(2) == 0 {
                Side::Buy
            } else {
                Side::Sell
            };
            let close_side = match side {
                Side::Buy => Side::Sell,
                Side::Sell => Side::Buy,
            };
            // A buy pays the ask, a sell gets the bid: at the touch, so it fills.
            let touch = |i: usize, s: Side| {
                let q = qs[slots[i].1];
                match s {
                    Side::Buy => q.ask,
                    Side::Sell => q.bid,
                }
            };
            let steps_open = 2 + r.below(o.max_steps - 1);
            let steps_part = 1 + r.below(steps_open - 1);
            let units = |s: u64| Qty(o.unit.raw() * s as i64);
            let opts = OrderOpts {
                model: pick(&mut r, &o.models),
                routing: pick(&mut r, &o.routings),
                ..OrderOpts::default()
            };
            let sign = if side == Side::Buy { 1 } else { -1 };
            let mut limit = touch(at[0], side);
            let mut open_opts = opts.clone();
            if o.lifecycle {
                match k % 3 {
                    1 => {
                        open_opts.stop_loss = Some(Price(limit.raw() - sign * FAR.raw()));
                        open_opts.take_profit = Some(Price(limit.raw() + sign * FAR.raw()));
                    }
                    2 => {
                        open_opts.hold = true;
                        limit = Price(limit.raw() + sign * THROUGH.raw());
                    }
                    _ => {}
                }
            }
            steps.push(Step {
                time_ns: slots[at[0]].0,
                action: Action::Open(Open {
                    ticket,
                    symbol: symbol.clone(),
                    side,
                    units: units(steps_open),
                    limit: Some(limit),
                    transact_time_ns: slots[at[0]].0,
                    opts: open_opts,
                }),
            });
            if o.lifecycle && k % 4 == 3 {
                let extra = EXTRA_IDS + k;
                steps.push(Step {
                    time_ns: slots[at[0]].0,
                    action: Action::Open(Open {
                        ticket: extra,
                        symbol: symbol.clone(),
                        side: Side::Buy,
                        units: units(1),
                        limit: Some(Price(touch(at[0], Side::Buy).raw() - FAR.raw())),
                        transact_time_ns: slots[at[0]].0,
                        opts: OrderOpts {
                            hold: true,
                            ..opts.clone()
                        },
                    }),
                });
                steps.push(Step {
                    time_ns: slots[at[1]].0,
                    action: Action::Cancel(Cancel {
                        cancel_id: 2 * EXTRA_IDS + k,
                        order_id: extra,
                        symbol: symbol.clone(),
                        side: Side::Buy,
                        transact_time_ns: slots[at[1]].0,
                    }),
                });
            }
            for (j, (&a, all)) in at[1..].iter().zip([false, true]).enumerate() {
                let close_id = n + 2 * k + 1 + j as u64;
                let left = if all {
                    steps_open - steps_part
                } else {
                    steps_part
                };
                steps.push(Step {
                    time_ns: slots[a].0,
                    action: Action::Close(Close {
                        close_id,
                        ticket,
                        symbol: symbol.clone(),
                        side: close_side,
                        units: units(left),
                        close_all: all,
                        limit: Some(touch(a, close_side)),
                        transact_time_ns: slots[a].0,
                        opts: opts.clone(),
                    }),
                });
            }
        }
        // The final clock covers every quote; the periodic ones sit on the same ms grid.
        let end = (last - last % MS + MS).max(steps.iter().map(|s| s.time_ns).max().unwrap_or(0));
        let every = o.clock_every_ns - o.clock_every_ns % MS;
        if every > 0 {
            let mut t = start - start % MS + every;
            while t < end {
                steps.push(Step {
                    time_ns: t,
                    action: Action::Clock(t),
                });
                t += every;
            }
        }
        steps.push(Step {
            time_ns: end,
            action: Action::Clock(end),
        });
        // Time order; at one instant orders before the clock, orders by ClOrdID.
        let key = |s: &Step| {
            let (rank, id) = match &s.action {
                Action::Open(o) => (0, o.ticket),
                Action::Close(c) => (0, c.close_id),
                Action::Cancel(c) => (0, c.cancel_id),
                Action::Clock(_) => (1, 0),
            };
            (s.time_ns, rank, id)
        };
        steps.sort_by_key(key);
        Ok(Schedule {
            steps,
            start_ns: start,
            end_ns: end,
        })
    }

    /// Master orders in the plan.
    pub fn orders(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| !matches!(s.action, Action::Clock(_)))
            .count()
    }
}
