//! Why a manager message is not an engine input, and which reply FIX prescribes for it.

use thiserror::Error;

use crate::fix::decode::{FieldError, Message, RejectReason};

/// OrdRejReason (103) of an ExecutionReport reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum OrdRejReason {
    /// 1: unknown symbol.
    UnknownSymbol = 1,
    /// 13: incorrect quantity.
    IncorrectQuantity = 13,
    /// 99: other.
    Other = 99,
}

impl OrdRejReason {
    /// The value written in tag 103.
    pub fn code(self) -> u32 {
        self as u32
    }
}

/// Why a manager message is not an engine input, with the reply FIX prescribes.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MasterRefusal {
    /// Missing required tag or bad data format: session-level Reject (35=3) with
    /// SessionRejectReason `reason` (1, 5 or 6) and RefTagID `tag`.
    #[error("tag {tag} = `{value}`: {what}")]
    Session {
        /// SessionRejectReason (373).
        reason: RejectReason,
        /// RefTagID (371).
        tag: u32,
        /// The value as received (empty if the tag is missing).
        value: String,
        /// What is wrong.
        what: String,
    },
    /// Refused at the edge: ExecutionReport 150=8 39=8 with OrdRejReason `code`.
    #[error("tag {tag} = `{value}`: {what}")]
    Order {
        /// OrdRejReason (103).
        code: OrdRejReason,
        /// The tag concerned (0 if none).
        tag: u32,
        /// The value as received.
        value: String,
        /// What is wrong.
        what: String,
    },
}

impl MasterRefusal {
    /// A refusal answered with an ExecutionReport reject.
    pub fn order(code: OrdRejReason, tag: u32, value: &[u8], what: impl Into<String>) -> Self {
        MasterRefusal::Order {
            code,
            tag,
            value: text_of(value),
            what: what.into(),
        }
    }

    /// A refusal answered with a session-level Reject (SessionRejectReason `reason`).
    pub fn session(reason: RejectReason, tag: u32, value: &[u8], what: impl Into<String>) -> Self {
        MasterRefusal::Session {
            reason,
            tag,
            value: text_of(value),
            what: what.into(),
        }
    }

    pub(super) fn field(m: &Message<'_>, e: FieldError) -> Self {
        let what = match e.reason {
            RejectReason::RequiredTagMissing => "required tag missing",
            RejectReason::ValueIncorrect => "value is incorrect (out of range) for this tag",
            RejectReason::IncorrectDataFormat => "incorrect data format for value",
            _ => "field refused",
        };
        Self::session(e.reason, e.tag, m.get(e.tag).unwrap_or_default(), what)
    }

    /// The tag concerned.
    pub fn tag(&self) -> u32 {
        match self {
            MasterRefusal::Session { tag, .. } | MasterRefusal::Order { tag, .. } => *tag,
        }
    }
}

/// A received value as printable text for Text(58): at most 64 bytes, control bytes and
/// non-ASCII shown as `?` (so the reply can never carry a delimiter).
fn text_of(v: &[u8]) -> String {
    v.iter()
        .take(64)
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '?'
            }
        })
        .collect()
}
