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
    assert!(String::from_utf8(o.stderr).unwrap().contains(&format!(
        "verifying its journal directory {}",
        jdir.display()
    )),);
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
