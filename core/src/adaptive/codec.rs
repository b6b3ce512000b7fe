//! The adaptive layer as bytes, for checkpoints: the model it ran (so a replay of the journal
//! after the checkpoint runs the same model whatever the configuration says now) and the state
//! quotes moved. Little-endian, length-prefixed; decoding checks every length.

use super::model::{
    AdaptiveModel, ClusterParams, RegimeModel, SymbolModel, VolParams, BUCKETS, REGIMES,
};
use super::state::HOURS;
use super::AdaptiveState;
use crate::num::Ratio;
use crate::symbol::SymbolTable;

fn u32v(w: &mut Vec<u8>, v: u32) {
    w.extend_from_slice(&v.to_le_bytes());
}
fn u64v(w: &mut Vec<u8>, v: u64) {
    w.extend_from_slice(&v.to_le_bytes());
}

struct R<'a> {
    b: &'a [u8],
    at: usize,
}

impl R<'_> {
    fn take(&mut self, n: usize, what: &str) -> Result<&[u8], String> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.b.len());
        let end = end.ok_or_else(|| format!("adaptive state ends inside {what}"))?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u32(&mut self, what: &str) -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.take(4, what)?.try_into().unwrap_or_default(),
        ))
    }
    fn u64(&mut self, what: &str) -> Result<u64, String> {
        Ok(u64::from_le_bytes(
            self.take(8, what)?.try_into().unwrap_or_default(),
        ))
    }
    fn i64(&mut self, what: &str) -> Result<i64, String> {
        Ok(self.u64(what)? as i64)
    }
    fn count(&mut self, max: usize, what: &str) -> Result<usize, String> {
        let n = self.u32(what)? as usize;
        if n > max {
            return Err(format!("adaptive state: {n} {what}, at most {max}"));
        }
        Ok(n)
    }
}

/// The model as bytes (also what [`AdaptiveState::fingerprint`] hashes).
pub fn encode_model(m: &AdaptiveModel) -> Vec<u8> {
    let mut w = Vec::new();
    u32v(&mut w, m.symbols.len() as u32);
    for s in &m.symbols {
        u32v(&mut w, s.symbol.len() as u32);
        w.extend_from_slice(s.symbol.as_bytes());
        for v in [
            s.sample_ns,
            s.vol.omega,
            s.vol.alpha_ppb,
            s.vol.beta_ppb,
            s.vol.initial_var,
            s.sigma_target,
            s.regime.sigma_ref,
        ] {
            u64v(&mut w, v);
        }
        s.regime.edges.iter().for_each(|&e| u32v(&mut w, e));
        s.regime
            .trans
            .iter()
            .flatten()
            .for_each(|&e| u32v(&mut w, e));
        s.regime
            .emit
            .iter()
            .flatten()
            .for_each(|&e| u32v(&mut w, e));
        u32v(&mut w, s.regime.switch_ppb);
    }
    u32v(&mut w, m.clusters.len() as u32);
    for c in &m.clusters {
        for r in cluster_ratios(c) {
            u64v(&mut w, r.raw() as u64);
        }
        u32v(&mut w, c.dd_power);
    }
    w
}

fn cluster_ratios(c: &ClusterParams) -> [Ratio; 13] {
    [
        c.vol_min,
        c.vol_max,
        c.stressed_margin_level,
        c.margin_cut,
        c.dd_floor,
        c.leg_cap,
        c.impact_cap,
        c.impact_y,
        c.spread_min,
        c.spread_max,
        c.risk_cap,
        c.slip_pips,
        c.slip_cut,
    ]
}

fn decode_model(r: &mut R<'_>) -> Result<AdaptiveModel, String> {
    let n = r.count(4096, "model symbols")?;
    let mut symbols = Vec::with_capacity(n);
    for _ in 0..n {
        let len = r.count(64, "symbol name bytes")?;
        let symbol = String::from_utf8(r.take(len, "symbol name")?.to_vec())
            .map_err(|_| "adaptive state: symbol name is not UTF-8".to_string())?;
        let mut v = [0u64; 7];
        for x in v.iter_mut() {
            *x = r.u64("symbol parameters")?;
        }
        let mut edges = [0u32; BUCKETS - 1];
        for e in edges.iter_mut() {
            *e = r.u32("regime edges")?;
        }
        let mut trans = [[0u32; REGIMES]; REGIMES];
        for e in trans.iter_mut().flatten() {
            *e = r.u32("regime transitions")?;
        }
        let mut emit = [[0u32; BUCKETS]; REGIMES];
        for e in emit.iter_mut().flatten() {
            *e = r.u32("regime emissions")?;
        }
        let switch_ppb = r.u32("regime switch")?;
        symbols.push(SymbolModel {
            symbol,
            sample_ns: v[0],
            vol: VolParams {
                omega: v[1],
                alpha_ppb: v[2],
                beta_ppb: v[3],
                initial_var: v[4],
            },
            sigma_target: v[5],
            regime: RegimeModel {
                sigma_ref: v[6],
                edges,
                trans,
                emit,
                switch_ppb,
            },
        });
    }
    let n = r.count(65_536, "clusters")?;
    let mut clusters = Vec::with_capacity(n);
    for _ in 0..n {
        let mut x = [Ratio::ZERO; 13];
        for v in x.iter_mut() {
            *v = Ratio(r.i64("cluster parameters")?);
        }
        clusters.push(ClusterParams {
            vol_min: x[0],
            vol_max: x[1],
            stressed_margin_level: x[2],
            margin_cut: x[3],
            dd_floor: x[4],
            leg_cap: x[5],
            impact_cap: x[6],
            impact_y: x[7],
            spread_min: x[8],
            spread_max: x[9],
            risk_cap: x[10],
            slip_pips: x[11],
            slip_cut: x[12],
            dd_power: r.u32("dd power")?,
        });
    }
    let m = AdaptiveModel { symbols, clusters };
    m.validate().map_err(|e| e.to_string())?;
    Ok(m)
}

impl AdaptiveState {
    /// Appends the model, the switch and every instrument's state to `w`.
    pub fn encode(&self, w: &mut Vec<u8>) {
        let m = encode_model(&self.model);
        u32v(w, m.len() as u32);
        w.extend_from_slice(&m);
        w.push(u8::from(self.on));
        u64v(w, self.allocations);
        u32v(w, self.state.len() as u32);
        for s in &self.state {
            for v in [
                s.interval,
                s.last_mid2 as u64,
                s.cur_mid2 as u64,
                s.var,
                s.samples,
            ] {
                u64v(w, v);
            }
            s.post.iter().for_each(|&p| u64v(w, p));
            w.push(s.label);
            s.spread_norm.iter().for_each(|&p| u64v(w, p));
            u64v(w, s.spread as u64);
            w.push(s.hour);
            u64v(w, s.depth as u64);
        }
        let c = &self.corr;
        for &(k, r) in &c.last {
            u64v(w, k);
            u64v(w, r as u64);
        }
        c.cov.iter().for_each(|&x| u64v(w, x as u64));
        c.count.iter().for_each(|&x| u32v(w, x));
        for cells in &self.slip.cells {
            for x in cells {
                u64v(w, x.p_ppb);
                u64v(w, x.mean as u64);
                u32v(w, x.fills);
            }
        }
        u32v(w, self.slip.sent.len() as u32);
        for (&(seq, instrument, buy), s) in &self.slip.sent {
            u64v(w, seq);
            u32v(w, instrument);
            w.push(u8::from(buy));
            u64v(w, s.reference as u64);
            w.push(s.hour);
        }
    }

    /// Decodes what [`encode`](Self::encode) wrote, for `symbols`; returns the state and the
    /// bytes used.
    pub fn decode(b: &[u8], symbols: &SymbolTable) -> Result<(Self, usize), String> {
        let mut r = R { b, at: 0 };
        let len = r.count(1 << 24, "model bytes")?;
        let start = r.at;
        let model = decode_model(&mut r)?;
        if r.at - start != len {
            return Err("adaptive state: model length does not match".into());
        }
        let mut st = AdaptiveState::new(model, symbols);
        st.on = match r.take(1, "switch")?[0] {
            0 => false,
            1 => true,
            x => return Err(format!("adaptive state: switch byte {x}")),
        };
        st.allocations = r.u64("allocations")?;
        let n = r.count(1 << 20, "instruments")?;
        let n_instruments = n;
        if n != st.state.len() {
            return Err(format!(
                "adaptive state holds {n} instruments, the symbol table {}",
                st.state.len()
            ));
        }
        for s in st.state.iter_mut() {
            s.interval = r.u64("interval")?;
            s.last_mid2 = r.i64("mid")?;
            s.cur_mid2 = r.i64("mid")?;
            s.var = r.u64("variance")?;
            s.samples = r.u64("samples")?;
            for p in s.post.iter_mut() {
                *p = r.u64("posterior")?;
            }
            s.label = r.take(1, "label")?[0];
            if s.label as usize >= REGIMES {
                return Err(format!("adaptive state: regime label {}", s.label));
            }
            for p in s.spread_norm.iter_mut().take(HOURS) {
                *p = r.u64("spread norm")?;
            }
            s.spread = r.i64("spread")?;
            s.hour = r.take(1, "hour")?[0];
            if usize::from(s.hour) >= HOURS {
                return Err(format!("adaptive state: hour {}", s.hour));
            }
            s.depth = r.i64("depth")?;
        }
        for x in st.corr.last.iter_mut() {
            *x = (r.u64("last interval")?, r.i64("last return")?);
        }
        for x in st.corr.cov.iter_mut() {
            *x = r.i64("covariance")?;
        }
        for x in st.corr.count.iter_mut() {
            *x = r.u32("pair count")?;
        }
        for cells in st.slip.cells.iter_mut() {
            for x in cells.iter_mut() {
                x.p_ppb = r.u64("slippage probability")?;
                x.mean = r.i64("slippage mean")?;
                x.fills = r.u32("slippage fills")?;
            }
        }
        let n = r.count(1 << 24, "remembered orders")?;
        for _ in 0..n {
            let cl = r.u64("order id")?;
            let instrument = r.u32("order instrument")?;
            let buy = r.take(1, "order side")?[0] == 1;
            let reference = r.i64("order reference")?;
            let hour = r.take(1, "order hour")?[0];
            if instrument as usize >= n_instruments || hour >= 24 {
                return Err(format!(
                    "adaptive state: remembered order {cl} out of range"
                ));
            }
            st.slip.sent.insert(
                (cl, instrument, buy),
                super::cross::Sent { reference, hour },
            );
        }
        Ok((st, r.at))
    }
}
