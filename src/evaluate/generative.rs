//! How close synthetic data is to real data, with measures that stay meaningful on
//! small samples (FID, the usual image measure, is biased and noisy below a few
//! thousand images — Chong & Forsyth 2020).
//!
//! All take *features*: `[n, d]` arrays from an extractor of the caller's choice (raw
//! pixels, a classifier's penultimate layer, a tabular row), real first.
//!
//! * [`frechet_distance`]: ‖μ_r − μ_s‖² + Tr(Σ_r + Σ_s − 2(Σ_r Σ_s)^½) between Gaussian
//!   fits (Heusel et al. 2017), on whatever features are given;
//! * [`prdc`]: k-NN precision, recall (Kynkäänniemi et al. 2019), density and
//!   coverage (Naeem et al. 2020): fidelity and diversity separately;
//! * [`c2st_auc`]: classifier two-sample test (Lopez-Paz & Oquab 2017): the
//!   cross-validated AUC of a logistic regression telling real from synthetic;
//!   0.5 means indistinguishable;
//! * [`fmi_label_agreement`] and [`fmi_cluster_agreement`]: the Fowlkes–Mallows
//!   protocols of this project (see each function);
//! * [`train_synthetic_test_real`]: TSTR beside TRTR, for any model.

use super::check::same_len;
use super::{fowlkes_mallows, roc_auc};
use crate::data::array_to_tensor as to_tensor;
use crate::{Error, Result};
use ndarray::{Array2, ArrayView2, Axis};
use tch::{Device, Kind, Tensor};

fn check_features(what: &str, real: &ArrayView2<f64>, synth: &ArrayView2<f64>, min_rows: usize) -> Result<()> {
    if real.ncols() != synth.ncols() {
        return Err(Error::shape(format!("{what}: feature dimensions of real vs synthetic"), real.ncols(), synth.ncols()));
    }
    let views: [(&str, ArrayView2<f64>); 2] = [("real", real.reborrow()), ("synthetic", synth.reborrow())];
    for (name, x) in views {
        if x.nrows() < min_rows {
            return Err(Error::invalid(format!("{what}: {name} rows"), x.nrows(), format!("needs at least {min_rows}")));
        }
        if let Some(((r, c), v)) = x.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(Error::NonFinite { context: format!("{what}: {name} features at row {r}, column {c}"), value: *v });
        }
    }
    Ok(())
}

/// Mean and covariance (n − 1 normalisation) of `[n, d]` rows.
fn mean_cov(x: &ArrayView2<f64>) -> (Tensor, Tensor) {
    let t = to_tensor(x);
    let mu = t.mean_dim(0, false, Kind::Double);
    let centred = &t - &mu;
    let cov = centred.tr().matmul(&centred) / (x.nrows() as f64 - 1.0);
    (mu, cov)
}

/// Fréchet distance between Gaussians fitted to `real` and `synth` features.
/// Tr((Σ_r Σ_s)^½) is computed as Tr((A Σ_s A)^½) with A = Σ_r^½, a symmetric PSD
/// form whose eigenvalues are real; tiny negative eigenvalues from rounding are
/// clipped to 0.
pub fn frechet_distance(real: ArrayView2<f64>, synth: ArrayView2<f64>) -> Result<f64> {
    check_features("Fréchet distance", &real, &synth, 2)?;
    let (mu_r, cov_r) = mean_cov(&real);
    let (mu_s, cov_s) = mean_cov(&synth);
    let (evals, evecs) = cov_r.f_linalg_eigh("L")?;
    let sqrt_r = evecs.matmul(&Tensor::diag_embed(&evals.clamp_min(0.0).sqrt(), 0, -2, -1)).matmul(&evecs.tr());
    let inner = sqrt_r.matmul(&cov_s).matmul(&sqrt_r);
    let inner = (&inner + inner.tr()) / 2.0; // symmetric up to rounding
    let tr_sqrt = inner.f_linalg_eigvalsh("L")?.clamp_min(0.0).sqrt().sum(Kind::Double).double_value(&[]);
    let diff = (&mu_r - &mu_s).square().sum(Kind::Double).double_value(&[]);
    let tr = cov_r.trace().double_value(&[]) + cov_s.trace().double_value(&[]);
    Ok((diff + tr - 2.0 * tr_sqrt).max(0.0))
}

/// k-NN precision, recall, density and coverage.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Prdc {
    /// Share of synthetic samples inside some real sample's k-NN ball (fidelity).
    pub precision: f64,
    /// Share of real samples inside some synthetic sample's k-NN ball (diversity).
    pub recall: f64,
    /// Mean number of real balls holding each synthetic sample, divided by k.
    pub density: f64,
    /// Share of real samples whose ball holds at least one synthetic sample.
    pub coverage: f64,
}

/// Distance from each row to its k-th nearest other row of the same set.
fn kth_radius(d_self: &Tensor, k: usize) -> Tensor {
    // the smallest distance is the point itself (0); the (k+1)-th is the k-th neighbour
    d_self.topk(k as i64 + 1, 1, false, true).0.select(1, k as i64)
}

/// k-NN precision/recall/density/coverage with Euclidean distances, as the `prdc`
/// reference implementation (Naeem et al. 2020). Needs more than `k` rows in each set.
pub fn prdc(real: ArrayView2<f64>, synth: ArrayView2<f64>, k: usize) -> Result<Prdc> {
    if k == 0 {
        return Err(Error::invalid("k", 0, "must be at least 1"));
    }
    check_features("PRDC", &real, &synth, k + 1)?;
    let (r, s) = (to_tensor(&real), to_tensor(&synth));
    let r_radius = kth_radius(&Tensor::cdist(&r, &r, 2.0, None::<i64>), k); // [n]
    let s_radius = kth_radius(&Tensor::cdist(&s, &s, 2.0, None::<i64>), k); // [m]
    let d_rs = Tensor::cdist(&r, &s, 2.0, None::<i64>); // [n, m]
    let in_real_ball = d_rs.le_tensor(&r_radius.unsqueeze(1)); // synth j inside real i's ball
    let in_synth_ball = d_rs.le_tensor(&s_radius.unsqueeze(0)); // real i inside synth j's ball
    let mean = |t: Tensor| t.to_kind(Kind::Double).mean(Kind::Double).double_value(&[]);
    let m = synth.nrows() as f64;
    Ok(Prdc {
        precision: mean(in_real_ball.any_dim(0, false)),
        recall: mean(in_synth_ball.any_dim(1, false)),
        density: in_real_ball.to_kind(Kind::Double).sum(Kind::Double).double_value(&[]) / (k as f64 * m),
        coverage: {
            let nearest_synth = d_rs.min_dim(1, false).0;
            mean(nearest_synth.lt_tensor(&r_radius))
        },
    })
}

/// Classifier two-sample test: `folds`-fold cross-validated AUC of an L2-regularised
/// logistic regression (features standardised on each training fold) that separates
/// real (label 0) from synthetic (label 1). Near 0.5: the classifier cannot tell them
/// apart; near 1: the synthetic data is easy to spot.
pub fn c2st_auc(real: ArrayView2<f64>, synth: ArrayView2<f64>, folds: usize, seed: u64) -> Result<f64> {
    check_features("C2ST", &real, &synth, folds.max(2))?;
    let x = ndarray::concatenate(Axis(0), &[real.reborrow(), synth.reborrow()]).map_err(|e| Error::shape("C2ST", "same columns", e))?;
    let y: Vec<i64> = (0..real.nrows()).map(|_| 0).chain((0..synth.nrows()).map(|_| 1)).collect();
    let splits = crate::data::stratified_kfold(&y, 2, folds, seed)?;
    let mut scores = vec![0.0; y.len()];
    for (train, test) in splits {
        let w = fit_logistic(&x.select(Axis(0), &train), &train.iter().map(|&i| y[i]).collect::<Vec<_>>())?;
        for (&i, s) in test.iter().zip(w.score(&x.select(Axis(0), &test))?) {
            scores[i] = s;
        }
    }
    roc_auc(&y, &scores)
}

struct Logistic {
    mean: Tensor,
    std: Tensor,
    weight: Tensor,
    bias: Tensor,
}

impl Logistic {
    fn score(&self, x: &Array2<f64>) -> Result<Vec<f64>> {
        let t = (to_tensor(x) - &self.mean) / &self.std;
        Ok(Vec::<f64>::try_from(t.matmul(&self.weight) + &self.bias)?)
    }
}

/// Full-batch fit: 300 Adam steps on the mean log-loss + 1e-3‖w‖², from zero weights
/// (deterministic: the seed of [`c2st_auc`] only chooses the folds).
fn fit_logistic(x: &Array2<f64>, y: &[i64]) -> Result<Logistic> {
    let t = to_tensor(x);
    let mean = t.mean_dim(0, true, Kind::Double);
    let std = t.std_dim(0, false, true).clamp_min(1e-12);
    let z = (&t - &mean) / &std;
    let target = Tensor::from_slice(y).to_kind(Kind::Double);
    let weight = Tensor::zeros([x.ncols() as i64], (Kind::Double, Device::Cpu)).set_requires_grad(true);
    let bias = Tensor::zeros([], (Kind::Double, Device::Cpu)).set_requires_grad(true);
    let mut opt_state = [(weight.zeros_like(), weight.zeros_like()), (bias.zeros_like(), bias.zeros_like())];
    let (lr, b1, b2, eps) = (0.05, 0.9, 0.999, 1e-8);
    for step in 1..=300 {
        let logits = z.matmul(&weight) + &bias;
        let loss: Tensor = logits.binary_cross_entropy_with_logits::<Tensor>(&target, None, None, tch::Reduction::Mean)
            + 1e-3 * weight.square().sum(Kind::Double);
        for p in [&weight, &bias] {
            let mut g = p.grad();
            if g.defined() {
                let _ = g.zero_();
            }
        }
        loss.backward();
        tch::no_grad(|| {
            for (p, (m, v)) in [&weight, &bias].into_iter().zip(opt_state.iter_mut()) {
                let g = p.grad();
                *m = &*m * b1 + &g * (1.0 - b1);
                *v = &*v * b2 + g.square() * (1.0 - b2);
                let mhat = &*m / (1.0 - b1.powi(step));
                let vhat = &*v / (1.0 - b2.powi(step));
                let mut p = p.shallow_clone();
                let _ = p.f_sub_(&(mhat / (vhat.sqrt() + eps) * lr));
            }
        });
    }
    Ok(Logistic { mean, std, weight: weight.detach(), bias: bias.detach() })
}

/// FMI protocol (a), *label agreement*: a classifier trained on real data labels the
/// synthetic samples; this is the Fowlkes–Mallows index between the labels the
/// generator was asked for and the labels the classifier predicts, with the plain
/// agreement rate beside it. 1 means every sample is recognised as its class (up to a
/// renaming of classes, for the FMI); values near 1/classes mean the samples carry
/// no class information the classifier can read.
pub fn fmi_label_agreement(asked: &[i64], predicted: &[i64]) -> Result<(f64, f64)> {
    same_len("FMI label agreement", asked.len(), predicted.len())?;
    let fmi = fowlkes_mallows(asked, predicted)?;
    let agree = asked.iter().zip(predicted).filter(|(a, b)| a == b).count() as f64 / asked.len() as f64;
    Ok((fmi, agree))
}

/// Result of [`fmi_cluster_agreement`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClusterAgreement {
    /// FMI between the asked classes of the synthetic samples and their k-means clusters.
    pub synthetic: f64,
    /// The same for held-out real samples: the ceiling the synthetic figure is read against.
    pub real_holdout: f64,
}

/// FMI protocol (b), *cluster agreement*: k-means with one cluster per class
/// (linfa-clustering, seeded) is fitted on real training features; synthetic samples
/// and held-out real samples are assigned to clusters, and for each the FMI between
/// class labels and clusters is reported. Synthetic data whose classes fall into the
/// clusters the real classes form scores close to the held-out real figure.
pub fn fmi_cluster_agreement(
    real_train: ArrayView2<f64>,
    real_holdout: (ArrayView2<f64>, &[i64]),
    synthetic: (ArrayView2<f64>, &[i64]),
    num_classes: usize,
    seed: u64,
) -> Result<ClusterAgreement> {
    use linfa::traits::{Fit, Predict};
    check_features("FMI cluster agreement", &real_train, &synthetic.0, num_classes.max(1))?;
    check_features("FMI cluster agreement", &real_train, &real_holdout.0, 1)?;
    same_len("FMI cluster agreement: held-out rows vs labels", real_holdout.0.nrows(), real_holdout.1.len())?;
    same_len("FMI cluster agreement: synthetic rows vs labels", synthetic.0.nrows(), synthetic.1.len())?;
    let data = linfa::DatasetBase::from(real_train.to_owned());
    let model = linfa_clustering::KMeans::params_with_rng(num_classes, crate::rng(seed))
        .n_runs(4)
        .max_n_iterations(300)
        .tolerance(1e-6)
        .fit(&data)
        .map_err(|e| Error::invalid("k-means", num_classes, e.to_string()))?;
    let clusters = |x: ArrayView2<f64>| -> Vec<i64> { model.predict(&x.to_owned()).iter().map(|&c| c as i64).collect() };
    Ok(ClusterAgreement {
        synthetic: fowlkes_mallows(synthetic.1, &clusters(synthetic.0))?,
        real_holdout: fowlkes_mallows(real_holdout.1, &clusters(real_holdout.0))?,
    })
}

/// Train on synthetic, test on real (TSTR) beside train on real, test on real (TRTR),
/// with the same model and the same real test set. `fit_score(train_x, train_y,
/// test_x, test_y)` trains a fresh model and returns whatever scores the caller wants
/// (accuracy and AUC for classification, RMSE and MAE for regression). Returns
/// `(tstr, trtr)`.
pub fn train_synthetic_test_real<X, Y, S>(
    synthetic: (&X, &Y),
    real_train: (&X, &Y),
    real_test: (&X, &Y),
    mut fit_score: impl FnMut(&X, &Y, &X, &Y) -> Result<S>,
) -> Result<(S, S)> {
    let tstr = fit_score(synthetic.0, synthetic.1, real_test.0, real_test.1)?;
    let trtr = fit_score(real_train.0, real_train.1, real_test.0, real_test.1)?;
    Ok((tstr, trtr))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    fn gaussian(n: usize, d: usize, shift: f64, seed: u64) -> Array2<f64> {
        let mut rng = crate::rng(seed);
        Array2::from_shape_fn((n, d), |_| {
            // Box–Muller
            let (u, v): (f64, f64) = (rng.gen::<f64>().max(1e-300), rng.gen());
            (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos() + shift
        })
    }

    #[test]
    fn identical_sets_are_perfect() {
        let a = gaussian(60, 4, 0.0, 1);
        assert!(frechet_distance(a.view(), a.view()).unwrap() < 1e-9);
        let p = prdc(a.view(), a.view(), 5).unwrap();
        assert_eq!((p.precision, p.recall, p.coverage), (1.0, 1.0, 1.0));
    }

    #[test]
    fn shifted_sets_are_told_apart() {
        let a = gaussian(200, 3, 0.0, 1);
        let b = gaussian(200, 3, 0.0, 2);
        let far = gaussian(200, 3, 3.0, 3);
        let near_auc = c2st_auc(a.view(), b.view(), 5, 0).unwrap();
        let far_auc = c2st_auc(a.view(), far.view(), 5, 0).unwrap();
        assert!((near_auc - 0.5).abs() < 0.1, "{near_auc}");
        assert!(far_auc > 0.95, "{far_auc}");
        // FD of a pure mean shift of 3 in 3 dimensions ≈ 27
        let fd = frechet_distance(a.view(), far.view()).unwrap();
        assert!((fd - 27.0).abs() < 4.0, "{fd}");
        assert!(prdc(a.view(), far.view(), 5).unwrap().precision < 0.2);
    }

    #[test]
    fn bad_input() {
        let a = gaussian(10, 3, 0.0, 1);
        let b = gaussian(10, 2, 0.0, 1);
        assert!(matches!(frechet_distance(a.view(), b.view()), Err(Error::Shape { .. })));
        assert!(prdc(a.view(), a.view(), 10).is_err());
        let mut c = a.clone();
        c[[3, 1]] = f64::NAN;
        assert!(frechet_distance(a.view(), c.view()).unwrap_err().to_string().contains("row 3"));
    }
}
