//! The regime filter: a 3-state hidden Markov model whose emission is the bucket of
//! `|r| / sigma_ref`, fitted by Baum–Welch (Rabiner 1989, "A tutorial on hidden Markov models",
//! with the scaled forward–backward of §V.A) and rounded into ppb.

use mam_core::adaptive::{RegimeModel, BUCKETS, PPB, REGIMES};

/// Smallest probability written (ppb): the engine's filter must never see a zero, which would
/// make a state impossible for ever after one unusual return.
pub const FLOOR_PPB: u32 = 1_000;
/// Posterior needed to switch the label (hysteresis).
pub const SWITCH_PPB: u32 = 800_000_000;
/// Baum–Welch stops when the log-likelihood gains less than this per observation.
const TOL_PER_OBS: f64 = 1e-9;
/// ... or after this many iterations.
pub const MAX_ITERS: u32 = 500;

/// The bucket of a return (1e-9 units): the first whose upper edge is above
/// `|r|·1000 / sigma_ref` (integer division, as the engine computes it), else the last.
pub fn bucket(r: i64, sigma_ref: u64, edges: &[u32; BUCKETS - 1]) -> u8 {
    let z = u128::from(r.unsigned_abs()) * 1000 / u128::from(sigma_ref);
    edges
        .iter()
        .position(|&e| z < u128::from(e))
        .unwrap_or(BUCKETS - 1) as u8
}

/// Bucket edges at the 1/8 … 7/8 quantiles of `|r|/sigma_ref` in thousandths, nudged to be
/// positive and strictly ascending (prices move in ticks, so quantiles can coincide).
fn edges(r: &[i64], sigma_ref: u64) -> [u32; BUCKETS - 1] {
    let mut z: Vec<u128> = r
        .iter()
        .map(|x| u128::from(x.unsigned_abs()) * 1000 / u128::from(sigma_ref))
        .collect();
    z.sort_unstable();
    let mut out = [0u32; BUCKETS - 1];
    let mut prev = 0u32;
    for (i, e) in out.iter_mut().enumerate() {
        let q = z[(i + 1) * z.len() / BUCKETS].min(u128::from(u32::MAX / 2)) as u32;
        // `+ 1`: the quantile's own value belongs to the lower bucket.
        *e = (q + 1).max(prev + 1);
        prev = *e;
    }
    out
}

/// A floating-point HMM while it is being fitted.
#[derive(Debug, Clone)]
struct Hmm {
    pi: [f64; REGIMES],
    a: [[f64; REGIMES]; REGIMES],
    b: [[f64; BUCKETS]; REGIMES],
}

// The recurrences are indexed as Rabiner writes them; iterator chains would hide that.
#[allow(clippy::needless_range_loop)]
impl Hmm {
    /// Calm weighs low buckets, stressed high ones, normal all alike; states are sticky.
    fn initial() -> Self {
        let mut b = [[0.0; BUCKETS]; REGIMES];
        for k in 0..BUCKETS {
            let (lo, hi) = ((BUCKETS - k) as f64, (k + 1) as f64);
            b[0][k] = lo * lo;
            b[1][k] = 1.0;
            b[2][k] = hi * hi;
        }
        for row in &mut b {
            let s: f64 = row.iter().sum();
            row.iter_mut().for_each(|x| *x /= s);
        }
        let mut a = [[0.01; REGIMES]; REGIMES];
        (0..REGIMES).for_each(|i| a[i][i] = 0.98);
        Hmm {
            pi: [0.3, 0.4, 0.3],
            a,
            b,
        }
    }

    /// One E-step: log-likelihood, expected counts, and each step's most likely state.
    fn expect(&self, obs: &[u8]) -> (f64, Hmm, [u64; REGIMES]) {
        let n = obs.len();
        let mut alpha = vec![[0.0; REGIMES]; n];
        let mut scale = vec![0.0; n];
        let mut ll = 0.0;
        for t in 0..n {
            let o = obs[t] as usize;
            let mut s = 0.0;
            for j in 0..REGIMES {
                let prior = if t == 0 {
                    self.pi[j]
                } else {
                    (0..REGIMES).map(|i| alpha[t - 1][i] * self.a[i][j]).sum()
                };
                alpha[t][j] = prior * self.b[j][o];
                s += alpha[t][j];
            }
            alpha[t].iter_mut().for_each(|x| *x /= s);
            scale[t] = s;
            ll += s.ln();
        }
        let mut acc = Hmm {
            pi: [0.0; REGIMES],
            a: [[0.0; REGIMES]; REGIMES],
            b: [[0.0; BUCKETS]; REGIMES],
        };
        let mut argmax = [0u64; REGIMES];
        let mut beta = [1.0; REGIMES];
        for t in (0..n).rev() {
            let gamma: [f64; REGIMES] = std::array::from_fn(|i| alpha[t][i] * beta[i]);
            let g_sum: f64 = gamma.iter().sum();
            let best = (0..REGIMES).fold(0, |m, i| if gamma[i] > gamma[m] { i } else { m });
            argmax[best] += 1;
            for i in 0..REGIMES {
                acc.b[i][obs[t] as usize] += gamma[i] / g_sum;
            }
            if t == 0 {
                acc.pi = gamma.map(|g| g / g_sum);
                break;
            }
            // ξ(t−1 → t) and β(t−1), from β(t).
            let o = obs[t] as usize;
            let w: [f64; REGIMES] = std::array::from_fn(|j| self.b[j][o] * beta[j] / scale[t]);
            for i in 0..REGIMES {
                for j in 0..REGIMES {
                    acc.a[i][j] += alpha[t - 1][i] * self.a[i][j] * w[j];
                }
            }
            beta = std::array::from_fn(|i| (0..REGIMES).map(|j| self.a[i][j] * w[j]).sum());
        }
        (ll, acc, argmax)
    }

    /// The M-step: expected counts to probabilities.
    fn from_counts(mut c: Hmm) -> Hmm {
        for row in c.a.iter_mut() {
            normalise(row);
        }
        for row in c.b.iter_mut() {
            normalise(row);
        }
        normalise(&mut c.pi);
        c
    }
}

fn normalise<const N: usize>(row: &mut [f64; N]) {
    let s: f64 = row.iter().sum();
    if s > 0.0 {
        row.iter_mut().for_each(|x| *x /= s);
    } else {
        row.iter_mut().for_each(|x| *x = 1.0 / N as f64);
    }
}

/// The fitted filter and what it says about the training period.
#[derive(Debug, Clone)]
pub struct RegimeFit {
    /// The integer model.
    pub model: RegimeModel,
    /// Share of training returns whose most likely state is calm, normal, stressed.
    pub share: [f64; REGIMES],
    /// Baum–Welch iterations run.
    pub iterations: u32,
}

/// Fits the filter on training returns (1e-9 units); `sigma_ref` is their unconditional sigma.
/// `tick` is called once per iteration.
pub fn fit(r: &[i64], sigma_ref: u64, mut tick: impl FnMut()) -> RegimeFit {
    let edges = edges(r, sigma_ref);
    let obs: Vec<u8> = r.iter().map(|&x| bucket(x, sigma_ref, &edges)).collect();
    let mut hmm = Hmm::initial();
    let mut prev = f64::NEG_INFINITY;
    let mut iterations = 0;
    while iterations < MAX_ITERS {
        let (ll, counts, _) = hmm.expect(&obs);
        iterations += 1;
        tick();
        hmm = Hmm::from_counts(counts);
        if ll - prev < TOL_PER_OBS * obs.len() as f64 {
            break;
        }
        prev = ll;
    }
    // Calm, normal, stressed = the states in order of their mean bucket.
    let mean = |s: usize| (0..BUCKETS).map(|k| k as f64 * hmm.b[s][k]).sum::<f64>();
    let mut order: [usize; REGIMES] = std::array::from_fn(|i| i);
    order.sort_by(|&x, &y| mean(x).total_cmp(&mean(y)));
    let sorted = Hmm {
        pi: order.map(|i| hmm.pi[i]),
        a: order.map(|i| order.map(|j| hmm.a[i][j])),
        b: order.map(|i| hmm.b[i]),
    };
    let (_, _, argmax) = sorted.expect(&obs);
    let share = argmax.map(|c| c as f64 / obs.len() as f64);
    RegimeFit {
        model: RegimeModel {
            sigma_ref,
            edges,
            trans: sorted.a.map(|row| round_row(&row)),
            emit: sorted.b.map(|row| round_row(&row)),
            switch_ppb: SWITCH_PPB,
        },
        share,
        iterations,
    }
}

/// Probabilities to ppb summing to exactly 10^9, none under [`FLOOR_PPB`]: entries that would
/// be under the floor get it, the rest share what is left in proportion (in exact integer
/// arithmetic on the probabilities scaled by 2^52), floored, and the leftover units go by
/// largest remainder (ties to the lower index).
pub fn round_row<const N: usize>(p: &[f64; N]) -> [u32; N] {
    // Exact integer weights; an all-zero row is shared equally.
    let mut w: [u128; N] = p.map(|x| (x.max(0.0) * (1u64 << 52) as f64).round() as u128);
    if w.iter().all(|&x| x == 0) {
        w = [1; N];
    }
    let mut floored = [false; N];
    loop {
        let n_floored = floored.iter().filter(|&&f| f).count() as u64;
        let budget = u128::from(PPB - n_floored * u64::from(FLOOR_PPB));
        let mut total: u128 = (0..N).filter(|&i| !floored[i]).map(|i| w[i]).sum();
        if total == 0 {
            (0..N).filter(|&i| !floored[i]).for_each(|i| w[i] = 1);
            total = (0..N).filter(|&i| !floored[i]).count() as u128;
        }
        let mut out = [FLOOR_PPB; N];
        let mut rem = [0u128; N];
        let mut left = budget;
        for i in (0..N).filter(|&i| !floored[i]) {
            let q = w[i] * budget / total;
            rem[i] = w[i] * budget % total;
            out[i] = q as u32;
            left -= q;
        }
        // Fewer units are left than entries not floored: one each, largest remainder first.
        let mut free: Vec<usize> = (0..N).filter(|&i| !floored[i]).collect();
        free.sort_by(|&a, &b| rem[b].cmp(&rem[a]).then(a.cmp(&b)));
        for &i in free.iter().cycle().take(left as usize) {
            out[i] += 1;
        }
        match (0..N).find(|&i| !floored[i] && out[i] < FLOOR_PPB) {
            Some(i) if free.len() > 1 => floored[i] = true,
            _ => return out,
        }
    }
}
