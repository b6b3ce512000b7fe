//! CME Globex MDP 3.0: binary packet header (`u32` MsgSeqNum, `u64` SendingTime), then SBE
//! messages, each a `u16` MsgSize (itself included), the 8-byte SBE message header
//! (blockLength, templateId, schemaId, version), the root block and repeating groups.
//!
//! Decoded templates: ChannelReset (4), SecurityStatus (30), MDIncrementalRefreshBook (32 / 46),
//! SessionStatistics (35), Volume (37), SnapshotFullRefresh (38 / 52), TradeSummary (42 / 48).
//! Any other template is skipped by its MsgSize and counted under its id.
//!
//! Prices are PRICE9 mantissas (× 1e-9). [`Price`] holds 1e-8, so [`price9`] rounds half to
//! even when the ninth decimal is not zero and says whether it did; books keep the mantissa
//! itself as their key, so no digit is lost there.

mod msg;
mod session;

pub use msg::*;
pub use session::Mdp3Session;

use mam_core::num::{div_round_i128, Price, Rounding};
use thiserror::Error;

use crate::capture::view::view;

view! {
    /// Binary packet header (12 bytes).
    PacketHeader [12] {
        /// Packet sequence number (per channel; A and B carry the same numbers).
        seq @ 0: le u32;
        /// Sending time, ns since the epoch.
        sending_time @ 4: le u64;
    }
}

view! {
    /// MsgSize plus the SBE message header (10 bytes).
    MessageHeader [10] {
        /// Message length including this field.
        msg_size @ 0: le u16;
        /// Root block length.
        block_length @ 2: le u16;
        /// Template id.
        template_id @ 4: le u16;
        /// Schema id (1 for MDP 3.0).
        schema_id @ 6: le u16;
        /// Schema version.
        version @ 8: le u16;
    }
}

/// A packet or message that cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Mdp3Error {
    /// Shorter than the packet header.
    #[error("MDP3 packet of {0} bytes is shorter than its 12-byte header")]
    Short(usize),
    /// A MsgSize that is smaller than the headers or runs past the packet.
    #[error("MDP3 message at offset {offset} declares size {size}, {left} bytes left")]
    MsgSize {
        /// Offset in the packet.
        offset: usize,
        /// Declared size.
        size: usize,
        /// Bytes left in the packet.
        left: usize,
    },
    /// A root block or group that does not fit in its message.
    #[error("MDP3 template {template}: {what} does not fit in the message")]
    Overrun {
        /// Template.
        template: u16,
        /// Which part.
        what: &'static str,
    },
}

/// A PRICE9 mantissa as a [`Price`]: `(price, exact)`; rounds half to even when the ninth
/// decimal is not zero (`exact` false). `None` for the null value or overflow.
#[inline]
pub fn price9(mantissa: i64) -> Option<(Price, bool)> {
    if mantissa == i64::MAX {
        return None;
    }
    let exact = mantissa % 10 == 0;
    let v = div_round_i128(i128::from(mantissa), 10, Rounding::HalfEven);
    Some((Price(i64::try_from(v).ok()?), exact))
}

/// A checked MDP3 packet: every MsgSize fits.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    /// Header.
    pub header: PacketHeader<'a>,
    body: &'a [u8],
}

impl<'a> Packet<'a> {
    /// Checks the header and the message sizes (a lying size drops the whole packet).
    pub fn parse(b: &'a [u8]) -> Result<Packet<'a>, Mdp3Error> {
        let header = PacketHeader::new(b).ok_or(Mdp3Error::Short(b.len()))?;
        let body = &b[PacketHeader::LEN..];
        let mut off = 0;
        while off < body.len() {
            let left = body.len() - off;
            let size = match body.get(off..off + 2) {
                Some(s) => usize::from(u16::from_le_bytes([s[0], s[1]])),
                None => 0,
            };
            if size < MessageHeader::LEN || size > left {
                return Err(Mdp3Error::MsgSize {
                    offset: PacketHeader::LEN + off,
                    size,
                    left,
                });
            }
            off += size;
        }
        Ok(Packet { header, body })
    }

    /// The SBE messages, in order.
    pub fn messages(&self) -> impl Iterator<Item = SbeMessage<'a>> + 'a {
        let mut rest = self.body;
        std::iter::from_fn(move || {
            let h = MessageHeader::new(rest)?;
            let size = usize::from(h.msg_size());
            let msg = rest.get(MessageHeader::LEN..size)?;
            rest = &rest[size..];
            Some(SbeMessage {
                header: h,
                body: msg,
            })
        })
    }
}

/// One SBE message: header and the bytes after it (root block, then groups).
#[derive(Debug, Clone, Copy)]
pub struct SbeMessage<'a> {
    /// Header.
    pub header: MessageHeader<'a>,
    /// Root block and groups.
    pub body: &'a [u8],
}

/// The entries of one repeating group, each `block_length` bytes.
#[derive(Debug, Clone, Copy)]
pub struct Group<'a> {
    block_length: usize,
    count: usize,
    data: &'a [u8],
}

impl<'a> Group<'a> {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True if the group has no entry.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The entries' bytes.
    pub fn entries(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let (bl, data) = (self.block_length, self.data);
        (0..self.count).filter_map(move |i| data.get(i * bl..(i + 1) * bl))
    }
}

#[derive(Clone, Copy)]
enum GroupSize {
    /// blockLength u16, numInGroup u8.
    Std,
    /// blockLength u16, 5 bytes padding, numInGroup u8.
    Eight,
}

struct Cursor<'a> {
    template: u16,
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn group(&mut self, kind: GroupSize) -> Result<Group<'a>, Mdp3Error> {
        let overrun = Mdp3Error::Overrun {
            template: self.template,
            what: "group",
        };
        let (hl, count) = match kind {
            GroupSize::Std => (3, self.rest.get(2)),
            GroupSize::Eight => (8, self.rest.get(7)),
        };
        let count = usize::from(*count.ok_or(overrun.clone())?);
        let bl = usize::from(u16::from_le_bytes([self.rest[0], self.rest[1]]));
        let need = hl + bl * count;
        let data = self.rest.get(hl..need).ok_or(overrun)?;
        self.rest = &self.rest[need..];
        Ok(Group {
            block_length: bl,
            count,
            data,
        })
    }

    /// The next group if the message has one (older versions omit trailing groups).
    fn opt_group(&mut self, kind: GroupSize) -> Result<Option<Group<'a>>, Mdp3Error> {
        if self.rest.is_empty() {
            Ok(None)
        } else {
            self.group(kind).map(Some)
        }
    }
}

/// A decoded MDP3 message.
#[derive(Debug, Clone, Copy)]
pub enum Message<'a> {
    /// 4: clear every book of the channel.
    ChannelReset {
        /// Root.
        root: IncrementalRoot<'a>,
    },
    /// 30.
    SecurityStatus(SecurityStatus<'a>),
    /// 32 / 46: book level updates ([`BookEntry`]), and order entries (ignored here).
    Book {
        /// Template id.
        template: u16,
        /// Root.
        root: IncrementalRoot<'a>,
        /// Level entries.
        entries: Group<'a>,
    },
    /// 42 / 48: trades ([`TradeEntry`]).
    TradeSummary {
        /// Template id.
        template: u16,
        /// Root.
        root: IncrementalRoot<'a>,
        /// Trade entries.
        entries: Group<'a>,
    },
    /// 35: session statistics ([`StatsEntry`]).
    SessionStatistics {
        /// Root.
        root: IncrementalRoot<'a>,
        /// Entries.
        entries: Group<'a>,
    },
    /// 37: volume ([`VolumeEntry`]).
    Volume {
        /// Root.
        root: IncrementalRoot<'a>,
        /// Entries.
        entries: Group<'a>,
    },
    /// 38 / 52: full book of one instrument ([`SnapshotEntry`]).
    Snapshot {
        /// Template id.
        template: u16,
        /// Root.
        root: SnapshotRoot<'a>,
        /// Entries.
        entries: Group<'a>,
    },
    /// Any other template, skipped by size.
    Other {
        /// Template id.
        template: u16,
    },
}

impl<'a> Message<'a> {
    /// Decodes one SBE message by template, reading the root by the wire's blockLength.
    pub fn decode(m: &SbeMessage<'a>) -> Result<Message<'a>, Mdp3Error> {
        let template = m.header.template_id();
        let bl = usize::from(m.header.block_length());
        let overrun = |what| Mdp3Error::Overrun { template, what };
        let root = m.body.get(..bl).ok_or(overrun("root block"))?;
        let mut c = Cursor {
            template,
            rest: &m.body[bl..],
        };
        let inc = || IncrementalRoot::new(root).ok_or(overrun("root block"));
        Ok(match template {
            4 => {
                let root = inc()?;
                c.group(GroupSize::Std)?;
                Message::ChannelReset { root }
            }
            30 => Message::SecurityStatus(SecurityStatus::new(root).ok_or(overrun("root"))?),
            32 | 46 | 42 | 48 => {
                let root = inc()?;
                let entries = c.group(GroupSize::Std)?;
                c.opt_group(GroupSize::Eight)?;
                if matches!(template, 32 | 46) {
                    Message::Book {
                        template,
                        root,
                        entries,
                    }
                } else {
                    Message::TradeSummary {
                        template,
                        root,
                        entries,
                    }
                }
            }
            35 => Message::SessionStatistics {
                root: inc()?,
                entries: c.group(GroupSize::Std)?,
            },
            37 => Message::Volume {
                root: inc()?,
                entries: c.group(GroupSize::Std)?,
            },
            38 | 52 => Message::Snapshot {
                template,
                root: SnapshotRoot::new(root).ok_or(overrun("root"))?,
                entries: c.group(GroupSize::Std)?,
            },
            _ => Message::Other { template },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price9_rounds_half_even_and_says_so() {
        assert_eq!(price9(1_123_450_000), Some((Price(112_345_000), true)));
        assert_eq!(price9(15), Some((Price(2), false)));
        assert_eq!(price9(25), Some((Price(2), false)));
        assert_eq!(price9(-15), Some((Price(-2), false)));
        assert_eq!(price9(i64::MAX), None);
    }
}
