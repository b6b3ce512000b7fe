//! What the engine remembers between inputs besides the accounts: master tickets, the orders
//! it has open, and counters.

use crate::alloc::fill::BlockFill;
use crate::alloc::ticket::MasterTicket;
use crate::event::Side;
use crate::num::{Price, Qty};

/// One master ticket.
#[derive(Debug, Clone)]
pub(super) struct TicketState {
    /// Instrument id.
    pub instrument: u32,
    /// Side of the master position.
    pub side: Side,
    /// Each account's open steps: what filled, less what closing orders in flight take away
    /// (given back if they do not fill). Never more than the account holds.
    pub book: MasterTicket,
    /// Orders of this ticket still working (the ticket stays until they are done).
    pub working: u32,
}

/// A block order's fill allocation. The [`BlockFill`] is rebuilt on recovery by applying the
/// recorded increments again to a fresh one (same inputs, same result), so only the targets
/// and the increments are stored.
#[derive(Debug, Clone)]
pub(super) struct BlockState {
    /// One lot step in base units.
    pub step_qty: Qty,
    /// The fill state.
    pub fill: BlockFill,
    /// Every increment applied: quantity, price, rotation cursor used.
    pub history: Vec<(Qty, Price, u64)>,
}

/// An order the engine sent and has not seen finish.
#[derive(Debug, Clone)]
pub(super) struct OrderState {
    /// Master ticket.
    pub ticket: u64,
    /// Account index (`u32::MAX`: block).
    pub account: u32,
    /// Instrument id.
    pub instrument: u32,
    /// Side as `u8`.
    pub side: u8,
    /// True for a closing order.
    pub closing: bool,
    /// Order quantity.
    pub qty: Qty,
    /// Filled so far.
    pub cum: Qty,
    /// One lot step of the instrument in base units (holdings count whole steps).
    pub step_qty: Qty,
    /// Block orders: the allocation of their fills.
    pub block: Option<Box<BlockState>>,
    /// The manager's order it works for (0: the engine's own).
    pub order_id: u64,
}

/// What the engine did, counted (part of the state: equal runs give equal counters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EngineCounters {
    /// Inputs applied (all kinds).
    pub inputs: u64,
    /// Master opens applied.
    pub opens: u64,
    /// Master closes applied.
    pub closes: u64,
    /// Deposits and withdrawals applied.
    pub balance_changes: u64,
    /// Fill inputs with a positive quantity applied.
    pub fills: u64,
    /// Market events seen.
    pub market_events: u64,
    /// Risk commands applied.
    pub risk_commands: u64,
    /// Orders emitted.
    pub orders: u64,
    /// Per-account child orders among them.
    pub child_orders: u64,
    /// Block orders among them.
    pub block_orders: u64,
    /// Orders refused by pre-trade risk.
    pub risk_rejects: u64,
    /// Inputs refused.
    pub refused: u64,
    /// Orders completely filled.
    pub orders_filled: u64,
    /// Orders finished (cancelled or rejected by the LP) before completely filled.
    pub orders_cancelled: u64,
    /// Tickets closed to exactly zero in every account.
    pub tickets_flat: u64,
    /// Invariant checks run.
    pub invariant_checks: u64,
    /// Invariant checks failed (must stay 0).
    pub invariant_failures: u64,
    /// Σ money residual of completed blocks (block notional − Σ account notionals), micro-units.
    pub money_residual: i64,
    /// Σ quantity filled, base units × 1e6.
    pub filled_qty: i64,
    /// Limit events journaled (margin calls, stop-outs, loss limits, lifts).
    pub limit_events: u64,
    /// Margin calls raised.
    pub margin_calls: u64,
    /// Stop-outs (each closes one position).
    pub stop_outs: u64,
    /// Daily-loss and drawdown limits crossed.
    pub limit_holds: u64,
    /// Orders the engine sent on its own (stop-outs, flattening).
    pub limit_orders: u64,
    /// Cancel requests sent to LPs (encoded with the lifecycle state, not in the array).
    pub cancel_requests: u64,
    /// Pending masters, stop-losses and take-profits triggered (likewise).
    pub triggers: u64,
}

impl EngineCounters {
    /// The counters as an array, in field order (for encoding).
    pub(super) fn to_array(self) -> [u64; 24] {
        [
            self.inputs,
            self.opens,
            self.closes,
            self.balance_changes,
            self.fills,
            self.market_events,
            self.risk_commands,
            self.orders,
            self.child_orders,
            self.block_orders,
            self.risk_rejects,
            self.refused,
            self.orders_filled,
            self.orders_cancelled,
            self.tickets_flat,
            self.invariant_checks,
            self.invariant_failures,
            self.money_residual as u64,
            self.filled_qty as u64,
            self.limit_events,
            self.margin_calls,
            self.stop_outs,
            self.limit_holds,
            self.limit_orders,
        ]
    }

    /// Back from [`to_array`](Self::to_array).
    pub(super) fn from_array(a: [u64; 24]) -> Self {
        EngineCounters {
            inputs: a[0],
            opens: a[1],
            closes: a[2],
            balance_changes: a[3],
            fills: a[4],
            market_events: a[5],
            risk_commands: a[6],
            orders: a[7],
            child_orders: a[8],
            block_orders: a[9],
            risk_rejects: a[10],
            refused: a[11],
            orders_filled: a[12],
            orders_cancelled: a[13],
            tickets_flat: a[14],
            invariant_checks: a[15],
            invariant_failures: a[16],
            money_residual: a[17] as i64,
            filled_qty: a[18] as i64,
            limit_events: a[19],
            margin_calls: a[20],
            stop_outs: a[21],
            limit_holds: a[22],
            limit_orders: a[23],
            cancel_requests: 0,
            triggers: 0,
        }
    }

    /// Records one invariant check.
    pub(super) fn check(&mut self, ok: bool) {
        self.invariant_checks += 1;
        if !ok {
            self.invariant_failures += 1;
        }
    }
}
