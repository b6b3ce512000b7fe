//! Which child orders the LP session already sent: every NewOrderSingle (and every
//! OrderCancelRequest) in its store.
//!
//! The store keeps each outgoing message before it reaches the wire, so "in the store" means
//! "sent or to be delivered by FIX resend": a restarted daemon sends only the orders the
//! engine tracks that are *not* in this set, and no child order goes out twice.

use std::collections::BTreeSet;

use thiserror::Error;

use crate::fix::decode::Decoder;
use crate::fix::msg::msg_type;
use crate::fix::num::parse_u64;
use crate::fix::store::Store;
use crate::fix::tag;

/// A stored message that cannot be read back as one of mam's orders.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SentError {
    /// The stored bytes are not a FIX message (a damaged store).
    #[error("FIX store: message {seq} does not decode: {why}")]
    Undecodable {
        /// Its sequence number.
        seq: u64,
        /// What the decoder said.
        why: String,
    },
    /// A stored NewOrderSingle whose ClOrdID is missing or not a decimal u64: not written by
    /// mam (the store belongs to another session).
    #[error("FIX store: NewOrderSingle {seq} has ClOrdID {cl_ord_id:?}, not a mam order id")]
    ForeignClOrdId {
        /// Its sequence number.
        seq: u64,
        /// The ClOrdID as stored (lossy UTF-8).
        cl_ord_id: String,
    },
}

/// What the LP session's store holds as sent: the ClOrdIDs of mam's NewOrderSingles, and the
/// orders (OrigClOrdID) of its OrderCancelRequests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SentOrders {
    /// Orders sent.
    pub orders: BTreeSet<u64>,
    /// Orders a cancel request was sent for.
    pub cancels: BTreeSet<u64>,
}

/// The ClOrdIDs of every NewOrderSingle `store` holds as sent (sequence numbers 1 up to the
/// next sender number; numbers without a stored message, e.g. after a reset, are skipped).
pub fn sent_cl_ord_ids(store: &Store) -> Result<BTreeSet<u64>, SentError> {
    sent_orders(store).map(|s| s.orders)
}

/// Every order and cancel request `store` holds as sent (see [`sent_cl_ord_ids`]).
pub fn sent_orders(store: &Store) -> Result<SentOrders, SentError> {
    let mut out = SentOrders::default();
    let mut dec = Decoder::new();
    for seq in 1..store.next_sender_seq() {
        let Some(bytes) = store.get(seq) else {
            continue;
        };
        let m = dec.decode(bytes).map_err(|e| SentError::Undecodable {
            seq,
            why: e.to_string(),
        })?;
        let (set, t) = match m.msg_type() {
            msg_type::NEW_ORDER_SINGLE => (&mut out.orders, tag::CL_ORD_ID.num),
            msg_type::ORDER_CANCEL_REQUEST => (&mut out.cancels, tag::ORIG_CL_ORD_ID.num),
            _ => continue,
        };
        let raw = m.get(t).unwrap_or_default();
        // convert::ClOrdIdText writes the plain decimal of the u64; read it back the same way.
        let id = parse_u64(raw).map_err(|_| SentError::ForeignClOrdId {
            seq,
            cl_ord_id: String::from_utf8_lossy(raw).into_owned(),
        })?;
        set.insert(id);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fix::convert::{child_to_nos, ClOrdIdText};
    use crate::fix::encode::HeaderTemplate;
    use mam_core::event::ChildOrder;
    use mam_core::num::{Price, Qty};

    #[test]
    fn finds_orders_skips_admin_and_refuses_foreign_ids() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let mut h = HeaderTemplate::new(b"FIX.4.4", b"MAM", b"LP").unwrap();
        let mut buf = [0u8; 512];
        let mut put =
            |store: &mut Store, t: &[u8], body: &dyn Fn(&mut crate::fix::encode::MsgWriter<'_>)| {
                let seq = store.next_sender_seq();
                let mut w = h.begin(&mut buf, t, seq, 1_700_000_000_000_000_000);
                body(&mut w);
                let r = w.finish().unwrap();
                store.append(seq, &buf[r]).unwrap();
            };
        put(&mut store, b"A", &|w| {
            w.field(tag::CL_ORD_ID, b"ignored");
        });
        for id in [42u64, 7, u64::MAX] {
            let c = ChildOrder {
                cl_ord_id: id,
                qty: Qty::from_int(1000).unwrap(),
                price: Price::from_raw(110_000_000),
                side: 1,
                ord_type: 2,
                ..Default::default()
            };
            let text = ClOrdIdText::new(id);
            let nos = child_to_nos(&c, &text, None, b"EURUSD", 1).unwrap();
            put(&mut store, b"D", &|w| nos.encode(w));
        }
        put(&mut store, b"0", &|_| {});
        let got = sent_cl_ord_ids(&store).unwrap();
        assert_eq!(got.into_iter().collect::<Vec<_>>(), vec![7, 42, u64::MAX]);

        put(&mut store, b"D", &|w| {
            w.field(tag::CL_ORD_ID, b"X-1");
        });
        let e = sent_cl_ord_ids(&store).unwrap_err();
        assert!(matches!(e, SentError::ForeignClOrdId { seq: 6, .. }), "{e}");
    }
}
