//! LoRA adapters in peft's layout (Hugging Face's Parameter-Efficient Fine-Tuning
//! library): `adapter_config.json` and `adapter_model.safetensors`, so an adapter
//! trained here loads in peft and one saved by peft loads here.
//!
//! In the weight file each adapted module `M` (named from the model's root, e.g.
//! `vit.encoder.layer.0.attention.attention.query`) contributes
//! `base_model.model.M.lora_A.weight` (`[r, in]`) and `…lora_B.weight` (`[out, r]`);
//! a module in `modules_to_save` (the new classifier) is stored whole as
//! `base_model.model.classifier.{weight,bias}`. The update is `(lora_alpha / r) · B A`.
//!
//! peft names modules as the `transformers` version in memory names them: adapters
//! from `transformers` 4 say `encoder.layer.N.attention.attention.query`, from
//! `transformers` 5 `layers.N.attention.q_proj` (peft 0.21 on `transformers` 5 refuses
//! the older adapters; `tests/golden/make_vit_golden.py` prints it). Both load here;
//! [`NameStyle`] says which to write.
//!
//! peft's `print_trainable_parameters` counts a module in `modules_to_save` twice in
//! "all params" (its trained copy and the frozen original); [`PeftCount`] gives that
//! line and the count of distinct weights beside it.

use super::backbone::LoraTargets;
use super::lora::LoraConfig;
use super::vit::{canonical_name, Vit};
use crate::{Error, Result};
use std::collections::BTreeMap;
use std::path::Path;
use tch::{nn, Tensor};

/// `adapter_config.json`: the fields that decide what the adapter computes. Fields
/// peft writes that change nothing here are ignored on reading; the ones that would
/// change the computation and are not implemented are refused by [`PeftConfig::check`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PeftConfig {
    #[serde(default = "lora_type")]
    pub peft_type: String,
    pub r: i64,
    pub lora_alpha: f64,
    #[serde(default)]
    pub lora_dropout: f64,
    pub target_modules: LoraTargets,
    #[serde(default)]
    pub modules_to_save: Option<Vec<String>>,
    #[serde(default = "bias_none")]
    pub bias: String,
    #[serde(default)]
    pub use_dora: bool,
    #[serde(default)]
    pub use_rslora: bool,
    #[serde(default)]
    pub fan_in_fan_out: bool,
    #[serde(default)]
    pub rank_pattern: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub alpha_pattern: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub layers_to_transform: Option<serde_json::Value>,
    #[serde(default)]
    pub init_lora_weights: serde_json::Value,
    #[serde(default)]
    pub base_model_name_or_path: Option<String>,
    #[serde(default)]
    pub task_type: Option<String>,
    #[serde(default)]
    pub inference_mode: bool,
}

fn lora_type() -> String {
    "LORA".into()
}
fn bias_none() -> String {
    "none".into()
}

impl PeftConfig {
    /// peft's image-classification recipe for a ViT: `target_modules`
    /// `["query", "value"]`, the `classifier` trained in full.
    pub fn vit(lora: LoraConfig) -> Self {
        PeftConfig {
            peft_type: lora_type(),
            r: lora.rank,
            lora_alpha: lora.alpha,
            lora_dropout: lora.dropout,
            target_modules: LoraTargets::names(&["query", "value"]),
            modules_to_save: Some(vec!["classifier".into()]),
            bias: bias_none(),
            use_dora: false,
            use_rslora: false,
            fan_in_fan_out: false,
            rank_pattern: BTreeMap::new(),
            alpha_pattern: BTreeMap::new(),
            layers_to_transform: None,
            init_lora_weights: serde_json::Value::Bool(true),
            base_model_name_or_path: None,
            task_type: None,
            inference_mode: true,
        }
    }

    /// Rank, alpha and dropout.
    pub fn lora(&self) -> LoraConfig {
        LoraConfig { rank: self.r, alpha: self.lora_alpha, dropout: self.lora_dropout }
    }

    /// Refuse settings that change what the adapter computes and are not implemented
    /// (DoRA, rsLoRA, trained biases, per-layer ranks), naming the field.
    pub fn check(&self) -> Result<()> {
        let refuse = |field: &str, value: String| Err(Error::invalid(format!("peft {field}"), value, "is not implemented here (plain LoRA only)"));
        if self.peft_type != "LORA" {
            return refuse("peft_type", self.peft_type.clone());
        }
        if self.bias != "none" {
            return refuse("bias", self.bias.clone());
        }
        if self.use_dora {
            return refuse("use_dora", "true".into());
        }
        if self.use_rslora {
            return refuse("use_rslora", "true".into());
        }
        if self.fan_in_fan_out {
            return refuse("fan_in_fan_out", "true".into());
        }
        if !self.rank_pattern.is_empty() || !self.alpha_pattern.is_empty() {
            return refuse("rank_pattern / alpha_pattern", format!("{:?} / {:?}", self.rank_pattern, self.alpha_pattern));
        }
        if self.layers_to_transform.as_ref().is_some_and(|v| !v.is_null()) {
            return refuse("layers_to_transform", format!("{:?}", self.layers_to_transform));
        }
        self.lora().check()
    }

    fn saves(&self, module: &str) -> bool {
        self.modules_to_save.as_ref().is_some_and(|m| m.iter().any(|x| x == module))
    }
}

/// Which module names an adapter file is written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum NameStyle {
    /// `encoder.layer.N.attention.attention.query`: checkpoints, and peft on
    /// `transformers` 4.
    Checkpoint,
    /// `layers.N.attention.q_proj`: peft on `transformers` 5 (the current release).
    #[default]
    Transformers5,
}

impl NameStyle {
    fn module(&self, names: &[String; 2]) -> String {
        match self {
            NameStyle::Checkpoint => names[0].clone(),
            NameStyle::Transformers5 => names[1].clone(),
        }
    }

    fn target(&self, t: &str) -> String {
        let pairs = [("query", "q_proj"), ("key", "k_proj"), ("value", "v_proj")];
        for (old, new) in pairs {
            match self {
                NameStyle::Checkpoint if t == new => return old.into(),
                NameStyle::Transformers5 if t == old => return new.into(),
                _ => {}
            }
        }
        t.to_string()
    }
}

const PREFIX: &str = "base_model.model.";

/// Save the adapters of `vit` (registered in a `ViTForImageClassification`, so module
/// names start `vit.`) and, when `config.modules_to_save` holds `"classifier"`, the
/// classifier, into `dir` as peft does.
pub fn save_adapter(dir: &Path, vit: &Vit, classifier: Option<&nn::Linear>, config: &PeftConfig, style: NameStyle) -> Result<()> {
    config.check()?;
    std::fs::create_dir_all(dir).map_err(|e| Error::Io { path: dir.to_path_buf(), source: e })?;
    let mut tensors = Vec::new();
    for l in vit.linears() {
        if let Some(a) = &l.adapter {
            let m = style.module(&l.names);
            tensors.push((format!("{PREFIX}{m}.lora_A.weight"), a.a.detach().to_device(tch::Device::Cpu).contiguous()));
            tensors.push((format!("{PREFIX}{m}.lora_B.weight"), a.b.detach().to_device(tch::Device::Cpu).contiguous()));
        }
    }
    if tensors.is_empty() {
        return Err(Error::invalid("adapter", dir.display(), "the ViT carries no LoRA adapter to save"));
    }
    if config.saves("classifier") {
        let c = classifier.ok_or_else(|| Error::invalid("modules_to_save", "classifier", "no classifier was given to save"))?;
        tensors.push((format!("{PREFIX}classifier.weight"), c.ws.detach().to_device(tch::Device::Cpu).contiguous()));
        if let Some(b) = &c.bs {
            tensors.push((format!("{PREFIX}classifier.bias"), b.detach().to_device(tch::Device::Cpu).contiguous()));
        }
    }
    let mut written = config.clone();
    if let LoraTargets::Names(n) = &config.target_modules {
        let mut names: Vec<String> = n.iter().map(|t| style.target(t)).collect();
        names.sort();
        written.target_modules = LoraTargets::Names(names);
    }
    crate::io::write_safetensors(&dir.join("adapter_model.safetensors"), tensors)?;
    crate::io::write_atomic(&dir.join("adapter_config.json"), serde_json::to_string_pretty(&written)?.as_bytes())
}

/// Load a peft adapter from `dir` onto `vit`: read its config, attach adapters to the
/// layers its `target_modules` name (either naming), registered under `adapters`,
/// and copy the weights; the classifier's go into `classifier` when the adapter
/// saved it. A key that fits no adapted layer, a layer the file leaves out, or a
/// shape that differs is an error naming the key (and both shapes).
pub fn load_adapter(dir: &Path, vit: &mut Vit, adapters: &nn::Path, classifier: Option<&nn::Linear>) -> Result<PeftConfig> {
    use super::backbone::AddLora;
    let config_path = dir.join("adapter_config.json");
    let file = dir.join("adapter_model.safetensors");
    let text = std::fs::read_to_string(&config_path).map_err(|e| Error::Io { path: config_path.clone(), source: e })?;
    let config: PeftConfig = serde_json::from_str(&text).map_err(|e| Error::format(&config_path, format!("is not a peft LoRA config: {e}")))?;
    config.check().map_err(|e| Error::format(&config_path, e.to_string()))?;
    vit.add_lora(&config.target_modules, adapters, config.lora(), 0)?;
    let tensors = crate::io::read_safetensors(&file)?;
    let mut slots: BTreeMap<String, Tensor> = BTreeMap::new();
    for l in vit.linears() {
        if let Some(a) = &l.adapter {
            let m = canonical_name(&l.names[0]);
            slots.insert(format!("{m}.lora_A.weight"), a.a.shallow_clone());
            slots.insert(format!("{m}.lora_B.weight"), a.b.shallow_clone());
        }
    }
    if let (Some(c), true) = (classifier, config.saves("classifier")) {
        slots.insert("classifier.weight".into(), c.ws.shallow_clone());
        if let Some(b) = &c.bs {
            slots.insert("classifier.bias".into(), b.shallow_clone());
        }
    }
    let mut unexpected = Vec::new();
    tch::no_grad(|| -> Result<()> {
        for (key, t) in &tensors {
            let name = canonical_name(key.strip_prefix(PREFIX).unwrap_or(key)).replace(".default.", ".").replace(".modules_to_save.", ".");
            match slots.remove(&name) {
                Some(mut var) => {
                    if var.size() != t.size() {
                        return Err(Error::format(&file, format!("tensor {key:?} has shape {:?}, the model's {name:?} has {:?}", t.size(), var.size())));
                    }
                    var.copy_(t);
                }
                None => unexpected.push(key.clone()),
            }
        }
        Ok(())
    })?;
    if !unexpected.is_empty() || !slots.is_empty() {
        let missing: Vec<&String> = slots.keys().collect();
        return Err(Error::format(&file, format!("does not fit the model with {config_path:?}'s targets: unexpected keys {unexpected:?}, missing keys {missing:?}")));
    }
    Ok(config)
}

/// Parameter counts of a LoRA model, as peft prints them and as distinct weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PeftCount {
    /// Adapters plus the trained copies of `modules_to_save`.
    pub trainable: usize,
    /// peft's "all params": the base model, the adapters, and the copies of
    /// `modules_to_save` beside their frozen originals.
    pub all: usize,
    /// Every distinct weight the model computes with (the originals of
    /// `modules_to_save` are not used once copied, and are not counted).
    pub distinct: usize,
}

impl PeftCount {
    /// From the base model's weights (`base`, including the modules to save), the
    /// adapters' and the modules to save's.
    pub fn new(base: usize, adapters: usize, saved: usize) -> Self {
        PeftCount { trainable: adapters + saved, all: base + adapters + saved, distinct: base + adapters }
    }

    /// What peft's `print_trainable_parameters` prints for the same model.
    pub fn peft_line(&self) -> String {
        format!(
            "trainable params: {} || all params: {} || trainable%: {:.4}",
            thousands(self.trainable),
            thousands(self.all),
            100.0 * self.trainable as f64 / self.all.max(1) as f64
        )
    }
}

impl std::fmt::Display for PeftCount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({} distinct weights, {:.2}% of them trained)", self.peft_line(), thousands(self.distinct), 100.0 * self.trainable as f64 / self.distinct.max(1) as f64)
    }
}

/// `1234567` → `"1,234,567"`, as Python's `{:,d}`.
fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Scalars in the adapters of `vit`.
pub fn adapter_parameters(vit: &Vit) -> usize {
    vit.linears().iter().filter_map(|l| l.adapter.as_ref()).map(|a| a.a.numel() + a.b.numel()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_like_python() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(20518), "20,518");
        assert_eq!(thousands(85_800_963), "85,800,963");
    }

    #[test]
    fn style_maps_targets_both_ways() {
        assert_eq!(NameStyle::Transformers5.target("query"), "q_proj");
        assert_eq!(NameStyle::Checkpoint.target("v_proj"), "value");
        assert_eq!(NameStyle::Checkpoint.target("dense"), "dense");
    }
}
