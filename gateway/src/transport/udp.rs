//! UDP over mio: one datagram per committed slot, sent in batches on `flush`.
//!
//! All memory is allocated in [`UdpTransport::connect`]: a TX arena of `slots` × `max_datagram`
//! bytes used as a FIFO of committed datagrams, and one RX buffer that holds any datagram
//! (64 KiB, so nothing is silently truncated).
//! `claim` hands out the next arena slot; `flush` sends committed slots in order until the
//! socket would block (the rest stay queued and go on the next flush); a full arena is
//! [`TransportError::WouldBlock`]. The socket is connected to one peer, so datagrams from
//! anyone else are dropped by the kernel.
//!
//! UDP delivers no guarantee: loss and reordering are the session layer's to detect (sequence
//! numbers and retransmission, see `binary::session`).

use std::io::ErrorKind;
use std::net::SocketAddr;

use mio::net::UdpSocket;

use super::{Transport, TransportError};

/// Largest UDP payload over IPv4.
pub const MAX_UDP_PAYLOAD: usize = 65_507;

/// Sizes fixed at start.
#[derive(Debug, Clone, Copy)]
pub struct UdpConfig {
    /// Largest datagram sent or received (at most [`MAX_UDP_PAYLOAD`]).
    pub max_datagram: usize,
    /// Datagrams that can wait in the TX arena for `flush`.
    pub slots: usize,
    /// Largest number of datagrams one `poll` call delivers (bounds the time spent in it).
    pub poll_budget: usize,
}

impl Default for UdpConfig {
    fn default() -> Self {
        Self {
            max_datagram: 2048,
            slots: 256,
            poll_budget: 64,
        }
    }
}

/// A connected, non-blocking UDP transport.
pub struct UdpTransport {
    socket: UdpSocket,
    cfg: UdpConfig,
    arena: Box<[u8]>,
    lens: Box<[usize]>,
    /// Index of the oldest unsent committed slot.
    first: usize,
    /// Committed slots waiting.
    queued: usize,
    /// Claimed length if a claim is open.
    open: Option<usize>,
    rx: Box<[u8]>,
    /// Datagrams the kernel refused with a hard error (e.g. ICMP port unreachable), counted.
    send_errors: u64,
}

impl std::fmt::Debug for UdpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the buffers: they are hundreds of kilobytes.
        f.debug_struct("UdpTransport")
            .field("socket", &self.socket)
            .field("cfg", &self.cfg)
            .field("queued", &self.queued)
            .field("send_errors", &self.send_errors)
            .finish_non_exhaustive()
    }
}

impl UdpTransport {
    /// Binds `local`, connects to `peer`, and allocates every buffer.
    pub fn connect(
        local: SocketAddr,
        peer: SocketAddr,
        cfg: UdpConfig,
    ) -> Result<Self, TransportError> {
        let t = Self::bind(local, cfg)?;
        t.set_peer(peer)?;
        Ok(t)
    }

    /// Binds `local` and allocates every buffer; call [`set_peer`](Self::set_peer) before
    /// sending (two ends on port 0 learn each other's address this way).
    pub fn bind(local: SocketAddr, cfg: UdpConfig) -> Result<Self, TransportError> {
        if cfg.max_datagram == 0 || cfg.max_datagram > MAX_UDP_PAYLOAD || cfg.slots == 0 {
            return Err(TransportError::TooLarge {
                len: cfg.max_datagram,
                max: MAX_UDP_PAYLOAD,
            });
        }
        let socket = UdpSocket::bind(local)?;
        Ok(Self {
            socket,
            cfg,
            arena: vec![0u8; cfg.max_datagram * cfg.slots].into_boxed_slice(),
            lens: vec![0usize; cfg.slots].into_boxed_slice(),
            first: 0,
            queued: 0,
            open: None,
            rx: vec![0u8; MAX_UDP_PAYLOAD].into_boxed_slice(),
            send_errors: 0,
        })
    }

    /// Connects the socket to `peer`: datagrams go there, and only its datagrams are received.
    pub fn set_peer(&self, peer: SocketAddr) -> Result<(), TransportError> {
        Ok(self.socket.connect(peer)?)
    }

    /// The bound address (useful after binding port 0).
    pub fn local_addr(&self) -> Result<SocketAddr, TransportError> {
        Ok(self.socket.local_addr()?)
    }

    /// The socket, to register with a `mio::Poll` for readiness events.
    pub fn socket_mut(&mut self) -> &mut UdpSocket {
        &mut self.socket
    }

    /// Committed datagrams not yet sent.
    pub fn queued(&self) -> usize {
        self.queued
    }

    /// Datagrams dropped because the kernel reported a hard send error (counted, not retried:
    /// UDP has no connection to repair).
    pub fn send_errors(&self) -> u64 {
        self.send_errors
    }

    fn slot_index(&self, k: usize) -> usize {
        (self.first + k) % self.cfg.slots
    }
}

impl Transport for UdpTransport {
    fn claim(&mut self, len: usize) -> Result<&mut [u8], TransportError> {
        if self.open.is_some() {
            return Err(TransportError::ClaimOpen);
        }
        if len > self.cfg.max_datagram {
            return Err(TransportError::TooLarge {
                len,
                max: self.cfg.max_datagram,
            });
        }
        if self.queued == self.cfg.slots {
            return Err(TransportError::WouldBlock { needed: len });
        }
        self.open = Some(len);
        let at = self.slot_index(self.queued) * self.cfg.max_datagram;
        Ok(&mut self.arena[at..at + len])
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
        let i = self.slot_index(self.queued);
        self.lens[i] = len;
        self.queued += 1;
        self.open = None;
        Ok(())
    }

    fn abort(&mut self) {
        self.open = None;
    }

    fn flush(&mut self) -> Result<usize, TransportError> {
        let mut bytes = 0;
        while self.queued > 0 {
            let i = self.first;
            let at = i * self.cfg.max_datagram;
            match self.socket.send(&self.arena[at..at + self.lens[i]]) {
                Ok(n) => bytes += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                // The peer's port is not open yet (ICMP unreachable from an earlier datagram):
                // this datagram is lost as UDP would lose it; count it and go on.
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => self.send_errors += 1,
                Err(e) => return Err(e.into()),
            }
            self.first = (self.first + 1) % self.cfg.slots;
            self.queued -= 1;
        }
        Ok(bytes)
    }

    fn poll(&mut self, on_recv: &mut dyn FnMut(&[u8])) -> Result<usize, TransportError> {
        let mut n = 0;
        while n < self.cfg.poll_budget {
            match self.socket.recv(&mut self.rx) {
                Ok(len) => {
                    on_recv(&self.rx[..len]);
                    n += 1;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                // An ICMP error for an earlier send surfaces here on Linux; not a receive.
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
                    self.send_errors += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(n)
    }
}
