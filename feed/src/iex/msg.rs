//! TOPS 1.6 and DEEP 1.0 message layouts (little-endian; `ts` = ns since the Unix epoch;
//! prices `i64` × 1e-4, see [`super::price`]).

use crate::capture::view::view;

view! {
    /// 'S' System Event (TOPS and DEEP).
    SystemEvent [10] {
        /// Event code: 'O' start of messages, 'S' start of system hours, 'R' regular market,
        /// 'M' end of regular market, 'E' end of system hours, 'C' end of messages.
        event @ 1: u8;
        /// Timestamp.
        ts @ 2: le i64;
    }
}

view! {
    /// 'D' Security Directory.
    SecurityDirectory [31] {
        /// Flags (test security, when-issued, ETP).
        flags @ 1: u8;
        /// Timestamp.
        ts @ 2: le i64;
        /// Symbol, space padded.
        symbol @ 10: bytes8;
        /// Round lot size.
        round_lot @ 18: le u32;
        /// Adjusted previous official closing price.
        adjusted_poc_price @ 22: le i64;
        /// LULD tier.
        luld_tier @ 30: u8;
    }
}

view! {
    /// 'H' Trading Status.
    TradingStatus [22] {
        /// 'H' halted, 'O' order acceptance, 'P' paused, 'T' trading.
        status @ 1: u8;
        /// Timestamp.
        ts @ 2: le i64;
        /// Symbol.
        symbol @ 10: bytes8;
        /// Reason (4 ASCII bytes).
        reason @ 18: bytes4;
    }
}

view! {
    /// 'I' Retail Liquidity Indicator (TOPS).
    RetailLiquidity [18] {
        /// Indicator.
        indicator @ 1: u8;
        /// Timestamp.
        ts @ 2: le i64;
        /// Symbol.
        symbol @ 10: bytes8;
    }
}

view! {
    /// 'O' Operational Halt Status.
    OperationalHalt [18] {
        /// 'O' halted, 'N' not halted.
        status @ 1: u8;
        /// Timestamp.
        ts @ 2: le i64;
        /// Symbol.
        symbol @ 10: bytes8;
    }
}

view! {
    /// 'P' Short Sale Price Test Status.
    ShortSaleTest [19] {
        /// 0 not in effect, 1 in effect.
        status @ 1: u8;
        /// Timestamp.
        ts @ 2: le i64;
        /// Symbol.
        symbol @ 10: bytes8;
        /// Detail code.
        detail @ 18: u8;
    }
}

view! {
    /// 'Q' Quote Update (TOPS): the IEX best bid and offer.
    QuoteUpdate [42] {
        /// Flags (symbol availability, market session).
        flags @ 1: u8;
        /// Timestamp.
        ts @ 2: le i64;
        /// Symbol.
        symbol @ 10: bytes8;
        /// Bid size (shares).
        bid_size @ 18: le u32;
        /// Bid price.
        bid_price @ 22: le i64;
        /// Ask price.
        ask_price @ 30: le i64;
        /// Ask size.
        ask_size @ 38: le u32;
    }
}

view! {
    /// 'T' Trade Report and 'B' Trade Break (same layout).
    TradeReport [38] {
        /// Sale condition flags.
        flags @ 1: u8;
        /// Timestamp.
        ts @ 2: le i64;
        /// Symbol.
        symbol @ 10: bytes8;
        /// Shares.
        size @ 18: le u32;
        /// Price.
        price @ 22: le i64;
        /// Trade id.
        trade_id @ 30: le i64;
    }
}

view! {
    /// 'X' Official Price.
    OfficialPrice [26] {
        /// 'Q' opening, 'M' closing.
        price_type @ 1: u8;
        /// Timestamp.
        ts @ 2: le i64;
        /// Symbol.
        symbol @ 10: bytes8;
        /// Price.
        price @ 18: le i64;
    }
}

view! {
    /// 'A' Auction Information.
    AuctionInfo [80] {
        /// 'O' opening, 'C' closing, 'I' IPO, 'H' halt, 'V' volatility.
        auction_type @ 1: u8;
        /// Timestamp.
        ts @ 2: le i64;
        /// Symbol.
        symbol @ 10: bytes8;
        /// Paired shares.
        paired_shares @ 18: le u32;
        /// Reference price.
        reference_price @ 22: le i64;
        /// Indicative clearing price.
        indicative_price @ 30: le i64;
        /// Imbalance shares.
        imbalance_shares @ 38: le u32;
        /// 'B', 'S' or 'N'.
        imbalance_side @ 42: u8;
        /// Extension number.
        extension @ 43: u8;
        /// Scheduled auction time (seconds since the epoch).
        scheduled_time @ 44: le u32;
        /// Auction book clearing price.
        book_clearing_price @ 48: le i64;
        /// Collar reference price.
        collar_reference_price @ 56: le i64;
        /// Lower auction collar.
        lower_collar @ 64: le i64;
        /// Upper auction collar.
        upper_collar @ 72: le i64;
    }
}

view! {
    /// 'E' Security Event (DEEP).
    SecurityEvent [18] {
        /// 'O' opening process complete, 'C' closing process complete.
        event @ 1: u8;
        /// Timestamp.
        ts @ 2: le i64;
        /// Symbol.
        symbol @ 10: bytes8;
    }
}

view! {
    /// '8' Price Level Update on the buy side, '5' on the sell side (DEEP): the aggregate size
    /// at one price (0 = level removed).
    PriceLevelUpdate [30] {
        /// Event flags: 1 = the event is complete (book consistent), 0 = more follow.
        flags @ 1: u8;
        /// Timestamp.
        ts @ 2: le i64;
        /// Symbol.
        symbol @ 10: bytes8;
        /// Aggregate shares at the level.
        size @ 18: le u32;
        /// Price.
        price @ 22: le i64;
    }
}

/// One decoded TOPS or DEEP message. Each variant's discriminant is its type byte and each
/// holds one pointer-sized view, which lets [`Message::decode`] build it without a per-type
/// branch (as in [`crate::itch::Message`]).
#[derive(Debug, Clone, Copy)]
#[repr(u8)]
pub enum Message<'a> {
    /// 'S'.
    SystemEvent(SystemEvent<'a>) = b'S',
    /// 'D'.
    SecurityDirectory(SecurityDirectory<'a>) = b'D',
    /// 'H'.
    TradingStatus(TradingStatus<'a>) = b'H',
    /// 'I'.
    RetailLiquidity(RetailLiquidity<'a>) = b'I',
    /// 'O'.
    OperationalHalt(OperationalHalt<'a>) = b'O',
    /// 'P'.
    ShortSaleTest(ShortSaleTest<'a>) = b'P',
    /// 'Q'.
    Quote(QuoteUpdate<'a>) = b'Q',
    /// 'T'.
    Trade(TradeReport<'a>) = b'T',
    /// 'B'.
    TradeBreak(TradeReport<'a>) = b'B',
    /// 'X'.
    OfficialPrice(OfficialPrice<'a>) = b'X',
    /// 'A'.
    Auction(AuctionInfo<'a>) = b'A',
    /// 'E'.
    SecurityEvent(SecurityEvent<'a>) = b'E',
    /// '8'.
    BuyLevel(PriceLevelUpdate<'a>) = b'8',
    /// '5'.
    SellLevel(PriceLevelUpdate<'a>) = b'5',
}

/// Wire length of each TOPS / DEEP message type (0 = not a type).
const LENS: [u8; 256] = {
    let mut t = [0u8; 256];
    t[b'S' as usize] = 10;
    t[b'D' as usize] = 31;
    t[b'H' as usize] = 22;
    t[b'I' as usize] = 18;
    t[b'O' as usize] = 18;
    t[b'P' as usize] = 19;
    t[b'Q' as usize] = 42;
    t[b'T' as usize] = 38;
    t[b'B' as usize] = 38;
    t[b'X' as usize] = 26;
    t[b'A' as usize] = 80;
    t[b'E' as usize] = 18;
    t[b'8' as usize] = 30;
    t[b'5' as usize] = 30;
    t
};

/// The layout shared by every [`Message`] variant.
#[repr(C)]
struct RawMessage {
    tag: u8,
    ptr: *const u8,
}

const _: () =
    assert!(core::mem::size_of::<RawMessage>() == core::mem::size_of::<Message<'static>>());

/// A message that could not be decoded (the packet's other messages still are).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsgError {
    /// Type byte not defined by the protocol.
    UnknownType(u8),
    /// Body shorter than its type's layout.
    Short {
        /// Type byte.
        kind: u8,
        /// Bytes present.
        len: usize,
    },
}

impl<'a> Message<'a> {
    /// Decodes one message body. Longer bodies are accepted (later protocol versions append
    /// fields); shorter ones are refused.
    #[inline]
    pub fn decode(body: &'a [u8]) -> Result<Message<'a>, MsgError> {
        let Some(&kind) = body.first() else {
            return Err(MsgError::Short { kind: 0, len: 0 });
        };
        let need = usize::from(LENS[usize::from(kind)]);
        if need == 0 {
            return Err(MsgError::UnknownType(kind));
        }
        if body.len() < need {
            return Err(MsgError::Short {
                kind,
                len: body.len(),
            });
        }
        let raw = RawMessage {
            tag: kind,
            ptr: body.as_ptr(),
        };
        // SAFETY: `kind` has a non-zero entry in LENS, so it is the discriminant of exactly one
        // variant (checked against `decode_checked` for every byte in the tests), whose view is
        // `&'a [u8; LENS[kind]]`; `ptr` comes from `body: &'a [u8]` (non-null, align 1,
        // provenance over all of `body`) which holds at least that many bytes. RawMessage has
        // the layout of every variant (`repr(u8)` enum = `repr(C)` union of `{ tag, view }`,
        // views are `repr(transparent)` thin pointers) and the same size (asserted).
        Ok(unsafe { core::mem::transmute::<RawMessage, Message<'a>>(raw) })
    }

    /// The same decoding with one safe constructor per type (the reference for
    /// [`Message::decode`]).
    pub fn decode_checked(body: &'a [u8]) -> Result<Message<'a>, MsgError> {
        let Some(&kind) = body.first() else {
            return Err(MsgError::Short { kind: 0, len: 0 });
        };
        let short = MsgError::Short {
            kind,
            len: body.len(),
        };
        Ok(match kind {
            b'Q' => Message::Quote(QuoteUpdate::new(body).ok_or(short)?),
            b'T' => Message::Trade(TradeReport::new(body).ok_or(short)?),
            b'8' => Message::BuyLevel(PriceLevelUpdate::new(body).ok_or(short)?),
            b'5' => Message::SellLevel(PriceLevelUpdate::new(body).ok_or(short)?),
            b'S' => Message::SystemEvent(SystemEvent::new(body).ok_or(short)?),
            b'D' => Message::SecurityDirectory(SecurityDirectory::new(body).ok_or(short)?),
            b'H' => Message::TradingStatus(TradingStatus::new(body).ok_or(short)?),
            b'I' => Message::RetailLiquidity(RetailLiquidity::new(body).ok_or(short)?),
            b'O' => Message::OperationalHalt(OperationalHalt::new(body).ok_or(short)?),
            b'P' => Message::ShortSaleTest(ShortSaleTest::new(body).ok_or(short)?),
            b'B' => Message::TradeBreak(TradeReport::new(body).ok_or(short)?),
            b'X' => Message::OfficialPrice(OfficialPrice::new(body).ok_or(short)?),
            b'A' => Message::Auction(AuctionInfo::new(body).ok_or(short)?),
            b'E' => Message::SecurityEvent(SecurityEvent::new(body).ok_or(short)?),
            other => return Err(MsgError::UnknownType(other)),
        })
    }

    /// The event timestamp (ns since the epoch).
    pub fn ts(&self) -> i64 {
        match self {
            Message::SystemEvent(m) => m.ts(),
            Message::SecurityDirectory(m) => m.ts(),
            Message::TradingStatus(m) => m.ts(),
            Message::RetailLiquidity(m) => m.ts(),
            Message::OperationalHalt(m) => m.ts(),
            Message::ShortSaleTest(m) => m.ts(),
            Message::Quote(m) => m.ts(),
            Message::Trade(m) | Message::TradeBreak(m) => m.ts(),
            Message::OfficialPrice(m) => m.ts(),
            Message::Auction(m) => m.ts(),
            Message::SecurityEvent(m) => m.ts(),
            Message::BuyLevel(m) | Message::SellLevel(m) => m.ts(),
        }
    }

    /// The symbol, for messages that carry one.
    pub fn symbol(&self) -> Option<[u8; 8]> {
        Some(match self {
            Message::SystemEvent(_) => return None,
            Message::SecurityDirectory(m) => m.symbol(),
            Message::TradingStatus(m) => m.symbol(),
            Message::RetailLiquidity(m) => m.symbol(),
            Message::OperationalHalt(m) => m.symbol(),
            Message::ShortSaleTest(m) => m.symbol(),
            Message::Quote(m) => m.symbol(),
            Message::Trade(m) | Message::TradeBreak(m) => m.symbol(),
            Message::OfficialPrice(m) => m.symbol(),
            Message::Auction(m) => m.symbol(),
            Message::SecurityEvent(m) => m.symbol(),
            Message::BuyLevel(m) | Message::SellLevel(m) => m.symbol(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view_bytes<'a>(m: &Message<'a>) -> &'a [u8] {
        match m {
            Message::SystemEvent(v) => v.bytes(),
            Message::SecurityDirectory(v) => v.bytes(),
            Message::TradingStatus(v) => v.bytes(),
            Message::RetailLiquidity(v) => v.bytes(),
            Message::OperationalHalt(v) => v.bytes(),
            Message::ShortSaleTest(v) => v.bytes(),
            Message::Quote(v) => v.bytes(),
            Message::Trade(v) | Message::TradeBreak(v) => v.bytes(),
            Message::OfficialPrice(v) => v.bytes(),
            Message::Auction(v) => v.bytes(),
            Message::SecurityEvent(v) => v.bytes(),
            Message::BuyLevel(v) | Message::SellLevel(v) => v.bytes(),
        }
    }

    #[test]
    fn fast_decode_matches_the_checked_one_for_every_byte() {
        let buf: Vec<u8> = (0..96u8).collect();
        for kind in 0..=255u8 {
            for len in [
                0usize, 1, 10, 17, 18, 19, 22, 26, 30, 31, 38, 42, 79, 80, 96,
            ] {
                let mut b = buf[..len].to_vec();
                if let Some(f) = b.first_mut() {
                    *f = kind;
                }
                match (Message::decode(&b), Message::decode_checked(&b)) {
                    (Ok(f), Ok(s)) => {
                        assert_eq!(core::mem::discriminant(&f), core::mem::discriminant(&s));
                        assert_eq!(view_bytes(&f), view_bytes(&s));
                        assert_eq!(view_bytes(&f).as_ptr(), b.as_ptr());
                        assert_eq!(view_bytes(&f).len(), usize::from(LENS[usize::from(kind)]));
                        assert_eq!((f.ts(), f.symbol()), (s.ts(), s.symbol()));
                    }
                    (Err(f), Err(s)) => assert_eq!(f, s),
                    (f, s) => panic!("kind {kind} len {len}: {f:?} vs {s:?}"),
                }
            }
        }
    }
}
