//! FIX workloads shared by `benches/benches/fix.rs` (Criterion) and `mam bench fix`.

use mam_core::event::{OrdType, Side};
use mam_core::num::{Price, Qty};
use mam_gateway::fix::msg::NewOrderSingle;

/// An ExecutionReport exactly as QuickFIX's executor (1.15.1) sent it to `mam fix order`.
pub const EXEC_REPORT: &[u8] = b"8=FIX.4.4\x019=164\x0135=8\x0134=2\x0149=EXECUTOR\x0152=20261124-03:56:25.213\x0156=MAM\x011=A1\x016=1.1\x0111=1795492585200894000\x0114=10000\x0117=1\x0131=1.1\x0132=10000\x0137=1\x0138=10000\x0139=2\x0154=1\x0155=EURUSD\x01150=F\x01151=0\x0110=177\x01";

/// The transact time of [`new_order`] (ns since the Unix epoch).
pub const TRANSACT_TIME_NS: u64 = 1_795_492_585_213_000_000;

/// The NewOrderSingle both benches encode: 0.1 lot EURUSD buy limit at 1.1 for account A1.
pub fn new_order() -> NewOrderSingle<'static> {
    NewOrderSingle {
        cl_ord_id: b"1795492585200894000",
        account: Some(b"A1"),
        symbol: b"EURUSD",
        side: Side::Buy,
        qty: Qty::from_raw(10_000_000_000),
        ord_type: OrdType::Limit,
        price: Some(Price::from_raw(110_000_000)),
        time_in_force: None,
        transact_time_ns: TRANSACT_TIME_NS,
    }
}
