//! Pretrained weights and adapters for the backbones: loading a safetensors file with
//! PyTorch-style reports of missing and unexpected keys ([`load_weights`]), and
//! attaching LoRA adapters to the layers whose names match ([`AddLora`]).
//!
//! The project's own backbone is [`crate::train::ResNetBackbone`], the network of the
//! `small-resnet` classifier: one network for training from scratch and for transfer.

use super::lora::{ConvAdapter, LoraConfig};
use crate::train::ResNetBackbone;
use crate::{Error, Result};
use tch::{nn, Tensor};

/// Attach LoRA adapters to a network's layers by name, as peft's `target_modules`
/// does: a layer is adapted when its dotted name contains one of `targets`
/// (`["block"]`, `["block2", "block3"]`, `["conv1"]`).
pub trait AddLora {
    /// Register the adapters under `adapters` (initialised from `seed`; `B = 0`, so
    /// the network's output is unchanged) and return how many layers were adapted.
    /// No match is an error naming the targets and the layers there are.
    fn add_lora(&mut self, targets: &[&str], adapters: &nn::Path, config: LoraConfig, seed: u64) -> Result<usize>;
}

impl AddLora for ResNetBackbone {
    fn add_lora(&mut self, targets: &[&str], adapters: &nn::Path, config: LoraConfig, seed: u64) -> Result<usize> {
        let names = self.conv_names();
        let targets: Vec<&str> = targets.iter().map(|t| t.trim()).filter(|t| !t.is_empty()).collect();
        let mut added = 0;
        for (i, conv) in self.convs_mut().into_iter().enumerate() {
            if targets.iter().any(|t| conv.name.contains(t)) {
                let path = adapters / conv.name.replace('.', "_");
                let adapter = ConvAdapter::new(&conv.base.ws, conv.cfg, &path, config, crate::derive_seed(seed, &format!("lora/{i}")))?;
                conv.adapter = Some(Box::new(adapter));
                added += 1;
            }
        }
        if added == 0 {
            return Err(Error::invalid("LoRA targets", format!("{targets:?}"), format!("match no convolution; names: {}", names.join(", "))));
        }
        Ok(added)
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
