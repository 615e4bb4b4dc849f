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
            ModelKind::SmallResNet => Box::new(super::resnet::small_resnet(p, self)),
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
