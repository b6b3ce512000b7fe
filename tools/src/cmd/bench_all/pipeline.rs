//! The pipeline of `mam bench all`: master in → last child out at 100 / 1,000 / 10,000
//! accounts, block and per-account routing, in-process and socket to socket, shared threading
//! mode (the figures; a 2-core machine has no room for dedicated stage threads).

use std::path::Path;

use mam_benches::pipeline::{Figure as PFigure, FigureSummary};

use super::figure::Figure;
use crate::cmd::bench_pipeline;

/// Accounts of every configuration.
pub const ACCOUNTS: [usize; 3] = [100, 1_000, 10_000];
/// Routings of every configuration, as `mam bench pipeline --routing` names them.
pub const ROUTINGS: [&str; 2] = ["block", "per-account"];

/// References the pipeline figures are printed beside, from earlier groups of the same run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Refs {
    /// One rtrb hop between threads, p50 ns (`transport`).
    pub rtrb_hop_p50_ns: Option<f64>,
    /// FIX NewOrderSingle encode, ns (`fix`).
    pub nos_encode_ns: Option<f64>,
}

/// Master orders per second: the 1,000/s, lowered so that no configuration asks for
/// more than 1,000,000 account shares a second (10,000 accounts: 100/s). The engine's order-rate
/// table counts every account's share and holds at most `MAX_TABLE` (10,000,000) a second: at
/// 1,000/s on 10,000 accounts the bench's engine risk-rejected millions of shares and the run
/// never completed. Per-account routing is capped further ([`PER_ACCOUNT_CHILDREN`]).
pub fn rate(accounts: usize) -> u64 {
    (1_000_000 / accounts.max(1) as u64).clamp(2, 1_000)
}

/// Master orders per second of the socket configurations, at most. At 1,000 blocks/s over
/// 1,000 accounts the daemon sends 20,000 AllocationInstructions a second, and its LP stage and
/// the harness's SimLp fall behind on a 2-core machine. The run then measures seconds of
/// queueing, not latency (docs/latency.md, "Socket to socket: where the time went").
pub const SOCKET_RATE: u64 = 200;

/// Child orders per second of a per-account configuration, at most: in-process and socket to
/// socket. A per-account child costs the engine 580-870 ns (`pipeline.*.per_child`, and the
/// daemon's `engine_apply_master` ÷ 1,000 at 20 masters/s, stop 26), so `mam bench pipeline`'s
/// default 200,000 a second asked for more than a core: the in-process 1,000-account run's
/// p99 was 40 ms and the socket one's p50 117 ms, seconds of queueing, not latency. At a
/// quarter of a core the figures are the pipeline's; through the sockets every child is also
/// a FIX NewOrderSingle written, parsed by SimLp and answered, on the same two cores.
pub const PER_ACCOUNT_CHILDREN: u64 = 50_000;
/// The same through the sockets.
pub const SOCKET_PER_ACCOUNT_CHILDREN: u64 = 20_000;

/// The arguments of one configuration of `mam bench pipeline`.
fn args(
    quick: bool,
    capture: Option<&Path>,
    out: &Path,
    accounts: usize,
    routing: &str,
) -> bench_pipeline::Args {
    let socket = capture.is_some();
    bench_pipeline::Args {
        accounts: vec![accounts],
        modes: vec!["shared".into()],
        routing: vec![routing.into()],
        rate: if socket {
            rate(accounts).min(SOCKET_RATE)
        } else {
            rate(accounts)
        },
        max_children_per_sec: if socket {
            SOCKET_PER_ACCOUNT_CHILDREN
        } else {
            PER_ACCOUNT_CHILDREN
        },
        quote_rate: 10_000,
        seconds: if quick { 1.0 } else { 5.0 },
        warmup: if quick { 0.3 } else { 1.0 },
        socket,
        capture: capture.map(Path::to_path_buf),
        feed_speed: "100x".into(),
        socket_only: socket,
        close_lag: mam_benches::pipeline::CLOSE_LAG,
        no_allocation_instructions: false,
        out: Some(out.to_path_buf()),
        no_pin: false,
        batch: 64,
        keep_journal: None,
        admin: false,
        json: true,
    }
}

fn last_child(figs: &[FigureSummary]) -> Option<&FigureSummary> {
    figs.iter().find(|f| f.name == PFigure::LastChild.name())
}

/// Measured configurations: (config, accounts, routing, last-child summary).
type Rows<'a> = Vec<(&'static str, usize, &'static str, &'a FigureSummary)>;

/// Runs the in-process configurations, or the socket ones, each on its own (one that fails is
/// an error beside the others' figures): the figures, the files written and the errors.
pub fn run(
    quick: bool,
    socket: bool,
    out: &Path,
    refs: Refs,
    inproc: &[Figure],
) -> (Vec<Figure>, Vec<String>, Vec<String>) {
    let mut reports = Vec::new();
    let mut errors = Vec::new();
    // The socket runs' feed, converted once for all six.
    let capture = if socket {
        let _ = std::fs::create_dir_all(out);
        match bench_pipeline::default_capture(out) {
            Ok(c) => Some(c),
            Err(e) => return (Vec::new(), Vec::new(), vec![format!("capture: {e:#}")]),
        }
    } else {
        None
    };
    for accounts in ACCOUNTS {
        for routing in ROUTINGS {
            let a = args(quick, capture.as_deref(), out, accounts, routing);
            match bench_pipeline::measure(&a) {
                Ok(r) => reports.push(r),
                Err(e) => errors.push(format!("{accounts} accounts, {routing}: {e:#}")),
            }
        }
    }
    let mut rows: Rows = Vec::new();
    for r in &reports {
        for (x, _) in &r.results {
            if let Some(f) = last_child(&x.figures) {
                rows.push(("inproc", x.accounts, x.routing.as_str(), f));
            }
        }
        for x in &r.sockets {
            if let Some(f) = last_child(&x.figures) {
                let config = match x.protocol {
                    mam_benches::pipeline::ManagerProtocol::Fix => "socket",
                    mam_benches::pipeline::ManagerProtocol::Binary => "socket-binary",
                };
                rows.push((config, x.accounts, x.routing.as_str(), f));
            }
        }
    }
    let mut figs = Vec::new();
    let mut files = Vec::new();
    for (config, accounts, routing, f) in rows {
        files.push(f.hlog.display().to_string());
        files.push(f.hgrm.display().to_string());
        let key = format!("pipeline.{config}.{accounts}.{routing}.last_child");
        let what = |p: &str| {
            format!("master in → last child out, {config}, {accounts} accounts, {routing}, {p}")
        };
        for (p, v) in [("p50", f.p50), ("p99", f.p99)] {
            let name = format!("{key}.{p}");
            let mut g = Figure::new(&name, what(p), v as f64 / 1e3, "µs");
            g = if config == "socket-binary" {
                // Beside the FIX manager's figure of the same configuration (the same run).
                let twin = name.replace(".socket-binary.", ".socket.");
                match figs.iter().find(|x: &&Figure| x.name == twin) {
                    Some(x) => g.vs("the FIX manager's figure", x.value),
                    None => g,
                }
            } else if config == "socket" {
                // Beside the in-process figure of the same configuration (the reference).
                let twin = name.replace(".socket.", ".inproc.");
                match inproc.iter().find(|x| x.name == twin) {
                    Some(x) => g.vs("the in-process figure", x.value),
                    None => g,
                }
            } else {
                match refs.rtrb_hop_p50_ns {
                    Some(h) => g.vs("one rtrb hop p50", h / 1e3),
                    None => g,
                }
            };
            figs.push(target(g, config, accounts, routing, p));
        }
        if config == "inproc" && routing == "per-account" {
            // Routing cost per child: the median of the whole fan-out ÷ children.
            let per = f.p50 as f64 / accounts as f64;
            let mut g = Figure::new(
                format!("pipeline.inproc.{accounts}.per-account.per_child"),
                format!("per-account routing, {accounts} children, p50 ÷ children"),
                per,
                "ns",
            );
            if let Some(n) = refs.nos_encode_ns {
                g = g.vs("FIX NewOrderSingle encode", n);
            }
            if accounts == 1_000 {
                g = g.at_most(150.0, "≤ 150 ns per child");
            }
            figs.push(g);
        }
    }
    (figs, files, errors)
}

/// The targets: all at 1,000 accounts.
fn target(g: Figure, config: &str, accounts: usize, routing: &str, p: &str) -> Figure {
    match (config, accounts, routing, p) {
        ("inproc", 1_000, "block", "p99") => g.at_most(5.0, "p99 ≤ 5 µs"),
        ("inproc", 1_000, "per-account", "p99") => g.at_most(200.0, "p99 ≤ 200 µs for all 1,000"),
        ("socket", 1_000, "block", "p50") => g.at_most(20.0, "p50 ≤ 20 µs"),
        ("socket", 1_000, "block", "p99") => g.at_most(60.0, "p99 ≤ 60 µs"),
        _ => g,
    }
}
