//! The Vision Transformer (Dosovitskiy et al., 2021, "An Image is Worth 16x16 Words:
//! Transformers for Image Recognition at Scale") with Hugging Face's weight names, so a
//! `ViTModel` or `ViTForImageClassification` folder loads as it is.
//!
//! A folder holds `config.json`, `model.safetensors` and, usually,
//! `preprocessor_config.json` (image size, mean and std). [`VitCheckpoint::open`]
//! reads them; [`VitCheckpoint::load`] copies the weights into a [`Vit`] built from the
//! config, reporting missing, unexpected and misshaped keys.
//!
//! Names: checkpoints on the hub, and `save_pretrained` in every `transformers`
//! version, use `encoder.layer.N.attention.attention.{query,key,value}`,
//! `attention.output.dense`, `intermediate.dense` and `output.dense`; `transformers` 5
//! calls the same modules `layers.N.attention.{q,k,v,o}_proj` and `mlp.fc{1,2}` in
//! memory, so peft adapters made with it carry those names. Every linear layer here
//! answers to both ([`VitLinear::names`]), weights and adapters load under either
//! ([`canonical_name`]), and the checkpoint names are the ones stored.
//!
//! Forward (pre-norm, as the paper and `transformers`): patches by a strided
//! convolution, a class token, position embeddings (bicubically interpolated, as
//! `interpolate_pos_encoding=True` does, when the image is not the checkpoint's
//! size), then per layer `h = h + Attn(LN(h))`, `h = h + MLP(LN(h))`, a final layer
//! norm; the classifier reads the class token. Dropout in the config must be 0 (the
//! released ViTs have 0): a non-zero value is refused rather than ignored.

use super::backbone::{load_weights, AddLora, LoadReport, LoraTargets};
use super::lora::{merge_into, LinearAdapter, LoraConfig};
use crate::{Error, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tch::{nn, Tensor};

/// `config.json` of a Hugging Face ViT (the fields the network needs).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VitConfig {
    pub hidden_size: i64,
    pub num_hidden_layers: i64,
    pub num_attention_heads: i64,
    pub intermediate_size: i64,
    #[serde(default = "default_act")]
    pub hidden_act: String,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    pub image_size: i64,
    pub patch_size: i64,
    #[serde(default = "default_channels")]
    pub num_channels: i64,
    #[serde(default = "default_true")]
    pub qkv_bias: bool,
    #[serde(default)]
    pub hidden_dropout_prob: f64,
    #[serde(default)]
    pub attention_probs_dropout_prob: f64,
    /// Class names of a classification head, by index.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub id2label: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub architectures: Vec<String>,
    #[serde(default = "default_model_type")]
    pub model_type: String,
}

fn default_act() -> String {
    "gelu".into()
}
fn default_eps() -> f64 {
    1e-12
}
fn default_channels() -> i64 {
    3
}
fn default_true() -> bool {
    true
}
fn default_model_type() -> String {
    "vit".into()
}

impl VitConfig {
    /// A config with `transformers`' defaults for the fields not given here.
    pub fn new(image_size: i64, patch_size: i64, num_channels: i64, hidden_size: i64, layers: i64, heads: i64, intermediate_size: i64) -> Self {
        VitConfig {
            hidden_size,
            num_hidden_layers: layers,
            num_attention_heads: heads,
            intermediate_size,
            hidden_act: default_act(),
            layer_norm_eps: default_eps(),
            image_size,
            patch_size,
            num_channels,
            qkv_bias: true,
            hidden_dropout_prob: 0.0,
            attention_probs_dropout_prob: 0.0,
            id2label: BTreeMap::new(),
            architectures: Vec::new(),
            model_type: default_model_type(),
        }
    }

    /// Refuse what this implementation does not compute, naming the field.
    pub fn check(&self) -> Result<()> {
        let positive = [
            ("hidden_size", self.hidden_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("intermediate_size", self.intermediate_size),
            ("image_size", self.image_size),
            ("patch_size", self.patch_size),
            ("num_channels", self.num_channels),
        ];
        for (name, v) in positive {
            if v < 1 {
                return Err(Error::invalid(format!("ViT config {name}"), v, "must be positive"));
            }
        }
        if self.hidden_size % self.num_attention_heads != 0 {
            return Err(Error::invalid("ViT config hidden_size", self.hidden_size, format!("must be a multiple of num_attention_heads ({})", self.num_attention_heads)));
        }
        if self.image_size < self.patch_size {
            return Err(Error::invalid("ViT config image_size", self.image_size, format!("is smaller than one patch ({})", self.patch_size)));
        }
        activation(&self.hidden_act)?;
        for (name, p) in [("hidden_dropout_prob", self.hidden_dropout_prob), ("attention_probs_dropout_prob", self.attention_probs_dropout_prob)] {
            if p != 0.0 {
                return Err(Error::invalid(format!("ViT config {name}"), p, "dropout inside the ViT is not implemented; set it to 0 (the released ViTs use 0)"));
            }
        }
        if self.model_type != "vit" {
            return Err(Error::invalid("config model_type", &self.model_type, "this reader takes \"vit\" checkpoints"));
        }
        Ok(())
    }

    /// Patches along each side at the checkpoint's image size.
    pub fn grid(&self) -> i64 {
        self.image_size / self.patch_size
    }

    /// Classes of the checkpoint's classifier, if it names them.
    pub fn num_labels(&self) -> Option<i64> {
        (!self.id2label.is_empty()).then_some(self.id2label.len() as i64)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Activation {
    Gelu,
    GeluTanh,
    Relu,
}

fn activation(name: &str) -> Result<Activation> {
    match name {
        "gelu" => Ok(Activation::Gelu),
        "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Ok(Activation::GeluTanh),
        "relu" => Ok(Activation::Relu),
        other => Err(Error::invalid("ViT config hidden_act", other, "known: gelu, gelu_new, gelu_pytorch_tanh, relu")),
    }
}

/// How images are prepared for the model (`preprocessor_config.json`): resized to
/// `size`, scaled to [0, 1], then `(x − mean) / std` per channel.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Preprocessing {
    /// (height, width).
    pub size: (i64, i64),
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
}

impl Preprocessing {
    /// Read `preprocessor_config.json` (size as `{height, width}`, `{shortest_edge}` or
    /// a number; `do_normalize` false means mean 0 and std 1). Without the file:
    /// the config's image size and `ViTImageProcessor`'s defaults (mean and std 0.5).
    pub fn read(path: &Path, config: &VitConfig) -> Result<Self> {
        let c = config.num_channels as usize;
        let default = Preprocessing { size: (config.image_size, config.image_size), mean: vec![0.5; c], std: vec![0.5; c] };
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(default),
            Err(e) => return Err(Error::Io { path: path.to_path_buf(), source: e }),
        };
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| Error::format(path, e.to_string()))?;
        let size = match &v["size"] {
            serde_json::Value::Object(m) => match (m.get("height").and_then(|x| x.as_i64()), m.get("width").and_then(|x| x.as_i64()), m.get("shortest_edge").and_then(|x| x.as_i64())) {
                (Some(h), Some(w), _) => (h, w),
                (_, _, Some(s)) => (s, s),
                _ => return Err(Error::format(path, format!("size {} has neither height and width nor shortest_edge", v["size"]))),
            },
            serde_json::Value::Number(n) => {
                let s = n.as_i64().ok_or_else(|| Error::format(path, format!("size {n} is not a whole number")))?;
                (s, s)
            }
            serde_json::Value::Null => default.size,
            other => return Err(Error::format(path, format!("size {other} is not understood"))),
        };
        let floats = |key: &str, fallback: &[f64]| -> Result<Vec<f64>> {
            match &v[key] {
                serde_json::Value::Null => Ok(fallback.to_vec()),
                serde_json::Value::Number(n) => Ok(vec![n.as_f64().unwrap_or(f64::NAN); c]),
                serde_json::Value::Array(a) => a.iter().map(|x| x.as_f64().ok_or_else(|| Error::format(path, format!("{key} holds {x}, not a number")))).collect(),
                other => Err(Error::format(path, format!("{key} is {other}, not a list of numbers"))),
            }
        };
        let normalise = v["do_normalize"].as_bool().unwrap_or(true);
        let (mean, std) = if normalise { (floats("image_mean", &default.mean)?, floats("image_std", &default.std)?) } else { (vec![0.0; c], vec![1.0; c]) };
        if mean.len() != c || std.len() != c || std.iter().any(|s| !(*s > 0.0)) {
            return Err(Error::format(path, format!("image_mean {mean:?} and image_std {std:?} must hold {c} values (num_channels), std positive")));
        }
        Ok(Preprocessing { size, mean, std })
    }
}

/// A linear layer of the ViT, known by its checkpoint name and its `transformers` 5
/// name, that may carry a LoRA adapter.
#[derive(Debug)]
pub struct VitLinear {
    /// `[checkpoint name, transformers 5 name]`, both from the classification model's
    /// root (`vit.encoder.layer.0.attention.attention.query`,
    /// `vit.layers.0.attention.q_proj`).
    pub names: [String; 2],
    pub base: nn::Linear,
    pub adapter: Option<LinearAdapter>,
    merged: bool,
}

impl VitLinear {
    fn new(p: &nn::Path, leaf: &[&str], names: [String; 2], inp: i64, out: i64, bias: bool) -> Self {
        let mut path = p.clone();
        for part in leaf {
            path = &path / *part;
        }
        let base = nn::linear(path, inp, out, nn::LinearConfig { bias, ..Default::default() });
        VitLinear { names, base, adapter: None, merged: false }
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let y = x.apply(&self.base);
        match (&self.adapter, self.merged) {
            (Some(a), false) => y + a.forward_t(x, train),
            _ => y,
        }
    }

    /// Fold the adapter into the base weight (peft's `merge`); no-op without one.
    pub fn merge(&mut self) {
        if let (Some(a), false) = (&self.adapter, self.merged) {
            merge_into(&self.base.ws, &a.delta(), true);
            self.merged = true;
        }
    }

    /// Take a merged adapter back out (peft's `unmerge`).
    pub fn unmerge(&mut self) {
        if let (Some(a), true) = (&self.adapter, self.merged) {
            merge_into(&self.base.ws, &a.delta(), false);
            self.merged = false;
        }
    }
}

#[derive(Debug)]
struct VitLayer {
    layernorm_before: nn::LayerNorm,
    query: VitLinear,
    key: VitLinear,
    value: VitLinear,
    attention_output: VitLinear,
    layernorm_after: nn::LayerNorm,
    intermediate: VitLinear,
    output: VitLinear,
}

/// The ViT encoder (`ViTModel`): images `[N, C, H, W]` → hidden states `[N, 1 + P, D]`.
#[derive(Debug)]
pub struct Vit {
    pub config: VitConfig,
    patch: nn::Conv2D,
    cls_token: Tensor,
    position_embeddings: Tensor,
    layers: Vec<VitLayer>,
    layernorm: nn::LayerNorm,
    /// `pooler.dense` (tanh of a linear map of the class token), where present.
    pooler: Option<nn::Linear>,
    act: Activation,
}

impl Vit {
    /// Register the weights under `p` with Hugging Face's names (`embeddings.*`,
    /// `encoder.layer.N.*`, `layernorm.*`, and `pooler.dense.*` when `pooler`).
    pub fn new(p: &nn::Path, config: &VitConfig, pooler: bool) -> Result<Self> {
        config.check()?;
        let (d, c) = (config.hidden_size, config.num_channels);
        let e = p / "embeddings";
        let patch = nn::conv2d(&e / "patch_embeddings" / "projection", c, d, config.patch_size, nn::ConvConfig { stride: config.patch_size, ..Default::default() });
        let cls_token = e.zeros("cls_token", &[1, 1, d]);
        let position_embeddings = e.zeros("position_embeddings", &[1, config.grid() * config.grid() + 1, d]);
        let ln = |path: nn::Path| nn::layer_norm(path, vec![d], nn::LayerNormConfig { eps: config.layer_norm_eps, ..Default::default() });
        let layers = (0..config.num_hidden_layers)
            .map(|i| {
                let l = p / "encoder" / "layer" / i;
                let names = |old: &str, new: &str| [format!("vit.encoder.layer.{i}.{old}"), format!("vit.layers.{i}.{new}")];
                VitLayer {
                    layernorm_before: ln(&l / "layernorm_before"),
                    query: VitLinear::new(&l, &["attention", "attention", "query"], names("attention.attention.query", "attention.q_proj"), d, d, config.qkv_bias),
                    key: VitLinear::new(&l, &["attention", "attention", "key"], names("attention.attention.key", "attention.k_proj"), d, d, config.qkv_bias),
                    value: VitLinear::new(&l, &["attention", "attention", "value"], names("attention.attention.value", "attention.v_proj"), d, d, config.qkv_bias),
                    attention_output: VitLinear::new(&l, &["attention", "output", "dense"], names("attention.output.dense", "attention.o_proj"), d, d, true),
                    layernorm_after: ln(&l / "layernorm_after"),
                    intermediate: VitLinear::new(&l, &["intermediate", "dense"], names("intermediate.dense", "mlp.fc1"), d, config.intermediate_size, true),
                    output: VitLinear::new(&l, &["output", "dense"], names("output.dense", "mlp.fc2"), config.intermediate_size, d, true),
                }
            })
            .collect();
        let pooler = pooler.then(|| nn::linear(p / "pooler" / "dense", d, d, Default::default()));
        Ok(Vit { config: config.clone(), patch, cls_token, position_embeddings, layers, layernorm: ln(p / "layernorm"), pooler, act: activation(&config.hidden_act)? })
    }

    /// Features per image (the hidden size).
    pub fn features_dim(&self) -> i64 {
        self.config.hidden_size
    }

    /// Position embeddings for a `gh × gw` grid of patches: the stored ones at the
    /// checkpoint's square grid, else the patch part resized bicubically (no corner
    /// alignment), as `transformers` interpolates them.
    fn positions(&self, gh: i64, gw: i64) -> Tensor {
        let g = self.config.grid();
        if gh == g && gw == g {
            return self.position_embeddings.shallow_clone();
        }
        let d = self.config.hidden_size;
        let cls = self.position_embeddings.narrow(1, 0, 1);
        let grid = self.position_embeddings.narrow(1, 1, g * g).reshape([1, g, g, d]).permute([0, 3, 1, 2]);
        let resized = grid.upsample_bicubic2d([gh, gw], false, None, None).permute([0, 2, 3, 1]).reshape([1, gh * gw, d]);
        Tensor::cat(&[cls, resized], 1)
    }

    /// Refuse images the ViT cannot take, `[N, C, H, W]` or `[C, H, W]`: other than
    /// `num_channels` channels, or smaller than one patch.
    pub fn check_input(&self, shape: &[i64]) -> Result<()> {
        let patch = self.config.patch_size;
        let chw = &shape[shape.len().saturating_sub(3)..];
        if shape.len() < 3 || chw[0] != self.config.num_channels {
            return Err(Error::shape("images for the ViT", format!("[N, {}, H, W] (num_channels)", self.config.num_channels), format!("{shape:?}")));
        }
        if chw[1] < patch || chw[2] < patch {
            return Err(Error::shape("images for the ViT", format!("at least one patch, {patch}×{patch}"), format!("{}×{}", chw[1], chw[2])));
        }
        Ok(())
    }

    /// Patch and position embeddings with the class token first: `[N, 1 + P, D]`
    /// (images as [`Vit::check_input`] accepts).
    pub fn embed(&self, x: &Tensor) -> Tensor {
        let s = x.size();
        let (h, w) = (s[2], s[3]);
        let patch = self.config.patch_size;
        let tokens = x.apply(&self.patch).flatten(2, 3).transpose(1, 2); // [n, p, d]
        let cls = self.cls_token.expand([s[0], 1, self.config.hidden_size], false);
        Tensor::cat(&[cls, tokens], 1) + self.positions(h / patch, w / patch)
    }

    fn mlp_act(&self, x: &Tensor) -> Tensor {
        match self.act {
            Activation::Gelu => x.gelu("none"),
            Activation::GeluTanh => x.gelu("tanh"),
            Activation::Relu => x.relu(),
        }
    }

    fn attention(&self, l: &VitLayer, x: &Tensor, train: bool) -> Tensor {
        let s = x.size();
        let (n, t) = (s[0], s[1]);
        let heads = self.config.num_attention_heads;
        let dh = self.config.hidden_size / heads;
        let split = |y: Tensor| y.view([n, t, heads, dh]).transpose(1, 2); // [n, heads, t, dh]
        let (q, k, v) = (split(l.query.forward_t(x, train)), split(l.key.forward_t(x, train)), split(l.value.forward_t(x, train)));
        let probs = (q.matmul(&k.transpose(-1, -2)) / (dh as f64).sqrt()).softmax(-1, x.kind());
        let context = probs.matmul(&v).transpose(1, 2).contiguous().view([n, t, heads * dh]);
        l.attention_output.forward_t(&context, train)
    }

    /// The final hidden states (after the last layer norm), `last_hidden_state`.
    pub fn hidden_states(&self, x: &Tensor, train: bool) -> Tensor {
        let mut h = self.embed(x);
        for l in &self.layers {
            h = &h + self.attention(l, &h.apply(&l.layernorm_before), train);
            let m = l.intermediate.forward_t(&h.apply(&l.layernorm_after), train);
            h = &h + l.output.forward_t(&self.mlp_act(&m), train);
        }
        h.apply(&self.layernorm)
    }

    /// The class token's final state, `[N, D]`: what the classifier reads.
    pub fn features(&self, x: &Tensor, train: bool) -> Tensor {
        self.hidden_states(x, train).select(1, 0)
    }

    /// `pooler_output` (tanh of the pooler's linear map of the class token); `None`
    /// when the model has no pooler.
    pub fn pooled(&self, x: &Tensor) -> Option<Tensor> {
        self.pooler.as_ref().map(|p| self.features(x, false).apply(p).tanh())
    }

    /// Every linear layer, in forward order.
    pub fn linears(&self) -> Vec<&VitLinear> {
        self.layers.iter().flat_map(|l| [&l.query, &l.key, &l.value, &l.attention_output, &l.intermediate, &l.output]).collect()
    }

    pub fn linears_mut(&mut self) -> Vec<&mut VitLinear> {
        self.layers.iter_mut().flat_map(|l| [&mut l.query, &mut l.key, &mut l.value, &mut l.attention_output, &mut l.intermediate, &mut l.output]).collect()
    }

    /// Fold every adapter into its base weight.
    pub fn merge(&mut self) {
        self.linears_mut().into_iter().for_each(VitLinear::merge);
    }

    pub fn unmerge(&mut self) {
        self.linears_mut().into_iter().for_each(VitLinear::unmerge);
    }
}

impl AddLora for Vit {
    /// Adapters on the linear layers whose checkpoint or `transformers` 5 name
    /// matches (peft's rule: `["query", "value"]` or `["q_proj", "v_proj"]`, or a
    /// pattern for the whole name), registered under `adapters / <checkpoint name with
    /// '_' for '.'>`.
    fn add_lora(&mut self, targets: &LoraTargets, adapters: &nn::Path, config: LoraConfig, seed: u64) -> Result<usize> {
        let mut added = 0;
        let mut seen = Vec::new();
        for (i, l) in self.linears_mut().into_iter().enumerate() {
            seen.push(l.names[0].clone());
            if targets.matches(&l.names)? {
                let size = l.base.ws.size();
                let path = adapters / l.names[0].replace('.', "_");
                l.adapter = Some(LinearAdapter::new(size[0], size[1], l.base.ws.device(), &path, config, crate::derive_seed(seed, &format!("lora/{i}")))?);
                added += 1;
            }
        }
        if added == 0 {
            return Err(Error::invalid("LoRA targets", targets.to_string(), format!("match no linear layer of the ViT; names: {}", seen.join(", "))));
        }
        Ok(added)
    }
}

/// The checkpoint name of a ViT module or weight given under either naming:
/// `transformers` 5's `layers.N.attention.q_proj` becomes
/// `encoder.layer.N.attention.attention.query`, and so on; other names are kept.
pub fn canonical_name(name: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    let tokens: Vec<&str> = name.split('.').collect();
    let mut i = 0;
    while i < tokens.len() {
        match (tokens[i], tokens.get(i + 1), tokens.get(i + 2)) {
            ("layers", Some(n), _) if n.parse::<u64>().is_ok() => {
                parts.extend(["encoder".into(), "layer".into(), n.to_string()]);
                i += 2;
            }
            ("attention", Some(&p), _) if ["q_proj", "k_proj", "v_proj"].contains(&p) => {
                let leaf = match p {
                    "q_proj" => "query",
                    "k_proj" => "key",
                    _ => "value",
                };
                parts.extend(["attention".into(), "attention".into(), leaf.into()]);
                i += 2;
            }
            ("attention", Some(&"o_proj"), _) => {
                parts.extend(["attention".into(), "output".into(), "dense".into()]);
                i += 2;
            }
            ("mlp", Some(&f), _) if f == "fc1" || f == "fc2" => {
                let block = if f == "fc1" { "intermediate" } else { "output" };
                parts.extend([block.into(), "dense".into()]);
                i += 2;
            }
            (t, _, _) => {
                parts.push(t.to_string());
                i += 1;
            }
        }
    }
    parts.join(".")
}

/// A Hugging Face ViT folder: its config, preprocessing and weight file.
#[derive(Debug, Clone)]
pub struct VitCheckpoint {
    pub dir: PathBuf,
    pub config: VitConfig,
    pub preprocessing: Preprocessing,
    pub weights: PathBuf,
    /// Whether the weights hold `pooler.dense`.
    pub has_pooler: bool,
    /// Outputs of the weights' `classifier`, if they hold one.
    pub classifier: Option<i64>,
}

impl VitCheckpoint {
    /// Read `dir/config.json`, `dir/preprocessor_config.json` (optional) and the names
    /// and shapes in `dir/model.safetensors`.
    pub fn open(dir: &Path) -> Result<Self> {
        let config_path = dir.join("config.json");
        let weights = dir.join("model.safetensors");
        for p in [&config_path, &weights] {
            if !p.exists() {
                return Err(Error::NotFound { what: "a Hugging Face ViT folder (config.json and model.safetensors)".into(), searched: vec![p.clone()] });
            }
        }
        let text = std::fs::read_to_string(&config_path).map_err(|e| Error::Io { path: config_path.clone(), source: e })?;
        let config: VitConfig = serde_json::from_str(&text).map_err(|e| Error::format(&config_path, format!("is not a ViT config: {e}")))?;
        config.check().map_err(|e| Error::format(&config_path, e.to_string()))?;
        let preprocessing = Preprocessing::read(&dir.join("preprocessor_config.json"), &config)?;
        let shapes = super::pretrained::safetensors_header(&weights)?;
        let has_pooler = shapes.keys().any(|k| canonical_name(k).trim_start_matches("vit.").starts_with("pooler."));
        let classifier = shapes.get("classifier.weight").map(|s| s[0]);
        Ok(VitCheckpoint { dir: dir.to_path_buf(), config, preprocessing, weights, has_pooler, classifier })
    }

    /// Copy the encoder's weights into `vs`, where a [`Vit`] was built under
    /// `prefix` (`""`, `"vit."`, `"backbone."`), and, when `classifier` names a
    /// prefix, the classifier's too. Every weight of the model must be in the file,
    /// with the model's shape (a mismatch names the key and both shapes); weights of
    /// the file the model lacks are an error, except a classifier or pooler not asked for.
    pub fn load(&self, vs: &nn::VarStore, prefix: &str, classifier: Option<&str>) -> Result<LoadReport> {
        let report = load_weights(
            vs,
            &self.weights,
            |key| {
                let key = canonical_name(key);
                let key = key.strip_prefix("vit.").unwrap_or(&key);
                match key.strip_prefix("classifier.") {
                    Some(leaf) => classifier.map(|c| format!("{c}{leaf}")),
                    None => Some(format!("{prefix}{key}")),
                }
            },
            false,
        )?;
        let ours = |k: &&String| k.starts_with(prefix) || classifier.is_some_and(|c| k.starts_with(c));
        let missing: Vec<&String> = report.missing.iter().filter(ours).collect();
        let unexpected: Vec<&String> = report.unexpected.iter().filter(|k| !canonical_name(k).contains("pooler.")).collect();
        if !missing.is_empty() || !unexpected.is_empty() {
            return Err(Error::format(&self.weights, format!("does not match {}: missing keys {missing:?}, unexpected keys {unexpected:?}", self.dir.join("config.json").display())));
        }
        Ok(report)
    }
}

/// A ViT and a linear classifier on its class token (`ViTForImageClassification`),
/// registered as `vit.*` and `classifier.*`.
#[derive(Debug)]
pub struct VitClassifier {
    pub vit: Vit,
    pub classifier: nn::Linear,
}

impl VitClassifier {
    /// Build under `p` for `classes` classes.
    pub fn new(p: &nn::Path, config: &VitConfig, classes: i64) -> Result<Self> {
        Ok(VitClassifier { vit: Vit::new(&(p / "vit"), config, false)?, classifier: nn::linear(p / "classifier", config.hidden_size, classes, Default::default()) })
    }

    /// Build from a folder and load its weights (the classifier's too) into `vs`.
    pub fn from_pretrained(vs: &nn::VarStore, checkpoint: &VitCheckpoint) -> Result<Self> {
        let classes = checkpoint.classifier.ok_or_else(|| Error::format(&checkpoint.weights, "holds no classifier (a ViTModel, not ViTForImageClassification)"))?;
        let model = VitClassifier::new(&vs.root(), &checkpoint.config, classes)?;
        checkpoint.load(vs, "vit.", Some("classifier."))?;
        Ok(model)
    }

}

impl nn::ModuleT for VitClassifier {
    /// Logits `[N, classes]`.
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        self.vit.features(xs, train).apply(&self.classifier)
    }
}
