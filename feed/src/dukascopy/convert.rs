//! Dukascopy hours → a pcap capture of the mam SBE feed.
//!
//! Rules (also in `docs/feed-sbe.md`):
//! - sequence numbers start at 1 and are contiguous; the first packet holds one
//!   `InstrumentDefinition` stamped at the start of the first hour;
//! - one `Quote` per tick, `lpId` = the source id (default 1), `transactTime` = tick time;
//! - ticks of the same millisecond share a packet (up to the payload limit, 1472 bytes = 25
//!   quotes); a tick of a later millisecond starts a new packet, so every pcap record's
//!   timestamp is exactly the time of every quote in it;
//! - frames are Ethernet/IPv4/UDP to a multicast group (default 239.192.70.1:31001), pcap
//!   with nanosecond timestamps; no heartbeats are invented for quiet periods.

use std::io::Write;
use std::net::SocketAddrV4;
use std::path::Path;

use mam_core::num::{Price, Qty, POW10};
use mam_core::symbol::SymbolTable;

use super::time::civil_ymd;
use super::{hour_files, read_hour, DukascopyError, Tick};

impl Tick {
    /// The tick as mam's SBE quote of `instrument` from liquidity provider `lp` (both sides,
    /// both sizes; the time in ns).
    pub fn quote(&self, instrument: u32, lp: u16) -> Quote {
        Quote {
            time_ns: ns(self.time_ms),
            instrument,
            lp,
            flags: 0,
            bid: Some(self.bid),
            ask: Some(self.ask),
            bid_size: Some(self.bid_volume),
            ask_size: Some(self.ask_volume),
        }
    }
}
use crate::pcap_write::{PcapWriter, TsResolution};
use crate::sbe::msg::{Instrument, Quote};
use crate::sbe::packet::{PacketBuilder, DEFAULT_MAX_PAYLOAD};

/// How to convert.
#[derive(Debug, Clone)]
pub struct ConvertOptions {
    /// Symbol name (EURUSD, BTCUSD, USDJPY…).
    pub symbol: String,
    /// Decimals of the `.bi5` integer prices ([`super::point_decimals`] by default).
    pub point_decimals: u32,
    /// Instrument id written in messages (the built-in symbol table's index by default).
    pub instrument: u32,
    /// LP / source id written in quotes.
    pub lp: u16,
    /// Session id (10 bytes; default `DK` + the first day as `YYYYMMDD`).
    pub session: Option<String>,
    /// Source address of the frames.
    pub src: SocketAddrV4,
    /// Destination address of the frames.
    pub dst: SocketAddrV4,
    /// Largest UDP payload.
    pub max_payload: usize,
}

impl ConvertOptions {
    /// Defaults for `symbol`.
    pub fn for_symbol(symbol: &str) -> Self {
        let table = SymbolTable::builtin();
        Self {
            symbol: symbol.to_string(),
            point_decimals: super::point_decimals(symbol),
            instrument: table.id_of(symbol).unwrap_or(u32::MAX),
            lp: 1,
            session: None,
            src: SocketAddrV4::new([10, 0, 0, 1].into(), 31000),
            dst: SocketAddrV4::new([239, 192, 70, 1].into(), 31001),
            max_payload: DEFAULT_MAX_PAYLOAD,
        }
    }
}

/// What a conversion did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConvertStats {
    /// Hour files read.
    pub hours: u64,
    /// Of which empty (no ticks).
    pub empty_hours: u64,
    /// Quotes written (one per tick).
    pub quotes: u64,
    /// Messages written (quotes and the instrument definition).
    pub messages: u64,
    /// Packets (pcap records) written.
    pub packets: u64,
    /// Time of the first tick, ms since the epoch.
    pub first_ms: Option<i64>,
    /// Time of the last tick.
    pub last_ms: Option<i64>,
}

fn ns(ms: i64) -> u64 {
    u64::try_from(ms).unwrap_or(0).saturating_mul(1_000_000)
}

/// Writes ticks hour by hour into a pcap; create with [`Converter::new`], feed with
/// [`Converter::push_hour`], close with [`Converter::finish`].
#[derive(Debug)]
pub struct Converter<W: Write> {
    opts: ConvertOptions,
    pcap: PcapWriter<W>,
    builder: Option<PacketBuilder>,
    packet_ms: i64,
    stats: ConvertStats,
}

impl<W: Write> Converter<W> {
    /// Starts a capture in `out`.
    pub fn new(out: W, opts: ConvertOptions) -> std::io::Result<Self> {
        Ok(Self {
            pcap: PcapWriter::new(out, TsResolution::Nano)?,
            opts,
            builder: None,
            packet_ms: 0,
            stats: ConvertStats::default(),
        })
    }

    fn flush_packet(&mut self) -> std::io::Result<()> {
        if let Some(b) = self.builder.as_mut().filter(|b| !b.is_empty()) {
            let p = b.finish();
            self.pcap
                .write_udp(ns(self.packet_ms), self.opts.src, self.opts.dst, &p)?;
            self.stats.packets += 1;
        }
        Ok(())
    }

    /// Appends the ticks of one hour that starts at `hour_ms`.
    pub fn push_hour(&mut self, hour_ms: i64, ticks: &[Tick]) -> std::io::Result<()> {
        self.stats.hours += 1;
        if ticks.is_empty() {
            self.stats.empty_hours += 1;
        }
        if self.builder.is_none() {
            let (y, m, d) = civil_ymd(hour_ms);
            let session = self
                .opts
                .session
                .clone()
                .unwrap_or_else(|| format!("DK{y:04}{m:02}{d:02}"));
            let mut b = PacketBuilder::new(&session, 1, self.opts.max_payload);
            let mut symbol = [0u8; 16];
            for (d, s) in symbol.iter_mut().zip(self.opts.symbol.bytes()) {
                *d = s;
            }
            let table = SymbolTable::builtin();
            let pd = self.opts.point_decimals.min(Price::DECIMALS);
            b.push(&Instrument {
                time_ns: ns(hour_ms),
                instrument: self.opts.instrument,
                display_decimals: pd as u8,
                symbol,
                tick: Price(POW10[(Price::DECIMALS - pd) as usize]),
                contract_size: table.get(&self.opts.symbol).map(|s| s.contract_size),
            });
            self.packet_ms = hour_ms;
            self.builder = Some(b);
            self.stats.messages += 1;
        }
        for t in ticks {
            let q = t.quote(self.opts.instrument, self.opts.lp);
            let fits = self.builder.as_ref().is_some_and(|b| b.fits(&q));
            if t.time_ms != self.packet_ms || !fits {
                self.flush_packet()?;
                self.packet_ms = t.time_ms;
            }
            if let Some(b) = self.builder.as_mut() {
                b.push(&q);
            }
            self.stats.quotes += 1;
            self.stats.messages += 1;
            self.stats.first_ms.get_or_insert(t.time_ms);
            self.stats.last_ms = Some(t.time_ms);
        }
        Ok(())
    }

    /// Writes the last packet and returns the counts and the writer.
    pub fn finish(mut self) -> std::io::Result<(ConvertStats, W)> {
        self.flush_packet()?;
        let w = self.pcap.finish()?;
        Ok((self.stats, w))
    }
}

/// Converts a folder of hours (or one `.bi5`) into the pcap file `out`.
pub fn convert_path(
    input: &Path,
    out: &Path,
    opts: ConvertOptions,
) -> Result<ConvertStats, DukascopyError> {
    let hours = hour_files(input)?;
    let io = |source| DukascopyError::Io {
        path: out.display().to_string(),
        source,
    };
    let file = std::fs::File::create(out).map_err(io)?;
    let pd = opts.point_decimals;
    let mut conv = Converter::new(std::io::BufWriter::new(file), opts).map_err(io)?;
    for h in &hours {
        let ticks = read_hour(h, pd)?;
        conv.push_hour(h.hour_ms, &ticks).map_err(io)?;
    }
    let (stats, _) = conv.finish().map_err(io)?;
    Ok(stats)
}

/// Sum of volumes, a convenience for reports.
pub fn total_volume(ticks: &[Tick]) -> Option<(Qty, Qty)> {
    ticks.iter().try_fold((Qty::ZERO, Qty::ZERO), |(a, b), t| {
        Some((
            a.checked_add(t.ask_volume).ok()?,
            b.checked_add(t.bid_volume).ok()?,
        ))
    })
}
