//! Between the core's events and FIX: [`ChildOrder`] → NewOrderSingle and ExecutionReport →
//! [`FillEvent`].

use mam_core::event::{ChildOrder, ExecStatus, FillEvent, OrdType, Side};
use mam_core::num::Qty;
use thiserror::Error;

use super::decode::FieldError;
use super::msg::ExecutionReport;
use super::num::{fmt_u64, parse_u64, MAX_U64_DIGITS};

/// A ChildOrder that cannot become a FIX order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ConvertError {
    /// Side byte not 1 or 2.
    #[error("child order {cl_ord_id}: side {side} is not buy (1) or sell (2)")]
    BadSide {
        /// ClOrdID.
        cl_ord_id: u64,
        /// The byte.
        side: u8,
    },
    /// OrdType byte not 1 or 2.
    #[error("child order {cl_ord_id}: order type {ord_type} is not market (1) or limit (2)")]
    BadOrdType {
        /// ClOrdID.
        cl_ord_id: u64,
        /// The byte.
        ord_type: u8,
    },
    /// Quantity zero or negative.
    #[error("child order {cl_ord_id}: quantity must be positive")]
    BadQty {
        /// ClOrdID.
        cl_ord_id: u64,
    },
    /// The ExecutionReport's ClOrdID is not one of ours (not a decimal u64).
    #[error("execution report ClOrdID is not a mam order id")]
    ForeignClOrdId,
    /// OrdStatus this conversion does not map.
    #[error("execution report OrdStatus {0:?} not mapped to a fill event")]
    UnmappedStatus(char),
    /// A field was missing or bad.
    #[error(transparent)]
    Field(#[from] FieldError),
}

/// A ClOrdID as text: the decimal of the core's `u64` id (no allocation).
#[derive(Debug, Clone, Copy)]
pub struct ClOrdIdText {
    buf: [u8; MAX_U64_DIGITS],
    start: usize,
}

impl ClOrdIdText {
    /// The text of `id`.
    pub fn new(id: u64) -> Self {
        let mut buf = [0; MAX_U64_DIGITS];
        let start = fmt_u64(id, &mut buf);
        ClOrdIdText { buf, start }
    }
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[self.start..]
    }
}

/// The NewOrderSingle for a child order: ClOrdID = the order's own id, Account (1) =
/// `account_id` (the sub-account id; a block order passes the LP account it trades under),
/// `symbol` the instrument's name. The caller keeps `cl_ord_id` alive while encoding.
pub fn child_to_nos<'a>(
    child: &ChildOrder,
    cl_ord_id: &'a ClOrdIdText,
    account_id: Option<&'a [u8]>,
    symbol: &'a [u8],
    transact_time_ns: u64,
) -> Result<super::msg::NewOrderSingle<'a>, ConvertError> {
    let side = Side::from_u8(child.side).ok_or(ConvertError::BadSide {
        cl_ord_id: child.cl_ord_id,
        side: child.side,
    })?;
    let ord_type = match child.ord_type {
        1 => OrdType::Market,
        2 => OrdType::Limit,
        o => {
            return Err(ConvertError::BadOrdType {
                cl_ord_id: child.cl_ord_id,
                ord_type: o,
            })
        }
    };
    if child.qty.raw() <= 0 {
        return Err(ConvertError::BadQty {
            cl_ord_id: child.cl_ord_id,
        });
    }
    Ok(super::msg::NewOrderSingle {
        cl_ord_id: cl_ord_id.as_bytes(),
        account: account_id,
        symbol,
        side,
        qty: child.qty,
        ord_type,
        price: (ord_type == OrdType::Limit).then_some(child.price),
        time_in_force: None,
        transact_time_ns,
    })
}

/// 64-bit FNV-1a of an LP's text ExecID (numeric ExecIDs are kept as their number).
pub fn exec_id_u64(id: &[u8]) -> u64 {
    if let Ok(v) = parse_u64(id) {
        return v;
    }
    id.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The ClOrdID of the order an ExecutionReport is about: OrigClOrdID (41) when it is one of
/// mam's order ids (a report answering mam's cancel request carries the request's own ClOrdID
/// in 11 and the order's in 41, FIX 4.4 Vol. 4 "Order State Change Matrices"), else ClOrdID.
pub fn er_order_ref<'a>(er: &ExecutionReport<'a>) -> Option<&'a [u8]> {
    match er.orig_cl_ord_id {
        Some(o) if parse_u64(o).is_ok() => Some(o),
        _ => er.cl_ord_id,
    }
}

/// The ClOrdID mam gives its cancel request for order `orig`: `C<orig>.<n>` (`n` makes it
/// unique if the order is cancelled again). Never a decimal number, so it cannot be taken for
/// one of mam's order ids.
pub fn cancel_cl_ord_id(orig: u64, n: u64) -> String {
    format!("C{orig}.{n}")
}

/// The fill event of an ExecutionReport received at `recv_ns`.
pub fn er_to_fill(er: &ExecutionReport<'_>, recv_ns: u64) -> Result<FillEvent, ConvertError> {
    let cl = er_order_ref(er).ok_or(FieldError::missing(11))?;
    let cl_ord_id = parse_u64(cl).map_err(|_| ConvertError::ForeignClOrdId)?;
    let status = match er.ord_status {
        b'0' => ExecStatus::New,
        b'1' => ExecStatus::PartiallyFilled,
        b'2' => ExecStatus::Filled,
        // Expired and Done for day end the order at the LP just as a cancel does: the rest
        // will not fill (mam's child orders are day orders).
        b'4' | b'C' | b'3' => ExecStatus::Canceled,
        b'8' => ExecStatus::Rejected,
        s => return Err(ConvertError::UnmappedStatus(s as char)),
    };
    // Only trades carry a fill increment (ExecType F; 1/2 in FIX 4.2 and earlier).
    let trade = matches!(er.exec_type, b'F' | b'1' | b'2');
    let (last_qty, last_px) = if trade {
        (
            er.last_qty.unwrap_or(Qty::ZERO),
            er.last_px.unwrap_or(er.avg_px),
        )
    } else {
        (Qty::ZERO, er.last_px.unwrap_or_default())
    };
    Ok(FillEvent {
        recv_ns,
        cl_ord_id,
        exec_id: exec_id_u64(er.exec_id),
        last_qty,
        last_px,
        cum_qty: er.cum_qty,
        leaves_qty: er.leaves_qty,
        status: status as u8,
        _pad: [0; 7],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fix::decode::Decoder;
    use crate::fix::encode::HeaderTemplate;
    use crate::fix::msg::NewOrderSingle;
    use mam_core::num::Price;

    #[test]
    fn child_to_wire_and_fill_back() {
        let child = ChildOrder {
            cl_ord_id: 1234,
            account: 7,
            qty: Qty::parse("10000").unwrap(),
            price: Price::parse("1.10000").unwrap(),
            side: 1,
            ord_type: 2,
            ..Default::default()
        };
        let id = ClOrdIdText::new(child.cl_ord_id);
        let nos = child_to_nos(
            &child,
            &id,
            Some(b"A1"),
            b"EURUSD",
            1_352_125_530_000_000_000,
        )
        .unwrap();
        let mut h = HeaderTemplate::new(b"FIX.4.4", b"MAM", b"LP").unwrap();
        let mut buf = [0u8; 512];
        let mut w = h.begin(&mut buf, b"D", 1, 1_352_125_530_000_000_000);
        nos.encode(&mut w);
        let r = w.finish().unwrap();
        let mut d = Decoder::new();
        let m = d.decode(&buf[r]).unwrap();
        let back = NewOrderSingle::parse(&m).unwrap();
        assert_eq!(back, nos);
        assert_eq!(back.account, Some(&b"A1"[..]));

        let er = ExecutionReport {
            order_id: b"1",
            cl_ord_id: Some(b"1234"),
            orig_cl_ord_id: None,
            exec_id: b"E-17",
            exec_type: b'F',
            ord_status: b'2',
            account: Some(b"A1"),
            symbol: b"EURUSD",
            side: Side::Buy,
            order_qty: Some(child.qty),
            price: None,
            last_qty: Some(child.qty),
            last_px: Some(child.price),
            leaves_qty: Qty::ZERO,
            cum_qty: child.qty,
            avg_px: child.price,
            text: None,
        };
        let f = er_to_fill(&er, 9).unwrap();
        assert_eq!(
            (f.cl_ord_id, f.last_qty, f.last_px, f.status),
            (1234, child.qty, child.price, b'2')
        );
        assert_eq!(f.exec_id, exec_id_u64(b"E-17"));
        let bad = ChildOrder { side: 3, ..child };
        assert!(child_to_nos(&bad, &id, None, b"EURUSD", 0).is_err());
    }
}
