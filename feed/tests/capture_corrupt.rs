//! Damage in the middle of a capture is corruption, reported with its byte offset and record
//! number (or skipped and counted when reading leniently); a file cut inside its last record
//! is still a truncated tail. Real files, written here into a temporary directory.

use mam_feed::capture::{Capture, CaptureError, End, Frames, ReadOptions};
use mam_feed::pcap_write::{udp_frame, PcapWriter, TsResolution};

const N: usize = 20;
const BAD: usize = 10;
const T0: u64 = 1_700_000_000_000_000_000;
const LENIENT: ReadOptions = ReadOptions { lenient: true };

/// The Ethernet frames of the test captures: sizes differ so that offsets are not periodic.
fn frames() -> Vec<Vec<u8>> {
    let (src, dst) = (
        "10.0.0.1:5000".parse().unwrap(),
        "239.1.1.1:6000".parse().unwrap(),
    );
    (0..N)
        .map(|i| udp_frame(src, dst, &vec![i as u8; 10 + 3 * i], i as u16).unwrap())
        .collect()
}

/// A pcap file in `dir` and the byte offset of each record.
fn write_pcap(dir: &std::path::Path) -> (std::path::PathBuf, Vec<usize>) {
    let path = dir.join("t.pcap");
    let mut w = PcapWriter::new(std::fs::File::create(&path).unwrap(), TsResolution::Nano).unwrap();
    let mut offsets = Vec::new();
    let mut at = 24;
    for (i, f) in frames().iter().enumerate() {
        offsets.push(at);
        at += 16 + f.len();
        w.write_frame(T0 + i as u64 * 1_000, f).unwrap();
    }
    w.finish().unwrap();
    (path, offsets)
}

fn set_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn read(bytes: &[u8], opts: ReadOptions) -> (Vec<u64>, Frames<'_>) {
    let mut f = Frames::with_options(bytes, opts).unwrap();
    let ts = (&mut f).map(|f| f.ts_ns).collect();
    (ts, f)
}

fn all_but_bad() -> Vec<u64> {
    (0..N)
        .filter(|&i| i != BAD)
        .map(|i| T0 + i as u64 * 1_000)
        .collect()
}

/// Strict: stops at the damaged record with its offset; lenient: skips exactly that record.
fn check_damage(bytes: &[u8], offset: usize, record_len: usize, why: &str) {
    let (ts, f) = read(bytes, ReadOptions::default());
    assert_eq!(ts.len(), BAD);
    assert!(!f.truncated(), "{:?}", f.end());
    match f.end() {
        End::Corrupt {
            offset: o,
            frame,
            why: w,
        } => {
            assert_eq!((*o, *frame), (offset, BAD as u64));
            assert!(w.contains(why), "{w}");
        }
        other => panic!("expected corruption, got {other:?}"),
    }
    match f.error() {
        Some(CaptureError::Corrupt {
            offset: o, frame, ..
        }) => {
            assert_eq!((o, frame), (offset, BAD as u64))
        }
        other => panic!("expected a Corrupt error, got {other:?}"),
    }
    let (ts, f) = read(bytes, LENIENT);
    assert_eq!(ts, all_but_bad());
    assert_eq!(f.end(), &End::Complete);
    let r = f.corrupt_regions();
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(
        (r[0].offset, r[0].len, r[0].frame),
        (offset, record_len, BAD as u64)
    );
    assert_eq!(f.skipped_bytes(), record_len as u64);
}

#[test]
fn pcap_impossible_record_length_is_corruption_at_its_offset() {
    let dir = tempfile::tempdir().unwrap();
    let (path, off) = write_pcap(dir.path());
    let mut b = std::fs::read(&path).unwrap();
    set_u32(&mut b, off[BAD] + 8, 0x7fff_0000);
    std::fs::write(&path, &b).unwrap();
    let cap = Capture::open(&path).unwrap();
    check_damage(cap.bytes(), off[BAD], off[BAD + 1] - off[BAD], "exceeds");
    // the same through the file API
    let mut f = cap.frames_with(LENIENT).unwrap();
    assert_eq!((&mut f).count(), N - 1);
}

#[test]
fn pcap_believable_length_running_past_the_end_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let (path, off) = write_pcap(dir.path());
    let mut b = std::fs::read(&path).unwrap();
    let past = (b.len() - off[BAD]) as u32; // under any snap length, over what is left
    set_u32(&mut b, off[BAD] + 8, past);
    set_u32(&mut b, off[BAD] + 12, past);
    check_damage(&b, off[BAD], off[BAD + 1] - off[BAD], "runs past the end");
}

#[test]
fn pcap_cut_inside_its_last_record_is_truncated_not_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let (path, off) = write_pcap(dir.path());
    let b = std::fs::read(&path).unwrap();
    for cut in [b.len() - 5, off[N - 1] + 7] {
        for opts in [ReadOptions::default(), LENIENT] {
            let (ts, f) = read(&b[..cut], opts);
            assert_eq!(ts.len(), N - 1);
            assert!(f.truncated(), "{:?}", f.end());
            assert!(matches!(f.end(), End::Truncated { offset, .. } if *offset == off[N - 1]));
            assert!(f.error().is_none() && f.corrupt_regions().is_empty());
        }
    }
}

/// A pcapng file (SHB, one ns IDB, one EPB per frame) and the offset of each EPB.
fn pcapng() -> (Vec<u8>, Vec<usize>) {
    let w32 = |v: &mut Vec<u8>, x: u32| v.extend_from_slice(&x.to_le_bytes());
    let mut v = Vec::new();
    for x in [
        0x0a0d_0d0a,
        28,
        0x1a2b_3c4d,
        1,
        0xffff_ffff,
        0xffff_ffff,
        28,
    ] {
        w32(&mut v, x);
    }
    // IDB: Ethernet, snaplen 0, if_tsresol = 9, end of options
    for x in [1, 32, 1, 0, 0x0001_0009, 9, 0, 32] {
        w32(&mut v, x);
    }
    let mut offsets = Vec::new();
    for (i, f) in frames().iter().enumerate() {
        offsets.push(v.len());
        let pad = (4 - f.len() % 4) % 4;
        let len = (32 + f.len() + pad) as u32;
        let ts = T0 + i as u64 * 1_000;
        for x in [
            6,
            len,
            0,
            (ts >> 32) as u32,
            ts as u32,
            f.len() as u32,
            f.len() as u32,
        ] {
            w32(&mut v, x);
        }
        v.extend_from_slice(f);
        v.resize(v.len() + pad, 0);
        w32(&mut v, len);
    }
    (v, offsets)
}

fn pcapng_file(dir: &std::path::Path, b: &[u8]) -> Capture {
    let path = dir.join("t.pcapng");
    std::fs::write(&path, b).unwrap();
    Capture::open(&path).unwrap()
}

#[test]
fn pcapng_bad_block_length_or_trailer_is_corruption_at_its_offset() {
    let dir = tempfile::tempdir().unwrap();
    let (good, off) = pcapng();
    let (ts, _) = read(&good, ReadOptions::default());
    assert_eq!(ts.len(), N);
    let len = off[BAD + 1] - off[BAD];
    // a length that is not a multiple of 4, one whose trailer disagrees, a bad trailer
    for (at, v, why) in [
        (off[BAD] + 4, len as u32 + 2, "multiple of 4"),
        (off[BAD] + 4, len as u32 + 8, "trailer"),
        (off[BAD + 1] - 4, 12, "trailer"),
        (off[BAD] + 4, 0x7fff_0000, "runs past the end"),
    ] {
        let mut b = good.clone();
        set_u32(&mut b, at, v);
        let cap = pcapng_file(dir.path(), &b);
        check_damage(cap.bytes(), off[BAD], len, why);
    }
}

#[test]
fn pcapng_cut_inside_its_last_block_is_truncated_not_corrupt() {
    let (b, off) = pcapng();
    for opts in [ReadOptions::default(), LENIENT] {
        let (ts, f) = read(&b[..b.len() - 3], opts);
        assert_eq!(ts.len(), N - 1);
        assert!(matches!(f.end(), End::Truncated { offset, .. } if *offset == off[N - 1]));
        assert!(f.error().is_none() && f.corrupt_regions().is_empty());
    }
}

#[test]
fn inspect_and_replay_refuse_damage_unless_lenient() {
    use mam_feed::inspect::{inspect_path, inspect_path_with, Format, InspectError};
    use mam_feed::replay::{load_udp, load_udp_with, ReplayError};
    let dir = tempfile::tempdir().unwrap();
    let (path, off) = write_pcap(dir.path());
    let mut b = std::fs::read(&path).unwrap();
    set_u32(&mut b, off[BAD] + 8, 0x7fff_0000);
    std::fs::write(&path, &b).unwrap();
    let corrupt_at = |e: &CaptureError| matches!(e, CaptureError::Corrupt { offset, frame, .. } if *offset == off[BAD] && *frame == BAD as u64);
    match inspect_path(&path, Some(Format::IexTp)) {
        Err(InspectError::Capture(e)) => assert!(corrupt_at(&e), "{e}"),
        other => panic!("expected corruption, got {other:?}"),
    }
    match load_udp(&path) {
        Err(ReplayError::Capture(e)) => assert!(corrupt_at(&e), "{e}"),
        other => panic!("expected corruption, got {other:?}"),
    }
    let r = inspect_path_with(&path, Some(Format::IexTp), LENIENT).unwrap();
    assert_eq!((r.frames, r.truncated), (N as u64 - 1, false));
    let len = (off[BAD + 1] - off[BAD]) as u64;
    assert_eq!((r.corrupt_regions, r.skipped_bytes), (1, len));
    let l = load_udp_with(&path, LENIENT).unwrap();
    assert_eq!(l.datagrams.len(), N - 1);
    assert_eq!(l.corrupt_regions.len(), 1);
}
