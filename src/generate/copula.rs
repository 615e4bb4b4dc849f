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
use crate::evaluate::{normal_cdf, normal_quantile};
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
        let zc = &z - &z.mean_axis(Axis(0)).ok_or_else(|| Error::invalid("copula rows", 0, "needs training rows"))?;
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
