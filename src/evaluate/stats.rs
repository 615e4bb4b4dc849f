//! The statistics that make a comparison across seeds honest: mean, standard
//! deviation and a Student-t confidence interval for one method, and the paired
//! t-test for two methods run on the same seeds (same subsample, same initial
//! weights), which is far more sensitive than comparing two unpaired intervals.
//!
//! The Student t and normal distributions come from `statrs`; the p-values, quantiles
//! and intervals built on them are checked against SciPy in `tests/evaluate_golden.rs`.

use super::check::finite;
use crate::{Error, Result};

/// Natural log of Γ(x) for x > 0 (statrs).
pub(crate) fn ln_gamma(x: f64) -> f64 {
    statrs::function::gamma::ln_gamma(x)
}

/// P(T ≤ t) for Student's t with `df` > 0 degrees of freedom.
pub fn student_t_cdf(t: f64, df: f64) -> f64 {
    let tail = 0.5 * two_sided_p(t, df); // P(T > |t|)
    if t > 0.0 {
        1.0 - tail
    } else {
        tail
    }
}

/// Two-sided p-value P(|T| ≥ |t|) = I_{df/(df+t²)}(df/2, 1/2), computed directly from
/// the regularized incomplete beta function (no 1 − cdf cancellation for large t).
fn two_sided_p(t: f64, df: f64) -> f64 {
    if t.is_infinite() {
        return 0.0;
    }
    statrs::function::beta::beta_reg(df / 2.0, 0.5, df / (df + t * t))
}

/// The `q`-quantile of Student's t with `df` degrees of freedom (e.g. q = 0.975 for a
/// two-sided 95% interval). Errors for q outside (0, 1) or df ≤ 0.
pub fn student_t_quantile(q: f64, df: f64) -> Result<f64> {
    use statrs::distribution::ContinuousCDF;
    if !(q > 0.0 && q < 1.0) {
        return Err(Error::invalid("quantile", q, "must lie strictly between 0 and 1"));
    }
    if !(df > 0.0 && df.is_finite()) {
        return Err(Error::invalid("degrees of freedom", df, "must be positive and finite"));
    }
    let t = statrs::distribution::StudentsT::new(0.0, 1.0, df).map_err(|e| Error::invalid("degrees of freedom", df, e.to_string()))?;
    Ok(t.inverse_cdf(q))
}

/// Mean, sample standard deviation (n − 1) and a two-sided Student-t confidence
/// interval of a set of measurements (one per seed).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    pub n: usize,
    pub mean: f64,
    pub std: f64,
    /// Confidence level of the interval, e.g. 0.95.
    pub level: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

impl Summary {
    /// Summary with a 95% interval. Needs at least two finite values.
    pub fn of(values: &[f64]) -> Result<Self> {
        Self::with_level(values, 0.95)
    }

    /// Summary with an interval at confidence `level` in (0, 1).
    pub fn with_level(values: &[f64], level: f64) -> Result<Self> {
        if values.len() < 2 {
            return Err(Error::invalid("number of values", values.len(), "a confidence interval needs at least 2 (seeds)"));
        }
        if !(level > 0.0 && level < 1.0) {
            return Err(Error::invalid("confidence level", level, "must lie strictly between 0 and 1"));
        }
        finite("values", values)?;
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let std = (values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0)).sqrt();
        let half = student_t_quantile(0.5 + level / 2.0, n - 1.0)? * std / n.sqrt();
        Ok(Summary { n: values.len(), mean, std, level, ci_low: mean - half, ci_high: mean + half })
    }

    /// Like [`Summary::of`], but a single value gives an empty interval (low = high =
    /// the value, n = 1) instead of an error: what a study with one seed reports.
    pub fn of_runs(values: &[f64]) -> Result<Self> {
        match values {
            [] => Err(Error::invalid("number of values", 0, "nothing to summarise")),
            [v] => {
                finite("values", values)?;
                Ok(Summary { n: 1, mean: *v, std: 0.0, level: 0.95, ci_low: *v, ci_high: *v })
            }
            _ => Self::of(values),
        }
    }

    /// Half the width of the interval (the "±" figure).
    pub fn half_width(&self) -> f64 {
        (self.ci_high - self.ci_low) / 2.0
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = f.precision().unwrap_or(4);
        write!(f, "{:.p$} ± {:.p$} ({}% CI, n = {})", self.mean, self.half_width(), (self.level * 100.0).round(), self.n)
    }
}

/// `b − a` measured on the same seeds: the mean paired difference, its confidence
/// interval, and the paired t-test (as SciPy's `ttest_rel(b, a)`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PairedComparison {
    pub n: usize,
    pub mean_diff: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub t: f64,
    /// Two-sided p-value of "the mean difference is 0".
    pub p_value: f64,
}

/// Compare `b` to `a`, paired by position (seed). When every difference is the same
/// value the standard error is 0: the result is `t = 0, p = 1` if that value is 0,
/// otherwise `t = ±inf, p = 0` (SciPy returns NaN in both cases).
pub fn paired_comparison(a: &[f64], b: &[f64], level: f64) -> Result<PairedComparison> {
    if a.len() != b.len() {
        return Err(Error::shape("paired comparison: one value per seed for both methods", a.len(), b.len()));
    }
    finite("paired comparison: a", a)?;
    finite("paired comparison: b", b)?;
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| y - x).collect();
    let s = Summary::with_level(&d, level)?;
    let df = (s.n - 1) as f64;
    let se = s.std / (s.n as f64).sqrt();
    let (t, p_value) = if se == 0.0 {
        if s.mean == 0.0 {
            (0.0, 1.0)
        } else {
            (f64::INFINITY.copysign(s.mean), 0.0)
        }
    } else {
        let t = s.mean / se;
        (t, two_sided_p(t, df))
    };
    Ok(PairedComparison { n: s.n, mean_diff: s.mean, ci_low: s.ci_low, ci_high: s.ci_high, t, p_value })
}

impl std::fmt::Display for PairedComparison {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = f.precision().unwrap_or(4);
        let half = (self.ci_high - self.ci_low) / 2.0;
        write!(f, "{:+.p$} ± {:.p$} (paired t = {:.2}, p = {:.3}, n = {})", self.mean_diff, half, self.t, self.p_value, self.n)
    }
}

/// `b − a` from two independent samples: the difference of the means, Welch's
/// confidence interval and t-test (as SciPy's `ttest_ind(b, a, equal_var=False)` and
/// its `confidence_interval`). This is the interval a comparison gets when it ignores
/// that both methods ran on the same seeds; set beside [`paired_comparison`] it shows
/// what pairing buys on a given experiment (much when the seeds move both methods
/// together, little when they do not).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WelchComparison {
    pub n_a: usize,
    pub n_b: usize,
    pub mean_diff: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub t: f64,
    /// Welch–Satterthwaite degrees of freedom.
    pub df: f64,
    /// Two-sided p-value of "the means are equal".
    pub p_value: f64,
}

/// Compare `b` to `a` as independent samples (Welch 1947). Needs two values on each
/// side; when both samples are constant the standard error is 0 and the result is
/// `t = 0, p = 1` for equal means, `t = ±inf, p = 0` otherwise.
pub fn welch_comparison(a: &[f64], b: &[f64], level: f64) -> Result<WelchComparison> {
    let (sa, sb) = (Summary::with_level(a, level)?, Summary::with_level(b, level)?);
    let (va, vb) = (sa.std * sa.std / sa.n as f64, sb.std * sb.std / sb.n as f64);
    let se = (va + vb).sqrt();
    let mean_diff = sb.mean - sa.mean;
    let (na1, nb1) = ((sa.n - 1) as f64, (sb.n - 1) as f64);
    if se == 0.0 {
        let t = if mean_diff == 0.0 { 0.0 } else { f64::INFINITY.copysign(mean_diff) };
        let p_value = if mean_diff == 0.0 { 1.0 } else { 0.0 };
        return Ok(WelchComparison { n_a: sa.n, n_b: sb.n, mean_diff, ci_low: mean_diff, ci_high: mean_diff, t, df: na1 + nb1, p_value });
    }
    let df = (va + vb).powi(2) / (va * va / na1 + vb * vb / nb1);
    let t = mean_diff / se;
    let half = student_t_quantile(0.5 + level / 2.0, df)? * se;
    Ok(WelchComparison { n_a: sa.n, n_b: sb.n, mean_diff, ci_low: mean_diff - half, ci_high: mean_diff + half, t, df, p_value: two_sided_p(t, df) })
}

impl std::fmt::Display for WelchComparison {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = f.precision().unwrap_or(4);
        let half = (self.ci_high - self.ci_low) / 2.0;
        write!(f, "{:+.p$} ± {:.p$} (Welch t = {:.2}, df = {:.1}, p = {:.3}, n = {} and {})", self.mean_diff, half, self.t, self.df, self.p_value, self.n_a, self.n_b)
    }
}

/// Holm's step-down adjustment of `p_values` (Holm 1979, "A simple sequentially
/// rejective multiple test procedure"): sort ascending, multiply the i-th smallest
/// (0-based) by `m − i`, make the sequence non-decreasing, cap at 1. Returned in the
/// input order. Rejecting where the adjusted p is below α controls the family-wise
/// error rate at α for any dependence between the tests. Errors on a p outside [0, 1].
pub fn holm_adjust(p_values: &[f64]) -> Result<Vec<f64>> {
    if let Some(&bad) = p_values.iter().find(|p| !(0.0..=1.0).contains(*p)) {
        return Err(Error::invalid("p-value", bad, "must lie in [0, 1]"));
    }
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    let mut out = vec![0.0; m];
    let mut running = 0.0f64;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max((p_values[i] * (m - rank) as f64).min(1.0));
        out[i] = running;
    }
    Ok(out)
}

/// Standard normal CDF (statrs, through the complementary error function).
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * statrs::function::erf::erfc(-x / std::f64::consts::SQRT_2)
}

/// Standard normal quantile for `p` in (0, 1); ±∞ at 0 and 1 are clamped to the
/// quantiles of 1e-300 and 1 − 1e-16 (statrs, through the inverse erfc).
pub fn normal_quantile(p: f64) -> f64 {
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    -std::f64::consts::SQRT_2 * statrs::function::erf::erfc_inv(2.0 * p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // Γ(5) = 24, Γ(0.5) = √π
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-13);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-13);
        // t with 1 df is Cauchy: quantile(0.75) = tan(π/4) = 1
        assert!((student_t_quantile(0.75, 1.0).unwrap() - 1.0).abs() < 1e-12);
        assert!((student_t_cdf(0.0, 7.0) - 0.5).abs() < 1e-15);
        assert!(student_t_quantile(1.0, 3.0).is_err());
    }

    #[test]
    fn degenerate_pairs() {
        let same = paired_comparison(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0], 0.95).unwrap();
        assert_eq!((same.t, same.p_value), (0.0, 1.0));
        let shifted = paired_comparison(&[1.0, 2.0, 3.0], &[2.0, 3.0, 4.0], 0.95).unwrap();
        assert_eq!((shifted.t, shifted.p_value), (f64::INFINITY, 0.0));
        assert!(paired_comparison(&[1.0], &[2.0], 0.95).is_err());
        assert!(Summary::of(&[1.0, f64::NAN]).is_err());
        // Welch on constant samples: no spread, so the difference is either exact or nothing
        let w = welch_comparison(&[2.0, 2.0], &[2.0, 2.0, 2.0], 0.95).unwrap();
        assert_eq!((w.t, w.p_value, w.ci_low, w.ci_high), (0.0, 1.0, 0.0, 0.0));
        let w = welch_comparison(&[2.0, 2.0], &[1.0, 1.0], 0.95).unwrap();
        assert_eq!((w.t, w.p_value, w.mean_diff), (f64::NEG_INFINITY, 0.0, -1.0));
        assert!(welch_comparison(&[1.0], &[2.0, 3.0], 0.95).is_err());
    }

    #[test]
    fn holm_follows_its_definition() {
        // p sorted: 0.01, 0.02, 0.03, 0.5 → ×4, ×3, ×2, ×1 = 0.04, 0.06, 0.06, 0.5
        let adj = holm_adjust(&[0.03, 0.01, 0.5, 0.02]).unwrap();
        let want = [0.06, 0.04, 0.5, 0.06];
        for (a, w) in adj.iter().zip(want) {
            assert!((a - w).abs() < 1e-15, "{adj:?}");
        }
        // monotone: a larger raw p never gets a smaller adjusted p; capped at 1
        assert_eq!(holm_adjust(&[0.4, 0.3]).unwrap(), vec![0.6, 0.6]);
        assert_eq!(holm_adjust(&[0.9, 0.8, 0.7]).unwrap(), vec![1.0, 1.0, 1.0]);
        assert!(holm_adjust(&[]).unwrap().is_empty());
        assert!(holm_adjust(&[1.5]).is_err());
    }
}
