//! The manager's messages: mam's custom tags, master orders as values, the answers and how
//! a received message becomes one ([`Ack`]).

use std::collections::HashMap;

use crate::fix::decode::Message;
use crate::fix::encode::MsgWriter;
use crate::fix::msg::{BusinessMessageReject, ExecutionReport};
use crate::fix::session::initiator::now_ns;
use crate::fix::session::Event;
use crate::fix::tag;
use mam_core::event::Side;
use mam_core::num::{Money, Price, Qty};

pub use crate::fix::tag::{
    MAM_CLOSE_ALL, MAM_MIN_LOT_POLICY, MAM_MODEL, MAM_REFERENCE, MAM_ROUTING, MAM_STOP_DISTANCE,
    POSITION_EFFECT, TRADING_SESSION_ID, TRAD_SES_STATUS,
};

/// Optional per-order settings (docs/daemon.md tags 5101-5109); `None` = the daemon's default.
/// The stop-loss, take-profit and hold are for opens only (the daemon refuses them on a close).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderOpts {
    /// MamModel (`equity`, `balance`, `multiplier`, ...).
    pub model: Option<String>,
    /// MamRouting (`block` or `per-account`).
    pub routing: Option<String>,
    /// MamMinLotPolicy (`zero` or `up`).
    pub min_lot_policy: Option<String>,
    /// MamStopDistance (price units) for the `risk` model.
    pub stop_distance: Option<Price>,
    /// MamReference: the master's balance/equity for the ratio models.
    pub reference: Option<Money>,
    /// MamStopLoss: the ticket's stop-loss, held by the engine.
    pub stop_loss: Option<Price>,
    /// MamTakeProfit: the ticket's take-profit, held by the engine.
    pub take_profit: Option<Price>,
    /// MamHold=Y: a limit open the engine holds until the quote reaches it.
    pub hold: bool,
}

/// A cancel of a master order (OrderCancelRequest, 35=F).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cancel {
    /// The request's own ClOrdID (unique in the session).
    pub cancel_id: u64,
    /// The order to cancel (OrigClOrdID: an open's ticket or a close's ClOrdID).
    pub order_id: u64,
    /// The order's symbol.
    pub symbol: String,
    /// The order's side.
    pub side: Side,
    /// Event time (TransactTime), UTC ns.
    pub transact_time_ns: u64,
}

/// An opening master order (ClOrdID = ticket).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    /// The master ticket (> 0), also the ClOrdID.
    pub ticket: u64,
    /// Symbol of mam's table.
    pub symbol: String,
    /// Buy or sell.
    pub side: Side,
    /// Base units (a multiple of the symbol's lot step).
    pub units: Qty,
    /// Limit price; `None` sends a market order.
    pub limit: Option<Price>,
    /// Event time (TransactTime), UTC ns.
    pub transact_time_ns: u64,
    /// Model, routing and the rest.
    pub opts: OrderOpts,
}

/// A closing master order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Close {
    /// Its own ClOrdID (unique in the session).
    pub close_id: u64,
    /// The ticket it closes (OrigClOrdID).
    pub ticket: u64,
    /// The ticket's symbol.
    pub symbol: String,
    /// The close's side: the ticket's opposite (mam takes it from the ticket anyway).
    pub side: Side,
    /// Base units to close (still sent and > 0 with `close_all`).
    pub units: Qty,
    /// MamCloseAll=Y: close everything still open on the ticket.
    pub close_all: bool,
    /// Limit price; `None` sends a market order.
    pub limit: Option<Price>,
    /// Event time (TransactTime), UTC ns.
    pub transact_time_ns: u64,
    /// Model, routing and the rest.
    pub opts: OrderOpts,
}

/// A MamAccountRequest (35=UA): what to do to which of our accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountAction {
    /// Add this account (the request's Account) with this opening balance and currency
    /// (`None`: USD).
    Add {
        /// Opening balance.
        balance: Money,
        /// Currency code.
        currency: Option<String>,
    },
    /// Deposit this amount.
    Deposit(Money),
    /// Withdraw this amount.
    Withdraw(Money),
    /// Set a setting (the admin API's names and spellings) to a value.
    Change {
        /// The setting (`status`, `multiplier`, `percent`, ...).
        field: String,
        /// Its new value as text (`close_only`, `1.5`, ...).
        value: String,
    },
}

/// What mam answered to one of our messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckKind {
    /// ExecutionReport 150=0: accepted onto the engine ring.
    Accepted,
    /// ExecutionReport 150=8: refused at the edge.
    Refused {
        /// OrdRejReason (103).
        reason: Option<u32>,
        /// Text (58).
        text: String,
    },
    /// Any other ExecutionReport (ExecType 150).
    Report {
        /// ExecType.
        exec_type: u8,
        /// OrdStatus (39).
        ord_status: Option<u8>,
        /// CumQty (14): what the master order has filled so far.
        cum_qty: Option<Qty>,
        /// MamJournalSeq (5120): the report's journal sequence.
        journal_seq: Option<u64>,
    },
    /// RequestForPositionsAck (35=AO) of one of our RequestForPositions.
    PositionsAck(PositionsAck),
    /// PositionReport (35=AP): one account's position in one instrument.
    Position(PositionReport),
    /// Session-level Reject (35=3) of one of our messages.
    SessionReject {
        /// SessionRejectReason (373).
        reason: Option<u32>,
    },
    /// MamAccountAck (35=UB): the answer to one of our MamAccountRequests.
    AccountAck {
        /// MamAccountReqID (5121).
        req_id: u64,
        /// Account (1).
        account: String,
        /// MamAccountStatus (5126) is 0: applied.
        applied: bool,
        /// Text (58): why it was refused.
        text: String,
        /// MamJournalSeq (5120): the answer's journal sequence (absent when refused at the
        /// edge).
        journal_seq: Option<u64>,
    },
    /// BusinessMessageReject (35=j).
    BusinessReject {
        /// BusinessRejectReason (380).
        reason: u32,
        /// Text (58).
        text: String,
    },
}

/// A RequestForPositionsAck (35=AO): whether the request is answered, and with how many
/// reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PositionsAck {
    /// PosReqID (710) of the request.
    pub req_id: String,
    /// PosReqResult (728): 0 valid, 1 invalid or unsupported, 2 no positions, 4 not supported,
    /// 99 other.
    pub result: u32,
    /// PosReqStatus (729): 0 completed, 2 rejected.
    pub status: u32,
    /// TotalNumPosReports (727): the PositionReports that follow.
    pub total: u64,
    /// Text (58).
    pub text: String,
    /// MamJournalSeq (5120): the journal sequence the positions are as of (`None` when no
    /// snapshot was read).
    pub journal_seq: Option<u64>,
}

/// A PositionReport (35=AP), its numbers exact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PositionReport {
    /// PosReqID (710) of the request.
    pub req_id: String,
    /// PosMaintRptID (721).
    pub report_id: String,
    /// Account (1): the account's id.
    pub account: String,
    /// Symbol (55).
    pub symbol: String,
    /// Net quantity, base units, long positive (LongQty − ShortQty of the TQ entry).
    pub qty: Qty,
    /// SettlPrice (730): the mark.
    pub settl_price: Option<Price>,
    /// PriorSettlPrice (734): the average entry price.
    pub prior_settl_price: Option<Price>,
    /// PosAmt (708) of the FMTM entry: the unrealised P&L in the account's currency.
    pub unrealised: Option<Money>,
    /// TotalNumPosReports (727).
    pub total: u64,
    /// MamJournalSeq (5120).
    pub journal_seq: Option<u64>,
}

/// One answer, with when it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    /// The order it answers (ClOrdID, or the order sent under RefSeqNum for a Reject);
    /// `None` when it concerns no order (a Reject of a clock message).
    pub cl_ord_id: Option<u64>,
    /// RefSeqNum of a Reject, or our MsgSeqNum of the order when known.
    pub ref_seq: Option<u64>,
    /// What it says.
    pub kind: AckKind,
    /// Receipt time, UTC ns (system clock).
    pub recv_ns: u64,
    /// The daemon marked it PossDup (resent after a reconnect).
    pub poss_dup: bool,
    /// MamJournalSeq (5120) of an ExecutionReport: the engine's record it reports (unique per
    /// report, the same on every replay: its ExecID is made of it).
    pub journal_seq: Option<u64>,
}

/// The fate of one order as far as the client knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Sent, no answer yet.
    Pending,
    /// Accepted (150=0).
    Accepted,
    /// Refused or rejected.
    Refused,
}

pub(crate) fn side_char(s: Side) -> u8 {
    match s {
        Side::Buy => b'1',
        Side::Sell => b'2',
    }
}

pub(crate) fn write_opts(w: &mut MsgWriter<'_>, o: &OrderOpts) {
    if let Some(m) = &o.model {
        w.text(MAM_MODEL, m.as_bytes());
    }
    if let Some(r) = &o.routing {
        w.text(MAM_ROUTING, r.as_bytes());
    }
    if let Some(p) = &o.min_lot_policy {
        w.text(MAM_MIN_LOT_POLICY, p.as_bytes());
    }
    if let Some(d) = o.stop_distance {
        w.price(MAM_STOP_DISTANCE, d);
    }
    if let Some(r) = o.reference {
        w.decimal(MAM_REFERENCE, r.raw(), Money::DECIMALS);
    }
    if let Some(p) = o.stop_loss {
        w.price(tag::MAM_STOP_LOSS, p);
    }
    if let Some(p) = o.take_profit {
        w.price(tag::MAM_TAKE_PROFIT, p);
    }
    if o.hold {
        w.flag(tag::MAM_HOLD, true);
    }
}

pub(crate) fn write_price(w: &mut MsgWriter<'_>, limit: Option<Price>) {
    match limit {
        Some(p) => {
            w.char(tag::ORD_TYPE, b'2').price(tag::PRICE, p);
        }
        None => {
            w.char(tag::ORD_TYPE, b'1');
        }
    }
}

pub(crate) fn parse_u64(b: &[u8]) -> Option<u64> {
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// `t` truncated to the millisecond (what a FIX UTCTimestamp of this encoder carries).
pub fn ms(t: u64) -> u64 {
    t - t % 1_000_000
}

pub(crate) fn fmt_id(v: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    let mut v = v;
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    &buf[i..]
}

pub(crate) fn text_of(m: &Message<'_>) -> String {
    m.get(tag::TEXT.num)
        .map(|t| String::from_utf8_lossy(t).into_owned())
        .unwrap_or_default()
}

fn string(m: &Message<'_>, t: u32) -> String {
    m.get(t)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_default()
}

/// An integer field; `u32::MAX` when absent or not a number.
fn u32_of(m: &Message<'_>, t: u32) -> u32 {
    m.get(t)
        .and_then(parse_u64)
        .and_then(|v| u32::try_from(v).ok())
        .unwrap_or(u32::MAX)
}

fn decimal<T, E>(m: &Message<'_>, t: u32, parse: impl Fn(&str) -> Result<T, E>) -> Option<T> {
    std::str::from_utf8(m.get(t)?)
        .ok()
        .and_then(|v| parse(v).ok())
}

/// A PositionReport's fields. The net quantity is LongQty − ShortQty of the entry whose
/// PosType is TQ (mam sends that one entry), exactly.
fn position_report(m: &Message<'_>) -> PositionReport {
    let (mut long, mut short, mut in_tq) = (Qty::ZERO, Qty::ZERO, false);
    let mut unrealised = None;
    let mut amt_fmtm = false;
    for f in m.fields() {
        let v = std::str::from_utf8(f.value).unwrap_or_default();
        match f.tag {
            t if t == tag::POS_TYPE.num => in_tq = f.value == b"TQ",
            t if t == tag::LONG_QTY.num && in_tq => long = Qty::parse(v).unwrap_or(Qty::ZERO),
            t if t == tag::SHORT_QTY.num && in_tq => short = Qty::parse(v).unwrap_or(Qty::ZERO),
            t if t == tag::POS_AMT_TYPE.num => amt_fmtm = f.value == b"FMTM",
            t if t == tag::POS_AMT.num && amt_fmtm => unrealised = Money::parse(v).ok(),
            _ => {}
        }
    }
    PositionReport {
        req_id: string(m, tag::POS_REQ_ID.num),
        report_id: string(m, tag::POS_MAINT_RPT_ID.num),
        account: string(m, tag::ACCOUNT.num),
        symbol: string(m, tag::SYMBOL.num),
        qty: Qty(long.raw().saturating_sub(short.raw())),
        settl_price: decimal(m, tag::SETTL_PRICE.num, Price::parse),
        prior_settl_price: decimal(m, tag::PRIOR_SETTL_PRICE.num, Price::parse),
        unrealised,
        total: m
            .get(tag::TOTAL_NUM_POS_REPORTS.num)
            .and_then(parse_u64)
            .unwrap_or(0),
        journal_seq: m.get(tag::MAM_JOURNAL_SEQ.num).and_then(parse_u64),
    }
}

pub(crate) fn to_ack(e: &Event<'_>, by_seq: &HashMap<u64, u64>) -> Option<Ack> {
    let recv_ns = now_ns();
    match e {
        Event::App { msg, poss_dup } if msg.msg_type() == b"8" => {
            let er = ExecutionReport::parse(msg).ok();
            let exec_type = msg.get(tag::EXEC_TYPE.num).and_then(|v| v.first().copied());
            let kind = match exec_type {
                Some(b'0') => AckKind::Accepted,
                Some(b'8') => AckKind::Refused {
                    reason: msg
                        .get(tag::ORD_REJ_REASON.num)
                        .and_then(parse_u64)
                        .map(|r| r as u32),
                    text: text_of(msg),
                },
                Some(x) => AckKind::Report {
                    exec_type: x,
                    ord_status: msg
                        .get(tag::ORD_STATUS.num)
                        .and_then(|v| v.first().copied()),
                    cum_qty: decimal(msg, tag::CUM_QTY.num, Qty::parse),
                    journal_seq: msg.get(tag::MAM_JOURNAL_SEQ.num).and_then(parse_u64),
                },
                None => return None,
            };
            let id = er
                .and_then(|r| r.cl_ord_id)
                .or_else(|| msg.get(tag::CL_ORD_ID.num))
                .and_then(parse_u64);
            Some(Ack {
                cl_ord_id: id,
                ref_seq: None,
                kind,
                recv_ns,
                poss_dup: *poss_dup,
                journal_seq: msg.get(tag::MAM_JOURNAL_SEQ.num).and_then(parse_u64),
            })
        }
        Event::App { msg, poss_dup } if msg.msg_type() == b"j" => {
            let r = BusinessMessageReject::parse(msg).ok();
            let ref_seq = msg.get(tag::REF_SEQ_NUM.num).and_then(parse_u64);
            let id = r
                .and_then(|r| r.ref_id)
                .and_then(parse_u64)
                .or_else(|| ref_seq.and_then(|s| by_seq.get(&s).copied()));
            Some(Ack {
                cl_ord_id: id,
                ref_seq,
                kind: AckKind::BusinessReject {
                    reason: r.map_or(0, |r| r.reason),
                    text: text_of(msg),
                },
                recv_ns,
                poss_dup: *poss_dup,
                journal_seq: None,
            })
        }
        Event::App { msg, poss_dup } if msg.msg_type() == b"AO" => Some(Ack {
            cl_ord_id: None,
            ref_seq: None,
            kind: AckKind::PositionsAck(PositionsAck {
                req_id: string(msg, tag::POS_REQ_ID.num),
                result: u32_of(msg, tag::POS_REQ_RESULT.num),
                status: u32_of(msg, tag::POS_REQ_STATUS.num),
                total: msg
                    .get(tag::TOTAL_NUM_POS_REPORTS.num)
                    .and_then(parse_u64)
                    .unwrap_or(0),
                text: text_of(msg),
                journal_seq: msg.get(tag::MAM_JOURNAL_SEQ.num).and_then(parse_u64),
            }),
            recv_ns,
            poss_dup: *poss_dup,
            journal_seq: None,
        }),
        Event::App { msg, poss_dup } if msg.msg_type() == b"UB" => Some(Ack {
            cl_ord_id: None,
            ref_seq: None,
            kind: AckKind::AccountAck {
                req_id: msg
                    .get(tag::MAM_ACCOUNT_REQ_ID.num)
                    .and_then(parse_u64)
                    .unwrap_or(0),
                account: string(msg, tag::ACCOUNT.num),
                applied: msg.get(tag::MAM_ACCOUNT_STATUS.num) == Some(b"0"),
                text: text_of(msg),
                journal_seq: msg.get(tag::MAM_JOURNAL_SEQ.num).and_then(parse_u64),
            },
            recv_ns,
            poss_dup: *poss_dup,
            journal_seq: None,
        }),
        Event::App { msg, poss_dup } if msg.msg_type() == b"AP" => Some(Ack {
            cl_ord_id: None,
            ref_seq: None,
            kind: AckKind::Position(position_report(msg)),
            recv_ns,
            poss_dup: *poss_dup,
            journal_seq: None,
        }),
        Event::RejectReceived { ref_seq, reason } => Some(Ack {
            cl_ord_id: by_seq.get(ref_seq).copied(),
            ref_seq: Some(*ref_seq),
            kind: AckKind::SessionReject { reason: *reason },
            recv_ns,
            poss_dup: false,
            journal_seq: None,
        }),
        _ => None,
    }
}
