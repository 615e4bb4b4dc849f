//! `UNet2DConditionModel` as Stable Diffusion 1.x and 2.x configure it.

use super::blocks::{group_norm, Downsample, ResnetBlock, SpatialTransformer, Upsample};
use super::config::{check_levels, read_config, ConfigValue, PerBlock};
use crate::{Error, Result};
use serde::Deserialize;
use std::path::Path;
use tch::nn::{self, Module};
use tch::{Kind, Tensor};

/// `unet/config.json`. Fields that SD 1.x/2.x leave at their defaults are checked to
/// be at them, so a config this implementation would misread is refused by name.
#[derive(Debug, Clone, Deserialize)]
pub struct UNetConfig {
    /// Latent channels in (4).
    pub in_channels: i64,
    /// Latent channels out (4).
    pub out_channels: i64,
    /// Channels of each resolution level.
    pub block_out_channels: Vec<i64>,
    /// `CrossAttnDownBlock2D` or `DownBlock2D`, one per level.
    pub down_block_types: Vec<String>,
    /// `CrossAttnUpBlock2D` or `UpBlock2D`, one per level (deepest first).
    pub up_block_types: Vec<String>,
    /// Resnet blocks per down block (up blocks have one more).
    pub layers_per_block: i64,
    /// Width of the text encoder's hidden states.
    pub cross_attention_dim: i64,
    /// diffusers' historical name for the number of heads, an int or one per block.
    pub attention_head_dim: PerBlock,
    /// The number of heads when set (newer configs); `attention_head_dim` otherwise.
    #[serde(default)]
    pub num_attention_heads: Option<PerBlock>,
    /// Group-norm groups.
    #[serde(default = "groups")]
    pub norm_num_groups: i64,
    /// Resnet group-norm epsilon.
    #[serde(default = "eps")]
    pub norm_eps: f64,
    /// Linear projections in and out of the transformers (SD 2.x).
    #[serde(default)]
    pub use_linear_projection: bool,
    /// Transformer blocks per attention (1 in SD 1.x/2.x).
    #[serde(default = "one")]
    pub transformer_layers_per_block: PerBlock,
    /// Sinusoid order of the timestep embedding.
    #[serde(default = "yes")]
    pub flip_sin_to_cos: bool,
    /// Frequency shift of the timestep embedding.
    #[serde(default)]
    pub freq_shift: i64,
    /// Stride-1 padding of the downsamplers.
    #[serde(default = "one_i")]
    pub downsample_padding: i64,
    /// Scale of the mid block's resnet outputs.
    #[serde(default = "one_f")]
    pub mid_block_scale_factor: f64,
    /// Must be `UNetMidBlock2DCrossAttn` (or absent).
    #[serde(default)]
    pub mid_block_type: Option<String>,
    /// The latent size the model was trained at (64 for 512-pixel SD 1.x).
    #[serde(default)]
    pub sample_size: Option<i64>,
    #[serde(default)]
    act_fn: Option<String>,
    #[serde(default)]
    resnet_time_scale_shift: Option<String>,
    #[serde(default)]
    class_embed_type: Option<String>,
    #[serde(default)]
    addition_embed_type: Option<String>,
    #[serde(default)]
    only_cross_attention: Option<serde_json::Value>,
    #[serde(default)]
    upcast_attention: Option<bool>,
    #[serde(default)]
    time_embedding_type: Option<String>,
    #[serde(default)]
    center_input_sample: Option<bool>,
}

fn groups() -> i64 {
    32
}
fn eps() -> f64 {
    1e-5
}
fn one() -> PerBlock {
    PerBlock::One(1)
}
fn one_i() -> i64 {
    1
}
fn one_f() -> f64 {
    1.0
}
fn yes() -> bool {
    true
}

impl ConfigValue for UNetConfig {
    fn check(&self, path: &Path) -> Result<()> {
        let bad = |reason: String| Err(Error::Format { path: path.into(), reason });
        let n = self.block_out_channels.len();
        if n == 0 || self.down_block_types.len() != n || self.up_block_types.len() != n {
            return bad(format!("{n} block_out_channels, {} down_block_types, {} up_block_types: they must agree", self.down_block_types.len(), self.up_block_types.len()));
        }
        check_levels(&self.block_out_channels, self.norm_num_groups).or_else(bad)?;
        for t in &self.down_block_types {
            if !matches!(t.as_str(), "CrossAttnDownBlock2D" | "DownBlock2D") {
                return bad(format!("down block type {t:?} is not supported (CrossAttnDownBlock2D, DownBlock2D)"));
            }
        }
        for t in &self.up_block_types {
            if !matches!(t.as_str(), "CrossAttnUpBlock2D" | "UpBlock2D") {
                return bad(format!("up block type {t:?} is not supported (CrossAttnUpBlock2D, UpBlock2D)"));
            }
        }
        if let Some(t) = self.mid_block_type.as_deref().filter(|t| *t != "UNetMidBlock2DCrossAttn") {
            return bad(format!("mid block type {t:?} is not supported (UNetMidBlock2DCrossAttn)"));
        }
        let defaults: [(&str, bool); 8] = [
            ("act_fn other than silu", self.act_fn.as_deref().is_some_and(|a| a != "silu")),
            ("resnet_time_scale_shift other than default", self.resnet_time_scale_shift.as_deref().is_some_and(|a| a != "default")),
            ("class_embed_type", self.class_embed_type.is_some()),
            ("addition_embed_type (SDXL)", self.addition_embed_type.is_some()),
            ("only_cross_attention", self.only_cross_attention.as_ref().is_some_and(|v| v.as_bool() != Some(false))),
            ("upcast_attention", self.upcast_attention == Some(true)),
            ("time_embedding_type other than positional", self.time_embedding_type.as_deref().is_some_and(|a| a != "positional")),
            ("center_input_sample", self.center_input_sample == Some(true)),
        ];
        if let Some((what, _)) = defaults.iter().find(|d| d.1) {
            return bad(format!("{what} is not supported (SD 1.x and 2.x leave it at its default)"));
        }
        if self.mid_block_scale_factor != 1.0 {
            return bad(format!("mid_block_scale_factor {} is not supported (1)", self.mid_block_scale_factor));
        }
        let heads = self.heads(path)?;
        for (c, h) in self.block_out_channels.iter().zip(&heads) {
            if *h <= 0 || c % h != 0 {
                return bad(format!("{c} channels do not split into {h} attention heads"));
            }
            if c % self.norm_num_groups != 0 {
                return bad(format!("{c} channels do not split into {} norm groups", self.norm_num_groups));
            }
        }
        self.transformer_layers_per_block.expand(n, "transformer_layers_per_block", path)?;
        Ok(())
    }
}

impl UNetConfig {
    /// Reads and checks `config.json`.
    pub fn read(path: &Path) -> Result<Self> {
        read_config(path)
    }

    /// Attention heads per down block (diffusers reads `attention_head_dim` as the
    /// number of heads when `num_attention_heads` is absent).
    pub fn heads(&self, path: &Path) -> Result<Vec<i64>> {
        let n = self.block_out_channels.len();
        self.num_attention_heads.as_ref().unwrap_or(&self.attention_head_dim).expand(n, "attention_head_dim", path)
    }
}

#[derive(Debug)]
struct DownBlock {
    resnets: Vec<ResnetBlock>,
    attentions: Vec<SpatialTransformer>,
    down: Option<Downsample>,
}

#[derive(Debug)]
struct UpBlock {
    resnets: Vec<ResnetBlock>,
    attentions: Vec<SpatialTransformer>,
    up: Option<Upsample>,
}

/// The denoiser: noisy latents, timesteps and text states in, the prediction
/// (noise or velocity, as the scheduler says) out.
#[derive(Debug)]
pub struct UNet {
    config: UNetConfig,
    conv_in: nn::Conv2D,
    time_1: nn::Linear,
    time_2: nn::Linear,
    down: Vec<DownBlock>,
    mid_resnets: [ResnetBlock; 2],
    mid_attention: SpatialTransformer,
    up: Vec<UpBlock>,
    norm_out: nn::GroupNorm,
    conv_out: nn::Conv2D,
}

impl UNet {
    /// Builds the variables under `p` (the store's root) from a checked config.
    pub fn new(p: &nn::Path, config: &UNetConfig) -> Result<Self> {
        let path = Path::new("unet/config.json");
        let heads = config.heads(path)?;
        let n = config.block_out_channels.len();
        let layers = config.transformer_layers_per_block.expand(n, "transformer_layers_per_block", path)?;
        let ch = &config.block_out_channels;
        let (g, eps, ctx, lin) = (config.norm_num_groups, config.norm_eps, config.cross_attention_dim, config.use_linear_projection);
        let temb = ch[0] * 4;
        let conv3 = |q: nn::Path, a: i64, b: i64| nn::conv2d(q, a, b, 3, nn::ConvConfig { padding: 1, ..Default::default() });
        let mut down = vec![];
        let mut cin = ch[0];
        for (i, t) in config.down_block_types.iter().enumerate() {
            let b = p / "down_blocks" / i;
            let cout = ch[i];
            let cross = t == "CrossAttnDownBlock2D";
            let resnets = (0..config.layers_per_block).map(|j| ResnetBlock::new(&b / "resnets" / j, if j == 0 { cin } else { cout }, cout, Some(temb), g, eps)).collect();
            let attentions = if cross { (0..config.layers_per_block).map(|j| SpatialTransformer::new(&b / "attentions" / j, cout, heads[i], layers[i], ctx, g, lin)).collect() } else { vec![] };
            let last = i + 1 == n;
            down.push(DownBlock { resnets, attentions, down: (!last).then(|| Downsample::new(&b / "downsamplers" / 0, cout, config.downsample_padding)) });
            cin = cout;
        }
        let m = p / "mid_block";
        let top = ch[n - 1];
        let mid_resnets = [ResnetBlock::new(&m / "resnets" / 0, top, top, Some(temb), g, eps), ResnetBlock::new(&m / "resnets" / 1, top, top, Some(temb), g, eps)];
        let mid_attention = SpatialTransformer::new(&m / "attentions" / 0, top, heads[n - 1], layers[n - 1], ctx, g, lin);
        let rev: Vec<i64> = ch.iter().rev().copied().collect();
        let rev_heads: Vec<i64> = heads.iter().rev().copied().collect();
        let rev_layers: Vec<i64> = layers.iter().rev().copied().collect();
        let mut up = vec![];
        let mut prev = rev[0];
        for (i, t) in config.up_block_types.iter().enumerate() {
            let b = p / "up_blocks" / i;
            let cout = rev[i];
            let cin = rev[(i + 1).min(n - 1)];
            let cross = t == "CrossAttnUpBlock2D";
            let count = config.layers_per_block + 1;
            let resnets = (0..count)
                .map(|j| {
                    let skip = if j == count - 1 { cin } else { cout };
                    let r_in = if j == 0 { prev } else { cout };
                    ResnetBlock::new(&b / "resnets" / j, r_in + skip, cout, Some(temb), g, eps)
                })
                .collect();
            let attentions = if cross { (0..count).map(|j| SpatialTransformer::new(&b / "attentions" / j, cout, rev_heads[i], rev_layers[i], ctx, g, lin)).collect() } else { vec![] };
            let last = i + 1 == n;
            up.push(UpBlock { resnets, attentions, up: (!last).then(|| Upsample::new(&b / "upsamplers" / 0, cout)) });
            prev = cout;
        }
        Ok(UNet {
            config: config.clone(),
            conv_in: conv3(p / "conv_in", config.in_channels, ch[0]),
            time_1: nn::linear(p / "time_embedding" / "linear_1", ch[0], temb, Default::default()),
            time_2: nn::linear(p / "time_embedding" / "linear_2", temb, temb, Default::default()),
            down,
            mid_resnets,
            mid_attention,
            up,
            norm_out: group_norm(p / "conv_norm_out", g, ch[0], eps),
            conv_out: conv3(p / "conv_out", ch[0], config.out_channels),
        })
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &UNetConfig {
        &self.config
    }

    /// diffusers' `get_timestep_embedding`: sinusoids of `t` (`[B]`) at `dim`
    /// frequencies.
    pub fn timestep_embedding(&self, t: &Tensor, dim: i64) -> Tensor {
        let half = dim / 2;
        let shift = self.config.freq_shift as f64;
        let exponent = Tensor::arange(half, (Kind::Float, t.device())) * (-(10000f64.ln())) / (half as f64 - shift);
        let arg = t.to_kind(Kind::Float).unsqueeze(1) * exponent.exp().unsqueeze(0);
        let (sin, cos) = (arg.sin(), arg.cos());
        let emb = if self.config.flip_sin_to_cos { Tensor::cat(&[cos, sin], 1) } else { Tensor::cat(&[sin, cos], 1) };
        if dim % 2 == 1 {
            emb.constant_pad_nd([0, 1])
        } else {
            emb
        }
    }

    /// The prediction for latents `x` `[B, C, H, W]` at timesteps `t` (`[B]` or one
    /// value) under text states `context` `[B, L, D]`.
    pub fn forward(&self, x: &Tensor, t: &Tensor, context: &Tensor) -> Tensor {
        let b = x.size()[0];
        let t = if t.numel() == 1 { t.reshape([1]).expand([b], false) } else { t.shallow_clone() };
        let emb = self.timestep_embedding(&t, self.config.block_out_channels[0]).to_kind(x.kind());
        let emb = self.time_2.forward(&self.time_1.forward(&emb).silu());
        let context = context.to_kind(x.kind());
        let mut h = self.conv_in.forward(x);
        let mut skips = vec![h.shallow_clone()];
        for block in &self.down {
            for (j, r) in block.resnets.iter().enumerate() {
                h = r.forward(&h, Some(&emb));
                if let Some(a) = block.attentions.get(j) {
                    h = a.forward(&h, &context);
                }
                skips.push(h.shallow_clone());
            }
            if let Some(d) = &block.down {
                h = d.forward(&h);
                skips.push(h.shallow_clone());
            }
        }
        h = self.mid_resnets[0].forward(&h, Some(&emb));
        h = self.mid_attention.forward(&h, &context);
        h = self.mid_resnets[1].forward(&h, Some(&emb));
        for block in &self.up {
            for (j, r) in block.resnets.iter().enumerate() {
                let skip = skips.pop().expect("one skip per up resnet");
                h = r.forward(&Tensor::cat(&[&h, &skip], 1), Some(&emb));
                if let Some(a) = block.attentions.get(j) {
                    h = a.forward(&h, &context);
                }
            }
            if let Some(u) = &block.up {
                // to the size of the skip it meets next, so odd sizes come back exactly
                let size = skips.last().map(|s| {
                    let z = s.size();
                    [z[2], z[3]]
                });
                h = u.forward(&h, size);
            }
        }
        self.conv_out.forward(&self.norm_out.forward(&h).silu())
    }
}
