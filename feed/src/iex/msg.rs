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

/// One decoded TOPS or DEEP message.
#[derive(Debug, Clone, Copy)]
pub enum Message<'a> {
    /// 'S'.
    SystemEvent(SystemEvent<'a>),
    /// 'D'.
    SecurityDirectory(SecurityDirectory<'a>),
    /// 'H'.
    TradingStatus(TradingStatus<'a>),
    /// 'I'.
    RetailLiquidity(RetailLiquidity<'a>),
    /// 'O'.
    OperationalHalt(OperationalHalt<'a>),
    /// 'P'.
    ShortSaleTest(ShortSaleTest<'a>),
    /// 'Q'.
    Quote(QuoteUpdate<'a>),
    /// 'T'.
    Trade(TradeReport<'a>),
    /// 'B'.
    TradeBreak(TradeReport<'a>),
    /// 'X'.
    OfficialPrice(OfficialPrice<'a>),
    /// 'A'.
    Auction(AuctionInfo<'a>),
    /// 'E'.
    SecurityEvent(SecurityEvent<'a>),
    /// '8'.
    BuyLevel(PriceLevelUpdate<'a>),
    /// '5'.
    SellLevel(PriceLevelUpdate<'a>),
}

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
