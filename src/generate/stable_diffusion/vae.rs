//! `AutoencoderKL`: images to a diagonal Gaussian over latents, and latents back.

use super::blocks::{group_norm, Downsample, ResnetBlock, Upsample, VaeAttention};
use super::config::{check_levels, read_config, ConfigValue};
use crate::{Error, Result};
use serde::Deserialize;
use std::path::Path;
use tch::nn::{self, Module};
use tch::Tensor;

/// `vae/config.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct VaeConfig {
    /// Image channels (3).
    pub in_channels: i64,
    /// Image channels out (3).
    pub out_channels: i64,
    /// Channels of each level.
    pub block_out_channels: Vec<i64>,
    /// `DownEncoderBlock2D` per level.
    pub down_block_types: Vec<String>,
    /// `UpDecoderBlock2D` per level.
    pub up_block_types: Vec<String>,
    /// Resnets per encoder block (decoder blocks have one more).
    pub layers_per_block: i64,
    /// Latent channels (4).
    pub latent_channels: i64,
    /// The picture side it was trained at (512 in SD 1.x, 768 in 2.x), if stated.
    #[serde(default)]
    pub sample_size: Option<i64>,
    /// Group-norm groups.
    #[serde(default = "groups")]
    pub norm_num_groups: i64,
    /// Latents are multiplied by this before the UNet sees them (0.18215 in SD).
    #[serde(default = "scaling")]
    pub scaling_factor: f64,
    /// Whether the 1×1 `quant_conv` is present.
    #[serde(default = "yes")]
    pub use_quant_conv: bool,
    /// Whether the 1×1 `post_quant_conv` is present.
    #[serde(default = "yes")]
    pub use_post_quant_conv: bool,
    /// Whether the mid blocks have attention.
    #[serde(default = "yes")]
    pub mid_block_add_attention: bool,
    #[serde(default)]
    shift_factor: Option<f64>,
    #[serde(default)]
    act_fn: Option<String>,
}

fn groups() -> i64 {
    32
}
fn scaling() -> f64 {
    0.18215
}
fn yes() -> bool {
    true
}

impl ConfigValue for VaeConfig {
    fn check(&self, path: &Path) -> Result<()> {
        let bad = |reason: String| Err(Error::Format { path: path.into(), reason });
        let n = self.block_out_channels.len();
        if n == 0 || self.down_block_types.len() != n || self.up_block_types.len() != n {
            return bad("block_out_channels, down_block_types and up_block_types must have one entry per level".into());
        }
        check_levels(&self.block_out_channels, self.norm_num_groups).or_else(bad)?;
        if let Some(t) = self.down_block_types.iter().find(|t| *t != "DownEncoderBlock2D") {
            return bad(format!("down block type {t:?} is not supported (DownEncoderBlock2D)"));
        }
        if let Some(t) = self.up_block_types.iter().find(|t| *t != "UpDecoderBlock2D") {
            return bad(format!("up block type {t:?} is not supported (UpDecoderBlock2D)"));
        }
        if self.shift_factor.is_some_and(|s| s != 0.0) {
            return bad("shift_factor is not supported (SD 1.x and 2.x have none)".into());
        }
        if self.act_fn.as_deref().is_some_and(|a| a != "silu") {
            return bad(format!("act_fn {:?} is not supported (silu)", self.act_fn));
        }
        if let Some(c) = self.block_out_channels.iter().find(|c| *c % self.norm_num_groups != 0) {
            return bad(format!("{c} channels do not split into {} norm groups", self.norm_num_groups));
        }
        Ok(())
    }
}

impl VaeConfig {
    /// Reads and checks `config.json`.
    pub fn read(path: &Path) -> Result<Self> {
        read_config(path)
    }
}

#[derive(Debug)]
struct Mid {
    r0: ResnetBlock,
    attn: Option<VaeAttention>,
    r1: ResnetBlock,
}

impl Mid {
    fn new(p: nn::Path, c: i64, g: i64, with_attention: bool) -> Self {
        Mid {
            r0: ResnetBlock::new(&p / "resnets" / 0, c, c, None, g, 1e-6),
            attn: with_attention.then(|| VaeAttention::new(&p / "attentions" / 0, c, g, 1e-6)),
            r1: ResnetBlock::new(&p / "resnets" / 1, c, c, None, g, 1e-6),
        }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let h = self.r0.forward(x, None);
        let h = match &self.attn {
            Some(a) => a.forward(&h),
            None => h,
        };
        self.r1.forward(&h, None)
    }
}

/// The latent distribution an image encodes to.
#[derive(Debug)]
pub struct LatentDistribution {
    /// Mean, `[B, latent, h, w]`.
    pub mean: Tensor,
    /// Standard deviation (from the log-variance clamped to [-30, 20], as diffusers does).
    pub std: Tensor,
}

impl LatentDistribution {
    /// `mean + std * noise`: a sample with the noise given (drawn by the caller, so
    /// that runs replay exactly).
    pub fn sample_with(&self, noise: &Tensor) -> Tensor {
        &self.mean + &self.std * noise
    }
}

/// The variational autoencoder of Stable Diffusion.
#[derive(Debug)]
pub struct Vae {
    config: VaeConfig,
    enc_in: nn::Conv2D,
    enc_blocks: Vec<(Vec<ResnetBlock>, Option<Downsample>)>,
    enc_mid: Mid,
    enc_norm: nn::GroupNorm,
    enc_out: nn::Conv2D,
    quant: Option<nn::Conv2D>,
    post_quant: Option<nn::Conv2D>,
    dec_in: nn::Conv2D,
    dec_mid: Mid,
    dec_blocks: Vec<(Vec<ResnetBlock>, Option<Upsample>)>,
    dec_norm: nn::GroupNorm,
    dec_out: nn::Conv2D,
}

impl Vae {
    /// Builds the variables under `p` (the store's root) from a checked config.
    pub fn new(p: &nn::Path, config: &VaeConfig) -> Self {
        let ch = &config.block_out_channels;
        let n = ch.len();
        let g = config.norm_num_groups;
        let lat = config.latent_channels;
        let conv = |q: nn::Path, a: i64, b: i64, k: i64| nn::conv2d(q, a, b, k, nn::ConvConfig { padding: k / 2, ..Default::default() });
        let e = p / "encoder";
        let mut enc_blocks = vec![];
        let mut cin = ch[0];
        for (i, &cout) in ch.iter().enumerate() {
            let b = &e / "down_blocks" / i;
            let resnets = (0..config.layers_per_block).map(|j| ResnetBlock::new(&b / "resnets" / j, if j == 0 { cin } else { cout }, cout, None, g, 1e-6)).collect();
            enc_blocks.push((resnets, (i + 1 < n).then(|| Downsample::new(&b / "downsamplers" / 0, cout, 0))));
            cin = cout;
        }
        let d = p / "decoder";
        let rev: Vec<i64> = ch.iter().rev().copied().collect();
        let mut dec_blocks = vec![];
        let mut prev = rev[0];
        for (i, &cout) in rev.iter().enumerate() {
            let b = &d / "up_blocks" / i;
            let resnets = (0..config.layers_per_block + 1).map(|j| ResnetBlock::new(&b / "resnets" / j, if j == 0 { prev } else { cout }, cout, None, g, 1e-6)).collect();
            dec_blocks.push((resnets, (i + 1 < n).then(|| Upsample::new(&b / "upsamplers" / 0, cout))));
            prev = cout;
        }
        Vae {
            config: config.clone(),
            enc_in: conv(&e / "conv_in", config.in_channels, ch[0], 3),
            enc_blocks,
            enc_mid: Mid::new(&e / "mid_block", ch[n - 1], g, config.mid_block_add_attention),
            enc_norm: group_norm(&e / "conv_norm_out", g, ch[n - 1], 1e-6),
            enc_out: conv(&e / "conv_out", ch[n - 1], 2 * lat, 3),
            quant: config.use_quant_conv.then(|| conv(p / "quant_conv", 2 * lat, 2 * lat, 1)),
            post_quant: config.use_post_quant_conv.then(|| conv(p / "post_quant_conv", lat, lat, 1)),
            dec_in: conv(&d / "conv_in", lat, ch[n - 1], 3),
            dec_mid: Mid::new(&d / "mid_block", ch[n - 1], g, config.mid_block_add_attention),
            dec_blocks,
            dec_norm: group_norm(&d / "conv_norm_out", g, ch[0], 1e-6),
            dec_out: conv(&d / "conv_out", ch[0], config.out_channels, 3),
        }
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &VaeConfig {
        &self.config
    }

    /// How many times smaller the latents are than the images (8 in SD).
    pub fn downscale(&self) -> i64 {
        1 << (self.config.block_out_channels.len() - 1)
    }

    /// Images in [-1, 1], `[B, 3, H, W]`, to their latent distribution (unscaled).
    pub fn encode(&self, x: &Tensor) -> LatentDistribution {
        let mut h = self.enc_in.forward(x);
        for (resnets, down) in &self.enc_blocks {
            for r in resnets {
                h = r.forward(&h, None);
            }
            if let Some(d) = down {
                h = d.forward(&h);
            }
        }
        h = self.enc_out.forward(&self.enc_norm.forward(&self.enc_mid.forward(&h)).silu());
        if let Some(q) = &self.quant {
            h = q.forward(&h);
        }
        let parts = h.chunk(2, 1);
        let logvar = parts[1].clamp(-30.0, 20.0);
        LatentDistribution { mean: parts[0].shallow_clone(), std: (logvar * 0.5).exp() }
    }

    /// Latents (unscaled: divide the UNet's by [`VaeConfig::scaling_factor`]) to images
    /// in about [-1, 1].
    pub fn decode(&self, z: &Tensor) -> Tensor {
        let mut h = match &self.post_quant {
            Some(q) => q.forward(z),
            None => z.shallow_clone(),
        };
        h = self.dec_mid.forward(&self.dec_in.forward(&h));
        for (resnets, up) in &self.dec_blocks {
            for r in resnets {
                h = r.forward(&h, None);
            }
            if let Some(u) = up {
                h = u.forward(&h, None);
            }
        }
        self.dec_out.forward(&self.dec_norm.forward(&h).silu())
    }
}
