//! The byte layout of classic pcap files (libpcap, little-endian, `LINKTYPE_ETHERNET`) and of
//! the Ethernet II / IPv4 / UDP and TCP headers inside their records, with the RFC 1071
//! Internet checksum. Layout only, no I/O: the feed's `PcapWriter` (captures written by
//! `mam capture convert`) and the gateway's `PcapSink` (a transport that captures what it
//! sends) both frame their packets here, so there is one checksum and one header writer.
//!
//! Written by hand: a few fixed offsets (RFC 791, RFC 768, RFC 793, the libpcap file format),
//! on the path of every captured message, where a packet-building crate would allocate.

/// Magic of a file with microsecond timestamps.
pub const MAGIC_MICROS: u32 = 0xa1b2_c3d4;
/// Magic of a file with nanosecond timestamps.
pub const MAGIC_NANOS: u32 = 0xa1b2_3c4d;
/// pcap link type of Ethernet.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Largest bytes of a packet a record keeps (the snap length the headers declare).
pub const SNAPLEN: u32 = 65_535;
/// Bytes of the file's global header.
pub const GLOBAL_HEADER: usize = 24;
/// Bytes of a record header.
pub const RECORD_HEADER: usize = 16;
/// Bytes of an Ethernet II header.
pub const ETH: usize = 14;
/// Bytes of an IPv4 header without options.
pub const IPV4: usize = 20;
/// Bytes of a UDP header.
pub const UDP: usize = 8;
/// Bytes of a TCP header without options.
pub const TCP: usize = 20;
/// IP protocol number of TCP.
pub const PROTO_TCP: u8 = 6;
/// IP protocol number of UDP.
pub const PROTO_UDP: u8 = 17;

/// The file's global header: version 2.4, snap length [`SNAPLEN`], Ethernet; nanosecond or
/// microsecond timestamps.
pub fn global_header(nanos: bool) -> [u8; GLOBAL_HEADER] {
    let mut h = [0u8; GLOBAL_HEADER];
    let magic = if nanos { MAGIC_NANOS } else { MAGIC_MICROS };
    h[0..4].copy_from_slice(&magic.to_le_bytes());
    h[4..6].copy_from_slice(&2u16.to_le_bytes());
    h[6..8].copy_from_slice(&4u16.to_le_bytes());
    // thiszone 0, sigfigs 0.
    h[16..20].copy_from_slice(&SNAPLEN.to_le_bytes());
    h[20..24].copy_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
    h
}

/// A record header for a packet of `len` bytes of which `kept` are in the record, stamped
/// `ts_ns` since the Unix epoch (`nanos`: the file's resolution; microseconds are truncated).
/// `None` for a time past 2106, which the header's 32-bit seconds cannot hold.
pub fn record_header(ts_ns: u64, nanos: bool, kept: u32, len: u32) -> Option<[u8; RECORD_HEADER]> {
    let secs = u32::try_from(ts_ns / 1_000_000_000).ok()?;
    let sub = (ts_ns % 1_000_000_000) as u32;
    let frac = if nanos { sub } else { sub / 1000 };
    let mut h = [0u8; RECORD_HEADER];
    h[0..4].copy_from_slice(&secs.to_le_bytes());
    h[4..8].copy_from_slice(&frac.to_le_bytes());
    h[8..12].copy_from_slice(&kept.to_le_bytes());
    h[12..16].copy_from_slice(&len.to_le_bytes());
    Some(h)
}

/// The Internet checksum (RFC 1071) of `data`, starting from the partial sum `sum` (a
/// pseudo-header's, or 0).
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

/// The MAC a frame to `ip` goes to: the IPv4 multicast MAC (`01:00:5e` and the group's low 23
/// bits, RFC 1112) for a group, else a locally administered one made of the address.
pub fn mac_for(ip: [u8; 4]) -> [u8; 6] {
    if (224..=239).contains(&ip[0]) {
        [0x01, 0x00, 0x5e, ip[1] & 0x7f, ip[2], ip[3]]
    } else {
        [0x02, 0, ip[0], ip[1], ip[2], ip[3]]
    }
}

/// Endpoints of a frame's Ethernet and IPv4 headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Frame {
    /// Source MAC.
    pub src_mac: [u8; 6],
    /// Destination MAC.
    pub dst_mac: [u8; 6],
    /// Source address.
    pub src: [u8; 4],
    /// Destination address.
    pub dst: [u8; 4],
    /// [`PROTO_UDP`] or [`PROTO_TCP`].
    pub proto: u8,
}

impl Ipv4Frame {
    /// Writes the Ethernet and IPv4 headers (DF, TTL 64, header checksum) into `f[..ETH +
    /// IPV4]` for a transport segment of `l4_len` bytes; false if it does not fit IPv4.
    pub fn write_headers(&self, f: &mut [u8], ip_id: u16, l4_len: usize) -> bool {
        let Ok(total) = u16::try_from(IPV4 + l4_len) else {
            return false;
        };
        f[0..6].copy_from_slice(&self.dst_mac);
        f[6..12].copy_from_slice(&self.src_mac);
        f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        let ip = &mut f[ETH..ETH + IPV4];
        ip[0] = 0x45;
        ip[1] = 0;
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        ip[4..6].copy_from_slice(&ip_id.to_be_bytes());
        ip[6..8].copy_from_slice(&0x4000u16.to_be_bytes()); // DF, offset 0
        ip[8] = 64;
        ip[9] = self.proto;
        ip[10..12].fill(0);
        ip[12..16].copy_from_slice(&self.src);
        ip[16..20].copy_from_slice(&self.dst);
        let c = internet_checksum(ip, 0);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        true
    }

    /// The checksum of transport segment `l4` (its checksum field zero) over the IPv4
    /// pseudo-header; a UDP checksum of 0 is sent as `0xffff` (0 means "none" in UDP over
    /// IPv4, RFC 768).
    pub fn l4_checksum(&self, l4: &[u8]) -> u16 {
        let mut pseudo = 0u32;
        for w in [self.src, self.dst] {
            pseudo += u32::from(u16::from_be_bytes([w[0], w[1]]));
            pseudo += u32::from(u16::from_be_bytes([w[2], w[3]]));
        }
        pseudo += u32::from(self.proto) + l4.len() as u32;
        match internet_checksum(l4, pseudo) {
            0 if self.proto == PROTO_UDP => 0xffff,
            c => c,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_1071_example_and_a_header_that_verifies() {
        let ex = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(internet_checksum(&ex, 0), !0xddf2);
        let fr = Ipv4Frame {
            src_mac: mac_for([10, 1, 2, 3]),
            dst_mac: mac_for([239, 192, 70, 1]),
            src: [10, 1, 2, 3],
            dst: [239, 192, 70, 1],
            proto: PROTO_UDP,
        };
        let mut f = [0u8; ETH + IPV4];
        assert!(fr.write_headers(&mut f, 7, UDP + 5));
        // A header with a correct checksum sums to 0xffff: the checksum of it is 0.
        assert_eq!(internet_checksum(&f[ETH..], 0), 0);
        assert_eq!(&f[0..6], &[0x01, 0x00, 0x5e, 0x40, 70, 1]);
        assert!(!fr.write_headers(&mut f, 7, 65_535));
    }

    #[test]
    fn record_headers_keep_or_truncate_the_fraction() {
        let ts = 1_549_238_400_123_456_789;
        let h = record_header(ts, true, 3, 3).unwrap();
        assert_eq!(
            u32::from_le_bytes(h[0..4].try_into().unwrap()),
            1_549_238_400
        );
        assert_eq!(u32::from_le_bytes(h[4..8].try_into().unwrap()), 123_456_789);
        let h = record_header(ts, false, 3, 3).unwrap();
        assert_eq!(u32::from_le_bytes(h[4..8].try_into().unwrap()), 123_456);
        assert!(record_header(u64::MAX, true, 0, 0).is_none());
        assert_eq!(&global_header(true)[0..4], &MAGIC_NANOS.to_le_bytes());
    }
}
