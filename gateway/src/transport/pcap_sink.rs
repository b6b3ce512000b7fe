//! A capture sink: a [`Transport`] that writes every committed message as one packet of a
//! classic pcap file (nanosecond timestamps, `LINKTYPE_ETHERNET`), framed as Ethernet / IPv4 /
//! UDP or TCP between two fixed loopback endpoints, with correct IPv4, UDP and TCP checksums, so
//! Wireshark, tcpdump and `pcap-parser` read it as real traffic.
//!
//! It is zero-copy like the socket transports: `claim` hands out the payload area of the next
//! packet directly inside a pre-allocated batch buffer, `commit` fills the record and protocol
//! headers in front of it, and `flush` writes the whole batch to the file with one call. A full
//! batch buffer is [`TransportError::WouldBlock`] until the next flush. Nothing is ever
//! received: `poll` delivers nothing.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::Ipv4Addr;
use std::path::Path;

use mam_core::pcap::{self, Ipv4Frame, ETH, IPV4, PROTO_TCP, PROTO_UDP, RECORD_HEADER, TCP, UDP};

use super::{Transport, TransportError};

/// pcap magic for nanosecond timestamps.
pub const PCAP_MAGIC_NS: u32 = pcap::MAGIC_NANOS;
/// `LINKTYPE_ETHERNET`.
pub const LINKTYPE_ETHERNET: u32 = pcap::LINKTYPE_ETHERNET;
/// The last instant a record header holds (its seconds are 32 bits: early 2106).
const LAST_NS: u64 = u32::MAX as u64 * 1_000_000_000 + 999_999_999;

/// Which transport header the packets carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// IPv4/UDP: one datagram per message.
    Udp,
    /// IPv4/TCP segments (PSH|ACK) with a running sequence number: a byte stream as a capture
    /// of the sending side would show it (no handshake, no ACKs from the peer).
    Tcp,
}

/// Endpoints and sizes, fixed at start.
#[derive(Debug, Clone, Copy)]
pub struct PcapConfig {
    /// UDP or TCP framing.
    pub framing: Framing,
    /// Source address (default 127.0.0.1).
    pub src: Ipv4Addr,
    /// Destination address (default 127.0.0.2).
    pub dst: Ipv4Addr,
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Largest payload per packet.
    pub max_payload: usize,
    /// Bytes of packets buffered between flushes.
    pub batch_bytes: usize,
}

impl Default for PcapConfig {
    fn default() -> Self {
        Self {
            framing: Framing::Udp,
            src: Ipv4Addr::new(127, 0, 0, 1),
            dst: Ipv4Addr::new(127, 0, 0, 2),
            src_port: 40_000,
            dst_port: 40_001,
            max_payload: 1472,
            batch_bytes: 1 << 20,
        }
    }
}

impl PcapConfig {
    fn headers(&self) -> usize {
        ETH + IPV4
            + match self.framing {
                Framing::Udp => UDP,
                Framing::Tcp => TCP,
            }
    }
}

/// Writes committed messages as packets of a pcap file.
pub struct PcapSink<W: Write> {
    out: W,
    cfg: PcapConfig,
    batch: Box<[u8]>,
    used: usize,
    open: Option<usize>,
    ip_id: u16,
    tcp_seq: u32,
    fixed_time_ns: Option<u64>,
    packets: u64,
}

impl<W: Write> std::fmt::Debug for PcapSink<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the batch buffer: it is a megabyte.
        f.debug_struct("PcapSink")
            .field("cfg", &self.cfg)
            .field("buffered", &self.used)
            .field("packets", &self.packets)
            .finish_non_exhaustive()
    }
}

impl PcapSink<BufWriter<File>> {
    /// Creates (truncates) a pcap file at `path` and writes its global header.
    pub fn create(path: impl AsRef<Path>, cfg: PcapConfig) -> Result<Self, TransportError> {
        Self::new(BufWriter::new(File::create(path)?), cfg)
    }
}

impl<W: Write> PcapSink<W> {
    /// Wraps `out`, writes the pcap global header, and allocates the batch buffer.
    pub fn new(mut out: W, cfg: PcapConfig) -> Result<Self, TransportError> {
        let limit = 65_535 - IPV4 - (cfg.headers() - ETH - IPV4);
        if cfg.max_payload > limit || cfg.batch_bytes < RECORD_HEADER + cfg.headers() {
            return Err(TransportError::TooLarge {
                len: cfg.max_payload,
                max: limit,
            });
        }
        out.write_all(&pcap::global_header(true))?;
        Ok(Self {
            out,
            cfg,
            batch: vec![0u8; cfg.batch_bytes].into_boxed_slice(),
            used: 0,
            open: None,
            ip_id: 0,
            tcp_seq: 1,
            fixed_time_ns: None,
            packets: 0,
        })
    }

    /// Stamps every following packet with `ns` (since the Unix epoch) instead of the wall
    /// clock: reproducible captures in tests and replays. `None` returns to the clock.
    pub fn set_fixed_time_ns(&mut self, ns: Option<u64>) {
        self.fixed_time_ns = ns;
    }

    /// Packets committed so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Flushes and returns the writer.
    pub fn into_inner(mut self) -> Result<W, TransportError> {
        self.flush()?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn write_headers(&mut self, at: usize, len: usize) {
        let cfg = self.cfg;
        let ts = self.fixed_time_ns.unwrap_or_else(mam_core::sys::utc_now_ns);
        let frame = cfg.headers() + len;
        let r = &mut self.batch[at..at + RECORD_HEADER + frame];
        let rh = pcap::record_header(ts.min(LAST_NS), true, frame as u32, frame as u32);
        r[..RECORD_HEADER].copy_from_slice(&rh.unwrap_or_default());
        let f = &mut r[RECORD_HEADER..];
        let fr = Ipv4Frame {
            // Locally administered MACs.
            src_mac: [0x02, 0, 0, 0, 0, 0x01],
            dst_mac: [0x02, 0, 0, 0, 0, 0x02],
            src: cfg.src.octets(),
            dst: cfg.dst.octets(),
            proto: match cfg.framing {
                Framing::Udp => PROTO_UDP,
                Framing::Tcp => PROTO_TCP,
            },
        };
        let l4_len = frame - ETH - IPV4;
        // `new` refused a max_payload that would not fit IPv4.
        let fits = fr.write_headers(f, self.ip_id, l4_len);
        debug_assert!(fits, "{l4_len} bytes of segment fit IPv4");
        self.ip_id = self.ip_id.wrapping_add(1);
        let l4 = &mut f[ETH + IPV4..];
        l4[0..2].copy_from_slice(&cfg.src_port.to_be_bytes());
        l4[2..4].copy_from_slice(&cfg.dst_port.to_be_bytes());
        let csum_at = match cfg.framing {
            Framing::Udp => {
                l4[4..6].copy_from_slice(&(l4_len as u16).to_be_bytes());
                l4[6..8].fill(0);
                6
            }
            Framing::Tcp => {
                l4[4..8].copy_from_slice(&self.tcp_seq.to_be_bytes());
                l4[8..12].copy_from_slice(&1u32.to_be_bytes()); // ack
                l4[12] = 5 << 4; // data offset: 5 words
                l4[13] = 0x18; // PSH|ACK
                l4[14..16].copy_from_slice(&65_535u16.to_be_bytes());
                l4[16..20].fill(0); // checksum, urgent pointer
                self.tcp_seq = self.tcp_seq.wrapping_add(len as u32);
                16
            }
        };
        let c = fr.l4_checksum(l4);
        l4[csum_at..csum_at + 2].copy_from_slice(&c.to_be_bytes());
    }
}

impl<W: Write> Transport for PcapSink<W> {
    fn claim(&mut self, len: usize) -> Result<&mut [u8], TransportError> {
        if self.open.is_some() {
            return Err(TransportError::ClaimOpen);
        }
        if len > self.cfg.max_payload {
            return Err(TransportError::TooLarge {
                len,
                max: self.cfg.max_payload,
            });
        }
        let at = self.used + RECORD_HEADER + self.cfg.headers();
        if at + len > self.batch.len() {
            return Err(TransportError::WouldBlock { needed: len });
        }
        self.open = Some(len);
        Ok(&mut self.batch[at..at + len])
    }

    fn commit(&mut self, len: usize) -> Result<(), TransportError> {
        let Some(claimed) = self.open else {
            return Err(TransportError::Io(std::io::Error::other(
                "commit without a claim",
            )));
        };
        if len > claimed {
            return Err(TransportError::TooLarge { len, max: claimed });
        }
        self.open = None;
        self.write_headers(self.used, len);
        self.used += RECORD_HEADER + self.cfg.headers() + len;
        self.packets += 1;
        Ok(())
    }

    fn abort(&mut self) {
        self.open = None;
    }

    fn flush(&mut self) -> Result<usize, TransportError> {
        if self.open.is_some() {
            // The open slot sits behind the batch; flushing would move the batch under it.
            return Err(TransportError::ClaimOpen);
        }
        let n = self.used;
        if n > 0 {
            self.out.write_all(&self.batch[..n])?;
            self.out.flush()?;
            self.used = 0;
        }
        Ok(n)
    }

    fn poll(&mut self, _on_recv: &mut dyn FnMut(&[u8])) -> Result<usize, TransportError> {
        Ok(0)
    }
}
