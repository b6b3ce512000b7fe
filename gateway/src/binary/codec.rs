//! Encoder and zero-copy decoder for `gateway/schema/mam-oe-sbe.xml`.
//!
//! Encoding writes straight into a claimed transport slot; decoding validates the header, the
//! block length and every enum once, then hands out a borrowed view whose getters read the
//! bytes in place (no copy, no allocation, no panic: every offset was bounds-checked).

use mam_core::event::{ExecStatus, OrdType, Side};
use mam_core::num::{Price, Qty};
use thiserror::Error;

pub use super::master_msg::{
    ManagerClock, MasterCancel, MasterOrder, MasterReject, MasterReplace, MasterReport,
};

/// Schema id of `mam-oe-sbe.xml`.
pub const SCHEMA_ID: u16 = 77;
/// Schema version (2 added the manager's messages, templates 20-25).
pub const SCHEMA_VERSION: u16 = 2;
/// SBE message header length.
pub const HEADER_LEN: usize = 8;
/// Largest encoded message (header + MasterReport block).
pub const MAX_MESSAGE_LEN: usize = HEADER_LEN + MasterReport::BLOCK;

/// A message type of the schema, with its template id and block length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum Template {
    /// Session: initiator opens or resumes.
    Establish = 1,
    /// Session: acceptor confirms.
    EstablishAck = 2,
    /// Session: heartbeat with the next sequence number.
    Sequence = 3,
    /// Session: ask for a range again.
    RetransmitRequest = 4,
    /// Session: a replayed range follows.
    Retransmission = 5,
    /// Session: goodbye, with a reason.
    Terminate = 6,
    /// Application: new order.
    NewOrder = 10,
    /// Application: cancel.
    CancelOrder = 11,
    /// Application: execution report.
    ExecutionReport = 12,
    /// Application, manager → mam: a master order (open or close).
    MasterOrder = 20,
    /// Application, manager → mam: cancel a master order.
    MasterCancel = 21,
    /// Application, manager → mam: replace parts of a master order.
    MasterReplace = 22,
    /// Application, manager → mam: the manager's clock (watermark).
    ManagerClock = 23,
    /// Application, mam → manager: a report on a master order.
    MasterReport = 24,
    /// Application, mam → manager: a message refused at the edge.
    MasterReject = 25,
}

impl Template {
    /// Every template.
    pub const ALL: [Template; 15] = [
        Template::Establish,
        Template::EstablishAck,
        Template::Sequence,
        Template::RetransmitRequest,
        Template::Retransmission,
        Template::Terminate,
        Template::NewOrder,
        Template::CancelOrder,
        Template::ExecutionReport,
        Template::MasterOrder,
        Template::MasterCancel,
        Template::MasterReplace,
        Template::ManagerClock,
        Template::MasterReport,
        Template::MasterReject,
    ];

    /// Block length this version writes (and the least it accepts).
    pub const fn block_len(self) -> usize {
        match self {
            Template::Establish
            | Template::EstablishAck
            | Template::RetransmitRequest
            | Template::Retransmission => 32,
            Template::Sequence => 8,
            Template::Terminate => 16,
            Template::NewOrder => 48,
            Template::CancelOrder => 40,
            Template::ExecutionReport => 72,
            Template::MasterOrder => MasterOrder::BLOCK,
            Template::MasterCancel => MasterCancel::BLOCK,
            Template::MasterReplace => MasterReplace::BLOCK,
            Template::ManagerClock => ManagerClock::BLOCK,
            Template::MasterReport => MasterReport::BLOCK,
            Template::MasterReject => MasterReject::BLOCK,
        }
    }

    /// From a template id.
    pub fn from_id(id: u16) -> Option<Self> {
        Self::ALL.iter().copied().find(|t| *t as u16 == id)
    }

    /// True for application (sequenced) messages.
    pub fn is_application(self) -> bool {
        (self as u16) >= 10
    }
}

/// Why bytes did not decode.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// Fewer bytes than the header or the block needs.
    #[error("truncated: {what} needs {need} bytes, {have} present")]
    Truncated {
        /// Header or template name.
        what: &'static str,
        /// Bytes needed.
        need: usize,
        /// Bytes present.
        have: usize,
    },
    /// Header names another schema.
    #[error("schema id {0}, expected 77")]
    Schema(u16),
    /// Header names a newer version.
    #[error("schema version {0} is newer than 2")]
    Version(u16),
    /// Unknown template id.
    #[error("unknown template id {0}")]
    Template(u16),
    /// Block shorter than this version's.
    #[error("{template:?}: block length {got} below {min}")]
    BlockLength {
        /// Template.
        template: Template,
        /// Block length in the header.
        got: usize,
        /// Least accepted.
        min: usize,
    },
    /// An enum field holds a value outside the schema.
    #[error("{field}: invalid value {value}")]
    Enum {
        /// Field name.
        field: &'static str,
        /// Raw value.
        value: u8,
    },
}

/// Why a message could not be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("slot of {have} bytes is too small for {need}")]
pub struct EncodeError {
    /// Bytes needed.
    pub need: usize,
    /// Bytes in the slot.
    pub have: usize,
}

fn rd_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn rd_u32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}
fn rd_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// Writes the header for `t` and zeroes the block; returns the block to fill.
fn begin(slot: &mut [u8], t: Template) -> Result<&mut [u8], EncodeError> {
    let need = HEADER_LEN + t.block_len();
    let have = slot.len();
    let msg = slot.get_mut(..need).ok_or(EncodeError { need, have })?;
    msg[0..2].copy_from_slice(&(t.block_len() as u16).to_le_bytes());
    msg[2..4].copy_from_slice(&(t as u16).to_le_bytes());
    msg[4..6].copy_from_slice(&SCHEMA_ID.to_le_bytes());
    msg[6..8].copy_from_slice(&SCHEMA_VERSION.to_le_bytes());
    let block = &mut msg[HEADER_LEN..];
    block.fill(0);
    Ok(block)
}

fn put(b: &mut [u8], at: usize, v: &[u8]) {
    b[at..at + v.len()].copy_from_slice(v);
}

/// A new order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewOrder {
    /// Client order id.
    pub cl_ord_id: u64,
    /// Account index.
    pub account: u32,
    /// Instrument id.
    pub instrument: u32,
    /// Limit price (zero for market).
    pub price: Price,
    /// Quantity.
    pub qty: Qty,
    /// Side.
    pub side: Side,
    /// Order type.
    pub ord_type: OrdType,
}

/// A cancel request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CancelOrder {
    /// Id of this request.
    pub cl_ord_id: u64,
    /// Order to cancel.
    pub orig_cl_ord_id: u64,
    /// Account index.
    pub account: u32,
    /// Instrument id.
    pub instrument: u32,
    /// Side of the order.
    pub side: Side,
}

/// An execution report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecutionReport {
    /// The order.
    pub cl_ord_id: u64,
    /// Execution id.
    pub exec_id: u64,
    /// Filled by this report.
    pub last_qty: Qty,
    /// Price of this fill.
    pub last_px: Price,
    /// Filled so far.
    pub cum_qty: Qty,
    /// Still open.
    pub leaves_qty: Qty,
    /// Order status.
    pub ord_status: ExecStatus,
    /// Risk reject code (0 if none).
    pub reject_reason: u16,
    /// Transaction time (ns since the epoch).
    pub transact_time_ns: u64,
}

/// An application message to send (the session adds the sequence number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppMessage {
    /// New order.
    NewOrder(NewOrder),
    /// Cancel.
    CancelOrder(CancelOrder),
    /// Execution report.
    ExecutionReport(ExecutionReport),
    /// Master order (manager → mam).
    MasterOrder(MasterOrder),
    /// Master cancel (manager → mam).
    MasterCancel(MasterCancel),
    /// Master replace (manager → mam).
    MasterReplace(MasterReplace),
    /// The manager's clock (manager → mam).
    ManagerClock(ManagerClock),
    /// Report on a master order (mam → manager).
    MasterReport(MasterReport),
    /// A message refused at the edge (mam → manager).
    MasterReject(MasterReject),
}

impl AppMessage {
    /// Its template.
    pub fn template(&self) -> Template {
        match self {
            AppMessage::NewOrder(_) => Template::NewOrder,
            AppMessage::CancelOrder(_) => Template::CancelOrder,
            AppMessage::ExecutionReport(_) => Template::ExecutionReport,
            AppMessage::MasterOrder(_) => Template::MasterOrder,
            AppMessage::MasterCancel(_) => Template::MasterCancel,
            AppMessage::MasterReplace(_) => Template::MasterReplace,
            AppMessage::ManagerClock(_) => Template::ManagerClock,
            AppMessage::MasterReport(_) => Template::MasterReport,
            AppMessage::MasterReject(_) => Template::MasterReject,
        }
    }

    /// Encoded length.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + self.template().block_len()
    }

    /// Encodes with sequence number `seq` into `slot`; returns the bytes written.
    pub fn encode(&self, seq: u64, slot: &mut [u8]) -> Result<usize, EncodeError> {
        let b = begin(slot, self.template())?;
        put(b, 0, &seq.to_le_bytes());
        match self {
            AppMessage::NewOrder(o) => {
                put(b, 8, &o.cl_ord_id.to_le_bytes());
                put(b, 16, &o.account.to_le_bytes());
                put(b, 20, &o.instrument.to_le_bytes());
                put(b, 24, &o.price.raw().to_le_bytes());
                put(b, 32, &o.qty.raw().to_le_bytes());
                b[40] = o.side as u8;
                b[41] = o.ord_type as u8;
            }
            AppMessage::CancelOrder(c) => {
                put(b, 8, &c.cl_ord_id.to_le_bytes());
                put(b, 16, &c.orig_cl_ord_id.to_le_bytes());
                put(b, 24, &c.account.to_le_bytes());
                put(b, 28, &c.instrument.to_le_bytes());
                b[32] = c.side as u8;
            }
            AppMessage::ExecutionReport(e) => {
                put(b, 8, &e.cl_ord_id.to_le_bytes());
                put(b, 16, &e.exec_id.to_le_bytes());
                put(b, 24, &e.last_qty.raw().to_le_bytes());
                put(b, 32, &e.last_px.raw().to_le_bytes());
                put(b, 40, &e.cum_qty.raw().to_le_bytes());
                put(b, 48, &e.leaves_qty.raw().to_le_bytes());
                b[56] = e.ord_status as u8;
                put(b, 58, &e.reject_reason.to_le_bytes());
                put(b, 64, &e.transact_time_ns.to_le_bytes());
            }
            AppMessage::MasterOrder(m) => m.write(b),
            AppMessage::MasterCancel(m) => m.write(b),
            AppMessage::MasterReplace(m) => m.write(b),
            AppMessage::ManagerClock(m) => m.write(b),
            AppMessage::MasterReport(m) => m.write(b),
            AppMessage::MasterReject(m) => m.write(b),
        }
        Ok(self.encoded_len())
    }
}

/// Session messages (fields as in the schema).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionMessage {
    /// Establish.
    Establish {
        /// Session id.
        session_id: u64,
        /// Sender's clock.
        timestamp_ns: u64,
        /// Heartbeat interval.
        keepalive_ms: u32,
        /// Next sequence number the sender will use.
        next_seq_no: u64,
    },
    /// EstablishAck.
    EstablishAck {
        /// Session id.
        session_id: u64,
        /// Sender's clock.
        timestamp_ns: u64,
        /// Heartbeat interval.
        keepalive_ms: u32,
        /// Next sequence number the sender will use.
        next_seq_no: u64,
    },
    /// Sequence (heartbeat).
    Sequence {
        /// Next sequence number the sender will use.
        next_seq_no: u64,
    },
    /// RetransmitRequest.
    RetransmitRequest {
        /// Session id.
        session_id: u64,
        /// Requester's clock.
        timestamp_ns: u64,
        /// First sequence number wanted.
        from_seq_no: u64,
        /// How many.
        count: u32,
    },
    /// Retransmission header.
    Retransmission {
        /// Session id.
        session_id: u64,
        /// The request's timestamp.
        request_timestamp_ns: u64,
        /// Sequence number of the first replayed message.
        next_seq_no: u64,
        /// Replayed messages that follow.
        count: u32,
    },
    /// Terminate.
    Terminate {
        /// Session id.
        session_id: u64,
        /// Why (TerminationCode).
        code: u8,
    },
}

impl SessionMessage {
    /// Its template.
    pub fn template(&self) -> Template {
        match self {
            SessionMessage::Establish { .. } => Template::Establish,
            SessionMessage::EstablishAck { .. } => Template::EstablishAck,
            SessionMessage::Sequence { .. } => Template::Sequence,
            SessionMessage::RetransmitRequest { .. } => Template::RetransmitRequest,
            SessionMessage::Retransmission { .. } => Template::Retransmission,
            SessionMessage::Terminate { .. } => Template::Terminate,
        }
    }

    /// Encodes into `slot`; returns the bytes written.
    pub fn encode(&self, slot: &mut [u8]) -> Result<usize, EncodeError> {
        let t = self.template();
        let b = begin(slot, t)?;
        match *self {
            SessionMessage::Establish {
                session_id: s,
                timestamp_ns: ts,
                keepalive_ms: k,
                next_seq_no: n,
            }
            | SessionMessage::EstablishAck {
                session_id: s,
                timestamp_ns: ts,
                keepalive_ms: k,
                next_seq_no: n,
            } => {
                put(b, 0, &s.to_le_bytes());
                put(b, 8, &ts.to_le_bytes());
                put(b, 16, &k.to_le_bytes());
                put(b, 24, &n.to_le_bytes());
            }
            SessionMessage::Sequence { next_seq_no } => put(b, 0, &next_seq_no.to_le_bytes()),
            SessionMessage::RetransmitRequest {
                session_id: s,
                timestamp_ns: ts,
                from_seq_no: n,
                count: c,
            }
            | SessionMessage::Retransmission {
                session_id: s,
                request_timestamp_ns: ts,
                next_seq_no: n,
                count: c,
            } => {
                put(b, 0, &s.to_le_bytes());
                put(b, 8, &ts.to_le_bytes());
                put(b, 16, &n.to_le_bytes());
                put(b, 24, &c.to_le_bytes());
            }
            SessionMessage::Terminate { session_id, code } => {
                put(b, 0, &session_id.to_le_bytes());
                b[8] = code;
            }
        }
        Ok(HEADER_LEN + t.block_len())
    }
}

/// A decoded message: session messages by value, application messages as borrowed views.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message<'a> {
    /// A session message.
    Session(SessionMessage),
    /// An application message, in place.
    App(AppView<'a>),
}

/// A validated application message, read in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppView<'a> {
    template: Template,
    /// Header + block exactly as received (replayed verbatim on retransmit).
    bytes: &'a [u8],
}

impl<'a> AppView<'a> {
    fn block(&self) -> &'a [u8] {
        &self.bytes[HEADER_LEN..]
    }
    /// Its template.
    pub fn template(&self) -> Template {
        self.template
    }
    /// Header and block as received.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }
    /// Sequence number.
    pub fn seq_no(&self) -> u64 {
        rd_u64(self.block(), 0)
    }
    /// ClOrdID (every application message has one at offset 8).
    pub fn cl_ord_id(&self) -> u64 {
        rd_u64(self.block(), 8)
    }
    /// The message by value (copies ~70 bytes; enums were validated by `decode`).
    pub fn to_owned_message(&self) -> AppMessage {
        let b = self.block();
        let i64_at = |at| rd_u64(b, at) as i64;
        let side = |v| Side::from_u8(v).unwrap_or(Side::Buy);
        match self.template {
            Template::NewOrder => AppMessage::NewOrder(NewOrder {
                cl_ord_id: rd_u64(b, 8),
                account: rd_u32(b, 16),
                instrument: rd_u32(b, 20),
                price: Price(i64_at(24)),
                qty: Qty(i64_at(32)),
                side: side(b[40]),
                ord_type: if b[41] == 1 {
                    OrdType::Market
                } else {
                    OrdType::Limit
                },
            }),
            Template::CancelOrder => AppMessage::CancelOrder(CancelOrder {
                cl_ord_id: rd_u64(b, 8),
                orig_cl_ord_id: rd_u64(b, 16),
                account: rd_u32(b, 24),
                instrument: rd_u32(b, 28),
                side: side(b[32]),
            }),
            Template::MasterOrder => AppMessage::MasterOrder(MasterOrder::read(b)),
            Template::MasterCancel => AppMessage::MasterCancel(MasterCancel::read(b)),
            Template::MasterReplace => AppMessage::MasterReplace(MasterReplace::read(b)),
            Template::ManagerClock => AppMessage::ManagerClock(ManagerClock::read(b)),
            Template::MasterReport => AppMessage::MasterReport(MasterReport::read(b)),
            Template::MasterReject => AppMessage::MasterReject(MasterReject::read(b)),
            _ => AppMessage::ExecutionReport(ExecutionReport {
                cl_ord_id: rd_u64(b, 8),
                exec_id: rd_u64(b, 16),
                last_qty: Qty(i64_at(24)),
                last_px: Price(i64_at(32)),
                cum_qty: Qty(i64_at(40)),
                leaves_qty: Qty(i64_at(48)),
                ord_status: exec_status(b[56]).unwrap_or(ExecStatus::New),
                reject_reason: rd_u16(b, 58),
                transact_time_ns: rd_u64(b, 64),
            }),
        }
    }
}

fn exec_status(v: u8) -> Option<ExecStatus> {
    Some(match v {
        b'0' => ExecStatus::New,
        b'1' => ExecStatus::PartiallyFilled,
        b'2' => ExecStatus::Filled,
        b'4' => ExecStatus::Canceled,
        b'8' => ExecStatus::Rejected,
        _ => return None,
    })
}

fn check_enum(field: &'static str, value: u8, ok: bool) -> Result<(), DecodeError> {
    if ok {
        Ok(())
    } else {
        Err(DecodeError::Enum { field, value })
    }
}

/// Decodes one message at the start of `buf`; returns it and its length (header + the
/// block length the header declares, so newer senders' longer blocks are skipped correctly).
pub fn decode(buf: &[u8]) -> Result<(Message<'_>, usize), DecodeError> {
    if buf.len() < HEADER_LEN {
        return Err(DecodeError::Truncated {
            what: "header",
            need: HEADER_LEN,
            have: buf.len(),
        });
    }
    let block_len = usize::from(rd_u16(buf, 0));
    let id = rd_u16(buf, 2);
    let schema = rd_u16(buf, 4);
    let version = rd_u16(buf, 6);
    if schema != SCHEMA_ID {
        return Err(DecodeError::Schema(schema));
    }
    if version > SCHEMA_VERSION {
        return Err(DecodeError::Version(version));
    }
    let t = Template::from_id(id).ok_or(DecodeError::Template(id))?;
    if block_len < t.block_len() {
        return Err(DecodeError::BlockLength {
            template: t,
            got: block_len,
            min: t.block_len(),
        });
    }
    let total = HEADER_LEN + block_len;
    if buf.len() < total {
        return Err(DecodeError::Truncated {
            what: "block",
            need: total,
            have: buf.len(),
        });
    }
    let b = &buf[HEADER_LEN..total];
    let msg = match t {
        Template::Establish | Template::EstablishAck => {
            let (session_id, timestamp_ns) = (rd_u64(b, 0), rd_u64(b, 8));
            let (keepalive_ms, next_seq_no) = (rd_u32(b, 16), rd_u64(b, 24));
            Message::Session(if t == Template::Establish {
                SessionMessage::Establish {
                    session_id,
                    timestamp_ns,
                    keepalive_ms,
                    next_seq_no,
                }
            } else {
                SessionMessage::EstablishAck {
                    session_id,
                    timestamp_ns,
                    keepalive_ms,
                    next_seq_no,
                }
            })
        }
        Template::Sequence => Message::Session(SessionMessage::Sequence {
            next_seq_no: rd_u64(b, 0),
        }),
        Template::RetransmitRequest => Message::Session(SessionMessage::RetransmitRequest {
            session_id: rd_u64(b, 0),
            timestamp_ns: rd_u64(b, 8),
            from_seq_no: rd_u64(b, 16),
            count: rd_u32(b, 24),
        }),
        Template::Retransmission => Message::Session(SessionMessage::Retransmission {
            session_id: rd_u64(b, 0),
            request_timestamp_ns: rd_u64(b, 8),
            next_seq_no: rd_u64(b, 16),
            count: rd_u32(b, 24),
        }),
        Template::Terminate => {
            check_enum(
                "Terminate.code",
                b[8],
                b[8] <= super::session::termination::CLOCK_SKEW,
            )?;
            Message::Session(SessionMessage::Terminate {
                session_id: rd_u64(b, 0),
                code: b[8],
            })
        }
        // The manager's messages: every byte pattern is a message; the edge checks the values
        // and refuses a bad one naming the field (never silently, as a decode error would).
        Template::MasterOrder
        | Template::MasterCancel
        | Template::MasterReplace
        | Template::ManagerClock
        | Template::MasterReport
        | Template::MasterReject => Message::App(AppView {
            template: t,
            bytes: &buf[..total],
        }),
        Template::NewOrder | Template::CancelOrder | Template::ExecutionReport => {
            match t {
                Template::NewOrder => {
                    check_enum("NewOrder.side", b[40], Side::from_u8(b[40]).is_some())?;
                    check_enum("NewOrder.ordType", b[41], matches!(b[41], 1 | 2))?;
                }
                Template::CancelOrder => {
                    check_enum("CancelOrder.side", b[32], Side::from_u8(b[32]).is_some())?;
                }
                _ => check_enum(
                    "ExecutionReport.ordStatus",
                    b[56],
                    exec_status(b[56]).is_some(),
                )?,
            }
            Message::App(AppView {
                template: t,
                bytes: &buf[..total],
            })
        }
    };
    Ok((msg, total))
}
