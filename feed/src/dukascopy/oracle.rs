//! Dukascopy's JSON API form of an hour of ticks (as dukascopy-node's test mocks hold it).
//!
//! ```json
//! {"timestamp":1676894400000,"multiplier":0.1,"ask":24921.5,"bid":24849.4,
//!  "times":[84,114,…],"asks":[0,0,28,…],"bids":[0,0,8,…],
//!  "askVolumes":[1.48,…],"bidVolumes":[13.0,…]}
//! ```
//!
//! Delta encoding: tick `i`'s time is `timestamp + Σ times[0..=i]` ms; its ask is
//! `ask + multiplier × Σ asks[0..=i]` (likewise bid). The volumes are plain values in base
//! units, with two decimals where the `.bi5` holds whole units (see
//! [`OracleTick::volumes_match`]). Every number is read as the decimal it is written as (the
//! JSON text's shortest form), so prices are exact.

use mam_core::num::{div_round_i128, Price, Qty, Rounding};
use serde_json::Value;

use super::{DukascopyError, Tick};

/// One tick of the JSON form, exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OracleTick {
    /// ms since the epoch.
    pub time_ms: i64,
    /// Ask.
    pub ask: Price,
    /// Bid.
    pub bid: Price,
    /// Ask volume, base units, as written.
    pub ask_volume: Qty,
    /// Bid volume, base units, as written.
    pub bid_volume: Qty,
}

impl OracleTick {
    /// Time and prices equal.
    pub fn prices_match(&self, t: &Tick) -> bool {
        self.time_ms == t.time_ms && self.ask == t.ask && self.bid == t.bid
    }
    /// The `.bi5` holds volumes rounded to whole units, half to even (the JSON's 1.5 is the
    /// `.bi5`'s 2, its 6.5 is 6, its 1.48 is 1): true if both volumes agree under that rule.
    pub fn volumes_match(&self, t: &Tick) -> bool {
        let whole = |q: Qty| {
            div_round_i128(
                i128::from(q.0),
                i128::from(Qty::ONE_RAW),
                Rounding::HalfEven,
            )
        };
        let units = |q: Qty| i128::from(q.0) / i128::from(Qty::ONE_RAW);
        let exact_units = |q: Qty| q.0 % Qty::ONE_RAW == 0;
        exact_units(t.ask_volume)
            && exact_units(t.bid_volume)
            && whole(self.ask_volume) == units(t.ask_volume)
            && whole(self.bid_volume) == units(t.bid_volume)
    }
}

fn field<'a>(v: &'a Value, k: &str, file: &str) -> Result<&'a Value, DukascopyError> {
    v.get(k).ok_or_else(|| DukascopyError::Json {
        file: file.into(),
        why: format!("no `{k}`"),
    })
}

fn decimal<T>(
    v: &Value,
    what: &str,
    file: &str,
    parse: fn(&str) -> Option<T>,
) -> Result<T, DukascopyError> {
    match v {
        Value::Number(n) => parse(&n.to_string()),
        _ => None,
    }
    .ok_or_else(|| DukascopyError::Json {
        file: file.into(),
        why: format!("`{what}` = {v} is not an exact decimal of the expected scale"),
    })
}

fn array<'a>(v: &'a Value, k: &str, file: &str) -> Result<&'a Vec<Value>, DukascopyError> {
    field(v, k, file)?
        .as_array()
        .ok_or_else(|| DukascopyError::Json {
            file: file.into(),
            why: format!("`{k}` is not an array"),
        })
}

/// Parses the JSON text of one hour. `file` names it in errors.
pub fn parse_oracle(text: &str, file: &str) -> Result<Vec<OracleTick>, DukascopyError> {
    let v: Value = serde_json::from_str(text).map_err(|e| DukascopyError::Json {
        file: file.into(),
        why: e.to_string(),
    })?;
    let int = |s: &str| s.parse::<i64>().ok();
    let price = |s: &str| Price::parse(s).ok();
    let qty = |s: &str| Qty::parse(s).ok();
    let t0 = decimal(field(&v, "timestamp", file)?, "timestamp", file, int)?;
    let mult = decimal(field(&v, "multiplier", file)?, "multiplier", file, price)?;
    let ask0 = decimal(field(&v, "ask", file)?, "ask", file, price)?;
    let bid0 = decimal(field(&v, "bid", file)?, "bid", file, price)?;
    let (times, asks, bids) = (
        array(&v, "times", file)?,
        array(&v, "asks", file)?,
        array(&v, "bids", file)?,
    );
    let (avs, bvs) = (
        array(&v, "askVolumes", file)?,
        array(&v, "bidVolumes", file)?,
    );
    let n = times.len();
    if [asks.len(), bids.len(), avs.len(), bvs.len()]
        .iter()
        .any(|&l| l != n)
    {
        return Err(DukascopyError::Json {
            file: file.into(),
            why: "times, asks, bids, askVolumes and bidVolumes differ in length".into(),
        });
    }
    let overflow = || DukascopyError::Json {
        file: file.into(),
        why: "cumulative value overflows".into(),
    };
    let (mut t, mut da, mut db) = (t0, 0i64, 0i64);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        t = t
            .checked_add(decimal(&times[i], "times[]", file, int)?)
            .ok_or_else(overflow)?;
        da = da
            .checked_add(decimal(&asks[i], "asks[]", file, int)?)
            .ok_or_else(overflow)?;
        db = db
            .checked_add(decimal(&bids[i], "bids[]", file, int)?)
            .ok_or_else(overflow)?;
        let at = |base: Price, d: i64| {
            mult.checked_mul_int(d)
                .and_then(|x| base.checked_add(x))
                .map_err(|_| overflow())
        };
        out.push(OracleTick {
            time_ms: t,
            ask: at(ask0, da)?,
            bid: at(bid0, db)?,
            ask_volume: decimal(&avs[i], "askVolumes[]", file, qty)?,
            bid_volume: decimal(&bvs[i], "bidVolumes[]", file, qty)?,
        });
    }
    Ok(out)
}
