//! Generated demo data, all from one seed (splitmix64, exact integers): accounts, an FX quote
//! stream (random walk in points), and a manager's script of master trades, partial and full
//! closes, deposits and withdrawals.

use mam_core::account::{AccountRecord, AccountVecs, FLAG_ACTIVE, FLAG_CLOSE_ONLY, USD};
use mam_core::engine::input::{
    model_code, BalanceChange, Input, MasterClose, MasterOpen, CLOSE_FULL, MODE_BLOCK,
    MODE_PER_ACCOUNT,
};
use mam_core::event::{MarketEvent, MarketEventKind, Side};
use mam_core::num::{Lots, Money, Price, Qty, Ratio};
use mam_core::symbol::SymbolTable;

/// splitmix64 (the repository's one copy).
pub use mam_core::rand::SplitMix64 as Rng;

/// Event time of the first input: 2026-01-05 08:00:00 UTC in ns.
pub const T0: u64 = 1_767_600_000_000_000_000;
/// Event time between two quotes.
pub const QUOTE_NS: u64 = 1_000_000;

/// The demo's instruments: name, start mid, spread range in points.
pub const INSTRUMENTS: [(&str, &str, i64, i64); 4] = [
    ("EURUSD", "1.08500", 2, 8),
    ("GBPUSD", "1.26500", 3, 10),
    ("USDJPY", "151.500", 2, 8),
    ("XAUUSD", "2350.00", 10, 40),
];

/// `n` accounts with varied balances (500 to 2,000,000), equity within ±8 %, leverage 30 to
/// 500, model parameters and risk settings; about 3 % inactive and 2 % close-only.
pub fn accounts(n: usize, seed: u64) -> AccountVecs {
    let mut r = Rng(seed ^ 0xACC0_0000);
    let mut v = AccountVecs::default();
    let pct_each = 100 * Ratio::ONE_RAW / n.max(1) as i64; // Σ percent ≈ 75 %
    for i in 0..n {
        // Log-uniform-ish balance: a tier, then a mantissa.
        let tier = [500, 5_000, 50_000, 500_000][r.range(0, 3) as usize];
        let balance = tier * Money::ONE_RAW * r.range(100, 400) / 100;
        let equity = balance + balance / 1000 * r.range(-80, 80);
        let margin = equity / 1000 * r.range(0, 300);
        let flags = match r.range(0, 99) {
            0..=2 => 0,
            3 | 4 => FLAG_ACTIVE | FLAG_CLOSE_ONLY,
            _ => FLAG_ACTIVE,
        };
        let mut id = [0u8; 16];
        let text = format!("INV{i:06}");
        id[..text.len()].copy_from_slice(text.as_bytes());
        v.push(&AccountRecord {
            id,
            balance: Money(balance),
            equity: Money(equity),
            margin_used: Money(margin),
            equity_hwm: Money(balance.max(equity)),
            multiplier: Ratio(r.range(10, 300) * 10_000),
            percent: Ratio(pct_each * r.range(50, 100) / 100),
            fixed_lots: Lots(100 * r.range(1, 50)),
            risk_fraction: Ratio(r.range(5, 30) * 1_000),
            drawdown_tolerance: Ratio(r.range(10, 40) * 10_000),
            min_scale: Ratio(r.range(0, 50) * 10_000),
            max_scale: Ratio(r.range(100, 200) * 10_000),
            leverage: [30, 50, 100, 200, 500][r.range(0, 4) as usize],
            cluster: (tier.ilog10() - 2) as u16,
            flags,
            commission_per_lot: Money::ZERO,
            daily_loss_limit: Money::ZERO,
            margin_call_level: Ratio(0),
            stop_out_level: Ratio(0),
            currency: USD,
        });
    }
    v
}

/// The demo's instrument ids in `symbols`, with each one's point (one price tick).
pub fn instrument_ids(symbols: &SymbolTable) -> Vec<(u32, Price)> {
    INSTRUMENTS
        .iter()
        .map(|(name, ..)| {
            let id = symbols.id_of(name).expect("built-in symbol");
            let spec = symbols.by_id(id).expect("id from the table");
            let point = Price(10i64.pow(Price::DECIMALS - spec.price_decimals));
            (id, point)
        })
        .collect()
}

/// `count` quotes, one every [`QUOTE_NS`], on a random instrument each: the mid walks by
/// −3..=3 points, the spread varies within the instrument's range.
pub fn quotes(symbols: &SymbolTable, count: usize, seed: u64) -> Vec<MarketEvent> {
    let mut r = Rng(seed ^ 0xFEED_0000);
    let ids = instrument_ids(symbols);
    let mut mids: Vec<i64> = INSTRUMENTS
        .iter()
        .map(|(_, m, ..)| Price::parse(m).expect("valid").raw())
        .collect();
    (0..count)
        .map(|k| {
            // The first four quotes give every instrument a price before any trade.
            let j = if k < 4 { k } else { r.range(0, 3) as usize };
            let (id, point) = ids[j];
            mids[j] += r.range(-3, 3) * point.raw();
            let half = r.range(INSTRUMENTS[j].2, INSTRUMENTS[j].3) * point.raw() / 2;
            MarketEvent {
                recv_ns: 0,
                source_ns: T0 + k as u64 * QUOTE_NS,
                seq: k as u64 + 1,
                instrument: id,
                source: 1,
                kind: MarketEventKind::Quote as u8,
                level: 0,
                bid: Price(mids[j] - half),
                ask: Price(mids[j] + half),
                bid_size: Qty(r.range(1, 10) * 1_000_000 * Qty::ONE_RAW),
                ask_size: Qty(r.range(1, 10) * 1_000_000 * Qty::ONE_RAW),
            }
        })
        .collect()
}

/// Models the manager cycles through.
const MODELS: [u8; 8] = [
    model_code::EQUITY,
    model_code::BALANCE,
    model_code::MULTIPLIER,
    model_code::FREE_MARGIN,
    model_code::RISK,
    model_code::PERCENT,
    model_code::FIXED,
    model_code::EQUITY_RATIO,
];

/// The whole input script, sorted by event time: quotes interleaved with `trades` master
/// trades (each opened, partially closed once or twice, then closed in full) and deposits and
/// withdrawals. Returns the inputs and how many accounts there are (for deposits).
pub fn script(symbols: &SymbolTable, accounts: usize, trades: usize, seed: u64) -> Vec<Input> {
    let mut r = Rng(seed ^ 0x3A4A_6E00);
    let ids = instrument_ids(symbols);
    let spacing = 60u64; // quotes between trade starts
    let mut events: Vec<(u64, u64, Input)> = Vec::new(); // (ts, order, input)
    let mut order = 0u64;
    let mut push = |ts: u64, i: Input, events: &mut Vec<(u64, u64, Input)>| {
        order += 1;
        events.push((ts, order, i));
    };
    let mut end = 0u64;
    for k in 0..trades {
        let t_open = T0 + (k as u64 * spacing + r.range(5, 40) as u64) * QUOTE_NS + 500_000;
        let j = r.range(0, 3) as usize;
        let model = MODELS[k % MODELS.len()];
        let steps: i64 = match model {
            model_code::MULTIPLIER | model_code::EQUITY_RATIO => r.range(10, 200),
            model_code::FIXED | model_code::RISK => 100,
            _ => r.range(200, 5_000),
        };
        let mode = if r.range(0, 1) == 0 {
            MODE_BLOCK
        } else {
            MODE_PER_ACCOUNT
        };
        let ticket = 1_000 + k as u64;
        let sl_points = r.range(150, 600);
        push(
            t_open,
            Input::Open(MasterOpen {
                ts_ns: t_open,
                ticket,
                lots: Lots(steps * 100),
                limit_price: Price::ZERO,
                sl_distance: Price(ids[j].1.raw() * sl_points),
                quote_to_account: Price::ZERO,
                reference: Money(100_000 * Money::ONE_RAW),
                instrument: ids[j].0,
                model,
                side: if r.range(0, 1) == 0 {
                    Side::Buy as u8
                } else {
                    Side::Sell as u8
                },
                // Every other master asks for the adaptive layer (docs/adaptive.md): the demo
                // shows both rules side by side.
                policy: r.range(0, 1) as u8
                    | if k % 2 == 1 {
                        mam_core::engine::input::POLICY_ADAPTIVE
                    } else {
                        0
                    },
                mode,
            }),
            &mut events,
        );
        let mut left = steps;
        let mut t = t_open;
        for _ in 0..r.range(1, 2) {
            t += r.range(30, 90) as u64 * QUOTE_NS;
            let c = left * r.range(25, 60) / 100;
            if c == 0 {
                continue;
            }
            left -= c;
            push(t, close(t, ticket, c, false, &mut r), &mut events);
        }
        t += r.range(30, 120) as u64 * QUOTE_NS;
        push(t, close(t, ticket, left, true, &mut r), &mut events);
        end = end.max(t);
        if k % 3 == 1 {
            let ts = t_open + 7 * QUOTE_NS;
            let amount = if r.range(0, 2) == 0 {
                -r.range(1, 200) * Money::ONE_RAW
            } else {
                r.range(100, 50_000) * Money::ONE_RAW
            };
            let account = r.range(0, accounts.max(1) as i64 - 1) as u32;
            push(
                ts,
                Input::Balance(BalanceChange {
                    ts_ns: ts,
                    amount: Money(amount),
                    account,
                    manager: 0,
                    flags: 0,
                    request_id: 0,
                }),
                &mut events,
            );
        }
    }
    let n_quotes = ((end.saturating_sub(T0)) / QUOTE_NS + 100) as usize;
    for q in quotes(symbols, n_quotes, seed) {
        push(q.source_ns, Input::Market(q), &mut events);
    }
    events.sort_by_key(|e| (e.0, e.1));
    events.into_iter().map(|e| e.2).collect()
}

fn close(ts: u64, ticket: u64, steps: i64, full: bool, r: &mut Rng) -> Input {
    Input::Close(MasterClose {
        ts_ns: ts,
        ticket,
        lots: Lots(steps * 100),
        full: if full { CLOSE_FULL } else { 0 },
        residual: r.range(0, 1) as u8,
        mode: if r.range(0, 1) == 0 {
            MODE_BLOCK
        } else {
            MODE_PER_ACCOUNT
        },
        _pad: [0; 5],
        order_id: 0,
    })
}
