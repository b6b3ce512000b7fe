//! HistData.com "Generic ASCII" 1-minute bars, read exactly as HistData.com distributes them:
//! a zip per pair and year (`HISTDATA_COM_ASCII_EURUSD_M12018.zip`) holding one CSV
//! (`DAT_ASCII_EURUSD_M1_2018.csv`), or that CSV on its own.
//!
//! Each row is `YYYYMMDD HHMMSS;open;high;low;close;volume`, no header, bid prices, the bar's
//! opening minute in EST **without daylight saving** (a fixed UTC−05:00 all year, so UTC = file
//! time + 5 h). Rules (see docs/adaptive-training.md):
//! - prices are parsed exactly into [`Price`] (no float); `low ≤ open, close ≤ high`;
//! - rows must be in time order across the whole file (and across the files of one series);
//!   a row earlier than the previous one is refused with its file and line;
//! - a row repeating the previous timestamp exactly is dropped (the first one is kept) and
//!   counted in [`Bars::duplicates`];
//! - only bars whose UTC time is in `[from, to)` are kept, but every row is checked.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use mam_core::calendar::{checked_days_from_civil, civil_from_days};
use mam_core::num::Price;

/// EST is UTC−5 all year in these files.
const EST_TO_UTC_S: u64 = 5 * 3600;
const NS: u64 = 1_000_000_000;

/// One 1-minute bid bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bar {
    /// The bar's opening minute, ns since the Unix epoch, UTC.
    pub ts_utc_ns: u64,
    /// First bid of the minute.
    pub open: Price,
    /// Highest bid.
    pub high: Price,
    /// Lowest bid.
    pub low: Price,
    /// Last bid.
    pub close: Price,
}

/// Why a file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HistDataError {
    /// The file could not be opened or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Not a zip archive the `zip` crate can read.
    #[error("{}: not a readable zip: {source}", path.display())]
    Zip {
        /// The file.
        path: PathBuf,
        /// The zip error.
        source: zip::result::ZipError,
    },
    /// A zip without exactly one `.csv` inside.
    #[error("{}: expected exactly one .csv inside the zip, found {found}", path.display())]
    ZipContents {
        /// The file.
        path: PathBuf,
        /// How many `.csv` entries it holds.
        found: usize,
    },
    /// A row that is not a valid bar.
    #[error("{}:{line}: {why}", path.display())]
    Line {
        /// The file.
        path: PathBuf,
        /// 1-based line number (in the CSV).
        line: u64,
        /// What was wrong.
        why: String,
    },
    /// A row earlier than the row before it.
    #[error(
        "{}:{line}: timestamp {text} is before the previous row ({prev_utc} UTC); \
         bars must be in time order",
        path.display()
    )]
    OutOfOrder {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// The row's timestamp as written (EST).
        text: String,
        /// The previous bar's time, UTC.
        prev_utc: String,
    },
    /// No file for this symbol and year in a directory.
    #[error("no HistData file for {symbol} {year} in {} (expected {expected})", dir.display())]
    Missing {
        /// Where it was looked for.
        dir: PathBuf,
        /// The symbol.
        symbol: String,
        /// The year.
        year: i64,
        /// The file name looked for.
        expected: String,
    },
    /// A date that is not `YYYY-MM-DD`.
    #[error("`{0}` is not a date YYYY-MM-DD between 1970 and 2554")]
    BadDate(String),
}

/// A half-open UTC time range `[from_ns, to_ns)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcRange {
    /// First ns kept.
    pub from_ns: u64,
    /// First ns no longer kept.
    pub to_ns: u64,
}

impl UtcRange {
    /// True if `ts` is inside.
    pub fn contains(&self, ts: u64) -> bool {
        self.from_ns <= ts && ts < self.to_ns
    }
}

/// Midnight UTC of a `YYYY-MM-DD` date, in ns since the epoch.
pub fn parse_date(text: &str) -> Result<u64, HistDataError> {
    let bad = || HistDataError::BadDate(text.to_string());
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(bad());
    }
    let y = digits(&b[0..4]).ok_or_else(bad)?;
    let m = digits(&b[5..7]).ok_or_else(bad)?;
    let d = digits(&b[8..10]).ok_or_else(bad)?;
    let days = civil_days(y, m, d).ok_or_else(bad)?;
    day_ns(days).ok_or_else(bad)
}

/// ns since the epoch of midnight UTC on day `days`, if it fits in u64 (1970 to 2554).
fn day_ns(days: i64) -> Option<u64> {
    u64::try_from(days).ok()?.checked_mul(86_400 * NS)
}

/// `YYYY-MM-DD` of a UTC instant (for messages and the model file).
pub fn format_date(ts_ns: u64) -> String {
    let (y, m, d) = civil_from_days((ts_ns / NS / 86_400) as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `YYYY-MM-DD HH:MM` of a UTC instant.
pub fn format_utc(ts_ns: u64) -> String {
    let s = ts_ns / NS;
    format!(
        "{} {:02}:{:02}",
        format_date(ts_ns),
        s / 3600 % 24,
        s / 60 % 60
    )
}

/// The UTC calendar year of an instant.
pub fn year_of(ts_ns: u64) -> i64 {
    civil_from_days((ts_ns / NS / 86_400) as i64).0
}

/// Bars read from one or more files of one series, in time order.
#[derive(Debug, Default)]
pub struct Bars {
    /// The bars inside the range, strictly increasing in time.
    pub bars: Vec<Bar>,
    /// Rows read (every file, every date, duplicates included).
    pub rows: u64,
    /// Rows dropped because they repeated the previous row's timestamp.
    pub duplicates: u64,
    /// Time of the last row read, to check the order across files.
    last_ts: Option<u64>,
}

impl Bars {
    /// Reads a HistData zip (or a bare `.csv`) and appends its bars inside `range`.
    pub fn read_file(&mut self, path: &Path, range: UtcRange) -> Result<(), HistDataError> {
        let io = |source| HistDataError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let is_zip = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
        if !is_zip {
            return self.read_csv(BufReader::new(file), path, range);
        }
        let zerr = |source| HistDataError::Zip {
            path: path.to_path_buf(),
            source,
        };
        let mut zip = zip::ZipArchive::new(BufReader::new(file)).map_err(zerr)?;
        let csvs: Vec<usize> = (0..zip.len())
            .filter(|&i| {
                zip.name_for_index(i)
                    .is_some_and(|n| n.to_ascii_lowercase().ends_with(".csv"))
            })
            .collect();
        if csvs.len() != 1 {
            return Err(HistDataError::ZipContents {
                path: path.to_path_buf(),
                found: csvs.len(),
            });
        }
        let entry = zip.by_index(csvs[0]).map_err(zerr)?;
        let name = path.join(entry.name());
        self.read_csv(BufReader::with_capacity(1 << 16, entry), &name, range)
    }

    /// Reads CSV rows from `input` (`path` names it in errors).
    pub fn read_csv<R: Read>(
        &mut self,
        mut input: BufReader<R>,
        path: &Path,
        range: UtcRange,
    ) -> Result<(), HistDataError> {
        let mut buf = Vec::with_capacity(64);
        let mut line = 0u64;
        loop {
            buf.clear();
            let n = input
                .read_until(b'\n', &mut buf)
                .map_err(|source| HistDataError::Io {
                    path: path.to_path_buf(),
                    source,
                })?;
            if n == 0 {
                return Ok(());
            }
            line += 1;
            let err = |why: String| HistDataError::Line {
                path: path.to_path_buf(),
                line,
                why,
            };
            let text = std::str::from_utf8(&buf)
                .map_err(|_| err("not UTF-8 text".into()))?
                .trim_end_matches(['\n', '\r']);
            if text.is_empty() {
                continue;
            }
            let bar = parse_row(text).map_err(err)?;
            self.rows += 1;
            match self.last_ts {
                Some(prev) if bar.ts_utc_ns < prev => {
                    return Err(HistDataError::OutOfOrder {
                        path: path.to_path_buf(),
                        line,
                        text: text.split(';').next().unwrap_or("").to_string(),
                        prev_utc: format_utc(prev),
                    })
                }
                Some(prev) if bar.ts_utc_ns == prev => {
                    // A repeated minute: the first one stands, this one is only counted.
                    self.duplicates += 1;
                    continue;
                }
                _ => {}
            }
            self.last_ts = Some(bar.ts_utc_ns);
            if range.contains(bar.ts_utc_ns) {
                self.bars.push(bar);
            }
        }
    }
}

/// Reads the files of one series in order (e.g. 2018 then 2019) into bars inside `range`.
pub fn read_bars(paths: &[PathBuf], range: UtcRange) -> Result<Bars, HistDataError> {
    let mut bars = Bars::default();
    for p in paths {
        bars.read_file(p, range)?;
    }
    Ok(bars)
}

/// One row, or why it is not a bar.
fn parse_row(text: &str) -> Result<Bar, String> {
    let mut f = text.split(';');
    let mut next = |what: &str| {
        f.next()
            .ok_or_else(|| format!("missing field `{what}` (expected 6 `;`-separated fields)"))
    };
    let stamp = next("timestamp")?;
    let ts_utc_ns = parse_stamp(stamp)?;
    let mut price = |what: &str| -> Result<Price, String> {
        let t = next(what)?;
        match Price::parse(t) {
            Ok(p) if p.raw() > 0 => Ok(p),
            Ok(_) => Err(format!("{what} `{t}` is not positive")),
            Err(e) => Err(format!("{what}: {e}")),
        }
    };
    let (open, high, low, close) = (
        price("open")?,
        price("high")?,
        price("low")?,
        price("close")?,
    );
    let vol = next("volume")?;
    if vol.is_empty() || !vol.bytes().all(|c| c.is_ascii_digit()) {
        return Err(format!("volume `{vol}` is not a whole number"));
    }
    if f.next().is_some() {
        return Err("more than 6 fields".into());
    }
    if low > high || open < low || open > high || close < low || close > high {
        return Err(format!(
            "inconsistent bar: open {open}, high {high}, low {low}, close {close}"
        ));
    }
    Ok(Bar {
        ts_utc_ns,
        open,
        high,
        low,
        close,
    })
}

/// `YYYYMMDD HHMMSS` (EST, no DST) to UTC ns.
fn parse_stamp(s: &str) -> Result<u64, String> {
    let bad = || format!("timestamp `{s}` is not `YYYYMMDD HHMMSS`");
    let b = s.as_bytes();
    if b.len() != 15 || b[8] != b' ' {
        return Err(bad());
    }
    let (y, mo, d) = (
        digits(&b[0..4]).ok_or_else(bad)?,
        digits(&b[4..6]).ok_or_else(bad)?,
        digits(&b[6..8]).ok_or_else(bad)?,
    );
    let (h, mi, se) = (
        digits(&b[9..11]).ok_or_else(bad)?,
        digits(&b[11..13]).ok_or_else(bad)?,
        digits(&b[13..15]).ok_or_else(bad)?,
    );
    let days = civil_days(y, mo, d).ok_or_else(|| format!("timestamp `{s}`: no such date"))?;
    if h > 23 || mi > 59 || se > 59 {
        return Err(format!("timestamp `{s}`: no such time of day"));
    }
    day_ns(days)
        .and_then(|d| d.checked_add((h * 3600 + mi * 60 + se + EST_TO_UTC_S) * NS))
        .ok_or_else(|| format!("timestamp `{s}` is outside 1970-2554"))
}

/// ASCII digits to a number.
fn digits(b: &[u8]) -> Option<u64> {
    b.iter().try_fold(0u64, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u64::from(c - b'0'))
    })
}

/// Day count of a civil date, if it exists (2018-02-30 does not).
fn civil_days(y: u64, m: u64, d: u64) -> Option<i64> {
    let (m, d) = (u32::try_from(m).ok()?, u32::try_from(d).ok()?);
    checked_days_from_civil(i64::try_from(y).ok()?, m, d)
}

/// The file name HistData.com gives the zip of `symbol` and `year`.
pub fn zip_name(symbol: &str, year: i64) -> String {
    format!("HISTDATA_COM_ASCII_{symbol}_M1{year}.zip")
}

/// The zip (or else the bare CSV, `DAT_ASCII_{SYM}_M1_{YEAR}.csv`) of `symbol` and `year` in
/// `dir`.
pub fn find_zip(dir: &Path, symbol: &str, year: i64) -> Result<PathBuf, HistDataError> {
    let zip = dir.join(zip_name(symbol, year));
    if zip.is_file() {
        return Ok(zip);
    }
    let csv = dir.join(format!("DAT_ASCII_{symbol}_M1_{year}.csv"));
    if csv.is_file() {
        return Ok(csv);
    }
    Err(HistDataError::Missing {
        dir: dir.to_path_buf(),
        symbol: symbol.to_string(),
        year,
        expected: zip_name(symbol, year),
    })
}

/// Symbol and year of a HistData file name (zip or CSV), if it is one.
pub fn identify(path: &Path) -> Option<(String, i64)> {
    let name = path.file_name()?.to_str()?;
    let (sym, year) = if let Some(rest) = name.strip_prefix("HISTDATA_COM_ASCII_") {
        rest.strip_suffix(".zip")?.split_once("_M1")?
    } else {
        let rest = name.strip_prefix("DAT_ASCII_")?.strip_suffix(".csv")?;
        rest.split_once("_M1_")?
    };
    let ok = !sym.is_empty() && sym.bytes().all(|c| c.is_ascii_alphanumeric());
    let year = digits(year.as_bytes()).filter(|_| year.len() == 4)?;
    ok.then(|| (sym.to_string(), year as i64))
}

/// Every (symbol, year, path) HistData file directly in `dir`, sorted.
pub fn list_dir(dir: &Path) -> Result<Vec<(String, i64, PathBuf)>, HistDataError> {
    let io = |source| HistDataError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if let Some((s, y)) = identify(&path) {
            out.push((s, y, path));
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests;
