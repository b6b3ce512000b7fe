//! Account clusters: k-means (Lloyd's algorithm, k-means++ seeding from a fixed seed, so the
//! same accounts always give the same clusters) on log balance and leverage, each feature
//! standardised. Clusters are numbered by ascending mean leverage; each step up in leverage
//! asks a higher margin level before a stressed regime cuts an account.

use mam_core::account::AccountVecs;
use mam_core::adaptive::ClusterParams;
use mam_core::num::Ratio;

/// At most this many clusters.
pub const MAX_CLUSTERS: usize = 3;
const SEED: u64 = 0x6d61_6d5f_7472_6169; // "mam_trai"

/// The clusters found: parameters per cluster and each account's cluster.
#[derive(Debug, Clone)]
pub struct Clusters {
    /// Parameters, index = cluster.
    pub params: Vec<ClusterParams>,
    /// Cluster of each account, in the accounts' order.
    pub assignment: Vec<u16>,
    /// Accounts per cluster.
    pub counts: Vec<usize>,
    /// Mean leverage per cluster.
    pub mean_leverage: Vec<f64>,
    /// Mean balance per cluster (account currency).
    pub mean_balance: Vec<f64>,
}

/// splitmix64 (the repository's one copy) for the seeding.
use mam_core::rand::splitmix64 as splitmix;

fn dist2(a: &[f64; 2], b: &[f64; 2]) -> f64 {
    (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)
}

fn nearest(x: &[f64; 2], centres: &[[f64; 2]]) -> usize {
    (0..centres.len()).fold(0, |m, c| {
        if dist2(x, &centres[c]) < dist2(x, &centres[m]) {
            c
        } else {
            m
        }
    })
}

/// Groups the accounts (at least one) into up to [`MAX_CLUSTERS`] clusters.
pub fn cluster(acc: &AccountVecs) -> Clusters {
    let n = acc.leverage.len();
    let raw: Vec<[f64; 2]> = (0..n)
        .map(|i| {
            let bal = acc.balance[i].raw() as f64 / 1e6;
            [bal.max(1.0).ln(), f64::from(acc.leverage[i])]
        })
        .collect();
    // Standardise each feature (a constant feature stays 0).
    let mut x = raw.clone();
    for f in 0..2 {
        let mean = raw.iter().map(|p| p[f]).sum::<f64>() / n as f64;
        let sd = (raw.iter().map(|p| (p[f] - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
        x.iter_mut()
            .for_each(|p| p[f] = if sd > 0.0 { (p[f] - mean) / sd } else { 0.0 });
    }
    let mut distinct = x.clone();
    distinct.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    distinct.dedup();
    let k = MAX_CLUSTERS.min(distinct.len());
    // k-means++: the first centre by the seed, each next one with probability ∝ d².
    let mut rng = SEED;
    let mut centres = vec![x[(splitmix(&mut rng) % n as u64) as usize]];
    while centres.len() < k {
        let d: Vec<f64> = x
            .iter()
            .map(|p| dist2(p, &centres[nearest(p, &centres)]))
            .collect();
        let total: f64 = d.iter().sum();
        let mut target = (splitmix(&mut rng) >> 11) as f64 / (1u64 << 53) as f64 * total;
        let pick = d
            .iter()
            .position(|&di| {
                target -= di;
                target < 0.0 && di > 0.0
            })
            .unwrap_or_else(|| d.iter().rposition(|&di| di > 0.0).unwrap_or(0));
        centres.push(x[pick]);
    }
    let mut assign = vec![usize::MAX; n];
    for _ in 0..100 {
        let next: Vec<usize> = x.iter().map(|p| nearest(p, &centres)).collect();
        if next == assign {
            break;
        }
        assign = next;
        for (c, centre) in centres.iter_mut().enumerate() {
            let members: Vec<&[f64; 2]> =
                (0..n).filter(|&i| assign[i] == c).map(|i| &x[i]).collect();
            if !members.is_empty() {
                let m = members.len() as f64;
                *centre = [
                    members.iter().map(|p| p[0]).sum::<f64>() / m,
                    members.iter().map(|p| p[1]).sum::<f64>() / m,
                ];
            }
        }
    }
    // Renumber the non-empty clusters by ascending mean leverage.
    let stats = |c: usize, f: usize| {
        let v: Vec<f64> = (0..n)
            .filter(|&i| assign[i] == c)
            .map(|i| raw[i][f])
            .collect();
        (v.len(), v.iter().sum::<f64>() / v.len().max(1) as f64)
    };
    let mut order: Vec<usize> = (0..k).filter(|&c| stats(c, 0).0 > 0).collect();
    order.sort_by(|&a, &b| stats(a, 1).1.total_cmp(&stats(b, 1).1).then(a.cmp(&b)));
    let label = |c: usize| order.iter().position(|&o| o == c).unwrap_or(0) as u16;
    Clusters {
        params: (0..order.len()).map(params_for_tier).collect(),
        assignment: assign.iter().map(|&c| label(c)).collect(),
        counts: order.iter().map(|&c| stats(c, 0).0).collect(),
        mean_leverage: order.iter().map(|&c| stats(c, 1).1).collect(),
        mean_balance: order
            .iter()
            .map(|&c| {
                let v: Vec<f64> = (0..n)
                    .filter(|&i| assign[i] == c)
                    .map(|i| raw[i][0].exp())
                    .collect();
                v.iter().sum::<f64>() / v.len().max(1) as f64
            })
            .collect(),
    }
}

/// Parameters of the cluster at leverage rank `tier` (0 = lowest leverage = the defaults):
/// each tier up needs 100 percentage points more margin level in a stressed regime.
fn params_for_tier(tier: usize) -> ClusterParams {
    let d = ClusterParams::default();
    let step = Ratio(100 * Ratio::ONE_RAW);
    ClusterParams {
        stressed_margin_level: Ratio(d.stressed_margin_level.raw() + tier as i64 * step.raw()),
        ..d
    }
}
