//! A class-conditional DCGAN for small image sets, with DiffAugment.
//!
//! ```no_run
//! use smalldata::prelude::*;
//! use smalldata::generate::{Gan, GanConfig};
//! # fn main() -> smalldata::Result<()> {
//! let data = fashion_mnist(None)?.train.subsample_per_class(50, 0)?;
//! let mut cfg = GanConfig::with_steps(3000);
//! cfg.run.out = Some("report/gan".into());
//! let mut gan = Gan::new(cfg, data.image_shape(), data.num_classes(), smalldata::device()?)?;
//! gan.train(&data)?; // resumes from report/gan/checkpoint.safetensors after a kill
//! let synthetic = gan.sample_dataset(100, 1, &data.class_names)?;
//! # Ok(()) }
//! ```
//!
//! Everything random in a training step (the real batch, noise, labels, DiffAugment
//! draws, gradient-penalty mixing) comes from a generator seeded by `(seed, step)`, and
//! the checkpoint holds both networks, the EMA copy, the spectral-norm vectors, batch
//! norm statistics and both optimisers' moments: a run killed and resumed gives the
//! same weights as one that was not (on the CPU).

mod diffaugment;
mod experiment;
mod nets;

pub use diffaugment::diff_augment;
pub use experiment::{run_gan_experiment, sort_by_label, GanExperimentConfig, GanExperimentReport};
pub use nets::{check_shape, Discriminator, Generator};

use crate::train::checkpoint::{self, RunSettings};
use crate::train::optim::Adam;
use crate::augment::AugRng;
use crate::data::ImageDataset;
use crate::train::init::reset_parameters;
use crate::train::Progress;
use crate::{Error, Result};
use std::path::Path;
use std::time::Instant;
use tch::{nn, Device, Kind, Tensor};

/// The adversarial loss.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GanLoss {
    /// D: `softplus(−D(x)) + softplus(D(G(z)))`; G: `softplus(−D(G(z)))` (Goodfellow et al.'s non-saturating form).
    NonSaturating,
    /// D: `relu(1 − D(x)) + relu(1 + D(G(z)))`; G: `−D(G(z))`.
    Hinge,
    /// Wasserstein loss with gradient penalty `λ (‖∇D(x̂)‖ − 1)²` on random mixes of
    /// real and generated images (Gulrajani et al. 2017). Usually with `d_steps` 5.
    WganGp { lambda: f64 },
}

impl std::str::FromStr for GanLoss {
    type Err = Error;
    /// `ns` (non-saturating), `hinge`, `wgan-gp` (λ 10) or `wgan-gp=λ`.
    fn from_str(s: &str) -> Result<Self> {
        let (name, value, given) = crate::params::parse_setting(s, "GAN loss", 10.0)?;
        match (name.as_str(), given) {
            ("ns" | "non-saturating", false) => Ok(GanLoss::NonSaturating),
            ("hinge", false) => Ok(GanLoss::Hinge),
            ("wgan-gp", _) => Ok(GanLoss::WganGp { lambda: value }),
            _ => Err(Error::invalid("GAN loss", s, "ns, hinge, wgan-gp or wgan-gp=λ")),
        }
    }
}

/// What the networks are: their widths and layers. Weights written under one
/// architecture load only into the same one.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GanArchitecture {
    /// Noise dimension.
    pub z_dim: i64,
    /// Generator width (channels of its widest convolution is twice this).
    pub g_width: i64,
    /// Discriminator width.
    pub d_width: i64,
    /// Spectral normalisation of every discriminator layer.
    pub spectral_norm: bool,
}

impl Default for GanArchitecture {
    /// z 64, widths 32, spectral norm.
    fn default() -> Self {
        GanArchitecture { z_dim: 64, g_width: 32, d_width: 32, spectral_norm: true }
    }
}

/// How the networks learn: the loss, the optimiser and the randomness. A checkpoint
/// resumes only under the same training settings (and architecture).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GanTraining {
    pub loss: GanLoss,
    /// DiffAugment (color, translation, cutout) on everything the discriminator sees.
    pub diff_augment: bool,
    pub batch_size: usize,
    pub lr_g: f64,
    pub lr_d: f64,
    pub betas: (f64, f64),
    /// Discriminator updates per generator update.
    pub d_steps: usize,
    /// Decay of the exponential moving average of the generator's weights, used for
    /// sampling (`None`: sample from the trained weights). Warmed up as
    /// `min(decay, (1 + t)/(10 + t))` at step `t`.
    pub ema: Option<f64>,
    pub seed: u64,
}

impl Default for GanTraining {
    /// Hinge loss, DiffAugment, batch 64, Adam 2e-4 with β (0.5, 0.999), one D step per
    /// G step, EMA 0.999, seed 0.
    fn default() -> Self {
        GanTraining {
            loss: GanLoss::Hinge,
            diff_augment: true,
            batch_size: 64,
            lr_g: 2e-4,
            lr_d: 2e-4,
            betas: (0.5, 0.999),
            d_steps: 1,
            ema: Some(0.999),
            seed: 0,
        }
    }
}

/// How a [`Gan`] is built ([`GanArchitecture`]), trained ([`GanTraining`]) and run
/// ([`RunSettings`]: how long, where, how visibly — free to change between a run and
/// its resumption).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GanConfig {
    pub arch: GanArchitecture,
    pub training: GanTraining,
    pub run: RunSettings,
}

impl Default for GanConfig {
    /// The default architecture and training, 3,000 generator updates.
    fn default() -> Self {
        GanConfig::with_steps(3000)
    }
}

impl GanConfig {
    /// The default GAN trained for `steps` generator updates.
    pub fn with_steps(steps: usize) -> Self {
        GanConfig { arch: GanArchitecture::default(), training: GanTraining::default(), run: RunSettings { steps, ..RunSettings::default() } }
    }

    /// Check every setting; run before anything is built.
    pub fn check(&self) -> Result<()> {
        let (a, t) = (&self.arch, &self.training);
        if a.z_dim < 1 {
            return Err(Error::invalid("z_dim", a.z_dim, "must be at least 1"));
        }
        for (what, w) in [("g_width", a.g_width), ("d_width", a.d_width)] {
            if w < 4 || w % 2 != 0 {
                return Err(Error::invalid(what, w, "must be an even number ≥ 4"));
            }
        }
        if t.batch_size < 2 {
            return Err(Error::invalid("GAN batch size", t.batch_size, "must be at least 2 (batch norm)"));
        }
        if t.d_steps == 0 {
            return Err(Error::invalid("d_steps", 0, "must be at least 1"));
        }
        for (what, lr) in [("lr_g", t.lr_g), ("lr_d", t.lr_d)] {
            if !(lr > 0.0 && lr.is_finite()) {
                return Err(Error::invalid(what, lr, "must be a positive number"));
            }
        }
        if let Some(d) = t.ema {
            if !(0.0..1.0).contains(&d) {
                return Err(Error::invalid("EMA decay", d, "must lie in [0, 1)"));
            }
        }
        if let GanLoss::WganGp { lambda } = t.loss {
            if !(lambda >= 0.0 && lambda.is_finite()) {
                return Err(Error::invalid("gradient penalty λ", lambda, "must be ≥ 0"));
            }
        }
        self.run.check("GAN")
    }
}

/// Losses along training.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GanHistory {
    /// `(step, discriminator loss, generator loss)`, means over each logging window.
    pub losses: Vec<(usize, f64, f64)>,
    /// Seconds spent training, summed over resumes.
    pub seconds: f64,
    /// The step training started from (0, or where a checkpoint left off).
    pub resumed_from: usize,
    /// The logging window still open at the last checkpoint: summed D and G losses
    /// and its steps so far, so that a resumed run logs the means an uninterrupted
    /// one logs.
    #[serde(default)]
    pub open_window: (f64, f64, usize),
}

/// The checkpoint's companion file: the settings it was written under and the history.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct CheckpointMeta {
    arch: GanArchitecture,
    training: GanTraining,
    shape: [usize; 3],
    classes: usize,
    step: usize,
    history: GanHistory,
}

/// A conditional GAN: generator, discriminator, their optimisers and the EMA generator.
pub struct Gan {
    /// What it is (`arch`), how it learns (`training`) and how long and where (`run`).
    pub cfg: GanConfig,
    pub shape: [usize; 3],
    pub classes: usize,
    /// The model: the networks and their weights.
    pub nets: GanNets,
    /// The optimisation state.
    opt: GanOptimisers,
    /// The run: generator updates done, and the losses and time so far.
    pub step: usize,
    pub history: GanHistory,
}

/// The model part of a [`Gan`]: generator, discriminator and the generator's moving
/// average, each with the store that holds its weights.
pub struct GanNets {
    g_vs: nn::VarStore,
    d_vs: nn::VarStore,
    ema_vs: nn::VarStore,
    pub generator: Generator,
    pub discriminator: Discriminator,
    ema: Generator,
}

impl std::fmt::Debug for GanNets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = |vs: &nn::VarStore| vs.trainable_variables().iter().map(|t| t.numel()).sum::<usize>();
        write!(f, "GanNets(generator {} weights, discriminator {})", count(&self.g_vs), count(&self.d_vs))
    }
}

impl GanNets {
    /// The stores by the names a checkpoint gives them.
    fn stores(&self) -> [(&'static str, &nn::VarStore); 3] {
        [("g", &self.g_vs), ("d", &self.d_vs), ("ema", &self.ema_vs)]
    }
}

/// The optimisation part of a [`Gan`]: one Adam per trained network, moments
/// included (saved in checkpoints, so a resumed run continues exactly).
struct GanOptimisers {
    g: Adam,
    d: Adam,
}

impl std::fmt::Debug for Gan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Gan({:?}, step {}, {} classes of {:?})", self.cfg.training.loss, self.step, self.classes, self.shape)
    }
}


impl Gan {
    /// A freshly initialised GAN for images `[C, H, W]` of `classes` classes.
    pub fn new(cfg: GanConfig, shape: [usize; 3], classes: usize, device: Device) -> Result<Gan> {
        cfg.check()?;
        nets::check_shape(shape, classes)?;
        let g_vs = nn::VarStore::new(device);
        let d_vs = nn::VarStore::new(device);
        let mut ema_vs = nn::VarStore::new(device);
        let generator = Generator::new(&g_vs.root(), shape, classes, cfg.arch.z_dim, cfg.arch.g_width);
        let discriminator = Discriminator::new(&d_vs.root(), shape, classes, cfg.arch.d_width, cfg.arch.spectral_norm, crate::derive_seed(cfg.training.seed, "gan-sn"));
        let ema = Generator::new(&ema_vs.root(), shape, classes, cfg.arch.z_dim, cfg.arch.g_width);
        reset_parameters(&g_vs, crate::derive_seed(cfg.training.seed, "gan-g"))?;
        reset_parameters(&d_vs, crate::derive_seed(cfg.training.seed, "gan-d"))?;
        ema_vs.freeze();
        checkpoint::ema_update(&g_vs, &ema_vs, None);
        let opt_g = Adam::new(&g_vs, cfg.training.lr_g, cfg.training.betas)?;
        let opt_d = Adam::new(&d_vs, cfg.training.lr_d, cfg.training.betas)?;
        let nets = GanNets { g_vs, d_vs, ema_vs, generator, discriminator, ema };
        Ok(Gan { cfg, shape, classes, nets, opt: GanOptimisers { g: opt_g, d: opt_d }, step: 0, history: GanHistory::default() })
    }

    /// Number of trainable weights of the generator and the discriminator.
    pub fn num_parameters(&self) -> (usize, usize) {
        let count = |vs: &nn::VarStore| vs.trainable_variables().iter().map(|t| t.numel()).sum();
        (count(&self.nets.g_vs), count(&self.nets.d_vs))
    }

    pub fn device(&self) -> Device {
        self.nets.g_vs.device()
    }

    /// The discriminator's loss on a batch of real images and labels and a batch of
    /// generated images (`[-1, 1]`) with theirs; DiffAugment draws from `rng`.
    pub fn d_loss(&self, real: &Tensor, real_labels: &Tensor, fake: &Tensor, fake_labels: &Tensor, rng: &mut AugRng) -> Tensor {
        let aug = |x: &Tensor, rng: &mut AugRng| if self.cfg.training.diff_augment { diff_augment(x, rng) } else { x.shallow_clone() };
        let (real_in, fake_in) = (aug(real, rng), aug(fake, rng));
        let d_real = self.nets.discriminator.forward(&real_in, real_labels, true);
        let d_fake = self.nets.discriminator.forward(&fake_in, fake_labels, true);
        match self.cfg.training.loss {
            GanLoss::NonSaturating => (-&d_real).softplus().mean(Kind::Float) + d_fake.softplus().mean(Kind::Float),
            GanLoss::Hinge => (-&d_real + 1.0).relu().mean(Kind::Float) + (&d_fake + 1.0).relu().mean(Kind::Float),
            GanLoss::WganGp { lambda } => {
                let n = real.size()[0];
                let eps = rng.uniform_tensor(&[n, 1, 1, 1], real.device());
                let mixed = (&eps * real_in.detach() + (-&eps + 1.0) * fake_in.detach()).set_requires_grad(true);
                // the penalty's labels: the real ones (the mix leans to whichever side eps picks)
                let d_mixed = self.nets.discriminator.forward(&mixed, real_labels, true);
                let grad = Tensor::run_backward(&[d_mixed.sum(Kind::Float)], &[&mixed], true, true).remove(0);
                let norm = (grad.square().sum_dim_intlist([1i64, 2, 3].as_slice(), false, Kind::Float) + 1e-12).sqrt();
                d_fake.mean(Kind::Float) - d_real.mean(Kind::Float) + (norm - 1.0).square().mean(Kind::Float) * lambda
            }
        }
    }

    /// One discriminator update on the given batches (images in `[-1, 1]`); returns
    /// the loss before the update.
    pub fn discriminator_step(&mut self, real: &Tensor, real_labels: &Tensor, fake: &Tensor, fake_labels: &Tensor, rng: &mut AugRng) -> f64 {
        self.opt.d.zero_grad();
        let loss = self.d_loss(real, real_labels, fake, fake_labels, rng);
        loss.backward();
        self.opt.d.step();
        loss.double_value(&[])
    }

    /// The generator's loss on generated images (`[-1, 1]`) and their labels.
    pub fn g_loss(&self, fake: &Tensor, labels: &Tensor, rng: &mut AugRng) -> Tensor {
        let input = if self.cfg.training.diff_augment { diff_augment(fake, rng) } else { fake.shallow_clone() };
        let d = self.nets.discriminator.forward(&input, labels, true);
        match self.cfg.training.loss {
            GanLoss::NonSaturating => (-d).softplus().mean(Kind::Float),
            GanLoss::Hinge | GanLoss::WganGp { .. } => -d.mean(Kind::Float),
        }
    }

    /// Noise `[n, z_dim]` from `rng`.
    fn noise(&self, n: i64, rng: &mut AugRng) -> Tensor {
        rng.normal_like(&Tensor::zeros([n, self.cfg.arch.z_dim], (Kind::Float, Device::Cpu))).to_device(self.device())
    }

    /// One generator update (after `d_steps` discriminator updates) on `data` (images
    /// in `[0, 1]`), with the randomness of step `self.step`. Returns the mean
    /// discriminator loss and the generator loss.
    pub fn train_step(&mut self, data: &ImageDataset) -> Result<(f64, f64)> {
        let device = self.device();
        let mut rng = AugRng::new(crate::derive_seed(self.cfg.training.seed, &format!("gan-step-{}", self.step)));
        let b = self.cfg.training.batch_size.min(data.len().max(2)) as i64;
        let mut d_total = 0.0;
        for _ in 0..self.cfg.training.d_steps {
            let idx: Vec<i64> = rng.below(b as usize, data.len()).into_iter().map(|i| i as i64).collect();
            let idx = Tensor::from_slice(&idx);
            let real = (data.batch_images(&idx).to_device(device) * 2.0 - 1.0).detach();
            let labels = data.labels.index_select(0, &idx).to_device(device);
            let z = self.noise(b, &mut rng);
            let fake = tch::no_grad(|| self.nets.generator.forward(&z, &labels, true));
            d_total += self.discriminator_step(&real, &labels, &fake, &labels, &mut rng);
        }
        let labels: Vec<i64> = rng.below(b as usize, self.classes).into_iter().map(|i| i as i64).collect();
        let labels = Tensor::from_slice(&labels).to_device(device);
        let z = self.noise(b, &mut rng);
        self.opt.g.zero_grad();
        let fake = self.nets.generator.forward(&z, &labels, true);
        let g = self.g_loss(&fake, &labels, &mut rng);
        g.backward();
        self.opt.g.step();
        // the discriminator's gradients from the generator's update are not used
        self.opt.d.zero_grad();
        checkpoint::ema_update(&self.nets.g_vs, &self.nets.ema_vs, self.cfg.training.ema.map(|d| checkpoint::ema_decay(d, self.step)));
        self.step += 1;
        let d = d_total / self.cfg.training.d_steps as f64;
        let g = g.double_value(&[]);
        if !d.is_finite() || !g.is_finite() {
            return Err(Error::invalid("GAN loss", format!("D {d}, G {g} at step {}", self.step), "diverged; lower the learning rates"));
        }
        Ok((d, g))
    }

    /// Train until `cfg.run.steps` generator updates, resuming from the checkpoint in
    /// `cfg.run.out` when there is one written under the same settings (an error when the
    /// settings differ). Writes checkpoints and sample grids as it goes.
    pub fn train(&mut self, data: &ImageDataset) -> Result<GanHistory> {
        let [c, h, w] = data.image_shape();
        if [c, h, w] != self.shape || data.num_classes() != self.classes {
            return Err(Error::shape("GAN training data", format!("{} classes of {:?}", self.classes, self.shape), format!("{} classes of {:?}", data.num_classes(), [c, h, w])));
        }
        if data.is_empty() {
            return Err(Error::invalid("GAN training images", 0, "need at least one image"));
        }
        // one training per checkpoint folder at a time: a second is refused, naming the first
        let _lock = match self.cfg.run.out.as_deref() {
            Some(out) => Some(crate::io::OutputLock::acquire(out)?),
            None => None,
        };
        if let Some(out) = checkpoint::to_resume(self.cfg.run.out.as_deref(), self.step)? {
            self.load(&out)?;
            if self.cfg.run.progress {
                eprintln!("GAN: resuming at step {} of {} from the checkpoint in {}", self.step, self.cfg.run.steps, out.display());
            }
            self.trace_state("loaded")?;
        }
        self.history.resumed_from = self.step;
        let started = Instant::now();
        let seconds_before = self.history.seconds;
        let progress = Progress::new(self.cfg.run.steps as u64, self.cfg.run.progress, "GAN");
        progress.set_position(self.step as u64);
        let window = (self.cfg.run.steps / 100).clamp(1, 50);
        while self.step < self.cfg.run.steps {
            let (d, g) = self.train_step(data)?;
            let (d_sum, g_sum, k) = self.history.open_window;
            let (d_sum, g_sum, k) = (d_sum + d, g_sum + g, k + 1);
            self.history.open_window = (d_sum, g_sum, k);
            progress.step(g);
            if self.step % window == 0 || self.step == self.cfg.run.steps {
                self.history.losses.push((self.step, d_sum / k as f64, g_sum / k as f64));
                self.history.open_window = (0.0, 0.0, 0);
            }
            self.history.seconds = seconds_before + started.elapsed().as_secs_f64();
            let last = self.step == self.cfg.run.steps;
            let checkpoint_due = self.step % self.cfg.run.checkpoint_every == 0 || last;
            let grid_due = self.cfg.run.sample_every > 0 && self.step % self.cfg.run.sample_every == 0 || last;
            if checkpoint_due || grid_due {
                self.standing_stats();
            }
            if let Some(out) = self.cfg.run.out.clone() {
                if checkpoint_due {
                    self.save(&out)?;
                    self.trace_state("saved")?;
                }
                if grid_due {
                    self.sample_grid(8, 0)?.save(out.join(format!("samples_{:06}.png", self.step)))?;
                }
            }
        }
        progress.finish();
        Ok(self.history.clone())
    }

    /// Recompute the batch-norm statistics of the EMA generator from its own outputs
    /// ("standing statistics"): averaged weights do not match the statistics the
    /// trained generator collected, and eval-mode samples from such a mix are washed
    /// out. 32 batches of 64 seeded draws in train mode after a reset; a function of the
    /// EMA weights only, so resumed and uninterrupted runs agree.
    pub fn standing_stats(&mut self) {
        if self.cfg.training.ema.is_none() {
            return;
        }
        tch::no_grad(|| {
            for (name, v) in self.nets.ema_vs.variables() {
                let mut v = v.shallow_clone();
                if name.ends_with("running_mean") {
                    let _ = v.zero_();
                } else if name.ends_with("running_var") {
                    let _ = v.fill_(1.0);
                }
            }
        });
        let mut rng = AugRng::new(crate::derive_seed(self.cfg.training.seed, "gan-standing-stats"));
        for _ in 0..32 {
            let labels: Vec<i64> = rng.below(64, self.classes).into_iter().map(|c| c as i64).collect();
            let y = Tensor::from_slice(&labels).to_device(self.device());
            let z = self.noise(64, &mut rng);
            let _ = tch::no_grad(|| self.nets.ema.forward(&z, &y, true));
        }
    }

    /// `n_per_class` generated images of every class, in `[0, 1]`, class by class,
    /// with their labels; from the EMA generator when enabled, in eval mode.
    pub fn sample(&self, n_per_class: usize, seed: u64) -> Result<(Tensor, Tensor)> {
        self.sample_classes(&(0..self.classes as i64).collect::<Vec<_>>(), n_per_class, seed)
    }

    /// `n_per_class` images of each of `classes`.
    pub fn sample_classes(&self, classes: &[i64], n_per_class: usize, seed: u64) -> Result<(Tensor, Tensor)> {
        if let Some(&bad) = classes.iter().find(|&&c| c < 0 || c >= self.classes as i64) {
            return Err(Error::invalid("class", bad, format!("the GAN knows classes 0..{}", self.classes)));
        }
        let labels: Vec<i64> = classes.iter().flat_map(|&c| std::iter::repeat(c).take(n_per_class)).collect();
        let mut rng = AugRng::new(crate::derive_seed(seed, "gan-sample"));
        let g = if self.cfg.training.ema.is_some() { &self.nets.ema } else { &self.nets.generator };
        let mut out = Vec::new();
        for chunk in labels.chunks(256) {
            let y = Tensor::from_slice(chunk).to_device(self.device());
            let z = self.noise(chunk.len() as i64, &mut rng);
            out.push(tch::no_grad(|| (g.forward(&z, &y, false) + 1.0) / 2.0).clamp(0.0, 1.0).to_device(Device::Cpu));
        }
        let images = if out.is_empty() { Tensor::zeros([0, self.shape[0] as i64, self.shape[1] as i64, self.shape[2] as i64], (Kind::Float, Device::Cpu)) } else { Tensor::cat(&out, 0) };
        Ok((images, Tensor::from_slice(&labels)))
    }

    /// [`Gan::sample`] as a dataset with the given class names.
    pub fn sample_dataset(&self, n_per_class: usize, seed: u64, class_names: &[String]) -> Result<ImageDataset> {
        let (images, labels) = self.sample(n_per_class, seed)?;
        ImageDataset::new(images, labels, class_names.to_vec())
    }

    /// A grid with one row per class and `k` samples each.
    pub fn sample_grid(&self, k: usize, seed: u64) -> Result<crate::plot::ImageGrid> {
        let (images, _) = self.sample(k, seed)?;
        crate::plot::image_grid(&images, k, 2)
    }

    /// With `SMALLDATA_TRACE_STATE` set, print a digest of the whole training state
    /// (`GAN state saved at step N: …` on stderr), for comparing a resumed chain with
    /// an uninterrupted run checkpoint by checkpoint.
    fn trace_state(&self, what: &str) -> Result<()> {
        if std::env::var_os(checkpoint::TRACE_STATE_ENV).is_some() {
            eprintln!("GAN state {what} at step {}: {:016x}", self.step, self.state_digest()?);
        }
        Ok(())
    }

    /// A digest of the whole training state: every weight, buffer and Adam moment of
    /// both networks and the EMA generator (FNV-1a over their bits, in name order).
    /// Equal digests mean bit-identical states.
    pub fn state_digest(&self) -> Result<u64> {
        checkpoint::state_digest(&self.nets.stores(), &self.optimisers())
    }

    /// Both optimisers under their checkpoint prefixes.
    fn optimisers(&self) -> [(&'static str, &Adam); 2] {
        [("opt_g", &self.opt.g), ("opt_d", &self.opt.d)]
    }

    /// Write the checkpoint (`checkpoint.safetensors` and `checkpoint.json`) into `dir`.
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        let meta = CheckpointMeta {
            arch: self.cfg.arch.clone(),
            training: self.cfg.training.clone(),
            shape: self.shape,
            classes: self.classes,
            step: self.step,
            history: self.history.clone(),
        };
        checkpoint::save(dir.as_ref(), &self.nets.stores(), &self.optimisers(), &meta)
    }

    /// Restore a checkpoint written by [`Gan::save`] under the same settings.
    pub fn load(&mut self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        let meta: CheckpointMeta = checkpoint::read_meta(dir)?;
        let mut differences = checkpoint::differences("architecture", &meta.arch, &self.cfg.arch)?;
        differences.extend(checkpoint::differences("training", &meta.training, &self.cfg.training)?);
        if meta.shape != self.shape || meta.classes != self.classes {
            differences.push(format!("data: {} classes of {:?} there, {} classes of {:?} here", meta.classes, meta.shape, self.classes, self.shape));
        }
        if !differences.is_empty() {
            return Err(Error::Format {
                path: dir.join(checkpoint::META),
                reason: format!("was written by a GAN with other settings ({}). Use another output folder or delete it", differences.join("; ")),
            });
        }
        checkpoint::load(dir, &self.nets.stores(), &mut [("opt_g", &mut self.opt.g), ("opt_d", &mut self.opt.d)])?;
        self.step = meta.step;
        self.history = meta.history;
        Ok(())
    }
}
