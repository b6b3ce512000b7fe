//! Store tests: round trips, growth, dirtiness, and every corruption kind.

use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::*;
use crate::account::{encode_currency, encode_id, AccountRecord, FLAG_ACTIVE, FLAG_LIMIT_FLATTEN};
use crate::num::{Lots, Money, Ratio};

fn rec(i: u32) -> AccountRecord {
    AccountRecord {
        id: encode_id(&format!("ACC{i}")).unwrap(),
        balance: Money(1_000_000_000 + i64::from(i)),
        equity: Money(-5 - i64::from(i)),
        margin_used: Money(7),
        equity_hwm: Money(9),
        multiplier: Ratio(1_500_000),
        percent: Ratio(33_333_333),
        fixed_lots: Lots(300),
        risk_fraction: Ratio(10_000),
        drawdown_tolerance: Ratio(200_000),
        min_scale: Ratio(1),
        max_scale: Ratio(2),
        leverage: 30 + i,
        cluster: i as u16,
        flags: FLAG_ACTIVE | FLAG_LIMIT_FLATTEN,
        commission_per_lot: Money(3_500_000 + i64::from(i)),
        daily_loss_limit: Money(250_000_000),
        margin_call_level: Ratio(120_000_000),
        stop_out_level: Ratio(60_000_000),
        currency: encode_currency(if i.is_multiple_of(2) { "EUR" } else { "USDT" }).unwrap(),
    }
}

fn vecs(n: u32) -> AccountVecs {
    let mut v = AccountVecs::default();
    (0..n).for_each(|i| v.push(&rec(i)));
    v
}

fn sealed(dir: &Path, n: u32, cap: u64) -> PathBuf {
    let p = dir.join("accounts.mams");
    AccountStore::write_new(&p, &vecs(n).columns(), cap, 42).unwrap();
    p
}

fn patch(p: &Path, f: impl FnOnce(&mut Vec<u8>)) {
    let mut b = std::fs::read(p).unwrap();
    f(&mut b);
    std::fs::write(p, b).unwrap();
}

#[test]
fn create_push_flush_reopen() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("s");
    let mut s = AccountStore::create(&p, 4).unwrap();
    assert!(s.is_empty());
    assert!(
        AccountStore::create(&p, 4).is_err(),
        "create refuses an existing file"
    );
    for i in 0..3 {
        assert_eq!(s.push(&rec(i)).unwrap(), i as usize);
    }
    assert!(matches!(s.push(&rec(1)), Err(StoreError::DuplicateId(_))));
    s.set_last_applied_seq(77).unwrap();
    s.sync().unwrap();
    drop(s);
    let s = AccountStore::open_read_only(&p).unwrap();
    assert_eq!(s.to_vecs(), vecs(3));
    assert_eq!(s.last_applied_seq(), 77);
    assert_eq!(s.find("ACC2"), Some(2));
    assert_eq!(s.find("nope"), None);
    assert_eq!(s.record(3), None);
    assert!(is_store_file(&p).unwrap());
}

#[test]
fn columns_are_aligned_and_match_records() {
    let d = tempfile::tempdir().unwrap();
    let s = AccountStore::open(&sealed(d.path(), 5, 8)).unwrap();
    let c = s.columns();
    assert_eq!(c.equity.as_ptr() as usize % COLUMN_ALIGN, 0);
    assert_eq!(c.flags.as_ptr() as usize % COLUMN_ALIGN, 0);
    for i in 0..5 {
        assert_eq!(c.record(i as usize), rec(i));
    }
}

#[test]
fn layout_of_version_2() {
    assert_eq!(VERSION, 2);
    assert_eq!(COLUMNS.len(), 20);
    let h = Header::new(0);
    assert_eq!((h.column_count, h.record_size), (20, 152));
    // The figures docs/storage.md quotes for capacity 1024.
    let l = Layout::new(1024).unwrap();
    assert_eq!(&l.offsets[..3], &[128, 16512, 24704]);
    assert_eq!(l.offsets[14], 112768);
    assert_eq!(&l.offsets[15..], &[114816, 123008, 131200, 139392, 147584]);
    assert_eq!(l.file_len, 155776);
}

#[test]
fn new_columns_survive_every_path() {
    let d = tempfile::tempdir().unwrap();
    let p = sealed(d.path(), 3, 4);
    let mut s = AccountStore::open(&p).unwrap();
    assert_eq!(s.record(1), Some(rec(1)));
    assert_eq!(s.columns().currency[1], *b"USDT\0\0\0\0");
    {
        let c = s.columns_mut().unwrap();
        c.commission_per_lot[2] = Money(7);
        c.daily_loss_limit[2] = Money(8);
        c.margin_call_level[2] = Ratio(9);
        c.stop_out_level[2] = Ratio(1);
        c.currency[2] = encode_currency("JPY").unwrap();
    }
    s.flush().unwrap();
    s.grow(64).unwrap();
    drop(s);
    let r = AccountStore::open_read_only(&p).unwrap().record(2).unwrap();
    assert_eq!(
        (
            r.commission_per_lot,
            r.daily_loss_limit,
            r.margin_call_level,
            r.stop_out_level,
            r.currency_str()
        ),
        (Money(7), Money(8), Ratio(9), Ratio(1), "JPY")
    );
}

#[test]
fn version_1_file_is_refused_with_what_to_do() {
    let d = tempfile::tempdir().unwrap();
    let p = sealed(d.path(), 3, 4);
    patch(&p, |b| b[8..12].copy_from_slice(&1u32.to_le_bytes()));
    let e = AccountStore::open(&p).unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::BadVersion {
                found: 1,
                expected: 2,
                ..
            }
        ),
        "{e}"
    );
    let msg = e.to_string();
    for want in [
        "layout version 1",
        "reads version 2",
        "mam accounts export",
        "import that CSV into a new store",
    ] {
        assert!(msg.contains(want), "{want:?} missing from {msg}");
    }
}

#[test]
fn read_only_refuses_writes() {
    let d = tempfile::tempdir().unwrap();
    let mut s = AccountStore::open_read_only(&sealed(d.path(), 1, 1)).unwrap();
    assert!(matches!(s.columns_mut(), Err(StoreError::ReadOnly { .. })));
    assert!(matches!(s.grow(10), Err(StoreError::ReadOnly { .. })));
}

#[test]
fn grow_preserves_everything() {
    let d = tempfile::tempdir().unwrap();
    let p = sealed(d.path(), 2, 2);
    let mut s = AccountStore::open(&p).unwrap();
    assert!(matches!(
        s.push(&rec(9)),
        Err(StoreError::Full { capacity: 2 })
    ));
    s.grow(1000).unwrap();
    assert_eq!((s.capacity(), s.len(), s.last_applied_seq()), (1000, 2, 42));
    s.push(&rec(2)).unwrap();
    s.flush().unwrap();
    assert!(matches!(s.grow(1), Err(StoreError::BadCapacity { .. })));
    drop(s);
    let s = AccountStore::open(&p).unwrap();
    assert_eq!(s.to_vecs(), vecs(3));
    assert!(!write::temp_path(&p).exists());
}

#[test]
fn in_place_write_without_flush_is_dirty_and_flush_seals() {
    let d = tempfile::tempdir().unwrap();
    let p = sealed(d.path(), 3, 4);
    let mut s = AccountStore::open(&p).unwrap();
    s.columns_mut().unwrap().balance[1] = Money(123);
    drop(s); // the writer "dies" before flushing
    let e = AccountStore::open(&p).unwrap_err();
    assert!(matches!(e, StoreError::Dirty { .. }), "{e}");
    assert!(e.to_string().contains("dirty"));
    patch(&p, |b| b[44] = 0); // clear the dirty bit by hand: now it is plain corruption
    assert!(matches!(
        AccountStore::open(&p),
        Err(StoreError::ChecksumMismatch { .. })
    ));
    // A flushed store opens, and its header is clean again.
    let p2 = sealed(d.path(), 3, 4);
    let mut s = AccountStore::open(&p2).unwrap();
    s.columns_mut().unwrap().equity[0] = Money(1);
    s.flush().unwrap();
    drop(s);
    let s = AccountStore::open(&p2).unwrap();
    assert_eq!(s.header().state, 0);
    assert_eq!(s.columns().equity[0], Money(1));
}

#[test]
fn snapshot_is_a_sealed_copy() {
    let d = tempfile::tempdir().unwrap();
    let mut s = AccountStore::open(&sealed(d.path(), 3, 4)).unwrap();
    s.columns_mut().unwrap().equity[2] = Money(99);
    s.set_last_applied_seq(50).unwrap();
    let snap = d.path().join("snap");
    s.snapshot_to(&snap).unwrap();
    let c = AccountStore::open_read_only(&snap).unwrap();
    assert_eq!(
        (c.columns().equity[2], c.last_applied_seq()),
        (Money(99), 50)
    );
}

#[test]
fn each_corruption_is_named() {
    let d = tempfile::tempdir().unwrap();
    let fresh = || sealed(d.path(), 3, 4);
    let open = |p: &Path| AccountStore::open(p).unwrap_err();

    let p = fresh();
    patch(&p, |b| b[0] ^= 0xff);
    assert!(matches!(open(&p), StoreError::BadMagic { .. }));
    let p = fresh();
    patch(&p, |b| b[8] = 9);
    assert!(matches!(open(&p), StoreError::BadVersion { found: 9, .. }));
    let p = fresh();
    patch(&p, |b| b[24] = 5); // count 5 > capacity 4
    assert!(matches!(
        open(&p),
        StoreError::CountExceedsCapacity {
            count: 5,
            capacity: 4,
            ..
        }
    ));
    let p = fresh();
    patch(&p, |b| b[16] = 200); // capacity 200: file too short for it
    assert!(matches!(open(&p), StoreError::SizeMismatch { .. }));
    let p = fresh();
    patch(&p, |b| b[12] = 0);
    assert!(matches!(open(&p), StoreError::BadHeader { .. }));
    let p = fresh();
    patch(&p, |b| b[40] ^= 1); // the checksum itself
    assert!(matches!(open(&p), StoreError::ChecksumMismatch { .. }));
    let s = AccountStore::open(&fresh()).unwrap();
    let eq = s.layout().offsets[2] + 8;
    drop(s);
    let p = fresh();
    patch(&p, |b| b[eq] ^= 0x10); // equity of account 1
    assert!(matches!(open(&p), StoreError::ChecksumMismatch { .. }));
    for len in [0, 5, 100] {
        let p = fresh();
        patch(&p, |b| b.truncate(len));
        assert!(matches!(open(&p), StoreError::TooShort { .. }), "len {len}");
    }
    let p = fresh();
    patch(&p, |b| {
        b.pop();
    });
    assert!(matches!(open(&p), StoreError::SizeMismatch { .. }));
    let p = fresh();
    patch(&p, |b| b.push(0));
    assert!(matches!(open(&p), StoreError::SizeMismatch { .. }));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any flip of header or used-column bytes is refused (never a panic, never accepted),
    /// except setting the dirty bit alone, which is a consistent store marked dirty.
    #[test]
    fn any_flip_in_covered_bytes_is_refused(pick in any::<prop::sample::Index>(), mask in 1u8..) {
        let d = tempfile::tempdir().unwrap();
        let p = sealed(d.path(), 3, 4);
        let s = AccountStore::open(&p).unwrap();
        let mut covered: Vec<usize> = (0..HEADER_LEN).collect();
        for c in 0..COLUMNS.len() {
            covered.extend(s.layout().used(c, 3));
        }
        drop(s);
        let at = covered[pick.index(covered.len())];
        patch(&p, |b| b[at] ^= mask);
        let r = AccountStore::open(&p);
        if at == 44 && mask == 1 {
            prop_assert!(r.is_ok());
        } else {
            prop_assert!(r.is_err(), "flip at {} by {:#x} accepted", at, mask);
        }
    }

    /// Arbitrary bytes (with or without a valid magic) never panic the opener.
    #[test]
    fn arbitrary_files_never_panic(mut bytes in prop::collection::vec(any::<u8>(), 0..600), magic in any::<bool>()) {
        if magic && bytes.len() >= 8 {
            bytes[..8].copy_from_slice(&MAGIC);
        }
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x");
        std::fs::write(&p, &bytes).unwrap();
        prop_assert!(AccountStore::open(&p).is_err() || bytes.len() >= HEADER_LEN);
    }
}
