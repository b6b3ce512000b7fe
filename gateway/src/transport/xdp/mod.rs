//! AF_XDP (XSK): UDP datagrams straight from and to a UMEM shared with the kernel, Linux only.
//!
//! [`XdpTransport::open`] maps a UMEM of `frames` × `frame_size` bytes, registers it, creates the
//! fill, completion, RX and TX rings (with `xdpilone`), binds them to one queue of an interface,
//! loads and attaches the redirect program of `bpf.rs` (UDP to our port → this socket, the rest
//! to the kernel), and posts the first half of the frames to the fill ring. The second half is
//! the TX free-list.
//!
//! - `claim` takes a free TX frame and hands out its payload area after 42 bytes of headers;
//!   no free frame is [`TransportError::WouldBlock`] (completions return frames in `poll`).
//! - `commit` writes the Ethernet / IPv4 / UDP headers (both checksums) and queues a TX
//!   descriptor; `flush` publishes every queued descriptor with one Release store and kicks the
//!   kernel with `sendto` when the ring asks for it (`XDP_RING_NEED_WAKEUP`; always, in copy
//!   mode, where the kernel copies the frames out inside that call).
//! - `poll` reaps the completion ring into the free-list, then hands the UDP payload of each RX
//!   descriptor to the callback in place (frames that are not a datagram from the peer to us are
//!   counted in [`XdpTransport::ignored`]) and gives the frames back on the fill ring, one
//!   publication per batch.
//!
//! Like [`super::udp::UdpTransport`] the flow is "connected": one peer (MAC, IPv4, port), no
//! ARP (the caller passes the peer's MAC), no IP options or fragments sent, no VLAN.

mod bpf;
mod frame;

use std::ffi::CString;
use std::io;
use std::net::SocketAddrV4;
use std::num::NonZeroU32;
use std::os::fd::RawFd;
use std::ptr::NonNull;
use std::time::{Duration, Instant};

use mam_core::pcap::{Ipv4Frame, PROTO_UDP};
use memmap2::MmapMut;
use xdpilone::xdp::XdpDesc;
use xdpilone::{DeviceQueue, IfInfo, RingRx, RingTx, Socket, SocketConfig, Umem, UmemConfig, User};

use super::{Transport, TransportError};
use frame::{Flow, HEADERS};

/// How the socket gets its frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XdpMode {
    /// `XDP_COPY`: the kernel copies frames between its buffers and the UMEM. Works on every
    /// interface (veth included); the rings and the API are the same as zero-copy.
    Copy,
    /// `XDP_ZEROCOPY`: the NIC DMAs into the UMEM. Needs driver support (and native attach).
    ZeroCopy,
}

/// Where the XDP program runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XdpAttach {
    /// Generic / SKB mode: after the kernel built an skb. Any interface; slowest.
    Generic,
    /// Driver (native) mode: in the driver's receive path, before any skb.
    Driver,
}

/// Everything fixed at start.
#[derive(Debug, Clone)]
pub struct XdpConfig {
    /// Interface name (e.g. `eth0`, a veth end).
    pub ifname: String,
    /// Queue of the interface to bind to.
    pub queue: u32,
    /// Our MAC (source of frames sent).
    pub local_mac: [u8; 6],
    /// The peer's (or the gateway's) MAC: destination of frames sent.
    pub peer_mac: [u8; 6],
    /// Our address and UDP port: datagrams to it are received.
    pub local: SocketAddrV4,
    /// The peer's address and port: datagrams go there, and only its datagrams are received.
    pub peer: SocketAddrV4,
    /// Bytes per UMEM frame: a power of two from 2048 to the page size.
    pub frame_size: u32,
    /// UMEM frames: a power of two; half receive, half transmit.
    pub frames: u32,
    /// Largest number of datagrams one `poll` delivers.
    pub poll_budget: usize,
    /// Copy or zero-copy.
    pub mode: XdpMode,
    /// Generic or driver attach of the program.
    pub attach: XdpAttach,
}

impl XdpConfig {
    /// Copy mode, generic attach, queue 0, 2048 frames of 2 KiB (4 MiB), poll budget 64.
    pub fn new(
        ifname: &str,
        local: SocketAddrV4,
        local_mac: [u8; 6],
        peer: SocketAddrV4,
        peer_mac: [u8; 6],
    ) -> Self {
        Self {
            ifname: ifname.to_string(),
            queue: 0,
            local_mac,
            peer_mac,
            local,
            peer,
            frame_size: 2048,
            frames: 2048,
            poll_budget: 64,
            mode: XdpMode::Copy,
            attach: XdpAttach::Generic,
        }
    }
}

/// Largest payload sent: a 1500-byte Ethernet MTU less the IPv4 and UDP headers (a received
/// frame must also fit a UMEM frame after the kernel's 256 bytes of `XDP_PACKET_HEADROOM`).
pub const MAX_PAYLOAD: usize = 1500 - 28;

/// How long `open` retries a `bind` that finds the queue busy (a socket closed just before).
const BIND_PATIENCE: Duration = Duration::from_secs(2);

/// An AF_XDP socket on one interface queue, carrying one UDP flow.
pub struct XdpTransport {
    // Field order is drop order: detach the program, then unmap the rings, close the socket,
    // and unmap the UMEM last (the kernel may touch it until the socket is gone).
    prog: bpf::XskProgram,
    rx: RingRx,
    tx: RingTx,
    device: DeviceQueue,
    _user: User,
    _umem: Umem,
    area: MmapMut,
    /// Start of `area`, for frame access through raw pointers (the kernel writes into frames
    /// user space does not own, so no reference to the whole area is ever made).
    base: NonNull<u8>,
    cfg: XdpConfig,
    flow: Flow,
    /// Frame offsets free for `claim`.
    free: Vec<u64>,
    /// Committed descriptors not yet published to the TX ring.
    pending: Vec<XdpDesc>,
    /// Received frames to give back on the fill ring.
    recycle: Vec<u64>,
    /// Frame offset and length of the open claim.
    open: Option<(u64, usize)>,
    max_payload: usize,
    ip_id: u16,
    ignored: u64,
    kicks: u64,
}

// SAFETY: the transport exclusively owns the UMEM mapping (`area`, which `base` and the `Umem`
// point into) and every ring; nothing in it is shared with another user-space thread (the
// rings are single-producer single-consumer with the kernel), so moving the whole of it to
// another thread is sound. It is not `Sync`.
unsafe impl Send for XdpTransport {}

impl std::fmt::Debug for XdpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XdpTransport")
            .field("cfg", &self.cfg)
            .field("prog", &self.prog)
            .field("free", &self.free.len())
            .field("pending", &self.pending.len())
            .field("ignored", &self.ignored)
            .finish_non_exhaustive()
    }
}

fn errno(e: xdpilone::Errno, what: &str) -> TransportError {
    let e = io::Error::from_raw_os_error(e.get_raw().abs());
    TransportError::Io(io::Error::new(e.kind(), format!("{what}: {e}")))
}

fn bad_config(why: &str) -> TransportError {
    TransportError::Io(io::Error::new(io::ErrorKind::InvalidInput, why))
}

impl XdpTransport {
    /// Opens the socket on `cfg.ifname` / `cfg.queue` and attaches the redirect program for
    /// `cfg.local`'s port. Needs `CAP_NET_RAW`, `CAP_NET_ADMIN` and `CAP_BPF` (root) and
    /// Linux ≥ 5.9 (BPF links for XDP).
    pub fn open(cfg: XdpConfig) -> Result<Self, TransportError> {
        // Aligned mode takes frames of 2 KiB up to a page; 4 KiB is the smallest page size.
        if !cfg.frame_size.is_power_of_two() || !(2048..=4096).contains(&cfg.frame_size) {
            return Err(bad_config(
                "frame_size must be a power of two in 2048..=4096",
            ));
        }
        if !cfg.frames.is_power_of_two() || cfg.frames < 4 || cfg.poll_budget == 0 {
            return Err(bad_config(
                "frames must be a power of two ≥ 4, poll_budget ≥ 1",
            ));
        }
        if cfg.mode == XdpMode::ZeroCopy && cfg.attach == XdpAttach::Generic {
            return Err(bad_config("zero-copy needs the driver (native) attach"));
        }
        let half = cfg.frames / 2;
        let ring = NonZeroU32::new(half).expect("frames ≥ 4");
        let bytes = (cfg.frames as usize)
            .checked_mul(cfg.frame_size as usize)
            .ok_or_else(|| bad_config("UMEM larger than the address space"))?;
        let mut area = MmapMut::map_anon(bytes)?;
        let base = NonNull::new(area.as_mut_ptr()).expect("mmap is not null");
        let umem_cfg = UmemConfig {
            fill_size: half,
            complete_size: half,
            frame_size: cfg.frame_size,
            headroom: 0,
            flags: 0,
        };
        let slice = NonNull::slice_from_raw_parts(base, area.len());
        // SAFETY: `slice` is the whole anonymous mapping `area`: page-aligned, valid for its
        // length, and kept alive by the transport, which drops it after the `Umem` and every
        // ring (field order).
        let umem = unsafe { Umem::new(umem_cfg, slice) }.map_err(|e| errno(e, "XDP_UMEM_REG"))?;

        let name = CString::new(cfg.ifname.as_str()).map_err(|_| bad_config("NUL in ifname"))?;
        let mut info = IfInfo::invalid();
        info.from_name(&name)
            .map_err(|e| errno(e, &format!("interface {}", cfg.ifname)))?;
        info.set_queue(cfg.queue);
        let sock = Socket::with_shared(&info, &umem).map_err(|e| errno(e, "AF_XDP socket"))?;
        let device = umem
            .fq_cq(&sock)
            .map_err(|e| errno(e, "fill/completion rings"))?;
        let mode = match cfg.mode {
            XdpMode::Copy => SocketConfig::XDP_BIND_COPY,
            XdpMode::ZeroCopy => SocketConfig::XDP_BIND_ZEROCOPY,
        };
        let user = umem
            .rx_tx(
                &sock,
                &SocketConfig {
                    rx_size: Some(ring),
                    tx_size: Some(ring),
                    bind_flags: mode | SocketConfig::XDP_BIND_NEED_WAKEUP,
                },
            )
            .map_err(|e| errno(e, "RX/TX rings"))?;
        let rx = user.map_rx().map_err(|e| errno(e, "mmap RX ring"))?;
        let tx = user.map_tx().map_err(|e| errno(e, "mmap TX ring"))?;
        // A socket closed just before may still hold the queue: the kernel releases its
        // buffer pool from a work queue after `close`, so `bind` says EBUSY for a moment.
        let since = Instant::now();
        while let Err(e) = umem.bind(&user) {
            if e.get_raw().abs() != libc::EBUSY || since.elapsed() > BIND_PATIENCE {
                let what = format!("bind to {} queue {}", cfg.ifname, cfg.queue);
                return Err(errno(e, &what));
            }
            std::thread::sleep(Duration::from_millis(5));
        }

        let flags = match cfg.attach {
            XdpAttach::Generic => bpf::XDP_FLAGS_SKB_MODE,
            XdpAttach::Driver => bpf::XDP_FLAGS_DRV_MODE,
        };
        let prog = bpf::XskProgram::attach(info.ifindex(), cfg.local.port(), cfg.queue + 1, flags)?;
        prog.insert(cfg.queue, user.as_raw_fd())?;

        let frame = Ipv4Frame {
            src_mac: cfg.local_mac,
            dst_mac: cfg.peer_mac,
            src: cfg.local.ip().octets(),
            dst: cfg.peer.ip().octets(),
            proto: PROTO_UDP,
        };
        let flow = Flow {
            frame,
            src_port: cfg.local.port(),
            dst_port: cfg.peer.port(),
        };
        let fs = u64::from(cfg.frame_size);
        let mut t = Self {
            prog,
            rx,
            tx,
            device,
            _user: user,
            _umem: umem,
            area,
            base,
            flow,
            free: (half..cfg.frames)
                .rev()
                .map(|i| u64::from(i) * fs)
                .collect(),
            pending: Vec::with_capacity(half as usize),
            recycle: (0..half).map(|i| u64::from(i) * fs).collect(),
            open: None,
            max_payload: MAX_PAYLOAD.min(cfg.frame_size as usize - HEADERS),
            ip_id: 0,
            ignored: 0,
            kicks: 0,
            cfg,
        };
        t.refill();
        Ok(t)
    }

    /// Largest payload one datagram carries (a frame less the headers).
    pub fn max_payload(&self) -> usize {
        self.max_payload
    }

    /// Frames that arrived on the socket but were not a datagram from the peer to us.
    pub fn ignored(&self) -> u64 {
        self.ignored
    }

    /// `sendto` kicks made so far.
    pub fn kicks(&self) -> u64 {
        self.kicks
    }

    /// TX frames committed and not yet completed by the kernel (queued, in the ring or sent).
    pub fn in_flight(&self) -> usize {
        (self.cfg.frames / 2) as usize - self.free.len() - usize::from(self.open.is_some())
    }

    /// The AF_XDP socket, to wait for readiness (POLLIN) with `poll` or mio's `SourceFd`.
    pub fn as_raw_fd(&self) -> RawFd {
        self.rx.as_raw_fd()
    }

    fn frame_mask(&self) -> u64 {
        !(u64::from(self.cfg.frame_size) - 1)
    }

    /// `len` bytes at UMEM offset `at`, which must lie in a frame user space owns.
    fn bytes_mut(&mut self, at: u64, len: usize) -> &mut [u8] {
        assert!(
            at as usize + len <= self.area.len(),
            "frame inside the UMEM"
        );
        // SAFETY: in bounds (checked above); the frame is owned by user space (taken from the
        // free-list, not on any ring), so the kernel neither reads nor writes it now, and the
        // returned borrow of `self` keeps any other access from this side away.
        unsafe { std::slice::from_raw_parts_mut(self.base.as_ptr().add(at as usize), len) }
    }

    /// Gives the frames in `recycle` back to the kernel's fill ring.
    fn refill(&mut self) {
        if self.recycle.is_empty() {
            return;
        }
        let mut w = self.device.fill(self.recycle.len() as u32);
        let n = w.insert(self.recycle.iter().copied()) as usize;
        w.commit();
        drop(w);
        self.recycle.drain(..n);
        if self.device.needs_wakeup() {
            self.device.wake();
        }
    }

    fn kick(&mut self) -> Result<(), TransportError> {
        self.kicks += 1;
        // SAFETY: a zero-length `sendto` on our own AF_XDP socket with no buffer and no
        // address: the kernel only processes the TX ring.
        let r = unsafe {
            libc::sendto(
                self.tx.as_raw_fd(),
                std::ptr::null(),
                0,
                libc::MSG_DONTWAIT,
                std::ptr::null(),
                0,
            )
        };
        if r >= 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            // Busy (another kick in progress), or the completion ring is full: retry on the
            // next flush after a poll; nothing is lost.
            Some(libc::EAGAIN | libc::EBUSY | libc::ENOBUFS | libc::EINTR) => Ok(()),
            _ => Err(e.into()),
        }
    }
}

impl Transport for XdpTransport {
    fn claim(&mut self, len: usize) -> Result<&mut [u8], TransportError> {
        if self.open.is_some() {
            return Err(TransportError::ClaimOpen);
        }
        if len > self.max_payload {
            return Err(TransportError::TooLarge {
                len,
                max: self.max_payload,
            });
        }
        let Some(at) = self.free.pop() else {
            return Err(TransportError::WouldBlock { needed: len });
        };
        self.open = Some((at, len));
        Ok(&mut self.bytes_mut(at, HEADERS + len)[HEADERS..])
    }

    fn commit(&mut self, len: usize) -> Result<(), TransportError> {
        let Some((at, claimed)) = self.open else {
            return Err(TransportError::Io(io::Error::other(
                "commit without a claim",
            )));
        };
        if len > claimed {
            return Err(TransportError::TooLarge { len, max: claimed });
        }
        let (flow, id) = (self.flow, self.ip_id);
        flow.write(self.bytes_mut(at, HEADERS + len), id, len);
        self.ip_id = id.wrapping_add(1);
        self.pending.push(XdpDesc {
            addr: at,
            len: (HEADERS + len) as u32,
            options: 0,
        });
        self.open = None;
        Ok(())
    }

    fn abort(&mut self) {
        if let Some((at, _)) = self.open.take() {
            self.free.push(at);
        }
    }

    fn flush(&mut self) -> Result<usize, TransportError> {
        let mut bytes = 0;
        if !self.pending.is_empty() {
            let mut w = self.tx.transmit(self.pending.len() as u32);
            let n = w.insert(self.pending.iter().copied()) as usize;
            w.commit();
            drop(w);
            bytes = self.pending[..n]
                .iter()
                .map(|d| d.len as usize - HEADERS)
                .sum();
            self.pending.drain(..n);
        }
        // Descriptors in the ring the kernel has not taken yet (this batch, or what an earlier
        // kick left: copy mode sends a bounded batch per call).
        if self.tx.pending() > 0 && self.tx.needs_wakeup() {
            self.kick()?;
        }
        Ok(bytes)
    }

    fn poll(&mut self, on_recv: &mut dyn FnMut(&[u8])) -> Result<usize, TransportError> {
        let mask = self.frame_mask();
        let mut c = self.device.complete(self.cfg.frames / 2);
        while let Some(addr) = c.read() {
            self.free.push(addr & mask);
        }
        c.release();
        drop(c);

        let mut delivered = 0;
        let area_len = self.area.len();
        let mut r = self.rx.receive(self.cfg.poll_budget as u32);
        while let Some(d) = r.read() {
            let (at, len) = (d.addr as usize, d.len as usize);
            if at.checked_add(len).is_some_and(|end| end <= area_len) {
                // SAFETY: in bounds (checked above); the kernel handed this frame to user space
                // through the RX ring and does not touch it until it is back on the fill ring
                // (below, after the callback returned).
                let pkt = unsafe { std::slice::from_raw_parts(self.base.as_ptr().add(at), len) };
                match self.flow.payload(pkt) {
                    Some(p) => {
                        on_recv(p);
                        delivered += 1;
                    }
                    None => self.ignored += 1,
                }
            } else {
                self.ignored += 1;
            }
            self.recycle.push(d.addr & mask);
        }
        r.release();
        drop(r);
        self.refill();
        Ok(delivered)
    }
}
