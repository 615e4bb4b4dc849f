//! A small UNet noise predictor for 28×28 / 32×32 images, conditioned on a sequence
//! of token embeddings.
//!
//! ```text
//! x ─ conv ─ Res(c) ─────────────────────────────────────────── cat ─ Res(c) ─ conv ─ ε̂
//!              └ down ─ Res(2c) ──────────────────── cat ─ Res(c) ┘ up
//!                        └ down ─ Res(2c)+Attn ─ cat ─ Res(2c) ┘ up
//!                                  └──── Res(2c)+Attn ┘            (H/4 × W/4)
//! ```
//! Every residual block gets the time embedding (sinusoidal features of t → MLP) plus
//! a projection of the mean condition vector, added after its first convolution. At
//! the lowest resolution, cross-attention lets every position attend to each vector
//! of the condition — what makes a multi-vector learned token meaningful.

use tch::{nn, Kind, Tensor};

/// Group normalisation with up to 8 groups.
fn group_norm(p: nn::Path, channels: i64) -> nn::GroupNorm {
    let groups = [8, 4, 2, 1].into_iter().find(|g| channels % g == 0).unwrap_or(1);
    nn::group_norm(p, groups, channels, Default::default())
}

fn conv3(p: nn::Path, cin: i64, cout: i64) -> nn::Conv2D {
    nn::conv2d(p, cin, cout, 3, nn::ConvConfig { padding: 1, ..Default::default() })
}

#[derive(Debug)]
struct ResBlock {
    norm1: nn::GroupNorm,
    conv1: nn::Conv2D,
    emb: nn::Linear,
    norm2: nn::GroupNorm,
    conv2: nn::Conv2D,
    skip: Option<nn::Conv2D>,
}

impl ResBlock {
    fn new(p: nn::Path, cin: i64, cout: i64, emb_dim: i64) -> Self {
        ResBlock {
            norm1: group_norm(&p / "norm1", cin),
            conv1: conv3(&p / "conv1", cin, cout),
            emb: nn::linear(&p / "emb", emb_dim, cout, Default::default()),
            norm2: group_norm(&p / "norm2", cout),
            conv2: conv3(&p / "conv2", cout, cout),
            skip: (cin != cout).then(|| nn::conv2d(&p / "skip", cin, cout, 1, Default::default())),
        }
    }

    fn forward(&self, x: &Tensor, emb: &Tensor) -> Tensor {
        let h = x.apply(&self.norm1).silu().apply(&self.conv1);
        let n = emb.size()[0];
        let h = h + emb.apply(&self.emb).view([n, -1, 1, 1]);
        let h = h.apply(&self.norm2).silu().apply(&self.conv2);
        match &self.skip {
            Some(s) => x.apply(s) + h,
            None => x + h,
        }
    }
}

/// Single-head cross-attention from image positions to condition vectors.
#[derive(Debug)]
struct CrossAttention {
    norm: nn::GroupNorm,
    q: nn::Linear,
    k: nn::Linear,
    v: nn::Linear,
    out: nn::Linear,
}

impl CrossAttention {
    fn new(p: nn::Path, channels: i64, cond_dim: i64) -> Self {
        let lin = |name: &str, i: i64, o: i64| nn::linear(&p / name, i, o, Default::default());
        CrossAttention {
            norm: group_norm(&p / "norm", channels),
            q: lin("q", channels, channels),
            k: lin("k", cond_dim, channels),
            v: lin("v", cond_dim, channels),
            out: lin("out", channels, channels),
        }
    }

    /// `x: [N, C, H, W]`, `cond: [N, L, D]`.
    fn forward(&self, x: &Tensor, cond: &Tensor) -> Tensor {
        let [n, c, h, w] = x.size()[..] else { unreachable!("[N, C, H, W]") };
        let q = x.apply(&self.norm).view([n, c, h * w]).transpose(1, 2).apply(&self.q); // [N, HW, C]
        let k = cond.apply(&self.k); // [N, L, C]
        let v = cond.apply(&self.v);
        let attn = (q.matmul(&k.transpose(1, 2)) / (c as f64).sqrt()).softmax(-1, Kind::Float); // [N, HW, L]
        let o = attn.matmul(&v).apply(&self.out); // [N, HW, C]
        x + o.transpose(1, 2).reshape([n, c, h, w])
    }
}

/// Sinusoidal features of the step index (Vaswani et al.'s positional encoding).
pub fn timestep_features(t: &Tensor, dim: i64) -> Tensor {
    let half = dim / 2;
    let freqs = (Tensor::arange(half, (Kind::Float, t.device())) * (-(10_000f64.ln()) / half as f64)).exp();
    let args = t.to_kind(Kind::Float).unsqueeze(1) * freqs.unsqueeze(0);
    Tensor::cat(&[args.sin(), args.cos()], 1)
}

/// The noise predictor `ε̂(x_t, t, condition)`.
#[derive(Debug)]
pub struct UNet {
    width: i64,
    time_mlp: nn::Sequential,
    cond_proj: nn::Linear,
    conv_in: nn::Conv2D,
    down1: ResBlock,
    pool1: nn::Conv2D,
    down2: ResBlock,
    pool2: nn::Conv2D,
    down3: ResBlock,
    attn3: CrossAttention,
    mid: ResBlock,
    attn_mid: CrossAttention,
    up3: ResBlock,
    up2: ResBlock,
    up1: ResBlock,
    norm_out: nn::GroupNorm,
    conv_out: nn::Conv2D,
}

impl UNet {
    /// A UNet for `channels`-channel images of base width `width`, conditioned on
    /// vectors of `cond_dim`.
    pub fn new(p: &nn::Path, channels: i64, width: i64, cond_dim: i64) -> Self {
        let (c, c2, emb) = (width, 2 * width, 4 * width);
        let down = |name: &str, ch: i64| nn::conv2d(p / name, ch, ch, 3, nn::ConvConfig { stride: 2, padding: 1, ..Default::default() });
        UNet {
            width,
            time_mlp: nn::seq()
                .add(nn::linear(p / "time1", c, emb, Default::default()))
                .add_fn(|x| x.silu())
                .add(nn::linear(p / "time2", emb, emb, Default::default())),
            cond_proj: nn::linear(p / "cond_proj", cond_dim, emb, Default::default()),
            conv_in: conv3(p / "conv_in", channels, c),
            down1: ResBlock::new(p / "down1", c, c, emb),
            pool1: down("pool1", c),
            down2: ResBlock::new(p / "down2", c, c2, emb),
            pool2: down("pool2", c2),
            down3: ResBlock::new(p / "down3", c2, c2, emb),
            attn3: CrossAttention::new(p / "attn3", c2, cond_dim),
            mid: ResBlock::new(p / "mid", c2, c2, emb),
            attn_mid: CrossAttention::new(p / "attn_mid", c2, cond_dim),
            up3: ResBlock::new(p / "up3", 2 * c2, c2, emb),
            up2: ResBlock::new(p / "up2", c2 + c2, c, emb),
            up1: ResBlock::new(p / "up1", c + c, c, emb),
            norm_out: group_norm(p / "norm_out", c),
            conv_out: conv3(p / "conv_out", c, channels),
        }
    }

    /// `x: [N, C, H, W]`, `t: [N]` step indices, `cond: [N, L, D]` → `ε̂: [N, C, H, W]`.
    pub fn forward(&self, x: &Tensor, t: &Tensor, cond: &Tensor) -> Tensor {
        let emb = timestep_features(t, self.width).apply(&self.time_mlp) + cond.mean_dim([1i64].as_slice(), false, Kind::Float).apply(&self.cond_proj);
        let emb = emb.silu();
        let h0 = x.apply(&self.conv_in);
        let s1 = self.down1.forward(&h0, &emb);
        let s2 = self.down2.forward(&s1.apply(&self.pool1), &emb);
        let s3 = self.attn3.forward(&self.down3.forward(&s2.apply(&self.pool2), &emb), cond);
        let m = self.attn_mid.forward(&self.mid.forward(&s3, &emb), cond);
        let u3 = self.up3.forward(&Tensor::cat(&[m, s3], 1), &emb);
        let up = |x: &Tensor, like: &Tensor| {
            let s = like.size();
            x.upsample_nearest2d([s[2], s[3]], None, None)
        };
        let u2 = self.up2.forward(&Tensor::cat(&[up(&u3, &s2), s2.shallow_clone()], 1), &emb);
        let u1 = self.up1.forward(&Tensor::cat(&[up(&u2, &s1), s1.shallow_clone()], 1), &emb);
        u1.apply(&self.norm_out).silu().apply(&self.conv_out)
    }
}

