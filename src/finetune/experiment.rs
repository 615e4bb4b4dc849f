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
//! | `FrozenLinear` | head | pretrained backbone frozen; a linear head at ten times the rate |
//! | `FrozenMlp` | head | the same with a 128-unit hidden layer ("add layers on top") |
//! | `Lora { rank }` | adapters + head | LoRA on every block convolution of the frozen backbone |
//! | `Full` | everything | pretrained backbone and a new head, all trained at one rate |
//! | `Gradual` | head, then everything | a third of the steps on the head alone, then all layers with the backbone at a tenth of the rate |
//!
//! Every strategy trains through the one trainer ([`crate::train::Trainer`]): one
//! network (backbone `backbone.*`, head `head.*`, adapters `lora.*` in one store), Adam
//! on whatever is trainable, the backbone in its own optimiser group so that gradual
//! fine-tuning can give it a tenth of the rate. Every strategy of a seed sees the same
//! labelled images and the same batch order.
//! Backbone batch norm uses its pretrained running statistics whenever the backbone
//! is frozen (frozen, LoRA, the first phase of gradual).

use super::backbone::{load_weights, AddLora};
use super::lora::{LoraConfig, ParameterCount};
use super::pretrained::{Backbone, Pretrained, Prepare};
use super::vit::{Preprocessing, VitCheckpoint, VitConfig};
use crate::data::ImageDataset;
use crate::train::init::{reset_parameters, reset_parameters_under, to_channels_last};
use crate::train::{Callback, Classifier, Length, ModelKind, ModelSpec, ResNetBackbone, TrainConfig, TrainState, Trainer};
use crate::{derive_seed, Error, Result};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tch::{nn, Device, Tensor};

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
    /// Side of the square images the backbone sees, instead of its checkpoint's
    /// preprocessing size (torchvision's 224 costs (224/28)² = 64 times a 28×28
    /// image's compute; a smaller side trades accuracy for time on a CPU).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_size: Option<i64>,
}

impl Default for TransferConfig {
    /// 150 steps of batch 32, lr 1e-3, the checkpoint's image size.
    fn default() -> Self {
        TransferConfig { steps: 150, batch_size: 32, lr: 1e-3, image_size: None }
    }
}

impl TransferConfig {
    fn size(&self) -> Option<(i64, i64)> {
        self.image_size.map(|s| (s, s))
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

/// Optimiser group of the backbone's weights; the head and the adapters are in group 0.
const BACKBONE_GROUP: usize = 1;

/// What a transfer strategy trains: the backbone's features, then a head. While the
/// backbone is frozen (`backbone_trains` false) its batch norm uses the pretrained
/// running statistics, in training too.
#[derive(Debug)]
struct TransferNet {
    prepare: Prepare,
    backbone: Backbone,
    head: nn::Sequential,
    backbone_trains: Arc<AtomicBool>,
}

impl nn::ModuleT for TransferNet {
    /// `[N, C, H, W]` in [0, 1] → logits `[N, classes]`.
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let features = self.backbone.features(&self.prepare.apply(xs), train && self.backbone_trains.load(Ordering::Relaxed)); // [n, F]
        features.apply(&self.head)
    }
}

/// The backbone's variables (`backbone.*` of the transfer model's store), and whether
/// they train: freezing sets `requires_grad` and batch norm's mode together.
#[derive(Debug)]
struct BackboneSwitch {
    variables: Vec<Tensor>,
    trains: Arc<AtomicBool>,
}

impl BackboneSwitch {
    fn set(&self, trains: bool) {
        for v in &self.variables {
            let _ = v.set_requires_grad(trains);
        }
        self.trains.store(trains, Ordering::Relaxed);
    }
}

/// Gradual fine-tuning's second phase: the backbone starts training at step `at`.
#[derive(Debug)]
struct UnfreezeAt {
    at: usize,
    backbone: BackboneSwitch,
}

impl Callback for UnfreezeAt {
    fn before_batch(&mut self, state: &mut TrainState, _model: &Classifier) -> Result<()> {
        if state.step == self.at {
            self.backbone.set(true);
        }
        Ok(())
    }
}

/// A classifier of the backbone of `pretrained` (names `backbone.*`: its weights when
/// `load`, else initialised from `seed`) and a new head (`head.*`: linear, or
/// `hidden` ReLU units then linear) for images `shape` and `classes` classes, with
/// LoRA adapters (`lora.*`) on the backbone's usual targets when `lora` is given.
/// Images are prepared in the network ([`Prepare`]: channels, `size` or the
/// checkpoint's, normalisation). The backbone trains; the switch freezes it. Each
/// part is initialised from its own seed stream, so the numbers do not depend on
/// which other parts exist.
#[allow(clippy::too_many_arguments)]
fn transfer_model(
    pretrained: &Pretrained,
    load: bool,
    hidden: Option<i64>,
    lora: Option<LoraConfig>,
    shape: [usize; 3],
    size: Option<(i64, i64)>,
    classes: usize,
    seed: u64,
    device: Device,
) -> Result<(Classifier, BackboneSwitch)> {
    pretrained.check_images(shape, size)?;
    let vs = nn::VarStore::new(device);
    let root = vs.root();
    let mut backbone = pretrained.build(&(root.set_group(BACKBONE_GROUP) / "backbone"))?;
    let h = &root / "head";
    let (f, k) = (backbone.features_dim(), classes as i64);
    let head = match hidden {
        None => nn::seq().add(nn::linear(&h / "fc", f, k, Default::default())),
        Some(u) => nn::seq()
            .add(nn::linear(&h / "fc1", f, u, Default::default()))
            .add_fn(|x| x.relu())
            .add(nn::linear(&h / "fc2", u, k, Default::default())),
    };
    if load {
        pretrained.load(&vs, "backbone.")?;
    } else {
        reset_parameters_under(&vs, "backbone.", derive_seed(seed, "backbone"))?;
    }
    reset_parameters_under(&vs, "head.", derive_seed(seed, "head"))?;
    to_channels_last(&vs);
    // the backbone's parameters (not batch norm's running statistics, which never train)
    let trainable: Vec<Tensor> = vs.trainable_variables();
    let variables: Vec<Tensor> = vs
        .variables()
        .into_iter()
        .filter(|(name, v)| name.starts_with("backbone.") && trainable.iter().any(|t| t.data_ptr() == v.data_ptr()))
        .map(|(_, v)| v)
        .collect();
    if let Some(config) = lora {
        backbone.add_lora(&pretrained.lora_targets(), &(&root / "lora"), config, seed)?;
    }
    let trains = Arc::new(AtomicBool::new(true));
    let prepare = Prepare::new(&pretrained.input(), size, device);
    let net = TransferNet { prepare, backbone, head, backbone_trains: trains.clone() };
    // the spec states the data the classifier takes; the network is the backbone's
    let spec = ModelSpec { dropout: 0.0, ..ModelSpec::new(ModelKind::SmallResNet, shape, classes) };
    Ok((Classifier::from_parts(spec, vs, Box::new(net))?, BackboneSwitch { variables, trains }))
}

/// Train on `train` with `strategy` and score on `test` (labels `0..k` in both),
/// through the one trainer: Adam on every trainable weight, the batches of
/// `TrainConfig::seed = seed`.
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
    let started = std::time::Instant::now();
    let hidden = matches!(strategy, Strategy::FrozenMlp).then_some(128);
    let lora = match strategy {
        Strategy::Lora { rank } => Some(LoraConfig { rank, alpha: 2.0 * rank as f64, dropout: 0.0 }),
        _ => None,
    };
    let pretrained = Pretrained::open(checkpoint)?;
    let (mut model, backbone) = transfer_model(&pretrained, strategy.pretrained(), hidden, lora, train.image_shape(), cfg.size(), train.num_classes(), seed, device)?;
    let head_only = matches!(strategy, Strategy::FrozenLinear | Strategy::FrozenMlp);
    let train_cfg = TrainConfig {
        // a head alone learns fast: ten times the rate
        lr: if head_only { cfg.lr * 10.0 } else { cfg.lr },
        batch_size: cfg.batch_size,
        length: Length::Steps(cfg.steps),
        // a last batch of one image gives batch norm no variance to work with: PyTorch
        // refuses it, and at a 1×1 feature map (torchvision's ResNets on small images)
        // its running variance becomes NaN; such a batch is left out
        drop_last: train.len() > cfg.batch_size && train.len() % cfg.batch_size == 1,
        seed,
        progress: false,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(train_cfg);
    let mut unfreeze;
    match strategy {
        Strategy::FrozenLinear | Strategy::FrozenMlp | Strategy::Lora { .. } => backbone.set(false),
        Strategy::Gradual => {
            // a third of the steps on the head alone, then everything, the backbone at a tenth of the rate
            backbone.set(false);
            unfreeze = UnfreezeAt { at: cfg.steps / 3, backbone };
            trainer = trainer.group_lr(BACKBONE_GROUP, 0.1).callback(&mut unfreeze);
        }
        Strategy::Scratch | Strategy::Full => {}
    }
    let parameters_before = ParameterCount::of(&[&model.vs]);
    trainer.fit(&mut model, train)?;
    let train_seconds = started.elapsed().as_secs_f64();
    // gradual ends with everything trainable; the others train what they started with
    let parameters = if strategy == Strategy::Gradual { ParameterCount::of(&[&model.vs]) } else { parameters_before };
    let scores = model.evaluate(test)?;
    Ok(TransferResult { accuracy: scores.accuracy, auc_macro_ovr: scores.auc_macro_ovr, log_loss: scores.log_loss, parameters, train_seconds })
}

/// The network pretrained on the source task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceArch {
    /// The project's small ResNet, saved as one safetensors file.
    SmallResNet,
    /// A small ViT (hidden 64, 4 layers of 4 heads, MLP 128, patches of 4 pixels),
    /// saved as a Hugging Face `ViTForImageClassification` folder.
    Vit,
}

impl std::str::FromStr for SourceArch {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "small-resnet" | "resnet" => Ok(SourceArch::SmallResNet),
            "vit" => Ok(SourceArch::Vit),
            other => Err(Error::invalid("architecture", other, "known: small-resnet, vit")),
        }
    }
}

/// Where the committed pretrained ViT lives, relative to the crate.
pub const PRETRAINED_VIT: &str = "data/pretrained/vit_fmnist_0-4";

impl SourceArch {
    /// The committed checkpoint's path (relative to the working directory).
    pub fn default_out(&self) -> std::path::PathBuf {
        std::path::PathBuf::from(match self {
            SourceArch::SmallResNet => super::study::PRETRAINED,
            SourceArch::Vit => PRETRAINED_VIT,
        })
    }

    /// The untrained network for images `shape`, as if read from `out`.
    fn scratch(&self, shape: [usize; 3], out: &Path) -> Result<Pretrained> {
        let [c, h, w] = shape.map(|v| v as i64);
        Ok(match self {
            SourceArch::SmallResNet => Pretrained::SmallResNet { path: out.to_path_buf(), in_channels: c },
            SourceArch::Vit => {
                if h != w {
                    return Err(Error::shape("images for pretraining a ViT", "square", format!("{h}×{w}")));
                }
                let config = VitConfig::new(h, 4, c, 64, 4, 4, 128);
                config.check()?;
                let preprocessing = Preprocessing { size: (h, w), mean: vec![0.5; c as usize], std: vec![0.5; c as usize] };
                Pretrained::Vit(Box::new(VitCheckpoint { dir: out.to_path_buf(), weights: out.join("model.safetensors"), config, preprocessing, has_pooler: false, classifier: None }))
            }
        })
    }
}

/// Pretrain `arch` on the source classes (every training image) for `steps` Adam
/// steps of batch 64 (lr 1e-3, random crops with padding 2, the last short batch of
/// each epoch left out), save it to `out`, and return its source-test accuracy. The
/// small ResNet is saved as its backbone alone (safetensors, the names [`backbone`]
/// registers); the ViT as a Hugging Face folder (`config.json` with the class names,
/// `model.safetensors` with the classifier, `preprocessor_config.json`, a model card).
pub fn pretrain(arch: SourceArch, source_train: &ImageDataset, source_test: &ImageDataset, steps: usize, seed: u64, out: &Path) -> Result<f64> {
    use crate::augment::RandomCrop;
    let n = source_train.len();
    if n == 0 {
        return Err(Error::invalid("source images", 0, "pretraining needs at least one image"));
    }
    let shape = source_train.image_shape();
    let scratch = arch.scratch(shape, out)?;
    let (mut model, _) = transfer_model(&scratch, false, None, None, shape, None, source_train.num_classes(), seed, crate::device()?)?;
    let crop = RandomCrop::new(shape[1] as i64, shape[2] as i64).padding(2).build()?;
    let cfg = TrainConfig {
        lr: 1e-3,
        // batches of 64 (fewer when the source set is smaller: every epoch yields a batch)
        batch_size: n.min(64),
        length: Length::Steps(steps),
        drop_last: true,
        seed,
        progress: true,
        ..TrainConfig::default()
    };
    let started = std::time::Instant::now();
    Trainer::new(cfg).augment(&crop).fit(&mut model, source_train)?;
    let accuracy = model.evaluate(source_test)?.accuracy;
    let weights = model.weights();
    match scratch {
        Pretrained::Vit(ck) => save_vit_folder(out, &ck, &weights, &source_train.class_names, steps, seed, accuracy, started.elapsed().as_secs_f64())?,
        _ => {
            let backbone: Vec<(String, Tensor)> = weights.into_iter().filter_map(|(name, v)| name.strip_prefix("backbone.").map(|k| (k.to_string(), v))).collect();
            crate::io::write_safetensors(out, backbone)?;
        }
    }
    Ok(accuracy)
}

/// Write a trained transfer model with a ViT backbone as a Hugging Face folder.
#[allow(clippy::too_many_arguments)]
fn save_vit_folder(out: &Path, ck: &VitCheckpoint, weights: &[(String, Tensor)], classes: &[String], steps: usize, seed: u64, accuracy: f64, seconds: f64) -> Result<()> {
    use crate::error::IoContext;
    std::fs::create_dir_all(out).at(out)?;
    let named: Vec<(String, Tensor)> = weights
        .iter()
        .filter_map(|(name, v)| {
            let key = match (name.strip_prefix("backbone."), name.strip_prefix("head.fc.")) {
                (Some(k), _) => format!("vit.{k}"),
                (_, Some(k)) => format!("classifier.{k}"),
                _ => return None,
            };
            Some((key, v.shallow_clone()))
        })
        .collect();
    crate::io::write_safetensors(&out.join("model.safetensors"), named)?;
    let mut config = ck.config.clone();
    config.id2label = classes.iter().enumerate().map(|(i, c)| (i.to_string(), c.clone())).collect();
    config.architectures = vec!["ViTForImageClassification".into()];
    let mut json = serde_json::to_value(&config)?;
    json["label2id"] = classes.iter().enumerate().map(|(i, c)| (c.clone(), serde_json::json!(i))).collect::<serde_json::Map<_, _>>().into();
    crate::io::write_atomic(&out.join("config.json"), serde_json::to_string_pretty(&json)?.as_bytes())?;
    let p = &ck.preprocessing;
    let pre = serde_json::json!({
        "do_normalize": true, "do_rescale": true, "do_resize": true,
        "image_mean": p.mean, "image_std": p.std,
        "image_processor_type": "ViTImageProcessor", "resample": 2, "rescale_factor": 1.0 / 255.0,
        "size": {"height": p.size.0, "width": p.size.1},
    });
    crate::io::write_atomic(&out.join("preprocessor_config.json"), serde_json::to_string_pretty(&pre)?.as_bytes())?;
    let k = &config;
    let card = format!(
        "# A small ViT pretrained by smalldata\n\n\
        `ViTForImageClassification` in Hugging Face's layout: {layers} layers, hidden {d}, {heads} heads, MLP {mlp}, \
        {c}-channel {size}×{size} images in {patch}×{patch} patches; classes {classes:?}.\n\n\
        Trained from scratch by `smalldata finetune pretrain --arch vit --steps {steps} --seed {seed}` \
        ({steps} Adam steps of batch 64, lr 1e-3, random crops with padding 2) in {seconds:.0} s; \
        source-test accuracy {accuracy:.4}.\n",
        layers = k.num_hidden_layers, d = k.hidden_size, heads = k.num_attention_heads, mlp = k.intermediate_size,
        c = k.num_channels, size = k.image_size, patch = k.patch_size,
    );
    crate::io::write_atomic(&out.join("README.md"), card.as_bytes())
}
