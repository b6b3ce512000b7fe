//! The daemon with `sequencing = "event_time"` is a deterministic function of its inputs:
//! the same capture (served by `mam replay --serve soup://`), the same manager plan (`mam
//! manager`, seeded) and the same LP (QuickFIX's executor, which fills every limit order at
//! its price) give, in two fresh state directories, journals identical byte for byte and the
//! same final engine state, and the same ledger (`mam accounts statement --json`, byte for byte,
//! its totals holding: per symbol Σ accounts + unallocated = mam's net at the LP = what the
//! LP's orders add up to) — although the two runs differ in every timing: the second manager
//! paces its orders on the capture's clock, the first sends them flat out.
//!
//! Real processes over loopback (see `mam_tests::daemon`). Needs the shared Dukascopy data and
//! QuickFIX (`apt-get install -y libquickfix17 libquickfix-doc`); fails saying so otherwise.

use std::path::Path;

use mam_tests::daemon::{
    check_statement_totals, convert_eurusd, lp_orders, manager_args, out_file, start_lp,
    wait_until, Capture, DaemonSetup, Proc, Replay,
};

/// Hours of 2019-02-04 replayed: 07:00-10:00, the London open, 26,736 of the day's 136,741
/// quotes. Both runs together take about 25 s in a debug build on two cores; the whole day
/// would take five times as long and exercise no path these three hours miss.
const HOURS: std::ops::Range<u32> = 7..10;
const TRADES: usize = 60;

struct Run {
    setup: DaemonSetup,
    lp: std::collections::BTreeMap<String, mam_tests::daemon::LpOrder>,
}

/// One complete run in `dir`: everything started fresh, the manager's plan played to the end,
/// the daemon stopped (SIGTERM) once its journal holds every quote of the capture (no order
/// comes after the last quote, so by then every order and fill is in), then exit 0.
fn run(dir: &Path, cap: &Capture, pace: &str, mode: &str) -> Run {
    std::fs::create_dir_all(dir).unwrap();
    let replay = Replay::start(&cap.path, &out_file(dir, "replay"));
    let lp = start_lp(&dir.join("executor"));
    let setup = DaemonSetup::write(dir, &replay.addr, &lp.addr().to_string(), 200);
    let text = std::fs::read_to_string(&setup.config).unwrap();
    std::fs::write(
        &setup.config,
        text.replace("mode = \"shared\"", &format!("mode = \"{mode}\"")),
    )
    .unwrap();
    let dout = out_file(dir, "daemon");
    let mut daemon = setup.start(&dout);
    let margs = manager_args(&setup, &cap.path, &dir.join("manager"), TRADES, pace);
    let mut manager = Proc::mam("manager", &margs, &out_file(dir, "manager"));
    let st = manager.wait();
    assert!(
        st.success(),
        "the manager did not get every order accepted ({st}):\n{}",
        manager.output()
    );
    wait_until("every quote journaled", || {
        assert!(
            daemon.try_wait().is_none(),
            "daemon died:\n{}",
            daemon.output()
        );
        let n = setup.market_records();
        if n > cap.quotes {
            panic!("{n} market records for {} quotes", cap.quotes);
        }
        n == cap.quotes
    });
    daemon.signal("-TERM");
    let st = daemon.wait();
    assert!(st.success(), "daemon exit {st}:\n{}", daemon.output());
    assert!(daemon.output().contains("stopped cleanly"));
    assert!(
        daemon.output().contains(&format!("{mode} mode")),
        "ran in {mode} mode"
    );
    drop(replay);
    Run {
        lp: lp_orders(lp.dir()),
        setup,
    }
}

#[test]
fn same_inputs_same_journal_and_state() {
    let dir = tempfile::tempdir().unwrap();
    eprintln!("working in {}", dir.path().display());
    let cap = convert_eurusd(dir.path(), HOURS);
    // Different pace and threading mode (one thread for every stage, or one thread each):
    // neither may change a byte.
    let a = run(&dir.path().join("a"), &cap, "max", "shared");
    let b = run(&dir.path().join("b"), &cap, "1200x", "dedicated");

    // First the records, decoded, with the market records' arrival stamps (recv_ns) masked:
    // a failure here is a different decision, not only a different stamp.
    let (da, db) = (a.setup.journal_dump(true), b.setup.journal_dump(true));
    assert!(da.len() as u64 > cap.quotes, "{} records", da.len());
    if let Some(i) = (0..da.len().max(db.len())).find(|&i| da.get(i) != db.get(i)) {
        panic!(
            "journals differ at record {}:\n  a: {:?}\n  b: {:?}",
            i + 1,
            da.get(i),
            db.get(i)
        );
    }
    let (sa, bytes_a) = a.setup.final_state();
    let (sb, bytes_b) = b.setup.final_state();
    assert_eq!(sa, sb, "state digest");
    assert!(bytes_a == bytes_b, "final engine state bytes differ");
    // The ledger: every account's money and positions, and the totals against the LP.
    let (st_a, st_b) = (a.setup.statement(), b.setup.statement());
    check_statement_totals(&st_a, &a.lp);
    check_statement_totals(&st_b, &b.lp);
    assert_eq!(
        st_a, st_b,
        "`mam accounts statement --json` of the two runs"
    );
    // The LP saw the same orders, each once.
    assert!(!a.lp.is_empty(), "the LP received no order");
    assert_eq!(
        a.lp.keys().collect::<Vec<_>>(),
        b.lp.keys().collect::<Vec<_>>()
    );
    for (id, o) in &a.lp {
        assert_eq!(o.seqs.len(), 1, "ClOrdID {id} sent twice");
        assert_eq!(o.fields, b.lp[id].fields, "ClOrdID {id}");
    }
    // Then the bytes, stamps included: docs/daemon.md promises the same journal byte for byte.
    let (ja, jb) = (a.setup.journal_files(), b.setup.journal_files());
    assert!(!ja.is_empty());
    assert_eq!(
        ja.keys().collect::<Vec<_>>(),
        jb.keys().collect::<Vec<_>>(),
        "journal segment files"
    );
    for (name, bytes) in &ja {
        // assert_eq! on 64 MiB would print them; say where they first differ instead.
        let other = &jb[name];
        let first_diff = bytes.iter().zip(other).position(|(x, y)| x != y);
        let unmasked = |d: &[String]| d.iter().position(|l| l.contains("recv_ns"));
        assert!(
            first_diff.is_none() && bytes.len() == other.len(),
            "journal {name} differs at byte {first_diff:?} (lengths {} and {}), though the \
             records are equal but for recv_ns: the arrival stamps differ, e.g. \n  a: {:?}\n  b: {:?}",
            bytes.len(),
            other.len(),
            unmasked(&da).and_then(|i| a.setup.journal_dump(false).get(i).cloned()),
            unmasked(&db).and_then(|i| b.setup.journal_dump(false).get(i).cloned()),
        );
    }
}
