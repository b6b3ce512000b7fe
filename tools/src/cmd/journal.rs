//! `mam journal verify|dump|state`: check a journal directory, print its records, replay a
//! state directory.
//!
//! None of them changes a byte on disk. `verify` and `dump` read through [`JournalReader`]: a
//! torn tail is reported (the daemon's next start cuts it), corruption anywhere (a complete
//! record whose CRC fails included) makes both exit with status 1 after printing what they
//! could read. `state` replays copy-on-write (`Engine::recover_read_only`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use mam_core::engine::decision::kind_name;
use mam_core::journal::{JournalReader, ScanReport};

/// Subcommands of `mam journal`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Check every record; print counts per kind, the sequence range, and any damage.
    Verify {
        /// The journal directory.
        dir: PathBuf,
        /// One JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Print one line per record: sequence, kind, length, and the payload decoded (engine
    /// records) or in hex.
    Dump {
        /// The journal directory.
        dir: PathBuf,
        /// First sequence number to print.
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// Print at most this many records.
        #[arg(long)]
        limit: Option<u64>,
        /// One JSON object per line (always with `payload_hex`; `name` and `decoded` for
        /// engine records).
        #[arg(long)]
        json: bool,
        /// Print engine records as hex too, instead of decoding them.
        #[arg(long)]
        raw: bool,
    },
    /// Recover the engine of a daemon's state directory (checkpoint + journal, every decision
    /// re-checked) and print its state digest; `--out` writes the whole state (accounts,
    /// tickets and per-account positions, open orders, counters) as bytes, for comparing two
    /// runs byte for byte. Changes nothing in the directory (the replay is copy-on-write); run
    /// it on a stopped daemon's directory.
    State {
        /// The daemon's `state` directory (holding `journal/` and `checkpoints/`).
        state: PathBuf,
        /// Write the state bytes here.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Symbol overrides the daemon ran with.
        #[arg(long)]
        symbols: Option<PathBuf>,
    },
}

/// The name and readable form of an engine record (`Input` or `Decision`), or `None` for a
/// kind the engine does not define or a payload that does not decode (then hex is printed).
fn decode(kind: u16, payload: &[u8]) -> Option<(&'static str, String)> {
    use mam_core::engine::{Decision, Input};
    let name = kind_name(kind)?;
    let text = if kind == mam_core::engine::origin::KIND_ORIGIN {
        mam_core::engine::decision::describe(kind, payload)?
    } else {
        match Input::decode(kind, payload) {
            Some(x) => format!("{x:?}"),
            None => format!("{:?}", Decision::decode(kind, payload)?),
        }
    };
    Some((name, text))
}

/// Runs `mam journal`.
pub fn run(c: Command) -> anyhow::Result<ExitCode> {
    match c {
        Command::Verify { dir, json } => verify(&dir, json),
        Command::Dump {
            dir,
            from,
            limit,
            json,
            raw,
        } => dump(&dir, from, limit, json, raw),
        Command::State {
            state,
            out,
            symbols,
        } => engine_state(&state, out.as_deref(), symbols.as_deref()),
    }
}

fn engine_state(
    state: &Path,
    out: Option<&Path>,
    symbols: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    use anyhow::Context as _;
    let symbols = match symbols {
        Some(p) => mam_core::symbol::SymbolTable::with_overrides(
            &std::fs::read_to_string(p).with_context(|| format!("symbols {}", p.display()))?,
        )?,
        None => mam_core::symbol::SymbolTable::builtin(),
    };
    // Read-only: the journal is replayed copy-on-write, so a torn tail is cut in memory only
    // and damage is refused before anything could be written; nothing on disk changes.
    let r = mam_core::engine::Engine::recover_read_only(
        &state.join("checkpoints"),
        &state.join("journal"),
        mam_core::journal::JournalConfig::default(),
        symbols,
    )
    .with_context(|| format!("recovering {}", state.display()))?;
    let e = &r.engine;
    if let Some(t) = &r.journal_report.torn_tail {
        eprintln!("mam: journal: {t} (not applied; left on disk, the daemon's next start cuts it)");
    }
    if let Some(p) = out {
        crate::out_file::write_all(p, &e.state_bytes())?;
    }
    println!(
        "state digest {:016x}: journal seq {}, {} accounts, {} tickets open, {} orders open, {} inputs replayed",
        e.digest(),
        e.applied_seq(),
        e.accounts().id.len(),
        e.open_tickets(),
        e.open_orders(),
        r.replayed_inputs
    );
    Ok(ExitCode::SUCCESS)
}

fn open(dir: &Path) -> anyhow::Result<JournalReader> {
    anyhow::ensure!(dir.is_dir(), "{} is not a journal directory", dir.display());
    Ok(JournalReader::open(dir)?)
}

/// The journal in `dir`, or in `dir/journal` when `dir` is a daemon's state directory (said
/// on stderr); a directory with no segment at all is an error, never reported clean.
fn open_journal_or_state(dir: &Path) -> anyhow::Result<JournalReader> {
    let mut r = open(dir)?;
    // A daemon's state directory (the one `journal state` takes) holds its journal in
    // `journal/`: read that one, saying so, rather than report an empty directory clean.
    let none =
        |r: &JournalReader| r.report().segments.is_empty() && r.report().corruption.is_none();
    let sub = dir.join("journal");
    if none(&r) && sub.is_dir() {
        eprintln!(
            "mam: {} holds no journal segment; reading its journal directory {}",
            dir.display(),
            sub.display()
        );
        r = open(&sub)?;
    }
    if none(&r) {
        anyhow::bail!(
            "no journal segments in {}: not a journal directory, or its segments were removed \
             (a daemon's journal is STATE/journal)",
            r.dir().display()
        );
    }
    Ok(r)
}

fn verify(dir: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let r = open_journal_or_state(dir)?;
    let dir = r.dir().to_path_buf();
    let dir = dir.as_path();
    let mut kinds: BTreeMap<u16, u64> = BTreeMap::new();
    let mut read_error = None;
    for rec in r.records(0) {
        match rec {
            Ok(rec) => *kinds.entry(rec.kind).or_default() += 1,
            Err(e) => read_error = Some(e.to_string()),
        }
    }
    let rep = r.report();
    let bad = rep.corruption.is_some() || read_error.is_some();
    if json {
        let v = serde_json::json!({
            "dir": dir.display().to_string(),
            "ok": !bad,
            "segments": rep.segments.iter().map(|s| serde_json::json!({
                "file": s.path.file_name().map(|n| n.to_string_lossy().into_owned()),
                "index": s.index,
                "first_seq": s.first_seq,
                "records": s.records,
                "bytes_used": s.end,
                "size": s.size,
            })).collect::<Vec<_>>(),
            "records": rep.records(),
            "first_seq": rep.first_seq(),
            "last_seq": rep.last_seq(),
            "kinds": kinds.iter().map(|(k, n)| (k.to_string(), serde_json::Value::from(*n))).collect::<serde_json::Map<_, _>>(),
            "torn_tail": rep.torn_tail.as_ref().map(|t| serde_json::json!({
                "segment": t.segment.display().to_string(),
                "offset": t.offset,
                "problem": t.problem.to_string(),
                "bytes_cut": t.bytes_cut,
                "short_file_len": t.short_file_len,
            })),
            "corruption": rep.corruption.as_ref().map(|c| serde_json::json!({
                "segment": c.segment.display().to_string(),
                "offset": c.offset,
                "problem": c.problem.to_string(),
                "valid_record_at": c.valid_record_at,
            })).or(read_error.map(|e| serde_json::json!({ "problem": e }))),
            "temp_files": rep.temp_files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        });
        println!("{v}");
    } else {
        print_report(dir, rep, &kinds);
        if let Some(e) = read_error {
            println!("CORRUPT: {e}");
        }
    }
    Ok(if bad {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_report(dir: &Path, rep: &ScanReport, kinds: &BTreeMap<u16, u64>) {
    let range = match (rep.first_seq(), rep.last_seq()) {
        (Some(a), Some(b)) => format!("seq {a}..={b}"),
        _ => "no records".to_string(),
    };
    println!(
        "journal {}: {} segments, {} records, {range}",
        dir.display(),
        rep.segments.len(),
        rep.records()
    );
    for s in &rep.segments {
        println!(
            "  {}: first seq {}, {} records, {} of {} bytes used",
            s.path.file_name().unwrap_or_default().to_string_lossy(),
            s.first_seq,
            s.records,
            s.end,
            s.size
        );
    }
    let mut line = String::from("  records per kind:");
    for (k, n) in kinds {
        let name = kind_name(*k).map_or(String::new(), |n| format!(" ({n})"));
        let _ = write!(line, " {k}{name}={n}");
    }
    println!("{line}");
    for t in &rep.temp_files {
        println!(
            "  leftover temporary file {} (removed on open)",
            t.display()
        );
    }
    match &rep.torn_tail {
        Some(t) => println!("TORN TAIL (cut by the next writable open, never applied): {t}"),
        // Never "clean" beside a corruption: the scan stopped there.
        None if rep.corruption.is_none() => println!("tail: clean"),
        None => {}
    }
    if let Some(c) = &rep.corruption {
        println!("CORRUPT: {c}");
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

fn dump(
    dir: &Path,
    from: u64,
    limit: Option<u64>,
    json: bool,
    raw: bool,
) -> anyhow::Result<ExitCode> {
    let r = open_journal_or_state(dir)?;
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::new(out.lock());
    let mut bad = r.report().corruption.is_some();
    for rec in r
        .records(from)
        .take(limit.map_or(usize::MAX, |l| l as usize))
    {
        let rec = match rec {
            Ok(rec) => rec,
            Err(e) => {
                eprintln!("mam: journal: {e}");
                bad = true;
                break;
            }
        };
        let decoded = if raw {
            None
        } else {
            decode(rec.kind, rec.payload)
        };
        if json {
            let mut v = serde_json::json!({
                "seq": rec.seq,
                "kind": rec.kind,
                "len": rec.payload.len(),
                "payload_hex": hex(rec.payload),
            });
            if let Some((name, text)) = decoded {
                v["name"] = name.into();
                v["decoded"] = text.into();
            }
            writeln!(out, "{v}")?;
        } else {
            let (label, text) = match decoded {
                Some((name, text)) => (format!(" ({name})"), text),
                None => (String::new(), hex(rec.payload)),
            };
            writeln!(
                out,
                "seq={} kind={}{label} len={} {text}",
                rec.seq,
                rec.kind,
                rec.payload.len(),
            )?;
        }
    }
    out.flush()?;
    let rep = r.report();
    if let Some(t) = &rep.torn_tail {
        eprintln!("mam: journal: {t} (not printed; cut by the next writable open)");
    }
    if let Some(c) = &rep.corruption {
        eprintln!("mam: journal corrupt: {c}");
    }
    Ok(if bad {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
