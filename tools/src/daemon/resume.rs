//! Start-up: a fresh state directory, or recovery of the engine from its checkpoint and
//! journal, and where every source resumes (docs/daemon.md, "Restart").

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::Context;
use mam_core::account::store::AccountStore;
use mam_core::adaptive::AdaptiveModel;
use mam_core::engine::decision::Decision;
use mam_core::engine::lifecycle::record::KIND_MASTER_REPORT;
use mam_core::engine::origin::{resume_points, Origin, SOURCE_MANAGER};
use mam_core::engine::{Engine, EngineConfig};
use mam_core::event::ChildOrder;
use mam_core::journal::{Journal, JournalConfig, JournalReader};
use mam_core::pipeline::engine_stage::report_manager;
use mam_core::pipeline::ManagerReport;
use mam_core::symbol::SymbolTable;

use super::config::DaemonConfig;

/// The state directory's parts.
#[derive(Debug, Clone)]
pub struct StatePaths {
    /// Journal segments.
    pub journal: PathBuf,
    /// Checkpoints.
    pub checkpoints: PathBuf,
    /// Manager 0's FIX store (manager `n`'s: [`StatePaths::fix_manager_of`]).
    pub fix_manager: PathBuf,
    /// The LP session's FIX store.
    pub fix_lp: PathBuf,
}

impl StatePaths {
    /// Under `root`.
    pub fn new(root: &Path) -> Self {
        StatePaths {
            journal: root.join("journal"),
            checkpoints: root.join("checkpoints"),
            fix_manager: root.join("fix-manager"),
            fix_lp: root.join("fix-lp"),
        }
    }

    /// The FIX store of LP `name` (not `[lp]`, whose store is [`StatePaths::fix_lp`]).
    pub fn fix_lp_named(&self, name: &str) -> PathBuf {
        let mut p = self.fix_lp.clone().into_os_string();
        p.push(format!("-{name}"));
        p.into()
    }

    /// Manager `n`'s binary order-entry store (`protocol = "binary"`): `binary-manager-<n>.store`.
    pub fn binary_manager_of(&self, n: u8) -> PathBuf {
        self.fix_manager
            .with_file_name(format!("binary-manager-{n}.store"))
    }

    /// Manager `n`'s FIX store: `fix-manager` for manager 0, `fix-manager-<n>` for the others.
    pub fn fix_manager_of(&self, n: u8) -> PathBuf {
        if n == 0 {
            self.fix_manager.clone()
        } else {
            let mut p = self.fix_manager.clone().into_os_string();
            p.push(format!("-{n}"));
            p.into()
        }
    }
}

/// The engine ready to run, and where each source resumes.
#[derive(Debug)]
pub struct Started {
    /// The engine.
    pub engine: Engine,
    /// Its journal, open for appending.
    pub journal: Journal,
    /// False on the first start of this state directory.
    pub restarted: bool,
    /// What recovery did (for the log).
    pub recovery: Option<String>,
    /// Next market-data sequence number wanted (SoupBinTCP's Requested Sequence Number).
    pub market_next: u64,
    /// MsgSeqNum of manager 0's last master order the journal holds.
    pub manager_last: Option<u64>,
    /// The same for every manager that has one, by number.
    pub managers_last: BTreeMap<u8, u64>,
    /// The last origin record of each manager message the journal holds only partly (a kill
    /// came between its inputs): asked for again whole, its journaled inputs are dropped.
    pub partial: Vec<Origin>,
}

/// What a state directory holds, decided before anything in it is written.
#[derive(Debug, PartialEq, Eq)]
enum Found {
    /// A checkpoint (`checkpoints/CURRENT`, written last by a first start): recover.
    Started,
    /// No checkpoint and a journal without records: absent, or a first start that was
    /// interrupted (it journals nothing before its checkpoint). Initialised afresh.
    NeverStarted,
}

/// Classifies the state directory, or refuses it with the exact reason.
fn classify(paths: &StatePaths) -> anyhow::Result<Found> {
    if paths.checkpoints.join("CURRENT").exists() {
        return Ok(Found::Started);
    }
    if paths.journal.is_dir() {
        let r = JournalReader::open(&paths.journal)
            .with_context(|| format!("reading {}", paths.journal.display()))?;
        let rep = r.report();
        if let Some(c) = &rep.corruption {
            anyhow::bail!(
                "{} has no checkpoint (checkpoints/CURRENT) and its journal is damaged ({c}): \
                 not an interrupted first start; move the state directory away to start afresh",
                paths.journal.display()
            );
        }
        if rep.records() > 0 || rep.segments.len() > 1 {
            anyhow::bail!(
                "{} holds {} journal records in {} segments but there is no checkpoint ({} is \
                 missing): not an interrupted first start (it journals nothing before its \
                 checkpoint); move the state directory away to start afresh",
                paths.journal.display(),
                rep.records(),
                rep.segments.len(),
                paths.checkpoints.join("CURRENT").display()
            );
        }
    }
    Ok(Found::NeverStarted)
}

/// Says that `accounts.file` is not read because the state directory holds its own accounts.
fn accounts_note(cfg: &DaemonConfig, engine: &Engine) -> Option<String> {
    let file = cfg.accounts.file.as_ref()?;
    let ids = &engine.accounts().id;
    let mut names: Vec<String> = ids
        .iter()
        .take(5)
        .map(|id| {
            let end = id.iter().position(|&b| b == 0).unwrap_or(id.len());
            String::from_utf8_lossy(&id[..end]).into_owned()
        })
        .collect();
    if ids.len() > names.len() {
        names.push("...".into());
    }
    Some(format!(
        "accounts.file {} is not read: the state directory {} already holds {} accounts ({}); \
         move the state directory away to start from the file",
        file.display(),
        cfg.state.display(),
        ids.len(),
        names.join(", ")
    ))
}

/// Opens or recovers the engine under `paths`.
pub fn start(
    cfg: &DaemonConfig,
    engine_config: EngineConfig,
    symbols: &SymbolTable,
    paths: &StatePaths,
    model: Option<AdaptiveModel>,
) -> anyhow::Result<Started> {
    std::fs::create_dir_all(&cfg.state)
        .with_context(|| format!("creating state directory {}", cfg.state.display()))?;
    // First start is atomic by its last step: the checkpoint's `CURRENT` file, renamed into
    // place after the journal and the checkpoint are on disk. A directory without it and
    // with an empty journal never started (a kill at any instant of a first start leaves
    // that), and is initialised again; anything else without it is refused.
    let (engine, journal, restarted, recovery) = if classify(paths)? == Found::Started {
        let r = Engine::recover(
            &paths.checkpoints,
            &paths.journal,
            JournalConfig::default(),
            symbols.clone(),
        )
        .with_context(|| {
            format!(
                "recovering from {} and {} (a damaged state directory is never overwritten: move \
                 it away to start afresh)",
                paths.checkpoints.display(),
                paths.journal.display()
            )
        })?;
        if r.engine.config() != &engine_config {
            tracing::warn!(
                "the config's engine settings differ from the checkpoint's; the checkpoint's \
                 stay in force (they are part of the journaled state)"
            );
        }
        let jr = &r.journal_report;
        let text = format!(
            "recovered: checkpoint seq {}, {} inputs replayed, {} decisions re-checked, {} \
             appended; journal: {} segments, torn tail {}",
            r.checkpoint_seq,
            r.replayed_inputs,
            r.checked_decisions,
            r.appended_decisions,
            jr.segments.len(),
            jr.torn_tail
                .as_ref()
                .map_or("none".to_string(), |t| format!("cut ({t:?})"))
        );
        let (mut engine, mut journal) = (r.engine, r.journal);
        let mut text = text;
        if let Some(note) = accounts_note(cfg, &engine) {
            tracing::warn!("{note}");
            text.push_str("; ");
            text.push_str(&note);
        }
        if let Some(m) = model {
            // The replay ran the checkpoint's model; switch to the configured one and take a
            // checkpoint at once, so the next recovery replays with it (docs/adaptive.md).
            // A model mark first: the checkpoint gets a sequence of its own (model_mark.rs).
            let ts = mam_core::sys::utc_now_ns();
            if engine.swap_adaptive_model(m, &mut journal, ts)?.is_some() {
                engine.write_checkpoint(&paths.checkpoints, &mut journal)?;
                text.push_str("; adaptive model changed: model mark and checkpoint written");
            }
        }
        (engine, journal, true, Some(text))
    } else {
        let accounts = match &cfg.accounts.file {
            Some(p) => AccountStore::open(p)
                .with_context(|| format!("accounts.file {}", p.display()))?
                .to_vecs(),
            None => crate::demo::gen::accounts(cfg.accounts.generate, cfg.accounts.seed),
        };
        anyhow::ensure!(
            !accounts.id.is_empty(),
            "no accounts: set accounts.file or generate"
        );
        let mut engine = Engine::new(symbols.clone(), accounts, engine_config)?;
        if let Some(m) = model {
            engine.set_adaptive_model(m)?;
        }
        let (mut journal, _) = Journal::open(&paths.journal, JournalConfig::default())
            .with_context(|| format!("creating the journal in {}", paths.journal.display()))?;
        engine.write_checkpoint(&paths.checkpoints, &mut journal)?;
        (engine, journal, false, None)
    };
    let points = resume_points(&journal).context("reading the journal's resume points")?;
    Ok(Started {
        market_next: points.market_seq.map_or(1, |s| s + 1),
        manager_last: points.resume_after(SOURCE_MANAGER),
        managers_last: points
            .origins
            .iter()
            .filter_map(|(&src, o)| {
                let n = u8::try_from(src.checked_sub(SOURCE_MANAGER)?).ok()?;
                Some((n, o.resume_after()))
            })
            .collect(),
        partial: points.partial().copied().collect(),
        engine,
        journal,
        restarted,
        recovery,
    })
}

/// Every order the engine still tracks, in ClOrdID order, read back from its journaled
/// decision. The LP stage sends those its session store does not hold (the others were sent).
pub fn open_orders(engine: &Engine, journal: &Journal) -> anyhow::Result<Vec<ChildOrder>> {
    let missing: BTreeSet<u64> = engine.open_order_ids().collect();
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::with_capacity(missing.len());
    for rec in journal.records(journal.first_seq()) {
        let rec = rec?;
        if let Some(Decision::Order(o)) = Decision::decode(rec.kind, rec.payload) {
            if missing.contains(&o.cl_ord_id) {
                out.push(o);
            }
        }
    }
    out.sort_by_key(|o| o.cl_ord_id);
    anyhow::ensure!(
        out.len() == missing.len(),
        "{} open orders have no order decision in the journal",
        missing.len() - out.len()
    );
    Ok(out)
}

/// Reports on manager `m`'s master orders the journal holds after the last one its session's
/// store holds as sent (a crash took them between journal and socket): the restart sends them
/// first. None without a manager store (a new session is owed nothing).
pub fn unsent_reports(
    paths: &StatePaths,
    m: &super::config::ManagerConfig,
) -> anyhow::Result<Vec<ManagerReport>> {
    let n = m.number;
    let (store, up_to) = if m.protocol == "binary" {
        let store = paths.binary_manager_of(n);
        let up_to = mam_gateway::manager::binary::report::reported_up_to(
            &store,
            m.session_id,
            mam_gateway::manager::binary::STORE_CAPACITY,
        );
        (store, up_to.map_err(anyhow::Error::from))
    } else {
        let store = paths.fix_manager_of(n);
        let up_to = mam_gateway::manager::report::reported_up_to(&store);
        (store, up_to.map_err(anyhow::Error::from))
    };
    let up_to = up_to
        .with_context(|| format!("reading manager {n}'s session store {}", store.display()))?;
    let Some(up_to) = up_to else {
        return Ok(Vec::new());
    };
    let reader = JournalReader::open(&paths.journal)
        .with_context(|| format!("reading the journal {}", paths.journal.display()))?;
    let mut out = Vec::new();
    for rec in reader.records(up_to + 1) {
        let rec =
            rec.with_context(|| format!("reading the journal {}", paths.journal.display()))?;
        if rec.kind != KIND_MASTER_REPORT {
            continue;
        }
        if let Some(Decision::Report(report)) = Decision::decode(rec.kind, rec.payload) {
            let r = ManagerReport {
                journal_seq: rec.seq,
                report,
            };
            if report_manager(&r) == usize::from(n) {
                out.push(r);
            }
        }
    }
    Ok(out)
}
