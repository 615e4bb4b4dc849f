//! The CLIP text encoder (`transformers.CLIPTextModel`) with its weight names.
//!
//! Stable Diffusion conditions its UNet on `last_hidden_state`: token and position
//! embeddings, pre-norm transformer layers under a causal mask, a final layer norm.
//! Textual inversion appends rows to the token table; [`ClipTextModel::forward_with`]
//! takes those rows as a separate tensor so that the pretrained table stays frozen
//! and bit-identical while the new rows learn.

use super::config::{read_config, ConfigValue};
use crate::{Error, Result};
use serde::Deserialize;
use std::path::Path;
use tch::nn::{self, Module};
use tch::{Kind, Tensor};

/// `text_encoder/config.json`: the fields the forward pass depends on.
#[derive(Debug, Clone, Deserialize)]
pub struct ClipTextConfig {
    /// Rows of the token table.
    pub vocab_size: i64,
    /// Width of the hidden states (768 in SD 1.x, 1024 in SD 2.x).
    pub hidden_size: i64,
    /// Width of the feed-forward layer.
    pub intermediate_size: i64,
    /// Transformer layers.
    pub num_hidden_layers: i64,
    /// Attention heads.
    pub num_attention_heads: i64,
    /// The longest sequence (77).
    pub max_position_embeddings: i64,
    /// `quick_gelu` (SD 1.x) or `gelu` (SD 2.x).
    #[serde(default = "quick_gelu")]
    pub hidden_act: String,
    /// Layer-norm epsilon.
    #[serde(default = "ln_eps")]
    pub layer_norm_eps: f64,
}

fn quick_gelu() -> String {
    "quick_gelu".into()
}
fn ln_eps() -> f64 {
    1e-5
}

impl ConfigValue for ClipTextConfig {
    fn check(&self, path: &Path) -> Result<()> {
        if !matches!(self.hidden_act.as_str(), "quick_gelu" | "gelu") {
            return Err(Error::Format { path: path.into(), reason: format!("hidden_act {:?} is not supported (quick_gelu, gelu)", self.hidden_act) });
        }
        if self.num_attention_heads <= 0 || self.hidden_size % self.num_attention_heads != 0 {
            return Err(Error::Format { path: path.into(), reason: format!("hidden_size {} is not a multiple of num_attention_heads {}", self.hidden_size, self.num_attention_heads) });
        }
        Ok(())
    }
}

impl ClipTextConfig {
    /// Reads and checks `config.json`.
    pub fn read(path: &Path) -> Result<Self> {
        read_config(path)
    }
}

#[derive(Debug)]
struct Layer {
    ln1: nn::LayerNorm,
    ln2: nn::LayerNorm,
    q: nn::Linear,
    k: nn::Linear,
    v: nn::Linear,
    out: nn::Linear,
    fc1: nn::Linear,
    fc2: nn::Linear,
}

/// `CLIPTextModel`: variables under `text_model.` as transformers names them.
#[derive(Debug)]
pub struct ClipTextModel {
    config: ClipTextConfig,
    token_embedding: Tensor,
    position_embedding: Tensor,
    layers: Vec<Layer>,
    final_ln: nn::LayerNorm,
}

impl ClipTextModel {
    /// Builds the model's variables under `p` (pass the store's root: the names begin
    /// with `text_model.`).
    pub fn new(p: &nn::Path, config: &ClipTextConfig) -> Self {
        let t = p / "text_model";
        let emb = &t / "embeddings";
        let ln = nn::LayerNormConfig { eps: config.layer_norm_eps, ..Default::default() };
        let h = config.hidden_size;
        let token_embedding = (&emb / "token_embedding").var("weight", &[config.vocab_size, h], nn::Init::Randn { mean: 0., stdev: 0.02 });
        let position_embedding = (&emb / "position_embedding").var("weight", &[config.max_position_embeddings, h], nn::Init::Randn { mean: 0., stdev: 0.02 });
        let layers = (0..config.num_hidden_layers)
            .map(|i| {
                let l = &t / "encoder" / "layers" / i;
                let a = &l / "self_attn";
                Layer {
                    ln1: nn::layer_norm(&l / "layer_norm1", vec![h], ln),
                    ln2: nn::layer_norm(&l / "layer_norm2", vec![h], ln),
                    q: nn::linear(&a / "q_proj", h, h, Default::default()),
                    k: nn::linear(&a / "k_proj", h, h, Default::default()),
                    v: nn::linear(&a / "v_proj", h, h, Default::default()),
                    out: nn::linear(&a / "out_proj", h, h, Default::default()),
                    fc1: nn::linear(&l / "mlp" / "fc1", h, config.intermediate_size, Default::default()),
                    fc2: nn::linear(&l / "mlp" / "fc2", config.intermediate_size, h, Default::default()),
                }
            })
            .collect();
        let final_ln = nn::layer_norm(&t / "final_layer_norm", vec![h], ln);
        ClipTextModel { config: config.clone(), token_embedding, position_embedding, layers, final_ln }
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &ClipTextConfig {
        &self.config
    }

    /// The pretrained token table, `[vocab_size, hidden]`.
    pub fn token_table(&self) -> &Tensor {
        &self.token_embedding
    }

    /// `last_hidden_state` for token ids `[B, L]`.
    pub fn forward(&self, ids: &Tensor) -> Tensor {
        self.forward_with(ids, None)
    }

    /// `last_hidden_state` where ids at or past `vocab_size` index the rows of `extra`
    /// (`[n, hidden]`, for tokens added by textual inversion).
    pub fn forward_with(&self, ids: &Tensor, extra: Option<&Tensor>) -> Tensor {
        let table = match extra {
            Some(rows) => Tensor::cat(&[&self.token_embedding, &rows.to_kind(self.token_embedding.kind())], 0),
            None => self.token_embedding.shallow_clone(),
        };
        let (b, l) = ids.size2().expect("token ids are [batch, length]");
        let mut h = Tensor::embedding(&table, ids, -1, false, false) + self.position_embedding.narrow(0, 0, l).unsqueeze(0);
        let heads = self.config.num_attention_heads;
        let d = self.config.hidden_size / heads;
        // causal mask: each position sees itself and the positions before it
        let mask = Tensor::ones([l, l], (Kind::Bool, ids.device())).triu(1);
        for layer in &self.layers {
            let x = layer.ln1.forward(&h);
            let split = |t: Tensor| t.view([b, l, heads, d]).transpose(1, 2);
            let q = split(layer.q.forward(&x));
            let k = split(layer.k.forward(&x));
            let v = split(layer.v.forward(&x));
            let scores = q.matmul(&k.transpose(-1, -2)) * (d as f64).powf(-0.5);
            let scores = scores.masked_fill(&mask, f64::NEG_INFINITY);
            let a = scores.softmax(-1, scores.kind()).matmul(&v).transpose(1, 2).reshape([b, l, heads * d]);
            h = h + layer.out.forward(&a);
            let x = layer.fc1.forward(&layer.ln2.forward(&h));
            let x = match self.config.hidden_act.as_str() {
                "gelu" => x.gelu("none"),
                _ => &x * (&x * 1.702).sigmoid(),
            };
            h = h + layer.fc2.forward(&x);
        }
        self.final_ln.forward(&h)
    }
}
