//! The transport trait: shaped like ef_vi, DPDK and AF_XDP rather than like a socket.
//!
//! A sender claims a slot in pre-allocated memory, writes the message in place, and commits it
//! (or aborts); committed slots go out on `flush`, in batches. `poll` hands received bytes to a
//! callback and reports completions. Nothing blocks, nothing allocates after start, and
//! back-pressure is a typed, retryable error.

use thiserror::Error;

pub mod pcap_sink;
pub mod shm;
pub mod tcp;
pub mod udp;
// Kernel bypass: AF_XDP sockets exist on Linux only (the whole backend is fenced here).
#[cfg(target_os = "linux")]
pub mod xdp;

/// Why a transport call did not go through.
#[derive(Debug, Error)]
pub enum TransportError {
    /// No room now (peer not reading, ring full): retry after `flush`/`poll`. Never a drop.
    #[error("back-pressure: no room for {needed} bytes, retry")]
    WouldBlock {
        /// Bytes that were asked for.
        needed: usize,
    },
    /// The message can never fit a slot.
    #[error("message of {len} bytes exceeds the slot limit of {max}")]
    TooLarge {
        /// Bytes asked for.
        len: usize,
        /// Largest slot.
        max: usize,
    },
    /// A claim is already open: commit or abort it first.
    #[error("a claimed slot is still open")]
    ClaimOpen,
    /// The peer closed the connection or the ring.
    #[error("transport closed by peer")]
    Closed,
    /// An operating-system error.
    #[error("transport I/O: {0}")]
    Io(#[from] std::io::Error),
}

impl TransportError {
    /// True if the same call may succeed later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, TransportError::WouldBlock { .. })
    }
}

/// A zero-copy, non-blocking, batch-flushing message transport.
pub trait Transport {
    /// Claims a writable slot of exactly `len` bytes in pre-allocated memory.
    fn claim(&mut self, len: usize) -> Result<&mut [u8], TransportError>;
    /// Publishes the claimed slot, shortened to its first `len` bytes.
    fn commit(&mut self, len: usize) -> Result<(), TransportError>;
    /// Drops the claimed slot unsent.
    fn abort(&mut self);
    /// Pushes committed slots toward the peer; returns how many bytes left this call.
    fn flush(&mut self) -> Result<usize, TransportError>;
    /// Receives whatever is ready, handing each chunk (a datagram, a ring message, or a piece of
    /// a byte stream) to `on_recv`; returns the number of chunks delivered.
    fn poll(&mut self, on_recv: &mut dyn FnMut(&[u8])) -> Result<usize, TransportError>;
    /// Copies `bytes` into a claimed slot and commits it (a convenience over claim + commit).
    fn send(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        let slot = self.claim(bytes.len())?;
        slot.copy_from_slice(bytes);
        self.commit(bytes.len())
    }
}
