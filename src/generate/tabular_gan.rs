//! A conditional WGAN-GP for small regression tables.
//!
//! Every column — the features and the target — is standardised (mean 0, sd 1 on the
//! training rows). The target is also cut into `bins` quantile bins, and both networks
//! see the bin as a one-hot condition, so that sampling can ask for every part of the
//! target's range in the proportions of the training rows (a regression target has no
//! classes to condition on; its bins play that part). Generator and critic are MLPs
//! with leaky ReLU; the critic is trained `d_steps` times per generator step with the
//! Wasserstein loss and the gradient penalty `λ (‖∇D(x̂)‖ − 1)²` (Gulrajani et al.
//! 2017). Seeded throughout; the same seed gives the same rows.

use crate::train::optim::Adam;
use crate::augment::tabular::TabularAugment;
use crate::augment::AugRng;
use crate::train::init::reset_parameters;
use crate::{Error, Result};
use ndarray::{Array1, Array2, Axis};
use tch::{nn, nn::Module, Device, Kind, Tensor};

/// Settings of [`TabularGan`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TabularGanConfig {
    /// Quantile bins of the target used as the condition.
    pub bins: usize,
    pub z_dim: i64,
    /// Width of both hidden layers of both networks.
    pub hidden: i64,
    /// Generator updates.
    pub steps: usize,
    pub batch_size: usize,
    pub lr: f64,
    /// Critic updates per generator update.
    pub d_steps: usize,
    /// Gradient-penalty weight.
    pub lambda: f64,
}

impl Default for TabularGanConfig {
    /// 5 bins, z 16, 128 hidden units, 1,000 steps of batch 64, Adam 1e-3 with β
    /// (0.5, 0.9), 5 critic steps, λ 10.
    fn default() -> Self {
        TabularGanConfig { bins: 5, z_dim: 16, hidden: 128, steps: 1000, batch_size: 64, lr: 1e-3, d_steps: 5, lambda: 10.0 }
    }
}

impl TabularGanConfig {
    pub fn check(&self) -> Result<()> {
        if self.bins == 0 {
            return Err(Error::invalid("target bins", 0, "must be at least 1"));
        }
        if self.z_dim < 1 || self.hidden < 1 {
            return Err(Error::invalid("tabular GAN sizes", format!("z {}, hidden {}", self.z_dim, self.hidden), "must be at least 1"));
        }
        if self.steps == 0 || self.d_steps == 0 || self.batch_size == 0 {
            return Err(Error::invalid(
                "tabular GAN steps",
                format!("steps {}, d_steps {}, batch {}", self.steps, self.d_steps, self.batch_size),
                "must all be at least 1",
            ));
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(Error::invalid("tabular GAN learning rate", self.lr, "must be a positive number"));
        }
        if !(self.lambda >= 0.0 && self.lambda.is_finite()) {
            return Err(Error::invalid("gradient penalty λ", self.lambda, "must be ≥ 0"));
        }
        Ok(())
    }
}

fn mlp(p: nn::Path, input: i64, hidden: i64, output: i64) -> nn::Sequential {
    nn::seq()
        .add(nn::linear(&p / "l0", input, hidden, Default::default()))
        .add_fn(|x| x.maximum(&(x * 0.2)))
        .add(nn::linear(&p / "l1", hidden, hidden, Default::default()))
        .add_fn(|x| x.maximum(&(x * 0.2)))
        .add(nn::linear(&p / "l2", hidden, output, Default::default()))
}

/// A fitted tabular GAN (the generator and what it needs to sample).
#[derive(Debug)]
pub struct TabularGan {
    pub cfg: TabularGanConfig,
    /// Column means and standard deviations (features, then the target).
    mean: Array1<f64>,
    std: Array1<f64>,
    /// Share of training rows in each target bin.
    pub bin_shares: Vec<f64>,
    _vs: nn::VarStore,
    generator: nn::Sequential,
    /// `(step, critic loss, generator loss)` every 50 steps.
    pub losses: Vec<(usize, f64, f64)>,
}

/// Each row's quantile bin of `y` (ties go to the lower bin; empty bins are possible
/// with many ties and are simply never drawn).
fn target_bins(y: &Array1<f64>, bins: usize) -> Vec<usize> {
    let mut sorted = y.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let edges: Vec<f64> = (1..bins).map(|b| sorted[(b * n / bins).min(n - 1)]).collect();
    y.iter().map(|&v| edges.iter().filter(|&&e| v >= e).count()).collect()
}

fn one_hot(bins: &[usize], k: usize) -> Tensor {
    let mut v = vec![0f32; bins.len() * k];
    for (i, &b) in bins.iter().enumerate() {
        v[i * k + b] = 1.0;
    }
    Tensor::from_slice(&v).view([bins.len() as i64, k as i64])
}

impl TabularGan {
    /// Fit on features `x: [n, d]` and target `y: [n]` (at least 2 rows, no constant column).
    pub fn fit(x: &Array2<f64>, y: &Array1<f64>, cfg: &TabularGanConfig, seed: u64) -> Result<TabularGan> {
        cfg.check()?;
        let (n, d) = x.dim();
        if n != y.len() {
            return Err(Error::shape("tabular GAN rows", format!("{n} targets"), format!("{}", y.len())));
        }
        if n < 2 {
            return Err(Error::invalid("tabular GAN training rows", n, "need at least 2"));
        }
        let mut table = Array2::zeros((n, d + 1));
        table.slice_mut(ndarray::s![.., ..d]).assign(x);
        table.column_mut(d).assign(y);
        if let Some((r, c)) = table.indexed_iter().find(|(_, v)| !v.is_finite()).map(|(i, _)| i) {
            return Err(Error::invalid("tabular GAN input", format!("row {r}, column {c}"), "is not a finite number"));
        }
        let mean = table.mean_axis(Axis(0)).ok_or_else(|| Error::invalid("tabular GAN rows", 0, "needs training rows"))?;
        let std = table.std_axis(Axis(0), 0.0);
        if let Some(c) = std.iter().position(|&s| s == 0.0) {
            return Err(Error::invalid("tabular GAN column", c, "is constant in the training rows"));
        }
        let scaled = (&table - &mean) / &std;
        let k = cfg.bins.min(n);
        let bins = target_bins(y, k);
        let bin_shares: Vec<f64> = (0..k).map(|b| bins.iter().filter(|&&v| v == b).count() as f64 / n as f64).collect();

        let width = (d + 1) as i64;
        let g_vs = nn::VarStore::new(Device::Cpu);
        let d_vs = nn::VarStore::new(Device::Cpu);
        let generator = mlp(g_vs.root() / "g", cfg.z_dim + k as i64, cfg.hidden, width);
        let critic = mlp(d_vs.root() / "d", width + k as i64, cfg.hidden, 1);
        reset_parameters(&g_vs, crate::derive_seed(seed, "tabgan-g"))?;
        reset_parameters(&d_vs, crate::derive_seed(seed, "tabgan-d"))?;
        let mut opt_g = Adam::new(&g_vs, cfg.lr, (0.5, 0.9))?;
        let mut opt_d = Adam::new(&d_vs, cfg.lr, (0.5, 0.9))?;

        let real_all = Tensor::from_slice(&scaled.iter().map(|&v| v as f32).collect::<Vec<_>>()).view([n as i64, width]);
        let cond_all = one_hot(&bins, k);
        let b = cfg.batch_size.min(n);
        let mut losses = Vec::new();
        for step in 0..cfg.steps {
            let mut rng = AugRng::new(crate::derive_seed(seed, &format!("tabgan-step-{step}")));
            let mut d_loss = 0.0;
            for _ in 0..cfg.d_steps {
                let idx = Tensor::from_slice(&rng.below(b, n).into_iter().map(|i| i as i64).collect::<Vec<_>>());
                let (real, cond) = (real_all.index_select(0, &idx), cond_all.index_select(0, &idx));
                let z = rng.normal_like(&Tensor::zeros([b as i64, cfg.z_dim], (Kind::Float, Device::Cpu)));
                let fake = tch::no_grad(|| generator.forward(&Tensor::cat(&[z, cond.shallow_clone()], 1)));
                let eps = rng.uniform_tensor(&[b as i64, 1], Device::Cpu);
                let mixed = (&eps * &real + (-&eps + 1.0) * &fake).set_requires_grad(true);
                let score = |rows: &Tensor| critic.forward(&Tensor::cat(&[rows.shallow_clone(), cond.shallow_clone()], 1));
                let d_mixed = score(&mixed);
                let grad = Tensor::run_backward(&[d_mixed.sum(Kind::Float)], &[&mixed], true, true).remove(0);
                let penalty = ((grad.square().sum_dim_intlist([1i64].as_slice(), false, Kind::Float) + 1e-12).sqrt() - 1.0).square().mean(Kind::Float);
                let loss = score(&fake).mean(Kind::Float) - score(&real).mean(Kind::Float) + penalty * cfg.lambda;
                opt_d.zero_grad();
                loss.backward();
                opt_d.step();
                d_loss += loss.double_value(&[]) / cfg.d_steps as f64;
            }
            let idx = Tensor::from_slice(&rng.below(b, n).into_iter().map(|i| i as i64).collect::<Vec<_>>());
            let cond = cond_all.index_select(0, &idx);
            let z = rng.normal_like(&Tensor::zeros([b as i64, cfg.z_dim], (Kind::Float, Device::Cpu)));
            let fake = generator.forward(&Tensor::cat(&[z, cond.shallow_clone()], 1));
            let g_loss = -critic.forward(&Tensor::cat(&[fake, cond], 1)).mean(Kind::Float);
            opt_g.zero_grad();
            g_loss.backward();
            opt_g.step();
            opt_d.zero_grad();
            let g = g_loss.double_value(&[]);
            if !g.is_finite() || !d_loss.is_finite() {
                return Err(Error::invalid("tabular GAN loss", format!("critic {d_loss}, generator {g} at step {step}"), "diverged; lower the learning rate"));
            }
            if step % 50 == 0 || step + 1 == cfg.steps {
                losses.push((step + 1, d_loss, g));
            }
        }
        Ok(TabularGan { cfg: cfg.clone(), mean, std, bin_shares, _vs: g_vs, generator, losses })
    }

    /// `n` synthetic rows: features `[n, d]` and targets `[n]`, target bins drawn in
    /// the training rows' proportions.
    pub fn sample(&self, n: usize, seed: u64) -> Result<(Array2<f64>, Array1<f64>)> {
        let width = self.mean.len();
        if n == 0 {
            return Ok((Array2::zeros((0, width - 1)), Array1::zeros(0)));
        }
        let mut rng = AugRng::new(crate::derive_seed(seed, "tabgan-sample"));
        let u = rng.uniform(n, 0.0, 1.0);
        let bins: Vec<usize> = u
            .iter()
            .map(|&u| {
                let mut acc = 0.0;
                self.bin_shares.iter().position(|&s| {
                    acc += s;
                    u < acc
                })
                .unwrap_or(self.bin_shares.len() - 1)
            })
            .collect();
        let z = rng.normal_like(&Tensor::zeros([n as i64, self.cfg.z_dim], (Kind::Float, Device::Cpu)));
        let rows = tch::no_grad(|| self.generator.forward(&Tensor::cat(&[z, one_hot(&bins, self.bin_shares.len())], 1)));
        let table = crate::data::tensor_to_array2(&rows)? * &self.std + &self.mean; // [n, width]
        let d = width - 1;
        Ok((table.slice(ndarray::s![.., ..d]).to_owned(), table.column(d).to_owned()))
    }
}

/// The tabular GAN as a [`TabularAugment`]: fitted on the rows it is given, then
/// sampled. The tabular study's `gan` method.
#[derive(Debug, Clone, Default)]
pub struct GanSynth(pub TabularGanConfig);

impl TabularAugment for GanSynth {
    fn name(&self) -> &str {
        "gan"
    }
    fn augment(&self, x: &Array2<f64>, y: &Array1<f64>, n_new: usize, seed: u64) -> Result<(Array2<f64>, Array1<f64>)> {
        if n_new == 0 {
            return Ok((Array2::zeros((0, x.ncols())), Array1::zeros(0)));
        }
        let gan = TabularGan::fit(x, y, &self.0, seed)?;
        gan.sample(n_new, crate::derive_seed(seed, "tabgan-rows"))
    }
}
