//! `write_report` on the synthetic pair of runs.

use super::synthetic::synthetic;
use super::*;

/// The plots a synthetic report has: two fans, dispersion, breaches, three factors, two
/// regime symbols.
pub const EXPECTED_PLOTS: [&str; 9] = [
    "fan-static",
    "fan-adaptive",
    "dispersion-daily",
    "drawdown-breaches",
    "factor-drawdown",
    "factor-margin-buffer",
    "factor-volatility",
    "regime-eurusd",
    "regime-usdjpy",
];

#[test]
fn report_on_synthetic_runs() {
    let (meta, runs) = synthetic(50, 60, 1);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let s = write_report(&out, &meta, &runs, &ReportOptions::default()).unwrap();

    // JSON parses and has the fields.
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&s.json).unwrap()).unwrap();
    assert_eq!(v["meta"]["accounts"], 50);
    assert_eq!(v["days"].as_array().unwrap().len(), 60);
    assert_eq!(v["dates"][0], "2024-01-01");
    let runs_json = v["runs"].as_array().unwrap();
    assert_eq!(runs_json.len(), 2);
    for (r, name) in runs_json.iter().zip(["static", "adaptive"]) {
        assert_eq!(r["name"], name);
        let m = &r["metrics"];
        for key in [
            "aggregate_return",
            "annualised_volatility",
            "dispersion_daily_mean",
            "dispersion_period",
            "range_daily_mean",
            "range_period",
            "sync_mean",
            "accounts_breaching",
            "breaches",
            "stop_outs",
            "margin_calls",
            "exposure_in_bounds_pct",
            "capital_efficiency",
            "turnover",
            "cost",
        ] {
            assert!(!m[key].is_null(), "{name}: {key} missing in {m}");
        }
        assert_eq!(m["exposure_in_bounds_pct"], 100.0);
        assert_eq!(r["daily"]["dispersion"].as_array().unwrap().len(), 60);
        assert_eq!(r["daily"]["fan"].as_array().unwrap().len(), 5);
        assert_eq!(r["accounts"]["max_drawdown"].as_array().unwrap().len(), 50);
    }
    assert_eq!(runs_json[1]["factors"].as_array().unwrap().len(), 6);
    assert_eq!(runs_json[1]["regime"][0]["symbol"], "EURUSD");

    // The verdict, per metric, in plain words; on this data adaptive is narrower.
    let verdict = &v["verdict"];
    assert_eq!(verdict["baseline"], "static");
    for d in verdict::METRICS {
        let o = verdict["metrics"][d.key]["outcome"].as_str().unwrap();
        assert!(
            ["beat", "tied", "lost", "n/a"].contains(&o),
            "{}: {o}",
            d.key
        );
    }
    assert_eq!(
        verdict["metrics"]["dispersion_daily_mean"]["outcome"],
        "beat"
    );
    assert_eq!(verdict["metrics"]["dispersion_period"]["outcome"], "beat");
    assert_eq!(verdict["metrics"]["sync_mean"]["outcome"], "beat");
    assert_eq!(
        verdict["metrics"]["exposure_in_bounds_pct"]["outcome"],
        "tied"
    );
    assert_eq!(verdict["bounds"]["adaptive"], true);
    let sv = s.verdict.as_ref().unwrap();
    assert_eq!(
        (sv.beat + sv.tied + sv.lost) as usize,
        verdict::METRICS.len(),
        "no n/a here"
    );
    // Static breaches and stops more (its multipliers reach 2.2, adaptive's 1.36).
    let (st, ad) = (&s.runs[0], &s.runs[1]);
    assert!(
        st.breaches > ad.breaches,
        "{} vs {}",
        st.breaches,
        ad.breaches
    );
    assert!(st.stop_outs > 0 && ad.stop_outs == 0);
    assert!(sv.claim.holds, "{:?}", sv.claim.parts);

    // HTML: one <svg per plot, each with its id and title; nothing from a network.
    let html = std::fs::read_to_string(&s.html).unwrap();
    let ids: Vec<&str> = s.plots.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(ids, EXPECTED_PLOTS);
    assert_eq!(html.matches("<svg").count(), EXPECTED_PLOTS.len());
    for (id, title) in &s.plots {
        assert!(html.contains(&format!("<svg id=\"{id}\"")), "{id}");
        assert!(html.contains(&format!("<title>{title}</title>")), "{title}");
    }
    let stripped = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    assert!(!stripped.contains("http://"), "a network reference");
    assert!(!stripped.contains("https://"), "a network reference");
    for tag in ["<script", "<link", "<img", "@import", "url("] {
        assert!(!html.contains(tag), "{tag} in the page");
    }
    assert!(html.contains("id=\"summary\""));

    // The CLI's table.
    let t = s.table();
    assert!(
        t.contains("daily dispersion (asset-weighted σ), mean"),
        "{t}"
    );
    assert!(
        t.contains("beat") && t.contains("claim (DESIGN.md §5) holds"),
        "{t}"
    );
    assert_eq!(
        t.lines().next().unwrap().split_whitespace().last(),
        Some("adaptive")
    );
}

#[test]
fn mismatched_runs_are_refused() {
    let (meta, mut runs) = synthetic(4, 5, 60);
    runs[1].days[4] += 1;
    let dir = tempfile::tempdir().unwrap();
    let e = write_report(dir.path(), &meta, &runs, &ReportOptions::default()).unwrap_err();
    assert!(e.to_string().contains("different days"), "{e}");
    let e = write_report(dir.path(), &meta, &[], &ReportOptions::default()).unwrap_err();
    assert!(e.to_string().contains("no runs"), "{e}");
    let (mut meta, runs) = synthetic(4, 5, 60);
    meta.accounts = 5;
    let e = write_report(dir.path(), &meta, &runs, &ReportOptions::default()).unwrap_err();
    assert!(e.to_string().contains("meta says 5 accounts"), "{e}");
}

#[test]
fn one_run_reports_without_a_verdict() {
    let (meta, runs) = synthetic(5, 10, 60);
    let dir = tempfile::tempdir().unwrap();
    let s = write_report(dir.path(), &meta, &runs[..1], &ReportOptions::default()).unwrap();
    assert!(s.verdict.is_none());
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&s.json).unwrap()).unwrap();
    assert!(v["verdict"].is_null());
    // The static run has no factors or regime: those sections say so.
    let html = std::fs::read_to_string(&s.html).unwrap();
    assert_eq!(html.matches("<svg").count(), 3);
    assert!(html.contains("No data in these runs."));
}

/// The size `mam validate` runs at: 1,000 accounts, a year of days, 1-minute regime bars on two
/// symbols. `cargo test -p mam-tools --bin mam report_at_full_scale -- --ignored --nocapture`.
#[test]
#[ignore = "a full-scale timing, not a check"]
fn report_at_full_scale() {
    let (meta, runs) = synthetic(1000, 365, 1);
    let dir = tempfile::tempdir().unwrap();
    let t = std::time::Instant::now();
    let s = write_report(dir.path(), &meta, &runs, &ReportOptions::default()).unwrap();
    let size = |p: &std::path::Path| std::fs::metadata(p).unwrap().len();
    eprintln!(
        "write_report: {:?}; report.json {} bytes, report.html {} bytes",
        t.elapsed(),
        size(&s.json),
        size(&s.html)
    );
}
