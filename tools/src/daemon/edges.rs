//! The daemon's edge stages, built from the config: the feed (SoupBinTCP or UDP), the
//! manager's FIX acceptor and the LP's FIX initiator, each told where to resume.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use anyhow::Context;
use mam_core::event::MarketEvent;
use mam_core::num::Qty;
use mam_core::pipeline::engine_stage::admin::SharedSnapshots;
use mam_core::pipeline::ring::ConflatingTx;
use mam_core::pipeline::{
    AccountDirectory, EdgeFrame, EdgeOrder, LatencyTap, ManagerReport, RingRx, RingTx, Stage,
};
use mam_core::symbol::SymbolTable;
use mam_feed::fxbook::FxBooks;
use mam_feed::recv::{MamSbeFraming, UdpConfig, UdpReceiver, UdpSbeStage};
use mam_feed::soup::client::ClientConfig;
use mam_feed::soup::stage::SoupSbeStage;
use mam_gateway::lp::stage::{LpOptions, LpStage};
use mam_gateway::lp::{LpRouterStage, LpRoutes, RoutedLp, RouterChanges};
use mam_gateway::manager::convert::{
    model_from_name, policy_from_name, routing_from_name, MasterDefaults, SharedDefaults,
};
use mam_gateway::manager::stage::{ManagerCounters, ManagerOptions, ManagerStage};

use super::config::DaemonConfig;
use super::resume::{open_orders, Started, StatePaths};
use super::sessions::{ManagerHost, SessionContext};
use super::stats::EdgeCounters;

#[path = "binary_edge.rs"]
mod binary_edge;

/// What the edge stages need.
pub struct EdgeInputs<'a> {
    /// The file.
    pub cfg: &'a DaemonConfig,
    /// Symbols.
    pub symbols: &'a SymbolTable,
    /// State paths.
    pub paths: &'a StatePaths,
    /// Recovery's results.
    pub started: &'a Started,
    /// Feed → engine (taken by the feed stage).
    pub market_tx: Option<RingTx<MarketEvent>>,
    /// Manager sessions ↔ engine, one pair of rings per enabled manager, manager 0 first.
    pub managers: Vec<ManagerRings>,
    /// LP → engine, one ring per LP session (`[lp]` first, then `[[lps]]`).
    pub fill_txs: Vec<RingTx<EdgeFrame>>,
    /// Engine → LP (taken by the LP stage or the router).
    pub order_rx: Option<RingRx<EdgeOrder>>,
    /// The daemon's stop flag.
    pub stop: Arc<AtomicBool>,
    /// Latency tap.
    pub tap: LatencyTap,
    /// Account ids by index, shared with the engine stage (it appends added accounts).
    pub directory: AccountDirectory,
    /// The engine's published snapshot, for the manager's position requests.
    pub snapshots: Option<SharedSnapshots>,
}

/// One manager session's rings.
pub struct ManagerRings {
    /// The manager's number.
    pub number: u8,
    /// Manager → engine.
    pub master_tx: RingTx<EdgeFrame>,
    /// Engine → manager: reports on its master orders.
    pub report_rx: RingRx<ManagerReport>,
}

/// The built stages.
pub struct Edges {
    /// Feed stage, if any.
    pub feed: Option<Box<dyn Stage>>,
    /// Every manager session, in one stage a reload can change.
    pub managers: ManagerHost,
    /// The LPs behind their router.
    pub lp: Box<dyn Stage>,
    /// Where a reload sends LP changes.
    pub lp_changes: Arc<RouterChanges>,
    /// What a reload needs to build sessions.
    pub context: SessionContext,
    /// The event time of the orders open at the start (0: none): the engine stage stamps
    /// their fills with it.
    pub open_orders_clock: u64,
    /// Counters for the stats line.
    pub counters: Vec<EdgeCounters>,
    /// What was set up, for the start-up lines.
    pub lines: Vec<String>,
    /// The manager stage's defaults for masters that name no model, routing or min-lot
    /// policy (a config reload changes them), if the manager session is on.
    pub defaults: Option<Arc<SharedDefaults>>,
}

/// An edge stage as the runner sees it: its own stop flag (if it has one) follows the
/// daemon's, and once it is done it is dropped, so its ring senders go and the engine sees
/// that source end (the runner keeps done stages until it joins).
struct Edge<S> {
    inner: Option<S>,
    name: String,
    own: Option<Arc<AtomicBool>>,
    daemon: Arc<AtomicBool>,
    /// Done as soon as the daemon stops (a source with no logout, like UDP).
    done_on_stop: bool,
    /// Copies the stage's own counters out for the stats line, every [`PUBLISH_EVERY`] cycles.
    publish: Option<Publish<S>>,
    cycles: u64,
}

/// Copies a stage's counters into the stats line's atomics.
type Publish<S> = Box<dyn Fn(&S) + Send>;

/// Duty cycles between two counter copies (cheap: a few relaxed stores).
const PUBLISH_EVERY: u64 = 1024;

impl<S: Stage + 'static> Edge<S> {
    fn boxed(
        inner: S,
        own: Option<Arc<AtomicBool>>,
        daemon: &Arc<AtomicBool>,
        done_on_stop: bool,
        publish: Option<Publish<S>>,
    ) -> Box<dyn Stage> {
        Box::new(Edge {
            name: inner.name().to_string(),
            inner: Some(inner),
            own,
            daemon: daemon.clone(),
            done_on_stop,
            publish,
            cycles: 0,
        })
    }
}

/// Feed counters for the stats line: gaps, messages missing in them, duplicates dropped,
/// reconnects, malformed packets.
#[derive(Debug, Default)]
struct FeedCounters([AtomicU64; 5]);

impl FeedCounters {
    fn set(&self, v: [u64; 5]) {
        for (a, x) in self.0.iter().zip(v) {
            a.store(x, Relaxed);
        }
    }
    fn counters(self: Arc<Self>) -> EdgeCounters {
        Box::new(move || {
            let v: Vec<u64> = self.0.iter().map(|a| a.load(Relaxed)).collect();
            vec![
                ("gaps", v[0]),
                ("missing", v[1]),
                ("dups", v[2]),
                ("feed-reconnects", v[3]),
                ("malformed", v[4]),
            ]
        })
    }
}

impl<S: Stage> Stage for Edge<S> {
    fn name(&self) -> &str {
        &self.name
    }
    fn do_work(&mut self) -> usize {
        let stopping = self.daemon.load(Relaxed);
        if let Some(own) = &self.own {
            if stopping && !own.load(Relaxed) {
                own.store(true, Relaxed);
            }
        }
        let Some(s) = self.inner.as_mut() else {
            return 0;
        };
        let w = s.do_work();
        self.cycles += 1;
        let done = s.is_done() || (self.done_on_stop && stopping);
        if let Some(p) = &self.publish {
            if done || self.cycles.is_multiple_of(PUBLISH_EVERY) {
                p(s);
            }
        }
        if done {
            self.inner = None;
            return w + 1;
        }
        w
    }
    fn is_done(&self) -> bool {
        self.inner.is_none()
    }
}

fn sock(s: &str) -> anyhow::Result<SocketAddr> {
    s.parse()
        .with_context(|| format!("`{s}`: expected IP:PORT"))
}

pub fn defaults(cfg: &DaemonConfig) -> anyhow::Result<MasterDefaults> {
    let e = &cfg.engine;
    Ok(MasterDefaults {
        model: model_from_name(e.model.as_bytes())
            .with_context(|| format!("engine.model = \"{}\": not a model name", e.model))?,
        routing: routing_from_name(e.routing.as_bytes()).with_context(|| {
            format!(
                "engine.routing = \"{}\": expected block or per-account",
                e.routing
            )
        })?,
        min_lot_policy: policy_from_name(e.min_lot_policy.as_bytes()).with_context(|| {
            format!(
                "engine.min_lot_policy = \"{}\": expected zero or round-up",
                e.min_lot_policy
            )
        })?,
        close_residual: 0,
        adaptive: match e.allocation.as_str() {
            "static" => false,
            "adaptive" => true,
            other => anyhow::bail!("engine.allocation = \"{other}\": expected static or adaptive"),
        },
    })
}

/// Builds the edge stages.
pub fn build(mut x: EdgeInputs<'_>) -> anyhow::Result<Edges> {
    let cfg = x.cfg;
    let mut lines = Vec::new();
    let mut counters: Vec<EdgeCounters> = Vec::new();
    let instruments = x.symbols.iter().count();
    // One set of defaults for every session (a reload or PATCH /api/manager changes all),
    // also for sessions a reload adds.
    let context = SessionContext {
        symbols: x.symbols.clone(),
        paths: x.paths.clone(),
        stop: x.stop.clone(),
        tap: x.tap.clone(),
        directory: x.directory.clone(),
        snapshots: x.snapshots.clone(),
        defaults: Arc::new(SharedDefaults::new(defaults(cfg)?)),
        ring: cfg.pipeline.ring,
    };
    let mut managers = ManagerHost::new();
    if !cfg.manager.enabled {
        lines.push("manager: disabled".into());
    }
    for rings in std::mem::take(&mut x.managers) {
        let m = cfg
            .manager_sessions()
            .find(|m| m.number == rings.number)
            .context("a manager ring without its session")?;
        let own = Arc::new(AtomicBool::new(false));
        let resume = x.started.managers_last.get(&m.number).copied();
        let (stage, line, c) = manager_stage(m, rings, own.clone(), resume, &context, cfg)?;
        lines.push(line);
        counters.push(c);
        managers.add(m.number, own, stage);
    }
    let live_defaults = (managers.len() > 0).then(|| context.defaults.clone());
    let feed: Option<Box<dyn Stage>> = match cfg.feed.source.as_str() {
        "soup" => {
            let mut c = ClientConfig::new(sock(&cfg.feed.connect)?);
            c.username = cfg.feed.username.clone();
            c.password = cfg.feed.password.clone();
            let s = SoupSbeStage::new(
                c,
                x.started.market_next,
                FxBooks::new(32),
                x.market_tx.take().context("market ring taken")?,
            )
            .with_context(|| format!("feed.connect {}", cfg.feed.connect))?;
            lines.push(format!(
                "feed: SoupBinTCP {} from seq {}",
                cfg.feed.connect, x.started.market_next
            ));
            let own = s.stop_flag();
            let fc = Arc::new(FeedCounters::default());
            counters.push(fc.clone().counters());
            let publish: Publish<SoupSbeStage> = Box::new(move |s: &SoupSbeStage| {
                let c = s.client_stats();
                fc.set([c.gaps, c.missing, c.duplicates, c.reconnects, c.malformed]);
            });
            Some(Edge::boxed(s, Some(own), &x.stop, false, Some(publish)))
        }
        "udp" => {
            let bind = sock(&cfg.feed.bind)?;
            let rx = UdpReceiver::bind(&UdpConfig::unicast(bind), MamSbeFraming)
                .with_context(|| format!("feed.bind {bind}"))?;
            lines.push(format!("feed: UDP {bind} (conflating under back-pressure)"));
            let s = UdpSbeStage::new(
                rx,
                FxBooks::new(32),
                ConflatingTx::new(
                    x.market_tx.take().context("market ring taken")?,
                    instruments,
                ),
            );
            let fc = Arc::new(FeedCounters::default());
            counters.push(fc.clone().counters());
            let publish: Publish<UdpSbeStage> = Box::new(move |s: &UdpSbeStage| {
                let r = s.recv_stats();
                let q = r.seq;
                fc.set([
                    q.gaps,
                    q.missing,
                    q.duplicate_messages,
                    0,
                    r.unframed + r.oversized,
                ]);
            });
            Some(Edge::boxed(s, None, &x.stop, true, Some(publish)))
        }
        _ => {
            lines.push("feed: none".into());
            None
        }
    };
    let resend = open_orders(&x.started.engine, &x.started.journal)?;
    let open_orders_clock = resend.iter().map(|c| c.ts_ns).max().unwrap_or(0);
    // What the engine holds of each open order: the LP's status answers are reconciled with it.
    let engine_cum: BTreeMap<u64, Qty> = resend
        .iter()
        .filter_map(|c| {
            let (_, cum) = x.started.engine.order_progress(c.cl_ord_id)?;
            Some((c.cl_ord_id, cum))
        })
        .collect();
    let fill_txs = std::mem::take(&mut x.fill_txs);
    // Always behind the router, one LP or several: a reload can add and remove LPs.
    let (router, more_lines, more_counters) =
        lp_router(&mut x, &context, fill_txs, resend, engine_cum)?;
    lines.extend(more_lines);
    counters.extend(more_counters);
    let changes = Arc::new(RouterChanges::default());
    let lp = Edge::boxed(
        router.with_changes(changes.clone()),
        None,
        &x.stop,
        false,
        None,
    );
    Ok(Edges {
        feed,
        managers,
        lp,
        lp_changes: changes,
        context,
        open_orders_clock,
        counters,
        lines,
        defaults: live_defaults,
    })
}

/// One LP session to build.
pub struct LpBuild<'c> {
    /// Its config.
    pub cfg: &'c super::config::LpConfig,
    /// Its session store.
    pub store: std::path::PathBuf,
    /// Open orders this LP must send (or, if its store holds them, ask about).
    pub resend: Vec<mam_core::event::ChildOrder>,
    /// What the engine holds of each open order.
    pub engine_cum: BTreeMap<u64, Qty>,
    /// A restart: the LP is asked for every fill again.
    pub restarted: bool,
}

/// LP `i`'s stage, its start-up line and its stats counters.
pub fn lp_stage(
    b: LpBuild<'_>,
    orders: RingRx<EdgeOrder>,
    fills: RingTx<EdgeFrame>,
    x: &SessionContext,
    i: usize,
) -> anyhow::Result<(LpStage, String, EdgeCounters)> {
    let l = b.cfg;
    let mut opts = LpOptions::new(sock(&l.connect)?, &l.comp_id, &l.peer_comp_id, &b.store);
    opts.password = l.password.clone();
    opts.heart_bt_int = l.heart_bt_int;
    opts.account_tag = l.account_tag;
    opts.account_ids = x.directory.clone();
    opts.allocation_instructions = l.allocation_instructions;
    opts.begin_string = l.begin_string()?.to_vec();
    opts.restarted = b.restarted;
    opts.engine_cum = b.engine_cum;
    let open = b.resend.len();
    opts.resend = b.resend;
    let s = LpStage::new(
        opts,
        &x.symbols,
        orders,
        fills,
        x.stop.clone(),
        Some(x.tap.clone()),
    )
    .with_context(|| format!("LP {} at {}", l.name, l.connect))?;
    let line = format!(
        "{}: FIX initiator to {} ({} -> {}){}",
        if i == 0 {
            "lp".to_string()
        } else {
            format!("lp {}", l.name)
        },
        l.connect,
        l.comp_id,
        l.peer_comp_id,
        if b.restarted {
            format!(", {open} open orders checked against the session store, all fills asked again")
        } else {
            String::new()
        }
    );
    // `[lp]` keeps the stats line's names; the others' are made once at start and live as
    // long as the process (the line takes static names).
    let keys = [
        "sent",
        "resent",
        "fills",
        "rejects",
        "reconnects",
        "connect-failures",
    ];
    let names: [&'static str; 6] = if i == 0 {
        keys.map(|k| &*Box::leak(format!("lp-{k}").into_boxed_str()))
    } else {
        keys.map(|k| &*Box::leak(format!("lp-{}-{k}", l.name).into_boxed_str()))
    };
    let c = s.stats();
    let counters: EdgeCounters = Box::new(move || {
        let s = c.snapshot();
        let v = [
            s.orders_sent,
            s.resent_at_start,
            s.fills,
            s.rejects,
            s.reconnects,
            s.connect_failures,
        ];
        names.into_iter().zip(v).collect()
    });
    Ok((s, line, counters))
}

/// Several LPs behind the router: each its own order ring, session and fill ring; on a
/// restart each open order goes back to the LP whose store holds it, the rest by route.
fn lp_router(
    x: &mut EdgeInputs<'_>,
    context: &SessionContext,
    fill_txs: Vec<RingTx<EdgeFrame>>,
    resend: Vec<mam_core::event::ChildOrder>,
    engine_cum: BTreeMap<u64, Qty>,
) -> anyhow::Result<(LpRouterStage, Vec<String>, Vec<EdgeCounters>)> {
    let cfg = x.cfg;
    let sessions: Vec<&super::config::LpConfig> = cfg.lp_sessions().collect();
    let names: Vec<String> = sessions.iter().map(|l| l.name.clone()).collect();
    let routes = lp_routes(cfg, x.symbols, &names)?;
    let stores: Vec<std::path::PathBuf> = sessions
        .iter()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                x.paths.fix_lp.clone()
            } else {
                x.paths.fix_lp_named(&l.name)
            }
        })
        .collect();
    // Which LP's store holds each open order (a restart): that LP resends or asks about it.
    let mut held: Vec<Vec<u64>> = vec![Vec::new(); sessions.len()];
    let mut per_lp: Vec<Vec<mam_core::event::ChildOrder>> = vec![Vec::new(); sessions.len()];
    let mut sent = Vec::new();
    for st in &stores {
        sent.push(if resend.is_empty() {
            Default::default()
        } else {
            let store = mam_gateway::fix::store::Store::open(st)
                .with_context(|| format!("LP store {}", st.display()))?;
            mam_gateway::lp::sent_cl_ord_ids(&store)
                .with_context(|| format!("LP store {}", st.display()))?
        });
    }
    for c in resend {
        let i = match sent.iter().position(|s| s.contains(&c.cl_ord_id)) {
            Some(i) => {
                held[i].push(c.cl_ord_id);
                i
            }
            None => routes.pick(c.instrument, |_| true),
        };
        per_lp[i].push(c);
    }
    let cap = cfg.pipeline.ring;
    let (mut lps, mut lines, mut counters) = (Vec::new(), Vec::new(), Vec::new());
    for (i, ((l, fills), resend)) in sessions.iter().zip(fill_txs).zip(per_lp).enumerate() {
        let (tx, rx, _) = mam_core::pipeline::ring::<EdgeOrder>(cap);
        let b = LpBuild {
            cfg: l,
            store: stores[i].clone(),
            resend,
            engine_cum: engine_cum.clone(),
            restarted: x.started.restarted,
        };
        let (stage, mut line, c) = lp_stage(b, rx, fills, context, i)?;
        if !l.symbols.is_empty() || l.fallback.is_some() {
            line += &format!(
                "; symbols {}; fallback {}",
                if l.symbols.is_empty() {
                    "the rest".to_string()
                } else {
                    l.symbols.join(",")
                },
                l.fallback.as_deref().unwrap_or("none")
            );
        }
        lines.push(line);
        counters.push(c);
        lps.push(RoutedLp::new(&l.name, stage, tx));
    }
    let orders = x.order_rx.take().context("order ring taken")?;
    let router = LpRouterStage::new(orders, lps, routes, &held);
    Ok((router, lines, counters))
}

/// The routes of `cfg`'s LPs, numbered as `index` lists them by name (the router's numbering:
/// at a reload, LPs added since the start come after, removed ones keep their place).
pub fn lp_routes(
    cfg: &DaemonConfig,
    symbols: &SymbolTable,
    index: &[String],
) -> anyhow::Result<LpRoutes> {
    let at = |name: &str| {
        index
            .iter()
            .position(|n| n == name)
            .with_context(|| format!("LP {name} has no router index"))
    };
    let mut by_instrument = vec![0usize; symbols.iter().count()];
    let mut fallback = vec![None; index.len()];
    for l in cfg.lp_sessions() {
        let i = at(&l.name)?;
        for s in &l.symbols {
            let id = symbols
                .id_of(s)
                .with_context(|| format!("LP {}: symbols: unknown symbol {s}", l.name))?;
            by_instrument[id as usize] = i;
        }
        fallback[i] = l.fallback.as_deref().map(at).transpose()?;
    }
    Ok(LpRoutes {
        by_instrument,
        fallback,
    })
}

/// Manager `n`'s config key (`manager`, or `managers (number n)`), which errors name, and its
/// label in the start-up lines (`manager`, `manager n`); alike for both protocols.
pub(super) fn manager_key_and_label(n: u8) -> (String, String) {
    if n == 0 {
        ("manager".into(), "manager".into())
    } else {
        (format!("managers (number {n})"), format!("manager {n}"))
    }
}

/// Manager `n`'s stats counters read from its session's counters `c`, for either protocol:
/// logons, masters accepted, reports, masters refused and, with `positions` (the FIX session
/// answers position requests, the binary one does not), position requests answered and
/// refused. Manager 0 keeps the stats line's names (`manager-logons`, the rest bare); the
/// others' are `manager<n>-<key>`, made when the session starts and living as long as the
/// process (the line takes static names; a reload that replaces a session makes them again:
/// tens of bytes each).
pub(super) fn manager_counters(n: u8, c: Arc<ManagerCounters>, positions: bool) -> EdgeCounters {
    let keys = [
        "logons",
        "masters-accepted",
        "reports",
        "masters-refused",
        "positions-answered",
        "positions-refused",
    ];
    let keys = &keys[..if positions { 6 } else { 4 }];
    let names: Vec<&'static str> = keys
        .iter()
        .map(|&k| match (n, k) {
            (0, "logons") => "manager-logons",
            (0, k) => k,
            (n, k) => Box::leak(format!("manager{n}-{k}").into_boxed_str()),
        })
        .collect();
    Box::new(move || {
        let s = c.snapshot();
        let v = [
            s.logons,
            s.accepted,
            s.reports,
            s.refused + s.session_rejects + s.business_rejects,
            s.positions_answered,
            s.positions_refused,
        ];
        names.iter().copied().zip(v).collect()
    })
}

/// Manager `m`'s FIX acceptor as a stage stopped by `own` (which follows the daemon's stop),
/// its start-up line and its stats counters.
pub fn manager_stage(
    m: &super::config::ManagerConfig,
    rings: ManagerRings,
    own: Arc<AtomicBool>,
    resume_after: Option<u64>,
    x: &SessionContext,
    cfg: &DaemonConfig,
) -> anyhow::Result<(Box<dyn Stage>, String, EdgeCounters)> {
    if m.protocol == "binary" {
        return binary_edge::stage(m, rings, own, resume_after, x, cfg);
    }
    let n = m.number;
    let (key, label) = manager_key_and_label(n);
    let opts = ManagerOptions {
        listen: sock(&m.listen)?,
        sender_comp: m.comp_id.clone(),
        target_comp: m.peer_comp_id.clone(),
        password: m.password.clone(),
        store_dir: x.paths.fix_manager_of(n),
        heart_bt_int: 30,
        resume_after,
        allow_remote: m.allow_remote,
        defaults: defaults(cfg)?,
        manager: n,
        rebalance_deposits: m.on_deposit == "rebalance",
        sending_time_tolerance_ns: m
            .sending_time_tolerance()?
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
    };
    let s = ManagerStage::new(
        opts,
        x.symbols.clone(),
        rings.master_tx,
        own.clone(),
        Some(x.tap.clone()),
    )
    .with_context(|| format!("{key}.listen {}", m.listen))?
    .with_reports(rings.report_rx)
    .with_live_defaults(x.defaults.clone())
    .with_account_directory(x.directory.clone());
    let s = match x.snapshots.clone() {
        Some(snap) => s.with_positions(snap),
        None => s,
    };
    let line = format!(
        "{label}: FIX acceptor listening on {} ({} <- {})",
        s.local_addr().map_or(m.listen.clone(), |a| a.to_string()),
        m.comp_id,
        m.peer_comp_id
    );
    let counters = manager_counters(n, s.counters(), true);
    Ok((
        Edge::boxed(s, Some(own), &x.stop, false, None),
        line,
        counters,
    ))
}
