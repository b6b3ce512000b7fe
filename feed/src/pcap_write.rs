//! A classic pcap writer (libpcap format, little-endian, link type Ethernet) with UDP/IPv4
//! framing, for captures that tools such as Wireshark and tcpreplay read.
//!
//! Timestamps are ns since the epoch; the file's resolution ([`TsResolution`]) decides whether
//! records keep nanoseconds (magic `0xa1b23c4d`) or microseconds (`0xa1b2c3d4`, truncated).
//! Frames are Ethernet II → IPv4 (20-byte header, correct header checksum, DF, TTL 64) → UDP
//! (correct checksum over the pseudo-header). A multicast destination gets the matching
//! `01:00:5e` MAC; unicast destinations get locally administered MACs.

use std::io::{self, Write};
use std::net::SocketAddrV4;

use mam_core::pcap::{self, Ipv4Frame, ETH, IPV4, PROTO_UDP, UDP};

pub use mam_core::pcap::LINKTYPE_ETHERNET;

/// Bytes of Ethernet + IPv4 + UDP headers before the payload.
pub const UDP_FRAME_OVERHEAD: usize = ETH + IPV4 + UDP;

/// Timestamp resolution of a pcap file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TsResolution {
    /// Microseconds (the classic magic).
    Micro,
    /// Nanoseconds (magic `0xa1b23c4d`).
    Nano,
}

/// Writes a classic pcap file.
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
    nanos: bool,
    ip_id: u16,
    frames: u64,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the global header (snap length 65535, Ethernet).
    pub fn new(mut out: W, res: TsResolution) -> io::Result<Self> {
        let nanos = res == TsResolution::Nano;
        out.write_all(&pcap::global_header(nanos))?;
        Ok(Self {
            out,
            nanos,
            ip_id: 0,
            frames: 0,
        })
    }

    /// Frames written so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Writes one record holding `frame` (cut to the snap length) stamped `ts_ns`.
    pub fn write_frame(&mut self, ts_ns: u64, frame: &[u8]) -> io::Result<()> {
        let kept = frame.len().min(pcap::SNAPLEN as usize);
        let h = pcap::record_header(ts_ns, self.nanos, kept as u32, frame.len() as u32)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "timestamp past 2106 does not fit pcap",
                )
            })?;
        self.out.write_all(&h)?;
        self.out.write_all(&frame[..kept])?;
        self.frames += 1;
        Ok(())
    }

    /// Writes `payload` as one Ethernet/IPv4/UDP frame from `src` to `dst`.
    pub fn write_udp(
        &mut self,
        ts_ns: u64,
        src: SocketAddrV4,
        dst: SocketAddrV4,
        payload: &[u8],
    ) -> io::Result<()> {
        let frame = udp_frame(src, dst, payload, self.ip_id)?;
        self.ip_id = self.ip_id.wrapping_add(1);
        self.write_frame(ts_ns, &frame)
    }

    /// Flushes and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Builds an Ethernet II / IPv4 / UDP frame around `payload` (DF, TTL 64, both checksums; a
/// multicast destination gets its `01:00:5e` MAC, others locally administered ones).
pub fn udp_frame(
    src: SocketAddrV4,
    dst: SocketAddrV4,
    payload: &[u8],
    ip_id: u16,
) -> io::Result<Vec<u8>> {
    let udp_len = UDP + payload.len();
    let too_big = || io::Error::new(io::ErrorKind::InvalidInput, "UDP payload over 65507 bytes");
    let fr = Ipv4Frame {
        src_mac: pcap::mac_for(src.ip().octets()),
        dst_mac: pcap::mac_for(dst.ip().octets()),
        src: src.ip().octets(),
        dst: dst.ip().octets(),
        proto: PROTO_UDP,
    };
    let mut f = vec![0u8; ETH + IPV4 + udp_len];
    if !fr.write_headers(&mut f, ip_id, udp_len) {
        return Err(too_big());
    }
    let l4 = &mut f[ETH + IPV4..];
    l4[0..2].copy_from_slice(&src.port().to_be_bytes());
    l4[2..4].copy_from_slice(&dst.port().to_be_bytes());
    l4[4..6].copy_from_slice(&(udp_len as u16).to_be_bytes());
    l4[UDP..].copy_from_slice(payload);
    let c = fr.l4_checksum(l4);
    l4[6..8].copy_from_slice(&c.to_be_bytes());
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_frames_verify() {
        use mam_core::pcap::internet_checksum;
        let src = "10.1.2.3:4000".parse().unwrap();
        let dst = "239.192.70.1:31001".parse().unwrap();
        let f = udp_frame(src, dst, b"hello, world!", 7).unwrap();
        // A header with a correct checksum sums to 0xffff (checksum of it is 0).
        assert_eq!(internet_checksum(&f[14..34], 0), 0);
        assert_eq!(&f[0..6], &[0x01, 0x00, 0x5e, 0x40, 70, 1]);
        assert_eq!(&f[6..12], &[0x02, 0, 10, 1, 2, 3]);
        // The UDP checksum over the pseudo-header verifies: summed with it, it gives 0.
        let mut pseudo = 0u32;
        for w in [[10u8, 1], [2, 3], [239, 192], [70, 1]] {
            pseudo += u32::from(u16::from_be_bytes(w));
        }
        pseudo += 17 + (f.len() - 34) as u32;
        assert_eq!(internet_checksum(&f[34..], pseudo), 0);
        assert!(udp_frame(src, dst, &vec![0; 65_508], 0).is_err());
    }

    #[test]
    fn record_headers_and_resolution() {
        let mut w = PcapWriter::new(Vec::new(), TsResolution::Nano).unwrap();
        w.write_frame(1_549_238_400_123_456_789, &[1, 2, 3])
            .unwrap();
        let b = w.finish().unwrap();
        assert_eq!(&b[0..4], &0xa1b2_3c4du32.to_le_bytes());
        assert_eq!(
            u32::from_le_bytes(b[24..28].try_into().unwrap()),
            1_549_238_400
        );
        assert_eq!(
            u32::from_le_bytes(b[28..32].try_into().unwrap()),
            123_456_789
        );
        assert_eq!(b.len(), 24 + 16 + 3);
        let mut w = PcapWriter::new(Vec::new(), TsResolution::Micro).unwrap();
        w.write_frame(1_549_238_400_123_456_789, &[1]).unwrap();
        let b = w.finish().unwrap();
        assert_eq!(u32::from_le_bytes(b[28..32].try_into().unwrap()), 123_456);
    }
}
