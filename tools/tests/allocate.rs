//! `mam allocate` against its contract, on a generated 10,000-account CSV, for every model.
//!
//! The expected sizes of the per-account models are recomputed here independently with
//! integer arithmetic; the proportional models are checked for their identities.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const N: usize = 10_000;

/// One generated account: (id, balance, equity, margin, multiplier, percent, fixed, risk, flags),
/// money and ratios in their raw scaled integers.
#[derive(Clone, Copy)]
struct Acct {
    balance: i64,
    equity: i64,
    margin: i64,
    mult: i64,
    fixed: i64,
    risk: i64,
    flags: u16,
}

fn lcg(s: &mut u64) -> u64 {
    *s = s
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *s >> 33
}

fn money(raw: i64) -> String {
    let sign = if raw < 0 { "-" } else { "" };
    let a = raw.unsigned_abs();
    format!("{sign}{}.{:06}", a / 1_000_000, a % 1_000_000)
}

fn ratio(raw: i64) -> String {
    format!("{}.{:06}", raw / 1_000_000, raw % 1_000_000)
}

/// Writes the CSV and returns the accounts in file order.
fn generate(dir: &Path) -> (PathBuf, Vec<Acct>) {
    let mut s = 42u64;
    let mut csv = String::from(
        "id,balance,equity,margin_used,multiplier,percent,fixed_lots,risk_fraction,flags\n",
    );
    let mut v = Vec::with_capacity(N);
    for i in 0..N {
        // Balances 100.00 .. 1,000,000.00 with micro-unit noise; every 7th account shares
        // the same equity so the tie-break is exercised.
        let balance =
            (10_000 + (lcg(&mut s) % 100_000_000) as i64) * 10_000 + (lcg(&mut s) % 10_000) as i64;
        let equity = if i % 7 == 0 {
            5_000_000_000
        } else {
            balance + (lcg(&mut s) % 2_000_000_000) as i64 - 1_000_000_000
        };
        let margin = (lcg(&mut s) % 3_000_000_000) as i64;
        let mult = (lcg(&mut s) % 3_000_000) as i64; // 0 .. 3
        let fixed = (lcg(&mut s) % 20_000) as i64; // 0 .. 2 lots, 4 decimals
        let risk = (lcg(&mut s) % 30_000) as i64; // 0 .. 3 %
        let flags = match i % 50 {
            0 => 0, // inactive
            1 => 3, // close-only
            _ => 1,
        };
        csv.push_str(&format!(
            "A{i},{},{},{},{},{},{}.{:04},{},{flags}\n",
            money(balance),
            money(equity),
            money(margin),
            ratio(mult),
            "0.005", // 10,000 × 0.005 % = 50 % (48 % eligible)
            fixed / 10_000,
            fixed % 10_000,
            ratio(risk),
        ));
        v.push(Acct {
            balance,
            equity,
            margin,
            mult,
            fixed,
            risk,
            flags,
        });
    }
    let path = dir.join("accounts.csv");
    std::fs::write(&path, csv).unwrap();
    (path, v)
}

fn mam(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mam"))
        .args(args)
        .output()
        .expect("run mam")
}

/// Lots "x.yy" as steps of 0.01, checking the format: exactly two decimals.
fn steps(s: &str) -> i64 {
    let (neg, body) = s.strip_prefix('-').map_or((false, s), |b| (true, b));
    let (int, frac) = body
        .split_once('.')
        .unwrap_or_else(|| panic!("no decimals in {s}"));
    assert_eq!(frac.len(), 2, "lots {s} must have exactly 2 decimals");
    let v = int.parse::<i64>().unwrap() * 100 + frac.parse::<i64>().unwrap();
    if neg {
        -v
    } else {
        v
    }
}

/// Runs one allocation with --json and checks the contract; returns (requested, allocated,
/// unallocated, per-account steps).
fn run_json(csv: &Path, extra: &[&str]) -> (i64, i64, i64, Vec<i64>, Value) {
    let csv = csv.to_str().unwrap();
    let mut args = vec![
        "allocate",
        "--accounts",
        csv,
        "--symbol",
        "EURUSD",
        "--side",
        "buy",
        "--lots",
        "1.37",
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = mam(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "mam {args:?} failed: {stderr}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.trim_end().lines().count(), 1, "exactly one JSON line");
    let v: Value = serde_json::from_str(&text).expect("stdout is one JSON object");
    let obj = v.as_object().expect("an object");
    let keys: Vec<&str> = obj.keys().map(|k| k.as_str()).collect();
    for k in [
        "symbol",
        "side",
        "model",
        "requested_lots",
        "allocated_lots",
        "unallocated_lots",
        "allocations",
    ] {
        assert!(keys.contains(&k), "missing key {k}");
    }
    assert_eq!(v["symbol"], "EURUSD");
    assert_eq!(v["side"], "buy");
    let allocs = v["allocations"].as_array().unwrap();
    assert_eq!(allocs.len(), N, "every account is listed");
    let mut each = Vec::with_capacity(N);
    for (i, a) in allocs.iter().enumerate() {
        assert_eq!(a["account"], format!("A{i}"), "file order");
        let s = steps(a["lots"].as_str().unwrap());
        assert!(
            s == 0 || (1..=10_000).contains(&s),
            "A{i}: {s} steps outside min/max lot"
        );
        each.push(s);
    }
    let requested = steps(v["requested_lots"].as_str().unwrap());
    let allocated = steps(v["allocated_lots"].as_str().unwrap());
    let unallocated = steps(v["unallocated_lots"].as_str().unwrap());
    assert_eq!(requested, 137);
    assert_eq!(
        each.iter().sum::<i64>(),
        allocated,
        "Σ allocations = allocated_lots"
    );
    (requested, allocated, unallocated, each, v)
}

fn eligible(a: &Acct) -> bool {
    a.flags == 1
}

fn half_even(n: i128, d: i128) -> i128 {
    let (q, r) = (n / d, n % d);
    match (2 * r).cmp(&d) {
        std::cmp::Ordering::Less => q,
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal => q + (q % 2),
    }
}

#[test]
fn proportional_models_keep_the_identity() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, accts) = generate(dir.path());
    for (model, weight) in [
        (
            "equity",
            Box::new(|a: &Acct| a.equity.max(0)) as Box<dyn Fn(&Acct) -> i64>,
        ),
        ("balance", Box::new(|a: &Acct| a.balance.max(0))),
        (
            "free-margin",
            Box::new(|a: &Acct| (a.equity - a.margin).max(0)),
        ),
    ] {
        let (req, alloc, unalloc, each, v) = run_json(&csv, &["--model", model]);
        assert_eq!(v["model"], model);
        assert_eq!(
            (alloc, unalloc),
            (req, 0),
            "{model}: block mode allocates the master"
        );
        let total: i128 = accts
            .iter()
            .filter(|a| eligible(a))
            .map(|a| i128::from(weight(a)))
            .sum();
        for (i, a) in accts.iter().enumerate() {
            if !eligible(a) {
                assert_eq!(each[i], 0, "{model}: A{i} is not eligible");
                continue;
            }
            // Largest remainder: floor of the exact quota, or one more.
            let floor = (137 * i128::from(weight(a)) / total) as i64;
            assert!(
                each[i] == floor || each[i] == floor + 1,
                "{model}: A{i} {} vs {floor}",
                each[i]
            );
        }
    }
    // percent: 9,600 eligible accounts × 0.005 % = 48 % of 137 steps (65.76); the rest, with
    // the inactive and close-only accounts' shares, stays unallocated.
    let (req, alloc, unalloc, each, _) = run_json(&csv, &["--model", "percent"]);
    assert_eq!(alloc + unalloc, req);
    assert!(
        (65..=66).contains(&alloc),
        "48 % of 137 = 65.76 steps, got {alloc}"
    );
    assert!(each.iter().all(|&s| s <= 1));
    // per-account mode keeps the identity too.
    let (req, alloc, unalloc, _, _) =
        run_json(&csv, &["--model", "equity", "--mode", "per-account"]);
    assert_eq!(alloc + unalloc, req);
}

#[test]
fn per_account_models_follow_their_rules() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, accts) = generate(dir.path());
    let (_, _, _, each, _) = run_json(&csv, &["--model", "multiplier"]);
    for (i, a) in accts.iter().enumerate() {
        // 1.37 lots × multiplier, in 0.01 steps, nearest with ties to even, max 100 lots.
        let want = if eligible(a) {
            half_even(137 * i128::from(a.mult), 1_000_000).min(10_000) as i64
        } else {
            0
        };
        assert_eq!(each[i], want, "multiplier A{i}");
    }
    let (_, _, _, each, _) = run_json(&csv, &["--model", "fixed"]);
    for (i, a) in accts.iter().enumerate() {
        let want = if eligible(a) {
            half_even(i128::from(a.fixed), 100) as i64
        } else {
            0
        };
        assert_eq!(each[i], want, "fixed A{i}");
    }
    let (_, alloc, unalloc, each, v) = run_json(&csv, &["--model", "risk", "--sl-pips", "25"]);
    assert_eq!(v["model"], "risk");
    for (i, a) in accts.iter().enumerate() {
        // equity × risk / (25 pips × 0.0001 × 100,000 units × 0.01 lot) = $2.50 per step.
        let want = if eligible(a) {
            let risk_micro = i128::from(a.equity.max(0)) * i128::from(a.risk) / 1_000_000;
            ((risk_micro / 2_500_000) as i64).min(10_000)
        } else {
            0
        };
        assert_eq!(each[i], want, "risk A{i}");
    }
    assert!(unalloc >= 0 && alloc > 0);
}

#[test]
fn min_lot_policies_and_modes() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, _) = generate(dir.path());
    let sym = dir.path().join("symbols.toml");
    // A broker with a 0.10 min lot and 0.01 step: most quotas are untradable.
    std::fs::write(&sym, "[symbols.EURUSD]\nmin_lot = \"0.1\"\n").unwrap();
    let sym = sym.to_str().unwrap();
    for policy in ["zero", "round-up"] {
        let (req, alloc, unalloc, each, _) = run_json(
            &csv,
            &[
                "--model",
                "equity",
                "--symbols",
                sym,
                "--min-lot-policy",
                policy,
            ],
        );
        assert_eq!((alloc, unalloc), (req, 0), "block {policy}");
        assert!(
            each.iter().all(|&s| s == 0 || s >= 10),
            "never an untradable size ({policy})"
        );
        let (req, alloc, unalloc, each, _) = run_json(
            &csv,
            &[
                "--model",
                "balance",
                "--symbols",
                sym,
                "--min-lot-policy",
                policy,
                "--mode",
                "per-account",
            ],
        );
        assert_eq!(alloc + unalloc, req, "per-account {policy}");
        assert!(each.iter().all(|&s| s == 0 || s >= 10));
    }
}

#[test]
fn deterministic_and_rotating() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, _) = generate(dir.path());
    let c = csv.to_str().unwrap();
    let args = |rot: &'static str| {
        vec![
            "allocate",
            "--accounts",
            c,
            "--symbol",
            "EURUSD",
            "--side",
            "sell",
            "--lots",
            "0.50",
            "--model",
            "percent",
            "--json",
            "--rotation",
            rot,
        ]
    };
    let a = mam(&args("0"));
    let b = mam(&args("0"));
    assert!(a.status.success());
    assert_eq!(a.stdout, b.stdout, "same input, same output");
    // All eligible percents are equal: every leftover step is a tie, so the rotation moves them.
    let c2 = mam(&args("5000"));
    assert_ne!(
        a.stdout, c2.stdout,
        "the rotation cursor moves the tie-break"
    );
}

#[test]
fn table_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, _) = generate(dir.path());
    let c = csv.to_str().unwrap();
    let base = [
        "allocate",
        "--accounts",
        c,
        "--symbol",
        "EURUSD",
        "--side",
        "buy",
    ];
    let out = mam(&[&base[..], &["--lots", "1.37", "--model", "equity"]].concat());
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("allocated 1.37, unallocated 0.00"), "{text}");

    let fails = |extra: &[&str], needle: &str| {
        let out = mam(&[&base[..], extra].concat());
        assert!(!out.status.success(), "{extra:?} should fail");
        assert!(out.stdout.is_empty(), "{extra:?}: nothing on stdout");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(needle),
            "{extra:?}: stderr `{err}` lacks `{needle}`"
        );
    };
    fails(
        &["--lots", "1.37", "--model", "risk", "--json"],
        "--sl-pips",
    );
    fails(
        &["--lots", "1.375", "--model", "equity", "--json"],
        "multiple of the lot step",
    );
    fails(&["--lots=-1", "--model", "equity"], "positive");
    let out = mam(&[
        "allocate",
        "--accounts",
        c,
        "--symbol",
        "NOPE",
        "--side",
        "buy",
        "--lots",
        "1",
        "--model",
        "equity",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("NOPE"));
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "id,balance,equity\nX1,100,100\nX2,abc,100\n").unwrap();
    let out = mam(&[
        "allocate",
        "--accounts",
        bad.to_str().unwrap(),
        "--symbol",
        "EURUSD",
        "--side",
        "buy",
        "--lots",
        "1",
        "--model",
        "equity",
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("line 3"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every account inactive: block mode cannot place the master and says so.
    let idle = dir.path().join("idle.csv");
    std::fs::write(&idle, "id,balance,equity,flags\nX1,100,100,0\n").unwrap();
    let out = mam(&[
        "allocate",
        "--accounts",
        idle.to_str().unwrap(),
        "--symbol",
        "EURUSD",
        "--side",
        "buy",
        "--lots",
        "1",
        "--model",
        "equity",
        "--json",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be placed"));
}

#[test]
fn store_file_gives_the_same_allocation_as_its_csv() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, _) = generate(dir.path());
    let store = dir.path().join("accounts.mam");
    let out = mam(&[
        "accounts",
        "import",
        "--store",
        store.to_str().unwrap(),
        csv.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "import: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, _, _, from_csv, _) = run_json(&csv, &["--model", "free-margin"]);
    let (_, _, _, from_store, _) = run_json(&store, &["--model", "free-margin"]);
    assert_eq!(from_csv, from_store);
}
