//! `mam bench instructions-work NAME REPS` (hidden): the workloads `mam bench instructions`
//! counts under callgrind. Each builds its data (the same for every REPS), runs its operation
//! once untimed (lazy set-up, buffers grown), then REPS times, and prints the items one
//! operation handles. The set-up is identical for REPS and 2×REPS, so the difference of the
//! two instruction counts is REPS operations alone.

use std::hint::black_box;
use std::process::ExitCode;

use anyhow::Context as _;
use mam_benches::decode::{
    itch5_decode, itch_bytes, mam_itch, pcap_parser_read, tops_decode_and_book,
};
use mam_benches::fix::{new_order, EXEC_REPORT as ER, TRANSACT_TIME_NS};
use mam_benches::ledger::{fill, master_lots, open, store_quotes, BareQuotes, Params, Scenario};
use mam_core::alloc::model::{allocate, Order, StaticModel, Workspace};
use mam_core::alloc::synth::{stream_reference, synthetic_accounts};
use mam_core::alloc::{LotLimits, MinLotPolicy, Mode};
use mam_core::engine::input::{Input, MasterClose, CLOSE_FULL, MODE_BLOCK, MODE_PER_ACCOUNT};
use mam_core::engine::Decision;
use mam_core::event::{MarketEvent, Side};
use mam_core::num::{Lots, Price, Qty};
use mam_core::symbol::SymbolTable;
use mam_gateway::fix::decode::{frame, Decoder, Frame};
use mam_gateway::fix::encode::HeaderTemplate;
use mam_gateway::fix::msg::ExecutionReport;

use super::bench_fix::{naive_decode, naive_encode};

/// Every workload: name, what one item is, how many operations the base run does.
pub const WORKLOADS: [(&str, &str, u64); 18] = [
    ("alloc", "account (equity model, block, 10,000 accounts)", 8),
    ("alloc.stream", "account (streaming equity+flags)", 8),
    ("itch", "ITCH 5.0 message (mam)", 2),
    ("itch.itch5", "ITCH 5.0 message (itch5 crate)", 2),
    ("tops", "IEX TOPS message, decode + book", 1),
    ("tops.pcap", "IEX TOPS message, pcap-parser read", 1),
    ("sbe", "SBE quote decoded (EURUSD 08:00-09:00)", 4),
    ("sbe.stream", "SBE quote's bytes streamed", 4),
    ("fix.er", "FIX ExecutionReport, frame+parse+typed", 10_000),
    ("fix.er.naive", "FIX ExecutionReport, split+String", 2_000),
    ("fix.nos", "FIX NewOrderSingle encode", 10_000),
    ("fix.nos.naive", "FIX NewOrderSingle, write!+Vec", 2_000),
    ("engine.quote", "engine quote apply (1,000 accounts)", 5_000),
    (
        "engine.quote.bare",
        "quote into a bare bid/ask store",
        5_000,
    ),
    (
        "engine.open",
        "engine master open + cancel (1,000 acc.)",
        20,
    ),
    (
        "engine.open.per_account",
        "child order: per-account open + its cancel (1,000 acc.)",
        4,
    ),
    (
        "engine.open.alloc",
        "allocate alone, same 1,000 accounts",
        20,
    ),
    (
        "engine.round_trip",
        "block open, its fill, full close, its fill (1,000 acc.)",
        10,
    ),
];

/// Arguments of `mam bench instructions-work`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The workload (see `WORKLOADS`).
    pub name: String,
    /// Operations after the untimed first one.
    pub reps: u64,
}

fn shared(rel: &str) -> anyhow::Result<Vec<u8>> {
    let p = mam_core::shared_data::shared_path(rel)?;
    std::fs::read(&p).with_context(|| format!("reading {}", p.display()))
}

/// Runs `op` once, then `reps` times; prints `items`.
fn repeat(items: u64, reps: u64, mut op: impl FnMut() -> u64) -> anyhow::Result<ExitCode> {
    black_box(op());
    for _ in 0..reps {
        black_box(op());
    }
    println!("items {items}");
    Ok(ExitCode::SUCCESS)
}

/// Runs `mam bench instructions-work`.
pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let n = a.reps;
    match a.name.as_str() {
        "alloc" | "alloc.stream" => {
            let accounts = 10_000;
            let v = synthetic_accounts(accounts, 7);
            let cols = v.columns();
            let limits = LotLimits::of(SymbolTable::builtin().require("EURUSD")?);
            let mut out = vec![0u64; accounts];
            let mut ws = Workspace::with_capacity(accounts);
            let mut order = Order {
                lots: Lots::parse("50")?,
                model: StaticModel::Equity,
                policy: MinLotPolicy::Zero,
                mode: Mode::Block,
                rotation: 0,
            };
            if a.name == "alloc" {
                repeat(accounts as u64, n, || {
                    let x = allocate(&cols, limits, &order, &mut out, &mut ws).expect("allocates");
                    order.rotation = order.rotation.wrapping_add(x.dealt);
                    x.dealt
                })
            } else {
                repeat(accounts as u64, n, || {
                    stream_reference(black_box(cols.equity), black_box(cols.flags))
                })
            }
        }
        "itch" | "itch.itch5" => {
            let b = itch_bytes(
                &shared("itch/nasdaq-sample-1000.itch")?,
                &shared("itch/ritch-artificial-zero-prefix.itch")?,
            );
            let msgs = mam_itch(&b).0;
            let f = if a.name == "itch" {
                mam_itch
            } else {
                itch5_decode
            };
            repeat(msgs, n, || f(black_box(&b)).1)
        }
        "tops" | "tops.pcap" => {
            let b = shared("iex/TOPS16.pcap")?;
            let msgs = tops_decode_and_book(&b).0;
            if a.name == "tops" {
                repeat(msgs, n, || tops_decode_and_book(black_box(&b)).1)
            } else {
                repeat(msgs, n, || pcap_parser_read(black_box(&b)).1)
            }
        }
        "sbe" | "sbe.stream" => sbe(a.name == "sbe", n),
        "fix.er" => {
            let mut dec = Decoder::new();
            repeat(1, n, || match frame(black_box(ER), 4096) {
                Frame::Complete { len } => dec
                    .parse(&ER[..len])
                    .ok()
                    .and_then(|m| ExecutionReport::parse(&m).ok())
                    .map_or(0, |e| e.cum_qty.raw() as u64),
                _ => 0,
            })
        }
        "fix.er.naive" => repeat(1, n, || naive_decode(black_box(ER)).len() as u64),
        "fix.nos.naive" => {
            let mut seq = 0u64;
            repeat(1, n, || {
                seq += 1;
                naive_encode(seq).len() as u64
            })
        }
        "fix.nos" => {
            let mut h = HeaderTemplate::new(b"FIX.4.4", b"MAM", b"EXECUTOR")?;
            let mut buf = [0u8; 512];
            let order = new_order();
            let mut seq = 0u64;
            repeat(1, n, || {
                seq += 1;
                let mut w = h.begin(&mut buf, b"D", seq, TRANSACT_TIME_NS);
                black_box(&order).encode(&mut w);
                w.finish().map_or(0, |r| r.len() as u64)
            })
        }
        "engine.quote"
        | "engine.quote.bare"
        | "engine.open"
        | "engine.open.per_account"
        | "engine.open.alloc"
        | "engine.round_trip" => engine(&a.name, n),
        other => anyhow::bail!("unknown workload `{other}`"),
    }
}

/// One hour of the shared EURUSD day as mam SBE packets: decode, or stream the bytes.
fn sbe(decode: bool, n: u64) -> anyhow::Result<ExitCode> {
    use mam_feed::dukascopy;
    use mam_feed::sbe::stream::PacketStream;
    let hour = mam_core::shared_data::shared_path("dukascopy/EURUSD-2019-02-04/08h_ticks.bi5")?;
    let mut quotes = Vec::new();
    for h in dukascopy::hour_files(&hour)? {
        for t in dukascopy::read_hour(&h, dukascopy::point_decimals("EURUSD"))? {
            quotes.push(t.quote(0, 1));
        }
    }
    let s = PacketStream::from_quotes(quotes, 1472);
    if decode {
        repeat(s.quotes, n, || s.decode_quotes().quotes)
    } else {
        repeat(s.quotes, n, || s.stream_bytes())
    }
}

/// Quotes generated for `engine.quote`, whatever REPS is.
const MAX_QUOTES: usize = 40_001;

/// The ledger bench's engine on 1,000 accounts × 4 tickets: quotes (or the same quotes into a
/// bare bid/ask store), or block opens, each cancelled by a zero fill so every open finds the
/// same book (or the open's allocation alone on the same accounts).
fn engine(name: &str, n: u64) -> anyhow::Result<ExitCode> {
    let p = Params {
        accounts: 1_000,
        tickets: 4,
        ..Params::default()
    };
    let mut s = Scenario::build(p, true, false, |_| {}).map_err(|e| anyhow::anyhow!(e))?;
    if name.starts_with("engine.quote") {
        // Every run generates the same quotes, so the set-up is the same; REPS + 1 are applied.
        anyhow::ensure!(n < MAX_QUOTES as u64, "at most {} quotes", MAX_QUOTES - 1);
        let mut buf: Vec<MarketEvent> = Vec::new();
        s.next_quotes(MAX_QUOTES, &mut buf);
        let mut k = 0;
        if name == "engine.quote.bare" {
            let mut bare = BareQuotes::new(s.engine.ledger().instruments());
            return repeat(1, n, || {
                k += 1;
                store_quotes(&mut bare, &buf[k - 1..k])
            });
        }
        let e = &mut s.engine;
        return repeat(1, n, || {
            k += 1;
            e.apply_without_journal(&Input::Market(buf[k - 1])).len() as u64
        });
    }
    let eurusd = s.held[0];
    let lots = master_lots(p.accounts);
    if name == "engine.open.alloc" {
        let cols = s.engine.accounts().columns();
        let mut out = vec![0u64; p.accounts];
        let mut ws = Workspace::with_capacity(p.accounts);
        let order = Order {
            lots,
            model: StaticModel::Equity,
            policy: MinLotPolicy::Zero,
            mode: Mode::Block,
            rotation: 0,
        };
        let limits = s.limits(eurusd);
        return repeat(1, n, || {
            let x = allocate(&cols, limits, &order, &mut out, &mut ws).expect("allocates");
            x.dealt
        });
    }
    let ticket = 1u64 << 40;
    if name == "engine.open.per_account" {
        // The same open routed per account: one child per account, each then cancelled (a
        // zero fill), so every open finds the same book. An item is one child order.
        let children = |d: &[Decision]| -> Vec<u64> {
            d.iter()
                .filter_map(|x| match x {
                    Decision::Order(c) => Some(c.cl_ord_id),
                    _ => None,
                })
                .collect()
        };
        let per_account = |ts: u64| {
            let mut input = open(ts, ticket, eurusd, Side::Buy, lots);
            if let Input::Open(o) = &mut input {
                o.mode = MODE_PER_ACCOUNT;
            }
            input
        };
        let input = per_account(s.clock.tick());
        let first = children(s.engine.apply_without_journal(&input));
        anyhow::ensure!(
            first.len() > 1,
            "the per-account open sent {} orders",
            first.len()
        );
        let items = first.len() as u64;
        for cl in first {
            let cancel = fill(s.clock.tick(), cl, Qty::ZERO, Price::ZERO);
            s.engine.apply_without_journal(&cancel);
        }
        return repeat(items, n, || {
            let input = per_account(s.clock.tick());
            let sent = children(s.engine.apply_without_journal(&input));
            for &cl in &sent {
                let cancel = fill(s.clock.tick(), cl, Qty::ZERO, Price::ZERO);
                s.engine.apply_without_journal(&cancel);
            }
            sent.len() as u64
        });
    }
    if name == "engine.round_trip" {
        // What a block costs after its order leaves: the fill allocated over the accounts
        // (booked, limit-checked, allocation lines), and the full close and its fill. Each
        // round trip leaves the book as it found it (the price is the quote's, unmoved).
        let (bid, ask) = s.engine.ledger().quote(eurusd).context("EURUSD unquoted")?;
        let mut k = 0u64;
        return repeat(1, n, || {
            k += 1;
            let t = ticket + k;
            let input = open(s.clock.tick(), t, eurusd, Side::Buy, lots);
            let block = mam_benches::ledger::block_order(s.engine.apply_without_journal(&input));
            let (cl, qty, _) = block.expect("the open sent its block order");
            s.engine
                .apply_without_journal(&fill(s.clock.tick(), cl, qty, ask));
            let close = Input::Close(MasterClose {
                ts_ns: s.clock.tick(),
                ticket: t,
                full: CLOSE_FULL,
                mode: MODE_BLOCK,
                ..MasterClose::default()
            });
            let block = mam_benches::ledger::block_order(s.engine.apply_without_journal(&close));
            let (cl, qty, _) = block.expect("the close sent its block order");
            let d = s
                .engine
                .apply_without_journal(&fill(s.clock.tick(), cl, qty, bid));
            d.len() as u64
        });
    }
    // One ticket, as `mam bench ledger`'s opens: each is cancelled before the next.
    repeat(1, n, || {
        let input = open(s.clock.tick(), ticket, eurusd, Side::Buy, lots);
        let block = mam_benches::ledger::block_order(s.engine.apply_without_journal(&input));
        let (cl, _, _) = block.expect("the open sent its block order");
        let cancel = fill(s.clock.tick(), cl, Qty::ZERO, Price::ZERO);
        s.engine.apply_without_journal(&cancel).len() as u64
    })
}
