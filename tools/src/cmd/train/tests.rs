use super::*;
use mam_core::adaptive::{BUCKETS, PPB, REGIMES};
use mam_core::num::Price;

fn args(out: PathBuf, from: &str, to: &str, test_to: Option<&str>) -> Args {
    Args {
        bars: vec![mam_tests::shared_data().join("histdata")],
        symbols: vec!["EURUSD".into()],
        from: from.into(),
        to: to.into(),
        test_to: test_to.map(String::from),
        accounts: None,
        accounts_out: None,
        out,
    }
}

/// Two months of real EURUSD: the model loads, validates, and the fit is deterministic.
#[test]
fn train_on_real_eurusd_is_deterministic_and_loads() {
    let dir = tempfile::tempdir().unwrap();
    let (p1, p2) = (dir.path().join("a.toml"), dir.path().join("b.toml"));
    for p in [&p1, &p2] {
        let a = args(p.clone(), "2018-01-01", "2018-02-01", Some("2018-03-01"));
        run(a).unwrap();
    }
    let (t1, t2) = (std::fs::read(&p1).unwrap(), std::fs::read(&p2).unwrap());
    assert_eq!(t1, t2, "two fits of the same data differ");
    let (model, meta) = model_file::load(&p1).unwrap();
    model.validate().unwrap();
    assert_eq!(model.symbols.len(), 1);
    assert_eq!(model.clusters, vec![ClusterParams::default()]);
    let s = &model.symbols[0];
    assert_eq!((s.symbol.as_str(), s.sample_ns), ("EURUSD", 60_000_000_000));
    // A EURUSD minute moves about a basis point: sigma in 1e-9 units near 1e5.
    assert!((30_000..500_000).contains(&s.regime.sigma_ref), "{s:?}");
    assert!((30_000..500_000).contains(&s.sigma_target), "{s:?}");
    let f = &meta.fit[0];
    assert!(f.returns_in > 25_000 && f.returns_out > 25_000, "{f:?}");
    assert!(f.qlike_ewma_out.is_some() && f.qlike_garch_out.is_some());
    assert!((f.state_share.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    assert_eq!(meta.test_to.as_deref(), Some("2018-03-01"));
    assert_eq!(meta.bar_files[0].bytes, 3_412_112);
}

#[test]
fn bad_periods_and_missing_data_are_refused() {
    let out = std::env::temp_dir().join("mam-train-never-written.toml");
    let cases = [
        (
            args(out.clone(), "2018-03-01", "2018-02-01", None),
            "must be before --to",
        ),
        (
            args(out.clone(), "2018-01-01", "2018-02-01", Some("2018-01-15")),
            "must be after --to",
        ),
        (args(out.clone(), "2018-01-01", "2018-13-01", None), "--to"),
        (
            args(out.clone(), "2019-01-01", "2019-02-01", None),
            "no bar file for EURUSD 2019",
        ),
        // 1 January 2018 holds a few hours of bars: too few returns.
        (args(out.clone(), "2018-01-01", "2018-01-02", None), "only"),
    ];
    for (a, want) in cases {
        let e = format!("{:#}", run(a).unwrap_err());
        assert!(e.contains(want), "`{e}` lacks `{want}`");
    }
    let mut a = args(out.clone(), "2018-01-01", "2018-02-01", None);
    a.symbols = vec!["EURGBP".into()];
    let e = format!("{:#}", run(a).unwrap_err());
    assert!(e.contains("no bar files for EURGBP"), "{e}");
    let mut a = args(out.clone(), "2018-01-01", "2018-02-01", None);
    a.symbols = vec!["EURUSD".into(), "eurusd".into()];
    let e = format!("{:#}", run(a).unwrap_err());
    assert!(e.contains("`EURUSD` is empty or listed twice"), "{e}");
    let mut a = args(out, "2018-01-01", "2018-02-01", None);
    a.bars = vec![PathBuf::from("/nonexistent/bars")];
    let e = format!("{:#}", run(a).unwrap_err());
    assert!(e.contains("/nonexistent/bars: no such file"), "{e}");
}

#[test]
fn rounding_rows_sums_to_one_with_no_zero() {
    let rows: [[f64; 4]; 4] = [
        [0.25, 0.25, 0.25, 0.25],
        [1.0, 0.0, 0.0, 0.0],
        [1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0, 0.0],
        [0.0, 0.0, 0.0, 0.0],
    ];
    for p in rows {
        let r = regime::round_row(&p);
        assert_eq!(r.iter().map(|&x| u64::from(x)).sum::<u64>(), PPB, "{p:?}");
        assert!(r.iter().all(|&x| x >= regime::FLOOR_PPB), "{p:?} -> {r:?}");
    }
    assert_eq!(
        regime::round_row(&[1.0, 0.0, 0.0]),
        [999_998_000, 1_000, 1_000]
    );
    // Largest remainder, ties to the lower index.
    let third = regime::round_row(&[1.0 / 3.0; 3]);
    assert_eq!(third, [333_333_334, 333_333_333, 333_333_333]);
}

#[test]
fn buckets_use_upper_edges_in_thousandths() {
    let edges = [100, 200, 300, 400, 500, 600, 700];
    let b = |r| regime::bucket(r, 1_000, &edges);
    assert_eq!(
        [b(0), b(99), b(100), b(-150), b(699), b(700), b(i64::MIN)],
        [0, 0, 1, 1, 6, 7, 7]
    );
}

/// A synthetic series with a quiet and a wild half: the filter finds both and the rows are
/// valid ppb.
#[test]
fn the_hmm_separates_quiet_from_wild() {
    let mut state = 7u64;
    let mut r = Vec::new();
    for i in 0..20_000 {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let u = (state >> 11) as i64 % 200_001 - 100_000; // uniform ±1e5
        r.push(if (i / 2_000) % 2 == 0 { u / 4 } else { u * 2 });
    }
    let fit = regime::fit(&r, 100_000, || {});
    let m = &fit.model;
    for row in &m.trans {
        assert_eq!(row.iter().map(|&x| u64::from(x)).sum::<u64>(), PPB);
        assert!(row.iter().all(|&x| x >= regime::FLOOR_PPB));
        assert_eq!(row.len(), REGIMES);
    }
    for row in &m.emit {
        assert_eq!(row.iter().map(|&x| u64::from(x)).sum::<u64>(), PPB);
        assert!(row.iter().all(|&x| x >= regime::FLOOR_PPB));
        assert_eq!(row.len(), BUCKETS);
    }
    // Calm emits mostly low buckets, stressed mostly high ones.
    let low = |s: usize| m.emit[s][..4].iter().map(|&x| u64::from(x)).sum::<u64>();
    assert!(low(0) > low(2), "{m:?}");
    assert!(fit.share[0] + fit.share[2] > 0.5, "{:?}", fit.share);
}

#[test]
fn returns_skip_gaps_over_ten_minutes() {
    let bar = |min: u64, close: &str| histdata::Bar {
        ts_utc_ns: min * 60_000_000_000,
        open: Price::parse(close).unwrap(),
        high: Price::parse(close).unwrap(),
        low: Price::parse(close).unwrap(),
        close: Price::parse(close).unwrap(),
    };
    let bars = [
        bar(0, "1.0"),
        bar(1, "1.01"),
        bar(11, "1.0201"),
        bar(22, "2"),
        bar(23, "2"),
    ];
    let r = data::returns(&bars, 11 * 60_000_000_000);
    assert_eq!(r.units, [10_000_000, 10_000_000, 0]);
    assert_eq!((r.train, r.gaps, r.zeros), (1, 1, 1));
}

/// Three obvious groups come out as three clusters numbered by leverage, the same every time.
#[test]
fn accounts_cluster_by_leverage_and_balance_deterministically() {
    let mut csv = String::from("id,balance,equity,leverage\n");
    for i in 0..30 {
        let (bal, lev) = match i % 3 {
            0 => (100_000 + i * 1_000, 30),
            1 => (10_000 + i * 100, 100),
            _ => (1_000 + i * 10, 500),
        };
        csv.push_str(&format!("A{i},{bal},{bal},{lev}\n"));
    }
    let rows = crate::accounts_io::parse_csv(csv.as_bytes()).unwrap();
    let mut acc = mam_core::account::AccountVecs::default();
    rows.iter().for_each(|(_, r)| acc.push(r));
    let c = cluster::cluster(&acc);
    assert_eq!(c.counts, [10, 10, 10]);
    assert_eq!(c.mean_leverage, [30.0, 100.0, 500.0]);
    assert_eq!(c.assignment[..3], [0, 1, 2]);
    assert_eq!(c.params[0], ClusterParams::default());
    let level: Vec<String> = c
        .params
        .iter()
        .map(|p| p.stressed_margin_level.to_string())
        .collect();
    assert_eq!(level, ["300.0", "400.0", "500.0"]);
    assert_eq!(cluster::cluster(&acc).assignment, c.assignment);
    // One account: one cluster, the defaults.
    let mut one = mam_core::account::AccountVecs::default();
    one.push(&rows[0].1);
    assert_eq!(
        cluster::cluster(&one).params,
        vec![ClusterParams::default()]
    );
}
