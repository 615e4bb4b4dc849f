//! Image classifiers sized for small inputs (28×28 grey, 32×32 RGB) and small data.
//!
//! Models are plain functions that register their weights under a [`nn::Path`] and
//! return `impl ModuleT`. Their weights are then (re)initialised from a seed by
//! [`super::init::reset_parameters`], and dropout draws its masks from its own seeded
//! generator: nothing reads libtorch's process-global generator, so runs in parallel
//! threads stay reproducible.

use crate::augment::AugRng;
use crate::{Error, Result};
use std::sync::Mutex;
use tch::{nn, nn::ModuleT, Tensor};

/// Which classifier to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// conv(32)-pool-conv(64)-pool-fc(128)-dropout-fc(classes): the study's default.
    SmallCnn,
    /// A ResNet of three stages (32, 64, 128 channels), one basic block each, with
    /// batch norm and global average pooling.
    SmallResNet,
}

impl std::str::FromStr for ModelKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "small-cnn" | "cnn" => Ok(ModelKind::SmallCnn),
            "small-resnet" | "resnet" => Ok(ModelKind::SmallResNet),
            other => Err(Error::invalid("model", other, "known models: small-cnn, small-resnet")),
        }
    }
}

impl std::fmt::Display for ModelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ModelKind::SmallCnn => "small-cnn",
            ModelKind::SmallResNet => "small-resnet",
        })
    }
}

/// Everything needed to build a classifier: architecture and input/output sizes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelSpec {
    pub kind: ModelKind,
    /// 1 (grey) or 3 (RGB).
    pub in_channels: i64,
    /// Height and width of the input, at least 4 each (the CNN's two poolings floor
    /// odd sides: 25 → 12 → 6).
    pub image_size: (i64, i64),
    pub num_classes: i64,
    /// Dropout probability before the last layer (the small CNN; the ResNet ignores it).
    pub dropout: f64,
}

impl ModelSpec {
    /// The spec for `kind` on images `[C, H, W]` with `num_classes` classes and the
    /// default dropout of 0.3.
    pub fn new(kind: ModelKind, image_shape: [usize; 3], num_classes: usize) -> Self {
        ModelSpec {
            kind,
            in_channels: image_shape[0] as i64,
            image_size: (image_shape[1] as i64, image_shape[2] as i64),
            num_classes: num_classes as i64,
            dropout: 0.3,
        }
    }

    /// Check sizes and probabilities.
    pub fn check(&self) -> Result<()> {
        if self.in_channels < 1 {
            return Err(Error::invalid("in_channels", self.in_channels, "must be at least 1"));
        }
        let (h, w) = self.image_size;
        if h < 4 || w < 4 {
            return Err(Error::invalid("image_size", format!("{h}×{w}"), "height and width must be at least 4"));
        }
        if self.num_classes < 2 {
            return Err(Error::invalid("num_classes", self.num_classes, "a classifier needs at least 2 classes"));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(Error::invalid("dropout", self.dropout, "must lie in [0, 1)"));
        }
        Ok(())
    }

    /// Build the network under `p`; `seed` fixes the dropout masks.
    pub fn build(&self, p: &nn::Path, seed: u64) -> Result<Box<dyn ModuleT>> {
        self.check()?;
        Ok(match self.kind {
            ModelKind::SmallCnn => Box::new(small_cnn(p, self, seed)),
            ModelKind::SmallResNet => Box::new(small_resnet(p, self)),
        })
    }
}

/// Inverted dropout whose masks come from a seeded generator owned by the layer.
#[derive(Debug)]
pub struct SeededDropout {
    p: f64,
    rng: Mutex<AugRng>,
}

impl SeededDropout {
    pub fn new(p: f64, seed: u64) -> Self {
        SeededDropout { p, rng: Mutex::new(AugRng::new(seed)) }
    }
}

impl ModuleT for SeededDropout {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        if !train || self.p == 0.0 {
            return xs.shallow_clone();
        }
        let keep = {
            let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
            rng.uniform_tensor(&xs.size(), xs.device()).ge(self.p)
        };
        xs * keep.to_kind(xs.kind()) / (1.0 - self.p)
    }
}

/// The small CNN: conv3×3(32)-ReLU-maxpool2-conv3×3(64)-ReLU-maxpool2-fc(128)-ReLU-
/// dropout-fc(classes). 421,642 weights for 28×28 grey input and 10 classes.
pub fn small_cnn(p: &nn::Path, spec: &ModelSpec, seed: u64) -> impl ModuleT {
    let conv = nn::ConvConfig { padding: 1, ..Default::default() };
    let (h, w) = spec.image_size;
    let flat = 64 * (h / 4) * (w / 4);
    nn::seq_t()
        .add(nn::conv2d(p / "conv1", spec.in_channels, 32, 3, conv))
        .add_fn(|x| x.relu().max_pool2d_default(2))
        .add(nn::conv2d(p / "conv2", 32, 64, 3, conv))
        .add_fn(|x| x.relu().max_pool2d_default(2).flatten(1, -1))
        .add(nn::linear(p / "fc1", flat, 128, Default::default()))
        .add_fn(|x| x.relu())
        .add(SeededDropout::new(spec.dropout, seed))
        .add(nn::linear(p / "fc2", 128, spec.num_classes, Default::default()))
}

/// A basic residual block: two 3×3 convolutions with batch norm, and a 1×1
/// projection on the shortcut when the shape changes.
fn basic_block(p: &nn::Path, c_in: i64, c_out: i64, stride: i64) -> impl ModuleT {
    let conv = |p: nn::Path, ci, co, k, s, pad| nn::conv2d(p, ci, co, k, nn::ConvConfig { stride: s, padding: pad, bias: false, ..Default::default() });
    let c1 = conv(p / "conv1", c_in, c_out, 3, stride, 1);
    let b1 = nn::batch_norm2d(p / "bn1", c_out, Default::default());
    let c2 = conv(p / "conv2", c_out, c_out, 3, 1, 1);
    let b2 = nn::batch_norm2d(p / "bn2", c_out, Default::default());
    let shortcut = (stride != 1 || c_in != c_out)
        .then(|| (conv(p / "down", c_in, c_out, 1, stride, 0), nn::batch_norm2d(p / "down_bn", c_out, Default::default())));
    nn::func_t(move |x, train| {
        let y = x.apply(&c1).apply_t(&b1, train).relu().apply(&c2).apply_t(&b2, train);
        let s = match &shortcut {
            Some((c, b)) => x.apply(c).apply_t(b, train),
            None => x.shallow_clone(),
        };
        (y + s).relu()
    })
}

/// The small ResNet: stem conv3×3(32)-BN-ReLU, blocks of 32, 64 (stride 2) and 128
/// (stride 2) channels, global average pooling, fc(classes).
pub fn small_resnet(p: &nn::Path, spec: &ModelSpec) -> impl ModuleT {
    let stem = nn::conv2d(p / "stem", spec.in_channels, 32, 3, nn::ConvConfig { padding: 1, bias: false, ..Default::default() });
    nn::seq_t()
        .add(stem)
        .add(nn::batch_norm2d(p / "stem_bn", 32, Default::default()))
        .add_fn(|x| x.relu())
        .add(basic_block(&(p / "block1"), 32, 32, 1))
        .add(basic_block(&(p / "block2"), 32, 64, 2))
        .add(basic_block(&(p / "block3"), 64, 128, 2))
        .add_fn(|x| x.mean_dim(&[2i64, 3][..], false, tch::Kind::Float))
        .add(nn::linear(p / "fc", 128, spec.num_classes, Default::default()))
}
