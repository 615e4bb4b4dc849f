//! The layers diffusers' UNet and VAE are built from, with diffusers' variable names:
//! `ResnetBlock2D`, the attention of `Transformer2DModel` (and the VAE's single-head
//! one), `Downsample2D` and `Upsample2D`.

use tch::nn::{self, Module};
use tch::Tensor;

fn conv(p: nn::Path, cin: i64, cout: i64, k: i64, stride: i64, padding: i64) -> nn::Conv2D {
    nn::conv2d(p, cin, cout, k, nn::ConvConfig { stride, padding, ..Default::default() })
}

/// `GroupNorm` with diffusers' names (`weight`, `bias`).
pub fn group_norm(p: nn::Path, groups: i64, channels: i64, eps: f64) -> nn::GroupNorm {
    nn::group_norm(p, groups, channels, nn::GroupNormConfig { eps, ..Default::default() })
}

/// `ResnetBlock2D` (time-conditioned in the UNet, unconditioned in the VAE).
#[derive(Debug)]
pub struct ResnetBlock {
    norm1: nn::GroupNorm,
    conv1: nn::Conv2D,
    time_emb_proj: Option<nn::Linear>,
    norm2: nn::GroupNorm,
    conv2: nn::Conv2D,
    shortcut: Option<nn::Conv2D>,
}

impl ResnetBlock {
    /// A block from `cin` to `cout` channels; `temb` is the time embedding's width.
    pub fn new(p: nn::Path, cin: i64, cout: i64, temb: Option<i64>, groups: i64, eps: f64) -> Self {
        ResnetBlock {
            norm1: group_norm(&p / "norm1", groups, cin, eps),
            conv1: conv(&p / "conv1", cin, cout, 3, 1, 1),
            time_emb_proj: temb.map(|t| nn::linear(&p / "time_emb_proj", t, cout, Default::default())),
            norm2: group_norm(&p / "norm2", groups, cout, eps),
            conv2: conv(&p / "conv2", cout, cout, 3, 1, 1),
            shortcut: (cin != cout).then(|| conv(&p / "conv_shortcut", cin, cout, 1, 1, 0)),
        }
    }

    /// The block on `x` with time embedding `temb` (`[B, T]`, ignored by the VAE's).
    pub fn forward(&self, x: &Tensor, temb: Option<&Tensor>) -> Tensor {
        let mut h = self.conv1.forward(&self.norm1.forward(x).silu());
        if let (Some(proj), Some(t)) = (&self.time_emb_proj, temb) {
            h = h + proj.forward(&t.silu()).unsqueeze(-1).unsqueeze(-1);
        }
        let h = self.conv2.forward(&self.norm2.forward(&h).silu());
        match &self.shortcut {
            Some(s) => s.forward(x) + h,
            None => x + h,
        }
    }
}

/// diffusers' `Attention` as the UNet's transformer blocks use it: `to_q`, `to_k`,
/// `to_v` without bias (or with, for the VAE), `to_out.0` with bias.
#[derive(Debug)]
pub struct Attention {
    to_q: nn::Linear,
    to_k: nn::Linear,
    to_v: nn::Linear,
    to_out: nn::Linear,
    heads: i64,
}

impl Attention {
    /// Attention of width `dim` over a context of width `context_dim` in `heads` heads.
    pub fn new(p: nn::Path, dim: i64, context_dim: i64, heads: i64, qkv_bias: bool) -> Self {
        let c = nn::LinearConfig { bias: qkv_bias, ..Default::default() };
        Attention {
            to_q: nn::linear(&p / "to_q", dim, dim, c),
            to_k: nn::linear(&p / "to_k", context_dim, dim, c),
            to_v: nn::linear(&p / "to_v", context_dim, dim, c),
            to_out: nn::linear(&p / "to_out" / "0", dim, dim, Default::default()),
            heads,
        }
    }

    /// `x` `[B, N, dim]` attending to `context` `[B, M, context_dim]` (itself when `None`).
    pub fn forward(&self, x: &Tensor, context: Option<&Tensor>) -> Tensor {
        let ctx = context.unwrap_or(x);
        let (b, n, dim) = x.size3().expect("[B, N, C]");
        let m = ctx.size()[1];
        let d = dim / self.heads;
        let split = |t: Tensor, len: i64| t.view([b, len, self.heads, d]).transpose(1, 2);
        let q = split(self.to_q.forward(x), n);
        let k = split(self.to_k.forward(ctx), m);
        let v = split(self.to_v.forward(ctx), m);
        let w = (q.matmul(&k.transpose(-1, -2)) * (d as f64).powf(-0.5)).softmax(-1, q.kind());
        self.to_out.forward(&w.matmul(&v).transpose(1, 2).reshape([b, n, dim]))
    }
}

/// `BasicTransformerBlock`: self-attention, cross-attention and a GEGLU feed-forward,
/// each after a layer norm and with a residual.
#[derive(Debug)]
struct TransformerBlock {
    norm1: nn::LayerNorm,
    attn1: Attention,
    norm2: nn::LayerNorm,
    attn2: Attention,
    norm3: nn::LayerNorm,
    geglu: nn::Linear,
    ff_out: nn::Linear,
}

impl TransformerBlock {
    fn new(p: nn::Path, dim: i64, context_dim: i64, heads: i64) -> Self {
        let ln = |q: nn::Path| nn::layer_norm(q, vec![dim], nn::LayerNormConfig { eps: 1e-5, ..Default::default() });
        TransformerBlock {
            norm1: ln(&p / "norm1"),
            attn1: Attention::new(&p / "attn1", dim, dim, heads, false),
            norm2: ln(&p / "norm2"),
            attn2: Attention::new(&p / "attn2", dim, context_dim, heads, false),
            norm3: ln(&p / "norm3"),
            geglu: nn::linear(&p / "ff" / "net" / "0" / "proj", dim, dim * 8, Default::default()),
            ff_out: nn::linear(&p / "ff" / "net" / "2", dim * 4, dim, Default::default()),
        }
    }

    fn forward(&self, x: &Tensor, context: &Tensor) -> Tensor {
        let x = self.attn1.forward(&self.norm1.forward(x), None) + x;
        let x = self.attn2.forward(&self.norm2.forward(&x), Some(context)) + &x;
        let h = self.geglu.forward(&self.norm3.forward(&x)).chunk(2, -1);
        self.ff_out.forward(&(&h[0] * h[1].gelu("none"))) + &x
    }
}

/// `Transformer2DModel` on a feature map: group norm, projection in (1×1 convolution,
/// or linear in SD 2.x), transformer blocks over the H·W positions, projection out,
/// residual.
#[derive(Debug)]
pub struct SpatialTransformer {
    norm: nn::GroupNorm,
    proj_in: Projection,
    blocks: Vec<TransformerBlock>,
    proj_out: Projection,
}

#[derive(Debug)]
enum Projection {
    Conv(nn::Conv2D),
    Linear(nn::Linear),
}

impl SpatialTransformer {
    /// A transformer over `channels` with `heads` heads, `layers` blocks, attending to
    /// a context of width `context_dim`.
    pub fn new(p: nn::Path, channels: i64, heads: i64, layers: i64, context_dim: i64, groups: i64, linear: bool) -> Self {
        let proj = |q: nn::Path| if linear { Projection::Linear(nn::linear(q, channels, channels, Default::default())) } else { Projection::Conv(conv(q, channels, channels, 1, 1, 0)) };
        SpatialTransformer {
            norm: group_norm(&p / "norm", groups, channels, 1e-6),
            proj_in: proj(&p / "proj_in"),
            blocks: (0..layers).map(|i| TransformerBlock::new(&p / "transformer_blocks" / i, channels, context_dim, heads)).collect(),
            proj_out: proj(&p / "proj_out"),
        }
    }

    /// The block on `x` `[B, C, H, W]` with text context `[B, L, context_dim]`.
    pub fn forward(&self, x: &Tensor, context: &Tensor) -> Tensor {
        let (b, c, h, w) = x.size4().expect("[B, C, H, W]");
        let n = self.norm.forward(x);
        let to_seq = |t: &Tensor| t.permute([0, 2, 3, 1]).reshape([b, h * w, c]);
        let to_map = |t: &Tensor| t.reshape([b, h, w, c]).permute([0, 3, 1, 2]);
        let mut s = match &self.proj_in {
            Projection::Conv(p) => to_seq(&p.forward(&n)),
            Projection::Linear(p) => p.forward(&to_seq(&n)),
        };
        for block in &self.blocks {
            s = block.forward(&s, context);
        }
        let out = match &self.proj_out {
            Projection::Conv(p) => p.forward(&to_map(&s)),
            Projection::Linear(p) => to_map(&p.forward(&s)),
        };
        out + x
    }
}

/// The VAE's mid-block attention: group norm, one head over all channels (q, k, v
/// with bias), residual.
#[derive(Debug)]
pub struct VaeAttention {
    norm: nn::GroupNorm,
    attn: Attention,
}

impl VaeAttention {
    /// Attention over `channels` channels.
    pub fn new(p: nn::Path, channels: i64, groups: i64, eps: f64) -> Self {
        VaeAttention { norm: group_norm(&p / "group_norm", groups, channels, eps), attn: Attention::new(p, channels, channels, 1, true) }
    }

    /// The block on `x` `[B, C, H, W]`.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let (b, c, h, w) = x.size4().expect("[B, C, H, W]");
        let s = self.norm.forward(x).view([b, c, h * w]).transpose(1, 2);
        let out = self.attn.forward(&s, None).transpose(1, 2).reshape([b, c, h, w]);
        out + x
    }
}

/// `Downsample2D` with a strided 3×3 convolution (`padding` 1 in the UNet; 0 in the
/// VAE's encoder, which pads right and bottom by one instead).
#[derive(Debug)]
pub struct Downsample {
    conv: nn::Conv2D,
    asymmetric: bool,
}

impl Downsample {
    /// A downsampler on `channels`.
    pub fn new(p: nn::Path, channels: i64, padding: i64) -> Self {
        Downsample { conv: conv(&p / "conv", channels, channels, 3, 2, padding), asymmetric: padding == 0 }
    }

    /// Halves the height and width.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        if self.asymmetric {
            self.conv.forward(&x.constant_pad_nd([0, 1, 0, 1]))
        } else {
            self.conv.forward(x)
        }
    }
}

/// `Upsample2D`: nearest-neighbour to the size given, then a 3×3 convolution.
#[derive(Debug)]
pub struct Upsample {
    conv: nn::Conv2D,
}

impl Upsample {
    /// An upsampler on `channels`.
    pub fn new(p: nn::Path, channels: i64) -> Self {
        Upsample { conv: conv(&p / "conv", channels, channels, 3, 1, 1) }
    }

    /// `x` resized to `size` (twice its own when `None`), then convolved.
    pub fn forward(&self, x: &Tensor, size: Option<[i64; 2]>) -> Tensor {
        let s = x.size();
        let size = size.unwrap_or([s[2] * 2, s[3] * 2]);
        self.conv.forward(&x.upsample_nearest2d(size, None, None))
    }
}
