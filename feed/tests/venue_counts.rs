//! `inspect` reproduces the counts of ../shared/data/PROVENANCE.md exactly.

use mam_feed::inspect::{inspect_bytes, inspect_path, Format, InspectError, Report};

fn data(rel: &str) -> std::path::PathBuf {
    mam_core::shared_data::expect_shared(rel)
}

fn inspect(rel: &str) -> Report {
    inspect_path(&data(rel), None).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn types(r: &Report) -> Vec<(&str, u64)> {
    r.by_type.iter().map(|(k, v)| (k.as_str(), *v)).collect()
}

#[test]
fn tops16() {
    let r = inspect("iex/TOPS16.pcap");
    assert_eq!((r.format, r.container), ("iex-tp", "pcap"));
    assert_eq!(
        (r.frames, r.messages, r.gaps, r.duplicates),
        (13_022, 57_674, 0, 0)
    );
    assert!(!r.truncated);
    assert_eq!(
        types(&r),
        [
            ("A", 642),
            ("B", 3),
            ("D", 10),
            ("H", 7_803),
            ("O", 7_801),
            ("P", 7_802),
            ("Q", 27_217),
            ("S", 6),
            ("T", 6_390)
        ]
    );
    assert!(r
        .first_ts
        .as_deref()
        .unwrap()
        .starts_with("2017-07-10T14:32:18."));
    assert!(r
        .last_ts
        .as_deref()
        .unwrap()
        .starts_with("2017-07-10T14:38:58."));
    assert_eq!((r.bad_packets, r.bad_messages.len()), (0, 0));
}

#[test]
fn tops16_cut_short_is_truncated_not_refused() {
    let full = std::fs::read(data("iex/TOPS16.pcap")).unwrap();
    let r = inspect_bytes(&full[..full.len() / 2], None).unwrap();
    assert!(r.truncated);
    assert!(r.frames > 1_000 && r.frames < 13_022, "{}", r.frames);
    assert!(r.messages > 0 && r.messages < 57_674);
}

#[test]
fn itch_sample_1000() {
    let r = inspect("itch/nasdaq-sample-1000.itch");
    assert_eq!(
        (r.format, r.container, r.frames, r.messages),
        ("itch50", "itch-binaryfile", 1_000, 1_000)
    );
    assert_eq!(types(&r), [("H", 3), ("R", 993), ("S", 1), ("Y", 3)]);
    assert_eq!(r.zero_length_prefixes, Some(0));
}

#[test]
fn ritch_zero_prefix_is_read_by_message_type() {
    let r = inspect("itch/ritch-artificial-zero-prefix.itch");
    assert_eq!(r.messages, 12_012);
    assert_eq!(r.zero_length_prefixes, Some(12_012));
    assert_eq!(
        types(&r),
        [
            ("A", 4_997),
            ("D", 1_745),
            ("E", 198),
            ("F", 3),
            ("H", 3),
            ("P", 5_000),
            ("R", 3),
            ("S", 6),
            ("U", 12),
            ("X", 45)
        ]
    );
    // A zero prefix before a byte that is no ITCH type is refused, never guessed.
    let mut bytes = std::fs::read(data("itch/ritch-artificial-zero-prefix.itch")).unwrap();
    bytes[2 + 12 + 2] = b'z';
    assert!(matches!(
        inspect_bytes(&bytes, None),
        Err(InspectError::ItchFile(_))
    ));
}

#[test]
fn moldudp64_pcaps_hold_46_messages() {
    let dir = data("itch/moldudp64");
    let mut total = 0;
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let r = inspect_path(&p, None).unwrap();
        assert_eq!(r.format, "itch50", "{}", p.display());
        assert_eq!(r.bad_packets, 0);
        if p.ends_with("Multiple.Packets.pcap") {
            assert_eq!((r.frames, r.messages), (2, 39));
        }
        assert!(r.first_ts.as_deref().unwrap().starts_with("2023-08-22T13:"));
        total += r.messages;
        n += 1;
    }
    assert_eq!((n, total), (8, 46));
}

#[test]
fn cme_ab_arbitration() {
    let r = inspect("cme/mdp3-fx-session-statistics.pcap");
    assert_eq!((r.format, r.frames), ("mdp3", 356));
    assert_eq!(
        (r.messages, r.duplicates, r.duplicate_packets),
        (382, 382, 178)
    );
    assert_eq!(r.messages + r.duplicates, 764);
    assert_eq!(types(&r), [("30", 3), ("32", 181), ("35", 179), ("37", 19)]);
    assert_eq!((r.bad_packets, r.bad_messages.len()), (0, 0));
}

#[test]
fn cme_single_files_decode() {
    for (f, want) in [
        ("MdIncrementalRefreshBook.pcap", vec![("46", 2)]),
        ("MdIncrementalRefreshOrderBook.pcap", vec![("47", 1)]),
        (
            "MdIncrementalRefreshTradeSummary.pcap",
            vec![("37", 1), ("46", 2), ("47", 1), ("48", 1)],
        ),
        (
            "MdIncrementalRefreshVolume.pcap",
            vec![("37", 2), ("46", 4), ("48", 1)],
        ),
    ] {
        let r = inspect(&format!("cme/single/{f}"));
        assert_eq!(r.format, "mdp3");
        assert_eq!(types(&r), want, "{f}");
        assert_eq!((r.bad_packets, r.bad_messages.len()), (0, 0), "{f}");
    }
}

#[test]
fn forced_format_that_does_not_fit_decodes_nothing() {
    let r = inspect_path(&data("iex/TOPS16.pcap"), Some(Format::Mdp3)).unwrap();
    assert_eq!(r.messages, 0);
    assert_eq!(r.format, "mdp3");
}

/// A classic pcap holding the records of `src` (a classic pcap) chosen by `pick`, in order.
fn rebuild(src: &[u8], pick: impl Fn(usize) -> usize) -> Vec<u8> {
    let mut out = src[..24].to_vec();
    let mut at = 24;
    let mut i = 0;
    while at + 16 <= src.len() {
        let caplen = u32::from_le_bytes(src[at + 8..at + 12].try_into().unwrap()) as usize;
        let rec = &src[at..at + 16 + caplen];
        for _ in 0..pick(i) {
            out.extend_from_slice(rec);
        }
        at += 16 + caplen;
        i += 1;
    }
    out
}

#[test]
fn dropped_and_repeated_packets_are_reported() {
    let full = std::fs::read(data("iex/TOPS16.pcap")).unwrap();
    // Drop frames 100 and 101 (consecutive: one gap) and frame 5000 (a second gap).
    let cut = rebuild(&full, |i| usize::from(!matches!(i, 100 | 101 | 5_000)));
    let r = inspect_bytes(&cut, None).unwrap();
    assert_eq!(r.frames, 13_019);
    // Messages in the dropped frames, from their IEX-TP headers (count at UDP offset 14).
    let counts: Vec<u64> = mam_feed::capture::Frames::new(&full)
        .unwrap()
        .filter(|f| matches!(f.index, 100 | 101 | 5_000))
        .map(|f| {
            let p = mam_feed::capture::udp_payload(&f).unwrap().payload;
            u64::from(u16::from_le_bytes([p[14], p[15]]))
        })
        .collect();
    let lost: u64 = counts.iter().sum();
    assert_eq!(r.messages, 57_674 - lost);
    assert_eq!(r.missing, lost);
    // A dropped heartbeat (0 messages) is no gap; frames 100 and 101 make one gap together.
    let want_gaps = u64::from(counts[0] + counts[1] > 0) + u64::from(counts[2] > 0);
    assert!(want_gaps > 0);
    assert_eq!(r.gaps, want_gaps);
    // Send every frame twice (an A/B pair on one port): every copy is dropped.
    let twice = rebuild(&full, |_| 2);
    let r = inspect_bytes(&twice, None).unwrap();
    assert_eq!((r.frames, r.messages, r.gaps), (26_044, 57_674, 0));
    assert_eq!(r.duplicates, 57_674);
}
