//! The lifecycle state in a checkpoint: a trailing section after the adaptive state
//! (checkpoints written before it end earlier and decode with no pending master, no SL/TP,
//! no master order being reported).

use std::collections::BTreeMap;

use super::{Lifecycle, MasterOrder, Pending, Protect};
use crate::num::{Price, Qty};

/// Appends the section; `order_ids` are the (ClOrdID, order id) of open orders that work for
/// a manager's order.
pub(in crate::engine) fn encode(
    l: &Lifecycle,
    counters: (u64, u64),
    order_ids: &[(u64, u64)],
    w: &mut Vec<u8>,
) {
    let u64 = |w: &mut Vec<u8>, v: u64| w.extend_from_slice(&v.to_le_bytes());
    u64(w, counters.0);
    u64(w, counters.1);
    u64(w, l.masters.len() as u64);
    for (&id, m) in &l.masters {
        u64(w, id);
        u64(w, m.ticket);
        w.extend_from_slice(&m.instrument.to_le_bytes());
        w.extend_from_slice(&[m.side, u8::from(m.closing), m.ord_type, u8::from(m.held)]);
        for v in [
            m.price.raw(),
            m.order_qty.raw(),
            m.sent.raw(),
            m.cum.raw(),
            m.gone.raw(),
        ] {
            u64(w, v as u64);
        }
        w.extend_from_slice(&m.notional.to_le_bytes());
        w.extend_from_slice(&m.working.to_le_bytes());
        u64(w, m.cancel_id);
    }
    u64(w, l.pending.len() as u64);
    for p in l.pending.values() {
        w.extend_from_slice(bytemuck::bytes_of(&p.open));
    }
    u64(w, l.protect.len() as u64);
    for (&t, p) in &l.protect {
        u64(w, t);
        w.extend_from_slice(&p.instrument.to_le_bytes());
        w.extend_from_slice(&[p.side, p.mode]);
        u64(w, p.sl.raw() as u64);
        u64(w, p.tp.raw() as u64);
    }
    u64(w, order_ids.len() as u64);
    for &(cl, id) in order_ids {
        u64(w, cl);
        u64(w, id);
    }
}

struct R<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> R<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        let s = self
            .b
            .get(self.at..self.at.checked_add(n).ok_or("length overflow")?)
            .ok_or_else(|| format!("lifecycle section ends inside {what}"))?;
        self.at += n;
        Ok(s)
    }
    fn u64(&mut self, what: &str) -> Result<u64, String> {
        Ok(u64::from_le_bytes(
            self.take(8, what)?.try_into().expect("8"),
        ))
    }
    fn u32(&mut self, what: &str) -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.take(4, what)?.try_into().expect("4"),
        ))
    }
    fn len(&mut self, each: usize, what: &str) -> Result<usize, String> {
        let n = self.u64(what)?;
        let left = (self.b.len() - self.at) as u64;
        if n.saturating_mul(each as u64) > left {
            return Err(format!("{what}: {n} entries cannot fit in {left} bytes"));
        }
        Ok(n as usize)
    }
}

/// What [`decode`] gives back.
pub(in crate::engine) struct Decoded {
    pub life: Lifecycle,
    pub counters: (u64, u64),
    pub order_ids: Vec<(u64, u64)>,
    pub used: usize,
}

/// Reads the section from the start of `b`.
pub(in crate::engine) fn decode(b: &[u8], instruments: usize) -> Result<Decoded, String> {
    let mut r = R { b, at: 0 };
    let counters = (r.u64("counters")?, r.u64("counters")?);
    let mut life = Lifecycle::new(instruments);
    for _ in 0..r.len(80, "master orders")? {
        let id = r.u64("master order")?;
        let ticket = r.u64("master order")?;
        let instrument = r.u32("master order")?;
        let f = r.take(4, "master order")?;
        let mut v = [0i64; 5];
        for x in v.iter_mut() {
            *x = r.u64("master order")? as i64;
        }
        let notional = i128::from_le_bytes(r.take(16, "master order")?.try_into().expect("16"));
        let working = r.u32("master order")?;
        let cancel_id = r.u64("master order")?;
        let m = MasterOrder {
            ticket,
            instrument,
            side: f[0],
            closing: f[1] != 0,
            ord_type: f[2],
            held: f[3] != 0,
            price: Price(v[0]),
            order_qty: Qty(v[1]),
            sent: Qty(v[2]),
            cum: Qty(v[3]),
            gone: Qty(v[4]),
            notional,
            working,
            cancel_id,
        };
        if life.masters.insert(id, m).is_some() {
            return Err(format!("master order {id} twice"));
        }
    }
    let size = core::mem::size_of::<super::MasterOpen>();
    for _ in 0..r.len(size, "pending masters")? {
        let open: super::MasterOpen = bytemuck::pod_read_unaligned(r.take(size, "pending")?);
        if life.pending.insert(open.ticket, Pending { open }).is_some() {
            return Err(format!("pending master {} twice", open.ticket));
        }
    }
    for _ in 0..r.len(30, "stop-loss / take-profit")? {
        let t = r.u64("protect")?;
        let instrument = r.u32("protect")?;
        let f = r.take(2, "protect")?;
        let p = Protect {
            instrument,
            side: f[0],
            mode: f[1],
            sl: Price(r.u64("protect")? as i64),
            tp: Price(r.u64("protect")? as i64),
        };
        if life.protect.insert(t, p).is_some() {
            return Err(format!("stop-loss of ticket {t} twice"));
        }
    }
    let mut order_ids = Vec::new();
    for _ in 0..r.len(16, "order ids")? {
        order_ids.push((r.u64("order id")?, r.u64("order id")?));
    }
    life.rearm();
    let _: &BTreeMap<u64, Pending> = &life.pending;
    Ok(Decoded {
        life,
        counters,
        order_ids,
        used: r.at,
    })
}
