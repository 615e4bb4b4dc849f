//! torchvision's ResNets in tch, loaded from torchvision weights exported to
//! safetensors (`scripts/export_torchvision_resnet.py`).
//!
//! tch's `vision::resnet` registers its variables under torchvision's own names
//! (`conv1`, `bn1`, `layer2.0.downsample.0`, `fc`), so the mapping is: keep every
//! name, drop the batch-norm counters `*.num_batches_tracked` (tch has none), and
//! drop `fc.*` when the model is built without its classifier (to add a new head).

use super::backbone::{load_weights, LoadReport};
use crate::{Error, Result};
use std::path::Path;
use tch::{nn, nn::ModuleT, vision::resnet, Device};

/// Which ResNet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TorchvisionResNet {
    ResNet18,
    ResNet34,
    ResNet50,
}

impl std::str::FromStr for TorchvisionResNet {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "resnet18" => Ok(TorchvisionResNet::ResNet18),
            "resnet34" => Ok(TorchvisionResNet::ResNet34),
            "resnet50" => Ok(TorchvisionResNet::ResNet50),
            other => Err(Error::invalid("torchvision model", other, "known: resnet18, resnet34, resnet50")),
        }
    }
}

impl TorchvisionResNet {
    /// Features before the classifier (512 or 2048).
    pub fn features(&self) -> i64 {
        match self {
            TorchvisionResNet::ResNet50 => 2048,
            _ => 512,
        }
    }

    /// Build under `p`: with an `fc` of `num_classes` outputs, or without a classifier
    /// (the model then returns its pooled features).
    pub fn build(&self, p: &nn::Path, num_classes: Option<i64>) -> Box<dyn ModuleT> {
        match (self, num_classes) {
            (TorchvisionResNet::ResNet18, Some(k)) => Box::new(resnet::resnet18(p, k)),
            (TorchvisionResNet::ResNet18, None) => Box::new(resnet::resnet18_no_final_layer(p)),
            (TorchvisionResNet::ResNet34, Some(k)) => Box::new(resnet::resnet34(p, k)),
            (TorchvisionResNet::ResNet34, None) => Box::new(resnet::resnet34_no_final_layer(p)),
            (TorchvisionResNet::ResNet50, Some(k)) => Box::new(resnet::resnet50(p, k)),
            (TorchvisionResNet::ResNet50, None) => Box::new(resnet::resnet50_no_final_layer(p)),
        }
    }
}

/// The tch name of a torchvision state-dict key, or `None` to skip it.
pub fn torchvision_name(key: &str, with_classifier: bool) -> Option<String> {
    if key.ends_with(".num_batches_tracked") || (!with_classifier && key.starts_with("fc.")) {
        None
    } else {
        Some(key.to_string())
    }
}

/// Build `model` and load torchvision weights from `path` (safetensors). `strict`
/// makes missing or unexpected keys an error; otherwise they are reported.
pub fn load_torchvision_resnet(
    model: TorchvisionResNet,
    path: &Path,
    num_classes: Option<i64>,
    device: Device,
    strict: bool,
) -> Result<(nn::VarStore, Box<dyn ModuleT>, LoadReport)> {
    if !path.exists() {
        return Err(Error::NotFound { what: format!("{model:?} weights (export them with scripts/export_torchvision_resnet.py)"), searched: vec![path.to_path_buf()] });
    }
    let vs = nn::VarStore::new(device);
    let net = model.build(&vs.root(), num_classes);
    let report = load_weights(&vs, path, |k| torchvision_name(k, num_classes.is_some()), strict)?;
    Ok((vs, net, report))
}
