//! Zero-copy views over decoded messages and plain structs that encode them.
//!
//! A view holds a reference to a fixed-size array of exactly the schema's block, taken after one
//! length check, so every accessor is a constant-offset little-endian load with no further
//! bounds check and no copy. A sender with a newer schema version may send a longer block
//! (SBE's extension rule): the view then covers the known prefix and the rest is skipped.

use mam_core::num::{Price, Qty};

use super::layout::{self as l, off};
use super::{MessageHeader, SbeError};

#[inline(always)]
fn u64_at<const N: usize>(b: &[u8; N], o: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[o..o + 8]);
    u64::from_le_bytes(a)
}
#[inline(always)]
fn i64_at<const N: usize>(b: &[u8; N], o: usize) -> i64 {
    u64_at(b, o) as i64
}
#[inline(always)]
fn u32_at<const N: usize>(b: &[u8; N], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}
#[inline(always)]
fn u16_at<const N: usize>(b: &[u8; N], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}
#[inline(always)]
fn opt(raw: i64) -> Option<i64> {
    (raw != l::NULL_I64).then_some(raw)
}
#[inline(always)]
fn put(out: &mut [u8], o: usize, bytes: &[u8]) {
    out[o..o + bytes.len()].copy_from_slice(bytes);
}
fn or_null(v: Option<i64>) -> i64 {
    v.unwrap_or(l::NULL_I64)
}

/// Takes the block of `N` bytes after the header, checking the declared block length.
#[inline(always)]
fn block<'a, const N: usize>(buf: &'a [u8], h: &MessageHeader) -> Result<&'a [u8; N], SbeError> {
    if usize::from(h.block_length) < N {
        return Err(SbeError::BlockTooShort {
            template: h.template_id,
            found: h.block_length,
            min: N as u16,
        });
    }
    let needed = l::HEADER_LEN + usize::from(h.block_length);
    if buf.len() < needed {
        return Err(SbeError::Truncated {
            template: h.template_id,
            needed,
            len: buf.len(),
        });
    }
    buf.get(l::HEADER_LEN..l::HEADER_LEN + N)
        .and_then(|s| s.try_into().ok())
        .ok_or(SbeError::Truncated {
            template: h.template_id,
            needed,
            len: buf.len(),
        })
}

/// A decoded message (views borrow the receive buffer).
#[derive(Debug, Clone, Copy)]
pub enum Message<'a> {
    /// `Heartbeat`.
    Heartbeat(HeartbeatView<'a>),
    /// `InstrumentDefinition`.
    Instrument(InstrumentView<'a>),
    /// `Quote`.
    Quote(QuoteView<'a>),
    /// `Depth`.
    Depth(DepthView<'a>),
    /// `Trade`.
    Trade(TradeView<'a>),
}

/// Decodes one message (header and body) from `buf`; extra bytes after it are ignored.
#[inline]
pub fn decode(buf: &[u8]) -> Result<Message<'_>, SbeError> {
    let h = MessageHeader::read(buf)?;
    if h.schema_id != l::SCHEMA_ID {
        return Err(SbeError::WrongSchema { found: h.schema_id });
    }
    Ok(match h.template_id {
        l::QUOTE_ID => Message::Quote(QuoteView(block(buf, &h)?)),
        l::HEARTBEAT_ID => Message::Heartbeat(HeartbeatView(block(buf, &h)?)),
        l::INSTRUMENT_ID => Message::Instrument(InstrumentView(block(buf, &h)?)),
        l::TRADE_ID => Message::Trade(TradeView(block(buf, &h)?)),
        l::DEPTH_ID => Message::Depth(DepthView::new(buf, &h)?),
        t => {
            return Err(SbeError::UnknownTemplate {
                template: t,
                block_length: h.block_length,
            })
        }
    })
}

/// Decodes `buf` as a `Quote` only: the hot path of a quote stream.
#[inline(always)]
pub fn decode_quote(buf: &[u8]) -> Result<QuoteView<'_>, SbeError> {
    let h = MessageHeader::read(buf)?;
    if h.schema_id != l::SCHEMA_ID {
        return Err(SbeError::WrongSchema { found: h.schema_id });
    }
    if h.template_id != l::QUOTE_ID {
        return Err(SbeError::UnknownTemplate {
            template: h.template_id,
            block_length: h.block_length,
        });
    }
    Ok(QuoteView(block(buf, &h)?))
}

/// View of a `Heartbeat`.
#[derive(Debug, Clone, Copy)]
pub struct HeartbeatView<'a>(&'a [u8; l::HEARTBEAT_BLOCK]);
impl HeartbeatView<'_> {
    /// `sendingTime`, ns since the Unix epoch.
    pub fn sending_time(&self) -> u64 {
        u64_at(self.0, off::TIME)
    }
}

/// View of an `InstrumentDefinition`.
#[derive(Debug, Clone, Copy)]
pub struct InstrumentView<'a>(&'a [u8; l::INSTRUMENT_BLOCK]);
impl InstrumentView<'_> {
    /// Owned copy of every field.
    pub fn get(&self) -> Instrument {
        let mut symbol = [0u8; l::SYMBOL_LEN];
        symbol.copy_from_slice(&self.0[off::DEF_SYMBOL..off::DEF_SYMBOL + l::SYMBOL_LEN]);
        Instrument {
            time_ns: u64_at(self.0, off::TIME),
            instrument: u32_at(self.0, off::INSTRUMENT),
            display_decimals: self.0[off::DEF_DECIMALS],
            symbol,
            tick: Price(i64_at(self.0, off::DEF_TICK)),
            contract_size: opt(i64_at(self.0, off::DEF_CONTRACT)).map(Qty),
        }
    }
}

/// View of a `Quote`.
#[derive(Debug, Clone, Copy)]
pub struct QuoteView<'a>(&'a [u8; l::QUOTE_BLOCK]);
impl QuoteView<'_> {
    /// `transactTime`, ns since the Unix epoch.
    #[inline(always)]
    pub fn time_ns(&self) -> u64 {
        u64_at(self.0, off::TIME)
    }
    /// `instrumentId`.
    #[inline(always)]
    pub fn instrument(&self) -> u32 {
        u32_at(self.0, off::INSTRUMENT)
    }
    /// `lpId`.
    #[inline(always)]
    pub fn lp(&self) -> u16 {
        u16_at(self.0, off::LP)
    }
    /// `flags` ([`l::FLAG_INDICATIVE`], [`l::FLAG_STALE`]).
    #[inline(always)]
    pub fn flags(&self) -> u8 {
        self.0[off::Q_FLAGS]
    }
    /// `bidPx` mantissa, [`l::NULL_I64`] when there is no bid.
    #[inline(always)]
    pub fn bid_raw(&self) -> i64 {
        i64_at(self.0, off::Q_BID)
    }
    /// `askPx` mantissa, [`l::NULL_I64`] when there is no ask.
    #[inline(always)]
    pub fn ask_raw(&self) -> i64 {
        i64_at(self.0, off::Q_ASK)
    }
    /// `bidSize` raw, [`l::NULL_I64`] when absent.
    #[inline(always)]
    pub fn bid_size_raw(&self) -> i64 {
        i64_at(self.0, off::Q_BID_SIZE)
    }
    /// `askSize` raw, [`l::NULL_I64`] when absent.
    #[inline(always)]
    pub fn ask_size_raw(&self) -> i64 {
        i64_at(self.0, off::Q_ASK_SIZE)
    }
    /// Owned copy of every field.
    pub fn get(&self) -> Quote {
        Quote {
            time_ns: self.time_ns(),
            instrument: self.instrument(),
            lp: self.lp(),
            flags: self.flags(),
            bid: opt(self.bid_raw()).map(Price),
            ask: opt(self.ask_raw()).map(Price),
            bid_size: opt(self.bid_size_raw()).map(Qty),
            ask_size: opt(self.ask_size_raw()).map(Qty),
        }
    }
}

/// View of a `Depth` message: its root block and its `levels` group.
#[derive(Debug, Clone, Copy)]
pub struct DepthView<'a> {
    root: &'a [u8; l::DEPTH_BLOCK],
    /// The group entries, `count` entries of `entry_len` bytes each.
    entries: &'a [u8],
    entry_len: usize,
    count: usize,
}

impl<'a> DepthView<'a> {
    fn new(buf: &'a [u8], h: &MessageHeader) -> Result<Self, SbeError> {
        let root = block::<{ l::DEPTH_BLOCK }>(buf, h)?;
        let g = l::HEADER_LEN + usize::from(h.block_length);
        let truncated = |needed| SbeError::Truncated {
            template: l::DEPTH_ID,
            needed,
            len: buf.len(),
        };
        let gh = buf
            .get(g..g + l::GROUP_HEADER_LEN)
            .ok_or(truncated(g + l::GROUP_HEADER_LEN))?;
        let entry_len = usize::from(u16::from_le_bytes([gh[0], gh[1]]));
        let count = usize::from(u16::from_le_bytes([gh[2], gh[3]]));
        if entry_len < l::DEPTH_LEVEL_BLOCK {
            return Err(SbeError::BlockTooShort {
                template: l::DEPTH_ID,
                found: entry_len as u16,
                min: l::DEPTH_LEVEL_BLOCK as u16,
            });
        }
        let start = g + l::GROUP_HEADER_LEN;
        let end = start + entry_len * count;
        let entries = buf.get(start..end).ok_or(truncated(end))?;
        Ok(Self {
            root,
            entries,
            entry_len,
            count,
        })
    }
    /// `transactTime`.
    pub fn time_ns(&self) -> u64 {
        u64_at(self.root, off::TIME)
    }
    /// `instrumentId`.
    pub fn instrument(&self) -> u32 {
        u32_at(self.root, off::INSTRUMENT)
    }
    /// `lpId`.
    pub fn lp(&self) -> u16 {
        u16_at(self.root, off::LP)
    }
    /// Number of levels.
    pub fn len(&self) -> usize {
        self.count
    }
    /// True if the message carries no level (the LP's book is empty).
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
    /// The levels, in message order.
    pub fn levels(&self) -> impl Iterator<Item = DepthLevel> + 'a {
        let (entries, n) = (self.entries, self.entry_len);
        // Every entry was length-checked in `new`; `get` keeps this free of panics anyway.
        (0..self.count).filter_map(move |i| {
            let e: &[u8; l::DEPTH_LEVEL_BLOCK] = entries
                .get(i * n..i * n + l::DEPTH_LEVEL_BLOCK)?
                .try_into()
                .ok()?;
            Some(DepthLevel {
                level: e[off::L_LEVEL],
                bid: opt(i64_at(e, off::L_BID)).map(Price),
                ask: opt(i64_at(e, off::L_ASK)).map(Price),
                bid_size: opt(i64_at(e, off::L_BID_SIZE)).map(Qty),
                ask_size: opt(i64_at(e, off::L_ASK_SIZE)).map(Qty),
            })
        })
    }
    /// Owned copy.
    pub fn get(&self) -> Depth {
        Depth {
            time_ns: self.time_ns(),
            instrument: self.instrument(),
            lp: self.lp(),
            levels: self.levels().collect(),
        }
    }
}

/// View of a `Trade`.
#[derive(Debug, Clone, Copy)]
pub struct TradeView<'a>(&'a [u8; l::TRADE_BLOCK]);
impl TradeView<'_> {
    /// Owned copy of every field.
    pub fn get(&self) -> Trade {
        Trade {
            time_ns: u64_at(self.0, off::TIME),
            instrument: u32_at(self.0, off::INSTRUMENT),
            lp: u16_at(self.0, off::LP),
            aggressor: self.0[off::T_SIDE],
            price: Price(i64_at(self.0, off::T_PRICE)),
            size: opt(i64_at(self.0, off::T_SIZE)).map(Qty),
            trade_id: u64_at(self.0, off::T_ID),
        }
    }
}

/// A message this crate can encode.
pub trait Encode {
    /// Bytes the encoded message takes, header included.
    fn encoded_len(&self) -> usize;
    /// Writes the message into `out[..encoded_len()]`.
    ///
    /// # Panics
    /// If `out` is shorter than [`Encode::encoded_len`] (a caller bug, not bad input:
    /// [`super::PacketBuilder`] always reserves the length first).
    fn encode(&self, out: &mut [u8]);
}

fn header(out: &mut [u8], template: u16, block: usize) {
    let h: &mut [u8; l::HEADER_LEN] = (&mut out[..l::HEADER_LEN]).try_into().expect("8 bytes");
    MessageHeader::ours(template, block as u16).write(h);
}

/// `Heartbeat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heartbeat {
    /// `sendingTime`, ns since the Unix epoch.
    pub time_ns: u64,
}
impl Encode for Heartbeat {
    fn encoded_len(&self) -> usize {
        l::HEADER_LEN + l::HEARTBEAT_BLOCK
    }
    fn encode(&self, out: &mut [u8]) {
        header(out, l::HEARTBEAT_ID, l::HEARTBEAT_BLOCK);
        put(out, l::HEADER_LEN + off::TIME, &self.time_ns.to_le_bytes());
    }
}

/// `InstrumentDefinition`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instrument {
    /// `transactTime`.
    pub time_ns: u64,
    /// `instrumentId`.
    pub instrument: u32,
    /// `displayDecimals`.
    pub display_decimals: u8,
    /// `symbol`, ASCII, NUL-padded.
    pub symbol: [u8; l::SYMBOL_LEN],
    /// `minPriceIncrement`.
    pub tick: Price,
    /// `contractSize` (base units per lot).
    pub contract_size: Option<Qty>,
}
impl Instrument {
    /// The symbol as text (up to the first NUL; lossy for non-ASCII bytes).
    pub fn symbol_str(&self) -> String {
        let end = self
            .symbol
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(l::SYMBOL_LEN);
        String::from_utf8_lossy(&self.symbol[..end]).into_owned()
    }
}
impl Encode for Instrument {
    fn encoded_len(&self) -> usize {
        l::HEADER_LEN + l::INSTRUMENT_BLOCK
    }
    fn encode(&self, out: &mut [u8]) {
        let h = l::HEADER_LEN;
        out[h..h + l::INSTRUMENT_BLOCK].fill(0);
        header(out, l::INSTRUMENT_ID, l::INSTRUMENT_BLOCK);
        put(out, h + off::TIME, &self.time_ns.to_le_bytes());
        put(out, h + off::INSTRUMENT, &self.instrument.to_le_bytes());
        out[h + off::DEF_DECIMALS] = self.display_decimals;
        put(out, h + off::DEF_SYMBOL, &self.symbol);
        put(out, h + off::DEF_TICK, &self.tick.0.to_le_bytes());
        let cs = or_null(self.contract_size.map(|q| q.0));
        put(out, h + off::DEF_CONTRACT, &cs.to_le_bytes());
    }
}

/// `Quote`: one LP's top of book.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Quote {
    /// `transactTime`.
    pub time_ns: u64,
    /// `instrumentId`.
    pub instrument: u32,
    /// `lpId`.
    pub lp: u16,
    /// `flags`.
    pub flags: u8,
    /// `bidPx` (None: no bid).
    pub bid: Option<Price>,
    /// `askPx` (None: no ask).
    pub ask: Option<Price>,
    /// `bidSize`.
    pub bid_size: Option<Qty>,
    /// `askSize`.
    pub ask_size: Option<Qty>,
}
impl Encode for Quote {
    fn encoded_len(&self) -> usize {
        l::HEADER_LEN + l::QUOTE_BLOCK
    }
    fn encode(&self, out: &mut [u8]) {
        let h = l::HEADER_LEN;
        header(out, l::QUOTE_ID, l::QUOTE_BLOCK);
        put(out, h + off::TIME, &self.time_ns.to_le_bytes());
        put(out, h + off::INSTRUMENT, &self.instrument.to_le_bytes());
        put(out, h + off::LP, &self.lp.to_le_bytes());
        out[h + off::Q_FLAGS] = self.flags;
        out[h + off::Q_FLAGS + 1] = 0;
        put(
            out,
            h + off::Q_BID,
            &or_null(self.bid.map(|p| p.0)).to_le_bytes(),
        );
        put(
            out,
            h + off::Q_ASK,
            &or_null(self.ask.map(|p| p.0)).to_le_bytes(),
        );
        let bs = or_null(self.bid_size.map(|q| q.0));
        put(out, h + off::Q_BID_SIZE, &bs.to_le_bytes());
        let asz = or_null(self.ask_size.map(|q| q.0));
        put(out, h + off::Q_ASK_SIZE, &asz.to_le_bytes());
    }
}

/// One entry of `Depth/levels`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DepthLevel {
    /// `level` (0 = best).
    pub level: u8,
    /// `bidPx`.
    pub bid: Option<Price>,
    /// `askPx`.
    pub ask: Option<Price>,
    /// `bidSize`.
    pub bid_size: Option<Qty>,
    /// `askSize`.
    pub ask_size: Option<Qty>,
}

/// `Depth`: one LP's book, best level first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Depth {
    /// `transactTime`.
    pub time_ns: u64,
    /// `instrumentId`.
    pub instrument: u32,
    /// `lpId`.
    pub lp: u16,
    /// `levels` (at most [`l::MAX_DEPTH_LEVELS`]; the encoder writes no more).
    pub levels: Vec<DepthLevel>,
}
impl Encode for Depth {
    fn encoded_len(&self) -> usize {
        let n = self.levels.len().min(l::MAX_DEPTH_LEVELS);
        l::HEADER_LEN + l::DEPTH_BLOCK + l::GROUP_HEADER_LEN + n * l::DEPTH_LEVEL_BLOCK
    }
    fn encode(&self, out: &mut [u8]) {
        let h = l::HEADER_LEN;
        header(out, l::DEPTH_ID, l::DEPTH_BLOCK);
        out[h..h + l::DEPTH_BLOCK].fill(0);
        put(out, h + off::TIME, &self.time_ns.to_le_bytes());
        put(out, h + off::INSTRUMENT, &self.instrument.to_le_bytes());
        put(out, h + off::LP, &self.lp.to_le_bytes());
        let n = self.levels.len().min(l::MAX_DEPTH_LEVELS);
        let g = h + l::DEPTH_BLOCK;
        put(out, g, &(l::DEPTH_LEVEL_BLOCK as u16).to_le_bytes());
        put(out, g + 2, &(n as u16).to_le_bytes());
        for (i, lv) in self.levels.iter().take(n).enumerate() {
            let e = g + l::GROUP_HEADER_LEN + i * l::DEPTH_LEVEL_BLOCK;
            out[e..e + l::DEPTH_LEVEL_BLOCK].fill(0);
            out[e + off::L_LEVEL] = lv.level;
            put(
                out,
                e + off::L_BID,
                &or_null(lv.bid.map(|p| p.0)).to_le_bytes(),
            );
            put(
                out,
                e + off::L_ASK,
                &or_null(lv.ask.map(|p| p.0)).to_le_bytes(),
            );
            let bs = or_null(lv.bid_size.map(|q| q.0));
            put(out, e + off::L_BID_SIZE, &bs.to_le_bytes());
            let asz = or_null(lv.ask_size.map(|q| q.0));
            put(out, e + off::L_ASK_SIZE, &asz.to_le_bytes());
        }
    }
}

/// `Trade`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Trade {
    /// `transactTime`.
    pub time_ns: u64,
    /// `instrumentId`.
    pub instrument: u32,
    /// `lpId`.
    pub lp: u16,
    /// `aggressorSide` (0 none, 1 buy, 2 sell).
    pub aggressor: u8,
    /// `price`.
    pub price: Price,
    /// `size`.
    pub size: Option<Qty>,
    /// `tradeId`.
    pub trade_id: u64,
}
impl Encode for Trade {
    fn encoded_len(&self) -> usize {
        l::HEADER_LEN + l::TRADE_BLOCK
    }
    fn encode(&self, out: &mut [u8]) {
        let h = l::HEADER_LEN;
        header(out, l::TRADE_ID, l::TRADE_BLOCK);
        put(out, h + off::TIME, &self.time_ns.to_le_bytes());
        put(out, h + off::INSTRUMENT, &self.instrument.to_le_bytes());
        put(out, h + off::LP, &self.lp.to_le_bytes());
        out[h + off::T_SIDE] = self.aggressor;
        out[h + off::T_SIDE + 1] = 0;
        put(out, h + off::T_PRICE, &self.price.0.to_le_bytes());
        put(
            out,
            h + off::T_SIZE,
            &or_null(self.size.map(|q| q.0)).to_le_bytes(),
        );
        put(out, h + off::T_ID, &self.trade_id.to_le_bytes());
    }
}
