//! Pretrained weights and adapters for the backbones: loading a safetensors file with
//! PyTorch-style reports of missing and unexpected keys ([`load_weights`]), and
//! attaching LoRA adapters to the layers whose names match ([`AddLora`]).
//!
//! The project's own backbone is [`crate::train::ResNetBackbone`], the network of the
//! `small-resnet` classifier: one network for training from scratch and for transfer.

use super::lora::{ConvAdapter, LoraConfig};
use crate::train::ResNetBackbone;
use crate::{Error, Result};
use tch::nn;

/// Which layers get adapters, chosen by name as peft's `target_modules` chooses them:
/// a list of names, each matching a layer whose dotted name is that name or ends in
/// `.name` (`["query", "value"]`, `["conv1"]`); or one regular expression that must
/// match the whole name (`r"block\d\..*"`, `r".*\.(query|value)"`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum LoraTargets {
    Names(Vec<String>),
    Pattern(String),
}

impl LoraTargets {
    /// Targets by name.
    pub fn names(names: &[&str]) -> Self {
        LoraTargets::Names(names.iter().map(|s| s.to_string()).collect())
    }

    /// Targets by a regular expression over the whole name.
    pub fn pattern(pattern: &str) -> Self {
        LoraTargets::Pattern(pattern.to_string())
    }

    /// Whether a layer known by any of `names` is a target. A pattern that does not
    /// compile is an error naming it.
    pub fn matches(&self, names: &[String]) -> Result<bool> {
        match self {
            LoraTargets::Names(targets) => Ok(targets.iter().any(|t| {
                let t = t.trim();
                !t.is_empty() && names.iter().any(|n| n == t || n.ends_with(&format!(".{t}")))
            })),
            LoraTargets::Pattern(p) => {
                let re = regex::Regex::new(&format!("^(?:{p})$")).map_err(|e| Error::invalid("LoRA target pattern", p, e.to_string()))?;
                Ok(names.iter().any(|n| re.is_match(n)))
            }
        }
    }
}

impl From<&[&str]> for LoraTargets {
    fn from(names: &[&str]) -> Self {
        LoraTargets::names(names)
    }
}

impl std::fmt::Display for LoraTargets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoraTargets::Names(n) => write!(f, "{n:?}"),
            LoraTargets::Pattern(p) => write!(f, "pattern \"{p}\""),
        }
    }
}

/// Attach LoRA adapters to a network's layers chosen by [`LoraTargets`].
pub trait AddLora {
    /// Register the adapters under `adapters` (initialised from `seed`; `B = 0`, so
    /// the network's output is unchanged) and return how many layers were adapted.
    /// No match is an error naming the targets and the layers there are.
    fn add_lora(&mut self, targets: &LoraTargets, adapters: &nn::Path, config: LoraConfig, seed: u64) -> Result<usize>;
}

impl AddLora for ResNetBackbone {
    fn add_lora(&mut self, targets: &LoraTargets, adapters: &nn::Path, config: LoraConfig, seed: u64) -> Result<usize> {
        let names = self.conv_names();
        let mut added = 0;
        for (i, conv) in self.convs_mut().into_iter().enumerate() {
            if targets.matches(std::slice::from_ref(&conv.name))? {
                let path = adapters / conv.name.replace('.', "_");
                let adapter = ConvAdapter::new(&conv.base.ws, conv.cfg, &path, config, crate::derive_seed(seed, &format!("lora/{i}")))?;
                conv.adapter = Some(Box::new(adapter));
                added += 1;
            }
        }
        if added == 0 {
            return Err(Error::invalid("LoRA targets", targets.to_string(), format!("match no convolution; names: {}", names.join(", "))));
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
    let mut tensors = crate::io::read_safetensors(file)?;
    // in name order, so that the first misshaped key reported is the same every time
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
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
