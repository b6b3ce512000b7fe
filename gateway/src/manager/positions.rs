//! RequestForPositions (35=AN) answered from the engine's published snapshot: one
//! RequestForPositionsAck (35=AO), then one PositionReport (35=AP) per (account, instrument)
//! with a nonzero position (`docs/daemon.md`, "Positions: RequestForPositions (35=AN)").
//!
//! The answer reads the [`EngineSnapshot`] the engine stage publishes through its triple
//! buffer, never the engine itself: a position request costs the engine's duty cycle nothing.
//! The snapshot is as of one journal sequence, which every answer names (MamJournalSeq 5120,
//! and the ack's Text). Every number is written from the scaled integers the snapshot holds
//! (exact decimal text, no floating point).

use mam_core::account::manager_of;
use mam_core::engine::snapshot::{EngineSnapshot, PositionView};
use mam_core::num::{Money, Price, Qty};
use mam_core::symbol::SymbolTable;

use super::reply::{Outbox, Reply};
use crate::fix::decode::Message;
use crate::fix::msg::msg_type;
use crate::fix::num::{fmt_decimal, MAX_DECIMAL_LEN};
use crate::fix::tag;

/// Account (1) of a request that asks for every account.
pub const ALL_ACCOUNTS: &[u8] = b"*";

/// PosType (703) of the one PositionQty entry: the net position as it stands.
pub const POS_TYPE: &[u8] = b"TQ";

/// PosAmtType (707) of the one PositionAmountData entry: the position's mark-to-market
/// amount at SettlPrice (its unrealised P&L, in the account's currency).
pub const POS_AMT_TYPE: &[u8] = b"FMTM";

/// PosReqResult (728) of a RequestForPositionsAck.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum PosReqResult {
    /// 0: valid request (positions follow).
    Valid = 0,
    /// 1: invalid or unsupported request (unknown account or symbol, PosReqType other than
    /// 0, a subscription).
    Invalid = 1,
    /// 2: no positions found that match the criteria.
    NoPositions = 2,
    /// 4: request for position not supported (the stage reads no snapshot).
    NotSupported = 4,
    /// 99: other (the engine has published no snapshot yet).
    Other = 99,
}

impl PosReqResult {
    /// The value written in tag 728.
    pub fn code(self) -> u32 {
        self as u32
    }

    /// PosReqStatus (729): 0 completed (valid, or nothing found), 2 rejected.
    pub fn status(self) -> u32 {
        match self {
            PosReqResult::Valid | PosReqResult::NoPositions => 0,
            _ => 2,
        }
    }
}

/// What a request got: the ack's result, and for a valid one the reports that follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PositionAnswer {
    /// PosReqResult of the ack.
    pub result: PosReqResult,
    /// Text (58) of the ack.
    pub text: String,
    /// The snapshot's journal sequence (`None`: no snapshot read).
    pub seq: Option<u64>,
    /// The positions reported, in the snapshot's order (by account index, then instrument).
    pub lines: Vec<PositionLine>,
}

/// One PositionReport's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PositionLine {
    /// Account id, NUL-padded ASCII.
    pub account: [u8; 16],
    /// Instrument id.
    pub instrument: u32,
    /// Net quantity, base units, long positive.
    pub qty: Qty,
    /// SettlPrice (730): the mark the ledger values the position at (a long at the bid, a
    /// short at the ask; before the instrument's first quote, the average entry price).
    pub settl: Price,
    /// PriorSettlPrice (734): the average entry price.
    pub prior: Price,
    /// PosAmt (708): the unrealised P&L at SettlPrice, in the account's currency.
    pub unrealised: Money,
}

/// Account (1), the request's filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Accounts<'a> {
    All,
    One(&'a [u8]),
}

/// The id of an account view without its NUL padding.
pub fn account_id(id: &[u8; 16]) -> &[u8] {
    let end = id.iter().position(|&b| b == 0).unwrap_or(id.len());
    &id[..end]
}

fn refuse(result: PosReqResult, seq: Option<u64>, text: String) -> PositionAnswer {
    PositionAnswer {
        result,
        text,
        seq,
        lines: Vec::new(),
    }
}

/// Printable text of a received value for Text(58) (at most 32 bytes).
fn shown(v: &[u8]) -> String {
    v.iter()
        .take(32)
        .map(|&b| if b.is_ascii_graphic() { b as char } else { '?' })
        .collect()
}

/// The answer to request `m` from `snap` (`None`: the stage reads no snapshot). Field
/// presence and format are the session's (the FIX 4.4 dictionary); this decides what the
/// values mean.
pub fn answer(
    m: &Message<'_>,
    snap: Option<&EngineSnapshot>,
    symbols: &SymbolTable,
    manager: u8,
) -> PositionAnswer {
    let req_type = m.get(tag::POS_REQ_TYPE.num).unwrap_or_default();
    if req_type != b"0" {
        return refuse(
            PosReqResult::Invalid,
            None,
            format!(
                "PosReqType(724) {} not supported: only 0 (positions)",
                shown(req_type)
            ),
        );
    }
    if let Some(s) = m
        .get(tag::SUBSCRIPTION_REQUEST_TYPE.num)
        .filter(|s| *s != b"0")
    {
        return refuse(
            PosReqResult::Invalid,
            None,
            format!(
                "SubscriptionRequestType(263) {} not supported: only 0 (snapshot)",
                shown(s)
            ),
        );
    }
    let instrument = match m.get(tag::SYMBOL.num) {
        None => None,
        Some(s) => match std::str::from_utf8(s).ok().and_then(|n| symbols.id_of(n)) {
            Some(i) => Some(i),
            None => {
                return refuse(
                    PosReqResult::Invalid,
                    None,
                    format!("unknown symbol {}", shown(s)),
                )
            }
        },
    };
    let accounts = match m.get(tag::ACCOUNT.num) {
        None => Accounts::All,
        Some(a) if a == ALL_ACCOUNTS => Accounts::All,
        Some(a) => Accounts::One(a),
    };
    let Some(snap) = snap else {
        return refuse(
            PosReqResult::NotSupported,
            None,
            "positions are not published to this session".into(),
        );
    };
    if snap.version == 0 {
        return refuse(
            PosReqResult::Other,
            None,
            "engine state not published yet".into(),
        );
    }
    let seq = Some(snap.seq);
    let range = match accounts {
        Accounts::All => 0..snap.positions.len(),
        Accounts::One(id) => match snap
            .accounts
            .iter()
            .find(|a| account_id(&a.id) == id && manager_of(a.flags) == manager)
        {
            Some(a) => a.positions.0 as usize..a.positions.1 as usize,
            None => {
                return refuse(
                    PosReqResult::Invalid,
                    seq,
                    format!("unknown account {}", shown(id)),
                )
            }
        },
    };
    let lines: Vec<PositionLine> = snap
        .positions
        .get(range)
        .unwrap_or_default()
        .iter()
        .filter(|p| p.qty.raw() != 0 && instrument.is_none_or(|i| p.instrument == i))
        .filter(|p| {
            // A manager sees its own accounts only.
            snap.accounts
                .get(p.account as usize)
                .is_some_and(|a| manager_of(a.flags) == manager)
        })
        .map(|p| line(snap, p))
        .collect();
    let (result, text) = if lines.is_empty() {
        (
            PosReqResult::NoPositions,
            format!("no positions; as of journal sequence {}", snap.seq),
        )
    } else {
        (
            PosReqResult::Valid,
            format!(
                "{} positions as of journal sequence {}",
                lines.len(),
                snap.seq
            ),
        )
    };
    PositionAnswer {
        result,
        text,
        seq,
        lines,
    }
}

fn line(snap: &EngineSnapshot, p: &PositionView) -> PositionLine {
    let prior = p.avg_price.unwrap_or(Price::ZERO);
    let quote = snap.quotes.get(p.instrument as usize).copied().flatten();
    let settl = match quote {
        Some((bid, _)) if p.qty.raw() > 0 => bid,
        Some((_, ask)) => ask,
        None => prior,
    };
    let account = snap
        .accounts
        .get(p.account as usize)
        .map_or([0; 16], |a| a.id);
    PositionLine {
        account,
        instrument: p.instrument,
        qty: p.qty,
        settl,
        prior,
        unrealised: p.unrealised,
    }
}

/// `id.n`: the PosMaintRptID of the ack (`n` = 0) and of the n-th report.
fn rpt_id(req_id: &[u8], n: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(req_id.len() + 8);
    v.extend_from_slice(req_id);
    v.push(b'.');
    v.extend_from_slice(n.to_string().as_bytes());
    v
}

impl Outbox {
    fn put_decimal(&mut self, tag: u32, raw: i64, decimals: u32, unsigned: bool) {
        let mut d = [0u8; MAX_DECIMAL_LEN];
        let mut s = fmt_decimal(raw, decimals, &mut d);
        if unsigned && d[s] == b'-' {
            s += 1;
        }
        self.put(tag, &d[s..]);
    }

    /// The ack and reports of answer `a` to request `m` (its PosReqID `req_id`), dated
    /// `date` (ClearingBusinessDate, `YYYYMMDD`).
    pub(super) fn positions(
        &mut self,
        m: &Message<'_>,
        req_id: &[u8],
        a: &PositionAnswer,
        symbols: &SymbolTable,
        date: &[u8],
    ) -> Vec<Reply> {
        let mut out = Vec::with_capacity(1 + a.lines.len());
        let total = a.lines.len() as u64;
        let start = self.mark();
        self.put(tag::POS_MAINT_RPT_ID.num, &rpt_id(req_id, 0));
        self.put(tag::POS_REQ_ID.num, req_id);
        self.put_u64(tag::TOTAL_NUM_POS_REPORTS.num, total);
        self.put_u64(tag::POS_REQ_RESULT.num, u64::from(a.result.code()));
        self.put_u64(tag::POS_REQ_STATUS.num, u64::from(a.result.status()));
        self.put(
            tag::ACCOUNT.num,
            m.get(tag::ACCOUNT.num).unwrap_or(ALL_ACCOUNTS),
        );
        self.put(
            tag::ACCOUNT_TYPE.num,
            m.get(tag::ACCOUNT_TYPE.num).unwrap_or(b"1"),
        );
        if let Some(s) = m.get(tag::SYMBOL.num) {
            self.put(tag::SYMBOL.num, s);
        }
        self.put(tag::TEXT.num, a.text.as_bytes());
        if let Some(seq) = a.seq {
            self.put_u64(tag::MAM_JOURNAL_SEQ.num, seq);
        }
        out.push(self.done(msg_type::REQUEST_FOR_POSITIONS_ACK, start));
        for (n, l) in a.lines.iter().enumerate() {
            let start = self.mark();
            self.put(tag::POS_MAINT_RPT_ID.num, &rpt_id(req_id, n + 1));
            self.put(tag::POS_REQ_ID.num, req_id);
            self.put(tag::POS_REQ_TYPE.num, b"0");
            self.put_u64(tag::TOTAL_NUM_POS_REPORTS.num, total);
            self.put(tag::UNSOLICITED_INDICATOR.num, b"N");
            self.put(tag::POS_REQ_RESULT.num, b"0");
            self.put(tag::CLEARING_BUSINESS_DATE.num, date);
            self.put(tag::ACCOUNT.num, account_id(&l.account));
            self.put(tag::ACCOUNT_TYPE.num, b"1");
            match symbols.by_id(l.instrument) {
                Some(s) if !s.name_str().is_empty() => {
                    self.put(tag::SYMBOL.num, s.name_str().as_bytes())
                }
                _ => self.put(tag::SYMBOL.num, b"NA"),
            }
            self.put_decimal(tag::SETTL_PRICE.num, l.settl.raw(), Price::DECIMALS, false);
            // 2 theoretical: a mark from the latest quote, not an exchange's settlement.
            self.put(tag::SETTL_PRICE_TYPE.num, b"2");
            self.put_decimal(
                tag::PRIOR_SETTL_PRICE.num,
                l.prior.raw(),
                Price::DECIMALS,
                false,
            );
            self.put(tag::NO_POSITIONS.num, b"1");
            self.put(tag::POS_TYPE.num, POS_TYPE);
            let (long, short) = if l.qty.raw() > 0 {
                (l.qty.raw(), 0)
            } else {
                (0, l.qty.raw())
            };
            self.put_decimal(tag::LONG_QTY.num, long, Qty::DECIMALS, true);
            self.put_decimal(tag::SHORT_QTY.num, short, Qty::DECIMALS, true);
            self.put(tag::NO_POS_AMT.num, b"1");
            self.put(tag::POS_AMT_TYPE.num, POS_AMT_TYPE);
            self.put_decimal(tag::POS_AMT.num, l.unrealised.raw(), Money::DECIMALS, false);
            if let Some(seq) = a.seq {
                self.put_u64(tag::MAM_JOURNAL_SEQ.num, seq);
            }
            out.push(self.done(msg_type::POSITION_REPORT, start));
        }
        out
    }
}
