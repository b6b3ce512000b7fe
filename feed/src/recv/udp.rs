//! mio UDP receiver: unicast or multicast join, large receive buffer, optional busy polling
//! and kernel receive timestamps.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use mio::{Events, Interest, Poll, Token};
use socket2::{Domain, Protocol, Socket, Type};

use super::{sys, Delivered, Framing, RecvStats, Sequencer};

/// Largest datagram the receiver reads whole (bigger ones are counted as oversized).
pub const MAX_DATAGRAM: usize = 65_536;

/// How to open a UDP receiver.
#[derive(Debug, Clone)]
pub struct UdpConfig {
    /// Address to bind (for multicast: the group's port, on 0.0.0.0 or the group address).
    pub bind: SocketAddr,
    /// Multicast group to join and the local interface address to join it on.
    pub multicast: Option<(Ipv4Addr, Ipv4Addr)>,
    /// Receive buffer to ask for (SO_RCVBUF; SO_RCVBUFFORCE is tried when the system cap is
    /// lower and the process may exceed it).
    pub recv_buffer: usize,
    /// SO_BUSY_POLL microseconds (Linux; needs CAP_NET_ADMIN above the sysctl default).
    pub busy_poll_us: Option<u32>,
    /// Ask the kernel for software receive timestamps (SO_TIMESTAMPNS, Linux).
    pub kernel_timestamps: bool,
}

impl UdpConfig {
    /// Unicast on `bind` with an 8 MiB receive buffer, no busy poll, no kernel timestamps.
    pub fn unicast(bind: SocketAddr) -> Self {
        Self {
            bind,
            multicast: None,
            recv_buffer: 8 << 20,
            busy_poll_us: None,
            kernel_timestamps: false,
        }
    }
}

const SOCK: Token = Token(0);

/// A non-blocking UDP receiver driven by a mio [`Poll`].
#[derive(Debug)]
pub struct UdpReceiver<F> {
    sock: mio::net::UdpSocket,
    poll: Poll,
    events: Events,
    buf: Vec<u8>,
    seq: Sequencer<F>,
    timestamps: bool,
    recv_buffer: usize,
}

impl<F: Framing> UdpReceiver<F> {
    /// Opens, configures and binds the socket, and registers it with a new poll.
    pub fn bind(cfg: &UdpConfig, framing: F) -> io::Result<Self> {
        let domain = Domain::for_address(cfg.bind);
        let s = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
        s.set_reuse_address(true)?;
        s.set_recv_buffer_size(cfg.recv_buffer)?;
        if s.recv_buffer_size()? < cfg.recv_buffer {
            // The kernel capped it at net.core.rmem_max; a privileged process may go past.
            let _ = sys::force_recv_buffer(&s, cfg.recv_buffer);
        }
        if let Some(us) = cfg.busy_poll_us {
            sys::set_busy_poll(&s, us)?;
        }
        if cfg.kernel_timestamps {
            sys::enable_rx_timestamps(&s)?;
        }
        s.set_nonblocking(true)?;
        s.bind(&cfg.bind.into())?;
        if let Some((group, iface)) = cfg.multicast {
            s.join_multicast_v4(&group, &iface)?;
        }
        let recv_buffer = s.recv_buffer_size()?;
        let mut sock = mio::net::UdpSocket::from_std(s.into());
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut sock, SOCK, Interest::READABLE)?;
        Ok(Self {
            sock,
            poll,
            events: Events::with_capacity(16),
            buf: vec![0u8; MAX_DATAGRAM],
            seq: Sequencer::new(framing),
            timestamps: cfg.kernel_timestamps,
            recv_buffer,
        })
    }

    /// The bound address (with the port the system chose, if 0 was asked).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_addr()
    }
    /// The receive buffer the kernel granted (Linux reports twice the usable size).
    pub fn recv_buffer(&self) -> usize {
        self.recv_buffer
    }
    /// Counters so far.
    pub fn stats(&self) -> RecvStats {
        self.seq.stats
    }

    /// Waits up to `timeout` (None: forever, zero: not at all) for packets, then reads every
    /// packet queued, calling `on` for each one delivered. Returns the packets read.
    pub fn poll(
        &mut self,
        timeout: Option<Duration>,
        on: &mut impl FnMut(&Delivered<'_>),
    ) -> io::Result<usize> {
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(0),
            Err(e) => return Err(e),
        }
        // mio is edge-triggered: always drain until WouldBlock, whatever the events say.
        self.drain(on)
    }

    /// Reads every packet queued now, without waiting.
    pub fn drain(&mut self, on: &mut impl FnMut(&Delivered<'_>)) -> io::Result<usize> {
        self.drain_max(usize::MAX, on)
    }

    /// Reads at most `limit` packets queued now, without waiting (a bounded duty cycle for a
    /// busy-polling stage; the socket is read directly, no poll call).
    pub fn drain_max(
        &mut self,
        limit: usize,
        on: &mut impl FnMut(&Delivered<'_>),
    ) -> io::Result<usize> {
        let mut n = 0;
        while n < limit {
            let got = self.recv_one();
            let (len, kernel_ns) = match got {
                Ok(v) => v,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // ICMP port-unreachable from an earlier send on this socket: not ours to fail on.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
                Err(e) => return Err(e),
            };
            let recv_ns = sys::mono_ns();
            n += 1;
            if len >= self.buf.len() {
                self.seq.stats.oversized += 1;
                continue;
            }
            self.seq.packet(&self.buf[..len], recv_ns, kernel_ns, on);
        }
        Ok(n)
    }

    fn recv_one(&mut self) -> io::Result<(usize, Option<u64>)> {
        #[cfg(target_os = "linux")]
        if self.timestamps {
            let (len, _, ts) = sys::recv_with_timestamp(&self.sock, &mut self.buf)?;
            return Ok((len, ts));
        }
        let _ = self.timestamps;
        let (len, _) = self.sock.recv_from(&mut self.buf)?;
        Ok((len, None))
    }
}
