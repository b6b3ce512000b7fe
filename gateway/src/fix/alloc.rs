//! AllocationInstruction (35=J) and AllocationInstructionAck (35=P), FIX 4.4: how a filled
//! block order was split over the sub-accounts, for the LP's or prime broker's back office.
//!
//! mam sends one instruction per finished block (AllocTransType 0 New, AllocType 2
//! Preliminary: mam computes no fees or net money, AllocNoOrdersType 1 with the block's
//! ClOrdID), each account's share as AllocAccount (79) / AllocQty (80) at the block's AvgPx.
//! A block with more accounts than fit one message goes as several instructions, each with its
//! own AllocID and Quantity = Σ its AllocQty (see [`MAX_ALLOCS`]).

use mam_core::event::Side;
use mam_core::num::{Price, Qty};

use super::decode::{FieldError, Message};
use super::encode::MsgWriter;
use super::msg::{qty, side, side_char};
use super::num::parse_decimal;
use super::tag;
use super::time::{format_utc, TS_LEN};

/// Most AllocAccount/AllocQty pairs in one message: 2 fields each beside the ~20 of the
/// header, body and trailer, inside the 128 fields mam's own decoder takes per message
/// ([`MAX_FIELDS`](super::decode::MAX_FIELDS)), so a mam peer (`mam fix lp`) reads them too.
pub const MAX_ALLOCS: usize = 50;

/// One account's share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocLine {
    /// AllocAccount: the account's id.
    pub account: Vec<u8>,
    /// AllocQty.
    pub qty: Qty,
}

/// AllocationInstruction (J).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocationInstruction<'a> {
    /// AllocID.
    pub alloc_id: &'a [u8],
    /// The block order's ClOrdID (the one entry of NoOrders).
    pub cl_ord_id: &'a [u8],
    /// Side.
    pub side: Side,
    /// Symbol.
    pub symbol: &'a [u8],
    /// Quantity: Σ AllocQty.
    pub quantity: Qty,
    /// AvgPx of the block.
    pub avg_px: Price,
    /// TradeDate and TransactTime (ns since the epoch, UTC).
    pub transact_time_ns: u64,
    /// NoAllocs.
    pub allocs: &'a [AllocLine],
}

impl AllocationInstruction<'_> {
    /// Writes the body.
    pub fn encode(&self, w: &mut MsgWriter<'_>) {
        let mut ts = [0u8; TS_LEN];
        format_utc(self.transact_time_ns, &mut ts);
        w.field(tag::ALLOC_ID, self.alloc_id)
            .char(tag::ALLOC_TRANS_TYPE, b'0')
            .char(tag::ALLOC_TYPE, b'2')
            .char(tag::ALLOC_NO_ORDERS_TYPE, b'1')
            .u64(tag::NO_ORDERS, 1)
            .field(tag::CL_ORD_ID, self.cl_ord_id)
            .char(tag::SIDE, side_char(self.side))
            .field(tag::SYMBOL, self.symbol)
            .qty(tag::QUANTITY, self.quantity)
            .price(tag::AVG_PX, self.avg_px)
            .field(tag::TRADE_DATE, &ts[..8])
            .timestamp(tag::TRANSACT_TIME, self.transact_time_ns)
            .u64(tag::NO_ALLOCS, self.allocs.len() as u64);
        for a in self.allocs {
            w.field(tag::ALLOC_ACCOUNT, &a.account)
                .qty(tag::ALLOC_QTY, a.qty);
        }
    }
}

/// A received AllocationInstruction, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedAllocation {
    /// AllocID.
    pub alloc_id: Vec<u8>,
    /// The block's ClOrdID.
    pub cl_ord_id: Vec<u8>,
    /// Side.
    pub side: Side,
    /// Quantity.
    pub quantity: Qty,
    /// AvgPx.
    pub avg_px: Price,
    /// The accounts' shares, in order.
    pub allocs: Vec<AllocLine>,
}

impl ReceivedAllocation {
    /// Reads an AllocationInstruction: the NoAllocs group must hold as many AllocAccount /
    /// AllocQty pairs as it says (else 373=16, incorrect NumInGroup count).
    pub fn parse(m: &Message<'_>) -> Result<Self, FieldError> {
        let n = m.req_u64(tag::NO_ALLOCS.num)?;
        let mut allocs = Vec::new();
        let mut account: Option<&[u8]> = None;
        for f in m.fields() {
            if f.tag == tag::ALLOC_ACCOUNT.num {
                account = Some(f.value);
            } else if f.tag == tag::ALLOC_QTY.num {
                let a = account
                    .take()
                    .ok_or(FieldError::missing(tag::ALLOC_ACCOUNT.num))?;
                let q = parse_decimal(f.value, Qty::DECIMALS)
                    .map_err(|_| FieldError::value(tag::ALLOC_QTY.num))?;
                allocs.push(AllocLine {
                    account: a.to_vec(),
                    qty: Qty(q),
                });
            }
        }
        if allocs.len() as u64 != n || account.is_some() {
            return Err(FieldError::value(tag::NO_ALLOCS.num));
        }
        Ok(ReceivedAllocation {
            alloc_id: m.req(tag::ALLOC_ID.num)?.to_vec(),
            cl_ord_id: m.req(tag::CL_ORD_ID.num)?.to_vec(),
            side: side(m)?,
            quantity: qty(m, tag::QUANTITY.num)?,
            avg_px: Price(m.req_decimal(tag::AVG_PX.num, Price::DECIMALS)?),
            allocs,
        })
    }
}

/// AllocationInstructionAck (P).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllocationInstructionAck<'a> {
    /// AllocID answered.
    pub alloc_id: &'a [u8],
    /// AllocStatus: 0 accepted, 1 block level reject, 2 account level reject, 3 received.
    pub status: u8,
    /// AllocRejCode (0 unknown account, 1 incorrect quantity, 2 incorrect average price, ...).
    pub rej_code: Option<u8>,
    /// TransactTime (ns).
    pub transact_time_ns: u64,
    /// Text.
    pub text: Option<&'a [u8]>,
}

impl<'a> AllocationInstructionAck<'a> {
    /// Writes the body.
    pub fn encode(&self, w: &mut MsgWriter<'_>) {
        w.field(tag::ALLOC_ID, self.alloc_id)
            .timestamp(tag::TRANSACT_TIME, self.transact_time_ns)
            .u64(tag::ALLOC_STATUS, u64::from(self.status));
        if let Some(c) = self.rej_code {
            w.u64(tag::ALLOC_REJ_CODE, u64::from(c));
        }
        if let Some(t) = self.text {
            w.text(tag::TEXT, t);
        }
    }
    /// Reads the body.
    pub fn parse(m: &Message<'a>) -> Result<Self, FieldError> {
        let status = m.req_u64(tag::ALLOC_STATUS.num)?;
        if status > 5 {
            return Err(FieldError::value(tag::ALLOC_STATUS.num));
        }
        Ok(AllocationInstructionAck {
            alloc_id: m.req(tag::ALLOC_ID.num)?,
            status: status as u8,
            rej_code: m.opt_u64(tag::ALLOC_REJ_CODE.num)?.map(|c| c.min(99) as u8),
            transact_time_ns: 0,
            text: m.get(tag::TEXT.num),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fix::decode::Decoder;
    use crate::fix::encode::HeaderTemplate;

    #[test]
    fn instruction_and_ack_round_trip() {
        let allocs: Vec<AllocLine> = (0..3)
            .map(|i| AllocLine {
                account: format!("INV{i:03}").into_bytes(),
                qty: Qty::from_int(1000 * (i + 1)).unwrap(),
            })
            .collect();
        let j = AllocationInstruction {
            alloc_id: b"A42.0",
            cl_ord_id: b"42",
            side: Side::Sell,
            symbol: b"EURUSD",
            quantity: Qty::from_int(6000).unwrap(),
            avg_px: Price::parse("1.10123").unwrap(),
            transact_time_ns: 1_549_292_400_000_000_000,
            allocs: &allocs,
        };
        let mut h = HeaderTemplate::new(b"FIX.4.4", b"MAM", b"LP").unwrap();
        let mut buf = [0u8; 1024];
        let mut w = h.begin(&mut buf, b"J", 7, 1_549_292_400_000_000_000);
        j.encode(&mut w);
        let r = w.finish().unwrap();
        let mut d = Decoder::new();
        let m = d.decode(&buf[r]).unwrap();
        assert_eq!(m.get(75), Some(&b"20190204"[..]));
        let got = ReceivedAllocation::parse(&m).unwrap();
        assert_eq!(
            (got.alloc_id.as_slice(), got.cl_ord_id.as_slice(), got.side),
            (&b"A42.0"[..], &b"42"[..], Side::Sell)
        );
        assert_eq!((got.quantity, got.avg_px), (j.quantity, j.avg_px));
        assert_eq!(got.allocs, allocs);

        let p = AllocationInstructionAck {
            alloc_id: b"A42.0",
            status: 1,
            rej_code: Some(1),
            transact_time_ns: 1,
            text: Some(b"incorrect quantity"),
        };
        let mut w = h.begin(&mut buf, b"P", 8, 1);
        p.encode(&mut w);
        let r = w.finish().unwrap();
        let m = d.decode(&buf[r]).unwrap();
        let back = AllocationInstructionAck::parse(&m).unwrap();
        assert_eq!(
            (back.alloc_id, back.status, back.rej_code),
            (&b"A42.0"[..], 1, Some(1))
        );
    }
}
