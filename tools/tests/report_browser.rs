//! `mam validate`'s report as a browser shows it: headless Chromium opens the synthetic
//! report from disk (no network), the dumped DOM must hold every plot, and a screenshot is
//! taken. `MAM_TESTS_KEEP=1` keeps the folder (report, DOM, `report.png`) and prints its path.
//!
//! Needs `/usr/bin/chromium` (Debian: `apt-get install chromium`; `.ci/run` installs it).

use std::time::Duration;

use mam_tests::browser::run_chromium;

// The report module depends on nothing else in `mam`, so the test compiles it as is (the
// binary crate has no library to link).
#[path = "../src/cmd/validate/report/mod.rs"]
#[allow(dead_code, unused_imports)]
mod report;

#[test]
fn chromium_renders_every_plot() {
    let (meta, runs) = report::synthetic::synthetic(50, 60, 1);
    let dir = tempfile::tempdir().unwrap();
    let s =
        report::write_report(dir.path(), &meta, &runs, &report::ReportOptions::default()).unwrap();
    let url = format!("file://{}", s.html.display());
    let profile = dir.path().join("chromium-profile");
    let limit = Duration::from_secs(120);

    // The DOM after Chromium parsed and laid out the page.
    let dom = run_chromium(&profile, &["--dump-dom".into(), url.clone()], limit);
    std::fs::write(dir.path().join("dom.html"), &dom).unwrap();
    assert!(dom.contains("<table id=\"summary\">"), "no summary table");
    assert_eq!(s.plots.len(), 9, "{:?}", s.plots);
    assert_eq!(
        dom.matches("<svg").count(),
        s.plots.len(),
        "one <svg> per plot"
    );
    for (id, title) in &s.plots {
        let at = dom
            .find(&format!("<svg id=\"{id}\""))
            .unwrap_or_else(|| panic!("plot `{id}` is not in the DOM"));
        let element = &dom[at..at + dom[at..].find("</svg>").unwrap()];
        assert!(
            element.contains(&format!("<title>{title}</title>")),
            "plot `{id}` lacks its title"
        );
        assert!(
            element.contains("<polyline") || element.contains("<rect"),
            "plot `{id}` has nothing drawn"
        );
    }
    for id in ["fan-static", "fan-adaptive"] {
        assert!(dom.contains(&format!("<svg id=\"{id}\"")));
    }

    // A screenshot of the whole report.
    let png = dir.path().join("report.png");
    run_chromium(
        &profile,
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1400,3000".into(),
            url,
        ],
        limit,
    );
    let bytes = std::fs::read(&png).expect("chromium wrote no screenshot");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(
        bytes.len() > 50_000,
        "a nearly empty screenshot: {} bytes",
        bytes.len()
    );

    if std::env::var_os("MAM_TESTS_KEEP").is_some() {
        let kept = dir.keep();
        eprintln!("kept {}", kept.display());
    }
}
