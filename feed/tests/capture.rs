//! The capture reader on real files, cut files, pcapng and nanosecond pcap.

use mam_feed::capture::{classify, udp_payload, Capture, Container, End, Frames, NotUdp};

fn data(rel: &str) -> std::path::PathBuf {
    mam_core::shared_data::expect_shared(rel)
}

#[test]
fn tops16_has_13022_udp_frames() {
    let cap = Capture::open(data("iex/TOPS16.pcap")).unwrap();
    assert_eq!(cap.container(), Some(Container::Pcap));
    let mut frames = cap.frames().unwrap();
    let (mut n, mut udp, mut first, mut last) = (0u64, 0u64, 0u64, 0u64);
    for f in &mut frames {
        if n == 0 {
            first = f.ts_ns;
        }
        last = f.ts_ns;
        n += 1;
        let d = udp_payload(&f).expect("every TOPS16 frame is UDP");
        assert_eq!(d.dst.to_string(), "224.67.0.199:16642");
        udp += 1;
    }
    assert_eq!(frames.end(), &End::Complete);
    assert_eq!((n, udp), (13_022, 13_022));
    // 2017-07-10 14:32:18 UTC .. 14:38:58 UTC
    assert_eq!(first / 1_000_000_000, 1_499_697_138);
    assert_eq!(last / 1_000_000_000, 1_499_697_538);
}

#[test]
fn cut_capture_reads_up_to_last_complete_record() {
    let full = std::fs::read(data("iex/TOPS16.pcap")).unwrap();
    let all = Frames::new(&full).unwrap().count();
    let cut = &full[..full.len() - 10];
    let mut frames = Frames::new(cut).unwrap();
    assert_eq!((&mut frames).count(), all - 1);
    assert!(matches!(frames.end(), End::Truncated { .. }));
    assert!(frames.truncated());
}

/// A minimal pcapng writer for the tests: SHB, one IDB (ns resolution), EPBs.
fn pcapng(packets: &[(u64, &[u8])], big_endian: bool) -> Vec<u8> {
    let w32 = |v: &mut Vec<u8>, x: u32| {
        v.extend_from_slice(&if big_endian {
            x.to_be_bytes()
        } else {
            x.to_le_bytes()
        })
    };
    let w16 = |v: &mut Vec<u8>, x: u16| {
        v.extend_from_slice(&if big_endian {
            x.to_be_bytes()
        } else {
            x.to_le_bytes()
        })
    };
    let mut v = Vec::new();
    // SHB
    w32(&mut v, 0x0a0d_0d0a);
    w32(&mut v, 28);
    w32(&mut v, 0x1a2b_3c4d);
    w16(&mut v, 1);
    w16(&mut v, 0);
    v.extend_from_slice(&[0xff; 8]);
    w32(&mut v, 28);
    // IDB with if_tsresol = 9 (ns)
    w32(&mut v, 1);
    w32(&mut v, 32);
    w16(&mut v, 1);
    w16(&mut v, 0);
    w32(&mut v, 0);
    w16(&mut v, 9);
    w16(&mut v, 1);
    v.extend_from_slice(&[9, 0, 0, 0]);
    w32(&mut v, 0);
    w32(&mut v, 32);
    for (ts, data) in packets {
        let pad = (4 - data.len() % 4) % 4;
        let len = (32 + data.len() + pad) as u32;
        w32(&mut v, 6);
        w32(&mut v, len);
        w32(&mut v, 0);
        w32(&mut v, (ts >> 32) as u32);
        w32(&mut v, *ts as u32);
        w32(&mut v, data.len() as u32);
        w32(&mut v, data.len() as u32);
        v.extend_from_slice(data);
        v.resize(v.len() + pad, 0);
        w32(&mut v, len);
    }
    v
}

#[test]
fn pcapng_frames_keep_ns_timestamps_in_both_byte_orders() {
    let full = std::fs::read(data("iex/TOPS16.pcap")).unwrap();
    let src: Vec<_> = Frames::new(&full).unwrap().take(5).collect();
    let pkts: Vec<(u64, &[u8])> = src
        .iter()
        .enumerate()
        .map(|(i, f)| (f.ts_ns + i as u64 * 7, f.data))
        .collect();
    for be in [false, true] {
        let ng = pcapng(&pkts, be);
        let cap = Capture::from_bytes(ng);
        assert_eq!(cap.container(), Some(Container::PcapNg));
        let mut frames = cap.frames().unwrap();
        let got: Vec<_> = (&mut frames).collect();
        assert_eq!(frames.end(), &End::Complete);
        assert_eq!(got.len(), 5);
        for ((g, (ts, d)), s) in got.iter().zip(&pkts).zip(&src) {
            assert_eq!(g.ts_ns, *ts);
            assert_eq!(g.data, *d);
            assert_eq!(udp_payload(g).unwrap(), udp_payload(s).unwrap());
        }
        // cut inside the last block
        let ng = pcapng(&pkts, be);
        let mut frames = Frames::new(&ng[..ng.len() - 3]).unwrap();
        assert_eq!((&mut frames).count(), 4);
        assert!(matches!(frames.end(), End::Truncated { .. }));
    }
}

#[test]
fn nanosecond_pcap_and_ip_fragments() {
    let full = std::fs::read(data("iex/TOPS16.pcap")).unwrap();
    let first = Frames::new(&full).unwrap().next().unwrap();
    // Same file with the nanosecond magic: the fraction is read as ns, not µs.
    let mut ns = full.clone();
    ns[..4].copy_from_slice(&0xa1b2_3c4du32.to_le_bytes());
    let f = Frames::new(&ns).unwrap().next().unwrap();
    assert_eq!(f.ts_ns / 1_000_000_000, first.ts_ns / 1_000_000_000);
    assert_eq!(f.ts_ns % 1_000_000_000 * 1_000, first.ts_ns % 1_000_000_000);
    // Set the more-fragments flag on the first packet: refused as a fragment.
    let mut frag = first.data.to_vec();
    frag[14 + 6] |= 0x20;
    let mut g = first;
    g.data = &frag;
    assert_eq!(classify(&g), Err(NotUdp::Fragment));
}
