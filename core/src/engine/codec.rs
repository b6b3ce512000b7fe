//! The whole engine state as bytes: what [`Engine::state_bytes`] returns (and
//! [`Engine::digest`] hashes), and, without the accounts, the body of a checkpoint's
//! engine-state file. Little-endian, fixed field order, maps in key order: equal states give
//! equal bytes. Decoding checks every length and value and never panics.

use super::state::{BlockState, EngineCounters, OrderState, TicketState};
use super::{Engine, EngineConfig, EngineError};
use crate::account::AccountVecs;
use crate::alloc::fill::BlockFill;
use crate::alloc::ticket::MasterTicket;
use crate::alloc::Scratch;
use crate::event::Side;
use crate::num::{Lots, Money, Price, Qty, Ratio};
use crate::risk::{OpenOrder, RiskBook, RiskLimits, RiskSnapshot};
use crate::symbol::{SymbolSpec, SymbolTable};

#[derive(Default)]
pub(super) struct W(pub Vec<u8>);

impl W {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn len(&mut self, n: usize) {
        self.u64(n as u64);
    }
    fn opt_price(&mut self, p: Option<Price>) {
        match p {
            Some(p) => {
                self.u8(1);
                self.i64(p.raw());
            }
            None => {
                self.u8(0);
                self.i64(0);
            }
        }
    }
}

/// Reads back what [`W`] wrote; every failure names what was being read.
pub(super) struct R<'a> {
    b: &'a [u8],
    at: usize,
}

type Res<T> = Result<T, String>;

impl<'a> R<'a> {
    pub(super) fn new(b: &'a [u8]) -> Self {
        R { b, at: 0 }
    }
    fn take(&mut self, n: usize, what: &str) -> Res<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.b.len());
        let end = end.ok_or_else(|| format!("truncated at byte {} reading {what}", self.at))?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u8(&mut self, what: &str) -> Res<u8> {
        Ok(self.take(1, what)?[0])
    }
    fn u16(&mut self, what: &str) -> Res<u16> {
        Ok(u16::from_le_bytes(
            self.take(2, what)?.try_into().expect("2 bytes"),
        ))
    }
    fn u32(&mut self, what: &str) -> Res<u32> {
        Ok(u32::from_le_bytes(
            self.take(4, what)?.try_into().expect("4 bytes"),
        ))
    }
    fn u64(&mut self, what: &str) -> Res<u64> {
        Ok(u64::from_le_bytes(
            self.take(8, what)?.try_into().expect("8 bytes"),
        ))
    }
    fn i64(&mut self, what: &str) -> Res<i64> {
        Ok(self.u64(what)? as i64)
    }
    /// A count, refused if the remaining bytes cannot hold `min_each` bytes per item.
    fn len(&mut self, min_each: usize, what: &str) -> Res<usize> {
        let n = self.u64(what)?;
        let left = (self.b.len() - self.at) as u64;
        if n.saturating_mul(min_each.max(1) as u64) > left {
            return Err(format!(
                "{what}: count {n} does not fit in the {left} bytes left"
            ));
        }
        Ok(n as usize)
    }
    fn opt_price(&mut self, what: &str) -> Res<Option<Price>> {
        let f = self.u8(what)?;
        let v = self.i64(what)?;
        match f {
            0 => Ok(None),
            1 => Ok(Some(Price(v))),
            _ => Err(format!("{what}: bad option flag {f}")),
        }
    }
    fn rest(&self) -> &'a [u8] {
        &self.b[self.at..]
    }
    fn skip(&mut self, n: usize) {
        self.at += n;
    }
    fn done(&self) -> Res<()> {
        if self.at == self.b.len() {
            Ok(())
        } else {
            Err(format!("{} bytes left over", self.b.len() - self.at))
        }
    }
}

fn put_limits(w: &mut W, l: &RiskLimits) {
    w.i64(l.max_order_qty.raw());
    w.i64(l.max_order_notional.raw());
    w.i64(l.max_account_qty.raw());
    w.i64(l.max_account_notional.raw());
    w.u32(l.max_account_open_orders);
    w.u32(l.max_open_orders);
    w.u32(l.collar_bps.map_or(u32::MAX, |b| b));
    w.u32(l.max_orders_per_sec);
    w.i64(l.max_position_qty.raw());
    w.i64(l.max_position_notional.raw());
    w.i64(l.max_account_position_notional.raw());
}

fn get_limits(r: &mut R<'_>) -> Res<RiskLimits> {
    Ok(RiskLimits {
        max_order_qty: Qty(r.i64("limits")?),
        max_order_notional: Money(r.i64("limits")?),
        max_account_qty: Qty(r.i64("limits")?),
        max_account_notional: Money(r.i64("limits")?),
        max_account_open_orders: r.u32("limits")?,
        max_open_orders: r.u32("limits")?,
        collar_bps: match r.u32("limits")? {
            u32::MAX => None,
            b => Some(b),
        },
        max_orders_per_sec: r.u32("limits")?,
        max_position_qty: Qty(r.i64("limits")?),
        max_position_notional: Money(r.i64("limits")?),
        max_account_position_notional: Money(r.i64("limits")?),
    })
}

fn put_spec(w: &mut W, s: &SymbolSpec) {
    w.0.extend_from_slice(&s.name);
    w.i64(s.contract_size.raw());
    w.i64(s.min_lot.raw());
    w.i64(s.lot_step.raw());
    w.i64(s.max_lot.raw());
    w.u32(s.price_decimals);
    w.i64(s.pip.raw());
    w.0.extend_from_slice(&s.base);
    w.0.extend_from_slice(&s.quote);
    w.i64(s.margin_rate.raw());
}

fn get_spec(r: &mut R<'_>) -> Res<SymbolSpec> {
    let mut name = [0u8; 16];
    name.copy_from_slice(r.take(16, "symbol name")?);
    Ok(SymbolSpec {
        name,
        contract_size: Qty(r.i64("symbol")?),
        min_lot: Lots(r.i64("symbol")?),
        lot_step: Lots(r.i64("symbol")?),
        max_lot: Lots(r.i64("symbol")?),
        price_decimals: r.u32("symbol")?,
        pip: Price(r.i64("symbol")?),
        base: r.take(8, "symbol base")?.try_into().expect("8 bytes"),
        quote: r.take(8, "symbol quote")?.try_into().expect("8 bytes"),
        margin_rate: Ratio(r.i64("symbol")?),
    })
}

fn put_accounts(w: &mut W, a: &AccountVecs) {
    use bytemuck::cast_slice as b;
    w.len(a.id.len());
    let cols: [&[u8]; 20] = [
        b(&a.id),
        b(&a.balance),
        b(&a.equity),
        b(&a.margin_used),
        b(&a.equity_hwm),
        b(&a.multiplier),
        b(&a.percent),
        b(&a.fixed_lots),
        b(&a.risk_fraction),
        b(&a.drawdown_tolerance),
        b(&a.min_scale),
        b(&a.max_scale),
        b(&a.leverage),
        b(&a.cluster),
        b(&a.flags),
        b(&a.commission_per_lot),
        b(&a.daily_loss_limit),
        b(&a.margin_call_level),
        b(&a.stop_out_level),
        b(&a.currency),
    ];
    for col in cols {
        w.0.extend_from_slice(col);
    }
}

impl Engine {
    /// Every byte of state: settings, symbols, counters, cursor, reference prices, risk book,
    /// tickets, open orders and accounts. Equal engines give equal bytes.
    pub fn state_bytes(&self) -> Vec<u8> {
        let mut w = self.encode_without_accounts();
        put_accounts(&mut w, &self.accounts);
        w.0
    }

    /// A 64-bit digest (FNV-1a) of [`state_bytes`](Self::state_bytes).
    pub fn digest(&self) -> u64 {
        fnv1a(&self.state_bytes())
    }

    pub(super) fn encode_without_accounts(&self) -> W {
        let mut w = W::default();
        put_limits(&mut w, &self.config.risk);
        w.u16(self.config.session);
        w.u16(self.config.route);
        let specs: Vec<&SymbolSpec> = self.symbols.iter().collect();
        w.len(specs.len());
        for s in specs {
            put_spec(&mut w, s);
        }
        w.u64(self.applied_seq);
        w.u64(self.rotation);
        for v in self.counters.to_array() {
            w.u64(v);
        }
        w.len(self.reference.len());
        for &p in &self.reference {
            w.opt_price(p);
        }
        let snap = self.risk.snapshot();
        w.len(snap.reference.len());
        for &p in &snap.reference {
            w.opt_price(p);
        }
        w.len(snap.throttles.len());
        for (stamps, next, used) in &snap.throttles {
            w.len(stamps.len());
            for &s in stamps {
                w.u64(s);
            }
            w.u64(*next);
            w.u64(*used);
        }
        w.len(snap.open.len());
        for o in &snap.open {
            w.u64(o.cl_ord_id);
            w.u32(o.account);
            w.u32(o.instrument);
            w.u8(o.side as u8);
            w.i64(o.leaves.raw());
            w.i64(o.price.raw());
            w.u16(o.session);
        }
        w.u8(u8::from(snap.killed));
        let n = self.accounts.id.len();
        w.len(n);
        w.len(self.tickets.len());
        for (&id, t) in &self.tickets {
            w.u64(id);
            w.u32(t.instrument);
            w.u8(t.side as u8);
            w.u64(t.book.master_open());
            w.u32(t.working);
            for &h in t.book.holdings() {
                w.u64(h);
            }
        }
        w.len(self.orders.len());
        for (cl, o) in self.orders.iter() {
            w.u64(cl);
            w.u64(o.ticket);
            w.u32(o.account);
            w.u32(o.instrument);
            w.u8(o.side);
            w.u8(u8::from(o.closing));
            w.i64(o.qty.raw());
            w.i64(o.cum.raw());
            w.i64(o.step_qty.raw());
            match &o.block {
                None => w.u8(0),
                Some(b) => {
                    w.u8(1);
                    w.i64(b.step_qty.raw());
                    for &t in b.fill.target() {
                        w.u64(t);
                    }
                    w.len(b.history.len());
                    for &(q, p, rot) in &b.history {
                        w.i64(q.raw());
                        w.i64(p.raw());
                        w.u64(rot);
                    }
                }
            }
        }
        self.ledger.encode(&mut w.0);
        w.u64(self.day);
        for l in &self.limit_state {
            w.u8(l.flags);
            w.i64(l.day_start);
        }
        self.adaptive.encode(&mut w.0);
        let ids: Vec<(u64, u64)> = self
            .orders
            .iter()
            .filter(|(_, o)| o.order_id != 0)
            .map(|(cl, o)| (cl, o.order_id))
            .collect();
        super::lifecycle::codec::encode(
            &self.life,
            (self.counters.cancel_requests, self.counters.triggers),
            &ids,
            &mut w.0,
        );
        w
    }

    /// Rebuilds an engine from a checkpoint body and its accounts, checking that `symbols`
    /// is the table the checkpoint was written with.
    pub(super) fn decode(
        body: &[u8],
        symbols: SymbolTable,
        accounts: AccountVecs,
    ) -> Result<Engine, EngineError> {
        decode_inner(body, symbols, accounts).map_err(|why| EngineError::Checkpoint {
            path: "engine state".into(),
            why,
        })
    }
}

fn decode_inner(body: &[u8], symbols: SymbolTable, accounts: AccountVecs) -> Res<Engine> {
    let mut r = R::new(body);
    let risk = get_limits(&mut r)?;
    let session = r.u16("session")?;
    let route = r.u16("route")?;
    let config = EngineConfig {
        risk,
        session,
        route,
    };
    let ns = r.len(84, "symbols")?;
    let mine: Vec<SymbolSpec> = symbols.iter().copied().collect();
    let mut stored = Vec::with_capacity(ns);
    for _ in 0..ns {
        stored.push(get_spec(&mut r)?);
    }
    if stored != mine {
        return Err("the symbol table differs from the one the checkpoint was written with".into());
    }
    // `Engine::new` marks every account as at a first start; the checkpoint's columns stand.
    let (equity, margin) = (accounts.equity.clone(), accounts.margin_used.clone());
    let hwm = accounts.equity_hwm.clone();
    let mut e = Engine::new(symbols, accounts, config).map_err(|e| e.to_string())?;
    (
        e.accounts.equity,
        e.accounts.margin_used,
        e.accounts.equity_hwm,
    ) = (equity, margin, hwm);
    e.applied_seq = r.u64("applied seq")?;
    e.rotation = r.u64("rotation")?;
    let mut c = [0u64; 24];
    for v in &mut c {
        *v = r.u64("counters")?;
    }
    e.counters = EngineCounters::from_array(c);
    let nr = r.len(9, "reference prices")?;
    if nr != e.reference.len() {
        return Err(format!(
            "{nr} reference prices for {} instruments",
            e.reference.len()
        ));
    }
    for p in e.reference.iter_mut() {
        *p = r.opt_price("reference price")?;
    }
    let mut snap = RiskSnapshot {
        reference: Vec::new(),
        throttles: Vec::new(),
        open: Vec::new(),
        killed: false,
    };
    for _ in 0..r.len(9, "risk reference")? {
        snap.reference.push(r.opt_price("risk reference")?);
    }
    for _ in 0..r.len(24, "throttles")? {
        let k = r.len(8, "throttle stamps")?;
        let mut st = Vec::with_capacity(k);
        for _ in 0..k {
            st.push(r.u64("throttle stamp")?);
        }
        snap.throttles
            .push((st, r.u64("throttle")?, r.u64("throttle")?));
    }
    for _ in 0..r.len(35, "risk open orders")? {
        snap.open.push(OpenOrder {
            cl_ord_id: r.u64("open order")?,
            account: r.u32("open order")?,
            instrument: r.u32("open order")?,
            side: Side::from_u8(r.u8("open order")?).ok_or("open order: bad side")?,
            leaves: Qty(r.i64("open order")?),
            price: Price(r.i64("open order")?),
            session: r.u16("open order")?,
        });
    }
    snap.killed = match r.u8("kill switch")? {
        0 => false,
        1 => true,
        k => return Err(format!("kill switch flag {k}")),
    };
    let instruments = e.reference.len() as u32;
    let n = e.accounts.id.len();
    e.risk = RiskBook::restore(
        config.risk,
        n as u32,
        instruments,
        session.saturating_add(1),
        &snap,
    )
    .ok_or("risk book snapshot does not fit the configuration")?;
    let stored_n = r.u64("account count")? as usize;
    if stored_n != n {
        return Err(format!(
            "state for {stored_n} accounts, account store holds {n}"
        ));
    }
    for _ in 0..r.len(25 + 8 * n, "tickets")? {
        let id = r.u64("ticket")?;
        let instrument = r.u32("ticket")?;
        let side = Side::from_u8(r.u8("ticket")?).ok_or("ticket: bad side")?;
        let master = r.u64("ticket")?;
        let working = r.u32("ticket")?;
        let mut h = Vec::with_capacity(n);
        for _ in 0..n {
            h.push(r.u64("holding")?);
        }
        let t = TicketState {
            instrument,
            side,
            book: MasterTicket::open(id, master, &h),
            working,
        };
        if e.tickets.insert(id, t).is_some() {
            return Err(format!("ticket {id} twice"));
        }
    }
    let mut orders = super::order_map::OrderMap::default();
    let mut scratch = Scratch::with_capacity(n);
    let mut add = vec![0u64; n];
    for _ in 0..r.len(51, "orders")? {
        let cl = r.u64("order")?;
        let mut o = OrderState {
            ticket: r.u64("order")?,
            account: r.u32("order")?,
            instrument: r.u32("order")?,
            side: r.u8("order")?,
            closing: r.u8("order")? != 0,
            qty: Qty(r.i64("order")?),
            cum: Qty(r.i64("order")?),
            step_qty: Qty(r.i64("order")?),
            block: None,
            order_id: 0,
        };
        if r.u8("order block flag")? == 1 {
            let step_qty = Qty(r.i64("block")?);
            let mut target = Vec::with_capacity(n);
            for _ in 0..n {
                target.push(r.u64("block target")?);
            }
            let mut fill = BlockFill::new(target, step_qty).map_err(|e| e.to_string())?;
            let k = r.len(24, "block history")?;
            let mut history = Vec::with_capacity(k);
            for _ in 0..k {
                let (q, p, rot) = (Qty(r.i64("fill")?), Price(r.i64("fill")?), r.u64("fill")?);
                fill.apply(q, p, rot, &mut add, &mut scratch)
                    .map_err(|e| format!("block {cl}: replaying its fills: {e}"))?;
                history.push((q, p, rot));
            }
            o.block = Some(Box::new(BlockState {
                step_qty,
                fill,
                history,
            }));
        }
        if orders.insert(cl, o).is_some() {
            return Err(format!("order {cl} twice"));
        }
    }
    for (_, o) in orders.iter() {
        for (a, q) in super::apply::working_of(o) {
            let i = a
                .checked_mul(e.ni)
                .and_then(|x| x.checked_add(o.instrument as usize))
                .filter(|&i| i < e.working.len())
                .ok_or_else(|| {
                    format!("order {}: account or instrument out of range", o.account)
                })?;
            let w = if o.closing {
                &mut e.closing_w
            } else {
                &mut e.working
            };
            w[i] = w[i].saturating_add(q);
            if o.ticket == super::limits::LIMIT_TICKET {
                e.limit_w[i] = e.limit_w[i].saturating_add(q);
            }
        }
    }
    e.orders = orders;
    let used = e.ledger.decode(r.rest())?;
    r.skip(used);
    e.day = r.u64("day")?;
    for l in e.limit_state.iter_mut() {
        l.flags = r.u8("limit flags")?;
        l.day_start = r.i64("day start")?;
    }
    // Checkpoints written before the adaptive layer end here: the untrained model, on.
    if !r.rest().is_empty() {
        let (st, used) = crate::adaptive::AdaptiveState::decode(r.rest(), &e.symbols)?;
        e.adaptive = st;
        r.skip(used);
    }
    // Checkpoints written before the order lifecycle end here.
    if !r.rest().is_empty() {
        let l = super::lifecycle::codec::decode(r.rest(), e.ni)?;
        r.skip(l.used);
        e.life = l.life;
        (e.counters.cancel_requests, e.counters.triggers) = l.counters;
        for (cl, id) in l.order_ids {
            e.orders
                .get_mut(&cl)
                .ok_or_else(|| format!("order id of order {cl}, which is not open"))?
                .order_id = id;
        }
    }
    r.done()?;
    e.rebox_all();
    Ok(e)
}

/// FNV-1a, 64 bits: a small, fixed, portable digest for state comparisons (not a MAC).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}
