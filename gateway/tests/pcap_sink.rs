//! The pcap sink writes a capture that pcap-parser reads back with valid checksums.

use mam_gateway::transport::pcap_sink::{Framing, PcapConfig, PcapSink, PCAP_MAGIC_NS};
use mam_gateway::transport::{Transport, TransportError};
use pcap_parser::{parse_pcap_frame, parse_pcap_header, Linktype};

fn csum_ok(mut acc: u32, bytes: &[u8]) -> bool {
    for c in bytes.chunks(2) {
        acc += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc == 0xffff
}

/// Parses one frame and returns (protocol, L4 payload), verifying every checksum.
fn check_frame(frame: &[u8], tcp_seq: &mut u32) -> (u8, Vec<u8>) {
    assert_eq!(&frame[12..14], &[0x08, 0x00], "ethertype IPv4");
    let ip = &frame[14..34];
    assert_eq!(ip[0], 0x45);
    assert!(csum_ok(0, ip), "IPv4 header checksum");
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    assert_eq!(total, frame.len() - 14);
    assert_eq!(&ip[12..16], &[127, 0, 0, 1]);
    assert_eq!(&ip[16..20], &[127, 0, 0, 2]);
    let l4 = &frame[34..];
    let mut pseudo = 0u32;
    for c in ip[12..20].chunks(2) {
        pseudo += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    pseudo += u32::from(ip[9]) + l4.len() as u32;
    assert!(csum_ok(pseudo, l4), "L4 checksum");
    let payload = match ip[9] {
        17 => {
            assert_eq!(usize::from(u16::from_be_bytes([l4[4], l4[5]])), l4.len());
            l4[8..].to_vec()
        }
        6 => {
            let seq = u32::from_be_bytes(l4[4..8].try_into().unwrap());
            assert_eq!(seq, *tcp_seq, "TCP sequence runs on");
            assert_eq!(l4[13], 0x18);
            let p = l4[usize::from(l4[12] >> 4) * 4..].to_vec();
            *tcp_seq = tcp_seq.wrapping_add(p.len() as u32);
            p
        }
        p => panic!("protocol {p}"),
    };
    (ip[9], payload)
}

fn roundtrip(framing: Framing) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.pcap");
    let cfg = PcapConfig {
        framing,
        batch_bytes: 4096,
        ..PcapConfig::default()
    };
    let mut sink = PcapSink::create(&path, cfg).unwrap();
    sink.set_fixed_time_ns(Some(1_700_000_000_123_456_789));
    let mut sent = Vec::new();
    for i in 0..200u32 {
        let msg: Vec<u8> = (0..(i % 97) + 1).map(|k| (k ^ i) as u8).collect();
        match sink.send(&msg) {
            Ok(()) => {}
            Err(TransportError::WouldBlock { .. }) => {
                sink.flush().unwrap();
                sink.send(&msg).unwrap();
            }
            Err(e) => panic!("{e}"),
        }
        sent.push(msg);
    }
    assert_eq!(sink.poll(&mut |_| unreachable!()).unwrap(), 0);
    drop(sink.into_inner().unwrap());

    let bytes = std::fs::read(&path).unwrap();
    let (mut rest, hdr) = parse_pcap_header(&bytes).unwrap();
    assert_eq!(hdr.magic_number, PCAP_MAGIC_NS);
    assert!(hdr.is_nanosecond_precision());
    assert_eq!(hdr.network, Linktype::ETHERNET);
    let mut tcp_seq = 1;
    let mut got = Vec::new();
    while !rest.is_empty() {
        let (r, block) = parse_pcap_frame(rest).unwrap();
        assert_eq!(block.ts_sec, 1_700_000_000);
        assert_eq!(block.ts_usec, 123_456_789); // nanoseconds with the ns magic
        assert_eq!(block.caplen, block.origlen);
        let (proto, payload) = check_frame(block.data, &mut tcp_seq);
        assert_eq!(proto, if framing == Framing::Udp { 17 } else { 6 });
        got.push(payload);
        rest = r;
    }
    assert_eq!(got, sent);
}

#[test]
fn udp_capture_reads_back_with_valid_checksums() {
    roundtrip(Framing::Udp);
}

#[test]
fn tcp_capture_reads_back_with_valid_checksums() {
    roundtrip(Framing::Tcp);
}

#[test]
fn claims_follow_the_transport_contract() {
    let mut sink = PcapSink::new(Vec::new(), PcapConfig::default()).unwrap();
    assert!(matches!(
        sink.claim(1473),
        Err(TransportError::TooLarge {
            len: 1473,
            max: 1472
        })
    ));
    sink.claim(10).unwrap();
    assert!(matches!(sink.claim(1), Err(TransportError::ClaimOpen)));
    assert!(matches!(sink.flush(), Err(TransportError::ClaimOpen)));
    sink.abort();
    let slot = sink.claim(100).unwrap();
    slot[..2].copy_from_slice(b"hi");
    sink.commit(2).unwrap();
    assert_eq!(sink.packets(), 1);
    let out = sink.into_inner().unwrap();
    assert_eq!(out.len(), 24 + 16 + 42 + 2);
    assert_eq!(&out[out.len() - 2..], b"hi");
}
