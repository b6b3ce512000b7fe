//! What each input does. [`Engine::step`] is the pure transition used both live
//! ([`Engine::apply`]) and in replay; it never fails: an input it cannot apply becomes a
//! journaled [`Refused`] decision and leaves the state as it was.

use super::decision::*;
use super::input::*;
use super::lifecycle::record::MAX_ORDER_ID;
use super::limits::LIMIT_TICKET;
use super::state::{BlockState, OrderState, TicketState};
use super::{Engine, EngineError, CL_ORD_ID_SHIFT};
use crate::account::{manager_of, AccountVecs};
use crate::alloc::fill::BlockFill;
use crate::alloc::model::{allocate, Basis, Order, StaticModel};
use crate::alloc::ticket::{MasterTicket, ResidualPolicy};
use crate::alloc::{LotLimits, MinLotPolicy, Mode};
use crate::event::{
    ChildOrder, ExecStatus, FillEvent, MarketEvent, MarketEventKind, OrdType, Side, ORD_TYPE_ALLOC,
};
use crate::journal::Journal;
use crate::ledger::{Ledger, Valuation};
use crate::num::{div_round_i128, Money, Price, Qty, Rounding};
use crate::risk::{RiskReject, RiskRejectRecord};

type Refusal = (RefusedCode, u64);

impl Engine {
    /// Journals `input`, applies it, journals its decisions, then hands each order to `out`
    /// (cancel requests too: `ord_type == ORD_TYPE_CANCEL`). [`Engine::last_decisions`]
    /// holds every decision, reports to the manager among them.
    /// Returns the input's journal sequence. On a journal error the engine must be dropped
    /// and recovered from disk (its memory may be ahead of the journal).
    pub fn apply(
        &mut self,
        input: &Input,
        journal: &mut Journal,
        mut out: impl FnMut(&ChildOrder),
    ) -> Result<u64, EngineError> {
        let seq = journal.append(input.kind(), input.bytes())?;
        let mut d = std::mem::take(&mut self.decisions);
        d.clear();
        self.step(seq, input, &mut d);
        let mut last = seq;
        for x in d.iter().filter(|x| x.is_journaled()) {
            last = journal.append(x.kind(), x.bytes())?;
        }
        self.applied_seq = last;
        for x in &d {
            if let Decision::Order(o) | Decision::Cancel(o) | Decision::Allocation(o) = x {
                out(o);
            }
        }
        self.decisions = d;
        Ok(seq)
    }

    /// Applies `input` as if journaled at the next sequence, without a journal: for
    /// benchmarks and what-if runs on a copy. An engine driven this way can no longer be
    /// recovered from its journal. Returns the decisions.
    pub fn apply_without_journal(&mut self, input: &Input) -> &[Decision] {
        let seq = self.applied_seq + 1;
        let mut d = std::mem::take(&mut self.decisions);
        d.clear();
        self.step(seq, input, &mut d);
        self.applied_seq = seq + d.iter().filter(|x| x.is_journaled()).count() as u64;
        self.decisions = d;
        &self.decisions
    }

    /// The transition: applies `input` (journaled at `seq`), pushing its decisions.
    pub(super) fn step(&mut self, seq: u64, input: &Input, d: &mut Vec<Decision>) {
        self.counters.inputs += 1;
        self.applied_seq = seq;
        self.next_k = 0;
        let first = d.len();
        // The filled order's instrument and side, for the slippage model (the fill may end it).
        let filled = match input {
            Input::Fill(f) => self
                .orders
                .get(&f.cl_ord_id)
                .map(|o| (o.instrument, o.side == Side::Buy as u8)),
            _ => None,
        };
        let r = match input {
            Input::Open(o) => self.open(seq, o, d),
            Input::Close(c) => self.close(seq, c, d),
            Input::Balance(b) => self.balance(seq, b, d),
            Input::Fill(f) => self.fill(seq, f, d),
            Input::Market(m) => {
                let r = self.market(m);
                if r.is_ok() && m.kind == MarketEventKind::Quote as u8 {
                    self.roll_day(m.source_ns, seq, d);
                    self.check_quote(m.instrument, m.source_ns, seq, d);
                    self.check_triggers(seq, m, d);
                }
                r
            }
            Input::Risk(r) => self.risk_command(seq, r, d),
            Input::Cancel(c) => self.cancel(seq, c, d),
            Input::Amend(a) => self.amend(seq, a, d),
            Input::Account(c) => self.account_change(seq, c, d),
            Input::Limit(c) => self.risk_limit_change(c),
            Input::AddAccount(a) => self.account_add(a),
        };
        self.learn_slippage(input, filled, &d[first..]);
        let refused = r.as_ref().err().map(|&(code, _)| code);
        if let Err((code, reference)) = r {
            self.counters.refused += 1;
            d.push(Decision::Refused(Refused {
                ts_ns: input.ts_ns(),
                input_seq: seq,
                reference,
                code: code as u16,
                input_kind: input.kind(),
                _pad: 0,
            }));
            self.on_refused(seq, input, code, d);
        }
        self.answer_manager(seq, input, refused, d);
    }

    /// Marks every account with an open position (the others' columns are current: they
    /// change only with their own fills and balance changes).
    /// Fills `manager_flags` with the flags column as manager `m`'s masters see it: every
    /// other manager's accounts as 0 (they may not open, so they weigh nothing). False, and
    /// nothing copied, while one manager is all there is: its masters read the column itself.
    pub(super) fn mask_other_managers(&mut self, m: u8) -> bool {
        if m == 0 && !self.several_managers {
            return false;
        }
        let flags = &self.accounts.flags;
        self.manager_flags.clear();
        self.manager_flags.extend(
            flags
                .iter()
                .map(|&f| if manager_of(f) == m { f } else { 0 }),
        );
        true
    }

    pub(super) fn mark_open_accounts(&mut self) {
        for a in 0..self.accounts.id.len() {
            if self.ledger.open_positions(a as u32) > 0 {
                mark(&self.ledger, &mut self.accounts, a);
            }
        }
    }

    pub(super) fn model_of(&self, o: &MasterOpen) -> Result<StaticModel, Refusal> {
        let bad = (RefusedCode::BadField, o.ticket);
        let spec = self
            .symbols
            .by_id(o.instrument)
            .ok_or((RefusedCode::UnknownInstrument, o.ticket))?;
        Ok(match o.model {
            model_code::EQUITY => StaticModel::Equity,
            model_code::BALANCE => StaticModel::Balance,
            model_code::FREE_MARGIN => StaticModel::FreeMargin,
            model_code::PERCENT => StaticModel::Percent,
            model_code::MULTIPLIER => StaticModel::Multiplier,
            model_code::FIXED => StaticModel::Fixed,
            model_code::RISK => StaticModel::Risk {
                sl_distance: o.sl_distance,
                quote_to_account: if o.quote_to_account.is_zero() {
                    Price(Price::ONE_RAW)
                } else {
                    o.quote_to_account
                },
                contract_size: spec.contract_size,
            },
            model_code::BALANCE_RATIO | model_code::EQUITY_RATIO => StaticModel::Ratio {
                basis: if o.model == model_code::BALANCE_RATIO {
                    Basis::Balance
                } else {
                    Basis::Equity
                },
                reference: o.reference,
            },
            _ => return Err(bad),
        })
    }

    pub(super) fn open(
        &mut self,
        seq: u64,
        o: &MasterOpen,
        d: &mut Vec<Decision>,
    ) -> Result<(), Refusal> {
        let t = o.ticket;
        let bad = (RefusedCode::BadField, t);
        if t == LIMIT_TICKET || t > MAX_ORDER_ID || t == 0 {
            // Reserved for the engine's own stop-out and flattening orders (and SL/TP bits).
            return Err(bad);
        }
        if o.policy & (POLICY_HELD_LIMIT | POLICY_HELD_STOP) != 0 {
            return self.hold(seq, o, d);
        }
        if self.risk.is_killed() {
            // Close-only: no new exposure while the kill switch is engaged.
            return Err((RefusedCode::KillSwitch, t));
        }
        let spec = *self
            .symbols
            .by_id(o.instrument)
            .ok_or((RefusedCode::UnknownInstrument, t))?;
        let side = Side::from_u8(o.side).ok_or(bad)?;
        let mode = match o.mode {
            MODE_BLOCK => Mode::Block,
            MODE_PER_ACCOUNT => Mode::PerAccount,
            _ => return Err(bad),
        };
        let adaptive = o.policy & POLICY_ADAPTIVE != 0 && self.adaptive.on;
        let policy = match o.policy & !POLICY_ADAPTIVE {
            0 => MinLotPolicy::Zero,
            1 => MinLotPolicy::RoundUp,
            _ => return Err(bad),
        };
        let model = self.model_of(o)?;
        if let Some(ts) = self.tickets.get(&t) {
            if ts.instrument != o.instrument || ts.side != side {
                return Err((RefusedCode::TicketMismatch, t));
            }
        }
        let limits = LotLimits::of(&spec);
        let order = Order {
            lots: o.lots,
            model,
            policy,
            mode,
            rotation: self.rotation,
        };
        if model.reads_equity() || adaptive {
            // The models (and the adaptive layer's drawdown and margin factors) read equity
            // and margin as of the latest quote journaled.
            self.mark_open_accounts();
        }
        let mut alloc = std::mem::take(&mut self.buf);
        let masked = self.mask_other_managers(manager_of_order(t));
        let mut cols = self.accounts.columns();
        if masked {
            cols.flags = &self.manager_flags;
        }
        let a = allocate(&cols, limits, &order, &mut alloc, &mut self.ws);
        let result = (|| {
            let mut a = a.map_err(|_| (RefusedCode::BadRequest, t))?;
            if adaptive && a.allocated > 0 {
                let step_qty = limits
                    .qty_of(&spec, 1)
                    .map_err(|_| (RefusedCode::Overflow, t))?;
                let req = super::adapt::AdaptRequest {
                    seq,
                    ts: o.ts_ns,
                    ticket: t,
                    instrument: o.instrument,
                    side,
                    spec: &spec,
                    limits,
                    policy,
                    requested: a.requested,
                    step_qty,
                };
                a.allocated = self.adapt(&req, &mut alloc, d);
                a.unallocated = a.demand as i64 - a.allocated as i64;
            }
            if a.allocated == 0 {
                return Err((RefusedCode::NothingAllocated, t));
            }
            let step_qty = limits
                .qty_of(&spec, 1)
                .map_err(|_| (RefusedCode::Overflow, t))?;
            let total_qty = step_qty
                .checked_mul_int(a.allocated as i64)
                .map_err(|_| (RefusedCode::Overflow, t))?;
            self.counters.opens += 1;
            self.rotation = self.rotation.wrapping_add(a.dealt);
            let mut sum = Summary::new(seq, o.ts_ns, t, ACTION_OPEN, o.mode, o.model);
            sum.s.requested = a.requested;
            sum.s.allocated = a.allocated;
            sum.s.unallocated = a.unallocated;
            sum.s.dealt = a.dealt;
            if a.oversubscribed {
                sum.s.flags |= FLAG_OVERSUBSCRIBED;
            }
            let ord = OrderShape {
                ts: o.ts_ns,
                ticket: t,
                instrument: o.instrument,
                side,
                price: o.limit_price,
                closing: false,
                order_id: t,
            };
            self.counters
                .check(alloc.iter().sum::<u64>() == a.allocated);
            if mode == Mode::Block && model.is_proportional() && !adaptive {
                // Block mode: Σ children = master, less the percent model's unowned share.
                self.counters.check(a.allocated + a.sink == a.requested);
            }
            let first = d.len();
            let accepted = self.send(
                seq, &ord, mode, &mut alloc, step_qty, total_qty, &mut sum, d,
            );
            let sent = sent_qty(&d[first..]);
            let order_qty = Qty(step_qty.raw().saturating_mul(a.requested as i64));
            let risk_rejected = sum.s.rejected > 0;
            if accepted > 0 {
                // Accounts' holdings grow as their shares fill, never before.
                match self.tickets.get_mut(&t) {
                    Some(ts) => {
                        ts.book
                            .add_master(a.requested)
                            .map_err(|_| (RefusedCode::Overflow, t))?;
                        ts.working += accepted;
                    }
                    None => {
                        let zeros = vec![0; alloc.len()];
                        self.tickets.insert(
                            t,
                            TicketState {
                                instrument: o.instrument,
                                side,
                                book: MasterTicket::open(t, a.requested, &zeros),
                                working: accepted,
                            },
                        );
                    }
                }
            }
            sum.s.rotation = self.rotation;
            d.push(Decision::Alloc(sum.s));
            self.master_sent(
                seq,
                o.ts_ns,
                t,
                t,
                o.instrument,
                side,
                false,
                o.limit_price,
                order_qty,
                accepted,
                sent,
                risk_rejected,
                d,
            );
            Ok(())
        })();
        self.buf = alloc;
        result
    }

    pub(super) fn close(
        &mut self,
        seq: u64,
        c: &MasterClose,
        d: &mut Vec<Decision>,
    ) -> Result<(), Refusal> {
        let t = c.ticket;
        let bad = (RefusedCode::BadField, t);
        let policy = match c.residual {
            0 => ResidualPolicy::Leave,
            1 => ResidualPolicy::CloseWhole,
            _ => return Err(bad),
        };
        let mode = match c.mode {
            MODE_BLOCK => Mode::Block,
            MODE_PER_ACCOUNT => Mode::PerAccount,
            _ => return Err(bad),
        };
        let ts = self
            .tickets
            .get(&t)
            .ok_or((RefusedCode::UnknownTicket, t))?;
        let (instrument, side) = (ts.instrument, ts.side);
        let spec = *self
            .symbols
            .by_id(instrument)
            .ok_or((RefusedCode::UnknownInstrument, t))?;
        let limits = LotLimits::of(&spec);
        let master = ts.book.master_open();
        let steps = if c.full == CLOSE_FULL {
            master
        } else {
            limits
                .steps_of(c.lots)
                .map_err(|_| (RefusedCode::BadRequest, t))?
        };
        // A full close of a ticket whose master is already closed still closes what filled
        // after it (shares of orders that were working then).
        if steps == 0 && !(c.full == CLOSE_FULL && ts.book.total_open() > 0) {
            return Err((RefusedCode::NothingAllocated, t));
        }
        if steps > master {
            return Err((RefusedCode::CloseTooLarge, t));
        }
        let step_qty = limits
            .qty_of(&spec, 1)
            .map_err(|_| (RefusedCode::Overflow, t))?;
        let total_held: u64 = ts.book.total_open();
        let total_qty = step_qty
            .checked_mul_int(total_held as i64)
            .map_err(|_| (RefusedCode::Overflow, t))?;
        let mut out = std::mem::take(&mut self.buf);
        let ts = self.tickets.get_mut(&t).expect("checked above");
        let r = ts.book.close(
            steps,
            limits.min_steps,
            policy,
            self.rotation,
            &mut out,
            &mut self.scratch,
        );
        let result = (|| {
            let co = r.map_err(|_| (RefusedCode::BadRequest, t))?;
            self.counters.closes += 1;
            self.rotation = self.rotation.wrapping_add(co.dealt);
            let mut sum = Summary::new(seq, c.ts_ns, t, ACTION_CLOSE, c.mode, 0);
            sum.s.requested = co.master_closed;
            sum.s.allocated = co.closed;
            sum.s.unallocated = co.residual_steps as i64;
            sum.s.dealt = co.dealt;
            sum.s.extra_closed = co.extra_closed;
            sum.s.residual_accounts = co.residual_accounts as u32;
            let ord = OrderShape {
                ts: c.ts_ns,
                ticket: t,
                instrument,
                side: side.opposite(),
                price: self.close_price(instrument, side.opposite(), spec.price_decimals),
                closing: true,
                order_id: c.order_id,
            };
            let first = d.len();
            let mut accepted = 0;
            let closed_qty = step_qty
                .checked_mul_int(co.closed as i64)
                .unwrap_or(total_qty);
            if co.closed > 0 {
                let before: Vec<u64> = out.clone();
                let sent = self.send(seq, &ord, mode, &mut out, step_qty, closed_qty, &mut sum, d);
                accepted = sent;
                if let Some(ts) = self.tickets.get_mut(&t) {
                    ts.working += sent;
                }
                // Refused closes stay open in the book: add back what was not sent.
                let mut back = std::mem::take(&mut self.buf2);
                for ((b, &x), &y) in back.iter_mut().zip(&before).zip(out.iter()) {
                    *b = x - y;
                }
                if back.iter().any(|&x| x > 0) {
                    let ts = self.tickets.get_mut(&t).expect("ticket present");
                    let _ = ts.book.add(0, &back);
                }
                self.buf2 = back;
            }
            let ts = self.tickets.get(&t).expect("ticket present");
            if c.full == CLOSE_FULL && sum.s.rejected == 0 {
                self.counters.check(
                    ts.book.master_open() == 0 && ts.book.holdings().iter().all(|&h| h == 0),
                );
            }
            if ts.book.master_open() == 0 && ts.book.total_open() == 0 {
                sum.s.flags |= FLAG_FLAT;
                if ts.working == 0 {
                    self.tickets.remove(&t);
                    self.counters.tickets_flat += 1;
                }
            }
            sum.s.rotation = self.rotation;
            d.push(Decision::Alloc(sum.s));
            let sent = sent_qty(&d[first..]);
            let order_qty = if co.closed > 0 { closed_qty } else { Qty::ZERO };
            self.master_sent(
                seq,
                c.ts_ns,
                c.order_id,
                t,
                instrument,
                side.opposite(),
                true,
                ord.price,
                order_qty,
                accepted,
                sent,
                sum.s.rejected > 0,
                d,
            );
            Ok(())
        })();
        self.buf = out;
        result
    }

    /// Builds, risk-checks and records the orders of one allocation `steps` (one entry per
    /// account). Steps of refused orders are set to zero in `steps`. Returns the orders sent.
    #[allow(clippy::too_many_arguments)]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn send(
        &mut self,
        seq: u64,
        s: &OrderShape,
        mode: Mode,
        steps: &mut [u64],
        step_qty: Qty,
        total_qty: Qty,
        sum: &mut Summary,
        d: &mut Vec<Decision>,
    ) -> u32 {
        let base = (seq << CL_ORD_ID_SHIFT) + self.next_k;
        let ord_type = if s.price.is_zero() {
            OrdType::Market
        } else {
            OrdType::Limit
        };
        let route = self.config.route;
        let mut k = 0u64;
        let mut sent = 0;
        let mut child = |account: u32, qty: Qty| {
            let c = ChildOrder {
                ts_ns: s.ts,
                cl_ord_id: base + k,
                master_ticket: s.ticket,
                account,
                instrument: s.instrument,
                qty,
                price: s.price,
                side: s.side as u8,
                ord_type: ord_type as u8,
                route,
                _pad: [0; 4],
            };
            k += 1;
            c
        };
        match mode {
            Mode::PerAccount => {
                for (i, st) in steps.iter_mut().enumerate() {
                    if *st == 0 {
                        continue;
                    }
                    sum.s.accounts += 1;
                    // Cannot overflow: each is at most the checked total.
                    let qty = Qty(step_qty.raw() * *st as i64);
                    let c = child(i as u32, qty);
                    let pos = if s.closing {
                        Ok(())
                    } else {
                        self.position_check(&c)
                    };
                    let checked = pos
                        .map_err(|r| (r, reject_record(&c, r, self.config.session, s.ts)))
                        .and_then(|()| {
                            self.risk
                                .check_record(&c, self.config.session, s.ts, s.closing)
                        });
                    match checked {
                        Ok(()) => {
                            let w = if s.closing {
                                &mut self.closing_w
                            } else {
                                &mut self.working
                            };
                            w[i * self.ni + s.instrument as usize] += signed(&c);
                            sent += 1;
                            self.counters.orders += 1;
                            self.counters.child_orders += 1;
                            self.orders.insert(
                                c.cl_ord_id,
                                OrderState {
                                    ticket: s.ticket,
                                    account: i as u32,
                                    instrument: s.instrument,
                                    side: c.side,
                                    closing: s.closing,
                                    qty,
                                    cum: Qty::ZERO,
                                    step_qty,
                                    block: None,
                                    order_id: s.order_id,
                                },
                            );
                            d.push(Decision::Order(c));
                        }
                        Err((_, rec)) => {
                            self.counters.risk_rejects += 1;
                            sum.s.rejected += 1;
                            sum.s.rejected_steps += *st;
                            *st = 0;
                            d.push(Decision::Reject(rec));
                        }
                    }
                }
            }
            Mode::Block => {
                let mut total_qty = total_qty;
                if !s.closing {
                    // Each account's share is held to its position limits; a refused share
                    // leaves the block (journaled under the block's ClOrdID).
                    let mut cut = 0u64;
                    for (i, st) in steps.iter_mut().enumerate() {
                        if *st == 0 {
                            continue;
                        }
                        let share = ChildOrder {
                            account: i as u32,
                            qty: Qty(step_qty.raw() * *st as i64),
                            // The block's own ClOrdID: it is the first order of this call.
                            cl_ord_id: base,
                            instrument: s.instrument,
                            side: s.side as u8,
                            ts_ns: s.ts,
                            ..ChildOrder::default()
                        };
                        if let Err(r) = self.position_check(&share) {
                            self.counters.risk_rejects += 1;
                            sum.s.rejected += 1;
                            sum.s.rejected_steps += *st;
                            cut += *st;
                            *st = 0;
                            d.push(Decision::Reject(reject_record(
                                &share,
                                r,
                                self.config.session,
                                s.ts,
                            )));
                        }
                    }
                    total_qty = Qty(total_qty.raw() - step_qty.raw() * cut as i64);
                    if total_qty.raw() == 0 {
                        sum.s.orders = 0;
                        return 0;
                    }
                }
                sum.s.accounts = steps.iter().filter(|&&x| x > 0).count() as u32;
                let c = child(u32::MAX, total_qty);
                let fill = BlockFill::new(steps.to_vec(), step_qty);
                match (
                    fill,
                    self.risk
                        .check_record(&c, self.config.session, s.ts, s.closing),
                ) {
                    (Ok(fill), Ok(())) => {
                        sent = 1;
                        let sign = if s.side == Side::Buy { 1 } else { -1 };
                        let w = if s.closing {
                            &mut self.closing_w
                        } else {
                            &mut self.working
                        };
                        for (i, &st) in steps.iter().enumerate() {
                            w[i * self.ni + s.instrument as usize] +=
                                sign * step_qty.raw() * st as i64;
                        }
                        self.counters.orders += 1;
                        self.counters.block_orders += 1;
                        self.orders.insert(
                            c.cl_ord_id,
                            OrderState {
                                ticket: s.ticket,
                                account: u32::MAX,
                                instrument: s.instrument,
                                side: c.side,
                                closing: s.closing,
                                qty: total_qty,
                                cum: Qty::ZERO,
                                step_qty,
                                block: Some(Box::new(BlockState {
                                    step_qty,
                                    fill,
                                    history: Vec::new(),
                                })),
                                order_id: s.order_id,
                            },
                        );
                        d.push(Decision::Order(c));
                    }
                    (_, Err((_, rec))) => {
                        self.counters.risk_rejects += 1;
                        sum.s.rejected = 1;
                        sum.s.rejected_steps = steps.iter().sum();
                        steps.fill(0);
                        d.push(Decision::Reject(rec));
                    }
                    (Err(_), Ok(())) => {
                        // Unreachable for a positive step; undo the reservation to be safe.
                        self.risk.on_done(c.cl_ord_id);
                        steps.fill(0);
                    }
                }
            }
        }
        sum.s.orders = sent;
        self.next_k += k;
        sent
    }

    fn balance(
        &mut self,
        seq: u64,
        b: &BalanceChange,
        d: &mut Vec<Decision>,
    ) -> Result<(), Refusal> {
        let i = b.account as usize;
        let r = u64::from(b.account);
        if i >= self.accounts.balance.len() || !self.asks_for_own(u32::from(b.manager), i) {
            return Err((RefusedCode::UnknownAccount, r));
        }
        let of = (RefusedCode::Overflow, r);
        let bal = self.accounts.balance[i]
            .checked_add(b.amount)
            .map_err(|_| of)?;
        if bal.is_negative() {
            return Err((RefusedCode::NegativeBalance, r));
        }
        if b.amount.is_negative() {
            // A withdrawal may take free margin only (equity − margin at the latest quotes).
            let v = self.ledger.value(
                b.account,
                self.accounts.balance[i],
                self.accounts.leverage[i],
            );
            if b.amount.raw().saturating_neg() > v.free_margin().raw() {
                return Err((RefusedCode::InsufficientFreeMargin, r));
            }
        }
        self.accounts.balance[i] = bal;
        mark_hwm(&self.ledger, &mut self.accounts, i);
        self.counters.balance_changes += 1;
        self.check_account(i, b.ts_ns, seq, d);
        let m = manager_of(self.accounts.flags[i]);
        self.rebalance(seq, b.ts_ns, m, b.flags, d);
        Ok(())
    }

    fn fill(&mut self, seq: u64, f: &FillEvent, d: &mut Vec<Decision>) -> Result<(), Refusal> {
        let cl = f.cl_ord_id;
        let Some(o) = self.orders.get_mut(&cl) else {
            return Err((RefusedCode::UnknownOrder, cl));
        };
        if f.last_qty.is_negative() || (f.last_qty.raw() > 0 && f.last_px.raw() <= 0) {
            return Err((RefusedCode::BadFill, cl));
        }
        let cum = o
            .cum
            .checked_add(f.last_qty)
            .map_err(|_| (RefusedCode::Overflow, cl))?;
        if cum > o.qty {
            return Err((RefusedCode::Overfill, cl));
        }
        let (instrument, ticket, closing, order_id) =
            (o.instrument, o.ticket, o.closing, o.order_id);
        // Late fills of a block are closed as a block, the way they came.
        let late_mode = if o.block.is_some() {
            MODE_BLOCK
        } else {
            MODE_PER_ACCOUNT
        };
        let buy = o.side == Side::Buy as u8;
        let sign = |q: i64| Qty(if buy { q } else { -q });
        // An opening fill of a ticket whose master was already closed in full.
        let mut late = false;
        // Accounts whose fill could not all go on the ticket because a stop-out or flatten
        // took the position while the order was working: what filled is closed at once.
        let mut orphans: Vec<usize> = Vec::new();
        if f.last_qty.raw() > 0 {
            self.ledger.lp_fill(instrument, sign(f.last_qty.raw()));
            if let Some(b) = o.block.as_mut() {
                let mut add = std::mem::take(&mut self.buf);
                let inc = b.fill.apply(
                    f.last_qty,
                    f.last_px,
                    self.rotation,
                    &mut add,
                    &mut self.scratch,
                );
                let inc = match inc {
                    Ok(i) => i,
                    Err(_) => {
                        self.buf = add;
                        // The LP filled it: the position exists at the LP; keep the books whole.
                        self.ledger.lp_fill(instrument, sign(-f.last_qty.raw()));
                        return Err((RefusedCode::Overfill, cl));
                    }
                };
                b.history.push((f.last_qty, f.last_px, self.rotation));
                self.rotation = self.rotation.wrapping_add(inc.dealt);
                let touched = add.iter().filter(|&&x| x > 0).count() as u32;
                // No account ever gives back quantity, and none passes its target.
                let ok = b
                    .fill
                    .filled()
                    .iter()
                    .zip(b.fill.target())
                    .all(|(f, t)| f <= t)
                    && add.iter().sum::<u64>() == inc.steps;
                self.counters.check(ok);
                // Each account's share, booked at this fill's price.
                self.touched.clear();
                for (i, &x) in add.iter().enumerate() {
                    if x == 0 {
                        continue;
                    }
                    self.touched.push(i as u32);
                    let q = sign(b.step_qty.raw().saturating_mul(x as i64));
                    let w = if closing {
                        &mut self.closing_w
                    } else {
                        &mut self.working
                    };
                    w[i * self.ni + instrument as usize] -= q.raw();
                    let ok = book(
                        &mut self.ledger,
                        &mut self.accounts,
                        i,
                        instrument,
                        q,
                        f.last_px,
                    );
                    self.counters.check(ok);
                }
                if !closing && self.tickets.contains_key(&ticket) {
                    let side = self.tickets[&ticket].side;
                    for (i, x) in add.iter_mut().enumerate() {
                        if *x > 0 {
                            let lw = self.closing_w[i * self.ni + instrument as usize];
                            let r = room(
                                &self.tickets,
                                &self.ledger,
                                lw,
                                i,
                                instrument,
                                side,
                                b.step_qty,
                            );
                            if r < *x {
                                orphans.push(i);
                            }
                            *x = (*x).min(r);
                        }
                    }
                    if let Some(t) = self.tickets.get_mut(&ticket) {
                        let _ = t.book.add(0, &add);
                        // Late only if this fill gave some account steps: a sub-step fill
                        // (or one no account had room for) leaves nothing to close.
                        late = add.iter().any(|&x| x > 0) && t.book.master_open() == 0;
                    }
                }
                self.buf = add;
                d.push(Decision::FillAlloc(FillAlloc {
                    ts_ns: f.recv_ns,
                    input_seq: seq,
                    cl_ord_id: cl,
                    ticket,
                    last_qty: f.last_qty,
                    last_px: f.last_px,
                    steps: inc.steps,
                    pending: inc.pending,
                    dealt: inc.dealt,
                    accounts: touched,
                    complete: u8::from(b.fill.is_complete()),
                    _pad: [0; 3],
                }));
            } else {
                let a = o.account as usize;
                self.touched.clear();
                self.touched.push(a as u32);
                let w = if closing {
                    &mut self.closing_w
                } else {
                    &mut self.working
                };
                w[a * self.ni + instrument as usize] -= sign(f.last_qty.raw()).raw();
                if ticket == LIMIT_TICKET {
                    self.limit_w[a * self.ni + instrument as usize] -= sign(f.last_qty.raw()).raw();
                }
                let ok = book(
                    &mut self.ledger,
                    &mut self.accounts,
                    a,
                    instrument,
                    sign(f.last_qty.raw()),
                    f.last_px,
                );
                self.counters.check(ok);
                if !closing && o.step_qty.raw() > 0 {
                    // Whole steps only: a sub-step part stays in the position, off the ticket.
                    let step = o.step_qty.raw();
                    let mut new = (cum.raw() / step - o.cum.raw() / step) as u64;
                    if let Some(side) = self.tickets.get(&ticket).map(|t| t.side) {
                        let lw = self.closing_w[a * self.ni + instrument as usize];
                        let r = room(
                            &self.tickets,
                            &self.ledger,
                            lw,
                            a,
                            instrument,
                            side,
                            o.step_qty,
                        );
                        if r < new {
                            orphans.push(a);
                        }
                        new = new.min(r);
                    }
                    if let Some(t) = self.tickets.get_mut(&ticket) {
                        t.book.add_to(a, new);
                        late = new > 0 && t.book.master_open() == 0;
                    }
                }
            }
            o.cum = cum;
            self.counters.fills += 1;
            self.counters.filled_qty = self.counters.filled_qty.saturating_add(f.last_qty.raw());
            self.risk.on_fill(cl, f.last_qty);
        }
        self.fill_ends_order(seq, f, order_id, d);
        let late = late.then_some(late_mode);
        self.after_fill(seq, f, (ticket, instrument), late, orphans, d);
        Ok(())
    }

    /// The rest of [`Self::fill`] once the fill is booked: the master order hears of it (or
    /// of the child's end), and a child filled or cancelled leaves (its block allocated, a
    /// limit order's account released).
    fn fill_ends_order(&mut self, seq: u64, f: &FillEvent, order_id: u64, d: &mut Vec<Decision>) {
        let cl = f.cl_ord_id;
        let o = self.orders.get(&cl).expect("present");
        let cancelled =
            f.status == ExecStatus::Canceled as u8 || f.status == ExecStatus::Rejected as u8;
        let ended = (o.cum == o.qty || cancelled).then(|| Qty(o.qty.raw() - o.cum.raw()));
        if order_id != 0 && (f.last_qty.raw() > 0 || ended.is_some()) {
            self.master_fill(seq, f.recv_ns, order_id, f.last_qty, f.last_px, ended, d);
        }
        let o = self.orders.get(&cl).expect("present");
        if o.cum == o.qty || cancelled {
            let o = self.orders.remove(&cl).expect("present");
            self.risk.on_done(cl);
            if o.cum == o.qty {
                self.counters.orders_filled += 1;
            } else {
                self.counters.orders_cancelled += 1;
            }
            self.order_done(&o);
            if let Some(b) = &o.block {
                if let Some(avg) = self.settle(b) {
                    allocation_lines(&o, cl, b, avg, f.recv_ns, d);
                }
            }
            if o.ticket == LIMIT_TICKET {
                self.limit_order_done(o.account as usize, f.recv_ns, seq, d);
            }
        }
    }

    /// The last of [`Self::fill`]: what filled after the master `ticket` closed (`late`: the
    /// mode to close it in) or after a limit action took the position (`orphans`) is closed at
    /// once, and the accounts whose money moved are checked against their limits.
    fn after_fill(
        &mut self,
        seq: u64,
        f: &FillEvent,
        (ticket, instrument): (u64, u32),
        late: Option<u8>,
        orphans: Vec<usize>,
        d: &mut Vec<Decision>,
    ) {
        if let Some(mode) = late.filter(|_| self.tickets.contains_key(&ticket)) {
            // The master is closed: what filled after it (whole steps per account) is closed
            // at once, in the mode of the order that filled. A block's late fill closed one
            // child per account multiplied the orders by the number of accounts: under load,
            // when closes overtook their opens, that fed on itself (docs/latency.md, stop 26).
            let c = MasterClose {
                ts_ns: f.recv_ns,
                ticket,
                lots: crate::num::Lots(0),
                full: CLOSE_FULL,
                residual: 0,
                mode,
                _pad: [0; 5],
                order_id: 0,
            };
            let r = self.close(seq, &c, d);
            debug_assert!(r.is_ok(), "closing late fills of ticket {ticket}: {r:?}");
        }
        for a in orphans {
            // The limit action closed the position; the fill reopened part of it, off every
            // ticket (sub-steps included): close what is left, as the stop-out would have.
            self.limit_close(seq, f.recv_ns, a, instrument, d);
        }
        if f.last_qty.raw() > 0 {
            // The accounts whose money moved are checked against their limits.
            let touched = std::mem::take(&mut self.touched);
            for &a in &touched {
                self.check_account_after_fill(a as usize, f.recv_ns, seq, d);
            }
            self.touched = touched;
        }
    }

    /// An order is done: a closing order gives back to the ticket the whole steps it did not
    /// close (an opening order never added what did not fill), and the ticket goes once it is
    /// flat with nothing working.
    fn order_done(&mut self, o: &OrderState) {
        // What never filled no longer counts toward (or against) the accounts' positions.
        let w = if o.closing {
            &mut self.closing_w
        } else {
            &mut self.working
        };
        for (a, q) in working_of(o) {
            w[a * self.ni + o.instrument as usize] -= q;
            if o.ticket == LIMIT_TICKET {
                self.limit_w[a * self.ni + o.instrument as usize] -= q;
            }
        }
        let Some(t) = self.tickets.get_mut(&o.ticket) else {
            return;
        };
        if o.closing {
            match &o.block {
                Some(b) => {
                    for (i, (&tg, &fl)) in b.fill.target().iter().zip(b.fill.filled()).enumerate() {
                        if tg > fl {
                            t.book.add_to(i, tg - fl);
                        }
                    }
                }
                None if o.step_qty.raw() > 0 => {
                    let back = (o.qty.raw() - o.cum.raw()) / o.step_qty.raw();
                    t.book.add_to(o.account as usize, back as u64);
                }
                None => {}
            }
        }
        t.working = t.working.saturating_sub(1);
        if t.working == 0 && t.book.master_open() == 0 && t.book.total_open() == 0 {
            self.tickets.remove(&o.ticket);
            self.counters.tickets_flat += 1;
        }
    }

    /// Checks a finished block: every account holds its target (if complete) and the money
    /// identity Σ account notionals + residual = block notional holds exactly.
    /// Books a finished block's money residual; returns its average price (`None` if
    /// nothing filled).
    fn settle(&mut self, b: &BlockState) -> Option<Price> {
        if b.fill.is_complete() {
            self.counters.check(b.fill.filled() == b.fill.target());
        }
        let mut notional = vec![Money::ZERO; b.fill.filled().len()];
        match b.fill.settle(&mut notional) {
            Ok(s) => {
                let sum: i128 = notional.iter().map(|m| i128::from(m.raw())).sum();
                self.counters.check(
                    sum + i128::from(s.residual.raw()) == i128::from(s.block_notional.raw()),
                );
                self.counters.money_residual = self
                    .counters
                    .money_residual
                    .saturating_add(s.residual.raw());
                (b.fill.filled_total() > 0).then_some(s.avg_px)
            }
            Err(_) => {
                self.counters.check(false);
                None
            }
        }
    }

    fn market(&mut self, m: &MarketEvent) -> Result<(), Refusal> {
        self.counters.market_events += 1;
        let i = m.instrument as usize;
        if i >= self.reference.len() {
            return Ok(());
        }
        let px = match MarketEventKind::from_u8(m.kind) {
            Some(MarketEventKind::Quote) => {
                let (b, a) = (m.bid.raw(), m.ask.raw());
                if b <= 0 || a <= 0 || b > a {
                    return Err((RefusedCode::BadQuote, u64::from(m.instrument)));
                }
                self.ledger.set_quote(m.instrument, m.bid, m.ask);
                let depth = m.bid_size.raw().saturating_add(m.ask_size.raw());
                self.adaptive
                    .on_quote(m.instrument, m.source_ns, b, a, depth);
                Price(div_round_i128(i128::from(b) + i128::from(a), 2, Rounding::HalfEven) as i64)
            }
            Some(MarketEventKind::Trade) if m.bid.raw() > 0 => m.bid,
            _ => return Ok(()),
        };
        self.reference[i] = Some(px);
        self.risk.set_reference_price(m.instrument, px);
        Ok(())
    }

    /// The limit price of a closing order: marketable (the reference mid moved against us by
    /// half the price collar, rounded to the symbol's tick toward the mid), so an LP that takes
    /// limit orders only (QuickFIX's executor, many FX venues) still fills it, and the risk
    /// collar still passes. Without a reference price (or a collar): a market order.
    pub(super) fn close_price(&self, instrument: u32, side: Side, decimals: u32) -> Price {
        let (Some(mid), Some(bps)) = (
            self.reference.get(instrument as usize).copied().flatten(),
            self.config.risk.collar_bps,
        ) else {
            return Price::ZERO;
        };
        let tol = div_round_i128(
            i128::from(mid.raw()) * i128::from(bps),
            20_000,
            Rounding::Floor,
        );
        let px = match side {
            Side::Buy => i128::from(mid.raw()) + tol,
            Side::Sell => i128::from(mid.raw()) - tol,
        };
        // Price keeps 8 decimals; the symbol quotes `decimals`: round to its tick, inward
        // toward the mid, so the order stays inside the collar.
        let tick = 10i128.pow(8u32.saturating_sub(decimals.min(8)));
        let px = match side {
            Side::Buy => px.div_euclid(tick) * tick,
            Side::Sell => (px + tick - 1).div_euclid(tick) * tick,
        };
        match i64::try_from(px) {
            Ok(p) if p > 0 => Price(p),
            _ => Price::ZERO,
        }
    }

    fn risk_command(
        &mut self,
        seq: u64,
        r: &RiskCommand,
        d: &mut Vec<Decision>,
    ) -> Result<(), Refusal> {
        match r.action {
            ADAPTIVE_OFF | ADAPTIVE_ON => {
                self.adaptive.on = r.action == ADAPTIVE_ON;
                d.push(Decision::AdaptiveSwitch(crate::adaptive::AdaptiveSwitch {
                    input_seq: seq,
                    on: u8::from(self.adaptive.on),
                    _pad: [0; 7],
                }));
            }
            RISK_KILL => {
                // Open orders stay tracked: their fills and cancels still arrive. Every opening
                // child is cancelled at its LP and every pending master dropped; closes and
                // stop-outs keep going (close-only).
                let _ = self.risk.kill();
                self.kill_cancels(seq, r.ts_ns, d);
            }
            RISK_FLATTEN => {
                // The kill switch, then every position closed by the engine's own orders (as a
                // loss limit's flatten does: the accounts' shares of their tickets go to zero).
                // A working child that fills before its cancel lands leaves what it filled:
                // flatten again once the cancels are done.
                let _ = self.risk.kill();
                self.kill_cancels(seq, r.ts_ns, d);
                for a in 0..self.accounts.id.len() {
                    for s in 0..self.ledger.instruments() as u32 {
                        if !self.ledger.qty(a as u32, s).is_zero() {
                            self.limit_close(seq, r.ts_ns, a, s, d);
                        }
                    }
                }
            }
            RISK_RESET => self.risk.reset_kill(),
            _ => return Err((RefusedCode::BadField, u64::from(r.action))),
        }
        self.counters.risk_commands += 1;
        Ok(())
    }
}

/// What every order of one allocation shares.
pub(super) struct OrderShape {
    pub(super) ts: u64,
    pub(super) ticket: u64,
    pub(super) instrument: u32,
    pub(super) side: Side,
    pub(super) price: Price,
    pub(super) closing: bool,
    /// The manager's order the orders belong to (0: the engine's own).
    pub(super) order_id: u64,
}

/// Σ quantity of the orders among `d`.
fn sent_qty(d: &[Decision]) -> Qty {
    Qty(d
        .iter()
        .map(|x| match x {
            Decision::Order(o) => o.qty.raw(),
            _ => 0,
        })
        .sum())
}

pub(super) struct Summary {
    pub(super) s: AllocSummary,
}

impl Summary {
    pub(super) fn new(seq: u64, ts: u64, ticket: u64, action: u8, mode: u8, model: u8) -> Self {
        Summary {
            s: AllocSummary {
                ts_ns: ts,
                input_seq: seq,
                ticket,
                action,
                mode,
                model,
                ..AllocSummary::default()
            },
        }
    }
}

/// Books one account's share of a fill in the ledger and marks the account (its equity and
/// margin columns, its high-water mark). False if the ledger overflowed (nothing booked).
fn book(
    ledger: &mut Ledger,
    accounts: &mut AccountVecs,
    a: usize,
    instrument: u32,
    q: Qty,
    px: Price,
) -> bool {
    let comm = accounts.commission_per_lot[a];
    let ok = ledger
        .book(a as u32, instrument, q, px, comm, &mut accounts.balance[a])
        .is_ok();
    mark_hwm(ledger, accounts, a);
    ok
}

/// Writes account `a`'s live equity and margin into its columns.
pub(super) fn mark(ledger: &Ledger, accounts: &mut AccountVecs, a: usize) -> Valuation {
    let v = ledger.value(a as u32, accounts.balance[a], accounts.leverage[a]);
    accounts.equity[a] = v.equity;
    accounts.margin_used[a] = v.margin;
    v
}

/// Marks account `a` and raises its high-water mark: only at the account's own fills and
/// balance changes and at day starts (points every replay sees alike; the caller then checks
/// the account, which draws its box for the new line).
pub(super) fn mark_hwm(ledger: &Ledger, accounts: &mut AccountVecs, a: usize) -> Valuation {
    let v = mark(ledger, accounts, a);
    if v.equity > accounts.equity_hwm[a] {
        accounts.equity_hwm[a] = v.equity;
    }
    v
}

/// Signed quantity of an order (buys positive).
fn signed(c: &ChildOrder) -> i64 {
    if c.side == Side::Buy as u8 {
        c.qty.raw()
    } else {
        -c.qty.raw()
    }
}

/// What an opening order still adds to each account's position if it fills: `(account,
/// signed quantity)` (per-account: the leaves; block: each account's unfilled target).
pub(super) fn working_of(o: &OrderState) -> Vec<(usize, i64)> {
    let sign = if o.side == Side::Buy as u8 { 1 } else { -1 };
    match &o.block {
        None => vec![(
            o.account as usize,
            sign * o.qty.raw().saturating_sub(o.cum.raw()),
        )],
        Some(b) => b
            .fill
            .target()
            .iter()
            .zip(b.fill.filled())
            .enumerate()
            .filter(|(_, (t, f))| t > f)
            .map(|(a, (t, f))| (a, sign * b.step_qty.raw().saturating_mul((t - f) as i64)))
            .collect(),
    }
}

fn reject_record(c: &ChildOrder, r: RiskReject, session: u16, ts: u64) -> RiskRejectRecord {
    RiskRejectRecord {
        ts_ns: ts,
        cl_ord_id: c.cl_ord_id,
        account: c.account,
        instrument: c.instrument,
        code: r.code(),
        session,
        _pad: [0; 4],
    }
}

impl Engine {
    /// The position limits of the account an opening order is for (see
    /// [`RiskBook::check_position`](crate::risk::RiskBook::check_position)), and its total
    /// position notional in the account currency when that limit is set.
    fn position_check(&self, c: &ChildOrder) -> Result<(), RiskReject> {
        let (a, s) = (c.account as usize, c.instrument as usize);
        let i = a * self.ni + s;
        let before = self.ledger.qty(c.account, c.instrument).raw() + self.working[i];
        let after = before + signed(c);
        self.risk.check_position(c.instrument, before, after)?;
        let lim = self.config.risk.max_account_position_notional.raw();
        if lim < i64::MAX / 4 {
            let mut total: i64 = 0;
            for k in 0..self.ni {
                let net = self.ledger.qty(c.account, k as u32).raw()
                    + self.working[a * self.ni + k]
                    + if k == s { signed(c) } else { 0 };
                let Some(px) = self.risk_reference(k as u32) else {
                    continue;
                };
                total =
                    total.saturating_add(self.ledger.notional_money(c.account, k as u32, net, px));
            }
            if total > lim {
                return Err(RiskReject::MaxAccountPositionNotional);
            }
        }
        Ok(())
    }
}

/// Whole steps account `a` may still add to tickets of `instrument` on `side`: its position on
/// that side, once every working closing order has closed what it will, less what those
/// tickets already hold. A stop-out that closed the position while an opening order was working
/// leaves the later fills off the tickets, so no ticket ever holds more than the account has
/// (and a close never takes it past zero). The manager's working closes count too: their steps
/// already left the tickets, and a stop-out sent beside one closes only the rest (found by
/// `ledger_reference`, stop 20: a ticket held 3,000 of a position of 2,997 after both).
fn room(
    tickets: &std::collections::BTreeMap<u64, TicketState>,
    ledger: &Ledger,
    closing_working: i64,
    a: usize,
    instrument: u32,
    side: Side,
    step: Qty,
) -> u64 {
    if step.raw() <= 0 {
        return 0;
    }
    // What working closing orders (the manager's, the engine's stop-outs and flattens) will
    // take counts as gone.
    let pos = ledger.qty(a as u32, instrument).raw() + closing_working;
    let on_side = if side == Side::Buy { pos } else { -pos };
    let (mut held, mut opposite) = (0u64, 0u64);
    for t in tickets.values().filter(|t| t.instrument == instrument) {
        if t.side == side {
            held += t.book.holdings()[a];
        } else {
            opposite += t.book.holdings()[a];
        }
    }
    // The position nets the tickets of both sides: what this side may hold is the net on it
    // plus what the other side's tickets hold.
    let gross = i128::from(on_side) + i128::from(opposite) * i128::from(step.raw());
    let cap = (gross.max(0) / i128::from(step.raw())) as u64;
    cap.saturating_sub(held)
}

/// A finished block's allocation lines ([`ORD_TYPE_ALLOC`]): one per account that received
/// steps (the steps × the step quantity, at the block's average price), then the total line
/// (`account == u32::MAX`, the block's filled quantity) that ends the group.
fn allocation_lines(
    o: &OrderState,
    cl: u64,
    b: &BlockState,
    avg: Price,
    ts_ns: u64,
    d: &mut Vec<Decision>,
) {
    let line = |account: u32, qty: Qty| ChildOrder {
        ts_ns,
        cl_ord_id: cl,
        master_ticket: o.ticket,
        account,
        instrument: o.instrument,
        qty,
        price: avg,
        side: o.side,
        ord_type: ORD_TYPE_ALLOC,
        route: 0,
        _pad: [0; 4],
    };
    for (i, &steps) in b.fill.filled().iter().enumerate() {
        if steps > 0 {
            let qty = Qty(b.step_qty.raw().saturating_mul(steps as i64));
            d.push(Decision::Allocation(line(i as u32, qty)));
        }
    }
    d.push(Decision::Allocation(line(u32::MAX, o.cum)));
}
