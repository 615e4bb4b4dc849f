//! The Gaussian copula synthesizer: the fast baseline for synthetic tables.
//!
//! Fit: each column's empirical distribution (its sorted values), and the
//! correlation of the columns' normal scores `z = Φ⁻¹((rank + ½) / n)` (average
//! ranks for ties). Sample: draw `z ~ N(0, R)`, map each coordinate to a
//! probability `u = Φ(z)`, and read the column's empirical quantile at `u` (linear
//! interpolation between order statistics). Marginals are reproduced exactly up
//! to interpolation, and monotone dependence (Spearman correlation) approximately;
//! anything non-monotone or conditional is not.

use crate::augment::tabular::TabularAugment;
use crate::{Error, Result};
use linfa_linalg::cholesky::Cholesky;
use ndarray::{concatenate, s, Array1, Array2, ArrayView2, Axis};
use rand_distr::{Distribution, StandardNormal};

/// A fitted Gaussian copula over the columns of a table.
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianCopula {
    /// Each column's values, sorted.
    sorted: Vec<Vec<f64>>,
    /// Correlation of the normal scores.
    pub correlation: Array2<f64>,
    /// Its lower Cholesky factor.
    chol: Array2<f64>,
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

/// Average ranks (0-based; ties share the mean of their positions).
fn average_ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut ranks = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let r = (i + j) as f64 / 2.0;
        for &k in &idx[i..=j] {
            ranks[k] = r;
        }
        i = j + 1;
    }
    ranks
}

impl GaussianCopula {
    /// Fit on the rows of `x` (at least 2 rows, finite values).
    pub fn fit(x: ArrayView2<f64>) -> Result<Self> {
        let (n, d) = x.dim();
        if n < 2 || d == 0 {
            return Err(Error::invalid("copula training table", format!("{n} × {d}"), "needs at least 2 rows and 1 column"));
        }
        if let Some(((r, c), v)) = x.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(Error::NonFinite { context: format!("copula training table, row {r}, column {c}"), value: *v });
        }
        let mut z = Array2::<f64>::zeros((n, d));
        let mut sorted = Vec::with_capacity(d);
        for j in 0..d {
            let col: Vec<f64> = x.column(j).to_vec();
            for (i, r) in average_ranks(&col).into_iter().enumerate() {
                z[[i, j]] = normal_quantile((r + 0.5) / n as f64);
            }
            let mut s = col;
            s.sort_by(f64::total_cmp);
            sorted.push(s);
        }
        // correlation of the scores; a constant column is independent of the rest
        let zc = &z - &z.mean_axis(Axis(0)).expect("rows");
        let sd = zc.map_axis(Axis(0), |c| c.dot(&c).sqrt());
        let mut corr = zc.t().dot(&zc);
        for a in 0..d {
            for b in 0..d {
                corr[[a, b]] = if a == b {
                    1.0
                } else if sd[a] > 0.0 && sd[b] > 0.0 {
                    corr[[a, b]] / (sd[a] * sd[b])
                } else {
                    0.0
                };
            }
        }
        // shrink slightly towards the identity when the matrix is (nearly) singular
        let mut shrink = 0.0;
        let chol = loop {
            let m = &corr * (1.0 - shrink) + &(Array2::<f64>::eye(d) * shrink);
            match m.cholesky() {
                Ok(l) => break l,
                Err(_) if shrink < 0.5 => shrink = if shrink == 0.0 { 1e-6 } else { shrink * 10.0 },
                Err(e) => return Err(Error::invalid("copula correlation", format!("{e}"), "not positive definite")),
            }
        };
        Ok(GaussianCopula { sorted, correlation: corr, chol })
    }

    /// `n` synthetic rows, the same for the same `seed`.
    pub fn sample(&self, n: usize, seed: u64) -> Array2<f64> {
        let d = self.sorted.len();
        let mut rng = crate::rng(seed);
        let e = Array2::from_shape_fn((n, d), |_| StandardNormal.sample(&mut rng));
        let z = e.dot(&self.chol.t());
        Array2::from_shape_fn((n, d), |(i, j)| quantile(&self.sorted[j], normal_cdf(z[[i, j]])))
    }
}

/// The empirical quantile of sorted `v` at probability `u`, matching the plotting
/// positions `(rank + ½) / n` used in fitting.
fn quantile(v: &[f64], u: f64) -> f64 {
    let n = v.len();
    let pos = (u * n as f64 - 0.5).clamp(0.0, (n - 1) as f64);
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(n - 1);
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

/// The copula as a tabular augmentation: fit on features and target together,
/// sample whole rows.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CopulaSynth;

impl TabularAugment for CopulaSynth {
    fn name(&self) -> &str {
        "copula"
    }

    fn augment(&self, x: &Array2<f64>, y: &Array1<f64>, n_new: usize, seed: u64) -> Result<(Array2<f64>, Array1<f64>)> {
        if x.nrows() != y.len() {
            return Err(Error::shape("copula rows of x vs y", x.nrows(), y.len()));
        }
        let table = concatenate![Axis(1), x.view(), y.view().insert_axis(Axis(1))];
        let rows = GaussianCopula::fit(table.view())?.sample(n_new, seed);
        let d = x.ncols();
        Ok((rows.slice(s![.., ..d]).to_owned(), rows.column(d).to_owned()))
    }
}
