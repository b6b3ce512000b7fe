//! `mam journal verify|dump`: check a journal directory and print its records.
//!
//! Both open the journal read-only ([`JournalReader`]): a torn tail is reported (it would be
//! cut by the engine's next open) but nothing is changed. Corruption anywhere but the tail
//! makes both exit with status 1 after printing what they could read.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use mam_core::journal::{JournalReader, Record, ScanReport};

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
    /// Print one line per record: sequence, kind, length, payload.
    Dump {
        /// The journal directory.
        dir: PathBuf,
        /// First sequence number to print.
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// Print at most this many records.
        #[arg(long)]
        limit: Option<u64>,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
}

/// A payload decoder for one record kind: returns a readable form, or `None` if the payload
/// does not decode (then the hex is printed).
pub type Decoder = fn(&[u8]) -> Option<String>;

/// Decoders by record kind, with the kind's name. The engine's record kinds register here;
/// kinds without one are printed as hex.
pub const DECODERS: &[(u16, &str, Decoder)] = &[];

/// Runs `mam journal`.
pub fn run(c: Command) -> anyhow::Result<ExitCode> {
    match c {
        Command::Verify { dir, json } => verify(&dir, json),
        Command::Dump {
            dir,
            from,
            limit,
            json,
        } => dump(&dir, from, limit, json),
    }
}

fn open(dir: &Path) -> anyhow::Result<JournalReader> {
    anyhow::ensure!(dir.is_dir(), "{} is not a journal directory", dir.display());
    Ok(JournalReader::open(dir)?)
}

fn verify(dir: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let r = open(dir)?;
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
        let name = DECODERS
            .iter()
            .find(|d| d.0 == *k)
            .map_or(String::new(), |d| format!(" ({})", d.1));
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
        None => println!("tail: clean"),
    }
    if let Some(c) = &rep.corruption {
        println!("CORRUPT: {c}");
    }
}

fn payload_text(rec: &Record<'_>) -> (Option<&'static str>, String) {
    if let Some((_, name, dec)) = DECODERS.iter().find(|d| d.0 == rec.kind) {
        if let Some(s) = dec(rec.payload) {
            return (Some(name), s);
        }
    }
    let mut hex = String::with_capacity(rec.payload.len() * 2);
    for b in rec.payload {
        let _ = write!(hex, "{b:02x}");
    }
    (None, hex)
}

fn dump(dir: &Path, from: u64, limit: Option<u64>, json: bool) -> anyhow::Result<ExitCode> {
    let r = open(dir)?;
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
        let (name, text) = payload_text(&rec);
        if json {
            let mut v =
                serde_json::json!({"seq": rec.seq, "kind": rec.kind, "len": rec.payload.len()});
            match name {
                Some(n) => {
                    v["name"] = n.into();
                    v["decoded"] = text.into();
                }
                None => v["payload_hex"] = text.into(),
            }
            writeln!(out, "{v}")?;
        } else {
            let label = name.map_or(String::new(), |n| format!(" ({n})"));
            writeln!(
                out,
                "seq={} kind={}{label} len={} {}",
                rec.seq,
                rec.kind,
                rec.payload.len(),
                text
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
