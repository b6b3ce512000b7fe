//! `mam fix`: FIX tools. `mam fix order` sends limit orders to an LP over a FIX 4.4 session,
//! waits for every ExecutionReport and prints the round-trip latency distribution.
//!
//! Orders are pipelined. With `--rate N/s` each order has an intended send time on a fixed
//! schedule and its latency is measured from that time, not from when it actually left, so a
//! sender that falls behind is charged for the wait (coordinated omission corrected). Without
//! `--rate` the intended time is the send time. Latencies go into an HdrHistogram (and, with
//! `--hlog`, into an interval log, one interval per second).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context};
use mam_core::event::{ChildOrder, OrdType, Side};
use mam_core::num::{Price, Qty};
use mam_gateway::fix::convert::{child_to_nos, ClOrdIdText};
use mam_gateway::fix::msg::{self, ExecutionReport};
use mam_gateway::fix::num::parse_u64;
use mam_gateway::fix::session::initiator::{now_ns, Initiator, InitiatorOptions};
use mam_gateway::fix::session::{Event, Role, Session, SessionConfig, SessionError};
use mam_gateway::fix::store::Store;
use mam_gateway::latency::{new_histogram, IntervalLogWriter};

/// Subcommands of `mam fix`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Send limit orders to an LP (e.g. QuickFIX's executor) and measure round trips.
    Order(OrderArgs),
    /// Run a simulated LP (FIX acceptor) that fills every order: for latency runs and for the
    /// daemon's example config when QuickFIX is not installed.
    Lp(LpArgs),
}

/// Arguments of `mam fix lp`.
#[derive(Debug, clap::Args)]
pub struct LpArgs {
    /// Address to listen on, HOST:PORT (port 0: any free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:9878")]
    pub listen: SocketAddr,
    /// The LP's CompID.
    #[arg(long, default_value = "LP")]
    pub sender: String,
    /// The client's CompID (mam's).
    #[arg(long, default_value = "MAM")]
    pub target: String,
    /// Partial fills before each order's final fill.
    #[arg(long, default_value_t = 0)]
    pub partial: u32,
    /// Ticks a market order's fill moves against the client.
    #[arg(long, default_value_t = 0)]
    pub slippage_ticks: i64,
    /// One tick (exact decimal).
    #[arg(long, default_value = "0.00001")]
    pub tick: String,
    /// Price market orders fill at, before slippage (limit orders fill at their price).
    #[arg(long, default_value = "1.10000")]
    pub market_price: String,
    /// Session store directory (kept across runs, so a client's sequence numbers carry on).
    /// Without it a fresh temporary store is used and removed on exit.
    #[arg(long)]
    pub store: Option<PathBuf>,
    /// Stop after this many seconds (default: run until killed).
    #[arg(long)]
    pub duration: Option<u64>,
    /// OrderStatusRequests (35=H): answer them (ExecutionReport ExecType I), refuse them
    /// (BusinessMessageReject, unsupported message type, as QuickFIX's executor does) or ignore
    /// them (no answer at all).
    #[arg(long, default_value = "answer", value_parser = ["answer", "refuse", "ignore"])]
    pub status: String,
    /// Answer a client's ResendRequest with gap fills over the ExecutionReports instead of
    /// resending them (LPs that expect an OrderStatusRequest after a reconnect do).
    #[arg(long)]
    pub gap_fill_reports: bool,
}

/// Arguments of `mam fix order`.
#[derive(Debug, clap::Args)]
pub struct OrderArgs {
    /// The LP's FIX acceptor, HOST:PORT.
    #[arg(long)]
    pub connect: SocketAddr,
    /// Our SenderCompID.
    #[arg(long, default_value = "MAM")]
    pub sender: String,
    /// The LP's CompID (our TargetCompID).
    #[arg(long, default_value = "EXECUTOR")]
    pub target: String,
    /// Symbol (tag 55).
    #[arg(long, default_value = "EURUSD")]
    pub symbol: String,
    /// buy or sell.
    #[arg(long, default_value = "buy")]
    pub side: String,
    /// Quantity per order in base units (exact decimal).
    #[arg(long, default_value = "10000")]
    pub qty: String,
    /// Limit price (exact decimal).
    #[arg(long, default_value = "1.10000")]
    pub price: String,
    /// Account (tag 1), the sub-account id.
    #[arg(long, default_value = "A1")]
    pub account: String,
    /// Number of orders.
    #[arg(long, default_value_t = 1000)]
    pub count: u64,
    /// Orders per second (`N` or `N/s`); default: as fast as the session takes them.
    #[arg(long)]
    pub rate: Option<String>,
    /// Write the round-trip histogram as an HdrHistogram interval log (.hlog).
    #[arg(long)]
    pub hlog: Option<PathBuf>,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Session store directory (sequence numbers and sent messages persist there). Without
    /// it a temporary store is used and the session starts with ResetSeqNumFlag=Y.
    #[arg(long)]
    pub store: Option<PathBuf>,
    /// Send ResetSeqNumFlag=Y on Logon even with --store.
    #[arg(long)]
    pub reset: bool,
    /// Password (tag 554) for the Logon.
    #[arg(long)]
    pub password: Option<String>,
    /// HeartBtInt in seconds.
    #[arg(long, default_value_t = 30)]
    pub heartbeat: u32,
    /// Give up after this many seconds without every acknowledgement.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
}

/// Runs `mam fix`.
pub fn run(c: Command) -> anyhow::Result<ExitCode> {
    match c {
        Command::Order(a) => order(a),
        Command::Lp(a) => sim_lp(a),
    }
}

fn parse_rate(s: &str) -> anyhow::Result<u64> {
    let n = s.strip_suffix("/s").unwrap_or(s);
    let r: u64 = n
        .trim()
        .parse()
        .with_context(|| format!("--rate `{s}`: expected N or N/s"))?;
    if r == 0 {
        bail!("--rate must be at least 1/s");
    }
    Ok(r)
}

/// What happened to one order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Pending,
    Filled,
    Rejected,
}

struct Run {
    /// ClOrdID of order 0.
    base: u64,
    fates: Vec<Fate>,
    intended: Vec<u64>,
    seqs: Vec<u64>,
    filled: u64,
    rejected: u64,
    session_rejected: u64,
    hist: hdrhistogram::Histogram<u64>,
    interval: hdrhistogram::Histogram<u64>,
    t0: Instant,
}

impl Run {
    fn mono(&self) -> u64 {
        self.t0.elapsed().as_nanos() as u64
    }

    fn ack(&mut self, i: usize, fate: Fate) {
        if self.fates[i] != Fate::Pending {
            return; // a resent duplicate
        }
        self.fates[i] = fate;
        match fate {
            Fate::Filled => self.filled += 1,
            _ => self.rejected += 1,
        }
        let ns = self.mono().saturating_sub(self.intended[i]).max(1);
        let _ = self.hist.record(ns);
        let _ = self.interval.record(ns);
    }

    fn on_event(&mut self, e: Event<'_>) {
        match e {
            Event::App { msg, .. } if msg.msg_type() == msg::msg_type::EXECUTION_REPORT => {
                let Ok(er) = ExecutionReport::parse(msg) else {
                    return;
                };
                let Some(i) = er
                    .cl_ord_id
                    .and_then(|c| parse_u64(c).ok())
                    .and_then(|c| c.checked_sub(self.base))
                else {
                    return;
                };
                let i = i as usize;
                if i >= self.fates.len() {
                    return;
                }
                match er.ord_status {
                    b'2' => self.ack(i, Fate::Filled),
                    b'8' | b'4' => self.ack(i, Fate::Rejected),
                    _ => {}
                }
            }
            Event::RejectReceived { ref_seq, reason } => {
                if let Ok(i) = self.seqs.binary_search(&ref_seq) {
                    tracing::warn!(ref_seq, ?reason, "LP rejected order {i}");
                    self.session_rejected += 1;
                    self.ack(i, Fate::Rejected);
                }
            }
            Event::Disconnect { reason } => {
                tracing::warn!(?reason, "FIX session disconnected; reconnecting")
            }
            _ => {}
        }
    }
}

fn order(a: OrderArgs) -> anyhow::Result<ExitCode> {
    let side = match a.side.to_ascii_lowercase().as_str() {
        "buy" | "1" => Side::Buy,
        "sell" | "2" => Side::Sell,
        s => bail!("--side `{s}`: expected buy or sell"),
    };
    let qty = Qty::parse(&a.qty).with_context(|| format!("--qty `{}`", a.qty))?;
    let price = Price::parse(&a.price).with_context(|| format!("--price `{}`", a.price))?;
    if qty.raw() <= 0 || price.raw() <= 0 {
        bail!("--qty and --price must be positive");
    }
    if a.count == 0 {
        bail!("--count must be at least 1");
    }
    let interval_ns = a
        .rate
        .as_deref()
        .map(parse_rate)
        .transpose()?
        .map(|r| 1_000_000_000 / r);
    let (store_dir, temp) = match &a.store {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!("mam-fix-{}-{}", std::process::id(), now_ns())),
            true,
        ),
    };
    let mut cfg = SessionConfig::new(Role::Initiator, &a.sender, &a.target);
    cfg.heart_bt_int = a.heartbeat;
    cfg.reset_on_logon = a.reset || temp;
    cfg.password = a.password.as_ref().map(|p| p.as_bytes().to_vec());
    let store = Store::open(&store_dir)
        .with_context(|| format!("opening the FIX store in {}", store_dir.display()))?;
    let session = Session::new(cfg, store)?;
    let mut opts = InitiatorOptions::new(a.connect);
    opts.backoff_max = Duration::from_secs(1);
    let mut ini = Initiator::new(session, opts)?;
    let result = drive(&a, &mut ini, side, qty, price, interval_ns);
    drop(ini);
    if temp {
        let _ = std::fs::remove_dir_all(&store_dir);
    }
    result
}

fn drive(
    a: &OrderArgs,
    ini: &mut Initiator,
    side: Side,
    qty: Qty,
    price: Price,
    interval_ns: Option<u64>,
) -> anyhow::Result<ExitCode> {
    let deadline = Instant::now() + Duration::from_secs(a.timeout);
    let n = a.count as usize;
    let mut run = Run {
        base: (now_ns() / 1000) * 1000,
        fates: vec![Fate::Pending; n],
        intended: vec![0; n],
        seqs: Vec::with_capacity(n),
        filled: 0,
        rejected: 0,
        session_rejected: 0,
        hist: new_histogram()?,
        interval: new_histogram()?,
        t0: Instant::now(),
    };
    // Log on.
    while !ini.is_logged_on() {
        if Instant::now() > deadline {
            bail!("no FIX logon to {} within {} s", a.connect, a.timeout);
        }
        ini.turn(now_ns(), Some(Duration::from_millis(10)), &mut |e| {
            run.on_event(e)
        })?;
    }
    let mut hlog = match &a.hlog {
        Some(p) => Some(IntervalLogWriter::create(p, Some("round_trip"))?),
        None => None,
    };
    let mut interval_start = SystemTime::now();
    let account = a.account.as_bytes();
    let symbol = a.symbol.as_bytes();
    let start = run.mono();
    let mut next = 0usize;
    let mut backpressure = 0u64;
    while run.filled + run.rejected < a.count {
        if Instant::now() > deadline {
            break;
        }
        // Send every order that is due.
        let now_mono = run.mono();
        while next < n {
            let intended = match interval_ns {
                Some(iv) => start + next as u64 * iv,
                None => now_mono,
            };
            if intended > now_mono || !ini.is_logged_on() {
                break;
            }
            let child = ChildOrder {
                cl_ord_id: run.base + next as u64,
                qty,
                price,
                side: side as u8,
                ord_type: OrdType::Limit as u8,
                ..Default::default()
            };
            let id = ClOrdIdText::new(child.cl_ord_id);
            let wall = now_ns();
            let nos = child_to_nos(&child, &id, Some(account), symbol, wall)?;
            match ini.send_app(wall, msg::msg_type::NEW_ORDER_SINGLE, |w| nos.encode(w)) {
                Ok(seq) => {
                    run.intended[next] = intended;
                    run.seqs.push(seq);
                    next += 1;
                }
                Err(SessionError::Backpressure { .. }) | Err(SessionError::NotLoggedOn(_)) => {
                    backpressure += 1;
                    break;
                }
                Err(e) => return Err(e.into()),
            }
            if next.is_multiple_of(32) {
                ini.flush()?;
            }
        }
        ini.flush()?;
        let wait = match interval_ns {
            Some(iv) if next < n => Duration::from_nanos(
                (start + next as u64 * iv)
                    .saturating_sub(run.mono())
                    .min(1_000_000),
            ),
            _ => Duration::from_millis(1),
        };
        ini.turn(now_ns(), Some(wait), &mut |e| run.on_event(e))?;
        if let Some(w) = hlog.as_mut() {
            let now = SystemTime::now();
            if now.duration_since(interval_start).unwrap_or_default() >= Duration::from_secs(1) {
                w.write_interval(&run.interval, interval_start, now)?;
                run.interval.reset();
                interval_start = now;
            }
        }
    }
    let elapsed = (run.mono() - start) as f64 / 1e9;
    if let Some(w) = hlog.as_mut() {
        if !run.interval.is_empty() {
            w.write_interval(&run.interval, interval_start, SystemTime::now())?;
        }
    }
    // Log out politely (best effort: the counts are already final).
    let _ = ini.logout(now_ns(), None);
    let t = Instant::now();
    while ini.session().state() != mam_gateway::fix::session::State::Disconnected
        && t.elapsed() < Duration::from_secs(2)
    {
        ini.turn(now_ns(), Some(Duration::from_millis(10)), &mut |_| {})?;
    }
    let sent = next as u64;
    let q = |p: f64| run.hist.value_at_quantile(p) as f64 / 1000.0;
    let (p50, p99, p999, max) = (q(0.5), q(0.99), q(0.999), run.hist.max() as f64 / 1000.0);
    if a.json {
        let v = serde_json::json!({
            "sent": sent, "filled": run.filled, "rejected": run.rejected,
            "p50_us": p50, "p99_us": p99, "p999_us": p999, "max_us": max,
        });
        println!("{v}");
    } else {
        println!(
            "mam fix order → {} ({} → {})",
            a.connect, a.sender, a.target
        );
        println!("  sent {sent}, filled {}, rejected {} ({} by session Reject), in {elapsed:.3} s ({:.0} orders/s)", run.filled, run.rejected, run.session_rejected, run.filled as f64 / elapsed.max(1e-9));
        match interval_ns {
            Some(iv) => println!("  paced at {} orders/s; latency from each order's intended send time (coordinated omission corrected)", 1_000_000_000 / iv),
            None => println!("  unpaced (pipelined as fast as the session takes them); latency from each order's send time"),
        }
        println!("  round trip (order out → ExecutionReport in), µs:");
        for p in [0.5, 0.9, 0.99, 0.999] {
            println!("    p{:<6} {:>10.1}", p * 100.0, q(p));
        }
        println!("    max     {max:>10.1}");
        if backpressure > 0 {
            println!("  back-pressure: the session pushed back {backpressure} times");
        }
        if let Some(p) = &a.hlog {
            println!("  interval log: {}", p.display());
        }
    }
    let acked = run.filled + run.rejected - run.session_rejected;
    if sent == a.count && acked == a.count {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "mam fix order: {} of {} orders acknowledged by an ExecutionReport",
            acked, a.count
        );
        Ok(ExitCode::from(1))
    }
}

fn sim_lp(a: LpArgs) -> anyhow::Result<ExitCode> {
    use mam_gateway::lp::{SimLp, SimLpOptions, StatusRequests};
    let tick = Price::parse(&a.tick).with_context(|| format!("--tick `{}`", a.tick))?;
    let market_price = Price::parse(&a.market_price)
        .with_context(|| format!("--market-price `{}`", a.market_price))?;
    if tick.raw() <= 0 || market_price.raw() <= 0 {
        bail!("--tick and --market-price must be positive");
    }
    let (store_dir, temp) = match &a.store {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!("mam-sim-lp-{}-{}", std::process::id(), now_ns())),
            true,
        ),
    };
    let mut o = SimLpOptions::new(&store_dir);
    o.bind = a.listen;
    o.sender = a.sender.clone();
    o.target = a.target.clone();
    o.partial = a.partial;
    o.slippage_ticks = a.slippage_ticks;
    o.tick = tick;
    o.market_price = market_price;
    o.status = match a.status.as_str() {
        "refuse" => StatusRequests::Refuse,
        "ignore" => StatusRequests::Ignore,
        _ => StatusRequests::Answer,
    };
    o.resend_reports = !a.gap_fill_reports;
    let mut lp = SimLp::bind(o).context("starting the simulated LP")?;
    println!(
        "mam fix lp: listening on {} as {} for {} (partial fills {}, slippage {} ticks, status requests: {}{})",
        lp.local_addr(),
        a.sender,
        a.target,
        a.partial,
        a.slippage_ticks,
        a.status,
        if a.gap_fill_reports {
            ", reports gap-filled on resend"
        } else {
            ""
        }
    );
    let h = lp.handle();
    let t0 = Instant::now();
    let mut last_print = Instant::now();
    let mut last_orders = 0;
    let result = loop {
        if a.duration
            .is_some_and(|d| t0.elapsed() >= Duration::from_secs(d))
        {
            break Ok(());
        }
        if let Err(e) = lp.turn(Duration::from_millis(1)) {
            break Err(e);
        }
        // The arrivals are for an in-process latency harness; here only their count matters.
        drop(h.arrivals());
        let s = h.stats();
        let orders = s.orders.load(std::sync::atomic::Ordering::Relaxed);
        if orders != last_orders && last_print.elapsed() >= Duration::from_secs(5) {
            last_orders = orders;
            last_print = Instant::now();
            println!("{}", sim_lp_line(&h));
        }
    };
    println!("{}", sim_lp_line(&h));
    drop(lp);
    if temp {
        let _ = std::fs::remove_dir_all(&store_dir);
    }
    result.context("simulated LP session")?;
    Ok(ExitCode::SUCCESS)
}

fn sim_lp_line(h: &mam_gateway::lp::SimLpHandle) -> String {
    let s = h.stats();
    let g = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
    format!(
        "orders {} duplicates {} fills {} exec_reports {} status_requests {} logons {} logouts {}",
        g(&s.orders),
        g(&s.duplicates),
        g(&s.fills),
        g(&s.exec_reports),
        g(&s.status_requests),
        g(&s.logons),
        g(&s.logouts)
    )
}
