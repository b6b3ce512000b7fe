//! Helpers shared by the SoupBinTCP tests: a small capture built here, a server thread, and a
//! client driver with a hang guard (no timing is asserted).

#![allow(dead_code)]

use std::net::{SocketAddr, SocketAddrV4};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use mam_core::num::{Price, Qty};
use mam_feed::pcap_write::{PcapWriter, TsResolution};
use mam_feed::sbe::msg::Quote;
use mam_feed::sbe::PacketBuilder;
use mam_feed::soup::codec::RejectReason;
use mam_feed::soup::{
    load_capture, ClientEvent, ServerConfig, ServerError, ServerStats, SoupClient, SoupMessage,
    SoupMessages, SoupServer,
};

/// First timestamp of the built captures (2019-02-04 00:00 UTC).
pub const T0_NS: u64 = 1_549_238_400_000_000_000;

/// A pcap of `n` quotes (`per_packet` per SBE packet, packets `gap_ns` apart), split into
/// soup messages. Quote `k` (1-based) has bid `1.1 + k·1e-5`.
pub fn small_capture(n: u64, per_packet: u64, gap_ns: u64) -> (tempfile::TempDir, SoupMessages) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("quotes.pcap");
    let f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut w = PcapWriter::new(f, TsResolution::Nano).unwrap();
    let src = SocketAddrV4::new([10, 0, 0, 1].into(), 31000);
    let dst = SocketAddrV4::new([239, 192, 70, 1].into(), 31001);
    let mut b = PacketBuilder::new("TEST", 1, 1472);
    let mut ts = T0_NS;
    for k in 1..=n {
        let bid = 110_000 + k as i64;
        b.push(&Quote {
            time_ns: ts,
            instrument: 3,
            lp: 1,
            flags: 0,
            bid: Some(Price(bid * 1000)),
            ask: Some(Price((bid + 2) * 1000)),
            bid_size: Some(Qty(1_000_000 * 100_000_000)),
            ask_size: Some(Qty(2_000_000 * 100_000_000)),
        });
        if k % per_packet == 0 || k == n {
            w.write_udp(ts, src, dst, &b.finish()).unwrap();
            ts += gap_ns;
        }
    }
    w.finish().unwrap();
    let msgs = load_capture(&path).unwrap();
    (dir, msgs)
}

/// Binds a server and runs it on a thread.
pub fn spawn_server(
    cfg: ServerConfig,
    messages: Vec<SoupMessage>,
) -> (SocketAddr, JoinHandle<Result<ServerStats, ServerError>>) {
    let mut s = SoupServer::bind(cfg, messages).unwrap();
    let addr = s.local_addr().unwrap();
    (addr, thread::spawn(move || s.run()))
}

/// What a client delivered.
#[derive(Debug, Default)]
pub struct Got {
    pub login: Option<([u8; 10], u64)>,
    pub seqs: Vec<u64>,
    pub data: Vec<Vec<u8>>,
    pub ended: bool,
    pub disconnects: u64,
    pub gaps: u64,
    pub resets: u64,
    pub rejected: Option<RejectReason>,
}

impl Got {
    pub fn record(&mut self, e: ClientEvent<'_>) {
        match e {
            ClientEvent::LoggedIn { session, seq } => self.login = Some((session, seq)),
            ClientEvent::Data { seq, msg, .. } => {
                self.seqs.push(seq);
                self.data.push(msg.to_vec());
            }
            ClientEvent::Gap { .. } => self.gaps += 1,
            ClientEvent::Reset { .. } => self.resets += 1,
            ClientEvent::EndOfSession => self.ended = true,
            ClientEvent::Rejected(r) => self.rejected = Some(r),
            ClientEvent::Disconnected => self.disconnects += 1,
        }
    }
}

/// Polls `c` (at most `max` events per call) until `until` holds; panics after 120 s so a
/// broken build fails instead of hanging.
pub fn drive(
    c: &mut SoupClient,
    got: &mut Got,
    max: usize,
    until: impl Fn(&Got, &SoupClient) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !until(got, c) {
        assert!(
            Instant::now() < deadline,
            "gave up waiting: {got:?} {:?} last error {:?}",
            c.stats(),
            c.last_error()
        );
        c.poll(max, Duration::from_millis(20), &mut |e| got.record(e))
            .unwrap();
    }
}

/// Reads the client's Login Request off `s` (a fake server's first step) and returns the
/// sequence number it asks for.
pub fn read_login(s: &mut std::net::TcpStream) -> u64 {
    use std::io::Read;
    let mut dec = mam_feed::soup::codec::Decoder::new();
    let mut buf = [0u8; 512];
    while !dec.has_packet() {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "client closed before logging in");
        dec.feed(&buf[..n]);
    }
    match dec.next_packet() {
        Some(Ok(mam_feed::soup::codec::Packet::LoginRequest(r))) => r.seq,
        other => panic!("expected a Login Request, got {other:?}"),
    }
}
