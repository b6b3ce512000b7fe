//! Config reload on a running daemon: SIGHUP, or `POST /api/reload` (docs/daemon.md,
//! "Reloading the config").
//!
//! The file is read, parsed and checked whole, exactly as at a start; a file that would not
//! start the daemon is refused with the reason and the running config stays. Then it is
//! compared key by key with the file the daemon runs, and each changed key is one of:
//! - `engine.risk.*` (but `max_orders_per_sec`): a pre-trade limit, sent as a journaled engine
//!   input (kind 11, as `PATCH /api/risk-limits`), so it survives a restart and a replay
//!   applies it at the same place;
//! - `engine.model`, `engine.routing`, `engine.min_lot_policy`, `engine.allocation`: what the
//!   manager session gives masters that name none, from the next master on (edge settings:
//!   each master's resolved model is in its own journaled input);
//! - `engine.adaptive_model`: the model file is read and checked with the rest (a bad one
//!   refuses the reload), then the engine stage runs it from its next duty cycle and writes a
//!   checkpoint at once ([`ModelSwaps`]), as a restart with a changed file does; a removed key
//!   goes back to the untrained model;
//! - `manager`, `managers`, `lp`, `lps`: the sessions, compared with those that run and
//!   started, stopped, replaced or re-routed now (`session_changes`); an LP's own session
//!   settings wait for a restart;
//! - anything else (addresses, threads, rings, the journal, `max_orders_per_sec`):
//!   listed as waiting for a restart; nothing of it changes now.
//!
//! Only keys whose value changed in the file act: a limit an operator changed through the API
//! since is not put back by a reload of a file that did not touch it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Context;
use mam_core::adaptive::AdaptiveModel;
use mam_core::engine::risk_change::{limit_in_range, limit_of, limit_value, RiskLimitChange};
use mam_core::engine::Input;
use mam_core::pipeline::engine_stage::admin::{ModelSwapOutcome, ModelSwaps};
use mam_gateway::manager::{MasterDefaults, SharedDefaults};

use super::config::DaemonConfig;
use super::session_changes::{SessionControl, SessionPlan};

/// The defaults keys a reload applies at once.
const DEFAULT_KEYS: [&str; 4] = [
    "engine.model",
    "engine.routing",
    "engine.min_lot_policy",
    "engine.allocation",
];

/// What a reload would do (see the module docs).
#[derive(Debug)]
pub struct Plan {
    /// Limit changes, each with its key, in key order.
    pub limits: Vec<(String, Input)>,
    /// New master defaults, if one of [`DEFAULT_KEYS`] changed, and which.
    pub defaults: Option<(MasterDefaults, Vec<String>)>,
    /// Changed keys that take effect at the next start only.
    pub restart: Vec<String>,
    /// A new adaptive model (the file's, or the untrained one when the key was removed).
    pub model: Option<AdaptiveModel>,
    /// Sessions to start, stop or re-route (with the file they come from).
    pub sessions: Option<(SessionPlan, Box<DaemonConfig>)>,
    table: toml::Table,
}

/// Keys of the sessions (`session_changes` compares them with what runs).
fn is_session_key(key: &str) -> bool {
    ["manager", "managers", "lp", "lps"]
        .iter()
        .any(|k| key == *k || key.strip_prefix(k).is_some_and(|r| r.starts_with('.')))
}

impl Plan {
    /// True if the file changed nothing.
    pub fn is_empty(&self) -> bool {
        self.limits.is_empty()
            && self.defaults.is_none()
            && self.restart.is_empty()
            && self.model.is_none()
            && self.sessions.as_ref().is_none_or(|s| s.0.is_empty())
    }

    /// One line for the daemon's output.
    pub fn summary(&self) -> String {
        if self.is_empty() {
            return "nothing changed".into();
        }
        let mut parts = Vec::new();
        if !self.limits.is_empty() {
            let keys: Vec<&str> = self.limits.iter().map(|(k, _)| k.as_str()).collect();
            parts.push(format!("limits {} (journaled)", keys.join(", ")));
        }
        if let Some((_, keys)) = &self.defaults {
            parts.push(format!("master defaults {}", keys.join(", ")));
        }
        if self.model.is_some() {
            parts.push("adaptive model swapped (checkpoint written)".into());
        }
        if self.sessions.as_ref().is_some_and(|s| !s.0.is_empty()) {
            parts.push("sessions changed (lines follow)".into());
        }
        if !self.restart.is_empty() {
            parts.push(format!(
                "waiting for a restart: {}",
                self.restart.join(", ")
            ));
        }
        parts.join("; ")
    }
}

/// Reloads one config file (shared by the signal loop and the admin API).
#[derive(Debug)]
pub struct Reloader {
    path: PathBuf,
    running: Mutex<toml::Table>,
    defaults: Option<Arc<SharedDefaults>>,
    models: Arc<ModelSwaps>,
    sessions: Option<Arc<SessionControl>>,
}

fn table_of(path: &Path) -> anyhow::Result<(toml::Table, DaemonConfig)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading config {}", path.display()))?;
    let table: toml::Table =
        toml::from_str(&text).with_context(|| format!("config {}", path.display()))?;
    let cfg: DaemonConfig =
        toml::from_str(&text).with_context(|| format!("config {}", path.display()))?;
    Ok((table, cfg))
}

/// Every dotted key whose value differs between `a` and `b` (present in one only included).
fn changed_keys(a: &toml::Table, b: &toml::Table, prefix: &str, out: &mut Vec<String>) {
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for k in keys {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match (a.get(k), b.get(k)) {
            (Some(toml::Value::Table(x)), Some(toml::Value::Table(y))) => {
                changed_keys(x, y, &key, out)
            }
            (Some(toml::Value::Table(x)), None) => changed_keys(x, &toml::Table::new(), &key, out),
            (None, Some(toml::Value::Table(y))) => changed_keys(&toml::Table::new(), y, &key, out),
            (x, y) if x != y => out.push(key),
            _ => {}
        }
    }
}

impl Reloader {
    /// For the file at `path` as the daemon started with it; `defaults` is the manager stage's
    /// (none without a manager session).
    pub fn new(
        path: &Path,
        defaults: Option<Arc<SharedDefaults>>,
        models: Arc<ModelSwaps>,
    ) -> anyhow::Result<Self> {
        let (table, _) = table_of(path)?;
        Ok(Reloader {
            path: path.to_path_buf(),
            running: Mutex::new(table),
            defaults,
            models,
            sessions: None,
        })
    }

    /// Starts, stops and re-routes sessions through `c` at a reload.
    pub fn with_sessions(mut self, c: Arc<SessionControl>) -> Self {
        self.sessions = Some(c);
        self
    }

    /// Does the session part of `plan` (if any): one line per change.
    pub fn apply_sessions(&self, plan: &mut Plan) -> Vec<String> {
        match (plan.sessions.take(), self.sessions.as_ref()) {
            (Some((p, cfg)), Some(c)) => c.apply(p, &cfg),
            _ => Vec::new(),
        }
    }

    /// Where model swaps go to the engine stage.
    pub fn models(&self) -> &Arc<ModelSwaps> {
        &self.models
    }

    /// The config file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads and checks the file and says what a reload would do; an error (naming the key or
    /// the line) if the file would not start the daemon.
    pub fn plan(&self) -> anyhow::Result<Plan> {
        let (table, cfg) = table_of(&self.path)?;
        let checked = cfg.check()?;
        let defaults = super::edges::defaults(&cfg)?;
        let mut keys = Vec::new();
        {
            let running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
            changed_keys(&running, &table, "", &mut keys);
        }
        let mut plan = Plan {
            limits: Vec::new(),
            defaults: None,
            restart: Vec::new(),
            model: None,
            sessions: None,
            table,
        };
        if let Some(c) = &self.sessions {
            let sp = c.plan(&cfg)?;
            plan.restart.extend(sp.restart.iter().cloned());
            plan.sessions = Some((sp, Box::new(cfg.clone())));
        }
        let mut default_keys = Vec::new();
        for key in keys {
            if self.sessions.is_some() && is_session_key(&key) {
                // `lp.allocation_instructions` also tells the engine to forward allocations.
                if key == "lp.allocation_instructions" {
                    plan.restart.push(key);
                }
                continue;
            }
            let limit = key
                .strip_prefix("engine.risk.")
                .and_then(limit_of)
                .map(|(field, _)| field);
            if let Some(field) = limit {
                let value = limit_value(&checked.engine.risk, field).unwrap_or(0);
                anyhow::ensure!(
                    limit_in_range(field, value),
                    "config {}: {key}: out of range (more than 0; collar_bps 0-10000)",
                    self.path.display()
                );
                let change = RiskLimitChange {
                    ts_ns: mam_core::sys::utc_now_ns(),
                    value,
                    field,
                    _pad: [0; 6],
                };
                plan.limits.push((key, Input::Limit(change)));
            } else if key == "engine.adaptive_model" {
                plan.model = Some(match &cfg.engine.adaptive_model {
                    Some(p) => {
                        crate::model_file::load(Path::new(p))
                            .with_context(|| format!("engine.adaptive_model = {p:?}"))?
                            .0
                    }
                    None => AdaptiveModel::untrained(),
                });
            } else if DEFAULT_KEYS.contains(&key.as_str()) && self.defaults.is_some() {
                default_keys.push(key);
            } else {
                plan.restart.push(key);
            }
        }
        if !default_keys.is_empty() {
            plan.defaults = Some((defaults, default_keys));
        }
        Ok(plan)
    }

    /// Makes `plan` the running config: the new defaults from the next master on, and the
    /// file's values the base of the next comparison. The caller has sent the limit inputs
    /// and queued the model swap.
    pub fn commit(&self, plan: Plan) {
        if let (Some((d, _)), Some(shared)) = (plan.defaults, self.defaults.as_ref()) {
            shared.store(d);
        }
        *self.running.lock().unwrap_or_else(PoisonError::into_inner) = plan.table;
    }
}

/// A reload from SIGHUP: the plan's limit inputs go on the admin queue (nobody waits for an
/// answer: the file was checked against the same ranges the engine checks), then it is
/// committed; one line on `out` either way.
pub fn on_signal(
    r: &Reloader,
    admin: &mam_core::pipeline::engine_stage::admin::AdminQueue,
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    use mam_core::pipeline::engine_stage::admin::AdminRequest;
    match r.plan() {
        Err(e) => writeln!(
            out,
            "reload (SIGHUP) refused, the running config kept: {e:#}"
        ),
        Ok(plan) => {
            for (key, input) in &plan.limits {
                if admin
                    .push(AdminRequest {
                        id: 0,
                        input: *input,
                    })
                    .is_err()
                {
                    return writeln!(
                        out,
                        "reload (SIGHUP) stopped at {key}: the admin queue is full; send SIGHUP again"
                    );
                }
            }
            let line = format!("reload (SIGHUP) {}: {}", r.path.display(), plan.summary());
            let mut plan = plan;
            let session_lines = r.apply_sessions(&mut plan);
            if let Some(m) = plan.model.take() {
                if r.models.push(0, m).is_err() {
                    return writeln!(
                        out,
                        "reload (SIGHUP) stopped: model swaps are queued already; send SIGHUP again"
                    );
                }
            }
            r.commit(plan);
            writeln!(out, "{line}")?;
            for l in session_lines {
                writeln!(out, "  {l}")?;
            }
            Ok(())
        }
    }
}

/// The outcome of a model swap a SIGHUP queued, if the engine stage has answered, as the line
/// the daemon prints.
pub fn signal_model_outcome(r: &Reloader) -> Option<String> {
    let o: ModelSwapOutcome = r.models.take_outcome(0)?;
    Some(match o {
        Ok(s) => format!(
            "adaptive model swapped: fingerprint {:016x} -> {:016x}, checkpoint at journal seq {}",
            s.before, s.after, s.checkpoint_seq
        ),
        Err(e) => format!("adaptive model swap refused, the model kept: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> toml::Table {
        toml::from_str(s).unwrap()
    }

    #[test]
    fn changed_keys_are_dotted_leaves_of_either_side() {
        let a = t("state = \"s\"\n[engine]\nmodel = \"equity\"\n[engine.risk]\ncollar_bps = 5\n");
        let b = t("state = \"s\"\n[engine]\nmodel = \"balance\"\n[lp]\nconnect = \"x\"\n");
        let mut out = Vec::new();
        changed_keys(&a, &b, "", &mut out);
        assert_eq!(
            out,
            vec!["engine.model", "engine.risk.collar_bps", "lp.connect"]
        );
    }

    #[test]
    fn a_plan_sorts_limits_defaults_and_restarts_and_a_bad_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("mam.toml");
        std::fs::write(&p, "state = \"s\"\n[engine.risk]\ncollar_bps = 500\n").unwrap();
        let shared = Arc::new(SharedDefaults::new(MasterDefaults::default()));
        let r = Reloader::new(&p, Some(shared.clone()), Arc::default()).unwrap();
        assert!(r.plan().unwrap().is_empty());
        std::fs::write(
            &p,
            "state = \"s\"\n[engine]\nrouting = \"per-account\"\n[engine.risk]\ncollar_bps = 200\n\
             max_orders_per_sec = 10\n[pipeline]\nring = 2048\n",
        )
        .unwrap();
        let plan = r.plan().unwrap();
        let keys: Vec<&str> = plan.limits.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, vec!["engine.risk.collar_bps"]);
        assert!(matches!(plan.limits[0].1, Input::Limit(c) if c.field == 7 && c.value == 200));
        assert_eq!(
            plan.restart,
            vec!["engine.risk.max_orders_per_sec", "pipeline.ring"]
        );
        let summary = plan.summary();
        r.commit(plan);
        assert_eq!(
            shared.load().routing,
            mam_core::engine::input::MODE_PER_ACCOUNT
        );
        assert!(summary.contains("engine.routing"), "{summary}");
        assert!(r.plan().unwrap().is_empty(), "committed: nothing new");
        // A file that would not start the daemon: refused, the running config kept.
        std::fs::write(&p, "state = \"s\"\n[engine]\nrouting = \"sideways\"\n").unwrap();
        let e = format!("{:#}", r.plan().unwrap_err());
        assert!(e.contains("engine.routing"), "{e}");
        std::fs::write(&p, "state = \"s\"\n[engine]\nroutin = 1\n").unwrap();
        let e = format!("{:#}", r.plan().unwrap_err());
        assert!(e.contains("routin"), "{e}");
        assert_eq!(
            shared.load().routing,
            mam_core::engine::input::MODE_PER_ACCOUNT
        );
    }
}
