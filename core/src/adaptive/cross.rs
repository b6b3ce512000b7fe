//! What the adaptive layer learns across symbols and from fills:
//!
//! - [`Correlations`]: an EWMA of the cross-products of the sampled returns of every pair of
//!   fitted symbols (λ = 1 − 1/16 = 0.9375: RiskMetrics' 0.94 rounded to a shift, so the
//!   update is one 64-bit subtract and shift on the quote path), from which the correlation factor forms the
//!   forecast risk of an account's positions. A pair is updated when both symbols have folded
//!   the return of the same interval (so they must share `sample_ns`; pairs that never do keep
//!   correlation 0, which is what they get until they have [`MIN_PAIRS`] samples).
//! - [`Slippage`]: per symbol and UTC hour, the probability that a fill is worse than the quote
//!   at send by more than a threshold, as an EWMA (weight 1/32) of that indicator, and the mean
//!   slippage. Orders are remembered from send to done.
//!
//! Integers only: a replay learns the same numbers.

use std::collections::BTreeMap;

use super::model::PPB;

/// Weight of a new cross-product: 1/2^CORR_SHIFT (1 − λ with λ = 0.9375).
pub const CORR_SHIFT: u32 = 4;
/// Samples a pair needs before its correlation is used.
pub const MIN_PAIRS: u32 = 30;
/// Slippage EWMA weight: 1/2^SLIP_SHIFT per fill.
pub const SLIP_SHIFT: u32 = 5;
const HOUR_NS: u64 = 3_600_000_000_000;

/// EWMA cross-products of returns (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Correlations {
    n: usize,
    /// Per instrument: the interval and return it folded last (interval `u64::MAX`: none).
    pub(super) last: Vec<(u64, i64)>,
    /// `n × n` EWMA of `r_i · r_j` (1e-18 units).
    pub(super) cov: Vec<i64>,
    /// `n × n` samples folded (saturating).
    pub(super) count: Vec<u32>,
}

impl Correlations {
    /// Nothing learned, `n` instruments.
    pub fn new(n: usize) -> Self {
        Correlations {
            n,
            last: vec![(u64::MAX, 0); n],
            cov: vec![0; n * n],
            count: vec![0; n * n],
        }
    }

    /// Instrument `i` folded return `r` of interval `k`.
    pub fn on_return(&mut self, i: usize, k: u64, r: i64) {
        if i >= self.n {
            return;
        }
        self.last[i] = (k, r);
        for j in 0..self.n {
            if self.last[j].0 != k {
                continue;
            }
            // Returns are far below 2^31 (a 200 % move per interval), so the product fits.
            let x = r.saturating_mul(self.last[j].1);
            let c = &mut self.cov[i * self.n + j];
            // c += (x − c) / 16, arithmetic shift (rounds toward −∞: the same everywhere).
            *c = c.saturating_add(x.saturating_sub(*c) >> CORR_SHIFT);
            self.cov[j * self.n + i] = *c;
            let n = self.count[i * self.n + j].saturating_add(1);
            self.count[i * self.n + j] = n;
            self.count[j * self.n + i] = n;
        }
    }

    /// Correlation of `i` and `j` in ppb, in `[-10^9, 10^9]`; 10^9 on the diagonal, 0 for a
    /// pair with fewer than [`MIN_PAIRS`] samples.
    pub fn rho_ppb(&self, i: usize, j: usize) -> i64 {
        if i == j {
            return PPB as i64;
        }
        if i >= self.n || j >= self.n || self.count[i * self.n + j] < MIN_PAIRS {
            return 0;
        }
        let (cii, cjj) = (self.cov[i * self.n + i], self.cov[j * self.n + j]);
        if cii <= 0 || cjj <= 0 {
            return 0;
        }
        let den = (cii as u128 * cjj as u128).isqrt();
        if den == 0 {
            return 0;
        }
        let num = i128::from(self.cov[i * self.n + j]) * i128::from(PPB);
        (num / den as i128).clamp(-(PPB as i128), PPB as i128) as i64
    }
}

/// What the slippage model knows of one symbol in one hour of the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SlipCell {
    /// Probability that a fill slips beyond the threshold, ppb.
    pub p_ppb: u64,
    /// Mean slippage, price raw × 2^SLIP_SHIFT (positive = worse than the quote).
    pub mean: i64,
    /// Fills seen (saturating).
    pub fills: u32,
}

/// What one input's orders on one instrument and side were sent against: the touch (ask for a
/// buy, bid for a sell) and the UTC hour. All the children of one master share it, so the model
/// remembers one entry per input, instrument and side, not one per order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    /// The touch at send.
    pub reference: i64,
    /// UTC hour of the send.
    pub hour: u8,
}

/// Which orders a [`Sent`] is for: the journal sequence of the input that sent them (a
/// ClOrdID's upper bits), the instrument, and whether they buy.
pub type SentKey = (u64, u32, bool);

/// Slippage learned from fills (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slippage {
    /// Per instrument × 24 hours.
    pub(crate) cells: Vec<[SlipCell; 24]>,
    /// Inputs with orders not yet done.
    pub(crate) sent: BTreeMap<SentKey, Sent>,
}

impl Slippage {
    /// Nothing learned, `n` instruments.
    pub fn new(n: usize) -> Self {
        Slippage {
            cells: vec![[SlipCell::default(); 24]; n],
            sent: BTreeMap::new(),
        }
    }

    /// Orders of input `key.0` left with `reference` as the touch (the first order of the
    /// input, instrument and side records it; the others share it).
    pub fn on_sent(&mut self, key: SentKey, reference: i64, ts: u64) {
        if (key.1 as usize) < self.cells.len() && reference > 0 {
            let hour = ((ts / HOUR_NS) % 24) as u8;
            self.sent.entry(key).or_insert(Sent { reference, hour });
        }
    }

    /// A fill at `px` of an order of `key`; `threshold` is in price raw.
    pub fn on_fill(&mut self, key: SentKey, px: i64, threshold: i64) {
        let Some(s) = self.sent.get(&key).copied() else {
            return;
        };
        let slip = if key.2 {
            px - s.reference
        } else {
            s.reference - px
        };
        let c = &mut self.cells[key.1 as usize][usize::from(s.hour)];
        let hit = if slip > threshold { PPB } else { 0 };
        if c.fills == 0 {
            c.p_ppb = hit;
            c.mean = slip << SLIP_SHIFT;
        } else {
            c.p_ppb = c.p_ppb - (c.p_ppb >> SLIP_SHIFT) + (hit >> SLIP_SHIFT);
            c.mean = c.mean - (c.mean >> SLIP_SHIFT) + slip;
        }
        c.fills = c.fills.saturating_add(1);
    }

    /// Forgets input `seq`: none of its orders is working any more.
    pub fn on_done(&mut self, seq: u64) {
        let keys: Vec<SentKey> = self
            .sent
            .range((seq, 0, false)..=(seq, u32::MAX, true))
            .map(|(k, _)| *k)
            .collect();
        for k in keys {
            self.sent.remove(&k);
        }
    }

    /// The cell of `instrument` at `ts`.
    pub fn cell(&self, instrument: u32, ts: u64) -> SlipCell {
        self.cells
            .get(instrument as usize)
            .map_or(SlipCell::default(), |c| c[((ts / HOUR_NS) % 24) as usize])
    }
}
