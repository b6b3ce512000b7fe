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

/// pcap link type of Ethernet.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Bytes of Ethernet + IPv4 + UDP headers before the payload.
pub const UDP_FRAME_OVERHEAD: usize = 14 + 20 + 8;

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
    res: TsResolution,
    snaplen: u32,
    ip_id: u16,
    frames: u64,
}

/// The Internet checksum (RFC 1071) of `data`, starting from a partial `sum`.
pub fn internet_checksum(data: &[u8], mut sum: u32) -> u16 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum = sum.wrapping_add(u32::from(u16::from_be_bytes([c[0], c[1]])));
    }
    if let [last] = chunks.remainder() {
        sum = sum.wrapping_add(u32::from(*last) << 8);
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

impl<W: Write> PcapWriter<W> {
    /// Writes the global header (snap length 65535, Ethernet).
    pub fn new(mut out: W, res: TsResolution) -> io::Result<Self> {
        let magic: u32 = match res {
            TsResolution::Micro => 0xa1b2_c3d4,
            TsResolution::Nano => 0xa1b2_3c4d,
        };
        let snaplen = 65_535u32;
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&magic.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&0i32.to_le_bytes()); // thiszone
        h.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
        h.extend_from_slice(&snaplen.to_le_bytes());
        h.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
        out.write_all(&h)?;
        Ok(Self {
            out,
            res,
            snaplen,
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
        let secs = ts_ns / 1_000_000_000;
        let sub = ts_ns % 1_000_000_000;
        let frac = match self.res {
            TsResolution::Nano => sub,
            TsResolution::Micro => sub / 1000,
        };
        let secs = u32::try_from(secs).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "timestamp past 2106 does not fit pcap",
            )
        })?;
        let incl = frame.len().min(self.snaplen as usize);
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&secs.to_le_bytes());
        h[4..8].copy_from_slice(&(frac as u32).to_le_bytes());
        h[8..12].copy_from_slice(&(incl as u32).to_le_bytes());
        h[12..16].copy_from_slice(&(frame.len() as u32).to_le_bytes());
        self.out.write_all(&h)?;
        self.out.write_all(&frame[..incl])?;
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

/// Builds an Ethernet II / IPv4 / UDP frame around `payload`.
pub fn udp_frame(
    src: SocketAddrV4,
    dst: SocketAddrV4,
    payload: &[u8],
    ip_id: u16,
) -> io::Result<Vec<u8>> {
    let udp_len = 8 + payload.len();
    let ip_len = 20 + udp_len;
    let ip_len16 = u16::try_from(ip_len)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "UDP payload over 65507 bytes"))?;
    let mut f = Vec::with_capacity(14 + ip_len);
    let d = dst.ip().octets();
    if dst.ip().is_multicast() {
        f.extend_from_slice(&[0x01, 0x00, 0x5e, d[1] & 0x7f, d[2], d[3]]);
    } else {
        f.extend_from_slice(&[0x02, 0, d[0], d[1], d[2], d[3]]);
    }
    let s = src.ip().octets();
    f.extend_from_slice(&[0x02, 0, s[0], s[1], s[2], s[3]]);
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    // IPv4 header.
    let ip_at = f.len();
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&ip_len16.to_be_bytes());
    f.extend_from_slice(&ip_id.to_be_bytes());
    f.extend_from_slice(&0x4000u16.to_be_bytes()); // DF, offset 0
    f.extend_from_slice(&[64, 17, 0, 0]); // TTL, UDP, checksum placeholder
    f.extend_from_slice(&s);
    f.extend_from_slice(&d);
    let ck = internet_checksum(&f[ip_at..ip_at + 20], 0);
    f[ip_at + 10..ip_at + 12].copy_from_slice(&ck.to_be_bytes());
    // UDP header and payload.
    let udp_at = f.len();
    f.extend_from_slice(&src.port().to_be_bytes());
    f.extend_from_slice(&dst.port().to_be_bytes());
    f.extend_from_slice(&(udp_len as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(payload);
    // Pseudo-header: src, dst, zero, protocol, UDP length.
    let mut pseudo: u32 = 0;
    for w in [&s[..], &d[..]] {
        pseudo += u32::from(u16::from_be_bytes([w[0], w[1]]));
        pseudo += u32::from(u16::from_be_bytes([w[2], w[3]]));
    }
    pseudo += 17 + udp_len as u32;
    let mut uck = internet_checksum(&f[udp_at..], pseudo);
    if uck == 0 {
        uck = 0xffff; // 0 means "no checksum" in UDP over IPv4
    }
    f[udp_at + 6..udp_at + 8].copy_from_slice(&uck.to_be_bytes());
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_checksum_verifies() {
        let src = "10.1.2.3:4000".parse().unwrap();
        let dst = "239.192.70.1:31001".parse().unwrap();
        let f = udp_frame(src, dst, b"hello, world!", 7).unwrap();
        // A header with a correct checksum sums to 0xffff (checksum of it is 0).
        assert_eq!(internet_checksum(&f[14..34], 0), 0);
        assert_eq!(&f[0..6], &[0x01, 0x00, 0x5e, 0x40, 70, 1]);
        // RFC 1071 example.
        let ex = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(internet_checksum(&ex, 0), !0xddf2);
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
