//! Link, network and transport headers: a captured frame down to its UDP payload.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::Frame;

/// pcap `LINKTYPE_ETHERNET`.
pub const LINKTYPE_ETHERNET: i32 = 1;
/// pcap `LINKTYPE_RAW` (raw IPv4/IPv6; 12 and 14 are historical aliases).
pub const LINKTYPE_RAW: i32 = 101;
const LINKTYPE_NULL: i32 = 0;
const LINKTYPE_LOOP: i32 = 108;
const LINKTYPE_LINUX_SLL: i32 = 113;
const LINKTYPE_IPV4: i32 = 228;
const LINKTYPE_IPV6: i32 = 229;

/// A UDP datagram found in a frame; `payload` borrows the frame's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpDatagram<'a> {
    /// Source address and port.
    pub src: SocketAddr,
    /// Destination address and port.
    pub dst: SocketAddr,
    /// UDP payload, cut to the UDP length field (Ethernet padding removed).
    pub payload: &'a [u8],
}

/// Why a frame carries no complete UDP datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotUdp {
    /// A link type we do not decode.
    Linktype(i32),
    /// Not IPv4 or IPv6 (ARP, LLDP, ...).
    NotIp,
    /// IP, but another transport (TCP, IGMP, ...).
    NotUdpProtocol(u8),
    /// An IPv4 fragment (more-fragments flag or non-zero offset): refused, not reassembled.
    Fragment,
    /// The frame ends before the headers or the lengths they declare (snap length, cut capture).
    Truncated,
    /// A header whose fields contradict each other (IHL < 5, UDP length < 8, ...).
    BadHeader,
}

impl NotUdp {
    /// Short name, for counts in reports.
    pub fn as_str(&self) -> &'static str {
        match self {
            NotUdp::Linktype(_) => "unsupported-linktype",
            NotUdp::NotIp => "not-ip",
            NotUdp::NotUdpProtocol(_) => "not-udp",
            NotUdp::Fragment => "ip-fragment",
            NotUdp::Truncated => "truncated",
            NotUdp::BadHeader => "bad-header",
        }
    }
}

#[inline]
fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

/// The UDP datagram in `frame`, or `None` (see [`classify`] for why not).
#[inline]
pub fn udp_payload<'a>(frame: &Frame<'a>) -> Option<UdpDatagram<'a>> {
    classify(frame).ok()
}

/// The UDP datagram in `frame`, or why there is none.
pub fn classify<'a>(frame: &Frame<'a>) -> Result<UdpDatagram<'a>, NotUdp> {
    let d = frame.data;
    let ip = match frame.linktype {
        LINKTYPE_ETHERNET => ethernet(d)?,
        LINKTYPE_RAW | 12 | 14 | LINKTYPE_IPV4 | LINKTYPE_IPV6 => d,
        LINKTYPE_LINUX_SLL => {
            let proto = be16(d, 14).ok_or(NotUdp::Truncated)?;
            if proto != 0x0800 && proto != 0x86dd {
                return Err(NotUdp::NotIp);
            }
            &d[16..]
        }
        LINKTYPE_NULL | LINKTYPE_LOOP => d.get(4..).ok_or(NotUdp::Truncated)?,
        other => return Err(NotUdp::Linktype(other)),
    };
    match ip.first().map(|b| b >> 4) {
        Some(4) => ipv4(ip),
        Some(6) => ipv6(ip),
        Some(_) => Err(NotUdp::NotIp),
        None => Err(NotUdp::Truncated),
    }
}

/// Skips the Ethernet header and any 802.1Q / 802.1ad tags; returns the IP packet.
#[inline]
fn ethernet(d: &[u8]) -> Result<&[u8], NotUdp> {
    let mut at = 12;
    loop {
        let ethertype = be16(d, at).ok_or(NotUdp::Truncated)?;
        at += 2;
        match ethertype {
            0x8100 | 0x88a8 | 0x9100 => at += 2, // tag control info, then the inner type
            0x0800 | 0x86dd => return Ok(&d[at..]),
            _ => return Err(NotUdp::NotIp),
        }
    }
}

#[inline(always)]
fn ipv4(ip: &[u8]) -> Result<UdpDatagram<'_>, NotUdp> {
    if ip.len() < 20 {
        return Err(NotUdp::Truncated);
    }
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let total = usize::from(be16(ip, 2).ok_or(NotUdp::Truncated)?);
    if ihl < 20 || total < ihl {
        return Err(NotUdp::BadHeader);
    }
    let flags_frag = be16(ip, 6).ok_or(NotUdp::Truncated)?;
    if flags_frag & 0x2000 != 0 || flags_frag & 0x1fff != 0 {
        return Err(NotUdp::Fragment);
    }
    if ip[9] != 17 {
        return Err(NotUdp::NotUdpProtocol(ip[9]));
    }
    // Trim Ethernet padding with the IP total length; a frame shorter than it was cut.
    let ip = ip.get(..total).ok_or(NotUdp::Truncated)?;
    let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
    let dst = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
    udp(&ip[ihl..], IpAddr::V4(src), IpAddr::V4(dst))
}

fn ipv6(ip: &[u8]) -> Result<UdpDatagram<'_>, NotUdp> {
    if ip.len() < 40 {
        return Err(NotUdp::Truncated);
    }
    let payload_len = usize::from(be16(ip, 4).ok_or(NotUdp::Truncated)?);
    let next = ip[6];
    if next == 44 {
        return Err(NotUdp::Fragment);
    }
    if next != 17 {
        // Extension headers other than fragments are not walked: reported as not UDP.
        return Err(NotUdp::NotUdpProtocol(next));
    }
    let body = ip.get(40..40 + payload_len).ok_or(NotUdp::Truncated)?;
    let mut a = [0u8; 16];
    a.copy_from_slice(&ip[8..24]);
    let src = Ipv6Addr::from(a);
    a.copy_from_slice(&ip[24..40]);
    let dst = Ipv6Addr::from(a);
    udp(body, IpAddr::V6(src), IpAddr::V6(dst))
}

#[inline(always)]
fn udp(seg: &[u8], src: IpAddr, dst: IpAddr) -> Result<UdpDatagram<'_>, NotUdp> {
    let sport = be16(seg, 0).ok_or(NotUdp::Truncated)?;
    let dport = be16(seg, 2).ok_or(NotUdp::Truncated)?;
    let len = usize::from(be16(seg, 4).ok_or(NotUdp::Truncated)?);
    if len < 8 {
        return Err(NotUdp::BadHeader);
    }
    let payload = seg.get(8..len).ok_or(NotUdp::Truncated)?;
    Ok(UdpDatagram {
        src: SocketAddr::new(src, sport),
        dst: SocketAddr::new(dst, dport),
        payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(data: &[u8]) -> Frame<'_> {
        Frame {
            index: 0,
            ts_ns: 0,
            data,
            orig_len: data.len() as u32,
            linktype: LINKTYPE_ETHERNET,
        }
    }

    fn eth_ipv4_udp(vlan: bool, frag: u16, payload: &[u8], pad: usize) -> Vec<u8> {
        let mut v = vec![0u8; 12];
        if vlan {
            v.extend_from_slice(&[0x81, 0x00, 0x00, 0x05]);
        }
        v.extend_from_slice(&[0x08, 0x00]);
        let total = (20 + 8 + payload.len()) as u16;
        v.extend_from_slice(&[0x45, 0, (total >> 8) as u8, total as u8, 0, 0]);
        v.extend_from_slice(&frag.to_be_bytes());
        v.extend_from_slice(&[64, 17, 0, 0, 10, 0, 0, 1, 239, 1, 2, 3]);
        let ulen = (8 + payload.len()) as u16;
        v.extend_from_slice(&[0x30, 0x39, 0x3a, 0x98]);
        v.extend_from_slice(&ulen.to_be_bytes());
        v.extend_from_slice(&[0, 0]);
        v.extend_from_slice(payload);
        v.resize(v.len() + pad, 0xee);
        v
    }

    #[test]
    fn plain_and_vlan_tagged_udp() {
        for vlan in [false, true] {
            let f = eth_ipv4_udp(vlan, 0x4000, b"hello", 13);
            let d = udp_payload(&frame(&f)).unwrap();
            assert_eq!(d.payload, b"hello", "padding trimmed");
            assert_eq!(d.src.to_string(), "10.0.0.1:12345");
            assert_eq!(d.dst.to_string(), "239.1.2.3:15000");
        }
    }

    #[test]
    fn fragments_are_refused() {
        let more = eth_ipv4_udp(false, 0x2000, b"x", 0);
        assert_eq!(classify(&frame(&more)), Err(NotUdp::Fragment));
        let later = eth_ipv4_udp(false, 0x0010, b"x", 0);
        assert_eq!(classify(&frame(&later)), Err(NotUdp::Fragment));
    }

    #[test]
    fn lying_lengths_are_truncated_or_bad() {
        let mut f = eth_ipv4_udp(false, 0, b"hello", 0);
        let cut = &f[..f.len() - 1];
        assert_eq!(classify(&frame(cut)), Err(NotUdp::Truncated));
        f[14 + 20 + 5] = 3; // UDP length 3 < 8
        assert_eq!(classify(&frame(&f)), Err(NotUdp::BadHeader));
        f[14] = 0x44; // IHL 4
        assert_eq!(classify(&frame(&f)), Err(NotUdp::BadHeader));
    }
}
