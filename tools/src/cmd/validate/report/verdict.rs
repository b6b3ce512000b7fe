//! Adaptive against static, metric by metric: beat, tied or lost, and whether the claim of
//! DESIGN.md §5 holds on this data. Plain statements; a tie or a loss is said as such.

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use super::analysis::{RunMetrics, FRACTION_DECIMALS};
use super::metrics::round;

/// Which way a metric is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    /// Smaller is better.
    Lower,
    /// Larger is better.
    Higher,
}

/// How a metric is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A fraction shown as a percentage (0.01 → `1.0000 %`).
    Fraction,
    /// Already a percentage.
    Percent,
    /// A count.
    Count,
    /// Money raw (micro-units), shown in account currency units.
    Money,
    /// A multiple (`12.50×`).
    Multiple,
}

impl Unit {
    /// Decimals the value is compared with (the precision it is written with).
    fn decimals(self) -> u32 {
        match self {
            Unit::Fraction => FRACTION_DECIMALS,
            Unit::Percent | Unit::Multiple => 6,
            Unit::Count | Unit::Money => 0,
        }
    }

    /// The value as a person reads it.
    pub fn show(self, v: Option<f64>) -> String {
        let Some(v) = v else {
            return "n/a".into();
        };
        match self {
            Unit::Fraction => format!("{:.4} %", v * 100.0),
            Unit::Percent => format!("{v:.4} %"),
            Unit::Count => format!("{v:.0}"),
            Unit::Money => format!("{:.2}", v / 1e6),
            Unit::Multiple => format!("{v:.2}×"),
        }
    }
}

/// One metric of the comparison.
#[derive(Debug, Clone, Copy)]
pub struct MetricDef {
    /// Its key in `report.json`.
    pub key: &'static str,
    /// Its label in the tables.
    pub label: &'static str,
    /// How it is shown.
    pub unit: Unit,
    /// Which way is better.
    pub better: Better,
    /// Reads it from a run's metrics.
    pub get: fn(&RunMetrics) -> Option<f64>,
}

/// Every metric compared, in table order.
pub const METRICS: &[MetricDef] = &[
    MetricDef {
        key: "dispersion_daily_mean",
        label: "daily dispersion (asset-weighted σ), mean",
        unit: Unit::Fraction,
        better: Better::Lower,
        get: |m| m.dispersion_daily_mean,
    },
    MetricDef {
        key: "dispersion_daily_max",
        label: "daily dispersion (asset-weighted σ), max",
        unit: Unit::Fraction,
        better: Better::Lower,
        get: |m| m.dispersion_daily_max,
    },
    MetricDef {
        key: "range_daily_mean",
        label: "daily high–low range, mean",
        unit: Unit::Fraction,
        better: Better::Lower,
        get: |m| m.range_daily_mean,
    },
    MetricDef {
        key: "dispersion_period",
        label: "period dispersion (asset-weighted σ of cumulative)",
        unit: Unit::Fraction,
        better: Better::Lower,
        get: |m| m.dispersion_period,
    },
    MetricDef {
        key: "range_period",
        label: "period high–low range of cumulative",
        unit: Unit::Fraction,
        better: Better::Lower,
        get: |m| m.range_period,
    },
    MetricDef {
        key: "sync_mean",
        label: "equity synchronisation (MAD), mean",
        unit: Unit::Fraction,
        better: Better::Lower,
        get: |m| m.sync_mean,
    },
    MetricDef {
        key: "accounts_breaching",
        label: "accounts breaching drawdown tolerance",
        unit: Unit::Count,
        better: Better::Lower,
        get: |m| Some(f64::from(m.accounts_breaching)),
    },
    MetricDef {
        key: "breaches",
        label: "drawdown-tolerance breaches",
        unit: Unit::Count,
        better: Better::Lower,
        get: |m| Some(f64::from(m.breaches)),
    },
    MetricDef {
        key: "max_drawdown_worst",
        label: "worst account max drawdown",
        unit: Unit::Fraction,
        better: Better::Lower,
        get: |m| Some(m.max_drawdown_worst),
    },
    MetricDef {
        key: "stop_outs",
        label: "stop-outs",
        unit: Unit::Count,
        better: Better::Lower,
        get: |m| Some(m.stop_outs as f64),
    },
    MetricDef {
        key: "margin_calls",
        label: "margin calls",
        unit: Unit::Count,
        better: Better::Lower,
        get: |m| Some(m.margin_calls as f64),
    },
    MetricDef {
        key: "exposure_in_bounds_pct",
        label: "allocations inside bounds (must be 100 %)",
        unit: Unit::Percent,
        better: Better::Higher,
        get: |m| m.exposure_in_bounds_pct,
    },
    MetricDef {
        key: "capital_efficiency",
        label: "capital efficiency (notional / margin)",
        unit: Unit::Multiple,
        better: Better::Higher,
        get: |m| m.capital_efficiency,
    },
    MetricDef {
        key: "aggregate_return",
        label: "aggregate return (asset-weighted)",
        unit: Unit::Fraction,
        better: Better::Higher,
        get: |m| Some(m.aggregate_return),
    },
    MetricDef {
        key: "annualised_volatility",
        label: "annualised volatility",
        unit: Unit::Fraction,
        better: Better::Lower,
        get: |m| m.annualised_volatility,
    },
    MetricDef {
        key: "turnover",
        label: "turnover (traded notional)",
        unit: Unit::Money,
        better: Better::Lower,
        get: |m| Some(m.turnover as f64),
    },
    MetricDef {
        key: "cost",
        label: "cost (commissions + spread)",
        unit: Unit::Money,
        better: Better::Lower,
        get: |m| Some(m.cost as f64),
    },
];

/// The outcome of one metric for the adaptive run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Adaptive is better.
    Beat,
    /// Equal at the precision the report writes.
    Tied,
    /// Adaptive is worse.
    Lost,
    /// A side has no value (e.g. no margin recorded).
    #[serde(rename = "n/a")]
    NotComparable,
}

impl Outcome {
    /// A word for tables.
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Beat => "beat",
            Outcome::Tied => "tied",
            Outcome::Lost => "lost",
            Outcome::NotComparable => "n/a",
        }
    }
}

/// One metric's verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricVerdict {
    /// Which way is better.
    pub better: Better,
    /// The static run's value.
    #[serde(rename = "static")]
    pub baseline: Option<f64>,
    /// The adaptive run's value.
    #[serde(rename = "adaptive")]
    pub candidate: Option<f64>,
    /// Adaptive beat static, tied or lost.
    pub outcome: Outcome,
    /// The same in one sentence.
    pub statement: String,
}

/// Whether each run stayed inside the manager's bounds (exact: `in_bounds == allocations`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bounds {
    /// The static run stayed inside.
    #[serde(rename = "static")]
    pub baseline: bool,
    /// The adaptive run stayed inside.
    #[serde(rename = "adaptive")]
    pub candidate: bool,
}

/// DESIGN.md §5's claim, tested on this report's data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Claim {
    /// The claim.
    pub text: &'static str,
    /// True only if every part below holds.
    pub holds: bool,
    /// Each part, with its outcome.
    pub parts: Vec<String>,
}

/// Adaptive against static.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Each metric of `METRICS`, in order.
    pub metrics: Vec<(&'static str, MetricVerdict)>,
    /// Beats, ties, losses (not counting n/a).
    pub beat: u32,
    /// Ties.
    pub tied: u32,
    /// Losses.
    pub lost: u32,
    /// Bounds.
    pub bounds: Bounds,
    /// The claim.
    pub claim: Claim,
}

impl Serialize for Verdict {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct ByKey<'a>(&'a [(&'static str, MetricVerdict)]);
        impl Serialize for ByKey<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(self.0.len()))?;
                for (k, v) in self.0 {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
        }
        let mut m = s.serialize_map(Some(7))?;
        m.serialize_entry("baseline", "static")?;
        m.serialize_entry("candidate", "adaptive")?;
        m.serialize_entry("metrics", &ByKey(&self.metrics))?;
        m.serialize_entry("beat", &self.beat)?;
        m.serialize_entry("tied", &self.tied)?;
        m.serialize_entry("lost", &self.lost)?;
        m.serialize_entry("bounds", &self.bounds)?;
        m.serialize_entry("claim", &self.claim)?;
        m.end()
    }
}

/// Compares one metric: values are rounded to the precision the report writes first, so a tie
/// is what a reader of the report would call equal.
pub fn compare(def: &MetricDef, baseline: Option<f64>, candidate: Option<f64>) -> MetricVerdict {
    let d = def.unit.decimals();
    let outcome = match (baseline, candidate) {
        (Some(b), Some(c)) if b.is_finite() && c.is_finite() => {
            let (b, c) = (round(b, d), round(c, d));
            let adaptive_better = match def.better {
                Better::Lower => c < b,
                Better::Higher => c > b,
            };
            if b == c {
                Outcome::Tied
            } else if adaptive_better {
                Outcome::Beat
            } else {
                Outcome::Lost
            }
        }
        _ => Outcome::NotComparable,
    };
    let (bs, cs) = (def.unit.show(baseline), def.unit.show(candidate));
    let way = match def.better {
        Better::Lower => "lower is better",
        Better::Higher => "higher is better",
    };
    let statement = match outcome {
        Outcome::Beat => format!(
            "adaptive beat static on {}: {cs} vs {bs} ({way})",
            def.label
        ),
        Outcome::Lost => format!(
            "adaptive lost to static on {}: {cs} vs {bs} ({way})",
            def.label
        ),
        Outcome::Tied => format!("adaptive tied static on {}: {cs} vs {bs}", def.label),
        Outcome::NotComparable => {
            format!("{} not comparable: adaptive {cs}, static {bs}", def.label)
        }
    };
    MetricVerdict {
        better: def.better,
        baseline,
        candidate,
        outcome,
        statement,
    }
}

/// DESIGN.md §5: "against the static rule, adaptive allocation lowers the dispersion of
/// sub-account equity curves and the number of drawdown-tolerance breaches and stop-outs,
/// without leaving the manager's bounds".
pub const CLAIM: &str = "against the static rule, adaptive allocation lowers the dispersion of \
sub-account equity curves and the number of drawdown-tolerance breaches and stop-outs, without \
leaving the manager's bounds";

/// The metrics that must each be strictly better (`beat`) for the claim to hold; a tie does
/// not lower anything.
pub const CLAIM_METRICS: &[&str] = &["dispersion_period", "sync_mean", "breaches", "stop_outs"];

/// Adaptive (`candidate`) against static (`baseline`).
pub fn verdict(baseline: &RunMetrics, candidate: &RunMetrics) -> Verdict {
    let metrics: Vec<(&'static str, MetricVerdict)> = METRICS
        .iter()
        .map(|d| (d.key, compare(d, (d.get)(baseline), (d.get)(candidate))))
        .collect();
    let count = |o| metrics.iter().filter(|(_, v)| v.outcome == o).count() as u32;
    let bounds = Bounds {
        baseline: baseline.in_bounds == baseline.allocations,
        candidate: candidate.in_bounds == candidate.allocations,
    };
    let mut parts = Vec::new();
    let mut holds = true;
    for key in CLAIM_METRICS {
        let (_, v) = metrics
            .iter()
            .find(|(k, _)| k == key)
            .expect("claim metrics are in METRICS");
        holds &= v.outcome == Outcome::Beat;
        let mark = if v.outcome == Outcome::Beat {
            "holds"
        } else {
            "does not hold"
        };
        parts.push(format!("{mark}: {}", v.statement));
    }
    holds &= bounds.candidate && candidate.allocations > 0;
    parts.push(if bounds.candidate && candidate.allocations > 0 {
        format!(
            "holds: adaptive stayed inside the manager's bounds ({} of {} allocations)",
            candidate.in_bounds, candidate.allocations
        )
    } else if candidate.allocations == 0 {
        "does not hold: the adaptive run recorded no allocations, so bounds are unproven".into()
    } else {
        format!(
            "does not hold: adaptive left the manager's bounds in {} of {} allocations",
            candidate.allocations - candidate.in_bounds,
            candidate.allocations
        )
    });
    Verdict {
        beat: count(Outcome::Beat),
        tied: count(Outcome::Tied),
        lost: count(Outcome::Lost),
        metrics,
        bounds,
        claim: Claim {
            text: CLAIM,
            holds,
            parts,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beat_tie_loss_at_written_precision() {
        let def = METRICS.iter().find(|d| d.key == "sync_mean").unwrap();
        assert_eq!(compare(def, Some(0.2), Some(0.1)).outcome, Outcome::Beat);
        assert_eq!(compare(def, Some(0.1), Some(0.2)).outcome, Outcome::Lost);
        // Equal at 8 decimals: a tie, not a win.
        let v = compare(def, Some(0.1), Some(0.1 - 1e-10));
        assert_eq!(v.outcome, Outcome::Tied);
        assert!(
            v.statement.starts_with("adaptive tied static"),
            "{}",
            v.statement
        );
        assert_eq!(
            compare(def, None, Some(0.1)).outcome,
            Outcome::NotComparable
        );
        let up = METRICS
            .iter()
            .find(|d| d.key == "aggregate_return")
            .unwrap();
        let v = compare(up, Some(0.05), Some(0.04));
        assert_eq!(v.outcome, Outcome::Lost);
        assert_eq!(
            v.statement,
            "adaptive lost to static on aggregate return (asset-weighted): 4.0000 % vs \
             5.0000 % (higher is better)"
        );
    }
}
