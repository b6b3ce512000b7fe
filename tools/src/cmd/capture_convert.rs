//! `mam capture convert --from dukascopy DIR_OR_FILE --symbol EURUSD --out FILE.pcap`:
//! historical ticks into a pcap capture of mam's own SBE feed (rules in docs/feed-sbe.md).
//! An `--out` that is one of the input files is refused; the capture is written to a temporary
//! file beside `--out` and renamed over it only once complete.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use mam_feed::dukascopy::convert::{convert_path, ConvertOptions};

/// Source formats `convert` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum From {
    /// Dukascopy `.bi5` hour files (a folder of `HHh_ticks.bi5`, or one file).
    Dukascopy,
}

/// Arguments of `mam capture convert`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Source format.
    #[arg(long, value_enum)]
    pub from: From,
    /// A folder of hour files (named `…YYYY-MM-DD/HHh_ticks.bi5`) or one such file.
    pub input: PathBuf,
    /// Symbol (sets the price scale: 1e-5 FX, 1e-3 JPY pairs, 1e-1 BTCUSD).
    #[arg(long)]
    pub symbol: String,
    /// Output pcap file.
    #[arg(long)]
    pub out: PathBuf,
    /// Decimals of the source's integer prices, overriding the symbol's default.
    #[arg(long)]
    pub point_decimals: Option<u32>,
    /// LP / source id written in the quotes.
    #[arg(long, default_value_t = 1)]
    pub lp: u16,
    /// Session id (up to 10 ASCII characters; default DK + first day as YYYYMMDD).
    #[arg(long)]
    pub session: Option<String>,
    /// Print the summary as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Runs `mam capture convert`.
pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let From::Dukascopy = a.from;
    check_symbol(&a.symbol, a.point_decimals.is_some())?;
    let mut opts = ConvertOptions::for_symbol(&a.symbol);
    if let Some(d) = a.point_decimals {
        if d > 8 {
            bail!("--point-decimals {d}: prices hold at most 8 decimals");
        }
        opts.point_decimals = d;
    }
    if let Some(s) = &a.session {
        if s.len() > 10 || !s.is_ascii() {
            bail!("--session `{s}`: at most 10 ASCII characters");
        }
    }
    opts.lp = a.lp;
    opts.session = a.session.clone();
    // An output that is one of the hour files read would be emptied before it is read.
    if let Ok(hours) = mam_feed::dukascopy::hour_files(&a.input) {
        for h in &hours {
            crate::out_file::refuse_same(&h.path, "input", &a.out)?;
        }
    }
    // Written beside `--out` and renamed over it once complete: a failed convert leaves an
    // existing `--out` untouched and no partial capture behind.
    let tmp = crate::out_file::TempOut::path_for(&a.out)?;
    let st = convert_path(&a.input, tmp.path(), opts)?;
    tmp.commit()?;
    let iso = |ms: Option<i64>| {
        ms.map(mam_feed::dukascopy::time::iso8601_ms)
            .unwrap_or_default()
    };
    if a.json {
        let v = serde_json::json!({
            "from": "dukascopy",
            "symbol": a.symbol,
            "out": a.out.display().to_string(),
            "hours": st.hours,
            "empty_hours": st.empty_hours,
            "quotes": st.quotes,
            "messages": st.messages,
            "packets": st.packets,
            "first_ts": iso(st.first_ms),
            "last_ts": iso(st.last_ms),
        });
        println!("{v}");
    } else {
        println!(
            "converted {} hours ({} empty): {} quotes, {} messages in {} packets -> {} ({} .. {})",
            st.hours,
            st.empty_hours,
            st.quotes,
            st.messages,
            st.packets,
            a.out.display(),
            iso(st.first_ms),
            iso(st.last_ms)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `--symbol` names the feed's instrument (16 bytes on the wire) and, through the symbol
/// table, the price scale of Dukascopy's integer prices: an unknown one would convert another
/// pair's prices at a guessed scale, so it needs `--point-decimals`.
fn check_symbol(symbol: &str, decimals_given: bool) -> anyhow::Result<()> {
    if symbol.is_empty() || symbol.len() > 16 || !symbol.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        bail!("--symbol `{symbol}`: 1 to 16 ASCII letters and digits (the feed's symbol field)");
    }
    let table = mam_core::symbol::SymbolTable::builtin();
    if table.get(symbol).is_none() && !decimals_given {
        bail!(
            "--symbol {symbol}: not in mam's symbol table, so the scale of its prices is unknown: \
             give --point-decimals N (the decimals of Dukascopy's integer prices) or one of {}",
            table
                .iter()
                .map(|s| s.name_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}
