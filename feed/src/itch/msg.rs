//! NASDAQ TotalView-ITCH 5.0 message layouts (big-endian). Every message starts with the type
//! byte, `stock_locate` (u16), `tracking` (u16) and a 6-byte timestamp in ns since midnight
//! (Eastern time). Prices are `u32` × 1e-4 (`Price(4)`), except the MWCB levels (`u64` × 1e-8).

use crate::capture::view::view;

macro_rules! itch {
    ($(#[$m:meta])* $name:ident [$len:expr] { $($body:tt)* }) => {
        view! {
            $(#[$m])*
            $name [$len] {
                /// Locate code of the stock (0 for market-wide messages).
                stock_locate @ 1: be u16;
                /// NASDAQ internal tracking number.
                tracking @ 3: be u16;
                /// Nanoseconds since midnight (Eastern time).
                ts @ 5: be48;
                $($body)*
            }
        }
    };
}

itch! { /// 'S' System Event.
SystemEvent [12] { /// 'O','S','Q','M','E','C'.
event @ 11: u8; } }

itch! { /// 'R' Stock Directory.
StockDirectory [39] {
    /// Stock symbol, space padded.
    stock @ 11: bytes8;
    /// Market category.
    market_category @ 19: u8;
    /// Financial status indicator.
    financial_status @ 20: u8;
    /// Round lot size.
    round_lot @ 21: be u32;
    /// 'Y' if only round lots are accepted.
    round_lots_only @ 25: u8;
    /// Issue classification.
    issue_class @ 26: u8;
    /// Issue sub-type (2 chars, first byte).
    issue_subtype @ 27: be u16;
    /// 'P' live, 'T' test.
    authenticity @ 29: u8;
    /// Short sale threshold indicator.
    short_sale_threshold @ 30: u8;
    /// IPO flag.
    ipo_flag @ 31: u8;
    /// LULD reference price tier.
    luld_tier @ 32: u8;
    /// ETP flag.
    etp_flag @ 33: u8;
    /// ETP leverage factor.
    etp_leverage @ 34: be u32;
    /// Inverse indicator.
    inverse @ 38: u8;
} }

itch! { /// 'H' Stock Trading Action.
StockTradingAction [25] {
    /// Stock.
    stock @ 11: bytes8;
    /// 'H' halted, 'P' paused, 'Q' quotation only, 'T' trading.
    state @ 19: u8;
    /// Reserved.
    reserved @ 20: u8;
    /// Reason (4 chars).
    reason @ 21: bytes4;
} }

itch! { /// 'Y' Reg SHO Short Sale Price Test Restricted Indicator.
RegSho [20] {
    /// Stock.
    stock @ 11: bytes8;
    /// '0' no test, '1' in effect (intraday drop), '2' remains in effect.
    action @ 19: u8;
} }

itch! { /// 'L' Market Participant Position.
MarketParticipantPosition [26] {
    /// Market participant id.
    mpid @ 11: bytes4;
    /// Stock.
    stock @ 15: bytes8;
    /// Primary market maker 'Y'/'N'.
    primary @ 23: u8;
    /// Market maker mode.
    mode @ 24: u8;
    /// Market participant state.
    state @ 25: u8;
} }

itch! { /// 'V' MWCB Decline Level (levels are `u64` × 1e-8).
MwcbDeclineLevel [35] {
    /// Level 1.
    level1 @ 11: be u64;
    /// Level 2.
    level2 @ 19: be u64;
    /// Level 3.
    level3 @ 27: be u64;
} }

itch! { /// 'W' MWCB Status.
MwcbStatus [12] { /// Breached level '1','2','3'.
breached_level @ 11: u8; } }

itch! { /// 'K' IPO Quoting Period Update.
IpoQuotingPeriod [28] {
    /// Stock.
    stock @ 11: bytes8;
    /// Quotation release time (seconds since midnight).
    release_time @ 19: be u32;
    /// 'A' anticipated, 'C' canceled or postponed.
    qualifier @ 23: u8;
    /// IPO price.
    price @ 24: be u32;
} }

itch! { /// 'J' LULD Auction Collar.
LuldAuctionCollar [35] {
    /// Stock.
    stock @ 11: bytes8;
    /// Reference price.
    reference_price @ 19: be u32;
    /// Upper collar.
    upper_price @ 23: be u32;
    /// Lower collar.
    lower_price @ 27: be u32;
    /// Extension.
    extension @ 31: be u32;
} }

itch! { /// 'h' Operational Halt.
OperationalHalt [21] {
    /// Stock.
    stock @ 11: bytes8;
    /// Market code 'Q','B','X'.
    market_code @ 19: u8;
    /// 'H' halted, 'T' resumed.
    action @ 20: u8;
} }

itch! { /// 'A' Add Order (no MPID attribution).
AddOrder [36] {
    /// Order reference number.
    order_ref @ 11: be u64;
    /// 'B' buy, 'S' sell.
    side @ 19: u8;
    /// Shares.
    shares @ 20: be u32;
    /// Stock.
    stock @ 24: bytes8;
    /// Price.
    price @ 32: be u32;
} }

itch! { /// 'F' Add Order with MPID attribution.
AddOrderMpid [40] {
    /// Order reference number.
    order_ref @ 11: be u64;
    /// 'B' buy, 'S' sell.
    side @ 19: u8;
    /// Shares.
    shares @ 20: be u32;
    /// Stock.
    stock @ 24: bytes8;
    /// Price.
    price @ 32: be u32;
    /// Attribution (MPID).
    attribution @ 36: bytes4;
} }

itch! { /// 'E' Order Executed.
OrderExecuted [31] {
    /// Order reference number.
    order_ref @ 11: be u64;
    /// Executed shares.
    shares @ 19: be u32;
    /// Match number.
    match_number @ 23: be u64;
} }

itch! { /// 'C' Order Executed With Price.
OrderExecutedWithPrice [36] {
    /// Order reference number.
    order_ref @ 11: be u64;
    /// Executed shares.
    shares @ 19: be u32;
    /// Match number.
    match_number @ 23: be u64;
    /// 'Y' printable.
    printable @ 31: u8;
    /// Execution price.
    price @ 32: be u32;
} }

itch! { /// 'X' Order Cancel (partial).
OrderCancel [23] {
    /// Order reference number.
    order_ref @ 11: be u64;
    /// Shares removed.
    shares @ 19: be u32;
} }

itch! { /// 'D' Order Delete.
OrderDelete [19] { /// Order reference number.
order_ref @ 11: be u64; } }

itch! { /// 'U' Order Replace.
OrderReplace [35] {
    /// Original order reference number.
    orig_ref @ 11: be u64;
    /// New order reference number.
    new_ref @ 19: be u64;
    /// Shares of the new order.
    shares @ 27: be u32;
    /// Price of the new order.
    price @ 31: be u32;
} }

itch! { /// 'P' Trade (non-cross, against a hidden order).
Trade [44] {
    /// Order reference number (0 since 2013).
    order_ref @ 11: be u64;
    /// Side of the non-displayed order.
    side @ 19: u8;
    /// Shares.
    shares @ 20: be u32;
    /// Stock.
    stock @ 24: bytes8;
    /// Price.
    price @ 32: be u32;
    /// Match number.
    match_number @ 36: be u64;
} }

itch! { /// 'Q' Cross Trade.
CrossTrade [40] {
    /// Shares.
    shares @ 11: be u64;
    /// Stock.
    stock @ 19: bytes8;
    /// Cross price.
    price @ 27: be u32;
    /// Match number.
    match_number @ 31: be u64;
    /// 'O','C','H','I'.
    cross_type @ 39: u8;
} }

itch! { /// 'B' Broken Trade.
BrokenTrade [19] { /// Match number.
match_number @ 11: be u64; } }

itch! { /// 'I' Net Order Imbalance Indicator (NOII).
Noii [50] {
    /// Paired shares.
    paired_shares @ 11: be u64;
    /// Imbalance shares.
    imbalance_shares @ 19: be u64;
    /// 'B','S','N','O'.
    direction @ 27: u8;
    /// Stock.
    stock @ 28: bytes8;
    /// Far price.
    far_price @ 36: be u32;
    /// Near price.
    near_price @ 40: be u32;
    /// Current reference price.
    reference_price @ 44: be u32;
    /// Cross type.
    cross_type @ 48: u8;
    /// Price variation indicator.
    variation @ 49: u8;
} }

itch! { /// 'N' Retail Price Improvement Indicator.
Rpii [20] {
    /// Stock.
    stock @ 11: bytes8;
    /// 'B','S','A','N'.
    interest @ 19: u8;
} }

itch! { /// 'O' Direct Listing with Capital Raise Price Discovery.
DirectListing [48] {
    /// Stock.
    stock @ 11: bytes8;
    /// Open eligibility status.
    open_eligibility @ 19: u8;
    /// Minimum allowable price.
    min_price @ 20: be u32;
    /// Maximum allowable price.
    max_price @ 24: be u32;
    /// Near execution price.
    near_price @ 28: be u32;
    /// Near execution time.
    near_time @ 32: be u64;
    /// Lower price range collar.
    lower_collar @ 40: be u32;
    /// Upper price range collar.
    upper_collar @ 44: be u32;
} }

/// Wire length of each ITCH 5.0 message type (type byte included), `None` if not a type.
#[inline]
pub const fn message_len(kind: u8) -> Option<usize> {
    Some(match kind {
        b'S' => 12,
        b'R' => 39,
        b'H' => 25,
        b'Y' => 20,
        b'L' => 26,
        b'V' => 35,
        b'W' => 12,
        b'K' => 28,
        b'J' => 35,
        b'h' => 21,
        b'A' => 36,
        b'F' => 40,
        b'E' => 31,
        b'C' => 36,
        b'X' => 23,
        b'D' => 19,
        b'U' => 35,
        b'P' => 44,
        b'Q' => 40,
        b'B' => 19,
        b'I' => 50,
        b'N' => 20,
        b'O' => 48,
        _ => return None,
    })
}

/// One decoded ITCH 5.0 message (a borrowed view). The discriminant of each variant is the
/// message's type byte, and every variant holds one pointer-sized view: this fixed layout lets
/// [`Message::decode`] build the value from the type byte without a per-type branch.
#[derive(Debug, Clone, Copy)]
#[repr(u8)]
#[allow(missing_docs)] // each variant is named after its message, documented on its view
pub enum Message<'a> {
    SystemEvent(SystemEvent<'a>) = b'S',
    StockDirectory(StockDirectory<'a>) = b'R',
    StockTradingAction(StockTradingAction<'a>) = b'H',
    RegSho(RegSho<'a>) = b'Y',
    MarketParticipantPosition(MarketParticipantPosition<'a>) = b'L',
    MwcbDeclineLevel(MwcbDeclineLevel<'a>) = b'V',
    MwcbStatus(MwcbStatus<'a>) = b'W',
    IpoQuotingPeriod(IpoQuotingPeriod<'a>) = b'K',
    LuldAuctionCollar(LuldAuctionCollar<'a>) = b'J',
    OperationalHalt(OperationalHalt<'a>) = b'h',
    AddOrder(AddOrder<'a>) = b'A',
    AddOrderMpid(AddOrderMpid<'a>) = b'F',
    OrderExecuted(OrderExecuted<'a>) = b'E',
    OrderExecutedWithPrice(OrderExecutedWithPrice<'a>) = b'C',
    OrderCancel(OrderCancel<'a>) = b'X',
    OrderDelete(OrderDelete<'a>) = b'D',
    OrderReplace(OrderReplace<'a>) = b'U',
    Trade(Trade<'a>) = b'P',
    CrossTrade(CrossTrade<'a>) = b'Q',
    BrokenTrade(BrokenTrade<'a>) = b'B',
    Noii(Noii<'a>) = b'I',
    Rpii(Rpii<'a>) = b'N',
    DirectListing(DirectListing<'a>) = b'O',
}

/// A message that could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsgError {
    /// Type byte not defined by ITCH 5.0 (or an empty message).
    UnknownType(u8),
    /// Shorter than its type's fixed length.
    Short {
        /// Type byte.
        kind: u8,
        /// Bytes present.
        len: usize,
    },
}

/// [`message_len`] as a table (0 = not a type), for branch-free decoding.
const LENS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = match message_len(i as u8) {
            Some(n) => n as u8,
            None => 0,
        };
        i += 1;
    }
    t
};

/// The layout of every [`Message`] variant: `#[repr(u8)]` makes the enum a `repr(C)` union of
/// `repr(C)` structs `{ tag: u8, view }`, and each view is a `repr(transparent)` thin pointer.
#[repr(C)]
struct RawMessage {
    tag: u8,
    ptr: *const u8,
}

const _: () =
    assert!(core::mem::size_of::<RawMessage>() == core::mem::size_of::<Message<'static>>());

macro_rules! decode_arms {
    ($body:ident, $kind:ident, $short:ident; $($b:literal => $v:ident),* $(,)?) => {
        match $kind {
            $( $b => Message::$v($v::new($body).ok_or($short)?), )*
            other => return Err(MsgError::UnknownType(other)),
        }
    };
}

impl<'a> Message<'a> {
    /// Decodes one message (type byte first). Longer input is accepted (the extra is ignored).
    #[inline]
    pub fn decode(body: &'a [u8]) -> Result<Message<'a>, MsgError> {
        let Some(&kind) = body.first() else {
            return Err(MsgError::UnknownType(0));
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
        // variant (checked against the safe decoder for every type in the tests), and that
        // variant's view is `&'a [u8; LENS[kind]]`: `ptr` comes from `body: &'a [u8]` (non-null,
        // provenance over all of `body`, align 1) and `body` holds at least that many bytes.
        // RawMessage has the variant's layout (see its doc) and the same size (asserted).
        Ok(unsafe { core::mem::transmute::<RawMessage, Message<'a>>(raw) })
    }

    /// The same decoding with one safe constructor per type (the reference for [`decode`]).
    ///
    /// [`decode`]: Message::decode
    pub fn decode_checked(body: &'a [u8]) -> Result<Message<'a>, MsgError> {
        let Some(&kind) = body.first() else {
            return Err(MsgError::UnknownType(0));
        };
        let short = MsgError::Short {
            kind,
            len: body.len(),
        };
        Ok(decode_arms!(body, kind, short;
            b'A' => AddOrder, b'D' => OrderDelete, b'U' => OrderReplace, b'E' => OrderExecuted,
            b'X' => OrderCancel, b'F' => AddOrderMpid, b'C' => OrderExecutedWithPrice,
            b'P' => Trade, b'S' => SystemEvent, b'R' => StockDirectory,
            b'H' => StockTradingAction, b'Y' => RegSho, b'L' => MarketParticipantPosition,
            b'V' => MwcbDeclineLevel, b'W' => MwcbStatus, b'K' => IpoQuotingPeriod,
            b'J' => LuldAuctionCollar, b'h' => OperationalHalt, b'Q' => CrossTrade,
            b'B' => BrokenTrade, b'I' => Noii, b'N' => Rpii, b'O' => DirectListing,
        ))
    }

    /// Nanoseconds since midnight (Eastern time), common to every message.
    #[inline]
    pub fn ts(&self) -> u64 {
        let b: &[u8] = self.bytes();
        let mut a = [0u8; 8];
        a[2..].copy_from_slice(&b[5..11]);
        u64::from_be_bytes(a)
    }

    /// Stock locate code, common to every message.
    #[inline]
    pub fn stock_locate(&self) -> u16 {
        let b: &[u8] = self.bytes();
        u16::from_be_bytes([b[1], b[2]])
    }

    /// The message's bytes (at least 11: every view is longer).
    pub fn bytes(&self) -> &'a [u8] {
        match self {
            Message::SystemEvent(m) => m.bytes(),
            Message::StockDirectory(m) => m.bytes(),
            Message::StockTradingAction(m) => m.bytes(),
            Message::RegSho(m) => m.bytes(),
            Message::MarketParticipantPosition(m) => m.bytes(),
            Message::MwcbDeclineLevel(m) => m.bytes(),
            Message::MwcbStatus(m) => m.bytes(),
            Message::IpoQuotingPeriod(m) => m.bytes(),
            Message::LuldAuctionCollar(m) => m.bytes(),
            Message::OperationalHalt(m) => m.bytes(),
            Message::AddOrder(m) => m.bytes(),
            Message::AddOrderMpid(m) => m.bytes(),
            Message::OrderExecuted(m) => m.bytes(),
            Message::OrderExecutedWithPrice(m) => m.bytes(),
            Message::OrderCancel(m) => m.bytes(),
            Message::OrderDelete(m) => m.bytes(),
            Message::OrderReplace(m) => m.bytes(),
            Message::Trade(m) => m.bytes(),
            Message::CrossTrade(m) => m.bytes(),
            Message::BrokenTrade(m) => m.bytes(),
            Message::Noii(m) => m.bytes(),
            Message::Rpii(m) => m.bytes(),
            Message::DirectListing(m) => m.bytes(),
        }
    }

    /// The type byte.
    #[inline]
    pub fn kind(&self) -> u8 {
        self.bytes()[0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_decode_matches_the_checked_one_for_every_byte() {
        let buf: Vec<u8> = (0..64u8).collect();
        for kind in 0..=255u8 {
            for len in [0usize, 1, 11, 18, 19, 35, 36, 50, 64] {
                let mut b = buf[..len].to_vec();
                if let Some(f) = b.first_mut() {
                    *f = kind;
                }
                let (fast, slow) = (Message::decode(&b), Message::decode_checked(&b));
                match (fast, slow) {
                    (Ok(f), Ok(s)) => {
                        assert_eq!(core::mem::discriminant(&f), core::mem::discriminant(&s));
                        assert_eq!(f.bytes(), s.bytes());
                        assert_eq!(f.bytes().as_ptr(), b.as_ptr());
                        assert_eq!(f.kind(), kind);
                        assert_eq!(Some(f.bytes().len()), message_len(kind));
                        assert_eq!((f.ts(), f.stock_locate()), (s.ts(), s.stock_locate()));
                    }
                    (Err(f), Err(s)) => assert_eq!(f, s),
                    (f, s) => panic!("kind {kind} len {len}: {f:?} vs {s:?}"),
                }
            }
        }
    }
}
