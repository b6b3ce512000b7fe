//! The daemon survives SIGKILL at any point: one uninterrupted reference run, then a run whose
//! daemon is killed (SIGKILL, no warning) after seeded random delays — at least
//! [`MIN_KILLS`] times — and restarted each time on the same state directory, while the feed
//! server, the LP (QuickFIX's executor) and the manager (`mam manager --linger`, which
//! reconnects and answers the restarted daemon's resend requests from its store) keep running.
//! The manager's plan includes the order lifecycle (`mam manager --lifecycle`): stop-losses and
//! take-profits held by the engine, held limits the journaled quotes trigger, held limits
//! cancelled (35=F); every order and cancel must be accepted in both runs.
//! At the end the final engine state (accounts, tickets and per-account positions, open
//! orders, counters: `mam journal state`) equals the reference byte for byte, and so does the
//! set of orders the LP received (every NewOrderSingle in the executor's log, by ClOrdID with
//! its fields), with no ClOrdID received twice, and so do the reports the manager received
//! (`mam manager --reports`: by journal sequence, none twice, none lost), and so does the ledger as `mam accounts
//! statement --json` shows it (every account's balance, equity, margin and positions, byte for
//! byte), whose totals hold in both runs: per symbol, Σ accounts + unallocated = mam's net at
//! the LP = what the LP's orders add up to.
//!
//! Real processes over loopback (see `mam_tests::daemon`). Needs the shared Dukascopy data and
//! QuickFIX (`apt-get install -y libquickfix17 libquickfix-doc`); fails saying so otherwise.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use mam_tests::daemon::{
    check_statement_totals, convert_eurusd, lp_orders, manager_args, out_file, start_lp,
    wait_until, Capture, DaemonSetup, LpOrder, Proc, Replay, Rng,
};

/// One hour of 2019-02-04 (08:00-09:00, about 10,500 quotes): the killed run's manager paces
/// it at 120x, so the run lasts about 30 s of wall time and the kills land all through it.
const HOURS: std::ops::Range<u32> = 8..9;
const TRADES: usize = 40;
/// Kills in the test (the killed run goes on restarting and killing until it has this many).
const MIN_KILLS: u32 = 20;
/// The killed run takes 45 s on two idle cores, 90 s on two busy ones; a daemon that never
/// finishes (it waits forever for an order's end) fails the test after this long. Seen: a
/// child order the LP refused with a session-level Reject (35=3) just before a kill; FIX
/// resends admin messages as gap fills. The LP stage now writes each refusal down before the
/// engine hears of it and ends the order again on restart; a Reject still unread in the socket
/// at the kill stays unknown, as the executor does not answer OrderStatusRequest
/// (docs/daemon.md, "Orders refused at the session level").
const RUN_PATIENCE: Duration = Duration::from_secs(240);

struct Outcome {
    /// Journal sequence → the report the manager received under it (PossDup copies aside).
    reports: BTreeMap<u64, String>,
    digest: String,
    state: Vec<u8>,
    lp: BTreeMap<String, LpOrder>,
    /// `mam accounts statement --json` of the stopped state directory.
    statement: String,
}

/// A full run in `dir`; with `kills`, the daemon is killed and restarted at random delays
/// until the manager has every answer, the journal holds every quote, and `kills` is reached.
fn run(dir: &Path, cap: &Capture, kills: Option<(u64, u32)>) -> Outcome {
    std::fs::create_dir_all(dir).unwrap();
    let replay = Replay::start(&cap.path, &out_file(dir, "replay"));
    let lp = start_lp(&dir.join("executor"));
    let setup = DaemonSetup::write(dir, &replay.addr, &lp.addr().to_string(), 200);
    let dout = out_file(dir, "daemon");
    let mut daemon = setup.start(&dout);
    let pace = if kills.is_some() { "120x" } else { "max" };
    let mut margs = manager_args(&setup, &cap.path, &dir.join("manager"), TRADES, pace);
    // Stay for the daemon's restarts after the last answer; leave when it logs out (SIGTERM).
    margs.extend(["--linger", "--linger-timeout", "600"].map(String::from));
    // The order lifecycle under kills too: held stop-losses and take-profits, held limits
    // triggered by the journaled quotes, held limits cancelled.
    margs.push("--lifecycle".into());
    // Every report the manager receives, one line each (`mam manager --reports`).
    margs.extend([
        "--reports".to_string(),
        dir.join("reports.txt").display().to_string(),
    ]);
    let mut manager = Proc::mam("manager", &margs, &out_file(dir, "manager"));
    let answered = |m: &Proc| m.output().contains("answered: ");
    let complete = |m: &Proc| answered(m) && setup.market_records() == cap.quotes;
    if let Some((seed, min)) = kills {
        let mut rng = Rng(seed);
        let mut n = 0;
        let t0 = Instant::now();
        while n < min || !complete(&manager) {
            assert!(
                t0.elapsed() < RUN_PATIENCE,
                "killed run did not finish after {n} kills: {} of {} quotes journaled; \
                 manager:\n{}\ndaemon (last lines):\n{}",
                setup.market_records(),
                cap.quotes,
                manager.output(),
                tail(&daemon.output(), 30)
            );
            assert!(
                manager.try_wait().is_none(),
                "manager exited:\n{}",
                manager.output()
            );
            // 50 ms to 1.5 s after the daemon said its stages run: start-up, recovery,
            // resends, mid-flight orders and fills all get hit.
            std::thread::sleep(Duration::from_millis(50 + rng.below(1450)));
            daemon.kill();
            n += 1;
            daemon = setup.start(&dout);
        }
        let restarts = daemon.output().matches("(restarted)").count();
        assert!(restarts >= min as usize, "{restarts} restarts recovered");
    }
    wait_until("every answer and every quote journaled", || {
        assert!(
            daemon.try_wait().is_none(),
            "daemon died:\n{}",
            daemon.output()
        );
        assert!(
            !answered(&manager) || manager.output().contains("0 refused, 0 unanswered"),
            "the manager did not get every order accepted:\n{}",
            manager.output()
        );
        complete(&manager)
    });
    // The manager may still be reconnecting after the last kill: its lingering ends with the
    // Logout of a daemon it is logged on to, so wait until the running one counts its logon.
    // Only this process's stats lines count: those after its "stages [...] running" line.
    wait_until("the manager logged on to the running daemon", || {
        let out = daemon.output();
        let lines: Vec<&str> = out.lines().collect();
        let start = lines
            .iter()
            .rposition(|l| l.contains("stages [") && l.contains("running"))
            .unwrap_or(0);
        lines[start..]
            .iter()
            .rev()
            .find(|l| l.contains(" manager-logons "))
            .is_some_and(|l| !l.contains(" manager-logons 0 "))
    });
    daemon.signal("-TERM");
    let st = daemon.wait();
    assert!(st.success(), "daemon exit {st}:\n{}", daemon.output());
    // The daemon's Logout ends the manager's lingering.
    let st = manager.wait();
    assert!(st.success(), "manager exit {st}:\n{}", manager.output());
    drop(replay);
    let (digest, state) = setup.final_state();
    let lp = lp_orders(lp.dir());
    let statement = setup.statement();
    check_statement_totals(&statement, &lp);
    // The lifecycle happened: held limits triggered by journaled quotes (kind 43), cancels
    // (kind 8) applied.
    let kinds: Vec<u16> = setup.journal_records().iter().map(|r| r.1).collect();
    for (kind, what) in [(43, "a trigger"), (8, "a master cancel")] {
        assert!(kinds.contains(&kind), "{what} in the journal (kind {kind})");
    }
    Outcome {
        reports: reports_received(&dir.join("reports.txt")),
        digest,
        state,
        lp,
        statement,
    }
}

/// The reports in `mam manager --reports`'s file by journal sequence; a report received twice
/// (other than as a PossDup resend of the same message) fails here.
fn reports_received(path: &Path) -> BTreeMap<u64, String> {
    let text = std::fs::read_to_string(path).expect("the manager's reports file");
    let mut out = BTreeMap::new();
    let mut resent = BTreeMap::new();
    for line in text.lines() {
        let (seq, rest) = line.split_once(' ').expect("`seq ...`");
        let (report, poss_dup) = rest.rsplit_once(' ').expect("`... poss_dup`");
        let seq: u64 = seq.parse().expect("a journal sequence");
        if poss_dup == "Y" {
            resent.insert(seq, report.to_string());
            continue;
        }
        if let Some(first) = out.insert(seq, report.to_string()) {
            panic!("report {seq} received twice: {first} / {report}");
        }
    }
    // A report whose first copy a kill took off the wire (the socket reset with it unread)
    // arrives only as the session's resend (PossDupFlag Y): received, once.
    for (seq, report) in resent {
        out.entry(seq).or_insert(report);
    }
    out
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[test]
fn sigkilled_daemon_ends_where_an_uninterrupted_one_does() {
    // MAM_TESTS_KEEP=1 keeps the processes' outputs and state for a look after a failure.
    let dir = tempfile::Builder::new()
        .disable_cleanup(std::env::var_os("MAM_TESTS_KEEP").is_some())
        .tempdir()
        .unwrap();
    eprintln!("working in {}", dir.path().display());
    let cap = convert_eurusd(dir.path(), HOURS);
    let reference = run(&dir.path().join("reference"), &cap, None);
    let killed = run(&dir.path().join("killed"), &cap, Some((0x5EED, MIN_KILLS)));

    assert!(!reference.lp.is_empty(), "the LP received no order");
    for (name, lp) in [("reference", &reference.lp), ("killed", &killed.lp)] {
        for (id, o) in lp {
            assert_eq!(
                o.seqs.len(),
                1,
                "{name} run: ClOrdID {id} received twice: {o:?}"
            );
        }
    }
    let fields = |lp: &BTreeMap<String, LpOrder>| {
        lp.iter()
            .map(|(k, o)| (k.clone(), o.fields.clone()))
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(
        fields(&killed.lp),
        fields(&reference.lp),
        "orders the LP received"
    );
    // The manager heard every report once, and the same reports as in the uninterrupted run.
    assert!(
        !reference.reports.is_empty(),
        "the manager received no report"
    );
    assert_eq!(
        killed.reports, reference.reports,
        "reports the manager received, by journal sequence"
    );
    assert_eq!(killed.digest, reference.digest, "state digest line");
    assert_eq!(
        killed.statement, reference.statement,
        "`mam accounts statement --json` of the two runs"
    );
    assert!(
        killed.state == reference.state,
        "final engine state bytes differ ({} and {} bytes)",
        killed.state.len(),
        reference.state.len()
    );
}
