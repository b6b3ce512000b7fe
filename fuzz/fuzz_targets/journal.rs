//! A journal directory holding one segment of arbitrary bytes, read as `mam journal verify` and
//! `dump` read one: the segment header and every record's frame and CRC-32C, then each record's
//! payload decoded as the engine's input or decision (and described for a dump). A damaged
//! segment must be refused or its torn tail cut, never a panic or a read past the file.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mam_core::engine::decision::describe;
use mam_core::engine::{Decision, Input};
use mam_core::journal::JournalReader;

fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("mam-fuzz-journal-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("temp dir");
        d
    })
}

fuzz_target!(|data: &[u8]| {
    let d = dir();
    let seg = d.join("journal-000001.mamj");
    if std::fs::write(&seg, data).is_err() {
        return;
    }
    if let Ok(r) = JournalReader::open(d) {
        for rec in r.records(0).take(100_000) {
            let Ok(rec) = rec else { break };
            let _ = Input::decode(rec.kind, rec.payload);
            let _ = Decision::decode(rec.kind, rec.payload);
            let _ = describe(rec.kind, rec.payload);
        }
    }
});
