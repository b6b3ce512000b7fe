//! Message framing for the binary session over a byte stream (TCP): a stream hands over
//! pieces of bytes, the session wants whole messages. Every message of the schema is an SBE
//! header followed by the block length it declares (no variable-length data), so the header
//! alone frames the stream; no extra length prefix is needed.
//!
//! [`Framed`] wraps any [`Transport`] and hands the session one complete message per chunk.
//! A header naming another schema means the stream is out of step (or not speaking this
//! protocol): nothing after it can be framed, so `poll` fails with `InvalidData` naming what it
//! found and the connection should be dropped. Memory stays bounded: complete messages are
//! handed on as they arrive, and at most one incomplete message (≤ 8 + 65,535 bytes) is kept.

use super::codec::{HEADER_LEN, SCHEMA_ID};
use crate::transport::{Transport, TransportError};

/// A byte-stream transport that delivers whole binary order-entry messages.
#[derive(Debug)]
pub struct Framed<T: Transport> {
    inner: T,
    /// The incomplete message at the end of what was read.
    partial: Vec<u8>,
    /// Set once a header could not be framed: the stream is unusable.
    broken: Option<u16>,
}

impl<T: Transport> Framed<T> {
    /// Frames `inner`'s byte stream.
    pub fn new(inner: T) -> Self {
        Framed {
            inner,
            partial: Vec::with_capacity(HEADER_LEN + 1024),
            broken: None,
        }
    }

    /// The wrapped transport.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Bytes of an incomplete message held.
    pub fn partial_len(&self) -> usize {
        self.partial.len()
    }
}

/// Length of the message whose header starts `b` (`Err(schema id)` if it is not this schema's).
fn frame_len(b: &[u8]) -> Result<usize, u16> {
    let schema = u16::from_le_bytes([b[4], b[5]]);
    if schema != SCHEMA_ID {
        return Err(schema);
    }
    Ok(HEADER_LEN + usize::from(u16::from_le_bytes([b[0], b[1]])))
}

/// Hands every complete message at the start of `bytes` to `on_msg`; returns how many bytes
/// were used (the rest is an incomplete message) or the foreign schema id that stopped it.
fn split(bytes: &[u8], on_msg: &mut dyn FnMut(&[u8])) -> (usize, Option<u16>) {
    let mut at = 0;
    while bytes.len() - at >= HEADER_LEN {
        match frame_len(&bytes[at..]) {
            Err(s) => return (at, Some(s)),
            Ok(n) if bytes.len() - at >= n => {
                on_msg(&bytes[at..at + n]);
                at += n;
            }
            Ok(_) => break,
        }
    }
    (at, None)
}

/// Moves bytes from `rest` into `partial` until it holds `upto`; true once it does.
fn fill(partial: &mut Vec<u8>, upto: usize, rest: &mut &[u8]) -> bool {
    let take = upto.saturating_sub(partial.len()).min(rest.len());
    partial.extend_from_slice(&rest[..take]);
    *rest = &rest[take..];
    partial.len() >= upto
}

impl<T: Transport> Transport for Framed<T> {
    fn claim(&mut self, len: usize) -> Result<&mut [u8], TransportError> {
        self.inner.claim(len)
    }

    fn commit(&mut self, len: usize) -> Result<(), TransportError> {
        self.inner.commit(len)
    }

    fn abort(&mut self) {
        self.inner.abort()
    }

    fn flush(&mut self) -> Result<usize, TransportError> {
        self.inner.flush()
    }

    fn poll(&mut self, on_recv: &mut dyn FnMut(&[u8])) -> Result<usize, TransportError> {
        let bad = |s: u16| {
            TransportError::Io(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("binary order entry: a header with schema id {s} (expected {SCHEMA_ID}): the stream cannot be framed"),
            ))
        };
        if let Some(s) = self.broken {
            return Err(bad(s));
        }
        let (partial, broken) = (&mut self.partial, &mut self.broken);
        let mut delivered = 0usize;
        let polled = self.inner.poll(&mut |chunk| {
            if broken.is_some() {
                return;
            }
            let mut count = |m: &[u8]| {
                delivered += 1;
                on_recv(m);
            };
            let mut rest = chunk;
            if !partial.is_empty() {
                // Complete the held message first: its header, then its block.
                if !fill(partial, HEADER_LEN, &mut rest) {
                    return;
                }
                let n = match frame_len(partial) {
                    Ok(n) => n,
                    Err(s) => {
                        *broken = Some(s);
                        return;
                    }
                };
                if !fill(partial, n, &mut rest) {
                    return;
                }
                count(partial);
                partial.clear();
            }
            let (used, b) = split(rest, &mut count);
            if let Some(s) = b {
                *broken = Some(s);
                return;
            }
            partial.extend_from_slice(&rest[used..]);
        });
        if let Some(s) = self.broken {
            return Err(bad(s));
        }
        polled.map(|_| delivered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binary::codec::{decode, AppMessage, ManagerClock, Message};
    use proptest::prelude::*;

    /// A stream fed in given pieces.
    struct Pieces(Vec<Vec<u8>>);

    impl Transport for Pieces {
        fn claim(&mut self, len: usize) -> Result<&mut [u8], TransportError> {
            Err(TransportError::TooLarge { len, max: 0 })
        }
        fn commit(&mut self, _: usize) -> Result<(), TransportError> {
            Ok(())
        }
        fn abort(&mut self) {}
        fn flush(&mut self) -> Result<usize, TransportError> {
            Ok(0)
        }
        fn poll(&mut self, on_recv: &mut dyn FnMut(&[u8])) -> Result<usize, TransportError> {
            let n = self.0.len();
            for p in self.0.drain(..) {
                on_recv(&p);
            }
            Ok(n)
        }
    }

    fn stream(n: u64) -> Vec<u8> {
        let mut out = Vec::new();
        for i in 1..=n {
            let mut slot = [0u8; 64];
            let m = AppMessage::ManagerClock(ManagerClock {
                transact_time_ns: i,
                status: 2,
            });
            let k = m.encode(i, &mut slot).unwrap();
            out.extend_from_slice(&slot[..k]);
        }
        out
    }

    proptest! {
        /// However the stream is cut, the session gets the same messages, whole and in order.
        #[test]
        fn any_cut_gives_whole_messages(cuts in proptest::collection::vec(1usize..70, 1..40)) {
            let bytes = stream(20);
            let mut pieces = Vec::new();
            let mut at = 0;
            for c in cuts.iter().cycle() {
                if at >= bytes.len() {
                    break;
                }
                let end = (at + c).min(bytes.len());
                pieces.push(bytes[at..end].to_vec());
                at = end;
            }
            let mut f = Framed::new(Pieces(pieces));
            let mut seqs = Vec::new();
            f.poll(&mut |m| {
                let (Message::App(v), n) = decode(m).unwrap() else { panic!("not app") };
                assert_eq!(n, m.len());
                seqs.push(v.seq_no());
            }).unwrap();
            prop_assert_eq!(seqs, (1..=20).collect::<Vec<u64>>());
            prop_assert_eq!(f.partial_len(), 0);
        }
    }

    #[test]
    fn a_foreign_header_breaks_the_stream_with_a_reason() {
        let mut bytes = stream(2);
        bytes[32 + 4] = 99; // the second message's schema id (each is 8 + 24 bytes)
        let mut f = Framed::new(Pieces(vec![bytes]));
        let mut n = 0;
        let e = f.poll(&mut |_| n += 1).unwrap_err();
        assert_eq!(n, 1);
        assert!(e.to_string().contains("schema id 99"), "{e}");
        assert!(f.poll(&mut |_| n += 1).is_err());
    }
}
