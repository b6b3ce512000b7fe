//! The harness run for real: threads, rings, the engine stage with its journal on disk, files
//! written and read back. No timing is asserted (the machine is shared and noisy).

use mam_core::pipeline::ThreadingMode;
use mam_gateway::latency::read_hlog;

use super::*;

fn config(
    out: &std::path::Path,
    mode: ThreadingMode,
    accounts: usize,
    routing: Routing,
) -> InProcessConfig {
    InProcessConfig {
        accounts,
        routing,
        mode,
        rate: 200,
        quote_rate: 1_000,
        seconds: 0.3,
        warmup: 0.1,
        close_lag: super::CLOSE_LAG,
        out: out.to_path_buf(),
        pin: false,
        batch: 64,
        keep_journal: None,
        admin_poll_hz: None,
    }
}

#[test]
fn every_master_order_reaches_the_lp_edge_and_every_figure_is_written() {
    let out = tempfile::tempdir().unwrap();
    for (mode, routing, accounts) in [
        (ThreadingMode::Shared, Routing::Block, 100),
        (ThreadingMode::Dedicated, Routing::PerAccount, 50),
    ] {
        let r = run_in_process(&config(out.path(), mode, accounts, routing)).unwrap();
        assert!(
            r.masters_sent >= 2 && r.masters_sent.is_multiple_of(2),
            "{}",
            r.label
        );
        // Timing-free checks only: when a close overtakes its open's fill (a loaded machine
        // delays the LP edge by more than the 5 ms between them), the close sends nothing for
        // what has not filled yet and the late fill is closed on its own (tickets hold what
        // filled), so the counts of orders per master depend on timing, these do not.
        // Every open applied, and at least every close (late fills add closes of their own).
        assert_eq!(r.engine.opens, r.masters_sent / 2, "{}", r.label);
        assert!(r.engine.closes >= r.masters_sent / 2, "{}", r.label);
        assert_eq!(r.engine.refused, 0, "{}", r.label);
        assert_eq!(r.engine.risk_rejects, 0, "{}", r.label);
        let children = match routing {
            Routing::Block => 1,
            Routing::PerAccount => accounts as u64,
        };
        assert!(r.child_orders >= r.engine.opens * children, "{}", r.label);
        assert!(r.masters_complete > 0, "{}", r.label);
        // Every ticket ends flat, late fills included.
        assert_eq!(r.engine.tickets_flat, r.engine.opens, "{}", r.label);
        // Every order was filled, so the engine ends flat.
        assert_eq!(r.engine.fills, r.child_orders, "{}", r.label);
        assert_eq!(r.lost_samples, 0);
        for f in Figure::ALL {
            let s = r.figures.iter().find(|s| s.name == f.name()).unwrap();
            assert!(s.count > 0, "{} {}", r.label, s.name);
            assert!(s.p50 <= s.p99 && s.p99 <= s.max);
            let log = read_hlog(&s.hlog).unwrap();
            let merged = log.merged().unwrap();
            assert_eq!(merged.len(), s.count, "{} {}", r.label, s.name);
            assert!(log
                .intervals
                .iter()
                .all(|i| i.tag.as_deref() == Some(f.name())));
            let table = std::fs::read_to_string(&s.hgrm).unwrap();
            assert!(
                table.contains(&format!("Total count    = {:>12}", s.count)),
                "{table}"
            );
        }
        // The last child of a block master is also its first.
        if routing == Routing::Block {
            let get = |f: Figure| r.figures.iter().find(|s| s.name == f.name()).unwrap().count;
            assert_eq!(get(Figure::FirstChild), get(Figure::LastChild));
        }
    }
}

#[test]
fn kept_journal_holds_every_input() {
    let out = tempfile::tempdir().unwrap();
    let mut cfg = config(out.path(), ThreadingMode::Shared, 20, Routing::Block);
    cfg.keep_journal = Some(out.path().join("state"));
    let r = run_in_process(&cfg).unwrap();
    let dir = out.path().join("state").join(&r.label).join("journal");
    let reader = mam_core::journal::JournalReader::open(&dir).unwrap();
    assert_eq!(reader.report().last_seq(), Some(r.journal_records));
    // Every master (open or close) is an input; `engine.closes` also counts the closes the
    // engine makes of its own for fills that arrive after their ticket closed (timing).
    assert_eq!(
        r.engine.inputs,
        r.masters_sent + r.engine.fills + r.engine.market_events,
        "{:?}",
        r.engine
    );
}
