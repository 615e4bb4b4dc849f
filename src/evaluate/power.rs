//! Power of the paired t-test: how large an effect a comparison over `n` seeds can
//! detect, and how many seeds an observed effect would need (Cohen 1988,
//! *Statistical Power Analysis for the Behavioral Sciences*, ch. 2).
//!
//! Effects are standardised: `d = mean difference / standard deviation of the
//! differences`. Under the alternative the statistic follows a noncentral t with
//! `n − 1` degrees of freedom and noncentrality `d √n`; its two-sided rejection
//! probability is computed exactly (to quadrature error) by integrating the normal
//! tail over the chi distribution of the standard error, and matches statsmodels'
//! `TTestPower` (`tests/golden/make_power_golden.py`).

use super::stats::{ln_gamma, normal_cdf, student_t_quantile};
use crate::{Error, Result};

/// Intervals of the Simpson rule over the chi variable.
const STEPS: usize = 2000;

/// Probability that a two-sided paired t-test at level `alpha` over `n` pairs rejects
/// "no difference" when the true standardised effect is `d`.
pub fn paired_t_power(d: f64, n: usize, alpha: f64) -> Result<f64> {
    check(n, alpha)?;
    if !d.is_finite() {
        return Err(Error::invalid("effect size", d, "must be finite"));
    }
    let df = (n - 1) as f64;
    let c = student_t_quantile(1.0 - alpha / 2.0, df)?;
    let delta = d.abs() * (n as f64).sqrt();
    // u = √V with V ~ χ²(df): density 2u·f_χ²(u²), finite at 0 for every df ≥ 1
    let ln_norm = -(df / 2.0) * std::f64::consts::LN_2 - ln_gamma(df / 2.0);
    let density = |u: f64| if u <= 0.0 { if df == 1.0 { 2.0 * (ln_norm).exp() } else { 0.0 } } else { 2.0 * u * ((df / 2.0 - 1.0) * (u * u).ln() - u * u / 2.0 + ln_norm).exp() };
    let reject = |u: f64| {
        let t = c * u / df.sqrt();
        normal_cdf(delta - t) + normal_cdf(-delta - t)
    };
    let top = (df + 12.0 * (2.0 * df).sqrt() + 40.0).sqrt();
    let h = top / STEPS as f64;
    let f = |i: usize| {
        let u = i as f64 * h;
        density(u) * reject(u)
    };
    let inner: f64 = (1..STEPS).map(|i| if i % 2 == 1 { 4.0 * f(i) } else { 2.0 * f(i) }).sum();
    Ok(((f(0) + inner + f(STEPS)) * h / 3.0).clamp(0.0, 1.0))
}

/// The smallest standardised effect `d` that `n` pairs detect with probability
/// `power` at level `alpha` (two-sided). Multiply by the standard deviation of the
/// paired differences for the effect in the metric's units.
pub fn min_detectable_effect(n: usize, alpha: f64, power: f64) -> Result<f64> {
    check(n, alpha)?;
    if !(power > alpha && power < 1.0) {
        return Err(Error::invalid("power", power, format!("must lie between alpha ({alpha}) and 1")));
    }
    let (mut lo, mut hi) = (0.0, 1.0);
    while paired_t_power(hi, n, alpha)? < power {
        hi *= 2.0;
        if hi > 1e4 {
            return Err(Error::invalid("power", power, format!("not reachable with {n} pairs")));
        }
    }
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if paired_t_power(mid, n, alpha)? < power {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(hi)
}

/// The fewest pairs (at least 2) whose test detects the standardised effect `d` with
/// probability `power` at level `alpha`; `None` if more than `max` would be needed
/// (or `d` is 0).
pub fn seeds_needed(d: f64, alpha: f64, power: f64, max: usize) -> Result<Option<usize>> {
    if d == 0.0 {
        return Ok(None);
    }
    for n in 2..=max {
        if paired_t_power(d, n, alpha)? >= power {
            return Ok(Some(n));
        }
    }
    Ok(None)
}

fn check(n: usize, alpha: f64) -> Result<()> {
    if n < 2 {
        return Err(Error::invalid("pairs", n, "a paired t-test needs at least 2"));
    }
    if !(alpha > 0.0 && alpha < 1.0) {
        return Err(Error::invalid("alpha", alpha, "must lie strictly between 0 and 1"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_an_effect_the_test_rejects_at_its_level() {
        for n in [2, 3, 5, 10, 40] {
            let p = paired_t_power(0.0, n, 0.05).unwrap();
            assert!((p - 0.05).abs() < 1e-6, "n = {n}: {p}");
        }
    }

    #[test]
    fn power_grows_with_the_effect_and_the_seeds() {
        let a = paired_t_power(0.5, 5, 0.05).unwrap();
        assert!(paired_t_power(1.0, 5, 0.05).unwrap() > a && paired_t_power(0.5, 10, 0.05).unwrap() > a);
        let d = min_detectable_effect(5, 0.05, 0.8).unwrap();
        assert!((paired_t_power(d, 5, 0.05).unwrap() - 0.8).abs() < 1e-9);
        let n = seeds_needed(d, 0.05, 0.8, 100).unwrap().unwrap();
        assert_eq!(n, 5);
        assert!(min_detectable_effect(1, 0.05, 0.8).is_err());
    }
}
