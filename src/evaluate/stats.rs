//! The statistics that make a comparison across seeds honest: mean, standard
//! deviation and a Student-t confidence interval for one method, and the paired
//! t-test for two methods run on the same seeds (same subsample, same initial
//! weights), which is far more sensitive than comparing two unpaired intervals.
//!
//! The Student t distribution is computed from the regularized incomplete beta
//! function (continued fraction, modified Lentz method) and a Lanczos log-gamma;
//! both are checked against SciPy in `tests/evaluate_golden.rs`.

use super::check::finite;
use crate::{Error, Result};

/// Natural log of Γ(x) for x > 0 (Lanczos approximation, g = 7, 9 terms; relative
/// error below 1e-15 over the range used here).
pub(crate) fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // reflection: Γ(x)Γ(1−x) = π / sin(πx)
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = C[0];
    for (i, &c) in C.iter().enumerate().skip(1) {
        sum += c / (x + i as f64);
    }
    let t = x + G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

/// Continued fraction for the incomplete beta function (modified Lentz).
fn beta_continued_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let mut c = 1.0;
    let mut d = 1.0 - (a + b) * x / (a + 1.0);
    d = if d.abs() < TINY { TINY } else { d };
    d = 1.0 / d;
    let mut h = d;
    for m in 1..10_000 {
        let m = m as f64;
        // even step
        let num = m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m));
        d = 1.0 + num * d;
        d = if d.abs() < TINY { TINY } else { d };
        c = 1.0 + num / c;
        c = if c.abs() < TINY { TINY } else { c };
        d = 1.0 / d;
        h *= d * c;
        // odd step
        let num = -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0));
        d = 1.0 + num * d;
        d = if d.abs() < TINY { TINY } else { d };
        c = 1.0 + num / c;
        c = if c.abs() < TINY { TINY } else { c };
        d = 1.0 / d;
        let step = d * c;
        h *= step;
        if (step - 1.0).abs() < 1e-16 {
            break;
        }
    }
    h
}

/// Regularized incomplete beta I_x(a, b) for a, b > 0 and x in [0, 1].
fn incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    // the continued fraction converges fast for x < (a+1)/(a+b+2); use symmetry otherwise
    if x < (a + 1.0) / (a + b + 2.0) {
        ln_front.exp() * beta_continued_fraction(a, b, x) / a
    } else {
        1.0 - ln_front.exp() * beta_continued_fraction(b, a, 1.0 - x) / b
    }
}

/// P(T ≤ t) for Student's t with `df` > 0 degrees of freedom.
pub fn student_t_cdf(t: f64, df: f64) -> f64 {
    let tail = 0.5 * incomplete_beta(df / 2.0, 0.5, df / (df + t * t)); // P(T > |t|)
    if t > 0.0 {
        1.0 - tail
    } else {
        tail
    }
}

/// Two-sided p-value P(|T| ≥ |t|), computed directly (no 1 − cdf cancellation).
fn two_sided_p(t: f64, df: f64) -> f64 {
    if t.is_infinite() {
        return 0.0;
    }
    incomplete_beta(df / 2.0, 0.5, df / (df + t * t))
}

/// The `q`-quantile of Student's t with `df` degrees of freedom (e.g. q = 0.975 for a
/// two-sided 95% interval). Errors for q outside (0, 1) or df ≤ 0.
pub fn student_t_quantile(q: f64, df: f64) -> Result<f64> {
    if !(q > 0.0 && q < 1.0) {
        return Err(Error::invalid("quantile", q, "must lie strictly between 0 and 1"));
    }
    if !(df > 0.0 && df.is_finite()) {
        return Err(Error::invalid("degrees of freedom", df, "must be positive and finite"));
    }
    if q == 0.5 {
        return Ok(0.0);
    }
    // solve for the upper tail, then use symmetry
    let p = q.max(1.0 - q);
    let (mut lo, mut hi) = (0.0, 1.0);
    while student_t_cdf(hi, df) < p {
        lo = hi;
        hi *= 2.0;
        if hi > 1e300 {
            break;
        }
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid == lo || mid == hi {
            break;
        }
        if student_t_cdf(mid, df) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let x = 0.5 * (lo + hi);
    Ok(if q > 0.5 { x } else { -x })
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

/// Standard normal CDF, via the complementary error function (Numerical Recipes'
/// Chebyshev fit of erfc, relative error < 1.2e-7).
pub fn normal_cdf(x: f64) -> f64 {
    let z = x.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06 + t * (0.278_868_07 + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc = t * poly.exp();
    if x >= 0.0 {
        1.0 - 0.5 * erfc
    } else {
        0.5 * erfc
    }
}

/// Standard normal quantile for `p` in (0, 1) (Acklam's rational approximation,
/// relative error < 1.2e-9).
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.383577518672690e2, -3.066479806614716e1, 2.506628277459239];
    const B: [f64; 5] = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
    const C: [f64; 6] = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
    const D: [f64; 4] = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    let tail = |q: f64| (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0);
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
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
