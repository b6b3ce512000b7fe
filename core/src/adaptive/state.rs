//! Per-instrument factor state, moved by journaled quotes only: the sampled mid, the variance
//! forecast, the regime filter's posterior and label, the spread norm per hour of the day and
//! the visible depth. `on_quote` is O(1) and allocation-free (a handful of integer operations
//! and, when a sampling interval closes, one 3×3 forward step).

use super::model::{RegimeModel, SymbolModel, BUCKETS, PPB, REGIMES, RET_ONE};

/// Returns across a gap longer than this many intervals are not used (weekends, outages):
/// the same rule `mam train` applies to bars.
pub const MAX_GAP_INTERVALS: u64 = 10;
/// Hours in a UTC day (spread norms are kept per hour).
pub const HOURS: usize = 24;
/// Weight of a new spread in the hourly norm: 1/2^SPREAD_SHIFT per quote.
pub const SPREAD_SHIFT: u32 = 8;
const HOUR_NS: u64 = 3_600_000_000_000;

/// One instrument's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolState {
    /// Interval index (`source_ns / sample_ns`) of the latest quote; 0 before the first.
    pub interval: u64,
    /// Twice the mid (bid + ask, exact) at the close of the previous interval; 0 before.
    pub last_mid2: i64,
    /// Twice the mid of the latest quote.
    pub cur_mid2: i64,
    /// Variance forecast for the next interval (1e-18 units).
    pub var: u64,
    /// Filtered regime probabilities, ppb (sum 10^9).
    pub post: [u64; REGIMES],
    /// The regime label (hysteresis applied), 0 calm, 1 normal, 2 stressed.
    pub label: u8,
    /// Returns folded in so far.
    pub samples: u64,
    /// Spread norm per UTC hour (price raw scaled by 2^SPREAD_SHIFT; 0 = none yet).
    pub spread_norm: [u64; HOURS],
    /// Latest spread (price raw) and its hour.
    pub spread: i64,
    /// Hour of day of the latest quote.
    pub hour: u8,
    /// Latest visible size at the touch, bid + ask (Qty raw).
    pub depth: i64,
}

impl SymbolState {
    /// State before any quote, for a symbol with (or without) a fitted model.
    pub fn new(m: Option<&SymbolModel>) -> Self {
        let third = PPB / 3;
        SymbolState {
            interval: 0,
            last_mid2: 0,
            cur_mid2: 0,
            var: m.map_or(0, |m| m.vol.initial_var),
            // Start in "normal" with certainty: the label needs evidence to leave it.
            post: if m.is_some() {
                [0, PPB, 0]
            } else {
                [third, PPB - 2 * third, third]
            },
            label: 1,
            samples: 0,
            spread_norm: [0; HOURS],
            spread: 0,
            hour: 0,
            depth: 0,
        }
    }

    /// Folds in one valid quote (bid > 0, ask ≥ bid, checked by the engine). Returns the
    /// interval index and return folded into the forecast, when this quote closed one.
    #[inline]
    pub fn on_quote(
        &mut self,
        m: Option<&SymbolModel>,
        ts_ns: u64,
        bid: i64,
        ask: i64,
        depth: i64,
    ) -> Option<(u64, i64)> {
        let mid2 = bid.saturating_add(ask);
        let spread = ask - bid;
        let hour = ((ts_ns / HOUR_NS) % HOURS as u64) as usize;
        let n = &mut self.spread_norm[hour];
        let s = (spread.max(0) as u64) << SPREAD_SHIFT;
        *n = if *n == 0 {
            s
        } else {
            // n += (s − n) / 2^k, in integers: an EWMA with weight 2^-k per quote.
            (*n - (*n >> SPREAD_SHIFT)) + (s >> SPREAD_SHIFT)
        };
        self.spread = spread;
        self.hour = hour as u8;
        self.depth = depth.max(0);
        let Some(m) = m else {
            self.cur_mid2 = mid2;
            return None;
        };
        let k = ts_ns / m.sample_ns;
        if self.cur_mid2 == 0 {
            self.interval = k;
            self.cur_mid2 = mid2;
            return None;
        }
        let mut folded = None;
        if k > self.interval {
            // The previous interval closed at `cur_mid2`.
            if self.last_mid2 > 0 && k - self.interval <= MAX_GAP_INTERVALS {
                let r = ret(self.last_mid2, self.cur_mid2);
                self.fold(m, r);
                folded = Some((self.interval, r));
            }
            self.last_mid2 = self.cur_mid2;
            self.interval = k;
        }
        self.cur_mid2 = mid2;
        folded
    }

    /// Folds one sampled return into the variance forecast and the regime filter.
    pub fn fold(&mut self, m: &SymbolModel, r: i64) {
        let r2 = (i128::from(r) * i128::from(r)).min(u64::MAX as i128) as u128;
        let v = &m.vol;
        let next = u128::from(v.omega)
            + div_ppb_half_even(
                u128::from(v.alpha_ppb) * r2 + u128::from(v.beta_ppb) * u128::from(self.var),
            );
        self.var = next.min(u128::from(u64::MAX)) as u64;
        self.samples += 1;
        forward(&m.regime, &mut self.post, bucket(&m.regime, r));
        let sw = u64::from(m.regime.switch_ppb);
        if let Some(j) = (0..REGIMES).find(|&j| j as u8 != self.label && self.post[j] >= sw) {
            self.label = j as u8;
        }
    }

    /// The forecast sigma (return units, 1e-9), rounded down.
    pub fn sigma(&self) -> u64 {
        isqrt(self.var)
    }

    /// The spread norm of the latest quote's hour, price raw (0 = none).
    pub fn spread_norm_now(&self) -> i64 {
        (self.spread_norm[self.hour as usize] >> SPREAD_SHIFT) as i64
    }
}

/// `(b − a) / a` in 1e-9 units, half to even (a, b > 0: twice the mids).
pub fn ret(a: i64, b: i64) -> i64 {
    let num = (i128::from(b) - i128::from(a)) * i128::from(RET_ONE);
    crate::num::div_round_i128(num, i128::from(a), crate::num::Rounding::HalfEven)
        .clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// The emission bucket of a return.
#[inline]
pub fn bucket(rm: &RegimeModel, r: i64) -> usize {
    // 64-bit when |r|·1000 fits (always, for returns under 1.8e7 = 1,800 %), else 128-bit:
    // the same quotient either way.
    let z = match r.unsigned_abs().checked_mul(1000) {
        Some(x) => u128::from(x / rm.sigma_ref.max(1)),
        None => u128::from(r.unsigned_abs()) * 1000 / u128::from(rm.sigma_ref.max(1)),
    };
    rm.edges
        .iter()
        .position(|&e| z < u128::from(e))
        .unwrap_or(BUCKETS - 1)
}

/// One forward step of the filter: predict with the transitions, weight by the emission,
/// renormalise to 10^9 (the rounding remainder goes to the most likely state, lowest index
/// first on ties: deterministic).
#[inline]
pub fn forward(rm: &RegimeModel, post: &mut [u64; REGIMES], b: usize) {
    let mut w = [0u128; REGIMES];
    for (j, wj) in w.iter_mut().enumerate() {
        let pred: u128 = (0..REGIMES)
            .map(|i| u128::from(post[i]) * u128::from(rm.trans[i][j]))
            .sum();
        *wj = pred * u128::from(rm.emit[j][b]);
    }
    let total: u128 = w.iter().sum();
    if total == 0 {
        return;
    }
    let mut sum = 0u64;
    for j in 0..REGIMES {
        post[j] = (w[j] * u128::from(PPB) / total) as u64;
        sum += post[j];
    }
    let top = (0..REGIMES).fold(0, |t, j| if w[j] > w[t] { j } else { t });
    post[top] += PPB - sum;
}

/// `n ÷ 10^9`, half to even: an `f64` estimate made exact by the remainder (the ledger's
/// [`div_round_u`](crate::ledger::exact::div_round_u)), or the 128-bit division where the
/// quotient is 2^52 or more. The same number either way.
#[inline]
pub fn div_ppb_half_even(n: u128) -> u128 {
    match crate::ledger::exact::div_round_u(n, PPB as i64, 1e-9) {
        Some(q) => q as u128,
        None => div_half_even(n, u128::from(PPB)),
    }
}

/// `n ÷ d`, half to even, in 128 bits.
pub fn div_half_even(n: u128, d: u128) -> u128 {
    let (q, r) = (n / d, n % d);
    if 2 * r > d || (2 * r == d && q & 1 == 1) {
        q + 1
    } else {
        q
    }
}

/// ⌊√v⌋, exact.
pub fn isqrt(v: u64) -> u64 {
    v.isqrt()
}
