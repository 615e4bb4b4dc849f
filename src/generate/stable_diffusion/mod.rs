//! Stable Diffusion 1.x and 2.x from a diffusers-layout folder, and textual inversion
//! on it as diffusers' example script does it.
//!
//! A folder as `StableDiffusionPipeline.save_pretrained` writes it (and as the Hugging
//! Face repositories of SD 1.5 and 2.1 hold it):
//!
//! ```text
//! model_index.json
//! tokenizer/      vocab.json + merges.txt, or tokenizer.json; tokenizer_config.json
//! text_encoder/   config.json + model.safetensors          (CLIPTextModel)
//! unet/           config.json + diffusion_pytorch_model.safetensors
//! vae/            config.json + diffusion_pytorch_model.safetensors   (AutoencoderKL)
//! scheduler/      scheduler_config.json                    (PNDM, DDIM, … config)
//! ```
//!
//! [`StableDiffusion::open`] reads it with the weight names diffusers and transformers
//! write; [`StableDiffusion::sample`] runs DDIM with classifier-free guidance;
//! [`TextualInversion`] learns new token embeddings from a few images and writes them
//! as `learned_embeds.safetensors`, which `pipe.load_textual_inversion` reads (and
//! [`StableDiffusion::load_textual_inversion`] reads diffusers' own). Every value is
//! checked against diffusers on tiny random pipelines (`tests/golden/make_sd_golden.py`).

mod blocks;
pub mod clip;
pub mod config;
mod folder;
mod inversion;
pub mod scheduler;
pub mod tokenizer;
mod tokenizer_files;
pub mod unet;
pub mod vae;

pub use clip::{ClipTextConfig, ClipTextModel};
pub use config::WeightReport;
pub use folder::{picture_latents, png_bytes, to_dataset_shape, training_pictures, SampledFolder, SamplesRecord};
pub use inversion::{load_inversion_images, InversionConfig, InversionHistory, LearnableProperty, StepDraws, TextualInversion, OBJECT_TEMPLATES, STYLE_TEMPLATES};
pub use scheduler::{Prediction, Scheduler, SchedulerConfig};
pub use tokenizer::ClipTokenizer;
pub use unet::{UNet, UNetConfig};
pub use vae::{LatentDistribution, Vae, VaeConfig};

use crate::augment::AugRng;
use crate::{Error, Result};
use std::path::{Path, PathBuf};
use tch::{nn, Device, Kind, Tensor};

/// A Stable Diffusion pipeline: tokenizer, text encoder, UNet, VAE and schedule, and
/// any token embeddings added by textual inversion.
#[derive(Debug)]
pub struct StableDiffusion {
    dir: PathBuf,
    /// The CLIP tokenizer, with added tokens.
    pub tokenizer: ClipTokenizer,
    /// The text encoder (float32: its added rows are what textual inversion trains).
    pub text_encoder: ClipTextModel,
    /// The denoiser.
    pub unet: UNet,
    /// The autoencoder.
    pub vae: Vae,
    /// The noise schedule.
    pub scheduler: Scheduler,
    added: Option<Tensor>,
    stores: Vec<nn::VarStore>,
    device: Device,
    kind: Kind,
}

/// Options of [`StableDiffusion::sample`].
#[derive(Debug, Clone)]
pub struct SampleOptions {
    /// DDIM steps.
    pub steps: usize,
    /// Classifier-free guidance scale (1 turns guidance off).
    pub guidance: f64,
    /// The prompt guided away from ("" in diffusers by default).
    pub negative_prompt: String,
    /// Image height and width in pixels (multiples of the VAE's downscale, 8 in SD).
    pub size: (i64, i64),
    /// Seed of the starting latents.
    pub seed: u64,
}

impl Default for SampleOptions {
    fn default() -> Self {
        SampleOptions { steps: 25, guidance: 7.5, negative_prompt: String::new(), size: (512, 512), seed: 0 }
    }
}

fn component(dir: &Path, name: &str, file: &str) -> Result<PathBuf> {
    let p = dir.join(name).join(file);
    if p.is_file() {
        Ok(p)
    } else {
        Err(Error::Format { path: dir.into(), reason: format!("not a complete Stable Diffusion folder: component {name:?} is missing ({} not found)", p.display()) })
    }
}

impl StableDiffusion {
    /// Opens a diffusers-layout folder. The text encoder stays in float32; the UNet
    /// and the VAE are converted to `kind` (float32 on the CPU; float16 or bfloat16
    /// on CUDA halve their memory).
    pub fn open(dir: &Path, device: Device, kind: Kind) -> Result<Self> {
        let index = dir.join("model_index.json");
        if !index.is_file() {
            return Err(Error::Format { path: dir.into(), reason: "no model_index.json: not a diffusers pipeline folder".into() });
        }
        let text = std::fs::read_to_string(&index).map_err(|source| Error::Io { path: index.clone(), source })?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| Error::Format { path: index.clone(), reason: e.to_string() })?;
        if let Some(class) = v.get("_class_name").and_then(|c| c.as_str()) {
            if class.contains("XL") || class.contains("StableDiffusion3") || class.contains("Flux") {
                return Err(Error::Format { path: index, reason: format!("{class} is not supported: SD 1.x and 2.x pipelines are") });
            }
        }
        if !matches!(kind, Kind::Float | Kind::Half | Kind::BFloat16) {
            return Err(Error::invalid("dtype", format!("{kind:?}"), "must be float32, float16 or bfloat16"));
        }
        let tokenizer = ClipTokenizer::from_folder(&dir.join("tokenizer"))?;
        let te_config = ClipTextConfig::read(&component(dir, "text_encoder", "config.json")?)?;
        let unet_config = UNetConfig::read(&component(dir, "unet", "config.json")?)?;
        let vae_config = VaeConfig::read(&component(dir, "vae", "config.json")?)?;
        let scheduler = Scheduler::read(&component(dir, "scheduler", "scheduler_config.json")?)?;
        if unet_config.cross_attention_dim != te_config.hidden_size {
            return Err(Error::Format { path: dir.join("unet/config.json"), reason: format!("cross_attention_dim {} differs from the text encoder's hidden_size {}", unet_config.cross_attention_dim, te_config.hidden_size) });
        }
        if tokenizer.len() as i64 > te_config.vocab_size {
            return Err(Error::Format { path: dir.join("tokenizer"), reason: format!("{} tokens, but the text encoder has {} rows", tokenizer.len(), te_config.vocab_size) });
        }

        let te_vs = nn::VarStore::new(device);
        let text_encoder = ClipTextModel::new(&te_vs.root(), &te_config);
        config::load_strict(&te_vs, &config::weight_files(&dir.join("text_encoder"), "model")?, "CLIPTextModel", |k| {
            // transformers 4 (the SD repositories) writes `text_model.…`; transformers 5 drops the prefix
            if k.starts_with("text_model.") { k.to_string() } else { format!("text_model.{k}") }
        })?;
        let mut unet_vs = nn::VarStore::new(device);
        let unet = UNet::new(&unet_vs.root(), &unet_config)?;
        config::load_strict(&unet_vs, &config::weight_files(&dir.join("unet"), "diffusion_pytorch_model")?, "UNet2DConditionModel", str::to_string)?;
        let mut vae_vs = nn::VarStore::new(device);
        let vae = Vae::new(&vae_vs.root(), &vae_config);
        config::load_strict(&vae_vs, &config::weight_files(&dir.join("vae"), "diffusion_pytorch_model")?, "AutoencoderKL", str::to_string)?;
        for vs in [&mut unet_vs, &mut vae_vs] {
            vs.set_kind(kind);
            vs.freeze();
        }
        let mut te_vs = te_vs;
        te_vs.freeze();
        Ok(StableDiffusion { dir: dir.into(), tokenizer, text_encoder, unet, vae, scheduler, added: None, stores: vec![te_vs, unet_vs, vae_vs], device, kind })
    }

    /// The dtype [`StableDiffusion::open`] is given by default: float32 on the CPU,
    /// float16 on CUDA (half the memory of the UNet and VAE).
    pub fn default_kind(device: Device) -> Kind {
        if device == Device::Cpu { Kind::Float } else { Kind::Half }
    }

    /// The folder it was read from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The device it runs on.
    pub fn device(&self) -> Device {
        self.device
    }

    /// The dtype of the UNet and the VAE.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Every weight of the text encoder, UNet and VAE by name (for checks that
    /// nothing outside the added rows changed).
    pub fn weights(&self) -> Vec<(String, Tensor)> {
        let mut out = vec![];
        for (prefix, vs) in ["text_encoder", "unet", "vae"].iter().zip(&self.stores) {
            let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().map(|(k, v)| (format!("{prefix}.{k}"), v)).collect();
            vars.sort_by(|a, b| a.0.cmp(&b.0));
            out.extend(vars);
        }
        out
    }

    /// The embedding rows of tokens added to the tokenizer, `[n, hidden]`, if any.
    pub fn added_embeddings(&self) -> Option<&Tensor> {
        self.added.as_ref()
    }

    /// Adds `tokens` to the tokenizer with the given embedding rows (`[n, hidden]`);
    /// their ids follow the vocabulary's. Refuses a token already present.
    pub fn add_tokens(&mut self, tokens: &[&str], rows: &Tensor) -> Result<Vec<i64>> {
        let hidden = self.text_encoder.config().hidden_size;
        if rows.size() != [tokens.len() as i64, hidden] {
            return Err(Error::shape("added token embeddings", format!("[{}, {hidden}]", tokens.len()), format!("{:?}", rows.size())));
        }
        let base = self.text_encoder.config().vocab_size;
        let before = self.added.as_ref().map_or(0, |a| a.size()[0]);
        if self.tokenizer.len() as i64 != base + before {
            // a tokenizer smaller than the table (SD 2.x pads the table): added ids must follow the table
            return Err(Error::Format { path: self.dir.join("tokenizer"), reason: format!("the tokenizer has {} tokens but the text encoder {} rows: tokens cannot be added", self.tokenizer.len(), base + before) });
        }
        let ids = self.tokenizer.add_tokens(tokens)?;
        let rows = rows.detach().to_device(self.device).to_kind(Kind::Float);
        self.added = Some(match self.added.take() {
            Some(a) => Tensor::cat(&[a, rows], 0),
            None => rows,
        });
        Ok(ids)
    }

    /// Replaces added rows `offset..offset + rows.len()` (textual inversion's result).
    pub(crate) fn set_added_rows(&mut self, offset: i64, rows: &Tensor) {
        if let Some(a) = &self.added {
            let n = rows.size()[0];
            let mut parts = vec![a.narrow(0, 0, offset), rows.to_device(self.device).to_kind(Kind::Float)];
            let rest = a.size()[0] - offset - n;
            if rest > 0 {
                parts.push(a.narrow(0, offset + n, rest));
            }
            self.added = Some(Tensor::cat(&parts, 0));
        }
    }

    /// The embedding row of a token of the vocabulary (or an added one).
    pub fn token_embedding(&self, id: i64) -> Result<Tensor> {
        let base = self.text_encoder.config().vocab_size;
        let added = self.added.as_ref().map_or(0, |a| a.size()[0]);
        if id < 0 || id >= base + added {
            return Err(Error::invalid("token id", id, format!("must be below {}", base + added)));
        }
        Ok(match &self.added {
            Some(rows) if id >= base => rows.get(id - base).copy(),
            _ => self.text_encoder.token_table().get(id).detach().copy(),
        })
    }

    /// Token ids `[B, max_length]` of `prompts`, padded as the pipeline pads them.
    pub fn token_ids(&self, prompts: &[&str]) -> Tensor {
        let rows: Vec<Tensor> = prompts.iter().map(|p| Tensor::from_slice(&self.tokenizer.encode_padded(p))).collect();
        Tensor::stack(&rows, 0).to_device(self.device)
    }

    /// Text states `[B, L, hidden]` for `prompts`, added tokens included.
    pub fn encode_prompts(&self, prompts: &[&str]) -> Tensor {
        tch::no_grad(|| self.text_encoder.forward_with(&self.token_ids(prompts), self.added.as_ref()))
    }

    /// Reads `learned_embeds.safetensors` as diffusers' textual-inversion script
    /// writes it (one key, the token, holding `[n, hidden]` or `[hidden]`) and adds
    /// the token — with `_1`, `_2`, … for further vectors, as diffusers does — under
    /// its own name or `token`. Returns the tokens added.
    pub fn load_textual_inversion(&mut self, file: &Path, token: Option<&str>) -> Result<Vec<String>> {
        let named = crate::io::read_safetensors(file)?;
        let (key, rows) = match named.as_slice() {
            [(k, t)] => (k.clone(), t.shallow_clone()),
            _ => {
                let keys: Vec<&str> = named.iter().map(|(k, _)| k.as_str()).collect();
                return Err(Error::Format { path: file.into(), reason: format!("expected one tensor named by its token, found keys {keys:?}") });
            }
        };
        let rows = if rows.dim() == 1 { rows.unsqueeze(0) } else { rows };
        let hidden = self.text_encoder.config().hidden_size;
        if rows.dim() != 2 || rows.size()[1] != hidden {
            return Err(Error::Format { path: file.into(), reason: format!("tensor {key:?} has shape {:?}; this text encoder needs [n, {hidden}]", rows.size()) });
        }
        let name = token.map(str::to_string).unwrap_or(key);
        let tokens: Vec<String> = (0..rows.size()[0]).map(|i| if i == 0 { name.clone() } else { format!("{name}_{i}") }).collect();
        let refs: Vec<&str> = tokens.iter().map(String::as_str).collect();
        self.add_tokens(&refs, &rows).map_err(|e| Error::Format { path: file.into(), reason: e.to_string() })?;
        Ok(tokens)
    }

    /// A prompt with every multi-vector token `T` written out as `T T_1 … T_{n-1}`,
    /// as diffusers' `maybe_convert_prompt` does.
    pub fn expand_prompt(&self, prompt: &str) -> String {
        let base = self.text_encoder.config().vocab_size;
        let added = |t: &str| self.tokenizer.token_id(t).is_some_and(|id| id >= base);
        let words: Vec<String> = prompt
            .split(' ')
            .map(|w| {
                let mut out = w.to_string();
                if added(w) {
                    let mut i = 1;
                    while added(&format!("{w}_{i}")) {
                        out.push_str(&format!(" {w}_{i}"));
                        i += 1;
                    }
                }
                out
            })
            .collect();
        words.join(" ")
    }

    /// `n` images for `prompt` in [0, 1], `[n, 3, H, W]` (float32 on the CPU):
    /// Gaussian latents from `seed`, DDIM with classifier-free guidance, the VAE's
    /// decoder.
    pub fn sample(&self, prompt: &str, n: usize, opts: &SampleOptions) -> Result<Tensor> {
        let ds = self.vae.downscale() * (1 << (self.unet.config().block_out_channels.len() - 1));
        let (h, w) = opts.size;
        if h <= 0 || w <= 0 || h % ds != 0 || w % ds != 0 {
            return Err(Error::invalid("image size", format!("{h}x{w}"), format!("must be positive multiples of {ds}")));
        }
        if n == 0 {
            return Err(Error::invalid("number of images", 0, "must be at least 1"));
        }
        let lat = self.unet.config().in_channels;
        let f = self.vae.downscale();
        let mut rng = AugRng::new(opts.seed);
        let start = rng.normal_like(&Tensor::zeros([n as i64, lat, h / f, w / f], (Kind::Float, Device::Cpu)));
        self.sample_from(prompt, &start, opts)
    }

    /// [`StableDiffusion::sample`] from given starting latents `[n, 4, h, w]`.
    pub fn sample_from(&self, prompt: &str, start: &Tensor, opts: &SampleOptions) -> Result<Tensor> {
        let size = start.size();
        let lat = self.unet.config().in_channels;
        let [n, c, _, _] = size[..] else {
            return Err(Error::shape("starting latents", format!("[n, {lat}, h, w]"), format!("{size:?}")));
        };
        if c != lat {
            return Err(Error::shape("starting latents", format!("[n, {lat}, h, w]"), format!("{size:?}")));
        }
        let timesteps = self.scheduler.ddim_timesteps(opts.steps)?;
        let prompt = self.expand_prompt(prompt);
        let negative = self.expand_prompt(&opts.negative_prompt);
        Ok(tch::no_grad(|| {
            let cond = self.encode_prompts(&[prompt.as_str()]).expand([n, -1, -1], false);
            let uncond = self.encode_prompts(&[negative.as_str()]).expand([n, -1, -1], false);
            let guided = opts.guidance > 1.0;
            let context = if guided { Tensor::cat(&[&uncond, &cond], 0) } else { cond.shallow_clone() }.to_kind(self.kind);
            let mut x = start.to_device(self.device).to_kind(Kind::Float);
            for &t in &timesteps {
                let xin = if guided { Tensor::cat(&[&x, &x], 0) } else { x.shallow_clone() };
                let tt = Tensor::from_slice(&[t]).to_device(self.device);
                let out = self.unet.forward(&xin.to_kind(self.kind), &tt, &context).to_kind(Kind::Float);
                let pred = if guided {
                    let parts = out.chunk(2, 0);
                    &parts[0] + (&parts[1] - &parts[0]) * opts.guidance
                } else {
                    out
                };
                x = self.scheduler.ddim_step(&pred, t, &x, opts.steps);
            }
            let scale = self.vae.config().scaling_factor;
            let img = self.vae.decode(&(x / scale).to_kind(self.kind)).to_kind(Kind::Float);
            (img / 2.0 + 0.5).clamp(0.0, 1.0).to_device(Device::Cpu)
        }))
    }
}
