//! The schema's numbers: ids, block lengths and field offsets of `feed/schema/mam-fx-sbe.xml`.
//!
//! The decoder and encoder read these constants and nothing else; `feed/tests/sbe_schema.rs`
//! parses the XML and checks [`MESSAGES`] and [`FIELDS`] against it both ways, so the code and
//! the published schema cannot drift apart silently.

/// `messageSchema/@id`.
pub const SCHEMA_ID: u16 = 7001;
/// `messageSchema/@version`.
pub const SCHEMA_VERSION: u16 = 1;
/// Size of the SBE message header (`messageHeader` composite).
pub const HEADER_LEN: usize = 8;
/// Size of the repeating-group header (`groupSizeEncoding` composite).
pub const GROUP_HEADER_LEN: usize = 4;
/// The null value of every optional int64 (prices and sizes): SBE's default for int64.
pub const NULL_I64: i64 = i64::MIN;
/// The constant price exponent (prices are mantissa × 10^-8 = `mam_core::num::Price` raw).
pub const PRICE_EXPONENT: i8 = -8;
/// Length of the `Symbol` char array.
pub const SYMBOL_LEN: usize = 16;

/// Template id of `Heartbeat`.
pub const HEARTBEAT_ID: u16 = 1;
/// Template id of `InstrumentDefinition`.
pub const INSTRUMENT_ID: u16 = 2;
/// Template id of `Quote`.
pub const QUOTE_ID: u16 = 3;
/// Template id of `Depth`.
pub const DEPTH_ID: u16 = 4;
/// Template id of `Trade`.
pub const TRADE_ID: u16 = 5;

/// Block length of `Heartbeat`.
pub const HEARTBEAT_BLOCK: usize = 8;
/// Block length of `InstrumentDefinition`.
pub const INSTRUMENT_BLOCK: usize = 48;
/// Block length of `Quote`.
pub const QUOTE_BLOCK: usize = 48;
/// Block length of the `Depth` root block.
pub const DEPTH_BLOCK: usize = 16;
/// Block length of one entry of the `Depth/levels` group.
pub const DEPTH_LEVEL_BLOCK: usize = 40;
/// Block length of `Trade`.
pub const TRADE_BLOCK: usize = 40;
/// Most levels a `Depth` message may carry (`groupSizeEncoding/numInGroup/@maxValue`).
pub const MAX_DEPTH_LEVELS: usize = 255;

/// Field offsets, by message (names as in the XML).
pub mod off {
    /// `transactTime` / `sendingTime` (every message).
    pub const TIME: usize = 0;
    /// `instrumentId`.
    pub const INSTRUMENT: usize = 8;
    /// `lpId`.
    pub const LP: usize = 12;
    /// `InstrumentDefinition/displayDecimals`.
    pub const DEF_DECIMALS: usize = 12;
    /// `InstrumentDefinition/symbol`.
    pub const DEF_SYMBOL: usize = 16;
    /// `InstrumentDefinition/minPriceIncrement`.
    pub const DEF_TICK: usize = 32;
    /// `InstrumentDefinition/contractSize`.
    pub const DEF_CONTRACT: usize = 40;
    /// `Quote/flags`.
    pub const Q_FLAGS: usize = 14;
    /// `Quote/bidPx`.
    pub const Q_BID: usize = 16;
    /// `Quote/askPx`.
    pub const Q_ASK: usize = 24;
    /// `Quote/bidSize`.
    pub const Q_BID_SIZE: usize = 32;
    /// `Quote/askSize`.
    pub const Q_ASK_SIZE: usize = 40;
    /// `Depth/levels/level`.
    pub const L_LEVEL: usize = 0;
    /// `Depth/levels/bidPx`.
    pub const L_BID: usize = 8;
    /// `Depth/levels/askPx`.
    pub const L_ASK: usize = 16;
    /// `Depth/levels/bidSize`.
    pub const L_BID_SIZE: usize = 24;
    /// `Depth/levels/askSize`.
    pub const L_ASK_SIZE: usize = 32;
    /// `Trade/aggressorSide`.
    pub const T_SIDE: usize = 14;
    /// `Trade/price`.
    pub const T_PRICE: usize = 16;
    /// `Trade/size`.
    pub const T_SIZE: usize = 24;
    /// `Trade/tradeId`.
    pub const T_ID: usize = 32;
}

/// One message (or group) of the schema: name, template id (0 for a group), block length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageLayout {
    /// Name in the XML (`Depth/levels` for the group).
    pub name: &'static str,
    /// Template id (0 for a group).
    pub id: u16,
    /// Block length.
    pub block_length: usize,
}

/// One field: its message (or group), name, offset and encoded size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldLayout {
    /// Message or group name, as in [`MessageLayout::name`].
    pub message: &'static str,
    /// Field name in the XML.
    pub name: &'static str,
    /// Offset in the block.
    pub offset: usize,
    /// Encoded size in bytes.
    pub size: usize,
}

/// Every message and group the code encodes and decodes.
pub const MESSAGES: &[MessageLayout] = &[
    MessageLayout {
        name: "Heartbeat",
        id: HEARTBEAT_ID,
        block_length: HEARTBEAT_BLOCK,
    },
    MessageLayout {
        name: "InstrumentDefinition",
        id: INSTRUMENT_ID,
        block_length: INSTRUMENT_BLOCK,
    },
    MessageLayout {
        name: "Quote",
        id: QUOTE_ID,
        block_length: QUOTE_BLOCK,
    },
    MessageLayout {
        name: "Depth",
        id: DEPTH_ID,
        block_length: DEPTH_BLOCK,
    },
    MessageLayout {
        name: "Depth/levels",
        id: 0,
        block_length: DEPTH_LEVEL_BLOCK,
    },
    MessageLayout {
        name: "Trade",
        id: TRADE_ID,
        block_length: TRADE_BLOCK,
    },
];

const fn f(message: &'static str, name: &'static str, offset: usize, size: usize) -> FieldLayout {
    FieldLayout {
        message,
        name,
        offset,
        size,
    }
}

/// Every field the code reads or writes, with the offset it uses.
pub const FIELDS: &[FieldLayout] = &[
    f("Heartbeat", "sendingTime", off::TIME, 8),
    f("InstrumentDefinition", "transactTime", off::TIME, 8),
    f("InstrumentDefinition", "instrumentId", off::INSTRUMENT, 4),
    f(
        "InstrumentDefinition",
        "displayDecimals",
        off::DEF_DECIMALS,
        1,
    ),
    f(
        "InstrumentDefinition",
        "symbol",
        off::DEF_SYMBOL,
        SYMBOL_LEN,
    ),
    f(
        "InstrumentDefinition",
        "minPriceIncrement",
        off::DEF_TICK,
        8,
    ),
    f("InstrumentDefinition", "contractSize", off::DEF_CONTRACT, 8),
    f("Quote", "transactTime", off::TIME, 8),
    f("Quote", "instrumentId", off::INSTRUMENT, 4),
    f("Quote", "lpId", off::LP, 2),
    f("Quote", "flags", off::Q_FLAGS, 1),
    f("Quote", "bidPx", off::Q_BID, 8),
    f("Quote", "askPx", off::Q_ASK, 8),
    f("Quote", "bidSize", off::Q_BID_SIZE, 8),
    f("Quote", "askSize", off::Q_ASK_SIZE, 8),
    f("Depth", "transactTime", off::TIME, 8),
    f("Depth", "instrumentId", off::INSTRUMENT, 4),
    f("Depth", "lpId", off::LP, 2),
    f("Depth/levels", "level", off::L_LEVEL, 1),
    f("Depth/levels", "bidPx", off::L_BID, 8),
    f("Depth/levels", "askPx", off::L_ASK, 8),
    f("Depth/levels", "bidSize", off::L_BID_SIZE, 8),
    f("Depth/levels", "askSize", off::L_ASK_SIZE, 8),
    f("Trade", "transactTime", off::TIME, 8),
    f("Trade", "instrumentId", off::INSTRUMENT, 4),
    f("Trade", "lpId", off::LP, 2),
    f("Trade", "aggressorSide", off::T_SIDE, 1),
    f("Trade", "price", off::T_PRICE, 8),
    f("Trade", "size", off::T_SIZE, 8),
    f("Trade", "tradeId", off::T_ID, 8),
];

/// Quote flag bit: the price is indicative, not dealable (`QuoteFlags/Indicative`).
pub const FLAG_INDICATIVE: u8 = 1 << 0;
/// Quote flag bit: the LP marked the quote stale (`QuoteFlags/Stale`).
pub const FLAG_STALE: u8 = 1 << 1;
