//! A copy of what an operator reads (accounts, positions, tickets, open orders, switches),
//! filled by the engine's own thread into a buffer it reuses, for readers on other threads
//! (the admin API, the dashboard, `/metrics`).
//!
//! Flat vectors (positions and holdings indexed by offsets) rather than nested ones: refilling a
//! snapshot reuses every vector's capacity, so once warm it allocates nothing.

use super::{Engine, EngineCounters};
use crate::num::{Money, Price, Qty, Ratio};

/// One account as an operator reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AccountView {
    /// Account index.
    pub index: u32,
    /// Account id, NUL-padded ASCII.
    pub id: [u8; 16],
    /// Account currency, NUL-padded ASCII.
    pub currency: [u8; 8],
    /// Balance.
    pub balance: Money,
    /// Equity at the latest quotes.
    pub equity: Money,
    /// Margin in use.
    pub margin: Money,
    /// Equity high-water mark.
    pub equity_hwm: Money,
    /// Margin level in percent; `None` without margin in use.
    pub margin_level: Option<Ratio>,
    /// Account flags (`account::FLAG_*`).
    pub flags: u16,
    /// Leverage.
    pub leverage: u32,
    /// Model parameters: multiplier, percent, risk fraction, drawdown tolerance, min and max
    /// adaptive scale.
    pub multiplier: Ratio,
    /// Percent of the master.
    pub percent: Ratio,
    /// Fraction of equity at risk.
    pub risk_fraction: Ratio,
    /// Drawdown tolerance.
    pub drawdown_tolerance: Ratio,
    /// Adaptive lower bound.
    pub min_scale: Ratio,
    /// Adaptive upper bound.
    pub max_scale: Ratio,
    /// Daily loss limit (0: none).
    pub daily_loss_limit: Money,
    /// Fixed size for the `fixed` model.
    pub fixed_lots: crate::num::Lots,
    /// Commission per lot and side.
    pub commission_per_lot: Money,
    /// Margin-call level in percent (0: the engine default).
    pub margin_call_level: Ratio,
    /// Stop-out level in percent (0: the engine default).
    pub stop_out_level: Ratio,
    /// Cluster tag.
    pub cluster: u16,
    /// Range of this account's entries in [`EngineSnapshot::positions`].
    pub positions: (u32, u32),
}

/// One open position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PositionView {
    /// Account index.
    pub account: u32,
    /// Instrument id.
    pub instrument: u32,
    /// Net quantity (base units), long positive.
    pub qty: Qty,
    /// Average entry price.
    pub avg_price: Option<Price>,
    /// Unrealised P&L at the latest quotes, account currency.
    pub unrealised: Money,
}

/// One open master ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TicketView {
    /// Ticket id.
    pub ticket: u64,
    /// Instrument id.
    pub instrument: u32,
    /// Side as `u8` ([`Side`](crate::event::Side): 1 buy, 2 sell).
    pub side: u8,
    /// Master lot steps still open.
    pub master_steps: u64,
    /// Orders of the ticket still working.
    pub working: u32,
    /// Offset of its per-account steps in [`EngineSnapshot::holdings`] (one per account).
    pub holdings_at: u32,
}

/// One order the engine tracks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OrderView {
    /// ClOrdID.
    pub cl_ord_id: u64,
    /// Master ticket.
    pub ticket: u64,
    /// Account index; `u32::MAX` for a block order.
    pub account: u32,
    /// Instrument id.
    pub instrument: u32,
    /// Side as `u8`.
    pub side: u8,
    /// True for a closing order.
    pub closing: bool,
    /// Quantity.
    pub qty: Qty,
    /// Filled so far.
    pub cum: Qty,
}

/// Everything a reader sees, as of one journal sequence.
#[derive(Debug, Clone, Default)]
pub struct EngineSnapshot {
    /// Journal sequence of the last record the state holds.
    pub seq: u64,
    /// When the engine stage filled it (the stage's clock, ns).
    pub taken_ns: u64,
    /// Snapshots published so far (0: none yet).
    pub version: u64,
    /// The engine's counters.
    pub counters: EngineCounters,
    /// The kill switch is engaged.
    pub kill_switch: bool,
    /// The adaptive layer is on.
    pub adaptive_on: bool,
    /// Every account, by index.
    pub accounts: Vec<AccountView>,
    /// Open positions, grouped by account.
    pub positions: Vec<PositionView>,
    /// Open master tickets, by id.
    pub tickets: Vec<TicketView>,
    /// Per-account steps of every ticket (accounts × tickets).
    pub holdings: Vec<u64>,
    /// Orders the engine tracks, by ClOrdID.
    pub orders: Vec<OrderView>,
    /// Latest bid and ask per instrument id (`None`: no quote yet).
    pub quotes: Vec<Option<(Price, Price)>>,
    /// The engine-wide pre-trade risk limits (`None` before the first refill).
    pub limits: Option<crate::risk::RiskLimits>,
}

impl Engine {
    /// Refills `s` with the current state, reusing its vectors.
    pub fn snapshot_into(&self, s: &mut EngineSnapshot) {
        let acc = &self.accounts;
        s.seq = self.applied_seq;
        s.counters = self.counters;
        s.kill_switch = self.risk.is_killed();
        s.limits = Some(*self.risk.limits());
        s.adaptive_on = self.adaptive.on;
        s.accounts.clear();
        s.positions.clear();
        let ni = self.ledger.instruments() as u32;
        for a in 0..acc.id.len() {
            let v = self.ledger.value(a as u32, acc.balance[a], acc.leverage[a]);
            let from = s.positions.len() as u32;
            if self.ledger.open_positions(a as u32) > 0 {
                for i in 0..ni {
                    let p = self.ledger.position(a as u32, i);
                    if p.qty.raw() != 0 {
                        s.positions.push(PositionView {
                            account: a as u32,
                            instrument: i,
                            qty: p.qty,
                            avg_price: p.avg_price(),
                            unrealised: self.ledger.unrealised(a as u32, i),
                        });
                    }
                }
            }
            s.accounts.push(AccountView {
                index: a as u32,
                id: acc.id[a],
                currency: acc.currency[a],
                balance: v.balance,
                equity: v.equity,
                margin: v.margin,
                equity_hwm: acc.equity_hwm[a],
                margin_level: v.margin_level(),
                flags: acc.flags[a],
                leverage: acc.leverage[a],
                multiplier: acc.multiplier[a],
                percent: acc.percent[a],
                risk_fraction: acc.risk_fraction[a],
                drawdown_tolerance: acc.drawdown_tolerance[a],
                min_scale: acc.min_scale[a],
                max_scale: acc.max_scale[a],
                daily_loss_limit: acc.daily_loss_limit[a],
                fixed_lots: acc.fixed_lots[a],
                commission_per_lot: acc.commission_per_lot[a],
                margin_call_level: acc.margin_call_level[a],
                stop_out_level: acc.stop_out_level[a],
                cluster: acc.cluster[a],
                positions: (from, s.positions.len() as u32),
            });
        }
        s.tickets.clear();
        s.holdings.clear();
        for (&id, t) in &self.tickets {
            s.tickets.push(TicketView {
                ticket: id,
                instrument: t.instrument,
                side: t.side as u8,
                master_steps: t.book.master_open(),
                working: t.working,
                holdings_at: s.holdings.len() as u32,
            });
            s.holdings.extend_from_slice(t.book.holdings());
        }
        s.orders.clear();
        s.orders.extend(self.orders.iter().map(|(cl, o)| OrderView {
            cl_ord_id: cl,
            ticket: o.ticket,
            account: o.account,
            instrument: o.instrument,
            side: o.side,
            closing: o.closing,
            qty: o.qty,
            cum: o.cum,
        }));
        s.quotes.clear();
        s.quotes.extend((0..ni).map(|i| self.ledger.quote(i)));
    }
}
