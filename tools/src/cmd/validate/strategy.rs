//! The manager strategies `mam validate` replays: seeded, of different character, deciding on
//! hourly closes in integer arithmetic (the same bars give the same trades on any machine).
//!
//! - `trend`: exponential moving averages of hourly closes, fast over slow; long when fast is
//!   above, short when below; a cross closes the ticket and opens the other way.
//! - `meanrev`: a 48-hour mean and mean absolute deviation; enter against a move of more than
//!   `2 × MAD` from the mean, take profit at the mean, stop out at `4 × MAD` from it.
//!
//! The seed varies the lookbacks a little (so two seeds are two managers) and nothing else.

/// What a strategy wants on one symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Close the open ticket (if any) and open one long (`true`) or short.
    Enter(bool),
    /// Close the open ticket.
    Exit,
}

/// A strategy over one symbol's hourly closes (price raw).
pub trait Strategy {
    /// One hourly close; the signal, if any. `position` is the manager's: +1, -1 or 0.
    fn on_close(&mut self, close: i64, position: i8) -> Option<Signal>;
}

/// The repo's one splitmix64 (`mam_core::alloc::synth`).
pub use mam_core::alloc::synth::splitmix64 as next;

/// EMA in integers: `e += (x − e) × 2 / (n + 1)`, rounded toward zero.
#[derive(Debug, Clone, Copy)]
struct Ema {
    n: i64,
    v: Option<i64>,
}

impl Ema {
    fn push(&mut self, x: i64) -> i64 {
        let v = match self.v {
            None => x,
            Some(e) => e + (x - e) * 2 / (self.n + 1),
        };
        self.v = Some(v);
        v
    }
}

/// Trend following on two EMAs.
#[derive(Debug, Clone)]
pub struct Trend {
    fast: Ema,
    slow: Ema,
    seen: u32,
    warm: u32,
}

impl Trend {
    /// Lookbacks 24 and 120 hours, each moved by up to ±20 % by the seed.
    pub fn new(seed: &mut u64) -> Self {
        let f = 20 + (next(seed) % 9) as i64;
        let s = 100 + (next(seed) % 41) as i64;
        Trend {
            fast: Ema { n: f, v: None },
            slow: Ema { n: s, v: None },
            seen: 0,
            warm: s as u32,
        }
    }
}

impl Strategy for Trend {
    fn on_close(&mut self, close: i64, position: i8) -> Option<Signal> {
        let (f, s) = (self.fast.push(close), self.slow.push(close));
        self.seen += 1;
        if self.seen < self.warm || f == s {
            return None;
        }
        let want: i8 = if f > s { 1 } else { -1 };
        (want != position).then_some(Signal::Enter(want > 0))
    }
}

/// Mean reversion with a stop.
#[derive(Debug, Clone)]
pub struct MeanRev {
    window: Vec<i64>,
    len: usize,
    at: usize,
    full: bool,
    entry_band: i64,
    stop_band: i64,
}

impl MeanRev {
    /// A 40-56 hour window; enter at 2 MAD, stop at 4 MAD (in tenths, moved by the seed).
    pub fn new(seed: &mut u64) -> Self {
        let len = 40 + (next(seed) % 17) as usize;
        MeanRev {
            window: vec![0; len],
            len,
            at: 0,
            full: false,
            entry_band: 18 + (next(seed) % 5) as i64,
            stop_band: 40,
        }
    }
}

impl Strategy for MeanRev {
    fn on_close(&mut self, close: i64, position: i8) -> Option<Signal> {
        self.window[self.at] = close;
        self.at = (self.at + 1) % self.len;
        self.full |= self.at == 0;
        if !self.full {
            return None;
        }
        let n = self.len as i64;
        let mean = self.window.iter().sum::<i64>() / n;
        let mad = (self.window.iter().map(|x| (x - mean).abs()).sum::<i64>() / n).max(1);
        let dev10 = (close - mean) * 10 / mad; // deviation in tenths of a MAD
        match position {
            0 if dev10 <= -self.entry_band => Some(Signal::Enter(true)),
            0 if dev10 >= self.entry_band => Some(Signal::Enter(false)),
            1 if dev10 >= 0 || dev10 <= -self.stop_band => Some(Signal::Exit),
            -1 if dev10 <= 0 || dev10 >= self.stop_band => Some(Signal::Exit),
            _ => None,
        }
    }
}

/// A strategy by name, or `None`.
pub fn by_name(name: &str, seed: &mut u64) -> Option<Box<dyn Strategy>> {
    match name {
        "trend" => Some(Box::new(Trend::new(seed))),
        "meanrev" => Some(Box::new(MeanRev::new(seed))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trend_follows_a_rising_then_falling_market() {
        let mut seed = 1;
        let mut t = Trend::new(&mut seed);
        let mut pos = 0i8;
        let mut signals = Vec::new();
        for k in 0..600i64 {
            let px = if k < 300 {
                100_000 + k * 100
            } else {
                130_000 - (k - 300) * 100
            };
            if let Some(s) = t.on_close(px, pos) {
                signals.push((k, s));
                pos = match s {
                    Signal::Enter(b) => {
                        if b {
                            1
                        } else {
                            -1
                        }
                    }
                    Signal::Exit => 0,
                };
            }
        }
        assert_eq!(signals.first().map(|s| s.1), Some(Signal::Enter(true)));
        assert_eq!(signals.last().map(|s| s.1), Some(Signal::Enter(false)));
        assert!(signals.last().unwrap().0 > 300);
    }

    #[test]
    fn meanrev_buys_a_dip_and_exits_at_the_mean() {
        let mut seed = 2;
        let mut m = MeanRev::new(&mut seed);
        let mut pos = 0i8;
        let mut got = Vec::new();
        for k in 0..200i64 {
            let px = match k {
                100 => 99_000,
                101..=103 => 99_500,
                _ => 100_000 + (k % 2) * 20,
            };
            if let Some(s) = m.on_close(px, pos) {
                got.push(s);
                pos = match s {
                    Signal::Enter(b) => {
                        if b {
                            1
                        } else {
                            -1
                        }
                    }
                    Signal::Exit => 0,
                };
            }
        }
        assert_eq!(got.first(), Some(&Signal::Enter(true)));
        assert!(got.contains(&Signal::Exit));
    }
}
