//! The transfer experiment on the experiment engine: sizes × strategies × seeds,
//! each strategy an [`Arm`], with `scratch` as the baseline.

use crate::data::classes_subset;
use super::experiment::{run_strategy, SourceArch, Strategy, TransferConfig, SOURCE_CLASSES, TARGET_CLASSES};
use super::pretrained::Pretrained;
use crate::data::{fashion_mnist, FolderConfig, ImageDataset};
use crate::error::IoContext;
use crate::experiment::{run_experiment, Arm, ArmOutput, Experiment, ExperimentOutcome, ImageDraw, ImageTask, RunContext, Scores};
use crate::{Error, Result};
use std::path::PathBuf;

/// Where the committed pretrained backbone lives, relative to the crate.
pub const PRETRAINED: &str = "data/pretrained/resnet_fmnist_0-4.safetensors";

/// The experiment: pretrained checkpoint, target data, sizes, strategies, seeds.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TransferStudyConfig {
    pub checkpoint: PathBuf,
    /// Fashion-MNIST directory (default: searched, falling back to the embedded subset).
    pub data_dir: Option<PathBuf>,
    /// The user's image folder as the target task instead of Fashion-MNIST 5–9
    /// (read at the backbone's size and channels, 28×28 gray for the committed
    /// ResNet; 30% of each class held out unless it has `train/` and `test/`).
    #[serde(default)]
    pub folder: Option<PathBuf>,
    /// Labelled target images per class.
    pub sizes: Vec<usize>,
    pub strategies: Vec<Strategy>,
    pub seeds: usize,
    pub train: TransferConfig,
    /// Score on a stratified subset of the target test images.
    pub test_limit: Option<usize>,
    pub jobs: usize,
    pub out: PathBuf,
    pub progress: bool,
    #[serde(default)]
    pub restart: bool,
}

impl Default for TransferStudyConfig {
    /// The committed checkpoint; 5, 10 and 20 labels per class; every strategy (LoRA
    /// rank 8); 3 seeds; 150 steps of batch 32; all 5,000 target test images.
    fn default() -> Self {
        TransferStudyConfig {
            checkpoint: crate::data::asset_path(PRETRAINED),
            data_dir: None,
            folder: None,
            sizes: vec![5, 10, 20],
            strategies: vec![
                Strategy::Scratch,
                Strategy::FrozenLinear,
                Strategy::FrozenMlp,
                Strategy::Lora { rank: 8 },
                Strategy::Full,
                Strategy::Gradual,
            ],
            seeds: 3,
            train: TransferConfig::default(),
            test_limit: None,
            jobs: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            out: PathBuf::from("report/finetune"),
            progress: true,
            restart: false,
        }
    }
}

/// What makes two transfer runs comparable.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TransferProtocol {
    /// The checkpoint's file name.
    pub checkpoint: Option<String>,
    pub data: String,
    pub train: TransferConfig,
    pub test_limit: Option<usize>,
}

impl TransferStudyConfig {
    pub fn check(&self) -> Result<()> {
        crate::experiment::check_grid(&self.sizes, self.seeds)?;
        if self.strategies.is_empty() {
            return Err(Error::invalid("strategies", "[]", "need at least one"));
        }
        if self.train.steps == 0 || self.train.batch_size == 0 || !(self.train.lr > 0.0) {
            return Err(Error::invalid("training", format!("{:?}", self.train), "steps, batch size and lr must be positive"));
        }
        if !self.checkpoint.exists() {
            return Err(Error::NotFound { what: "pretrained backbone".into(), searched: vec![self.checkpoint.clone()] });
        }
        Ok(())
    }

    fn protocol(&self) -> TransferProtocol {
        TransferProtocol {
            checkpoint: self.checkpoint.file_name().map(|f| f.to_string_lossy().to_string()),
            data: match &self.folder {
                Some(f) => f.display().to_string(),
                None => "fashion-mnist 5-9".into(),
            },
            train: self.train.clone(),
            test_limit: self.test_limit,
        }
    }

    /// The target task's (train pool, test set, description).
    fn target(&self, pretrained: &Pretrained) -> Result<(ImageDataset, ImageDataset, String)> {
        match &self.folder {
            Some(dir) => {
                let input = pretrained.input();
                let (h, w) = self.train.image_size.map(|s| (s, s)).or(input.size).unwrap_or((28, 28));
                let cfg = FolderConfig { size: Some((w as u32, h as u32)), channels: Some(input.channels as usize), ..Default::default() };
                let (tt, _) = crate::data::image_folder_train_test(dir, &cfg, 0.3, 0)?;
                Ok((tt.train, tt.test, tt.source))
            }
            None => {
                let data = fashion_mnist(self.data_dir.as_deref())?;
                let source = format!("Fashion-MNIST classes 5–9 (sandal, shirt, sneaker, bag, ankle boot) from {}", data.source);
                Ok((classes_subset(&data.train, &TARGET_CLASSES)?, classes_subset(&data.test, &TARGET_CLASSES)?, source))
            }
        }
    }
}

/// A transfer strategy over the backbone in `checkpoint`, as an experiment arm.
#[derive(Debug, Clone)]
pub struct TransferArm {
    pub strategy: Strategy,
    pub checkpoint: PathBuf,
    pub train: TransferConfig,
}

impl Arm<ImageDraw> for TransferArm {
    fn name(&self) -> String {
        self.strategy.name()
    }

    fn describe(&self) -> String {
        let t = &self.train;
        let file = self.checkpoint.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        format!("{} from {file} ({} steps of {}, lr {})", self.strategy.name(), t.steps, t.batch_size, t.lr)
    }

    /// The backbone must be readable and take the data's images once prepared
    /// (gray or RGB, converted to its channels; for a ViT at least one patch):
    /// anything else is an error naming both shapes.
    fn preflight(&self, draw: &ImageDraw) -> Result<()> {
        Pretrained::open(&self.checkpoint)?.check_images(draw.train.image_shape(), self.train.image_size.map(|s| (s, s)))
    }

    fn run(&self, draw: &ImageDraw, ctx: &RunContext) -> Result<ArmOutput> {
        let t = std::time::Instant::now();
        let r = run_strategy(self.strategy, &self.checkpoint, &draw.train, &draw.test, &self.train, ctx.seed)?;
        Ok(ArmOutput {
            scores: Scores::Classification { accuracy: r.accuracy, auc_macro_ovr: r.auc_macro_ovr, log_loss: Some(r.log_loss) },
            train_seconds: r.train_seconds,
            eval_seconds: (t.elapsed().as_secs_f64() - r.train_seconds).max(0.0),
            final_train_loss: None,
            test_size: draw.test.len(),
            detail: Some(r.parameters.to_string()),
        })
    }
}

/// Run (or resume) the transfer experiment into `cfg.out`: `results.jsonl`,
/// `study.json`, `summary.csv`, charts and `index.html`.
pub fn run_transfer_study(cfg: &TransferStudyConfig) -> Result<ExperimentOutcome> {
    cfg.check()?;
    let pretrained = Pretrained::open(&cfg.checkpoint)?;
    let (target_train, mut target_test, source) = cfg.target(&pretrained)?;
    pretrained.check_images(target_train.image_shape(), cfg.train.image_size.map(|s| (s, s)))?;
    if let Some(k) = cfg.test_limit.filter(|&k| k < target_test.len()) {
        target_test = target_test.subsample_per_class(k.div_ceil(target_test.num_classes()), 0)?;
    }
    let counts = target_train.class_counts();
    if let Some(&big) = cfg.sizes.iter().max() {
        if let Some((k, &have)) = counts.iter().enumerate().find(|(_, &c)| c < big) {
            return Err(Error::invalid("size", big, format!("class {} has only {have} training images in {source}", target_train.class_names[k])));
        }
    }
    std::fs::create_dir_all(&cfg.out).at(&cfg.out)?;
    let exp = Experiment {
        title: "Transfer learning on few labels".into(),
        protocol: cfg.protocol(),
        sizes: cfg.sizes.clone(),
        size_label: "labelled images per class".into(),
        seeds: (0..cfg.seeds as u64).collect(),
        arms: cfg
            .strategies
            .iter()
            .map(|&strategy| Box::new(TransferArm { strategy, checkpoint: cfg.checkpoint.clone(), train: cfg.train.clone() }) as Box<dyn Arm<ImageDraw>>)
            .collect(),
        baseline: "scratch".into(),
        jobs: cfg.jobs,
        out: cfg.out.clone(),
        progress: cfg.progress,
        restart: cfg.restart,
        notes: vec![
            format!("Target data: {source}; {} test images.", target_test.len()),
            format!("Backbone: {} ({}).", cfg.checkpoint.display(), pretrained.describe()),
        ],
        config: serde_json::to_value(cfg)?,
        deadline: None,
    };
    let task = ImageTask { train: target_train, test: target_test };
    run_experiment(&exp, || Ok(task.shallow_clone()))
}

/// Pretrain a committed backbone: Fashion-MNIST classes 0–4, every training image.
/// Returns the source-test accuracy.
pub fn pretrain_source(arch: SourceArch, data_dir: Option<&std::path::Path>, steps: usize, seed: u64, out: &std::path::Path) -> Result<f64> {
    let data = fashion_mnist(data_dir)?;
    let train = classes_subset(&data.train, &SOURCE_CLASSES)?;
    let test = classes_subset(&data.test, &SOURCE_CLASSES)?;
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).at(dir)?;
    }
    super::experiment::pretrain(arch, &train, &test, steps, seed, out)
}
