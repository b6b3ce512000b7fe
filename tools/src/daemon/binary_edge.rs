//! The daemon's binary order-entry manager edge (`protocol = "binary"` on a `[manager]` or
//! `[[managers]]` entry): the same rings, defaults, resume point, start-up line and stats
//! counters as the FIX acceptor, with `mam_gateway::manager::binary::BinaryManagerStage` in
//! its place (docs/daemon.md, "Binary order entry").

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::Context;
use mam_core::pipeline::Stage;
use mam_gateway::manager::binary::{BinaryManagerOptions, BinaryManagerStage, STORE_CAPACITY};

use super::{
    defaults, manager_counters, manager_key_and_label, sock, Edge, ManagerRings, SessionContext,
};
use crate::daemon::config::{DaemonConfig, ManagerConfig};
use crate::daemon::stats::EdgeCounters;

/// Heartbeat interval of the binary session (ms).
const KEEPALIVE_MS: u32 = 1_000;

/// Manager `m`'s binary acceptor as a stage stopped by `own` (which follows the daemon's
/// stop), its start-up line and its stats counters.
pub(super) fn stage(
    m: &ManagerConfig,
    rings: ManagerRings,
    own: Arc<AtomicBool>,
    resume_after: Option<u64>,
    x: &SessionContext,
    cfg: &DaemonConfig,
) -> anyhow::Result<(Box<dyn Stage>, String, EdgeCounters)> {
    let n = m.number;
    let (key, label) = manager_key_and_label(n);
    let opts = BinaryManagerOptions {
        listen: sock(&m.listen)?,
        session_id: m.session_id,
        keepalive_ms: KEEPALIVE_MS,
        store_path: x.paths.binary_manager_of(n),
        store_capacity: STORE_CAPACITY,
        resume_after,
        allow_remote: m.allow_remote,
        defaults: defaults(cfg)?,
        manager: n,
        sending_time_tolerance_ns: m
            .sending_time_tolerance()?
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
    };
    let s = BinaryManagerStage::new(
        opts,
        x.symbols.clone(),
        rings.master_tx,
        own.clone(),
        Some(x.tap.clone()),
    )
    .with_context(|| format!("{key}.listen {}", m.listen))?
    .with_reports(rings.report_rx)
    .with_live_defaults(x.defaults.clone());
    let line = format!(
        "{label}: binary order-entry acceptor listening on {} (session {})",
        s.local_addr(),
        m.session_id
    );
    // The FIX edge's counters but for position requests, which this protocol lacks.
    let counters = manager_counters(n, s.counters(), false);
    Ok((
        Edge::boxed(s, Some(own), &x.stop, false, None),
        line,
        counters,
    ))
}
