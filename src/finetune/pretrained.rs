//! What a transfer starts from, told apart by the path the user gives (`--backbone`):
//!
//! | path | [`Pretrained`] | images are made |
//! |---|---|---|
//! | a folder with `config.json` (`"model_type": "vit"`) | [`Pretrained::Vit`], a Hugging Face ViT | the size, mean and std of its `preprocessor_config.json` |
//! | a `.safetensors` file with torchvision's names (`layer1.0.conv1.weight`) | [`Pretrained::Torchvision`], ResNet-18/34 | 224×224, ImageNet's mean and std (torchvision ships no preprocessing file) |
//! | a `.safetensors` file with `stem.weight` | [`Pretrained::SmallResNet`], the project's | as they are (it was trained on [0, 1] pixels) |
//!
//! Preparing images is part of the network ([`Prepare`]): each batch is converted to
//! the backbone's channels (gray repeated to RGB, RGB to luminance), resized
//! (bilinear, antialiased when shrinking) and normalised on the device, so a data set
//! of small images is never held at 224×224.

use super::backbone::{load_weights, AddLora, LoraTargets};
use super::lora::LoraConfig;
use super::vit::{Vit, VitCheckpoint};
use crate::train::ResNetBackbone;
use crate::{Error, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tch::{nn, Tensor};

/// ImageNet's channel means and standard deviations, torchvision's preprocessing.
pub const IMAGENET_MEAN: [f64; 3] = [0.485, 0.456, 0.406];
pub const IMAGENET_STD: [f64; 3] = [0.229, 0.224, 0.225];

/// A pretrained backbone on disk.
#[derive(Debug, Clone)]
pub enum Pretrained {
    /// The project's small ResNet (`smalldata finetune pretrain`).
    SmallResNet { path: PathBuf, in_channels: i64 },
    /// A torchvision ResNet of basic blocks exported to safetensors
    /// (`scripts/export_torchvision_resnet.py`); `blocks` per stage.
    Torchvision { path: PathBuf, blocks: [usize; 4] },
    /// A Hugging Face ViT folder.
    Vit(Box<VitCheckpoint>),
}

/// How a backbone wants its images.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct InputSpec {
    pub channels: i64,
    /// (height, width); `None`: as they come.
    pub size: Option<(i64, i64)>,
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
}

impl Pretrained {
    /// Recognise `path` (see the module docs); anything else is an error saying what
    /// was found.
    pub fn open(path: &Path) -> Result<Self> {
        if path.is_dir() {
            return Ok(Pretrained::Vit(Box::new(VitCheckpoint::open(path)?)));
        }
        if !path.exists() {
            return Err(Error::NotFound { what: "pretrained backbone (a safetensors file or a Hugging Face ViT folder)".into(), searched: vec![path.to_path_buf()] });
        }
        let shapes = safetensors_header(path)?;
        if let Some(s) = shapes.get("stem.weight") {
            return Ok(Pretrained::SmallResNet { path: path.to_path_buf(), in_channels: s.get(1).copied().unwrap_or(1) });
        }
        if shapes.contains_key("layer1.0.conv1.weight") {
            if shapes.contains_key("layer1.0.conv3.weight") {
                return Err(Error::format(path, "is a torchvision ResNet of bottleneck blocks (ResNet-50 or larger); transfer takes ResNet-18 and ResNet-34 (basic blocks)"));
            }
            let mut blocks = [0usize; 4];
            for (stage, count) in blocks.iter_mut().enumerate() {
                *count = (0..).take_while(|j| shapes.contains_key(&format!("layer{}.{j}.conv1.weight", stage + 1))).count();
            }
            if blocks.contains(&0) {
                return Err(Error::format(path, format!("has torchvision names but stages of {blocks:?} blocks")));
            }
            return Ok(Pretrained::Torchvision { path: path.to_path_buf(), blocks });
        }
        let some: Vec<&String> = shapes.keys().take(5).collect();
        Err(Error::format(path, format!("is not a backbone this library knows (no stem.weight, no layer1.0.conv1.weight); its first keys: {some:?}")))
    }

    pub fn path(&self) -> &Path {
        match self {
            Pretrained::SmallResNet { path, .. } | Pretrained::Torchvision { path, .. } => path,
            Pretrained::Vit(c) => &c.dir,
        }
    }

    /// A short description (`torchvision ResNet-18`, `ViT 4×64, patch 4, 28×28`).
    pub fn describe(&self) -> String {
        match self {
            Pretrained::SmallResNet { .. } => "small ResNet".into(),
            Pretrained::Torchvision { blocks, .. } => match blocks {
                [2, 2, 2, 2] => "torchvision ResNet-18".into(),
                [3, 4, 6, 3] => "torchvision ResNet-34".into(),
                b => format!("torchvision ResNet of {b:?} basic blocks"),
            },
            Pretrained::Vit(c) => {
                let k = &c.config;
                format!("ViT {}×{}, patch {}, {}×{}", k.num_hidden_layers, k.hidden_size, k.patch_size, k.image_size, k.image_size)
            }
        }
    }

    /// The images the backbone expects.
    pub fn input(&self) -> InputSpec {
        match self {
            Pretrained::SmallResNet { in_channels, .. } => InputSpec { channels: *in_channels, size: None, mean: vec![0.0; *in_channels as usize], std: vec![1.0; *in_channels as usize] },
            Pretrained::Torchvision { .. } => InputSpec { channels: 3, size: Some((224, 224)), mean: IMAGENET_MEAN.to_vec(), std: IMAGENET_STD.to_vec() },
            Pretrained::Vit(c) => InputSpec { channels: c.config.num_channels, size: Some(c.preprocessing.size), mean: c.preprocessing.mean.clone(), std: c.preprocessing.std.clone() },
        }
    }

    /// The layers LoRA adapts: every block convolution of a ResNet; peft's recipe for
    /// a ViT (the attention's query and value).
    pub fn lora_targets(&self) -> LoraTargets {
        match self {
            Pretrained::SmallResNet { .. } => LoraTargets::pattern(r"block\d+\..*"),
            Pretrained::Torchvision { .. } => LoraTargets::pattern(r"layer\d+\..*"),
            Pretrained::Vit(_) => LoraTargets::names(&["query", "value"]),
        }
    }

    /// The network (weights not loaded), registered under `p`.
    pub fn build(&self, p: &nn::Path) -> Result<Backbone> {
        Ok(match self {
            Pretrained::SmallResNet { in_channels, .. } => Backbone::ResNet(ResNetBackbone::new(p, *in_channels)),
            Pretrained::Torchvision { blocks, .. } => Backbone::ResNet(ResNetBackbone::torchvision(p, 3, *blocks)),
            Pretrained::Vit(c) => Backbone::Vit(Vit::new(p, &c.config, false)?),
        })
    }

    /// Load the weights into `vs`, where [`Pretrained::build`] registered the network
    /// under `prefix` (`"backbone."`). Every weight of the backbone must be in the
    /// file; a classifier in the file is left out; anything else is an error.
    pub fn load(&self, vs: &nn::VarStore, prefix: &str) -> Result<()> {
        let path = self.path();
        let report = match self {
            Pretrained::Vit(c) => return c.load(vs, prefix, None).map(|_| ()),
            Pretrained::SmallResNet { .. } => load_weights(vs, path, |k| Some(format!("{prefix}{k}")), false)?,
            Pretrained::Torchvision { .. } => load_weights(vs, path, |k| super::torchvision::torchvision_name(k, false).map(|k| format!("{prefix}{k}")), false)?,
        };
        let missing: Vec<&String> = report.missing.iter().filter(|k| k.starts_with(prefix)).collect();
        if !missing.is_empty() || !report.unexpected.is_empty() {
            return Err(Error::format(path, format!("does not fit the {}: missing keys {missing:?}, unexpected keys {:?}", self.describe(), report.unexpected)));
        }
        Ok(())
    }

    /// Refuse data the backbone cannot take once prepared, naming both shapes.
    pub fn check_images(&self, shape: [usize; 3], size: Option<(i64, i64)>) -> Result<()> {
        let input = self.input();
        let c = shape[0] as i64;
        if !(c == input.channels || c == 1 || (c == 3 && input.channels == 1)) {
            return Err(Error::shape(format!("images for the {} at {}", self.describe(), self.path().display()), format!("1, 3 or {} channels", input.channels), format!("{shape:?}")));
        }
        if let Pretrained::Vit(ck) = self {
            let (h, w) = size.or(input.size).unwrap_or((shape[1] as i64, shape[2] as i64));
            let p = ck.config.patch_size;
            if h < p || w < p {
                return Err(Error::shape(format!("images for the ViT at {}", ck.dir.display()), format!("at least one {p}×{p} patch"), format!("{h}×{w}")));
            }
        }
        Ok(())
    }
}

/// A backbone network: features for a head.
#[derive(Debug)]
pub enum Backbone {
    ResNet(ResNetBackbone),
    Vit(Vit),
}

impl Backbone {
    /// Features `[N, F]` of prepared images.
    pub fn features(&self, x: &Tensor, train: bool) -> Tensor {
        match self {
            Backbone::ResNet(r) => r.features(x, train),
            Backbone::Vit(v) => v.features(x, train),
        }
    }

    pub fn features_dim(&self) -> i64 {
        match self {
            Backbone::ResNet(r) => r.features_dim(),
            Backbone::Vit(v) => v.features_dim(),
        }
    }
}

impl AddLora for Backbone {
    fn add_lora(&mut self, targets: &LoraTargets, adapters: &nn::Path, config: LoraConfig, seed: u64) -> Result<usize> {
        match self {
            Backbone::ResNet(r) => r.add_lora(targets, adapters, config, seed),
            Backbone::Vit(v) => v.add_lora(targets, adapters, config, seed),
        }
    }
}

/// Images as the backbone wants them, made per batch on the batch's device:
/// channels, then size, then `(x − mean) / std`.
#[derive(Debug)]
pub struct Prepare {
    channels: i64,
    size: Option<(i64, i64)>,
    mean: Tensor,
    std: Tensor,
}

impl Prepare {
    /// For `input`, with `size` replacing its size when given.
    pub fn new(input: &InputSpec, size: Option<(i64, i64)>, device: tch::Device) -> Self {
        let v = |x: &[f64]| Tensor::from_slice(&x.iter().map(|&v| v as f32).collect::<Vec<_>>()).view([1, -1, 1, 1]).to_device(device);
        Prepare { channels: input.channels, size: size.or(input.size), mean: v(&input.mean), std: v(&input.std) }
    }

    /// `[N, C, H, W]` in [0, 1] → the backbone's input.
    pub fn apply(&self, x: &Tensor) -> Tensor {
        let c = x.size()[1];
        let x = match (c, self.channels) {
            (a, b) if a == b => x.shallow_clone(),
            (1, b) => x.expand([-1, b, -1, -1], false),
            // ITU-R 601 luma, as PIL's "L" conversion
            (3, 1) => x.narrow(1, 0, 1) * 0.299 + x.narrow(1, 1, 1) * 0.587 + x.narrow(1, 2, 1) * 0.114,
            _ => x.shallow_clone(), // refused before training by Pretrained::check_images
        };
        let x = match self.size {
            Some((h, w)) if (h, w) != (x.size()[2], x.size()[3]) => x.contiguous().internal_upsample_bilinear2d_aa([h, w], false, None, None),
            _ => x,
        };
        (x - &self.mean) / &self.std
    }
}

/// Names and shapes in a safetensors file, from its header alone (the 8-byte length
/// and the JSON that follows), so recognising a large checkpoint reads kilobytes.
pub(crate) fn safetensors_header(path: &Path) -> Result<BTreeMap<String, Vec<i64>>> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| Error::Io { path: path.to_path_buf(), source: e })?;
    let mut len = [0u8; 8];
    f.read_exact(&mut len).map_err(|_| Error::format(path, "is shorter than a safetensors header"))?;
    let n = u64::from_le_bytes(len);
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    if n > 100_000_000 || n + 8 > size {
        return Err(Error::format(path, format!("claims a {n}-byte safetensors header in a {size}-byte file")));
    }
    let mut header = vec![0u8; n as usize];
    f.read_exact(&mut header).map_err(|e| Error::Io { path: path.to_path_buf(), source: e })?;
    let v: serde_json::Value = serde_json::from_slice(&header).map_err(|e| Error::format(path, format!("safetensors header is not JSON: {e}")))?;
    let map = v.as_object().ok_or_else(|| Error::format(path, "safetensors header is not a JSON object"))?;
    let mut out = BTreeMap::new();
    for (k, t) in map {
        if k == "__metadata__" {
            continue;
        }
        let shape = t["shape"].as_array().ok_or_else(|| Error::format(path, format!("tensor {k:?} has no shape")))?;
        out.insert(k.clone(), shape.iter().map(|d| d.as_i64().unwrap_or(-1)).collect());
    }
    Ok(out)
}
