//! The FIX 4.4 acceptor session (mam's manager edge) fed arbitrary bytes: framing, the
//! dictionary, sequence numbers, admin messages, resends. A fresh session and store per input.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mam_gateway::fix::session::{Role, Session, SessionConfig};
use mam_gateway::fix::store::{Store, StoreOptions};

fn dir() -> &'static std::path::Path {
    static D: OnceLock<std::path::PathBuf> = OnceLock::new();
    D.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("mam-fuzz-session-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("temp dir");
        d
    })
}

fuzz_target!(|data: &[u8]| {
    let d = dir();
    let _ = std::fs::remove_dir_all(d);
    let opts = StoreOptions {
        log_bytes: 64 << 10,
        index_entries: 256,
    };
    let Ok(store) = Store::open_with(d, opts) else {
        return;
    };
    let mut cfg = SessionConfig::new(Role::Acceptor, "MAM", "MGR");
    cfg.password = Some(b"pw".to_vec());
    let Ok(mut s) = Session::new(cfg, store) else {
        return;
    };
    s.accept_app_type(b"D");
    s.accept_app_type(b"F");
    s.accept_app_type(b"G");
    s.accept_app_type(b"h");
    let mut out: Vec<u8> = Vec::new();
    // 2023-11-14 22:13:20 UTC: inputs that stamp SendingTime near it pass the accuracy check.
    let now = 1_700_000_000_000_000_000u64;
    // Two halves: a message split across reads is the common case on a socket.
    let (a, b) = data.split_at(data.len() / 2);
    // As the acceptor does on accept: a session not connected drops every byte unread (until
    // stop 24 this target never called it, so it fuzzed nothing past `on_bytes`' first check).
    if s.on_connected(now, &mut out).is_err() {
        return;
    }
    let _ = s.on_bytes(now, a, &mut out, &mut |_| {});
    let _ = s.on_bytes(now + 1_000_000, b, &mut out, &mut |_| {});
    let _ = s.on_tick(now + 60_000_000_000, &mut out, &mut |_| {});
});
