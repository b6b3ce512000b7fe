//! `report.html`: one self-contained page (inline CSS, inline SVG; no script, font, image or
//! link that would need a network).

use std::fmt::Write;

use super::analysis::RunMetrics;
use super::plots::escape;
use super::types::{iso_date, Meta};
use super::verdict::{Better, Outcome, Verdict, METRICS};

/// A drawn plot: its id, title and SVG (already tagged).
#[derive(Debug, Clone)]
pub struct Plot {
    /// The `<svg>` element's id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// The SVG.
    pub svg: String,
}

/// The page's sections of plots, in order: `(heading, explanation, plots, side by side)`.
pub type Section = (&'static str, String, Vec<Plot>, bool);

const STYLE: &str = "
body { font-family: sans-serif; margin: 24px auto; max-width: 1360px; color: #222; }
h1 { font-size: 24px; margin-bottom: 4px; }
h2 { font-size: 19px; margin-top: 32px; border-bottom: 1px solid #ccc; padding-bottom: 4px; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border: 1px solid #ccc; padding: 4px 10px; text-align: left; font-size: 14px; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f2f2f2; }
.beat { background: #dff0d8; } .lost { background: #f8d7d3; } .tied { background: #eee; }
.holds { color: #1b6e1b; font-weight: bold; } .fails { color: #a52a1a; font-weight: bold; }
.row { display: flex; flex-wrap: wrap; gap: 12px; }
.top { gap: 40px; align-items: flex-start; }
.plot { border: 1px solid #ddd; }
p.note { font-size: 13px; color: #555; max-width: 1100px; }
.swatch { display: inline-block; width: 14px; height: 10px; margin: 0 4px 0 12px; }
";

/// The page.
pub fn page(
    meta: &Meta,
    runs: &[RunMetrics],
    verdict: Option<&Verdict>,
    matched: Option<&Verdict>,
    sections: &[Section],
) -> String {
    let mut h = String::with_capacity(1 << 20);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>mam validate: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape(&meta.strategy)
    );
    let _ = writeln!(
        h,
        "<h1>mam validate: static vs adaptive allocation</h1>\n<p class=\"note\">The same \
         manager trades replayed through the engine once per run (the static rule, the adaptive \
         layer, and the static rule at adaptive's average exposure when given), over the same \
         accounts and days. Definitions are at the end of the page and in \
         docs/validation.md.</p>"
    );
    if let Some(v) = verdict {
        verdict_block(&mut h, v, "sec-verdict", "Verdict", "static");
    }
    if let Some(v) = matched {
        verdict_block(
            &mut h,
            v,
            "sec-verdict-matched",
            "Verdict against the static rule at adaptive's average exposure",
            "static-matched",
        );
    }
    h.push_str("<div class=\"row top\">\n");
    summary_table(&mut h, runs, verdict, matched);
    meta_table(&mut h, meta, runs);
    h.push_str("</div>\n");
    for (heading, note, plots, side_by_side) in sections {
        let id = heading
            .to_lowercase()
            .replace(|c: char| !c.is_alphanumeric(), "-");
        let _ = writeln!(h, "<section id=\"sec-{id}\">\n<h2>{}</h2>", escape(heading));
        if !note.is_empty() {
            let _ = writeln!(h, "<p class=\"note\">{note}</p>");
        }
        if plots.is_empty() {
            let _ = writeln!(h, "<p class=\"note\">No data in these runs.</p>");
        }
        let _ = writeln!(
            h,
            "<div class=\"{}\">",
            if *side_by_side { "row" } else { "" }
        );
        for p in plots {
            h.push_str(&p.svg);
            h.push('\n');
        }
        h.push_str("</div>\n</section>\n");
    }
    definitions(&mut h);
    h.push_str("</body>\n</html>\n");
    h
}

fn meta_table(h: &mut String, meta: &Meta, runs: &[RunMetrics]) {
    let range = |r: &super::types::DayRange| {
        format!(
            "{} to {}",
            iso_date(i64::from(r.first)),
            iso_date(i64::from(r.last))
        )
    };
    let days = runs.first().map_or(0, |r| r.days);
    let rows = [
        ("strategy", escape(&meta.strategy)),
        ("symbols", escape(&meta.symbols.join(", "))),
        ("accounts", meta.accounts.to_string()),
        ("trained on", range(&meta.train)),
        (
            "validated on",
            format!("{} ({days} days)", range(&meta.validate)),
        ),
        ("split", escape(&meta.split)),
        ("model file", escape(&meta.model_path)),
        ("model checksum", escape(&meta.model_checksum)),
    ];
    h.push_str("<section id=\"sec-meta\">\n<h2>Runs</h2>\n<table>\n");
    for (k, v) in rows {
        let _ = writeln!(h, "<tr><th>{k}</th><td>{v}</td></tr>");
    }
    h.push_str("</table>\n</section>\n");
}

fn verdict_block(h: &mut String, v: &Verdict, id: &str, title: &str, baseline: &str) {
    let (class, word) = if v.claim.holds {
        ("holds", "holds")
    } else {
        ("fails", "does not hold")
    };
    let _ = writeln!(
        h,
        "<section id=\"{id}\">\n<h2>{}</h2>\n<p>The claim (DESIGN.md §5): \
         <em>{}</em> — <span class=\"{class}\">{word} on this data</span> (baseline: the run \
         <b>{}</b>; the lines below call it static).</p>\n<ul>",
        escape(title),
        escape(v.claim.text),
        escape(baseline)
    );
    for p in &v.claim.parts {
        let _ = writeln!(h, "<li>{}</li>", escape(p));
    }
    let _ = writeln!(
        h,
        "</ul>\n<p>Over all {} metrics below, adaptive beat {baseline} on {}, tied on {}, lost on \
         {}.</p>\n</section>",
        v.metrics.len(),
        v.beat,
        v.tied,
        v.lost
    );
}

fn summary_table(
    h: &mut String,
    runs: &[RunMetrics],
    verdict: Option<&Verdict>,
    matched: Option<&Verdict>,
) {
    h.push_str("<section id=\"sec-summary\">\n<h2>Summary</h2>\n<table id=\"summary\">\n<tr><th>metric</th>");
    for r in runs {
        let _ = write!(h, "<th>{}</th>", escape(&r.name));
    }
    if verdict.is_some() {
        h.push_str("<th>better</th><th>adaptive</th>");
    }
    if matched.is_some() {
        h.push_str("<th>vs matched</th>");
    }
    h.push_str("</tr>\n");
    for (i, d) in METRICS.iter().enumerate() {
        let _ = write!(h, "<tr><td>{}</td>", escape(d.label));
        for r in runs {
            let _ = write!(
                h,
                "<td class=\"num\">{}</td>",
                escape(&d.unit.show((d.get)(r)))
            );
        }
        if let Some(v) = verdict {
            let o = v.metrics[i].1.outcome;
            let class = match o {
                Outcome::Beat => "beat",
                Outcome::Lost => "lost",
                Outcome::Tied | Outcome::NotComparable => "tied",
            };
            let better = match d.better {
                Better::Lower => "lower",
                Better::Higher => "higher",
            };
            let _ = write!(
                h,
                "<td>{better}</td><td class=\"{class}\">{}</td>",
                o.word()
            );
        }
        if let Some(v) = matched {
            let o = v.metrics[i].1.outcome;
            let class = match o {
                Outcome::Beat => "beat",
                Outcome::Lost => "lost",
                Outcome::Tied | Outcome::NotComparable => "tied",
            };
            let _ = write!(h, "<td class=\"{class}\">{}</td>", o.word());
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n</section>\n");
}

fn definitions(h: &mut String) {
    h.push_str(
        "<section id=\"sec-definitions\">\n<h2>Definitions</h2>\n<ul class=\"note\">\n\
<li><b>Daily return</b> (time-weighted, flows excluded): r = (E<sub>t</sub> − E<sub>t−1</sub> − \
F<sub>t</sub>) / E<sub>t−1</sub>, end-of-day equity E, net external flow F counted at the end of \
the day; cumulative returns chain-link them.</li>\n\
<li><b>Dispersion</b> (GIPS 2020 provision 5.A.1, internal dispersion): the asset-weighted \
standard deviation of account returns about their asset-weighted mean, weights = equity at the \
beginning of the period; and the high–low range. Daily on daily returns; for the period on \
cumulative returns with start-of-run equity as weights.</li>\n\
<li><b>Equity synchronisation</b>: the mean absolute deviation of the accounts' cumulative \
returns from their asset-weighted mean (0 = all in step).</li>\n\
<li><b>Drawdown</b>: 1 − W / peak(W) of the wealth index W = 1 + cumulative return, on daily \
closes; a breach is each run of days at or past the account's tolerance. Intraday limit \
actions are counted by the engine as stop-outs and margin calls.</li>\n\
<li><b>Bounds</b>: account-allocations whose size stayed inside the manager's bounds, over all \
allocations: must be 100 %.</li>\n\
<li><b>Capital efficiency</b>: mean daily Σ|notional| / mean daily Σ margin used. \
<b>Aggregate return</b>: daily asset-weighted mean returns, chain-linked; its volatility is the \
sample standard deviation × √252.</li>\n\
<li><b>Verdict</b>: values are compared at the precision shown in report.json (8 decimals for \
fractions); equal there is a tie.</li>\n</ul>\n</section>\n",
    );
}
