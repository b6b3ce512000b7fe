//! `mam bench all --out DIR [--quick] [--only GROUPS]`: every `mam bench` figure in one run,
//! each beside its reference and its target (issue 12), written as `DIR/bench.json` and
//! `DIR/bench.md`, with the latency histograms as `.hlog`/`.hgrm` files under `DIR`; one
//! summary line per figure on stdout.
//!
//! Nothing here is a pass/fail test: a missed target is a figure with `met: false`, and the
//! command exits 0. A group that cannot run (shared data missing, say) is reported under
//! `errors` and the others still run; the exit code is then 1.

mod figure;
mod micro;
mod pipeline;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use serde_json::json;

pub use figure::Figure;

/// The groups, in the order they run: transport and fix first, since the pipeline figures
/// are printed beside their results.
pub const GROUPS: [&str; 11] = [
    "transport",
    "fix",
    "decode",
    "alloc",
    "sbe",
    "ledger",
    "journal",
    "adaptive",
    "pipeline",
    "socket",
    "instructions",
];

/// Arguments of `mam bench all`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where `bench.json`, `bench.md` and the histogram files go (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// A few seconds per benchmark instead of the full budgets (about a minute in all on 2
    /// cores, without `instructions`' valgrind runs).
    #[arg(long)]
    pub quick: bool,
    /// Only these groups (comma-separated): transport, fix, decode, alloc, sbe, ledger,
    /// journal, adaptive, pipeline (in-process), socket (socket to socket), instructions.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
}

/// Runs `mam bench all`.
pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    for g in &a.only {
        anyhow::ensure!(
            GROUPS.contains(&g.as_str()),
            "unknown group `{g}` (one of {})",
            GROUPS.join(", ")
        );
    }
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let selected: Vec<&str> = GROUPS
        .iter()
        .copied()
        .filter(|g| a.only.is_empty() || a.only.iter().any(|o| o == g))
        .collect();
    let t0 = Instant::now();
    let mut figures: Vec<Figure> = Vec::new();
    let mut files: Vec<String> = Vec::new();
    let mut errors = Vec::new();
    let mut skipped = Vec::new();
    let mut refs = pipeline::Refs::default();
    let quick = a.quick;
    for g in selected.iter().copied() {
        eprintln!("[{:>6.1} s] mam bench all: {g}", t0.elapsed().as_secs_f64());
        let got: anyhow::Result<Vec<Figure>> = match g {
            "transport" => micro::transport(quick, &a.out.join("transport")).map(|(f, h, x)| {
                refs.rtrb_hop_p50_ns = Some(h);
                files.extend(x);
                f
            }),
            "fix" => micro::fix(quick).inspect(|f| {
                refs.nos_encode_ns = f
                    .iter()
                    .find(|x| x.name == "fix.nos_encode")
                    .map(|x| x.value);
            }),
            "decode" => micro::decode(quick),
            "alloc" => micro::alloc(quick),
            "sbe" => micro::sbe(quick),
            "ledger" => micro::ledger(quick),
            "journal" => micro::journal(quick),
            "adaptive" => micro::adaptive(quick),
            "pipeline" | "socket" => {
                let dir = a.out.join(g);
                let (f, x, errs) = pipeline::run(quick, g == "socket", &dir, refs, &figures);
                files.extend(x);
                for e in errs {
                    eprintln!("mam bench all: {g}: {e}");
                    errors.push(json!({"group": g, "error": e}));
                }
                Ok(f)
            }
            "instructions" => match super::bench_instructions::valgrind_version() {
                Some(_) => super::bench_instructions::figures(quick),
                None => {
                    skipped.push("instructions: valgrind not found (apt-get install valgrind)");
                    Ok(Vec::new())
                }
            },
            _ => unreachable!("groups are checked above"),
        };
        match got {
            Ok(f) => {
                for x in &f {
                    println!("{}", x.summary());
                }
                figures.extend(f);
            }
            Err(e) => {
                eprintln!("mam bench all: {g}: {e:#}");
                errors.push(json!({"group": g, "error": format!("{e:#}")}));
            }
        }
    }
    for s in &skipped {
        eprintln!("mam bench all: skipped {s}");
    }
    let report = json!({
        "bench": "all",
        "version": env!("CARGO_PKG_VERSION"),
        "quick": quick,
        "groups": selected,
        "seconds": t0.elapsed().as_secs_f64(),
        "cpus": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "loadavg": std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim(),
        "figures": figures,
        "files": files,
        "skipped": skipped,
        "errors": errors,
    });
    figure::write(
        &a.out,
        "bench.json",
        &serde_json::to_string_pretty(&report)?,
    )?;
    let md = format!(
        "# mam bench all{}\n\n{} figures in {:.0} s; load average {}.\n\n{}",
        if quick { " --quick" } else { "" },
        figures.len(),
        t0.elapsed().as_secs_f64(),
        report["loadavg"].as_str().unwrap_or(""),
        figure::markdown(&figures)
    );
    figure::write(&a.out, "bench.md", &md)?;
    let missed = figures.iter().filter(|f| f.met == Some(false)).count();
    let met = figures.iter().filter(|f| f.met == Some(true)).count();
    println!(
        "mam bench all: {} figures, targets met {met}, missed {missed}; bench.json and bench.md in {}",
        figures.len(),
        a.out.display()
    );
    Ok(if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
