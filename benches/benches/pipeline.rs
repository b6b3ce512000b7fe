//! Master order → last child order through the real `EngineStage` (engine + journal on disk),
//! 1,000 accounts, block and per-account routing.
//!
//! One iteration = push one master order on the master ring, run the stage's duty cycle until
//! its last child order is on the order ring, pop them all. Opens and closes are timed apart
//! (`.../open`, `.../close`): each iteration opens a ticket and closes it, timing one of the two.
//! The fills that keep open-order limits flat are fed back outside the timed part. Threading modes
//! do not apply here (one thread calls `do_work`); `mam bench pipeline` measures those.
//! `cargo bench -p mam-benches --bench pipeline`.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use mam_benches::pipeline::inproc::{engine_config, master_lots, FILL_PX};
use mam_benches::pipeline::loadgen::{master_frame, quote, LoadPlan};
use mam_benches::pipeline::{accounts, Routing};
use mam_core::engine::input::Input;
use mam_core::engine::Engine;
use mam_core::event::{ExecStatus, FillEvent, ORD_TYPE_ALLOC};
use mam_core::journal::{Journal, JournalConfig, SyncPolicy};
use mam_core::num::Qty;
use mam_core::pipeline::engine_stage::{EngineRings, EngineStage, EngineStageOptions, Sequencing};
use mam_core::pipeline::{ring, EdgeFrame, Stage};
use mam_core::symbol::SymbolTable;
use mam_gateway::latency::mono_ns;

const ACCOUNTS: usize = 1_000;

fn engine_cycle(c: &mut Criterion, routing: Routing, timed_close: bool) {
    let dir = tempfile::tempdir().expect("temp dir");
    let symbols = SymbolTable::builtin();
    let instrument = symbols.id_of("EURUSD").expect("EURUSD");
    let engine = Engine::new(symbols, accounts(ACCOUNTS), engine_config()).expect("engine");
    let (journal, _) =
        Journal::open(&dir.path().join("journal"), JournalConfig::default()).expect("journal");
    let (mut mtx, mrx, _) = ring(1 << 10);
    let (mut qtx, qrx, _) = ring(16);
    let (otx, mut orx, _) = ring(1 << 15);
    let (mut ftx, frx, fstats) = ring(1 << 15);
    let (mut stage, _report, _stats) = EngineStage::new(
        engine,
        journal,
        EngineStageOptions {
            sequencing: Sequencing::Arrival,
            checkpoint_dir: dir.path().join("checkpoints"),
            checkpoint_every: 0,
            clock: mono_ns,
            drain_timeout_ns: 0,
            tap: None,
            batch: 64,
            admin: None,
            // The figures of docs/latency.md were taken before `journal.sync` existed and
            // leave the disk out; `mam bench journal` measures the sync on its own.
            sync: SyncPolicy::Checkpoint,
            forward_allocations: false,
        },
        EngineRings {
            market: Some(qrx),
            masters: Some(mrx),
            fills: frx,
            orders: otx,
        },
        Arc::new(AtomicBool::new(false)),
    );
    let plan = LoadPlan {
        start_ns: 0,
        master_start_ns: 0,
        // Open, close, open, close: each timed master is the open or the close of its pair.
        masters: u64::MAX - 1,
        close_lag: 0,
        master_interval_ns: 0,
        quotes: 0,
        quote_interval_ns: 0,
        instrument,
        lots: master_lots(ACCOUNTS),
        routing,
    };
    // A reference price before any order.
    qtx.try_push(quote(&plan, 0, mono_ns())).expect("room");
    while stage.do_work() > 0 {}
    let mut i = 0u64;
    let mut fills = Vec::with_capacity(2 * ACCOUNTS);
    let what = if timed_close { "close" } else { "open" };
    let name = format!(
        "engine_stage_master_to_last_child_{ACCOUNTS}_{}/{what}",
        routing.as_str()
    );
    // One master order through the stage: returns how long until its last child was popped.
    let mut one = |i: u64| {
        let t0 = Instant::now();
        mtx.try_push(master_frame(&plan, i, mono_ns()))
            .expect("room");
        let mut last = false;
        while !last {
            stage.do_work();
            while let Some(o) = orx.pop() {
                if o.order.ord_type == ORD_TYPE_ALLOC {
                    // The previous block's allocation lines (back office), not this master's.
                    continue;
                }
                last |= o.index + 1 == o.count;
                fills.push(o.order);
            }
        }
        let took = t0.elapsed();
        for o in fills.drain(..) {
            let f = FillEvent {
                recv_ns: mono_ns(),
                cl_ord_id: o.cl_ord_id,
                exec_id: o.cl_ord_id,
                last_qty: o.qty,
                last_px: FILL_PX,
                cum_qty: o.qty,
                leaves_qty: Qty::ZERO,
                status: ExecStatus::Filled as u8,
                _pad: [0; 7],
            };
            let fr = EdgeFrame::input(&Input::Fill(f), f.recv_ns, 0, f.recv_ns);
            ftx.try_push(fr).expect("room");
        }
        while fstats.popped.load(Relaxed) < fstats.pushed.load(Relaxed) {
            stage.do_work();
        }
        took
    };
    c.bench_function(&name, |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                let open = one(i);
                let close = one(i + 1);
                i += 2;
                timed += if timed_close { close } else { open };
            }
            timed
        })
    });
}

fn block(c: &mut Criterion) {
    engine_cycle(c, Routing::Block, false);
    engine_cycle(c, Routing::Block, true);
}

fn per_account(c: &mut Criterion) {
    engine_cycle(c, Routing::PerAccount, false);
    engine_cycle(c, Routing::PerAccount, true);
}

criterion_group!(benches, block, per_account);
criterion_main!(benches);
