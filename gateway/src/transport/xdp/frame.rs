//! Ethernet II / IPv4 / UDP framing of the frames the AF_XDP transport sends and receives.
//!
//! Headers are written with `mam_core::pcap`'s writer and RFC 1071 checksum (one checksum in
//! the repository); received frames are checked field by field and only a UDP datagram from the
//! peer to our address and port is handed on.

use mam_core::pcap::{internet_checksum, Ipv4Frame, ETH, IPV4, PROTO_UDP, UDP};

/// Bytes of headers before the payload of every frame sent.
pub(super) const HEADERS: usize = ETH + IPV4 + UDP;

/// The two ends of the flow: who we are and who we talk to.
#[derive(Debug, Clone, Copy)]
pub(super) struct Flow {
    pub(super) frame: Ipv4Frame,
    pub(super) src_port: u16,
    pub(super) dst_port: u16,
}

impl Flow {
    /// Writes Ethernet, IPv4 (header checksum) and UDP (checksum over the payload already in
    /// `f[HEADERS..]`) headers for a payload of `len` bytes into `f[..HEADERS]`.
    pub(super) fn write(&self, f: &mut [u8], ip_id: u16, len: usize) {
        let l4_len = UDP + len;
        // `XdpTransport::open` bounds the payload by the frame size, far below IPv4's limit.
        let fits = self.frame.write_headers(f, ip_id, l4_len);
        debug_assert!(fits);
        let udp = &mut f[ETH + IPV4..HEADERS + len];
        udp[0..2].copy_from_slice(&self.src_port.to_be_bytes());
        udp[2..4].copy_from_slice(&self.dst_port.to_be_bytes());
        udp[4..6].copy_from_slice(&(l4_len as u16).to_be_bytes());
        udp[6..8].fill(0);
        let c = self.frame.l4_checksum(udp);
        udp[6..8].copy_from_slice(&c.to_be_bytes());
    }

    /// The UDP payload of `pkt` if it is an unfragmented IPv4 datagram with a valid header
    /// checksum from the peer's address and port to ours; `None` for anything else.
    ///
    /// The UDP checksum is not verified: a veth peer (or a NIC with offload) may hand over a
    /// partial checksum, exactly as the kernel would trust `CHECKSUM_PARTIAL`.
    pub(super) fn payload<'a>(&self, pkt: &'a [u8]) -> Option<&'a [u8]> {
        if pkt.len() < ETH + IPV4 || pkt[12..14] != [0x08, 0x00] {
            return None;
        }
        let ip = &pkt[ETH..];
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        if ip[0] >> 4 != 4 || ihl < IPV4 || total < ihl + UDP || total > ip.len() {
            return None;
        }
        let fragment = u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff != 0;
        if fragment || ip[9] != PROTO_UDP || internet_checksum(&ip[..ihl], 0) != 0 {
            return None;
        }
        if ip[12..16] != self.frame.dst || ip[16..20] != self.frame.src {
            return None;
        }
        let udp = &ip[ihl..total];
        let sport = u16::from_be_bytes([udp[0], udp[1]]);
        let dport = u16::from_be_bytes([udp[2], udp[3]]);
        let ulen = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
        if sport != self.dst_port || dport != self.src_port || ulen < UDP || ulen > udp.len() {
            return None;
        }
        Some(&udp[UDP..ulen])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flows() -> (Flow, Flow) {
        let a = Ipv4Frame {
            src_mac: [2, 0, 0, 0, 0, 1],
            dst_mac: [2, 0, 0, 0, 0, 2],
            src: [10, 0, 0, 1],
            dst: [10, 0, 0, 2],
            proto: PROTO_UDP,
        };
        let b = Ipv4Frame {
            src_mac: a.dst_mac,
            dst_mac: a.src_mac,
            src: a.dst,
            dst: a.src,
            proto: PROTO_UDP,
        };
        let fa = Flow {
            frame: a,
            src_port: 7000,
            dst_port: 7001,
        };
        let fb = Flow {
            frame: b,
            src_port: 7001,
            dst_port: 7000,
        };
        (fa, fb)
    }

    #[test]
    fn what_one_end_writes_the_other_parses() {
        let (a, b) = flows();
        let mut f = [0u8; 128];
        f[HEADERS..HEADERS + 5].copy_from_slice(b"hello");
        a.write(&mut f, 9, 5);
        // Ethernet padding after the datagram is ignored.
        let pkt = &f[..HEADERS + 5 + 13];
        assert_eq!(b.payload(pkt), Some(&b"hello"[..]));
        // A full UDP checksum verifies (sum over the pseudo-header and segment is 0xffff).
        let udp = &f[ETH + IPV4..HEADERS + 5];
        assert_eq!(b.frame.l4_checksum(udp), 0xffff);
        // Not to us: the sender itself, a wrong port, a broken header checksum.
        assert_eq!(a.payload(pkt), None);
        let mut bad = f;
        bad[ETH + IPV4 + 2] ^= 1;
        assert_eq!(b.payload(&bad[..HEADERS + 5]), None);
        let mut bad = f;
        bad[ETH + 10] ^= 1;
        assert_eq!(b.payload(&bad[..HEADERS + 5]), None);
        // Truncated.
        assert_eq!(b.payload(&f[..HEADERS + 4]), None);
        assert_eq!(b.payload(&f[..20]), None);
    }
}
