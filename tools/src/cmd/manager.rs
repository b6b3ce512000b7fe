//! `mam manager --connect 127.0.0.1:PORT --capture FILE [--trades N] [--seed S]`: plays a
//! manager toward the daemon's manager session (docs/daemon.md): a seeded plan of trades over
//! the capture's quotes (open at the touch, partial close, full close), sent as master orders
//! on the capture's clock with a clock watermark every `--clock-every` of capture time, then
//! the end (35=h 340=3). Prints progress and a summary; exits 0 when every order was accepted
//! and the end was sent.
//!
//! The session's store (`--store`) keeps sequence numbers and every sent message: a daemon
//! that restarts asks for what it did not journal and gets it by FIX resend, and a manager
//! restarted over the same store (same arguments) sends only what its store does not hold.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use mam_benches::manager::{
    drive, AckKind, ClientOptions, DriveEvent, DriveOptions, ManagerClient, Schedule,
    ScheduleOptions, Timeline,
};
use mam_core::num::Qty;
use mam_feed::replay::Speed;

/// Arguments of `mam manager`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The daemon's manager acceptor, HOST:PORT (`manager.listen`).
    #[arg(long)]
    pub connect: SocketAddr,
    /// The session's protocol, as the daemon's `protocol` of that manager: `fix` (FIX 4.4) or
    /// `binary` (binary order entry; the same plan, sent as fast as the session takes it).
    #[arg(long, default_value = "fix", value_parser = ["fix", "binary"])]
    pub protocol: String,
    /// `--protocol binary`: the session id (the daemon's `session_id`).
    #[arg(long, default_value_t = 1)]
    pub session_id: u64,
    /// The capture the daemon's feed replays (a pcap of mam SBE quotes): the plan's clock.
    #[arg(long)]
    pub capture: PathBuf,
    /// Trades to plan (each: an open, a partial close, a full close).
    #[arg(long, default_value_t = 10)]
    pub trades: usize,
    /// Seed of the plan.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Our SenderCompID (the daemon's `manager.peer_comp_id`).
    #[arg(long, default_value = "MANAGER")]
    pub sender: String,
    /// The daemon's CompID (`manager.comp_id`).
    #[arg(long, default_value = "MAM")]
    pub target: String,
    /// Password (554) for the Logon.
    #[arg(long)]
    pub password: Option<String>,
    /// Session store directory; default: a fresh temporary one (a new session from 1, which
    /// only a daemon with a fresh state directory accepts).
    #[arg(long)]
    pub store: Option<PathBuf>,
    /// `max` (every step as soon as the session takes it) or a factor of capture time: `1x`,
    /// `60x`.
    #[arg(long, default_value = "max")]
    pub pace: String,
    /// A clock watermark every this many ms of capture time.
    #[arg(long, default_value_t = 1000)]
    pub clock_every_ms: u64,
    /// Size step of the plan in base units (opens are 2..=max-steps steps).
    #[arg(long, default_value = "10000")]
    pub unit: String,
    /// Largest open in size steps.
    #[arg(long, default_value_t = 10)]
    pub max_steps: u64,
    /// Models drawn per trade (comma-separated; default: the daemon's `engine.model`).
    #[arg(long, value_delimiter = ',')]
    pub models: Vec<String>,
    /// Routings drawn per trade (`block`, `per-account`; default: the daemon's).
    #[arg(long, value_delimiter = ',')]
    pub routings: Vec<String>,
    /// Also the order lifecycle: stop-losses and take-profits held by the engine, held limits
    /// that trigger on the next quote, held limits far from the market that are cancelled.
    #[arg(long)]
    pub lifecycle: bool,
    /// After the end: seconds to wait for the last answers (counted while logged on).
    #[arg(long, default_value_t = 120)]
    pub ack_timeout: u64,
    /// After every answer: stay connected (answering a restarted daemon's resend requests)
    /// until the daemon logs out, or `--linger-timeout` seconds pass with no session.
    #[arg(long)]
    pub linger: bool,
    /// See --linger.
    #[arg(long, default_value_t = 30)]
    pub linger_timeout: u64,
    /// Append every report mam sends (ExecutionReport, OrderCancelReject) to this file as it
    /// arrives, one line each: `journal_seq cl_ord_id kind status cum_qty poss_dup` (the kill
    /// test checks that none arrives twice and none is lost).
    #[arg(long)]
    pub reports: Option<PathBuf>,
    /// Print each refusal as it arrives.
    #[arg(long)]
    pub verbose: bool,
    /// Print the summary as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Runs `mam manager`.
pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let pace: Speed = a.pace.parse().context("--pace")?;
    if a.trades == 0 {
        bail!("--trades must be at least 1");
    }
    let unit = Qty::parse(&a.unit).with_context(|| format!("--unit `{}`", a.unit))?;
    let tl = Timeline::load(&a.capture)
        .with_context(|| format!("reading the capture {}", a.capture.display()))?;
    let plan = Schedule::plan(
        &tl,
        &ScheduleOptions {
            trades: a.trades,
            seed: a.seed,
            unit,
            max_steps: a.max_steps,
            clock_every_ns: a.clock_every_ms.saturating_mul(1_000_000),
            models: a.models.clone(),
            routings: a.routings.clone(),
            lifecycle: a.lifecycle,
        },
    )?;
    if a.protocol == "binary" {
        return super::manager_binary::run(&a, &plan);
    }
    // Without --store: a directory of this run only, removed at the end.
    let (store, scratch) = match &a.store {
        Some(s) => (s.clone(), false),
        None => {
            let nanos = mam_core::sys::utc_now_ns();
            let dir =
                std::env::temp_dir().join(format!("mam-manager-{}-{nanos}", std::process::id()));
            (dir, true)
        }
    };
    let mut co = ClientOptions::new(a.connect, store.clone());
    co.sender = a.sender.clone();
    co.target = a.target.clone();
    co.password = a.password.clone();
    let mut client = ManagerClient::open(&co)?;
    println!(
        "mam manager: {} -> {} at {}, store {}; plan: {} trades ({} orders, {} steps) over {} quotes, seed {}{}",
        a.sender,
        a.target,
        a.connect,
        store.display(),
        a.trades,
        plan.orders(),
        plan.steps.len(),
        tl.quotes.len(),
        a.seed,
        if client.sent() > 0 {
            format!("; resuming after {} steps in the store", client.sent())
        } else {
            String::new()
        }
    );
    let opts = DriveOptions {
        pace,
        ack_timeout: Duration::from_secs(a.ack_timeout),
        linger: a.linger,
        linger_timeout: Duration::from_secs(a.linger_timeout),
        progress_every: Duration::from_secs(1),
    };
    let total = plan.steps.len();
    let (verbose, linger) = (a.verbose, a.linger);
    let mut reports = match &a.reports {
        Some(p) => Some(std::io::BufWriter::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| format!("--reports {}", p.display()))?,
        )),
        None => None,
    };
    let r = drive(&mut client, &plan, &opts, &mut |e| {
        match e {
        DriveEvent::Ack(ack) => {
            if let (Some(w), Some(line)) = (reports.as_mut(), report_line(ack)) {
                use std::io::Write as _;
                // A line lost to a full disk fails the kill test that reads it, not the run.
                let _ = writeln!(w, "{line}").and_then(|_| w.flush());
            }
            if verbose || !matches!(ack.kind, AckKind::Accepted | AckKind::Report { .. }) {
                println!(
                    "  answer: order {:?} (ref seq {:?}): {:?}",
                    ack.cl_ord_id, ack.ref_seq, ack.kind
                );
            }
        }
        DriveEvent::Answered(r) => println!(
            "answered: {} accepted, {} refused, {} unanswered; end sent{}",
            r.accepted,
            r.refused,
            r.pending,
            if linger {
                "; lingering until the daemon logs out"
            } else {
                ""
            }
        ),
        DriveEvent::Progress {
            sent,
            clock_ns,
            report,
        } => println!(
            "  {sent}/{total} steps sent, capture clock {}, {} accepted, {} refused, {} pending, {} connects",
            hms(clock_ns),
            report.accepted,
            report.refused,
            report.pending,
            report.connects
        ),
    }
    })?;
    let _ = client.flush();
    drop(client);
    if scratch {
        let _ = std::fs::remove_dir_all(&store);
    }
    if a.json {
        println!(
            "{}",
            serde_json::json!({
                "orders": r.orders,
                "steps": r.steps,
                "resumed": r.resumed,
                "accepted": r.accepted,
                "refused": r.refused,
                "pending": r.pending,
                "ended": r.ended,
                "connects": r.connects,
                "peer_logged_out": r.peer_logged_out,
                "elapsed_s": r.elapsed.as_secs_f64(),
                "done": r.done(),
            })
        );
    } else {
        println!(
            "orders: {} planned, {} accepted, {} refused, {} unanswered; end {}; {} connects; {:.1} s{}",
            r.orders,
            r.accepted,
            r.refused,
            r.pending,
            if r.ended { "sent" } else { "NOT sent" },
            r.connects,
            r.elapsed.as_secs_f64(),
            if r.done() { "; done" } else { "" }
        );
    }
    Ok(if r.done() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `HH:MM:SS.mmm` of a UTC ns time (progress lines only).
fn hms(ns: u64) -> String {
    let ms = ns / 1_000_000;
    let s = ms / 1000;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        (s / 3600) % 24,
        (s / 60) % 60,
        s % 60,
        ms % 1000
    )
}

/// The `--reports` line of an answer that is one of mam's reports, `None` otherwise.
fn report_line(ack: &mam_gateway::manager::client::msg::Ack) -> Option<String> {
    let seq = ack.journal_seq?;
    let (kind, status, cum) = match &ack.kind {
        AckKind::Accepted => ("0".to_string(), "0".to_string(), "0".to_string()),
        AckKind::Refused { .. } => ("8".into(), "8".into(), "0".into()),
        AckKind::Report {
            exec_type,
            ord_status,
            cum_qty,
            ..
        } => (
            (*exec_type as char).to_string(),
            ord_status.map_or("-".into(), |c| (c as char).to_string()),
            cum_qty.map_or("-".into(), |q| q.to_string()),
        ),
        _ => return None,
    };
    Some(format!(
        "{seq} {} {kind} {status} {cum} {}",
        ack.cl_ord_id.map_or("-".into(), |c| c.to_string()),
        if ack.poss_dup { "Y" } else { "N" }
    ))
}
