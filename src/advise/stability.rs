//! The stability check of `advise`: do the confirmed arms keep their order, and their
//! side of the baseline, when every model trains twice as long?

use super::verdict::{self, SizeVerdict};
use crate::experiment::Metric;

/// One arm of the stability check.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StabilityRow {
    pub arm: String,
    pub baseline: String,
    /// Arm − baseline at the plan's length (confirmation) and at twice it.
    pub diff: f64,
    pub diff_doubled: f64,
}

/// The stability check: the confirmed arms and their baseline at twice the length,
/// at the screening size, on the confirmation seeds.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Stability {
    pub size: usize,
    pub rows: Vec<StabilityRow>,
    /// The best arm at the planned length, and the best at twice it.
    pub best: String,
    pub best_doubled: String,
    /// The best arm stays the best and on the same side of its baseline.
    pub holds: bool,
}

impl Stability {
    /// The outcome in words, for the page and the sentences: "holds (crop stays the best)",
    /// "does not hold (crop was best, mixup is now)", or, when the best arm stays the
    /// best but crosses to the other side of its baseline, "does not hold (mixup stays
    /// the best, but moves from -0.4 points to +1.3 points against none)".
    pub fn outcome(&self, metric: Metric) -> String {
        if self.holds {
            return format!("holds ({} stays the best, on the same side of its baseline)", self.best);
        }
        let stayed = self.rows.iter().find(|r| r.arm == self.best).filter(|_| self.best == self.best_doubled);
        match stayed {
            Some(r) => format!(
                "does not hold ({} stays the best, but moves from {} to {} against {})",
                r.arm,
                verdict::show_diff(metric, r.diff),
                verdict::show_diff(metric, r.diff_doubled),
                r.baseline
            ),
            None => format!("does not hold ({} was best, {} is now)", self.best, self.best_doubled),
        }
    }

    pub(super) fn compare(planned: &SizeVerdict, doubled: &[SizeVerdict], metric: Metric) -> Stability {
        let sign = if metric.higher_is_better() { 1.0 } else { -1.0 };
        let rows: Vec<StabilityRow> = planned
            .arms
            .iter()
            .filter_map(|a| {
                let d = doubled.iter().flat_map(|v| &v.arms).find(|b| b.arm == a.arm)?;
                Some(StabilityRow { arm: a.arm.clone(), baseline: a.baseline.clone(), diff: a.diff, diff_doubled: d.diff })
            })
            .collect();
        let best_of = |f: &dyn Fn(&StabilityRow) -> f64| rows.iter().max_by(|a, b| (sign * f(a)).total_cmp(&(sign * f(b)))).map(|r| r.arm.clone()).unwrap_or_default();
        let best = best_of(&|r| r.diff);
        let best_doubled = best_of(&|r| r.diff_doubled);
        let same_side = rows.iter().find(|r| r.arm == best).is_some_and(|r| (r.diff > 0.0) == (r.diff_doubled > 0.0));
        Stability { size: planned.size, holds: best == best_doubled && same_side, best, best_doubled, rows }
    }
}
