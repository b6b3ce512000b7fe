//! The manager's messages of the binary order entry (schema version 2): the same contract as
//! the FIX manager session (`docs/daemon.md`), in fixed-width little-endian blocks for
//! co-located managers. Field ids in the schema are the FIX tags of the same fields.
//!
//! | template | id | way | FIX equivalent |
//! |---|---|---|---|
//! | [`MasterOrder`] | 20 | manager → mam | NewOrderSingle (35=D) |
//! | [`MasterCancel`] | 21 | manager → mam | OrderCancelRequest (35=F) |
//! | [`MasterReplace`] | 22 | manager → mam | OrderCancelReplaceRequest (35=G) |
//! | [`ManagerClock`] | 23 | manager → mam | TradingSessionStatus (35=h) |
//! | [`MasterReport`] | 24 | mam → manager | ExecutionReport (35=8), OrderCancelReject (35=9) |
//! | [`MasterReject`] | 25 | mam → manager | Reject (35=3), ER 150=8 / 35=9 from the edge, 35=j |
//!
//! Decoding checks lengths only: every byte pattern of these blocks is a message, and the
//! values (enums, ids, prices) are checked by the manager edge, which answers a bad one with a
//! [`MasterReject`] naming the field. So `decode` → `encode` gives the same bytes back.
//!
//! Optional prices and quantities use SBE's null value for `int64`, [`NULL_I64`].

use mam_core::num::{Money, Price, Qty};

/// SBE's null value of an optional `int64` (Price8, Qty6, Money6): the field is absent.
pub const NULL_I64: i64 = i64::MIN;

fn rd_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}
fn rd_i64(b: &[u8], at: usize) -> i64 {
    rd_u64(b, at) as i64
}
fn opt(b: &[u8], at: usize) -> Option<i64> {
    Some(rd_i64(b, at)).filter(|&v| v != NULL_I64)
}
fn put(b: &mut [u8], at: usize, v: &[u8]) {
    b[at..at + v.len()].copy_from_slice(v);
}
fn put_opt(b: &mut [u8], at: usize, v: Option<i64>) {
    put(b, at, &v.unwrap_or(NULL_I64).to_le_bytes());
}
fn sym(b: &[u8], at: usize) -> [u8; 16] {
    let mut s = [0u8; 16];
    s.copy_from_slice(&b[at..at + 16]);
    s
}

/// A symbol name as the 16-byte, NUL-padded field (longer names are cut: the edge then finds
/// no such symbol).
pub fn symbol_field(name: &str) -> [u8; 16] {
    let mut s = [0u8; 16];
    let n = name.len().min(16);
    s[..n].copy_from_slice(&name.as_bytes()[..n]);
    s
}

/// The name in a 16-byte symbol field (up to the first NUL).
pub fn symbol_name(s: &[u8; 16]) -> &[u8] {
    let end = s.iter().position(|&c| c == 0).unwrap_or(16);
    &s[..end]
}

/// [`MasterOrder::position_effect`] of a close.
pub const CLOSE: u8 = b'C';
/// [`MasterOrder::position_effect`] of an open (0 means open too).
pub const OPEN: u8 = b'O';
/// `routing` / `min_lot_policy` / `model` / `close_all` / `hold`: not given (the default).
pub const DEFAULT: u8 = 0;
/// `routing`: one block order, fills allocated back.
pub const ROUTING_BLOCK: u8 = 1;
/// `routing`: one child per account.
pub const ROUTING_PER_ACCOUNT: u8 = 2;
/// `min_lot_policy`: sizes under the min lot become zero.
pub const POLICY_ZERO: u8 = 1;
/// `min_lot_policy`: sizes under the min lot become the min lot.
pub const POLICY_ROUND_UP: u8 = 2;
/// [`ManagerClock::status`]: open, `transact_time_ns` is the clock.
pub const CLOCK_OPEN: u8 = 2;
/// [`ManagerClock::status`]: the manager has ended.
pub const CLOCK_CLOSED: u8 = 3;

/// A master order: an open (`position_effect` `O` or 0) or a close (`C`). Block 112 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MasterOrder {
    /// ClOrdID (11): 1..=2^56−1; an open's is its ticket.
    pub cl_ord_id: u64,
    /// OrigClOrdID (41): a close's ticket (0: none).
    pub orig_cl_ord_id: u64,
    /// TransactTime (60), ns since the Unix epoch (UTC); 0 is refused.
    pub transact_time_ns: u64,
    /// OrderQty (38), base units.
    pub qty: Qty,
    /// Price (44): a limit's price.
    pub price: Option<Price>,
    /// StopPx (99): a stop's price.
    pub stop_px: Option<Price>,
    /// MamStopLoss (5107).
    pub stop_loss: Option<Price>,
    /// MamTakeProfit (5108).
    pub take_profit: Option<Price>,
    /// MamStopDistance (5105), the risk model's.
    pub stop_distance: Option<Price>,
    /// MamReference (5106), the ratio models'.
    pub reference: Option<Money>,
    /// Symbol (55), NUL-padded ([`symbol_field`]).
    pub symbol: [u8; 16],
    /// Side (54): 1 buy, 2 sell.
    pub side: u8,
    /// OrdType (40): 1 market, 2 limit, 3 stop.
    pub ord_type: u8,
    /// PositionEffect (77): [`OPEN`] (or 0) or [`CLOSE`].
    pub position_effect: u8,
    /// MamModel (5101): 0 default, else a `model_code` (1 equity … 9 equity-ratio).
    pub model: u8,
    /// MamRouting (5102): 0 default, [`ROUTING_BLOCK`], [`ROUTING_PER_ACCOUNT`].
    pub routing: u8,
    /// MamMinLotPolicy (5104): 0 default, [`POLICY_ZERO`], [`POLICY_ROUND_UP`].
    pub min_lot_policy: u8,
    /// MamCloseAll (5103): 0 not given, `Y`, `N`.
    pub close_all: u8,
    /// MamHold (5109): 0 not given, `Y`, `N`.
    pub hold: u8,
}

impl MasterOrder {
    /// Block length.
    pub const BLOCK: usize = 112;

    pub(crate) fn write(&self, b: &mut [u8]) {
        put(b, 8, &self.cl_ord_id.to_le_bytes());
        put(b, 16, &self.orig_cl_ord_id.to_le_bytes());
        put(b, 24, &self.transact_time_ns.to_le_bytes());
        put(b, 32, &self.qty.raw().to_le_bytes());
        put_opt(b, 40, self.price.map(Price::raw));
        put_opt(b, 48, self.stop_px.map(Price::raw));
        put_opt(b, 56, self.stop_loss.map(Price::raw));
        put_opt(b, 64, self.take_profit.map(Price::raw));
        put_opt(b, 72, self.stop_distance.map(Price::raw));
        put_opt(b, 80, self.reference.map(Money::raw));
        put(b, 88, &self.symbol);
        b[104..112].copy_from_slice(&[
            self.side,
            self.ord_type,
            self.position_effect,
            self.model,
            self.routing,
            self.min_lot_policy,
            self.close_all,
            self.hold,
        ]);
    }

    pub(crate) fn read(b: &[u8]) -> Self {
        MasterOrder {
            cl_ord_id: rd_u64(b, 8),
            orig_cl_ord_id: rd_u64(b, 16),
            transact_time_ns: rd_u64(b, 24),
            qty: Qty(rd_i64(b, 32)),
            price: opt(b, 40).map(Price),
            stop_px: opt(b, 48).map(Price),
            stop_loss: opt(b, 56).map(Price),
            take_profit: opt(b, 64).map(Price),
            stop_distance: opt(b, 72).map(Price),
            reference: opt(b, 80).map(Money),
            symbol: sym(b, 88),
            side: b[104],
            ord_type: b[105],
            position_effect: b[106],
            model: b[107],
            routing: b[108],
            min_lot_policy: b[109],
            close_all: b[110],
            hold: b[111],
        }
    }
}

/// Cancel a master order. Block 32 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MasterCancel {
    /// ClOrdID (11): the request's own id.
    pub cl_ord_id: u64,
    /// OrigClOrdID (41): the order (an open's ticket, or a close's ClOrdID).
    pub orig_cl_ord_id: u64,
    /// TransactTime (60), UTC ns.
    pub transact_time_ns: u64,
}

impl MasterCancel {
    /// Block length.
    pub const BLOCK: usize = 32;

    pub(crate) fn write(&self, b: &mut [u8]) {
        put(b, 8, &self.cl_ord_id.to_le_bytes());
        put(b, 16, &self.orig_cl_ord_id.to_le_bytes());
        put(b, 24, &self.transact_time_ns.to_le_bytes());
    }

    pub(crate) fn read(b: &[u8]) -> Self {
        MasterCancel {
            cl_ord_id: rd_u64(b, 8),
            orig_cl_ord_id: rd_u64(b, 16),
            transact_time_ns: rd_u64(b, 24),
        }
    }
}

/// Replace parts of a master order: a pending master's size and price, the ticket's SL/TP
/// (zero removes one). Absent fields stay as they are. Block 96 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MasterReplace {
    /// ClOrdID (11): the request's own id.
    pub cl_ord_id: u64,
    /// OrigClOrdID (41): the order.
    pub orig_cl_ord_id: u64,
    /// TransactTime (60), UTC ns.
    pub transact_time_ns: u64,
    /// OrderQty (38): new size.
    pub qty: Option<Qty>,
    /// Price (44): new limit price.
    pub price: Option<Price>,
    /// StopPx (99): new stop price.
    pub stop_px: Option<Price>,
    /// MamStopLoss (5107); zero removes it.
    pub stop_loss: Option<Price>,
    /// MamTakeProfit (5108); zero removes it.
    pub take_profit: Option<Price>,
    /// Symbol (55).
    pub symbol: [u8; 16],
    /// MamRouting (5102) of the SL/TP close: 0 default, 1 block, 2 per account.
    pub routing: u8,
}

impl MasterReplace {
    /// Block length.
    pub const BLOCK: usize = 96;

    pub(crate) fn write(&self, b: &mut [u8]) {
        put(b, 8, &self.cl_ord_id.to_le_bytes());
        put(b, 16, &self.orig_cl_ord_id.to_le_bytes());
        put(b, 24, &self.transact_time_ns.to_le_bytes());
        put_opt(b, 32, self.qty.map(Qty::raw));
        put_opt(b, 40, self.price.map(Price::raw));
        put_opt(b, 48, self.stop_px.map(Price::raw));
        put_opt(b, 56, self.stop_loss.map(Price::raw));
        put_opt(b, 64, self.take_profit.map(Price::raw));
        put(b, 72, &self.symbol);
        b[88] = self.routing;
    }

    pub(crate) fn read(b: &[u8]) -> Self {
        MasterReplace {
            cl_ord_id: rd_u64(b, 8),
            orig_cl_ord_id: rd_u64(b, 16),
            transact_time_ns: rd_u64(b, 24),
            qty: opt(b, 32).map(Qty),
            price: opt(b, 40).map(Price),
            stop_px: opt(b, 48).map(Price),
            stop_loss: opt(b, 56).map(Price),
            take_profit: opt(b, 64).map(Price),
            symbol: sym(b, 72),
            routing: b[88],
        }
    }
}

/// The manager's clock (its watermark): no later order will carry an earlier TransactTime;
/// or, closed, the manager has ended until its next open clock. Block 24 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ManagerClock {
    /// TransactTime (60), UTC ns (open only).
    pub transact_time_ns: u64,
    /// TradSesStatus (340): [`CLOCK_OPEN`] or [`CLOCK_CLOSED`].
    pub status: u8,
}

impl ManagerClock {
    /// Block length.
    pub const BLOCK: usize = 24;

    pub(crate) fn write(&self, b: &mut [u8]) {
        put(b, 8, &self.transact_time_ns.to_le_bytes());
        b[16] = self.status;
    }

    pub(crate) fn read(b: &[u8]) -> Self {
        ManagerClock {
            transact_time_ns: rd_u64(b, 8),
            status: b[16],
        }
    }
}

/// [`MasterReport::flags`]: the order closes a ticket.
pub const REPORT_CLOSING: u8 = 1;
/// [`MasterReport::flags`]: a cancel reject answers a replace, not a cancel.
pub const REPORT_TO_REPLACE: u8 = 2;
/// [`MasterReport::flags`]: the order is the engine's stop-loss close of ticket `cl_ord_id`.
pub const REPORT_STOP_LOSS: u8 = 4;
/// [`MasterReport::flags`]: the order is the engine's take-profit close of ticket `cl_ord_id`.
pub const REPORT_TAKE_PROFIT: u8 = 8;

/// One change of a master order, from the engine's journaled report: an execution report, or
/// (`exec_type` `9`) a cancel or replace the engine refused. Block 144 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MasterReport {
    /// ClOrdID (11): the order (for Canceled, Replaced, PendingCancel and `9`: the request).
    pub cl_ord_id: u64,
    /// OrigClOrdID (41): the order a request named (0: none).
    pub orig_cl_ord_id: u64,
    /// OrderID (37): the ticket (0: none).
    pub order_id: u64,
    /// ExecID (17): the report's journal sequence, unique across restarts.
    pub exec_id: u64,
    /// OrderQty (38).
    pub order_qty: Qty,
    /// CumQty (14).
    pub cum_qty: Qty,
    /// LeavesQty (151).
    pub leaves_qty: Qty,
    /// LastQty (32), trades only.
    pub last_qty: Qty,
    /// LastPx (31), trades only.
    pub last_px: Price,
    /// AvgPx (6), exact, half-even to 8 decimals.
    pub avg_px: Price,
    /// Price (44) or StopPx (99) of a limit or stop (0: market).
    pub price: Price,
    /// MamStopLoss (5107) in force (0: none).
    pub stop_loss: Price,
    /// MamTakeProfit (5108) in force (0: none).
    pub take_profit: Price,
    /// TransactTime (60): event time of the input that caused it.
    pub transact_time_ns: u64,
    /// Symbol (55).
    pub symbol: [u8; 16],
    /// The engine's refusal code (`mam_core::engine::decision::RefusedCode`), 0 if none.
    pub reason: u16,
    /// ExecType (150) as the engine journals it: `0` New, `3` DoneForDay, `4` Canceled,
    /// `5` Replaced, `6` PendingCancel, `8` Rejected, `D` Restated, `F` Trade, `L` Triggered,
    /// `9` a refused cancel or replace.
    pub exec_type: u8,
    /// OrdStatus (39).
    pub ord_status: u8,
    /// Side (54).
    pub side: u8,
    /// OrdType (40): 1 market, 2 limit, 3 stop.
    pub ord_type: u8,
    /// `REPORT_*` bits.
    pub flags: u8,
    /// CxlRejReason (102) of a `9`: 0 too late, 1 unknown order, 3 already pending, 99 other.
    pub cxl_rej_reason: u8,
}

impl MasterReport {
    /// Block length.
    pub const BLOCK: usize = 144;

    pub(crate) fn write(&self, b: &mut [u8]) {
        put(b, 8, &self.cl_ord_id.to_le_bytes());
        put(b, 16, &self.orig_cl_ord_id.to_le_bytes());
        put(b, 24, &self.order_id.to_le_bytes());
        put(b, 32, &self.exec_id.to_le_bytes());
        for (at, v) in [
            (40, self.order_qty.raw()),
            (48, self.cum_qty.raw()),
            (56, self.leaves_qty.raw()),
            (64, self.last_qty.raw()),
            (72, self.last_px.raw()),
            (80, self.avg_px.raw()),
            (88, self.price.raw()),
            (96, self.stop_loss.raw()),
            (104, self.take_profit.raw()),
        ] {
            put(b, at, &v.to_le_bytes());
        }
        put(b, 112, &self.transact_time_ns.to_le_bytes());
        put(b, 120, &self.symbol);
        put(b, 136, &self.reason.to_le_bytes());
        b[138..144].copy_from_slice(&[
            self.exec_type,
            self.ord_status,
            self.side,
            self.ord_type,
            self.flags,
            self.cxl_rej_reason,
        ]);
    }

    pub(crate) fn read(b: &[u8]) -> Self {
        MasterReport {
            cl_ord_id: rd_u64(b, 8),
            orig_cl_ord_id: rd_u64(b, 16),
            order_id: rd_u64(b, 24),
            exec_id: rd_u64(b, 32),
            order_qty: Qty(rd_i64(b, 40)),
            cum_qty: Qty(rd_i64(b, 48)),
            leaves_qty: Qty(rd_i64(b, 56)),
            last_qty: Qty(rd_i64(b, 64)),
            last_px: Price(rd_i64(b, 72)),
            avg_px: Price(rd_i64(b, 80)),
            price: Price(rd_i64(b, 88)),
            stop_loss: Price(rd_i64(b, 96)),
            take_profit: Price(rd_i64(b, 104)),
            transact_time_ns: rd_u64(b, 112),
            symbol: sym(b, 120),
            reason: u16::from_le_bytes([b[136], b[137]]),
            exec_type: b[138],
            ord_status: b[139],
            side: b[140],
            ord_type: b[141],
            flags: b[142],
            cxl_rej_reason: b[143],
        }
    }
}

/// [`MasterReject::kind`]: the message is malformed (a required field missing, a value out of
/// range or of the wrong format); `reason` is FIX's SessionRejectReason (1, 5, 6). FIX: 35=3.
pub const REJECT_MALFORMED: u8 = 1;
/// [`MasterReject::kind`]: an order refused at the edge; `reason` is OrdRejReason (1 unknown
/// symbol, 13 incorrect quantity, 99 other). FIX: ExecutionReport 150=8 39=8.
pub const REJECT_ORDER: u8 = 2;
/// [`MasterReject::kind`]: a cancel or replace refused at the edge; `reason` is CxlRejReason
/// 99. FIX: OrderCancelReject (35=9).
pub const REJECT_CANCEL: u8 = 3;
/// [`MasterReject::kind`]: a template the manager may not send (or one that did not decode:
/// `ref_seq_no` 0); `reason` 3. FIX: BusinessMessageReject (35=j) 380=3.
pub const REJECT_UNSUPPORTED: u8 = 4;
/// Bytes of [`MasterReject::text`].
pub const REJECT_TEXT: usize = 96;

/// The edge's answer to a message it refused, naming the field and saying why. Block 136.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MasterReject {
    /// The refused message's seqNo (0: it did not decode).
    pub ref_seq_no: u64,
    /// Its ClOrdID, if it had one.
    pub cl_ord_id: u64,
    /// Its OrigClOrdID, if it had one.
    pub orig_cl_ord_id: u64,
    /// The field refused, by id (= FIX tag; 0: the message as a whole).
    pub ref_tag_id: u32,
    /// Its template id.
    pub ref_template_id: u16,
    /// `REJECT_*`.
    pub kind: u8,
    /// The code of `kind`'s FIX equivalent (see the `REJECT_*` constants).
    pub reason: u8,
    /// What was wrong, ASCII, NUL-padded (cut at 96 bytes).
    pub text: [u8; REJECT_TEXT],
}

impl Default for MasterReject {
    fn default() -> Self {
        MasterReject {
            ref_seq_no: 0,
            cl_ord_id: 0,
            orig_cl_ord_id: 0,
            ref_tag_id: 0,
            ref_template_id: 0,
            kind: 0,
            reason: 0,
            text: [0; REJECT_TEXT],
        }
    }
}

impl MasterReject {
    /// Block length.
    pub const BLOCK: usize = 136;

    /// `text` as the NUL-padded field: printable ASCII kept, anything else `?`, cut at 96.
    pub fn text_field(text: &str) -> [u8; REJECT_TEXT] {
        let mut t = [0u8; REJECT_TEXT];
        for (d, c) in t.iter_mut().zip(text.bytes()) {
            *d = if c.is_ascii_graphic() || c == b' ' {
                c
            } else {
                b'?'
            };
        }
        t
    }

    /// The text up to its padding.
    pub fn text_str(&self) -> String {
        let end = self
            .text
            .iter()
            .position(|&c| c == 0)
            .unwrap_or(REJECT_TEXT);
        String::from_utf8_lossy(&self.text[..end]).into_owned()
    }

    pub(crate) fn write(&self, b: &mut [u8]) {
        put(b, 8, &self.ref_seq_no.to_le_bytes());
        put(b, 16, &self.cl_ord_id.to_le_bytes());
        put(b, 24, &self.orig_cl_ord_id.to_le_bytes());
        put(b, 32, &self.ref_tag_id.to_le_bytes());
        put(b, 36, &self.ref_template_id.to_le_bytes());
        b[38] = self.kind;
        b[39] = self.reason;
        put(b, 40, &self.text);
    }

    pub(crate) fn read(b: &[u8]) -> Self {
        let mut text = [0u8; REJECT_TEXT];
        text.copy_from_slice(&b[40..40 + REJECT_TEXT]);
        MasterReject {
            ref_seq_no: rd_u64(b, 8),
            cl_ord_id: rd_u64(b, 16),
            orig_cl_ord_id: rd_u64(b, 24),
            ref_tag_id: u32::from_le_bytes([b[32], b[33], b[34], b[35]]),
            ref_template_id: u16::from_le_bytes([b[36], b[37]]),
            kind: b[38],
            reason: b[39],
            text,
        }
    }
}
