//! The daemon's rings between its stages, made from the config before any stage exists: one
//! market ring, one fill ring per LP session, one order ring, and per manager session a master
//! ring in and a report ring out.

use std::io::Write;

use mam_core::event::MarketEvent;
use mam_core::pipeline::{ring, EdgeFrame, EdgeOrder, ManagerReport, RingRx, RingTx};

use super::config::DaemonConfig;
use super::edges::ManagerRings;
use super::resume::{self, Started, StatePaths};
use super::stats::NamedRing;

/// Both ends of every ring, sorted by the stage that takes each end, and the rings the stats
/// line shows.
pub(super) struct Rings {
    /// Feed → engine.
    pub market_tx: RingTx<MarketEvent>,
    /// The engine's end of the market ring.
    pub market_rx: RingRx<MarketEvent>,
    /// LP → engine, one per LP session (`[lp]` first).
    pub fill_txs: Vec<RingTx<EdgeFrame>>,
    /// The engine's end of the first LP's fill ring.
    pub fills_rx: RingRx<EdgeFrame>,
    /// The engine's ends of the other LPs' fill rings.
    pub more_fills: Vec<RingRx<EdgeFrame>>,
    /// Engine → LP.
    pub orders_tx: RingTx<EdgeOrder>,
    /// The LP's end of the order ring.
    pub orders_rx: RingRx<EdgeOrder>,
    /// The manager sessions' ends, manager 0 first.
    pub managers: Vec<ManagerRings>,
    /// The engine's ends per manager session: its number, masters in, reports out.
    pub engine_managers: Vec<(u8, RingRx<EdgeFrame>, RingTx<ManagerReport>)>,
    /// The stats line's rings: feed, masters (manager 0's), orders, fills (the first LP's).
    pub shown: Vec<NamedRing>,
}

impl Rings {
    /// Every ring of `cfg`'s sessions, each `cfg.pipeline.ring` slots.
    pub fn new(cfg: &DaemonConfig) -> Self {
        let cap = cfg.pipeline.ring;
        let (market_tx, market_rx, mstats) = ring(cap);
        let (ftx, fills_rx, fstats) = ring(cap);
        let (mut fill_txs, mut more_fills) = (vec![ftx], Vec::new());
        for _ in &cfg.lps {
            let (tx, rx, _) = ring(cap);
            fill_txs.push(tx);
            more_fills.push(rx);
        }
        let (orders_tx, orders_rx, ostats) = ring(cap);
        let (mut managers, mut engine_managers, mut astats) = (Vec::new(), Vec::new(), None);
        for m in cfg.manager_sessions() {
            let (atx, arx, st) = ring(cap);
            let (rtx, rrx, _) = ring(cap);
            astats.get_or_insert(st);
            managers.push(ManagerRings {
                number: m.number,
                master_tx: atx,
                report_rx: rrx,
            });
            engine_managers.push((m.number, arx, rtx));
        }
        Rings {
            market_tx,
            market_rx,
            fill_txs,
            fills_rx,
            more_fills,
            orders_tx,
            orders_rx,
            managers,
            engine_managers,
            shown: vec![
                ("feed", mstats),
                ("masters", astats.unwrap_or_default()),
                ("orders", ostats),
                ("fills", fstats),
            ],
        }
    }
}

/// The reports a crash took between the journal and the managers' sockets, to send before
/// any other (nothing after a fresh start); says how many each manager gets.
pub(super) fn unsent_reports(
    out: &mut impl Write,
    cfg: &DaemonConfig,
    started: &Started,
    paths: &StatePaths,
) -> anyhow::Result<Vec<ManagerReport>> {
    let mut unsent = Vec::new();
    if !started.restarted {
        return Ok(unsent);
    }
    for m in cfg.manager_sessions() {
        let u = resume::unsent_reports(paths, m)?;
        if !u.is_empty() {
            writeln!(
                out,
                "  manager {}: {} reports journaled but never sent: sending them first",
                m.number,
                u.len()
            )?;
        }
        unsent.extend(u);
    }
    Ok(unsent)
}
