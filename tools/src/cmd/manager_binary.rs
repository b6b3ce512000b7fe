//! `mam manager --protocol binary`: the same seeded plan as the FIX manager player, over the
//! daemon's binary order-entry edge (docs/binary-order-entry.md). Every step goes as soon as
//! the session takes it (`--pace` is for FIX only), then the end (a closed clock); it waits
//! until every order is answered (a report that it was applied or rejected, or a reject from
//! the edge) and prints a summary. The session store (`--store`, a file) keeps sequence
//! numbers and sent messages: a restarted daemon gets what it did not journal by
//! retransmission.

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use mam_benches::manager::{Action, Schedule};
use mam_gateway::manager::binary::client::{
    cancel_of, order_of_close, order_of_open, BinaryManagerClient,
};

use super::manager::Args;

/// Plays `plan` over a binary session.
pub fn run(a: &Args, plan: &Schedule) -> anyhow::Result<ExitCode> {
    let (store, scratch) = match &a.store {
        Some(s) => (s.clone(), false),
        None => {
            let nanos = mam_core::sys::utc_now_ns();
            let f = std::env::temp_dir()
                .join(format!("mam-manager-{}-{nanos}.store", std::process::id()));
            (f, true)
        }
    };
    let started = Instant::now();
    let mut c =
        BinaryManagerClient::connect(a.connect, a.session_id, &store, Duration::from_secs(10))
            .with_context(|| format!("binary session {} at {}", a.session_id, a.connect))?;
    println!(
        "mam manager (binary): session {} at {}, store {}; plan: {} orders, {} steps",
        a.session_id,
        a.connect,
        store.display(),
        plan.orders(),
        plan.steps.len()
    );
    // Orders awaiting an answer, by ClOrdID.
    let mut waiting = BTreeSet::new();
    for s in &plan.steps {
        match &s.action {
            Action::Open(o) => {
                waiting.insert(o.ticket);
                c.order(&order_of_open(o))?
            }
            Action::Close(x) => {
                waiting.insert(x.close_id);
                c.order(&order_of_close(x))?
            }
            Action::Cancel(x) => c.cancel(&cancel_of(x))?,
            Action::Clock(t) => c.clock(*t)?,
        };
        c.poll()?;
    }
    c.end()?;
    c.flush()?;
    let (mut accepted, mut refused) = (0u64, 0u64);
    let until = Instant::now() + Duration::from_secs(a.ack_timeout);
    while !waiting.is_empty() && Instant::now() < until {
        c.poll()?;
        for r in std::mem::take(&mut c.reports) {
            // The engine's first word on an order: New (applied) or Rejected.
            if matches!(r.exec_type, b'0' | b'8') && waiting.remove(&r.cl_ord_id) {
                if r.exec_type == b'0' {
                    accepted += 1;
                } else {
                    refused += 1;
                    println!(
                        "  order {} rejected by the engine (reason {})",
                        r.cl_ord_id, r.reason
                    );
                }
            }
        }
        for r in std::mem::take(&mut c.rejects) {
            if waiting.remove(&r.cl_ord_id) {
                refused += 1;
            }
            println!(
                "  refused: seq {} order {} field {}: {}",
                r.ref_seq_no,
                r.cl_ord_id,
                r.ref_tag_id,
                r.text_str()
            );
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let pending = waiting.len();
    let _ = c.terminate();
    if scratch {
        let _ = std::fs::remove_file(&store);
    }
    let done = pending == 0;
    if a.json {
        println!(
            "{}",
            serde_json::json!({
                "protocol": "binary",
                "orders": plan.orders(),
                "steps": plan.steps.len(),
                "accepted": accepted,
                "refused": refused,
                "pending": pending,
                "elapsed_s": started.elapsed().as_secs_f64(),
                "done": done,
            })
        );
    } else {
        println!(
            "orders: {} planned, {accepted} accepted, {refused} refused, {pending} unanswered; end sent; {:.1} s{}",
            plan.orders(),
            started.elapsed().as_secs_f64(),
            if done { "; done" } else { "" }
        );
    }
    Ok(if done {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
