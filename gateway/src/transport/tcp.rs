//! mio TCP behind the [`Transport`] trait.
//!
//! Sends go into one pre-allocated byte ring (a linear buffer compacted when the tail reaches
//! the end): `claim` hands out a slot at the tail, `commit` publishes it, `flush` writes as much
//! as the socket takes. When the buffer is full `claim` fails with
//! [`TransportError::WouldBlock`] (counted in [`TcpStats::would_block`]): a peer that stops
//! reading costs at most the buffer, never more memory. Receives read into one pre-allocated
//! buffer and are handed to the caller's callback chunk by chunk. Nothing blocks.

use std::io::{self, Read, Write};
use std::net::SocketAddr;

use mio::net::TcpStream;

use super::{Transport, TransportError};

/// Sizes of a [`TcpTransport`]'s buffers.
#[derive(Debug, Clone, Copy)]
pub struct TcpOptions {
    /// Bytes of the send buffer (the largest backlog before back-pressure).
    pub send_buffer: usize,
    /// Bytes read per `read` call.
    pub recv_chunk: usize,
}

impl Default for TcpOptions {
    fn default() -> Self {
        TcpOptions {
            send_buffer: 1 << 20,
            recv_chunk: 64 << 10,
        }
    }
}

/// Counters of a [`TcpTransport`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpStats {
    /// Bytes written to the socket.
    pub bytes_sent: u64,
    /// Bytes read from the socket.
    pub bytes_received: u64,
    /// Claims refused for lack of room (back-pressure events).
    pub would_block: u64,
    /// Flushes that left bytes behind because the socket was full.
    pub partial_flushes: u64,
}

/// A non-blocking TCP connection with a pre-allocated send buffer.
#[derive(Debug)]
pub struct TcpTransport {
    stream: TcpStream,
    send: Box<[u8]>,
    head: usize,
    tail: usize,
    claimed: Option<usize>,
    recv: Box<[u8]>,
    stats: TcpStats,
    closed: bool,
    /// Reads only after the owner's poll said so ([`TcpTransport::track_readiness`]).
    track_readiness: bool,
    /// The socket may hold bytes: set by [`TcpTransport::mark_readable`], cleared when a read
    /// would block.
    read_ready: bool,
}

impl TcpTransport {
    /// Wraps a connected mio stream (TCP_NODELAY is set: FIX messages go out at once).
    pub fn new(stream: TcpStream, opts: TcpOptions) -> io::Result<Self> {
        stream.set_nodelay(true)?;
        Ok(TcpTransport {
            stream,
            send: vec![0; opts.send_buffer.max(64)].into_boxed_slice(),
            head: 0,
            tail: 0,
            claimed: None,
            recv: vec![0; opts.recv_chunk.max(64)].into_boxed_slice(),
            stats: TcpStats::default(),
            closed: false,
            track_readiness: false,
            read_ready: true,
        })
    }

    /// Connects to `addr` (a blocking connect with `timeout`, then non-blocking from there on).
    pub fn connect(
        addr: SocketAddr,
        timeout: std::time::Duration,
        opts: TcpOptions,
    ) -> io::Result<Self> {
        let s = std::net::TcpStream::connect_timeout(&addr, timeout)?;
        s.set_nonblocking(true)?;
        Self::new(TcpStream::from_std(s), opts)
    }

    /// From now on, reads go to the socket only after [`TcpTransport::mark_readable`] (until one
    /// would block). For an owner that registers the socket with an edge-triggered
    /// `mio::Poll` and marks it on every event: a busy-polling stage then makes no `recv` call
    /// that is sure to find nothing (those were 30 % of the daemon's shared thread in
    /// `perf record`, stop 25).
    pub fn track_readiness(&mut self) {
        self.track_readiness = true;
    }

    /// The owner's poll reported an event for this socket: the next read goes to it.
    pub fn mark_readable(&mut self) {
        self.read_ready = true;
    }

    /// The socket, to register with a `mio::Poll`.
    pub fn stream_mut(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    /// Counters.
    pub fn stats(&self) -> TcpStats {
        self.stats
    }

    /// Bytes committed but not yet written to the socket.
    pub fn queued(&self) -> usize {
        self.tail - self.head
    }

    /// Reads once into `buf` (the caller's pre-allocated buffer, so the bytes can be handed on
    /// while this transport is borrowed again to answer). `Ok(0)`: nothing ready now.
    pub fn recv_into(&mut self, buf: &mut [u8]) -> Result<usize, TransportError> {
        if self.track_readiness && !self.read_ready {
            return Ok(0);
        }
        loop {
            match self.stream.read(buf) {
                Ok(0) if !buf.is_empty() => {
                    self.closed = true;
                    return Err(TransportError::Closed);
                }
                Ok(n) => {
                    self.stats.bytes_received += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.read_ready = false;
                    return Ok(0);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.fail(e)),
            }
        }
    }

    /// True once the peer closed or the socket failed.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    fn fail(&mut self, e: io::Error) -> TransportError {
        match e.kind() {
            io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::UnexpectedEof => {
                self.closed = true;
                TransportError::Closed
            }
            _ => {
                self.closed = true;
                TransportError::Io(e)
            }
        }
    }
}

impl Transport for TcpTransport {
    fn claim(&mut self, len: usize) -> Result<&mut [u8], TransportError> {
        if self.claimed.is_some() {
            return Err(TransportError::ClaimOpen);
        }
        if self.closed {
            return Err(TransportError::Closed);
        }
        let cap = self.send.len();
        if len > cap {
            return Err(TransportError::TooLarge { len, max: cap });
        }
        if cap - self.tail < len {
            // Compact: move what is still queued to the front.
            self.send.copy_within(self.head..self.tail, 0);
            self.tail -= self.head;
            self.head = 0;
            if cap - self.tail < len {
                self.stats.would_block += 1;
                return Err(TransportError::WouldBlock { needed: len });
            }
        }
        self.claimed = Some(len);
        Ok(&mut self.send[self.tail..self.tail + len])
    }

    fn commit(&mut self, len: usize) -> Result<(), TransportError> {
        let Some(max) = self.claimed.take() else {
            return Err(TransportError::ClaimOpen);
        };
        self.tail += len.min(max);
        Ok(())
    }

    fn abort(&mut self) {
        self.claimed = None;
    }

    fn flush(&mut self) -> Result<usize, TransportError> {
        let mut total = 0;
        while self.head < self.tail {
            match self.stream.write(&self.send[self.head..self.tail]) {
                Ok(0) => {
                    self.closed = true;
                    return Err(TransportError::Closed);
                }
                Ok(n) => {
                    self.head += n;
                    total += n;
                    self.stats.bytes_sent += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.stats.partial_flushes += 1;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.fail(e)),
            }
        }
        if self.head == self.tail {
            self.head = 0;
            self.tail = 0;
        }
        Ok(total)
    }

    fn poll(&mut self, on_recv: &mut dyn FnMut(&[u8])) -> Result<usize, TransportError> {
        let mut chunks = 0;
        if self.track_readiness && !self.read_ready {
            return Ok(0);
        }
        loop {
            match self.stream.read(&mut self.recv) {
                Ok(0) => {
                    self.closed = true;
                    return if chunks > 0 {
                        Ok(chunks)
                    } else {
                        Err(TransportError::Closed)
                    };
                }
                Ok(n) => {
                    self.stats.bytes_received += n as u64;
                    chunks += 1;
                    on_recv(&self.recv[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.read_ready = false;
                    return Ok(chunks);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.fail(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(opts: TcpOptions) -> (TcpTransport, std::net::TcpStream) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let t = TcpTransport::connect(
            l.local_addr().unwrap(),
            std::time::Duration::from_secs(5),
            opts,
        )
        .unwrap();
        let (peer, _) = l.accept().unwrap();
        (t, peer)
    }

    #[test]
    fn sends_and_receives_on_loopback() {
        let (mut t, mut peer) = pair(TcpOptions::default());
        t.send(b"hello").unwrap();
        while t.queued() > 0 {
            t.flush().unwrap();
        }
        let mut b = [0u8; 5];
        peer.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"hello");
        peer.write_all(b"world").unwrap();
        let mut got = Vec::new();
        while got.len() < 5 {
            t.poll(&mut |c| got.extend_from_slice(c)).unwrap();
        }
        assert_eq!(got, b"world");
        drop(peer);
        let mut closed = false;
        for _ in 0..1000 {
            match t.poll(&mut |_| {}) {
                Err(TransportError::Closed) => {
                    closed = true;
                    break;
                }
                _ => std::thread::sleep(std::time::Duration::from_millis(1)),
            }
        }
        assert!(closed);
    }

    #[test]
    fn a_peer_that_stops_reading_is_back_pressure_not_memory() {
        let (mut t, _peer) = pair(TcpOptions {
            send_buffer: 4096,
            recv_chunk: 1024,
        });
        let msg = [b'x'; 1000];
        let mut refused = 0;
        // The peer never reads: kernel buffers fill, then ours, then claims are refused.
        for _ in 0..100_000 {
            match t.send(&msg) {
                Ok(()) => {}
                Err(TransportError::WouldBlock { needed }) => {
                    assert_eq!(needed, 1000);
                    refused += 1;
                    if refused > 10 {
                        break;
                    }
                }
                Err(e) => panic!("{e}"),
            }
            t.flush().unwrap();
        }
        assert!(refused > 10);
        assert!(t.stats().would_block >= 10);
        assert!(t.queued() <= 4096);
        assert!(matches!(
            t.claim(5000),
            Err(TransportError::TooLarge { .. })
        ));
    }
}
