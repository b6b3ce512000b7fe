//! An account store file (`*.mams`) of arbitrary bytes, opened as `mam accounts show` and a
//! checkpoint's recovery open one: the header, the column layout against the file's length, the
//! CRC-32; then every account read back. A damaged store must be refused with what is wrong,
//! never a panic or a read past the mapping (SIGBUS).
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mam_core::account::store::AccountStore;

fn path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        std::env::temp_dir().join(format!("mam-fuzz-store-{}.mams", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    let p = path();
    if std::fs::write(p, data).is_err() {
        return;
    }
    if let Ok(s) = AccountStore::open_read_only(p) {
        let _ = s.verify();
        let _ = s.header();
        for i in 0..s.len().min(4096) {
            if let Some(r) = s.record(i) {
                let _ = (r.id_str(), r.currency_str(), r.free_margin());
            }
        }
        let v = s.to_vecs();
        let _ = v.id.len();
    }
});
