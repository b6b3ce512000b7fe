//! What the replay driver hands the report: plain data, integers for money.
//!
//! Money is `mam_core::num::Money`'s raw value (micro-units of the account currency), ratios are
//! `Ratio`'s raw value (10⁻⁶: 0.2 = 200_000). The report does not depend on `mam-core` so that it
//! stays a leaf module the driver fills in.

use anyhow::{ensure, Result};
use serde::{Deserialize, Serialize};

/// One replay of the manager's trades through the engine, under one allocation rule.
///
/// Indices: `[account][day]` for per-account daily series, `[day]` for totals. Every run of one
/// report covers the same accounts (same order) and the same days.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunSeries {
    /// The rule this run allocated with: `"static"` or `"adaptive"` (the verdict compares the
    /// run named `adaptive` against the one named `static`).
    pub name: String,
    /// UTC day number (days since 1970-01-01) of each sample, strictly increasing.
    pub days: Vec<u32>,
    /// `[account][day]`: end-of-day equity (balance + floating P&L at the day's last marks),
    /// Money raw.
    pub equity: Vec<Vec<i64>>,
    /// Per account: equity at the start of the first day (before its flows), Money raw.
    pub balance_start: Vec<i64>,
    /// `[account][day]`: net external cash flow that day (deposits positive, withdrawals
    /// negative; 0 mostly), Money raw, taken as arriving at the end of the day. Returns exclude
    /// it. Empty means no flows at all.
    pub deposits: Vec<Vec<i64>>,
    /// Per account: its maximum drawdown tolerance as `Ratio` raw (0.2 = 200_000); 0 = none.
    pub tolerance: Vec<i64>,
    /// Per account: how many stop-outs the engine executed.
    pub stop_outs: Vec<u32>,
    /// Per account: how many margin calls the engine journaled.
    pub margin_calls: Vec<u32>,
    /// Account-allocations (one per account per master fill increment) whose size stayed
    /// inside the manager's bounds for that account.
    pub in_bounds: u64,
    /// All account-allocations (the denominator of `in_bounds`).
    pub allocations: u64,
    /// `[day]`: Σ over accounts of |position notional| at the end of the day, Money raw. Empty
    /// if the driver has none (capital efficiency is then not reported).
    pub exposure_notional: Vec<i64>,
    /// `[day]`: Σ over accounts of used margin at the end of the day, Money raw (empty as above).
    pub margin_used: Vec<i64>,
    /// Σ traded notional over the run (every child fill, both sides counted), Money raw.
    pub turnover: i64,
    /// Commissions plus spread cost over the run, Money raw.
    pub cost: i64,
    /// Time series of the adaptive layer's factor values (empty for the static run).
    pub factors: Vec<FactorSample>,
    /// The regime filter's label over each symbol's price (may be empty).
    pub regime: Vec<RegimeSample>,
}

/// One factor value of the adaptive layer at one time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FactorSample {
    /// When: UTC nanoseconds since the Unix epoch (a daily value uses the day's midnight,
    /// `day × 86_400 × 10⁹`).
    pub ts_ns: u64,
    /// The symbol the factor belongs to (or a cluster or account label for per-cluster ones).
    pub symbol: String,
    /// The factor's name (`volatility`, `margin_buffer`, ...): one plot per name.
    pub name: String,
    /// The value in parts per million (1.0 = 1_000_000), as the engine's fixed point holds it.
    pub value_ppm: i64,
}

/// The regime filter's label at one price sample.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RegimeSample {
    /// When: UTC nanoseconds since the Unix epoch.
    pub ts_ns: u64,
    /// The symbol.
    pub symbol: String,
    /// The price (mid or close of the bar); `f64` because it is only plotted.
    pub price: f64,
    /// The regime: 0 calm, 1 normal, 2 stressed.
    pub label: u8,
}

/// An inclusive range of UTC day numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayRange {
    /// First day (days since 1970-01-01, UTC).
    pub first: u32,
    /// Last day, inclusive.
    pub last: u32,
}

/// What the report is about: printed at its top and copied into `report.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// The manager's strategy (free text: a name, or the manager file replayed).
    pub strategy: String,
    /// The symbols traded.
    pub symbols: Vec<String>,
    /// Days the adaptive model was trained on.
    pub train: DayRange,
    /// Days replayed for this report (out of sample: after, or apart from, `train`).
    pub validate: DayRange,
    /// Number of investor accounts.
    pub accounts: u32,
    /// How train and validation data were split (e.g. "chronological: first 9 months train,
    /// last 3 validate, no overlap").
    pub split: String,
    /// The model file the adaptive run loaded.
    pub model_path: String,
    /// Its checksum, as `mam train` printed it.
    pub model_checksum: String,
}

impl RunSeries {
    /// Number of accounts.
    pub fn accounts(&self) -> usize {
        self.equity.len()
    }

    /// Checks that the series' shapes agree, with a message naming the field that does not.
    pub fn check(&self) -> Result<()> {
        let n = self.accounts();
        let d = self.days.len();
        let name = &self.name;
        ensure!(n > 0, "run `{name}`: no accounts");
        ensure!(d > 0, "run `{name}`: no days");
        ensure!(
            self.days.windows(2).all(|w| w[0] < w[1]),
            "run `{name}`: days must be strictly increasing"
        );
        for (field, len) in [
            ("balance_start", self.balance_start.len()),
            ("tolerance", self.tolerance.len()),
            ("stop_outs", self.stop_outs.len()),
            ("margin_calls", self.margin_calls.len()),
        ] {
            ensure!(
                len == n,
                "run `{name}`: {field} has {len} entries for {n} accounts"
            );
        }
        ensure!(
            self.deposits.is_empty() || self.deposits.len() == n,
            "run `{name}`: deposits has {} accounts for {n} (empty means no flows)",
            self.deposits.len()
        );
        for (a, e) in self.equity.iter().enumerate() {
            ensure!(
                e.len() == d,
                "run `{name}`: equity[{a}] has {} days for {d}",
                e.len()
            );
        }
        for (a, f) in self.deposits.iter().enumerate() {
            ensure!(
                f.len() == d,
                "run `{name}`: deposits[{a}] has {} days for {d}",
                f.len()
            );
        }
        for (field, len) in [
            ("exposure_notional", self.exposure_notional.len()),
            ("margin_used", self.margin_used.len()),
        ] {
            ensure!(
                len == 0 || len == d,
                "run `{name}`: {field} has {len} days for {d} (empty means not recorded)"
            );
        }
        ensure!(
            self.in_bounds <= self.allocations,
            "run `{name}`: in_bounds {} > allocations {}",
            self.in_bounds,
            self.allocations
        );
        ensure!(
            self.tolerance.iter().all(|&t| t >= 0),
            "run `{name}`: a negative drawdown tolerance"
        );
        Ok(())
    }
}

/// `YYYY-MM-DD` of a UTC day number (days since 1970-01-01), proleptic Gregorian
/// (H. Hinnant's `civil_from_days`).
pub fn iso_date(day: i64) -> String {
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        assert_eq!(iso_date(0), "1970-01-01");
        assert_eq!(iso_date(19_723), "2024-01-01");
        assert_eq!(iso_date(19_782), "2024-02-29");
        assert_eq!(iso_date(-1), "1969-12-31");
    }

    #[test]
    fn shapes_are_checked() {
        let ok = RunSeries {
            name: "static".into(),
            days: vec![1, 2],
            equity: vec![vec![10, 11]],
            balance_start: vec![10],
            tolerance: vec![0],
            stop_outs: vec![0],
            margin_calls: vec![0],
            ..Default::default()
        };
        ok.check().unwrap();
        let mut bad = ok.clone();
        bad.equity[0].pop();
        let e = bad.check().unwrap_err().to_string();
        assert!(e.contains("equity[0] has 1 days for 2"), "{e}");
        let mut bad = ok.clone();
        bad.days = vec![2, 2];
        assert!(bad.check().is_err());
        let mut bad = ok;
        bad.margin_used = vec![1];
        assert!(bad.check().unwrap_err().to_string().contains("margin_used"));
    }
}
