//! Textual inversion on a Stable Diffusion pipeline, as diffusers'
//! `examples/textual_inversion/textual_inversion.py` trains it.
//!
//! The placeholder token (and `_1`, `_2`, … for further vectors) is added to the
//! tokenizer with embedding rows copied from the initializer token's. Each step draws
//! images and prompt templates, encodes the images with the VAE (a sample of the
//! posterior times the scaling factor), noises them at random timesteps and asks the
//! frozen UNet to predict the noise (or the velocity) under the prompt; the mean
//! squared error trains the new rows alone with AdamW. diffusers optimises the whole
//! table and writes the other rows back after each step; training the new rows as
//! their own tensor gives the same numbers and leaves every pretrained weight
//! bit-identical by construction.
//!
//! Every random choice of a step comes from a generator seeded by (seed, step), so a
//! run resumed from its checkpoint continues exactly as if it had not stopped, and
//! [`TextualInversion::step_with`] replays draws recorded elsewhere (the parity test
//! replays diffusers').

use super::StableDiffusion;
use crate::augment::AugRng;
use crate::io::{write_atomic, write_safetensors, OutputLock};
use crate::train::Progress;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};

/// diffusers' `imagenet_templates_small`: prompts for an object.
pub const OBJECT_TEMPLATES: [&str; 27] = [
    "a photo of a {}", "a rendering of a {}", "a cropped photo of the {}", "the photo of a {}", "a photo of a clean {}",
    "a photo of a dirty {}", "a dark photo of the {}", "a photo of my {}", "a photo of the cool {}", "a close-up photo of a {}",
    "a bright photo of the {}", "a cropped photo of a {}", "a photo of the {}", "a good photo of the {}", "a photo of one {}",
    "a close-up photo of the {}", "a rendition of the {}", "a photo of the clean {}", "a rendition of a {}", "a photo of a nice {}",
    "a good photo of a {}", "a photo of the nice {}", "a photo of the small {}", "a photo of the weird {}", "a photo of the large {}",
    "a photo of a cool {}", "a photo of a small {}",
];

/// diffusers' `imagenet_style_templates_small`: prompts for a style.
pub const STYLE_TEMPLATES: [&str; 19] = [
    "a painting in the style of {}", "a rendering in the style of {}", "a cropped painting in the style of {}",
    "the painting in the style of {}", "a clean painting in the style of {}", "a dirty painting in the style of {}",
    "a dark painting in the style of {}", "a picture in the style of {}", "a cool painting in the style of {}",
    "a close-up painting in the style of {}", "a bright painting in the style of {}", "a cropped painting in the style of {}",
    "a good painting in the style of {}", "a close-up painting in the style of {}", "a rendition in the style of {}",
    "a nice painting in the style of {}", "a small painting in the style of {}", "a weird painting in the style of {}",
    "a large painting in the style of {}",
];

/// What the token should capture, which picks the prompt templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LearnableProperty {
    /// A thing: "a photo of a {}".
    Object,
    /// A look: "a painting in the style of {}".
    Style,
}

/// The options of diffusers' script that change what is learned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InversionConfig {
    /// The new token, for example `<my-toy>` (it must not be in the vocabulary).
    pub placeholder: String,
    /// A word of one token whose embedding the new rows start from.
    pub initializer: String,
    /// Embedding vectors for the concept (`num_vectors`).
    pub num_vectors: usize,
    /// Optimisation steps (`max_train_steps`).
    pub steps: usize,
    /// AdamW's learning rate before scaling.
    pub learning_rate: f64,
    /// Multiply the learning rate by the batch size (`--scale_lr`).
    pub scale_lr: bool,
    /// Images per step.
    pub batch_size: usize,
    /// Side of the square images the model trains on, in pixels.
    pub resolution: i64,
    /// Crop the centre square before resizing (else the image is squashed).
    pub center_crop: bool,
    /// Probability of a horizontal flip.
    pub flip_p: f64,
    /// Object or style templates.
    pub property: LearnableProperty,
    /// Seed of every draw.
    pub seed: u64,
    /// AdamW's β₁.
    pub adam_beta1: f64,
    /// AdamW's β₂.
    pub adam_beta2: f64,
    /// AdamW's decoupled weight decay.
    pub adam_weight_decay: f64,
    /// AdamW's ε.
    pub adam_epsilon: f64,
    /// Write `learned_embeds-steps-N.safetensors` every this many steps (0: never).
    pub save_every: usize,
    /// Write the resumable checkpoint every this many steps.
    pub checkpoint_every: usize,
}

impl Default for InversionConfig {
    /// The settings of diffusers' documented run: lr 5e-4 scaled by the batch,
    /// 3000 steps, 512 pixels, AdamW (0.9, 0.999, 1e-2, 1e-8), flip 0.5.
    fn default() -> Self {
        InversionConfig {
            placeholder: "<concept>".into(),
            initializer: "object".into(),
            num_vectors: 1,
            steps: 3000,
            learning_rate: 5e-4,
            scale_lr: true,
            batch_size: 1,
            resolution: 512,
            center_crop: false,
            flip_p: 0.5,
            property: LearnableProperty::Object,
            seed: 0,
            adam_beta1: 0.9,
            adam_beta2: 0.999,
            adam_weight_decay: 1e-2,
            adam_epsilon: 1e-8,
            save_every: 500,
            checkpoint_every: 100,
        }
    }
}

impl InversionConfig {
    /// Every value in its range, or an error naming it.
    pub fn check(&self) -> Result<()> {
        if self.placeholder.is_empty() || self.placeholder.chars().any(char::is_whitespace) {
            return Err(Error::invalid("placeholder", format!("{:?}", self.placeholder), "must be one word without spaces"));
        }
        if self.placeholder.chars().any(char::is_uppercase) {
            // CLIP lower-cases prompts before it matches tokens
            return Err(Error::invalid("placeholder", format!("{:?}", self.placeholder), "must be lower-case (CLIP lower-cases every prompt)"));
        }
        for (name, v) in [("num_vectors", self.num_vectors), ("steps", self.steps), ("batch_size", self.batch_size)] {
            if v == 0 {
                return Err(Error::invalid(name, v, "must be at least 1"));
            }
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(Error::invalid("learning_rate", self.learning_rate, "must be positive and finite"));
        }
        if !(0.0..=1.0).contains(&self.flip_p) {
            return Err(Error::invalid("flip_p", self.flip_p, "must be in [0, 1]"));
        }
        if self.resolution <= 0 {
            return Err(Error::invalid("resolution", self.resolution, "must be positive"));
        }
        for (name, v) in [("adam_beta1", self.adam_beta1), ("adam_beta2", self.adam_beta2)] {
            if !(0.0..1.0).contains(&v) {
                return Err(Error::invalid(name, v, "must be in [0, 1)"));
            }
        }
        if !(self.adam_weight_decay >= 0.0 && self.adam_epsilon > 0.0) {
            return Err(Error::invalid("adam_weight_decay / adam_epsilon", format!("{} / {}", self.adam_weight_decay, self.adam_epsilon), "must be >= 0 / > 0"));
        }
        Ok(())
    }

    /// The added tokens: the placeholder, then `placeholder_1`, … .
    pub fn tokens(&self) -> Vec<String> {
        (0..self.num_vectors).map(|i| if i == 0 { self.placeholder.clone() } else { format!("{}_{i}", self.placeholder) }).collect()
    }

    fn templates(&self) -> &'static [&'static str] {
        match self.property {
            LearnableProperty::Object => &OBJECT_TEMPLATES,
            LearnableProperty::Style => &STYLE_TEMPLATES,
        }
    }
}

/// The training images of a folder as `[3, R, R]` bytes, in file-name order: each
/// decoded (an undecodable file is an error naming it), converted to RGB, centre-
/// cropped to a square if asked (as diffusers' dataset crops), and resized to `R`
/// with a Catmull-Rom (bicubic) filter when its size differs; an image smaller than
/// `R` is upscaled with a warning.
pub fn load_inversion_images(folder: &Path, resolution: i64, center_crop: bool) -> Result<(Vec<PathBuf>, Vec<Tensor>)> {
    let entries = std::fs::read_dir(folder).map_err(|source| Error::Io { path: folder.into(), source })?;
    let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file() && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'))).collect();
    files.sort();
    if files.is_empty() {
        return Err(Error::Format { path: folder.into(), reason: "no images in the folder".into() });
    }
    let r = resolution as u32;
    let mut images = vec![];
    for f in &files {
        let img = image::open(f).map_err(|e| Error::Image { path: f.clone(), reason: e.to_string() })?.to_rgb8();
        let (w, h) = img.dimensions();
        let img = if center_crop {
            let c = w.min(h);
            image::imageops::crop_imm(&img, (w - c) / 2, (h - c) / 2, c, c).to_image()
        } else {
            img
        };
        let (w2, h2) = img.dimensions();
        if w2 < r || h2 < r {
            eprintln!("warning: {} is {w2}x{h2}, smaller than the resolution {r}: upscaled", f.display());
        }
        let img = if (w2, h2) == (r, r) { img } else { image::imageops::resize(&img, r, r, image::imageops::FilterType::CatmullRom) };
        let t = Tensor::from_slice(img.as_raw()).view([resolution, resolution, 3]).permute([2, 0, 1]).contiguous();
        images.push(t);
    }
    Ok((files, images))
}

/// The random choices of one step: which images (with replacement), which template
/// per image, which images flip, the VAE posterior's noise, the diffusion noise and
/// the timesteps.
#[derive(Debug)]
pub struct StepDraws {
    /// Index of each batch element's image.
    pub images: Vec<usize>,
    /// Index of each element's prompt template.
    pub templates: Vec<usize>,
    /// Whether each element is flipped left-right.
    pub flips: Vec<bool>,
    /// Standard normal noise of the posterior sample, latent-shaped.
    pub vae_noise: Tensor,
    /// Standard normal diffusion noise, latent-shaped.
    pub noise: Tensor,
    /// Training timestep of each element.
    pub timesteps: Vec<i64>,
}

/// Losses and timing of a run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct InversionHistory {
    /// Loss of each step, from the first.
    pub losses: Vec<f64>,
    /// Seconds spent training in this process.
    pub seconds: f64,
    /// The step the run resumed from (0 for a fresh run).
    pub resumed_from: usize,
}

#[derive(Serialize, Deserialize)]
struct CheckpointInfo {
    step: usize,
    config: InversionConfig,
    model: PathBuf,
    images: Vec<PathBuf>,
    losses: Vec<f64>,
}

/// A textual-inversion run on a pipeline it owns; [`TextualInversion::into_model`]
/// gives the pipeline back with the learned token installed.
#[derive(Debug)]
pub struct TextualInversion {
    sd: StableDiffusion,
    cfg: InversionConfig,
    ids: Vec<i64>,
    before: i64,
    rows: Tensor,
    m: Tensor,
    v: Tensor,
    step: usize,
    images: Vec<Tensor>,
    files: Vec<PathBuf>,
    losses: Vec<f64>,
}

impl TextualInversion {
    /// Adds the placeholder tokens to `sd`, initialised from the initializer token.
    /// `images` are `[3, R, R]` bytes (see [`load_inversion_images`]); `files` name them.
    pub fn new(mut sd: StableDiffusion, files: Vec<PathBuf>, images: Vec<Tensor>, cfg: InversionConfig) -> Result<Self> {
        cfg.check()?;
        if images.is_empty() || images.len() != files.len() {
            return Err(Error::invalid("training images", images.len(), "need at least one image, and one file name per image"));
        }
        let down = sd.vae.downscale() * (1 << (sd.unet.config().block_out_channels.len() - 1));
        if cfg.resolution % down != 0 {
            return Err(Error::invalid("resolution", cfg.resolution, format!("must be a multiple of {down} for this model")));
        }
        for (f, im) in files.iter().zip(&images) {
            if im.size() != [3, cfg.resolution, cfg.resolution] {
                return Err(Error::shape(format!("training image {}", f.display()), format!("[3, {0}, {0}]", cfg.resolution), format!("{:?}", im.size())));
            }
        }
        let init = sd.tokenizer.encode(&cfg.initializer);
        if init.len() != 1 {
            let pieces: Vec<&str> = init.iter().filter_map(|&i| sd.tokenizer.token(i)).collect();
            return Err(Error::invalid("initializer", format!("{:?}", cfg.initializer), format!("must be a single token; it tokenises into {} tokens {pieces:?}", init.len())));
        }
        let init_row = sd.token_embedding(init[0])?;
        let tokens = cfg.tokens();
        let refs: Vec<&str> = tokens.iter().map(String::as_str).collect();
        let n = cfg.num_vectors as i64;
        // diffusers refuses a token the vocabulary holds as it is; a word the vocabulary
        // holds whole (`toy</w>`) is refused too, since the new token would shadow it
        if let Some(t) = tokens.iter().find(|t| sd.tokenizer.token_id(t).is_some() || sd.tokenizer.token_id(&format!("{t}</w>")).is_some()) {
            return Err(Error::invalid("placeholder", format!("{t:?}"), "is already a token of the tokenizer's vocabulary: choose one it does not know, such as \"<my-concept>\""));
        }
        let before = sd.added_embeddings().map_or(0, |a| a.size()[0]);
        let rows0 = init_row.unsqueeze(0).repeat([n, 1]);
        let ids = sd.add_tokens(&refs, &rows0)?;
        let device = sd.device();
        let rows = rows0.to_device(device).to_kind(Kind::Float).set_requires_grad(true);
        let m = rows.zeros_like().detach();
        let v = rows.zeros_like().detach();
        Ok(TextualInversion { sd, cfg, ids, before, rows, m, v, step: 0, images, files, losses: vec![] })
    }

    /// The pipeline (its tokenizer knows the new tokens).
    pub fn model(&self) -> &StableDiffusion {
        &self.sd
    }

    /// The configuration.
    pub fn config(&self) -> &InversionConfig {
        &self.cfg
    }

    /// Ids of the added tokens.
    pub fn token_ids(&self) -> &[i64] {
        &self.ids
    }

    /// Steps taken so far.
    pub fn steps_done(&self) -> usize {
        self.step
    }

    /// The learned rows now, `[num_vectors, hidden]`.
    pub fn learned(&self) -> Tensor {
        self.rows.detach().to_device(Device::Cpu).copy()
    }

    /// The learning rate AdamW uses (scaled by the batch size when asked).
    pub fn learning_rate(&self) -> f64 {
        if self.cfg.scale_lr {
            self.cfg.learning_rate * self.cfg.batch_size as f64
        } else {
            self.cfg.learning_rate
        }
    }

    /// The string templates are filled with: the added tokens joined by spaces.
    pub fn placeholder_string(&self) -> String {
        self.cfg.tokens().join(" ")
    }

    /// The draws of step `step` (from a generator seeded by the seed and the step).
    pub fn draws(&self, step: usize) -> StepDraws {
        let mut rng = AugRng::new(self.cfg.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(step as u64 + 1));
        let b = self.cfg.batch_size;
        let images = rng.below(b, self.images.len());
        let templates = rng.below(b, self.cfg.templates().len());
        let flips = rng.bernoulli(b, self.cfg.flip_p);
        let lat = self.sd.vae.config().latent_channels;
        let side = self.cfg.resolution / self.sd.vae.downscale();
        let shape = Tensor::zeros([b as i64, lat, side, side], (Kind::Float, Device::Cpu));
        let vae_noise = rng.normal_like(&shape);
        let noise = rng.normal_like(&shape);
        let n = self.sd.scheduler.config().num_train_timesteps as usize;
        let timesteps = rng.below(b, n).into_iter().map(|t| t as i64).collect();
        StepDraws { images, templates, flips, vae_noise, noise, timesteps }
    }

    /// The batch's pixels in [-1, 1], `[B, 3, R, R]` float32 on the CPU.
    pub fn pixels(&self, draws: &StepDraws) -> Result<Tensor> {
        let mut out = vec![];
        for (&i, &flip) in draws.images.iter().zip(&draws.flips) {
            let img = self.images.get(i).ok_or_else(|| Error::invalid("image index", i, format!("only {} images", self.images.len())))?;
            let img = if flip { img.flip([2]) } else { img.shallow_clone() };
            out.push((img.to_kind(Kind::Double) / 127.5 - 1.0).to_kind(Kind::Float));
        }
        Ok(Tensor::stack(&out, 0))
    }

    /// The batch's prompts.
    pub fn texts(&self, draws: &StepDraws) -> Result<Vec<String>> {
        let t = self.cfg.templates();
        let p = self.placeholder_string();
        draws.templates.iter().map(|&i| t.get(i).map(|s| s.replace("{}", &p)).ok_or_else(|| Error::invalid("template index", i, format!("only {} templates", t.len())))).collect()
    }

    /// One optimisation step on the given draws; returns its loss.
    pub fn step_with(&mut self, draws: &StepDraws) -> Result<f64> {
        let sd = &self.sd;
        let (device, kind) = (sd.device(), sd.kind());
        let pixels = self.pixels(draws)?.to_device(device).to_kind(kind);
        let texts = self.texts(draws)?;
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let ids = sd.token_ids(&refs);
        let t = Tensor::from_slice(&draws.timesteps).to_device(device);
        let latents = tch::no_grad(|| sd.vae.encode(&pixels).sample_with(&draws.vae_noise.to_device(device).to_kind(kind)) * sd.vae.config().scaling_factor);
        let noise = draws.noise.to_device(device).to_kind(kind);
        let noisy = sd.scheduler.add_noise(&latents, &noise, &t);
        let extra = match sd.added_embeddings() {
            Some(a) if self.before > 0 => Tensor::cat(&[a.narrow(0, 0, self.before), self.rows.shallow_clone()], 0),
            _ => self.rows.shallow_clone(),
        };
        let hidden = sd.text_encoder.forward_with(&ids, Some(&extra)).to_kind(kind);
        let pred = sd.unet.forward(&noisy, &t, &hidden);
        let target = sd.scheduler.target(&latents, &noise, &t);
        let loss = pred.to_kind(Kind::Float).mse_loss(&target.to_kind(Kind::Float), tch::Reduction::Mean);
        let value = loss.double_value(&[]);
        if !value.is_finite() {
            return Err(Error::NonFinite { context: format!("textual-inversion loss at step {}", self.step + 1), value });
        }
        loss.backward();
        let grad = self.rows.grad();
        tch::no_grad(|| {
            // torch.optim.AdamW, one tensor: decoupled decay, then the bias-corrected step
            let (b1, b2, eps) = (self.cfg.adam_beta1, self.cfg.adam_beta2, self.cfg.adam_epsilon);
            let lr = self.learning_rate();
            let k = (self.step + 1) as i32;
            let m = &self.m * b1 + &grad * (1.0 - b1);
            let v = &self.v * b2 + &grad * &grad * (1.0 - b2);
            let (bc1, bc2) = (1.0 - b1.powi(k), 1.0 - b2.powi(k));
            let denom = v.sqrt() / bc2.sqrt() + eps;
            let next = &self.rows * (1.0 - lr * self.cfg.adam_weight_decay) - &m / denom * (lr / bc1);
            self.rows = next.detach().set_requires_grad(true);
            self.m = m;
            self.v = v;
        });
        self.step += 1;
        self.losses.push(value);
        Ok(value)
    }

    /// Trains to `steps` steps. With `out`, takes the folder's lock, resumes from its
    /// checkpoint when one from the same configuration, model and images is there
    /// (another one is refused), writes the checkpoint every `checkpoint_every`
    /// steps, `learned_embeds-steps-N.safetensors` every `save_every`, and at the end
    /// `learned_embeds.safetensors` and `inversion.json`.
    pub fn train(&mut self, out: Option<&Path>, progress: bool) -> Result<InversionHistory> {
        let _lock = out.map(OutputLock::acquire).transpose()?;
        let resumed_from = match out {
            Some(dir) => self.resume(dir)?,
            None => 0,
        };
        let bar = Progress::new(self.cfg.steps as u64, progress, "textual inversion");
        bar.set_position(self.step as u64);
        let start = std::time::Instant::now();
        while self.step < self.cfg.steps {
            let draws = self.draws(self.step);
            let loss = self.step_with(&draws)?;
            bar.step(loss);
            if let Some(dir) = out {
                if self.cfg.save_every > 0 && self.step % self.cfg.save_every == 0 {
                    self.save_embeds(&dir.join(format!("learned_embeds-steps-{}.safetensors", self.step)))?;
                }
                if self.cfg.checkpoint_every > 0 && self.step % self.cfg.checkpoint_every == 0 {
                    self.checkpoint(dir)?;
                }
            }
        }
        bar.finish();
        let history = InversionHistory { losses: self.losses.clone(), seconds: start.elapsed().as_secs_f64(), resumed_from };
        if let Some(dir) = out {
            self.checkpoint(dir)?;
            self.save_embeds(&dir.join("learned_embeds.safetensors"))?;
            let json = serde_json::to_string_pretty(&serde_json::json!({ "config": self.cfg, "model": self.sd.dir(), "images": self.files, "history": history }))?;
            write_atomic(&dir.join("inversion.json"), json.as_bytes())?;
        }
        Ok(history)
    }

    /// Writes the learned rows in diffusers' format: one tensor `[n, hidden]` named by
    /// the placeholder, which `pipe.load_textual_inversion(path)` reads.
    pub fn save_embeds(&self, path: &Path) -> Result<()> {
        write_safetensors(path, vec![(self.cfg.placeholder.clone(), self.learned())])
    }

    fn checkpoint(&self, dir: &Path) -> Result<()> {
        let tensors = vec![("rows".to_string(), self.rows.detach()), ("adam_m".to_string(), self.m.shallow_clone()), ("adam_v".to_string(), self.v.shallow_clone())];
        write_safetensors(&dir.join("checkpoint.safetensors"), tensors)?;
        let info = CheckpointInfo { step: self.step, config: self.cfg.clone(), model: self.sd.dir().to_path_buf(), images: self.files.clone(), losses: self.losses.clone() };
        write_atomic(&dir.join("checkpoint.json"), serde_json::to_string_pretty(&info)?.as_bytes())
    }

    fn resume(&mut self, dir: &Path) -> Result<usize> {
        let json = dir.join("checkpoint.json");
        if !json.is_file() {
            return Ok(0);
        }
        let text = std::fs::read_to_string(&json).map_err(|source| Error::Io { path: json.clone(), source })?;
        let info: CheckpointInfo = serde_json::from_str(&text).map_err(|e| Error::Format { path: json.clone(), reason: e.to_string() })?;
        let mut same_but_steps = info.config.clone();
        same_but_steps.steps = self.cfg.steps;
        if same_but_steps != self.cfg || info.model != self.sd.dir() || info.images != self.files {
            return Err(Error::Format { path: json, reason: "this folder holds a textual-inversion run with another configuration, model or image set; use another output folder or delete it".into() });
        }
        let file = dir.join("checkpoint.safetensors");
        let named: std::collections::HashMap<String, Tensor> = crate::io::read_safetensors(&file)?.into_iter().collect();
        let (shape, device) = (self.rows.size(), self.sd.device());
        let get = |k: &str| -> Result<Tensor> {
            let t = named.get(k).ok_or_else(|| Error::Format { path: file.clone(), reason: format!("no tensor {k:?}") })?;
            if t.size() != shape {
                return Err(Error::Format { path: file.clone(), reason: format!("tensor {k:?} has shape {:?}, expected {shape:?}", t.size()) });
            }
            Ok(t.to_device(device).to_kind(Kind::Float))
        };
        self.rows = get("rows")?.set_requires_grad(true);
        self.m = get("adam_m")?;
        self.v = get("adam_v")?;
        self.step = info.step;
        self.losses = info.losses;
        Ok(info.step)
    }

    /// The pipeline with the learned rows installed in place of the initial ones.
    pub fn into_model(self) -> StableDiffusion {
        let mut sd = self.sd;
        sd.set_added_rows(self.before, &self.rows.detach());
        sd
    }
}
