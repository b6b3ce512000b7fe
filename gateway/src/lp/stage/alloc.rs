//! Allocation lines from the engine ([`ORD_TYPE_ALLOC`](mam_core::event::ORD_TYPE_ALLOC)) to
//! AllocationInstructions (35=J): a block's lines are gathered until its total line, then sent
//! in messages of at most [`MAX_ALLOCS`] accounts. The engine journaled the lines; one lost in
//! a crash before it went is not sent again (`docs/daemon.md`).

use std::sync::atomic::Ordering::Relaxed;

use mam_core::event::{ChildOrder, Side};

use super::{LpStats, Sent};
use crate::fix::alloc::{AllocLine, AllocationInstruction, MAX_ALLOCS};
use crate::fix::msg::msg_type;
use crate::fix::session::initiator::Initiator;
use crate::fix::session::SessionError;
use crate::lp::account::AccountField;

/// The allocation being gathered and how much of it went.
#[derive(Debug, Default)]
pub(super) struct AllocOut {
    /// Send allocations at all.
    on: bool,
    /// `lines[..len]` is the block being gathered. The lines past `len` are kept from earlier
    /// blocks so their account-id buffers are reused: a fresh `Vec` per line meant 1,000
    /// small frees per block fill, and glibc consolidated them inside the engine's next large
    /// allocation, on the same thread (`malloc_consolidate`, 12 % of a block open in the
    /// daemon: `perf record`, stop 25).
    lines: Vec<AllocLine>,
    len: usize,
    /// Messages of the current block already sent.
    next_chunk: usize,
}

impl AllocOut {
    /// Gathers and sends allocations when `on`, drops them otherwise.
    pub(super) fn new(on: bool) -> Self {
        AllocOut {
            on,
            ..AllocOut::default()
        }
    }

    /// Takes one line; at the block's total line sends the instructions. `Wait`: the session
    /// cannot take a message now (the caller keeps the total line and offers it again).
    pub(super) fn line(
        &mut self,
        ini: &mut Initiator,
        symbols: &[Vec<u8>],
        accounts: &AccountField,
        c: &ChildOrder,
        now: u64,
        stats: &LpStats,
    ) -> Sent {
        if !self.on {
            return Sent::Dropped;
        }
        if c.account != u32::MAX {
            let text = accounts.id(c.account);
            let id = text.as_bytes();
            match self.lines.get_mut(self.len) {
                Some(l) => {
                    l.account.clear();
                    l.account.extend_from_slice(id);
                    l.qty = c.qty;
                }
                None => self.lines.push(AllocLine {
                    account: id.to_vec(),
                    qty: c.qty,
                }),
            }
            self.len += 1;
            return Sent::Yes;
        }
        let (Some(symbol), Some(side)) =
            (symbols.get(c.instrument as usize), Side::from_u8(c.side))
        else {
            tracing::error!(
                cl_ord_id = c.cl_ord_id,
                "LP: allocation of an unknown instrument or side, dropped"
            );
            self.reset();
            return Sent::Dropped;
        };
        let cl = c.cl_ord_id.to_string();
        let chunks: Vec<&[AllocLine]> = self.lines[..self.len].chunks(MAX_ALLOCS).collect();
        while self.next_chunk < chunks.len() {
            let part = chunks[self.next_chunk];
            let alloc_id = format!("A{}.{}", c.cl_ord_id, self.next_chunk);
            let j = AllocationInstruction {
                alloc_id: alloc_id.as_bytes(),
                cl_ord_id: cl.as_bytes(),
                side,
                symbol,
                quantity: mam_core::num::Qty(part.iter().map(|l| l.qty.raw()).sum()),
                avg_px: c.price,
                transact_time_ns: c.ts_ns.max(1),
                allocs: part,
            };
            let before = ini.session().next_sender_seq();
            match ini.send_app(now, msg_type::ALLOCATION_INSTRUCTION, |w| j.encode(w)) {
                Ok(_) => {}
                Err(_) if ini.session().next_sender_seq() > before => {}
                Err(SessionError::Encode(e)) => {
                    tracing::error!(cl_ord_id = c.cl_ord_id, error = %e, "LP: allocation cannot be encoded, dropped");
                    self.next_chunk += 1;
                    continue;
                }
                Err(_) => return Sent::Wait,
            }
            stats.allocations_sent.fetch_add(1, Relaxed);
            self.next_chunk += 1;
        }
        self.reset();
        Sent::Yes
    }

    fn reset(&mut self) {
        self.len = 0;
        self.next_chunk = 0;
    }
}
