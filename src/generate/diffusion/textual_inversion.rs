//! Textual inversion (Gal et al. 2022) on the small token-conditioned model: learn the
//! vector(s) of a new token — a *placeholder* such as `<boot>` — from a few images,
//! with the ordinary diffusion loss, while every weight of the pretrained model (UNet
//! and token table) stays frozen. The learned vectors are all that is saved, and
//! sampling with them as the condition generates the new concept.
//!
//! The options mirror the reference script's (`placeholder_token`,
//! `initializer_token`, `num_vectors`, `max_train_steps`, `learning_rate`): the new
//! vectors start as copies of the initializer's vector (the mean of its tokens when a
//! class has several).

use super::DiffusionModel;
use crate::augment::AugRng;
use crate::data::ImageDataset;
use crate::train::{checkpoint, Progress};
use crate::{Error, Result};
use std::path::Path;
use std::time::Instant;
use tch::{nn, Kind, Tensor};

/// Settings of [`textual_inversion`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InversionConfig {
    /// The new token's name, e.g. `<boot>`.
    pub placeholder: String,
    /// A known class whose token(s) initialise the new vectors, e.g. `sneaker`.
    pub initializer: String,
    /// Vectors of the new token (the condition's length).
    pub num_vectors: usize,
    pub steps: usize,
    pub batch_size: usize,
    pub lr: f64,
    /// Random horizontal flips of the concept images (the reference script's `flip_p`
    /// = 0.5). Off by default: right for concepts seen from any side, wrong for
    /// datasets whose objects share one orientation.
    pub flip: bool,
    /// Learn each new vector as a convex combination of the known tokens' vectors
    /// (softmax weights, starting on the initializer's tokens) instead of a free
    /// vector: the new token stays inside the part of token space the model was
    /// trained on, and can only interpolate between known concepts.
    #[serde(default)]
    pub mixture: bool,
    /// Draw the diffusion time only from the noisiest `1 − t_min` of the schedule
    /// (a fraction in `[0, 1)`; 0, the default, is the reference script's uniform `t`).
    /// High `t` is where the coarse shape of a sample — what makes a boot a boot — is
    /// decided; low `t` only sharpens detail that any condition explains equally well.
    #[serde(default)]
    pub t_min: f64,
    pub seed: u64,
    pub progress: bool,
}

impl Default for InversionConfig {
    /// `<concept>` from `sneaker`, 1 vector, 300 steps of batch 16, Adam 5e-3, no
    /// flips: the best of the sweep on ten ankle boots recorded in the README (flips
    /// halved the share of samples judged "ankle boot": Fashion-MNIST's shoes all point
    /// the same way, so a mirrored boot is a picture the model never saw).
    fn default() -> Self {
        InversionConfig {
            placeholder: "<concept>".into(),
            initializer: "sneaker".into(),
            num_vectors: 1,
            steps: 300,
            batch_size: 16,
            lr: 5e-3,
            flip: false,
            mixture: false,
            t_min: 0.0,
            seed: 0,
            progress: false,
        }
    }
}

impl InversionConfig {
    pub fn check(&self) -> Result<()> {
        if self.placeholder.trim().is_empty() {
            return Err(Error::invalid("placeholder token", &self.placeholder, "must not be empty"));
        }
        if self.num_vectors == 0 || self.num_vectors > 16 {
            return Err(Error::invalid("num_vectors", self.num_vectors, "must lie in 1..=16"));
        }
        if self.steps == 0 || self.batch_size == 0 {
            return Err(Error::invalid("inversion steps / batch", format!("{} / {}", self.steps, self.batch_size), "must be at least 1"));
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(Error::invalid("inversion learning rate", self.lr, "must be a positive number"));
        }
        if !(0.0..1.0).contains(&self.t_min) {
            return Err(Error::invalid("inversion t_min", self.t_min, "must be a fraction in [0, 1)"));
        }
        Ok(())
    }
}

/// A learned token: its name and vectors `[num_vectors, token_dim]`.
#[derive(Debug)]
pub struct LearnedToken {
    pub placeholder: String,
    pub vectors: Tensor,
}

impl LearnedToken {
    /// Save the vectors alone, under the placeholder's name, to a safetensors file.
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::io::write_safetensors(path, vec![(self.placeholder.clone(), self.vectors.shallow_clone())])
    }

    /// Load a token written by [`LearnedToken::save`] (the file's only tensor).
    pub fn load(path: &Path) -> Result<Self> {
        if !path.exists() {
            return Err(Error::NotFound { what: "learned token".into(), searched: vec![path.to_path_buf()] });
        }
        let mut t = crate::io::read_safetensors(path)?;
        if t.len() != 1 || t[0].1.dim() != 2 {
            return Err(Error::Format { path: path.to_path_buf(), reason: "expected one [num_vectors, token_dim] tensor".into() });
        }
        let (placeholder, vectors) = t.remove(0);
        Ok(LearnedToken { placeholder, vectors })
    }
}

/// Losses of an inversion.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InversionHistory {
    pub losses: Vec<(usize, f64)>,
    pub seconds: f64,
}

/// Learn a new token for `images` (the concept's images, `[0, 1]`, the model's shape)
/// on the frozen `model`. Only the new vectors receive gradients.
pub fn textual_inversion(model: &DiffusionModel, images: &ImageDataset, cfg: &InversionConfig) -> Result<(LearnedToken, InversionHistory)> {
    textual_inversion_resumable(model, images, cfg, None)
}

/// Where and how often [`textual_inversion_resumable`] writes its checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct InversionCheckpoints {
    /// The folder of `checkpoint.safetensors` (the vectors and Adam's moments) and
    /// `checkpoint.json` (settings, step, losses so far).
    pub dir: std::path::PathBuf,
    /// Steps between checkpoints.
    pub every: usize,
}

/// What a checkpoint of the inversion holds besides its tensors.
#[derive(serde::Serialize, serde::Deserialize)]
struct InversionCheckpointMeta {
    cfg: InversionConfig,
    step: usize,
    history: InversionHistory,
    /// The loss sum and count of the unfinished averaging window.
    window: (f64, usize),
}

/// [`textual_inversion`] that writes a checkpoint every `checkpoints.every` steps and,
/// when the folder holds one of the same settings, continues from it: each step draws
/// from its own seed, so a killed and resumed inversion learns the very same vectors.
/// A checkpoint of other settings is an error naming the file and the differences.
pub fn textual_inversion_resumable(
    model: &DiffusionModel,
    images: &ImageDataset,
    cfg: &InversionConfig,
    checkpoints: Option<&InversionCheckpoints>,
) -> Result<(LearnedToken, InversionHistory)> {
    cfg.check()?;
    if checkpoints.is_some_and(|c| c.every == 0) {
        return Err(Error::invalid("checkpoint every", 0, "must be at least 1"));
    }
    if images.image_shape() != model.shape {
        return Err(Error::shape("concept images", format!("{:?}", model.shape), format!("{:?}", images.image_shape())));
    }
    if images.is_empty() {
        return Err(Error::invalid("concept images", 0, "need at least one image"));
    }
    if model.vocabulary.tokens.iter().any(|t| t == &cfg.placeholder) {
        return Err(Error::invalid("placeholder token", &cfg.placeholder, "is already a token of the model; choose a new name"));
    }
    let device = model.device();
    let init_ids = model.vocabulary.class_tokens(&cfg.initializer)?;
    let init = model.token_condition(init_ids)?.mean_dim([0i64].as_slice(), false, Kind::Float); // [1, D]
    let vs = nn::VarStore::new(device);
    let (unet, table) = model.sampling_net();
    let (l, d) = (cfg.num_vectors as i64, model.cfg.arch.token_dim);
    // Free vectors, or softmax weights over the known tokens (all but the null one).
    // The condition is a set of vectors (no positions), so vectors that start equal
    // get equal gradients and stay equal for ever: a 4-vector token would be a
    // 1-vector token. Every row after the first starts with a little seeded noise.
    let mut init_rng = AugRng::new(crate::derive_seed(cfg.seed, "inversion-init"));
    let mut jitter = |like: &Tensor, scale: f64| {
        let noise = init_rng.normal_like(like) * scale;
        let _ = noise.narrow(0, 0, 1).fill_(0.0);
        noise
    };
    let param = if cfg.mixture {
        let k = table.size()[0] - 1;
        let mut logits = vec![0f32; (l * k) as usize];
        for row in 0..l as usize {
            for &id in init_ids {
                logits[row * k as usize + id - 1] = (k as f32).ln() + 2.0;
            }
        }
        let logits = Tensor::from_slice(&logits).view([l, k]).to_device(device);
        vs.root().var_copy("mixture_logits", &(&logits + jitter(&logits, 0.1)))
    } else {
        let start = init.expand([l, d], true);
        let rms = start.square().mean(Kind::Float).sqrt().double_value(&[]);
        vs.root().var_copy("vectors", &(&start + jitter(&start, 0.05 * rms))) // 5% of the vector's RMS
    };
    let known = table.narrow(0, 1, table.size()[0] - 1).detach();
    let vectors_of = |p: &Tensor| if cfg.mixture { p.softmax(-1, Kind::Float).matmul(&known) } else { p.shallow_clone() };
    let mut opt = crate::train::optim::Adam::new(&vs, cfg.lr, (0.9, 0.999))?;

    let started = Instant::now();
    let progress = Progress::new(cfg.steps as u64, cfg.progress, "inversion");
    let mut history = InversionHistory::default();
    let window = (cfg.steps / 100).clamp(1, 25);
    let (mut sum, mut k) = (0.0, 0);
    let mut first = 0;
    let comparable = |c: &InversionConfig| InversionConfig { progress: false, ..c.clone() };
    if let Some(ck) = checkpoints.filter(|ck| ck.dir.join(checkpoint::TENSORS).exists()) {
        let meta: InversionCheckpointMeta = checkpoint::read_meta(&ck.dir)?;
        let differences = checkpoint::differences("inversion", &comparable(&meta.cfg), &comparable(cfg))?;
        if !differences.is_empty() {
            return Err(Error::Format {
                path: ck.dir.join(checkpoint::META),
                reason: format!("was written by an inversion with other settings ({}); use another output folder or delete it", differences.join("; ")),
            });
        }
        checkpoint::load(&ck.dir, &[("token", &vs)], &mut [("opt", &mut opt)])?;
        (first, history, (sum, k)) = (meta.step, meta.history, meta.window);
        progress.set_position(first as u64);
    }
    for step in first..cfg.steps {
        let mut rng = AugRng::new(crate::derive_seed(cfg.seed, &format!("inversion-step-{step}")));
        let b = cfg.batch_size;
        let idx: Vec<i64> = rng.below(b, images.len()).into_iter().map(|i| i as i64).collect();
        let mut x0 = images.batch_images(&Tensor::from_slice(&idx)).to_device(device) * 2.0 - 1.0;
        if cfg.flip {
            let flip = rng.bernoulli(b, 0.5);
            let mask = Tensor::from_slice(&flip.iter().map(|&f| f as u8).collect::<Vec<_>>()).to_kind(Kind::Bool).to_device(device).view([b as i64, 1, 1, 1]);
            x0 = x0.flip([3]).where_self(&mask, &x0);
        }
        let cond = vectors_of(&param).unsqueeze(0).expand([b as i64, l, d], true);
        opt.zero_grad();
        let loss = model.loss_in_range(unet, &x0.detach(), &cond, cfg.t_min, &mut rng);
        loss.backward();
        opt.step();
        let l = loss.double_value(&[]);
        if !l.is_finite() {
            return Err(Error::invalid("inversion loss", l, format!("diverged at step {step}; lower the learning rate")));
        }
        (sum, k) = (sum + l, k + 1);
        progress.step(l);
        if (step + 1) % window == 0 || step + 1 == cfg.steps {
            history.losses.push((step + 1, sum / k as f64));
            (sum, k) = (0.0, 0);
        }
        if let Some(ck) = checkpoints.filter(|ck| (step + 1) % ck.every == 0 || step + 1 == cfg.steps) {
            let meta = InversionCheckpointMeta { cfg: comparable(cfg), step: step + 1, history: history.clone(), window: (sum, k) };
            checkpoint::save(&ck.dir, &[("token", &vs)], &[("opt", &opt)], &meta)?;
        }
    }
    progress.finish();
    history.seconds = started.elapsed().as_secs_f64();
    let vectors = tch::no_grad(|| vectors_of(&param)).detach().copy();
    Ok((LearnedToken { placeholder: cfg.placeholder.clone(), vectors }, history))
}
