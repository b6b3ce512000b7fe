//! `mam bench instructions [--quick] [--only NAMES]`: instructions per item of the hot paths,
//! counted by valgrind's callgrind, so a regression shows as a number and not as noise.
//!
//! The difference method: this binary runs each workload (`mam bench instructions-work`)
//! under callgrind twice, REPS and 2×REPS operations after the same set-up, and reports
//! (Ir(2×REPS) − Ir(REPS)) ÷ (REPS × items per operation). Start-up, data loading and the first
//! (warm-up) operation cancel; no instrumentation is needed. Without `--quick` every pair runs
//! twice and the two counts are compared: callgrind counts the same path of the same binary
//! the same, so they agree unless something random changes the path (std's hash seed in a
//! set-up that fills a `HashMap` can move the total by a few instructions).

use std::path::Path;
use std::process::{Command, ExitCode, Stdio};

use anyhow::Context as _;
use serde_json::json;

use super::bench_all::Figure;
use super::bench_instr_work::WORKLOADS;

/// Arguments of `mam bench instructions`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// One pair of runs per workload (no determinism check).
    #[arg(long)]
    pub quick: bool,
    /// Only these workloads (comma-separated; default all).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// One workload's count.
#[derive(Debug, Clone)]
pub struct Count {
    /// Workload name.
    pub name: &'static str,
    /// What one item is.
    pub what: &'static str,
    /// Instructions per item.
    pub per_item: f64,
    /// The second pair's figure (`None` with `--quick`).
    pub again: Option<f64>,
}

/// `valgrind --version`, if valgrind runs.
pub fn valgrind_version() -> Option<String> {
    let o = Command::new("valgrind").arg("--version").output().ok()?;
    o.status
        .success()
        .then(|| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

/// Instructions (Ir) of one run of `workload` with `reps`, and the items per operation.
fn callgrind(dir: &Path, workload: &str, reps: u64) -> anyhow::Result<(u64, u64)> {
    let out = dir.join(format!("callgrind.{workload}.{reps}.out"));
    let o = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg("--dump-line=no")
        .arg(std::env::current_exe()?)
        .args(["bench", "instructions-work", workload, &reps.to_string()])
        .stdin(Stdio::null())
        .output()
        .context("running valgrind")?;
    anyhow::ensure!(
        o.status.success(),
        "{workload} under callgrind: {}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    let items = String::from_utf8_lossy(&o.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("items ")?.trim().parse().ok())
        .context("the workload printed no item count")?;
    let text =
        std::fs::read_to_string(&out).with_context(|| format!("reading {}", out.display()))?;
    let _ = std::fs::remove_file(&out);
    // Callgrind writes the total as `summary:` (older) or `totals:`; the first event is Ir.
    let ir = text
        .lines()
        .find_map(|l| {
            let v = l
                .strip_prefix("summary:")
                .or_else(|| l.strip_prefix("totals:"))?;
            v.split_whitespace().next()?.parse().ok()
        })
        .context("no total in the callgrind output")?;
    Ok((ir, items))
}

/// Instructions per item of `workload` by the difference method.
fn count(dir: &Path, workload: &str, reps: u64) -> anyhow::Result<f64> {
    let (a, items) = callgrind(dir, workload, reps)?;
    let (b, _) = callgrind(dir, workload, 2 * reps)?;
    anyhow::ensure!(
        b > a,
        "{workload}: {b} instructions for 2×{reps} ≤ {a} for {reps}"
    );
    Ok((b - a) as f64 / (reps * items.max(1)) as f64)
}

/// Counts every selected workload.
pub fn measure(quick: bool, only: &[String]) -> anyhow::Result<Vec<Count>> {
    let tmp = std::env::temp_dir().join(format!("mam-callgrind-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let mut out = Vec::new();
    for (name, what, reps) in WORKLOADS {
        if !only.is_empty() && !only.iter().any(|o| o == name) {
            continue;
        }
        eprintln!("  callgrind: {name}");
        let per_item = count(&tmp, name, reps)?;
        let again = if quick {
            None
        } else {
            Some(count(&tmp, name, reps)?)
        };
        out.push(Count {
            name,
            what,
            per_item,
            again,
        });
    }
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(out)
}

/// The reference workload printed beside each counted one.
fn reference(name: &str) -> Option<&'static str> {
    match name {
        "alloc" => Some("alloc.stream"),
        "itch" => Some("itch.itch5"),
        "tops" => Some("tops.pcap"),
        "sbe" => Some("sbe.stream"),
        "fix.er" => Some("fix.er.naive"),
        "fix.nos" => Some("fix.nos.naive"),
        "engine.quote" => Some("engine.quote.bare"),
        "engine.open" => Some("engine.open.alloc"),
        _ => None,
    }
}

/// The figures of `mam bench all`'s `instructions` group.
pub fn figures(quick: bool) -> anyhow::Result<Vec<Figure>> {
    let counts = measure(quick, &[])?;
    let is_ref = |n: &str| counts.iter().any(|c| reference(c.name) == Some(n));
    Ok(counts
        .iter()
        .filter(|c| !is_ref(c.name))
        .map(|c| {
            let f = Figure::new(
                format!("instructions.{}", c.name),
                format!("per {}", c.what),
                c.per_item,
                "instr",
            );
            match reference(c.name).and_then(|r| counts.iter().find(|x| x.name == r)) {
                Some(r) => f.vs(r.what, r.per_item),
                None => f,
            }
        })
        .collect())
}

/// Runs `mam bench instructions`.
pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let v = valgrind_version().context("valgrind not found (apt-get install valgrind)")?;
    let counts = measure(a.quick, &a.only)?;
    if a.json {
        let rows: Vec<_> = counts
            .iter()
            .map(|c| json!({"workload": c.name, "item": c.what, "instructions_per_item": c.per_item, "again": c.again}))
            .collect();
        println!(
            "{}",
            json!({"bench": "instructions", "valgrind": v, "counts": rows})
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!("instructions per item ({v} callgrind; difference of REPS and 2×REPS operations)");
    for c in &counts {
        // A set-up that hashes with std's random seed can take a few instructions more or
        // less from run to run; that noise is divided by REPS × items, so it shows here.
        let again = match c.again {
            Some(x) if x == c.per_item => "  (same again)".to_string(),
            Some(x) => format!(
                "  (again {x:.4}: {:+.1e} relative)",
                (x - c.per_item) / c.per_item
            ),
            None => String::new(),
        };
        println!(
            "  {:<14} {:>12.2}  per {}{again}",
            c.name, c.per_item, c.what
        );
    }
    Ok(ExitCode::SUCCESS)
}
