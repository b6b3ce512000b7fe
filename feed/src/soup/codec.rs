//! SoupBinTCP 4.0 packets: encoding, decoding, and a streaming decoder that accepts the byte
//! stream cut anywhere.
//!
//! Every packet is a 2-byte big-endian length (of what follows it: type byte + payload), a
//! 1-byte type and the payload. Alpha fields are printable ASCII, left-justified and padded
//! with spaces on the right; numeric fields are ASCII decimal, right-justified and padded with
//! spaces on the left. Decoding trims padding on either side of both kinds, because senders
//! differ on which side they pad and nothing is lost by accepting both.
//!
//! A malformed packet (length 0, unknown type, wrong payload size, bad numeric or alpha field)
//! is a [`SoupError`]; the length prefix still says where it ends, so [`Decoder`] skips exactly
//! that packet and the stream stays in step.

use std::io::{self, Read};

use thiserror::Error;

/// Username field size.
pub const USERNAME_LEN: usize = 6;
/// Password field size.
pub const PASSWORD_LEN: usize = 10;
/// Session field size.
pub const SESSION_LEN: usize = 10;
/// Sequence number field size.
pub const SEQ_LEN: usize = 20;
/// Largest payload: the length prefix counts the type byte too.
pub const MAX_PAYLOAD: usize = u16::MAX as usize - 1;
/// Login Request payload size.
pub const LOGIN_REQUEST_LEN: usize = USERNAME_LEN + PASSWORD_LEN + SESSION_LEN + SEQ_LEN;
/// Login Accepted payload size.
pub const LOGIN_ACCEPTED_LEN: usize = SESSION_LEN + SEQ_LEN;

/// Why a Login Request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// `A`: bad username or password.
    NotAuthorized,
    /// `S`: the requested session does not exist here.
    SessionNotAvailable,
}

impl RejectReason {
    /// The wire byte.
    pub fn code(self) -> u8 {
        match self {
            RejectReason::NotAuthorized => b'A',
            RejectReason::SessionNotAvailable => b'S',
        }
    }
}

/// A Login Request's fields (alpha fields as they travel: space-padded ASCII).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginRequest {
    /// Username.
    pub username: [u8; USERNAME_LEN],
    /// Password.
    pub password: [u8; PASSWORD_LEN],
    /// Requested session, all blanks for the current one.
    pub session: [u8; SESSION_LEN],
    /// Next sequence number wanted (1 = from the start, 0 = from the most recent).
    pub seq: u64,
}

impl LoginRequest {
    /// A request built from text fields (truncated and space-padded to their sizes).
    pub fn new(username: &str, password: &str, session: &str, seq: u64) -> Self {
        Self {
            username: alpha(username),
            password: alpha(password),
            session: alpha(session),
            seq,
        }
    }
}

/// One SoupBinTCP packet; data payloads borrow the buffer they were decoded from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packet<'a> {
    /// `+` Debug: free text, either direction.
    Debug(&'a [u8]),
    /// `A` Login Accepted: the session and the sequence number of the next message sent.
    LoginAccepted {
        /// Session (space-padded).
        session: [u8; SESSION_LEN],
        /// Sequence number of the next Sequenced Data packet.
        seq: u64,
    },
    /// `J` Login Rejected.
    LoginRejected(RejectReason),
    /// `S` Sequenced Data: one message; its number is implied by its position.
    SequencedData(&'a [u8]),
    /// `U` Unsequenced Data (either direction).
    UnsequencedData(&'a [u8]),
    /// `H` Server Heartbeat.
    ServerHeartbeat,
    /// `Z` End of Session.
    EndOfSession,
    /// `L` Login Request.
    LoginRequest(LoginRequest),
    /// `R` Client Heartbeat.
    ClientHeartbeat,
    /// `O` Logout Request.
    LogoutRequest,
}

/// What was wrong with a packet.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SoupError {
    /// A length prefix of 0: no room for the type byte.
    #[error("packet length 0: a SoupBinTCP packet holds at least its type byte")]
    ZeroLength,
    /// A type byte this protocol does not define.
    #[error("unknown packet type {ty:#04x} ({len} payload bytes skipped)")]
    UnknownType {
        /// The type byte.
        ty: u8,
        /// Payload bytes that followed it.
        len: usize,
    },
    /// A fixed-size packet with the wrong payload size.
    #[error("{kind} packet with {len} payload bytes; it has exactly {expected}")]
    BadLength {
        /// Packet kind.
        kind: &'static str,
        /// Payload bytes present.
        len: usize,
        /// Payload bytes the protocol fixes.
        expected: usize,
    },
    /// A numeric field that is not space-padded ASCII digits fitting a u64.
    #[error("{kind} packet: field `{field}` is not a space-padded decimal u64: {text:?}")]
    BadNumber {
        /// Packet kind.
        kind: &'static str,
        /// Field name.
        field: &'static str,
        /// The field, lossily as text.
        text: String,
    },
    /// An alpha field with a byte outside printable ASCII.
    #[error("{kind} packet: field `{field}` has a byte outside printable ASCII: {text:?}")]
    BadAlpha {
        /// Packet kind.
        kind: &'static str,
        /// Field name.
        field: &'static str,
        /// The field, lossily as text.
        text: String,
    },
    /// A Login Rejected reason other than `A` or `S`.
    #[error("Login Rejected reason {code:#04x} is neither 'A' nor 'S'")]
    BadRejectReason {
        /// The byte.
        code: u8,
    },
    /// A payload too long for the 16-bit length prefix (encoding only).
    #[error("payload of {len} bytes does not fit a SoupBinTCP packet (at most {MAX_PAYLOAD})")]
    TooLong {
        /// Payload length.
        len: usize,
    },
}

/// `s` truncated or space-padded (on the right) to `N` bytes.
pub fn alpha<const N: usize>(s: &str) -> [u8; N] {
    let mut out = [b' '; N];
    for (d, b) in out.iter_mut().zip(s.bytes()) {
        *d = b;
    }
    out
}

/// An alpha field without its padding.
pub fn trim(field: &[u8]) -> &str {
    std::str::from_utf8(field).unwrap_or("").trim_matches(' ')
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn check_alpha(kind: &'static str, field: &'static str, b: &[u8]) -> Result<(), SoupError> {
    if b.iter().all(|c| (0x20..=0x7e).contains(c)) {
        Ok(())
    } else {
        Err(SoupError::BadAlpha {
            kind,
            field,
            text: lossy(b),
        })
    }
}

/// Parses a space-padded ASCII decimal field.
fn number(kind: &'static str, field: &'static str, b: &[u8]) -> Result<u64, SoupError> {
    let bad = || SoupError::BadNumber {
        kind,
        field,
        text: lossy(b),
    };
    let s = std::str::from_utf8(b).map_err(|_| bad())?.trim_matches(' ');
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    s.parse().map_err(|_| bad())
}

/// Writes `v` right-justified and space-padded into 20 bytes (u64 has at most 20 digits).
fn put_number(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(format!("{v:>20}").as_bytes());
}

fn fixed<const N: usize>(b: &[u8]) -> [u8; N] {
    let mut a = [b' '; N];
    a.copy_from_slice(&b[..N]);
    a
}

impl<'a> Packet<'a> {
    /// The type byte.
    pub fn type_byte(&self) -> u8 {
        match self {
            Packet::Debug(_) => b'+',
            Packet::LoginAccepted { .. } => b'A',
            Packet::LoginRejected(_) => b'J',
            Packet::SequencedData(_) => b'S',
            Packet::UnsequencedData(_) => b'U',
            Packet::ServerHeartbeat => b'H',
            Packet::EndOfSession => b'Z',
            Packet::LoginRequest(_) => b'L',
            Packet::ClientHeartbeat => b'R',
            Packet::LogoutRequest => b'O',
        }
    }

    /// Decodes one packet from its type byte and payload (the bytes after the length prefix).
    pub fn decode(body: &'a [u8]) -> Result<Self, SoupError> {
        let (&ty, p) = body.split_first().ok_or(SoupError::ZeroLength)?;
        let exact = |kind, expected: usize| {
            if p.len() == expected {
                Ok(())
            } else {
                Err(SoupError::BadLength {
                    kind,
                    len: p.len(),
                    expected,
                })
            }
        };
        Ok(match ty {
            b'+' => Packet::Debug(p),
            b'S' => Packet::SequencedData(p),
            b'U' => Packet::UnsequencedData(p),
            b'A' => {
                const K: &str = "Login Accepted";
                exact(K, LOGIN_ACCEPTED_LEN)?;
                let (s, n) = p.split_at(SESSION_LEN);
                check_alpha(K, "session", s)?;
                Packet::LoginAccepted {
                    session: fixed(s),
                    seq: number(K, "sequence number", n)?,
                }
            }
            b'J' => {
                exact("Login Rejected", 1)?;
                match p[0] {
                    b'A' => Packet::LoginRejected(RejectReason::NotAuthorized),
                    b'S' => Packet::LoginRejected(RejectReason::SessionNotAvailable),
                    code => return Err(SoupError::BadRejectReason { code }),
                }
            }
            b'H' => exact("Server Heartbeat", 0).map(|()| Packet::ServerHeartbeat)?,
            b'Z' => exact("End of Session", 0).map(|()| Packet::EndOfSession)?,
            b'R' => exact("Client Heartbeat", 0).map(|()| Packet::ClientHeartbeat)?,
            b'O' => exact("Logout Request", 0).map(|()| Packet::LogoutRequest)?,
            b'L' => {
                const K: &str = "Login Request";
                exact(K, LOGIN_REQUEST_LEN)?;
                let (u, rest) = p.split_at(USERNAME_LEN);
                let (pw, rest) = rest.split_at(PASSWORD_LEN);
                let (s, n) = rest.split_at(SESSION_LEN);
                check_alpha(K, "username", u)?;
                check_alpha(K, "password", pw)?;
                check_alpha(K, "requested session", s)?;
                Packet::LoginRequest(LoginRequest {
                    username: fixed(u),
                    password: fixed(pw),
                    session: fixed(s),
                    seq: number(K, "requested sequence number", n)?,
                })
            }
            ty => return Err(SoupError::UnknownType { ty, len: p.len() }),
        })
    }

    /// Appends the packet, length prefix included, to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), SoupError> {
        let data = match self {
            Packet::Debug(d) | Packet::SequencedData(d) | Packet::UnsequencedData(d) => d,
            _ => &[][..],
        };
        if data.len() > MAX_PAYLOAD {
            return Err(SoupError::TooLong { len: data.len() });
        }
        let at = out.len();
        out.extend_from_slice(&[0, 0, self.type_byte()]);
        match self {
            Packet::LoginAccepted { session, seq } => {
                out.extend_from_slice(session);
                put_number(out, *seq);
            }
            Packet::LoginRejected(r) => out.push(r.code()),
            Packet::LoginRequest(l) => {
                out.extend_from_slice(&l.username);
                out.extend_from_slice(&l.password);
                out.extend_from_slice(&l.session);
                put_number(out, l.seq);
            }
            _ => out.extend_from_slice(data),
        }
        // Fits: the largest fixed packet is 47 bytes and data was checked above.
        let len = (out.len() - at - 2) as u16;
        out[at..at + 2].copy_from_slice(&len.to_be_bytes());
        Ok(())
    }

    /// The packet as a new byte vector.
    pub fn to_vec(&self) -> Result<Vec<u8>, SoupError> {
        let mut v = Vec::new();
        self.encode(&mut v)?;
        Ok(v)
    }
}

/// Reassembles packets from a byte stream delivered in arbitrary pieces.
#[derive(Debug, Default, Clone)]
pub struct Decoder {
    /// Initialised once to its largest size and kept: `buf[start..end]` is what is held.
    /// (Growing the vector per read zeroed 64 KiB on every poll of the feed stage: 3-7 % of
    /// the daemon's shared thread in `perf record`, stop 25.)
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

/// Bytes asked of the reader per [`Decoder::read_from`] call.
pub const READ_CHUNK: usize = 64 * 1024;

impl Decoder {
    /// An empty decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Drops bytes already decoded, so the buffer holds at most one partial packet plus what
    /// was fed since.
    fn compact(&mut self) {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
    }

    /// Room for `n` more bytes after `end`.
    fn reserve(&mut self, n: usize) {
        if self.buf.len() < self.end + n {
            self.buf.resize(self.end + n, 0);
        }
    }

    /// Appends received bytes.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.compact();
        self.reserve(bytes.len());
        self.buf[self.end..self.end + bytes.len()].copy_from_slice(bytes);
        self.end += bytes.len();
    }

    /// One `read` from `r` straight into the buffer. `Ok(0)` is end of stream.
    pub fn read_from(&mut self, r: &mut impl Read) -> io::Result<usize> {
        self.compact();
        self.reserve(READ_CHUNK);
        let at = self.end;
        let res = r.read(&mut self.buf[at..at + READ_CHUNK]);
        self.end += *res.as_ref().unwrap_or(&0);
        res
    }

    /// Bytes held that are not yet a whole packet (or not yet taken).
    pub fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// True if a whole packet is buffered.
    pub fn has_packet(&self) -> bool {
        self.frame_end().is_some()
    }

    fn frame_end(&self) -> Option<usize> {
        let b = self.buf[..self.end].get(self.start..self.start + 2)?;
        let end = self.start + 2 + usize::from(u16::from_be_bytes([b[0], b[1]]));
        (end <= self.end).then_some(end)
    }

    /// The next whole packet, or None until more bytes arrive. A malformed packet is returned
    /// as its error and skipped, so the next call continues after it.
    pub fn next_packet(&mut self) -> Option<Result<Packet<'_>, SoupError>> {
        let end = self.frame_end()?;
        let body = self.start + 2;
        self.start = end;
        Some(Packet::decode(&self.buf[body..end]))
    }
}
