//! Manager and LP sessions a config reload adds, removes or replaces on the running daemon
//! (docs/daemon.md, "Reloading the config").
//!
//! The reload compares the file's sessions with the sessions that run (not with the previous
//! file: a session that failed to start is tried again at the next reload):
//! - a manager added starts: its rings go to the engine stage ([`Attachments`]), its stage to
//!   the [`ManagerHost`](super::sessions::ManagerHost); a manager removed logs out and
//!   leaves; a manager whose settings changed is replaced: the old session logs out first (its
//!   listen address and store are free again), then the new one starts under the same number;
//! - an LP added starts behind the router with its own order and fill rings; an LP removed
//!   takes no new order and is drained (its session stays for the orders it holds, then logs
//!   out); symbols and fallbacks change the routes of new orders at once. An LP whose session
//!   settings changed (address, CompIDs, version...) waits for a restart, as does adding back
//!   an LP removed since the start (its store may still be in use while it drains).
//!
//! None of it is journaled: which session an order comes in on or goes out on changes no
//! decision of the engine (design-notes.md, "The route is not journaled").

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use mam_core::pipeline::engine_stage::attach::{Attachment, Attachments};
use mam_core::pipeline::{ring, EdgeFrame, EdgeOrder, ManagerReport};
use mam_gateway::lp::{RoutedLp, RouterChange, RouterChanges};

use super::config::{DaemonConfig, LpConfig, ManagerConfig};
use super::edges::{lp_routes, lp_stage, manager_stage, LpBuild, ManagerRings};
use super::sessions::{HostChange, HostHandle, LateCounters, SessionContext};
use crate::admin::manager::SessionInfo;

/// How long a replaced manager session gets to log out before its successor starts.
const REPLACE_WAIT: Duration = Duration::from_secs(10);

/// What a reload does to the sessions.
#[derive(Debug, Default)]
pub struct SessionPlan {
    /// Managers whose session stops (removed or replaced).
    stop: Vec<u8>,
    /// Managers whose session starts (added or replaced).
    start: Vec<ManagerConfig>,
    lps_add: Vec<LpConfig>,
    lps_remove: Vec<String>,
    routes: bool,
    /// Session changes that wait for a restart, each with why.
    pub restart: Vec<String>,
}

impl SessionPlan {
    /// True if it changes nothing now.
    pub fn is_empty(&self) -> bool {
        self.stop.is_empty()
            && self.start.is_empty()
            && self.lps_add.is_empty()
            && self.lps_remove.is_empty()
            && !self.routes
    }
}

/// The sessions that run, and where changes to them go.
pub struct SessionControl {
    ctx: SessionContext,
    host: HostHandle,
    engine: Arc<Attachments>,
    router: Arc<RouterChanges>,
    /// Manager sessions running, by number.
    managers: Mutex<BTreeMap<u8, ManagerConfig>>,
    /// The router's LPs by index, each with its config and whether a reload removed it.
    lps: Mutex<Vec<(LpConfig, bool)>>,
    late: LateCounters,
    /// What `GET /api/managers` lists.
    infos: Arc<Mutex<Vec<SessionInfo>>>,
}

impl std::fmt::Debug for SessionControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionControl").finish_non_exhaustive()
    }
}

/// The session fields of an LP (all but its routing).
fn lp_session(l: &LpConfig) -> LpConfig {
    LpConfig {
        symbols: Vec::new(),
        fallback: None,
        ..l.clone()
    }
}

fn info(m: &ManagerConfig) -> SessionInfo {
    SessionInfo {
        number: m.number,
        listen: m.listen.clone(),
        comp_id: m.comp_id.clone(),
        peer_comp_id: m.peer_comp_id.clone(),
    }
}

/// The routers, queues and views a [`SessionControl`] drives.
pub struct SessionParts {
    /// What building a session needs.
    pub ctx: SessionContext,
    /// The manager host's handle.
    pub host: HostHandle,
    /// The engine stage's attachments.
    pub engine: Arc<Attachments>,
    /// The LP router's changes.
    pub router: Arc<RouterChanges>,
    /// Counters of sessions added later (the stats line reads them).
    pub late: LateCounters,
}

impl SessionControl {
    /// The control of the sessions `cfg` started.
    pub fn new(cfg: &DaemonConfig, parts: SessionParts) -> Self {
        SessionControl {
            ctx: parts.ctx,
            host: parts.host,
            engine: parts.engine,
            router: parts.router,
            managers: Mutex::new(
                cfg.manager_sessions()
                    .map(|m| (m.number, m.clone()))
                    .collect(),
            ),
            lps: Mutex::new(cfg.lp_sessions().map(|l| (l.clone(), false)).collect()),
            late: parts.late,
            infos: Arc::new(Mutex::new(cfg.manager_sessions().map(info).collect())),
        }
    }

    /// The manager sessions `GET /api/managers` lists (kept current by reloads).
    pub fn infos(&self) -> Arc<Mutex<Vec<SessionInfo>>> {
        self.infos.clone()
    }

    /// What a reload to `cfg` (checked) does to the sessions; an error if an added manager's
    /// address is taken.
    pub fn plan(&self, cfg: &DaemonConfig) -> anyhow::Result<SessionPlan> {
        let mut plan = SessionPlan::default();
        let running = self.managers.lock().unwrap_or_else(PoisonError::into_inner);
        let wanted: BTreeMap<u8, &ManagerConfig> =
            cfg.manager_sessions().map(|m| (m.number, m)).collect();
        for (n, old) in running.iter() {
            if wanted.get(n).is_none_or(|m| *m != old) {
                plan.stop.push(*n);
            }
        }
        for (n, m) in &wanted {
            if running.get(n) != Some(*m) {
                // Free now, or once the session stopping holds it no more.
                let freed = running
                    .values()
                    .any(|o| o.listen == m.listen && plan.stop.contains(&o.number));
                if !freed {
                    super::probe_listen(&format!("listen of manager {n}"), &m.listen)?;
                }
                plan.start.push((*m).clone());
            }
        }
        let lps = self.lps.lock().unwrap_or_else(PoisonError::into_inner);
        for l in cfg.lp_sessions() {
            match lps.iter().find(|(o, _)| o.name == l.name) {
                None => plan.lps_add.push(l.clone()),
                Some((_, true)) => plan.restart.push(format!(
                    "LP {} (removed since the start: adding it back needs a restart)",
                    l.name
                )),
                Some((o, false)) => {
                    if lp_session(o) != lp_session(l) {
                        plan.restart
                            .push(format!("LP {} (session settings)", l.name));
                    }
                    plan.routes |= o.symbols != l.symbols || o.fallback != l.fallback;
                }
            }
        }
        for (o, removed) in lps.iter() {
            if !removed && !cfg.lp_sessions().any(|l| l.name == o.name) {
                plan.lps_remove.push(o.name.clone());
            }
        }
        plan.routes |= !plan.lps_add.is_empty() || !plan.lps_remove.is_empty();
        Ok(plan)
    }

    /// Does `plan` (from [`plan`](Self::plan) with the same `cfg`); one line per change, a
    /// session that could not start said so (the next reload tries it again).
    pub fn apply(&self, plan: SessionPlan, cfg: &DaemonConfig) -> Vec<String> {
        let mut lines = Vec::new();
        self.stop_managers(&plan, &mut lines);
        for m in &plan.start {
            match self.start_manager(m, cfg) {
                Ok(line) => lines.push(format!("started {line}")),
                Err(e) => lines.push(format!(
                    "manager {} not started (reload again to retry): {e:#}",
                    m.number
                )),
            }
        }
        for l in &plan.lps_add {
            match self.start_lp(l) {
                Ok(line) => lines.push(format!("started {line}")),
                Err(e) => lines.push(format!(
                    "LP {} not started (reload again to retry): {e:#}",
                    l.name
                )),
            }
        }
        let mut lps = self.lps.lock().unwrap_or_else(PoisonError::into_inner);
        for name in &plan.lps_remove {
            if let Some(l) = lps.iter_mut().find(|(l, r)| !r && &l.name == name) {
                l.1 = true;
            }
        }
        if plan.routes {
            for (l, removed) in lps.iter_mut() {
                if let Some(new) = cfg.lp_sessions().find(|n| n.name == l.name && !*removed) {
                    l.symbols = new.symbols.clone();
                    l.fallback = new.fallback.clone();
                }
            }
            // Removed LPs keep their index under a name no config can give.
            let index: Vec<String> = lps
                .iter()
                .map(|(l, removed)| {
                    if *removed {
                        String::new()
                    } else {
                        l.name.clone()
                    }
                })
                .collect();
            match lp_routes(cfg, &self.ctx.symbols, &index) {
                Ok(r) => {
                    if self.router.push(RouterChange::Routes(r)).is_err() {
                        lines.push("routes not changed: the router's queue is full".into());
                    } else {
                        lines.push("LP routes changed for new orders".into());
                    }
                }
                Err(e) => lines.push(format!("routes not changed: {e:#}")),
            }
        }
        for name in &plan.lps_remove {
            if self.router.push(RouterChange::Remove(name.clone())).is_ok() {
                lines.push(format!(
                    "LP {name} removed: no new orders; it logs out once none is working there"
                ));
            }
        }
        lines
    }

    /// Stops the sessions `plan` stops; waits for those it replaces to end.
    fn stop_managers(&self, plan: &SessionPlan, lines: &mut Vec<String>) {
        let mut running = self.managers.lock().unwrap_or_else(PoisonError::into_inner);
        for &n in &plan.stop {
            if self.host.push(HostChange::Remove(n)).is_err() {
                lines.push(format!("manager {n} not stopped: the host's queue is full"));
                continue;
            }
            running.remove(&n);
            self.infos
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .retain(|i| i.number != n);
            lines.push(format!("manager {n} logging out"));
        }
        let t0 = Instant::now();
        for m in &plan.start {
            while self.host.is_running(m.number) && t0.elapsed() < REPLACE_WAIT {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }

    fn start_manager(&self, m: &ManagerConfig, cfg: &DaemonConfig) -> anyhow::Result<String> {
        let n = m.number;
        anyhow::ensure!(
            !self.host.is_running(n),
            "the previous session of manager {n} has not ended within {REPLACE_WAIT:?}"
        );
        let (master_tx, master_rx, _) = ring::<EdgeFrame>(self.ctx.ring);
        let (report_tx, report_rx, _) = ring::<ManagerReport>(self.ctx.ring);
        let own = Arc::new(AtomicBool::new(false));
        let rings = ManagerRings {
            number: n,
            master_tx,
            report_rx,
        };
        let (stage, line, counters) = manager_stage(m, rings, own.clone(), None, &self.ctx, cfg)?;
        let a = Attachment::Manager {
            number: n,
            masters: master_rx,
            reports: report_tx,
        };
        self.engine
            .push(a)
            .map_err(|_| anyhow::anyhow!("the engine's attachment queue is full"))?;
        if self
            .host
            .push(HostChange::Add {
                number: n,
                own,
                stage,
            })
            .is_err()
        {
            anyhow::bail!("the host's queue is full");
        }
        self.late
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(format!("manager {n}"), counters);
        self.managers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(n, m.clone());
        let mut infos = self.infos.lock().unwrap_or_else(PoisonError::into_inner);
        infos.push(info(m));
        infos.sort_by_key(|i| i.number);
        Ok(line)
    }

    fn start_lp(&self, l: &LpConfig) -> anyhow::Result<String> {
        let mut lps = self.lps.lock().unwrap_or_else(PoisonError::into_inner);
        let index = lps.len();
        let (otx, orx, _) = ring::<EdgeOrder>(self.ctx.ring);
        let (ftx, frx, _) = ring::<EdgeFrame>(self.ctx.ring);
        let b = LpBuild {
            cfg: l,
            store: self.ctx.paths.fix_lp_named(&l.name),
            resend: Vec::new(),
            engine_cum: BTreeMap::new(),
            restarted: false,
        };
        let (stage, line, counters) = lp_stage(b, orx, ftx, &self.ctx, index)?;
        self.engine
            .push(Attachment::Fills(frx))
            .map_err(|_| anyhow::anyhow!("the engine's attachment queue is full"))?;
        let lp = RoutedLp::new(&l.name, stage, otx);
        if self.router.push(RouterChange::Add(Box::new(lp))).is_err() {
            anyhow::bail!("the router's queue is full");
        }
        lps.push((l.clone(), false));
        self.late
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(format!("lp {}", l.name), counters);
        Ok(line)
    }
}
