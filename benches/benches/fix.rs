//! FIX 4.4 codec speed, each figure beside a reference measured in the same run:
//! - NewOrderSingle encode (header template, running checksum, exact decimals; target ≤ 100 ns)
//!   against the `fefix` crate's encoder writing the same fields;
//! - ExecutionReport decode (BodyLength and CheckSum validated, every field indexed) against
//!   `fefix`'s decoder (checksum verification on) on the same bytes — an ExecutionReport as
//!   QuickFIX's executor sent it to mam (target ≥ 5× fefix). mam's typed parse (exact
//!   decimals, required-field checks) is shown as well.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use fefix::prelude::*;
use fefix::tagvalue::{Config, Decoder as FeDecoder, Encoder as FeEncoder, FvWrite};
use mam_benches::fix::{new_order as nos, EXEC_REPORT as ER, TRANSACT_TIME_NS as T};
use mam_gateway::fix::decode::{frame, Decoder, Frame};
use mam_gateway::fix::encode::HeaderTemplate;
use mam_gateway::fix::msg::ExecutionReport;

fn fefix_encode(enc: &mut FeEncoder<Config>, buf: &mut Vec<u8>, seq: u64) -> usize {
    buf.clear();
    let mut m = enc.start_message(b"FIX.4.4", buf, b"D");
    m.set_fv(&49u32, b"MAM" as &[u8]);
    m.set_fv(&56u32, b"EXECUTOR" as &[u8]);
    m.set_fv(&34u32, seq);
    m.set_fv(&52u32, b"20261124-03:56:25.213" as &[u8]);
    m.set_fv(&11u32, b"1795492585200894000" as &[u8]);
    m.set_fv(&1u32, b"A1" as &[u8]);
    m.set_fv(&55u32, b"EURUSD" as &[u8]);
    m.set_fv(&54u32, b"1" as &[u8]);
    m.set_fv(&60u32, b"20261124-03:56:25.213" as &[u8]);
    m.set_fv(&38u32, b"10000" as &[u8]);
    m.set_fv(&40u32, b"2" as &[u8]);
    m.set_fv(&44u32, b"1.1" as &[u8]);
    m.wrap().len()
}

fn mam_decode(d: &mut Decoder, b: &[u8]) -> usize {
    match frame(b, 4096) {
        Frame::Complete { len } => d.parse(&b[..len]).map_or(0, |m| m.len()),
        _ => 0,
    }
}

fn bench(c: &mut Criterion) {
    let mut h = HeaderTemplate::new(b"FIX.4.4", b"MAM", b"EXECUTOR").unwrap();
    let mut buf = [0u8; 512];
    let order = nos();
    let mut seq = 1u64;
    let mut fe_enc = FeEncoder::<Config>::default();
    let mut fe_buf = Vec::with_capacity(512);
    let mut dec = Decoder::new();
    let mut fe_dec = FeDecoder::<Config>::new(Dictionary::fix44());
    fe_dec.config_mut().set_verify_checksum(true);

    // Same bytes, same answers, before timing.
    assert_eq!(mam_decode(&mut dec, ER), 22);
    {
        let m = fe_dec
            .decode(ER)
            .expect("fefix decodes the executor's report");
        assert_eq!(m.fv_raw(&11u32), Some(&b"1795492585200894000"[..]));
    }

    let mut g = c.benchmark_group("fix");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    g.bench_function("mam NewOrderSingle encode", |b| {
        b.iter(|| {
            seq += 1;
            let mut w = h.begin(&mut buf, b"D", seq, T + seq * 1000);
            black_box(&order).encode(&mut w);
            black_box(w.finish().unwrap().len())
        })
    });
    g.bench_function("fefix NewOrderSingle encode (reference)", |b| {
        b.iter(|| {
            seq += 1;
            black_box(fefix_encode(&mut fe_enc, &mut fe_buf, seq))
        })
    });
    g.bench_function(
        "mam ExecutionReport decode (frame + checksum + fields)",
        |b| b.iter(|| black_box(mam_decode(&mut dec, black_box(ER)))),
    );
    g.bench_function("mam ExecutionReport decode + typed parse", |b| {
        b.iter(|| {
            let Frame::Complete { len } = frame(black_box(ER), 4096) else {
                unreachable!()
            };
            let m = dec.parse(&ER[..len]).unwrap();
            black_box(ExecutionReport::parse(&m).unwrap().cum_qty)
        })
    });
    g.bench_function("fefix ExecutionReport decode (reference)", |b| {
        b.iter(|| black_box(fe_dec.decode(black_box(ER)).map(|m| m.len()).unwrap_or(0)))
    });
    g.finish();

    // A plain summary with the ratios, timed the same way for every candidate.
    let time = |f: &mut dyn FnMut() -> usize| {
        let n = 2_000_000u32;
        for _ in 0..n / 10 {
            black_box(f());
        }
        let t = Instant::now();
        for _ in 0..n {
            black_box(f());
        }
        t.elapsed().as_nanos() as f64 / f64::from(n)
    };
    let enc = time(&mut || {
        seq += 1;
        let mut w = h.begin(&mut buf, b"D", seq, T + seq * 1000);
        order.encode(&mut w);
        w.finish().unwrap().len()
    });
    let fe_e = time(&mut || {
        seq += 1;
        fefix_encode(&mut fe_enc, &mut fe_buf, seq)
    });
    let dec_ns = time(&mut || mam_decode(&mut dec, black_box(ER)));
    let typed = time(&mut || {
        let Frame::Complete { len } = frame(black_box(ER), 4096) else {
            return 0;
        };
        dec.parse(&ER[..len])
            .ok()
            .and_then(|m| ExecutionReport::parse(&m).ok())
            .map_or(0, |e| e.cum_qty.raw() as usize)
    });
    let fe_d = time(&mut || fe_dec.decode(black_box(ER)).map(|m| m.len()).unwrap_or(0));
    println!("\nFIX summary (same run, ns per message):");
    println!(
        "  NewOrderSingle encode   mam {enc:7.1}   fefix {fe_e:7.1}   target ≤ 100 ns: {}",
        if enc <= 100.0 { "met" } else { "MISSED" }
    );
    println!("  ExecutionReport decode  mam {dec_ns:7.1}   fefix {fe_d:7.1}   {:.1}× fefix (target ≥ 5×)", fe_d / dec_ns);
    println!("  ExecutionReport decode + typed parse (exact decimals)  mam {typed:7.1}   {:.1}× fefix's untyped decode", fe_d / typed);
}

criterion_group!(benches, bench);
criterion_main!(benches);
