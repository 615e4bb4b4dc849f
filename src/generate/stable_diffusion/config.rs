//! Reading a component's `config.json` and its safetensors weights, with errors that
//! name the file, and a weight report in the words of PyTorch's `load_state_dict`.

use crate::{Error, Result};
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use tch::{nn, Tensor};

/// Most resolution levels a UNet or VAE config may declare (SD 1.x and 2.x have 4);
/// the VAE's downscale is `2^(levels - 1)`.
pub const MAX_LEVELS: usize = 8;

/// The checks a UNet and a VAE config share: at most [`MAX_LEVELS`] levels, positive
/// channels, positive norm groups (the fuzzer found a zero dividing); the reason
/// otherwise.
pub fn check_levels(block_out_channels: &[i64], norm_num_groups: i64) -> std::result::Result<(), String> {
    let n = block_out_channels.len();
    if n > MAX_LEVELS {
        return Err(format!("{n} levels in block_out_channels; at most {MAX_LEVELS} are supported"));
    }
    if let Some(c) = block_out_channels.iter().find(|c| **c <= 0) {
        return Err(format!("block_out_channels holds {c}; channels must be positive"));
    }
    if norm_num_groups <= 0 {
        return Err(format!("norm_num_groups {norm_num_groups} must be positive"));
    }
    Ok(())
}

/// A config that can say whether its values are ones this implementation supports.
pub trait ConfigValue {
    /// An error naming `path` and the field when a value is not supported.
    fn check(&self, path: &Path) -> Result<()>;
}

/// Reads `path` as JSON into `T` and checks it.
pub fn read_config<T: DeserializeOwned + ConfigValue>(path: &Path) -> Result<T> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io { path: path.into(), source })?;
    parse_config(&bytes, path)
}

/// [`read_config`] on the bytes of the file; `path` names it in errors.
pub fn parse_config<T: DeserializeOwned + ConfigValue>(bytes: &[u8], path: &Path) -> Result<T> {
    let value: T = serde_json::from_slice(bytes).map_err(|e| Error::Format { path: path.into(), reason: e.to_string() })?;
    value.check(path)?;
    Ok(value)
}

/// The weight files of a component folder: `NAME.safetensors`, its sharded form
/// (`NAME.safetensors.index.json`), or the `.fp16` variant when only that is present.
pub fn weight_files(dir: &Path, name: &str) -> Result<Vec<PathBuf>> {
    let single = dir.join(format!("{name}.safetensors"));
    if single.is_file() {
        return Ok(vec![single]);
    }
    let index = dir.join(format!("{name}.safetensors.index.json"));
    if index.is_file() {
        let text = std::fs::read_to_string(&index).map_err(|source| Error::Io { path: index.clone(), source })?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| Error::Format { path: index.clone(), reason: e.to_string() })?;
        let map = v.get("weight_map").and_then(|m| m.as_object()).ok_or_else(|| Error::Format { path: index.clone(), reason: "no \"weight_map\" object".into() })?;
        let files: BTreeSet<&str> = map.values().filter_map(|f| f.as_str()).collect();
        return Ok(files.into_iter().map(|f| dir.join(f)).collect());
    }
    let fp16 = dir.join(format!("{name}.fp16.safetensors"));
    if fp16.is_file() {
        return Ok(vec![fp16]);
    }
    let bin = dir.join(format!("{name}.bin"));
    let hint = if bin.is_file() { format!(" ({} is a pickle: convert it to safetensors first)", bin.display()) } else { String::new() };
    Err(Error::NotFound { what: format!("weights {name}.safetensors{hint}"), searched: vec![single, index, fp16] })
}

/// What a strict load found: empty lists mean every variable got its tensor.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct WeightReport {
    /// Variables of the model with no tensor in the files.
    pub missing: Vec<String>,
    /// Tensors in the files that the model has no variable for.
    pub unexpected: Vec<String>,
    /// `(name, checkpoint shape, model shape)` for tensors whose shape differs.
    pub misshaped: Vec<(String, Vec<i64>, Vec<i64>)>,
}

impl WeightReport {
    /// PyTorch's wording: `Error(s) in loading state_dict for MODEL: Missing key(s) …`.
    pub fn message(&self, model: &str) -> String {
        // all of them up to 12, as PyTorch lists them; past that the first 12 and a count
        let quote = |v: &[String]| {
            let mut s = v.iter().take(12).map(|k| format!("\"{k}\"")).collect::<Vec<_>>().join(", ");
            if v.len() > 12 {
                s.push_str(&format!(" and {} more", v.len() - 12));
            }
            s
        };
        let mut parts = vec![];
        if !self.missing.is_empty() {
            parts.push(format!("Missing key(s) in state_dict: {}.", quote(&self.missing)));
        }
        if !self.unexpected.is_empty() {
            parts.push(format!("Unexpected key(s) in state_dict: {}.", quote(&self.unexpected)));
        }
        for (k, file, model) in &self.misshaped {
            parts.push(format!("size mismatch for {k}: copying a param with shape {file:?} from checkpoint, the shape in current model is {model:?}."));
        }
        format!("Error(s) in loading state_dict for {model}:\n\t{}", parts.join("\n\t"))
    }

    /// True when nothing is missing, unexpected or misshaped.
    pub fn is_clean(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty() && self.misshaped.is_empty()
    }
}

/// Copies every tensor of `files` into the variable of the same name in `vs` (after
/// `rename`), converting the dtype to the variable's. Strict: any missing, unexpected or
/// misshaped key is an error naming the files and listing them all, and nothing
/// half-loaded is used (the caller drops the store).
pub fn load_strict(vs: &nn::VarStore, files: &[PathBuf], model: &str, rename: impl Fn(&str) -> String) -> Result<()> {
    let vars = vs.variables();
    let mut report = WeightReport::default();
    let mut seen = BTreeSet::new();
    let mut tensors: BTreeMap<String, Tensor> = BTreeMap::new();
    for f in files {
        let named = crate::io::read_safetensors(f)?;
        tensors.extend(named.into_iter().map(|(k, t)| (rename(&k), t)));
    }
    tch::no_grad(|| {
        for (key, t) in &tensors {
            match vars.get(key) {
                Some(var) if var.size() == t.size() => {
                    var.shallow_clone().copy_(t);
                    seen.insert(key.clone());
                }
                Some(var) => report.misshaped.push((key.clone(), t.size(), var.size())),
                None => report.unexpected.push(key.clone()),
            }
        }
    });
    report.missing = vars.keys().filter(|k| !seen.contains(*k) && !report.misshaped.iter().any(|m| &m.0 == *k)).cloned().collect();
    report.missing.sort();
    if report.is_clean() {
        Ok(())
    } else {
        let shown = files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", ");
        Err(Error::Format { path: files.first().cloned().unwrap_or_default(), reason: format!("{} (files: {shown})", report.message(model)) })
    }
}

/// Reads an int-or-list field as one value per block (`attention_head_dim: 8` or
/// `[5, 10, 20, 20]`).
#[derive(Debug, Clone, serde::Deserialize, PartialEq)]
#[serde(untagged)]
pub enum PerBlock {
    /// The same value for every block.
    One(i64),
    /// One value per down block.
    Each(Vec<i64>),
}

impl PerBlock {
    /// The value for each of `n` blocks, or an error when a list has the wrong length.
    pub fn expand(&self, n: usize, field: &str, path: &Path) -> Result<Vec<i64>> {
        match self {
            PerBlock::One(v) => Ok(vec![*v; n]),
            PerBlock::Each(v) if v.len() == n => Ok(v.clone()),
            PerBlock::Each(v) => Err(Error::Format { path: path.into(), reason: format!("{field} has {} values for {n} blocks", v.len()) }),
        }
    }
}
