//! Errors name what was wrong and where, once: a cause its parent already printed is not
//! printed again.

use std::process::Command;

fn stderr_of(args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_mam"))
        .args(args)
        .output()
        .unwrap();
    assert!(!o.status.success(), "{args:?} succeeded");
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_missing_file_is_named_and_its_cause_said_once() {
    let dir = tempfile::tempdir().unwrap();
    for (args, name) in [
        (vec!["hist"], "missing.hlog"),
        (vec!["capture", "inspect"], "missing.pcap"),
    ] {
        let p = dir.path().join(name);
        let mut a = args.clone();
        let ps = p.display().to_string();
        a.push(&ps);
        let e = stderr_of(&a);
        assert!(e.contains(name), "{e}");
        assert_eq!(e.matches("os error 2").count(), 1, "{e}");
    }
}
