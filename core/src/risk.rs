//! Pre-trade risk: every order passes here before anything reaches the wire.
//!
//! Pure: no clock, no I/O. Time enters as the event timestamp (`now_ns`) of the call; every
//! table is sized at construction. Checks, in the order they run:
//!
//! 1. kill switch engaged → [`RiskReject::KillSwitch`] (nothing that opens goes out until reset;
//!    closing orders pass: the book is close-only);
//! 2. the order is well formed (side, type, quantity > 0, limit price > 0, known account and
//!    instrument, ClOrdID not already open);
//! 3. per-order maximum quantity and notional;
//! 4. price collar: a limit price must lie within `collar_bps` of the latest reference price;
//! 5. per-account maximum open quantity, open notional and open orders, and the total number of
//!    open orders;
//! 6. orders-per-second throttle of the session.
//!
//! Notional is `qty × price` rounded up to the micro-unit (limit price, or the reference price
//! for market orders); all comparisons are exact integer arithmetic.
//!
//! The throttle is a token bucket on event timestamps whose `N` tokens each come back exactly
//! one second after they were spent (a sliding window): bursts of up to `N` pass at once, and no
//! window of one second ever holds more than `N` accepted orders. A refused order does not spend
//! a token.

use rustc_hash::FxHashMap;

use bytemuck::{Pod, Zeroable};

use crate::event::{ChildOrder, OrdType, Side};
use crate::num::{Money, Price, Qty, Rounding};

/// Nanoseconds in the throttle window.
pub const THROTTLE_WINDOW_NS: u64 = 1_000_000_000;

/// Why an order was refused. The numeric code is stable: it is journaled and reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum RiskReject {
    /// The kill switch is engaged.
    KillSwitch = 1,
    /// Quantity zero or negative, unknown side or order type, or a limit order without price.
    InvalidOrder = 2,
    /// Account index outside the configured accounts.
    UnknownAccount = 3,
    /// Instrument index outside the configured instruments.
    UnknownInstrument = 4,
    /// The ClOrdID is already open.
    DuplicateClOrdId = 5,
    /// Order quantity above the per-order maximum.
    MaxOrderQty = 6,
    /// Order notional above the per-order maximum.
    MaxOrderNotional = 7,
    /// No reference price yet (needed for the collar and for a market order's notional).
    NoReferencePrice = 8,
    /// Limit price outside the collar around the reference price.
    PriceCollar = 9,
    /// The account's open quantity would exceed its maximum.
    MaxAccountQty = 10,
    /// The account's open notional would exceed its maximum.
    MaxAccountNotional = 11,
    /// The account already has its maximum of open orders.
    MaxAccountOpenOrders = 12,
    /// The total of open orders is at its maximum.
    MaxOpenOrders = 13,
    /// The session sent its maximum of orders in the last second.
    Throttled = 14,
    /// Arithmetic overflow while checking (absurd quantity or price).
    Overflow = 15,
    /// The account's net position in the symbol would exceed its maximum quantity.
    MaxPositionQty = 16,
    /// The account's net position in the symbol would exceed its maximum notional.
    MaxPositionNotional = 17,
    /// The account's positions in all symbols would exceed its maximum total notional.
    MaxAccountPositionNotional = 18,
}

impl RiskReject {
    /// Every reason, in code order.
    pub const ALL: [RiskReject; 18] = [
        RiskReject::KillSwitch,
        RiskReject::InvalidOrder,
        RiskReject::UnknownAccount,
        RiskReject::UnknownInstrument,
        RiskReject::DuplicateClOrdId,
        RiskReject::MaxOrderQty,
        RiskReject::MaxOrderNotional,
        RiskReject::NoReferencePrice,
        RiskReject::PriceCollar,
        RiskReject::MaxAccountQty,
        RiskReject::MaxAccountNotional,
        RiskReject::MaxAccountOpenOrders,
        RiskReject::MaxOpenOrders,
        RiskReject::Throttled,
        RiskReject::Overflow,
        RiskReject::MaxPositionQty,
        RiskReject::MaxPositionNotional,
        RiskReject::MaxAccountPositionNotional,
    ];

    /// The stable numeric code.
    pub fn code(self) -> u16 {
        self as u16
    }

    /// From a journaled code.
    pub fn from_code(code: u16) -> Option<Self> {
        Self::ALL.iter().copied().find(|r| r.code() == code)
    }

    /// Short stable text (also used as FIX Text on rejects).
    pub fn text(self) -> &'static str {
        match self {
            RiskReject::KillSwitch => "kill switch engaged",
            RiskReject::InvalidOrder => "invalid order",
            RiskReject::UnknownAccount => "unknown account",
            RiskReject::UnknownInstrument => "unknown instrument",
            RiskReject::DuplicateClOrdId => "duplicate ClOrdID",
            RiskReject::MaxOrderQty => "order quantity above limit",
            RiskReject::MaxOrderNotional => "order notional above limit",
            RiskReject::NoReferencePrice => "no reference price",
            RiskReject::PriceCollar => "price outside collar",
            RiskReject::MaxAccountQty => "account open quantity above limit",
            RiskReject::MaxAccountNotional => "account open notional above limit",
            RiskReject::MaxAccountOpenOrders => "account open orders at limit",
            RiskReject::MaxOpenOrders => "open orders at limit",
            RiskReject::Throttled => "order rate above limit",
            RiskReject::Overflow => "arithmetic overflow",
            RiskReject::MaxPositionQty => "position quantity above limit",
            RiskReject::MaxPositionNotional => "position notional above limit",
            RiskReject::MaxAccountPositionNotional => "account position notional above limit",
        }
    }
}

impl std::fmt::Display for RiskReject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "risk reject {}: {}", self.code(), self.text())
    }
}

impl std::error::Error for RiskReject {}

/// What the engine journals for a refused order (Pod, 32 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
#[repr(C)]
pub struct RiskRejectRecord {
    /// Event timestamp of the check (ns).
    pub ts_ns: u64,
    /// The refused order.
    pub cl_ord_id: u64,
    /// Account index.
    pub account: u32,
    /// Instrument index.
    pub instrument: u32,
    /// [`RiskReject::code`].
    pub code: u16,
    /// Session the order came from.
    pub session: u16,
    /// Reserved, zero.
    pub _pad: [u8; 4],
}

/// Limits, all inclusive (a value equal to the limit passes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RiskLimits {
    /// Largest quantity of one order.
    pub max_order_qty: Qty,
    /// Largest notional of one order.
    pub max_order_notional: Money,
    /// Largest open (unfilled) quantity per account, summed over its open orders.
    pub max_account_qty: Qty,
    /// Largest open notional per account.
    pub max_account_notional: Money,
    /// Largest number of open orders per account.
    pub max_account_open_orders: u32,
    /// Largest number of open orders in total.
    pub max_open_orders: u32,
    /// Price collar in basis points of the reference price (`None`: no collar).
    pub collar_bps: Option<u32>,
    /// Orders per second per session (at least 1).
    pub max_orders_per_sec: u32,
    /// Largest net position of one account in one symbol, counting its working opening
    /// orders (checked by the engine against the ledger, for per-account children and for each
    /// account's share of a block).
    pub max_position_qty: Qty,
    /// Largest notional of that net position at the reference price, in the quote currency.
    pub max_position_notional: Money,
    /// Largest Σ over symbols of an account's position notionals, in the account currency.
    pub max_account_position_notional: Money,
}

/// An order the risk book counts as open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenOrder {
    /// ClOrdID.
    pub cl_ord_id: u64,
    /// Account index (`u32::MAX` for block orders).
    pub account: u32,
    /// Instrument index.
    pub instrument: u32,
    /// Side.
    pub side: Side,
    /// Quantity still open.
    pub leaves: Qty,
    /// Price the notional is counted at.
    pub price: Price,
    /// Session it was sent on.
    pub session: u16,
}

#[derive(Debug, Clone, Copy, Default)]
struct AccountExposure {
    qty: i64,
    notional: i64,
    orders: u32,
}

/// The state of a [`RiskBook`] besides its limits, for checkpoints
/// ([`RiskBook::snapshot`], [`RiskBook::restore`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskSnapshot {
    /// Latest reference price per instrument.
    pub reference: Vec<Option<Price>>,
    /// Per session: the throttle's token stamps, next slot and tokens used.
    pub throttles: Vec<(Vec<u64>, u64, u64)>,
    /// Open orders, sorted by ClOrdID.
    pub open: Vec<OpenOrder>,
    /// Kill switch engaged.
    pub killed: bool,
}

/// Sliding-window token bucket: `stamps` holds the time each of the last N tokens was spent.
#[derive(Debug, Clone)]
struct Throttle {
    stamps: Box<[u64]>,
    next: usize,
    used: usize,
}

impl Throttle {
    fn new(n: u32) -> Self {
        Self {
            stamps: vec![0; n.max(1) as usize].into_boxed_slice(),
            next: 0,
            used: 0,
        }
    }
    /// True if a token is free at `now_ns` (the oldest spent one is at least a window old).
    fn available(&self, now_ns: u64) -> bool {
        self.used < self.stamps.len()
            || now_ns.saturating_sub(self.stamps[self.next]) >= THROTTLE_WINDOW_NS
    }
    fn spend(&mut self, now_ns: u64) {
        self.stamps[self.next] = now_ns;
        self.next = (self.next + 1) % self.stamps.len();
        self.used = (self.used + 1).min(self.stamps.len());
    }
}

/// The pre-trade risk book: limits, reference prices, open orders, throttles, kill switch.
#[derive(Debug, Clone)]
pub struct RiskBook {
    limits: RiskLimits,
    /// Per account index; the last slot holds block orders (`account == u32::MAX`).
    accounts: Box<[AccountExposure]>,
    reference: Box<[Option<Price>]>,
    throttles: Box<[Throttle]>,
    /// Open orders by ClOrdID (FxHash: one lookup per order sent and per fill).
    open: FxHashMap<u64, OpenOrder>,
    killed: bool,
}

impl RiskBook {
    /// A book for `accounts` account indexes, `instruments` instrument indexes and `sessions`
    /// session ids, with room for `limits.max_open_orders` open orders reserved up front.
    pub fn new(limits: RiskLimits, accounts: u32, instruments: u32, sessions: u16) -> Self {
        Self {
            limits,
            accounts: vec![AccountExposure::default(); accounts as usize + 1].into_boxed_slice(),
            reference: vec![None; instruments as usize].into_boxed_slice(),
            throttles: (0..sessions)
                .map(|_| Throttle::new(limits.max_orders_per_sec))
                .collect(),
            open: FxHashMap::with_capacity_and_hasher(
                limits.max_open_orders as usize,
                Default::default(),
            ),
            killed: false,
        }
    }

    /// One more account index, with nothing open (the block slot stays last).
    pub fn add_account(&mut self) {
        let mut v = std::mem::take(&mut self.accounts).into_vec();
        v.insert(v.len() - 1, AccountExposure::default());
        self.accounts = v.into_boxed_slice();
    }

    /// The configured limits.
    pub fn limits(&self) -> &RiskLimits {
        &self.limits
    }

    /// Takes `limits` from the next check on, except `max_orders_per_sec`, which stays (the
    /// throttles' token buckets are sized by it).
    pub fn set_limits(&mut self, limits: RiskLimits) {
        self.limits = RiskLimits {
            max_orders_per_sec: self.limits.max_orders_per_sec,
            ..limits
        };
    }

    /// Sets the latest reference price of `instrument` (ignored for unknown instruments).
    pub fn set_reference_price(&mut self, instrument: u32, price: Price) {
        if let Some(r) = self.reference.get_mut(instrument as usize) {
            *r = Some(price);
        }
    }

    fn account_slot(&self, account: u32) -> Option<usize> {
        if account == u32::MAX {
            Some(self.accounts.len() - 1)
        } else if (account as usize) < self.accounts.len() - 1 {
            Some(account as usize)
        } else {
            None
        }
    }

    /// Checks `order` sent on `session` at event time `now_ns`. On success the order counts as
    /// open (its quantity and notional reserved, a throttle token spent); on refusal nothing
    /// changes.
    pub fn check_new(
        &mut self,
        order: &ChildOrder,
        session: u16,
        now_ns: u64,
    ) -> Result<(), RiskReject> {
        self.check_order(order, session, now_ns, false)
    }

    /// As [`check_new`](Self::check_new); a `closing` order (one that reduces a position)
    /// passes an engaged kill switch: the switch makes the book close-only, and a stop-out
    /// must still leave. Every other limit applies.
    pub fn check_order(
        &mut self,
        order: &ChildOrder,
        session: u16,
        now_ns: u64,
        closing: bool,
    ) -> Result<(), RiskReject> {
        use RiskReject as R;
        if self.killed && !closing {
            return Err(R::KillSwitch);
        }
        let side = Side::from_u8(order.side).ok_or(R::InvalidOrder)?;
        let is_limit = match order.ord_type {
            t if t == OrdType::Limit as u8 => true,
            t if t == OrdType::Market as u8 => false,
            _ => return Err(R::InvalidOrder),
        };
        if order.qty.raw() <= 0 || (is_limit && order.price.raw() <= 0) {
            return Err(R::InvalidOrder);
        }
        let slot = self.account_slot(order.account).ok_or(R::UnknownAccount)?;
        let reference = *self
            .reference
            .get(order.instrument as usize)
            .ok_or(R::UnknownInstrument)?;
        if self.throttles.get(usize::from(session)).is_none() {
            return Err(R::InvalidOrder);
        }
        if self.open.contains_key(&order.cl_ord_id) {
            return Err(R::DuplicateClOrdId);
        }
        let l = self.limits;
        if order.qty > l.max_order_qty {
            return Err(R::MaxOrderQty);
        }
        let price = if is_limit {
            order.price
        } else {
            reference.ok_or(R::NoReferencePrice)?
        };
        if is_limit {
            if let Some(bps) = l.collar_bps {
                let r = reference.ok_or(R::NoReferencePrice)?;
                // |price − ref| ≤ ref × bps / 10 000, cross-multiplied: exact.
                let dev = (i128::from(price.raw()) - i128::from(r.raw())).abs() * 10_000;
                if dev > i128::from(r.raw()) * i128::from(bps) {
                    return Err(R::PriceCollar);
                }
            }
        }
        let notional =
            Money::notional(order.qty, price, Rounding::Ceil).map_err(|_| R::Overflow)?;
        if notional > l.max_order_notional {
            return Err(R::MaxOrderNotional);
        }
        let acct = self.accounts[slot];
        let qty = acct.qty.checked_add(order.qty.raw()).ok_or(R::Overflow)?;
        let not = acct
            .notional
            .checked_add(notional.raw())
            .ok_or(R::Overflow)?;
        if qty > l.max_account_qty.raw() {
            return Err(R::MaxAccountQty);
        }
        if not > l.max_account_notional.raw() {
            return Err(R::MaxAccountNotional);
        }
        if acct.orders >= l.max_account_open_orders {
            return Err(R::MaxAccountOpenOrders);
        }
        if self.open.len() >= l.max_open_orders as usize {
            return Err(R::MaxOpenOrders);
        }
        let throttle = &mut self.throttles[usize::from(session)];
        if !throttle.available(now_ns) {
            return Err(R::Throttled);
        }
        // Accepted: reserve.
        throttle.spend(now_ns);
        self.accounts[slot] = AccountExposure {
            qty,
            notional: not,
            orders: acct.orders + 1,
        };
        self.open.insert(
            order.cl_ord_id,
            OpenOrder {
                cl_ord_id: order.cl_ord_id,
                account: order.account,
                instrument: order.instrument,
                side,
                leaves: order.qty,
                price,
                session,
            },
        );
        Ok(())
    }

    /// Position limits of one account in one symbol: `net_before` and `net_after` the order
    /// (signed, working opening orders included). An order that does not make the position
    /// larger always passes (a close must never be kept from closing).
    pub fn check_position(
        &self,
        instrument: u32,
        net_before: i64,
        net_after: i64,
    ) -> Result<(), RiskReject> {
        use RiskReject as R;
        if net_after.unsigned_abs() <= net_before.unsigned_abs()
            && (net_before >= 0) == (net_after >= 0)
        {
            return Ok(());
        }
        let l = &self.limits;
        if net_after.unsigned_abs() > l.max_position_qty.raw().unsigned_abs() {
            return Err(R::MaxPositionQty);
        }
        if let Some(Some(px)) = self.reference.get(instrument as usize) {
            let n = Money::notional(Qty(net_after.saturating_abs()), *px, Rounding::Ceil)
                .map_err(|_| R::Overflow)?;
            if n > l.max_position_notional {
                return Err(R::MaxPositionNotional);
            }
        }
        Ok(())
    }

    /// As [`check_new`](Self::check_new), returning the journal record on refusal.
    pub fn check_new_record(
        &mut self,
        order: &ChildOrder,
        session: u16,
        now_ns: u64,
    ) -> Result<(), (RiskReject, RiskRejectRecord)> {
        self.check_record(order, session, now_ns, false)
    }

    /// As [`check_order`](Self::check_order), returning the journal record on refusal.
    pub fn check_record(
        &mut self,
        order: &ChildOrder,
        session: u16,
        now_ns: u64,
        closing: bool,
    ) -> Result<(), (RiskReject, RiskRejectRecord)> {
        self.check_order(order, session, now_ns, closing)
            .map_err(|r| {
                (
                    r,
                    RiskRejectRecord {
                        ts_ns: now_ns,
                        cl_ord_id: order.cl_ord_id,
                        account: order.account,
                        instrument: order.instrument,
                        code: r.code(),
                        session,
                        _pad: [0; 4],
                    },
                )
            })
    }

    fn release(&mut self, o: &OpenOrder, qty: Qty) {
        let Some(slot) = self.account_slot(o.account) else {
            return;
        };
        // Release exactly what was reserved for `qty` (ceil rounding at both ends of the order's
        // life would drift; recomputing from the remaining leaves keeps the sum exact).
        let before = Money::notional(o.leaves, o.price, Rounding::Ceil).map_or(0, |m| m.raw());
        let left = o.leaves.raw() - qty.raw();
        // Nothing left (a complete fill, a cancel): nothing is reserved for it.
        let after = if left == 0 {
            0
        } else {
            Money::notional(Qty(left), o.price, Rounding::Ceil).map_or(0, |m| m.raw())
        };
        let a = &mut self.accounts[slot];
        a.qty -= qty.raw();
        a.notional -= before - after;
    }

    /// Applies a fill of `last_qty` to an open order; the order closes when nothing is left.
    /// Unknown ClOrdIDs (already closed) are ignored. Returns the quantity still open.
    pub fn on_fill(&mut self, cl_ord_id: u64, last_qty: Qty) -> Option<Qty> {
        let mut o = *self.open.get(&cl_ord_id)?;
        let q = Qty(last_qty.raw().clamp(0, o.leaves.raw()));
        self.release(&o, q);
        o.leaves = Qty(o.leaves.raw() - q.raw());
        if o.leaves.raw() == 0 {
            self.close(cl_ord_id);
        } else {
            self.open.insert(cl_ord_id, o);
        }
        Some(o.leaves)
    }

    /// Closes an order (cancelled, rejected by the peer, expired), releasing what it held.
    pub fn on_done(&mut self, cl_ord_id: u64) -> bool {
        let Some(o) = self.open.get(&cl_ord_id).copied() else {
            return false;
        };
        self.release(&o, o.leaves);
        self.close(cl_ord_id);
        true
    }

    fn close(&mut self, cl_ord_id: u64) {
        if let Some(o) = self.open.remove(&cl_ord_id) {
            if let Some(slot) = self.account_slot(o.account) {
                self.accounts[slot].orders -= 1;
            }
        }
    }

    /// Engages the kill switch: from this call on every new order is refused. Returns the open
    /// orders, sorted by ClOrdID, for the engine to cancel (they stay open here until their
    /// cancels are confirmed through [`on_done`](Self::on_done)).
    pub fn kill(&mut self) -> Vec<OpenOrder> {
        self.killed = true;
        self.open_orders()
    }

    /// Releases the kill switch.
    pub fn reset_kill(&mut self) {
        self.killed = false;
    }

    /// True while the kill switch is engaged.
    pub fn is_killed(&self) -> bool {
        self.killed
    }

    /// Open orders sorted by ClOrdID.
    pub fn open_orders(&self) -> Vec<OpenOrder> {
        let mut v: Vec<OpenOrder> = self.open.values().copied().collect();
        v.sort_by_key(|o| o.cl_ord_id);
        v
    }

    /// Number of open orders.
    pub fn open_count(&self) -> usize {
        self.open.len()
    }

    /// Everything the book holds besides its limits and sizes, for engine checkpoints
    /// (open orders sorted by ClOrdID, so equal books give equal snapshots).
    pub fn snapshot(&self) -> RiskSnapshot {
        RiskSnapshot {
            reference: self.reference.to_vec(),
            throttles: self
                .throttles
                .iter()
                .map(|t| (t.stamps.to_vec(), t.next as u64, t.used as u64))
                .collect(),
            open: self.open_orders(),
            killed: self.killed,
        }
    }

    /// A book with these limits and sizes holding `snap` (from [`snapshot`](Self::snapshot)).
    /// Account exposures are recomputed from the open orders (they are exactly the sums of
    /// their leaves and ceil-rounded notionals). `None` if `snap` does not fit the sizes.
    pub fn restore(
        limits: RiskLimits,
        accounts: u32,
        instruments: u32,
        sessions: u16,
        snap: &RiskSnapshot,
    ) -> Option<Self> {
        let mut b = Self::new(limits, accounts, instruments, sessions);
        if snap.reference.len() != b.reference.len() || snap.throttles.len() != b.throttles.len() {
            return None;
        }
        b.reference.copy_from_slice(&snap.reference);
        for (t, (stamps, next, used)) in b.throttles.iter_mut().zip(&snap.throttles) {
            if stamps.len() != t.stamps.len()
                || *next as usize >= stamps.len()
                || *used as usize > stamps.len()
            {
                return None;
            }
            t.stamps.copy_from_slice(stamps);
            t.next = *next as usize;
            t.used = *used as usize;
        }
        for o in &snap.open {
            let slot = b.account_slot(o.account)?;
            let n = Money::notional(o.leaves, o.price, Rounding::Ceil).ok()?;
            let a = &mut b.accounts[slot];
            a.qty = a.qty.checked_add(o.leaves.raw())?;
            a.notional = a.notional.checked_add(n.raw())?;
            a.orders += 1;
            if b.open.insert(o.cl_ord_id, *o).is_some() {
                return None;
            }
        }
        b.killed = snap.killed;
        Some(b)
    }

    /// Open quantity and notional of `account` (`u32::MAX`: block orders).
    pub fn account_exposure(&self, account: u32) -> Option<(Qty, Money, u32)> {
        let a = self.accounts[self.account_slot(account)?];
        Some((Qty(a.qty), Money(a.notional), a.orders))
    }
}
