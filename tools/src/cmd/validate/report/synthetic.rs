//! A synthetic pair of runs for the report's tests: deterministic, no engine involved.
//!
//! Each account follows the manager's daily return scaled by its own multiplier plus its own
//! noise; the adaptive run pulls the multipliers toward 1 and halves the noise, so its fan is
//! narrower. One account deposits mid-run; a third of the accounts have a 10 % tolerance.

use mam_core::rand::SplitMix64;

use super::types::{DayRange, FactorSample, Meta, RegimeSample, RunSeries};

/// Uniform and roughly normal draws from SplitMix64 (the repository's one copy): synthetic
/// report data only, never state.
#[derive(Debug, Clone)]
pub struct Rng(SplitMix64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self(SplitMix64::new(seed))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Roughly standard normal (sum of 12 uniforms − 6).
    pub fn normal(&mut self) -> f64 {
        (0..12).map(|_| self.unit()).sum::<f64>() - 6.0
    }
}

const FIRST_DAY: u32 = 19_723; // 2024-01-01
const NS_PER_DAY: u64 = 86_400_000_000_000;

/// `accounts` accounts over `days` days: the meta and the runs `static` and `adaptive`, with
/// factors (three names, two symbols, hourly) and regime labels (two symbols, every
/// `regime_step_min` minutes) on the adaptive run.
pub fn synthetic(accounts: usize, days: usize, regime_step_min: u64) -> (Meta, Vec<RunSeries>) {
    let mut rng = Rng::new(14);
    let manager: Vec<f64> = (0..days).map(|_| 0.0004 + 0.009 * rng.normal()).collect();
    let mult: Vec<f64> = (0..accounts).map(|_| 0.4 + 1.8 * rng.unit()).collect();
    let start: Vec<i64> = (0..accounts)
        .map(|_| (5_000 + (rng.unit() * 95_000.0) as i64) * 1_000_000)
        .collect();
    let noise: Vec<Vec<f64>> = (0..accounts)
        .map(|_| (0..days).map(|_| rng.normal()).collect())
        .collect();
    let day_list: Vec<u32> = (0..days as u32).map(|d| FIRST_DAY + d).collect();

    let run = |name: &str, adaptive: bool| {
        let mut equity = vec![Vec::with_capacity(days); accounts];
        let mut deposits = vec![vec![0i64; days]; accounts];
        let mut stop_outs = vec![0u32; accounts];
        let mut margin_calls = vec![0u32; accounts];
        let mut exposure = vec![0i64; days];
        let mut margin = vec![0i64; days];
        for a in 0..accounts {
            let k = if adaptive {
                1.0 + 0.3 * (mult[a] - 1.0)
            } else {
                mult[a]
            };
            let sigma = if adaptive { 0.001 } else { 0.002 };
            let mut e = start[a] as f64;
            for t in 0..days {
                let r = k * manager[t] + sigma * noise[a][t];
                let flow = if a == 3 && t == days / 2 {
                    5_000_000_000
                } else {
                    0
                };
                deposits[a][t] = flow;
                e = e * (1.0 + r) + flow as f64;
                equity[a].push(e.round() as i64);
                exposure[t] += (e * 10.0 * k) as i64;
                margin[t] += (e * 10.0 * k / 30.0) as i64;
            }
            if k > 1.8 {
                stop_outs[a] = 1;
            }
            if k > 1.5 {
                margin_calls[a] = 2;
            }
        }
        let allocations = (accounts * days) as u64;
        let mut factors = Vec::new();
        let mut regime = Vec::new();
        if adaptive {
            for (si, symbol) in ["EURUSD", "USDJPY"].iter().enumerate() {
                for h in 0..(days as u64 * 24) {
                    let ts_ns = u64::from(FIRST_DAY) * NS_PER_DAY + h * 3_600_000_000_000;
                    let x = h as f64 / 24.0;
                    for (name, v) in [
                        ("volatility", 1.0 - 0.2 * (x / 7.0 + si as f64).sin()),
                        ("margin_buffer", 0.9 + 0.1 * (x / 11.0).cos()),
                        ("drawdown", 1.0 - 0.3 * (x / days as f64)),
                    ] {
                        factors.push(FactorSample {
                            ts_ns,
                            symbol: symbol.to_string(),
                            name: name.into(),
                            value_ppm: (v * 1e6) as i64,
                        });
                    }
                }
                let mut p = if si == 0 { 1.09 } else { 148.0 };
                let step = regime_step_min.max(1);
                for m in (0..days as u64 * 1440).step_by(step as usize) {
                    let stressed = (m / 1440) % 20 >= 16;
                    let calm = (m / 1440) % 20 < 6;
                    let vol = if stressed { 4e-4 } else { 1.5e-4 } * (step as f64).sqrt();
                    p *= 1.0 + vol * rng_at(m + si as u64);
                    regime.push(RegimeSample {
                        ts_ns: u64::from(FIRST_DAY) * NS_PER_DAY + m * 60_000_000_000,
                        symbol: symbol.to_string(),
                        price: p,
                        label: if stressed {
                            2
                        } else if calm {
                            0
                        } else {
                            1
                        },
                    });
                }
            }
        }
        RunSeries {
            name: name.into(),
            days: day_list.clone(),
            equity,
            balance_start: start.clone(),
            deposits,
            tolerance: (0..accounts)
                .map(|a| if a % 3 == 0 { 100_000 } else { 0 })
                .collect(),
            stop_outs,
            margin_calls,
            in_bounds: allocations,
            allocations,
            exposure_notional: exposure,
            margin_used: margin,
            turnover: if adaptive {
                9_000_000_000_000
            } else {
                10_000_000_000_000
            },
            cost: if adaptive {
                4_500_000_000
            } else {
                5_000_000_000
            },
            factors,
            regime,
        }
    };
    let meta = Meta {
        strategy: "synthetic trend follower".into(),
        symbols: vec!["EURUSD".into(), "USDJPY".into()],
        train: DayRange {
            first: FIRST_DAY - 270,
            last: FIRST_DAY - 1,
        },
        validate: DayRange {
            first: FIRST_DAY,
            last: FIRST_DAY + days as u32 - 1,
        },
        accounts: accounts as u32,
        split: "chronological: 270 days train, then the validation days, no overlap".into(),
        model_path: "models/synthetic.mamm".into(),
        model_checksum: "crc32:00000000".into(),
    };
    (meta, vec![run("static", false), run("adaptive", true)])
}

/// A stateless roughly-normal draw for the price walk.
fn rng_at(i: u64) -> f64 {
    Rng::new(i.wrapping_mul(0x2545_F491_4F6C_DD1D)).normal()
}
