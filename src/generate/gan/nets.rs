//! The conditional DCGAN's two networks, for images whose side is a multiple of 4
//! (28×28 gray, 32×32 RGB).
//!
//! * **Generator**: `[z, embed(y)]` → linear → `2c × H/4 × W/4` → (nearest ×2, conv
//!   3×3, batch norm, ReLU) twice → conv 3×3 → tanh (as 2σ(2x) − 1), in `[-1, 1]`.
//! * **Discriminator**: conv 3×3 → two stride-2 convs 4×4 (leaky ReLU 0.2, no batch
//!   norm, which the gradient penalty forbids) → sum over positions `h` →
//!   `linear(h) + ⟨embed(y), h⟩`, the projection discriminator of Miyato & Koyama
//!   (2018). Each layer can be spectrally normalised (Miyato et al. 2018): its weight
//!   is divided by an estimate of its largest singular value, refined by one power
//!   iteration per training forward, whose vector `u` is a non-trainable variable
//!   saved with the weights.

use crate::{Error, Result};
use rand_distr::Distribution;
use tch::{nn, Kind, Tensor};

/// A convolution or linear layer whose weight may be spectrally normalised.
#[derive(Debug)]
pub(crate) struct Layer {
    weight: Tensor,
    bias: Tensor,
    /// Power-iteration vector of the spectral norm (`[out]`), when enabled.
    u: Option<Tensor>,
    /// `(stride, padding)` of a convolution; `None` for a linear layer.
    conv: Option<(i64, i64)>,
}

impl Layer {
    fn new(p: nn::Path, dims: &[i64], conv: Option<(i64, i64)>, spectral: bool, seed: u64) -> Layer {
        let weight = p.var("weight", dims, nn::Init::Const(0.0));
        let bias = p.var("bias", &[dims[0]], nn::Init::Const(0.0));
        let u = spectral.then(|| {
            let mut rng = crate::rng(seed);
            let v: Vec<f32> = (0..dims[0]).map(|_| rand_distr::StandardNormal.sample(&mut rng)).collect();
            let u = Tensor::from_slice(&v);
            let u = &u / u.norm();
            let var = p.zeros_no_train("sn_u", &[dims[0]]);
            tch::no_grad(|| var.shallow_clone().copy_(&u.to_device(var.device())));
            var
        });
        Layer { weight, bias, u, conv }
    }

    /// The weight to use: divided by σ̂ under spectral normalisation. In training mode
    /// one power iteration refines `u` first.
    fn weight(&self, train: bool) -> Tensor {
        let Some(u) = &self.u else { return self.weight.shallow_clone() };
        let out = self.weight.size()[0];
        let w = self.weight.view([out, -1]);
        let (u_now, v) = tch::no_grad(|| {
            let v = w.tr().mv(u);
            let v = &v / (v.norm() + 1e-12);
            if train {
                let u_new = w.mv(&v);
                let u_new = &u_new / (u_new.norm() + 1e-12);
                u.shallow_clone().copy_(&u_new);
            }
            (u.copy(), v)
        });
        let sigma = u_now.dot(&w.mv(&v));
        &self.weight / sigma
    }

    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let w = self.weight(train);
        match self.conv {
            Some((stride, padding)) => x.conv2d(&w, Some(&self.bias), [stride, stride], [padding, padding], [1, 1], 1),
            None => x.linear(&w, Some(&self.bias)),
        }
    }
}

fn leaky(x: &Tensor) -> Tensor {
    x.maximum(&(x * 0.2))
}

/// Check that a GAN can be built for images of `shape` `[C, H, W]` with `classes` classes.
pub fn check_shape(shape: [usize; 3], classes: usize) -> Result<()> {
    let [c, h, w] = shape;
    if !(c == 1 || c == 3) {
        return Err(Error::invalid("GAN image channels", c, "1 (gray) or 3 (RGB)"));
    }
    if h % 4 != 0 || w % 4 != 0 || h < 8 || w < 8 {
        return Err(Error::invalid("GAN image size", format!("{h}×{w}"), "height and width must be multiples of 4, at least 8 (28×28, 32×32)"));
    }
    if classes == 0 {
        return Err(Error::invalid("GAN classes", 0, "need at least one class"));
    }
    Ok(())
}

/// Noise and label → image in `[-1, 1]`.
#[derive(Debug)]
pub struct Generator {
    embed: Tensor,
    fc: Layer,
    bn0: nn::BatchNorm,
    conv1: Layer,
    bn1: nn::BatchNorm,
    conv2: Layer,
    bn2: nn::BatchNorm,
    out: Layer,
    base: (i64, i64),
    width: i64,
    pub z_dim: i64,
}

impl Generator {
    pub(crate) fn new(p: &nn::Path, shape: [usize; 3], classes: usize, z_dim: i64, width: i64) -> Generator {
        let [c, h, w] = shape.map(|d| d as i64);
        let base = (h / 4, w / 4);
        let e = z_dim.min(32).max(8);
        let bn = |name: &str, ch: i64| nn::batch_norm2d(p / name, ch, Default::default());
        Generator {
            embed: p.var("embed", &[classes as i64, e], nn::Init::Const(0.0)),
            fc: Layer::new(p / "fc", &[2 * width * base.0 * base.1, z_dim + e], None, false, 0),
            bn0: bn("bn0", 2 * width),
            conv1: Layer::new(p / "conv1", &[width, 2 * width, 3, 3], Some((1, 1)), false, 0),
            bn1: bn("bn1", width),
            conv2: Layer::new(p / "conv2", &[width / 2, width, 3, 3], Some((1, 1)), false, 0),
            bn2: bn("bn2", width / 2),
            out: Layer::new(p / "out", &[c, width / 2, 3, 3], Some((1, 1)), false, 0),
            base,
            width,
            z_dim,
        }
    }

    /// `z: [N, z_dim]`, `labels: [N]` → images `[N, C, H, W]` in `[-1, 1]`.
    pub fn forward(&self, z: &Tensor, labels: &Tensor, train: bool) -> Tensor {
        let n = z.size()[0];
        let e = Tensor::embedding(&self.embed, labels, -1, false, false);
        let x = Tensor::cat(&[z.shallow_clone(), e], 1);
        let x = self.fc.forward(&x, train).view([n, 2 * self.width, self.base.0, self.base.1]);
        let x = x.apply_t(&self.bn0, train).relu();
        let up = |x: &Tensor| {
            let s = x.size();
            x.upsample_nearest2d([s[2] * 2, s[3] * 2], None, None)
        };
        let x = self.conv1.forward(&up(&x), train).apply_t(&self.bn1, train).relu();
        let x = self.conv2.forward(&up(&x), train).apply_t(&self.bn2, train).relu();
        // tanh(x) written as 2σ(2x) − 1. libtorch hands a float tensor's tanh to MKL's
        // vector maths, whose *first* call in a process returns other last bits in
        // about 1 process of 300 (README, Reliability) — enough for a seeded run to end
        // elsewhere. The logistic function is libtorch's own code, alike in every process.
        let x = self.out.forward(&x, train);
        (x * 2.0).sigmoid() * 2.0 - 1.0
    }
}

/// Image and label → a real-valued score (higher: more real).
#[derive(Debug)]
pub struct Discriminator {
    conv0: Layer,
    conv1: Layer,
    conv2: Layer,
    fc: Layer,
    embed: Tensor,
}

impl Discriminator {
    pub(crate) fn new(p: &nn::Path, shape: [usize; 3], classes: usize, width: i64, spectral: bool, seed: u64) -> Discriminator {
        let c = shape[0] as i64;
        let s = |tag: &str| crate::derive_seed(seed, tag);
        Discriminator {
            conv0: Layer::new(p / "conv0", &[width / 2, c, 3, 3], Some((1, 1)), spectral, s("sn0")),
            conv1: Layer::new(p / "conv1", &[width, width / 2, 4, 4], Some((2, 1)), spectral, s("sn1")),
            conv2: Layer::new(p / "conv2", &[2 * width, width, 4, 4], Some((2, 1)), spectral, s("sn2")),
            fc: Layer::new(p / "fc", &[1, 2 * width], None, spectral, s("sn3")),
            embed: p.var("embed", &[classes as i64, 2 * width], nn::Init::Const(0.0)),
        }
    }

    /// `images: [N, C, H, W]` in `[-1, 1]`, `labels: [N]` → scores `[N]`.
    pub fn forward(&self, images: &Tensor, labels: &Tensor, train: bool) -> Tensor {
        let x = leaky(&self.conv0.forward(images, train));
        let x = leaky(&self.conv1.forward(&x, train));
        let x = leaky(&self.conv2.forward(&x, train));
        let h = x.sum_dim_intlist([2i64, 3].as_slice(), false, Kind::Float);
        let proj = (Tensor::embedding(&self.embed, labels, -1, false, false) * &h).sum_dim_intlist([1i64].as_slice(), false, Kind::Float);
        self.fc.forward(&h, train).squeeze_dim(1) + proj
    }
}
