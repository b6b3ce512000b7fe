//! Invariants checked after a run from the journal itself (read back from disk) and from what
//! the LP received, independently of the engine's own checks.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use mam_core::engine::decision::{Decision, ACTION_OPEN};
use mam_core::engine::input::{model_code, Input, MODE_BLOCK};
use mam_core::journal::JournalReader;
use mam_core::symbol::SymbolTable;

use super::lp::LpReport;

/// One invariant: how often it was checked and how often it failed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Check {
    /// What is checked.
    pub name: &'static str,
    /// Times checked.
    pub checked: u64,
    /// Times it failed.
    pub failed: u64,
}

impl Check {
    fn new(name: &'static str) -> Self {
        Check {
            name,
            checked: 0,
            failed: 0,
        }
    }
    fn check(&mut self, ok: bool) {
        self.checked += 1;
        self.failed += u64::from(!ok);
    }
}

/// What the journal holds, for the summary.
#[derive(Debug, Default)]
pub struct JournalFacts {
    /// Records.
    pub records: u64,
    /// Last sequence number.
    pub last_seq: u64,
    /// Records per kind.
    pub kinds: BTreeMap<u16, u64>,
    /// Adaptive masters, and Σ of their accounts' static and adapted sizes (lot steps).
    pub adaptive: (u64, u64, u64),
}

/// Reads the journal in `dir` and checks it against itself and the LP's view.
pub fn run(
    dir: &Path,
    symbols: &SymbolTable,
    lp: &LpReport,
    engine: &mam_core::engine::Engine,
) -> anyhow::Result<(Vec<Check>, JournalFacts)> {
    let mut sum_children = Check::new("open: Σ child quantities = allocated master (exact)");
    let mut block_whole =
        Check::new("open: block = whole master (static) or Σ adapted sizes (adaptive)");
    let mut bounds = Check::new("adaptive: every size inside the account's [min, max] scale");
    let mut flat = Check::new("every account flat in the ledger after the last close");
    let mut lp_net = Check::new("Σ account positions + unallocated = LP net, per symbol");
    let mut block_fills = Check::new("block: Σ fill increments allocated = block size");
    let mut alloc_lines =
        Check::new("block: Σ allocation lines at the LP (35=J) = the steps its fills allocated");
    let mut alloc_total = Check::new("block: the LP's allocation total = the journaled total");
    // Block ClOrdID → the total line the engine journaled.
    let mut totals: BTreeMap<u64, i64> = BTreeMap::new();
    let mut once = Check::new("every journaled order reached the LP exactly once");
    let mut filled = Check::new("LP filled exactly the quantity ordered (Σ over all orders)");

    let r = JournalReader::open(dir)?;
    let mut facts = JournalFacts::default();
    let mut input: Option<Input> = None;
    let mut input_qty: i64 = 0;
    // (Σ adapted steps the AdaptiveTicket announced, Σ of its AdaptiveAccount records).
    let mut adaptive: Option<(u64, u64)> = None;
    let mut tickets: BTreeMap<u64, (u32, u8)> = BTreeMap::new(); // ticket → (instrument, side)

    let mut blocks: BTreeMap<u64, (i64, u32, u64)> = BTreeMap::new(); // cl → (qty, instr, steps)
    let mut journaled: BTreeSet<u64> = BTreeSet::new();
    let step_qty = |instrument: u32| -> i64 {
        symbols
            .by_id(instrument)
            .and_then(|s| s.lots_to_qty(s.lot_step).ok())
            .map_or(0, |q| q.raw())
    };
    for rec in r.records(0) {
        let rec = rec?;
        facts.records += 1;
        facts.last_seq = rec.seq;
        *facts.kinds.entry(rec.kind).or_default() += 1;
        if let Some(i) = Input::decode(rec.kind, rec.payload) {
            if let Input::Open(o) = &i {
                tickets.entry(o.ticket).or_insert((o.instrument, o.side));
            }

            input = Some(i);
            input_qty = 0;
            adaptive = None;
            continue;
        }
        if rec.kind == mam_core::engine::origin::KIND_ORIGIN {
            continue; // where the next input came from: no state
        }
        let Some(d) = Decision::decode(rec.kind, rec.payload) else {
            anyhow::bail!("journal seq {}: unknown record kind {}", rec.seq, rec.kind);
        };
        match d {
            Decision::Order(o) => {
                journaled.insert(o.cl_ord_id);
                input_qty += o.qty.raw();

                if o.account == u32::MAX {
                    blocks.insert(o.cl_ord_id, (o.qty.raw(), o.instrument, 0));
                }
            }
            Decision::Alloc(a) => {
                let instrument = tickets.get(&a.ticket).map_or(0, |t| t.0);
                let sq = step_qty(instrument);
                let sent_steps = a.allocated - a.rejected_steps;
                sum_children.check(input_qty == sq * sent_steps as i64);
                if a.action == ACTION_OPEN {
                    if let Some(Input::Open(o)) = &input {
                        let proportional = matches!(
                            o.model,
                            model_code::EQUITY | model_code::BALANCE | model_code::FREE_MARGIN
                        );
                        if let Some((total, sum)) = adaptive.take() {
                            // Adapted: the block is Σ of the adapted sizes.
                            block_whole.check(a.allocated == total && sum == total);
                        } else if o.mode == MODE_BLOCK && proportional {
                            block_whole.check(a.allocated == a.requested);
                        }
                    }
                }
            }
            Decision::FillAlloc(f) => {
                if let Some(b) = blocks.get_mut(&f.cl_ord_id) {
                    b.2 += f.steps;
                    if f.complete == 1 {
                        block_fills.check(b.2 as i64 * step_qty(b.1) == b.0);
                    }
                }
            }
            Decision::AdaptiveTicket(t) => {
                adaptive = Some((t.adaptive_total, 0));
                facts.adaptive.0 += 1;
                facts.adaptive.1 += t.static_total;
                facts.adaptive.2 += t.adaptive_total;
            }
            Decision::AdaptiveAccount(x) => {
                if let Some(a) = adaptive.as_mut() {
                    a.1 += x.steps;
                }
                let acc = engine.accounts();
                let i = x.account as usize;
                let (lo, hi) = mam_core::adaptive::step_bounds(
                    x.static_steps,
                    acc.min_scale[i],
                    acc.max_scale[i],
                );
                let lot_rules = x.flags & mam_core::adaptive::factors::FLAG_LOT_RULES != 0;
                bounds.check((lo..=hi).contains(&x.steps) || lot_rules);
            }
            Decision::Reject(_)
            | Decision::Refused(_)
            | Decision::Limit(_)
            | Decision::AdaptiveSwitch(_)
            | Decision::Report(_)
            | Decision::Cancel(_)
            | Decision::Trigger(_) => {}
            // Only a block's total line is journaled (its per-account lines went to the LP).
            Decision::Allocation(l) => {
                totals.insert(l.cl_ord_id, l.qty.raw());
            }
        }
    }
    // Holdings follow fills: once every ticket is closed and every order done, every account
    // is flat in the ledger (stop-outs included), and Σ accounts + unallocated = LP net.
    let l = engine.ledger();
    if engine.open_tickets() == 0 && engine.open_orders() == 0 {
        for a in 0..l.accounts() as u32 {
            flat.check(l.open_positions(a) == 0);
        }
    }
    for s in 0..l.instruments() as u32 {
        lp_net.check(
            l.sum_positions(s) + i128::from(l.unallocated(s).raw())
                == i128::from(l.lp_net(s).raw()),
        );
    }
    // What the LP was told of each finished block against what its fills allocated.
    for (cl, total) in &totals {
        let allocated = blocks.get(cl).map_or(-1, |b| b.2 as i64 * step_qty(b.1));
        let at_lp = lp.allocations.get(cl).copied().unwrap_or((-1, -1));
        alloc_lines.check(at_lp.0 == allocated);
        alloc_total.check(at_lp.1 == *total);
    }
    alloc_lines.check(lp.allocations.len() == totals.len());
    let mut seen: BTreeMap<u64, u32> = BTreeMap::new();
    for o in &lp.orders {
        *seen.entry(o.0).or_default() += 1;
    }
    for cl in &journaled {
        once.check(seen.get(cl) == Some(&1));
    }
    once.check(seen.len() == journaled.len());
    let ordered: i64 = lp.orders.iter().map(|o| o.4).sum();
    filled.check(ordered == lp.filled_qty);
    Ok((
        vec![
            sum_children,
            block_whole,
            bounds,
            flat,
            lp_net,
            block_fills,
            alloc_lines,
            alloc_total,
            once,
            filled,
        ],
        facts,
    ))
}
