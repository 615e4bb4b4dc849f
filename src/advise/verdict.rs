//! The verdict of the confirmation stage, per size: which arms help and which hurt
//! (paired difference, 95% CI, raw and Holm-adjusted p), the smallest effect the
//! design could detect at the spread seen, and how many seeds the best arm's
//! observed effect would need.

use crate::evaluate::{min_detectable_effect, seeds_needed, student_t_quantile, PairedComparison};
use crate::experiment::{ExperimentSummary, Metric};
use crate::Result;
use serde::{Deserialize, Serialize};

/// Level of every test and interval.
pub const ALPHA: f64 = 0.05;
/// Power for the detectable-effect and seeds-needed figures.
pub const POWER: f64 = 0.8;

/// What the confirmation says about one arm at one size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Effect {
    /// Better than its baseline with a Holm-adjusted p below 0.05.
    Helps,
    /// Worse than its baseline with a Holm-adjusted p below 0.05.
    Hurts,
    /// No difference this design can tell from chance.
    Unclear,
}

/// One arm against its baseline at one size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArmEffect {
    pub arm: String,
    pub baseline: String,
    /// The arm's mean and the baseline's, in the metric's units.
    pub mean: f64,
    pub baseline_mean: f64,
    /// Arm − baseline, paired by seed, with its 95% CI and p-values.
    pub diff: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub p: f64,
    pub holm_p: f64,
    /// Standard deviation of the paired differences.
    pub sd_diff: f64,
    pub effect: Effect,
}

/// The verdict at one size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SizeVerdict {
    pub size: usize,
    pub seeds: usize,
    pub metric: Metric,
    pub arms: Vec<ArmEffect>,
    /// The smallest |difference| this many seeds detect with 80% power at α 0.05
    /// (paired, two-sided), at the median spread of the arms' differences.
    pub detectable: Option<f64>,
    /// The arm with the best mean difference, and the seeds its observed effect
    /// would need for 80% power (`None`: over 1,000, or no effect at all).
    pub best: Option<String>,
    pub seeds_for_best: Option<usize>,
}

/// The standard deviation of paired differences behind a comparison's interval.
fn sd_of(c: &PairedComparison) -> Result<f64> {
    if c.n < 2 {
        return Ok(f64::NAN);
    }
    let t = student_t_quantile(0.975, (c.n - 1) as f64)?;
    Ok((c.ci_high - c.ci_low) / 2.0 * (c.n as f64).sqrt() / t)
}

/// The verdict at every size of `summary`, on `metric`.
pub fn verdicts(summary: &ExperimentSummary, metric: Metric) -> Result<Vec<SizeVerdict>> {
    let sign = if metric.higher_is_better() { 1.0 } else { -1.0 };
    let mut sizes: Vec<usize> = summary.rows.iter().map(|r| r.size).collect();
    sizes.dedup();
    let mut out = Vec::new();
    for n in sizes {
        let mut arms = Vec::new();
        let mut seeds = 0;
        for r in summary.rows.iter().filter(|r| r.size == n) {
            seeds = seeds.max(r.seeds);
            let Some(m) = r.metric(metric) else { continue };
            let (Some(c), Some(base)) = (m.vs_baseline, r.baseline.as_ref()) else { continue };
            let holm_p = m.holm_p.unwrap_or(c.p_value);
            let effect = if holm_p < ALPHA && sign * c.mean_diff > 0.0 {
                Effect::Helps
            } else if holm_p < ALPHA && sign * c.mean_diff < 0.0 {
                Effect::Hurts
            } else {
                Effect::Unclear
            };
            arms.push(ArmEffect {
                arm: r.arm.clone(),
                baseline: base.clone(),
                mean: m.summary.mean,
                baseline_mean: m.summary.mean - c.mean_diff,
                diff: c.mean_diff,
                ci_low: c.ci_low,
                ci_high: c.ci_high,
                p: c.p_value,
                holm_p,
                sd_diff: sd_of(&c)?,
                effect,
            });
        }
        let mut sds: Vec<f64> = arms.iter().map(|a| a.sd_diff).filter(|s| s.is_finite() && *s > 0.0).collect();
        sds.sort_by(f64::total_cmp);
        let detectable = match (sds.get(sds.len() / 2), seeds >= 2) {
            (Some(&sd), true) => Some(min_detectable_effect(seeds, ALPHA, POWER)? * sd),
            _ => None,
        };
        let best = arms.iter().max_by(|a, b| (sign * a.diff).total_cmp(&(sign * b.diff)));
        let seeds_for_best = match best {
            Some(b) if b.sd_diff > 0.0 && sign * b.diff > 0.0 => seeds_needed(b.diff.abs() / b.sd_diff, ALPHA, POWER, 1000)?,
            _ => None,
        };
        out.push(SizeVerdict { size: n, seeds, metric, best: best.map(|b| b.arm.clone()), seeds_for_best, detectable, arms });
    }
    Ok(out)
}

/// A difference in the metric's reading units: points for accuracy and AUC.
/// A difference that rounds to zero reads "+0.0", never "-0.0".
pub fn show_diff(metric: Metric, d: f64) -> String {
    // adding 0.0 turns the -0.0 that rounding a small negative gives into +0.0
    match metric {
        Metric::Accuracy | Metric::Auc => format!("{:+.1} points", (d * 1000.0).round() / 10.0 + 0.0),
        _ => format!("{:+.3}", (d * 1000.0).round() / 1000.0 + 0.0),
    }
}

fn show_abs(metric: Metric, d: f64) -> String {
    match metric {
        Metric::Accuracy | Metric::Auc => format!("{:.1} points", d.abs() * 100.0),
        _ => format!("{:.3}", d.abs()),
    }
}

fn show_ci(metric: Metric, lo: f64, hi: f64) -> String {
    match metric {
        Metric::Accuracy | Metric::Auc => format!("{:+.1} to {:+.1}", lo * 100.0, hi * 100.0),
        _ => format!("{lo:+.3} to {hi:+.3}"),
    }
}

/// The verdict at one size in sentences.
pub fn sentences(v: &SizeVerdict, size_label: &str) -> Vec<String> {
    let m = v.metric.label();
    let mut out = Vec::new();
    let line = |a: &ArmEffect, verb: &str| {
        format!(
            "{} {verb}: {m} {} against {} (95% CI {}; p = {:.3}, Holm p = {:.3}).",
            a.arm,
            show_diff(v.metric, a.diff),
            a.baseline,
            show_ci(v.metric, a.ci_low, a.ci_high),
            a.p,
            a.holm_p
        )
    };
    let helps: Vec<&ArmEffect> = v.arms.iter().filter(|a| a.effect == Effect::Helps).collect();
    let hurts: Vec<&ArmEffect> = v.arms.iter().filter(|a| a.effect == Effect::Hurts).collect();
    let head = format!("At {} {size_label} ({} seeds):", v.size, v.seeds);
    if helps.is_empty() {
        out.push(format!("{head} no arm beats its baseline at this number of seeds."));
    } else {
        out.push(head);
    }
    out.extend(helps.iter().map(|a| line(a, "helps")));
    out.extend(hurts.iter().map(|a| line(a, "hurts")));
    if let Some(d) = v.detectable {
        let mut s = format!("With {} seeds and this spread the design detects a difference of about {} (80% power, α 0.05, paired)", v.seeds, show_abs(v.metric, d));
        match (&v.best, v.seeds_for_best) {
            (Some(b), Some(k)) if helps.is_empty() => {
                let a = v.arms.iter().find(|a| &a.arm == b);
                if let Some(a) = a {
                    s.push_str(&format!("; {b}'s observed {} would need about {k} seeds", show_diff(v.metric, a.diff)));
                }
            }
            _ => {}
        }
        s.push('.');
        out.push(s);
    }
    out
}
