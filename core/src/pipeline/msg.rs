//! Messages on the daemon's stage rings, beyond [`MarketEvent`](crate::event::MarketEvent)
//! (feed → engine) itself. All are `Pod`: rings never carry heap pointers.
//!
//! ```text
//!  feed ──MarketEvent──────────► engine ──EdgeOrder──► LP gateway
//!  manager ──EdgeFrame (master)─►  ▲  ──ManagerReport──► manager
//!  LP gateway ──EdgeFrame (fill)───┘
//! ```

use bytemuck::{Pod, Zeroable};

use crate::engine::decision::MasterReport;
use crate::engine::input::{Input, InputFrame};
use crate::event::ChildOrder;

/// An input as an edge stage received it (104 bytes): the input, when it arrived, the source's
/// sequence number of the message that carried it, and the source's watermark.
///
/// `frame.kind == 0` carries no input, only a new watermark (a manager's clock advancing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct EdgeFrame {
    /// Receive time at the edge, ns of the host's monotonic clock (`CLOCK_MONOTONIC`).
    pub edge_ns: u64,
    /// The source's sequence number of the carrying message (FIX MsgSeqNum), 0 if none.
    pub origin_seq: u64,
    /// The source promises no later input with an event time below this (ns; event-time
    /// sequencing). `u64::MAX`: the source has ended.
    pub watermark_ns: u64,
    /// Which of its message's inputs this is (0-based): one message can carry two (an open
    /// with a stop-loss or take-profit is the open, then the amend that sets them).
    pub part: u8,
    /// How many inputs its message carries; 0 or 1: one.
    pub parts: u8,
    /// Reserved, zero.
    pub _pad: [u8; 6],
    /// The input (`kind == 0`: none).
    pub frame: InputFrame,
}

impl EdgeFrame {
    /// An input received at `edge_ns` in message `origin_seq`.
    pub fn input(input: &Input, edge_ns: u64, origin_seq: u64, watermark_ns: u64) -> Self {
        EdgeFrame {
            edge_ns,
            origin_seq,
            watermark_ns,
            part: 0,
            parts: 0,
            _pad: [0; 6],
            frame: input.to_frame(),
        }
    }

    /// The same frame as input `part` of `parts` its message carries.
    pub fn part_of(mut self, part: u8, parts: u8) -> Self {
        debug_assert!(part < parts, "part {part} of {parts}");
        self.part = part;
        self.parts = parts;
        self
    }

    /// A watermark only.
    pub fn watermark(edge_ns: u64, origin_seq: u64, watermark_ns: u64) -> Self {
        EdgeFrame {
            edge_ns,
            origin_seq,
            watermark_ns,
            part: 0,
            parts: 0,
            _pad: [0; 6],
            frame: InputFrame::default(),
        }
    }

    /// The input, if the frame holds one.
    pub fn decode(&self) -> Option<Input> {
        (self.frame.kind != 0)
            .then(|| Input::from_frame(&self.frame))
            .flatten()
    }
}

/// A child order on its way to the LP gateway (80 bytes), with the times the latency
/// histograms need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct EdgeOrder {
    /// When the input that caused the order reached mam's edge (monotonic ns).
    pub cause_edge_ns: u64,
    /// When the engine pushed the order onto the ring (monotonic ns).
    pub pushed_ns: u64,
    /// Position of this order among its input's orders (0-based).
    pub index: u32,
    /// How many orders the input caused.
    pub count: u32,
    /// The order.
    pub order: ChildOrder,
}

const _: () = assert!(core::mem::size_of::<EdgeFrame>() == 104);

/// A report for the manager on its way from the engine to the manager stage (136 bytes):
/// the report and the journal sequence it was written at (unique and the same on every
/// replay: the manager stage makes the ExecID of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct ManagerReport {
    /// Journal sequence of the report record.
    pub journal_seq: u64,
    /// The report.
    pub report: MasterReport,
}

const _: () = assert!(core::mem::size_of::<ManagerReport>() == 136);
