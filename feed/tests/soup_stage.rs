//! The SoupBinTCP stage as a restarted daemon uses it: events numbered by soup sequence, a
//! full ring waited on (never dropped), a stop that logs out, and a second life resumed from
//! the "journal" that ends with every event exactly once — on a small capture and on the real
//! EURUSD day (2019-02-04, 136,741 Dukascopy ticks).

mod soup_util;

use std::time::{Duration, Instant};

use mam_core::event::MarketEvent;
use mam_core::pipeline::idle::IdleStrategy;
use mam_core::pipeline::ring::{ring, RingRx};
use mam_core::pipeline::runner::{Pipeline, RunnerConfig, Stage, ThreadingMode};
use mam_feed::dukascopy::convert::{convert_path, ConvertOptions};
use mam_feed::fxbook::FxBooks;
use mam_feed::sbe::{self, Packet};
use mam_feed::soup::{ClientConfig, ServerConfig, SoupMessage, SoupSbeStage};
use soup_util::{small_capture, spawn_server};

const EURUSD_DAY: &str = "dukascopy/EURUSD-2019-02-04";

/// An event without its receive time (the only field that differs run to run).
fn key(mut e: MarketEvent) -> MarketEvent {
    e.recv_ns = 0;
    e
}

/// The events the books make from the messages directly, numbered by position.
fn reference(msgs: &[SoupMessage]) -> Vec<MarketEvent> {
    let mut books = FxBooks::new(32);
    let mut out = Vec::new();
    for (k, m) in msgs.iter().enumerate() {
        let p = Packet::parse(&m.bytes).unwrap();
        for raw in p.messages() {
            let msg = sbe::decode(raw).unwrap();
            books.apply(&msg, 0, k as u64 + 1, &mut |e| out.push(e));
        }
    }
    out
}

/// Cycles `stage` (popping `rx` into `journal` when `pop`) until `until` holds.
fn cycle(
    stage: &mut SoupSbeStage,
    rx: &mut RingRx<MarketEvent>,
    journal: &mut Vec<MarketEvent>,
    pop: bool,
    until: impl Fn(&SoupSbeStage, &[MarketEvent]) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !until(stage, journal) {
        assert!(
            Instant::now() < deadline,
            "stage stalled: {} journaled, {:?}, last error {:?}",
            journal.len(),
            stage.client_stats(),
            stage.last_error()
        );
        if stage.do_work() == 0 {
            std::thread::sleep(Duration::from_micros(200));
        }
        if pop {
            while let Some(e) = rx.pop() {
                journal.push(key(e));
            }
        }
    }
}

#[test]
fn stage_waits_on_a_full_ring_and_resumes_after_a_restart() {
    let (_dir, msgs) = small_capture(5_000, 4, 0);
    let want: Vec<MarketEvent> = reference(&msgs.messages);
    assert_eq!(want.len(), 5_000);
    let mut cfg = ServerConfig::new("127.0.0.1:0".parse().unwrap());
    cfg.max_clients = Some(2);
    let (addr, server) = spawn_server(cfg, msgs.messages);

    // First life: a 64-slot ring nobody reads fills up; the stage must keep what did not fit.
    let (tx, mut rx, ring_stats) = ring::<MarketEvent>(64);
    let mut s1 = SoupSbeStage::new(ClientConfig::new(addr), 1, FxBooks::new(32), tx).unwrap();
    let mut journal = Vec::new();
    cycle(&mut s1, &mut rx, &mut journal, false, |s, _| {
        s.pending() > 0 && s.waits() > 3
    });
    assert_eq!(ring_stats.depth(), 64);
    // Events waiting plus events on the ring, none lost: the client stopped reading.
    let taken = s1.client_stats().messages;
    assert_eq!(taken, 64 + s1.pending() as u64);
    // Now the engine reads; journal 2,000 events, then the daemon is stopped.
    cycle(&mut s1, &mut rx, &mut journal, true, |_, j| {
        j.len() >= 2_000
    });
    s1.stop();
    cycle(&mut s1, &mut rx, &mut journal, true, |s, _| s.is_done());
    assert!(!s1.ended());
    while let Some(e) = rx.pop() {
        journal.push(key(e));
    }
    assert_eq!(journal, want[..journal.len()], "first life in order");

    // Second life: resume after the last journaled event.
    let resume = journal.last().unwrap().seq + 1;
    let (tx, mut rx, _) = ring::<MarketEvent>(64);
    let mut s2 = SoupSbeStage::new(ClientConfig::new(addr), resume, FxBooks::new(32), tx).unwrap();
    cycle(&mut s2, &mut rx, &mut journal, true, |s, _| s.is_done());
    while let Some(e) = rx.pop() {
        journal.push(key(e));
    }
    assert!(s2.ended());
    assert_eq!(journal.len(), want.len(), "no loss, no duplicate");
    assert_eq!(journal, want);
    let st = server.join().unwrap().unwrap();
    assert_eq!((st.logins, st.served, st.logouts), (2, 2, 2));
}

#[test]
fn eurusd_day_through_a_crash_and_a_resume() {
    let day = mam_core::shared_data::expect_shared(EURUSD_DAY);
    let day = day.as_path();
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("eurusd.pcap");
    let conv = convert_path(day, &pcap, ConvertOptions::for_symbol("EURUSD")).unwrap();
    assert_eq!(conv.quotes, 136_741);
    let msgs = mam_feed::soup::load_capture(&pcap).unwrap();
    assert_eq!(msgs.messages.len() as u64, conv.messages);
    let want = reference(&msgs.messages);
    assert_eq!(
        want.len(),
        136_741,
        "one event per quote; the definition makes none"
    );

    let mut cfg = ServerConfig::new("127.0.0.1:0".parse().unwrap());
    cfg.session = msgs.session_name().unwrap();
    cfg.max_clients = Some(2);
    let (addr, server) = spawn_server(cfg, msgs.messages);

    // First life: journal 50,000 events, then crash (drop the stage and its ring).
    let (tx, mut rx, _) = ring::<MarketEvent>(4096);
    let mut s1 = SoupSbeStage::new(ClientConfig::new(addr), 1, FxBooks::new(32), tx).unwrap();
    let mut journal = Vec::new();
    cycle(&mut s1, &mut rx, &mut journal, true, |_, j| {
        j.len() >= 50_000
    });
    journal.truncate(50_000);
    drop((s1, rx));

    // Second life under the real runner; the engine side pops on this thread.
    let resume = journal.last().unwrap().seq + 1;
    let (tx, mut rx, _) = ring::<MarketEvent>(4096);
    let s2 = SoupSbeStage::new(ClientConfig::new(addr), resume, FxBooks::new(32), tx).unwrap();
    let rc = RunnerConfig {
        mode: ThreadingMode::Shared,
        idle: vec![IdleStrategy::Yield],
        pin: false,
    };
    let t0 = Instant::now();
    let p = Pipeline::start(vec![Box::new(s2)], &rc).unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    while journal.len() < want.len() {
        assert!(Instant::now() < deadline, "stalled at {}", journal.len());
        match rx.pop() {
            Some(e) => journal.push(key(e)),
            None => std::thread::yield_now(),
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let stages = p.join().unwrap();
    assert!(stages[0].is_done());
    assert!(rx.pop().is_none(), "nothing after the last message");
    assert_eq!(journal.len(), want.len(), "no loss, no duplicate");
    assert!(
        journal == want,
        "events differ from a direct decode of the capture"
    );
    let st = server.join().unwrap().unwrap();
    assert_eq!(st.served, 2);
    println!(
        "EURUSD 2019-02-04: resumed at soup seq {resume}, {} events in {secs:.3} s \
         ({:.0} events/s, server {} messages, {} bytes over two clients)",
        want.len() - 50_000,
        (want.len() - 50_000) as f64 / secs,
        st.messages,
        st.bytes
    );
}
