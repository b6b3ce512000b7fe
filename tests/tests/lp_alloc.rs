//! AllocationInstructions (35=J) toward the LP over real loopback FIX, against the simulated
//! LP ([`SimLp`]), which acknowledges them (35=P): a finished block's allocation lines from the
//! engine become one instruction with each account's **id** and quantity at the block's average
//! price; a block over more accounts than fit one message goes as several, all acknowledged,
//! adding up to the block.
//!
//! Waits are conditions polled with a generous guard, never timed assertions.

mod lp_util;

use lp_util::{eurusd, lp_opts, rig};
use mam_core::event::{ChildOrder, ORD_TYPE_ALLOC};
use mam_core::num::{Price, Qty};
use mam_gateway::fix::alloc::MAX_ALLOCS;
use mam_gateway::lp::{SimLp, SimLpOptions};

fn line(block: u64, account: u32, qty: i64, px: &str) -> ChildOrder {
    ChildOrder {
        ts_ns: 1_549_292_400_000_000_000,
        cl_ord_id: block,
        master_ticket: 7,
        account,
        instrument: eurusd(),
        qty: Qty::from_int(qty).unwrap(),
        price: Price::parse(px).unwrap(),
        side: 2,
        ord_type: ORD_TYPE_ALLOC,
        ..Default::default()
    }
}

fn id(s: &str) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..s.len()].copy_from_slice(s.as_bytes());
    b
}

#[test]
fn finished_blocks_are_allocated_to_account_ids_and_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let lp = SimLp::bind(SimLpOptions::new(&dir.path().join("sim")))
        .unwrap()
        .spawn()
        .unwrap();
    let h = lp.handle().clone();
    let mut opts = lp_opts(lp.addr(), "LP", &dir.path().join("mam"));
    opts.account_ids =
        mam_core::pipeline::AccountDirectory::new(vec![id("INV-A"), id("INV-B"), id("INV-C")]);
    let mut a = rig(opts, None);
    a.until("logged on", |r| r.stage.is_logged_on());

    // Block 41: accounts 0 and 2 got 3,000 and 2,000; 500 stayed unallocated (a sub-step).
    for l in [
        line(41, 0, 3000, "1.10123"),
        line(41, 2, 2000, "1.10123"),
        line(41, u32::MAX, 5500, "1.10123"),
    ] {
        a.push_raw(l);
    }
    a.until("the LP's ack", |r| {
        r.stage.stats().snapshot().alloc_acks == 1
    });
    let got = h.allocations();
    assert_eq!(got.len(), 1);
    let j = &got[0];
    assert_eq!(
        (j.alloc_id.as_slice(), j.cl_ord_id.as_slice()),
        (&b"A41.0"[..], &b"41"[..])
    );
    assert_eq!(
        (j.quantity, j.avg_px),
        (
            Qty::from_int(5000).unwrap(),
            Price::parse("1.10123").unwrap()
        )
    );
    let lines: Vec<(String, Qty)> = j
        .allocs
        .iter()
        .map(|l| (String::from_utf8_lossy(&l.account).into_owned(), l.qty))
        .collect();
    assert_eq!(
        lines,
        [
            ("INV-A".to_string(), Qty::from_int(3000).unwrap()),
            ("INV-C".to_string(), Qty::from_int(2000).unwrap())
        ]
    );

    // Block 42 over 2½ messages' worth of accounts (no ids known past the third: the decimal
    // index): three instructions, full, full and half, Σ = the block.
    let n = 2 * MAX_ALLOCS as u32 + MAX_ALLOCS as u32 / 2;
    for i in 0..n {
        a.push_raw(line(42, i, 1000, "1.1"));
    }
    a.push_raw(line(42, u32::MAX, 1000 * i64::from(n), "1.1"));
    a.until("three more acks", |r| {
        r.stage.stats().snapshot().alloc_acks == 4
    });
    let got = h.allocations();
    let parts: Vec<usize> = got[1..].iter().map(|j| j.allocs.len()).collect();
    assert_eq!(parts, [MAX_ALLOCS, MAX_ALLOCS, MAX_ALLOCS / 2]);
    let sum: i64 = got[1..].iter().map(|j| j.quantity.raw()).sum();
    assert_eq!(sum, Qty::from_int(1000 * i64::from(n)).unwrap().raw());
    assert_eq!(
        got[3].allocs.last().unwrap().account,
        (n - 1).to_string().into_bytes()
    );
    let st = a.stage.stats().snapshot();
    assert_eq!(
        (st.allocations_sent, st.alloc_rejects, st.orders_sent),
        (4, 0, 0)
    );
    assert_eq!(
        h.stats()
            .alloc_rejects
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    a.stop();
}
