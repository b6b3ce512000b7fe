//! `mam bench fix`: the FIX 4.4 codec's hot paths, each beside a reference timed in the same
//! run on the same bytes.
//!
//! - NewOrderSingle encode (target ≤ 60 ns, issue 12) vs a straightforward encoder: `write!` into a
//!   fresh `Vec`, BodyLength and CheckSum computed afterwards (what a first implementation does).
//! - ExecutionReport decode, an ExecutionReport exactly as QuickFIX's executor sent it, vs a
//!   straightforward decoder: split on SOH into owned `(tag, String)` pairs, checksum verified.
//!
//! The comparison against the `fefix` crate (target ≥ 5× on decode) is the Criterion bench
//! `cargo bench -p mam-benches --bench fix`: fefix is a benchmark-only dependency.

use std::hint::black_box;
use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use mam_benches::fix::{new_order, EXEC_REPORT as ER, TRANSACT_TIME_NS as T};
use mam_core::num::{Price, Qty};
use mam_gateway::fix::decode::{checksum, frame, Decoder, Frame};
use mam_gateway::fix::encode::HeaderTemplate;
use mam_gateway::fix::msg::ExecutionReport;

/// Arguments of `mam bench fix`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Messages per timed run (each figure is the best of 5 runs).
    #[arg(long, default_value_t = 1_000_000)]
    pub iterations: u32,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

fn best_of(n: u32, f: &mut dyn FnMut() -> usize) -> f64 {
    for _ in 0..n / 10 {
        black_box(f());
    }
    (0..5)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..n {
                black_box(f());
            }
            t.elapsed().as_nanos() as f64 / f64::from(n)
        })
        .fold(f64::INFINITY, f64::min)
}

/// The straightforward encoder the figure is compared with.
pub fn naive_encode(seq: u64) -> Vec<u8> {
    let mut body = Vec::new();
    let _ = write!(
        body,
        "35=D\x0149=MAM\x0156=EXECUTOR\x0134={seq}\x0152=20261124-03:56:25.213\x0111=1795492585200894000\x011=A1\x0155=EURUSD\x0154=1\x0160=20261124-03:56:25.213\x0138={}\x0140=2\x0144={}\x01",
        Qty::from_raw(10_000_000_000).display_with(0),
        Price::from_raw(110_000_000),
    );
    let mut m = format!("8=FIX.4.4\x019={}\x01", body.len()).into_bytes();
    m.extend_from_slice(&body);
    let ck = m.iter().map(|&b| u32::from(b)).sum::<u32>() % 256;
    let _ = write!(m, "10={ck:03}\x01");
    m
}

/// The straightforward decoder the figure is compared with.
pub fn naive_decode(b: &[u8]) -> Vec<(u32, String)> {
    let s = String::from_utf8_lossy(b);
    let fields: Vec<(u32, String)> = s
        .split('\x01')
        .filter(|f| !f.is_empty())
        .filter_map(|f| {
            f.split_once('=')
                .and_then(|(t, v)| Some((t.parse().ok()?, v.to_string())))
        })
        .collect();
    let ck_at = b.len() - 7;
    let ok = fields.last().is_some_and(|(t, v)| {
        *t == 10
            && v.parse::<u32>().ok()
                == Some(b[..ck_at].iter().map(|&c| u32::from(c)).sum::<u32>() % 256)
    });
    if ok {
        fields
    } else {
        Vec::new()
    }
}

/// The figures of one `mam bench fix` run, ns per message (best of 5 runs).
#[derive(Debug, Clone, Copy)]
pub struct Report {
    /// Messages per timed run.
    pub iterations: u32,
    /// NewOrderSingle encode.
    pub nos_encode_ns: f64,
    /// The `write!`+`Vec` encoder (reference).
    pub naive_encode_ns: f64,
    /// ExecutionReport frame + field parse.
    pub er_decode_ns: f64,
    /// The same, then the typed `ExecutionReport`.
    pub er_decode_typed_ns: f64,
    /// The split+`String` decoder (reference).
    pub naive_decode_ns: f64,
}

/// Measures the figures of `mam bench fix`.
pub fn measure(a: &Args) -> anyhow::Result<Report> {
    let n = a.iterations.max(1000);
    let mut h = HeaderTemplate::new(b"FIX.4.4", b"MAM", b"EXECUTOR")?;
    let mut buf = [0u8; 512];
    let order = new_order();
    let mut dec = Decoder::new();
    // Same answers before timing.
    let Frame::Complete { len } = frame(ER, 4096) else {
        anyhow::bail!("sample ExecutionReport does not frame")
    };
    let fields = dec.parse(&ER[..len])?.len();
    anyhow::ensure!(
        naive_decode(ER).len() == fields,
        "decoders disagree on the sample"
    );
    anyhow::ensure!(checksum(&ER[..ER.len() - 7]) == 177);

    let mut seq = 0u64;
    let enc = best_of(n, &mut || {
        seq += 1;
        let mut w = h.begin(&mut buf, b"D", seq, T);
        black_box(&order).encode(&mut w);
        w.finish().map_or(0, |r| r.len())
    });
    let naive_enc = best_of(n / 4, &mut || {
        seq += 1;
        naive_encode(seq).len()
    });
    let decode = best_of(n, &mut || match frame(black_box(ER), 4096) {
        Frame::Complete { len } => dec.parse(&ER[..len]).map_or(0, |m| m.len()),
        _ => 0,
    });
    let typed = best_of(n, &mut || match frame(black_box(ER), 4096) {
        Frame::Complete { len } => dec
            .parse(&ER[..len])
            .ok()
            .and_then(|m| ExecutionReport::parse(&m).ok())
            .map_or(0, |e| e.cum_qty.raw() as usize),
        _ => 0,
    });
    let naive_dec = best_of(n / 4, &mut || naive_decode(black_box(ER)).len());
    Ok(Report {
        iterations: n,
        nos_encode_ns: enc,
        naive_encode_ns: naive_enc,
        er_decode_ns: decode,
        er_decode_typed_ns: typed,
        naive_decode_ns: naive_dec,
    })
}

/// Runs `mam bench fix`.
pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let r = measure(&a)?;
    let (n, enc, naive_enc, decode, typed, naive_dec) = (
        r.iterations,
        r.nos_encode_ns,
        r.naive_encode_ns,
        r.er_decode_ns,
        r.er_decode_typed_ns,
        r.naive_decode_ns,
    );
    if a.json {
        println!(
            "{}",
            serde_json::json!({
                "nos_encode_ns": enc, "nos_encode_target_ns": 60.0, "er_decode_typed_target_ns": 100.0, "naive_encode_ns": naive_enc,
                "er_decode_ns": decode, "er_decode_typed_ns": typed, "naive_decode_ns": naive_dec,
                "decode_speedup_vs_naive": naive_dec / decode, "iterations": n,
            })
        );
    } else {
        println!("mam bench fix ({n} messages per run, best of 5, ns per message)");
        println!("  NewOrderSingle encode        {enc:8.1}   reference write!+Vec {naive_enc:8.1}   ({:.1}×; target ≤ 60 ns: {})", naive_enc / enc, if enc <= 60.0 { "met" } else { "missed" });
        println!("  ExecutionReport decode       {decode:8.1}   reference split+String {naive_dec:6.1}   ({:.1}×)", naive_dec / decode);
        println!("  ExecutionReport decode+typed {typed:8.1}   (exact Qty/Price, required fields checked; target ≤ 100 ns: {})", if typed <= 100.0 { "met" } else { "missed" });
        println!("  vs the fefix crate: cargo bench -p mam-benches --bench fix");
    }
    Ok(ExitCode::SUCCESS)
}
