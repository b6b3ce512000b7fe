//! The socket-to-socket run: the real daemon (`mam run --config`, spawned) between a manager
//! that sends master orders at a fixed rate over FIX ([`ManagerClient`]) or binary order entry
//! ([`BinaryManagerClient`], [`ManagerProtocol`]), a SoupBinTCP feed served from a capture,
//! and a simulated FIX LP ([`SimLp`]) that stamps each child order's arrival.
//!
//! ```text
//!  ManagerClient ──FIX or binary──► mam run ──FIX──► SimLp (stamps arrival, fills)
//!  SoupServer ──SoupBinTCP──┘
//! ```
//!
//! Master order `k` is due at `start + k × interval`; that intended time (`CLOCK_MONOTONIC`)
//! is kept by MsgSeqNum. After the run the daemon's journal maps each child order's ClOrdID
//! (`input seq × 2^24 + k`) to its master's MsgSeqNum through the origin records, so
//! `SimLp arrival − intended send time` is exact per master: first child, last child.
//! Packet in → engine comes from the daemon's own `feed_to_engine` log (the feed stage's
//! receive stamp → engine take): the SoupBinTCP server sends at the capture's pace, not at
//! intended times of ours.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mam_core::engine::origin::{Origin, KIND_ORIGIN, SOURCE_MANAGER};
use mam_core::engine::CL_ORD_ID_SHIFT;
use mam_core::event::Side;
use mam_core::journal::JournalReader;
use mam_core::num::{Price, Qty};
use mam_core::pipeline::ThreadingMode;
use mam_feed::replay::Speed;
use mam_feed::soup::{
    load_capture, ServerConfig, ServerError, ServerStats, ServerStop, SoupServer,
};
use mam_gateway::latency::{mono_ns, read_hlog};
use mam_gateway::lp::{SimLp, SimLpOptions, SimLpThread};

use super::inproc::master_lots;
use super::loadgen::master_schedule;
use super::record::{FigureSummary, Recorder};
use super::{BenchError, Figure, Routing};
use crate::manager::{ClientOptions, Close, ManagerClient, Open, OrderOpts};
use mam_gateway::manager::binary::client::{order_of_close, order_of_open, BinaryManagerClient};

/// The manager session's protocol in a socket run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManagerProtocol {
    /// FIX 4.4 (the daemon's default).
    Fix,
    /// Binary order entry (`protocol = "binary"`).
    Binary,
}

impl ManagerProtocol {
    /// `fix` or `binary`, as the daemon's config says it.
    pub fn as_str(self) -> &'static str {
        match self {
            ManagerProtocol::Fix => "fix",
            ManagerProtocol::Binary => "binary",
        }
    }
}

/// The manager's end of either protocol.
enum Manager {
    Fix(Box<ManagerClient>),
    Binary(Box<BinaryManagerClient>),
}

impl Manager {
    fn connect(p: ManagerProtocol, addr: SocketAddr, dir: &Path) -> Result<Manager, BenchError> {
        match p {
            ManagerProtocol::Fix => {
                let mut mgr = ManagerClient::open(&ClientOptions::new(addr, dir.join("manager")))
                    .map_err(|e| fail(format!("manager client: {e}")))?;
                let logon_by = Instant::now() + Duration::from_secs(10);
                while !mgr.is_logged_on() {
                    mgr.poll(Duration::from_millis(10))
                        .map_err(|e| fail(format!("manager logon: {e}")))?;
                    if Instant::now() > logon_by {
                        return Err(fail("the manager session did not log on within 10 s"));
                    }
                }
                Ok(Manager::Fix(Box::new(mgr)))
            }
            ManagerProtocol::Binary => BinaryManagerClient::connect(
                addr,
                1,
                &dir.join("manager.store"),
                Duration::from_secs(10),
            )
            .map(|c| Manager::Binary(Box::new(c)))
            .map_err(|e| fail(format!("binary manager client: {e}"))),
        }
    }

    /// Takes what arrived, waiting up to `wait` (FIX) or briefly (binary, non-blocking).
    fn poll(&mut self, wait: Duration) -> Result<(), BenchError> {
        match self {
            Manager::Fix(m) => m
                .poll(wait)
                .map(|_| ())
                .map_err(|e| fail(format!("manager: {e}"))),
            Manager::Binary(m) => {
                m.poll().map_err(|e| fail(format!("manager: {e}")))?;
                // Reports are not read here: drop them so memory stays flat.
                m.reports.clear();
                m.rejects.clear();
                if !wait.is_zero() {
                    std::thread::sleep(wait.min(Duration::from_micros(50)));
                }
                Ok(())
            }
        }
    }

    fn open(&mut self, o: &Open) -> Result<u64, BenchError> {
        match self {
            Manager::Fix(m) => m
                .open_order(o)
                .map_err(|e| fail(format!("manager send: {e}"))),
            Manager::Binary(m) => m
                .order(&order_of_open(o))
                .map_err(|e| fail(format!("manager send: {e}"))),
        }
    }

    fn close(&mut self, c: &Close) -> Result<u64, BenchError> {
        match self {
            Manager::Fix(m) => m
                .close_order(c)
                .map_err(|e| fail(format!("manager send: {e}"))),
            Manager::Binary(m) => m
                .order(&order_of_close(c))
                .map_err(|e| fail(format!("manager send: {e}"))),
        }
    }

    fn flush(&mut self) -> Result<(), BenchError> {
        match self {
            Manager::Fix(m) => m.flush().map_err(|e| fail(format!("manager flush: {e}"))),
            Manager::Binary(m) => m.flush().map_err(|e| fail(format!("manager flush: {e}"))),
        }
    }

    fn logout(self) {
        match self {
            Manager::Fix(mut m) => {
                let _ = m.logout();
            }
            Manager::Binary(m) => {
                let _ = m.terminate();
            }
        }
    }
}

/// One socket-to-socket configuration.
#[derive(Debug, Clone)]
pub struct SocketConfig {
    /// The `mam` binary to run the daemon with.
    pub mam: PathBuf,
    /// A pcap of mam SBE quotes (`mam capture convert`) served over SoupBinTCP.
    pub capture: PathBuf,
    /// Pace of the feed relative to the capture (e.g. 100× real time).
    pub feed_speed: Speed,
    /// Generated accounts (the daemon's seeded generator).
    pub accounts: usize,
    /// Routing of every master order.
    pub routing: Routing,
    /// The daemon's threading mode.
    pub mode: ThreadingMode,
    /// Master orders per second.
    pub rate: u64,
    /// Measured seconds.
    pub seconds: f64,
    /// Warm-up seconds.
    pub warmup: f64,
    /// Where the `.hlog` and `.hgrm` files go.
    pub out: PathBuf,
    /// Pin the daemon's stage threads.
    pub pin: bool,
    /// The manager session's protocol.
    pub protocol: ManagerProtocol,
    /// Tickets held open before a master closes the oldest ([`CLOSE_LAG`] by default).
    pub close_lag: u64,
    /// The daemon sends AllocationInstructions to the LP (`[lp] allocation_instructions`).
    pub allocation_instructions: bool,
    /// Keep the daemon's state directory (journal, checkpoints) in `<dir>/<label>/state`
    /// (default: a temporary directory, removed after the run).
    pub keep_journal: Option<PathBuf>,
}

/// What one socket configuration measured.
#[derive(Debug, Clone)]
pub struct SocketResult {
    /// `socket-<mode>-<accounts>-<routing>`, `-binary` for a binary manager.
    pub label: String,
    /// The manager session's protocol.
    pub protocol: ManagerProtocol,
    /// Threading mode.
    pub mode: ThreadingMode,
    /// Accounts.
    pub accounts: usize,
    /// Routing.
    pub routing: Routing,
    /// Master orders per second.
    pub rate: u64,
    /// The three figures.
    pub figures: Vec<FigureSummary>,
    /// Master orders sent.
    pub masters_sent: u64,
    /// Master orders with at least one child order at the LP.
    pub masters_matched: u64,
    /// Child orders the LP received.
    pub child_orders: u64,
    /// The daemon's start-up lines (mode, pinned cores).
    pub daemon_lines: Vec<String>,
    /// The daemon's own latency logs.
    pub daemon_latency_dir: PathBuf,
    /// The generator's median lateness: a master's send flushed − its intended time, ns
    /// (charged to the figures, coordinated-omission style; it should be far below them).
    pub late_p50_ns: u64,
    /// The generator's largest lateness, ns.
    pub late_max_ns: u64,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> BenchError + '_ {
    move |source| BenchError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn fail(what: impl Into<String>) -> BenchError {
    BenchError::Incomplete(what.into())
}

/// The daemon's config for `cfg` (TOML).
fn daemon_toml(cfg: &SocketConfig, state: &Path, feed: SocketAddr, lp: SocketAddr) -> String {
    let (feed_idle, engine_idle) = match cfg.mode {
        ThreadingMode::Shared => ("busy-spin", "busy-spin"),
        ThreadingMode::Dedicated => ("yield", "busy-spin"),
    };
    let big = "1000000000000";
    format!(
        r#"state = "{state}"
stats_interval = "1s"
[accounts]
generate = {accounts}
seed = 42
[pipeline]
mode = "{mode}"
pin = {pin}
ring = 65536
sequencing = "arrival"
[pipeline.idle]
feed = "{feed_idle}"
manager = "{feed_idle}"
engine = "{engine_idle}"
lp = "{feed_idle}"
[feed]
source = "soup"
connect = "{feed}"
[manager]
enabled = true
listen = "127.0.0.1:0"
comp_id = "MAM"
peer_comp_id = "MANAGER"
protocol = "{protocol}"
[lp]
connect = "{lp}"
comp_id = "MAM"
peer_comp_id = "LP"
allocation_instructions = {allocation_instructions}
[engine]
model = "equity"
routing = "{routing}"
min_lot_policy = "up"
checkpoint_every = 0
[journal]
# As the in-process run (and docs/latency.md): the pipeline without the disk's sync.
sync = "checkpoint"
[engine.risk]
max_order_qty = "{big}"
max_order_notional = "{big}"
max_account_qty = "{big}"
max_account_notional = "{big}"
max_account_open_orders = 100000
max_open_orders = 1000000
max_orders_per_sec = 10000000
[latency]
interval = "1s"
"#,
        state = state.display(),
        accounts = cfg.accounts,
        mode = cfg.mode.as_str(),
        pin = cfg.pin,
        routing = cfg.routing.as_str(),
        protocol = cfg.protocol.as_str(),
        allocation_instructions = cfg.allocation_instructions,
    )
}

/// The spawned daemon; killed if still running when dropped.
struct Daemon {
    child: Child,
    lines: Vec<String>,
    manager: SocketAddr,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Daemon {
    fn start(mam: &Path, config: &Path, log: &Path) -> Result<Daemon, BenchError> {
        let mut child = Command::new(mam)
            .args(["run", "--config"])
            .arg(config)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).map_err(io(log))?)
            .spawn()
            .map_err(io(mam))?;
        let out = child
            .stdout
            .take()
            .ok_or_else(|| fail("daemon without stdout"))?;
        let mut lines = Vec::new();
        let mut manager = None;
        let mut reader = BufReader::new(out);
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).map_err(io(mam))? == 0 {
                let _ = child.wait();
                return Err(fail(format!(
                    "mam run exited before its stages ran: {lines:?} (stderr in {})",
                    log.display()
                )));
            }
            let line = line.trim_end().to_string();
            if let Some(rest) = line.split("listening on ").nth(1) {
                manager = rest.split_whitespace().next().and_then(|a| a.parse().ok());
            }
            let running = line.contains("running");
            lines.push(line);
            if running {
                break;
            }
        }
        // Keep draining stdout (stats lines) so the daemon never blocks on a full pipe.
        std::thread::spawn(move || for _ in reader.lines().map_while(Result::ok) {});
        let manager = manager.ok_or_else(|| fail(format!("no manager address in {lines:?}")))?;
        Ok(Daemon {
            child,
            lines,
            manager,
        })
    }

    /// SIGTERM, then wait for a clean exit.
    fn stop(mut self) -> Result<(), BenchError> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(st) = self.child.try_wait().map_err(|e| fail(e.to_string()))? {
                return if st.success() {
                    Ok(())
                } else {
                    Err(fail(format!("mam run exited with {st}")))
                };
            }
            if Instant::now() > deadline {
                return Err(fail("mam run did not stop within 30 s of SIGTERM"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

use mam_core::sys::utc_now_ns as utc_ns;

/// Input journal sequence → manager MsgSeqNum, from the origin records.
fn origins(journal: &Path) -> Result<BTreeMap<u64, u64>, BenchError> {
    let r = JournalReader::open(journal)?;
    let mut m = BTreeMap::new();
    for rec in r.records(1) {
        let rec = rec?;
        if rec.kind == KIND_ORIGIN {
            // Origin: seq u64 LE, then source u16 LE (core's `Origin`, 16 bytes).
            let p = rec.payload;
            if p.len() >= std::mem::size_of::<Origin>() {
                let seq = u64::from_le_bytes(p[0..8].try_into().expect("8 bytes"));
                let source = u16::from_le_bytes(p[8..10].try_into().expect("2 bytes"));
                if source == SOURCE_MANAGER {
                    m.insert(rec.seq + 1, seq);
                }
            }
        }
    }
    Ok(m)
}

/// Runs one socket configuration and writes its files into `cfg.out`.
pub fn run_socket(cfg: &SocketConfig) -> Result<SocketResult, BenchError> {
    let label = socket_label(cfg);
    let tmp = tempfile::Builder::new()
        .prefix("mam-bench-socket-")
        .tempdir()
        .map_err(io(&std::env::temp_dir()))?;
    let dir = tmp.path();
    let mut masters_rec =
        Recorder::with_figures(&cfg.out, &label, &[Figure::FirstChild, Figure::LastChild])?;
    let mut packet_rec = Recorder::with_figures(&cfg.out, &label, &[Figure::PacketToEngine])?;

    let (feed_addr, feed_stop, feed_thread, first_mid) = serve_feed(cfg)?;
    let lp = start_lp(dir, first_mid)?;
    let state = match &cfg.keep_journal {
        Some(k) => {
            let d = k.join(&label);
            if d.exists() {
                return Err(fail(format!(
                    "{} exists: --keep-journal needs a fresh directory per configuration",
                    d.display()
                )));
            }
            d.join("state")
        }
        None => dir.join("state"),
    };
    let config = dir.join("mam.toml");
    std::fs::write(&config, daemon_toml(cfg, &state, feed_addr, lp.addr())).map_err(io(&config))?;
    let daemon = Daemon::start(&cfg.mam, &config, &dir.join("daemon.stderr"))?;
    let daemon_lines = daemon.lines.clone();

    let mut mgr = Manager::connect(cfg.protocol, daemon.manager, dir)?;
    // Let the feed give the engine a reference price before the first market order.
    let ready_by = Instant::now() + Duration::from_millis(500);
    while Instant::now() < ready_by {
        mgr.poll(Duration::from_millis(10))?;
    }

    let rate = cfg.rate.max(1);
    let masters = ((rate as f64 * (cfg.warmup + cfg.seconds)) as u64 + 1) & !1;
    let start = mono_ns() + 10_000_000;
    let wall_start = SystemTime::now() + Duration::from_millis(10);
    let measure_from = start + (cfg.warmup * 1e9) as u64;
    let mut late = Vec::with_capacity(masters as usize);
    let intended = send_masters(
        &mut mgr,
        cfg,
        masters,
        start,
        1_000_000_000 / rate,
        &mut late,
    )?;
    let (late_p50_ns, late_max_ns) = lateness(&late, measure_from);
    let mut arrivals = arrivals_until_quiet(&mut mgr, &lp)?;
    mgr.logout();
    daemon.stop()?;
    arrivals.extend(lp.handle().arrivals());
    let _ = lp.stop();
    feed_stop.stop();
    let _ = feed_thread.join();

    let by_input = origins(&state.join("journal"))?;
    let times = Times {
        start,
        measure_from,
        wall_start,
    };
    let matched = record_masters(&mut masters_rec, &arrivals, &by_input, &intended, times)?;
    let kept_latency = cfg.out.join(format!("{label}.daemon-latency"));
    record_packets(&mut packet_rec, &state.join("latency"), &kept_latency)?;
    let mut figures = packet_rec.finish()?;
    figures.extend(masters_rec.finish()?);
    Ok(SocketResult {
        label,
        protocol: cfg.protocol,
        mode: cfg.mode,
        accounts: cfg.accounts,
        routing: cfg.routing,
        rate,
        figures,
        masters_sent: masters,
        masters_matched: matched,
        child_orders: arrivals.len() as u64,
        daemon_lines,
        daemon_latency_dir: kept_latency,
        late_p50_ns,
        late_max_ns,
    })
}

/// Median and largest lateness (flushed − intended, ns) of the masters due from `from` on.
fn lateness(late: &[(u64, u64)], from: u64) -> (u64, u64) {
    let mut l: Vec<u64> = late
        .iter()
        .filter(|(t, _)| *t >= from)
        .map(|(_, l)| *l)
        .collect();
    l.sort_unstable();
    (
        l.get(l.len() / 2).copied().unwrap_or(0),
        l.last().copied().unwrap_or(0),
    )
}

/// `socket-<mode>-<accounts>-<routing>[-binary]`: the prefix of the configuration's files.
fn socket_label(cfg: &SocketConfig) -> String {
    format!(
        "socket-{}-{}-{}{}",
        cfg.mode.as_str(),
        cfg.accounts,
        cfg.routing.as_str(),
        if cfg.protocol == ManagerProtocol::Binary {
            "-binary"
        } else {
            ""
        }
    )
}

/// The feed's thread: the capture over SoupBinTCP at the asked pace. Its address, its stop
/// and the thread.
fn serve_feed(
    cfg: &SocketConfig,
) -> Result<(SocketAddr, ServerStop, FeedThread, Option<Price>), BenchError> {
    let msgs =
        load_capture(&cfg.capture).map_err(|e| fail(format!("{}: {e}", cfg.capture.display())))?;
    let first_mid = first_mid(&msgs.messages);
    let mut scfg = ServerConfig::new(SocketAddr::from(([127, 0, 0, 1], 0)));
    scfg.speed = cfg.feed_speed;
    let mut server = SoupServer::bind(scfg, msgs.messages).map_err(|e| fail(e.to_string()))?;
    let feed_addr = server.local_addr().map_err(io(&cfg.capture))?;
    let feed_stop = server.stop_handle();
    let feed_thread = std::thread::spawn(move || server.run());
    Ok((feed_addr, feed_stop, feed_thread, first_mid))
}

/// The mid of the capture's first two-sided quote (the price SimLp fills market orders at).
fn first_mid(messages: &[mam_feed::soup::SoupMessage]) -> Option<Price> {
    use mam_feed::sbe::msg::{decode, Message};
    use mam_feed::sbe::packet::Packet;
    messages.iter().find_map(|m| {
        let p = Packet::parse(&m.bytes).ok()?;
        p.messages().find_map(|b| match decode(b).ok()? {
            Message::Quote(q) => {
                let q = q.get();
                Some(Price((q.bid?.raw() + q.ask?.raw()) / 2))
            }
            _ => None,
        })
    })
}

/// The feed server's thread.
type FeedThread = std::thread::JoinHandle<Result<ServerStats, ServerError>>;

/// The LP: fills everything, stamps arrivals. Market orders fill at `market` (the capture's
/// first mid), and a marketable limit at that price too, as an LP improves it. Until stop 26
/// SimLp filled closes at their limit, the reference moved half the 5 % collar against the
/// close, and market opens at a fixed 1.14000 beside a feed at 1.1443. Each round trip then
/// lost about 2.5 % of its notional. At 1,000 masters/s the accounts crossed their 20 %
/// drawdown within seconds, and about a tenth of the opens were refused (docs/latency.md,
/// stop 26).
fn start_lp(dir: &Path, market: Option<Price>) -> Result<SimLpThread, BenchError> {
    let mut lpo = SimLpOptions::new(&dir.join("sim-lp"));
    lpo.sender = "LP".into();
    lpo.target = "MAM".into();
    lpo.market_price = market.unwrap_or(Price(114_000_000));
    lpo.price_improvement = true;
    lpo.keep_allocations = false;
    SimLp::bind(lpo)
        .map_err(|e| fail(format!("SimLp: {e}")))?
        .spawn()
        .map_err(io(dir))
}

/// How many tickets stay open by default before a master closes the oldest (`--close-lag`,
/// both harnesses): a close follows its open by `2 × CLOSE_LAG` master intervals or more.
/// With a close right after its open (the socket bench until stop 25, the in-process one
/// until stop 26), one stall of the machine longer than an interval let a close reach the
/// engine before its open's fill; until stop 26 the engine closed such a late block fill one
/// child per account, which made it later still, and a run could cascade into 170,000 fills
/// for 1,200 masters.
pub const CLOSE_LAG: u64 = 4;

/// Sends `masters` master orders in [`master_schedule`]'s order (opens, and closes of the
/// ticket opened `cfg.close_lag` tickets earlier), order `k` at `start + k × interval`;
/// returns each one's intended send time by its sequence number.
fn send_masters(
    mgr: &mut Manager,
    cfg: &SocketConfig,
    masters: u64,
    start: u64,
    interval: u64,
    late: &mut Vec<(u64, u64)>,
) -> Result<BTreeMap<u64, u64>, BenchError> {
    // Lots carry 4 decimals: one raw unit is 1e-4 lot = 10 base units of an FX symbol.
    let units = Qty(master_lots(cfg.accounts).0 * 10 * Qty::ONE_RAW);
    let opts = OrderOpts {
        model: Some("equity".into()),
        routing: Some(cfg.routing.as_str().into()),
        min_lot_policy: Some("up".into()),
        ..OrderOpts::default()
    };
    let mut intended: BTreeMap<u64, u64> = BTreeMap::new(); // MsgSeqNum → intended mono ns
    let mut last_utc = 0u64;
    for k in 0..masters {
        let t = start + k * interval;
        wait_until(mgr, t)?;
        let (open, ticket) = master_schedule(k, masters, cfg.close_lag);
        let side = if ticket.is_multiple_of(2) {
            Side::Buy
        } else {
            Side::Sell
        };
        last_utc = utc_ns().max(last_utc);
        let seq = if open {
            mgr.open(&Open {
                ticket,
                symbol: "EURUSD".into(),
                side,
                units,
                limit: None,
                transact_time_ns: last_utc,
                opts: opts.clone(),
            })
        } else {
            mgr.close(&Close {
                close_id: 1_000_000_000 + ticket,
                ticket,
                symbol: "EURUSD".into(),
                side: match side {
                    Side::Buy => Side::Sell,
                    Side::Sell => Side::Buy,
                },
                units,
                close_all: true,
                limit: None,
                transact_time_ns: last_utc,
                opts: opts.clone(),
            })
        }?;
        mgr.flush()?;
        late.push((t, mono_ns().saturating_sub(t)));
        intended.insert(seq, t);
    }
    Ok(intended)
}

/// What a master's send may start after its intended time before the wait stops sleeping and
/// spins: Linux wakes a sleeper up to its timer slack (50 µs by default) late.
const SPIN_NS: u64 = 150_000;

/// Answers the daemon until `t` (monotonic ns), then returns, on time. mio hands epoll its
/// timeout in whole milliseconds rounded up (mio 1.x, `sys/unix/selector/epoll.rs`), so a
/// poll told to wait 200 µs sleeps a full millisecond: until stop 25 this loop did exactly
/// that, every FIX master left up to 1 ms after its intended time, and the FIX socket figures
/// carried that lateness (p50 ≈ 800 µs against ≈ 200 µs for the binary manager, whose client
/// sleeps instead). Now: polls of whole milliseconds while more than one is left, then
/// non-blocking polls with a short sleep, then spinning for the last [`SPIN_NS`].
fn wait_until(mgr: &mut Manager, t: u64) -> Result<(), BenchError> {
    loop {
        let now = mono_ns();
        if now >= t {
            return Ok(());
        }
        let left = t - now;
        let whole_ms = left.saturating_sub(SPIN_NS) / 1_000_000;
        if whole_ms > 0 {
            mgr.poll(Duration::from_millis(whole_ms))?;
        } else {
            mgr.poll(Duration::ZERO)?;
            if left > SPIN_NS {
                std::thread::sleep(Duration::from_nanos(left - SPIN_NS));
            }
        }
    }
}

/// The LP's arrivals until it has seen nothing new for half a second (or 30 s passed).
fn arrivals_until_quiet(
    mgr: &mut Manager,
    lp: &SimLpThread,
) -> Result<Vec<(u64, u64)>, BenchError> {
    let mut arrivals: Vec<(u64, u64)> = Vec::new();
    let quiet_by = Instant::now() + Duration::from_secs(30);
    let mut last_change = Instant::now();
    while Instant::now() < quiet_by && last_change.elapsed() < Duration::from_millis(500) {
        mgr.poll(Duration::from_millis(10))?;
        let more = lp.handle().arrivals();
        if !more.is_empty() {
            arrivals.extend(more);
            last_change = Instant::now();
        }
    }
    Ok(arrivals)
}

/// When the run's master orders start (monotonic and wall clock) and are measured from.
#[derive(Debug, Clone, Copy)]
struct Times {
    start: u64,
    measure_from: u64,
    wall_start: SystemTime,
}

/// Master in → first and last child out, per master input from its children's arrivals at
/// the LP, recorded in 1 s intervals of intended time; returns the masters matched to
/// children.
fn record_masters(
    rec: &mut Recorder,
    arrivals: &[(u64, u64)],
    by_input: &BTreeMap<u64, u64>,
    intended: &BTreeMap<u64, u64>,
    t: Times,
) -> Result<u64, BenchError> {
    // Child orders per master input: first and last arrival.
    let mut span: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    for &(cl, at) in arrivals {
        let e = span.entry(cl >> CL_ORD_ID_SHIFT).or_insert((at, at));
        e.0 = e.0.min(at);
        e.1 = e.1.max(at);
    }
    // Bucket the samples by intended time into 1 s intervals.
    let mut buckets: BTreeMap<u64, Vec<(u64, u64)>> = BTreeMap::new();
    let mut matched = 0u64;
    for (input, (first, last)) in &span {
        let Some(t0) = by_input.get(input).and_then(|s| intended.get(s)) else {
            continue;
        };
        matched += 1;
        if *t0 < t.measure_from {
            continue;
        }
        buckets
            .entry((t0 - t.start) / 1_000_000_000)
            .or_default()
            .push((first.saturating_sub(*t0), last.saturating_sub(*t0)));
    }
    for (b, samples) in &buckets {
        for &(f, l) in samples {
            rec.record(Figure::FirstChild, f)?;
            rec.record(Figure::LastChild, l)?;
        }
        let s = t.wall_start + Duration::from_secs(*b);
        rec.close_interval(s, s + Duration::from_secs(1))?;
    }
    Ok(matched)
}

/// Packet in → engine: the daemon's own log in `latency_dir`, interval by interval; the
/// log directory is kept as `kept`.
fn record_packets(rec: &mut Recorder, latency_dir: &Path, kept: &Path) -> Result<(), BenchError> {
    let log = read_hlog(latency_dir.join("feed_to_engine.hlog"))?;
    let base = UNIX_EPOCH + Duration::from_secs_f64(log.base_time_s.unwrap_or(0.0));
    for i in &log.intervals {
        rec.add(Figure::PacketToEngine, &i.hist)?;
        let s = base + Duration::from_secs_f64(i.start_s);
        rec.close_interval(s, s + Duration::from_secs_f64(i.length_s))?;
    }
    copy_dir(latency_dir, kept)
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), BenchError> {
    std::fs::create_dir_all(to).map_err(io(to))?;
    for e in std::fs::read_dir(from).map_err(io(from))? {
        let e = e.map_err(io(from))?;
        std::fs::copy(e.path(), to.join(e.file_name())).map_err(io(to))?;
    }
    Ok(())
}
