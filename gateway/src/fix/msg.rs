//! Typed FIX 4.4 messages: body encoders and parsers over [`Message`] views.
//!
//! Every parser checks the fields FIX 4.4 marks required and the values this crate relies on,
//! and reports a [`FieldError`] carrying the SessionRejectReason to answer with. Strings stay
//! borrowed from the received bytes.

use mam_core::event::{OrdType, Side};
use mam_core::num::{Price, Qty};

use super::decode::{FieldError, Message, RejectReason};
use super::encode::MsgWriter;
use super::tag;

/// MsgType values.
pub mod msg_type {
    /// Heartbeat.
    pub const HEARTBEAT: &[u8] = b"0";
    /// TestRequest.
    pub const TEST_REQUEST: &[u8] = b"1";
    /// ResendRequest.
    pub const RESEND_REQUEST: &[u8] = b"2";
    /// Reject.
    pub const REJECT: &[u8] = b"3";
    /// SequenceReset.
    pub const SEQUENCE_RESET: &[u8] = b"4";
    /// Logout.
    pub const LOGOUT: &[u8] = b"5";
    /// Logon.
    pub const LOGON: &[u8] = b"A";
    /// NewOrderSingle.
    pub const NEW_ORDER_SINGLE: &[u8] = b"D";
    /// OrderCancelRequest.
    pub const ORDER_CANCEL_REQUEST: &[u8] = b"F";
    /// OrderCancelReplaceRequest.
    pub const ORDER_CANCEL_REPLACE_REQUEST: &[u8] = b"G";
    /// OrderStatusRequest.
    pub const ORDER_STATUS_REQUEST: &[u8] = b"H";
    /// ExecutionReport.
    pub const EXECUTION_REPORT: &[u8] = b"8";
    /// OrderCancelReject.
    pub const ORDER_CANCEL_REJECT: &[u8] = b"9";
    /// BusinessMessageReject.
    pub const BUSINESS_MESSAGE_REJECT: &[u8] = b"j";
    /// AllocationInstruction.
    pub const ALLOCATION_INSTRUCTION: &[u8] = b"J";
    /// AllocationInstructionAck.
    pub const ALLOCATION_INSTRUCTION_ACK: &[u8] = b"P";
    /// RequestForPositions.
    pub const REQUEST_FOR_POSITIONS: &[u8] = b"AN";
    /// RequestForPositionsAck.
    pub const REQUEST_FOR_POSITIONS_ACK: &[u8] = b"AO";
    /// PositionReport.
    pub const POSITION_REPORT: &[u8] = b"AP";

    /// True for the session-level (admin) message types.
    pub fn is_admin(t: &[u8]) -> bool {
        matches!(t, b"0" | b"1" | b"2" | b"3" | b"4" | b"5" | b"A")
    }
}

pub(crate) fn side(m: &Message<'_>) -> Result<Side, FieldError> {
    match m.req_char(tag::SIDE.num)? {
        b'1' => Ok(Side::Buy),
        b'2' => Ok(Side::Sell),
        _ => Err(FieldError::value(tag::SIDE.num)),
    }
}

fn ord_type(m: &Message<'_>) -> Result<OrdType, FieldError> {
    match m.req_char(tag::ORD_TYPE.num)? {
        b'1' => Ok(OrdType::Market),
        b'2' => Ok(OrdType::Limit),
        b'3' => Ok(OrdType::Stop),
        _ => Err(FieldError::value(tag::ORD_TYPE.num)),
    }
}

pub(crate) fn side_char(s: Side) -> u8 {
    b'0' + s as u8
}

fn ord_type_char(t: OrdType) -> u8 {
    b'0' + t as u8
}

pub(crate) fn qty(m: &Message<'_>, t: u32) -> Result<Qty, FieldError> {
    m.req_decimal(t, Qty::DECIMALS).map(Qty)
}

fn opt_qty(m: &Message<'_>, t: u32) -> Result<Option<Qty>, FieldError> {
    Ok(m.opt_decimal(t, Qty::DECIMALS)?.map(Qty))
}

fn opt_price(m: &Message<'_>, t: u32) -> Result<Option<Price>, FieldError> {
    Ok(m.opt_decimal(t, Price::DECIMALS)?.map(Price))
}

fn positive(q: Qty, t: u32) -> Result<Qty, FieldError> {
    if q.raw() > 0 {
        Ok(q)
    } else {
        Err(FieldError::value(t))
    }
}

/// Logon (A).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Logon<'a> {
    /// HeartBtInt, seconds.
    pub heart_bt_int: u32,
    /// ResetSeqNumFlag.
    pub reset_seq_num: bool,
    /// Username.
    pub username: Option<&'a [u8]>,
    /// Password.
    pub password: Option<&'a [u8]>,
}

impl<'a> Logon<'a> {
    /// Writes the body.
    pub fn encode(&self, w: &mut MsgWriter<'_>) {
        w.char(tag::ENCRYPT_METHOD, b'0')
            .u64(tag::HEART_BT_INT, u64::from(self.heart_bt_int));
        if self.reset_seq_num {
            w.flag(tag::RESET_SEQ_NUM_FLAG, true);
        }
        if let Some(u) = self.username {
            w.text(tag::USERNAME, u);
        }
        if let Some(p) = self.password {
            w.text(tag::PASSWORD, p);
        }
    }
    /// Reads the body.
    pub fn parse(m: &Message<'a>) -> Result<Self, FieldError> {
        if m.req_u64(tag::ENCRYPT_METHOD.num)? != 0 {
            return Err(FieldError::value(tag::ENCRYPT_METHOD.num));
        }
        let hb = m.req_u64(tag::HEART_BT_INT.num)?;
        if hb > 3600 {
            return Err(FieldError::value(tag::HEART_BT_INT.num));
        }
        Ok(Logon {
            heart_bt_int: hb as u32,
            reset_seq_num: m.flag(tag::RESET_SEQ_NUM_FLAG.num)?,
            username: m.get(tag::USERNAME.num),
            password: m.get(tag::PASSWORD.num),
        })
    }
}

/// TestRequest (1) and, with `Some`, the Heartbeat (0) that answers one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestReqId<'a>(pub Option<&'a [u8]>);

impl<'a> TestReqId<'a> {
    /// Writes the body.
    pub fn encode(&self, w: &mut MsgWriter<'_>) {
        if let Some(id) = self.0 {
            w.text(tag::TEST_REQ_ID, id);
        }
    }
    /// Reads the body (`required` for TestRequest).
    pub fn parse(m: &Message<'a>, required: bool) -> Result<Self, FieldError> {
        let v = m.get(tag::TEST_REQ_ID.num);
        if required && v.is_none() {
            return Err(FieldError::missing(tag::TEST_REQ_ID.num));
        }
        Ok(TestReqId(v))
    }
}

/// ResendRequest (2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResendRequest {
    /// BeginSeqNo.
    pub begin: u64,
    /// EndSeqNo (0 = everything after `begin`).
    pub end: u64,
}

impl ResendRequest {
    /// Writes the body.
    pub fn encode(&self, w: &mut MsgWriter<'_>) {
        w.u64(tag::BEGIN_SEQ_NO, self.begin)
            .u64(tag::END_SEQ_NO, self.end);
    }
    /// Reads the body.
    pub fn parse(m: &Message<'_>) -> Result<Self, FieldError> {
        let begin = m.req_u64(tag::BEGIN_SEQ_NO.num)?;
        let end = m.req_u64(tag::END_SEQ_NO.num)?;
        if begin == 0 {
            return Err(FieldError::value(tag::BEGIN_SEQ_NO.num));
        }
        if end != 0 && end < begin {
            return Err(FieldError::value(tag::END_SEQ_NO.num));
        }
        Ok(ResendRequest { begin, end })
    }
}

/// Reject (3): a session-level reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reject<'a> {
    /// RefSeqNum: the rejected message's MsgSeqNum.
    pub ref_seq_num: u64,
    /// RefTagID.
    pub ref_tag: Option<u32>,
    /// RefMsgType.
    pub ref_msg_type: Option<&'a [u8]>,
    /// SessionRejectReason (kept as the number: peers may send codes this crate does not name).
    pub reason: Option<u32>,
    /// Text.
    pub text: Option<&'a [u8]>,
}

impl<'a> Reject<'a> {
    /// Writes the body.
    pub fn encode(&self, w: &mut MsgWriter<'_>) {
        w.u64(tag::REF_SEQ_NUM, self.ref_seq_num);
        if let Some(t) = self.ref_tag.filter(|&t| t != 0) {
            w.u64(tag::REF_TAG_ID, u64::from(t));
        }
        if let Some(t) = self.ref_msg_type.filter(|t| !t.is_empty()) {
            w.text(tag::REF_MSG_TYPE, t);
        }
        if let Some(r) = self.reason {
            w.u64(tag::SESSION_REJECT_REASON, u64::from(r));
        }
        if let Some(t) = self.text {
            w.text(tag::TEXT, t);
        }
    }
    /// Reads the body.
    pub fn parse(m: &Message<'a>) -> Result<Self, FieldError> {
        Ok(Reject {
            ref_seq_num: m.req_u64(tag::REF_SEQ_NUM.num)?,
            ref_tag: m.opt_u64(tag::REF_TAG_ID.num)?.map(|v| v as u32),
            ref_msg_type: m.get(tag::REF_MSG_TYPE.num),
            reason: m.opt_u64(tag::SESSION_REJECT_REASON.num)?.map(|v| v as u32),
            text: m.get(tag::TEXT.num),
        })
    }
}

/// SequenceReset (4): gap fill (`gap_fill = true`) or reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SequenceReset {
    /// GapFillFlag.
    pub gap_fill: bool,
    /// NewSeqNo.
    pub new_seq_no: u64,
}

impl SequenceReset {
    /// Writes the body.
    pub fn encode(&self, w: &mut MsgWriter<'_>) {
        if self.gap_fill {
            w.flag(tag::GAP_FILL_FLAG, true);
        }
        w.u64(tag::NEW_SEQ_NO, self.new_seq_no);
    }
    /// Reads the body.
    pub fn parse(m: &Message<'_>) -> Result<Self, FieldError> {
        let new_seq_no = m.req_u64(tag::NEW_SEQ_NO.num)?;
        if new_seq_no == 0 {
            return Err(FieldError::value(tag::NEW_SEQ_NO.num));
        }
        Ok(SequenceReset {
            gap_fill: m.flag(tag::GAP_FILL_FLAG.num)?,
            new_seq_no,
        })
    }
}

/// Logout (5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Logout<'a> {
    /// Text.
    pub text: Option<&'a [u8]>,
}

impl<'a> Logout<'a> {
    /// Writes the body.
    pub fn encode(&self, w: &mut MsgWriter<'_>) {
        if let Some(t) = self.text {
            w.text(tag::TEXT, t);
        }
    }
    /// Reads the body.
    pub fn parse(m: &Message<'a>) -> Result<Self, FieldError> {
        Ok(Logout {
            text: m.get(tag::TEXT.num),
        })
    }
}

/// NewOrderSingle (D).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewOrderSingle<'a> {
    /// ClOrdID.
    pub cl_ord_id: &'a [u8],
    /// Account (the sub-account id).
    pub account: Option<&'a [u8]>,
    /// Symbol.
    pub symbol: &'a [u8],
    /// Side.
    pub side: Side,
    /// OrderQty.
    pub qty: Qty,
    /// OrdType.
    pub ord_type: OrdType,
    /// Price (required for limit orders).
    pub price: Option<Price>,
    /// TimeInForce.
    pub time_in_force: Option<u8>,
    /// TransactTime, ns since the epoch (encode) / as received (parse keeps the bytes' value).
    pub transact_time_ns: u64,
}

impl<'a> NewOrderSingle<'a> {
    /// Writes the body.
    #[inline]
    pub fn encode(&self, w: &mut MsgWriter<'_>) {
        w.field(tag::CL_ORD_ID, self.cl_ord_id);
        if let Some(a) = self.account {
            w.field(tag::ACCOUNT, a);
        }
        w.field(tag::SYMBOL, self.symbol)
            .char(tag::SIDE, side_char(self.side))
            .timestamp(tag::TRANSACT_TIME, self.transact_time_ns)
            .qty(tag::ORDER_QTY, self.qty)
            .char(tag::ORD_TYPE, ord_type_char(self.ord_type));
        if let Some(p) = self.price {
            w.price(tag::PRICE, p);
        }
        if let Some(t) = self.time_in_force {
            w.char(tag::TIME_IN_FORCE, t);
        }
    }
    /// Reads the body.
    pub fn parse(m: &Message<'a>) -> Result<Self, FieldError> {
        let ord_type = ord_type(m)?;
        let price = opt_price(m, tag::PRICE.num)?;
        if ord_type == OrdType::Limit && price.is_none() {
            return Err(FieldError::missing(tag::PRICE.num));
        }
        let tt = m.req(tag::TRANSACT_TIME.num)?;
        Ok(NewOrderSingle {
            cl_ord_id: m.req(tag::CL_ORD_ID.num)?,
            account: m.get(tag::ACCOUNT.num),
            symbol: m.req(tag::SYMBOL.num)?,
            side: side(m)?,
            qty: positive(qty(m, tag::ORDER_QTY.num)?, tag::ORDER_QTY.num)?,
            ord_type,
            price,
            time_in_force: m
                .get(tag::TIME_IN_FORCE.num)
                .and_then(|v| v.first().copied()),
            transact_time_ns: super::time::parse_utc(tt).ok_or(FieldError {
                tag: tag::TRANSACT_TIME.num,
                reason: RejectReason::IncorrectDataFormat,
            })?,
        })
    }
}

/// OrderCancelRequest (F).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderCancelRequest<'a> {
    /// OrigClOrdID.
    pub orig_cl_ord_id: &'a [u8],
    /// ClOrdID of the cancel.
    pub cl_ord_id: &'a [u8],
    /// Account.
    pub account: Option<&'a [u8]>,
    /// Symbol.
    pub symbol: &'a [u8],
    /// Side.
    pub side: Side,
    /// OrderQty.
    pub qty: Option<Qty>,
    /// TransactTime (ns).
    pub transact_time_ns: u64,
}

impl<'a> OrderCancelRequest<'a> {
    /// Writes the body.
    pub fn encode(&self, w: &mut MsgWriter<'_>) {
        w.field(tag::ORIG_CL_ORD_ID, self.orig_cl_ord_id)
            .field(tag::CL_ORD_ID, self.cl_ord_id);
        if let Some(a) = self.account {
            w.field(tag::ACCOUNT, a);
        }
        w.field(tag::SYMBOL, self.symbol)
            .char(tag::SIDE, side_char(self.side))
            .timestamp(tag::TRANSACT_TIME, self.transact_time_ns);
        if let Some(q) = self.qty {
            w.qty(tag::ORDER_QTY, q);
        }
    }
    /// Reads the body.
    pub fn parse(m: &Message<'a>) -> Result<Self, FieldError> {
        Ok(OrderCancelRequest {
            orig_cl_ord_id: m.req(tag::ORIG_CL_ORD_ID.num)?,
            cl_ord_id: m.req(tag::CL_ORD_ID.num)?,
            account: m.get(tag::ACCOUNT.num),
            symbol: m.req(tag::SYMBOL.num)?,
            side: side(m)?,
            qty: opt_qty(m, tag::ORDER_QTY.num)?,
            transact_time_ns: super::time::parse_utc(m.req(tag::TRANSACT_TIME.num)?).ok_or(
                FieldError {
                    tag: tag::TRANSACT_TIME.num,
                    reason: RejectReason::IncorrectDataFormat,
                },
            )?,
        })
    }
}

/// OrderCancelReplaceRequest (G).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderCancelReplaceRequest<'a> {
    /// OrigClOrdID.
    pub orig_cl_ord_id: &'a [u8],
    /// The order's fields after the replace (its ClOrdID is the replace's own).
    pub order: NewOrderSingle<'a>,
}

impl<'a> OrderCancelReplaceRequest<'a> {
    /// Writes the body.
    pub fn encode(&self, w: &mut MsgWriter<'_>) {
        w.field(tag::ORIG_CL_ORD_ID, self.orig_cl_ord_id);
        self.order.encode(w);
    }
    /// Reads the body.
    pub fn parse(m: &Message<'a>) -> Result<Self, FieldError> {
        Ok(OrderCancelReplaceRequest {
            orig_cl_ord_id: m.req(tag::ORIG_CL_ORD_ID.num)?,
            order: NewOrderSingle::parse(m)?,
        })
    }
}

/// OrderStatusRequest (H): the status of one order (answered by an ExecutionReport with
/// ExecType `I`, Order Status). FIX 4.4 requires ClOrdID, Side and the Instrument block (here:
/// Symbol); OrderID, OrdStatusReqID and Account are optional.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderStatusRequest<'a> {
    /// OrderID (the LP's), if known.
    pub order_id: Option<&'a [u8]>,
    /// ClOrdID of the order asked about.
    pub cl_ord_id: &'a [u8],
    /// OrdStatusReqID, echoed on the answer.
    pub req_id: Option<&'a [u8]>,
    /// Account.
    pub account: Option<&'a [u8]>,
    /// Symbol.
    pub symbol: &'a [u8],
    /// Side.
    pub side: Side,
}

impl<'a> OrderStatusRequest<'a> {
    /// Writes the body.
    pub fn encode(&self, w: &mut MsgWriter<'_>) {
        if let Some(o) = self.order_id {
            w.field(tag::ORDER_ID, o);
        }
        w.field(tag::CL_ORD_ID, self.cl_ord_id);
        if let Some(r) = self.req_id {
            w.field(tag::ORD_STATUS_REQ_ID, r);
        }
        if let Some(a) = self.account {
            w.field(tag::ACCOUNT, a);
        }
        w.field(tag::SYMBOL, self.symbol)
            .char(tag::SIDE, side_char(self.side));
    }
    /// Reads the body.
    pub fn parse(m: &Message<'a>) -> Result<Self, FieldError> {
        Ok(OrderStatusRequest {
            order_id: m.get(tag::ORDER_ID.num),
            cl_ord_id: m.req(tag::CL_ORD_ID.num)?,
            req_id: m.get(tag::ORD_STATUS_REQ_ID.num),
            account: m.get(tag::ACCOUNT.num),
            symbol: m.req(tag::SYMBOL.num)?,
            side: side(m)?,
        })
    }
}

/// ExecutionReport (8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecutionReport<'a> {
    /// OrderID (the LP's).
    pub order_id: &'a [u8],
    /// ClOrdID.
    pub cl_ord_id: Option<&'a [u8]>,
    /// OrigClOrdID.
    pub orig_cl_ord_id: Option<&'a [u8]>,
    /// ExecID.
    pub exec_id: &'a [u8],
    /// ExecType (150).
    pub exec_type: u8,
    /// OrdStatus (39).
    pub ord_status: u8,
    /// Account.
    pub account: Option<&'a [u8]>,
    /// Symbol.
    pub symbol: &'a [u8],
    /// Side.
    pub side: Side,
    /// OrderQty.
    pub order_qty: Option<Qty>,
    /// Price.
    pub price: Option<Price>,
    /// LastQty.
    pub last_qty: Option<Qty>,
    /// LastPx.
    pub last_px: Option<Price>,
    /// LeavesQty.
    pub leaves_qty: Qty,
    /// CumQty.
    pub cum_qty: Qty,
    /// AvgPx.
    pub avg_px: Price,
    /// Text.
    pub text: Option<&'a [u8]>,
}

impl<'a> ExecutionReport<'a> {
    /// Writes the body.
    pub fn encode(&self, w: &mut MsgWriter<'_>) {
        w.field(tag::ORDER_ID, self.order_id);
        if let Some(c) = self.cl_ord_id {
            w.field(tag::CL_ORD_ID, c);
        }
        if let Some(c) = self.orig_cl_ord_id {
            w.field(tag::ORIG_CL_ORD_ID, c);
        }
        w.field(tag::EXEC_ID, self.exec_id)
            .char(tag::EXEC_TYPE, self.exec_type)
            .char(tag::ORD_STATUS, self.ord_status);
        if let Some(a) = self.account {
            w.field(tag::ACCOUNT, a);
        }
        w.field(tag::SYMBOL, self.symbol)
            .char(tag::SIDE, side_char(self.side));
        if let Some(q) = self.order_qty {
            w.qty(tag::ORDER_QTY, q);
        }
        if let Some(p) = self.price {
            w.price(tag::PRICE, p);
        }
        if let Some(q) = self.last_qty {
            w.qty(tag::LAST_QTY, q);
        }
        if let Some(p) = self.last_px {
            w.price(tag::LAST_PX, p);
        }
        w.qty(tag::LEAVES_QTY, self.leaves_qty)
            .qty(tag::CUM_QTY, self.cum_qty)
            .price(tag::AVG_PX, self.avg_px);
        if let Some(t) = self.text {
            w.text(tag::TEXT, t);
        }
    }
    /// Reads the body.
    #[inline]
    pub fn parse(m: &Message<'a>) -> Result<Self, FieldError> {
        let exec_type = m.req_char(tag::EXEC_TYPE.num)?;
        let ord_status = m.req_char(tag::ORD_STATUS.num)?;
        let valid = |c: u8| c.is_ascii_digit() || (b'A'..=b'I').contains(&c);
        if !valid(exec_type) {
            return Err(FieldError::value(tag::EXEC_TYPE.num));
        }
        if !valid(ord_status) || ord_status == b'D' {
            return Err(FieldError::value(tag::ORD_STATUS.num));
        }
        Ok(ExecutionReport {
            order_id: m.req(tag::ORDER_ID.num)?,
            cl_ord_id: m.get(tag::CL_ORD_ID.num),
            orig_cl_ord_id: m.get(tag::ORIG_CL_ORD_ID.num),
            exec_id: m.req(tag::EXEC_ID.num)?,
            exec_type,
            ord_status,
            account: m.get(tag::ACCOUNT.num),
            symbol: m.req(tag::SYMBOL.num)?,
            side: side(m)?,
            order_qty: opt_qty(m, tag::ORDER_QTY.num)?,
            price: opt_price(m, tag::PRICE.num)?,
            last_qty: opt_qty(m, tag::LAST_QTY.num)?,
            last_px: opt_price(m, tag::LAST_PX.num)?,
            leaves_qty: qty(m, tag::LEAVES_QTY.num)?,
            cum_qty: qty(m, tag::CUM_QTY.num)?,
            avg_px: Price(m.req_decimal(tag::AVG_PX.num, Price::DECIMALS)?),
            text: m.get(tag::TEXT.num),
        })
    }
}

/// OrderCancelReject (9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderCancelReject<'a> {
    /// OrderID.
    pub order_id: &'a [u8],
    /// ClOrdID of the refused cancel.
    pub cl_ord_id: &'a [u8],
    /// OrigClOrdID.
    pub orig_cl_ord_id: &'a [u8],
    /// OrdStatus of the order.
    pub ord_status: u8,
    /// CxlRejResponseTo: `1` cancel, `2` cancel/replace.
    pub response_to: u8,
    /// CxlRejReason.
    pub reason: Option<u32>,
    /// Text.
    pub text: Option<&'a [u8]>,
}

impl<'a> OrderCancelReject<'a> {
    /// Writes the body.
    pub fn encode(&self, w: &mut MsgWriter<'_>) {
        w.field(tag::ORDER_ID, self.order_id)
            .field(tag::CL_ORD_ID, self.cl_ord_id)
            .field(tag::ORIG_CL_ORD_ID, self.orig_cl_ord_id)
            .char(tag::ORD_STATUS, self.ord_status)
            .char(tag::CXL_REJ_RESPONSE_TO, self.response_to);
        if let Some(r) = self.reason {
            w.u64(tag::CXL_REJ_REASON, u64::from(r));
        }
        if let Some(t) = self.text {
            w.text(tag::TEXT, t);
        }
    }
    /// Reads the body.
    pub fn parse(m: &Message<'a>) -> Result<Self, FieldError> {
        let response_to = m.req_char(tag::CXL_REJ_RESPONSE_TO.num)?;
        if !matches!(response_to, b'1' | b'2') {
            return Err(FieldError::value(tag::CXL_REJ_RESPONSE_TO.num));
        }
        Ok(OrderCancelReject {
            order_id: m.req(tag::ORDER_ID.num)?,
            cl_ord_id: m.req(tag::CL_ORD_ID.num)?,
            orig_cl_ord_id: m.req(tag::ORIG_CL_ORD_ID.num)?,
            ord_status: m.req_char(tag::ORD_STATUS.num)?,
            response_to,
            reason: m.opt_u64(tag::CXL_REJ_REASON.num)?.map(|v| v as u32),
            text: m.get(tag::TEXT.num),
        })
    }
}

/// BusinessMessageReject (j).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusinessMessageReject<'a> {
    /// RefSeqNum.
    pub ref_seq_num: Option<u64>,
    /// RefMsgType.
    pub ref_msg_type: &'a [u8],
    /// BusinessRejectRefID.
    pub ref_id: Option<&'a [u8]>,
    /// BusinessRejectReason (3 = unsupported message type).
    pub reason: u32,
    /// Text.
    pub text: Option<&'a [u8]>,
}

impl<'a> BusinessMessageReject<'a> {
    /// Writes the body.
    pub fn encode(&self, w: &mut MsgWriter<'_>) {
        if let Some(s) = self.ref_seq_num {
            w.u64(tag::REF_SEQ_NUM, s);
        }
        w.text(tag::REF_MSG_TYPE, self.ref_msg_type);
        if let Some(r) = self.ref_id {
            w.text(tag::BUSINESS_REJECT_REF_ID, r);
        }
        w.u64(tag::BUSINESS_REJECT_REASON, u64::from(self.reason));
        if let Some(t) = self.text {
            w.text(tag::TEXT, t);
        }
    }
    /// Reads the body.
    pub fn parse(m: &Message<'a>) -> Result<Self, FieldError> {
        Ok(BusinessMessageReject {
            ref_seq_num: m.opt_u64(tag::REF_SEQ_NUM.num)?,
            ref_msg_type: m.req(tag::REF_MSG_TYPE.num)?,
            ref_id: m.get(tag::BUSINESS_REJECT_REF_ID.num),
            reason: m.req_u64(tag::BUSINESS_REJECT_REASON.num)? as u32,
            text: m.get(tag::TEXT.num),
        })
    }
}

/// True for the application message types [`validate_app`] parses.
pub fn has_parser(msg_type: &[u8]) -> bool {
    matches!(
        msg_type,
        b"D" | b"F" | b"G" | b"H" | b"8" | b"9" | b"J" | b"P" | b"j"
    )
}

/// Checks the body of an application message of a type this crate knows; `None` for types it
/// does not (the session answers those with a BusinessMessageReject).
pub fn validate_app(m: &Message<'_>) -> Option<Result<(), FieldError>> {
    let r = match m.msg_type() {
        b"D" => NewOrderSingle::parse(m).map(drop),
        b"F" => OrderCancelRequest::parse(m).map(drop),
        b"G" => OrderCancelReplaceRequest::parse(m).map(drop),
        b"H" => OrderStatusRequest::parse(m).map(drop),
        b"8" => ExecutionReport::parse(m).map(drop),
        b"9" => OrderCancelReject::parse(m).map(drop),
        b"J" => super::alloc::ReceivedAllocation::parse(m).map(drop),
        b"P" => super::alloc::AllocationInstructionAck::parse(m).map(drop),
        b"j" => BusinessMessageReject::parse(m).map(drop),
        _ => return None,
    };
    Some(r)
}
