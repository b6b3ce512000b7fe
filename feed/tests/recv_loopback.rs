//! Real captures replayed over loopback UDP into the mio receiver: every message arrives,
//! gaps made on purpose are reported exactly, duplicates are dropped.
//!
//! Loopback UDP drops datagrams when the receive buffer overflows, so the sender keeps at most
//! `WINDOW` datagrams in flight, reading the receiver's count through a shared atomic (a
//! back-channel): the test then never depends on scheduling luck.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, OnceLock};
use std::time::{Duration, Instant};

use mam_feed::recv::seq::Verdict;
use mam_feed::recv::{Framing, IexTpFraming, MamSbeFraming, RecvStats, UdpConfig, UdpReceiver};
use mam_feed::replay::{self, Datagram, ReplayOptions, ReplayStats, Speed};
use mam_feed::sbe;

const WINDOW: u64 = 64;
const HANG_GUARD: Duration = Duration::from_secs(120);

fn shared(rel: &str) -> PathBuf {
    mam_core::shared_data::expect_shared(rel)
}

fn tops16() -> &'static [Datagram] {
    static D: OnceLock<Vec<Datagram>> = OnceLock::new();
    D.get_or_init(|| {
        let l = replay::load_udp(&shared("iex/TOPS16.pcap")).unwrap();
        assert_eq!(l.skipped, 0);
        l.datagrams
    })
}

fn eurusd() -> &'static [Datagram] {
    static D: OnceLock<Vec<Datagram>> = OnceLock::new();
    D.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("eurusd.pcap");
        let st = mam_feed::dukascopy::convert::convert_path(
            &shared("dukascopy/EURUSD-2019-02-04"),
            &out,
            mam_feed::dukascopy::convert::ConvertOptions::for_symbol("EURUSD"),
        )
        .unwrap();
        assert_eq!(st.quotes, 136_741);
        replay::load_udp(&out).unwrap().datagrams
    })
}

/// What the receiving side counted, message by message.
#[derive(Debug, Default)]
struct Seen {
    stats: RecvStats,
    /// Messages walked in delivered packets (skipping already-seen ones).
    messages: u64,
    /// Messages by their type (IEX: type byte; SBE: template id).
    by_type: std::collections::BTreeMap<u16, u64>,
    /// Gap verdicts handed to the handler, and the messages they said were lost.
    gap_events: u64,
    gap_missing: u64,
    /// For the SBE feed: events out of the FX books, by kind byte.
    events: std::collections::BTreeMap<u8, u64>,
}

/// Counts the messages of one delivered packet by walking its u16-length-prefixed messages.
fn walk(payload: &[u8], header_len: usize, skip: u64, sbe: bool, seen: &mut Seen) {
    let mut at = header_len;
    let mut i = 0u64;
    while at + 2 <= payload.len() {
        let len = usize::from(u16::from_le_bytes([payload[at], payload[at + 1]]));
        let body = &payload[at + 2..at + 2 + len];
        at += 2 + len;
        i += 1;
        if i <= skip {
            continue;
        }
        seen.messages += 1;
        let t = if sbe {
            sbe::MessageHeader::read(body).unwrap().template_id
        } else {
            u16::from(body[0])
        };
        *seen.by_type.entry(t).or_default() += 1;
    }
    assert_eq!(at, payload.len(), "packet framing walks to its end");
}

/// Replays `data` (filtered) into a receiver using `framing`; returns both sides' counts.
fn run<F: Framing + Send + 'static>(
    data: &'static [Datagram],
    framing: F,
    header_len: usize,
    is_sbe: bool,
    filter: impl FnMut(u64, &[u8]) -> u32,
) -> (Seen, ReplayStats) {
    let received = Arc::new(AtomicU64::new(0));
    let target = Arc::new(AtomicU64::new(u64::MAX));
    let (tx, rx) = mpsc::channel();
    let (r2, t2) = (received.clone(), target.clone());
    let h = std::thread::spawn(move || {
        let cfg = UdpConfig::unicast("127.0.0.1:0".parse().unwrap());
        let mut rcv = UdpReceiver::bind(&cfg, framing).unwrap();
        tx.send(rcv.local_addr().unwrap()).unwrap();
        let mut seen = Seen::default();
        let mut books = mam_feed::fxbook::FxBooks::new(32);
        let t0 = Instant::now();
        while rcv.stats().packets < t2.load(Ordering::Acquire) {
            assert!(
                t0.elapsed() < HANG_GUARD,
                "receiver hung: {:?}",
                rcv.stats()
            );
            rcv.poll(Some(Duration::from_millis(20)), &mut |d| {
                if let Verdict::Gap { missing, .. } = d.verdict {
                    seen.gap_events += 1;
                    seen.gap_missing += missing;
                }
                walk(d.payload, header_len, d.skip, is_sbe, &mut seen);
                if is_sbe {
                    let ev = &mut seen.events;
                    books.apply_delivered(d, &mut |e| *ev.entry(e.kind).or_default() += 1);
                }
            })
            .unwrap();
            r2.store(rcv.stats().packets, Ordering::Release);
        }
        seen.stats = rcv.stats();
        seen
    });
    let to = rx.recv().unwrap();
    let opts = ReplayOptions {
        to,
        speed: Speed::Max,
        loops: 1,
        allow_remote: false,
    };
    let t0 = Instant::now();
    let st = replay::replay(data, &opts, filter, |sent| {
        while sent >= received.load(Ordering::Acquire) + WINDOW {
            assert!(t0.elapsed() < HANG_GUARD, "sender hung");
            std::thread::yield_now();
        }
    })
    .unwrap();
    target.store(st.packets, Ordering::Release);
    (h.join().unwrap(), st)
}

fn iex_count(d: &Datagram) -> u64 {
    u64::from(u16::from_le_bytes([d.payload[14], d.payload[15]]))
}

#[test]
fn tops16_every_message_arrives() {
    let data = tops16();
    let (seen, st) = run(data, IexTpFraming, 40, false, |_, _| 1);
    assert_eq!(st.packets, 13_022);
    assert_eq!(seen.stats.packets, 13_022);
    assert_eq!(seen.messages, 57_674);
    assert_eq!(seen.stats.seq.messages, 57_674);
    assert_eq!((seen.stats.seq.gaps, seen.gap_events), (0, 0));
    assert_eq!(seen.stats.seq.duplicate_packets, 0);
    let by = |c: u8| seen.by_type.get(&u16::from(c)).copied().unwrap_or(0);
    assert_eq!(
        [
            by(b'Q'),
            by(b'H'),
            by(b'P'),
            by(b'O'),
            by(b'T'),
            by(b'A'),
            by(b'D'),
            by(b'S'),
            by(b'B')
        ],
        [27_217, 7_803, 7_802, 7_801, 6_390, 642, 10, 6, 3]
    );
}

#[test]
fn tops16_dropped_packets_are_exact_gaps() {
    let data = tops16();
    // Drop, on purpose: two adjacent packets that both carry messages, and two lone ones.
    let nonempty = |i: usize| iex_count(&data[i]) > 0;
    let a = (1000..).find(|&i| nonempty(i) && nonempty(i + 1)).unwrap();
    let b = (5000..).find(|&i| nonempty(i)).unwrap();
    let c = (9000..).find(|&i| nonempty(i)).unwrap();
    let drop = [a, a + 1, b, c];
    let missing: u64 = drop.iter().map(|&i| iex_count(&data[i])).sum();
    let (seen, st) = run(data, IexTpFraming, 40, false, |i, _| {
        u32::from(!drop.contains(&(i as usize)))
    });
    assert_eq!(st.filtered, 4);
    assert_eq!(
        seen.stats.seq.gaps, 3,
        "runs of dropped packets: [a, a+1], [b], [c]"
    );
    assert_eq!(seen.gap_events, 3);
    assert_eq!(seen.stats.seq.missing, missing);
    assert_eq!(seen.gap_missing, missing);
    assert_eq!(seen.messages, 57_674 - missing);
}

#[test]
fn tops16_duplicates_are_dropped() {
    let data = tops16();
    let (seen, st) = run(data, IexTpFraming, 40, false, |_, _| 2);
    let nonempty = data.iter().filter(|d| iex_count(d) > 0).count() as u64;
    assert_eq!(st.packets, 2 * 13_022);
    assert_eq!(seen.stats.packets, 2 * 13_022);
    assert_eq!(seen.stats.seq.duplicate_packets, nonempty);
    assert_eq!(seen.messages, 57_674);
    assert_eq!(seen.stats.seq.gaps, 0);
}

#[test]
fn eurusd_converted_day_every_quote_arrives_and_gaps_are_exact() {
    let data = eurusd();
    let (seen, _) = run(
        data,
        MamSbeFraming,
        sbe::packet::PACKET_HEADER_LEN,
        true,
        |_, _| 1,
    );
    assert_eq!(seen.by_type[&sbe::layout::QUOTE_ID], 136_741);
    assert_eq!(seen.stats.seq.gaps, 0);
    // Now drop every 1000th packet (never the last) and duplicate every 7th.
    let count = |d: &Datagram| u64::from(sbe::PacketHeader::read(&d.payload).unwrap().count);
    let n = data.len() as u64;
    let dropped: Vec<u64> = (1..n - 1).filter(|i| i % 1000 == 0).collect();
    let missing: u64 = dropped.iter().map(|&i| count(&data[i as usize])).sum();
    let (seen, st) = run(
        data,
        MamSbeFraming,
        sbe::packet::PACKET_HEADER_LEN,
        true,
        |i, _| {
            if i % 1000 == 0 && i > 0 && i < n - 1 {
                0
            } else if i % 7 == 0 {
                2
            } else {
                1
            }
        },
    );
    assert_eq!(st.filtered, dropped.len() as u64);
    assert_eq!(seen.stats.seq.gaps, dropped.len() as u64);
    assert_eq!(seen.stats.seq.missing, missing);
    assert_eq!(seen.by_type[&sbe::layout::QUOTE_ID], 136_741 - missing);
    assert_eq!(seen.stats.seq.duplicate_packets, st.copies);
    // The books turned what arrived into market events: one Quote per quote, one Gap per gap.
    use mam_core::event::MarketEventKind as K;
    assert_eq!(seen.events[&(K::Quote as u8)], 136_741 - missing);
    assert_eq!(seen.events[&(K::Gap as u8)], dropped.len() as u64);
}
