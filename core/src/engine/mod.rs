//! The engine: a deterministic state machine `(state, input) → (state, decisions)`.
//!
//! Every [`Input`] is appended to the [`Journal`](crate::journal::Journal) before the engine
//! acts on it; every decision (each [`ChildOrder`](crate::event::ChildOrder) emitted, each
//! pre-trade risk reject, each allocation summary, each refused input) is appended right after
//! it, and only then are the orders handed to the caller. Time enters only as the timestamps
//! inside inputs; nothing reads a clock, a random source or a hash-map order, so replaying the
//! same inputs gives bit-identical state and decisions on any machine.
//!
//! - [`input`]: the input records (Pod, one journal kind each);
//! - [`decision`]: the decision records and their readable form;
//! - `state`: tickets, open orders, counters;
//! - `apply`: what each input does;
//! - `codec`: the whole state as bytes ([`Engine::state_bytes`], [`Engine::digest`]);
//! - `checkpoint`, `recover`: crash-safe checkpoints and journal replay.
//!
//! ClOrdIDs: the `k`-th order caused by the input journaled at sequence `s` gets
//! `s × 2^24 + k`. Sequence numbers are never reused, so ClOrdIDs are unique across restarts.
//! `docs/engine.md` has the whole story.

pub mod account_add;
pub mod account_change;
mod adapt;
mod apply;
mod checkpoint;
mod codec;
pub mod decision;
pub mod input;
pub mod lifecycle;
pub mod limits;
pub mod model_mark;
mod order_map;
pub mod origin;
mod rebalance;
mod recover;
pub mod risk_change;
pub mod snapshot;
mod state;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::PathBuf;

use thiserror::Error;

use crate::account::AccountVecs;
use crate::adaptive::{AdaptiveModel, AdaptiveState};
use crate::alloc::model::Workspace;
use crate::alloc::Scratch;
use crate::journal::JournalError;
use crate::ledger::{Ledger, Valuation};
use crate::num::{Money, Price, Qty};
use crate::risk::{RiskBook, RiskLimits};
use crate::symbol::SymbolTable;

pub use checkpoint::{
    checkpoint_name, read_checkpoint, Checkpoint, CURRENT_FILE, STATE_MAGIC, STATE_VERSION,
};
pub use codec::fnv1a;
pub use decision::Decision;
pub use input::Input;
use order_map::OrderMap;
pub use recover::Recovered;
pub use state::EngineCounters;
use state::TicketState;

/// Bits of a ClOrdID that number the orders of one input (`s × 2^24 + k`).
pub const CL_ORD_ID_SHIFT: u32 = 24;

/// Largest number of accounts an engine takes (every order of one input needs its own
/// ClOrdID below `2^24`).
pub const MAX_ACCOUNTS: usize = (1 << CL_ORD_ID_SHIFT) - 1;

/// Largest `max_orders_per_sec` and `max_open_orders` (the risk book allocates both up front).
pub const MAX_TABLE: u32 = 10_000_000;

/// Engine settings (journaled in every checkpoint).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineConfig {
    /// Pre-trade risk limits.
    pub risk: RiskLimits,
    /// Session id orders are checked and throttled under.
    pub session: u16,
    /// LP / route id written into every order.
    pub route: u16,
}

impl EngineConfig {
    /// Limits wide enough for demos and tests: 1,000 lots per order, 100,000 open orders,
    /// 200,000 orders per second,
    /// no collar.
    pub fn permissive() -> Self {
        EngineConfig {
            risk: RiskLimits {
                max_order_qty: Qty(100_000_000 * Qty::ONE_RAW),
                max_order_notional: Money(1_000_000_000_000 * Money::ONE_RAW / 100),
                max_account_qty: Qty(1_000_000_000 * Qty::ONE_RAW),
                max_account_notional: Money(i64::MAX / 4),
                max_account_open_orders: 1_000,
                max_open_orders: 100_000,
                collar_bps: None,
                max_orders_per_sec: 200_000,
                max_position_qty: Qty(i64::MAX / 4),
                max_position_notional: Money(i64::MAX / 4),
                max_account_position_notional: Money(i64::MAX / 4),
            },
            session: 0,
            route: 1,
        }
    }
}

/// An engine failure. Bad inputs are never errors (they are journaled as refused); these are
/// failures of the files underneath or of determinism itself.
#[derive(Debug, Error)]
pub enum EngineError {
    /// The journal failed.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The account store of a checkpoint failed.
    #[error(transparent)]
    Store(#[from] crate::account::store::StoreError),
    /// A file or directory operation failed.
    #[error("{what} {}: {error}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// The OS error.
        error: std::io::Error,
    },
    /// A checkpoint is missing, damaged or inconsistent.
    #[error("checkpoint {}: {why}", path.display())]
    Checkpoint {
        /// File or directory.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// Replay computed a decision different from the journaled one: the engine is not
    /// deterministic, or the journal or checkpoint belongs to another engine.
    #[error("determinism violation at journal seq {seq}: {why}")]
    Determinism {
        /// Journal sequence of the record that differs.
        seq: u64,
        /// What differs.
        why: String,
    },
    /// The journal does not hold the records the checkpoint needs.
    #[error("journal {}: {why}", dir.display())]
    JournalGap {
        /// Journal directory.
        dir: PathBuf,
        /// What is missing.
        why: String,
    },
    /// The engine's configuration is unusable.
    #[error("engine configuration: {0}")]
    Config(String),
}

/// The engine (see the module docs).
#[derive(Debug)]
pub struct Engine {
    symbols: SymbolTable,
    config: EngineConfig,
    accounts: AccountVecs,
    tickets: BTreeMap<u64, TicketState>,
    orders: OrderMap,
    rotation: u64,
    reference: Vec<Option<Price>>,
    risk: RiskBook,
    ledger: Ledger,
    adaptive: AdaptiveState,
    life: lifecycle::Lifecycle,
    limit_state: Vec<limits::LimitState>,
    day: u64,
    watch: limits::Watch,
    next_k: u64,
    touched: Vec<u32>,
    /// Per account × instrument: signed quantity of working opening orders.
    working: Vec<i64>,
    /// Per account × instrument: signed quantity of working closing orders.
    closing_w: Vec<i64>,
    /// Per account × instrument: signed quantity of the engine's own working limit orders.
    limit_w: Vec<i64>,
    ni: usize,
    counters: EngineCounters,
    applied_seq: u64,
    // Reused buffers (not state).
    ws: Workspace,
    scratch: Scratch,
    buf: Vec<u64>,
    buf2: Vec<u64>,
    /// The flags column with every other manager's accounts masked out (several managers).
    manager_flags: Vec<u16>,
    /// Some account follows a manager other than 0 (derived from the accounts: found at
    /// construction, set by an account change or add that makes it so; never journaled).
    several_managers: bool,
    /// Equity weights of a rebalance.
    ws_rebalance: Vec<u64>,
    decisions: Vec<Decision>,
    exposures: Vec<(u32, i64)>,
}

impl Engine {
    /// A fresh engine over `accounts` (nothing applied yet: sequence 0).
    pub fn new(
        symbols: SymbolTable,
        accounts: AccountVecs,
        config: EngineConfig,
    ) -> Result<Self, EngineError> {
        let n = accounts.id.len();
        if n > MAX_ACCOUNTS {
            return Err(EngineError::Config(format!(
                "{n} accounts, at most {MAX_ACCOUNTS}"
            )));
        }
        // The risk book sizes its throttle and open-order table up front from these.
        let (rate, open) = (config.risk.max_orders_per_sec, config.risk.max_open_orders);
        if rate == 0 || rate > MAX_TABLE || open > MAX_TABLE {
            return Err(EngineError::Config(format!(
                "max_orders_per_sec {rate} must be 1..={MAX_TABLE}, max_open_orders {open} at \
                 most {MAX_TABLE}"
            )));
        }
        let instruments = symbols.iter().count();
        let risk = RiskBook::new(
            config.risk,
            n as u32,
            instruments as u32,
            config.session.saturating_add(1),
        );
        let ledger = Ledger::new(&symbols, &accounts.currency);
        let mut accounts = accounts;
        // mam holds every position of its accounts: at first start none is open, so equity is
        // the balance and no margin is used, whatever the import said.
        for a in 0..n {
            apply::mark(&ledger, &mut accounts, a);
        }
        let adaptive = AdaptiveState::new(AdaptiveModel::untrained(), &symbols);
        Ok(Engine {
            adaptive,
            life: lifecycle::Lifecycle::new(instruments),
            limit_state: vec![limits::LimitState::default(); n],
            day: 0,
            watch: limits::Watch::new(n, instruments),
            next_k: 0,
            touched: Vec::new(),
            working: vec![0; n * instruments],
            closing_w: vec![0; n * instruments],
            limit_w: vec![0; n * instruments],
            ni: instruments,
            ledger,
            symbols,
            config,
            tickets: BTreeMap::new(),
            orders: OrderMap::default(),
            rotation: 0,
            reference: vec![None; instruments],
            risk,
            counters: EngineCounters::default(),
            applied_seq: 0,
            ws: Workspace::with_capacity(n),
            scratch: Scratch::with_capacity(n),
            buf: vec![0; n],
            buf2: vec![0; n],
            manager_flags: Vec::new(),
            several_managers: accounts
                .flags
                .iter()
                .any(|&f| crate::account::manager_of(f) != 0),
            ws_rebalance: Vec::new(),
            decisions: Vec::new(),
            exposures: Vec::new(),
            accounts,
        })
    }

    /// The accounts as the engine holds them.
    pub fn accounts(&self) -> &AccountVecs {
        &self.accounts
    }

    /// The settings.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The symbol table.
    pub fn symbols(&self) -> &SymbolTable {
        &self.symbols
    }

    /// Counters of what the engine did.
    pub fn counters(&self) -> &EngineCounters {
        &self.counters
    }

    /// Journal sequence of the last record whose effect the state holds.
    pub fn applied_seq(&self) -> u64 {
        self.applied_seq
    }

    /// The rotation cursor of the remainder tie-break.
    pub fn rotation(&self) -> u64 {
        self.rotation
    }

    /// Open master tickets.
    pub fn open_tickets(&self) -> usize {
        self.tickets.len()
    }

    /// Orders the engine still tracks (not yet completely filled or done).
    pub fn open_orders(&self) -> usize {
        self.orders.len()
    }

    /// Each account's open steps in `ticket`, if the ticket is open.
    pub fn holdings(&self, ticket: u64) -> Option<&[u64]> {
        self.tickets.get(&ticket).map(|t| t.book.holdings())
    }

    /// Master steps still open in `ticket`, if the ticket is open.
    pub fn master_open(&self, ticket: u64) -> Option<u64> {
        self.tickets.get(&ticket).map(|t| t.book.master_open())
    }

    /// Quantity and cumulative filled quantity of an order the engine still tracks; `None` once
    /// it is done (or was never sent). A fill whose cumulative quantity is not above `cum` is
    /// one the engine already holds (a resend after a restart) and must be dropped.
    pub fn order_progress(&self, cl_ord_id: u64) -> Option<(Qty, Qty)> {
        self.orders.get(&cl_ord_id).map(|o| (o.qty, o.cum))
    }

    /// ClOrdIDs of the orders the engine still tracks, ascending.
    pub fn open_order_ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.orders.keys()
    }

    /// The decisions of the last input applied (in journal order).
    pub fn last_decisions(&self) -> &[Decision] {
        &self.decisions
    }

    /// The adaptive layer: its model, the factor state quotes moved, and its switch.
    pub fn adaptive(&self) -> &AdaptiveState {
        &self.adaptive
    }

    /// Runs `model` from now on. Call it before the first input (a fresh state) or right after
    /// recovery followed by a checkpoint: the checkpoint carries the model, so a replay of the
    /// journal after it runs the same one. The factor state restarts from the model's initial
    /// values; the switch and the counter stay.
    pub fn set_adaptive_model(&mut self, model: AdaptiveModel) -> Result<(), EngineError> {
        model
            .validate()
            .map_err(|e| EngineError::Config(e.to_string()))?;
        let mut next = AdaptiveState::new(model, &self.symbols);
        next.on = self.adaptive.on;
        next.allocations = self.adaptive.allocations;
        self.adaptive = next;
        Ok(())
    }

    /// The ledger: positions, marks, P&L.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// What `account` is worth at the latest quotes the engine applied.
    pub fn valuation(&self, account: u32) -> Option<Valuation> {
        let a = account as usize;
        (a < self.accounts.id.len()).then(|| {
            self.ledger
                .value(account, self.accounts.balance[a], self.accounts.leverage[a])
        })
    }

    fn risk_reference(&self, instrument: u32) -> Option<Price> {
        self.reference.get(instrument as usize).copied().flatten()
    }

    /// Latest reference price of `instrument`.
    pub fn reference_price(&self, instrument: u32) -> Option<Price> {
        self.reference.get(instrument as usize).copied().flatten()
    }
}
