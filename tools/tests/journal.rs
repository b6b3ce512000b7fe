//! `mam journal verify|dump` through the real binary, on journals written by mam-core.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mam_core::journal::{Journal, JournalConfig, JournalReader};

fn mam(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mam"))
        .args(args)
        .output()
        .expect("run mam")
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).expect("one JSON object")
}

/// 30 records of kinds 1, 2, 3 (10 each), payload `[seq; seq % 20]`, in 512-byte segments.
fn write_journal(dir: &Path) -> Vec<PathBuf> {
    let cfg = JournalConfig {
        segment_size: 512,
        ..JournalConfig::default()
    };
    let (mut j, _) = Journal::open(dir, cfg).unwrap();
    for i in 1..=30u64 {
        let kind = (i % 3 + 1) as u16;
        assert_eq!(
            j.append(kind, &vec![i as u8; (i % 20) as usize]).unwrap(),
            i
        );
    }
    j.sync().unwrap();
    j.segments().into_iter().map(|s| s.path).collect()
}

fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect();
    v.sort();
    v
}

#[test]
fn verify_counts_kinds_and_range() {
    let d = tempfile::tempdir().unwrap();
    let segs = write_journal(d.path());
    assert!(segs.len() > 1);
    let dir = d.path().to_str().unwrap();
    let o = mam(&["journal", "verify", dir, "--json"]);
    assert!(o.status.success());
    let v = json(&o);
    assert_eq!(v["ok"], true);
    assert_eq!(
        (
            v["records"].clone(),
            v["first_seq"].clone(),
            v["last_seq"].clone()
        ),
        (30.into(), 1.into(), 30.into())
    );
    assert_eq!(v["kinds"], serde_json::json!({"1": 10, "2": 10, "3": 10}));
    assert_eq!(v["segments"].as_array().unwrap().len(), segs.len());
    assert!(v["torn_tail"].is_null() && v["corruption"].is_null());
    let text = String::from_utf8(mam(&["journal", "verify", dir]).stdout).unwrap();
    assert!(text.contains("30 records, seq 1..=30"), "{text}");
    assert!(text.contains("tail: clean"));
}

#[test]
fn dump_prints_records_from_and_limit() {
    let d = tempfile::tempdir().unwrap();
    write_journal(d.path());
    let dir = d.path().to_str().unwrap();
    let o = mam(&["journal", "dump", dir, "--from", "5", "--limit", "3"]);
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<_> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "seq=5 kind=3 len=5 0505050505",
            "seq=6 kind=1 len=6 060606060606",
            "seq=7 kind=2 len=7 07070707070707",
        ]
    );
    let o = mam(&["journal", "dump", dir, "--json", "--from", "20"]);
    let lines: Vec<serde_json::Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 11);
    assert_eq!(
        lines[0],
        serde_json::json!({"seq": 20, "kind": 3, "len": 0, "payload_hex": ""})
    );
    assert_eq!(lines[1]["payload_hex"], "15");
}

#[test]
fn torn_tail_is_reported_not_changed_and_exit_is_zero() {
    let d = tempfile::tempdir().unwrap();
    let segs = write_journal(d.path());
    let last = segs.last().unwrap();
    let r = JournalReader::open(d.path()).unwrap();
    let end = r.report().segments.last().unwrap().end as usize;
    let last_rec = r.records(30).next().unwrap().unwrap().offset;
    drop(r);
    let b = std::fs::read(last).unwrap();
    std::fs::write(last, &b[..end - 3]).unwrap();
    let before = snapshot(d.path());
    let o = mam(&["journal", "verify", d.path().to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "a torn tail is not a failure");
    let v = json(&o);
    assert_eq!(v["records"], 29);
    assert_eq!(v["torn_tail"]["offset"], last_rec);
    assert!(v["torn_tail"]["segment"]
        .as_str()
        .unwrap()
        .ends_with(last.file_name().unwrap().to_str().unwrap()));
    let o = mam(&[
        "journal",
        "dump",
        d.path().to_str().unwrap(),
        "--from",
        "29",
    ]);
    assert!(o.status.success());
    assert_eq!(String::from_utf8(o.stdout).unwrap().lines().count(), 1);
    assert!(String::from_utf8(o.stderr).unwrap().contains("torn tail"));
    assert_eq!(snapshot(d.path()), before, "verify and dump change nothing");
}

#[test]
fn corruption_in_the_middle_names_segment_and_offset_and_fails() {
    let d = tempfile::tempdir().unwrap();
    let segs = write_journal(d.path());
    let r = JournalReader::open(d.path()).unwrap();
    let rec = r.records(2).next().unwrap().unwrap();
    let off = rec.offset;
    drop(r);
    let mut b = std::fs::read(&segs[0]).unwrap();
    b[off + 24] ^= 0xff;
    std::fs::write(&segs[0], &b).unwrap();
    let dir = d.path().to_str().unwrap();
    let o = mam(&["journal", "verify", dir, "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let v = json(&o);
    assert_eq!(v["ok"], false);
    assert_eq!(v["records"], 1, "only the record before the damage counts");
    assert_eq!(v["corruption"]["offset"], off);
    assert!(v["corruption"]["segment"]
        .as_str()
        .unwrap()
        .ends_with("journal-000001.mamj"));
    assert!(v["corruption"]["problem"]
        .as_str()
        .unwrap()
        .contains("bad CRC"));
    let text = String::from_utf8(mam(&["journal", "verify", dir]).stdout).unwrap();
    assert!(
        text.contains(&format!("CORRUPT: {}", segs[0].display())),
        "{text}"
    );
    assert!(text.contains(&format!("offset {off}")), "{text}");
    let o = mam(&["journal", "dump", dir]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8(o.stderr)
        .unwrap()
        .contains("journal corrupt"));
}

#[test]
fn missing_directory_is_an_error() {
    let o = mam(&["journal", "verify", "/nonexistent/journal/dir"]);
    assert!(!o.status.success());
    assert!(String::from_utf8(o.stderr)
        .unwrap()
        .contains("not a journal directory"));
}

#[test]
fn dump_decodes_engine_records() {
    use mam_core::engine::input::{RiskCommand, KIND_RISK_COMMAND, RISK_KILL};
    let d = tempfile::tempdir().unwrap();
    let cfg = JournalConfig {
        segment_size: 4096,
        ..JournalConfig::default()
    };
    let (mut j, _) = Journal::open(d.path(), cfg).unwrap();
    let cmd = RiskCommand {
        ts_ns: 42,
        action: RISK_KILL,
        _pad: 0,
    };
    j.append(KIND_RISK_COMMAND, bytemuck::bytes_of(&cmd))
        .unwrap();
    j.append(KIND_RISK_COMMAND, b"short").unwrap(); // wrong length: shown as hex
    j.sync().unwrap();
    let dir = d.path().to_str().unwrap();
    let text = String::from_utf8(mam(&["journal", "dump", dir]).stdout).unwrap();
    let lines: Vec<_> = text.lines().collect();
    assert!(
        lines[0].starts_with(
            "seq=1 kind=6 (risk_command) len=16 Risk(RiskCommand { ts_ns: 42, action: 1"
        ),
        "{text}"
    );
    assert_eq!(lines[1], "seq=2 kind=6 len=5 73686f7274");
    let raw =
        String::from_utf8(mam(&["journal", "dump", dir, "--raw", "--limit", "1"]).stdout).unwrap();
    assert!(
        raw.starts_with("seq=1 kind=6 len=16 2a00000000000000"),
        "{raw}"
    );
    let o = mam(&["journal", "dump", dir, "--json", "--limit", "1"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["name"], "risk_command");
    assert!(v["decoded"].as_str().unwrap().contains("ts_ns: 42"));
    let v = json(&mam(&["journal", "verify", dir, "--json"]));
    assert_eq!(v["kinds"], serde_json::json!({"6": 2}));
}

#[test]
fn state_directory_verifies_its_journal_and_says_so() {
    let d = tempfile::tempdir().unwrap();
    let jdir = d.path().join("journal");
    std::fs::create_dir(&jdir).unwrap();
    std::fs::create_dir(d.path().join("checkpoints")).unwrap();
    write_journal(&jdir);
    let state = d.path().to_str().unwrap();
    let o = mam(&["journal", "verify", state]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains(&format!("journal {}:", jdir.display())) && text.contains("30 records"),
        "{text}"
    );
    assert!(String::from_utf8(o.stderr)
        .unwrap()
        .contains(&format!("reading its journal directory {}", jdir.display())),);
    let o = mam(&["journal", "verify", state, "--json"]);
    let v = json(&o);
    assert_eq!(v["records"], 30);
    assert_eq!(v["dir"], jdir.display().to_string());
}

#[test]
fn empty_or_non_journal_directory_is_not_clean() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("notes.txt"), "hello").unwrap();
    for dir in [d.path().to_path_buf(), {
        // A state directory whose journal/ holds no segment either.
        let s = d.path().join("state");
        std::fs::create_dir_all(s.join("journal")).unwrap();
        s
    }] {
        let o = mam(&["journal", "verify", dir.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{}", dir.display());
        let err = String::from_utf8(o.stderr).unwrap();
        assert!(err.contains("no journal segments in"), "{err}");
        assert!(!String::from_utf8(o.stdout).unwrap().contains("clean"));
    }
}

/// A stopped daemon's state directory: two accounts (imported with the real binary), a
/// checkpoint at seq 0, then three balance inputs journaled after it. Returns the directory
/// and the final segment.
fn state_dir(root: &Path) -> (PathBuf, PathBuf) {
    use mam_core::engine::input::{BalanceChange, Input};
    use mam_core::engine::{Engine, EngineConfig};
    std::fs::write(
        root.join("a.csv"),
        "id,balance,equity\nA1,1000,1000\nA2,2000,2000\n",
    )
    .unwrap();
    let store = root.join("a.mams");
    let o = mam(&[
        "accounts",
        "import",
        "--store",
        store.to_str().unwrap(),
        root.join("a.csv").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let accounts = mam_core::account::store::AccountStore::open_read_only(&store)
        .unwrap()
        .to_vecs();
    let state = root.join("state");
    let symbols = mam_core::symbol::SymbolTable::builtin();
    let mut e = Engine::new(symbols, accounts, EngineConfig::permissive()).unwrap();
    let (mut j, _) = Journal::open(&state.join("journal"), JournalConfig::default()).unwrap();
    e.write_checkpoint(&state.join("checkpoints"), &mut j)
        .unwrap();
    for i in 0..3u64 {
        let b = BalanceChange {
            ts_ns: 1 + i,
            amount: mam_core::num::Money(1_000_000 * (i as i64 + 1)),
            account: (i % 2) as u32,
            manager: 0,
            flags: 0,
            request_id: 0,
        };
        e.apply(&Input::Balance(b), &mut j, |_| {}).unwrap();
    }
    j.sync().unwrap();
    let seg = j.segments().pop().unwrap().path;
    (state, seg)
}

/// Every file under `dir`, recursively, with its bytes.
fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(tree(&p));
        } else {
            out.push((p.clone(), std::fs::read(&p).unwrap()));
        }
    }
    out.sort();
    out
}

/// Issue #10: a flipped bit in the last complete record of a state directory's journal.
/// `journal state` and `accounts statement` used to cut it as a torn tail (zeroing it on
/// disk) and print a different digest with exit 0; `journal verify` then said "clean". Now
/// all three refuse, naming the segment and offset, and no byte of the directory changes.
#[test]
fn flipped_bit_in_last_record_is_refused_by_every_command_and_nothing_changes() {
    let d = tempfile::tempdir().unwrap();
    let (state, seg) = state_dir(d.path());
    let s = state.to_str().unwrap();
    let o = mam(&["journal", "state", s]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = JournalReader::open(&state.join("journal")).unwrap();
    let last = r.records(0).map(|x| x.unwrap()).last().unwrap().offset;
    drop(r);
    let mut b = std::fs::read(&seg).unwrap();
    b[last + 24] ^= 0x10;
    std::fs::write(&seg, &b).unwrap();
    let before = tree(&state);
    let name = seg.file_name().unwrap().to_str().unwrap();
    for args in [
        vec!["journal", "state", s],
        vec!["accounts", "statement", "--state", s],
        vec!["journal", "verify", s],
    ] {
        let o = mam(&args);
        assert!(!o.status.success(), "{args:?} accepted a damaged record");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            text.contains(name) && text.contains(&format!("offset {last}")),
            "{args:?}: {text}"
        );
        assert!(
            !text.contains("tail: clean") || args[1] != "verify",
            "{text}"
        );
        assert!(
            tree(&state) == before,
            "{args:?} changed the state directory"
        );
    }
}

/// Issue #10: with the journal's only segment deleted, `journal state` created a fresh 64 MiB
/// segment before refusing. Read-only commands create nothing; the refusal names the gap.
#[test]
fn missing_segment_is_refused_without_creating_anything() {
    let d = tempfile::tempdir().unwrap();
    let (state, seg) = state_dir(d.path());
    std::fs::remove_file(&seg).unwrap();
    let before = tree(&state);
    let s = state.to_str().unwrap();
    for args in [
        vec!["journal", "state", s],
        vec!["accounts", "statement", "--state", s],
        vec!["journal", "verify", s],
        vec!["journal", "dump", s],
    ] {
        let o = mam(&args);
        assert!(!o.status.success(), "{args:?} accepted a missing segment");
        assert!(
            tree(&state) == before,
            "{args:?} changed the state directory"
        );
        assert_eq!(std::fs::read_dir(state.join("journal")).unwrap().count(), 0);
    }
    let o = mam(&["journal", "state", s]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no journal segment"), "{err}");
}

/// A torn tail (a record whose CRC was never written) is cut in memory by `journal state`: it
/// prints the state without it, exits 0, and leaves the file as it was.
#[test]
fn journal_state_replays_a_torn_tail_without_cutting_it() {
    let d = tempfile::tempdir().unwrap();
    let (state, seg) = state_dir(d.path());
    let r = JournalReader::open(&state.join("journal")).unwrap();
    let last = r.records(0).map(|x| x.unwrap()).last().unwrap().offset;
    drop(r);
    let mut b = std::fs::read(&seg).unwrap();
    b[last..last + 4].fill(0);
    std::fs::write(&seg, &b).unwrap();
    let before = tree(&state);
    let out = d.path().join("state.bin");
    let o = mam(&[
        "journal",
        "state",
        state.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        tree(&state) == before,
        "journal state changed the state directory"
    );
    assert!(std::fs::metadata(&out).unwrap().len() > 0);
}

/// `journal verify STATE_DIR` on a damaged state directory names its `journal/` segment.
#[test]
fn verify_state_dir_reports_its_journal_damage() {
    let d = tempfile::tempdir().unwrap();
    let (state, seg) = state_dir(d.path());
    let mut b = std::fs::read(&seg).unwrap();
    b[64 + 30] ^= 1;
    std::fs::write(&seg, &b).unwrap();
    let o = mam(&["journal", "verify", state.to_str().unwrap(), "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let v = json(&o);
    assert_eq!(v["dir"], state.join("journal").display().to_string());
    assert_eq!(v["corruption"]["offset"], 64);
    assert!(v["corruption"]["segment"]
        .as_str()
        .unwrap()
        .ends_with("journal/journal-000001.mamj"));
}
