//! Issue #10: the daemon's first start is atomic. A first start killed (SIGKILL or SIGTERM) at
//! any instant leaves a state directory that is either absent or starts: never one that every
//! later start refuses (a supervisor restarting the daemon would never get it back). An early
//! SIGTERM ends the process cleanly (exit 0). After a start that fails once the state exists,
//! the next start says that `accounts.file` is not read and which accounts the state holds.
//!
//! Real processes (see `mam_tests::daemon`): a minimal daemon, no feed, no manager, an LP
//! address nobody listens on (the daemon starts anyway and keeps reconnecting).

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mam_tests::daemon::{mam, out_file, Proc, Rng};

/// Kills in the test; their delays are spread over the first start's first ~300 ms.
const KILLS: u64 = 50;
const SPREAD_MS: u64 = 300;

/// `dir/mam.toml` for a minimal daemon with its state in `dir/state`.
fn write_config(dir: &Path, accounts: &str) -> (PathBuf, PathBuf) {
    let state = dir.join("state");
    let config = dir.join("mam.toml");
    let text = format!(
        "state = \"{}\"\n[accounts]\n{accounts}\n[manager]\nenabled = false\n\
         [feed]\nsource = \"none\"\n[pipeline]\nmode = \"shared\"\npin = false\n\
         [lp]\nconnect = \"127.0.0.1:9\"\n",
        state.display()
    );
    std::fs::write(&config, text).unwrap();
    (config, state)
}

fn start(config: &Path, out: &Path) -> Proc {
    let args = vec![
        "run".to_string(),
        "--config".into(),
        config.display().to_string(),
    ];
    Proc::mam("daemon", &args, out)
}

/// Starts the daemon, waits until its stages run, stops it with SIGTERM: it must exit 0.
fn start_and_stop(config: &Path, out: &Path) {
    let from = std::fs::metadata(out).map_or(0, |m| m.len() as usize);
    let mut p = start(config, out);
    p.wait_line(from, "the daemon's stages running", |l| {
        l.contains("stages [") && l.contains("running")
    });
    p.signal("-TERM");
    let st = p.wait();
    assert!(st.success(), "{st}:\n{}", p.output());
}

#[test]
fn a_first_start_killed_at_any_instant_leaves_a_state_that_starts() {
    let d = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x5eed_f175);
    let (mut absent, mut clean_terms) = (0, 0);
    for n in 0..KILLS {
        let dir = d.path().join(format!("k{n}"));
        std::fs::create_dir_all(&dir).unwrap();
        let (config, state) = write_config(&dir, "generate = 10\nseed = 1");
        let out = out_file(&dir, "daemon");
        let delay = rng.below(SPREAD_MS);
        let term = rng.below(2) == 0;
        let mut p = start(&config, &out);
        // The delay only picks the kill instant; nothing is asserted about time.
        std::thread::sleep(Duration::from_millis(delay));
        // The handler is installed before the state directory is created: once it exists, a
        // SIGTERM must end the process cleanly.
        let handler_installed = state.exists();
        p.signal(if term { "-TERM" } else { "-KILL" });
        let st = p.wait();
        if term && handler_installed {
            assert!(
                st.success(),
                "kill {n} (SIGTERM after {delay} ms): {st}, not a clean exit:\n{}",
                p.output()
            );
            clean_terms += 1;
        } else if term {
            assert!(st.success() || st.signal() == Some(15), "kill {n}: {st}");
        }
        if !state.exists() {
            absent += 1;
        }
        // The next start must succeed, whatever the kill left.
        start_and_stop(&config, &out);
        let v = mam(&["journal", "verify", state.to_str().unwrap()]);
        assert!(v.contains("tail: clean"), "kill {n}: {v}");
        if n % 10 == 0 {
            let s = mam(&["journal", "state", state.to_str().unwrap()]);
            assert!(s.contains("10 accounts"), "kill {n}: {s}");
        }
    }
    assert!(
        clean_terms > 0,
        "no SIGTERM landed after the handler was installed"
    );
    eprintln!("{KILLS} kills: {absent} left no state directory, {clean_terms} clean SIGTERM exits");
}

/// A state directory whose journal holds records but whose checkpoint is gone is not an
/// interrupted first start: refused with the reason, and left as it was.
#[test]
fn a_journal_without_its_checkpoint_is_refused_not_reinitialised() {
    let d = tempfile::tempdir().unwrap();
    let (config, state) = write_config(d.path(), "generate = 10\nseed = 1");
    let out = out_file(d.path(), "daemon");
    start_and_stop(&config, &out);
    // Give the journal a record (a final checkpoint journals none): append one directly.
    let (mut j, _) = mam_core::journal::Journal::open(
        &state.join("journal"),
        mam_core::journal::JournalConfig::default(),
    )
    .unwrap();
    j.append(6, &[0u8; 16]).unwrap();
    j.sync().unwrap();
    drop(j);
    std::fs::remove_file(state.join("checkpoints/CURRENT")).unwrap();
    let mut p = start(&config, &out);
    let st = p.wait();
    assert!(!st.success());
    let text = p.output();
    assert!(
        text.contains("no checkpoint") && text.contains("move the state directory away"),
        "{text}"
    );
    assert!(!state.join("checkpoints/CURRENT").exists());
}

/// A first start whose manager port is taken fails before the state directory exists (the
/// listening addresses are checked first). Once a start has initialised the directory, a later
/// start with `accounts.file` set says it does not read it and which accounts the state holds,
/// rather than ignoring it silently.
#[test]
fn accounts_file_after_a_failed_first_start_is_not_silently_ignored() {
    let d = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let (config, state) = write_config(d.path(), "generate = 10\nseed = 1");
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "[manager]\nenabled = false\n",
        &format!("[manager]\nlisten = \"127.0.0.1:{port}\"\n"),
    );
    std::fs::write(&config, text).unwrap();
    let out = out_file(d.path(), "daemon");
    let mut p = start(&config, &out);
    let st = p.wait();
    assert!(!st.success(), "the port is taken:\n{}", p.output());
    assert!(
        !state.exists(),
        "nothing on disk after a start that could not listen"
    );
    drop(taken);
    let (config, _) = write_config(d.path(), "generate = 10\nseed = 1");
    start_and_stop(&config, &out);
    assert!(state.join("checkpoints/CURRENT").exists(), "initialised");
    std::fs::write(d.path().join("a.csv"), "id,balance,equity\nZ1,5,5\n").unwrap();
    let store = d.path().join("a.mams");
    mam(&[
        "accounts",
        "import",
        "--store",
        store.to_str().unwrap(),
        d.path().join("a.csv").to_str().unwrap(),
    ]);
    let (config, _) = write_config(d.path(), &format!("file = \"{}\"", store.display()));
    let from = std::fs::metadata(&out).unwrap().len() as usize;
    start_and_stop(&config, &out);
    let text = std::fs::read_to_string(&out).unwrap();
    let text = &text[from..];
    assert!(
        text.contains(&format!("accounts.file {} is not read", store.display()))
            && text.contains("already holds 10 accounts"),
        "{text}"
    );
}

/// Issue #10: a started state directory whose journal segment was removed used to get a fresh
/// 64 MiB segment before the daemon refused. It is refused before anything is written, and a
/// flipped bit in the journal's last record is refused (segment and offset) without cutting it.
#[test]
fn a_removed_segment_or_a_flipped_bit_is_refused_before_anything_is_written() {
    let d = tempfile::tempdir().unwrap();
    let (config, state) = write_config(d.path(), "generate = 10\nseed = 1");
    let out = out_file(d.path(), "daemon");
    start_and_stop(&config, &out);
    let seg = state.join("journal/journal-000001.mamj");
    let kept = std::fs::read(&seg).unwrap();
    std::fs::remove_file(&seg).unwrap();
    let mut p = start(&config, &out);
    assert!(!p.wait().success());
    assert!(p.output().contains("no journal segment"), "{}", p.output());
    assert_eq!(std::fs::read_dir(state.join("journal")).unwrap().count(), 0);
    // Back, with one record appended after the checkpoint and a bit of it flipped.
    std::fs::write(&seg, &kept).unwrap();
    let (mut j, _) = mam_core::journal::Journal::open(
        &state.join("journal"),
        mam_core::journal::JournalConfig::default(),
    )
    .unwrap();
    let seq = j.append(6, &[0u8; 16]).unwrap();
    j.sync().unwrap();
    let at = j.records(seq).next().unwrap().unwrap().offset;
    drop(j);
    let mut b = std::fs::read(&seg).unwrap();
    b[at + 30] ^= 4;
    std::fs::write(&seg, &b).unwrap();
    let mut p = start(&config, &out);
    assert!(!p.wait().success());
    let text = p.output();
    assert!(
        text.contains("journal-000001.mamj") && text.contains(&format!("offset {at}")),
        "{text}"
    );
    assert!(
        std::fs::read(&seg).unwrap() == b,
        "the damaged record was changed"
    );
}
