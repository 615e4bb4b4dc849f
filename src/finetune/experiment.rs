//! Transfer learning on few labels: pretrain on a source task, then compare
//! strategies on a target task with 5–20 labels per class.
//!
//! Source task: Fashion-MNIST classes 0–4 (T-shirt, trouser, pullover, dress, coat),
//! every training image. Target task: classes 5–9 (sandal, shirt, sneaker, bag,
//! ankle boot), `n` labelled images per class, scored on their test images.
//!
//! | [`Strategy`] | trainable | how |
//! |---|---|---|
//! | `Scratch` | everything | random backbone + linear head: the baseline |
//! | `FrozenLinear` | head | pretrained backbone frozen; features computed once; a linear head |
//! | `FrozenMlp` | head | the same with a 128-unit hidden layer ("add layers on top") |
//! | `Lora { rank }` | adapters + head | LoRA on every block convolution of the frozen backbone |
//! | `Full` | everything | pretrained backbone and a new head, all trained at one rate |
//! | `Gradual` | head, then everything | a third of the steps on the head alone, then all layers with the backbone at a tenth of the rate |
//!
//! Every strategy of a seed sees the same labelled images and the same batch order.
//! Backbone batch norm uses its pretrained running statistics whenever the backbone
//! is frozen (frozen, LoRA, the first phase of gradual).

use super::backbone::{load_weights, AddLora};
use crate::train::{ResNetBackbone, FEATURES};
use super::lora::{LoraConfig, ParameterCount};
use crate::data::{batch_indices, ImageDataset};
use crate::evaluate::{accuracy, roc_auc_multiclass, MultiClass};
use crate::train::init::{channels_last, reset_parameters, to_channels_last};
use crate::{derive_seed, Error, Result};
use std::path::Path;
use tch::nn::{self, Module, OptimizerConfig};
use tch::{Device, Kind, Tensor};

/// Classes of the source and target tasks.
pub const SOURCE_CLASSES: [i64; 5] = [0, 1, 2, 3, 4];
pub const TARGET_CLASSES: [i64; 5] = [5, 6, 7, 8, 9];

/// A transfer strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    Scratch,
    FrozenLinear,
    FrozenMlp,
    Lora { rank: i64 },
    Full,
    Gradual,
}

impl std::str::FromStr for Strategy {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let (name, value, given) = crate::params::parse_setting(s, "strategy", 8.0)?;
        if given && name != "lora" {
            return Err(Error::invalid("strategy", s, format!("{name} takes no parameter")));
        }
        Ok(match name.as_str() {
            "scratch" => Strategy::Scratch,
            "frozen-linear" | "frozen" => Strategy::FrozenLinear,
            "frozen-mlp" => Strategy::FrozenMlp,
            "lora" if value >= 1.0 && value.fract() == 0.0 => Strategy::Lora { rank: value as i64 },
            "lora" => return Err(Error::invalid("LoRA rank", s, "must be a whole number ≥ 1")),
            "full" => Strategy::Full,
            "gradual" => Strategy::Gradual,
            _ => return Err(Error::invalid("strategy", s, "known: scratch, frozen-linear, frozen-mlp, lora[=rank], full, gradual")),
        })
    }
}

impl crate::params::Setting for Strategy {
    fn setting(&self) -> String {
        match self {
            Strategy::Lora { rank } => format!("lora={rank}"),
            other => other.name(),
        }
    }
}

impl Strategy {
    pub fn name(&self) -> String {
        match self {
            Strategy::Scratch => "scratch".into(),
            Strategy::FrozenLinear => "frozen-linear".into(),
            Strategy::FrozenMlp => "frozen-mlp".into(),
            Strategy::Lora { rank } => format!("lora-r{rank}"),
            Strategy::Full => "full".into(),
            Strategy::Gradual => "gradual".into(),
        }
    }

    fn pretrained(&self) -> bool {
        !matches!(self, Strategy::Scratch)
    }
}

/// How each target run trains.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TransferConfig {
    pub steps: usize,
    pub batch_size: usize,
    /// Adam's rate for the head, adapters, and (for scratch/full) the backbone.
    pub lr: f64,
}

impl Default for TransferConfig {
    /// 150 steps of batch 32, lr 1e-3.
    fn default() -> Self {
        TransferConfig { steps: 150, batch_size: 32, lr: 1e-3 }
    }
}

/// Test scores and trainable parameters of one run.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct TransferResult {
    pub accuracy: f64,
    pub auc_macro_ovr: f64,
    /// Mean test cross-entropy.
    pub log_loss: f64,
    pub parameters: ParameterCount,
    pub train_seconds: f64,
}

/// Build the backbone on `device`; from `checkpoint` when given (strict load), else
/// initialised from `seed`. Conv weights are stored channels-last.
pub fn backbone(checkpoint: Option<&Path>, seed: u64, device: Device) -> Result<(nn::VarStore, ResNetBackbone)> {
    let vs = nn::VarStore::new(device);
    let net = ResNetBackbone::new(&vs.root(), 1);
    match checkpoint {
        Some(path) => {
            load_weights(&vs, path, |k| Some(k.to_string()), true)?;
        }
        None => reset_parameters(&vs, derive_seed(seed, "backbone"))?,
    }
    to_channels_last(&vs);
    Ok((vs, net))
}

fn head(vs: &nn::VarStore, hidden: Option<i64>, classes: i64, seed: u64) -> Result<nn::Sequential> {
    let p = vs.root();
    let h = match hidden {
        None => nn::seq().add(nn::linear(&p / "fc", FEATURES, classes, Default::default())),
        Some(k) => nn::seq()
            .add(nn::linear(&p / "fc1", FEATURES, k, Default::default()))
            .add_fn(|x| x.relu())
            .add(nn::linear(&p / "fc2", k, classes, Default::default())),
    };
    reset_parameters(vs, derive_seed(seed, "head"))?;
    Ok(h)
}

/// Logits of `clf` on the backbone's eval-mode features of `images`, in chunks of
/// 500 on `device`, returned on the CPU.
fn head_logits(net: &ResNetBackbone, clf: &nn::Sequential, images: &Tensor, device: Device) -> Tensor {
    let n = images.size()[0];
    tch::no_grad(|| {
        let parts: Vec<Tensor> = (0..n)
            .step_by(500)
            .map(|i| clf.forward(&net.features(&channels_last(&images.narrow(0, i, 500.min(n - i)).to_device(device)), false)).to_device(Device::Cpu))
            .collect();
        Tensor::cat(&parts, 0)
    })
}

fn adam(vs: &nn::VarStore, lr: f64) -> Result<nn::Optimizer> {
    Ok(nn::Adam::default().build(vs, lr)?)
}

/// Train on `train` with `strategy` and score on `test` (labels `0..k` in both).
pub fn run_strategy(
    strategy: Strategy,
    checkpoint: &Path,
    train: &ImageDataset,
    test: &ImageDataset,
    cfg: &TransferConfig,
    seed: u64,
) -> Result<TransferResult> {
    // CUDA when present (SMALLDATA_DEVICE overrides), as the studies do
    let device = crate::device()?;
    let classes = train.num_classes() as i64;
    let started = std::time::Instant::now();
    let (mut backbone_vs, mut net) = backbone(strategy.pretrained().then_some(checkpoint), seed, device)?;
    let head_vs = nn::VarStore::new(device);
    let mlp = matches!(strategy, Strategy::FrozenMlp).then_some(128);
    let clf = head(&head_vs, mlp, classes, seed)?;
    let adapter_vs = nn::VarStore::new(device);
    let x_train = channels_last(&train.images.to_device(device));
    let y_train = train.labels.to_device(device);
    let n = train.len();
    let batches = |epoch: usize| batch_indices(n, cfg.batch_size, Some(derive_seed(seed, &format!("batches/{epoch}"))), false);
    let mut step_batches = (0..).flat_map(batches).take(cfg.steps);
    let gather = |t: &Tensor, idx: &[usize]| t.index_select(0, &Tensor::from_slice(&idx.iter().map(|&i| i as i64).collect::<Vec<_>>()).to_device(device));

    let parameters;
    match strategy {
        Strategy::FrozenLinear | Strategy::FrozenMlp => {
            backbone_vs.freeze();
            parameters = ParameterCount::of(&[&backbone_vs, &head_vs]);
            let feats = tch::no_grad(|| net.features(&x_train, false));
            let mut opt = adam(&head_vs, cfg.lr * 10.0)?;
            for idx in step_batches.by_ref() {
                let loss = clf.forward(&gather(&feats, &idx)).cross_entropy_for_logits(&gather(&y_train, &idx));
                opt.backward_step(&loss);
            }
        }
        Strategy::Lora { rank } => {
            backbone_vs.freeze();
            net.add_lora(&["block"], &adapter_vs.root(), LoraConfig { rank, alpha: 2.0 * rank as f64, dropout: 0.0 }, seed)?;
            parameters = ParameterCount::of(&[&backbone_vs, &head_vs, &adapter_vs]);
            let (mut oa, mut oh) = (adam(&adapter_vs, cfg.lr)?, adam(&head_vs, cfg.lr)?);
            for idx in step_batches.by_ref() {
                let loss = clf.forward(&net.features(&gather(&x_train, &idx), false)).cross_entropy_for_logits(&gather(&y_train, &idx));
                oa.zero_grad();
                oh.zero_grad();
                loss.backward();
                oa.step();
                oh.step();
            }
        }
        Strategy::Scratch | Strategy::Full | Strategy::Gradual => {
            let head_only = if strategy == Strategy::Gradual { cfg.steps / 3 } else { 0 };
            let (mut ob, mut oh) = (adam(&backbone_vs, cfg.lr)?, adam(&head_vs, cfg.lr)?);
            if strategy == Strategy::Gradual {
                ob.set_lr(cfg.lr / 10.0);
                backbone_vs.freeze();
            }
            for (step, idx) in step_batches.by_ref().enumerate() {
                if step == head_only && head_only > 0 {
                    backbone_vs.unfreeze();
                }
                let frozen = step < head_only;
                let loss = clf.forward(&net.features(&gather(&x_train, &idx), !frozen)).cross_entropy_for_logits(&gather(&y_train, &idx));
                ob.zero_grad();
                oh.zero_grad();
                loss.backward();
                if !frozen {
                    ob.step();
                }
                oh.step();
            }
            parameters = ParameterCount::of(&[&backbone_vs, &head_vs]);
        }
    }
    let train_seconds = started.elapsed().as_secs_f64();

    let logits = head_logits(&net, &clf, &test.images, device).to_kind(Kind::Double);
    let labels = test.labels_vec();
    let log_loss = logits.cross_entropy_for_logits(&test.labels).double_value(&[]);
    let pred = Vec::<i64>::try_from(logits.argmax(-1, false))?;
    let proba = crate::data::tensor_to_array2(&logits.softmax(-1, Kind::Double))?;
    Ok(TransferResult {
        accuracy: accuracy(&labels, &pred)?,
        auc_macro_ovr: roc_auc_multiclass(&labels, proba.view(), MultiClass::OvrMacro)?,
        log_loss,
        parameters,
        train_seconds,
    })
}

/// Pretrain the backbone on the source classes (every training image) for `steps`
/// Adam steps of batch 64 (lr 1e-3, random crops with padding 2), save the backbone
/// alone to `out` (safetensors), and return its source-test accuracy.
pub fn pretrain(source_train: &ImageDataset, source_test: &ImageDataset, steps: usize, seed: u64, out: &Path) -> Result<f64> {
    use crate::augment::{AugRng, Augment, RandomCrop};
    let device = Device::Cpu;
    let (backbone_vs, net) = backbone(None, seed, device)?;
    let head_vs = nn::VarStore::new(device);
    let clf = head(&head_vs, None, source_train.num_classes() as i64, seed)?;
    let (mut ob, mut oh) = (adam(&backbone_vs, 1e-3)?, adam(&head_vs, 1e-3)?);
    let [_, h, w] = source_train.image_shape();
    let crop = RandomCrop::new(h as i64, w as i64).padding(2).build()?;
    let mut rng = AugRng::new(derive_seed(seed, "augment"));
    let n = source_train.len();
    if n == 0 {
        return Err(Error::invalid("source images", 0, "pretraining needs at least one image"));
    }
    // batches of 64 (fewer when the source set is smaller: every epoch yields a batch)
    let batch = n.min(64);
    let progress = crate::train::Progress::new(steps as u64, true, "pretrain");
    let order = (0..).flat_map(|e| batch_indices(n, batch, Some(derive_seed(seed, &format!("batches/{e}"))), true)).take(steps);
    for idx in order {
        let idx = Tensor::from_slice(&idx.iter().map(|&i| i as i64).collect::<Vec<_>>());
        let x = crop.apply_rng(&source_train.images.index_select(0, &idx), &mut rng)?;
        let loss = clf.forward(&net.features(&channels_last(&x), true)).cross_entropy_for_logits(&source_train.labels.index_select(0, &idx));
        ob.zero_grad();
        oh.zero_grad();
        loss.backward();
        ob.step();
        oh.step();
        progress.step(loss.double_value(&[]));
    }
    progress.finish();
    let logits = head_logits(&net, &clf, &source_test.images, device);
    let pred = Vec::<i64>::try_from(logits.argmax(-1, false))?;
    let acc = accuracy(&source_test.labels_vec(), &pred)?;
    crate::io::write_safetensors(out, backbone_vs.variables().into_iter().collect())?;
    Ok(acc)
}
