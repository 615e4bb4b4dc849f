//! Regression baselines behind one enum: fit on a table, predict on another.
//!
//! | [`Regressor`] | implementation |
//! |---|---|
//! | `Ols` | linfa-linear `LinearRegression` |
//! | `Ridge { alpha }` | closed form `(XᵀX + αI) w = Xᵀy` on centred data, solved by Cholesky (linfa-linalg): scikit-learn's `Ridge(alpha)` exactly |
//! | `Lasso { alpha }`, `ElasticNet { alpha, l1_ratio }` | linfa-elasticnet (the objective of scikit-learn's `Lasso` / `ElasticNet`) |
//! | `Svr { c, epsilon }` | linfa-svm ε-SVR, Gaussian kernel with scikit-learn's `gamma = "scale"` (1 / features on standardised data) |
//! | `Knn { k }` | mean target of the `k` nearest training rows (linfa-nn, Euclidean) |
//! | `Mlp { .. }` | a tch multilayer perceptron (two hidden ReLU layers), AdamW on full batches with strong decoupled weight decay (1.0 by default: small data), seeded |
//!
//! Every model sees features standardised with the mean and (population) standard
//! deviation of its **training** rows only ([`Scaler`]); the MLP and the SVR also see
//! a standardised target. Inputs are checked first: NaN or infinity, a constant
//! column, and (for OLS) fewer rows than parameters are errors naming the row or column.

use crate::{Error, Result};
use linfa::prelude::*;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};

/// Per-column standardisation fitted on training rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Scaler {
    pub mean: Array1<f64>,
    pub std: Array1<f64>,
}

impl Scaler {
    /// Fit on `x`; a column with zero spread is an error naming it (it carries no
    /// information and cannot be scaled).
    pub fn fit(x: ArrayView2<f64>, names: Option<&[String]>) -> Result<Self> {
        let mean = x.mean_axis(Axis(0)).ok_or_else(|| Error::invalid("training rows", 0, "need at least one row"))?;
        let std = x.std_axis(Axis(0), 0.0);
        if let Some(j) = std.iter().position(|&s| s == 0.0 || !s.is_finite()) {
            let name = names.and_then(|n| n.get(j)).cloned().unwrap_or_else(|| format!("column {j}"));
            return Err(Error::invalid("feature", name, format!("is constant ({}) in the training rows; drop it", mean[j])));
        }
        Ok(Scaler { mean, std })
    }

    pub fn transform(&self, x: ArrayView2<f64>) -> Array2<f64> {
        (&x - &self.mean) / &self.std
    }
}

/// A regression model and its hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Regressor {
    Ols,
    Ridge { alpha: f64 },
    Lasso { alpha: f64 },
    ElasticNet { alpha: f64, l1_ratio: f64 },
    Svr { c: f64, epsilon: f64 },
    Knn { k: usize },
    Mlp { hidden: usize, epochs: usize, lr: f64, weight_decay: f64 },
}

impl std::str::FromStr for Regressor {
    type Err = Error;
    /// `ols`, `ridge[=alpha]`, `lasso[=alpha]`, `elasticnet[=alpha]`, `svr[=C]`, `knn[=k]`, `mlp[=hidden]`.
    fn from_str(s: &str) -> Result<Self> {
        let (name, value, given) = crate::params::parse_setting(s, "model", f64::NAN)?;
        if given && value <= 0.0 {
            return Err(Error::invalid("model parameter", s, "expected a positive number after '='"));
        }
        let base = match name.as_str() {
            "ols" | "linear" => Regressor::Ols,
            "ridge" => Regressor::ridge(),
            "lasso" => Regressor::lasso(),
            "elasticnet" | "elastic-net" => Regressor::elastic_net(),
            "svr" => Regressor::svr(),
            "knn" => Regressor::knn(),
            "mlp" => Regressor::mlp(),
            _ => return Err(Error::invalid("model", s, "known models: ols, ridge, lasso, elasticnet, svr, knn, mlp")),
        };
        let r = if given { base.with_value(value) } else { base };
        r.check()?;
        Ok(r)
    }
}

impl crate::params::Setting for Regressor {
    /// `ridge=0.5`; the MLP's and the elastic net's other parameters are the parser's
    /// defaults and are not spelt.
    fn setting(&self) -> String {
        match *self {
            Regressor::Ols => "ols".into(),
            Regressor::Ridge { alpha } => format!("ridge={alpha}"),
            Regressor::Lasso { alpha } => format!("lasso={alpha}"),
            Regressor::ElasticNet { alpha, .. } => format!("elasticnet={alpha}"),
            Regressor::Svr { c, .. } => format!("svr={c}"),
            Regressor::Knn { k } => format!("knn={k}"),
            Regressor::Mlp { hidden, .. } => format!("mlp={hidden}"),
        }
    }
}

impl Regressor {
    /// Ridge with α = 1, what `ridge` means.
    pub fn ridge() -> Self {
        Regressor::Ridge { alpha: 1.0 }
    }
    /// Lasso with α = 0.1, what `lasso` means.
    pub fn lasso() -> Self {
        Regressor::Lasso { alpha: 0.1 }
    }
    /// Elastic net with α = 0.1 and an L1 share of 0.5, what `elasticnet` means.
    pub fn elastic_net() -> Self {
        Regressor::ElasticNet { alpha: 0.1, l1_ratio: 0.5 }
    }
    /// SVR with C = 1 and ε = 0.1, what `svr` means.
    pub fn svr() -> Self {
        Regressor::Svr { c: 1.0, epsilon: 0.1 }
    }
    /// k-nearest neighbours with k = 5, what `knn` means.
    pub fn knn() -> Self {
        Regressor::Knn { k: 5 }
    }
    /// The MLP with 64 hidden units, 200 epochs, lr 1e-2 and weight decay 1, what `mlp` means.
    pub fn mlp() -> Self {
        Regressor::Mlp { hidden: 64, epochs: 200, lr: 1e-2, weight_decay: 1.0 }
    }

    /// The same model with its main parameter (`name=value`: α, C, k or hidden
    /// units) set to `value`; OLS has none.
    fn with_value(self, value: f64) -> Self {
        match self {
            Regressor::Ols => Regressor::Ols,
            Regressor::Ridge { .. } => Regressor::Ridge { alpha: value },
            Regressor::Lasso { .. } => Regressor::Lasso { alpha: value },
            Regressor::ElasticNet { l1_ratio, .. } => Regressor::ElasticNet { alpha: value, l1_ratio },
            Regressor::Svr { epsilon, .. } => Regressor::Svr { c: value, epsilon },
            Regressor::Knn { .. } => Regressor::Knn { k: value as usize },
            Regressor::Mlp { epochs, lr, weight_decay, .. } => Regressor::Mlp { hidden: value as usize, epochs, lr, weight_decay },
        }
    }

    /// A short name for tables: `ols`, `ridge`, …
    pub fn name(&self) -> &'static str {
        match self {
            Regressor::Ols => "ols",
            Regressor::Ridge { .. } => "ridge",
            Regressor::Lasso { .. } => "lasso",
            Regressor::ElasticNet { .. } => "elasticnet",
            Regressor::Svr { .. } => "svr",
            Regressor::Knn { .. } => "knn",
            Regressor::Mlp { .. } => "mlp",
        }
    }

    /// Check hyper-parameters; errors name the value.
    pub fn check(&self) -> Result<()> {
        let positive = |name: &str, v: f64| {
            if v > 0.0 && v.is_finite() {
                Ok(())
            } else {
                Err(Error::invalid(name, v, "must be positive"))
            }
        };
        match *self {
            Regressor::Ols => Ok(()),
            Regressor::Ridge { alpha } | Regressor::Lasso { alpha } => positive("alpha", alpha),
            Regressor::ElasticNet { alpha, l1_ratio } => {
                positive("alpha", alpha)?;
                if !(0.0..=1.0).contains(&l1_ratio) {
                    return Err(Error::invalid("l1_ratio", l1_ratio, "must lie in [0, 1]"));
                }
                Ok(())
            }
            Regressor::Svr { c, epsilon } => {
                positive("C", c)?;
                if !(epsilon >= 0.0) {
                    return Err(Error::invalid("epsilon", epsilon, "must be ≥ 0"));
                }
                Ok(())
            }
            Regressor::Knn { k } if k == 0 => Err(Error::invalid("k", 0, "must be at least 1")),
            Regressor::Knn { .. } => Ok(()),
            Regressor::Mlp { hidden, epochs, lr, weight_decay } => {
                if hidden == 0 || epochs == 0 {
                    return Err(Error::invalid("mlp hidden units / epochs", format!("{hidden} / {epochs}"), "must be at least 1"));
                }
                positive("lr", lr)?;
                if !(weight_decay >= 0.0) {
                    return Err(Error::invalid("weight decay", weight_decay, "must be ≥ 0"));
                }
                Ok(())
            }
        }
    }

    /// Fit on `x` `[n, d]` and `y` `[n]`. `seed` matters only for the MLP.
    pub fn fit(&self, x: ArrayView2<f64>, y: ArrayView1<f64>, seed: u64) -> Result<Fitted> {
        self.check()?;
        check_xy(x, y)?;
        let scaler = Scaler::fit(x, None)?;
        let xs = scaler.transform(x);
        let (n, d) = xs.dim();
        let y_mean = y.mean().unwrap_or(0.0);
        let y_std = y.std(0.0).max(1e-12);
        let model = match *self {
            Regressor::Ols => {
                if n < d + 1 {
                    return Err(Error::invalid(
                        "training rows for OLS",
                        n,
                        format!("least squares with {d} features and an intercept needs at least {} rows; use ridge", d + 1),
                    ));
                }
                let fit = linfa_linear::LinearRegression::new().fit(&Dataset::new(xs, y.to_owned())).map_err(linfa_err)?;
                Model::Linear { w: fit.params().clone(), b: fit.intercept() }
            }
            Regressor::Ridge { alpha } => ridge(&xs, y, alpha)?,
            Regressor::Lasso { alpha } => elastic_net(xs, y, alpha, 1.0)?,
            Regressor::ElasticNet { alpha, l1_ratio } => elastic_net(xs, y, alpha, l1_ratio)?,
            Regressor::Svr { c, epsilon } => {
                let yt = (&y - y_mean) / y_std;
                let svr = linfa_svm::Svm::<f64, f64>::params()
                    .c_svr(c, Some(epsilon))
                    .gaussian_kernel(d as f64) // exp(−‖a − b‖² / d): gamma = 1/d, scikit-learn's "scale" on standardised data
                    .fit(&Dataset::new(xs, yt))
                    .map_err(linfa_err)?;
                Model::Svr(Box::new(svr))
            }
            Regressor::Knn { k } => {
                if k > n {
                    return Err(Error::invalid("k", k, format!("more neighbours than the {n} training rows")));
                }
                Model::Knn { x: xs, y: y.to_owned(), k }
            }
            Regressor::Mlp { hidden, epochs, lr, weight_decay } => {
                let yt = (&y - y_mean) / y_std;
                Model::Mlp(super::mlp::Mlp::fit(&xs, &yt, hidden, epochs, lr, weight_decay, seed)?)
            }
        };
        Ok(Fitted { regressor: *self, scaler, y_mean, y_std, model })
    }
}

fn linfa_err<E: std::fmt::Display>(e: E) -> Error {
    Error::invalid("linfa fit", e.to_string(), "the solver failed")
}

/// Ridge in closed form. Coordinate descent (elastic net with `l1_ratio = 0`) gives
/// the same solution but took seconds to reach scikit-learn's to 1e-6 on correlated
/// features; the normal equations with a positive-definite `XᵀX + αI` are exact.
fn ridge(xs: &Array2<f64>, y: ArrayView1<f64>, alpha: f64) -> Result<Model> {
    use linfa_linalg::cholesky::SolveC;
    let no_rows = || Error::invalid("ridge training rows", 0, "needs at least one row");
    let xm = xs.mean_axis(Axis(0)).ok_or_else(no_rows)?;
    let ym = y.mean().ok_or_else(no_rows)?;
    let xc = xs - &xm;
    let mut gram = xc.t().dot(&xc);
    gram.diag_mut().mapv_inplace(|v| v + alpha);
    let rhs = xc.t().dot(&(&y - ym)).insert_axis(Axis(1));
    let w = gram.solvec(&rhs).map_err(linfa_err)?.column(0).to_owned();
    let b = ym - xm.dot(&w);
    Ok(Model::Linear { w, b })
}

fn elastic_net(xs: Array2<f64>, y: ArrayView1<f64>, penalty: f64, l1_ratio: f64) -> Result<Model> {
    let fit = linfa_elasticnet::ElasticNet::<f64>::params()
        .penalty(penalty)
        .l1_ratio(l1_ratio)
        .tolerance(1e-12)
        .max_iterations(100_000)
        .fit(&Dataset::new(xs, y.to_owned()))
        .map_err(linfa_err)?;
    Ok(Model::Linear { w: fit.hyperplane().clone(), b: fit.intercept() })
}

/// Check shapes, finiteness and size before fitting.
pub(crate) fn check_xy(x: ArrayView2<f64>, y: ArrayView1<f64>) -> Result<()> {
    if x.nrows() != y.len() {
        return Err(Error::shape("rows of x vs y", x.nrows(), y.len()));
    }
    if x.nrows() < 2 {
        return Err(Error::invalid("training rows", x.nrows(), "need at least 2"));
    }
    if x.ncols() == 0 {
        return Err(Error::invalid("features", 0, "need at least one column"));
    }
    if let Some(((r, c), v)) = x.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(Error::NonFinite { context: format!("features, row {r}, column {c}"), value: *v });
    }
    if let Some((r, v)) = y.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(Error::NonFinite { context: format!("target, row {r}"), value: *v });
    }
    Ok(())
}

enum Model {
    Linear { w: Array1<f64>, b: f64 },
    Svr(Box<linfa_svm::Svm<f64, f64>>),
    Knn { x: Array2<f64>, y: Array1<f64>, k: usize },
    Mlp(super::mlp::Mlp),
}

/// A fitted model with its training-set scaling.
pub struct Fitted {
    pub regressor: Regressor,
    pub scaler: Scaler,
    y_mean: f64,
    y_std: f64,
    model: Model,
}

impl std::fmt::Debug for Fitted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Fitted({:?} on {} features)", self.regressor, self.scaler.mean.len())
    }
}

impl Fitted {
    /// Predictions for the rows of `x` (same columns as in training).
    pub fn predict(&self, x: ArrayView2<f64>) -> Result<Array1<f64>> {
        if x.ncols() != self.scaler.mean.len() {
            return Err(Error::shape("prediction features vs training features", self.scaler.mean.len(), x.ncols()));
        }
        if let Some(((r, c), v)) = x.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(Error::NonFinite { context: format!("prediction features, row {r}, column {c}"), value: *v });
        }
        let xs = self.scaler.transform(x);
        Ok(match &self.model {
            Model::Linear { w, b } => xs.dot(w) + *b,
            Model::Svr(svr) => svr.predict(&xs).mapv(|v| v * self.y_std + self.y_mean),
            Model::Knn { x: train, y, k } => knn_predict(train, y, *k, &xs)?,
            Model::Mlp(m) => m.predict(&xs)?.mapv(|v| v * self.y_std + self.y_mean),
        })
    }

    /// Coefficients on the *standardised* features and the intercept, for the linear models.
    pub fn coefficients(&self) -> Option<(&Array1<f64>, f64)> {
        match &self.model {
            Model::Linear { w, b } => Some((w, *b)),
            _ => None,
        }
    }
}

fn knn_predict(train: &Array2<f64>, y: &Array1<f64>, k: usize, xs: &Array2<f64>) -> Result<Array1<f64>> {
    use linfa_nn::{distance::L2Dist, CommonNearestNeighbour, NearestNeighbour};
    let index = CommonNearestNeighbour::KdTree.from_batch(train, L2Dist).map_err(linfa_err)?;
    let mut out = Array1::zeros(xs.nrows());
    for (i, row) in xs.rows().into_iter().enumerate() {
        let near = index.k_nearest(row, k).map_err(linfa_err)?;
        out[i] = near.iter().map(|(_, j)| y[*j]).sum::<f64>() / near.len() as f64;
    }
    Ok(out)
}

/// Fit `regressor` on a linfa dataset and predict the records of `test`: the one
/// call a study needs for any model.
pub fn fit_predict(regressor: &Regressor, train: &Dataset<f64, f64, ndarray::Ix1>, test: ArrayView2<f64>, seed: u64) -> Result<Array1<f64>> {
    regressor.fit(train.records().view(), train.targets().view(), seed)?.predict(test)
}
