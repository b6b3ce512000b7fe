//! The LP unreachable (issue #10): the daemon runs, takes master orders and keeps their
//! children for the LP, and says the LP is down — a WARN naming the address, repeated at 1, 2,
//! 4, 8, ... failed attempts (not every retry), and `lp-connect-failures` on the stats line —
//! rather than acknowledging orders with nothing in the log. Needs nothing but the binary.

use mam_tests::daemon::{out_file, wait_until, Proc};
use mam_tests::manager::Manager;
use mam_tests::quickfix::free_port;

#[test]
fn an_unreachable_lp_is_warned_about_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (lp_port, mgr_port) = (free_port().unwrap(), free_port().unwrap());
    let config = d.join("mam.toml");
    std::fs::write(
        &config,
        format!(
            "state = \"{}\"\nstats_interval = \"200ms\"\n[accounts]\ngenerate = 3\nseed = 1\n\
             [pipeline]\nmode = \"shared\"\npin = false\n[feed]\nsource = \"none\"\n\
             [manager]\nlisten = \"127.0.0.1:{mgr_port}\"\n\
             [lp]\nconnect = \"127.0.0.1:{lp_port}\"\ncomp_id = \"MAM\"\npeer_comp_id = \"EXECUTOR\"\n",
            d.join("state").display()
        ),
    )
    .unwrap();
    let log = out_file(d, "daemon");
    let args = vec![
        "run".to_string(),
        "--config".into(),
        config.display().to_string(),
    ];
    let mut daemon = Proc::mam("daemon", &args, &log);
    let lp = format!("127.0.0.1:{lp_port}");
    daemon.wait_line(0, "a WARN that the LP is unreachable", |l| {
        l.contains("WARN") && l.contains("peer unreachable") && l.contains(&lp)
    });
    // A master is still taken; its children wait for the LP.
    let mut mgr = Manager::connect(
        format!("127.0.0.1:{mgr_port}").parse().unwrap(),
        &d.join("manager"),
    );
    mgr.open_clock("20190204-14:00:00");
    mgr.buy_one_lot("1", 1, false);
    let counter = |out: &str, name: &str| {
        out.lines()
            .rev()
            .find_map(|l| l.split(&format!("{name} ")).nth(1))
            .and_then(|v| {
                v.split_whitespace()
                    .next()?
                    .trim_end_matches(',')
                    .parse::<u64>()
                    .ok()
            })
            .unwrap_or(0)
    };
    wait_until("lp-connect-failures on the stats line", || {
        mgr.turn();
        let out = daemon.output();
        counter(&out, "lp-connect-failures") >= 3 && counter(&out, "masters-accepted") == 1
    });
    let out = daemon.output();
    let warns = out
        .lines()
        .filter(|l| l.contains("peer unreachable"))
        .count() as u64;
    let failures = counter(&out, "lp-connect-failures");
    assert!(
        warns < failures,
        "not one WARN per retry: {warns} WARNs for {failures} failures"
    );
    daemon.signal("-TERM");
    assert!(daemon.wait().success(), "{}", daemon.output());
}
