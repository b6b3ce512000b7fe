//! `mam accounts` through the real binary.

use std::path::Path;
use std::process::{Command, Output};

fn mam(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mam"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run mam")
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "mam failed: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn failed(o: &Output) -> String {
    assert!(!o.status.success(), "mam should have failed");
    String::from_utf8(o.stderr.clone()).unwrap()
}

const GOOD: &str = "id,balance,equity,margin_used,leverage,multiplier,percent,fixed_lots,risk_fraction,cluster,close_only,nickname,commission_per_lot,daily_loss_limit,margin_call_level,stop_out_level,currency,limit_action\n\
A1,10000,10250.5,120.25,500,1.5,40,0.1,0.01,3,0,alice,3.5,500,120,60.5,EUR,flatten\n\
B2,-12.000001,0,0,30,0.5,60,0,0,0,yes,bob,,,,,,\n\
C3,99999999.999999,1,0,100,1,0,2.5,1,7,no,carol,0.000001,0,0,80,USDT,close-only\n";

#[test]
fn import_show_export_round_trip() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("a.csv"), GOOD).unwrap();
    let o = mam(
        &["accounts", "import", "--store", "s.mams", "a.csv"],
        d.path(),
    );
    let text = ok(&o);
    assert!(text.contains("3 added"), "{text}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("nickname"),
        "unknown column warned about"
    );

    let js: serde_json::Value = serde_json::from_str(&ok(&mam(
        &["accounts", "show", "--store", "s.mams", "--json"],
        d.path(),
    )))
    .unwrap();
    assert_eq!(js["count"], 3);
    let b2 = &js["accounts"][1];
    assert_eq!(b2["id"], "B2");
    assert_eq!(b2["balance"], "-12.000001");
    assert_eq!(b2["close_only"], true);
    assert_eq!(b2["equity_hwm"], "0.0", "hwm defaults to equity");
    assert_eq!(js["accounts"][0]["multiplier"], "1.5");
    assert_eq!(js["accounts"][2]["balance"], "99999999.999999");
    let a1 = &js["accounts"][0];
    assert_eq!(a1["commission_per_lot"], "3.5");
    assert_eq!(a1["daily_loss_limit"], "500.0");
    assert_eq!(a1["margin_call_level"], "120.0");
    assert_eq!(a1["stop_out_level"], "60.5");
    assert_eq!(a1["currency"], "EUR");
    assert_eq!(a1["limit_action"], "flatten");
    assert_eq!(a1["flags"], 5);
    assert_eq!(a1["limit_close_only_held"], false);
    assert_eq!(b2["currency"], "USD", "currency defaults to USD");
    assert_eq!(b2["limit_action"], "close-only");
    assert_eq!(b2["commission_per_lot"], "0.0");
    assert_eq!(js["accounts"][2]["currency"], "USDT");
    assert_eq!(js["accounts"][2]["commission_per_lot"], "0.000001");

    let one = ok(&mam(
        &["accounts", "show", "--store", "s.mams", "--id", "C3"],
        d.path(),
    ));
    assert!(one.contains("C3") && !one.contains("A1"), "{one}");
    assert!(one.contains("USDT") && one.contains("0.000001"), "{one}");
    let all = ok(&mam(&["accounts", "show", "--store", "s.mams"], d.path()));
    let a1_line = all.lines().find(|l| l.starts_with("A1 ")).unwrap();
    assert!(a1_line.contains(" AF ") && a1_line.contains("EUR"), "{all}");
    failed(&mam(
        &["accounts", "show", "--store", "s.mams", "--id", "ZZ"],
        d.path(),
    ));

    // export -> import -> export is the identity, and so is the store content.
    ok(&mam(
        &["accounts", "export", "--store", "s.mams", "--out", "e1.csv"],
        d.path(),
    ));
    ok(&mam(
        &["accounts", "import", "--store", "t.mams", "e1.csv"],
        d.path(),
    ));
    let e2 = ok(&mam(&["accounts", "export", "--store", "t.mams"], d.path()));
    let e1 = std::fs::read_to_string(d.path().join("e1.csv")).unwrap();
    assert_eq!(e1, e2);
    assert_eq!(
        e1.lines().next().unwrap(),
        "id,balance,equity,margin_used,equity_hwm,leverage,multiplier,percent,fixed_lots,\
         risk_fraction,drawdown_tolerance,min_scale,max_scale,cluster,flags,commission_per_lot,\
         daily_loss_limit,margin_call_level,stop_out_level,currency,limit_action,manager"
    );
    // Import -> export -> import: the two stores are the same bytes (same capacity and seq).
    assert_eq!(
        std::fs::read(d.path().join("s.mams")).unwrap(),
        std::fs::read(d.path().join("t.mams")).unwrap()
    );
    let show = |s: &str| {
        let mut v: serde_json::Value = serde_json::from_str(&ok(&mam(
            &["accounts", "show", "--store", s, "--json"],
            d.path(),
        )))
        .unwrap();
        v["store"] = serde_json::Value::Null;
        v
    };
    assert_eq!(show("s.mams"), show("t.mams"));
}

#[test]
fn bad_csv_leaves_the_store_byte_for_byte_untouched() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("a.csv"), GOOD).unwrap();
    ok(&mam(
        &["accounts", "import", "--store", "s.mams", "a.csv"],
        d.path(),
    ));
    let before = std::fs::read(d.path().join("s.mams")).unwrap();
    let bad = [
        (
            "id,balance,equity\nX1,1,1\nX2,1.0000001,1\n",
            "line 3, column `balance`",
        ),
        (
            "id,balance,equity\nX1,1,1\nX1,2,2\n",
            "line 3, column `id`: duplicate id `X1` (first on line 2)",
        ),
        (
            "id,balance,equity,percent\nX1,1,1,100.5\n",
            "line 2, column `percent`",
        ),
        (
            "id,balance\nX1,1\n",
            "column `equity`: required column missing",
        ),
        ("id,balance,equity\nX1,1,1\nX2,2\n", "line 3"),
        (
            "id,balance,equity\nTHIS-ID-IS-WAY-TOO-LONG,1,1\n",
            "line 2, column `id`",
        ),
        (
            "id,balance,equity,leverage\nX1,1,1,0\n",
            "line 2, column `leverage`",
        ),
        (
            "id,balance,equity,commission_per_lot\nX1,1,1,0\nX2,1,1,0.1234567\n",
            "line 3, column `commission_per_lot`",
        ),
        (
            "id,balance,equity,commission_per_lot\nX1,1,1,-1\n",
            "line 2, column `commission_per_lot`: -1.0 is negative",
        ),
        (
            "id,balance,equity,daily_loss_limit\nX1,1,1,-0.5\n",
            "line 2, column `daily_loss_limit`: -0.5 is negative",
        ),
        (
            "id,balance,equity,margin_call_level\nX1,1,1,-100\n",
            "line 2, column `margin_call_level`",
        ),
        (
            "id,balance,equity,margin_call_level,stop_out_level\nX1,1,1,50,100\n",
            "line 2, column `stop_out_level`: 100.0 is above margin_call_level 50.0",
        ),
        (
            "id,balance,equity,currency\nX1,1,1,Eur\n",
            "line 2, column `currency`: `Eur` is not a currency code",
        ),
        (
            "id,balance,equity,limit_action\nX1,1,1,liquidate\n",
            "line 2, column `limit_action`: `liquidate` is not a limit action",
        ),
        (
            "id,balance,equity,flags\nX1,1,1,9\n",
            "line 2, column `flags`: 9 has bit 8",
        ),
    ];
    for (csv, want) in bad {
        std::fs::write(d.path().join("bad.csv"), csv).unwrap();
        let err = failed(&mam(
            &["accounts", "import", "--store", "s.mams", "bad.csv"],
            d.path(),
        ));
        assert!(err.contains(want), "{csv}: stderr was {err}");
        assert_eq!(
            std::fs::read(d.path().join("s.mams")).unwrap(),
            before,
            "{csv}"
        );
    }
    // A bad CSV into a store that does not exist yet creates nothing.
    let e = failed(&mam(
        &["accounts", "import", "--store", "new.mams", "bad.csv"],
        d.path(),
    ));
    assert!(e.contains("line 2"));
    assert!(!d.path().join("new.mams").exists());
}

#[test]
fn import_merges_by_id_and_grows() {
    let d = tempfile::tempdir().unwrap();
    ok(&mam(
        &["accounts", "init", "--store", "s.mams", "--capacity", "2"],
        d.path(),
    ));
    failed(&mam(&["accounts", "init", "--store", "s.mams"], d.path()));
    std::fs::write(d.path().join("a.csv"), GOOD).unwrap();
    ok(&mam(
        &["accounts", "import", "--store", "s.mams", "a.csv"],
        d.path(),
    ));
    let mut csv = String::from("id,balance,equity\nA1,5,6\n");
    for i in 0..3000 {
        csv.push_str(&format!("N{i},{i}.5,{i}\n"));
    }
    std::fs::write(d.path().join("more.csv"), csv).unwrap();
    let out = ok(&mam(
        &["accounts", "import", "--store", "s.mams", "more.csv"],
        d.path(),
    ));
    assert!(out.contains("3000 added, 1 updated"), "{out}");
    let js: serde_json::Value = serde_json::from_str(&ok(&mam(
        &["accounts", "show", "--store", "s.mams", "--json"],
        d.path(),
    )))
    .unwrap();
    assert_eq!(js["count"], 3003);
    assert!(js["capacity"].as_u64().unwrap() >= 3003);
    assert_eq!(js["accounts"][0]["balance"], "5.0");
    assert_eq!(
        js["accounts"][0]["leverage"], 100,
        "an updated row takes the CSV's defaults"
    );
    assert_eq!(js["accounts"][3002]["id"], "N2999");
    let replaced = ok(&mam(
        &[
            "accounts",
            "import",
            "--replace",
            "--store",
            "s.mams",
            "a.csv",
        ],
        d.path(),
    ));
    assert!(replaced.contains(": 3 accounts"), "{replaced}");
}

#[test]
fn corrupt_store_is_refused_with_the_reason() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("a.csv"), GOOD).unwrap();
    ok(&mam(
        &["accounts", "import", "--store", "s.mams", "a.csv"],
        d.path(),
    ));
    let good = std::fs::read(d.path().join("s.mams")).unwrap();
    type Damage = fn(&mut Vec<u8>);
    let cases: [(&str, Damage); 6] = [
        ("bad magic", |b| b[1] = b'X'),
        ("layout version 7", |b| b[8] = 7),
        (
            "layout version 1, this build reads version 2: export the accounts to CSV",
            |b| b[8] = 1,
        ),
        ("checksum mismatch", |b| b[130] ^= 1), // inside the first id
        ("shorter than the 128-byte store header", |b| b.truncate(50)),
        ("needs exactly", |b| b.truncate(b.len() - 8)),
    ];
    for (want, damage) in cases {
        let mut b = good.clone();
        damage(&mut b);
        std::fs::write(d.path().join("s.mams"), &b).unwrap();
        for cmd in ["show", "export"] {
            let e = failed(&mam(&["accounts", cmd, "--store", "s.mams"], d.path()));
            assert!(e.contains(want), "{want}: {e}");
        }
        let e = failed(&mam(
            &["accounts", "import", "--store", "s.mams", "a.csv"],
            d.path(),
        ));
        assert!(e.contains(want), "import over a corrupt store: {e}");
        assert_eq!(
            std::fs::read(d.path().join("s.mams")).unwrap(),
            b,
            "left as it was"
        );
    }
}

#[test]
fn export_onto_its_own_store_is_refused_and_the_store_kept() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("a.csv"), GOOD).unwrap();
    ok(&mam(
        &["accounts", "import", "--store", "s.mams", "a.csv"],
        d.path(),
    ));
    let before = std::fs::read(d.path().join("s.mams")).unwrap();
    std::fs::hard_link(d.path().join("s.mams"), d.path().join("link.mams")).unwrap();
    for out in ["s.mams", "./s.mams", "link.mams"] {
        let o = mam(
            &["accounts", "export", "--store", "s.mams", "--out", out],
            d.path(),
        );
        assert_eq!(o.status.code(), Some(2), "--out {out}");
        let err = failed(&o);
        assert!(
            err.contains(&format!("--out {out}"))
                && err.contains("same file as the --store s.mams"),
            "{err}"
        );
        assert_eq!(
            std::fs::read(d.path().join("s.mams")).unwrap(),
            before,
            "store untouched"
        );
    }
    ok(&mam(&["accounts", "show", "--store", "s.mams"], d.path()));
}

#[test]
fn export_goes_through_a_temporary_file() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("out.csv"), "precious\n").unwrap();
    std::fs::write(d.path().join("bad.mams"), b"not a store").unwrap();
    let o = mam(
        &[
            "accounts", "export", "--store", "bad.mams", "--out", "out.csv",
        ],
        d.path(),
    );
    failed(&o);
    // A good export goes through a temporary file and leaves nothing else behind.
    std::fs::write(d.path().join("a.csv"), GOOD).unwrap();
    ok(&mam(
        &["accounts", "import", "--store", "s.mams", "a.csv"],
        d.path(),
    ));
    assert_eq!(
        std::fs::read_to_string(d.path().join("out.csv")).unwrap(),
        "precious\n"
    );
    ok(&mam(
        &[
            "accounts", "export", "--store", "s.mams", "--out", "out.csv",
        ],
        d.path(),
    ));
    let text = std::fs::read_to_string(d.path().join("out.csv")).unwrap();
    assert!(text.starts_with("id,balance,equity"), "{text}");
    let mut names: Vec<String> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["a.csv", "bad.mams", "out.csv", "s.mams"]);
}

#[test]
fn import_reads_within_a_limit() {
    let d = tempfile::tempdir().unwrap();
    // A device that never ends: refused after the first over-long line, not read for ever.
    let t = std::time::Instant::now();
    let o = mam(
        &["accounts", "import", "--store", "x.mams", "/dev/zero"],
        d.path(),
    );
    let err = failed(&o);
    assert!(
        err.contains("/dev/zero") && err.contains("1048576 bytes (1 MiB)"),
        "{err}"
    );
    assert!(t.elapsed() < std::time::Duration::from_secs(20));
    assert!(!d.path().join("x.mams").exists(), "no store created");
    // A file past 1 GiB (sparse: no disk used) is refused from its size.
    let big = d.path().join("big.csv");
    std::fs::File::create(&big)
        .unwrap()
        .set_len((1 << 30) + 1)
        .unwrap();
    let err = failed(&mam(
        &["accounts", "import", "--store", "x.mams", "big.csv"],
        d.path(),
    ));
    assert!(
        err.contains("big.csv") && err.contains("1073741824 bytes (1 GiB)"),
        "{err}"
    );
}

/// Issue #10: an output is refused when it is an input under another name (a hard link, a
/// symlink, `./`), and an import whose CSV is its store is refused; the store is kept byte for
/// byte every time.
#[test]
fn outputs_that_are_inputs_under_other_names_are_refused() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("a.csv"), GOOD).unwrap();
    ok(&mam(
        &["accounts", "import", "--store", "s.mams", "a.csv"],
        d.path(),
    ));
    std::fs::hard_link(d.path().join("s.mams"), d.path().join("hard.mams")).unwrap();
    std::os::unix::fs::symlink(d.path().join("s.mams"), d.path().join("sym.mams")).unwrap();
    let before = std::fs::read(d.path().join("s.mams")).unwrap();
    for out in ["hard.mams", "sym.mams", "./s.mams"] {
        let err = failed(&mam(
            &["accounts", "export", "--store", "s.mams", "--out", out],
            d.path(),
        ));
        assert!(err.contains("same file"), "{out}: {err}");
        assert!(
            std::fs::read(d.path().join("s.mams")).unwrap() == before,
            "{out}"
        );
    }
    let err = failed(&mam(
        &["accounts", "import", "--store", "s.mams", "hard.mams"],
        d.path(),
    ));
    assert!(err.contains("same file as --store"), "{err}");
    assert!(std::fs::read(d.path().join("s.mams")).unwrap() == before);
    let leftovers: Vec<_> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
