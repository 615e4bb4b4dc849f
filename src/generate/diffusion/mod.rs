//! A conditional denoising diffusion model (DDPM) whose conditions are **tokens**, and
//! textual inversion on top of it.
//!
//! * [`NoiseSchedule`] and the samplers ([`Sampler::Ddpm`], [`Sampler::Ddim`]) are
//!   independent of the network;
//! * [`UNet`] predicts the noise from `(x_t, t, condition)`, where a condition is a
//!   short sequence of token vectors;
//! * [`DiffusionModel`] holds the UNet, the token table (row 0 is the null token used
//!   for classifier-free guidance) and their EMA copies; it trains with condition
//!   dropout, checkpoints and resumes exactly, and samples with guidance;
//! * [`textual_inversion`] learns a new token for a few images of a new concept while
//!   every pretrained weight stays frozen.
//!
//! Tokens can be finer than classes: with `tokens_per_class = k > 1`, each class's
//! training images are split into `k` k-means clusters (on pixels) and each cluster gets
//! its own token (`sneaker/0` … `sneaker/k−1`), so the model learns a denser set of
//! points in token space for a new concept to be placed among. Asking for a class
//! then means asking for its cluster tokens in turn.

mod experiment;
mod schedule;
mod textual_inversion;
mod unet;

pub use experiment::{
    mean_diffusion_loss, pretrain_diffusion, pretrain_diffusion_on, pretrained_diffusion_path, run_inversion_experiment, without_class, ConditioningLosses, InversionExperimentConfig,
    InversionReport, HELD_OUT_CLASS,
    PRETRAINED_DIFFUSION,
};
pub use schedule::{sample_loop, NoiseSchedule, Sampler, ScheduleKind};
pub use textual_inversion::{textual_inversion, textual_inversion_resumable, InversionCheckpoints, InversionConfig, InversionHistory, LearnedToken};
pub use crate::train::RunSettings;
pub use unet::{timestep_features, UNet};

use crate::train::checkpoint;
use crate::train::optim::Adam;
use crate::augment::AugRng;
use crate::data::ImageDataset;
use crate::error::IoContext;
use crate::train::init::reset_parameters;
use crate::train::Progress;
use crate::{Error, Result};
use std::path::Path;
use std::time::Instant;
use tch::{nn, Device, Kind, Tensor};

/// What the network and its conditioning are. Weights written under one
/// architecture load only into the same one.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DiffusionArchitecture {
    pub schedule: ScheduleKind,
    /// T, the number of noise levels.
    pub timesteps: usize,
    /// Base width of the UNet.
    pub width: i64,
    /// Size of a token vector.
    pub token_dim: i64,
    /// Tokens per class (k-means clusters within each class when > 1).
    pub tokens_per_class: usize,
}

impl Default for DiffusionArchitecture {
    /// Cosine schedule over 1,000 levels, width 32, tokens of 64, 4 tokens per class.
    fn default() -> Self {
        DiffusionArchitecture { schedule: ScheduleKind::Cosine { s: 0.008 }, timesteps: 1000, width: 32, token_dim: 64, tokens_per_class: 4 }
    }
}

/// How the model learns. A checkpoint resumes only under the same training settings
/// (and architecture).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DiffusionTraining {
    /// Probability of replacing the condition by the null token in training.
    pub p_uncond: f64,
    pub batch_size: usize,
    pub lr: f64,
    /// EMA decay of the weights used for sampling (warmed up as `min(d, (1+t)/(10+t))`).
    pub ema: f64,
    pub seed: u64,
}

impl Default for DiffusionTraining {
    /// 10% condition dropout, batch 64, Adam 1e-3, EMA 0.999, seed 0.
    fn default() -> Self {
        DiffusionTraining { p_uncond: 0.1, batch_size: 64, lr: 1e-3, ema: 0.999, seed: 0 }
    }
}

/// How a [`DiffusionModel`] is built ([`DiffusionArchitecture`]), trained
/// ([`DiffusionTraining`]) and run ([`RunSettings`]: how long, where, how visibly —
/// free to change between a run and its resumption).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DiffusionConfig {
    pub arch: DiffusionArchitecture,
    pub training: DiffusionTraining,
    pub run: RunSettings,
}

impl Default for DiffusionConfig {
    /// The default architecture and training, 6,000 steps.
    fn default() -> Self {
        DiffusionConfig::with_steps(6000)
    }
}

impl DiffusionConfig {
    /// The default model trained for `steps` steps.
    pub fn with_steps(steps: usize) -> Self {
        DiffusionConfig { arch: DiffusionArchitecture::default(), training: DiffusionTraining::default(), run: RunSettings { steps, ..RunSettings::default() } }
    }

    pub fn check(&self) -> Result<()> {
        let (a, t) = (&self.arch, &self.training);
        NoiseSchedule::new(a.schedule, a.timesteps)?;
        if a.width < 8 || a.width % 8 != 0 {
            return Err(Error::invalid("UNet width", a.width, "must be a multiple of 8, at least 8"));
        }
        if a.token_dim < 2 || a.token_dim % 2 != 0 {
            return Err(Error::invalid("token_dim", a.token_dim, "must be an even number ≥ 2"));
        }
        if a.tokens_per_class == 0 {
            return Err(Error::invalid("tokens_per_class", 0, "must be at least 1"));
        }
        if !(0.0..1.0).contains(&t.p_uncond) {
            return Err(Error::invalid("p_uncond", t.p_uncond, "must lie in [0, 1)"));
        }
        if t.batch_size == 0 {
            return Err(Error::invalid("diffusion batch size", 0, "must be at least 1"));
        }
        if !(t.lr > 0.0 && t.lr.is_finite()) {
            return Err(Error::invalid("diffusion learning rate", t.lr, "must be a positive number"));
        }
        if !(0.0..1.0).contains(&t.ema) {
            return Err(Error::invalid("EMA decay", t.ema, "must lie in [0, 1)"));
        }
        self.run.check("diffusion")
    }
}

/// The model's vocabulary: token names (index 0 is `<null>`) and which tokens stand
/// for each class.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Vocabulary {
    pub tokens: Vec<String>,
    /// `(class name, its token indices)`.
    pub classes: Vec<(String, Vec<usize>)>,
}

impl Vocabulary {
    /// `<null>`, then `k` tokens per class (`name` when `k = 1`, else `name/0` …).
    pub fn new(class_names: &[String], k: usize) -> Self {
        let mut tokens = vec![NULL_TOKEN.to_string()];
        let mut classes = Vec::new();
        for name in class_names {
            let ids: Vec<usize> = (0..k).map(|j| tokens.len() + j).collect();
            tokens.extend((0..k).map(|j| if k == 1 { name.clone() } else { format!("{name}/{j}") }));
            classes.push((name.clone(), ids));
        }
        Vocabulary { tokens, classes }
    }

    /// The token indices of class `name` (case-insensitive).
    pub fn class_tokens(&self, name: &str) -> Result<&[usize]> {
        self.classes
            .iter()
            .find(|(c, _)| c.eq_ignore_ascii_case(name))
            .map(|(_, ids)| ids.as_slice())
            .ok_or_else(|| Error::invalid("class", name, format!("the model knows {:?}", self.classes.iter().map(|c| &c.0).collect::<Vec<_>>())))
    }
}

/// The null (unconditional) token's name.
pub const NULL_TOKEN: &str = "<null>";

/// Training losses.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DiffusionHistory {
    /// `(step, mean loss over the window)`.
    pub losses: Vec<(usize, f64)>,
    pub seconds: f64,
    pub resumed_from: usize,
    /// The logging window still open at the last checkpoint (summed loss, steps), so
    /// that a resumed run logs the means an uninterrupted one logs.
    #[serde(default)]
    pub open_window: (f64, usize),
}

/// The checkpoint's companion file: the settings it was written under and the history.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Meta {
    arch: DiffusionArchitecture,
    training: DiffusionTraining,
    shape: [usize; 3],
    vocabulary: Vocabulary,
    step: usize,
    history: DiffusionHistory,
}

/// What the committed pretrained file's companion JSON holds.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PretrainedInfo {
    pub config: DiffusionConfig,
    pub shape: [usize; 3],
    pub vocabulary: Vocabulary,
    pub steps: usize,
    pub train_seconds: f64,
    /// How the file was made.
    pub command: String,
}

/// A UNet with its token table, an EMA copy of both, and the optimiser.
pub struct DiffusionModel {
    pub cfg: DiffusionConfig,
    pub shape: [usize; 3],
    pub schedule: NoiseSchedule,
    pub vocabulary: Vocabulary,
    /// The model: the trained and the averaged networks.
    nets: DiffusionNets,
    /// The optimisation state (Adam with its moments, saved in checkpoints).
    opt: Adam,
    /// The run: optimisation steps done, and the losses and time so far.
    pub step: usize,
    pub history: DiffusionHistory,
}

/// The model part of a [`DiffusionModel`]: the UNet and token table being trained,
/// and their exponential moving average (what sampling and inversion use), each pair
/// in its own store.
struct DiffusionNets {
    vs: nn::VarStore,
    unet: UNet,
    /// `[tokens, token_dim]`.
    tokens: Tensor,
    ema_vs: nn::VarStore,
    ema_unet: UNet,
    ema_tokens: Tensor,
}

impl DiffusionNets {
    /// The stores by the names a checkpoint gives them.
    fn stores(&self) -> [(&'static str, &nn::VarStore); 2] {
        [("model", &self.vs), ("ema", &self.ema_vs)]
    }
}

impl std::fmt::Debug for DiffusionModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DiffusionModel({} tokens, {:?}, step {})", self.vocabulary.tokens.len(), self.shape, self.step)
    }
}

impl DiffusionModel {
    /// A fresh model for images `[C, H, W]` with the given vocabulary.
    pub fn new(cfg: DiffusionConfig, shape: [usize; 3], vocabulary: Vocabulary, device: Device) -> Result<Self> {
        cfg.check()?;
        let [c, h, w] = shape;
        if !(c == 1 || c == 3) || h % 4 != 0 || w % 4 != 0 || h < 8 || w < 8 {
            return Err(Error::invalid("diffusion image shape", format!("{c}×{h}×{w}"), "1 or 3 channels, sides multiples of 4, at least 8"));
        }
        let schedule = NoiseSchedule::new(cfg.arch.schedule, cfg.arch.timesteps)?;
        let build = |vs: &nn::VarStore| {
            let unet = UNet::new(&(vs.root() / "unet"), c as i64, cfg.arch.width, cfg.arch.token_dim);
            let tokens = vs.root().var("tokens", &[vocabulary.tokens.len() as i64, cfg.arch.token_dim], nn::Init::Const(0.0));
            (unet, tokens)
        };
        let vs = nn::VarStore::new(device);
        let (unet, tokens) = build(&vs);
        let mut ema_vs = nn::VarStore::new(device);
        let (ema_unet, ema_tokens) = build(&ema_vs);
        reset_parameters(&vs, crate::derive_seed(cfg.training.seed, "diffusion-init"))?;
        // token vectors start as N(0, 1), like an embedding layer's
        tch::no_grad(|| {
            let mut rng = AugRng::new(crate::derive_seed(cfg.training.seed, "diffusion-tokens"));
            tokens.shallow_clone().copy_(&rng.normal_like(&tokens.to_device(Device::Cpu)).to_device(device));
        });
        ema_vs.freeze();
        checkpoint::ema_update(&vs, &ema_vs, None);
        let opt = Adam::new(&vs, cfg.training.lr, (0.9, 0.999))?;
        let nets = DiffusionNets { vs, unet, tokens, ema_vs, ema_unet, ema_tokens };
        Ok(DiffusionModel { cfg, shape, schedule, vocabulary, nets, opt, step: 0, history: DiffusionHistory::default() })
    }

    pub fn device(&self) -> Device {
        self.nets.vs.device()
    }

    /// Trainable weights of the UNet and the token table.
    pub fn num_parameters(&self) -> usize {
        self.nets.vs.trainable_variables().iter().map(|t| t.numel()).sum()
    }

    /// The UNet used for sampling and inversion (the EMA copy) and its token table.
    pub fn sampling_net(&self) -> (&UNet, &Tensor) {
        (&self.nets.ema_unet, &self.nets.ema_tokens)
    }

    /// The var store of the sampling weights (frozen).
    pub fn sampling_store(&self) -> &nn::VarStore {
        &self.nets.ema_vs
    }

    /// Vectors of the given tokens of the sampling table, as conditions `[N, 1, D]`.
    pub fn token_condition(&self, ids: &[usize]) -> Result<Tensor> {
        if let Some(&bad) = ids.iter().find(|&&i| i >= self.vocabulary.tokens.len()) {
            return Err(Error::invalid("token", bad, format!("the vocabulary has {} tokens", self.vocabulary.tokens.len())));
        }
        let idx = Tensor::from_slice(&ids.iter().map(|&i| i as i64).collect::<Vec<_>>()).to_device(self.device());
        Ok(self.nets.ema_tokens.index_select(0, &idx).unsqueeze(1))
    }

    /// The diffusion loss `‖ε − ε̂(√ᾱ_t x_0 + √(1−ᾱ_t) ε, t, cond)‖²` on images `x0` in
    /// `[-1, 1]` with conditions `cond: [N, L, D]`, through `unet`; `t` and `ε` from `rng`.
    pub fn loss_with(&self, unet: &UNet, x0: &Tensor, cond: &Tensor, rng: &mut AugRng) -> Tensor {
        self.loss_in_range(unet, x0, cond, 0.0, rng)
    }

    /// [`DiffusionModel::loss_with`] with `t` drawn uniformly from the noisiest
    /// `1 − t_min` of the schedule (`t_min` a fraction in `[0, 1)`; 0 is the whole range).
    pub fn loss_in_range(&self, unet: &UNet, x0: &Tensor, cond: &Tensor, t_min: f64, rng: &mut AugRng) -> Tensor {
        let n = x0.size()[0];
        let total = self.schedule.len();
        let lo = ((t_min.clamp(0.0, 1.0) * total as f64) as usize).min(total - 1);
        let t: Vec<i64> = rng.below(n as usize, total - lo).into_iter().map(|v| (v + lo) as i64).collect();
        let t = Tensor::from_slice(&t).to_device(x0.device());
        let noise = rng.normal_like(&x0.to_device(Device::Cpu)).to_device(x0.device());
        let xt = self.schedule.q_sample(x0, &t, &noise);
        (unet.forward(&xt, &t, cond) - noise).square().mean(Kind::Float)
    }

    /// One training step on `data` (images in `[0, 1]`, `token_of[i]` the token of image
    /// `i`), with the randomness of step `self.step`. Returns the loss.
    pub fn train_step(&mut self, data: &ImageDataset, token_of: &[usize]) -> Result<f64> {
        let device = self.device();
        let mut rng = AugRng::new(crate::derive_seed(self.cfg.training.seed, &format!("diffusion-step-{}", self.step)));
        let b = self.cfg.training.batch_size.min(data.len());
        let idx: Vec<usize> = rng.below(b, data.len());
        let drop = rng.bernoulli(b, self.cfg.training.p_uncond);
        let ids: Vec<i64> = idx.iter().zip(&drop).map(|(&i, &d)| if d { 0 } else { token_of[i] as i64 }).collect();
        let sel = Tensor::from_slice(&idx.iter().map(|&i| i as i64).collect::<Vec<_>>());
        let x0 = (data.batch_images(&sel).to_device(device) * 2.0 - 1.0).detach();
        let cond = self.nets.tokens.index_select(0, &Tensor::from_slice(&ids).to_device(device)).unsqueeze(1);
        self.opt.zero_grad();
        let loss = self.loss_with(&self.nets.unet, &x0, &cond, &mut rng);
        loss.backward();
        self.opt.step();
        checkpoint::ema_update(&self.nets.vs, &self.nets.ema_vs, Some(checkpoint::ema_decay(self.cfg.training.ema, self.step)));
        self.step += 1;
        let l = loss.double_value(&[]);
        if !l.is_finite() {
            return Err(Error::invalid("diffusion loss", l, format!("diverged at step {}; lower the learning rate", self.step)));
        }
        Ok(l)
    }

    /// Train to `cfg.run.steps`, resuming from the checkpoint in `cfg.run.out` (same settings
    /// only). `token_of[i]` is the token of image `i` (see [`assign_tokens`]).
    pub fn train(&mut self, data: &ImageDataset, token_of: &[usize]) -> Result<DiffusionHistory> {
        if data.image_shape() != self.shape {
            return Err(Error::shape("diffusion training images", format!("{:?}", self.shape), format!("{:?}", data.image_shape())));
        }
        if token_of.len() != data.len() || data.is_empty() {
            return Err(Error::shape("tokens of the training images", format!("{} (one per image, at least one)", data.len()), token_of.len()));
        }
        if let Some(&bad) = token_of.iter().find(|&&t| t == 0 || t >= self.vocabulary.tokens.len()) {
            return Err(Error::invalid("training token", bad, format!("must lie in 1..{}", self.vocabulary.tokens.len())));
        }
        // one training per checkpoint folder at a time: a second is refused, naming the first
        let _lock = match self.cfg.run.out.as_deref() {
            Some(out) => Some(crate::io::OutputLock::acquire(out)?),
            None => None,
        };
        if let Some(out) = checkpoint::to_resume(self.cfg.run.out.as_deref(), self.step)? {
            self.load(&out)?;
            if self.cfg.run.progress {
                eprintln!("diffusion: resuming at step {} of {} from the checkpoint in {}", self.step, self.cfg.run.steps, out.display());
            }
        }
        self.history.resumed_from = self.step;
        let started = Instant::now();
        let before = self.history.seconds;
        let progress = Progress::new(self.cfg.run.steps as u64, self.cfg.run.progress, "diffusion");
        progress.set_position(self.step as u64);
        let window = (self.cfg.run.steps / 100).clamp(1, 50);
        while self.step < self.cfg.run.steps {
            let l = self.train_step(data, token_of)?;
            let (sum, k) = (self.history.open_window.0 + l, self.history.open_window.1 + 1);
            self.history.open_window = (sum, k);
            progress.step(l);
            if self.step % window == 0 || self.step == self.cfg.run.steps {
                self.history.losses.push((self.step, sum / k as f64));
                self.history.open_window = (0.0, 0);
            }
            self.history.seconds = before + started.elapsed().as_secs_f64();
            if let Some(out) = self.cfg.run.out.clone() {
                if self.step % self.cfg.run.checkpoint_every == 0 || self.step == self.cfg.run.steps {
                    self.save(&out)?;
                }
            }
        }
        progress.finish();
        Ok(self.history.clone())
    }

    /// Sample `n` images in `[0, 1]` for one condition `prompt: [L, D]` with guidance
    /// scale `guidance` (0: unconditional, 1: conditional, > 1: classifier-free
    /// guidance `ε̂_∅ + w (ε̂_c − ε̂_∅)`), from the EMA weights.
    pub fn sample_prompt(&self, prompt: &Tensor, n: usize, sampler: Sampler, guidance: f64, seed: u64) -> Result<Tensor> {
        let dims = prompt.size();
        if dims.len() != 2 || dims[1] != self.cfg.arch.token_dim {
            return Err(Error::shape("diffusion prompt", format!("[L, {}]", self.cfg.arch.token_dim), format!("{dims:?}")));
        }
        let prompts = prompt.to_device(self.device()).unsqueeze(0).expand([n as i64, dims[0], dims[1]], true);
        self.sample_conditions(&prompts, sampler, guidance, seed)
    }

    /// Sample one image per condition of `conds: [N, L, D]` (see [`Self::sample_prompt`]).
    pub fn sample_conditions(&self, conds: &Tensor, sampler: Sampler, guidance: f64, seed: u64) -> Result<Tensor> {
        if !(guidance >= 0.0 && guidance.is_finite()) {
            return Err(Error::invalid("guidance scale", guidance, "must be ≥ 0"));
        }
        let n = conds.size()[0];
        let [c, h, w] = self.shape.map(|d| d as i64);
        let null = self.token_condition(&[0])?.expand([n, 1, self.cfg.arch.token_dim], true);
        let mut rng = AugRng::new(crate::derive_seed(seed, "diffusion-sample"));
        let mut chunks = Vec::new();
        for start in (0..n).step_by(256) {
            let len = (n - start).min(256);
            let cond = conds.narrow(0, start, len).to_device(self.device());
            let null = null.narrow(0, start, len);
            let x = sample_loop(&self.schedule, sampler, &[len, c, h, w], self.device(), true, &mut rng, |x, i| {
                let t = Tensor::full([len], i as i64, (Kind::Int64, self.device()));
                let unet = &self.nets.ema_unet;
                if guidance == 1.0 {
                    unet.forward(x, &t, &cond)
                } else if guidance == 0.0 {
                    unet.forward(x, &t, &null)
                } else if cond.size()[1] == 1 {
                    let both = unet.forward(&Tensor::cat(&[x, x], 0), &Tensor::cat(&[&t, &t], 0), &Tensor::cat(&[&cond, &null], 0));
                    let (e_c, e_u) = (both.narrow(0, 0, len), both.narrow(0, len, len));
                    &e_u + (e_c - &e_u) * guidance
                } else {
                    let (e_c, e_u) = (unet.forward(x, &t, &cond), unet.forward(x, &t, &null));
                    &e_u + (e_c - &e_u) * guidance
                }
            })?;
            chunks.push(((x + 1.0) / 2.0).clamp(0.0, 1.0).to_device(Device::Cpu));
        }
        Ok(if chunks.is_empty() { Tensor::zeros([0, c, h, w], (Kind::Float, Device::Cpu)) } else { Tensor::cat(&chunks, 0) })
    }

    /// `n_per_class` images of each named class (its tokens in turn), with labels given
    /// by the position of the class in `classes`.
    pub fn sample_classes(&self, classes: &[&str], n_per_class: usize, sampler: Sampler, guidance: f64, seed: u64) -> Result<(Tensor, Tensor)> {
        let mut ids = Vec::new();
        let mut labels = Vec::new();
        for (k, name) in classes.iter().enumerate() {
            let toks = self.vocabulary.class_tokens(name)?;
            ids.extend((0..n_per_class).map(|i| toks[i % toks.len()]));
            labels.extend(std::iter::repeat(k as i64).take(n_per_class));
        }
        let conds = self.token_condition(&ids)?;
        Ok((self.sample_conditions(&conds, sampler, guidance, seed)?, Tensor::from_slice(&labels)))
    }

    /// Write a checkpoint (weights, EMA, optimiser, vocabulary, history) into `dir`.
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        let meta = Meta {
            arch: self.cfg.arch.clone(),
            training: self.cfg.training.clone(),
            shape: self.shape,
            vocabulary: self.vocabulary.clone(),
            step: self.step,
            history: self.history.clone(),
        };
        checkpoint::save(dir.as_ref(), &self.nets.stores(), &[("opt", &self.opt)], &meta)
    }

    /// Restore a checkpoint of [`Self::save`] written under the same settings.
    pub fn load(&mut self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        let meta: Meta = checkpoint::read_meta(dir)?;
        let mut differences = checkpoint::differences("architecture", &meta.arch, &self.cfg.arch)?;
        differences.extend(checkpoint::differences("training", &meta.training, &self.cfg.training)?);
        if meta.shape != self.shape {
            differences.push(format!("images: {:?} there, {:?} here", meta.shape, self.shape));
        }
        if meta.vocabulary != self.vocabulary {
            differences.push(format!("vocabulary: {} tokens there, {} here", meta.vocabulary.tokens.len(), self.vocabulary.tokens.len()));
        }
        if !differences.is_empty() {
            return Err(Error::Format {
                path: dir.join(checkpoint::META),
                reason: format!("was written by a diffusion model with other settings or vocabulary ({}). Use another output folder or delete it", differences.join("; ")),
            });
        }
        checkpoint::load(dir, &self.nets.stores(), &mut [("opt", &mut self.opt)])?;
        self.step = meta.step;
        self.history = meta.history;
        Ok(())
    }

    /// Save the sampling weights alone (EMA UNet and tokens) to `path`, with
    /// `path.json` describing them — the form committed to `data/pretrained/`.
    pub fn export(&self, path: &Path, command: &str) -> Result<()> {
        crate::io::write_safetensors(path, self.nets.ema_vs.variables().into_iter().collect())?;
        let info = PretrainedInfo {
            config: DiffusionConfig { run: RunSettings { out: None, progress: false, ..self.cfg.run.clone() }, ..self.cfg.clone() },
            shape: self.shape,
            vocabulary: self.vocabulary.clone(),
            steps: self.step,
            train_seconds: self.history.seconds,
            command: command.to_string(),
        };
        crate::io::write_atomic(&path.with_extension("json"), serde_json::to_string_pretty(&info)?.as_bytes())
    }

    /// Load weights written by [`Self::export`] (both the model and its EMA copy get them).
    pub fn load_pretrained(path: &Path, device: Device) -> Result<Self> {
        let info_path = path.with_extension("json");
        let info: PretrainedInfo = serde_json::from_str(&std::fs::read_to_string(&info_path).at(&info_path)?)
            .map_err(|e| Error::Format { path: info_path.clone(), reason: e.to_string() })?;
        let mut model = DiffusionModel::new(info.config.clone(), info.shape, info.vocabulary.clone(), device)?;
        if !path.exists() {
            return Err(Error::NotFound { what: "pretrained diffusion weights".into(), searched: vec![path.to_path_buf()] });
        }
        let stored: std::collections::HashMap<String, Tensor> = crate::io::read_safetensors(path)?.into_iter().collect();
        for vs in [&model.nets.vs, &model.nets.ema_vs] {
            checkpoint::copy_into(vs, "", &stored).map_err(|e| Error::Format { path: path.to_path_buf(), reason: e.to_string() })?;
        }
        model.step = info.steps;
        model.history.seconds = info.train_seconds;
        Ok(model)
    }
}

/// Token of every image of `data`: its class's single token, or, with
/// `tokens_per_class = k > 1`, the token of its k-means cluster within its class
/// (on pixels, seeded). Returns one token index per image.
pub fn assign_tokens(data: &ImageDataset, vocabulary: &Vocabulary, seed: u64) -> Result<Vec<usize>> {
    use linfa::traits::{Fit, Predict};
    let labels = data.labels_vec();
    let mut out = vec![0usize; labels.len()];
    for (class, (name, toks)) in vocabulary.classes.iter().enumerate() {
        let members: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class as i64).collect();
        if members.is_empty() {
            continue;
        }
        if toks.len() == 1 || members.len() < toks.len() {
            for &i in &members {
                out[i] = toks[0];
            }
            continue;
        }
        let sel = Tensor::from_slice(&members.iter().map(|&i| i as i64).collect::<Vec<_>>());
        let x = crate::data::pixels(&data.batch_images(&sel))?;
        let model = linfa_clustering::KMeans::params_with_rng(toks.len(), crate::rng(crate::derive_seed(seed, name)))
            .n_runs(2)
            .max_n_iterations(50)
            .fit(&linfa::DatasetBase::from(x.clone()))
            .map_err(|e| Error::invalid("k-means of class", name, e.to_string()))?;
        for (&i, c) in members.iter().zip(model.predict(&x).iter()) {
            out[i] = toks[*c];
        }
    }
    Ok(out)
}
