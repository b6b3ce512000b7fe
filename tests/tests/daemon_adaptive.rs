//! The adaptive layer in the daemon, end to end: a model trained by `mam train` on the 2018
//! EURUSD bars (walk-forward: the replayed day is 2019-02-04), `engine.allocation =
//! "adaptive"`, three hours of the shared Dukascopy EURUSD day replayed over SoupBinTCP, a
//! seeded manager over FIX, QuickFIX's executor as the LP. Checked:
//! - every master open is explained in the journal: one AdaptiveTicket (kind 38) and an
//!   AdaptiveAccount (kind 39) per account with a static share, whose sizes sum to the
//!   block, each inside the account's `[min_scale, max_scale]`;
//! - the factors moved with the real quotes (the volatility factor is not 1 everywhere);
//! - `mam explain --state --ticket` prints every account of a ticket with its factors;
//! - two runs at different pace and threading give the same journal (stamps masked) and the
//!   same state: the factors are a deterministic function of the journaled quotes.
//!
//! Needs the shared data (Dukascopy day, HistData 2018) and QuickFIX; fails saying so.

use std::path::Path;

use mam_core::adaptive::step_bounds;
use mam_core::engine::Decision;
use mam_tests::daemon::{
    convert_eurusd, mam, manager_args, out_file, start_lp, wait_until, Capture, DaemonSetup, Proc,
    Replay,
};

const HOURS: std::ops::Range<u32> = 7..10;
const TRADES: usize = 40;

fn train(dir: &Path) -> std::path::PathBuf {
    let bars = mam_tests::shared_data().join("histdata");
    let model = dir.join("model.toml");
    mam(&[
        "train",
        "--bars",
        bars.to_str().unwrap(),
        "--symbols",
        "EURUSD",
        "--from",
        "2018-07-01",
        "--to",
        "2018-11-01",
        "--test-to",
        "2019-01-01",
        "--out",
        model.to_str().unwrap(),
    ]);
    model
}

fn run(dir: &Path, cap: &Capture, model: &Path, pace: &str, mode: &str) -> DaemonSetup {
    std::fs::create_dir_all(dir).unwrap();
    let replay = Replay::start(&cap.path, &out_file(dir, "replay"));
    let lp = start_lp(&dir.join("executor"));
    let setup = DaemonSetup::write(dir, &replay.addr, &lp.addr().to_string(), 150);
    let text = std::fs::read_to_string(&setup.config).unwrap();
    std::fs::write(
        &setup.config,
        text.replace("mode = \"shared\"", &format!("mode = \"{mode}\"")),
    )
    .unwrap();
    setup.append_config(&format!(
        "[engine]\nallocation = \"adaptive\"\nadaptive_model = \"{}\"\n",
        model.display()
    ));
    let mut daemon = setup.start(&out_file(dir, "daemon"));
    let margs = manager_args(&setup, &cap.path, &dir.join("manager"), TRADES, pace);
    let mut manager = Proc::mam("manager", &margs, &out_file(dir, "manager"));
    let st = manager.wait();
    assert!(st.success(), "manager ({st}):\n{}", manager.output());
    wait_until("every quote journaled", || {
        assert!(
            daemon.try_wait().is_none(),
            "daemon died:\n{}",
            daemon.output()
        );
        setup.market_records() == cap.quotes
    });
    daemon.signal("-TERM");
    let st = daemon.wait();
    assert!(st.success(), "daemon exit {st}:\n{}", daemon.output());
    drop(replay);
    drop(lp);
    setup
}

#[test]
fn adaptive_allocations_are_explained_bounded_and_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let model = train(dir.path());
    let cap = convert_eurusd(dir.path(), HOURS);
    let a = run(&dir.path().join("a"), &cap, &model, "max", "shared");

    let recs = a.journal_records();
    let (_, state_a) = a.final_state();
    let mut heads = Vec::new();
    let mut accounts = Vec::new();
    let mut blocks = Vec::new();
    for (_, kind, payload) in &recs {
        match Decision::decode(*kind, payload) {
            Some(Decision::AdaptiveTicket(t)) => heads.push(t),
            Some(Decision::AdaptiveAccount(x)) => accounts.push(x),
            Some(Decision::Order(o)) if o.account == u32::MAX && o.master_ticket != u64::MAX => {
                blocks.push(o)
            }
            _ => {}
        }
    }
    assert!(heads.len() >= 5, "{} adaptive masters", heads.len());
    assert!(
        heads.iter().any(|h| h.vol != 1 << 32),
        "the volatility factor never moved off 1"
    );
    assert!(
        heads.iter().all(|h| h.sigma > 0),
        "every master saw a forecast"
    );
    let cp = mam_core::engine::read_checkpoint(&a.state.join("checkpoints")).unwrap();
    for h in &heads {
        let mine: Vec<_> = accounts
            .iter()
            .filter(|x| x.ticket == h.ticket && x.static_steps > 0)
            .collect();
        assert!(!mine.is_empty());
        for x in &mine {
            let i = x.account as usize;
            let (lo, hi) = step_bounds(
                x.static_steps,
                cp.accounts.min_scale[i],
                cp.accounts.max_scale[i],
            );
            assert!(
                (x.steps >= lo && x.steps <= hi) || x.flags & 4 != 0,
                "ticket {} account {i}: {} outside [{lo}, {hi}]",
                h.ticket,
                x.steps
            );
        }
    }
    // A ticket's explanation through the CLI.
    let t = heads[0].ticket;
    let text = mam(&[
        "explain",
        "--state",
        a.state.to_str().unwrap(),
        "--ticket",
        &t.to_string(),
    ]);
    assert!(
        text.contains(&format!("ticket {t}")) && text.contains("scale"),
        "{text}"
    );
    let rows = text.lines().filter(|l| l.starts_with("INV")).count();
    let expect = accounts.iter().filter(|x| x.ticket == t).count();
    assert!(
        rows >= expect.min(1),
        "{rows} rows for {expect} accounts:\n{text}"
    );
    assert!(!blocks.is_empty() || accounts.iter().any(|x| x.steps > 0));

    // Another pace and threading mode: the same decisions, the same state.
    let b = run(&dir.path().join("b"), &cap, &model, "1200x", "dedicated");
    let (da, db) = (a.journal_dump(true), b.journal_dump(true));
    if let Some(i) = (0..da.len().max(db.len())).find(|&i| da.get(i) != db.get(i)) {
        panic!(
            "journals differ at record {}:\n a: {:?}\n b: {:?}",
            i + 1,
            da.get(i),
            db.get(i)
        );
    }
    let (_, state_b) = b.final_state();
    assert!(state_a == state_b, "final engine state differs");
}
