//! mio TCP receiver for packet streams framed by a u16 little-endian length (each frame one
//! packet, exactly as it would travel in a UDP datagram), for sources that deliver over TCP.

use std::io::{self, Read};
use std::net::SocketAddr;
use std::time::Duration;

use mio::{Events, Interest, Poll, Token};

use super::{sys, Delivered, Framing, RecvStats, Sequencer};

const CONN: Token = Token(0);
/// Bytes read from the socket per `read` call.
const READ_CHUNK: usize = 64 * 1024;

/// A non-blocking, length-framed TCP receiver.
#[derive(Debug)]
pub struct TcpReceiver<F> {
    stream: mio::net::TcpStream,
    poll: Poll,
    events: Events,
    buf: Vec<u8>,
    /// Bytes of `buf` already consumed as complete frames.
    start: usize,
    seq: Sequencer<F>,
    closed: bool,
}

impl<F: Framing> TcpReceiver<F> {
    /// Connects to `addr` (the connection completes in the background; poll to use it).
    pub fn connect(addr: SocketAddr, framing: F) -> io::Result<Self> {
        Self::from_stream(mio::net::TcpStream::connect(addr)?, framing)
    }

    /// Wraps a connected (or connecting) non-blocking stream.
    pub fn from_stream(mut stream: mio::net::TcpStream, framing: F) -> io::Result<Self> {
        let _ = stream.set_nodelay(true);
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut stream, CONN, Interest::READABLE)?;
        Ok(Self {
            stream,
            poll,
            events: Events::with_capacity(8),
            buf: Vec::with_capacity(2 * READ_CHUNK),
            start: 0,
            seq: Sequencer::new(framing),
            closed: false,
        })
    }

    /// True once the peer closed the connection (every complete frame was delivered).
    pub fn is_closed(&self) -> bool {
        self.closed
    }
    /// Counters so far.
    pub fn stats(&self) -> RecvStats {
        self.seq.stats
    }

    /// Waits up to `timeout` for data, reads all that is available and delivers every complete
    /// frame. Returns the frames handled.
    pub fn poll(
        &mut self,
        timeout: Option<Duration>,
        on: &mut impl FnMut(&Delivered<'_>),
    ) -> io::Result<usize> {
        if self.closed {
            return Ok(0);
        }
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(0),
            Err(e) => return Err(e),
        }
        let mut frames = 0;
        loop {
            let at = self.buf.len();
            self.buf.resize(at + READ_CHUNK, 0);
            let r = self.stream.read(&mut self.buf[at..]);
            match r {
                Ok(0) => {
                    self.buf.truncate(at);
                    self.closed = true;
                    break;
                }
                Ok(n) => {
                    self.buf.truncate(at + n);
                    frames += self.frames(on);
                }
                Err(e) => {
                    self.buf.truncate(at);
                    match e.kind() {
                        io::ErrorKind::WouldBlock | io::ErrorKind::NotConnected => break,
                        io::ErrorKind::Interrupted => continue,
                        _ => return Err(e),
                    }
                }
            }
        }
        frames += self.frames(on);
        Ok(frames)
    }

    /// Delivers every complete frame in the buffer and compacts it.
    fn frames(&mut self, on: &mut impl FnMut(&Delivered<'_>)) -> usize {
        let recv_ns = sys::mono_ns();
        let mut n = 0;
        while let Some(&[a, b]) = self.buf.get(self.start..self.start + 2) {
            let len = usize::from(u16::from_le_bytes([a, b]));
            let (s, e) = (self.start + 2, self.start + 2 + len);
            if e > self.buf.len() {
                break;
            }
            self.seq.packet(&self.buf[s..e], recv_ns, None, on);
            self.start = e;
            n += 1;
        }
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        n
    }
}
