//! The account CSV `mam accounts import` reads (tools/src/accounts_io.rs, compiled here from its
//! own source: the tools crate is a binary): header, cells, exact decimals, ranges, flags,
//! currencies. A bad file must be refused with its line and column, never a panic; what it
//! accepts must write back (`write_csv`) to a CSV that parses to the same accounts.
#![no_main]
#![allow(dead_code)]

#[path = "../../tools/src/accounts_io.rs"]
mod accounts_io;

use libfuzzer_sys::fuzz_target;
use mam_core::account::AccountVecs;

fuzz_target!(|data: &[u8]| {
    let Ok(rows) = accounts_io::parse_csv(data) else {
        return;
    };
    let mut v = AccountVecs::default();
    for (_, r) in &rows {
        v.push(r);
    }
    let mut out = Vec::new();
    accounts_io::write_csv(&mut out, &v.columns()).expect("an accepted file writes back");
    let again = accounts_io::parse_csv(&out[..]).expect("what mam writes, mam reads");
    let a: Vec<_> = rows.iter().map(|(_, r)| *r).collect();
    let b: Vec<_> = again.iter().map(|(_, r)| *r).collect();
    assert_eq!(a, b, "a CSV round trip changes nothing");
});
