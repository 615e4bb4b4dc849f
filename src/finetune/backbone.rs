//! A small ResNet whose layers are named fields, so that LoRA adapters can be added
//! to the convolutions whose names match a pattern, and whose weights load from a
//! safetensors file with PyTorch-style reports of missing and unexpected keys.
//!
//! Architecture (as `train::small_resnet`): stem conv3×3(32)-BN-ReLU, three basic
//! blocks of 32, 64 (stride 2) and 128 (stride 2) channels, global average pooling:
//! 128 features per image.

use super::lora::{ConvAdapter, LoraConfig};
use crate::{Error, Result};
use tch::{nn, nn::ModuleT, Tensor};

/// A convolution (no bias) that may carry a LoRA adapter.
#[derive(Debug)]
pub struct Conv {
    pub name: String,
    pub base: nn::Conv2D,
    pub cfg: nn::ConvConfig,
    pub lora: Option<ConvAdapter>,
}

impl Conv {
    /// A convolution registered as `p / leaf`, known as `name` (its full dotted path).
    fn new(p: &nn::Path, leaf: &str, name: String, c_in: i64, c_out: i64, k: i64, stride: i64) -> Self {
        let cfg = nn::ConvConfig { stride, padding: k / 2, bias: false, ..Default::default() };
        Conv { name, base: nn::conv2d(p / leaf, c_in, c_out, k, cfg), cfg, lora: None }
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let y = x.apply(&self.base);
        match &self.lora {
            Some(a) => y + a.forward_t(x, train),
            None => y,
        }
    }
}

#[derive(Debug)]
struct Block {
    conv1: Conv,
    bn1: nn::BatchNorm,
    conv2: Conv,
    bn2: nn::BatchNorm,
    down: Option<(Conv, nn::BatchNorm)>,
}

impl Block {
    fn new(p: &nn::Path, name: &str, c_in: i64, c_out: i64, stride: i64) -> Self {
        let bp = p / name;
        let bn = |n: &str| nn::batch_norm2d(&bp / n, c_out, Default::default());
        let full = |leaf: &str| format!("{name}.{leaf}");
        Block {
            conv1: Conv::new(&bp, "conv1", full("conv1"), c_in, c_out, 3, stride),
            bn1: bn("bn1"),
            conv2: Conv::new(&bp, "conv2", full("conv2"), c_out, c_out, 3, 1),
            bn2: bn("bn2"),
            down: (stride != 1 || c_in != c_out).then(|| (Conv::new(&bp, "down", full("down"), c_in, c_out, 1, stride), bn("down_bn"))),
        }
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let y = self.conv1.forward_t(x, train).apply_t(&self.bn1, train).relu();
        let y = self.conv2.forward_t(&y, train).apply_t(&self.bn2, train);
        let s = match &self.down {
            Some((c, b)) => c.forward_t(x, train).apply_t(b, train),
            None => x.shallow_clone(),
        };
        (y + s).relu()
    }

    fn convs_mut(&mut self) -> Vec<&mut Conv> {
        let mut v = vec![&mut self.conv1, &mut self.conv2];
        if let Some((c, _)) = &mut self.down {
            v.push(c);
        }
        v
    }
}

/// The backbone: images `[N, C, H, W]` → features `[N, 128]`.
#[derive(Debug)]
pub struct ResNetBackbone {
    stem: Conv,
    stem_bn: nn::BatchNorm,
    blocks: Vec<Block>,
}

/// Features per image.
pub const FEATURES: i64 = 128;

impl ResNetBackbone {
    /// Register the backbone's weights under `p` (names `stem.weight`,
    /// `block2.conv1.weight`, `block2.down_bn.running_mean`, …).
    pub fn new(p: &nn::Path, in_channels: i64) -> Self {
        ResNetBackbone {
            stem: Conv::new(p, "stem", "stem".into(), in_channels, 32, 3, 1),
            stem_bn: nn::batch_norm2d(p / "stem_bn", 32, Default::default()),
            blocks: vec![Block::new(p, "block1", 32, 32, 1), Block::new(p, "block2", 32, 64, 2), Block::new(p, "block3", 64, 128, 2)],
        }
    }

    /// Features `[N, 128]`. `train` switches batch-norm statistics and dropout.
    pub fn features(&self, x: &Tensor, train: bool) -> Tensor {
        let mut h = self.stem.forward_t(x, train).apply_t(&self.stem_bn, train).relu();
        for b in &self.blocks {
            h = b.forward_t(&h, train);
        }
        h.mean_dim(&[2i64, 3][..], false, tch::Kind::Float)
    }

    /// Every convolution's name, in order.
    pub fn conv_names(&mut self) -> Vec<String> {
        self.convs_mut().iter().map(|c| c.name.clone()).collect()
    }

    fn convs_mut(&mut self) -> Vec<&mut Conv> {
        let mut v = vec![&mut self.stem];
        for b in &mut self.blocks {
            v.extend(b.convs_mut());
        }
        v
    }

    /// Add LoRA adapters (registered under `adapters`) to every convolution whose
    /// name contains one of the comma-separated `patterns` (e.g. `"block"`, or
    /// `"block2,block3"`, or `"conv1"`). Returns how many were added; none is an
    /// error naming the pattern and the available names.
    pub fn add_lora(&mut self, patterns: &str, adapters: &nn::Path, config: LoraConfig, seed: u64) -> Result<usize> {
        let pats: Vec<&str> = patterns.split(',').map(str::trim).filter(|p| !p.is_empty()).collect();
        let names = self.conv_names();
        let mut added = 0;
        for (i, conv) in self.convs_mut().into_iter().enumerate() {
            if pats.iter().any(|p| conv.name.contains(p)) {
                let path = adapters / conv.name.replace('.', "_");
                conv.lora = Some(ConvAdapter::new(&conv.base.ws, conv.cfg, &path, config, crate::derive_seed(seed, &format!("lora/{i}")))?);
                added += 1;
            }
        }
        if added == 0 {
            return Err(Error::invalid("LoRA layer pattern", patterns, format!("matches no convolution; names: {}", names.join(", "))));
        }
        Ok(added)
    }
}

impl ModuleT for ResNetBackbone {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        self.features(xs, train)
    }
}

/// What loading a weight file did, like PyTorch's `load_state_dict(strict=False)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Variables of the model that the file lacks (left as they were).
    pub missing: Vec<String>,
    /// Tensors of the file that the model does not have (ignored).
    pub unexpected: Vec<String>,
    pub loaded: usize,
}

/// Copy the tensors of `file` into the variables of `vs` with the same names
/// (after `rename`, which maps a file name to a model name, or drops it with
/// `None`). A tensor whose shape differs from its variable's is an error naming the
/// key and both shapes; with `strict`, missing or unexpected keys are errors too.
pub fn load_weights(vs: &nn::VarStore, file: &std::path::Path, rename: impl Fn(&str) -> Option<String>, strict: bool) -> Result<LoadReport> {
    let tensors = Tensor::read_safetensors(file).map_err(|e| Error::Format { path: file.to_path_buf(), reason: e.to_string() })?;
    let vars = vs.variables();
    let mut report = LoadReport::default();
    let mut seen = std::collections::HashSet::new();
    tch::no_grad(|| -> Result<()> {
        for (key, t) in &tensors {
            let Some(name) = rename(key) else { continue };
            match vars.get(&name) {
                Some(var) => {
                    if var.size() != t.size() {
                        return Err(Error::Format {
                            path: file.to_path_buf(),
                            reason: format!("tensor {key:?} has shape {:?}, the model's {name:?} has {:?}", t.size(), var.size()),
                        });
                    }
                    var.shallow_clone().copy_(t);
                    seen.insert(name);
                    report.loaded += 1;
                }
                None => report.unexpected.push(key.clone()),
            }
        }
        Ok(())
    })?;
    report.missing = vars.keys().filter(|k| !seen.contains(*k)).cloned().collect();
    report.missing.sort();
    report.unexpected.sort();
    if strict && (!report.missing.is_empty() || !report.unexpected.is_empty()) {
        return Err(Error::Format {
            path: file.to_path_buf(),
            reason: format!("missing keys {:?}, unexpected keys {:?}", report.missing, report.unexpected),
        });
    }
    Ok(report)
}
