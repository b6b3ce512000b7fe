//! One figure of `mam bench all`: a value beside its reference and its target, and the report
//! files written from the list (`bench.json`, `bench.md`, a summary line each on stdout).
//!
//! Reports only: values are f64 and nothing here is journaled. A missed target is data, not a
//! failure (`met: false`).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;
use serde::Serialize;

/// What a figure is compared with, measured in the same run.
#[derive(Debug, Clone, Serialize)]
pub struct Reference {
    /// What the reference is.
    pub name: String,
    /// Its value, in the figure's unit.
    pub value: f64,
}

/// A target: an upper bound on the value, or on value ÷ reference (`on_ratio`). Every target
/// of the issue is one ("≥ 2× faster than itch5" is value ÷ itch5's ≤ 0.5).
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    /// As the issue states it.
    pub text: String,
    /// Whether the bound applies to `value / reference.value` instead of `value`.
    pub on_ratio: bool,
    /// The upper bound, in the figure's unit (or a plain ratio).
    pub at_most: f64,
}

/// One measured figure.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    /// Stable key (`group.what[.detail]`): the test and later runs look figures up by it.
    pub name: String,
    /// What was measured, for people.
    pub what: String,
    /// The measurement.
    pub value: f64,
    /// Its unit (`ns`, `µs`, `instructions`, ...).
    pub unit: &'static str,
    /// What it is compared with.
    pub reference: Option<Reference>,
    /// `value / reference.value`.
    pub ratio: Option<f64>,
    /// The target, if the issue (or the benchmark) sets one.
    pub target: Option<Target>,
    /// Whether the target was met; `None` when there is no target.
    pub met: Option<bool>,
}

impl Figure {
    /// A figure with no reference and no target yet.
    pub fn new(
        name: impl Into<String>,
        what: impl Into<String>,
        value: f64,
        unit: &'static str,
    ) -> Self {
        Figure {
            name: name.into(),
            what: what.into(),
            value,
            unit,
            reference: None,
            ratio: None,
            target: None,
            met: None,
        }
    }

    /// Beside `name`, measured at `value` (same unit).
    pub fn vs(mut self, name: impl Into<String>, value: f64) -> Self {
        self.ratio = (value != 0.0).then(|| self.value / value);
        self.reference = Some(Reference {
            name: name.into(),
            value,
        });
        self.judge()
    }

    /// Target: value ≤ `bound`.
    pub fn at_most(self, bound: f64, text: impl Into<String>) -> Self {
        self.target(false, bound, text)
    }

    /// Target: value ÷ reference ≤ `bound`.
    pub fn ratio_at_most(self, bound: f64, text: impl Into<String>) -> Self {
        self.target(true, bound, text)
    }

    /// A target as a subcommand states it: `<= N ns` (on the value) or `<= Nx` (on the
    /// ratio); anything else (`-`) is no target.
    pub fn stated(self, text: &str) -> Self {
        let t = text.trim_start_matches("<=").trim();
        if let Some(x) = t.strip_suffix('x').and_then(|x| x.parse::<f64>().ok()) {
            self.ratio_at_most(x, format!("≤ {x}× the reference"))
        } else if let Some(n) = t.strip_suffix(" ns").and_then(|n| n.parse::<f64>().ok()) {
            self.at_most(n, format!("≤ {n} ns"))
        } else {
            self
        }
    }

    fn target(mut self, on_ratio: bool, bound: f64, text: impl Into<String>) -> Self {
        self.target = Some(Target {
            text: text.into(),
            on_ratio,
            at_most: bound,
        });
        self.judge()
    }

    /// Recomputes `met` (after the target or the reference changed). A ratio target without
    /// a reference, or a NaN, is not met.
    fn judge(mut self) -> Self {
        self.met = self.target.as_ref().map(|t| {
            let x = if t.on_ratio {
                self.ratio
            } else {
                Some(self.value)
            };
            x.is_some_and(|x| x <= t.at_most)
        });
        self
    }

    /// The one-line stdout summary.
    pub fn summary(&self) -> String {
        let mut s = format!("{:<44} {:>12} {:<5}", self.name, num(self.value), self.unit);
        if let (Some(r), Some(x)) = (&self.reference, self.ratio) {
            let _ = write!(
                s,
                "  ref {} {} {} ({x:.2}×)",
                r.name,
                num(r.value),
                self.unit
            );
        }
        if let (Some(t), Some(m)) = (&self.target, self.met) {
            let _ = write!(
                s,
                "  target {}: {}",
                t.text,
                if m { "met" } else { "MISSED" }
            );
        }
        s
    }
}

/// A number printed with as many decimals as its size deserves.
fn num(x: f64) -> String {
    let a = x.abs();
    if a >= 1000.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.3}")
    }
}

/// The markdown table of `bench.md`.
pub fn markdown(figures: &[Figure]) -> String {
    let mut s = String::from(
        "| figure | value | reference | ratio | target | met |\n|---|---:|---|---:|---|---|\n",
    );
    for f in figures {
        let r = f.reference.as_ref().map_or(String::new(), |r| {
            format!("{} {} {}", r.name, num(r.value), f.unit)
        });
        let ratio = f.ratio.map_or(String::new(), |x| format!("{x:.2}×"));
        let t = f.target.as_ref().map_or("", |t| t.text.as_str());
        let met = match f.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "",
        };
        let _ = writeln!(
            s,
            "| `{}` {} | {} {} | {r} | {ratio} | {t} | {met} |",
            f.name,
            f.what,
            num(f.value),
            f.unit
        );
    }
    s
}

/// Writes `text` to `dir/name`.
pub fn write(dir: &Path, name: &str, text: &str) -> anyhow::Result<()> {
    let p = dir.join(name);
    std::fs::write(&p, text).with_context(|| format!("writing {}", p.display()))
}

#[cfg(test)]
mod tests {
    use super::Figure;

    #[test]
    fn targets_judge_the_value_or_the_ratio() {
        let f = Figure::new("a", "a", 50.0, "ns").at_most(60.0, "≤ 60 ns");
        assert_eq!(f.met, Some(true));
        // 2× faster than the reference is value ÷ reference ≤ 0.5.
        let f = Figure::new("b", "b", 3.0, "ns")
            .vs("ref", 5.0)
            .ratio_at_most(0.5, "≥ 2× faster");
        assert_eq!((f.ratio, f.met), (Some(0.6), Some(false)));
        // A ratio target without a reference is not met; no target, no verdict.
        let f = Figure::new("c", "c", 1.0, "ns").ratio_at_most(2.0, "≤ 2×");
        assert_eq!(f.met, Some(false));
        assert_eq!(Figure::new("d", "d", 1.0, "ns").vs("r", 1.0).met, None);
    }

    #[test]
    fn subcommand_targets_are_read() {
        let f = Figure::new("a", "a", 120.0, "ns").vs("r", 100.0);
        assert_eq!(f.clone().stated("<= 100 ns").met, Some(false));
        assert_eq!(f.clone().stated("<= 2x").met, Some(true));
        assert_eq!(f.stated("-").met, None);
    }
}
