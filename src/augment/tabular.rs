//! Tabular regression augmentation: Gaussian jitter, mixup, SMOTER and SMOGN.
//!
//! - **Gaussian jitter**: copies of training rows plus noise scaled to each feature's spread.
//! - **Mixup**: H. Zhang, M. Cisse, Y. N. Dauphin, D. Lopez-Paz, "mixup: Beyond Empirical
//!   Risk Minimization", ICLR 2018 — here for regression, the same λ on features and target.
//! - **SMOTER**: L. Torgo, R. P. Ribeiro, B. Pfahringer, P. Branco, "SMOTE for Regression",
//!   EPIA 2013 — interpolation between rare-target rows and their rare neighbours.
//! - **SMOGN**: P. Branco, L. Torgo, R. P. Ribeiro, "SMOGN: a Pre-processing Approach for
//!   Imbalanced Regression", LIDTA 2017 (PMLR 74) — SMOTER, with Gaussian noise instead of
//!   interpolation when the neighbour is too far away to be safe.
//!
//! Every method takes features `x: [n, d]` and targets `y: [n]` (finite `f64`, all features
//! numeric) and returns **only** the `n_new` synthetic rows, `([n_new, d], [n_new])`;
//! [`augment_and_concat`] appends them to the originals. All randomness comes from
//! [`crate::rng`], so the same seed gives identical output. Standard deviations are
//! population ones (divided by `n`). Rarity is decided by target quantiles, computed with
//! linear interpolation (NumPy's default): a row is rare when its target lies strictly
//! below the lower or strictly above the upper quantile.
//!
//! ```
//! use smalldata::augment::tabular::{augment_and_concat, Mixup, Smogn, TabularAugment};
//! use smalldata::ndarray::{Array1, Array2};
//!
//! let x = Array2::from_shape_fn((20, 3), |(i, j)| (i * (j + 1)) as f64);
//! let y = Array1::from_shape_fn(20, |i| i as f64);
//! let methods: Vec<Box<dyn TabularAugment>> = vec![Box::new(Mixup::default()), Box::new(Smogn::default())];
//! for m in &methods {
//!     let (xa, ya) = augment_and_concat(m.as_ref(), &x, &y, 10, 0)?;
//!     assert_eq!((xa.dim(), ya.len()), ((30, 3), 30));
//! }
//! # Ok::<(), smalldata::Error>(())
//! ```

use ndarray::{concatenate, Array1, Array2, Axis};
use rand::seq::index::sample;
use rand::Rng;
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::{Error, Result};

/// A tabular augmentation method, so that a study can hold `Vec<Box<dyn TabularAugment>>`.
pub trait TabularAugment: std::fmt::Debug {
    /// A short name for reports: `"gaussian_jitter"`, `"mixup"`, `"smoter"` or `"smogn"`.
    fn name(&self) -> &str;

    /// Synthetic rows only: from `x: [n, d]` and `y: [n]`, returns `([n_new, d], [n_new])`.
    /// `n_new = 0` gives empty arrays. Same `seed`, same output.
    fn augment(&self, x: &Array2<f64>, y: &Array1<f64>, n_new: usize, seed: u64) -> Result<(Array2<f64>, Array1<f64>)>;
}

/// Implements [`TabularAugment`] by the type's own `augment`.
macro_rules! impl_tabular_augment {
    ($t:ty, $name:literal) => {
        impl TabularAugment for $t {
            fn name(&self) -> &str {
                $name
            }
            fn augment(&self, x: &Array2<f64>, y: &Array1<f64>, n_new: usize, seed: u64) -> Result<(Array2<f64>, Array1<f64>)> {
                <$t>::augment(self, x, y, n_new, seed)
            }
        }
    };
}

/// Originals followed by `n_new` synthetic rows: `([n + n_new, d], [n + n_new])`.
pub fn augment_and_concat<A: TabularAugment + ?Sized>(
    method: &A,
    x: &Array2<f64>,
    y: &Array1<f64>,
    n_new: usize,
    seed: u64,
) -> Result<(Array2<f64>, Array1<f64>)> {
    let (new_x, new_y) = method.augment(x, y, n_new, seed)?;
    let context = format!("{} augment_and_concat", method.name());
    let all_x = concatenate(Axis(0), &[x.view(), new_x.view()]).map_err(|e| Error::shape(&context, format!("{} columns", x.ncols()), e))?;
    let all_y = concatenate(Axis(0), &[y.view(), new_y.view()]).map_err(|e| Error::shape(&context, "1-d targets", e))?;
    Ok((all_x, all_y))
}

/// Rows whose target is rare: `(low, high)`, the indices (ascending) of targets strictly below
/// the `lower_quantile` and strictly above the `upper_quantile` of `y: [n]`. Both quantiles
/// must lie in (0, 1) with `lower_quantile < upper_quantile`; `y` must be finite.
pub fn rare_indices(y: &Array1<f64>, lower_quantile: f64, upper_quantile: f64) -> Result<(Vec<usize>, Vec<usize>)> {
    check_quantiles("rare_indices", lower_quantile, upper_quantile)?;
    if let Some((i, &v)) = y.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(Error::NonFinite { context: format!("rare_indices y, row {i}"), value: v });
    }
    let mut sorted = y.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let (lo, hi) = (quantile(&sorted, lower_quantile), quantile(&sorted, upper_quantile));
    let low = (0..y.len()).filter(|&i| y[i] < lo).collect();
    let high = (0..y.len()).filter(|&i| y[i] > hi).collect();
    Ok((low, high))
}

/// Gaussian jitter: `n_new` rows drawn uniformly (with replacement) from the training rows,
/// each feature `j` plus `N(0, (scale · std_j)²)` noise, with `std_j` the spread of feature `j`
/// over the given rows; the target plus `N(0, (target_scale · std_y)²)`.
///
/// | field | default | purpose | range |
/// |---|---|---|---|
/// | `scale` | 0.05 | noise as a fraction of each feature's std | ≥ 0, finite |
/// | `target_scale` | 0.0 | noise as a fraction of the target's std | ≥ 0, finite |
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianJitter {
    /// Feature noise sigma, as a multiple of each feature's standard deviation.
    pub scale: f64,
    /// Target noise sigma, as a multiple of the target's standard deviation (0: targets copied).
    pub target_scale: f64,
}

impl Default for GaussianJitter {
    fn default() -> Self {
        GaussianJitter { scale: 0.05, target_scale: 0.0 }
    }
}

impl GaussianJitter {
    /// Errors naming the bad value if a scale is negative or not finite.
    pub fn check(&self) -> Result<()> {
        check_scale("GaussianJitter.scale", self.scale)?;
        check_scale("GaussianJitter.target_scale", self.target_scale)
    }

    /// `n_new` jittered rows from `x: [n, d]`, `y: [n]` (n ≥ 1): `([n_new, d], [n_new])`.
    pub fn augment(&self, x: &Array2<f64>, y: &Array1<f64>, n_new: usize, seed: u64) -> Result<(Array2<f64>, Array1<f64>)> {
        self.check()?;
        if let Some(none) = check_input("GaussianJitter", x, y, n_new, 1)? {
            return Ok(none);
        }
        let rows: Vec<usize> = (0..x.nrows()).collect();
        let (x_std, y_std) = (column_std(x, &rows), std_of(y, &rows));
        let mut rng = crate::rng(seed);
        let mut out_x = Array2::zeros((n_new, x.ncols()));
        let mut out_y = Array1::zeros(n_new);
        for r in 0..n_new {
            let i = rng.gen_range(0..x.nrows());
            for j in 0..x.ncols() {
                out_x[[r, j]] = x[[i, j]] + self.scale * x_std[j] * normal(&mut rng);
            }
            out_y[r] = y[i] + self.target_scale * y_std * normal(&mut rng);
        }
        Ok((out_x, out_y))
    }
}

impl_tabular_augment!(GaussianJitter, "gaussian_jitter");

/// Mixup for regression (Zhang et al. 2018): each new row is `λ·x_i + (1−λ)·x_j` with target
/// `λ·y_i + (1−λ)·y_j`, rows `i`, `j` drawn uniformly (with replacement) and `λ ~ Beta(α, α)`
/// (sampled from two Gamma draws, Marsaglia–Tsang).
///
/// | field | default | purpose | range |
/// |---|---|---|---|
/// | `alpha` | 0.2 | Beta(α, α) shape: small α keeps λ near 0 or 1 | > 0, finite |
#[derive(Debug, Clone, PartialEq)]
pub struct Mixup {
    /// Shape of the symmetric Beta distribution of λ.
    pub alpha: f64,
}

impl Default for Mixup {
    fn default() -> Self {
        Mixup { alpha: 0.2 }
    }
}

impl Mixup {
    /// Errors naming the bad value if `alpha` is not a finite number above 0.
    pub fn check(&self) -> Result<()> {
        if !(self.alpha > 0.0 && self.alpha.is_finite()) {
            return Err(Error::invalid("Mixup.alpha", self.alpha, "must be a finite number above 0"));
        }
        Ok(())
    }

    /// `n_new` mixed rows from `x: [n, d]`, `y: [n]` (n ≥ 1): `([n_new, d], [n_new])`.
    pub fn augment(&self, x: &Array2<f64>, y: &Array1<f64>, n_new: usize, seed: u64) -> Result<(Array2<f64>, Array1<f64>)> {
        self.check()?;
        if let Some(none) = check_input("Mixup", x, y, n_new, 1)? {
            return Ok(none);
        }
        let mut rng = crate::rng(seed);
        let mut out_x = Array2::zeros((n_new, x.ncols()));
        let mut out_y = Array1::zeros(n_new);
        for r in 0..n_new {
            let (i, j) = (rng.gen_range(0..x.nrows()), rng.gen_range(0..x.nrows()));
            let lambda = beta(self.alpha, self.alpha, &mut rng);
            for c in 0..x.ncols() {
                out_x[[r, c]] = lambda * x[[i, c]] + (1.0 - lambda) * x[[j, c]];
            }
            out_y[r] = lambda * y[i] + (1.0 - lambda) * y[j];
        }
        Ok((out_x, out_y))
    }
}

impl_tabular_augment!(Mixup, "mixup");

/// SMOTER (Torgo et al. 2013). The rare rows (see [`rare_indices`]) form a low and a high set;
/// `n_new` is split between them in proportion to their sizes (largest remainder). Each rare
/// row seeds `n_new / size` new rows (the remainder from seeds drawn without replacement); for
/// each, one of the seed's `k` nearest rare neighbours in the same set (Euclidean distance on
/// features standardized over all rows) is drawn, the features are interpolated with a gap
/// `g ~ U[0,1)`, and the target is the average of the two targets weighted by the inverse
/// distance of the new point to each. New targets therefore lie within the rare set's range.
///
/// `k` is clamped to (set size − 1). A rare set with fewer than 2 rows has no neighbour and
/// is skipped; if neither set has 2 rows the method errors ([`Smogn`] falls back instead).
///
/// | field | default | purpose | range |
/// |---|---|---|---|
/// | `lower_quantile` | 0.1 | targets below this quantile are rare | (0, 1), < `upper_quantile` |
/// | `upper_quantile` | 0.9 | targets above this quantile are rare | (0, 1) |
/// | `k` | 5 | neighbours to choose from | ≥ 1 |
#[derive(Debug, Clone, PartialEq)]
pub struct Smoter {
    /// Quantile of `y` below which a target is rare (low set).
    pub lower_quantile: f64,
    /// Quantile of `y` above which a target is rare (high set).
    pub upper_quantile: f64,
    /// Number of nearest rare neighbours to draw from.
    pub k: usize,
}

impl Default for Smoter {
    fn default() -> Self {
        Smoter { lower_quantile: 0.1, upper_quantile: 0.9, k: 5 }
    }
}

impl Smoter {
    /// Errors naming the bad value for quantiles outside (0, 1) or out of order, or `k = 0`.
    pub fn check(&self) -> Result<()> {
        check_quantiles("Smoter", self.lower_quantile, self.upper_quantile)?;
        check_k("Smoter.k", self.k)
    }

    /// `n_new` SMOTER rows from `x: [n, d]`, `y: [n]` (n ≥ 2): `([n_new, d], [n_new])`.
    pub fn augment(&self, x: &Array2<f64>, y: &Array1<f64>, n_new: usize, seed: u64) -> Result<(Array2<f64>, Array1<f64>)> {
        self.check()?;
        if let Some(none) = check_input("SMOTER", x, y, n_new, 2)? {
            return Ok(none);
        }
        let (low, high) = rare_indices(y, self.lower_quantile, self.upper_quantile)?;
        let (n_low, n_high) = (low.len(), high.len());
        let groups: Vec<Vec<usize>> = [low, high].into_iter().filter(|g| g.len() >= 2).collect();
        if groups.is_empty() {
            let (lo, hi) = (self.lower_quantile, self.upper_quantile);
            let reason = format!("no rare set has 2 rows (low: {n_low}, high: {n_high} at quantiles {lo} / {hi}); widen the quantiles or use Smogn");
            return Err(Error::undefined("SMOTER", reason));
        }
        Ok(oversample(x, y, &groups, n_new, self.k, None, &mut crate::rng(seed)))
    }
}

impl_tabular_augment!(Smoter, "smoter");

/// SMOGN-style oversampling (Branco et al. 2017): [`Smoter`]'s procedure, except that when
/// the drawn neighbour is farther than the safe distance — half the median of the pairwise
/// (standardized) distances within the set — the new row is the seed plus Gaussian noise,
/// `N(0, (perturbation · std_j)²)` on feature `j` and `N(0, (perturbation · std_y)²)` on the
/// target, with stds taken over the set. (The paper takes the median over the seed's own k
/// neighbours instead.) By this rule the neighbour in a 2-row set is always unsafe.
///
/// **Never fails for lack of extremes.** Rare sets with fewer than 2 rows are skipped, and
/// when neither set has 2 rows — no target outside the quantiles, all targets equal, or one
/// extreme row per side — all rows are treated as one set and the same procedure runs on
/// them. (The `smogn` Python package stops with an error there.)
///
/// | field | default | purpose | range |
/// |---|---|---|---|
/// | `lower_quantile` | 0.1 | targets below this quantile are rare | (0, 1), < `upper_quantile` |
/// | `upper_quantile` | 0.9 | targets above this quantile are rare | (0, 1) |
/// | `k` | 5 | neighbours to choose from | ≥ 1 |
/// | `perturbation` | 0.02 | noise as a fraction of each std (as the `smogn` package) | ≥ 0, finite |
#[derive(Debug, Clone, PartialEq)]
pub struct Smogn {
    /// Quantile of `y` below which a target is rare (low set).
    pub lower_quantile: f64,
    /// Quantile of `y` above which a target is rare (high set).
    pub upper_quantile: f64,
    /// Number of nearest rare neighbours to draw from.
    pub k: usize,
    /// Gaussian noise sigma for unsafe neighbours, as a multiple of each std in the set.
    pub perturbation: f64,
}

impl Default for Smogn {
    fn default() -> Self {
        Smogn { lower_quantile: 0.1, upper_quantile: 0.9, k: 5, perturbation: 0.02 }
    }
}

impl Smogn {
    /// Errors naming the bad value for quantiles outside (0, 1) or out of order, `k = 0`, or
    /// a negative or non-finite `perturbation`.
    pub fn check(&self) -> Result<()> {
        check_quantiles("Smogn", self.lower_quantile, self.upper_quantile)?;
        check_k("Smogn.k", self.k)?;
        check_scale("Smogn.perturbation", self.perturbation)
    }

    /// `n_new` SMOGN rows from `x: [n, d]`, `y: [n]` (n ≥ 2): `([n_new, d], [n_new])`.
    pub fn augment(&self, x: &Array2<f64>, y: &Array1<f64>, n_new: usize, seed: u64) -> Result<(Array2<f64>, Array1<f64>)> {
        self.check()?;
        if let Some(none) = check_input("SMOGN", x, y, n_new, 2)? {
            return Ok(none);
        }
        let (low, high) = rare_indices(y, self.lower_quantile, self.upper_quantile)?;
        let mut groups: Vec<Vec<usize>> = [low, high].into_iter().filter(|g| g.len() >= 2).collect();
        if groups.is_empty() {
            groups.push((0..x.nrows()).collect());
        }
        Ok(oversample(x, y, &groups, n_new, self.k, Some(self.perturbation), &mut crate::rng(seed)))
    }
}

impl_tabular_augment!(Smogn, "smogn");

/// The SMOTER / SMOGN loop over `groups` (row indices, each ≥ 2 rows). `perturbation`:
/// `None` always interpolates (SMOTER); `Some(p)` adds noise for unsafe neighbours (SMOGN).
fn oversample(
    x: &Array2<f64>,
    y: &Array1<f64>,
    groups: &[Vec<usize>],
    n_new: usize,
    k: usize,
    perturbation: Option<f64>,
    rng: &mut Xoshiro256PlusPlus,
) -> (Array2<f64>, Array1<f64>) {
    let (n, d) = x.dim();
    let all: Vec<usize> = (0..n).collect();
    let (mean, sd) = (column_mean(x, &all), column_std(x, &all));
    let z = Array2::from_shape_fn((n, d), |(i, j)| (x[[i, j]] - mean[j]) / if sd[j] > 0.0 { sd[j] } else { 1.0 });
    let dist = |a: usize, b: usize| (0..d).map(|j| (z[[a, j]] - z[[b, j]]).powi(2)).sum::<f64>().sqrt();
    let sizes: Vec<usize> = groups.iter().map(Vec::len).collect();
    let mut out_x = Array2::zeros((n_new, d));
    let mut out_y = Array1::zeros(n_new);
    let mut r = 0;
    for (g, count) in groups.iter().zip(split_counts(n_new, &sizes)) {
        let m = g.len();
        let k_eff = k.min(m - 1); // k clamped to the neighbours available
        let pair: Vec<Vec<f64>> = (0..m).map(|a| (0..m).map(|b| dist(g[a], g[b])).collect()).collect();
        // neighbours[a]: positions in g of a's k_eff nearest others, nearest first
        let neighbours: Vec<Vec<usize>> = (0..m)
            .map(|a| {
                let mut others: Vec<usize> = (0..m).filter(|&b| b != a).collect();
                others.sort_by(|&b, &c| pair[a][b].total_cmp(&pair[a][c]).then(b.cmp(&c)));
                others.truncate(k_eff);
                others
            })
            .collect();
        let smogn = perturbation.map(|p| {
            let mut all_pairs: Vec<f64> = (0..m).flat_map(|a| pair[a][a + 1..].to_vec()).collect();
            all_pairs.sort_by(|a, b| a.total_cmp(b));
            (p, quantile(&all_pairs, 0.5) / 2.0, column_std(x, g), std_of(y, g))
        });
        let mut seeds: Vec<usize> = (0..count / m).flat_map(|_| 0..m).collect();
        seeds.extend(sample(rng, m, count % m).iter());
        for a in seeds {
            let b = neighbours[a][rng.gen_range(0..k_eff)];
            let (ia, ib) = (g[a], g[b]);
            match &smogn {
                Some((p, safe, x_sd, y_sd)) if pair[a][b] > *safe => {
                    for j in 0..d {
                        out_x[[r, j]] = x[[ia, j]] + p * x_sd[j] * normal(rng);
                    }
                    out_y[r] = y[ia] + p * y_sd * normal(rng);
                }
                _ => {
                    let gap: f64 = rng.gen();
                    let (mut d_a, mut d_b) = (0.0, 0.0);
                    for j in 0..d {
                        out_x[[r, j]] = x[[ia, j]] + gap * (x[[ib, j]] - x[[ia, j]]);
                        let z_new = z[[ia, j]] + gap * (z[[ib, j]] - z[[ia, j]]);
                        d_a += (z_new - z[[ia, j]]).powi(2);
                        d_b += (z_new - z[[ib, j]]).powi(2);
                    }
                    // weights 1/d_a and 1/d_b on y_a and y_b, written to avoid dividing by 0
                    let (d_a, d_b) = (d_a.sqrt(), d_b.sqrt());
                    let w_b = if d_a + d_b > 0.0 { d_a / (d_a + d_b) } else { 0.5 };
                    out_y[r] = y[ia] + w_b * (y[ib] - y[ia]);
                }
            }
            r += 1;
        }
    }
    (out_x, out_y)
}

/// `total` split in proportion to `sizes` by largest remainder (ties to the earlier group).
fn split_counts(total: usize, sizes: &[usize]) -> Vec<usize> {
    let sum: usize = sizes.iter().sum();
    if sum == 0 {
        return vec![0; sizes.len()];
    }
    let mut counts: Vec<usize> = sizes.iter().map(|&s| total * s / sum).collect();
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by_key(|&g| (std::cmp::Reverse(total * sizes[g] % sum), g));
    let left = total - counts.iter().sum::<usize>();
    for &g in order.iter().take(left) {
        counts[g] += 1;
    }
    counts
}

/// Linear-interpolation quantile of an ascending, non-empty slice (`p` in [0, 1]).
fn quantile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let pos = p.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (lo, frac) = (pos.floor() as usize, pos - pos.floor());
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + frac * (sorted[hi] - sorted[lo])
}

fn column_mean(x: &Array2<f64>, rows: &[usize]) -> Vec<f64> {
    let n = rows.len().max(1) as f64;
    (0..x.ncols()).map(|j| rows.iter().map(|&i| x[[i, j]]).sum::<f64>() / n).collect()
}

/// Population standard deviation of each column over `rows`.
fn column_std(x: &Array2<f64>, rows: &[usize]) -> Vec<f64> {
    let mean = column_mean(x, rows);
    let n = rows.len().max(1) as f64;
    (0..x.ncols()).map(|j| (rows.iter().map(|&i| (x[[i, j]] - mean[j]).powi(2)).sum::<f64>() / n).sqrt()).collect()
}

fn std_of(y: &Array1<f64>, rows: &[usize]) -> f64 {
    let n = rows.len().max(1) as f64;
    let mean = rows.iter().map(|&i| y[i]).sum::<f64>() / n;
    (rows.iter().map(|&i| (y[i] - mean).powi(2)).sum::<f64>() / n).sqrt()
}

/// A standard normal draw (Box–Muller, one of the pair).
fn normal(rng: &mut Xoshiro256PlusPlus) -> f64 {
    let u1 = 1.0 - rng.gen::<f64>(); // (0, 1]
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Natural log of a Gamma(shape, 1) draw (Marsaglia & Tsang 2000; shape < 1 boosted by
/// `U^(1/shape)`), in logs so that tiny shapes cannot underflow to 0.
fn ln_gamma_draw(shape: f64, rng: &mut Xoshiro256PlusPlus) -> f64 {
    if shape < 1.0 {
        let u = 1.0 - rng.gen::<f64>();
        return ln_gamma_draw(shape + 1.0, rng) + u.ln() / shape;
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let z = normal(rng);
        let v = (1.0 + c * z).powi(3);
        if v <= 0.0 {
            continue;
        }
        let u = 1.0 - rng.gen::<f64>();
        if u < 1.0 - 0.0331 * z.powi(4) || u.ln() < 0.5 * z * z + d * (1.0 - v + v.ln()) {
            return (d * v).ln();
        }
    }
}

/// A Beta(a, b) draw in [0, 1]: `X / (X + Y)` with `X ~ Gamma(a)`, `Y ~ Gamma(b)`.
fn beta(a: f64, b: f64, rng: &mut Xoshiro256PlusPlus) -> f64 {
    let (lx, ly) = (ln_gamma_draw(a, rng), ln_gamma_draw(b, rng));
    1.0 / (1.0 + (ly - lx).exp())
}

/// Checks `x: [n, d]` against `y: [n]` (shape, finite values, at least `min_rows` rows);
/// `Some(empty arrays)` when `n_new = 0`, which needs no rows.
fn check_input(method: &str, x: &Array2<f64>, y: &Array1<f64>, n_new: usize, min_rows: usize) -> Result<Option<(Array2<f64>, Array1<f64>)>> {
    if x.nrows() != y.len() {
        return Err(Error::shape(format!("{method} input"), format!("y of length {} (rows of x)", x.nrows()), format!("length {}", y.len())));
    }
    if let Some(((i, j), &v)) = x.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(Error::NonFinite { context: format!("{method} input x, row {i}, column {j}"), value: v });
    }
    if let Some((i, &v)) = y.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(Error::NonFinite { context: format!("{method} input y, row {i}"), value: v });
    }
    if n_new == 0 {
        return Ok(Some((Array2::zeros((0, x.ncols())), Array1::zeros(0))));
    }
    if x.nrows() < min_rows {
        return Err(Error::undefined(format!("{method} augmentation"), format!("needs at least {min_rows} rows, got {}", x.nrows())));
    }
    Ok(None)
}

fn check_scale(name: &str, v: f64) -> Result<()> {
    if !(v >= 0.0 && v.is_finite()) {
        return Err(Error::invalid(name, v, "must be a finite number ≥ 0"));
    }
    Ok(())
}

fn check_k(name: &str, k: usize) -> Result<()> {
    if k == 0 {
        return Err(Error::invalid(name, k, "must be at least 1"));
    }
    Ok(())
}

fn check_quantiles(method: &str, lower: f64, upper: f64) -> Result<()> {
    for (name, q) in [("lower_quantile", lower), ("upper_quantile", upper)] {
        if !(q > 0.0 && q < 1.0) {
            return Err(Error::invalid(format!("{method}.{name}"), q, "must lie strictly between 0 and 1"));
        }
    }
    if lower >= upper {
        return Err(Error::invalid(format!("{method}.lower_quantile"), lower, format!("must be below upper_quantile = {upper}")));
    }
    Ok(())
}

#[cfg(test)]
#[path = "tabular_tests.rs"]
mod tests;
