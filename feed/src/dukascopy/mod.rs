//! Dukascopy historical FX ticks: `.bi5` hour files and the JSON API form.
//!
//! A `.bi5` file is an LZMA "alone" stream (xz's legacy `.lzma` container: 5 property bytes,
//! a u64 unpacked size, the range-coded data) of 20-byte big-endian records: u32 milliseconds
//! into the hour, u32 ask, u32 bid, f32 ask volume, f32 bid volume (volumes in millions).
//! Prices are integers of the symbol's point (1e-5 EURUSD, 1e-3 JPY pairs, 1e-1 BTCUSD). One
//! file per UTC hour, `HHh_ticks.bi5`; an empty file is an hour without ticks.
//!
//! - [`decode_bi5`]: one file's bytes to [`Tick`]s (exact prices, exact volumes by the rule
//!   in [`volume`]);
//! - [`hour_files`]: a folder (or one file) to its hours with their start times;
//! - [`oracle`]: the JSON API's delta-encoded form, for cross-checking;
//! - [`convert`]: ticks to a pcap capture of the mam SBE feed.

pub mod convert;
pub mod oracle;
pub mod time;
pub mod volume;

use std::io::Write;
use std::path::{Path, PathBuf};

use mam_core::num::{Price, Qty, POW10};
use thiserror::Error;

pub use time::hour_start_ms;
pub use volume::{millions_to_qty, VolumeError};

/// Bytes per `.bi5` record.
pub const RECORD_LEN: usize = 20;
/// Milliseconds in an hour: a record's time must be below this.
pub const HOUR_MS: u32 = 3_600_000;
/// Most bytes a decompressed hour may take (one tick per millisecond): a larger stream is
/// refused as a decompression bomb.
pub const MAX_HOUR_BYTES: usize = HOUR_MS as usize * RECORD_LEN;

/// One tick, exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tick {
    /// Time, ms since the Unix epoch (UTC).
    pub time_ms: i64,
    /// Ask price.
    pub ask: Price,
    /// Bid price.
    pub bid: Price,
    /// Ask volume in base units.
    pub ask_volume: Qty,
    /// Bid volume in base units.
    pub bid_volume: Qty,
}

/// Why a Dukascopy file could not be read.
#[derive(Debug, Error)]
pub enum DukascopyError {
    /// The LZMA stream is corrupt or truncated.
    #[error("{file}: LZMA stream: {why}")]
    Lzma {
        /// File.
        file: String,
        /// lzma-rs's message.
        why: String,
    },
    /// The decompressed size is not a whole number of records.
    #[error("{file}: {len} decompressed bytes is not a multiple of {RECORD_LEN}")]
    PartialRecord {
        /// File.
        file: String,
        /// Decompressed length.
        len: usize,
    },
    /// The hour's start is not a time a tick can have (negative, or so late that a time in
    /// the hour would not fit).
    #[error("{file}: hour start {hour_ms} ms since the epoch is out of range")]
    HourOutOfRange {
        /// File.
        file: String,
        /// The hour's start.
        hour_ms: i64,
    },
    /// A record's time is not inside the hour.
    #[error("{file}: tick {index}: {ms} ms is past the end of the hour")]
    TimeOutOfHour {
        /// File.
        file: String,
        /// Record index.
        index: usize,
        /// Its time.
        ms: u32,
    },
    /// A record's volume is not a valid quantity.
    #[error("{file}: tick {index}: {source}")]
    Volume {
        /// File.
        file: String,
        /// Record index.
        index: usize,
        /// Why.
        source: VolumeError,
    },
    /// A tick earlier than the one before it: Dukascopy's records are in time order.
    #[error(
        "{file}: tick {index}: {ms} ms into the hour comes before the previous tick's {prev} ms"
    )]
    TimeBackwards {
        /// The file.
        file: String,
        /// Record number (0-based).
        index: usize,
        /// Its time in the hour.
        ms: u32,
        /// The previous record's.
        prev: u32,
    },
    /// A quote no market shows: a zero price, or the bid above the ask.
    #[error("{file}: tick {index}: bid {bid} / ask {ask}: {why}")]
    BadQuote {
        /// The file.
        file: String,
        /// Record number (0-based).
        index: usize,
        /// Bid.
        bid: Price,
        /// Ask.
        ask: Price,
        /// What is wrong.
        why: &'static str,
    },
    /// A price does not fit a `Price` at the symbol's scale.
    #[error("{file}: tick {index}: price {raw} × 10^-{decimals} does not fit")]
    Price {
        /// File.
        file: String,
        /// Record index.
        index: usize,
        /// The raw integer.
        raw: u32,
        /// Point decimals.
        decimals: u32,
    },
    /// The file name or folder does not say which hour it holds.
    #[error("{path}: cannot tell the hour: {why}")]
    Naming {
        /// Path.
        path: String,
        /// Why.
        why: String,
    },
    /// The JSON oracle is malformed.
    #[error("{file}: JSON: {why}")]
    Json {
        /// File.
        file: String,
        /// Why.
        why: String,
    },
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// Path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Decimals of a symbol's point (the unit of the `.bi5` integer prices): 3 for JPY pairs,
/// 1 for BTCUSD, 5 for other FX pairs. Other instruments need an explicit value.
pub fn point_decimals(symbol: &str) -> u32 {
    let s = symbol.to_ascii_uppercase();
    if s.starts_with("BTC") {
        1
    } else if s.contains("JPY") {
        3
    } else {
        5
    }
}

/// A writer that refuses to grow past a limit (guards against decompression bombs).
struct Capped {
    out: Vec<u8>,
    cap: usize,
}
impl Write for Capped {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if self.out.len() + b.len() > self.cap {
            return Err(std::io::Error::other(format!(
                "decompressed data exceeds {} bytes{}",
                self.cap,
                if self.cap == MAX_HOUR_BYTES {
                    " (one hour at one tick per millisecond)"
                } else {
                    ""
                }
            )));
        }
        self.out.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Decompresses a `.bi5` (empty input: no ticks). `file` names it in errors.
pub fn decompress_bi5(bytes: &[u8], file: &str) -> Result<Vec<u8>, DukascopyError> {
    decompress_bi5_within(bytes, file, MAX_HOUR_BYTES)
}

/// [`decompress_bi5`] refusing more than `cap` decompressed bytes (also the LZMA window's
/// memory limit, at most 64 MiB). The fuzz target uses a small cap: under AddressSanitizer a
/// decompression bomb that stops at [`MAX_HOUR_BYTES`] takes about a second, and the fuzzer
/// finds such inputs quickly, so it ran at a few hundred inputs a second.
pub fn decompress_bi5_within(
    bytes: &[u8],
    file: &str,
    cap: usize,
) -> Result<Vec<u8>, DukascopyError> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    // The properties byte: lc + 9 × (lp + 5 × pb). Dukascopy writes 0x5D (lc 3, lp 0, pb 2).
    // liblzma refuses lc + lp > 4 (LZMA_LCLP_MAX) for `.lzma` files too; lzma-rs accepts up to
    // lc 8, lp 4 and fills 2^(lc+lp) × 768 probabilities first: a 13-byte header made it
    // allocate and write 6 MiB (what held the bi5 fuzz target to ~200 runs/s).
    if let Some(&p) = bytes.first() {
        let (lc, lp) = (p % 9, (p / 9) % 5);
        if p >= 9 * 5 * 5 || lc + lp > 4 {
            return Err(DukascopyError::Lzma {
                file: file.to_string(),
                why: format!(
                    "properties byte 0x{p:02X} (lc {lc}, lp {lp}): .lzma streams have lc + lp ≤ 4"
                ),
            });
        }
    }
    let mut out = Capped {
        out: Vec::new(),
        cap,
    };
    let opts = lzma_rs::decompress::Options {
        unpacked_size: lzma_rs::decompress::UnpackedSize::ReadFromHeader,
        memlimit: Some(cap.min(64 << 20)),
        allow_incomplete: false,
    };
    lzma_rs::lzma_decompress_with_options(&mut &bytes[..], &mut out, &opts).map_err(|e| {
        DukascopyError::Lzma {
            file: file.to_string(),
            why: e.to_string(),
        }
    })?;
    Ok(out.out)
}

/// Decodes a `.bi5` hour starting at `hour_ms` (ms since the epoch) with prices in units of
/// `10^-point_decimals`.
pub fn decode_bi5(
    bytes: &[u8],
    hour_ms: i64,
    point_decimals: u32,
    file: &str,
) -> Result<Vec<Tick>, DukascopyError> {
    let raw = decompress_bi5(bytes, file)?;
    decode_records(&raw, hour_ms, point_decimals, file)
}

/// Decodes decompressed `.bi5` records.
pub fn decode_records(
    raw: &[u8],
    hour_ms: i64,
    point_decimals: u32,
    file: &str,
) -> Result<Vec<Tick>, DukascopyError> {
    if hour_ms < 0 || hour_ms > i64::MAX - i64::from(HOUR_MS) {
        return Err(DukascopyError::HourOutOfRange {
            file: file.to_string(),
            hour_ms,
        });
    }
    if !raw.chunks_exact(RECORD_LEN).remainder().is_empty() {
        return Err(DukascopyError::PartialRecord {
            file: file.to_string(),
            len: raw.len(),
        });
    }
    let mul = POW10
        .get(Price::DECIMALS.saturating_sub(point_decimals) as usize)
        .copied()
        .filter(|_| point_decimals <= Price::DECIMALS);
    let price = |index, raw: u32| {
        mul.and_then(|m| i64::from(raw).checked_mul(m))
            .map(Price)
            .ok_or(DukascopyError::Price {
                file: file.to_string(),
                index,
                raw,
                decimals: point_decimals,
            })
    };
    let mut ticks = Vec::with_capacity(raw.len() / RECORD_LEN);
    let mut prev = 0u32;
    for (index, r) in raw.chunks_exact(RECORD_LEN).enumerate() {
        let w = |i: usize| u32::from_be_bytes([r[i], r[i + 1], r[i + 2], r[i + 3]]);
        let ms = w(0);
        if ms >= HOUR_MS {
            return Err(DukascopyError::TimeOutOfHour {
                file: file.to_string(),
                index,
                ms,
            });
        }
        if ms < prev {
            return Err(DukascopyError::TimeBackwards {
                file: file.to_string(),
                index,
                ms,
                prev,
            });
        }
        prev = ms;
        let (ask, bid) = (price(index, w(4))?, price(index, w(8))?);
        let why = if ask.raw() <= 0 || bid.raw() <= 0 {
            Some("a price of zero")
        } else if bid > ask {
            Some("crossed (bid above ask)")
        } else {
            None
        };
        if let Some(why) = why {
            return Err(DukascopyError::BadQuote {
                file: file.to_string(),
                index,
                bid,
                ask,
                why,
            });
        }
        let vol = |bits: u32| {
            millions_to_qty(f32::from_bits(bits)).map_err(|source| DukascopyError::Volume {
                file: file.to_string(),
                index,
                source,
            })
        };
        ticks.push(Tick {
            time_ms: hour_ms + i64::from(ms),
            ask,
            bid,
            ask_volume: vol(w(12))?,
            bid_volume: vol(w(16))?,
        });
    }
    Ok(ticks)
}

/// One hour file and the hour it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourFile {
    /// Path of the `.bi5`.
    pub path: PathBuf,
    /// Start of the hour, ms since the epoch.
    pub hour_ms: i64,
}

/// The hour files of `path`, in time order: a folder of `HHh_ticks.bi5` files or one file.
/// The date comes from the folder (see [`time::hour_start_ms`]).
pub fn hour_files(path: &Path) -> Result<Vec<HourFile>, DukascopyError> {
    let io = |source| DukascopyError::Io {
        path: path.display().to_string(),
        source,
    };
    let files: Vec<PathBuf> = if path.is_dir() {
        let mut v = Vec::new();
        for e in std::fs::read_dir(path).map_err(io)? {
            let p = e.map_err(io)?.path();
            if p.extension().is_some_and(|x| x.eq_ignore_ascii_case("bi5")) {
                v.push(p);
            }
        }
        v
    } else {
        vec![path.to_path_buf()]
    };
    let mut hours = files
        .into_iter()
        .map(|p| hour_start_ms(&p).map(|hour_ms| HourFile { path: p, hour_ms }))
        .collect::<Result<Vec<_>, _>>()?;
    hours.sort_by_key(|h| h.hour_ms);
    if hours.is_empty() {
        return Err(DukascopyError::Naming {
            path: path.display().to_string(),
            why: "no .bi5 file there".into(),
        });
    }
    Ok(hours)
}

/// Reads and decodes one hour file.
pub fn read_hour(h: &HourFile, point_decimals: u32) -> Result<Vec<Tick>, DukascopyError> {
    let name = h.path.display().to_string();
    let bytes = std::fs::read(&h.path).map_err(|source| DukascopyError::Io {
        path: name.clone(),
        source,
    })?;
    decode_bi5(&bytes, h.hour_ms, point_decimals, &name)
}
