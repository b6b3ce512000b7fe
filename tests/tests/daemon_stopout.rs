//! Stop-outs and margin calls on real data, end to end: two hours of the shared Dukascopy
//! EURUSD day (2019-02-04 14:00-16:00, when EURUSD fell about 25 pips in two legs) replayed to
//! the daemon (`mam replay --serve soup://`), QuickFIX's executor as the LP, and a manager (the
//! FIX client and driver `mam manager` runs, in this process with a plan of our own) that buys
//! one lot at 14:00:30 for nine USD accounts (multiplier model, one order per account) and
//! sells half of it at 15:50. The daemon's price collar is 10 bps, so a stop-out sells at a
//! limit 5 bps under the mid, which QuickFIX's executor fills at that price.
//!
//! **The accounts are sized from the data.** Before anything runs, the test computes from the
//! capture, for each account's position, the largest balance at which its margin level would
//! reach a level by a given time, and picks balances (to the cent) so that a known subset must
//! be stopped out, each in a window of its own: at the first leg down (14:05-14:08, 14:08-14:12),
//! between the legs, at the second (14:55-15:00), one with its own levels (stop-out 80 %,
//! margin call 120 %); two must be margin-called and survive; one is far from any limit; one
//! never trades. Leverage 100 to 1000, 0.5 to 3 lots, balances of a few hundred dollars.
//!
//! **What is checked, from the journal** (read with mam_core's reader) against an exact
//! re-computation of our own (docs/ledger.md's arithmetic: cost basis `K = Σ qty × px`,
//! unrealised `qty × mark − K` with longs marked at the bid and shorts at the ask, margin
//! `|qty| × mark ÷ leverage`, one half-to-even rounding per step, the level compared as
//! `equity × 100` against `level × margin`) at every quote and every fill:
//! - every LimitEvent (kind 37: margin call, stop-out, and the lifts of margin calls: see
//!   below), field for field (equity, margin, level, threshold, action, orders, the input it
//!   names), and no other;
//! - so each stop-out is journaled exactly once, at **the first quote past the level**, in the
//!   account's window;
//! - the stop-out's order: per account, master ticket `u64::MAX`, selling the whole position at
//!   a marketable limit, in the same input; received by the LP exactly once with those fields;
//!   filled; the account flat after it; the 15:50 close leaves stopped accounts alone;
//! - `mam accounts statement --json`: every account's balance, equity, margin, positions and
//!   limits as recomputed, nobody left at or below the stop-out level; its totals (Σ accounts
//!   + unallocated = LP net = what the LP's orders add up to).
//!
//! **Then the same with SIGKILL**: a second run, its feed paced (300x) so that the kills land
//! where they are aimed, whose daemon is killed (seeded) during start-up, shortly before and
//! right after each stop-out of the first run is journaled, and near the end, and restarted
//! each time on the same state directory: the same checks, the same stop-outs and LimitEvents
//! (with the content of the inputs they name), the same orders at the LP (no ClOrdID twice),
//! the same statement byte for byte and the same final state.
//!
//! **Known bugs, each with an ignored test that fails until it is fixed** (the main test
//! prints every instance as `KNOWN BUG` and checks around it): a margin call is lifted a few
//! quotes late when the bid rises inside the previous spread (the main test then takes the
//! lifts from the journal, checking each at an input above the level, with the values
//! recomputed there); after a restart, fills of re-awaited orders are journaled with
//! `recv_ns` 0 (the main test compares LimitEvents at fills without that stamp).
//!
//! Real processes over loopback (see `mam_tests::daemon`). Needs the shared Dukascopy data and
//! QuickFIX (`apt-get install -y libquickfix17 libquickfix-doc`); fails saying so otherwise.
//! `MAM_TESTS_KEEP=1` keeps the working directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mam_benches::manager::schedule::TimedQuote;
use mam_benches::manager::{
    drive, Action, ClientOptions, Close, DriveOptions, DriveReport, ManagerClient, Open, OrderOpts,
    Schedule, Step, Timeline,
};
use mam_core::engine::decision::{limit_event, LimitEvent, KIND_LIMIT, LIMIT_TICKET};
use mam_core::engine::input::{is_input_kind, KIND_FILL, KIND_MARKET};
use mam_core::engine::{Decision, Input};
use mam_core::event::{ChildOrder, ExecStatus, MarketEventKind, OrdType, Side};
use mam_core::num::{Money, Price, Qty, Ratio};
use mam_feed::replay::Speed;
use mam_tests::daemon::{
    account_store, check_statement_totals, convert_eurusd, lp_orders, out_file, start_lp,
    wait_until, Capture, DaemonSetup, JournalWatch, LpOrder, Replay, Rng,
};

/// 14:00-16:00 UTC: 21,049 quotes, EURUSD from 1.1449 down to 1.1425 (14:57) in two legs.
const HOURS: std::ops::Range<u32> = 14..16;
/// 2019-02-04 00:00 UTC, ns.
const DAY_NS: u64 = 1_549_238_400 * 1_000_000_000;
const MS: u64 = 1_000_000;
/// The master buys one lot here (and each account its multiplier of it) ...
const OPEN_AT: (u32, u32, u32) = (14, 0, 30);
/// ... and sells half of it here.
const CLOSE_AT: (u32, u32, u32) = (15, 50, 0);
/// One lot (EURUSD: 100,000 base units), Qty raw.
const LOT: i64 = 100_000 * Qty::ONE_RAW;
/// The daemon's price collar: a stop-out sells at a limit this far under the mid (half the
/// collar), which QuickFIX's executor fills at that price: 5 bps is about 5.7 pips.
const COLLAR_BPS: u32 = 10;
/// The killed run's feed: 300 times the capture's pace (two hours in 24 s), about one quote
/// per ms, so a kill aimed at a quote lands within a few quotes of it.
const KILLED_PACE: &str = "300x";
/// A checkpoint every this many inputs: the killed run recovers from checkpoints too.
const CHECKPOINT_EVERY: u32 = 3000;
/// The killed run, with its restarts, takes about 35 s; a daemon or manager that never
/// finishes fails the test after this long (a hang guard, not a timing assertion).
const RUN_PATIENCE: Duration = Duration::from_secs(300);

fn at((h, m, s): (u32, u32, u32)) -> u64 {
    DAY_NS + u64::from(h * 3600 + m * 60 + s) * 1_000_000_000
}

fn hms(t: u64) -> String {
    let s = (t - DAY_NS) / 1_000_000_000;
    let ms = (t - DAY_NS) / MS % 1000;
    format!("{:02}:{:02}:{:02}.{ms:03}", s / 3600, s / 60 % 60, s % 60)
}

/// What an account is sized for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// Stopped out after the first time and at or before the second (h, m, s).
    StopOut((u32, u32, u32), (u32, u32, u32)),
    /// Margin-called at some point, never stopped out.
    MarginCallOnly,
    /// Twice the balance that would ever see a margin call.
    Safe,
    /// Multiplier 0: never holds anything.
    Idle,
}

#[derive(Debug, Clone, Copy)]
struct Spec {
    id: &'static str,
    /// Hundredths of a lot per lot of the master (the multiplier model): 50 is 0.5 lots.
    lots: i64,
    leverage: i64,
    margin_call: i64,
    stop_out: i64,
    target: Target,
}

/// The accounts (USD, commission 0): id, hundredths of a lot per master lot, leverage,
/// margin-call and stop-out levels (%), what the balance is sized for.
#[rustfmt::skip]
const SPECS: [Spec; 9] = [
    // Opens margin-called (level 84 %), stopped out in the first leg.
    spec("A01", 100, 500, 100, 50, Target::StopOut((14, 5, 0), (14, 8, 0))),
    spec("A02", 200, 1000, 100, 50, Target::StopOut((14, 8, 0), (14, 12, 0))),
    // Opens margin-called (level 67 %), survives the first leg, not the second.
    spec("A03", 50, 100, 100, 50, Target::StopOut((14, 12, 0), (14, 55, 0))),
    spec("A04", 100, 400, 100, 50, Target::StopOut((14, 55, 0), (15, 0, 0))),
    // Its own levels: margin call at 120 %, stop-out at 80 %.
    spec("A05", 300, 1000, 120, 80, Target::StopOut((14, 1, 0), (14, 10, 0))),
    spec("A06", 100, 500, 100, 50, Target::MarginCallOnly),
    spec("A07", 200, 1000, 150, 60, Target::MarginCallOnly),
    spec("A08", 100, 100, 100, 50, Target::Safe),
    spec("A09", 0, 100, 100, 50, Target::Idle),
];

const fn spec(
    id: &'static str,
    lots: i64,
    leverage: i64,
    margin_call: i64,
    stop_out: i64,
    target: Target,
) -> Spec {
    Spec {
        id,
        lots,
        leverage,
        margin_call,
        stop_out,
        target,
    }
}

// ---------------------------------------------------------------------------------------
// Our own exact arithmetic (docs/ledger.md), independent of mam_core's ledger.

/// `x ÷ d` rounded half to even (`d > 0`).
fn div_half_even(x: i128, d: i128) -> i128 {
    let (q, r) = (x.div_euclid(d), x.rem_euclid(d));
    match (2 * r).cmp(&d) {
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Less => q,
        std::cmp::Ordering::Equal => q + q.rem_euclid(2),
    }
}

/// Quote-currency amounts are at Qty raw × Price raw (1e-6 × 1e-8); money at 1e-6.
const TO_MONEY: i128 = 100_000_000;

/// One USD account's EURUSD position and money.
#[derive(Debug, Clone, Default)]
struct Acct {
    balance: i64,
    leverage: i64,
    /// Levels as `Ratio` raw (percent × 1e6).
    margin_call: i64,
    stop_out: i64,
    qty: i64,
    cost: i128,
    in_call: bool,
    stop_pending: bool,
    /// Not strict: the input since which a journaled margin call is due to be lifted.
    lift_due: Option<u64>,
    /// Not strict: lifts journaled late (due at, journaled at), or never (due at, fell back at).
    late_lifts: Vec<(u64, u64)>,
}

impl Acct {
    /// Books a fill of signed `dq` at `px` (raw), commission 0.
    fn book(&mut self, dq: i64, px: i64) {
        let (q, k) = (self.qty, self.cost);
        if q == 0 || (q > 0) == (dq > 0) {
            self.qty += dq;
            self.cost += i128::from(dq) * i128::from(px);
            return;
        }
        let r = dq.unsigned_abs().min(q.unsigned_abs());
        let sign = i128::from(q.signum());
        let kc = div_half_even(k.abs() * i128::from(r), i128::from(q.unsigned_abs()));
        let realised = sign * (i128::from(r) * i128::from(px) - kc);
        self.balance += i64::try_from(div_half_even(realised, TO_MONEY)).unwrap();
        self.qty -= q.signum() * r as i64;
        self.cost -= sign * kc;
        let rest = dq.unsigned_abs() - r;
        if rest > 0 {
            self.qty = dq.signum() * rest as i64;
            self.cost = i128::from(self.qty) * i128::from(px);
        }
    }

    /// (equity, margin) at `bid`/`ask` (raw), micro-units.
    fn value(&self, bid: i64, ask: i64) -> (i64, i64) {
        if self.qty == 0 {
            return (self.balance, 0);
        }
        let mark = if self.qty > 0 { bid } else { ask };
        let v = i128::from(self.qty) * i128::from(mark);
        let u = div_half_even(v - self.cost, TO_MONEY);
        let notional = div_half_even(v.abs(), TO_MONEY);
        // × margin_rate (1) ÷ leverage, both as Ratio raw.
        let margin = div_half_even(
            notional * i128::from(Ratio::ONE_RAW),
            i128::from(self.leverage.max(1)) * i128::from(Ratio::ONE_RAW),
        );
        (
            self.balance + i64::try_from(u).unwrap(),
            i64::try_from(margin).unwrap(),
        )
    }
}

/// The margin level is at or below `level` (Ratio raw), exactly: `equity × 100 ≤ level ×
/// margin`, with margin in use.
fn at_or_below(equity: i64, margin: i64, level: i64) -> bool {
    margin > 0
        && i128::from(equity) * 100 * i128::from(Ratio::ONE_RAW)
            <= i128::from(level) * i128::from(margin)
}

fn level_of(equity: i64, margin: i64) -> i64 {
    if margin <= 0 {
        return -1;
    }
    i64::try_from(div_half_even(
        i128::from(equity) * 100 * i128::from(Ratio::ONE_RAW),
        i128::from(margin),
    ))
    .unwrap()
}

impl Acct {
    /// The engine's check of this account (index `i`) at input `seq` (event time `ts`): the
    /// LimitEvents it must journal, onto `exp`. `strict`: margin calls are lifted at the first
    /// input above the level too; otherwise a lift is left to the journal ([`Acct::lifted`]),
    /// and only remembered as due.
    #[allow(clippy::too_many_arguments)]
    fn check(
        &mut self,
        i: usize,
        ts: u64,
        seq: u64,
        bid: i64,
        ask: i64,
        strict: bool,
        exp: &mut Vec<LimitEvent>,
    ) {
        let (e, m) = self.value(bid, ask);
        let ev = |event: u8, threshold: i64, action: u8, orders: u16| LimitEvent {
            ts_ns: ts,
            input_seq: seq,
            equity: e,
            margin: m,
            level: level_of(e, m),
            threshold,
            account: i as u32,
            event,
            action,
            orders,
        };
        if !self.stop_pending && at_or_below(e, m, self.stop_out) {
            self.stop_pending = true;
            exp.push(ev(limit_event::STOP_OUT, self.stop_out, 3, 1));
        }
        let in_call = at_or_below(e, m, self.margin_call);
        if in_call && !self.in_call {
            self.in_call = true;
            exp.push(ev(limit_event::MARGIN_CALL, self.margin_call, 0, 0));
        } else if !in_call && self.in_call {
            if strict {
                self.in_call = false;
                exp.push(ev(limit_event::MARGIN_CALL_LIFTED, self.margin_call, 0, 0));
            } else {
                self.lift_due.get_or_insert(seq);
            }
        } else if in_call && self.in_call {
            if let Some(due) = self.lift_due.take() {
                self.late_lifts.push((due, seq));
            }
        }
    }

    /// Not strict: the journal lifted this account's margin call with `l`; it must be due, and
    /// `l` must hold the values recomputed now.
    fn lifted(&mut self, l: &LimitEvent, bid: i64, ask: i64) -> Result<(), String> {
        let (e, m) = self.value(bid, ask);
        if !self.in_call || at_or_below(e, m, self.margin_call) {
            return Err(format!(
                "lifted while not in a margin call or at/below its level: equity {} margin {}",
                Money(e),
                Money(m)
            ));
        }
        let want = LimitEvent {
            equity: e,
            margin: m,
            level: level_of(e, m),
            threshold: self.margin_call,
            action: 0,
            orders: 0,
            ..*l
        };
        if want != *l {
            return Err(format!("recomputed {want:?}"));
        }
        let due = self.lift_due.take().ok_or("no lift due")?;
        if due != l.input_seq {
            self.late_lifts.push((due, l.input_seq));
        }
        self.in_call = false;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// The plan and the accounts, from the capture.

/// A manager slot at or after `t`: one ms after a quote, with no quote in the next ms (as
/// `mam manager` plans them), and the index of that quote (the one the order sees).
fn slot(qs: &[TimedQuote], t: u64) -> (u64, usize) {
    qs.windows(2)
        .enumerate()
        .find_map(|(i, w)| {
            let s = w[0].time_ns - w[0].time_ns % MS + MS;
            (s >= t && w[1].time_ns >= s + MS).then_some((s, i))
        })
        .expect("a slot in the capture")
}

struct Setup {
    quotes: Vec<TimedQuote>,
    /// Balance (micro-units) per spec.
    balances: Vec<i64>,
    plan: Schedule,
}

/// One account's (time, equity at balance 0, margin) at every point it is checked: its
/// opening fill, every quote after, its closing fill.
fn path(
    qs: &[TimedQuote],
    open: (u64, usize),
    close: (u64, usize),
    lots: i64,
    lev: i64,
) -> Vec<(u64, i64, i64)> {
    let q = LOT / 100 * lots;
    let mut a = Acct {
        leverage: lev,
        ..Acct::default()
    };
    let point = |a: &Acct, t: u64, j: usize| {
        let (e, m) = a.value(qs[j].bid.raw(), qs[j].ask.raw());
        (t, e, m)
    };
    a.book(q, qs[open.1].ask.raw());
    let mut out = vec![point(&a, open.0, open.1)];
    for j in open.1 + 1..qs.len() {
        if j == close.1 + 1 {
            a.book(-q / 2, qs[close.1].bid.raw());
            out.push(point(&a, close.0, close.1));
        }
        out.push(point(&a, qs[j].time_ns, j));
    }
    out
}

/// The largest balance (micro-units) at which the account's level is at or below `level` %
/// at some point up to `until`: `equity × 100 ≤ level × margin` ⟺ `B ≤ (level × m − 100 ×
/// e0) ÷ 100` with `e0` the equity at balance 0.
fn reach(path: &[(u64, i64, i64)], level: i64, until: u64) -> i64 {
    path.iter()
        .filter(|p| p.0 <= until && p.2 > 0)
        .map(|&(_, e0, m)| (level * m - 100 * e0).div_euclid(100))
        .max()
        .expect("a point in the window")
}

/// A balance on whole cents in `(lo, hi]`, in the middle.
fn between(id: &str, lo: i64, hi: i64) -> i64 {
    let (clo, chi) = (lo.div_euclid(10_000), hi.div_euclid(10_000));
    let b = (clo + chi) / 2 * 10_000;
    assert!(
        lo < b && b <= hi,
        "{id}: no balance between {} and {}: the data do not allow this account",
        Money(lo),
        Money(hi)
    );
    b
}

fn plan_and_accounts(cap: &Capture) -> Setup {
    let tl = Timeline::load(&cap.path).expect("read the capture");
    let qs = tl.quotes.clone();
    assert_eq!(
        qs.len() as u64,
        cap.quotes,
        "two-sided quotes in the capture"
    );
    let open = slot(&qs, at(OPEN_AT));
    let close = slot(&qs, at(CLOSE_AT));
    let end = qs.last().unwrap().time_ns;
    let (lo_bid, lo_at) = qs[open.1..]
        .iter()
        .map(|q| (q.bid, q.time_ns))
        .min()
        .unwrap();
    eprintln!(
        "capture: {} quotes {}-{}; open at {} (ask {}), close at {} (bid {}); lowest bid {} at {}",
        qs.len(),
        hms(qs[0].time_ns),
        hms(end),
        hms(open.0),
        qs[open.1].ask,
        hms(close.0),
        qs[close.1].bid,
        lo_bid,
        hms(lo_at)
    );
    let balances = SPECS
        .iter()
        .map(|s| {
            if s.target == Target::Idle {
                return 1000 * Money::ONE_RAW;
            }
            let p = path(&qs, open, close, s.lots, s.leverage);
            let b = match s.target {
                Target::StopOut(after, by) => {
                    assert!(
                        at(after) >= open.0,
                        "{}: window starts before the open",
                        s.id
                    );
                    between(
                        s.id,
                        reach(&p, s.stop_out, at(after)),
                        reach(&p, s.stop_out, at(by)),
                    )
                }
                Target::MarginCallOnly => between(
                    s.id,
                    reach(&p, s.stop_out, end),
                    reach(&p, s.margin_call, end),
                ),
                Target::Safe => {
                    2 * reach(&p, s.margin_call, end).max(Money::ONE_RAW) / 10_000 * 10_000
                }
                Target::Idle => unreachable!(),
            };
            eprintln!(
                "  {} {}.{:02} lots, leverage {:>4}, levels {}/{} %: balance {:>9} ({:?})",
                s.id,
                s.lots / 100,
                s.lots % 100,
                s.leverage,
                s.margin_call,
                s.stop_out,
                Money(b),
                s.target
            );
            b
        })
        .collect();
    let opts = OrderOpts {
        model: Some("multiplier".into()),
        routing: Some("per-account".into()),
        ..OrderOpts::default()
    };
    let mut steps = vec![
        Step {
            time_ns: open.0,
            action: Action::Open(Open {
                ticket: 1,
                symbol: "EURUSD".into(),
                side: Side::Buy,
                units: Qty(LOT),
                limit: Some(qs[open.1].ask),
                transact_time_ns: open.0,
                opts: opts.clone(),
            }),
        },
        Step {
            time_ns: close.0,
            action: Action::Close(Close {
                close_id: 2,
                ticket: 1,
                symbol: "EURUSD".into(),
                side: Side::Sell,
                units: Qty(LOT / 2),
                close_all: false,
                limit: Some(qs[close.1].bid),
                transact_time_ns: close.0,
                opts,
            }),
        },
    ];
    // Clock watermarks every 5 s of capture time and one past the last quote, as `mam
    // manager --clock-every-ms 5000` sends them (orders before a clock at the same instant).
    let start = qs[0].time_ns;
    let last = end - end % MS + MS;
    let mut t = start - start % MS + 5000 * MS;
    while t < last {
        steps.push(Step {
            time_ns: t,
            action: Action::Clock(t),
        });
        t += 5000 * MS;
    }
    steps.push(Step {
        time_ns: last,
        action: Action::Clock(last),
    });
    steps.sort_by_key(|s| (s.time_ns, matches!(s.action, Action::Clock(_))));
    Setup {
        quotes: qs,
        balances,
        plan: Schedule {
            steps,
            start_ns: start,
            end_ns: last,
        },
    }
}

fn accounts_csv(balances: &[i64]) -> String {
    let mut csv =
        String::from("id,balance,equity,leverage,multiplier,margin_call_level,stop_out_level\n");
    for (s, &b) in SPECS.iter().zip(balances) {
        let b = Money(b);
        csv.push_str(&format!(
            "{},{b},{b},{},{},{},{}\n",
            s.id,
            s.leverage,
            Ratio(s.lots * Ratio::ONE_RAW / 100),
            s.margin_call,
            s.stop_out
        ));
    }
    csv
}

// ---------------------------------------------------------------------------------------
// The manager, in this process: `mam manager`'s client and driver with our plan.

struct Manager {
    thread: Option<JoinHandle<Result<DriveReport, String>>>,
    answered: Arc<Mutex<Option<DriveReport>>>,
    /// After every answer: whether the session is logged on (the manager stays, answering a
    /// restarted daemon's resend requests, until the daemon logs out).
    logged_on: Arc<AtomicBool>,
    log: PathBuf,
}

impl Manager {
    fn start(addr: &str, store: PathBuf, plan: Schedule, log: PathBuf) -> Manager {
        let answered = Arc::new(Mutex::new(None));
        let logged_on = Arc::new(AtomicBool::new(false));
        let (seen, on) = (answered.clone(), logged_on.clone());
        let addr = addr.parse().expect("manager address");
        let path = log.clone();
        let thread = std::thread::spawn(move || {
            use std::io::Write as _;
            let mut log = std::fs::File::create(path).map_err(|e| e.to_string())?;
            let mut client =
                ManagerClient::open(&ClientOptions::new(addr, store)).map_err(|e| e.to_string())?;
            let opts = DriveOptions {
                pace: Speed::Max,
                ack_timeout: Duration::from_secs(240),
                linger: false,
                linger_timeout: Duration::ZERO,
                progress_every: Duration::from_secs(1),
            };
            let r = drive(&mut client, &plan, &opts, &mut |e| {
                let _ = writeln!(log, "{e:?}");
            })
            .map_err(|e| e.to_string())?;
            let _ = writeln!(log, "answered: {r:?}");
            *seen.lock().unwrap() = Some(r);
            // `mam manager --linger`, with the session's state visible to the test.
            let t0 = Instant::now();
            while !client.peer_logged_out() {
                client
                    .poll(Duration::from_millis(5))
                    .map_err(|e| e.to_string())?;
                on.store(client.is_logged_on(), Ordering::SeqCst);
                if t0.elapsed() > RUN_PATIENCE {
                    return Err("lingered too long".into());
                }
            }
            on.store(false, Ordering::SeqCst);
            let _ = writeln!(log, "the daemon logged out");
            Ok(r)
        });
        Manager {
            thread: Some(thread),
            answered,
            logged_on,
            log,
        }
    }

    fn logged_on(&self) -> bool {
        self.logged_on.load(Ordering::SeqCst)
    }

    /// The counts once every order is answered.
    fn answered(&self) -> Option<DriveReport> {
        *self.answered.lock().unwrap()
    }

    fn check_running(&self) {
        if self.thread.as_ref().is_some_and(JoinHandle::is_finished) {
            panic!(
                "the manager stopped early:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
    }

    fn join(mut self) -> DriveReport {
        let t = self.thread.take().expect("joined once");
        let t0 = Instant::now();
        while !t.is_finished() {
            assert!(t0.elapsed() < RUN_PATIENCE, "the manager did not leave");
            std::thread::sleep(Duration::from_millis(20));
        }
        t.join()
            .expect("manager thread")
            .unwrap_or_else(|e| panic!("manager: {e}"))
    }
}

// ---------------------------------------------------------------------------------------
// One run.

/// When to kill the daemon (then restart it at once).
#[derive(Debug, Clone, Copy)]
enum Kill {
    /// This long after it said its stages run.
    AfterStart(u64),
    /// Once the journal holds this many market records, plus a delay (ms).
    Markets(u64, u64),
    /// Once the journal holds this many LimitEvents, plus a delay (ms).
    Limits(u64, u64),
}

struct Outcome {
    records: Vec<(u64, u16, Vec<u8>)>,
    lp: BTreeMap<String, LpOrder>,
    statement: String,
    digest: String,
    state: Vec<u8>,
}

fn run(dir: &Path, cap: &Capture, setup: &Setup, kills: &[Kill]) -> Outcome {
    std::fs::create_dir_all(dir).unwrap();
    let store = account_store(dir, &accounts_csv(&setup.balances));
    // The killed run's feed is paced, so that the kills land where they are aimed.
    let speed = if kills.is_empty() { "max" } else { KILLED_PACE };
    let replay = Replay::start_at(&cap.path, &out_file(dir, "replay"), speed);
    let lp = start_lp(&dir.join("executor"));
    let ds = DaemonSetup::write(dir, &replay.addr, &lp.addr().to_string(), 0);
    ds.use_account_store(&store);
    ds.append_config(&format!(
        "[engine]\ncheckpoint_every = {CHECKPOINT_EVERY}\n[engine.risk]\ncollar_bps = {COLLAR_BPS}\n"
    ));
    let dout = out_file(dir, "daemon");
    let mut daemon = ds.start(&dout);
    let manager = Manager::start(
        &ds.manager,
        dir.join("manager"),
        setup.plan.clone(),
        dir.join("manager.out"),
    );
    let watch = std::cell::RefCell::new(JournalWatch::new(&ds.state));
    let count = |kind: u16| watch.borrow_mut().count(kind);
    let complete = |m: &Manager| m.answered().is_some() && count(KIND_MARKET) == cap.quotes;
    let t0 = Instant::now();
    for (n, k) in kills.iter().enumerate() {
        let (target, delay) = match *k {
            Kill::AfterStart(ms) => (None, ms),
            Kill::Markets(m, ms) => (Some((KIND_MARKET, m)), ms),
            Kill::Limits(l, ms) => (Some((KIND_LIMIT, l)), ms),
        };
        if let Some((kind, want)) = target {
            while count(kind) < want && !complete(&manager) {
                assert!(
                    t0.elapsed() < RUN_PATIENCE,
                    "kill {n} ({k:?}) never came: {} of {} quotes journaled; daemon (last \
                     lines):\n{}",
                    count(KIND_MARKET),
                    cap.quotes,
                    tail(&daemon.output(), 30)
                );
                assert!(
                    daemon.try_wait().is_none(),
                    "daemon died:\n{}",
                    daemon.output()
                );
                manager.check_running();
                std::thread::sleep(Duration::from_micros(500));
            }
        }
        std::thread::sleep(Duration::from_millis(delay));
        daemon.kill();
        eprintln!(
            "  kill {} ({k:?}) at {} market records, {} limit events",
            n + 1,
            count(KIND_MARKET),
            count(KIND_LIMIT)
        );
        daemon = ds.start(&dout);
    }
    if !kills.is_empty() {
        let restarts = daemon.output().matches("(restarted)").count();
        assert!(restarts >= kills.len(), "{restarts} restarts recovered");
    }
    wait_until("every answer and every quote journaled", || {
        assert!(
            daemon.try_wait().is_none(),
            "daemon died:\n{}",
            daemon.output()
        );
        manager.check_running();
        if let Some(r) = manager.answered() {
            assert!(
                r.refused == 0 && r.pending == 0 && r.accepted == r.orders,
                "the manager did not get every order accepted: {r:?}"
            );
        }
        // Stopped while the manager is logged on, the daemon's Logout ends its lingering.
        complete(&manager) && manager.logged_on()
    });
    daemon.signal("-TERM");
    let st = daemon.wait();
    assert!(st.success(), "daemon exit {st}:\n{}", daemon.output());
    let r = manager.join();
    assert!(r.done(), "manager: {r:?}");
    drop(replay);
    let (digest, state) = ds.final_state();
    let lp = lp_orders(lp.dir());
    let statement = ds.statement();
    check_statement_totals(&statement, &lp);
    Outcome {
        records: ds.journal_records(),
        lp,
        statement,
        digest,
        state,
    }
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

// ---------------------------------------------------------------------------------------
// The checks.

/// A stop-out as the journal shows it.
#[derive(Debug, Clone)]
struct StopOut {
    account: usize,
    /// The LimitEvent and the input it names (kind, payload).
    event: LimitEvent,
    input: (u16, Vec<u8>),
    /// Market records up to and including that input; LimitEvents up to and including it.
    markets: u64,
    limits: u64,
    order: ChildOrder,
}

/// Everything checked in one run's outcome; returns its stop-outs and the margin-call lifts
/// journaled late, per account (with `strict`, a late lift fails the check instead).
fn check(
    name: &str,
    o: &Outcome,
    setup: &Setup,
    strict: bool,
) -> (Vec<StopOut>, Vec<Vec<(u64, u64)>>) {
    let mut accts: Vec<Acct> = SPECS
        .iter()
        .zip(&setup.balances)
        .map(|(s, &b)| Acct {
            balance: b,
            leverage: s.leverage,
            margin_call: s.margin_call * Ratio::ONE_RAW,
            stop_out: s.stop_out * Ratio::ONE_RAW,
            ..Acct::default()
        })
        .collect();
    let (mut bid, mut ask) = (0i64, 0i64);
    // Quote input seq → (time, bid).
    let mut quote_at: BTreeMap<u64, (u64, Price)> = BTreeMap::new();
    let mut orders: BTreeMap<u64, ChildOrder> = BTreeMap::new();
    let mut order_input: BTreeMap<u64, u64> = BTreeMap::new();
    let mut inputs: BTreeMap<u64, (u16, Vec<u8>)> = BTreeMap::new();
    let mut expected: Vec<LimitEvent> = Vec::new();
    let mut actual: Vec<(LimitEvent, u64, u64)> = Vec::new();
    // Per account: the first quote at which its level was at or below its stop-out level (with
    // a position), whatever the engine did.
    let mut first_cross: Vec<Option<u64>> = vec![None; SPECS.len()];
    let mut filled: BTreeMap<u64, i64> = BTreeMap::new();
    let (mut markets, mut limits) = (0u64, 0u64);
    let mut input_seq = 0u64;
    let mut instrument = None;

    for (seq, kind, payload) in &o.records {
        let (seq, kind) = (*seq, *kind);
        if let Some(input) = Input::decode(kind, payload).filter(|_| is_input_kind(kind)) {
            input_seq = seq;
            inputs.insert(seq, (kind, payload.clone()));
            match input {
                Input::Market(m) if m.kind == MarketEventKind::Quote as u8 => {
                    markets += 1;
                    assert_eq!(
                        *instrument.get_or_insert(m.instrument),
                        m.instrument,
                        "one symbol"
                    );
                    (bid, ask) = (m.bid.raw(), m.ask.raw());
                    quote_at.insert(seq, (m.source_ns, m.bid));
                    for (i, a) in accts.iter_mut().enumerate() {
                        if a.qty == 0 {
                            continue;
                        }
                        let (e, mg) = a.value(bid, ask);
                        if first_cross[i].is_none() && at_or_below(e, mg, a.stop_out) {
                            first_cross[i] = Some(seq);
                        }
                        a.check(i, m.source_ns, seq, bid, ask, strict, &mut expected);
                    }
                }
                Input::Market(_) => markets += 1,
                Input::Fill(f) => {
                    let Some(c) = orders.get(&f.cl_ord_id).copied() else {
                        panic!("{name}: fill for an order the journal never showed: {f:?}");
                    };
                    assert_ne!(c.account, u32::MAX, "{name}: a block order");
                    let i = c.account as usize;
                    let a = &mut accts[i];
                    let sign = if c.side == Side::Buy as u8 { 1 } else { -1 };
                    if f.last_qty.raw() > 0 {
                        a.book(sign * f.last_qty.raw(), f.last_px.raw());
                        *filled.entry(c.cl_ord_id).or_insert(0) += f.last_qty.raw();
                    }
                    let done = f.cum_qty == c.qty
                        || f.status == ExecStatus::Canceled as u8
                        || f.status == ExecStatus::Rejected as u8;
                    if done && c.master_ticket == LIMIT_TICKET {
                        a.stop_pending = false;
                        a.check(i, f.recv_ns, seq, bid, ask, strict, &mut expected);
                    }
                    if f.last_qty.raw() > 0 {
                        a.check(i, f.recv_ns, seq, bid, ask, strict, &mut expected);
                    }
                }
                _ => {}
            }
            continue;
        }
        match Decision::decode(kind, payload) {
            Some(Decision::Order(c)) => {
                assert!(
                    orders.insert(c.cl_ord_id, c).is_none(),
                    "{name}: ClOrdID {} twice",
                    c.cl_ord_id
                );
                order_input.insert(c.cl_ord_id, input_seq);
            }
            Some(Decision::Limit(l)) => {
                limits += 1;
                assert_eq!(
                    l.input_seq, input_seq,
                    "{name}: LimitEvent after another input: {l:?}"
                );
                if !strict && l.event == limit_event::MARGIN_CALL_LIFTED {
                    let i = l.account as usize;
                    accts[i].lifted(&l, bid, ask).unwrap_or_else(|e| {
                        panic!(
                            "{name}: {}'s margin call lifted at seq {}: {e}",
                            SPECS[i].id, l.input_seq
                        )
                    });
                } else {
                    actual.push((l, markets, limits));
                }
            }
            _ => {}
        }
    }
    assert_eq!(markets, setup.quotes.len() as u64, "{name}: market records");

    // Every LimitEvent, field for field, and no other.
    let got: Vec<LimitEvent> = actual.iter().map(|x| x.0).collect();
    if let Some(i) = (0..expected.len().max(got.len())).find(|&i| expected.get(i) != got.get(i)) {
        let show = |l: Option<&LimitEvent>| {
            l.map_or("none".to_string(), |l| {
                format!(
                    "{} {} at seq {} ({}): equity {} margin {} level {}",
                    SPECS[l.account as usize].id,
                    limit_event::text(l.event),
                    l.input_seq,
                    hms(l.ts_ns),
                    Money(l.equity),
                    Money(l.margin),
                    Ratio(l.level)
                )
            })
        };
        panic!(
            "{name}: LimitEvent {} of {} (journal) / {} (recomputed) differs:\n  journal:    {}\n  recomputed: {}\n  journal:    {:?}\n  recomputed: {:?}",
            i + 1,
            got.len(),
            expected.len(),
            show(got.get(i)),
            show(expected.get(i)),
            got.get(i),
            expected.get(i)
        );
    }

    // The stop-outs: once per account sized for one, at the first quote past its level, in
    // its window; the order that closed it.
    let mut stops = Vec::new();
    for (i, s) in SPECS.iter().enumerate() {
        let mine: Vec<&(LimitEvent, u64, u64)> = actual
            .iter()
            .filter(|x| x.0.account == i as u32 && x.0.event == limit_event::STOP_OUT)
            .collect();
        let calls = actual
            .iter()
            .filter(|x| x.0.account == i as u32 && x.0.event == limit_event::MARGIN_CALL)
            .count();
        match s.target {
            Target::StopOut(after, by) => {
                assert_eq!(
                    mine.len(),
                    1,
                    "{name}: {} stop-outs of {}: {mine:?}",
                    mine.len(),
                    s.id
                );
                let (l, m, n) = *mine[0];
                assert_eq!(
                    Some(l.input_seq),
                    first_cross[i],
                    "{name}: {} stopped out at input {}, but its level first reached {} % at quote {:?}",
                    s.id,
                    l.input_seq,
                    s.stop_out,
                    first_cross[i]
                );
                let (t, q_bid) = quote_at.get(&l.input_seq).copied().unwrap_or_else(|| {
                    panic!(
                        "{name}: {}'s stop-out names input {}, not a quote",
                        s.id, l.input_seq
                    )
                });
                assert!(
                    at(after) < t && t <= at(by),
                    "{name}: {} stopped out at {}, outside its window {after:?}-{by:?}",
                    s.id,
                    hms(t)
                );
                assert!(
                    calls >= 1,
                    "{name}: {} stopped out without a margin call",
                    s.id
                );
                // Its order: the only engine order of the account, in the same input.
                let engine: Vec<&ChildOrder> = orders
                    .values()
                    .filter(|c| c.account == i as u32 && c.master_ticket == LIMIT_TICKET)
                    .collect();
                assert_eq!(
                    engine.len(),
                    1,
                    "{name}: {} engine orders of {}",
                    engine.len(),
                    s.id
                );
                let c = *engine[0];
                assert_eq!(
                    order_input[&c.cl_ord_id], l.input_seq,
                    "{name}: {}'s order",
                    s.id
                );
                let held = LOT / 100 * s.lots;
                assert_eq!(
                    c.qty.raw(),
                    held,
                    "{name}: {}'s stop-out closes the position",
                    s.id
                );
                assert_eq!(c.side, Side::Sell as u8, "{name}: {} sells its long", s.id);
                assert_eq!(c.ord_type, OrdType::Limit as u8, "{name}: {}", s.id);
                assert!(
                    c.price.raw() > 0 && c.price <= q_bid,
                    "{name}: {}'s stop-out limit {} is not marketable at bid {q_bid}",
                    s.id,
                    c.price,
                );
                assert_eq!(
                    filled.get(&c.cl_ord_id),
                    Some(&held),
                    "{name}: {}'s stop-out fill",
                    s.id
                );
                // Reached the LP once, as sent.
                let at_lp = o.lp.get(&c.cl_ord_id.to_string()).unwrap_or_else(|| {
                    panic!(
                        "{name}: {}'s stop-out {} never reached the LP",
                        s.id, c.cl_ord_id
                    )
                });
                assert_eq!(
                    at_lp.seqs.len(),
                    1,
                    "{name}: {}'s stop-out at the LP: {at_lp:?}",
                    s.id
                );
                let tag = |t: &str| {
                    at_lp
                        .fields
                        .iter()
                        .find_map(|f| f.strip_prefix(t)?.strip_prefix('='))
                        .unwrap_or_else(|| {
                            panic!("{name}: {}'s stop-out at the LP lacks tag {t}", s.id)
                        })
                };
                let sent = (
                    tag("1"),
                    tag("54"),
                    tag("40"),
                    Qty::parse(tag("38")).ok(),
                    Price::parse(tag("44")).ok(),
                );
                assert_eq!(
                    sent,
                    (s.id, "2", "2", Some(c.qty), Some(c.price)),
                    "{name}: {}'s stop-out at the LP (account id, side, type, qty, price)",
                    s.id
                );
                let input = inputs[&l.input_seq].clone();
                stops.push(StopOut {
                    account: i,
                    event: l,
                    input,
                    markets: m,
                    limits: n,
                    order: c,
                });
            }
            _ => {
                assert!(mine.is_empty(), "{name}: {} stopped out: {mine:?}", s.id);
                assert_eq!(
                    first_cross[i], None,
                    "{name}: {}'s level reached its stop-out level",
                    s.id
                );
                let want_call = s.target == Target::MarginCallOnly;
                assert_eq!(
                    calls >= 1,
                    want_call,
                    "{name}: {} margin calls of {}",
                    calls,
                    s.id
                );
            }
        }
        // Orders per account: the open and its stop-out, or the open and the 15:50 close.
        let mine = orders.values().filter(|c| c.account == i as u32).count();
        let want = if s.target == Target::Idle { 0 } else { 2 };
        assert_eq!(mine, want, "{name}: orders of {}", s.id);
        // Stopped accounts end flat, the others hold half of what they bought.
        let want_qty = match s.target {
            Target::StopOut(..) | Target::Idle => 0,
            _ => LOT / 100 * s.lots / 2,
        };
        assert_eq!(accts[i].qty, want_qty, "{name}: {}'s final position", s.id);
    }

    // The statement: money and positions as recomputed (marked at the last quote).
    let doc: serde_json::Value = serde_json::from_str(o.statement.trim()).expect("statement JSON");
    let rows = doc["accounts"].as_array().expect("accounts[]");
    assert_eq!(rows.len(), SPECS.len(), "{name}: statement accounts");
    for ((row, s), a) in rows.iter().zip(&SPECS).zip(&accts) {
        let (e, m) = a.value(bid, ask);
        let field = |k: &str| row[k].as_str().unwrap_or_default().to_string();
        assert_eq!(field("account"), s.id, "{name}: statement order");
        assert_eq!(
            field("balance"),
            Money(a.balance).to_string(),
            "{name}: {} balance",
            s.id
        );
        assert_eq!(
            field("equity"),
            Money(e).to_string(),
            "{name}: {} equity",
            s.id
        );
        assert_eq!(
            field("margin"),
            Money(m).to_string(),
            "{name}: {} margin",
            s.id
        );
        let want_limits = if a.in_call { "margin-call" } else { "-" };
        assert_eq!(field("limits"), want_limits, "{name}: {} limits", s.id);
        let qty: i64 = row["positions"]
            .as_array()
            .expect("positions[]")
            .iter()
            .map(|p| Qty::parse(p["qty"].as_str().unwrap()).unwrap().raw())
            .sum();
        assert_eq!(qty, a.qty, "{name}: {} position", s.id);
        if a.qty == 0 {
            continue;
        }
        assert!(
            !at_or_below(e, m, a.stop_out),
            "{name}: {} ends at or below its stop-out level",
            s.id
        );
    }
    let late = accts.iter().map(|a| a.late_lifts.clone()).collect();
    (stops, late)
}

/// Every LimitEvent of a run with the input it names (kind and payload).
fn limit_events(o: &Outcome) -> Vec<(LimitEvent, u16, Vec<u8>)> {
    let inputs: BTreeMap<u64, (u16, &Vec<u8>)> = o
        .records
        .iter()
        .filter(|r| is_input_kind(r.1))
        .map(|r| (r.0, (r.1, &r.2)))
        .collect();
    o.records
        .iter()
        .filter_map(|r| match Decision::decode(r.1, &r.2) {
            Some(Decision::Limit(l)) => {
                let (kind, payload) = inputs[&l.input_seq];
                Some((l, kind, payload.clone()))
            }
            _ => None,
        })
        .collect()
}

/// The killed run's LimitEvents are the reference's, each with the content of the input it
/// names. Not `strict`: except for the event time of a fill (its `recv_ns`, and the `ts_ns` of
/// LimitEvents at it), which a restarted daemon stamps 0 on the fills of orders it awaits
/// again (known bug, see `killed_run_journals_the_limit_events_of_an_uninterrupted_one`);
/// those differences are printed.
fn compare_limit_events(reference: &Outcome, killed: &Outcome, strict: bool) {
    let stamp_free = |v: &[(LimitEvent, u16, Vec<u8>)]| {
        v.iter()
            .map(|(l, kind, payload)| {
                let (mut l, mut payload) = (*l, payload.clone());
                if *kind == KIND_FILL && !strict {
                    l.ts_ns = 0;
                    payload[..8].fill(0); // FillEvent::recv_ns
                }
                (l, *kind, payload)
            })
            .collect::<Vec<_>>()
    };
    let (raw_a, raw_b) = (limit_events(reference), limit_events(killed));
    let (a, b) = (stamp_free(&raw_a), stamp_free(&raw_b));
    if let Some(i) = (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i)) {
        panic!(
            "LimitEvent {} of {} (reference) / {} (killed) differs{}:\n  reference: {:?}\n  killed:    {:?}",
            i + 1,
            a.len(),
            b.len(),
            if strict { "" } else { " (fill stamps aside)" },
            raw_a.get(i),
            raw_b.get(i)
        );
    }
    for (x, y) in raw_a.iter().zip(&raw_b).filter(|(x, y)| x != y) {
        eprintln!(
            "  KNOWN BUG: {}'s {} at a fill (seq {}) stamped {} after a restart, {} without",
            SPECS[x.0.account as usize].id,
            limit_event::text(x.0.event),
            x.0.input_seq,
            y.0.ts_ns,
            hms(x.0.ts_ns)
        );
    }
}

fn workdir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .disable_cleanup(std::env::var_os("MAM_TESTS_KEEP").is_some())
        .tempdir()
        .unwrap();
    eprintln!("working in {}", dir.path().display());
    dir
}

/// The uninterrupted run: its outcome, checked, and its stop-outs (printed).
fn reference_run(dir: &Path, strict: bool) -> (Capture, Setup, Outcome, Vec<StopOut>) {
    let cap = convert_eurusd(dir, HOURS);
    let setup = plan_and_accounts(&cap);
    let t = Instant::now();
    let reference = run(&dir.join("reference"), &cap, &setup, &[]);
    let (stops, late) = check("reference", &reference, &setup, strict);
    for s in &stops {
        eprintln!(
            "  {} stopped out at quote {} of {} ({}): equity {} margin {} level {} %; order {} \
             sells {} at {}",
            SPECS[s.account].id,
            s.markets,
            setup.quotes.len(),
            hms(s.event.ts_ns),
            Money(s.event.equity),
            Money(s.event.margin),
            Ratio(s.event.level),
            s.order.cl_ord_id,
            s.order.qty,
            s.order.price
        );
    }
    for (spec, l) in SPECS.iter().zip(&late) {
        for (due, got) in l {
            eprintln!(
                "  KNOWN BUG: {}'s margin call due to be lifted at input {due}, journaled at \
                 {got} (see margin_calls_are_lifted_at_the_first_quote_above_the_level)",
                spec.id
            );
        }
    }
    eprintln!(
        "reference run and checks: {:.1} s",
        t.elapsed().as_secs_f64()
    );
    (cap, setup, reference, stops)
}

/// Seeded kills: one during start-up; for each quote that stopped accounts out in the
/// reference, one shortly before it (0-150 quotes) and one right after its first stop-out is
/// journaled (0-7 ms: before or after the order reached the LP, before or after its fill);
/// one near the end.
fn kill_plan(stops: &[StopOut], quotes: u64) -> Vec<Kill> {
    let mut rng = Rng(0x5709);
    let mut kills = vec![Kill::AfterStart(200 + rng.below(400))];
    let mut by_quote: BTreeMap<u64, u64> = BTreeMap::new();
    for s in stops {
        let l = by_quote.entry(s.markets).or_insert(s.limits);
        *l = (*l).min(s.limits);
    }
    for (&markets, &limits) in &by_quote {
        kills.push(Kill::Markets(markets - 1 - rng.below(150), rng.below(20)));
        kills.push(Kill::Limits(limits, rng.below(8)));
    }
    kills.push(Kill::Markets(quotes - rng.below(500), rng.below(20)));
    kills
}

fn killed_run(dir: &Path, cap: &Capture, setup: &Setup, stops: &[StopOut]) -> Outcome {
    let t = Instant::now();
    let kills = kill_plan(stops, setup.quotes.len() as u64);
    let killed = run(&dir.join("killed"), cap, setup, &kills);
    eprintln!(
        "killed run ({} kills): {:.1} s",
        kills.len(),
        t.elapsed().as_secs_f64()
    );
    killed
}

#[test]
fn stop_outs_on_real_data_at_the_first_quote_past_the_level_and_once_across_kills() {
    let dir = workdir();
    let (cap, setup, reference, stops) = reference_run(dir.path(), false);
    let killed = killed_run(dir.path(), &cap, &setup, &stops);
    let (killed_stops, _) = check("killed", &killed, &setup, false);

    // The same stop-outs, named by the content of their inputs, and the same LimitEvents.
    let key = |v: &[StopOut]| {
        v.iter()
            .map(|s| {
                let mut l = s.event;
                l.input_seq = 0;
                (l, s.input.clone(), s.order)
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(key(&killed_stops), key(&stops), "stop-outs of the two runs");
    compare_limit_events(&reference, &killed, false);
    // The orders the LP received: the same, each once (the stop-outs among them).
    for (name, lp) in [("reference", &reference.lp), ("killed", &killed.lp)] {
        for (id, o) in lp {
            assert_eq!(
                o.seqs.len(),
                1,
                "{name} run: ClOrdID {id} received twice: {o:?}"
            );
        }
    }
    let fields = |lp: &BTreeMap<String, LpOrder>| {
        lp.iter()
            .map(|(k, o)| (k.clone(), o.fields.clone()))
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(
        fields(&killed.lp),
        fields(&reference.lp),
        "orders the LP received"
    );
    // The same ledger and state.
    assert_eq!(
        killed.statement, reference.statement,
        "statements of the two runs"
    );
    assert_eq!(killed.digest, reference.digest, "state digest line");
    assert!(
        killed.state == reference.state,
        "final engine state bytes differ"
    );
}

/// The docs promise every crossing at the first quote past the level, the margin call's lift
/// included ("lifted when the level is back above"). Seen: account A04's margin call, raised
/// at 14:07:10.168 (bid 1.14398, ask 1.14402, level 99.935314 %), is due to be lifted at the
/// next quote, 14:07:10.271 (bid 1.14399, ask 1.14402: level 100.284093 %), and is lifted one
/// quote late, at 14:07:10.508 (bid 1.14399, ask 1.14403); eight lifts of A04 and A06 are
/// late by 1 to 10 quotes. An account too close to a limit gets the current quote itself as
/// its price box (`Ledger::guard_box` when no width holds), and that box is not checked
/// against the conditions: a bid rising inside the previous spread leaves neither bound,
/// though a long's level rises with it.
#[test]
fn margin_calls_are_lifted_at_the_first_quote_above_the_level() {
    let dir = workdir();
    reference_run(dir.path(), true);
}

/// docs/daemon.md: with event-time sequencing the fills of an input's orders are "stamped
/// with the master's event time" (core's event_time.rs: the event time of the input that
/// caused the orders). Seen when this test was written: the daemon killed right after a
/// stop-out's LimitEvent is journaled and before the order's fill is; the restarted daemon
/// awaited the order again, got the fill and journaled it with `recv_ns` 0 (the reference: the
/// stop-out quote's time), and the margin-call lift at that fill carried `ts_ns` 0: the
/// sequencer's clock started at 0 after a restart. Fixed by `EngineStage::with_event_clock`
/// (83921f4); the test stayed ignored until stop 25, which ran it three times (26 s each).
#[test]
fn killed_run_journals_the_limit_events_of_an_uninterrupted_one() {
    let dir = workdir();
    let (cap, setup, reference, stops) = reference_run(dir.path(), false);
    let killed = killed_run(dir.path(), &cap, &setup, &stops);
    compare_limit_events(&reference, &killed, true);
}
