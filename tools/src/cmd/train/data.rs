//! Finding the bar files of each symbol and turning bars into the returns the fit uses.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context};

use crate::histdata::{self, Bar, UtcRange};

/// The longest step between two bars whose close-to-close return is still used. Longer gaps
/// (no tick for over 10 minutes: the weekend, the daily pause of gold, thin holiday hours) would
/// put a move of many minutes, or of a whole weekend, into one "1-minute" return.
pub const MAX_GAP_NS: u64 = 10 * 60 * 1_000_000_000;

/// Bar files found, by symbol and year.
pub type Catalogue = BTreeMap<String, BTreeMap<i64, PathBuf>>;

/// Every HistData file in the directories and files given.
pub fn catalogue(inputs: &[PathBuf]) -> anyhow::Result<Catalogue> {
    let mut cat = Catalogue::new();
    for input in inputs {
        let found = if input.is_dir() {
            // One file per symbol and year: the zip as distributed, else its bare CSV.
            let mut found = Vec::new();
            for (sym, year, _) in histdata::list_dir(input)? {
                let path = histdata::find_zip(input, &sym, year)?;
                found.push((sym, year, path));
            }
            found.dedup();
            found
        } else if input.is_file() {
            let Some((s, y)) = histdata::identify(input) else {
                bail!(
                    "{}: not a HistData file name (HISTDATA_COM_ASCII_<SYMBOL>_M1<YEAR>.zip \
                     or DAT_ASCII_<SYMBOL>_M1_<YEAR>.csv)",
                    input.display()
                );
            };
            vec![(s, y, input.clone())]
        } else {
            bail!("{}: no such file or directory", input.display());
        };
        for (sym, year, path) in found {
            let years = cat.entry(sym.clone()).or_default();
            if let Some(old) = years.insert(year, path.clone()) {
                bail!(
                    "two bar files for {sym} {year}: {} and {}",
                    old.display(),
                    path.display()
                );
            }
        }
    }
    Ok(cat)
}

/// The files of `symbol` covering `range`: every UTC year in it must have its file. The file
/// of the year before is read too when present: its last 5 hours (19:00–24:00 EST on 31
/// December) are already the next UTC year.
pub fn files_for(cat: &Catalogue, symbol: &str, range: UtcRange) -> anyhow::Result<Vec<PathBuf>> {
    let years = cat
        .get(symbol)
        .with_context(|| format!("no bar files for {symbol}"))?;
    let (first, last) = (
        histdata::year_of(range.from_ns),
        histdata::year_of(range.to_ns - 1),
    );
    let mut out: Vec<PathBuf> = years.get(&(first - 1)).cloned().into_iter().collect();
    for y in first..=last {
        match years.get(&y) {
            Some(p) => out.push(p.clone()),
            None => bail!(
                "no bar file for {symbol} {y} (needed for {} to {}; expected {})",
                histdata::format_date(range.from_ns),
                histdata::format_date(range.to_ns),
                histdata::zip_name(symbol, y)
            ),
        }
    }
    Ok(out)
}

/// Close-to-close simple returns, split at `split_ns`.
#[derive(Debug, Clone, Default)]
pub struct Returns {
    /// The returns, in time order (natural units: 1e-4 is one basis point).
    pub r: Vec<f64>,
    /// The same in the engine's 1e-9 units.
    pub units: Vec<i64>,
    /// `r[..train]` end before `split_ns` (in sample), the rest after (out of sample).
    pub train: usize,
    /// Returns left out because the bars were more than [`MAX_GAP_NS`] apart.
    pub gaps: u64,
    /// Returns exactly zero (in sample and out).
    pub zeros: u64,
}

/// Returns of consecutive bars no more than [`MAX_GAP_NS`] apart; a return belongs to the
/// period its later bar is in.
pub fn returns(bars: &[Bar], split_ns: u64) -> Returns {
    let mut out = Returns::default();
    for w in bars.windows(2) {
        if w[1].ts_utc_ns - w[0].ts_utc_ns > MAX_GAP_NS {
            out.gaps += 1;
            continue;
        }
        let (c0, c1) = (w[0].close.raw(), w[1].close.raw());
        // Exact in integers first (prices are positive and far below 2^63 / 1e9).
        let units = (i128::from(c1 - c0) * 1_000_000_000 / i128::from(c0)) as i64;
        out.r.push((c1 - c0) as f64 / c0 as f64);
        out.units.push(units);
        out.zeros += u64::from(c1 == c0);
        if w[1].ts_utc_ns < split_ns {
            out.train += 1;
        }
    }
    out
}
